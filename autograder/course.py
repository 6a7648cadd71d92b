"""course.yaml: load it, check every key, and hand out plain dataclasses.

An instructor's mistake here stops the run with one line that names the key,
for example ``course.yaml: exercises[2].points must be a positive number, got 'two'``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from autograder.errors import CourseError

PACKAGE = Path(__file__).resolve().parent
# A student's install (the wheel `release` builds) carries the course's public side here:
# course.yaml and the public tests. In this repository, the instructor's course.yaml.
STUDENT_COURSE = PACKAGE / "student" / "course.yaml"
DEFAULT_COURSE = STUDENT_COURSE if STUDENT_COURSE.is_file() else PACKAGE.parent / "course.yaml"
CAUSES = "causes.json"  # beside a student course.yaml: likely causes of failed public cases


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    functions: tuple[str, ...]
    points: float


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass(frozen=True)
class Limits:
    call_seconds: float
    import_seconds: float
    submission_seconds: float
    memory_mb: int
    output_kb: int
    disk_mb: int


@dataclass(frozen=True)
class Gradescope:
    hidden_visibility: str  # how Gradescope shows hidden cases to students (VISIBILITIES)


@dataclass(frozen=True)
class Course:
    root: Path
    source: Path
    assignment: str
    student_file: str
    tests_source: str
    tests_public: str
    reference: str
    lesson: str
    mistakes: str
    exercises_dir: str
    seed: int
    tolerance: Tolerance
    limits: Limits
    gradescope: Gradescope
    exercises: tuple[Exercise, ...]

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(name for ex in self.exercises for name in ex.functions)

    @property
    def max_score(self) -> float:
        return sum(ex.points for ex in self.exercises)

    @property
    def module(self) -> str:
        """The student's file without its suffix (backprop): the module name it is loaded
        as, and its notebook's name in nbgrader."""
        return Path(self.student_file).stem

    def path(self, key: str) -> Path:
        """The file or folder a path key names, relative to course.yaml; it must exist."""
        relative = getattr(self, key.replace(".", "_"))
        path = self.root / relative
        if not path.exists():
            raise CourseError(
                f"{self.source.name}: {key} names {relative}, which does not exist "
                f"(paths are relative to {self.source.name}'s folder)"
            )
        return path


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")  # Gradescope's


def _visibility(value: Any) -> bool:
    return value in VISIBILITIES


_RULE_WORDS = {
    _positive: "a positive number",
    _text: "a non-empty string",
    _integer: "a whole number",
    _visibility: f"one of {', '.join(VISIBILITIES)}",
}

DEFAULT_LIMITS = {"call_seconds": 2, "import_seconds": 10, "submission_seconds": 60,
                  "memory_mb": 1024, "output_kb": 64, "disk_mb": 64}
DEFAULT_GRADESCOPE = {"hidden_visibility": "after_published"}
# the keys with defaults
OPTIONAL: dict[str, dict[str, Any]] = {"limits": DEFAULT_LIMITS, "gradescope": DEFAULT_GRADESCOPE}

_TOP = {
    "assignment": _text,
    "student_file": _text,
    "reference": _text,
    "lesson": _text,
    "mistakes": _text,
    "exercises_dir": _text,
    "seed": _integer,
    "tests": {"source": _text, "public": _text},
    "tolerance": {"rtol": _positive, "atol": _positive},
    "limits": {
        "call_seconds": _positive,
        "import_seconds": _positive,
        "submission_seconds": _positive,
        "memory_mb": _positive,
        "output_kb": _positive,
        "disk_mb": _positive,
    },
    "gradescope": {"hidden_visibility": _visibility},
    "exercises": list,
}
_EXERCISE = {"id": _text, "title": _text, "functions": list, "points": _positive}


def _check_mapping(data: Any, schema: dict, where: str, name: str) -> None:
    """Check one mapping against its schema: no unknown keys, no missing keys, right types."""
    if not isinstance(data, dict):
        what = where.rstrip(".") or "the file"
        raise CourseError(f"{name}: {what} must be a mapping of keys to values, got {data!r}")
    for key in data:
        if key not in schema:
            near = difflib.get_close_matches(str(key), list(schema), n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; known keys: {', '.join(schema)}"
            raise CourseError(f"{name}: unknown key '{where}{key}'{hint}")
    for key, rule in schema.items():
        if key not in data:
            raise CourseError(f"{name}: missing key '{where}{key}'")
        value = data[key]
        if isinstance(rule, dict):
            _check_mapping(value, rule, f"{where}{key}.", name)
        elif rule is list:
            if not isinstance(value, list) or not value:
                raise CourseError(f"{name}: {where}{key} must be a non-empty list, got {value!r}")
        elif not rule(value):
            raise CourseError(f"{name}: {where}{key} must be {_RULE_WORDS[rule]}, got {value!r}")


def _exercises(items: list, name: str) -> tuple[Exercise, ...]:
    exercises = []
    for i, item in enumerate(items):
        _check_mapping(item, _EXERCISE, f"exercises[{i}].", name)
        functions = item["functions"]
        if not all(isinstance(f, str) and f.isidentifier() for f in functions):
            raise CourseError(
                f"{name}: exercises[{i}].functions must list Python function names, "
                f"got {functions!r}"
            )
        exercises.append(Exercise(item["id"], item["title"], tuple(functions), item["points"]))
    ids = [ex.id for ex in exercises]
    for ex_id in ids:
        if ids.count(ex_id) > 1:
            raise CourseError(f"{name}: exercise id '{ex_id}' is used twice")
    return tuple(exercises)


def load_course(path: str | Path) -> Course:
    """Read and check course.yaml; raise CourseError naming the first bad key."""
    source = Path(path)
    name = source.name
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseError(f"{source}: not found; pass --course PATH to your course.yaml") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        raise CourseError(f"{name}: not valid YAML{line}; check its indentation") from None
    for key, defaults in OPTIONAL.items():
        if isinstance(data, dict) and isinstance(data.get(key, {}), dict):
            data[key] = {**defaults, **data.get(key, {})}
    _check_mapping(data, _TOP, "", name)
    return Course(
        root=source.resolve().parent,
        source=source,
        assignment=data["assignment"],
        student_file=data["student_file"],
        tests_source=data["tests"]["source"],
        tests_public=data["tests"]["public"],
        reference=data["reference"],
        lesson=data["lesson"],
        mistakes=data["mistakes"],
        exercises_dir=data["exercises_dir"],
        seed=data["seed"],
        tolerance=Tolerance(**data["tolerance"]),
        limits=Limits(**data["limits"]),
        gradescope=Gradescope(**data["gradescope"]),
        exercises=_exercises(data["exercises"], name),
    )
