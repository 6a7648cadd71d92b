"""Reference, stubs, catalogued mistakes and alternative solutions, graded for real."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT, SUBMISSIONS

BUGGY = SUBMISSIONS / "buggy"
EXPECTED = json.loads((BUGGY / "expected.json").read_text())
CORRECT = sorted((SUBMISSIONS / "correct").glob("*.py"))


def by_exercise(result):
    return {ex.exercise.id: ex for ex in result.exercises}


def test_reference_scores_full_marks(grade, course):
    result = grade(ROOT / "solutions" / "backprop.py")
    failed = [(c.name, c.message) for ex in result.exercises for c in ex.cases if not c.passed]
    assert failed == []
    assert result.score == course.max_score == 100
    assert result.status == "ok"


def test_untouched_stubs_score_zero(grade):
    result = grade(ROOT / "exercises" / "backprop.py")
    assert result.score == 0
    assert result.status == "not_attempted"
    messages = {c.message for ex in result.exercises for c in ex.cases}
    assert all("not written yet" in m for m in messages)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_buggy_submission_loses_points_where_expected(grade, name):
    expected = EXPECTED[name]
    result = by_exercise(grade(BUGGY / name))
    for ex_id in expected["full"]:
        assert result[ex_id].score == result[ex_id].max_score, f"{ex_id} should keep full marks"
    for ex_id in expected["partial"]:
        assert 0 < result[ex_id].score < result[ex_id].max_score, f"{ex_id} should lose some"
    for ex_id in expected["zero"]:
        assert result[ex_id].score == 0, f"{ex_id} should score 0"


def test_every_buggy_file_has_an_expectation():
    files = {p.name for p in BUGGY.glob("*.py")}
    assert files == set(EXPECTED)
    for name, expected in EXPECTED.items():
        listed = expected["full"] + expected["partial"] + expected["zero"]
        assert sorted(listed) == sorted(["mse", "forward", "backprop", "update", "train"]), name


@pytest.mark.parametrize("path", CORRECT, ids=[p.stem for p in CORRECT])
def test_alternative_correct_solutions_score_full_marks(grade, path):
    result = grade(path)
    failed = [(c.name, c.message) for ex in result.exercises for c in ex.cases if not c.passed]
    assert failed == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hidden_cases_never_reveal_expected_values(grade, name):
    result = grade(BUGGY / name)
    hidden = [c for ex in result.exercises for c in ex.cases if c.hidden and not c.passed]
    for case in hidden:
        assert not re.search(r"expected -?[\d\[]", case.message), (case.name, case.message)
