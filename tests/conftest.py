"""Shared fixtures: the course, its parsed test files, a one-call grader, a grader of many
files at once, and the corpus graded once for every test that reads its results."""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import multiprocessing
import os
import queue
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from pathlib import Path

import grading_worker
import nbformat
import pytest

from autograder.course import load_course
from autograder.diagnosis import load_catalogue
from autograder.forkserver import Zygote
from autograder.jobs import grade_batch
from autograder.scores import score_run
from autograder.submissions import collect
from autograder.verdicts import load_suites, run_submission

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
REFERENCE = ROOT / "solutions" / "backprop.py"
STUB = ROOT / "exercises" / "backprop.py"
CORRECT = sorted((SUBMISSIONS / "correct").glob("*.py"))
BUGGY = sorted((SUBMISSIONS / "buggy").glob("*.py"))
# hostile files that misbehave only through their values (tests/test_otter_agreement.py)
VALUE_ONLY_HOSTILE = [SUBMISSIONS / "hostile" / name for name in [
    "fake_results_in_output.py", "lying_return_values.py", "mse_zeroes_inputs.py",
    "terminal_and_feedback_forgery.py", "train_fakes_its_losses.py",
    "train_without_gradient_descent.py"]]
CORPUS = [REFERENCE, STUB, *CORRECT, *BUGGY, *VALUE_ONLY_HOSTILE]
CLASS = {  # a small class: full marks, stubs, three bugs, another correct solution
    "ada": REFERENCE,
    "bo": STUB,
    "cy": SUBMISSIONS / "buggy" / "mse_divides_by_rows.py",
    "di": SUBMISSIONS / "buggy" / "update_adds_gradient.py",
    "ed": SUBMISSIONS / "buggy" / "dense_raises_index_error.py",
    "flo": SUBMISSIONS / "correct" / "float32_throughout.py",
}
GRADERS = 2  # files graded at once (this machine's cores)
SETUPS = 3  # background set-ups run at once (they mostly wait on other processes)
# The grading pool's niceness (its student code's too): it grades whenever a CPU is free
# and otherwise gives way to the tests, which wait for it only when they need what it
# graded. Its limits count CPU time, and time spent waiting for a CPU is never idle, so no
# verdict depends on it. The background set-ups keep the tests' priority: they count time
# on the clock (Jupyter kernels, pip, command lines).
NICE = 10


def _one_thread_at_a_time(parse):
    locks = [threading.RLock()]  # a fresh one in a forked child (its threads are gone)
    os.register_at_fork(after_in_child=lambda: locks.__setitem__(0, threading.RLock()))

    @functools.wraps(parse)
    def parse_alone(*args, **kwargs):
        with locks[0]:
            return parse(*args, **kwargs)

    return parse_alone


# CPython 3.11 keeps the depth of the AST it builds in state shared by every thread, so two
# threads in ast.parse at once can fail with "SystemError: AST constructor recursion depth
# mismatch" (python/cpython#106905). The background set-ups parse (autograder.release,
# autograder.diagnosis) beside the tests, which parse too: the suite parses in one thread
# at a time.
ast.parse = _one_thread_at_a_time(ast.parse)


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a background set-up gets: result(key, work) is another set-up's result."""

    course: object
    tmp_path_factory: pytest.TempPathFactory
    grading_pool: GradingPool
    result: Callable


class Background:
    """Work that waits mostly on other processes (whole batches, pip, Jupyter kernels, a
    grader's command line), run beside the tests from the start of the session, in two
    stages:

    1. the EXCLUSIVE set-ups, one after another: they grade whole batches, so no other
       work of the background runs beside them (test_hostile's batches);
    2. then the BACKGROUND set-ups, SETUPS at a time in threads of their own, and the
       files of every GRADED set (conftest.GradingPool).

    A test module lists its set-ups in EXCLUSIVE and BACKGROUND, {key: work(Setup)}; the
    session starts those of every module it runs (SETUP_FIRST's first, then in the order
    the modules run), and a module's fixture takes a result with background.result(key,
    work) (which starts the work then if it was not started). The quiet tests
    (QUIET_MODULES, and tests marked quiet) run last, once all of it has ended."""

    def __init__(self, course, tmp_path_factory, grading_pool: GradingPool,
                 gate: threading.Event):
        self._setup = Setup(course, tmp_path_factory, grading_pool, self.result)
        self._gate = gate
        self._exclusive = ThreadPoolExecutor(1, thread_name_prefix="exclusive")
        self._pool = ThreadPoolExecutor(SETUPS, thread_name_prefix="background")
        self._futures: dict[str, Future] = {}

    def _after_the_gate(self, work):
        self._gate.wait()
        return work(self._setup)

    def start(self, key: str, work, exclusive: bool = False) -> None:
        if key not in self._futures:
            self._futures[key] = (self._exclusive.submit(work, self._setup) if exclusive else
                                  self._pool.submit(self._after_the_gate, work))

    def open_gate(self) -> None:
        """Stage 2 starts once the exclusive set-ups started so far have ended (however they
        ended: their errors go to their own fixtures)."""
        self._exclusive.submit(self._gate.set)

    def result(self, key: str, work):
        self.start(key, work)
        return self._futures[key].result()

    def wait(self) -> None:
        """Until every set-up started has ended."""
        futures_wait(list(self._futures.values()))

    def close(self) -> None:
        """After those running now (if any) end: a session stopped early starts no more."""
        self._setup.grading_pool.close()
        self._gate.set()
        self._exclusive.shutdown(wait=True, cancel_futures=True)
        self._pool.shutdown(wait=True, cancel_futures=True)


# Nothing of the suite's runs beside them: they time the grader on the clock, kill a batch
# mid-way, or look at every process of ours. A test elsewhere is quiet when marked so.
QUIET_MODULES = {"test_sandbox", "test_gradescope"}
# Modules whose tests read what the background makes, in the order they run (after the
# others, so that they find most of it done; in the order it gets done).
LATE_MODULES = ["test_grading", "test_fairness", "test_notebook", "test_student",
                "test_hostile", "test_otter_agreement", "test_student_install"]
# Imported before any background work starts (_background_started): the release builds
# import nbgrader, and reading test files (load_suites) takes otter's.
SHARED_IMPORTS = ("otter.test_files", "nbgrader.api", "nbgrader.preprocessors")
# Their set-ups start first: the longest chains of work.
SETUP_FIRST = ["test_student_install", "test_hostile", "test_otter_agreement",
               "test_gradescope"]


def is_quiet(item) -> bool:
    return (item.module.__name__ in QUIET_MODULES
            or item.get_closest_marker("quiet") is not None)


def pytest_collection_modifyitems(session, config, items):
    """The LATE_MODULES after the others, and the quiet tests last, when the background
    work has ended."""
    def rank(item):
        name = item.module.__name__
        return is_quiet(item), LATE_MODULES.index(name) + 1 if name in LATE_MODULES else 0

    items.sort(key=rank)


@pytest.fixture(scope="session")
def _gate() -> threading.Event:
    return threading.Event()


@pytest.fixture(scope="session")
def background(course, tmp_path_factory, grading_pool, _gate):
    runner = Background(course, tmp_path_factory, grading_pool, _gate)
    yield runner
    runner.close()


@pytest.fixture(scope="session", autouse=True)
def _background_started(request, background, grading_pool):
    """Start the EXCLUSIVE set-ups, then the BACKGROUND ones and the GRADED files of every
    module this session runs.

    First, in this thread, what the background imports beside the tests (SHARED_IMPORTS):
    packages whose modules import each other in circles fail when two threads import them
    at once ("partially initialized module"). And otter itself: load_suites stands a bare
    otter package in for the real one in sys.modules while it reads test files, unless
    otter is imported (autograder.verdicts), and two threads' stand-ins could cross.
    (Processes of their own, the grading pool's and every command line's, still stand it
    in.)"""
    modules = list(dict.fromkeys(item.module for item in request.session.items))
    if any(getattr(m, "EXCLUSIVE", None) or getattr(m, "BACKGROUND", None) for m in modules):
        with warnings.catch_warnings():  # what they deprecate is none of ours
            warnings.simplefilter("ignore", DeprecationWarning)
            for name in SHARED_IMPORTS:
                importlib.import_module(name)
    for module in modules:
        for key, work in getattr(module, "EXCLUSIVE", {}).items():
            background.start(key, work, exclusive=True)
    background.open_gate()
    for module in modules:
        for key, make in getattr(module, "GRADED", {}).items():
            grading_pool.files(key, make)
    first = [m for name in SETUP_FIRST for m in modules if m.__name__ == name]
    for module in dict.fromkeys([*first, *modules]):
        for key, work in getattr(module, "BACKGROUND", {}).items():
            background.start(key, work)


def _quiet(background, grading_pool) -> None:
    background.wait()
    grading_pool.wait()


@pytest.fixture(scope="module", autouse=True)
def _quiet_module(request, background, grading_pool):
    """Before any fixture of a QUIET_MODULES module: the background work has ended."""
    if request.module.__name__ in QUIET_MODULES:
        _quiet(background, grading_pool)


@pytest.fixture(autouse=True)
def _quiet_test(request, background, grading_pool):
    """A test marked quiet starts once the background work has ended (it uses no
    module-scoped fixture that works: those are made before this)."""
    if request.node.get_closest_marker("quiet") is not None:
        _quiet(background, grading_pool)


@pytest.fixture(scope="session")
def course():
    return load_course(ROOT / "course.yaml")


def quick(course, **limits):
    """The course with short limits, so timeouts cost little in the suite (and any other
    limits given)."""
    limits = dataclasses.replace(course.limits, **{
        "call_seconds": 1.0, "import_seconds": 5.0, "memory_mb": 512, **limits})
    return dataclasses.replace(course, limits=limits)


@pytest.fixture(scope="session")
def quick_course(course):
    return quick(course)


@pytest.fixture(scope="session")
def suites(course):
    return load_suites(course)


@pytest.fixture(scope="session")
def zygote():
    server = Zygote()
    yield server
    server.close()


@pytest.fixture(scope="session")
def catalogue(course):
    return load_catalogue(course)


@pytest.fixture(scope="session")
def grade(course, suites, zygote, catalogue):
    """grade(path) -> StudentResult, with every test case (public and hidden), diagnosed,
    under the course's own limits (a loop-based train needs its 2 s on a busy machine)."""

    def run(path: Path):
        run = run_submission(course, suites, path, zygote, catalogue)
        return score_run(course, Path(path).stem, run)

    return run


class ManyGrader:
    """grade_many(paths, lanes=GRADERS) -> {path: StudentResult}, each as grade(path) grades
    it, `lanes` files at a time, each grading thread with a fork server of its own. The
    limits count the student's CPU time, so grading files side by side changes no verdict
    (test_busy_cpus_change_no_grade_of_a_correct_file)."""

    def __init__(self, course, suites, catalogue, zygote: Zygote):
        self.course, self.suites, self.catalogue = course, suites, catalogue
        self.servers: queue.Queue = queue.Queue()
        self.servers.put(zygote)
        self.started: list[Zygote] = []  # the fork servers of lanes beyond the first

    def ready(self, lanes: int) -> None:
        """Start the fork servers `lanes` files at a time need (kept for the session)."""
        while len(self.started) + 1 < lanes:
            self.started.append(Zygote())
            self.servers.put(self.started[-1])

    def _one(self, path: Path, suites, catalogue, cpus: set[int] | None):
        server = self.servers.get()
        before = os.sched_getaffinity(0), os.sched_getaffinity(server.process.pid)
        try:
            if cpus:  # this grading thread, and the fork server its student code comes from
                os.sched_setaffinity(0, cpus)
                os.sched_setaffinity(server.process.pid, cpus)
            return score_run(self.course, Path(path).stem,
                             run_submission(self.course, suites, path, server, catalogue))
        finally:
            os.sched_setaffinity(0, before[0])
            os.sched_setaffinity(server.process.pid, before[1])
            self.servers.put(server)

    def __call__(self, paths, lanes: int = GRADERS, suites=None, diagnose: bool = True,
                 cpus: set[int] | None = None) -> dict:
        """suites: the test files to run (all by default); diagnose: name likely causes;
        cpus: the only CPUs the grading (ours and the student's) may run on."""
        suites, catalogue = suites or self.suites, self.catalogue if diagnose else None
        paths = list(dict.fromkeys(paths))
        lanes = max(1, min(lanes, len(paths)))
        self.ready(lanes)
        with ThreadPoolExecutor(lanes) as pool:
            return dict(zip(paths, pool.map(lambda p: self._one(p, suites, catalogue, cpus),
                                            paths)))

    def close(self) -> None:
        for server in self.started:
            server.close()


@pytest.fixture(scope="session")
def grade_many(course, suites, zygote, catalogue):
    grader = ManyGrader(course, suites, catalogue, zygote)
    yield grader
    grader.close()


class GradingPool:
    """GRADERS grading processes of the suite's own (tests/grading_worker.py), which grade
    files as `grade` does, beside the tests (and free of the main process's GIL), from the
    second stage of the background on (Background), at niceness NICE.

    A test module lists the files it needs graded in GRADED, {key: make(folder) ->
    {name: path}} (make writes them into folder, or names files that exist), or {key:
    (make, {"public_only": True})} for the public cases only (grading_worker.grade); the
    session hands out the files of every module it runs at its start, in the order the
    modules run, and a module's fixture takes {name: StudentResult} with
    grading_pool.results(key, GRADED[key])."""

    def __init__(self, tmp_path_factory, gate: threading.Event):
        self._tmp_path_factory, self._gate = tmp_path_factory, gate
        self._pool: ProcessPoolExecutor | None = None  # started when the gate opens
        self._sets: dict[str, dict[object, Path]] = {}
        self._futures: dict[tuple[Path, tuple], Future] = {}
        self._waiting: list[tuple[Path, tuple]] | None = []  # until the gate opens
        self._lock = threading.Lock()  # background set-ups ask for files too
        self._feeder = threading.Thread(target=self._feed, name="grading-pool", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        self._gate.wait()
        with self._lock:
            if self._waiting is None:  # closed
                return
            self._pool = ProcessPoolExecutor(GRADERS, multiprocessing.get_context("spawn"),
                                             grading_worker.start, (str(ROOT), NICE))
            for how in self._waiting:
                self._submit(how)
            self._waiting = None

    def _submit(self, how: tuple[Path, tuple]) -> None:
        assert self._pool is not None
        done = self._pool.submit(grading_worker.grade, str(how[0]), **dict(how[1]))
        done.add_done_callback(lambda ended: _pass_on(ended, self._futures[how]))

    def files(self, key: str, graded) -> dict[object, Path]:
        """The files of a set (graded: its GRADED entry), written (and handed out) the
        first time it is asked for."""
        make, options = graded if isinstance(graded, tuple) else (graded, {})
        with self._lock:
            if key not in self._sets:
                self._sets[key] = make(self._tmp_path_factory.mktemp(key))
                for path in self._sets[key].values():
                    how = (path, tuple(sorted(options.items())))
                    if how not in self._futures:
                        self._futures[how] = Future()
                        if self._waiting is None:
                            self._submit(how)
                        else:
                            self._waiting.append(how)
            return self._sets[key]

    def results(self, key: str, graded) -> dict:
        options = graded[1] if isinstance(graded, tuple) else {}
        return {name: self._futures[path, tuple(sorted(options.items()))].result()
                for name, path in self.files(key, graded).items()}

    def wait(self) -> None:
        futures_wait(list(self._futures.values()))

    def close(self) -> None:
        """Grades nothing more (those being graded end first)."""
        with self._lock:
            self._waiting = None
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _pass_on(ended: Future, to: Future) -> None:
    if ended.cancelled():
        to.cancel()
    elif ended.exception() is not None:
        to.set_exception(ended.exception())
    else:
        to.set_result(ended.result())


@pytest.fixture(scope="session")
def grading_pool(tmp_path_factory, _gate):
    pool = GradingPool(tmp_path_factory, _gate)
    yield pool
    pool.close()


def corpus_files(folder: Path) -> dict[Path, Path]:
    """GRADED: every corpus file as it is."""
    return {path: path for path in CORPUS}


def corpus_notebooks(folder: Path) -> dict[Path, Path]:
    """GRADED: every corpus file as a notebook (notebook_of)."""
    found = {}
    for path in CORPUS:
        (folder / path.parent.name).mkdir(exist_ok=True)
        found[path] = notebook_of(path, folder / path.parent.name)
    return found


CORPUS_FORMS = {"py": ("corpus", corpus_files), "ipynb": ("corpus-notebooks", corpus_notebooks)}
GRADED_CORPUS = dict(CORPUS_FORMS.values())  # GRADED of a module that reads both forms
GRADED_CORPUS_PY = dict([CORPUS_FORMS["py"]])  # and of one that reads the .py files


class Corpus:
    """Every corpus file (CORPUS) and its notebook form, each graded once, as grade grades
    it (by the grading pool: a module that reads a form lists it in its GRADED)."""

    def __init__(self, pool: GradingPool):
        self._pool = pool

    def form(self, source: Path, form: str) -> Path:
        """The file graded as that form of a corpus file."""
        return self._pool.files(*CORPUS_FORMS[form])[source]

    def result(self, source: Path, form: str = "py"):
        """The StudentResult of a corpus file (form "py") or of its notebook ("ipynb")."""
        if source not in CORPUS:
            raise KeyError(f"{source} is not in the corpus")
        return self._pool.results(*CORPUS_FORMS[form])[source]

    __getitem__ = result


@pytest.fixture(scope="session")
def graded_corpus(grading_pool) -> Corpus:
    return Corpus(grading_pool)


def alembic_heads_read_once() -> None:
    """nbgrader starts `alembic heads` in a process of its own for every gradebook it
    creates (seconds each), to read the head of its own migrations, which never changes
    while the suite runs: the first answer is kept for the session (nbgrader writes the
    same alembic_version row as ever)."""
    import nbgrader.api

    if not hasattr(nbgrader.api.get_alembic_version, "cache_info"):
        nbgrader.api.get_alembic_version = functools.cache(nbgrader.api.get_alembic_version)


@dataclasses.dataclass(frozen=True)
class GradedClass:
    folder: Path  # CLASS's files, as <student>.py
    out: Path  # what `grade` wrote: results/, grades.csv, gradebook.db, report/


@pytest.fixture(scope="session")
def graded_class(quick_course, tmp_path_factory) -> GradedClass:
    """CLASS graded once, in one grading process (jobs=1), with its own nbgrader gradebook,
    for the tests that only read what a graded class wrote. Never change its files."""
    folder = tmp_path_factory.mktemp("class")
    for student, source in CLASS.items():
        (folder / f"{student}.py").write_bytes(source.read_bytes())
    out = tmp_path_factory.mktemp("graded-class")
    alembic_heads_read_once()
    grade_batch(quick_course, collect([folder], quick_course, out / "unpacked"), out, jobs=1,
                own_gradebook=True)
    return GradedClass(folder, out)


def notebook_of(source: Path, folder: Path, extra_cells: tuple[str, ...] = ()) -> Path:
    """The same code as a Jupyter notebook, one cell per top-level statement, after
    extra_cells (what students leave in notebooks: magics, a cell that fails)."""
    text = source.read_text()
    lines = text.splitlines()
    starts = [node.lineno - 1 for node in ast.parse(text).body] + [len(lines)]
    cells = [*extra_cells, *("\n".join(lines[a:b]) for a, b in zip(starts, starts[1:]))]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / f"{source.stem}.ipynb"
    nbformat.write(notebook, path)
    return path


def descendants(pid: int) -> list[int]:
    """Every process started, directly or not, by process pid (and still below it)."""
    found, stack = [], [pid]
    while stack:
        try:
            tasks = list(Path(f"/proc/{stack.pop()}/task").iterdir())
        except OSError:  # ended while we looked
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            stack += children
    return found
