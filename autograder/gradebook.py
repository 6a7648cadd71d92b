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


def results_json(result: StudentResult) -> dict:
    """Gradescope's results.json for one student, our per-exercise totals in extra_data."""
    tests = [
        {
            "name": f"{ex.exercise.id}: {case.description or case.name}",
            "score": case.points if case.passed else 0.0,
            "max_score": case.points,
            "visibility": "after_published" if case.hidden else "visible",
            "output": case.message,
        }
        for ex in result.exercises
        for case in ex.cases
    ]
    output = " ".join(filter(None, [result.message, result.load_message]))
    return {
        "score": result.score,
        "output": output,
        "tests": tests,
        "extra_data": {
            "student": result.student,
            "status": result.status,
            "max_score": result.max_score,
            "exercises": {ex.exercise.id: ex.score for ex in result.exercises},
        },
    }


def write_result(out: Path, result: StudentResult, student_output: str) -> None:
    """results/<student>.json, plus what the student's code printed (instructor only)."""
    data = json.dumps(results_json(result), indent=2)
    write_atomic(out / "results" / f"{result.student}.json", data + "\n")
    write_atomic(out / "output" / f"{result.student}.txt", student_output)


def grades_csv(course: Course, out: Path) -> str:
    """The text of grades.csv, one row per results/*.json, sorted by student."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    ids = [ex.id for ex in course.exercises]
    writer.writerow(["student", "score", "max_score", *ids])
    for path in sorted((out / "results").glob("*.json")):
        extra = json.loads(path.read_text(encoding="utf-8"))["extra_data"]
        per_exercise = [_number(extra["exercises"].get(i, 0.0)) for i in ids]
        total = _number(sum(extra["exercises"].get(i, 0.0) for i in ids))
        writer.writerow([extra["student"], total, _number(extra["max_score"]), *per_exercise])
    return buffer.getvalue()


def write_grades(course: Course, out: Path) -> Path:
    path = out / "grades.csv"
    write_atomic(path, grades_csv(course, out))
    return path


def _number(value: float) -> str:
    return f"{value:g}"
