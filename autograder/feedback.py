"""feedback/<student>.md and .html: what each student sees about their own submission.

Public cases show their full message. Hidden cases show passed or failed and a
message that names what was wrong (shapes, how far off), never the expected
values or the test's code.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from autograder.gradebook import write_atomic
from autograder.scores import ExerciseScore, StudentResult


def _points(value: float) -> str:
    return f"{value:g}"


def _case_heading(case) -> tuple[str, str, str]:
    """(mark, what the case checks, "hidden test, 0/2"), the same on every page."""
    kind = "hidden test" if case.hidden else "public test"
    earned = case.points if case.passed else 0
    return ("✅" if case.passed else "❌", case.description or case.name,
            f"{kind}, {_points(earned)}/{_points(case.points)}")


def _case_line(case) -> str:
    mark, what, score = _case_heading(case)
    line = f"- {mark} {what} ({score})"
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


def _html_case(case) -> str:
    mark, what, score = _case_heading(case)
    lines = [f"<li>{mark} {escape(what)} <small>({score})</small>"]
    if not case.passed:
        lines.append(f"<div class='why'>{escape(case.message)}</div>")
        if case.diagnosis:
            lines.append(f"<div class='cause'>Likely cause: {escape(case.diagnosis)}</div>")
    return "".join(lines) + "</li>"


def _html_exercise(ex: ExerciseScore) -> str:
    share = 100 * ex.score / ex.max_score if ex.max_score else 0
    return (f"<h2>{escape(ex.exercise.title)} <small>{_points(ex.score)} / "
            f"{_points(ex.max_score)}</small></h2><div class='bar'><div style='width:"
            f"{share:.0f}%'></div></div><ul>{''.join(map(_html_case, ex.cases))}</ul>")


def render_feedback_html(result: StudentResult, assignment: str, note: str = "") -> str:
    """The same feedback as a self-contained web page (no file or network it depends on)."""
    extra = [note and f"Note: you handed in {note}.", result.load_message, *result.notes]
    paragraphs = "".join(f"<p>{escape(text)}</p>" for text in extra if text)
    return (
        f"<!doctype html><meta charset='utf-8'><title>{escape(assignment)}: "
        f"{escape(result.student)}</title><style>body{{font-family:sans-serif;max-width:50em;"
        "margin:auto}.bar{background:#eee;height:10px;border-radius:5px}.bar div{background:"
        "#2a9d4a;height:10px;border-radius:5px}.why{color:#444;margin-left:1.5em}"
        ".cause{color:#a15c00;margin-left:1.5em}li{margin:.4em 0}</style>"
        f"<h1>{escape(assignment)}: feedback for {escape(result.student)}</h1>"
        f"<p><b>Score: {_points(result.score)} / {_points(result.max_score)}</b>. "
        f"{escape(result.message)}</p>{paragraphs}"
        + "".join(map(_html_exercise, result.exercises)) + "\n")


def write_feedback(out: Path, result: StudentResult, assignment: str, note: str = "") -> Path:
    """feedback/<student>.md and the same as a self-contained feedback/<student>.html."""
    path = out / "feedback" / f"{result.student}.md"
    write_atomic(path.with_suffix(".html"), render_feedback_html(result, assignment, note))
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
