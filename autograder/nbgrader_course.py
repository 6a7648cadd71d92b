"""An nbgrader course after our grade, as ``nbgrader autograde`` would leave it.

Our grader replaces nbgrader's autograde, which runs student code unconfined. For
each student whose grades changed, nbgrader's own API and preprocessors put our
results where nbgrader's tools look:

1. the notebook: the submitted notebook, sanitised as autograde does it
   (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells,
   CheckCellMetadata); then each exercise's grade cell gets our per-case results as
   printed text and the exercise's score as its value, which nbgrader reads as
   partial credit;
2. autograded/<student>/<assignment>/: the submitted files and that notebook,
   read-only, as autograde leaves them;
3. the gradebook: the student, the submission with the time in its timestamp.txt
   (``update_or_create_submission`` makes every grade and comment row), then the
   scores by SaveAutoGrades and AssignLatePenalties run on the notebook.

Formgrader, ``nbgrader export``, ``generate_feedback`` and ``release_feedback`` then
work as after autograde. A student whose scores and timestamp are already in the
gradebook is left alone, so manual grades and comments made in formgrader stay.
Outside a course the same grades go to OUT/gradebook.db (step 3 only).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from autograder.course import Course, Exercise
from autograder.errors import InputError
from autograder.results import SavedCase, SavedResult
from autograder.sandbox import SUBMISSION_LIMIT
from autograder.statuses import Status
from autograder.submissions import Submission

SANITIZE = (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata)
MOST_CELLS = 1000  # nbgrader takes milliseconds a cell: more, and it is not sanitised
UNREADABLE = ("nbgrader could not read your notebook's cells as they were released (a "
              "locked cell or a cell's settings were changed, or there are more than "
              f"{MOST_CELLS} cells), so none of your code was run: fetch the assignment "
              "again, copy your code into its answer cells, and submit again")
LINE_END = re.compile(r"\r\n|\r|\n")  # CommonMark's line ends
SAVE = (SaveAutoGrades, AssignLatePenalties)


@dataclass(frozen=True)
class _Student:
    """One student's grades as nbgrader keeps them: a score and a text per grade cell."""

    id: str
    scores: dict[str, float]
    texts: dict[str, str]
    timestamp: datetime | None


def write(course: Course, out: Path, saved: list[SavedResult], path: Path | None = None) -> Path:
    """Our saved results into an nbgrader gradebook: an nbgrader course's when path is
    COURSE/gradebook.db (with autograded/), else OUT/gradebook.db."""
    _put_alembic_on_path()
    root = path.parent if path else None
    path = path or out / "gradebook.db"
    url = f"sqlite:///{path}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's own session use
        with Gradebook(url) as book:
            if root:
                _course_cells(book, course, path)
            else:
                _exercise_cells(book, course)
        for result in saved:
            grades = _grades(course, result, root)
            if not _up_to_date(url, course, grades, root):
                _autograde(url, course, grades, root)
    return path


def _put_alembic_on_path() -> None:
    """nbgrader runs the `alembic` command by name; it sits beside our Python."""
    if shutil.which("alembic") is None:
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


def _course_cells(book: Gradebook, course: Course, path: Path) -> None:
    """An nbgrader course's notebook must have one grade cell per exercise, made by
    `nbgrader generate_assignment` from the source notebook `release --nbgrader` wrote."""
    redo = (f"run `python -m autograder release --nbgrader {path.parent}`, then "
            f"`nbgrader generate_assignment {course.assignment} --force` in that folder")
    try:
        notebook = book.find_notebook(course.module, course.assignment)
    except MissingEntry:
        raise InputError(f"{path}: has no notebook {course.module!r} in assignment "
                          f"{course.assignment!r}; {redo}") from None
    cells = {cell.name: cell.max_score for cell in notebook.grade_cells}
    if cells != {ex.id: ex.points for ex in course.exercises}:
        raise InputError(f"{path}: the grade cells of {course.assignment} are {cells}, not "
                          f"one per exercise of course.yaml with its points; {redo}")


def _exercise_cells(book: Gradebook, course: Course) -> None:
    """Outside a course: the assignment, its notebook and a grade cell per exercise, made
    again from scratch when course.yaml's exercises changed."""
    ids = {ex.id for ex in course.exercises}
    try:
        old = {cell.name for cell in book.find_notebook(course.module,
                                                        course.assignment).grade_cells}
    except MissingEntry:
        old = ids
    if old - ids:
        book.remove_assignment(course.assignment)
    book.update_or_create_assignment(course.assignment)
    book.update_or_create_notebook(course.module, course.assignment)
    for exercise in course.exercises:
        book.update_or_create_grade_cell(exercise.id, course.module, course.assignment,
                                         max_score=exercise.points, cell_type="code")


def _grades(course: Course, saved: SavedResult, root: Path | None) -> _Student:
    """A student's score and per-case text for each exercise, from the saved result."""
    status = "\n".join(filter(None, [saved.output if saved.status is not Status.OK else "",
                                      saved.note]))
    scores = {ex.id: saved.exercise_score(ex.id) for ex in course.exercises}
    texts = {ex.id: _text(ex, scores[ex.id], [c for c in saved.cases if c.exercise == ex.id],
                          status)
             for ex in course.exercises}
    timestamp = _timestamp(_submitted(root, course, saved.student)) if root else None
    return _Student(saved.student, scores, texts, timestamp)


def _text(exercise: Exercise, score: float, cases: list[SavedCase], status: str) -> str:
    """What a grade cell prints: the exercise's score, then every case, with the message
    of each one that failed."""
    lines = [f"{exercise.title}: {score:g}/{exercise.points:g} points "
             "(every test case, hidden ones included)",
             *(f"    {line}" for line in status.splitlines())]  # indented: never like ours
    for case in cases:
        lines.append(f"{'✓' if case.passed else '✗'} {case.title} "
                     f"({case.score:g}/{case.points:g})")
        if not case.passed:
            lines += [f"    {line}" for line in case.output.splitlines()]
    return "\n".join(lines) + "\n"


def _submitted(root: Path, course: Course, student: str) -> Path:
    return root / "submitted" / student / course.assignment


def _autograded(root: Path, course: Course, student: str) -> Path:
    return root / "autograded" / student / course.assignment


def _timestamp(folder: Path) -> datetime | None:
    """The submission's time from timestamp.txt (written at submit), read as nbgrader
    reads it; None when it is missing or unreadable."""
    try:
        return utils.parse_utc((_regular_text(folder / "timestamp.txt") or "").strip() or None)
    except (OSError, ValueError, OverflowError):
        return None


def _up_to_date(url: str, course: Course, grades: _Student, root: Path | None) -> bool:
    """The gradebook already has these scores and this timestamp (and, in a course, the
    autograded notebook exists): then it is left as it is."""
    if root and not (_autograded(root, course, grades.id) / f"{course.module}.ipynb").is_file():
        return False
    with Gradebook(url) as book:
        try:
            submission = book.find_submission(course.assignment, grades.id)
        except MissingEntry:
            return False
        scores = {grade.name: grade.auto_score for grade in submission.notebooks[0].grades}
        return scores == grades.scores and submission.timestamp == grades.timestamp


def _autograde(url: str, course: Course, grades: _Student, root: Path | None) -> None:
    with Gradebook(url) as book:
        book.update_or_create_student(grades.id)
        book.update_or_create_submission(course.assignment, grades.id,
                                         timestamp=grades.timestamp)
    if root is None:
        _save(url, course, grades, _grade_cells(course), root)
        return
    try:
        _save(url, course, grades, _notebook(url, course, grades, root), root)
    except Exception:  # the student's notebook, which sanitising let through: ours alone
        _save(url, course, grades, _grade_cells(course), root)


def _save(url: str, course: Course, grades: _Student, notebook, root: Path | None) -> None:
    """Our results in the notebook's grade cells, the notebook in autograded/ (in a
    course), and its scores in the gradebook, by nbgrader's own steps."""
    resources = _resources(url, course, grades.id)
    _fill(notebook, grades)
    if root:
        _write_autograded(root, course, grades.id, notebook)
    for step in SAVE:
        notebook, resources = step().preprocess(notebook, resources)


def _resources(url: str, course: Course, student: str) -> dict:
    return {"nbgrader": {"notebook": course.module, "assignment": course.assignment,
                         "student": student, "db_url": url}}


def _notebook(url: str, course: Course, grades: _Student, root: Path):
    """The student's notebook as sanitised(); only our grade cells when there is none
    (a .py was graded) or it cannot be sanitised."""
    path = _submitted(root, course, grades.id) / f"{course.module}.ipynb"
    notebook = sanitised(url, course, grades.id, path)
    if notebook is None:
        return _grade_cells(course)
    present = {cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells
               if utils.is_grade(cell)}
    notebook.cells += [cell for cell in _grade_cells(course).cells
                       if cell.metadata["nbgrader"]["grade_id"] not in present]
    return notebook


def sanitised(url: str, course: Course, student: str, path: Path):
    """The notebook at path sanitised as autograde does it (outputs cleared, locked cells
    restored from the gradebook's source), with no graded cell but ours and no markup of
    the student's; None when it is over the size the grader reads or cannot be sanitised
    (damaged, or tampered with)."""
    resources = _resources(url, course, student)
    try:
        notebook = _read(path)
        if notebook is None or len(notebook.cells) > MOST_CELLS:
            return None
        for step in SANITIZE:
            notebook, resources = step().preprocess(notebook, resources)
            if step is DeduplicateIds:
                _forget_copies(notebook)
    except Exception:  # the notebook is the student's: whatever is wrong with it
        return None
    _only_ours(notebook, course)
    return notebook


def _read(path: Path):
    """The notebook at path (_regular_text), or None."""
    text = _regular_text(path)
    return None if text is None else nbformat.reads(text, as_version=4)


def _regular_text(path: Path) -> str | None:
    """The text of the student's file at path if it is a regular file (not a link, which
    could show another file, nor a FIFO, which would hang) of at most the size the grader
    reads; else None."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, encoding="utf-8") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > SUBMISSION_LIMIT:
            return None
        return handle.read()


def _forget_copies(notebook) -> None:
    """A cell copied and pasted in Jupyter (or split) carries its original's nbgrader
    metadata; DeduplicateIds leaves the copy an empty one, which CheckCellMetadata then
    refuses (jupyter/nbgrader#1083): the copy becomes an ordinary cell, as pasted code is."""
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader") == {}:
            del cell.metadata["nbgrader"]


def as_autograde_runs(course: Course, submissions: list[Submission], database: Path,
                      folder: Path) -> list[Submission]:
    """In an nbgrader course, each notebook as autograde would run it, so that what is
    graded is what formgrader shows: sanitised() into folder/<student>/. One nbgrader
    cannot sanitise runs none of its code (autograde would refuse it), with a note that
    says why. The gradebook is checked first (check_course): nothing is graded against
    the wrong one."""
    check_course(course, database)
    url, graded = f"sqlite:///{database}", []
    for submission in submissions:
        if submission.path.suffix != ".ipynb":
            graded.append(submission)
            continue
        notebook = sanitised(url, course, submission.student, submission.path)
        note = "; ".join(filter(None, [submission.note, "" if notebook else UNREADABLE]))
        path = folder / submission.student / submission.path.name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook or nbformat.v4.new_notebook(), path)
        graded.append(dataclasses.replace(submission, path=path, note=note))
    return graded


def check_course(course: Course, database: Path) -> None:
    """The course's gradebook exists (it is never made here) and matches course.yaml."""
    if not database.is_file():
        raise InputError(f"{database}: no gradebook; run `nbgrader generate_assignment "
                         f"{course.assignment}` in {database.parent} first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's own session use
        with Gradebook(f"sqlite:///{database}") as book:
            _course_cells(book, course, database)


def _only_ours(notebook, course: Course) -> None:
    """No cell is graded but an exercise's grade cell, and no task (nbgrader's checksums
    leave both flags out, and a task with no comment row stops SaveAutoGrades); the
    student's own markdown and raw cells are shown as text, never as markup (a script or
    a javascript: link in them would run in formgrader and on the feedback page)."""
    exercises = {exercise.id for exercise in course.exercises}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("task") or (meta.get("grade") and meta.get("grade_id") not in exercises):
            meta.update(task=False, grade=False)
        if cell.cell_type in ("markdown", "raw") and not meta.get("locked"):
            _as_text(cell)


def _as_text(cell) -> None:
    """Make a student's markdown or raw cell a markdown code block: its text shown as it
    is, never rendered (no HTML, no links, no raw output, no attachments)."""
    cell.cell_type = "markdown"
    cell.source = "\n".join(f"    {line}" for line in LINE_END.split(cell.source))
    cell.metadata = {key: value for key, value in cell.metadata.items() if key == "nbgrader"}
    cell.pop("attachments", None)


def _grade_cells(course: Course):
    """A notebook of one grade cell per exercise, for our results alone."""
    cells = [new_code_cell(f"# {exercise.title}: graded by python -m autograder", metadata={
        "nbgrader": {"grade": True, "grade_id": exercise.id, "points": exercise.points,
                     "locked": True, "solution": False, "task": False, "schema_version": 3}})
        for exercise in course.exercises]
    return new_notebook(cells=cells)


def _fill(notebook, grades: _Student) -> None:
    """Each exercise's grade cell prints our per-case results and shows its score."""
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and utils.is_grade(cell) and grade_id in grades.scores:
            cell.outputs = [
                new_output("stream", name="stdout", text=grades.texts[grade_id]),
                new_output("execute_result", execution_count=None,
                           data={"text/plain": f"{grades.scores[grade_id]:g}"})]


def _write_autograded(root: Path, course: Course, student: str, notebook) -> None:
    """autograded/<student>/<assignment>/: the submitted files (not links, not notebooks)
    and the graded notebook, read-only as nbgrader leaves them."""
    folder = _autograded(root, course, student)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    submitted = _submitted(root, course, student)
    for path in sorted(submitted.iterdir()) if submitted.is_dir() else ():
        if path.is_file() and not path.is_symlink() and path.suffix != ".ipynb":
            shutil.copyfile(path, folder / path.name)
    nbformat.write(notebook, folder / f"{course.module}.ipynb")
    for path in folder.iterdir():
        path.chmod(0o444)
