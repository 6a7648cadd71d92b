"""Run the otter test files against a submission: one verdict per test case.

The test files run here, in the trusted process. Where a test expects the
student's function, it gets a ``StudentFunction``: a callable that sends the
arguments to the sandboxed child and brings back plain data. Points come from
otter's own parsing (``ExceptionTestFile``), so our totals follow otter's rules.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder import checks, wire
from autograder.course import Course, Exercise
from autograder.diagnosis import Call, Catalogue, Evidence, diagnose, name_causes
from autograder.errors import CourseError, SetupError
from autograder.forkserver import Zygote
from autograder.sandbox import Loaded, StandIns, StudentFault, Worker
from autograder.statuses import Fault


@dataclass(frozen=True)
class CaseVerdict:
    """One test case's outcome; message is safe to show the student."""

    exercise: str
    name: str
    description: str
    points: float
    hidden: bool
    passed: bool
    message: str
    fault: Fault | None = None  # how the student's code failed, if it did
    diagnosis: str = ""  # the likely cause of a failure, in words (never scored)
    mistake: str = ""  # the catalogued mistake the diagnosis names, if any


@dataclass(frozen=True)
class SubmissionRun:
    """Everything the grading process learned from one submission."""

    loaded: Loaded
    verdicts: tuple[CaseVerdict, ...]
    output: str


@dataclass(frozen=True)
class Suite:
    exercise: Exercise
    test_file: Any  # otter.test_files.ExceptionTestFile


@contextlib.contextmanager
def _otter_test_files() -> Iterator[types.ModuleType]:
    """otter.test_files, cheap: for reading test files with otter's own parser.

    ``import otter`` runs otter's package __init__, which imports otter.api (nbconvert,
    pandas, jsonschema's format checkers: seconds), and otter.test_files' own __init__
    imports nbformat. The parser the test files need, otter.test_files.exception_test,
    uses only the standard library. So, unless otter is already imported, the two
    packages are stood in for by bare modules whose __path__ is otter's own folders: the
    parser loads from otter's own files, and a test file's ``from otter.test_files import
    test_case`` finds it. The stand-ins leave sys.modules afterwards, so a later
    ``import otter`` gets the real package, which reuses the same parser module.
    """
    if "otter.test_files" in sys.modules:
        yield sys.modules["otter.test_files"]
        return
    spec = importlib.util.find_spec("otter")
    if spec is None or not spec.submodule_search_locations:
        raise SetupError("otter-grader is not installed; run `pip install otter-grader`")
    folder = list(spec.submodule_search_locations)[0]
    bare = {}
    for name, path in [("otter", folder), ("otter.test_files", f"{folder}/test_files")]:
        bare[name] = module = types.ModuleType(name)
        module.__path__ = [path]
        module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
        module.__spec__.submodule_search_locations = [path]
        sys.modules[name] = module
    try:
        parser = importlib.import_module("otter.test_files.exception_test")
        vars(bare["otter.test_files"]).update(test_case=parser.test_case,
                                              ExceptionTestFile=parser.ExceptionTestFile)
        yield bare["otter.test_files"]
    finally:
        for name, module in bare.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def load_suites(course: Course, public_only: bool = False) -> list[Suite]:
    """Parse one otter test file per exercise; check the points against course.yaml."""
    key = "tests.public" if public_only else "tests.source"
    folder = course.path(key)
    checks.configure(course.tolerance.rtol, course.tolerance.atol, course.seed)
    with _otter_test_files() as otter_test_files, _importable_from(course.root):
        return _parse(course, folder, key, otter_test_files.ExceptionTestFile, public_only)


@contextlib.contextmanager
def _importable_from(root: Path) -> Iterator[None]:
    """root first on sys.path while the test files load, for their imports of the course's
    own modules (``from solutions import backprop``); sys.path is as it was afterwards
    (the imported modules stay in sys.modules, where the test files keep finding them)."""
    entry = str(root)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        sys.path.remove(entry)  # the first equal entry: the list holds what it held before


def _parse(course: Course, folder: Path, key: str, parser: Any,
           public_only: bool) -> list[Suite]:
    suites = []
    for exercise in course.exercises:
        path = folder / f"{exercise.id}.py"
        if not path.is_file():
            raise CourseError(f"{course.source.name}: exercise '{exercise.id}' has no test "
                              f"file {path.relative_to(course.root)} (looked in {key})")
        try:
            test_file = parser.from_file(str(path))
        except Exception as err:
            raise CourseError(f"{path.relative_to(course.root)}: cannot be loaded as an otter "
                              f"test file: {type(err).__name__}: {err}") from None
        if not public_only and test_file.possible != exercise.points:
            raise CourseError(
                f"{course.source.name}: exercise '{exercise.id}' is worth {exercise.points:g} "
                f"points but the cases of {path.relative_to(course.root)} add up to "
                f"{test_file.possible:g}")
        suites.append(Suite(exercise, test_file))
    return suites


def _unreadable(value: Any) -> wire.Unreadable | None:
    if isinstance(value, wire.Unreadable):
        return value
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, (dict, list, tuple)):
        return next(filter(None, map(_unreadable, items)), None)
    return None


def _write_back(original: Any, after: Any) -> None:
    """Copy a student's changes to an argument back into the test's own object."""
    if isinstance(original, np.ndarray) and isinstance(after, np.ndarray):
        if original.shape == after.shape and original.flags.writeable:
            np.copyto(original, after, casting="unsafe")
    elif isinstance(original, dict) and isinstance(after, dict):
        for key in [k for k in original if k not in after]:
            del original[key]
        for key, value in after.items():
            old: Any = original.get(key)
            same_shape = np.shape(old) == np.shape(value)
            if isinstance(old, np.ndarray) and same_shape:
                _write_back(old, value)
            else:
                original[key] = value
    elif isinstance(original, (list, tuple)) and isinstance(after, (list, tuple)):
        for item, item_after in zip(original, after):
            _write_back(item, item_after)


class StudentFunction:
    """Stands in for the student's function inside a test case."""

    def __init__(self, worker: Worker, name: str, calls: list[Call],
                 stand_ins: StandIns | None = None, foresee: Callable[..., Any] | None = None):
        self.worker = worker
        self.name = name
        self.calls = calls  # every completed call of the current case, for the diagnosis
        self.stand_ins = stand_ins or {}
        self.foresee = foresee  # (call's args, kwargs, question, its args, answer) -> ahead

    def with_stand_ins(self, stand_ins: StandIns,
                       foresee: Callable[..., Any] | None = None) -> StudentFunction:
        """The same function, with trusted helpers in place of the student's (checks.alone);
        foresee: sends the answers to the questions likely to follow ahead of them."""
        return StudentFunction(self.worker, self.name, self.calls, stand_ins, foresee)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        loaded = self.worker.loaded
        assert loaded is not None, "run_submission loads the file before any case runs"
        if loaded.fault:
            raise StudentFault(loaded.fault, f"{self.name} could not run, because your file "
                               "did not load (see above)")
        if self.name not in loaded.functions:
            raise StudentFault(Fault.MISSING, f"{self.name} is not defined in your file "
                               "(check the spelling of its name)")
        before = (checks.copy_of(args), checks.copy_of(kwargs))
        try:
            foresee = self.foresee and functools.partial(self.foresee, args, kwargs)
            value, changed = self.worker.call(self.name, args, kwargs, self.stand_ins, foresee)
        except StudentFault as fault:
            raise StudentFault(fault.kind, f"{self.name} {fault}") from None
        self.calls.append(Call(self.name, *before, value, bool(changed),
                               tuple(sorted(self.stand_ins))))
        for key, after in changed.items():
            _write_back(args[int(key)] if key.isdigit() else kwargs[key], after)
        odd = _unreadable(value)
        if odd is not None:
            raise StudentFault(Fault.ERROR, f"{self.name} returned {odd!r}, which the grader "
                               "cannot read; return NumPy arrays, floats, tuples or dicts")
        return value


def _run_case(case: Any, env: dict) -> tuple[bool, str, Fault | None]:
    """(passed, message, how the student's code failed) for one test case."""
    try:
        case.body.call_func(env)
    except AssertionError as err:
        return False, str(err) or "a check failed", None
    except StudentFault as fault:
        return False, str(fault), fault.kind
    except Exception as err:  # the test tripped over an unexpected value
        return False, f"the grader could not use your result ({type(err).__name__})", None
    return True, "passed", None


def _diagnose(catalogue: Catalogue | None, calls: list[Call]) -> Evidence | None:
    if catalogue is None or not calls:
        return None
    try:
        return diagnose(catalogue, calls)
    except Exception:  # a diagnosis is a hint: it must never stop grading
        return None


def _with_causes(catalogue: Catalogue | None, verdicts: list[CaseVerdict],
                 evidence: list[Evidence | None]) -> tuple[CaseVerdict, ...]:
    """The verdicts with the likely cause of each failure, named once all the cases have
    run so that one submission gets one consistent diagnosis (never scored)."""
    if catalogue is None or not any(evidence):
        return tuple(verdicts)
    try:
        findings = name_causes(catalogue, evidence)
    except Exception:  # a diagnosis is a hint: it must never stop grading
        return tuple(verdicts)
    return tuple(verdict if finding is None else
                 dataclasses.replace(verdict, diagnosis=finding.text, mistake=finding.mistake)
                 for verdict, finding in zip(verdicts, findings))


def run_submission(course: Course, suites: list[Suite], submission: Path,
                   zygote: Zygote, catalogue: Catalogue | None = None) -> SubmissionRun:
    """Load the submission in a sandboxed worker and run every case against it;
    with a catalogue, failed cases get a diagnosis."""
    with Worker(zygote, submission, course.limits, course.module) as worker:
        loaded = worker.load()
        calls: list[Call] = []
        env = {name: StudentFunction(worker, name, calls) for name in course.functions}
        verdicts, evidence = [], []
        for suite in suites:
            for case in suite.test_file.test_cases:
                calls.clear()
                passed, message, fault = _run_case(case, env)
                evidence.append(None if passed else _diagnose(catalogue, calls))
                func = case.body.test_func
                verdicts.append(CaseVerdict(
                    suite.exercise.id, func.__name__, (func.__doc__ or "").strip(),
                    float(case.points), case.hidden, passed, message, fault))
        return SubmissionRun(loaded, _with_causes(catalogue, verdicts, evidence), worker.output())
