"""Name the mistake behind a failed case, in the trusted process; never changes a score.

The catalogue (course.yaml's `mistakes`, for example solutions/mistakes.yaml)
lists realistic bugs as one-line edits of the reference. Each becomes a whole
variant module here. When a case fails, every student call it made (inputs and
answer) is compared with the reference's answer and with each variant's answer
on the same inputs: a match names the mistake. Failing that, simple signatures
(opposite sign, off by a factor of 2 or N, transposed, an (n, n) shape from
broadcasting) are described. Only relations are shown, never expected values.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import yaml

from autograder.checks import copy_of
from autograder.course import Course, CourseError


@dataclass(frozen=True)
class Mistake:
    id: str
    function: str
    explain: str
    read: str
    source: str  # the whole variant: the reference with this one bug
    module: ModuleType
    hidden_only: str = ""  # why no public case can show it, for a mistake `check` misses


@dataclass(frozen=True)
class Call:
    """One call a test case made to a student function: its inputs and the answer."""

    function: str
    args: tuple
    kwargs: dict
    value: Any
    changed: bool  # the student's function modified an argument


@dataclass(frozen=True)
class Finding:
    text: str
    mistake: str = ""  # the catalogue id, when one matched


def _module(name: str, source: str) -> ModuleType:
    module = ModuleType(name)
    exec(compile(source, name, "exec"), vars(module))  # instructor code: the reference
    return module


def _callers(source: str) -> dict[str, set[str]]:
    """For each function, the functions that call it directly or through others."""
    functions = {n.name: n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}
    calls = {name: {c.func.id for c in ast.walk(node) if isinstance(c, ast.Call)
                    and isinstance(c.func, ast.Name) and c.func.id in functions}
             for name, node in functions.items()}
    callers = {name: {name} for name in functions}
    changed = True
    while changed:
        changed = False
        for caller, callees in calls.items():
            for found in callers.values():
                if callees & found and caller not in found:
                    found.add(caller)
                    changed = True
    return callers


@dataclass(frozen=True)
class Catalogue:
    reference: ModuleType
    mistakes: tuple[Mistake, ...]
    callers: dict[str, set[str]]  # function -> every function whose answer it changes

    def suspects(self, function: str) -> list[Mistake]:
        return [m for m in self.mistakes if function in self.callers.get(m.function, ())]


def _edit(source: str, entry: dict, where: str) -> str:
    """The reference with `replace` changed to `with` in the code (not the docstring) of
    `function`, where it must appear exactly once."""
    node = next((n for n in ast.parse(source).body
                 if isinstance(n, ast.FunctionDef) and n.name == entry["function"]), None)
    if node is None:
        raise CourseError(f"{where}: the reference has no function {entry['function']}")
    first = node.body[1] if ast.get_docstring(node) else node.body[0]
    lines = source.splitlines(keepends=True)
    before, code = "".join(lines[:first.lineno - 1]), "".join(lines[first.lineno - 1:])
    end = code.find("\ndef ")
    body, after = (code, "") if end < 0 else (code[:end], code[end:])
    if body.count(entry["replace"]) != 1:
        raise CourseError(f"{where}: the text to replace must appear exactly once in the code "
                          f"of {entry['function']}")
    return before + body.replace(entry["replace"], entry["with"]) + after


def load_catalogue(course: Course) -> Catalogue:
    """The reference and one variant module per catalogued mistake."""
    source = course.path("reference").read_text(encoding="utf-8")
    clean = source.replace("### BEGIN SOLUTION", "").replace("### END SOLUTION", "")
    path = course.path("mistakes")
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    mistakes = []
    for i, entry in enumerate(entries):
        where = f"{course.mistakes}: mistakes[{i}] ({entry.get('id', '?')})"
        if set(entry) - {"hidden_only"} != {"id", "function", "replace", "with", "explain",
                                             "read"}:
            raise CourseError(f"{where}: needs exactly id, function, replace, with, explain, "
                              "read (and hidden_only, the reason, if check cannot see it)")
        source = _edit(clean, entry, where)
        mistakes.append(Mistake(entry["id"], entry["function"], entry["explain"], entry["read"],
                                source, _module(f"mistake {entry['id']}", source),
                                str(entry.get("hidden_only", ""))))
    return Catalogue(_module("reference", clean), tuple(mistakes), _callers(clean))


def _arrays(value: Any) -> list[np.ndarray] | None:
    """A plain answer as a list of float arrays (tuples and dicts flattened), or None."""
    if isinstance(value, dict):
        parts = [_arrays(value[k]) for k in sorted(value)]
    elif isinstance(value, (tuple, list)):
        parts = [_arrays(v) for v in value]
    else:
        try:
            return [np.asarray(value, dtype=float)]
        except (TypeError, ValueError):
            return None
    return None if any(p is None for p in parts) else [a for p in parts for a in p]


def _same(got: Any, expected: Any, keys_matter: bool = True) -> bool:
    a, b = _arrays(got), _arrays(expected)
    if a is None or b is None or len(a) != len(b):
        return False
    if keys_matter and isinstance(expected, dict) and (
            not isinstance(got, dict) or set(got) != set(expected)):
        return False
    return all(x.shape == y.shape and np.allclose(x, y, rtol=1e-4, atol=1e-7)
               for x, y in zip(a, b))


def _fingerprint(call: Call) -> str | None:
    """A digest of a call's inputs (hidden inputs repeat for every student of a batch);
    None when they are not all numbers and arrays."""
    arrays = _arrays((call.args, call.kwargs))
    if arrays is None:
        return None
    digest = hashlib.sha1(repr(sorted(call.kwargs)).encode())
    for item in arrays:
        digest.update(repr(item.shape).encode() + item.tobytes())
    return digest.hexdigest()


_answers: dict[tuple, Any] = {}  # (module, function, inputs) -> answer, in this process


def _compute(module: ModuleType, call: Call) -> Any:
    try:
        with np.errstate(all="ignore"):
            return getattr(module, call.function)(*copy_of(call.args), **copy_of(call.kwargs))
    except Exception:
        return None


def _run(module: ModuleType, call: Call) -> Any:
    """The module's answer to the call's inputs, computed once per process."""
    fingerprint = _fingerprint(call)
    if fingerprint is None:
        return _compute(module, call)
    key = (module.__name__, call.function, fingerprint)
    if key not in _answers:
        _answers[key] = _compute(module, call)
    return _answers[key]


def _signature(got: Any, expected: Any) -> str:
    """A plain-words relation between a wrong answer and the right one, if a simple one."""
    pairs = list(zip(_arrays(got) or [], _arrays(expected) or []))
    for g, e in pairs:
        if g.shape != e.shape:
            if g.ndim == 2 and g.shape[0] == g.shape[1] == e.shape[0] and g.shape != e.shape:
                return (f"an answer has shape {g.shape} where {e.shape} was expected: "
                        "probably an (n,) array combined with an (n, 1) one (broadcasting)")
            if g.T.shape == e.shape and np.allclose(g.T, e, rtol=1e-4, atol=1e-7):
                return "an answer is the transpose of the right one"
            continue
        if np.allclose(g, e, rtol=1e-4, atol=1e-7) or not np.any(e):
            continue
        ratio = float(np.sum(g * e) / np.sum(e * e))
        if not np.allclose(g, ratio * e, rtol=1e-3, atol=1e-7):
            return ""
        for factor, words in [(-1, "has the opposite sign of"), (2, "is twice"),
                              (0.5, "is half")]:
            if np.isclose(ratio, factor, rtol=1e-3):
                return f"an answer {words} the right one"
        return f"an answer is the right one times {ratio:.3g} (a missing or extra factor?)"
    return ""


def _suspects(catalogue: Catalogue, function: str) -> list[Mistake]:
    """Mistakes in the function itself first, then those in the functions it calls;
    for a function nothing else calls (train: it runs all the others), only its own:
    the others' mistakes are named by their own cases, and trying every variant of a
    whole training run for each student would slow a batch down."""
    own = [m for m in catalogue.mistakes if m.function == function]
    if catalogue.callers.get(function) == {function}:
        return own
    return own + [m for m in catalogue.suspects(function) if m.function != function]


def _modifies(module: ModuleType, call: Call) -> bool:
    args, kwargs = copy_of(call.args), copy_of(call.kwargs)
    try:
        with np.errstate(all="ignore"):
            getattr(module, call.function)(*args, **kwargs)
    except Exception:
        return False
    return not _same((args, kwargs), (call.args, call.kwargs))


def _matches(mistake: Mistake, call: Call) -> bool:
    if call.changed:
        return _modifies(mistake.module, call)
    return _same(call.value, _run(mistake.module, call))


def _named(matches: list[Mistake], function: str) -> Finding:
    """One mistake by name; when mistakes in different functions give the same answer
    (update adding the gradient trains like mse_grad with the wrong sign), all of them,
    unnamed."""
    if len({m.function for m in matches}) > 1:
        return Finding("One of these: " + " Or: ".join(m.explain for m in matches))
    mistake = matches[0]
    root = "" if mistake.function == function else (
        f" The root cause is in your {mistake.function}.")
    return Finding(f"{mistake.explain}{root} Read again: {mistake.read}.", mistake.id)


def diagnose(catalogue: Catalogue, calls: list[Call]) -> Finding | None:
    """The most likely cause of a failed case, from the calls it made; None if unknown."""
    for call in reversed(calls):
        expected = _run(catalogue.reference, call)
        if _same(call.value, expected) and not call.changed:
            continue
        matches = [m for m in _suspects(catalogue, call.function) if _matches(m, call)]
        if matches:
            return _named(matches, call.function)
        signature = _signature(call.value, expected)
        if signature:
            return Finding(f"In {call.function}, {signature}.")
    return None



def public_causes(catalogue: Catalogue, suites: list) -> dict[str, dict[str, str]]:
    """For each public case ("exercise/case"), the message each catalogued mistake makes it
    fail with, and the likely cause to show for it. This is how `check` names a mistake
    where neither the reference nor the catalogue may go (a student's install): the same
    failure message means the same wrong answer on the same public inputs."""
    table: dict[str, dict[str, list[Mistake]]] = {}
    for suite in suites:
        for case in suite.test_file.test_cases:
            for mistake in catalogue.mistakes:
                try:
                    with np.errstate(all="ignore"):
                        case.body.call_func(dict(vars(mistake.module)))
                except AssertionError as failure:
                    key = f"{suite.exercise.id}/{case.body.test_func.__name__}"
                    table.setdefault(key, {}).setdefault(str(failure), []).append(mistake)
                except Exception:  # an error, not a wrong answer: the grader words it itself
                    continue
    return {key: {message: _named(found, found[0].function).text
                  for message, found in messages.items()}
            for key, messages in table.items()}
