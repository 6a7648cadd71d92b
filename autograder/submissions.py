"""Find the submissions in what an instructor actually has.

Accepted, for each PATH given to ``grade`` (a submission is a ``.py`` file or a
Jupyter notebook, ``.ipynb``):
- a student's file (the student id is the file name without its suffix);
- a folder of such files;
- nbgrader's ``submitted/<student>/<assignment>/<student_file>`` layout;
- a Canvas "Download submissions" zip, or the folder it extracts to, with
  names like ``smithjane_LATE_12345_67890_backprop.py`` (student ``smithjane``,
  marked late).
When a student has several files, the newest one wins and the choice is noted.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from autograder.course import Course, CourseError

CANVAS = re.compile(
    r"(?P<student>[A-Za-z0-9]+)(?P<late>_LATE)?_(?P<user>\d+)_(?P<sub>\d+)_.+\.(py|ipynb)")
SUFFIXES = (".py", ".ipynb")
LAYOUTS = ("student .py or .ipynb files, a folder of them, nbgrader's submitted/<student>/"
           "<assignment>/{file}, or a Canvas submissions zip (or the folder it extracts to)")


@dataclass(frozen=True)
class Submission:
    student: str
    path: Path
    late: bool = False
    note: str = ""


def _safe_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "student"


def _canvas(files: list[Path]) -> list[Submission]:
    found = []
    for path in files:
        match = CANVAS.fullmatch(path.name)
        found.append(Submission(_safe_id(match["student"]), path, bool(match["late"])))
    return found


def _nbgrader(folder: Path, course: Course) -> list[Submission]:
    stem = Path(course.student_file).stem
    found = [p for suffix in SUFFIXES
             for p in folder.glob(f"*/{course.assignment}/{stem}{suffix}")]
    return [Submission(_safe_id(p.parent.parent.name), p) for p in sorted(found)]


def _extract_canvas_zip(archive: Path, scratch: Path) -> Path:
    """Extract the .py members of a Canvas zip (flattened, dates kept) into scratch."""
    target = scratch / _safe_id(archive.stem)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                name = Path(info.filename).name
                if info.is_dir() or not name.endswith(SUFFIXES) or name.startswith("."):
                    continue
                path = target / name
                path.write_bytes(bundle.read(info))
                stamp = time.mktime(datetime(*info.date_time).timetuple())
                os.utime(path, (stamp, stamp))
    except zipfile.BadZipFile:
        raise CourseError(f"{archive}: not a readable zip file") from None
    return target


def _in_folder(folder: Path, course: Course) -> list[Submission]:
    nbgrader = _nbgrader(folder, course)
    if nbgrader:
        return nbgrader
    files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if files and all(CANVAS.fullmatch(p.name) for p in files):
        return _canvas(files)
    return [Submission(_safe_id(p.stem), p) for p in files]


def _from_path(path: Path, course: Course, scratch: Path) -> list[Submission]:
    if path.is_dir():
        found = _in_folder(path, course)
    elif path.is_file() and path.suffix == ".zip":
        found = _in_folder(_extract_canvas_zip(path, scratch), course)
    elif path.is_file() and path.suffix in SUFFIXES:
        found = [Submission(_safe_id(path.stem), path)]
    elif path.exists():
        raise CourseError(f"{path}: cannot grade this file; expected "
                          + LAYOUTS.format(file=course.student_file))
    else:
        raise CourseError(f"{path}: no such file or folder")
    if not found:
        raise CourseError(f"{path}: no submissions found; expected "
                          + LAYOUTS.format(file=course.student_file))
    return found


def _newest(candidates: list[Submission]) -> Submission:
    """The newest file wins; the note names what was passed over."""
    ordered = sorted(candidates, key=lambda s: (s.path.stat().st_mtime, s.path.name))
    chosen = ordered[-1]
    if len(ordered) == 1:
        return chosen
    others = ", ".join(s.path.name for s in ordered[:-1])
    note = f"{len(ordered)} files; graded the newest, {chosen.path.name} (not {others})"
    return Submission(chosen.student, chosen.path, chosen.late, note)


def collect(paths: list[Path], course: Course, scratch: Path) -> list[Submission]:
    """Every student's submission, one each, sorted by student id."""
    by_student: dict[str, list[Submission]] = {}
    for path in paths:
        for submission in _from_path(path, course, scratch):
            by_student.setdefault(submission.student, []).append(submission)
    return [_newest(by_student[student]) for student in sorted(by_student)]


def nbgrader_gradebook(paths: list[Path]) -> Path | None:
    """COURSE/gradebook.db when grading an nbgrader course's submitted/ folder, else None."""
    for path in paths:
        course_dir = path.resolve().parent
        if path.is_dir() and (course_dir / "nbgrader_config.py").is_file():
            return course_dir / "gradebook.db"
    return None
