"""The instructor's records: results/<student>.json and grades.csv.

Each student's result is written atomically (a temporary file, then
``os.replace``) in Gradescope's results.json schema. grades.csv is always
rebuilt from the results folder, never appended to, so a rerun cannot
duplicate or lose a row.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import Any

from autograder import text
from autograder.course import Course
from autograder.scores import StudentResult


def write_atomic(path: Path, text: str) -> None:
    """Write the whole file or nothing: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def results_json(result: StudentResult, extra: dict) -> dict:
    """Gradescope's results.json for one student; our totals and bookkeeping in extra_data."""
    tests = [
        {
            "name": f"{ex.exercise.id}: {case.description or case.name}",
            "score": case.points if case.passed else 0.0,
            "max_score": case.points,
            "visibility": "after_published" if case.hidden else "visible",
            "output": text.terminal(case.message, limit=text.MESSAGE_CHARS)
            + (f"\nLikely cause: {text.terminal(case.diagnosis, limit=text.MESSAGE_CHARS)}"
               if case.diagnosis and not case.passed else ""),
        }
        for ex in result.exercises
        for case in ex.cases
    ]
    output = text.terminal(" ".join(filter(None, [result.message, result.load_message])),
                           limit=text.MESSAGE_CHARS)
    return {
        "score": result.score,
        "output": output,
        "tests": tests,
        "extra_data": {
            "student": result.student,
            "status": result.status,
            "max_score": result.max_score,
            "exercises": {ex.exercise.id: ex.score for ex in result.exercises},
            "cases": [
                {"id": f"{ex.exercise.id}.{case.name}", "max_score": case.points,
                 "score": case.points if case.passed else 0.0, "mistake": case.mistake}
                for ex in result.exercises
                for case in ex.cases
            ],
            **extra,
        },
    }


def result_path(out: Path, student: str) -> Path:
    return out / "results" / f"{student}.json"


def read_extra(out: Path, student: str) -> dict | None:
    """extra_data of a student's saved result, or None if there is none (or it is unreadable)."""
    try:
        return json.loads(result_path(out, student).read_text(encoding="utf-8"))["extra_data"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_result(out: Path, result: StudentResult, extra: dict) -> None:
    """results/<student>.json, written last: its presence means the student is done."""
    data = json.dumps(results_json(result, extra), indent=2)
    write_atomic(result_path(out, result.student), data + "\n")


def write_output(out: Path, student: str, printed: str) -> None:
    """What the student's code printed (control characters made visible): for the
    instructor, never scored."""
    write_atomic(out / "output" / f"{student}.txt", text.visible(printed, multiline=True))


def remove_temporary_files(out: Path) -> None:
    """Half-written files left by a run that was killed (write_atomic's temporaries)."""
    for folder in ("results", "feedback", "output", "."):
        for path in (out / folder).glob(".*.*"):
            if path.is_file():
                path.unlink()


def read_saved(out: Path, students: list[str]) -> dict[str, dict]:
    """extra_data of every listed student that has a saved result, read once for all the
    files rebuilt from them (grades.csv, gradebook.db, the report)."""
    return {s: extra for s in students if (extra := read_extra(out, s)) is not None}


GRADE_COLUMNS = ("student", "score", "max_score")


def grade_rows(course: Course, saved: dict[str, dict]) -> list[list[str]]:
    """One row per student with a saved result: total, max, each exercise, status, late."""
    ids = [ex.id for ex in course.exercises]
    rows = []
    for student, extra in saved.items():
        per_exercise = [extra["exercises"].get(i, 0.0) for i in ids]
        rows.append([student, _number(sum(per_exercise)), _number(extra["max_score"]),
                     *map(_number, per_exercise), extra["status"],
                     "yes" if extra.get("late") else "no"])
    return rows


def csv_text(rows: list[list]) -> str:
    """Rows as CSV text, quoted where needed (the csv module, for spreadsheets)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def write_grades(course: Course, out: Path, saved: dict[str, dict]) -> Path:
    """grades.csv, rebuilt from the saved results (never appended to)."""
    header = [*GRADE_COLUMNS, *(ex.id for ex in course.exercises), "status", "late"]
    path = out / "grades.csv"
    write_atomic(path, csv_text([header, *grade_rows(course, saved)]))
    return path


def _number(value: float) -> str:
    return f"{value:g}"


def _put_alembic_on_path() -> None:
    """nbgrader runs the `alembic` command by name; it sits beside our Python."""
    if shutil.which("alembic") is None:
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


def write_nbgrader_gradebook(course: Course, out: Path, saved: dict[str, dict],
                             path: Path | None = None) -> Path | None:
    """gradebook.db through nbgrader's own Gradebook and models: one grade cell per case.

    path defaults to OUT/gradebook.db; for an nbgrader course, its own gradebook.db.
    Students, submissions and scores are written in bulk (a few statements for
    the whole class, not one commit per student). Returns None when nbgrader
    is not installed (it is an instructor extra).
    """
    try:
        from nbgrader.api import Gradebook
    except ImportError:
        return None
    if not saved:
        return None
    _put_alembic_on_path()
    path = path or out / "gradebook.db"
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{path}") as book:
        warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's own session use
        cases = {c["id"]: c["max_score"] for e in saved.values() for c in e["cases"]}
        notebook = _nbgrader_structure(book, course, cases)
        _nbgrader_submissions(book, notebook, list(saved))
        _nbgrader_scores(book, notebook, saved)
    return path


def _nbgrader_structure(book: Any, course: Course, cases: dict[str, float]) -> Any:
    """The assignment, its one notebook and a grade cell per test case."""
    name = Path(course.student_file).stem
    book.update_or_create_assignment(course.assignment)
    notebook = book.update_or_create_notebook(name, course.assignment)
    for cell, max_score in cases.items():
        book.update_or_create_grade_cell(cell, name, course.assignment,
                                         max_score=max_score, cell_type="code")
    return notebook


def _nbgrader_submissions(book: Any, notebook: Any, students: list[str]) -> None:
    """Students and empty submissions (one grade row per cell), as add_submission makes
    them, inserted in bulk."""
    from nbgrader.api import Grade, Student, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy import insert

    session = book.db
    known = {sid for (sid,) in session.query(Student.id)}
    session.add_all(Student(id=s) for s in students if s not in known)
    submitted = {sid for (sid,) in session.query(SubmittedAssignment.student_id).filter(
        SubmittedAssignment.assignment_id == notebook.assignment_id)}
    cells = [cell.id for cell in notebook.grade_cells]
    tables: dict[Any, list[dict]] = {SubmittedAssignment: [], SubmittedNotebook: [], Grade: []}
    for student in (s for s in students if s not in submitted):
        submission, graded = uuid.uuid4().hex, uuid.uuid4().hex
        tables[SubmittedAssignment].append(
            {"id": submission, "assignment_id": notebook.assignment_id, "student_id": student})
        tables[SubmittedNotebook].append(
            {"id": graded, "assignment_id": submission, "notebook_id": notebook.id})
        tables[Grade] += [{"id": uuid.uuid4().hex, "cell_id": cell, "notebook_id": graded}
                          for cell in cells]
    for model, rows in tables.items():
        if rows:
            session.execute(insert(model), rows)
    session.commit()


def _nbgrader_scores(book: Any, notebook: Any, saved: dict[str, dict]) -> None:
    from nbgrader.api import BaseCell, Grade, SubmittedAssignment, SubmittedNotebook
    from sqlalchemy import update

    session = book.db
    rows = (session.query(Grade.id, BaseCell.name, SubmittedAssignment.student_id)
            .join(BaseCell, Grade.cell_id == BaseCell.id)
            .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
            .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .filter(SubmittedNotebook.notebook_id == notebook.id))
    scores = {s: {c["id"]: c["score"] for c in e["cases"]} for s, e in saved.items()}
    changes = [{"id": grade, "auto_score": scores[student].get(cell)}
               for grade, cell, student in rows if student in scores]
    if changes:
        session.execute(update(Grade), changes)
    session.commit()
