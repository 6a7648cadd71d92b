"""From verdicts to scores: pure functions, no I/O.

A submission ends with one status (statuses.Status, with its sentence for the
student). Scores are sums of the points of passed cases; totals are derived,
never stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from autograder.course import Course, Exercise
from autograder.statuses import Status, status_of
from autograder.verdicts import CaseVerdict, SubmissionRun


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
    status: Status
    exercises: tuple[ExerciseScore, ...]
    load_message: str = ""  # what loading showed, when the file did not load
    notes: tuple[str, ...] = ()  # notebook cells that failed or were partly skipped

    @property
    def score(self) -> float:
        return sum(ex.score for ex in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(ex.max_score for ex in self.exercises)

    @property
    def message(self) -> str:
        return self.status.student


def score_run(course: Course, student: str, run: SubmissionRun) -> StudentResult:
    """Group a run's verdicts by exercise, in course.yaml's order."""
    exercises = tuple(
        ExerciseScore(ex, tuple(v for v in run.verdicts if v.exercise == ex.id))
        for ex in course.exercises
    )
    status = status_of(run.loaded.status, [v.fault for v in run.verdicts if not v.passed],
                       sum(v.passed for v in run.verdicts))
    return StudentResult(student, status, exercises, run.loaded.message, run.loaded.notes)
