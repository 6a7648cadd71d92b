"""Notebooks: the student notebook and grading .ipynb submissions (an nbgrader course:
tests/test_nbgrader.py)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from conftest import GRADED_CORPUS_PY, ROOT, SUBMISSIONS, notebook_of
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

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


def leftover_files(folder: Path) -> dict[Path, Path]:
    """GRADED: SAME_SCORE's files as notebooks with STUDENT_LEFTOVERS first."""
    notebooks = {}
    for i, path in enumerate(SAME_SCORE):
        (folder / str(i)).mkdir()
        notebooks[path] = notebook_of(path, folder / str(i), STUDENT_LEFTOVERS)
    return notebooks


GRADED = {**GRADED_CORPUS_PY, "leftovers": leftover_files}


@pytest.fixture(scope="module")
def leftover_notebooks(grading_pool):
    """path -> the StudentResult of its notebook with STUDENT_LEFTOVERS."""
    return grading_pool.results("leftovers", leftover_files)


@pytest.mark.parametrize("path", SAME_SCORE, ids=[p.stem for p in SAME_SCORE])
def test_a_notebook_scores_what_the_same_code_scores_as_py(graded_corpus, leftover_notebooks,
                                                          path):
    as_py = graded_corpus[path]
    as_ipynb = leftover_notebooks[path]
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
