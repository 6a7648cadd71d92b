"""The two jobs: check one student's file, grade a whole class.

Grading a class runs N trusted grading processes (forked after the test files
are loaded), each with its own fork server for student code. Every student's
result is written atomically as it finishes; a rerun skips students whose
file, tests, course.yaml and grader are unchanged (content hashes), so a batch
killed at any moment resumes where it stopped. A broken or hostile submission
becomes a result, never an exception that stops the batch.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from autograder import gradebook
from autograder.confine import die_with_parent
from autograder.course import Course, CourseError
from autograder.diagnosis import Catalogue, load_catalogue
from autograder.feedback import write_feedback
from autograder.report import write_report
from autograder.sandbox import Zygote
from autograder.scores import StudentResult, score_run
from autograder.submissions import Submission
from autograder.verdicts import Suite, load_suites, run_submission

ENGINE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Outcome:
    """What became of one submission in this run."""

    student: str
    state: str  # "graded", "skipped" (unchanged since last run) or "failed" (grader error)
    detail: str = ""
    unprotected: tuple[str, ...] = ()  # confinement layers that could not be applied


@dataclass(frozen=True)
class BatchSummary:
    outcomes: tuple[Outcome, ...]
    rows: tuple[list[str], ...]  # grades.csv's rows
    grades: Path
    gradebook: Path | None
    report: Path | None
    seconds: float

    def count(self, state: str) -> int:
        return sum(outcome.state == state for outcome in self.outcomes)

    @property
    def unprotected(self) -> list[str]:
        return sorted({layer for outcome in self.outcomes for layer in outcome.unprotected})


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def batch_key(course: Course) -> str:
    """Changes when anything but the submission could change a grade."""
    tests = sorted(course.path("tests.source").glob("*.py"))
    return _digest([course.source, course.path("reference"), course.path("mistakes"), *tests,
                    *sorted(ENGINE.glob("*.py"))])


def submission_key(batch: str, submission: Submission) -> str:
    """Changes when anything of this submission that reaches its outputs changes: the
    student id, the chosen file's name and bytes, the late flag and the note."""
    about = repr((batch, submission.student, submission.path.name, submission.late,
                  submission.note))  # repr: every character printable, so always UTF-8
    return hashlib.sha256(about.encode() + b"\0" + submission.path.read_bytes()).hexdigest()


def check_file(course: Course, path: Path) -> StudentResult:
    """Run the public cases only, for a student checking their own work."""
    if not path.is_file():
        raise CourseError(f"{path}: no such file; pass the path of your {course.student_file}"
                          " (or your notebook)")
    zygote = Zygote()  # starts now: its numpy import overlaps with loading the tests
    try:
        suites = load_suites(course, public_only=True)
        return score_run(course, path.stem, run_submission(course, suites, path, zygote))
    finally:
        zygote.close()


@dataclass(frozen=True)
class _Task:
    submission: Submission
    key: str


_worker: dict = {}  # this grading process's course, test files, output folder, fork server


def _init_worker(course: Course, suites: list[Suite], catalogue: Catalogue, out: Path) -> None:
    _worker.update(course=course, suites=suites, catalogue=catalogue, out=out,
                   zygote=Zygote())


def _init_pool_process(course: Course, suites: list[Suite], catalogue: Catalogue,
                       out: Path) -> None:
    """In each forked grading process: die with the parent, leave Ctrl-C to it, and start
    a fork server (with a sandbox user of its own)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(course, suites, catalogue, out)


def _grade_one(task: _Task) -> Outcome:
    course, out = _worker["course"], _worker["out"]
    submission = task.submission
    try:
        run = run_submission(course, _worker["suites"], submission.path, _worker["zygote"],
                             _worker["catalogue"])
        result = score_run(course, submission.student, run)
        gradebook.write_output(out, submission.student, run.output)
        write_feedback(out, result, course.assignment, submission.note)
        extra = {"key": task.key, "late": submission.late, "note": submission.note}
        gradebook.write_result(out, result, extra)
    except Exception as err:  # our own failure: report it, keep going, retry next run
        return Outcome(submission.student, "failed", f"{type(err).__name__}: {err}")
    return Outcome(submission.student, "graded", unprotected=run.loaded.unprotected)


def _run_tasks(tasks: list[_Task], jobs: int, setup: tuple) -> Iterator[Outcome]:
    """Grade the tasks here (jobs=1) or in a pool of forked grading processes."""
    if jobs == 1 or len(tasks) <= 1:
        _init_worker(*setup)
        try:
            yield from map(_grade_one, tasks)
        finally:
            _worker.pop("zygote").close()
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(min(jobs, len(tasks)), _init_pool_process, setup) as pool:
        yield from pool.imap_unordered(_grade_one, tasks, chunksize=4)


def _plan(course: Course, submissions: list[Submission], out: Path,
          force: bool) -> tuple[list[_Task], list[Outcome]]:
    batch = batch_key(course)
    tasks, skipped = [], []
    for submission in submissions:
        key = submission_key(batch, submission)
        saved = gradebook.read_extra(out, submission.student)
        if not force and saved is not None and saved.get("key") == key:
            skipped.append(Outcome(submission.student, "skipped"))
        else:
            tasks.append(_Task(submission, key))
    return tasks, skipped


def grade_batch(course: Course, submissions: list[Submission], out: Path, jobs: int = 1,
                force: bool = False, progress=None,
                database: Path | None = None) -> BatchSummary:
    """Grade every changed submission; rebuild grades.csv and gradebook.db from the results."""
    start = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    gradebook.remove_temporary_files(out)
    suites = load_suites(course)
    catalogue = load_catalogue(course)
    tasks, outcomes = _plan(course, submissions, out, force)
    if progress:
        progress.start(len(submissions), len(outcomes))
    for outcome in _run_tasks(tasks, jobs, (course, suites, catalogue, out)):
        outcomes.append(outcome)
        if progress:
            progress.advance(outcome)
    students = [s.student for s in submissions]
    saved = gradebook.read_saved(out, students)
    grades = gradebook.write_grades(course, out, saved)
    database = gradebook.write_nbgrader_gradebook(course, out, saved, database)
    report = write_report(course, out, saved)
    return BatchSummary(tuple(outcomes), tuple(gradebook.grade_rows(course, saved)), grades,
                        database, report, time.monotonic() - start)
