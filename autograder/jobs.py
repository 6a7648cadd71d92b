"""The two jobs: check one student's file, grade a whole class.

Grading a class runs N trusted grading processes (forked after the test files
are loaded), each with its own fork server for student code. Every student's
result is written atomically as it finishes; a rerun skips students whose
file, tests, course.yaml and grader are unchanged (content hashes), so a batch
killed at any moment resumes where it stopped. A broken or hostile submission
becomes a result, never an exception that stops the batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import signal
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from autograder import gradebook
from autograder.confine import die_with_parent
from autograder.course import CAUSES, Course, CourseError
from autograder.diagnosis import Catalogue, load_catalogue
from autograder.feedback import write_feedback
from autograder.forkserver import Zygote
from autograder.report import write_report
from autograder.scores import StudentResult, score_run
from autograder.submissions import Submission
from autograder.verdicts import Run, Suite, load_suites, run_submission

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


def check_file(course: Course, path: Path) -> tuple[StudentResult, str]:
    """Run the public cases only, for a student checking their own work: the result, with
    likely causes, and what the student's code printed."""
    if not path.is_file():
        raise CourseError(f"{path}: no such file; pass the path of your {course.student_file}"
                          " (or your notebook)")
    zygote = Zygote()  # starts now: its numpy import overlaps with loading the tests
    try:
        suites = load_suites(course, public_only=True)
        instructor = (course.root / course.reference).is_file() and (
            course.root / course.mistakes).is_file()
        catalogue = load_catalogue(course) if instructor else None
        run = with_known_causes(course, run_submission(course, suites, path, zygote, catalogue))
        return score_run(course, path.stem, run), run.output
    finally:
        zygote.close()


def with_known_causes(course: Course, run: Run) -> Run:
    """The run, its failed cases diagnosed from the table `release` ships to students
    (causes.json beside the student course.yaml), where nothing diagnosed them yet."""
    table = course.root / CAUSES
    if not table.is_file():
        return run
    causes = json.loads(table.read_text(encoding="utf-8"))
    verdicts = tuple(
        dataclasses.replace(v, diagnosis=causes.get(f"{v.exercise}/{v.name}", {}).get(
            v.message, "")) if not v.passed and not v.diagnosis else v
        for v in run.verdicts)
    return dataclasses.replace(run, verdicts=verdicts)


@dataclass(frozen=True)
class _Task:
    submission: Submission
    key: str


_worker: dict = {}  # this grading process's course, test files, output folder, fork server


def _init_worker(course: Course, suites: list[Suite], catalogue: Catalogue, out: Path,
                 zygote: Zygote | None = None) -> None:
    _worker.update(course=course, suites=suites, catalogue=catalogue, out=out,
                   zygote=zygote or Zygote())


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


def _run_tasks(tasks: list[_Task], jobs: int, setup: tuple,
               zygote: Zygote | None) -> Iterator[Outcome]:
    """Grade the tasks here with zygote (jobs=1) or in a pool of forked grading processes,
    each with a fork server of its own (zygote is closed first). Closes zygote.

    If a grading process dies (killed from outside, out of memory), the pool
    breaks; each task it took down is graded again alone, so that only a task
    that kills its grading process again is reported as failed.
    """
    if not tasks:
        return
    if jobs == 1 or len(tasks) == 1:
        _init_worker(*setup, zygote)
        try:
            yield from map(_grade_one, tasks)
        finally:
            _worker.pop("zygote").close()
        return
    zygote.close()
    lost = yield from _in_pool(tasks, min(jobs, len(tasks)), setup)
    for task in lost:
        if (yield from _in_pool([task], 1, setup)):
            yield Outcome(task.submission.student, "failed", "its grading process ended while "
                          "grading it (killed from outside, or out of memory); it is retried "
                          "on the next run")


def _in_pool(tasks: list[_Task], jobs: int, setup: tuple) -> Iterator[Outcome]:
    """Yield each task's outcome from pools of forked grading processes; return the tasks
    that were being graded when a pool broke. At most jobs tasks are handed out at once,
    so a broken pool loses only those; the rest go on in a fresh pool."""
    context = multiprocessing.get_context("fork")
    queue, lost = list(tasks), []
    while queue:
        pool = ProcessPoolExecutor(jobs, context, _init_pool_process, setup)
        running: dict[Future, _Task] = {}
        try:
            while True:
                _hand_out(pool, queue, running, jobs)
                if not running:  # all done, or the pool broke: a fresh one for the rest
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    task = running.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool:
                        lost.append(task)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    return lost


def _hand_out(pool: ProcessPoolExecutor, queue: list[_Task], running: dict[Future, _Task],
              jobs: int) -> None:
    """Give the pool tasks until jobs are running (none once it is broken)."""
    while queue and len(running) < jobs:
        try:
            future = pool.submit(_grade_one, queue[0])
        except BrokenProcessPool:
            return
        running[future] = queue.pop(0)


def _check_limits(course: Course, suites: list[Suite], zygote: Zygote) -> None:
    """The reference must score full marks with these tests and limits, or students would
    lose points for a setting of the instructor's (a limit too small, a broken case)."""
    run = run_submission(course, suites, course.path("reference").resolve(), zygote)
    result = score_run(course, "reference", run)
    if result.score == result.max_score:
        return
    failed = [f"{v.exercise}.{v.name}: {v.message}" for v in run.verdicts if not v.passed]
    raise CourseError(
        f"{course.source.name}: the reference itself scores {result.score:g}/"
        f"{result.max_score:g} with these tests and limits ("
        f"{(failed or [run.loaded.message])[0]}); fix that case, or raise limits.call_seconds, "
        "limits.memory_mb or limits.submission_seconds")


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


def _write_nbgrader_gradebook(course: Course, out: Path, saved: dict[str, dict],
                             database: Path | None, own: bool) -> Path | None:
    """The nbgrader gradebook (an nbgrader course's database, or with own OUT/gradebook.db),
    if nbgrader is installed (it is an instructor extra, imported only here: seconds) and
    anyone was graded."""
    if not saved or (database is None and not own):
        return None
    try:
        from autograder import nbgrader_course
    except ImportError:
        return None
    return nbgrader_course.write(course, out, saved, database)


def _fork_server(tasks: list[_Task], zygote: Zygote | None) -> Zygote | None:
    """The fork server for the tasks: the caller's, else one started now (its numpy import
    then overlaps loading the tests); none when nothing is to be graded (the caller's is
    closed)."""
    if not tasks:
        if zygote:
            zygote.close()
        return None
    return zygote or Zygote()


def grade_batch(course: Course, submissions: list[Submission], out: Path, jobs: int = 1,
                force: bool = False, progress=None, database: Path | None = None,
                own_gradebook: bool = False, zygote: Zygote | None = None) -> BatchSummary:
    """Grade every changed submission; rebuild grades.csv, the report and the nbgrader
    gradebook from the results: database, an nbgrader course's gradebook.db, or when
    own_gradebook is true OUT/gradebook.db.

    zygote: a fork server the caller started early (its start then overlaps the caller's
    imports); grade_batch closes it, whatever happens.
    """
    start = time.monotonic()
    try:
        out.mkdir(parents=True, exist_ok=True)
        gradebook.remove_temporary_files(out)
        tasks, outcomes = _plan(course, submissions, out, force)
        zygote = _fork_server(tasks, zygote)
        suites, catalogue = load_suites(course), load_catalogue(course)  # while it starts
        if zygote:  # only a batch that grades anything needs the limits checked
            _check_limits(course, suites, zygote)
        if progress:
            progress.start(len(submissions), len(outcomes))
    except BaseException:
        if zygote:
            zygote.close()
        raise
    for outcome in _run_tasks(tasks, jobs, (course, suites, catalogue, out), zygote):
        outcomes.append(outcome)
        if progress:
            progress.advance(outcome)
    students = [s.student for s in submissions]
    saved = gradebook.read_saved(out, students)
    grades = gradebook.write_grades(course, out, saved)
    database = _write_nbgrader_gradebook(course, out, saved, database, own_gradebook)
    report = write_report(course, out, saved)
    return BatchSummary(tuple(outcomes), tuple(gradebook.grade_rows(course, saved)), grades,
                        database, report, time.monotonic() - start)
