"""Feedback pages and the class report: what students and instructors read."""

from __future__ import annotations

import csv
import html
import re
import shutil

import pytest
from conftest import ROOT, SUBMISSIONS

from autograder.charts import Bars, svg, ticks
from autograder.cli import main
from autograder.report import write_report
from autograder.results import SavedCase, SavedResult
from autograder.statuses import Status
from autograder.verdicts import run_submission

COURSE = ["--course", str(ROOT / "course.yaml")]
CLASS = {"ada": ROOT / "solutions" / "backprop.py",
         "bo": SUBMISSIONS / "buggy" / "mse_grad_sign_flipped.py",
         "cy": SUBMISSIONS / "buggy" / "mse_grad_sign_flipped.py",
         "di": SUBMISSIONS / "buggy" / "update_adds_gradient.py",
         "ed": ROOT / "exercises" / "backprop.py"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    for student, source in CLASS.items():
        shutil.copy(source, folder / f"{student}.py")
    out = tmp_path_factory.mktemp("out")
    assert main([*COURSE, "grade", str(folder), "--out", str(out), "--jobs", "2"]) == 0
    return out


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_report_counts_the_diagnosed_mistakes(graded):
    mistakes = {row["mistake"]: int(row["students"]) for row in
                read_csv(graded / "report" / "mistakes.csv")}
    assert mistakes["mse_grad_sign"] == 2
    assert mistakes["update_adds"] == 1


def test_the_report_counts_each_mistake_once_per_student(graded):
    """bo and cy fail several cases for mse_grad's sign: 2 students, not one per case; the
    students who lost points in a case with no named cause have a row of their own."""
    mistakes = {row["mistake"]: int(row["students"]) for row in
                read_csv(graded / "report" / "mistakes.csv")}
    students = {row["student"]: row for row in read_csv(graded / "report" / "students.csv")}
    assert students["bo"]["mistakes"] == "mse_grad_sign"
    assert students["ada"]["mistakes"] == "" and students["ada"]["unnamed_points"] == "0"
    assert float(students["ed"]["unnamed_points"]) == 100  # the stubs: nothing to name
    unnamed = [s for s, row in students.items() if float(row["unnamed_points"]) > 0]
    assert mistakes["(no named cause)"] == len(unnamed)
    for mistake, count in mistakes.items():
        if mistake != "(no named cause)":
            assert count == sum(mistake in row["mistakes"].split() for row in students.values())


def test_the_mistakes_figure_shows_the_numbers_of_its_table(graded):
    figure = (graded / "report" / "mistakes.svg").read_text()
    bars = dict(tip.rsplit(": ", 1) for tip in re.findall(r"<title>([^<]*)</title>", figure))
    table = read_csv(graded / "report" / "mistakes.csv")
    assert "(no named cause)" in bars
    assert {html.unescape(k): float(v) for k, v in bars.items()} == {
        row["mistake"]: float(row["students"]) for row in table}


def test_the_report_links_every_students_feedback_page(graded):
    page = (graded / "report" / "report.html").read_text()
    links = re.findall(r'href="([^"]+)"', page)
    assert sorted(links) == sorted(f"../feedback/{s}.html" for s in CLASS)
    assert all((graded / "report" / link).is_file() for link in links)


def test_a_link_to_a_feedback_page_survives_any_student_id(course, tmp_path):
    case = SavedCase("mse", "test_small", "mse: a small case", 1.0, 1.0, False, "passed")
    saved = [SavedResult("jo an#1?", Status.OK, "Your file was graded.", (case,))]
    page = write_report(course, tmp_path, saved).read_text()
    assert 'href="../feedback/jo%20an%231%3F.html"' in page
    assert ">jo an#1?</a>" in page


def test_the_report_means_agree_with_grades_csv(graded):
    grades = read_csv(graded / "grades.csv")
    for row in read_csv(graded / "report" / "exercises.csv"):
        mean = sum(float(g[row["exercise"]]) for g in grades) / len(grades)
        assert float(row["mean_score"]) == pytest.approx(mean, rel=1e-2)


def test_the_report_page_shows_its_four_figures(graded):
    page = (graded / "report" / "report.html").read_text()
    for figure in ("scores.svg", "exercises.svg", "cases.svg", "mistakes.svg"):
        assert f'src="{figure}"' in page
        assert (graded / "report" / figure).read_text().startswith("<svg ")
    assert "5 students" in page


def test_the_histogram_counts_every_student_once(graded):
    figure = (graded / "report" / "scores.svg").read_text()
    counts = [float(n) for n in re.findall(r"<title>[^<]*: ([0-9.]+)</title>", figure)]
    assert len(counts) == 10 and sum(counts) == len(CLASS)


@pytest.mark.parametrize("top, expected", [
    (100, [0, 20, 40, 60, 80, 100]),
    (3, [0, 1, 2, 3]),
    (7, [0, 2, 4, 6, 8]),
    (1, [0, 1]),
    (0, [0, 1]),
])
def test_a_chart_axis_has_round_ticks_from_zero_past_the_top(top, expected):
    assert ticks(top) == pytest.approx(expected)


def test_chart_labels_are_escaped():
    chart = svg(Bars("<b>", ["a&b", "</svg><script>"], [1, 2], "n", 2, "#000",
                     horizontal=True))
    assert "<script>" not in chart and "&lt;/svg&gt;&lt;script&gt;" in chart
    assert "a&amp;b" in chart and "&lt;b&gt;" in chart


def test_report_command_rebuilds_it_from_a_graded_folder(graded, capsys):
    (graded / "report" / "report.html").unlink()
    assert main([*COURSE, "report", str(graded)]) == 0
    assert (graded / "report" / "report.html").exists()


def test_report_of_an_empty_folder_is_one_clear_line(tmp_path, capsys):
    assert main([*COURSE, "report", str(tmp_path)]) == 2
    assert "no results/*.json" in capsys.readouterr().err


def test_feedback_pages_are_self_contained_and_name_the_cause(graded):
    page = (graded / "feedback" / "bo.html").read_text()
    assert "Likely cause: Your mse_grad has the wrong sign" in page
    assert "The root cause is in your mse_grad" in page
    assert not re.search(r"""(src|href)=["']?(http|/|\.\.)""", page)
    markdown = (graded / "feedback" / "bo.md").read_text()
    assert "Likely cause: Your mse_grad has the wrong sign" in markdown


def test_the_diagnosis_never_changes_a_score(quick_course, suites, zygote, catalogue):
    path = SUBMISSIONS / "buggy" / "backward_skips_sigmoid_grad.py"
    plain = run_submission(quick_course, suites, path, zygote)
    diagnosed = run_submission(quick_course, suites, path, zygote, catalogue)
    assert [v.passed for v in plain.verdicts] == [v.passed for v in diagnosed.verdicts]
    assert any(v.mistake for v in diagnosed.verdicts)
    assert not any(v.mistake for v in plain.verdicts)
