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
    copy_of,
    expect_close,
    numerical_gradient,
    on_copies,
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


def tiny_loss(params, x, y_true):
    """The loss of the tiny network, computed here in plain NumPy."""
    a1 = 1 / (1 + np.exp(-(x @ params["W1"] + params["b1"])))
    return np.mean((y_true - (a1 @ params["W2"] + params["b2"])) ** 2)


@test_case(points=2)
def backward_returns_four_gradients(backward):
    """backward on a tiny network: each gradient is the slope of the loss, measured by nudging"""
    params = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([0.0, 0.0]),
              "W2": np.array([[2.0], [2.0]]), "b2": np.array([-2.0])}
    x, y_true = np.array([[0.0], [1.0]]), np.array([[1.0], [1.0]])
    z1 = x @ params["W1"] + params["b1"]
    a1 = 1 / (1 + np.exp(-z1))
    cache = {"x": x, "z1": z1, "a1": a1, "y_pred": a1 @ params["W2"] + params["b2"]}
    slopes = numerical_gradient(lambda p: tiny_loss(p, x, y_true), copy_of(params))
    grads = as_dict(on_copies(backward, params, cache, y_true), KEYS, "grads")
    for key in KEYS:
        expect_close(grads[key], slopes[key], f"grads[{key!r}]", reveal=True)
