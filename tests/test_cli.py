"""The command line, through main(argv): exit codes, printed text, files written."""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import sqlite3
import subprocess
import sys

import pytest
from conftest import ROOT, alembic_heads_read_once

from autograder.cli import main

REFERENCE = ROOT / "solutions" / "backprop.py"
STUB = ROOT / "exercises" / "backprop.py"
COURSE = ["--course", str(ROOT / "course.yaml")]


def test_check_passes_the_reference(capsys):
    assert main([*COURSE, "check", str(REFERENCE)]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 exercises pass their public tests" in out


def test_check_on_the_stub_fails_and_says_what_to_write(capsys):
    assert main([*COURSE, "check", str(STUB)]) == 1
    out = capsys.readouterr().out
    assert "mse is not written yet: it still raises NotImplementedError" in out
    assert "0 of 5 exercises pass" in out


def test_check_of_a_missing_file_is_one_clear_line(capsys, tmp_path):
    assert main([*COURSE, "check", str(tmp_path / "mine.py")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'mine.py'}: no such file; pass the path of your "
                   "backprop.py (or your notebook)"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A small class graded once: reference, stub, a syntax error."""
    folder = tmp_path_factory.mktemp("class")
    shutil.copy(REFERENCE, folder / "ada.py")
    shutil.copy(STUB, folder / "bo.py")
    (folder / "cy.py").write_text("def mse(:\n")
    out = tmp_path_factory.mktemp("out")
    assert main([*COURSE, "grade", str(folder), "--out", str(out)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["ada.py", "bo.py", "cy.py"]
    return out


def test_grades_csv_has_the_pinned_header_and_one_row_per_student(graded):
    with open(graded / "grades.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["student", "score", "max_score", "mse", "forward", "backprop",
                       "update", "train", "status", "late"]
    assert rows[1:] == [["ada", "100", "100", "15", "20", "35", "10", "20", "ok", "no"],
                        ["bo", "0", "100", "0", "0", "0", "0", "0", "not_attempted", "no"],
                        ["cy", "0", "100", "0", "0", "0", "0", "0", "syntax_error", "no"]]


def test_results_follow_gradescopes_schema(graded, suites):
    result = json.loads((graded / "results" / "ada.json").read_text())
    assert result["score"] == 100
    assert len(result["tests"]) == sum(len(s.test_file.test_cases) for s in suites)
    for test in result["tests"]:
        assert set(test) == {"name", "score", "max_score", "visibility", "output"}
        assert test["visibility"] in {"visible", "after_published"}
    assert sum(t["max_score"] for t in result["tests"]) == 100


def test_a_broken_submission_gets_feedback_not_a_crash(graded):
    feedback = (graded / "feedback" / "cy.md").read_text()
    assert "**Score: 0 / 100**" in feedback
    assert "syntax error" in feedback
    assert "line 1 of your file" in feedback


def test_grading_with_no_submissions_is_one_clear_line(capsys, tmp_path):
    assert main([*COURSE, "grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {tmp_path}: no submissions found; expected student .py or .ipynb "
                   "files, a folder of them, nbgrader's submitted/<student>/<assignment>/"
                   "backprop.py, or a Canvas submissions zip (or the folder it extracts to)\n")


def test_a_broken_course_yaml_stops_with_exit_2(capsys, tmp_path):
    bad = tmp_path / "course.yaml"
    bad.write_text((ROOT / "course.yaml").read_text().replace("seed: 1234", "seed: many"))
    assert main(["--course", str(bad), "check", str(REFERENCE)]) == 2
    assert capsys.readouterr().err == (
        "error: course.yaml: seed must be a whole number, got 'many'\n")


def test_protections_that_could_not_be_applied_are_reported_once(monkeypatch, capsys, tmp_path):
    import dataclasses

    from autograder import jobs

    real = jobs.grade_batch

    def without_landlock(*args, **kwargs):
        summary = real(*args, **kwargs)
        outcomes = tuple(dataclasses.replace(o, unprotected=("Landlock (not in this kernel)",))
                         for o in summary.outcomes)
        return dataclasses.replace(summary, outcomes=outcomes)

    monkeypatch.setattr(jobs, "grade_batch", without_landlock)
    for student in ("ann", "ben"):
        shutil.copy(STUB, tmp_path / f"{student}.py")
    assert main([*COURSE, "grade", str(tmp_path), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert err.count("student code ran without: Landlock (not in this kernel)") == 1


HEAVY = ("nbgrader", "nbformat", "nbconvert", "jsonschema", "matplotlib", "otter.api")
IMPORTED = ("import json, sys; from autograder.cli import main; code = main(sys.argv[1:]); "
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules))); "
            "sys.exit(code)")


def test_grading_imports_neither_nbgrader_nor_matplotlib(tmp_path):
    """A run without a gradebook needs none of them: each would cost seconds."""
    shutil.copy(REFERENCE, tmp_path / "ada.py")
    run = subprocess.run([sys.executable, "-c", IMPORTED, *COURSE, "grade", str(tmp_path),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == []
    assert not (tmp_path / "out" / "gradebook.db").exists()


def test_the_gradebook_is_written_when_asked_then_kept_up_to_date(tmp_path):
    alembic_heads_read_once()
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(REFERENCE, folder / "ada.py")
    out = tmp_path / "out"
    assert main([*COURSE, "grade", str(folder), "--out", str(out), "--gradebook"]) == 0
    shutil.copy(STUB, folder / "bo.py")
    assert main([*COURSE, "grade", str(folder), "--out", str(out)]) == 0
    with sqlite3.connect(out / "gradebook.db") as db:
        students = {row[0] for row in db.execute("select id from student")}
    assert students == {"ada", "bo"}


def test_a_gradebook_without_nbgrader_is_one_clear_line(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "nbgrader" else real(name, *args))
    shutil.copy(REFERENCE, tmp_path / "ada.py")
    assert main([*COURSE, "grade", str(tmp_path), "--out", str(tmp_path / "out"),
                 "--gradebook"]) == 3
    assert capsys.readouterr().err == (
        "error: --gradebook needs nbgrader: pip install '.[instructor]'\n")
