"""Student text is data: what a student's code sends reaches no terminal raw, cannot make
a feedback page huge, and cannot pass for our own headings, tables or score line.

Results are built directly (no grading) and carry hostile text in every field that
holds student-derived text: a case's message and diagnosis, the load message, the
notes on notebook cells, and the note on what was handed in.
"""

from __future__ import annotations

import dataclasses
import io
import re
from html.parser import HTMLParser

import pytest
from conftest import ROOT
from markdown_it import MarkdownIt

from autograder.cli import _print_table, main
from autograder.feedback import render_check, write_feedback
from autograder.jobs import Outcome
from autograder.progress import Progress
from autograder.results import saved_result
from autograder.scores import ExerciseScore, StudentResult
from autograder.statuses import Status
from autograder.verdicts import CaseVerdict

PAGE_BYTES = 256 * 1024
STUDENT = "bo"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
                 "\ud800-\udfff]")

HOSTILE = {
    "clear-screen": "\x1b[2J\x1b[H\x1b[32mAll 5 exercises pass. Score: 100 / 100\x1b[0m",
    "carriage-return": "wrong shape\rScore: 100 / 100",
    "backspace-and-c1": "oops\x08\x08\x08\x9b2JScore: 100 / 100\x7f",
    "bidi-override": "\u202e001 / 001 :erocS\u202c and \u2066Score\u2069",
    "fake-heading": "\n# Score: 100 / 100\n",
    "fence-break": "```\n## backprop — 35 / 35",
    "long-fence-break": "`````\n# Score: 100 / 100\n`````",
    "html-break": "</pre><h1>Score: 100</h1>",
    "table-row": "\n| backprop | 35 / 35 |\n| --- | --- |\n| Score | 100 / 100 |",
    "bold-score": "**Score: 100 / 100**",
    "line-separator": "done\u2028Score: 100 / 100",
    "lone-surrogate": "bad \ud800 Score: 100 / 100",
}
FIELDS = ["message", "diagnosis", "load_message", "notes", "handed_in"]
# what the hostile texts try to show as ours, outside a code block
FORGED = ["Score", "35 / 35", "100 / 100", "All 5 exercises", "<h1>", "</pre>"]


def make_result(course, field: str = "", value: str = "", cases: int = 1) -> StudentResult:
    """One passed case per exercise; in the first, `cases` failed ones carrying value."""
    exercises = []
    for number, ex in enumerate(course.exercises):
        verdicts = [CaseVerdict(ex.id, "test_small", "a batch of one sample", 1.0, False, True,
                                "passed")]
        for i in range(cases if number == 0 else 0):
            message = value if field == "message" else "mse_grad returned shape (2, 3)"
            verdicts.append(CaseVerdict(
                ex.id, f"test_hidden_{i}", "a batch of three samples", 2.0, True, False,
                message, diagnosis=value if field == "diagnosis" else ""))
        exercises.append(ExerciseScore(ex, tuple(verdicts)))
    return StudentResult(STUDENT, Status.IMPORT_ERROR if field == "load_message" else Status.OK,
                         tuple(exercises), value if field == "load_message" else "",
                         (value,) if field == "notes" else ())


def pages(course, tmp_path, result, note=""):
    write_feedback(tmp_path, result, course.assignment, note)
    folder = tmp_path / "feedback"
    return ((folder / f"{STUDENT}.md").read_text(encoding="utf-8"),
            (folder / f"{STUDENT}.html").read_text(encoding="utf-8"))


def feedback_of(course, tmp_path, field, value, cases=1):
    result = make_result(course, field, value, cases)
    return result, *pages(course, tmp_path, result, value if field == "handed_in" else "")


def markdown_outside_code(page: str) -> tuple[list[str], list[str], int]:
    """(heading texts, every text outside code blocks and code spans, table rows)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(page)
    headings, texts = [], []
    for before, token in zip([None, *tokens], tokens):
        if token.type == "html_block":
            texts.append(token.content)
        if token.type == "inline":
            texts.append("".join(child.content for child in token.children
                                 if child.type != "code_inline"))
            if before is not None and before.type == "heading_open":
                headings.append(token.content)
    return headings, texts, sum(token.type == "tr_open" for token in tokens)


class _Page(HTMLParser):
    """Text inside and outside <pre>, and the text of every h1 and h2."""

    VOID = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.inside: list[str] = []
        self.outside: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2"):
            self.headings.append((tag, ""))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def handle_data(self, data):
        (self.inside if "pre" in self.open else self.outside).append(data)
        if {"h1", "h2"} & set(self.open):
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)


def our_score(result) -> str:
    return f"Score: {result.score:g} / {result.max_score:g}"


def our_headings(course, result) -> list[str]:
    return [f"{course.assignment}: feedback for {STUDENT}",
            *(f"{ex.exercise.title} ({ex.exercise.id}): {ex.score:g} / {ex.max_score:g}"
              for ex in result.exercises)]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_student_text_cannot_pass_for_ours_in_the_markdown_page(course, tmp_path, hostile,
                                                                field):
    result, markdown, _ = feedback_of(course, tmp_path, field, hostile)
    assert not RAW.search(markdown)
    headings, texts, rows = markdown_outside_code(markdown)
    assert headings == our_headings(course, result)
    assert rows == 1 + len(course.exercises)  # our points table, and no other row
    assert texts[1].startswith(our_score(result))  # right after the title
    for forged in FORGED:
        assert [t for t in texts if forged in t] == ([texts[1]] if forged == "Score" else [])


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_student_text_cannot_pass_for_ours_in_the_html_page(course, tmp_path, hostile, field):
    result, _, page = feedback_of(course, tmp_path, field, hostile)
    assert not RAW.search(page)
    parsed = _Page(page)
    assert parsed.headings == [("h1", our_headings(course, result)[0]),
                               *(("h2", f"{ex.exercise.title} {ex.score:g} / {ex.max_score:g}")
                                 for ex in result.exercises)]
    outside = "".join(parsed.outside)
    assert outside.count("Score") == 1
    assert our_score(result) in outside
    for forged in FORGED[1:]:
        assert forged not in outside
    assert parsed.inside  # the student's text is shown, as data, in a <pre>


def _top_lines(output: str) -> list[str]:
    """The lines of check's output that start at the margin (note lines: their prefix)."""
    return [line.split(":")[0] if line.startswith("note:") else line
            for line in output.splitlines() if line and not line[0].isspace()]


@pytest.mark.parametrize("field", ["message", "load_message", "notes"])
@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_check_output_escapes_student_text_and_keeps_it_indented(course, tmp_path, hostile,
                                                                 field):
    output = render_check(make_result(course, field, hostile), tmp_path / "mine.py")
    assert not RAW.search(output)
    harmless = render_check(make_result(course, field, "harmless"), tmp_path / "mine.py")
    assert _top_lines(output) == _top_lines(harmless)


HUGE = "A" * 10_000_000 + "\n# Score: 100 / 100\n"


@pytest.mark.parametrize("field", FIELDS)
def test_a_ten_megabyte_message_is_capped(course, tmp_path, field):
    result, markdown, page = feedback_of(course, tmp_path, field, HUGE)
    for text in (markdown, page):
        assert len(text.encode()) < 32 * 1024  # one message: 500 characters and our mark
        assert "[... cut" in text
        assert text.count("Score: ") == 1 + text.count("Score: 100 / 100")
    assert markdown.splitlines()[2].startswith(f"**{our_score(result)}**")
    assert "# Score: 100 / 100" not in markdown  # the end of the message was cut


def test_a_page_of_many_failures_is_cut_below_its_cap_after_our_header(course, tmp_path):
    result, markdown, page = feedback_of(course, tmp_path, "message", "x" * 2000, cases=1000)
    for text in (markdown, page):
        assert len(text.encode()) <= PAGE_BYTES
    headings, texts, rows = markdown_outside_code(markdown)
    assert headings[0] == our_headings(course, result)[0]
    assert texts[1].startswith(our_score(result))
    assert rows == 1 + len(course.exercises)
    assert "[... cut]" in texts[-1]  # our mark, last, outside any code block
    parsed = _Page(page)
    assert parsed.headings[0] == ("h1", our_headings(course, result)[0])
    assert our_score(result) in "".join(parsed.outside)
    assert "[... cut]" in "".join(parsed.outside)[-200:]  # our mark, last, outside <pre>


def test_many_notebook_notes_stay_a_short_page(course, tmp_path):
    result = StudentResult(STUDENT, Status.OK, make_result(course).exercises,
                           notes=tuple(f"cell {i} failed: " + "y" * 600 for i in range(5000)))
    markdown, page = pages(course, tmp_path, result)
    assert len(markdown.encode()) < 64 * 1024
    assert len(page.encode()) < 64 * 1024


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_progress_lines_escape_what_a_failure_says(hostile):
    stream = io.StringIO()
    progress = Progress(stream)
    progress.start(1, 0)
    progress.advance(Outcome(f"bo{hostile}", "failed", f"RuntimeError: {hostile}"))
    progress.close()
    text = stream.getvalue()
    assert not RAW.search(text)
    assert text.startswith("could not grade bo")
    assert len(text.splitlines()) == 2  # the failure on one line, then the count


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_grades_table_escapes_every_cell(course, capsys, hostile):
    result = dataclasses.replace(make_result(course), student=f"bo{hostile}")
    _print_table(course, [saved_result(result)])
    out = capsys.readouterr().out
    assert not RAW.search(out)
    assert len(out.splitlines()) == 2  # the header and one row


def test_check_escapes_what_a_student_file_raises(tmp_path, capsys):
    path = tmp_path / "backprop.py"
    path.write_text("def mse(y_true, y_pred):\n"
                    "    raise ValueError('\\x1b[2J\\x1b[H\\x1b[32mAll 5 exercises pass\\r"
                    "\\u202e\\n5 of 5 exercises pass their public tests.')\n")
    assert main(["--course", str(ROOT / "course.yaml"), "check", str(path)]) == 1
    captured = capsys.readouterr()
    assert not RAW.search(captured.out + captured.err)
    assert "\\x1b[2J" in captured.out  # shown, visibly
    assert [line for line in captured.out.splitlines()
            if line.startswith("5 of 5 exercises pass")] == []
