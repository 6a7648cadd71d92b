"""Shared fixtures: the course, its parsed test files, a one-call grader, a grader of many
files at once, and the corpus graded once for every test that reads its results."""

from __future__ import annotations

import ast
import dataclasses
import queue
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from pathlib import Path

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


class Background:
    """Slow set-ups that wait mostly on other processes (pip, Jupyter kernels, a grader's
    command line), run one after another in a thread of their own from the start of the
    session, beside the tests that come before theirs.

    A test module lists its set-ups in BACKGROUND, {key: work(course, tmp_path_factory)};
    the session starts those of every module it runs, in the order the modules run, and a
    module's fixture takes its result with background.result(key, work) (which starts the
    work then if it was not started). The QUIET_MODULES (they time the grader on the
    clock) run last, once every set-up has ended."""

    def __init__(self, course, tmp_path_factory):
        self._setup = (course, tmp_path_factory)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="background")
        self._futures: dict[str, Future] = {}

    def start(self, key: str, work) -> None:
        if key not in self._futures:
            self._futures[key] = self._pool.submit(work, *self._setup)

    def result(self, key: str, work):
        self.start(key, work)
        return self._futures[key].result()

    def wait(self) -> None:
        """Until every set-up started has ended (its errors go to its own fixture)."""
        futures_wait(list(self._futures.values()))

    def close(self) -> None:
        """After the one running now (if any) ends: a session stopped early starts no more."""
        self._pool.shutdown(wait=True, cancel_futures=True)


# they time the grader on the clock: nothing runs beside them
QUIET_MODULES = {"test_sandbox", "test_gradescope"}


def pytest_collection_modifyitems(session, config, items):
    """The QUIET_MODULES run last, when the background set-ups have long ended."""
    items.sort(key=lambda item: item.module.__name__ in QUIET_MODULES)


@pytest.fixture(scope="session")
def background(course, tmp_path_factory):
    runner = Background(course, tmp_path_factory)
    yield runner
    runner.close()


@pytest.fixture(scope="session", autouse=True)
def _background_started(request, background):
    """Start the BACKGROUND set-ups of every module this session runs, in their order."""
    modules = dict.fromkeys(item.module for item in request.session.items)
    for module in modules:
        for key, work in getattr(module, "BACKGROUND", {}).items():
            background.start(key, work)


@pytest.fixture(scope="module", autouse=True)
def _quiet_when_timed(request, background):
    if request.module.__name__ in QUIET_MODULES:
        background.wait()


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

    def _one(self, path: Path, suites, catalogue):
        server = self.servers.get()
        try:
            return score_run(self.course, Path(path).stem,
                             run_submission(self.course, suites, path, server, catalogue))
        finally:
            self.servers.put(server)

    def __call__(self, paths, lanes: int = GRADERS, suites=None, diagnose: bool = True) -> dict:
        """suites: the test files to run (all by default); diagnose: name likely causes."""
        suites, catalogue = suites or self.suites, self.catalogue if diagnose else None
        paths = list(dict.fromkeys(paths))
        lanes = max(1, min(lanes, len(paths)))
        self.ready(lanes)
        with ThreadPoolExecutor(lanes) as pool:
            return dict(zip(paths, pool.map(lambda p: self._one(p, suites, catalogue), paths)))

    def close(self) -> None:
        for server in self.started:
            server.close()


@pytest.fixture(scope="session")
def grade_many(course, suites, zygote, catalogue):
    grader = ManyGrader(course, suites, catalogue, zygote)
    yield grader
    grader.close()


class Corpus:
    """Every corpus file (CORPUS) graded once, as grade grades it, and the same code as a
    notebook (notebook_of); each form is graded, all files at once, the first time a test
    asks for one of that form."""

    def __init__(self, grade_many, folder: Path):
        self._grade_many, self._folder = grade_many, folder
        self._results: dict[str, dict[Path, object]] = {}

    def notebook(self, source: Path) -> Path:
        """The notebook form of a corpus file (written once)."""
        folder = self._folder / source.parent.name
        path = folder / f"{source.stem}.ipynb"
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            notebook_of(source, folder)
        return path

    def form(self, source: Path, form: str) -> Path:
        return source if form == "py" else self.notebook(source)

    def result(self, source: Path, form: str = "py"):
        """The StudentResult of a corpus file (form "py") or of its notebook ("ipynb")."""
        if source not in CORPUS:
            raise KeyError(f"{source} is not in the corpus")
        if form not in self._results:
            graded = self._grade_many([self.form(path, form) for path in CORPUS])
            self._results[form] = {path: graded[self.form(path, form)] for path in CORPUS}
        return self._results[form][source]

    __getitem__ = result


@pytest.fixture(scope="session")
def graded_corpus(grade_many, tmp_path_factory) -> Corpus:
    return Corpus(grade_many, tmp_path_factory.mktemp("corpus-notebooks"))


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
