"""The catalogue of mistakes and the hand-written buggy files check that the tests
deduct points fairly: one bug is charged where it is.

Every catalogued mistake and every buggy file, graded as a whole submission, scores
strictly between 0 and full marks, loses points in its own exercise and at most
OUTSIDE_LIMIT points in all the others (the cases that run the student's functions
together). A catalogued mistake also keeps full marks in every exercise that does
not call the buggy function, and is named by the diagnosis. The diagnosis names one
cause per function on a page: a buggy file's own mistake (expected.json's "mistake")
and no other, or none at all.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from pathlib import Path

import pytest
from conftest import GRADED_CORPUS_PY, ROOT, SUBMISSIONS

from autograder.course import load_course
from autograder.diagnosis import load_catalogue
from autograder.feedback import render_feedback_html

COURSE = load_course(ROOT / "course.yaml")
MISTAKES = load_catalogue(COURSE).mistakes
BUGGY = json.loads((SUBMISSIONS / "buggy" / "expected.json").read_text())
OUTSIDE_LIMIT = 5  # points one bug may cost outside its own exercise


def exercise_of(function: str) -> str:
    return next(ex.id for ex in COURSE.exercises if function in ex.functions)


def named_on_the_page(result) -> set[str]:
    """Every catalogued mistake a student's feedback names: the id a case records, or its
    explanation anywhere on the page (also inside "One of: ...")."""
    page = render_feedback_html(result, COURSE.assignment)
    recorded = {c.mistake for ex in result.exercises for c in ex.cases if c.mistake}
    return recorded | {m.id for m in MISTAKES if escape(m.explain) in page}


def by_function(ids: set[str]) -> dict[str, set[str]]:
    functions = {m.id: m.function for m in MISTAKES}
    grouped: dict[str, set[str]] = {}
    for mistake in ids:
        grouped.setdefault(functions[mistake], set()).add(mistake)
    return grouped


def assert_charged_where_it_is(result, own_id: str) -> None:
    """0 < score < max, points lost in own_id, at most OUTSIDE_LIMIT lost elsewhere."""
    assert 0 < result.score < result.max_score
    lost = {ex.exercise.id: ex.max_score - ex.score for ex in result.exercises}
    assert lost[own_id] > 0, f"the buggy function's own exercise ({own_id}) lost nothing"
    outside = {ex: points for ex, points in lost.items() if ex != own_id and points}
    assert sum(outside.values()) <= OUTSIDE_LIMIT, f"lost outside {own_id}: {outside}"


def mistake_files(folder: Path) -> dict[str, Path]:
    """GRADED: mistake id -> the reference with that one mistake."""
    paths = {}
    for mistake in MISTAKES:
        paths[mistake.id] = folder / f"{mistake.id}.py"
        paths[mistake.id].write_text(mistake.source)
    return paths


def hint_files(folder: Path) -> dict[str, Path]:
    """GRADED: bug -> the reference with HINTS' change."""
    paths = {}
    for bug, (old, new, *_) in HINTS.items():
        paths[bug] = folder / f"{bug}.py"
        paths[bug].write_text((ROOT / "solutions" / "backprop.py").read_text().replace(old, new))
    return paths


GRADED = {**GRADED_CORPUS_PY, "mistakes": mistake_files, "hints": hint_files}


@pytest.fixture(scope="module")
def mistakes_graded(grading_pool):
    """mistake id -> its StudentResult."""
    return grading_pool.results("mistakes", mistake_files)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_a_catalogued_mistake_loses_points_only_where_it_should(
        mistake, mistakes_graded, catalogue):
    result = mistakes_graded[mistake.id]
    scores = {ex.exercise.id: ex for ex in result.exercises}
    assert_charged_where_it_is(result, exercise_of(mistake.function))
    callers = catalogue.callers[mistake.function]
    for ex in COURSE.exercises:
        if not callers & set(ex.functions):
            assert scores[ex.id].score == scores[ex.id].max_score, f"{ex.id} lost points"
    named = Counter(c.mistake for ex in result.exercises for c in ex.cases
                    if not c.passed and c.mistake)
    assert named and named.most_common(1)[0][0] == mistake.id, f"diagnosed as {dict(named)}"
    causes = by_function(named_on_the_page(result))
    assert causes[mistake.function] == {mistake.id}, f"named {causes}"
    assert all(len(ids) == 1 for ids in causes.values()), f"two causes for one function: {causes}"


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_a_hand_written_bug_is_charged_where_it_is(name, graded_corpus):
    assert_charged_where_it_is(graded_corpus[SUBMISSIONS / "buggy" / name],
                               BUGGY[name]["exercise"])


@pytest.mark.parametrize("name", sorted(BUGGY))
def test_a_hand_written_bug_is_named_as_expected_and_nothing_else(name, graded_corpus):
    expected = BUGGY[name]["mistake"]
    named = named_on_the_page(graded_corpus[SUBMISSIONS / "buggy" / name])
    assert named == (set() if expected == "none" else {expected}), f"named {sorted(named)}"


def test_every_expected_mistake_is_in_the_catalogue():
    ids = {m.id for m in MISTAKES} | {"none"}
    assert {name: e["mistake"] for name, e in BUGGY.items() if e["mistake"] not in ids} == {}


MSE_GRAD = "return 2.0 * (y_pred - y_true) / y_pred.size"
HINTS = {  # a bug no mistake is, the case it fails, what its likely cause says, never says
    "broadcast": (MSE_GRAD, "return 2.0 * (y_pred - y_true.reshape(len(y_true), -1)) / "
                  "y_pred.size", "mse_grad_on_a_vector",
                  "probably a (7,) array combined with a (7, 1) one (broadcasting)", "(n"),
    "square_not_from_broadcasting": (
        MSE_GRAD, "return 2.0 * (y_pred - y_true) @ (y_pred - y_true).T / y_pred.size",
        "mse_grad_on_several_columns", "", "broadcasting"),
    "one_number_off": ("return float(np.mean((y_true - y_pred) ** 2))",
                       "return float(np.mean((y_true - y_pred) ** 2)) + 0.5",
                       "mse_on_a_vector", "", "times"),
}


@pytest.fixture(scope="module")
def hints_graded(grading_pool):
    """bug -> its StudentResult."""
    return grading_pool.results("hints", hint_files)


@pytest.mark.parametrize("bug", sorted(HINTS))
def test_a_generic_hint_only_where_shapes_and_values_show_it(bug, hints_graded):
    _, _, case, says, never = HINTS[bug]
    result = hints_graded[bug]
    verdict = next(c for ex in result.exercises for c in ex.cases if c.name == case)
    assert not verdict.passed and not verdict.mistake
    assert says in verdict.diagnosis and never not in verdict.diagnosis, verdict.diagnosis


def test_the_catalogue_has_every_mistake_the_course_promises():
    ids = {m.id for m in MISTAKES}
    assert len(ids) == len(MISTAKES) >= 14
    assert {"mse_sum", "mse_divides_by_rows", "mse_grad_sign", "mse_grad_no_2",
            "mse_grad_no_n", "backward_divides_by_n", "dense_no_bias", "forward_no_activation",
            "sigmoid_grad_at_activation", "bias_grad_averaged", "wrong_transpose",
            "backward_skips_activation", "update_adds", "update_modifies_inputs",
            "train_never_updates"} <= ids
