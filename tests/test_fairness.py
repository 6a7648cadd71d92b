"""The catalogue of mistakes checks that the tests deduct points fairly.

Every catalogued mistake, graded as a whole submission, scores strictly between 0
and full marks, loses points in its own exercise, keeps full marks in every
exercise that does not call the buggy function, and is named by the diagnosis.
"""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import ROOT

from autograder.course import load_course
from autograder.diagnosis import load_catalogue

COURSE = load_course(ROOT / "course.yaml")
MISTAKES = load_catalogue(COURSE).mistakes


def exercise_of(function: str) -> str:
    return next(ex.id for ex in COURSE.exercises if function in ex.functions)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_a_catalogued_mistake_loses_points_only_where_it_should(
        mistake, grade, catalogue, tmp_path):
    path = tmp_path / f"{mistake.id}.py"
    path.write_text(mistake.source)
    result = grade(path)
    scores = {ex.exercise.id: ex for ex in result.exercises}
    assert 0 < result.score < result.max_score
    own = scores[exercise_of(mistake.function)]
    assert own.score < own.max_score, "the buggy function's own exercise lost nothing"
    callers = catalogue.callers[mistake.function]
    for ex in COURSE.exercises:
        if not callers & set(ex.functions):
            assert scores[ex.id].score == scores[ex.id].max_score, f"{ex.id} lost points"
    named = Counter(c.mistake for ex in result.exercises for c in ex.cases
                    if not c.passed and c.mistake)
    assert named and named.most_common(1)[0][0] == mistake.id, f"diagnosed as {dict(named)}"


def test_the_catalogue_has_every_mistake_the_course_promises():
    ids = {m.id for m in MISTAKES}
    assert len(ids) == len(MISTAKES) >= 14
    assert {"mse_sum", "mse_divides_by_rows", "mse_grad_sign", "mse_grad_no_2",
            "mse_grad_no_n", "backward_divides_by_n", "dense_no_bias", "forward_no_activation",
            "sigmoid_grad_at_activation", "bias_grad_averaged", "wrong_transpose",
            "backward_skips_activation", "update_adds", "update_modifies_inputs",
            "train_never_updates"} <= ids
