"""Name the mistake behind a failed case, in the trusted process; never changes a score.

The catalogue (course.yaml's `mistakes`, for example solutions/mistakes.yaml)
lists realistic bugs as one-line edits of the reference. Each becomes a whole
variant module here. When a case fails, every student call it made (inputs and
answer) is compared with the reference's answer and with each variant's answer
on the same inputs: the variants that give the student's answer are the case's
evidence (`diagnose`). Once every case of a submission has run, `name_causes`
names one cause per function for the whole submission: where several mistakes
give the same answer (a batch of one sample cannot tell a sum from a mean over
rows), the one that explains the most failed cases; "One of: ..." when that
still ties. Failing a match, simple relations are described (opposite sign, off
by a factor, transposed, an (n, n) shape from broadcasting), only when the
shapes and values show them. Only relations are shown, never expected values;
answers agree within course.yaml's `tolerance`.
"""

from __future__ import annotations

import ast
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import yaml

from autograder.checks import copy_of
from autograder.course import Course, CourseError, Tolerance


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
    stand_ins: tuple[str, ...] = ()  # helpers the reference's own stood in for (checks.alone)


@dataclass(frozen=True)
class Evidence:
    """What one failed case shows: the function whose answer was wrong, the catalogued
    mistakes that give that same answer, and how it relates to the right answer."""

    function: str
    matches: tuple[Mistake, ...]  # those in the wrong function itself first
    signature: str = ""  # a plain-words relation, when the shapes and values show one


@dataclass(frozen=True)
class Finding:
    text: str
    mistake: str = ""  # the catalogue id, when exactly one mistake is named


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


class Answers:
    """Each module's answer to each call's inputs, computed once: the hidden inputs are
    the same for every student of a batch. Held by the Catalogue, so one per process."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str, str], Any] = {}

    def of(self, module: ModuleType, call: Call) -> Any:
        fingerprint = _fingerprint(call)
        if fingerprint is None:
            return _compute(module, call)
        key = (module.__name__, call.function, fingerprint)
        if key not in self._known:
            self._known[key] = _compute(module, call)
        return self._known[key]


@dataclass(frozen=True)
class Catalogue:
    reference: ModuleType
    mistakes: tuple[Mistake, ...]
    callers: dict[str, set[str]]  # function -> every function whose answer it changes
    tolerance: Tolerance  # course.yaml's: how close two answers must be to be the same
    answers: Answers = field(default_factory=Answers, compare=False)

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
    return Catalogue(_module("reference", clean), tuple(mistakes), _callers(clean),
                     course.tolerance)


def _parts(value: Any, path: str = "") -> list[tuple[str, np.ndarray]] | None:
    """A plain answer as (where, float array) pairs, tuples and dicts flattened (where is
    the item's path, such as "[0]['W1']"), or None when it is not all numbers and arrays."""
    if isinstance(value, dict):
        items = [(f"{path}[{key!r}]", value[key]) for key in sorted(value, key=repr)]
    elif isinstance(value, (tuple, list)):
        items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    else:
        try:
            return [(path, np.asarray(value, dtype=float))]
        except (TypeError, ValueError):
            return None
    parts = [_parts(item, where) for where, item in items]
    found = [p for p in parts if p is not None]
    return None if len(found) < len(parts) else [pair for p in found for pair in p]


def _pairs(got: Any, expected: Any) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The arrays of two answers side by side, or None unless both are made the same way
    (the same tuples, lists and dict keys around their arrays)."""
    a, b = _parts(got), _parts(expected)
    if a is None or b is None or [where for where, _ in a] != [where for where, _ in b]:
        return None
    return [(g, e) for (_, g), (_, e) in zip(a, b)]


def _close(got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> bool:
    return got.shape == expected.shape and bool(
        np.allclose(got, expected, rtol=tolerance.rtol, atol=tolerance.atol))


def _same(got: Any, expected: Any, tolerance: Tolerance) -> bool:
    pairs = _pairs(got, expected)
    return pairs is not None and all(_close(g, e, tolerance) for g, e in pairs)


def _fingerprint(call: Call) -> str | None:
    """A digest of a call's inputs (hidden inputs repeat for every student of a batch);
    None when they are not all numbers and arrays."""
    parts = _parts((call.args, call.kwargs))
    if parts is None:
        return None
    digest = hashlib.sha1()
    for where, item in parts:
        digest.update(repr((where, item.shape)).encode() + item.tobytes())
    return digest.hexdigest()


def _compute(module: ModuleType, call: Call) -> Any:
    try:
        with np.errstate(all="ignore"):
            return getattr(module, call.function)(*copy_of(call.args), **copy_of(call.kwargs))
    except Exception:
        return None


FACTORS = ((-1.0, "has the opposite sign of"), (2.0, "is twice"), (0.5, "is half"))


def _signature(got: Any, expected: Any, tolerance: Tolerance) -> str:
    """A plain-words relation between a wrong answer and the right one, when the shapes
    and values of one of its arrays show it; "" otherwise."""
    pairs = _pairs(got, expected) or []
    with np.errstate(all="ignore"):
        relations = [_relation(g, e, tolerance) for g, e in pairs if not _close(g, e, tolerance)]
    return next(filter(None, relations), "")


def _relation(got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> str:
    if got.shape != expected.shape and _squeezed(got) == _squeezed(expected):
        got = got.reshape(expected.shape)  # shapes are judged by cases of their own
    if got.shape != expected.shape:
        return _shape_relation(got, expected, tolerance)
    return _factor_relation(got, expected, tolerance)


def _squeezed(array: np.ndarray) -> tuple[int, ...]:
    return tuple(side for side in array.shape if side != 1)


def _shape_relation(got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> str:
    """(n, n) where (n,) or (n, 1) was expected: the two combined; or the transpose."""
    n = expected.shape[0] if expected.ndim else 0
    if n > 1 and got.shape == (n, n) and expected.shape in ((n,), (n, 1)):
        return (f"an answer has shape {got.shape} where {expected.shape} was expected: "
                f"probably a ({n},) array combined with a ({n}, 1) one (broadcasting)")
    if got.ndim == 2 and _close(got.T, expected, tolerance):
        return "an answer is the transpose of the right one"
    return ""


def _factor_relation(got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> str:
    """A sign or a factor of 2; another factor only where at least two different values
    share it (any one number is some multiple of any other)."""
    if not np.any(expected) or not np.all(np.isfinite(got)):
        return ""
    for factor, words in FACTORS:
        if _close(got, factor * expected, tolerance):
            return f"an answer {words} the right one"
    if np.unique(expected[expected != 0]).size < 2:
        return ""
    ratio = float(np.sum(got * expected) / np.sum(expected * expected))
    if _close(got, ratio * expected, tolerance):
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


def _modifies(module: ModuleType, call: Call, tolerance: Tolerance) -> bool:
    args, kwargs = copy_of(call.args), copy_of(call.kwargs)
    try:
        with np.errstate(all="ignore"):
            getattr(module, call.function)(*args, **kwargs)
    except Exception:
        return False
    return not _same((args, kwargs), (call.args, call.kwargs), tolerance)


def _matches(catalogue: Catalogue, mistake: Mistake, call: Call) -> bool:
    if call.changed:
        return _modifies(mistake.module, call, catalogue.tolerance)
    return _same(call.value, catalogue.answers.of(mistake.module, call), catalogue.tolerance)


def diagnose(catalogue: Catalogue, calls: list[Call]) -> Evidence | None:
    """What a failed case shows, from the calls it made, the last wrong one first; None
    when no call shows anything. `name_causes` then names the cause."""
    for call in reversed(calls):
        expected = catalogue.answers.of(catalogue.reference, call)
        if _same(call.value, expected, catalogue.tolerance) and not call.changed:
            continue
        suspects = [m for m in _suspects(catalogue, call.function)
                    if m.function not in call.stand_ins]  # those ran as the reference's
        matches = tuple(m for m in suspects if _matches(catalogue, m, call))
        signature = _signature(call.value, expected, catalogue.tolerance)
        if matches or signature:
            return Evidence(call.function, matches, signature)
    return None


def name_causes(catalogue: Catalogue,
                evidence: list[Evidence | None]) -> list[Finding | None]:
    """One consistent diagnosis for a submission, a finding for each failed case's
    evidence. For each function, the cause is the mistake in it that explains the most of
    the submission's failed cases (all of those tied, "One of: ..."), so a page never names
    two different causes for one function. A case whose matches are not its function's
    cause gets its plain relation, if any; one whose matches lie in several functions
    gets the cause that explains the most cases."""
    support = Counter(m.id for found in evidence if found for m in found.matches)
    causes = _causes(catalogue, support)
    return [None if found is None else _finding(found, causes, support)
            for found in evidence]


def _causes(catalogue: Catalogue, support: Counter[str]) -> dict[str, tuple[Mistake, ...]]:
    """For each function with a matched mistake, its mistakes that explain the most cases."""
    most: dict[str, int] = {}
    for mistake in catalogue.mistakes:
        most[mistake.function] = max(most.get(mistake.function, 0), support[mistake.id])
    return {function: tuple(m for m in catalogue.mistakes
                            if m.function == function and support[m.id] == count)
            for function, count in most.items() if count}


def _finding(found: Evidence, causes: dict[str, tuple[Mistake, ...]],
             support: Counter[str]) -> Finding | None:
    ids = {m.id for m in found.matches}
    shown = [cause for cause in dict.fromkeys(causes[m.function] for m in found.matches)
             if ids & {m.id for m in cause}]
    if not shown:
        return Finding(f"In {found.function}, {found.signature}.") if found.signature else None
    most = max(support[cause[0].id] for cause in shown)
    return _named([m for cause in shown if support[cause[0].id] == most for m in cause],
                  found.function)


def _named(mistakes: list[Mistake], function: str) -> Finding:
    """One mistake by name, with its root cause when that is in another function than the
    one called; several (a tie) as "One of: ...", each with what to read again."""
    where = {m.function for m in mistakes}
    root = "" if where == {function} or len(where) > 1 else (
        f" The root cause is in your {where.pop()}.")
    if len(mistakes) == 1:
        return Finding(f"{mistakes[0].explain}{root} Read again: {mistakes[0].read}.",
                       mistakes[0].id)
    reads = "; ".join(dict.fromkeys(m.read for m in mistakes))
    return Finding("One of: " + " Or: ".join(m.explain for m in mistakes)
                   + f"{root} Read again: {reads}.")


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
