"""Tests of backpropagation: sigmoid_grad, dense_backward and backward.

Hidden tests never trust what the student reports: every expected value
(answers, shapes, gradients by finite differences) is computed before the
student's function is called, and the function gets copies of its inputs
(on_copies), so changing its arguments in place (the grader writes such
changes back) cannot change what its answer is compared with. Leaving the
inputs unchanged is checked on its own, against copies taken before the call.
"""

OK_FORMAT = False
name = "backprop"

import numpy as np
from otter.test_files import test_case

from autograder.checks import (
    as_dict,
    as_tuple,
    expect_close,
    expect_shape,
    on_copies,
    random_params,
)

KEYS = ["W1", "b1", "W2", "b2"]


@test_case(points=2)
def sigmoid_grad_small_example(sigmoid_grad):
    """the sigmoid is steepest at 0, where its slope is 0.25"""
    got = sigmoid_grad(np.array([0.0, 1000.0]))
    expect_close(got, [0.25, 0.0], "sigmoid_grad([0, 1000])", reveal=True)


@test_case(points=3)
def dense_backward_small_example(dense_backward):
    """dense_backward with 2 samples, 1 input and 2 outputs"""
    grad_out = np.array([[1.0, 0.0], [2.0, -1.0]])
    x = np.array([[3.0], [1.0]])
    W = np.array([[1.0, 2.0]])
    got = as_tuple(dense_backward(grad_out, x, W), 3, "dense_backward(grad_out, x, W)")
    expect_close(got[0], [[1.0], [0.0]], "grad_x", reveal=True)
    expect_close(got[1], [[5.0, -1.0]], "grad_W", reveal=True)
    expect_close(got[2], [3.0, -1.0], "grad_b", reveal=True)


@test_case(points=2)
def backward_returns_four_gradients(backward):
    """backward returns a dict with one gradient per parameter, shaped like it"""
    params = random_params("public backward", 2, 3, 1)
    x = np.array([[0.5, -1.0], [1.0, 2.0]])
    z1 = x @ params["W1"] + params["b1"]
    a1 = 1 / (1 + np.exp(-z1))
    cache = {"x": x, "z1": z1, "a1": a1, "y_pred": a1 @ params["W2"] + params["b2"]}
    shapes = {key: params[key].shape for key in KEYS}
    grads = as_dict(on_copies(backward, params, cache, np.array([[1.0], [0.0]])), KEYS, "grads")
    for key in KEYS:
        expect_shape(grads[key], shapes[key], f"grads[{key!r}]")
