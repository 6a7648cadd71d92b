"""Notebooks: the student notebook, grading .ipynb submissions, an nbgrader course."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, SUBMISSIONS, notebook_of
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder.cli import main
from autograder.release import reference_notebook

BUGGY = SUBMISSIONS / "buggy"
SAME_SCORE = [ROOT / "solutions" / "backprop.py", ROOT / "exercises" / "backprop.py",
              BUGGY / "mse_divides_by_rows.py", BUGGY / "forward_no_activation.py",
              BUGGY / "backward_skips_sigmoid_grad.py", BUGGY / "update_modifies_params.py",
              SUBMISSIONS / "correct" / "loops_no_matmul.py"]


def execute(notebook, folder: Path):
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    return client.execute()


@pytest.mark.slow
def test_the_reference_notebook_runs_top_to_bottom(course, tmp_path):
    notebook = execute(reference_notebook(course), tmp_path)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no plot was drawn"
    checks = [o["data"]["text/plain"] for o in outputs if "public tests pass" in
              o.get("data", {}).get("text/plain", "")]
    assert len(checks) == 5 and all("❌" not in text for text in checks)


@pytest.mark.slow
def test_the_stub_notebook_stops_at_the_first_stub(tmp_path):
    notebook = nbformat.read(ROOT / "exercises" / "backprop.ipynb", as_version=4)
    with pytest.raises(CellExecutionError) as error:
        execute(notebook, tmp_path)
    assert "NotImplementedError" in str(error.value)
    assert 'check("mse", globals())' in str(error.value)


STUDENT_LEFTOVERS = ("%matplotlib inline\n!pip install numpy", "print(undefined_name)")


@pytest.mark.parametrize("path", SAME_SCORE, ids=[p.stem for p in SAME_SCORE])
def test_a_notebook_scores_what_the_same_code_scores_as_py(grade, path, tmp_path):
    as_py = grade(path)
    as_ipynb = grade(notebook_of(path, tmp_path, STUDENT_LEFTOVERS))
    assert [ex.score for ex in as_ipynb.exercises] == [ex.score for ex in as_py.exercises]
    assert as_ipynb.status == as_py.status
    assert any("code cell 1: skipped 2 IPython magic" in note for note in as_ipynb.notes)
    assert any(note.startswith("code cell 2 failed: NameError") for note in as_ipynb.notes)


@pytest.mark.parametrize("content", ["{not json", '{"nbformat": 3, "worksheets": []}', "[]"])
def test_a_damaged_notebook_is_a_verdict(grade, tmp_path, content):
    path = tmp_path / "damaged.ipynb"
    path.write_text(content)
    result = grade(path)
    assert (result.status, result.score) == ("bad_notebook", 0)
    assert "Your notebook could not be read" in result.load_message


def nbgrader(course_dir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("nbgrader")), *args]
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(command, cwd=course_dir, capture_output=True, text=True,
                          env=environment, check=True)


@pytest.mark.slow
def test_an_nbgrader_course_round_trip(tmp_path, capsys):
    course_dir = tmp_path / "course"
    course_dir.mkdir()
    (course_dir / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "backprop-course"\n')
    assert main(["--course", str(ROOT / "course.yaml"), "release", "--out",
                 str(tmp_path / "release"), "--nbgrader", str(course_dir)]) == 0
    nbgrader(course_dir, "generate_assignment", "backprop", "--force")
    released = nbformat.read(course_dir / "release" / "backprop" / "backprop.ipynb", 4)
    assert "BEGIN SOLUTION" not in nbformat.writes(released)
    assert "raise NotImplementedError()" in nbformat.writes(released)
    for student, notebook in [("alice", course_dir / "source" / "backprop" / "backprop.ipynb"),
                              ("bob", course_dir / "release" / "backprop" / "backprop.ipynb")]:
        folder = course_dir / "submitted" / student / "backprop"
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / "backprop.ipynb")
    assert main(["--course", str(ROOT / "course.yaml"), "grade",
                 str(course_dir / "submitted"), "--out", str(tmp_path / "out")]) == 0
    assert (course_dir / "gradebook.db").exists()
    nbgrader(course_dir, "export")
    with open(course_dir / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert float(rows["alice"]["score"]) == 100
    assert float(rows["bob"]["score"]) == 0
    assert float(rows["alice"]["max_score"]) == 100
