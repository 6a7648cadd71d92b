"""feedback/<student>.md and .html: what each student sees about their own submission.

Public cases show their full message. Hidden cases show passed or failed and a
message that names what was wrong (shapes, how far off), never the expected
values or the test's code.

Student text is data (see autograder.text): everything the student's process
produced (messages, notes on notebook cells, values quoted in a diagnosis) is
shown capped, in a code block (Markdown) or an escaped <pre> (HTML), never as
lines of our own. Our title, score and points table come first and survive the
cap on the page's size.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from autograder import text
from autograder.files import write_atomic
from autograder.scores import ExerciseScore, StudentResult

PRINTED_LINES = 20  # of the student's prints, shown by `check`
PRINTED_CHARS = 4000
_CUT = ("The rest of this page was cut: it is longer than {size} KB. Your score above "
        "counts every test.")


def _points(value: float) -> str:
    return f"{value:g}"


def _case_heading(case) -> tuple[str, str, str]:
    """(mark, what the case checks, "hidden test, 0/2"), the same on every page."""
    kind = "hidden test" if case.hidden else "public test"
    earned = case.points if case.passed else 0
    return ("✅" if case.passed else "❌", text.one_line(case.description or case.name),
            f"{kind}, {_points(earned)}/{_points(case.points)}")


def _notes(result: StudentResult) -> tuple[list[str], int]:
    """The notes shown on a page, and how many more there were."""
    return list(result.notes[:text.MAX_NOTES]), max(0, len(result.notes) - text.MAX_NOTES)


# --- Markdown ---------------------------------------------------------------------------


def _md_labelled(label: str, value: str, indent: str = "") -> list[str]:
    """Our label, then the student-derived value: inline when it is plain prose, else as a
    code block under the label."""
    plain = text.prose(value)
    if plain is not None:
        return ["", f"{indent}{label} {plain}"]
    return ["", f"{indent}{label}", "", *text.fence(value, indent)]


def _case_block(case) -> str:
    mark, what, score = _case_heading(case)
    lines = [f"- {mark} {what} ({score})"]
    if not case.passed:
        lines += ["", *text.fence(case.message, "  ")]
        if case.diagnosis:
            lines += _md_labelled("Likely cause:", case.diagnosis, "  ")
    return "\n".join(lines) + "\n"


def _exercise_blocks(ex: ExerciseScore) -> list[str]:
    score = f"{_points(ex.score)} / {_points(ex.max_score)}"
    return [f"\n## {ex.exercise.title} ({ex.exercise.id}): {score}\n\n",
            *map(_case_block, ex.cases)]


def render_feedback(result: StudentResult, assignment: str, note: str = "") -> str:
    head = [
        f"# {text.md_name(assignment)}: feedback for {text.md_name(result.student)}",
        "",
        f"**Score: {_points(result.score)} / {_points(result.max_score)}**. {result.message}",
        "",
        "| exercise | points |",
        "| --- | --- |",
        *(f"| {ex.exercise.title} | {_points(ex.score)} / {_points(ex.max_score)} |"
          for ex in result.exercises),
    ]
    blocks = []
    if note:
        blocks.append(_md_labelled("Note: you handed in", note))
    if result.load_message:
        blocks.append(["", "What the grader saw when it loaded your file:", "",
                       *text.fence(result.load_message)])
    notes, more = _notes(result)
    if notes:
        blocks.append(["", "Notes on your notebook (the other cells still ran):"])
        blocks += [["", *text.fence(each)] for each in notes]
        if more:
            blocks.append(["", f"(and {more} more notes)"])
    parts = ["\n".join(lines) + "\n" for lines in blocks]
    for ex in result.exercises:
        parts += _exercise_blocks(ex)
    marker = "\n---\n\n**[... cut]** " + _CUT.format(size=text.PAGE_BYTES // 1024) + "\n"
    return text.fit("\n".join(head) + "\n", parts, marker)


# --- HTML -------------------------------------------------------------------------------


def _html_case(case) -> str:
    mark, what, score = _case_heading(case)
    lines = [f"<div class='case'>{mark} {escape(what)} <small>({score})</small>"]
    if not case.passed:
        lines.append(f"<div class='why'>{text.pre(case.message)}</div>")
        if case.diagnosis:
            plain = text.prose(case.diagnosis)
            cause = (escape(case.diagnosis) if plain is not None
                     else text.pre(case.diagnosis))
            lines.append(f"<div class='cause'>Likely cause: {cause}</div>")
    return "".join(lines) + "</div>"


def _html_exercise(ex: ExerciseScore) -> list[str]:
    share = 100 * ex.score / ex.max_score if ex.max_score else 0
    return [f"<h2>{escape(ex.exercise.title)} <small>{_points(ex.score)} / "
            f"{_points(ex.max_score)}</small></h2><div class='bar'><div style='width:"
            f"{share:.0f}%'></div></div>", *map(_html_case, ex.cases)]


def render_feedback_html(result: StudentResult, assignment: str, note: str = "") -> str:
    """The same feedback as a self-contained web page (no file or network it depends on)."""
    title = f"{text.html_text(assignment)}: feedback for {text.html_text(result.student)}"
    head = (
        f"<!doctype html><meta charset='utf-8'><title>{title}</title><style>body{{"
        "font-family:sans-serif;max-width:50em;margin:auto}.bar{background:#eee;height:10px;"
        "border-radius:5px}.bar div{background:#2a9d4a;height:10px;border-radius:5px}"
        ".why,.cause{margin-left:1.5em}.why{color:#444}.cause{color:#a15c00}"
        ".case{margin:.4em 0}pre{white-space:pre-wrap;overflow-wrap:anywhere;"
        "background:#f6f6f6;padding:.4em;margin:.3em 0}.cut{color:#a00}</style>"
        f"<h1>{title}</h1>"
        f"<p><b>Score: {_points(result.score)} / {_points(result.max_score)}</b>. "
        f"{escape(result.message)}</p>")
    blocks = []
    if note:
        plain = text.prose(note)
        blocks.append("<p>Note: you handed in "
                      + (f"{escape(note)}.</p>" if plain is not None else
                         f"</p>{text.pre(note)}"))
    if result.load_message:
        blocks.append("<p>What the grader saw when it loaded your file:</p>"
                      + text.pre(result.load_message))
    notes, more = _notes(result)
    if notes:
        blocks.append("<p>Notes on your notebook (the other cells still ran):</p>")
        blocks += map(text.pre, notes)
        if more:
            blocks.append(f"<p>(and {more} more notes)</p>")
    for ex in result.exercises:
        blocks += _html_exercise(ex)
    marker = (f"<hr><p class='cut'><b>[... cut]</b> "
              f"{_CUT.format(size=text.PAGE_BYTES // 1024)}</p>")
    return text.fit(head, blocks, marker) + "\n"


def write_feedback(out: Path, result: StudentResult, assignment: str, note: str = "") -> Path:
    """feedback/<student>.md and the same as a self-contained feedback/<student>.html."""
    path = out / "feedback" / f"{result.student}.md"
    write_atomic(path.with_suffix(".html"), render_feedback_html(result, assignment, note))
    write_atomic(path, render_feedback(result, assignment, note))
    return path


# --- the terminal (`check`) -------------------------------------------------------------


def _first_line_out(lines: list[str], prefix: str) -> list[str]:
    """An indented block with its first line moved out to our prefix; the lines after it
    stay indented, so none of them can pass for a line of ours."""
    return [prefix + lines[0][4:], *lines[1:]]


def _printed(output: str) -> list[str]:
    """What the student's code printed, its first PRINTED_LINES lines, indented."""
    lines = output.rstrip("\n").split("\n")
    kept = text.block("\n".join(lines[:PRINTED_LINES]), "    ", limit=PRINTED_CHARS)
    more = len(lines) - PRINTED_LINES
    return ["What your code printed:", *kept,
            *([f"    [... and {more} more lines]"] if more > 0 else []), ""]


def render_check(result: StudentResult, path: Path, output: str = "") -> str:
    """The text `check` prints: what the student's code printed, then per exercise how many
    public tests pass, why not, and the likely cause. The student's messages and prints
    are escaped, capped and indented under our lines."""
    lines = [f"Public tests for {text.one_line(str(path), 2 * text.NAME_CHARS)}", ""]
    if output.strip():
        lines += _printed(output)
    if result.load_message:
        lines += ["What the grader saw when it loaded your file:",
                  *text.block(result.load_message, "    "), ""]
    notes, more = _notes(result)
    for note in notes:
        lines += _first_line_out(text.block(note, "    "), "note: ")
    if more:
        lines.append(f"note: (and {more} more notes)")
    width = max(len(ex.exercise.title) for ex in result.exercises)
    for ex in result.exercises:
        passed = sum(case.passed for case in ex.cases)
        mark = "✔" if passed == len(ex.cases) else "✘"
        lines.append(f"{mark} {ex.exercise.title:<{width}}  {passed} of {len(ex.cases)} pass")
        for case in ex.cases:
            if not case.passed:
                lines += [f"    ✘ {text.one_line(case.description or case.name)}",
                          *text.block(case.message, "      ")]
                if case.diagnosis:
                    cause = text.block(case.diagnosis, "        ")
                    lines += ["      Likely cause: " + cause[0][8:], *cause[1:]]
    done = sum(all(c.passed for c in ex.cases) for ex in result.exercises)
    lines += ["", f"{done} of {len(result.exercises)} exercises pass their public tests. "
              "When you hand in, hidden tests check more cases (other sizes, several "
              "columns, one sample, inputs left unchanged)."]
    return "\n".join(lines)
