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
import fcntl
import hashlib
import json
import multiprocessing
import os
import signal
import time
import types
from collections.abc import Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from autograder import results
from autograder.confine import die_with_parent
from autograder.course import CAUSES, Course
from autograder.diagnosis import Catalogue, load_catalogue
from autograder.errors import CourseError, InputError
from autograder.feedback import write_feedback
from autograder.files import remove_temporary_files, write_atomic
from autograder.forkserver import Zygote
from autograder.report import write_report
from autograder.results import SavedResult
from autograder.scores import StudentResult, score_run
from autograder.submissions import Submission
from autograder.verdicts import SubmissionRun, Suite, load_suites, run_submission

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
    results: tuple[SavedResult, ...]  # every listed student's saved result (grades.csv)
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
        raise InputError(f"{path}: no such file; pass the path of your {course.student_file}"
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


def with_known_causes(course: Course, run: SubmissionRun) -> SubmissionRun:
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


@dataclass(frozen=True)
class _Grader:
    """What one grading process grades with: the course, its test files and catalogue, the
    output folder, and the fork server its students' processes are forked from."""

    course: Course
    suites: list[Suite]
    catalogue: Catalogue
    out: Path
    zygote: Zygote

    def grade(self, task: _Task) -> Outcome:
        course, out, submission = self.course, self.out, task.submission
        try:
            run = run_submission(course, self.suites, submission.path, self.zygote,
                                 self.catalogue)
            result = score_run(course, submission.student, run)
            results.write_output(out, submission.student, run.output)
            write_feedback(out, result, course.assignment, submission.note)
            results.write_result(out, results.saved_result(result, task.key, submission.late,
                                                           submission.note))
        except Exception as err:  # our own failure: report it, keep going, retry next run
            return Outcome(submission.student, "failed", f"{type(err).__name__}: {err}")
        return Outcome(submission.student, "graded", unprotected=run.loaded.unprotected)


_Setup = tuple[Course, list[Suite], Catalogue, Path]  # a _Grader but for its fork server

# A pool process's grader: made once, by _init_pool_process, in each forked grading
# process (never in the process that forks them); _grade_in_pool uses it.
_pool_grader: _Grader | None = None


def _init_pool_process(course: Course, suites: list[Suite], catalogue: Catalogue,
                       out: Path) -> None:
    """In each forked grading process: die with the parent, leave Ctrl-C to it, and start
    a fork server (with a sandbox user of its own)."""
    global _pool_grader
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _pool_grader = _Grader(course, suites, catalogue, out, Zygote())


def _grade_in_pool(task: _Task) -> Outcome:
    assert _pool_grader is not None, "_init_pool_process runs first in every pool process"
    return _pool_grader.grade(task)


def _run_tasks(tasks: list[_Task], jobs: int, setup: _Setup,
               zygote: Zygote | None) -> Iterator[Outcome]:
    """Grade the tasks here with zygote (jobs=1) or in a pool of forked grading processes,
    each with a fork server of its own (zygote is closed first). Closes zygote.

    If a grading process dies (killed from outside, out of memory), the pool
    breaks; each task it took down is graded again alone, so that only a task
    that kills its grading process again is reported as failed.
    """
    if not tasks:
        return
    assert zygote is not None, "a batch with tasks has a fork server (_fork_server)"
    if jobs == 1 or len(tasks) == 1:
        grader = _Grader(*setup, zygote)
        try:
            yield from map(grader.grade, tasks)
        finally:
            zygote.close()
        return
    zygote.close()
    lost = yield from _in_pool(tasks, min(jobs, len(tasks)), setup)
    for task in lost:
        if (yield from _in_pool([task], 1, setup)):
            yield Outcome(task.submission.student, "failed", "its grading process ended while "
                          "grading it (killed from outside, or out of memory); it is retried "
                          "on the next run")


def _in_pool(tasks: list[_Task], jobs: int,
             setup: _Setup) -> Generator[Outcome, None, list[_Task]]:
    """Yield each task's outcome from pools of forked grading processes; return the tasks
    that were being graded when a pool broke. At most jobs tasks are handed out at once,
    so a broken pool loses only those; the rest go on in a fresh pool."""
    context = multiprocessing.get_context("fork")
    queue = list(tasks)
    lost: list[_Task] = []
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
        finally:  # wait for an idle pool: shutdown(wait=False) can leave its manager thread
            # writing to a closed pipe at exit ("OSError: Bad file descriptor", cpython#83279)
            pool.shutdown(wait=not running, cancel_futures=True)
    return lost


def _hand_out(pool: ProcessPoolExecutor, queue: list[_Task], running: dict[Future, _Task],
              jobs: int) -> None:
    """Give the pool tasks until jobs are running (none once it is broken)."""
    while queue and len(running) < jobs:
        try:
            future = pool.submit(_grade_in_pool, queue[0])
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
        f"{run.loaded.message or failed[0]}); fix that case, or raise limits.call_seconds, "
        "limits.memory_mb or limits.submission_seconds")


REFERENCE_CHECKED = "reference-checked.txt"  # in OUT: the key the reference last passed with
LOCK = "grading.lock"  # in OUT: held by the run writing there (_alone)


def _check_limits_once(course: Course, suites: list[Suite], zygote: Zygote, out: Path,
                       batch: str) -> None:
    """_check_limits, unless the reference already passed in OUT with these settings and
    this batch key (the same course, tests, reference, catalogue and engine give the same
    result): grading one late submission after the class does not pay for it again.
    batch: batch_key(course)."""
    marker = out / REFERENCE_CHECKED
    key = hashlib.sha256(repr((batch, course)).encode()).hexdigest()
    if marker.is_file() and marker.read_text(encoding="utf-8") == key:
        return
    _check_limits(course, suites, zygote)
    write_atomic(marker, key)


def _plan(submissions: list[Submission], out: Path, force: bool,
          batch: str) -> tuple[list[_Task], list[Outcome]]:
    tasks, skipped = [], []
    for submission in submissions:
        key = submission_key(batch, submission)
        saved = results.read_result(out, submission.student)
        if not force and saved is not None and saved.key == key:
            skipped.append(Outcome(submission.student, "skipped"))
        else:
            tasks.append(_Task(submission, key))
    return tasks, skipped


def _write_nbgrader_gradebook(course: Course, out: Path, saved: list[SavedResult],
                             database: Path | None, own: bool) -> Path | None:
    """The nbgrader gradebook (an nbgrader course's database, or with own OUT/gradebook.db),
    if nbgrader is installed and anyone was graded."""
    if not saved or (database is None and not own):
        return None
    nbgrader_course = _nbgrader_course()
    if nbgrader_course is None:
        return None
    return nbgrader_course.write(course, out, saved, database)


def _as_autograde_runs(course: Course, submissions: list[Submission], database: Path,
                       out: Path) -> list[Submission]:
    """An nbgrader course's notebooks as its autograde would run them (locked cells
    restored), if nbgrader is installed."""
    nbgrader_course = _nbgrader_course()
    if nbgrader_course is None:
        return submissions
    return nbgrader_course.as_autograde_runs(course, submissions, database,
                                             out / "unpacked" / "nbgrader")


def _nbgrader_course() -> types.ModuleType | None:
    """autograder.nbgrader_course, if nbgrader is installed (an instructor extra, imported
    only when a run needs it: seconds)."""
    try:
        from autograder import nbgrader_course
    except ImportError:
        return None
    return nbgrader_course


def _alone(lock: Path, database: Path | None) -> list[int]:
    """Exclusive locks for the run (descriptors, for _release) on OUT's lock file and on
    an nbgrader course's gradebook: a second `grade` writing the same folder or course
    would mix their files, so it stops at once, saying what to do."""
    held: list[int] = []
    for path in [lock, *([database] if database and database.is_file() else [])]:
        try:
            held.append(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644))
            fcntl.flock(held[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _release(held)
            raise InputError(f"{path.parent}: another `grade` is writing there now; wait for "
                             "it to finish, or grade into another --out") from None
        except OSError as error:
            _release(held)
            raise InputError(f"{path}: cannot be locked for this run ({error.strerror}); "
                             "remove it and grade again") from None
    return held


def _release(locks: list[int]) -> None:
    for fd in locks:
        os.close(fd)


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
    locks: list[int] = []
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
            locks = _alone(out / LOCK, database)
            remove_temporary_files(out)
            batch = batch_key(course)
            if database:
                submissions = _as_autograde_runs(course, submissions, database, out)
            tasks, outcomes = _plan(submissions, out, force, batch)
            zygote = _fork_server(tasks, zygote)
            suites, catalogue = load_suites(course), load_catalogue(course)  # while it starts
            if zygote:  # only a batch that grades anything needs the limits checked
                _check_limits_once(course, suites, zygote, out, batch)
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
        saved = results.read_results(out, [s.student for s in submissions])
        grades = results.write_grades(course, out, saved)
        database = _write_nbgrader_gradebook(course, out, saved, database, own_gradebook)
        report = write_report(course, out, saved)
    finally:
        _release(locks)
    return BatchSummary(tuple(outcomes), tuple(saved), grades, database, report,
                        time.monotonic() - start)
