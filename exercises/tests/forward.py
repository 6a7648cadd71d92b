"""Tests of the forward pass: sigmoid, dense and forward.

Hidden tests never trust what the student reports: every expected value is
computed before the student's function is called, and the function gets
copies of its inputs (on_copies), so changing its arguments in place (the
grader writes such changes back) cannot change what its answer is compared
with; this matters for the cache, whose expected "x" is the input itself.
Leaving the inputs unchanged is checked on its own, against copies taken
before the call.
"""

OK_FORMAT = False
name = "forward"

import numpy as np
from otter.test_files import test_case

from autograder.checks import as_dict, as_tuple, expect_close, expect_shape

CACHE_KEYS = ["x", "z1", "a1", "y_pred"]
TINY_PARAMS = {
    "W1": [[1.0, -1.0]],
    "b1": [0.0, 0.0],
    "W2": [[2.0], [2.0]],
    "b2": [-2.0],
}


@test_case(points=1)
def sigmoid_small_example(sigmoid):
    """sigmoid(0) = 0.5 and sigmoid(-z) = 1 - sigmoid(z)"""
    got = sigmoid(np.array([-1.0, 0.0, 1.0]))
    expected = [1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1))]
    expect_close(got, expected, "sigmoid([-1, 0, 1])", reveal=True)


@test_case(points=1)
def sigmoid_large_inputs(sigmoid):
    """sigmoid(-1000) is 0 and sigmoid(1000) is 1, with no nan"""
    got = sigmoid(np.array([-1000.0, 1000.0]))
    expect_close(got, [0.0, 1.0], "sigmoid([-1000, 1000])", reveal=True)


@test_case(points=2)
def dense_small_example(dense):
    """dense of one sample with 2 inputs and 3 outputs"""
    x = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    b = np.array([0.5, 0.0, -1.0])
    expect_close(dense(x, W, b), [[1.5, 2.0, 2.0]], "dense(x, W, b)", reveal=True)


@test_case(points=2)
def forward_returns_prediction_and_cache(forward):
    """forward returns (y_pred, cache) with the four cache keys"""
    x = np.array([[0.0], [1.0]])
    params = {k: np.array(v) for k, v in TINY_PARAMS.items()}
    y_pred, cache = as_tuple(forward(x, params), 2, "forward(x, params)")
    expect_shape(y_pred, (2, 1), "y_pred")
    as_dict(cache, CACHE_KEYS, "cache")
    expect_close(y_pred, [[0.0], [0.0]], "y_pred for x = [[0], [1]]", reveal=True)
