"""Assertions shared by the test files, with messages a student can act on.

Every value a student function returns is first turned into a plain float
``np.ndarray`` or ``float`` (a subclass or an object with a lying ``__eq__``
gains nothing), then compared with a tolerance from course.yaml. A hidden
case never prints the expected values, only shapes and how far off it was.

The tests never trust what the student reports. The grader copies a student's
in-place changes to its arguments back into the test's own objects, so a case
computes its expected values *before* the call, from inputs the student never
receives: the student's function gets copies (``copy_of``, ``on_copies``).
What a function claims about itself (the losses ``train`` reports) is checked
against what the grader computes from its other answers (the weights it returns).

This module is imported by the test files, both by our grader and by
otter-grader inside autograder.zip, so it needs only numpy and PyYAML.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Settings:
    """course.yaml's tolerances and seed: what every check and random input depends on."""

    rtol: float
    atol: float
    seed: int


# The one piece of state here, made once per process: by configure (the grader, before it
# loads the test files), else on first use from the default course.yaml (otter running the
# test files by itself). A process grades one course, so it never changes after that.
_settings: Settings | None = None


def configure(rtol: float, atol: float, seed: int) -> Settings:
    """Fix the tolerances and seed for this process (the grader calls this with course.yaml's
    values). Again with the same values, nothing changes; with others, a RuntimeError: the
    checks of one process must not change under the test files already loaded."""
    global _settings
    wanted = Settings(rtol, atol, seed)
    if _settings is None:
        _settings = wanted
    elif _settings != wanted:
        raise RuntimeError(
            f"autograder.checks: this process already uses rtol={_settings.rtol:g}, "
            f"atol={_settings.atol:g}, seed={_settings.seed} (its first course); a course "
            f"with rtol={rtol:g}, atol={atol:g}, seed={seed} needs a process of its own")
    return _settings


def settings() -> Settings:
    """This process's settings (configure's, else the default course.yaml's)."""
    if _settings is None:
        from autograder.course import DEFAULT_COURSE, load_course

        course = load_course(DEFAULT_COURSE)
        return configure(course.tolerance.rtol, course.tolerance.atol, course.seed)
    return _settings


def rng(label: str) -> np.random.Generator:
    """A random generator seeded by the course seed and a label, the same on every run."""
    return np.random.default_rng([settings().seed, zlib.crc32(label.encode())])


def random_params(label: str, d_in: int, h: int, d_out: int) -> dict[str, np.ndarray]:
    """Network parameters with the pinned shapes, drawn from a seeded generator."""
    gen = rng(label)
    return {
        "W1": gen.normal(size=(d_in, h)),
        "b1": gen.normal(size=h),
        "W2": gen.normal(size=(h, d_out)),
        "b2": gen.normal(size=d_out),
    }


def copy_of(value: Any) -> Any:
    """A deep copy of arrays inside dicts, lists and tuples (to detect changes)."""
    if isinstance(value, dict):
        return {k: copy_of(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(copy_of(v) for v in value)
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def on_copies(function: Any, *args: Any, **kwargs: Any) -> Any:
    """function(*args, **kwargs) called with deep copies: whatever it changes in place, the
    test's own arrays (and any expected value computed from them) stay as they were."""
    return function(*copy_of(args), **copy_of(kwargs))


def alone(function: Any, reference: Any, *helpers: str, foresee: Any = None) -> Any:
    """function, called with the reference's helpers standing in for the student's own, so a
    case grades the function by itself: a bug in a helper is charged to the helper's cases.

    Under our grader, function is a proxy for the sandboxed student function: the
    stand-ins are proxies there too, answered by the reference in the grading process
    (its code never enters the sandbox). Where the student's function runs in this very
    process (otter's own run), the helpers are swapped in its module for the call.

    foresee(call_args, call_kwargs, question, its args, answer) -> [(question, args,
    answer), ...]: the questions the function is likely to ask next, answered by the
    reference; our grader sends them with that answer, and the stand-ins take an answer
    sent ahead instead of asking when the arguments are the same (a saving only: any
    other question is asked as before).
    """
    stand_ins = {name: getattr(reference, name) for name in helpers}
    with_stand_ins = getattr(function, "with_stand_ins", None)
    if callable(with_stand_ins):
        return with_stand_ins(stand_ins, foresee)
    return functools.partial(_with_globals, function, stand_ins)


def _with_globals(function: Any, stand_ins: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    """function(*args, **kwargs) with names of its module replaced for the call."""
    namespace = function.__globals__
    saved = {name: namespace[name] for name in stand_ins if name in namespace}
    namespace.update(stand_ins)
    try:
        return function(*args, **kwargs)
    finally:
        for name in stand_ins:
            namespace.pop(name, None)
        namespace.update(saved)


def _describe(value: Any) -> str:
    if value is None:
        return "None (did you forget `return`?)"
    return f"a {type(value).__name__}"


def as_array(value: Any, what: str) -> np.ndarray:
    """The value as a float64 array, or an AssertionError saying what it was instead."""
    if isinstance(value, (list, tuple, dict)) or value is None or isinstance(value, str):
        raise AssertionError(f"{what} is {_describe(value)}; expected a NumPy array")
    try:
        array = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} is {_describe(value)}; expected a NumPy array") from None
    return np.asarray(array).view(np.ndarray)


def as_number(value: Any, what: str) -> float:
    """The value as a float (numpy scalars such as np.float32 count, as they do when otter
    runs the same test in one process); an array of one element is not accepted."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        raise AssertionError(
            f"{what} is an array of shape {value.shape}; expected one number "
            "(the mean over every element)"
        )
    boolean = isinstance(value, (bool, np.bool_)) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "b")  # np.True_ arrives 0-d
    if boolean or not isinstance(value, (int, float, np.ndarray, np.integer, np.floating)):
        raise AssertionError(f"{what} is {_describe(value)}; expected one number (a float)")
    return float(value)


def as_tuple(value: Any, length: int, what: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != length:
        raise AssertionError(f"{what} is {_describe(value)}; expected a tuple of {length} items")
    return tuple(value)


def as_dict(value: Any, keys: list[str], what: str) -> dict:
    if not isinstance(value, dict):
        raise AssertionError(f"{what} is {_describe(value)}; expected a dict")
    missing = [k for k in keys if k not in value]
    extra = [k for k in value if k not in keys]
    if missing or extra:
        raise AssertionError(
            f"{what} has keys {sorted(value)}; expected exactly {sorted(keys)}"
        )
    return value


def expect_shape(value: Any, shape: tuple, what: str) -> np.ndarray:
    array = as_array(value, what)
    if array.shape != tuple(shape):
        raise AssertionError(f"{what} has shape {array.shape}; expected {tuple(shape)}")
    return array


def as_shaped(value: Any, shape: tuple, what: str) -> np.ndarray:
    """The value as a float array of shape, for a case about values: one whose shape differs
    only by axes of length 1 (an (n, 1) array for an (n,) one) is reshaped, because
    shapes are judged by cases of their own; any other shape fails here too."""
    array = as_array(value, what)
    squeezed = tuple(side for side in array.shape if side != 1)
    if array.shape != tuple(shape) and squeezed == tuple(side for side in shape if side != 1):
        return array.reshape(shape)
    return expect_shape(array, shape, what)


def as_params(value: Any, shapes: dict[str, tuple], what: str,
              exact: bool = False) -> dict[str, np.ndarray]:
    """A dict with exactly the keys of shapes, each value a float array of that shape (or,
    unless exact, one that differs only by axes of length 1: as_shaped)."""
    params = as_dict(value, list(shapes), what)
    shaped = expect_shape if exact else as_shaped
    return {key: shaped(params[key], shape, f"{what}[{key!r}]")
            for key, shape in shapes.items()}


def agree(a: Any, b: Any) -> bool:
    """Whether two answers (arrays, numbers, or dicts or lists of them, already plain) are
    equal within the tolerance of course.yaml; nan agrees with nan."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(agree(a[k], b[k]) for k in a)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    tolerance = settings()
    return a.shape == b.shape and bool(np.allclose(
        a, b, rtol=tolerance.rtol, atol=tolerance.atol, equal_nan=True))


def expect_close(value: Any, expected: Any, what: str, reveal: bool = False) -> None:
    """Compare with the tolerance of course.yaml; reveal=True (public cases) shows the answer."""
    expected = np.asarray(expected, dtype=np.float64)
    if expected.ndim == 0 and np.size(value) != 1:
        got = np.asarray(as_number(value, what))  # says what it got instead of a number
    else:  # shapes that differ only by axes of length 1 are judged by the shape cases
        got = as_shaped(value, expected.shape, what)
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{what} contains nan or inf")
    tolerance = settings()
    close = np.isclose(got, expected, rtol=tolerance.rtol, atol=tolerance.atol)
    if close.all():
        return
    if reveal:
        raise AssertionError(f"{what} is {np.round(got, 6).tolist()}; "
                             f"expected {np.round(expected, 6).tolist()}")
    worst = float(np.max(np.abs(got - expected)))
    raise AssertionError(
        f"{what} has wrong values: {int((~close).sum())} of {close.size} differ from the "
        f"correct answer (largest difference {worst:.3g})"
    )


def expect_unchanged(before: Any, after: Any, what: str) -> None:
    """Inputs must come back exactly as they were given."""
    if isinstance(before, dict):
        if set(before) != set(after):
            raise AssertionError(f"{what} was changed: its keys are now {sorted(after)}")
        for key in before:
            expect_unchanged(before[key], after[key], f"{what}[{key!r}]")
        return
    if not np.array_equal(np.asarray(before), np.asarray(after)):
        raise AssertionError(
            f"{what} was changed by your function; compute new arrays instead of "
            "modifying the ones you were given"
        )


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(1e-8, |a| + |b|), the gradient-check measure."""
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(loss_of, params: dict[str, np.ndarray], step: float = 1e-5) -> dict:
    """Centred differences (L(p + h) - L(p - h)) / 2h for every entry of every parameter."""
    grads = {}
    for key, value in params.items():
        grad = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            saved = value[index]
            try:
                value[index] = saved + step
                plus = loss_of(params)
                value[index] = saved - step
                minus = loss_of(params)
            finally:
                value[index] = saved
            grad[index] = (plus - minus) / (2 * step)
        grads[key] = grad
    return grads
