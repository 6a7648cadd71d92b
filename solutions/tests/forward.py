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


### BEGIN HIDDEN TESTS
from autograder.checks import (
    alone,
    copy_of,
    expect_unchanged,
    on_copies,
    random_params,
    rng,
)
from solutions import backprop as ref

N, D_IN, H, D_OUT = 7, 5, 4, 3


def call_forward(forward, x, params):
    """forward by itself: the reference's dense and sigmoid stand in for the student's."""
    return as_tuple(on_copies(alone(forward, ref, "dense", "sigmoid"), x, params), 2,
                    "forward(x, params)")


def network_inputs(label, n=N):
    params = random_params(label, D_IN, H, D_OUT)
    x = rng(label + " x").normal(size=(n, D_IN))
    return x, params


@test_case(points=2, hidden=True)
def sigmoid_on_a_matrix(sigmoid):
    """sigmoid on a (7, 4) array of values between -6 and 6"""
    z = rng("sigmoid").uniform(-6, 6, size=(7, 4))
    expected = ref.sigmoid(z)
    expect_close(on_copies(sigmoid, z), expected, "sigmoid of a (7, 4) array")


@test_case(points=3, hidden=True)
def dense_on_a_batch(dense):
    """dense with n=7, d_in=5, d_out=3"""
    x, params = network_inputs("dense")
    W, b = params["W1"], params["b1"]
    expected = ref.dense(x, W, b)
    expect_close(on_copies(dense, x, W, b), expected, "dense(x, W, b)")


@test_case(points=1, hidden=True)
def dense_on_one_sample(dense):
    """dense with a batch of one sample"""
    x, params = network_inputs("dense one", n=1)
    W, b = params["W2"][:, :2], params["b2"][:2]
    x = x[:, :H]
    expected = ref.dense(x, W, b)
    expect_close(on_copies(dense, x, W, b), expected, "dense(x, W, b)")


@test_case(points=3, hidden=True)
def forward_prediction(forward):
    """y_pred for n=7, d_in=5, h=4, d_out=3"""
    x, params = network_inputs("forward")
    expected, _ = ref.forward(x, params)
    y_pred, _ = call_forward(forward, x, params)
    expect_close(y_pred, expected, "y_pred")


@test_case(points=2, hidden=True)
def forward_cache(forward):
    """the cache holds x, z1, a1 and y_pred"""
    x, params = network_inputs("forward cache")
    _, expected = ref.forward(x, params)
    _, cache = call_forward(forward, x, params)
    as_dict(cache, CACHE_KEYS, "cache")
    for key in CACHE_KEYS:
        expect_close(cache[key], expected[key], f"cache[{key!r}]")


@test_case(points=1, hidden=True)
def forward_on_one_sample(forward):
    """forward with a batch of one sample"""
    x, params = network_inputs("forward one", n=1)
    expected, _ = ref.forward(x, params)
    y_pred, _ = call_forward(forward, x, params)
    expect_close(y_pred, expected, "y_pred for one sample")


@test_case(points=2, hidden=True)
def forward_leaves_inputs_unchanged(sigmoid, dense, forward):
    """sigmoid, dense and forward return arrays of the right shapes and leave their
    arguments as they were"""
    x, params = network_inputs("forward inputs")
    before = copy_of((x, params))
    expect_shape(sigmoid(x), (N, D_IN), "sigmoid(x)")
    expect_shape(dense(x, params["W1"], params["b1"]), (N, H), "dense(x, W1, b1)")
    y_pred, _ = as_tuple(forward(x, params), 2, "forward(x, params)")
    expect_shape(y_pred, (N, D_OUT), "y_pred")
    expect_unchanged(before[0], x, "x")
    expect_unchanged(before[1], params, "params")
### END HIDDEN TESTS
