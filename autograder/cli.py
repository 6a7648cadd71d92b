"""Command line: parse, dispatch, print. Every decision lives in another module."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.course import Course, CourseError, load_course

DEFAULT_COURSE = Path(__file__).resolve().parents[1] / "course.yaml"


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
    release = commands.add_parser("release", help="make the student files and autograder.zip")
    release.add_argument("--out", type=Path, required=True, help="folder for autograder.zip")
    release.add_argument("--student-dir", type=Path, default=None,
                         help="where to write the student files (default: OUT/student)")
    return parser


def _course(option: Path | None) -> Course:
    if option is None:
        option = Path("course.yaml") if Path("course.yaml").is_file() else DEFAULT_COURSE
    return load_course(option)


def _check(course: Course, args: argparse.Namespace) -> int:
    from autograder.feedback import render_check
    from autograder.jobs import check_file

    result = check_file(course, args.file)
    print(render_check(result, args.file))
    return 0 if all(c.passed for ex in result.exercises for c in ex.cases) else 1


def _grade(course: Course, args: argparse.Namespace) -> int:
    from autograder.jobs import find_submissions, grade_batch

    summary = grade_batch(course, find_submissions(args.paths), args.out)
    ids = [ex.exercise.id for ex in summary.results[0].exercises]
    print(f"{'student':<24}{'score':>7}  " + "".join(f"{i:>9}" for i in ids) + "  status")
    for result in summary.results:
        cells = "".join(f"{ex.score:>9g}" for ex in result.exercises)
        print(f"{result.student:<24}{result.score:>7g}  {cells}  {result.status}")
    print(f"graded {len(summary.results)} submissions in {summary.seconds:.1f} s; "
          f"grades in {summary.grades}")
    return 0


def _release(course: Course, args: argparse.Namespace) -> int:
    from autograder.release import build_autograder_zip, write_student_files

    student_dir = args.student_dir or args.out / "student"
    for path in write_student_files(course, student_dir):
        print(f"wrote {path}")
    print(f"wrote {build_autograder_zip(course, args.out / 'autograder.zip')}")
    return 0


COMMANDS = {"check": _check, "grade": _grade, "release": _release}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](_course(args.course), args)
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
