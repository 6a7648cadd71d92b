"""Feedback pages and the class report: what students and instructors read."""

from __future__ import annotations

import csv
import re
import shutil

import pytest
from conftest import ROOT, SUBMISSIONS

from autograder.cli import main
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


def test_the_report_means_agree_with_grades_csv(graded):
    grades = read_csv(graded / "grades.csv")
    for row in read_csv(graded / "report" / "exercises.csv"):
        mean = sum(float(g[row["exercise"]]) for g in grades) / len(grades)
        assert float(row["mean_score"]) == pytest.approx(mean, rel=1e-2)


def test_the_report_page_shows_its_four_figures(graded):
    page = (graded / "report" / "report.html").read_text()
    for figure in ("scores.png", "exercises.png", "cases.png", "mistakes.png"):
        assert f'src="{figure}"' in page
        assert (graded / "report" / figure).read_bytes()[:4] == b"\x89PNG"
    assert "5 students" in page


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
