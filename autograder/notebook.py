"""check(): run one exercise's public tests from a student's own notebook.

This runs in the student's Jupyter kernel, on the student's own functions, to
help them; it decides no grade (grading always runs student code in the
sandbox). Usage, in a cell under an exercise:

    check("mse", globals())

While a function of the exercise still raises NotImplementedError, the check
prints its results and raises too, so "Run All" stops at the first unfinished
exercise.
"""

from __future__ import annotations

import functools
import html
import json
from dataclasses import dataclass

from autograder.course import CAUSES, DEFAULT_COURSE, load_course
from autograder.verdicts import Suite, load_suites

NOT_WRITTEN = "not written yet: a function still raises NotImplementedError"


@dataclass(frozen=True)
class CheckResult:
    exercise: str
    cases: tuple[tuple[str, bool, str], ...]  # (description, passed, message)
    causes: tuple[str, ...] = ()  # the likely cause of each case's failure, or ""

    @property
    def passed(self) -> int:
        return sum(passed for _, passed, _ in self.cases)

    def _rows(self):
        return zip(self.cases, self.causes or ("",) * len(self.cases))

    def __repr__(self) -> str:
        lines = [f"{self.exercise}: {self.passed} of {len(self.cases)} public tests pass"]
        for (what, ok, message), cause in self._rows():
            lines.append(f"  {'✅' if ok else '❌'} {what}")
            lines += [] if ok else [f"     {message}"]
            lines += [f"     Likely cause: {cause}"] if cause else []
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<li>{'✅' if ok else '❌'} {html.escape(what)}"
            + ("" if ok else f"<br><code>{html.escape(message)}</code>")
            + (f"<br><i>Likely cause: {html.escape(cause)}</i>" if cause else "") + "</li>"
            for (what, ok, message), cause in self._rows())
        return (f"<p><b>{html.escape(self.exercise)}</b>: {self.passed} of {len(self.cases)} "
                f"public tests pass</p><ul>{rows}</ul>")


def _try_case(case, namespace: dict) -> tuple[bool, str]:
    try:
        case.body.call_func(namespace)
    except NotImplementedError:
        return False, NOT_WRITTEN
    except AssertionError as err:
        return False, str(err) or "a check failed"
    except Exception as err:  # the student's own error, shown to them
        return False, f"{type(err).__name__}: {err}"
    return True, ""


@functools.cache
def _public() -> tuple[list[Suite], dict[str, dict[str, str]]]:
    """The public tests and the likely causes of their failures, loaded once per kernel."""
    course = load_course(DEFAULT_COURSE)
    table = course.root / CAUSES  # in a student's install (see release)
    causes = json.loads(table.read_text(encoding="utf-8")) if table.is_file() else {}
    return load_suites(course, public_only=True), causes


def check(exercise: str, namespace: dict) -> CheckResult:
    """Run the public tests of one exercise (an id from course.yaml) on namespace's functions."""
    suites, causes = _public()
    suite = next((s for s in suites if s.exercise.id == exercise), None)
    if suite is None:
        known = ", ".join(s.exercise.id for s in suites)
        raise ValueError(f"no exercise '{exercise}'; the exercises are {known}")
    cases = tuple(((c.body.test_func.__doc__ or c.name).strip(), *_try_case(c, namespace))
                  for c in suite.test_file.test_cases)
    tables = [causes.get(f"{exercise}/{c.body.test_func.__name__}", {})
              for c in suite.test_file.test_cases]
    result = CheckResult(suite.exercise.title, cases, tuple(
        "" if ok else table.get(message, "") for (_, ok, message), table in zip(cases, tables)))
    if any(message == NOT_WRITTEN for _, _, message in cases):
        print(result)
        raise NotImplementedError(f"{exercise}: write the functions above, then run this "
                                  "cell again")
    return result
