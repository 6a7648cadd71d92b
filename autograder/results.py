"""results/<student>.json: each student's result as grading saves it, and the one typed
loader that every later stage reads it with (grades.csv, the nbgrader gradebook, the
report, Gradescope, the table on screen).

The file is Gradescope's results.json: ``score``, ``output``, ``tests[]`` (``name``,
``score``, ``max_score``, ``visibility``, ``output``), and in ``extra_data`` our own
record: the student, the status, the totals (derived, for a reader of the file: never
read back), each case's id and named mistake, and the run's bookkeeping (``key``,
``late``, ``note``). It is written last and atomically: its presence means the student
is done. grades.csv is always rebuilt from the results folder, never appended to, so a
rerun cannot duplicate or lose a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import text
from autograder.course import Course
from autograder.files import csv_text, write_atomic
from autograder.scores import StudentResult
from autograder.statuses import Status

VISIBLE, HIDDEN = "visible", "after_published"  # Gradescope's visibility of a test
GRADE_COLUMNS = ("student", "score", "max_score")  # then the exercises, status and late


@dataclass(frozen=True)
class SavedCase:
    """One test case as saved: what the student reads of it, and what it scored."""

    exercise: str
    name: str  # the test function's name
    title: str  # Gradescope's test name: "<exercise>: <what the case checks>"
    points: float
    score: float
    hidden: bool
    output: str  # "passed", or what was wrong and the likely cause
    mistake: str = ""  # the catalogued mistake the diagnosis named, if any

    @property
    def id(self) -> str:
        return f"{self.exercise}.{self.name}"

    @property
    def passed(self) -> bool:
        return self.score == self.points


@dataclass(frozen=True)
class SavedResult:
    """One student's saved result; every total is derived from the cases."""

    student: str
    status: Status
    output: str  # the status's sentence and what loading showed, on one line
    cases: tuple[SavedCase, ...]
    key: str = ""  # jobs.submission_key of what was graded
    late: bool = False
    note: str = ""  # what the student handed in, when there was a choice

    @property
    def score(self) -> float:
        return sum(case.score for case in self.cases)

    @property
    def max_score(self) -> float:
        return sum(case.points for case in self.cases)

    def exercise_score(self, exercise: str) -> float:
        return sum(case.score for case in self.cases if case.exercise == exercise)

    @property
    def exercises(self) -> dict[str, float]:
        """Each exercise's score, in the order of the cases (course.yaml's)."""
        return {case.exercise: self.exercise_score(case.exercise) for case in self.cases}


def saved_result(result: StudentResult, key: str = "", late: bool = False,
                 note: str = "") -> SavedResult:
    """What is saved of a graded student: the texts as students see them on Gradescope."""
    cases = tuple(
        SavedCase(ex.exercise.id, case.name, f"{ex.exercise.id}: {case.description or case.name}",
                  case.points, case.points if case.passed else 0.0, case.hidden,
                  _case_output(case.message, case.diagnosis if not case.passed else ""),
                  case.mistake)
        for ex in result.exercises for case in ex.cases)
    output = text.one_line(" ".join(filter(None, [result.message, result.load_message])))
    return SavedResult(result.student, result.status, output, cases, key, late, note)


def _case_output(message: str, diagnosis: str) -> str:
    cause = f"\nLikely cause: {text.terminal(diagnosis, limit=text.MESSAGE_CHARS)}"
    return text.terminal(message, limit=text.MESSAGE_CHARS) + (cause if diagnosis else "")


def to_json(saved: SavedResult, hidden: str = HIDDEN) -> dict[str, Any]:
    """Gradescope's results.json; hidden: the visibility of hidden cases."""
    return {
        "score": saved.score,
        "output": saved.output,
        "tests": [{"name": case.title, "score": case.score, "max_score": case.points,
                   "visibility": hidden if case.hidden else VISIBLE, "output": case.output}
                  for case in saved.cases],
        "extra_data": {
            "student": saved.student,
            "status": saved.status,
            "max_score": saved.max_score,
            "exercises": saved.exercises,
            "cases": [{"id": case.id, "max_score": case.points, "score": case.score,
                       "mistake": case.mistake} for case in saved.cases],
            "key": saved.key,
            "late": saved.late,
            "note": saved.note,
        },
    }


def from_json(data: dict[str, Any]) -> SavedResult:
    """The saved result in a results.json; KeyError, TypeError or ValueError when it is not
    one of ours (an unknown status, a test without its case)."""
    extra = data["extra_data"]
    if len(data["tests"]) != len(extra["cases"]):
        raise ValueError("results.json: tests and extra_data.cases differ in length")
    cases = tuple(map(_saved_case, data["tests"], extra["cases"]))
    return SavedResult(extra["student"], Status.by_name(extra["status"]), data["output"], cases,
                       extra.get("key", ""), bool(extra.get("late")), extra.get("note", ""))


def _saved_case(test: dict[str, Any], case: dict[str, Any]) -> SavedCase:
    """A case from its test in results.json and its record in extra_data.cases."""
    exercise, _, name = case["id"].rpartition(".")
    return SavedCase(exercise, name, test["name"], float(test["max_score"]),
                     float(test["score"]), test["visibility"] != VISIBLE, test["output"],
                     case.get("mistake", ""))


def result_path(out: Path, student: str) -> Path:
    return out / "results" / f"{student}.json"


def write_result(out: Path, saved: SavedResult) -> None:
    """results/<student>.json, written last: its presence means the student is done."""
    write_atomic(result_path(out, saved.student), json.dumps(to_json(saved), indent=2) + "\n")


def read_result(out: Path, student: str) -> SavedResult | None:
    """A student's saved result, or None if there is none (or it is unreadable)."""
    try:
        return from_json(json.loads(result_path(out, student).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_results(out: Path, students: list[str]) -> list[SavedResult]:
    """The saved result of every listed student that has one, in that order: read once for
    all the files rebuilt from them (grades.csv, gradebook.db, the report)."""
    return [saved for student in students if (saved := read_result(out, student))]


def write_output(out: Path, student: str, printed: str) -> None:
    """output/<student>.txt: what the student's code printed (control characters made
    visible), for the instructor; never scored."""
    write_atomic(out / "output" / f"{student}.txt", text.visible(printed, multiline=True))


def write_grades(course: Course, out: Path, results: list[SavedResult]) -> Path:
    """grades.csv, rebuilt from the saved results (never appended to): one row per student,
    with the total, the maximum, each exercise's score, the status and whether late."""
    ids = [ex.id for ex in course.exercises]
    rows = [[saved.student, *map(_number, [sum(map(saved.exercise_score, ids)),
                                           saved.max_score, *map(saved.exercise_score, ids)]),
             saved.status, "yes" if saved.late else "no"] for saved in results]
    path = out / "grades.csv"
    write_atomic(path, csv_text([[*GRADE_COLUMNS, *ids, "status", "late"], *rows]))
    return path


def _number(value: float) -> str:
    return f"{value:g}"
