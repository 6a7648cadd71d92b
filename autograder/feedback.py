"""feedback/<student>.md: what each student sees about their own submission.

Public cases show their full message. Hidden cases show passed or failed and a
message that names what was wrong (shapes, how far off), never the expected
values or the test's code.
"""

from __future__ import annotations

from pathlib import Path

from autograder.gradebook import write_atomic
from autograder.scores import ExerciseScore, StudentResult


def _points(value: float) -> str:
    return f"{value:g}"


def _case_line(case) -> str:
    mark = "✅" if case.passed else "❌"
    kind = "hidden test" if case.hidden else "public test"
    earned = case.points if case.passed else 0
    score = f"{_points(earned)}/{_points(case.points)}"
    line = f"- {mark} {case.description or case.name} ({kind}, {score})"
    if case.passed:
        return line
    cause = f"  \n  Likely cause: {case.diagnosis}" if case.diagnosis else ""
    return f"{line}  \n  {case.message}{cause}"


def _exercise_section(ex: ExerciseScore) -> list[str]:
    score = f"{_points(ex.score)} / {_points(ex.max_score)}"
    header = f"## {ex.exercise.title} ({ex.exercise.id}): {score}"
    return ["", header, "", *(_case_line(case) for case in ex.cases)]


def render_feedback(result: StudentResult, assignment: str, note: str = "") -> str:
    lines = [
        f"# {assignment}: feedback for {result.student}",
        "",
        f"**Score: {_points(result.score)} / {_points(result.max_score)}**. {result.message}",
    ]
    if note:
        lines += ["", f"Note: you handed in {note}."]
    if result.load_message:
        lines += ["", result.load_message]
    if result.notes:
        lines += ["", "Notes on your notebook (the other cells still ran):", "",
                  *(f"- {note}" for note in result.notes)]
    lines += ["", "| exercise | points |", "| --- | --- |"]
    lines += [f"| {ex.exercise.title} | {_points(ex.score)} / {_points(ex.max_score)} |"
              for ex in result.exercises]
    for ex in result.exercises:
        lines += _exercise_section(ex)
    return "\n".join(lines) + "\n"


def write_feedback(out: Path, result: StudentResult, assignment: str, note: str = "") -> Path:
    path = out / "feedback" / f"{result.student}.md"
    write_atomic(path, render_feedback(result, assignment, note))
    return path


def render_check(result: StudentResult, path: Path) -> str:
    """The text `check` prints: per exercise, how many public tests pass, and why not."""
    lines = [f"Public tests for {path}", ""]
    if result.load_message:
        lines += [result.load_message, ""]
    lines += [f"note: {note}" for note in result.notes]
    width = max(len(ex.exercise.title) for ex in result.exercises)
    for ex in result.exercises:
        passed = sum(case.passed for case in ex.cases)
        mark = "✔" if passed == len(ex.cases) else "✘"
        lines.append(f"{mark} {ex.exercise.title:<{width}}  {passed} of {len(ex.cases)} pass")
        for case in ex.cases:
            if not case.passed:
                lines += [f"    ✘ {case.description or case.name}", f"      {case.message}"]
    done = sum(all(c.passed for c in ex.cases) for ex in result.exercises)
    lines += ["", f"{done} of {len(result.exercises)} exercises pass their public tests. "
              "When you hand in, hidden tests check more cases (other sizes, several "
              "columns, one sample, inputs left unchanged)."]
    return "\n".join(lines)
