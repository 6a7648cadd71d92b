"""From verdicts to scores: pure functions, no I/O.

A submission ends with one status from STATUS, each with one sentence for the
student. Scores are sums of the points of passed cases; totals are derived,
never stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograder.course import Course, Exercise
from autograder.verdicts import CaseVerdict, Run

STATUS = {
    "ok": "Your file was graded.",
    "not_attempted": "None of the functions is written yet: each still raises "
                     "NotImplementedError.",
    "missing_function": "Some functions are missing from your file; check their names.",
    "syntax_error": "Your file has a syntax error, so nothing in it could run.",
    "bad_notebook": "Your notebook file is damaged (not valid notebook JSON), so nothing in "
                    "it could run; download it again from Jupyter.",
    "import_error": "Your file raised an error while loading, so nothing in it could run.",
    "exit": "Your code stopped the program (sys.exit, os._exit or similar).",
    "timeout": "Your code took longer than the time limit.",
    "crashed": "Your code crashed the process that ran it.",
    "memory": "Your code used more memory than allowed.",
    "output": "Your code printed or wrote more than allowed.",
}

_LOAD_STATUS = {"syntax": "syntax_error", "error": "import_error", "todo": "import_error",
                "notebook": "bad_notebook"}
_SEVERITY = ["timeout", "memory", "output", "crashed", "exit", "missing"]


@dataclass(frozen=True)
class ExerciseScore:
    exercise: Exercise
    cases: tuple[CaseVerdict, ...]

    @property
    def score(self) -> float:
        return sum(case.points for case in self.cases if case.passed)

    @property
    def max_score(self) -> float:
        return sum(case.points for case in self.cases)


@dataclass(frozen=True)
class StudentResult:
    student: str
    status: str
    exercises: tuple[ExerciseScore, ...]
    load_message: str = ""
    notes: tuple[str, ...] = ()  # notebook cells that failed or were partly skipped

    @property
    def score(self) -> float:
        return sum(ex.score for ex in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(ex.max_score for ex in self.exercises)

    @property
    def message(self) -> str:
        return STATUS[self.status]


def status_of(run: Run) -> str:
    """The one status that best describes how a submission's run went."""
    if run.loaded.status != "ok":
        return _LOAD_STATUS.get(run.loaded.status, run.loaded.status)
    faults = {v.fault for v in run.verdicts if not v.passed}
    if faults == {"todo"} and not any(v.passed for v in run.verdicts):
        return "not_attempted"
    for kind in _SEVERITY:
        if kind in faults:
            return "missing_function" if kind == "missing" else kind
    return "ok"


def score_run(course: Course, student: str, run: Run) -> StudentResult:
    """Group a run's verdicts by exercise, in course.yaml's order."""
    exercises = tuple(
        ExerciseScore(ex, tuple(v for v in run.verdicts if v.exercise == ex.id))
        for ex in course.exercises
    )
    message = run.loaded.message if run.loaded.status != "ok" else ""
    return StudentResult(student, status_of(run), exercises, message, run.loaded.notes)
