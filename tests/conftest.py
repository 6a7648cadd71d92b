"""Shared fixtures: the course, its parsed test files, and a one-call grader."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import nbformat
import pytest

from autograder.course import load_course
from autograder.diagnosis import load_catalogue
from autograder.forkserver import Zygote
from autograder.scores import score_run
from autograder.verdicts import load_suites, run_submission

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


@pytest.fixture(scope="session")
def course():
    return load_course(ROOT / "course.yaml")


@pytest.fixture(scope="session")
def quick_course(course):
    """The course with short limits, so timeouts cost little in the suite."""
    limits = dataclasses.replace(course.limits, call_seconds=1.0, import_seconds=5.0,
                                 memory_mb=512)
    return dataclasses.replace(course, limits=limits)


@pytest.fixture(scope="session")
def suites(course):
    return load_suites(course)


@pytest.fixture(scope="session")
def zygote():
    server = Zygote()
    yield server
    server.close()


@pytest.fixture(scope="session")
def catalogue(course):
    return load_catalogue(course)


@pytest.fixture(scope="session")
def grade(course, suites, zygote, catalogue):
    """grade(path) -> StudentResult, with every test case (public and hidden), diagnosed,
    under the course's own limits (a loop-based train needs its 2 s on a busy machine)."""

    def run(path: Path):
        run = run_submission(course, suites, path, zygote, catalogue)
        return score_run(course, Path(path).stem, run)

    return run


def notebook_of(source: Path, folder: Path, extra_cells: tuple[str, ...] = ()) -> Path:
    """The same code as a Jupyter notebook, one cell per top-level statement, after
    extra_cells (what students leave in notebooks: magics, a cell that fails)."""
    text = source.read_text()
    lines = text.splitlines()
    starts = [node.lineno - 1 for node in ast.parse(text).body] + [len(lines)]
    cells = [*extra_cells, *("\n".join(lines[a:b]) for a, b in zip(starts, starts[1:]))]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path = folder / f"{source.stem}.ipynb"
    nbformat.write(notebook, path)
    return path


def descendants(pid: int) -> list[int]:
    """Every process started, directly or not, by process pid (and still below it)."""
    found, stack = [], [pid]
    while stack:
        try:
            tasks = list(Path(f"/proc/{stack.pop()}/task").iterdir())
        except OSError:  # ended while we looked
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            stack += children
    return found
