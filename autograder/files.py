"""Writing the files people open: whole or not at all, and CSV a spreadsheet reads safely.

Every file the grader writes for a person goes through ``write_atomic`` (a temporary
file, then ``os.replace``), so a run killed at any moment never leaves half a file;
``remove_temporary_files`` clears the temporaries such a run left behind.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

PARTIAL = ".partial"  # the suffix of write_atomic's temporary files, and only of them
FOLDERS = ("results", "feedback", "output", "report", ".")  # what `grade` writes into OUT
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_atomic(path: Path, text: str) -> None:
    """Write the whole file or nothing: a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=PARTIAL)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def remove_temporary_files(out: Path) -> None:
    """Half-written files left in OUT by a run that was killed (write_atomic's temporaries)."""
    for folder in FOLDERS:
        for path in (out / folder).glob(f".*{PARTIAL}"):
            if path.is_file():
                path.unlink()


def csv_text(rows: list[list]) -> str:
    """Rows as CSV text, quoted where needed (the csv module, for spreadsheets); a cell
    that a spreadsheet would run as a formula (=, +, -, @) starts with ' instead."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        [[_inert(cell) for cell in row] for row in rows])
    return buffer.getvalue()


def _inert(cell: object) -> object:
    return f"'{cell}" if isinstance(cell, str) and cell[:1] in FORMULA_STARTS else cell
