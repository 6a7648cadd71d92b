"""Student text is data: making it safe wherever it leaves the grader.

Anything the student's process produced (error messages, notes on notebook
cells, the `where` of a fault, values quoted in messages, printed output) is
escaped, capped and fenced here, and only here:

- ``visible``: control characters (C0, DEL, C1, line/paragraph separators and
  the bidi overrides) become visible escapes such as ``\\x1b`` or ``\\u202e``;
- ``terminal``: the one function every line printed for a person goes through;
- ``fence`` / ``pre``: a student's text as a Markdown code block or an HTML
  ``<pre>``, capped, so that it can never look like our headings or score line;
- ``fit``: a whole page cut to a size, our header always kept, the cut marked.
"""

from __future__ import annotations

import re
from html import escape

MESSAGE_CHARS = 1000  # one message, note or diagnosis (the sandbox keeps 500 of the
# student's own text; ours around it, "raised ...", "(line 12 of your file)", must fit)
NAME_CHARS = 100  # a student id, file name or other one-word label
PAGE_BYTES = 256 * 1024  # a whole feedback page (.md or .html)
MAX_NOTES = 20  # notes on notebook cells shown on one page

_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_SURROGATES = range(0xD800, 0xE000)  # alone, they cannot even be written as UTF-8
_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, *_BIDI,
             *_SURROGATES]


def _escape_of(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ONE_LINE = {code: _escape_of(code) for code in _CONTROLS}
_MULTI_LINE = {code: text for code, text in _ONE_LINE.items() if chr(code) not in "\n\t"}
_MARKDOWN_ACTIVE = re.compile(r"[`\\<>&|#\[\]{}~]")
_LOOKS_OURS = re.compile(r"score|\d\s*/\s*\d", re.IGNORECASE)  # our score and points


def visible(text: str, multiline: bool = False) -> str:
    """text with every control character written as a visible escape; newlines and tabs
    are kept only in a multi-line block."""
    return str(text).translate(_MULTI_LINE if multiline else _ONE_LINE)


def _cap(text: str, limit: int | None) -> tuple[str, int]:
    """(the first limit characters, how many were cut)."""
    text = str(text)
    if limit is None or len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def _cut_note(cut: int) -> str:
    return f"[... cut: {cut:,} more characters]"


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    """A student's text inside one of our lines: escaped, capped, never a line break."""
    kept, cut = _cap(text, limit)
    return visible(kept) + (f" {_cut_note(cut)}" if cut else "")


def block(text: str, indent: str = "", limit: int = MESSAGE_CHARS) -> list[str]:
    """A student's multi-line text as indented plain-text lines (for a terminal)."""
    kept, cut = _cap(text, limit)
    lines = visible(kept.rstrip("\n"), multiline=True).split("\n")
    return [indent + line for line in lines] + ([indent + _cut_note(cut)] if cut else [])


def terminal(text: str, limit: int | None = None) -> str:
    """What may reach a terminal: our own newlines and tabs stay, every other control
    character (ESC, CR, backspace, bidi overrides, ...) is shown escaped."""
    kept, cut = _cap(text, limit)
    return visible(kept, multiline=True) + (f"\n{_cut_note(cut)}" if cut else "")


def fence(text: str, indent: str = "", limit: int = MESSAGE_CHARS) -> list[str]:
    """A student's text as a fenced Markdown code block (its fence longer than any run of
    backticks inside), capped; the cut is marked by us, outside the block."""
    kept, cut = _cap(text, limit)
    body = visible(kept.rstrip("\n"), multiline=True)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    mark = indent + "`" * max(3, longest + 1)
    lines = [mark, *((indent + line).rstrip() for line in body.split("\n")), mark]
    return lines + (["", indent + _cut_note(cut)] if cut else [])


def prose(text: str, limit: int = MESSAGE_CHARS) -> str | None:
    """text as it can stand inside one of our Markdown lines, or None when it must be
    fenced instead: one short line with nothing Markdown or HTML would act on, and
    nothing that could pass for our score or points."""
    text = str(text)
    if (len(text) > limit or visible(text) != text or _MARKDOWN_ACTIVE.search(text)
            or _LOOKS_OURS.search(text)):
        return None
    return text.replace("*", "\\*")


def md_name(text: str, limit: int = NAME_CHARS) -> str:
    """A label (student id, file name) inside our Markdown: one line, escaped, capped."""
    return re.sub(r"([`\\*\[\]<>&|#{}~!])", r"\\\1", one_line(text, limit))


def pre(text: str, limit: int = MESSAGE_CHARS) -> str:
    """A student's text as an escaped HTML <pre>, capped; the cut is marked by us."""
    kept, cut = _cap(text, limit)
    body = escape(visible(kept.rstrip("\n"), multiline=True))
    return f"<pre>{body}</pre>" + (f"<p class='cut'>{_cut_note(cut)}</p>" if cut else "")


def html_text(text: str, limit: int = MESSAGE_CHARS) -> str:
    """A short text inside our HTML: one line, escaped, capped."""
    return escape(one_line(text, limit))


def _size(text: str) -> int:
    return len(text.encode("utf-8", errors="replace"))


def fit(head: str, blocks: list[str], marker: str, limit: int = PAGE_BYTES) -> str:
    """head, then as many whole blocks as fit in limit bytes; when some do not fit, our
    marker takes their place. The head (our title and score) is always kept whole."""
    total = _size(head)
    if total + sum(map(_size, blocks)) <= limit:
        return head + "".join(blocks)
    room = limit - total - _size(marker)
    kept = []
    for part in blocks:
        room -= _size(part)
        if room < 0:
            break
        kept.append(part)
    return head + "".join(kept) + marker
