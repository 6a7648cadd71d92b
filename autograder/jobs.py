"""The two jobs: check one student's file, grade a whole class.

Each submission runs in its own sandboxed worker; a broken or hostile one
becomes a result, never an exception that stops the batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course, CourseError
from autograder.feedback import write_feedback
from autograder.gradebook import write_grades, write_result
from autograder.sandbox import Zygote
from autograder.scores import StudentResult, score_run
from autograder.verdicts import load_suites, run_submission


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path


@dataclass(frozen=True)
class BatchSummary:
    results: tuple[StudentResult, ...]
    grades: Path
    seconds: float


def find_submissions(paths: list[Path]) -> list[Submission]:
    """Every .py file given, or found directly inside a given folder; student = file stem."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.glob("*.py") if p.is_file())
        elif path.is_file() and path.suffix == ".py":
            files.append(path)
        elif path.exists():
            raise CourseError(f"{path}: not a .py file; pass student .py files or folders of them")
        else:
            raise CourseError(f"{path}: no such file or folder")
    if not files:
        raise CourseError("no submissions found: pass .py files or folders that contain them")
    seen: dict[str, Path] = {}
    for file in files:
        if file.stem in seen:
            raise CourseError(f"two submissions for student '{file.stem}': {seen[file.stem]} "
                              f"and {file}; keep one")
        seen[file.stem] = file
    return [Submission(stem, path) for stem, path in seen.items()]


def check_file(course: Course, path: Path) -> StudentResult:
    """Run the public cases only, for a student checking their own work."""
    if not path.is_file():
        raise CourseError(f"{path}: no such file; pass the path of your {course.student_file}")
    suites = load_suites(course, public_only=True)
    zygote = Zygote()
    try:
        return score_run(course, path.stem, run_submission(course, suites, path, zygote))
    finally:
        zygote.close()


def grade_batch(course: Course, submissions: list[Submission], out: Path) -> BatchSummary:
    """Grade every submission with all cases; write results, feedback and grades.csv."""
    start = time.monotonic()
    suites = load_suites(course)
    zygote = Zygote()
    results = []
    for submission in submissions:
        run = run_submission(course, suites, submission.path, zygote)
        result = score_run(course, submission.student, run)
        write_result(out, result, run.output)
        write_feedback(out, result, course.assignment)
        results.append(result)
    grades = write_grades(course, out)
    return BatchSummary(tuple(results), grades, time.monotonic() - start)
