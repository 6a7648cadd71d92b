"""The class report: what the class missed, from the saved results (never re-scored).

Writes into DIR/report/: report.html with PNG figures made by matplotlib (score
histogram, mean score per exercise, pass rate per test case, how often each
catalogued mistake was diagnosed) and the same numbers as CSV tables.
"""

from __future__ import annotations

import html
import statistics
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course
from autograder.gradebook import csv_text, write_atomic
from autograder.text import html_text


@dataclass(frozen=True)
class ClassNumbers:
    scores: list[float]
    max_score: float
    exercises: list[tuple[str, float, float]]  # id, mean score, max
    cases: list[tuple[str, float, float]]  # case id, points, share of students who passed
    mistakes: list[tuple[str, int]]  # catalogue id, students it was diagnosed for
    statuses: dict[str, int]


def class_numbers(course: Course, saved: list[dict]) -> ClassNumbers:
    """Every number of the report, from the students' saved results."""
    count = len(saved)
    exercises = [(ex.id, statistics.fmean(s["exercises"].get(ex.id, 0) for s in saved),
                  ex.points) for ex in course.exercises]
    cases: dict[str, list] = {}
    mistakes: dict[str, set] = {}
    for student in saved:
        for case in student["cases"]:
            entry = cases.setdefault(case["id"], [case["max_score"], 0])
            entry[1] += case["score"] == case["max_score"]
            if case.get("mistake"):
                mistakes.setdefault(case["mistake"], set()).add(student["student"])
    statuses: dict[str, int] = {}
    for student in saved:
        statuses[student["status"]] = statuses.get(student["status"], 0) + 1
    return ClassNumbers(
        scores=[sum(s["exercises"].values()) for s in saved],
        max_score=course.max_score,
        exercises=exercises,
        cases=[(cid, points, passed / count) for cid, (points, passed) in cases.items()],
        mistakes=sorted(((m, len(who)) for m, who in mistakes.items()), key=lambda x: -x[1]),
        statuses=statuses,
    )


def _figure(draw, path: Path, size: tuple[float, float]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    draw(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name


def _figures(numbers: ClassNumbers, folder: Path) -> dict[str, str]:
    def histogram(ax):
        ax.hist(numbers.scores, bins=10, range=(0, numbers.max_score), color="C0")
        ax.set(xlabel="score", ylabel="students", title="Scores")

    def exercises(ax):
        names = [e for e, _, _ in numbers.exercises]
        ax.bar(names, [100 * m / p for _, m, p in numbers.exercises], color="C2")
        ax.set(ylabel="mean score (% of the exercise)", ylim=(0, 100), title="Exercises")

    def cases(ax):
        ax.barh([c for c, _, _ in numbers.cases], [100 * r for _, _, r in numbers.cases])
        ax.invert_yaxis()
        ax.set(xlabel="students who passed (%)", xlim=(0, 100), title="Test cases")
        ax.tick_params(axis="y", labelsize=7)

    def mistakes(ax):
        ax.barh([m for m, _ in numbers.mistakes] or ["(none)"],
                [n for _, n in numbers.mistakes] or [0], color="C3")
        ax.invert_yaxis()
        ax.set(xlabel="students", title="Mistakes the diagnosis named")

    height = max(3.0, 0.22 * len(numbers.cases))
    return {"histogram": _figure(histogram, folder / "scores.png", (6, 3.5)),
            "exercises": _figure(exercises, folder / "exercises.png", (6, 3.5)),
            "cases": _figure(cases, folder / "cases.png", (8, height)),
            "mistakes": _figure(mistakes, folder / "mistakes.png",
                                (7, max(2.5, 0.35 * len(numbers.mistakes))))}


def _tables(numbers: ClassNumbers) -> dict[str, list[list]]:
    count = len(numbers.scores)
    return {
        "exercises.csv": [["exercise", "mean_score", "max_score"],
                          *[[e, f"{m:.3g}", f"{p:g}"] for e, m, p in numbers.exercises]],
        "cases.csv": [["case", "points", "pass_rate"],
                      *[[c, f"{p:g}", f"{r:.3f}"] for c, p, r in numbers.cases]],
        "mistakes.csv": [["mistake", "students", "share"],
                         *[[m, n, f"{n / count:.3f}"] for m, n in numbers.mistakes]],
        "statuses.csv": [["status", "students"], *map(list, numbers.statuses.items())],
    }


def _html(course: Course, numbers: ClassNumbers, figures: dict[str, str],
          tables: dict[str, list[list]]) -> str:
    scores = numbers.scores
    summary = (f"{len(scores)} students; mean {statistics.fmean(scores):.1f}, median "
               f"{statistics.median(scores):g} of {numbers.max_score:g}")
    images = "".join(f'<img src="{name}" alt="{key}">' for key, name in figures.items())

    def table(rows):
        head = "".join(f"<th>{html_text(c)}</th>" for c in rows[0])
        body = "".join("<tr>" + "".join(f"<td>{html_text(c)}</td>" for c in row)
                       + "</tr>" for row in rows[1:])
        return f"<table><tr>{head}</tr>{body}</table>"

    sections = "".join(f"<h2>{html.escape(name)}</h2>{table(rows)}"
                       for name, rows in tables.items())
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(course.assignment)}: "
            f"class report</title><style>body{{font-family:sans-serif;max-width:60em;"
            f"margin:auto}}img{{max-width:100%;display:block;margin:1em 0}}td,th{{padding:"
            f"2px 8px;text-align:left}}</style><h1>{html.escape(course.assignment)}: class "
            f"report</h1><p>{summary}</p>{images}{sections}\n")


def write_report(course: Course, out: Path, saved: dict[str, dict]) -> Path | None:
    """DIR/report/report.html, its figures and CSV tables; None when nobody has a result."""
    if not saved:
        return None
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)
    numbers = class_numbers(course, list(saved.values()))
    tables = _tables(numbers)
    for name, rows in tables.items():
        write_atomic(folder / name, csv_text(rows))
    path = folder / "report.html"
    write_atomic(path, _html(course, numbers, _figures(numbers, folder), tables))
    return path
