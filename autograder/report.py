"""The class report: what the class missed, from the saved results (never re-scored).

Writes into DIR/report/: report.html with SVG figures (charts.py: score histogram,
mean score per exercise, pass rate per test case, how many students each catalogued
mistake was diagnosed for, and how many lost points with no named cause) and the same
numbers as CSV tables, with a table of the students that links each one's feedback page.
"""

from __future__ import annotations

import html
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from autograder.charts import Bars, svg
from autograder.course import Course
from autograder.files import csv_text, write_atomic
from autograder.results import SavedResult
from autograder.statuses import Status
from autograder.text import html_text

UNNAMED = "(no named cause)"  # the row of students who lost points the diagnosis left unnamed


@dataclass(frozen=True)
class StudentCauses:
    student: str
    score: float
    max_score: float
    mistakes: tuple[str, ...]  # the catalogued mistakes named on the student's page
    unnamed: float  # points lost in cases with no single named cause


@dataclass(frozen=True)
class ClassNumbers:
    scores: list[float]
    max_score: float
    exercises: list[tuple[str, float, float]]  # id, mean score, max
    cases: list[tuple[str, float, float]]  # case id, points, share of students who passed
    mistakes: list[tuple[str, int]]  # catalogue id (or UNNAMED, last), students
    students: list[StudentCauses]
    statuses: dict[Status, int]  # the most severe first


def student_causes(saved: SavedResult) -> StudentCauses:
    """What the diagnosis named for one student, each mistake once however many cases."""
    failed = [case for case in saved.cases if not case.passed]
    named = tuple(dict.fromkeys(case.mistake for case in failed if case.mistake))
    unnamed = sum(case.points - case.score for case in failed if not case.mistake)
    return StudentCauses(saved.student, saved.score, saved.max_score, named, unnamed)


def _mistake_counts(students: list[StudentCauses]) -> list[tuple[str, int]]:
    """Students per named mistake, most first, then those with points lost unnamed."""
    counts: dict[str, int] = {}
    for student in students:
        for mistake in student.mistakes:
            counts[mistake] = counts.get(mistake, 0) + 1
    return [*sorted(counts.items(), key=lambda item: -item[1]),
            (UNNAMED, sum(student.unnamed > 0 for student in students))]


def class_numbers(course: Course, saved: list[SavedResult]) -> ClassNumbers:
    """Every number of the report, from the students' saved results."""
    count = len(saved)
    exercises = [(ex.id, statistics.fmean(s.exercise_score(ex.id) for s in saved), ex.points)
                 for ex in course.exercises]
    cases: dict[str, list] = {}
    for student in saved:
        for case in student.cases:
            cases.setdefault(case.id, [case.points, 0])[1] += case.passed
    statuses = Counter(s.status for s in saved)
    students = [student_causes(s) for s in saved]
    return ClassNumbers(
        scores=[student.score for student in students],
        max_score=course.max_score,
        exercises=exercises,
        cases=[(cid, points, passed / count) for cid, (points, passed) in cases.items()],
        mistakes=_mistake_counts(students),
        students=students,
        statuses={status: statuses[status]
                  for status in sorted(statuses, key=lambda status: -status.severity)},
    )


HISTOGRAM_BINS = 10


def _histogram(scores: list[float], max_score: float) -> tuple[list[str], list[float]]:
    """Students per tenth of the maximum score (the last tenth includes the maximum)."""
    counts = [0.0] * HISTOGRAM_BINS
    for score in scores:
        counts[min(max(int(HISTOGRAM_BINS * score / max_score), 0), HISTOGRAM_BINS - 1)] += 1
    edges = [max_score * i / HISTOGRAM_BINS for i in range(HISTOGRAM_BINS + 1)]
    return [f"{low:g}–{high:g}" for low, high in zip(edges, edges[1:])], counts


def _charts(numbers: ClassNumbers) -> dict[str, Bars]:
    """The report's four figures, by file name."""
    bins, counts = _histogram(numbers.scores, numbers.max_score)
    mistakes = numbers.mistakes
    return {
        "scores.svg": Bars("Scores", bins, counts, "students", max(counts), "#1f77b4"),
        "exercises.svg": Bars("Exercises", [e for e, _, _ in numbers.exercises],
                              [100 * m / p for _, m, p in numbers.exercises],
                              "mean score (% of the exercise)", 100, "#2ca02c"),
        "cases.svg": Bars("Test cases", [c for c, _, _ in numbers.cases],
                          [100 * r for _, _, r in numbers.cases], "students who passed (%)",
                          100, "#1f77b4", horizontal=True),
        "mistakes.svg": Bars("Causes the diagnosis named", [m for m, _ in mistakes],
                             [n for _, n in mistakes], "students",
                             max(n for _, n in mistakes), "#d62728", horizontal=True),
    }


def _figures(numbers: ClassNumbers, folder: Path) -> dict[str, str]:
    """Write the figures into folder; their titles by file name."""
    charts = _charts(numbers)
    for name, chart in charts.items():
        write_atomic(folder / name, svg(chart))
    return {name: chart.title for name, chart in charts.items()}


def _tables(numbers: ClassNumbers) -> dict[str, list[list]]:
    count = len(numbers.scores)
    return {
        "exercises.csv": [["exercise", "mean_score", "max_score"],
                          *[[e, f"{m:.3g}", f"{p:g}"] for e, m, p in numbers.exercises]],
        "cases.csv": [["case", "points", "pass_rate"],
                      *[[c, f"{p:g}", f"{r:.3f}"] for c, p, r in numbers.cases]],
        "mistakes.csv": [["mistake", "students", "share"],
                         *[[m, n, f"{n / count:.3f}"] for m, n in numbers.mistakes]],
        "students.csv": [["student", "score", "max_score", "mistakes", "unnamed_points"],
                         *[[s.student, f"{s.score:g}", f"{s.max_score:g}", " ".join(s.mistakes),
                            f"{s.unnamed:g}"] for s in numbers.students]],
        "statuses.csv": [["status", "students", "meaning"],
                         *[[status, n, status.instructor]
                           for status, n in numbers.statuses.items()]],
    }


def _table(rows: list[list], first: Callable[[str], str]) -> str:
    """rows as an HTML table, the header first; first renders each row's first cell."""
    head = "".join(f"<th>{html_text(c)}</th>" for c in rows[0])
    body = "".join(f"<tr><td>{first(row[0])}</td>"
                   + "".join(f"<td>{html_text(c)}</td>" for c in row[1:]) + "</tr>"
                   for row in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _feedback_link(student: str) -> str:
    """The student's id, linking to feedback/<student>.html beside the report's folder."""
    href = html.escape(f"../feedback/{quote(student, safe='')}.html")
    return f'<a href="{href}">{html_text(student)}</a>'


def _html(course: Course, numbers: ClassNumbers, figures: dict[str, str],
          tables: dict[str, list[list]]) -> str:
    scores = numbers.scores
    summary = (f"{len(scores)} students; mean {statistics.fmean(scores):.1f}, median "
               f"{statistics.median(scores):g} of {numbers.max_score:g}")
    images = "".join(f'<img src="{name}" alt="{html.escape(title)}">'
                     for name, title in figures.items())
    sections = "".join(
        f"<h2>{html.escape(name)}</h2>"
        f"{_table(rows, _feedback_link if name == 'students.csv' else html_text)}"
        for name, rows in tables.items())
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(course.assignment)}: "
            f"class report</title><style>body{{font-family:sans-serif;max-width:60em;"
            f"margin:auto}}img{{max-width:100%;display:block;margin:1em 0}}td,th{{padding:"
            f"2px 8px;text-align:left}}</style><h1>{html.escape(course.assignment)}: class "
            f"report</h1><p>{summary}</p>{images}{sections}\n")


def write_report(course: Course, out: Path, saved: list[SavedResult]) -> Path | None:
    """DIR/report/report.html, its figures and CSV tables; None when nobody has a result."""
    if not saved:
        return None
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)
    numbers = class_numbers(course, saved)
    tables = _tables(numbers)
    for name, rows in tables.items():
        write_atomic(folder / name, csv_text(rows))
    path = folder / "report.html"
    write_atomic(path, _html(course, numbers, _figures(numbers, folder), tables))
    return path
