"""Reference, stubs, catalogued mistakes and alternative solutions, graded for real."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CORRECT, GRADED_CORPUS_PY, REFERENCE, ROOT, STUB, SUBMISSIONS

from autograder.checks import as_number

BUGGY = SUBMISSIONS / "buggy"
EXPECTED = json.loads((BUGGY / "expected.json").read_text())


def by_exercise(result):
    return {ex.exercise.id: ex for ex in result.exercises}


def test_reference_scores_full_marks(graded_corpus, course):
    result = graded_corpus[REFERENCE]
    failed = [(c.name, c.message) for ex in result.exercises for c in ex.cases if not c.passed]
    assert failed == []
    assert result.score == course.max_score == 100
    assert result.status == "ok"


def test_untouched_stubs_score_zero(graded_corpus):
    result = graded_corpus[STUB]
    assert result.score == 0
    assert result.status == "not_attempted"
    messages = {c.message for ex in result.exercises for c in ex.cases}
    assert all("not written yet" in m for m in messages)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_buggy_submission_loses_points_where_expected(graded_corpus, name):
    expected = EXPECTED[name]
    result = by_exercise(graded_corpus[BUGGY / name])
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
def test_alternative_correct_solutions_score_full_marks(graded_corpus, path):
    result = graded_corpus[path]
    failed = [(c.name, c.message) for ex in result.exercises for c in ex.cases if not c.passed]
    assert failed == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hidden_cases_never_reveal_expected_values(graded_corpus, name):
    result = graded_corpus[BUGGY / name]
    hidden = [c for ex in result.exercises for c in ex.cases if c.hidden and not c.passed]
    for case in hidden:
        assert not re.search(r"expected -?[\d\[]", case.message), (case.name, case.message)


def reference_with(function: str, source: str) -> str:
    """The reference, with one function replaced by source."""
    text = (ROOT / "solutions" / "backprop.py").read_text()
    text = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n", "", text)
    node = next(n for n in ast.parse(text).body
                if isinstance(n, ast.FunctionDef) and n.name == function)
    lines = text.splitlines(keepends=True)
    return "".join(lines[:node.lineno - 1]) + source + "".join(lines[node.end_lineno:])


TRAIN_DEF = "def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):\n"
TRAIN_HEAD = TRAIN_DEF + """    rng = np.random.default_rng(seed)
    d_in, d_out = x.shape[1], y.shape[1]
    params = {"W1": rng.normal(size=(d_in, hidden_size)) / np.sqrt(d_in),
              "b1": np.zeros(hidden_size),
              "W2": rng.normal(size=(hidden_size, d_out)) / np.sqrt(hidden_size),
              "b2": np.zeros(d_out)}
"""

# Submissions that change their arguments in place or report what they did not do, and
# the cases that must see through it.
UNTRUSTWORTHY = {
    "forward_wipes_x_after_computing": ("forward", """def forward(x, params):
    z1 = dense(x, params["W1"], params["b1"])
    a1 = sigmoid(z1)
    y_pred = dense(a1, params["W2"], params["b2"])
    x[...] = 0.0
    return y_pred, {"x": x, "z1": z1, "a1": a1, "y_pred": y_pred}
""", {"forward_cache"}),
    "backward_swaps_params_for_1x1": ("backward", """def backward(params, cache, y_true):
    for key in list(params):
        params[key] = np.zeros((1, 1))
    return {key: np.zeros((1, 1)) for key in params}
""", {"backward_returns_four_gradients"}),
    "update_swaps_params_for_1x1": ("update", """def update(params, grads, lr):
    for key in list(params):
        params[key] = np.zeros((1, 1))
    return {key: np.zeros((1, 1)) for key in params}
""", {"update_leaves_grads_unchanged"}),
    "train_reports_losses_after_update": ("train", TRAIN_HEAD + """    losses = []
    for _ in range(epochs):
        y_pred, cache = forward(x, params)
        params = update(params, backward(params, cache, y), lr)
        losses.append(mse(y, forward(x, params)[0]))
    return params, losses
""", {"train_reports_the_loss_of_its_weights"}),
    "train_real_weights_invented_losses": ("train", TRAIN_HEAD + """    for _ in range(epochs):
        y_pred, cache = forward(x, params)
        params = update(params, backward(params, cache, y), lr)
    return params, [0.5 * 0.99 ** e for e in range(epochs)]
""", {"train_reports_the_loss_of_its_weights"}),
    "train_same_answer_always": ("train", TRAIN_DEF + """    gen = np.random.default_rng(0)
    params = {"W1": gen.normal(size=(x.shape[1], hidden_size)), "b1": np.zeros(hidden_size),
              "W2": gen.normal(size=(hidden_size, y.shape[1])), "b2": np.zeros(y.shape[1])}
    return params, [1.0 / (e + 1) for e in range(epochs)]
""", {"train_loss_goes_down", "train_fits_the_curve", "train_reports_the_loss_of_its_weights",
      "train_several_outputs", "train_is_repeatable"}),
    "train_wipes_its_data": ("train", TRAIN_DEF + """    d_in, d_out = x.shape[1], y.shape[1]
    x[...] = 0.0
    y[...] = 0.0
    params = {"W1": np.zeros((d_in, hidden_size)), "b1": np.zeros(hidden_size),
              "W2": np.zeros((hidden_size, d_out)), "b2": np.zeros(d_out)}
    return params, [0.0] * epochs
""", {"train_loss_goes_down", "train_fits_the_curve", "train_reports_the_loss_of_its_weights",
      "train_several_outputs", "train_is_repeatable"}),
}


def untrustworthy_files(folder: Path) -> dict[str, Path]:
    """GRADED: name -> the reference with UNTRUSTWORTHY's function."""
    paths = {}
    for name, (function, source, _) in UNTRUSTWORTHY.items():
        paths[name] = folder / f"{name}.py"
        paths[name].write_text(reference_with(function, source))
    return paths


GRADED = {**GRADED_CORPUS_PY, "untrustworthy": untrustworthy_files}


@pytest.fixture(scope="module")
def untrustworthy(grading_pool):
    """name -> the StudentResult of each UNTRUSTWORTHY submission."""
    return grading_pool.results("untrustworthy", untrustworthy_files)


@pytest.mark.parametrize("name", sorted(UNTRUSTWORTHY))
def test_hidden_tests_never_trust_what_the_student_reports(untrustworthy, name):
    must_fail = UNTRUSTWORTHY[name][2]
    result = untrustworthy[name]
    passed = {c.name for ex in result.exercises for c in ex.cases if c.passed}
    assert must_fail & passed == set()


def test_every_test_file_states_the_rule(suites):
    for suite in suites:
        path = ROOT / "solutions" / "tests" / f"{suite.exercise.id}.py"
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and "never trust what the student reports" in doc, path.name
        assert suite.test_file.name == suite.exercise.id


def _verdicts(result) -> dict[str, bool]:
    return {f"{ex.exercise.id}.{case.name}": case.passed
            for ex in result.exercises for case in ex.cases}


def test_busy_cpus_change_no_grade_of_a_correct_file(graded_corpus, grade_many):
    """Limits count the student's CPU time: with four busy processes on the CPU it runs
    on, all this test's own, each correct file (loop-based ones included; all graded at
    once, on that CPU too) gets exactly its quiet-machine verdicts. (One CPU, so that the
    busy processes burn one CPU's time, not all of them.)"""
    quiet = {path.name: _verdicts(graded_corpus[path]) for path in CORRECT}
    grade_many.ready(len(CORRECT))
    cpu = {min(os.sched_getaffinity(0))}
    hog = f"import os\nos.sched_setaffinity(0, {cpu})\nwhile True:\n    pass\n"
    hogs = [subprocess.Popen([sys.executable, "-c", hog],
                             start_new_session=True)  # each its own share of the CPU
            for _ in range(4)]
    try:
        graded = grade_many(CORRECT, lanes=len(CORRECT), cpus=cpu)
        busy = {path.name: _verdicts(result) for path, result in graded.items()}
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert busy == quiet
    assert all(all(verdicts.values()) for verdicts in quiet.values())


@pytest.mark.parametrize("value", [np.float32(1.5), np.float64(1.5), np.int64(2), 1.5, 2])
def test_numpy_scalars_are_numbers_as_under_otter(value):
    """Under otter the student's value reaches the check unconverted: a float32 is a
    number there too, so both graders agree."""
    assert as_number(value, "mse(...)") == float(value)


@pytest.mark.parametrize("value", [True, np.bool_(True), np.array(True), "1.5", [1.5],
                                   np.array([1.5])])
def test_what_is_not_one_number_is_refused(value):
    with pytest.raises(AssertionError, match="expected one number"):
        as_number(value, "mse(...)")
