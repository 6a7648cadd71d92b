"""Command line: parse, dispatch, print, and the exit code of every error that stops a run.
Every decision lives in another module."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from autograder.course import DEFAULT_COURSE, Course, load_course
from autograder.errors import CourseError, InputError, SetupError
from autograder.text import NAME_CHARS, one_line, terminal

if TYPE_CHECKING:
    from autograder.results import SavedResult
    from autograder.submissions import Submission

MAX_TABLE = 60  # larger classes: see grades.csv
# The exit code of each kind of error that stops a run: 2 for what the person gave us
# (course.yaml and its files, the submissions, an option), 3 for the machine it runs on.
# Without one: 0, or 1 when `check` found a failing test or `grade` could not grade a
# student (both said on the way).
EXIT_CODES: dict[type[Exception], int] = {CourseError: 2, InputError: 2, SetupError: 3}


def _say(message: str, stream=None) -> None:
    """Every line for a person goes out here: control characters escaped (text.terminal)."""
    print(terminal(message), file=stream or sys.stdout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder",
                                     description="Check and grade the backprop exercises.")
    parser.add_argument("--course", type=Path, default=None,
                        help="course.yaml to use (default: ./course.yaml, else the package's)")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run the public tests on your file")
    check.add_argument("file", type=Path)
    grade = commands.add_parser("grade", help="grade submissions with every test")
    grade.add_argument("paths", type=Path, nargs="+", metavar="PATH",
                       help="student .py files, or folders of them")
    grade.add_argument("--out", type=Path, required=True, help="folder for the results")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="submissions graded at once (default: the number of CPUs)")
    grade.add_argument("--force", action="store_true",
                       help="regrade every submission, even those unchanged since the last run")
    grade.add_argument("--gradebook", action="store_true",
                       help="also write OUT/gradebook.db, an nbgrader gradebook (needs nbgrader);"
                            " once it is there, every later run keeps it up to date")
    report = commands.add_parser("report", help="the class report of a graded folder")
    report.add_argument("folder", type=Path, metavar="DIR", help="a folder `grade` wrote")
    release = commands.add_parser("release", help="make the student files and autograder.zip")
    release.add_argument("--out", type=Path, required=True, help="folder for autograder.zip")
    release.add_argument("--student-dir", type=Path, default=None,
                         help="where to write the student files (default: OUT/student)")
    release.add_argument("--nbgrader", type=Path, default=None, metavar="COURSE_DIR",
                         help="also write COURSE_DIR/source/<assignment>/ for nbgrader")
    return parser


def _course(option: Path | None) -> Course:
    if option is None:
        option = Path("course.yaml") if Path("course.yaml").is_file() else DEFAULT_COURSE
    return load_course(option)


def _check_own_file(course: Course, args: argparse.Namespace) -> int:
    from autograder.feedback import render_check
    from autograder.jobs import check_file

    result, output = check_file(course, args.file)
    _say(render_check(result, args.file, output))
    return 0 if all(c.passed for ex in result.exercises for c in ex.cases) else 1


def _print_table(course: Course, results: list[SavedResult]) -> None:
    """The grades on screen, for a class small enough to read them there."""
    if len(results) > MAX_TABLE:
        return
    ids = [ex.id for ex in course.exercises]
    _say(f"{'student':<24}{'score':>7}" + "".join(f"{i:>9}" for i in ids) + "  status")
    for saved in results:
        scores = [saved.exercise_score(i) for i in ids]
        _say(f"{one_line(saved.student, NAME_CHARS):<24}{sum(scores):>7g}"
             + "".join(f"{score:>9g}" for score in scores) + f"  {saved.status}")


def _own_gradebook(args: argparse.Namespace) -> bool:
    """Whether to write OUT/gradebook.db: when asked for, and once it exists (so that it is
    never left behind the grades)."""
    if args.gradebook and importlib.util.find_spec("nbgrader") is None:
        raise SetupError("--gradebook needs nbgrader: pip install '.[instructor]'")
    return args.gradebook or (args.out / "gradebook.db").is_file()


def _collect(course: Course, args: argparse.Namespace) -> list[Submission]:
    """The submissions in args.paths, with a line for each that has a note."""
    from autograder.submissions import collect

    submissions = collect(args.paths, course, args.out / "unpacked")
    for submission in submissions:
        if submission.note:
            _say(f"note: {one_line(submission.student, NAME_CHARS)}: "
                 f"{one_line(submission.note)}", sys.stderr)
    return submissions


def _grade(course: Course, args: argparse.Namespace) -> int:
    from autograder.forkserver import Zygote

    if args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    own_gradebook = _own_gradebook(args)
    zygote = Zygote()  # first: its numpy import overlaps ours and the loading of the tests
    try:
        submissions = _collect(course, args)
    except BaseException:
        zygote.close()
        raise
    from autograder.jobs import grade_batch
    from autograder.progress import Progress
    from autograder.submissions import nbgrader_gradebook

    progress = Progress()
    try:
        summary = grade_batch(course, submissions, args.out, args.jobs, args.force, progress,
                              nbgrader_gradebook(args.paths), own_gradebook, zygote)
    finally:
        progress.close()
    _print_table(course, list(summary.results))
    if summary.unprotected:
        layers = "; ".join(one_line(layer, NAME_CHARS) for layer in summary.unprotected[:10])
        if len(summary.unprotected) > 10:
            layers += f"; and {len(summary.unprotected) - 10} more"
        _say("warning: on this machine student code ran without: "
             + layers + ". See README 'What student code can and "
             "cannot do' for what that allows.", sys.stderr)
    _say(f"graded {summary.count('graded')}, skipped {summary.count('skipped')} (unchanged), "
         f"failed {summary.count('failed')} in {summary.seconds:.1f} s; "
         f"grades in {summary.grades}"
         + (f", nbgrader gradebook {summary.gradebook}" if summary.gradebook else "")
         + (f", class report {summary.report}" if summary.report else ""))
    return 1 if summary.count("failed") else 0


def _release(course: Course, args: argparse.Namespace) -> int:
    from autograder.release import (
        build_autograder_zip,
        build_student_wheel,
        write_nbgrader_source,
        write_student_files,
    )

    student_dir = args.student_dir or args.out / "student"
    for path in write_student_files(course, student_dir):
        _say(f"wrote {path}")
    _say(f"wrote {build_student_wheel(course, args.out)} (students: pip install it)")
    _say(f"wrote {build_autograder_zip(course, args.out / 'autograder.zip')}")
    if args.nbgrader:
        _say(f"wrote {write_nbgrader_source(course, args.nbgrader)}")
    return 0


def _report(course: Course, args: argparse.Namespace) -> int:
    from autograder.report import write_report
    from autograder.results import read_results

    students = sorted(p.stem for p in (args.folder / "results").glob("*.json"))
    path = write_report(course, args.folder, read_results(args.folder, students))
    if path is None:
        raise InputError(f"{args.folder}: no results/*.json; run `grade ... --out "
                         f"{args.folder}` first")
    _say(f"wrote {path}")
    return 0


COMMANDS = {"check": _check_own_file, "grade": _grade, "report": _report, "release": _release}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](_course(args.course), args)
    except tuple(EXIT_CODES) as err:
        _say(f"error: {err}", sys.stderr)
        return next(code for kind, code in EXIT_CODES.items() if isinstance(err, kind))
