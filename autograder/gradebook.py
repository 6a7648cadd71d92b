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
import tempfile
from pathlib import Path

from autograder import text
from autograder.course import Course
from autograder.scores import StudentResult

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PARTIAL = ".partial"  # the suffix of write_atomic's temporary files, and only of them


def write_atomic(path: Path, text: str) -> None:
    """Write the whole file or nothing: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=PARTIAL)
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
    output = text.one_line(" ".join(filter(None, [result.message, result.load_message])))
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
        for path in (out / folder).glob(f".*{PARTIAL}"):
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
    """Rows as CSV text, quoted where needed (the csv module, for spreadsheets); a cell
    that a spreadsheet would run as a formula (=, +, -, @) starts with ' instead."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [[_inert(cell) for cell in row] for row in rows])
    return buffer.getvalue()


def _inert(cell: object) -> object:
    return f"'{cell}" if isinstance(cell, str) and cell[:1] in FORMULA_STARTS else cell


def write_grades(course: Course, out: Path, saved: dict[str, dict]) -> Path:
    """grades.csv, rebuilt from the saved results (never appended to)."""
    header = [*GRADE_COLUMNS, *(ex.id for ex in course.exercises), "status", "late"]
    path = out / "grades.csv"
    write_atomic(path, csv_text([header, *grade_rows(course, saved)]))
    return path


def _number(value: float) -> str:
    return f"{value:g}"

