"""A grading process of the suite's own (conftest.GradingPool): it grades files exactly as
conftest's `grade` fixture does (every case, diagnosed, under the course's own limits),
with a fork server of its own, beside the tests of the session's main process."""

from __future__ import annotations

from multiprocessing import util
from pathlib import Path

_state: dict = {}


def start(root: str, nice: int) -> None:
    """In each grading process, once: its niceness (its fork server's and student code's
    too), the course, its test files, the catalogue and a fork server."""
    import os

    os.nice(nice)
    from autograder.course import load_course
    from autograder.diagnosis import load_catalogue
    from autograder.forkserver import Zygote
    from autograder.verdicts import load_suites

    course = load_course(Path(root) / "course.yaml")
    zygote = Zygote()
    util.Finalize(zygote, zygote.close, exitpriority=10)
    _state.update(course=course, suites=load_suites(course),
                  public=load_suites(course, public_only=True),
                  catalogue=load_catalogue(course), zygote=zygote)


def grade(path: str, public_only: bool = False):
    """The StudentResult of one file; public_only: the public cases only, undiagnosed, as
    `check` runs them before it names causes."""
    from autograder.scores import score_run
    from autograder.verdicts import run_submission

    course = _state["course"]
    suites, catalogue = ((_state["public"], None) if public_only else
                         (_state["suites"], _state["catalogue"]))
    run = run_submission(course, suites, Path(path), _state["zygote"], catalogue)
    return score_run(course, Path(path).stem, run)
