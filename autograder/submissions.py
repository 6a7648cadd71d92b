"""Find the submissions in what an instructor actually has.

Accepted, for each PATH given to ``grade`` (a submission is a ``.py`` file or a
Jupyter notebook, ``.ipynb``):
- a student's file (the student id is the file name without its suffix);
- a folder of such files;
- nbgrader's ``submitted/<student>/<assignment>/<student_file>`` layout (the
  notebook, else the .py, else the newest .py or notebook in that folder);
- a Canvas "Download submissions" zip, or the folder it extracts to, with
  names like ``smithjane_LATE_12345_67890_backprop.py`` (student ``smithjane``,
  Canvas user 12345, marked late). When two Canvas users share a name, each id
  gets the user id (``smithjane_12345``).

Instructor inputs never merge two people:
- ids keep the name as given (Unicode, spaces, punctuation); only path
  separators, control characters and a leading dot become ``_``, and an id longer
  than 100 bytes is cut to 80 bytes plus ``-`` and 8 hex digits of its sha256, so
  every output file name fits;
- when one person has several files (the same Canvas user, or the same id from
  the same layout) the newest wins and the choice is noted; two different people
  left with the same id stop the run with an error naming both files;
- a symbolic link (passed, in a folder, or in the nbgrader layout) is refused,
  never followed;
- a zip is unpacked into a folder of its own (so several zips of the same name all
  count), only its ``.py``/``.ipynb`` members, flattened; it is refused before
  unpacking when those add up to more than 200 MB or a member over 1 MB is
  compressed more than 100:1, and while unpacking if the bytes read say so.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zipfile import BadZipFile, ZipFile, ZipInfo

from autograder.course import Course
from autograder.errors import InputError

CANVAS = re.compile(
    r"(?P<student>[^\W_]+)(?P<late>_LATE)?_(?P<user>[0-9]+)_(?P<sub>[0-9]+)_.+\.(py|ipynb)",
    re.DOTALL)
SUFFIXES = (".py", ".ipynb")
LAYOUTS = ("student .py or .ipynb files, a folder of them, nbgrader's submitted/<student>/"
           "<assignment>/{file}, or a Canvas submissions zip (or the folder it extracts to)")
MB = 1 << 20
MAX_ID_BYTES = 100  # ids are file names: results/<id>.json, feedback/<id>.html, ...
ID_HEAD_BYTES = 80  # a longer id keeps this much, then "-" and 8 hex digits of its hash
MAX_FILE_NAME_BYTES = 200  # an unpacked member's file name, with room to spare below 255
CHUNK = MB
_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_NOT_IN_IDS = ("Cc", "Cs", "Zl", "Zp")  # control characters, lone surrogates, line breaks


@dataclass(frozen=True)
class ArchiveLimits:
    """What a zip may unpack to: its submissions in all, and how compressed one may be."""

    total_bytes: int = 200 * MB
    ratio: int = 100  # at most this many bytes out for one byte in ...
    ratio_from: int = MB  # ... for a member bigger than this


ARCHIVE_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    late: bool = False
    note: str = ""


@dataclass(frozen=True)
class _Entry:
    """A submission file as some layout shows it: its name, where it is, how to name it."""

    name: str  # the file name the student's name is read from
    path: Path  # where the file is now (for a zip member: where it was unpacked)
    origin: str  # what the instructor knows it as: a path, or "archive: member"
    place: str  # the folder or archive it came from


@dataclass(frozen=True)
class _Found:
    """A submission file before ids are settled: the name it gives and whose it is."""

    name: str  # the student's name as the layout gives it, unchanged
    person: tuple[str, str]  # (layout, name or Canvas user id): equal only for one person
    entry: _Entry
    late: bool = False
    user: str = ""  # Canvas user id, "" for other layouts
    note: str = ""  # what the student should know about the file graded


def _shown(text: object) -> str:
    """text for one line of a message: control characters as visible escapes."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(text))


def _cut(text: str, size: int) -> str:
    """The longest start of text that is at most size bytes of UTF-8."""
    return text.encode()[:size].decode(errors="ignore")


def _hash8(text: str) -> str:
    return hashlib.sha256(text.encode(errors="surrogatepass")).hexdigest()[:8]


def _clean(name: str) -> str:
    """name with path separators and control characters as "_", and no leading dot."""
    text = "".join("_" if c in "/\\" or ord(c) in _BIDI or unicodedata.category(c) in _NOT_IN_IDS
                   else c for c in name)
    return "_" + text[1:] if text.startswith(".") else text


def _safe_id(name: str) -> str:
    """The student id for a name: cleaned, and shortened (deterministically) if long."""
    student = _clean(name) or "student"
    if len(student.encode()) <= MAX_ID_BYTES:
        return student
    return f"{_cut(student, ID_HEAD_BYTES)}-{_hash8(student)}"


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise InputError(f"{_shown(path)}: is a symbolic link, which the grader never "
                          "follows; replace it with the file or folder itself if it really "
                          "is a submission")


def _refuse_special(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{_shown(path)}: is not a regular file (a folder, FIFO or device "
                          "named like a submission); move it out of the submissions")


def _plain(entry: _Entry) -> _Found:
    """A file named after its student: one person per name in one folder (alice.py and
    alice.ipynb side by side); alice.py in two folders may be two people."""
    stem = entry.name[:len(entry.name) - len(Path(entry.name).suffix)]
    return _Found(stem, ("file", f"{entry.place}/{stem}"), entry)


def _canvas(entry: _Entry, match: re.Match[str]) -> _Found:
    """A file with a Canvas name (match: CANVAS's match of it)."""
    return _Found(match["student"], ("canvas", match["user"]), entry, bool(match["late"]),
                  match["user"])


def _flat(entries: list[_Entry]) -> list[_Found]:
    """Files side by side, each read by its own name: a Canvas name, else the file name
    (one stray file never turns Canvas names off for everyone)."""
    return [_canvas(entry, match) if (match := CANVAS.fullmatch(entry.name)) else _plain(entry)
            for entry in entries]


def _nbgrader(folder: Path, course: Course, scratch: Path) -> list[_Found]:
    """Each submitted/<student>/<assignment>/ folder's file, among its regular files (not
    links, folders or FIFOs, which a student could put there): the notebook named like
    the student file (what nbgrader autogrades), else the .py, else every .py or notebook
    there (the newest is graded, with a note): a renamed file still gets its row, and so
    does a submission that is not a file (_not_a_file)."""
    found = []
    for assignment in sorted(folder.glob(f"*/{course.assignment}")):
        student = assignment.parent.name
        _refuse_link(assignment.parent)
        _refuse_link(assignment)
        if not assignment.is_dir():
            continue
        entries = sorted(p for p in assignment.iterdir()
                         if p.suffix in SUFFIXES and not p.name.startswith("."))
        files = [p for p in entries if p.is_file() and not p.is_symlink()]
        named = [p for p in files if p.stem == course.module]
        found += [_Found(student, ("nbgrader", student),
                         _Entry(path.name, path, str(path), str(assignment)))
                  for path in [p for p in named if p.suffix == ".ipynb"] or named or files]
        if entries and not files:
            found.append(_not_a_file(student, entries, course, scratch))
    return found


def _not_a_file(student: str, entries: list[Path], course: Course, scratch: Path) -> _Found:
    """A student whose submission is there but is no file (a folder, FIFO or link named
    like one): an empty file is graded in its place (no function: 0), with a note that
    says what to submit."""
    place = entries[0].parent
    path = scratch / "not-files" / _hash8(str(place.absolute())) / course.student_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    names = ", ".join(entry.name for entry in entries)
    return _Found(student, ("nbgrader", student), _Entry(path.name, path, str(place), str(place)),
                  note=f"{names} is not a file (a folder, FIFO or link), so nothing was "
                       "graded: submit the file itself")


def _in_folder(folder: Path, course: Course, scratch: Path) -> list[_Found]:
    nbgrader = _nbgrader(folder, course, scratch)
    if nbgrader:
        return nbgrader
    candidates = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES)
    for path in candidates:
        _refuse_link(path)
        _refuse_special(path)
    return _flat([_Entry(p.name, p, str(p), str(folder)) for p in candidates])


def _archive_folder(archive: Path) -> str:
    """A folder name of its own for each archive, the same on every run."""
    return f"{_cut(_safe_id(archive.stem), 60)}-{_hash8(str(archive.absolute()))}"


def _member_name(info: ZipInfo) -> str:
    """The member's file name, without the folders it was in (either kind of slash)."""
    return re.split(r"[/\\]", info.filename)[-1]


def _members(bundle: ZipFile) -> list[ZipInfo]:
    """The members that are submissions: .py and .ipynb files, not hidden ones."""
    return [info for info in bundle.infolist()
            if not info.is_dir() and _member_name(info).endswith(SUFFIXES)
            and not _member_name(info).startswith(".")]


def _too_big(archive: Path, limits: ArchiveLimits) -> InputError:
    return InputError(
        f"{_shown(archive)}: its .py and .ipynb files unpack to more than "
        f"{limits.total_bytes // MB} MB (a zip bomb?); unzip it yourself, keep only the "
        "submissions, and grade that folder")


def _too_compressed(archive: Path, info: ZipInfo, size: int,
                    limits: ArchiveLimits) -> InputError:
    ratio = size / max(info.compress_size, 1)
    return InputError(
        f"{_shown(archive)}: {_shown(info.filename)} is compressed {ratio:,.0f}:1, more than "
        f"{limits.ratio}:1 (a zip bomb?); remove it from the archive, or unzip it yourself "
        "and grade that folder")


def _check_sizes(archive: Path, members: list[ZipInfo], limits: ArchiveLimits) -> None:
    """Refuse a zip bomb from its headers, before unpacking anything."""
    total = 0
    for info in members:
        if _compressed_too_much(info, info.file_size, limits):
            raise _too_compressed(archive, info, info.file_size, limits)
        total += info.file_size
        if total > limits.total_bytes:
            raise _too_big(archive, limits)


def _compressed_too_much(info: ZipInfo, size: int, limits: ArchiveLimits) -> bool:
    return size > limits.ratio_from and size > limits.ratio * max(info.compress_size, 1)


def _unpack_member(archive: Path, bundle: ZipFile, info: ZipInfo, path: Path, room: int,
                   limits: ArchiveLimits) -> int:
    """Stream one member to path, counting the bytes actually read; return how many."""
    written = 0
    with bundle.open(info) as source, path.open("xb") as sink:
        while chunk := source.read(CHUNK):
            written += len(chunk)
            if written > room:
                raise _too_big(archive, limits)
            if _compressed_too_much(info, written, limits):
                raise _too_compressed(archive, info, written, limits)
            sink.write(chunk)
    return written


def _disk_name(name: str) -> str:
    """A member's name as a file name: cleaned, and short enough for any file system."""
    name = _clean(name)
    if len(name.encode()) <= MAX_FILE_NAME_BYTES:
        return name
    suffix = Path(name).suffix
    return f"{_cut(name[:-len(suffix)], MAX_FILE_NAME_BYTES - 20)}-{_hash8(name)}{suffix}"


def _set_date(path: Path, info: ZipInfo) -> None:
    """The member's date as the file's, so that "newest wins" sees the real order."""
    try:
        stamp = time.mktime(datetime(*info.date_time).timetuple())
    except (ValueError, OverflowError):
        return
    os.utime(path, (stamp, stamp))


def _unpack(archive: Path, bundle: ZipFile, target: Path,
            limits: ArchiveLimits) -> list[_Entry]:
    """Each submission member into a numbered folder of its own (names may repeat)."""
    members = _members(bundle)
    _check_sizes(archive, members, limits)
    entries, total = [], 0
    for number, info in enumerate(members, 1):
        folder = target / str(number)
        folder.mkdir()
        path = folder / _disk_name(_member_name(info))
        total += _unpack_member(archive, bundle, info, path, limits.total_bytes - total, limits)
        _set_date(path, info)
        entries.append(_Entry(_member_name(info), path, f"{archive}: {info.filename}",
                              str(archive)))
    return entries


def _extract(archive: Path, scratch: Path, limits: ArchiveLimits) -> list[_Entry]:
    """Unpack a zip's submissions into a folder of scratch that only this archive uses;
    nothing is left there when it is refused."""
    target = scratch / _archive_folder(archive)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        with ZipFile(archive) as bundle:
            return _unpack(archive, bundle, target, limits)
    except (BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
            ValueError) as err:
        shutil.rmtree(target, ignore_errors=True)
        raise InputError(f"{_shown(archive)}: not a readable zip file ({_shown(err)}); "
                          "download it again, or unzip it yourself and grade the folder"
                          ) from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _from_path(path: Path, course: Course, scratch: Path,
               limits: ArchiveLimits) -> list[_Found]:
    _refuse_link(path)
    if path.is_dir():
        found = _in_folder(path, course, scratch)
    elif path.is_file() and path.suffix == ".zip":
        found = _flat(_extract(path, scratch, limits))
    elif path.is_file() and path.suffix in SUFFIXES:
        found = [_plain(_Entry(path.name, path, str(path), str(path.parent)))]
    elif path.exists():
        raise InputError(f"{_shown(path)}: cannot grade this file; expected "
                          + LAYOUTS.format(file=course.student_file))
    else:
        raise InputError(f"{_shown(path)}: no such file or folder")
    if not found:
        raise InputError(f"{_shown(path)}: no submissions found; expected "
                          + LAYOUTS.format(file=course.student_file))
    return found


def _ids(found: list[_Found]) -> list[str]:
    """Each file's student id: the name, plus the Canvas user id when two Canvas users
    share that name."""
    users: dict[str, set[str]] = {}
    for item in found:
        if item.user:
            users.setdefault(_safe_id(item.name), set()).add(item.user)
    return [_safe_id(f"{item.name}_{item.user}")
            if item.user and len(users[_safe_id(item.name)]) > 1 else _safe_id(item.name)
            for item in found]


def _one_person(student: str, items: list[_Found]) -> None:
    """Files that share an id must be one person's, or the run stops."""
    first = items[0]
    for other in items[1:]:
        if other.person != first.person:
            raise InputError(
                f"{_shown(first.entry.origin)} and {_shown(other.entry.origin)} both give the "
                f"student id {student!r} but may be two people; rename one of them so that "
                "each student has an id of their own")


def _newest(student: str, items: list[_Found]) -> Submission:
    """The newest file wins; the note names what was passed over."""
    ordered = sorted(items, key=lambda f: (f.entry.path.stat().st_mtime, f.entry.path.name))
    chosen = ordered[-1]
    if len(ordered) == 1:
        return Submission(student, chosen.entry.path, chosen.late, chosen.note)
    others = ", ".join(f.entry.path.name for f in ordered[:-1])
    note = (f"{len(ordered)} files; graded the newest, {chosen.entry.path.name} "
            f"(not {others})")
    return Submission(student, chosen.entry.path, chosen.late, note)


def collect(paths: list[Path], course: Course, scratch: Path,
            limits: ArchiveLimits = ARCHIVE_LIMITS) -> list[Submission]:
    """Every student's submission, one each, sorted by student id."""
    found = list(dict.fromkeys(item for path in paths
                               for item in _from_path(path, course, scratch, limits)))
    by_student: dict[str, list[_Found]] = {}
    for item, student in zip(found, _ids(found)):
        by_student.setdefault(student, []).append(item)
    for student, items in by_student.items():
        _one_person(student, items)
    return [_newest(student, by_student[student]) for student in sorted(by_student)]


def nbgrader_gradebook(paths: list[Path]) -> Path | None:
    """COURSE/gradebook.db when grading an nbgrader course's submitted/ folder, else None.

    A folder is a course's submitted/ when the folder above it has nbgrader_config.py
    (the course's settings) or gradebook.db (made by `nbgrader generate_assignment`, also
    where the settings live elsewhere, such as ~/.jupyter).
    """
    for path in paths:
        course_dir = path.resolve().parent
        if path.is_dir() and any((course_dir / name).is_file()
                                 for name in ("nbgrader_config.py", "gradebook.db")):
            return course_dir / "gradebook.db"
    return None
