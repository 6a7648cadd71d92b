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


### BEGIN HIDDEN TESTS
import functools

from autograder.checks import (
    alone,
    expect_shape,
    expect_unchanged,
    random_params,
    relative_error,
    rng,
)
from solutions import backprop as ref

HELPERS = ("mse_grad", "dense_backward", "sigmoid_grad")  # backward's, from the reference

N, D_IN, H, D_OUT = 7, 5, 4, 3


def reference_case(label, n=N):
    """Parameters, a cache made by the reference forward pass, and targets."""
    params = random_params(label, D_IN, H, D_OUT)
    gen = rng(label + " data")
    x, y = gen.normal(size=(n, D_IN)), gen.normal(size=(n, D_OUT))
    _, cache = ref.forward(x, params)
    return params, cache, y


@functools.cache
def numeric_case(label):
    """reference_case plus the gradients by finite differences (computed once per batch)."""
    params, cache, y = reference_case(label)
    x = cache["x"]
    numeric = numerical_gradient(lambda p: ref.mse(y, ref.forward(x, p)[0]), copy_of(params))
    return params, cache, y, numeric


def layer_case(label, n=N):
    """grad_out (n, 3), x (n, 4), W (4, 3) for dense_backward."""
    gen = rng(label)
    return gen.normal(size=(n, D_OUT)), gen.normal(size=(n, H)), gen.normal(size=(H, D_OUT))


def call_backward(backward, params, cache, y):
    """backward by itself: the reference's helpers stand in for the student's."""
    return as_dict(on_copies(alone(backward, ref, *HELPERS), params, cache, y), KEYS, "grads")


@test_case(points=3, hidden=True)
def sigmoid_grad_on_a_matrix(sigmoid_grad):
    """sigmoid_grad at the pre-activation, on a (7, 4) array"""
    z = rng("sigmoid_grad").uniform(-4, 4, size=(7, 4))
    expected = ref.sigmoid_grad(z)
    got = on_copies(alone(sigmoid_grad, ref, "sigmoid"), z)
    expect_close(got, expected, "sigmoid_grad of a (7, 4) array")


@test_case(points=2, hidden=True)
def dense_backward_shapes(dense_backward):
    """grad_x, grad_W, grad_b have the shapes of x, W, b"""
    grad_out, x, W = layer_case("dense_backward shapes")
    got = as_tuple(on_copies(dense_backward, grad_out, x, W), 3,
                   "dense_backward(grad_out, x, W)")
    shapes = [(N, H), (H, D_OUT), (D_OUT,)]
    for value, shape, what in zip(got, shapes, ["grad_x", "grad_W", "grad_b"]):
        expect_shape(value, shape, what)


@test_case(points=4, hidden=True)
def dense_backward_values(dense_backward):
    """dense_backward with n=7, d_in=4, d_out=3"""
    grad_out, x, W = layer_case("dense_backward values")
    expected = ref.dense_backward(grad_out, x, W)
    got = as_tuple(on_copies(dense_backward, grad_out, x, W), 3,
                   "dense_backward(grad_out, x, W)")
    for value, want, what in zip(got, expected, ["grad_x", "grad_W", "grad_b"]):
        expect_close(value, want, what)


@test_case(points=1, hidden=True)
def dense_backward_on_one_sample(dense_backward):
    """dense_backward with a batch of one sample"""
    grad_out, x, W = layer_case("dense_backward one", n=1)
    expected = ref.dense_backward(grad_out, x, W)
    got = as_tuple(on_copies(dense_backward, grad_out, x, W), 3,
                   "dense_backward(grad_out, x, W)")
    for value, want, what in zip(got, expected, ["grad_x", "grad_W", "grad_b"]):
        expect_close(value, want, what + " for one sample")


@test_case(points=6, hidden=True)
def backward_output_layer(backward):
    """gradients of W2 and b2, n=7, d_in=5, h=4, d_out=3"""
    params, cache, y = reference_case("backward output")
    expected = ref.backward(params, cache, y)
    grads = call_backward(backward, params, cache, y)
    for key in ["W2", "b2"]:
        expect_close(grads[key], expected[key], f"grads[{key!r}]")


@test_case(points=6, hidden=True)
def backward_hidden_layer(backward):
    """gradients of W1 and b1, through the sigmoid"""
    params, cache, y = reference_case("backward hidden")
    expected = ref.backward(params, cache, y)
    grads = call_backward(backward, params, cache, y)
    for key in ["W1", "b1"]:
        expect_close(grads[key], expected[key], f"grads[{key!r}]")


@test_case(points=3, hidden=True)
def backward_gradient_check(backward):
    """every gradient agrees with centred finite differences of the loss"""
    params, cache, y, numeric = numeric_case("backward numeric")
    grads = call_backward(backward, params, cache, y)
    for key in KEYS:
        got = expect_shape(grads[key], numeric[key].shape, f"grads[{key!r}]")
        error = relative_error(got, numeric[key])
        assert error < 1e-4, (
            f"grads[{key!r}] disagrees with the slope of the loss measured by nudging "
            f"{key} up and down (relative error {error:.2g})"
        )


@test_case(points=1, hidden=True)
def backward_on_one_sample(backward):
    """backward with a batch of one sample"""
    params, cache, y = reference_case("backward one", n=1)
    expected = ref.backward(params, cache, y)
    grads = call_backward(backward, params, cache, y)
    for key in KEYS:
        expect_close(grads[key], expected[key], f"grads[{key!r}] for one sample")


@test_case(points=2, hidden=True)
def backward_leaves_inputs_unchanged(sigmoid_grad, dense_backward, backward):
    """sigmoid_grad, dense_backward and backward return the right shapes and leave their
    arguments as they were"""
    params, cache, y = reference_case("backward inputs")
    before = copy_of((params, cache, y))
    expect_shape(sigmoid_grad(cache["z1"]), (N, H), "sigmoid_grad(z1)")
    got = as_tuple(dense_backward(cache["y_pred"] - y, cache["a1"], params["W2"]), 3,
                   "dense_backward(grad_out, a1, W2)")
    for value, shape, what in zip(got, [(N, H), (H, D_OUT), (D_OUT,)],
                                  ["grad_x", "grad_W", "grad_b"]):
        expect_shape(value, shape, what)
    grads = as_dict(alone(backward, ref, *HELPERS)(params, cache, y), KEYS, "grads")
    for key in KEYS:
        expect_shape(grads[key], before[0][key].shape, f"grads[{key!r}]")
    expect_unchanged(before[0], params, "params")
    expect_unchanged(before[1], cache, "cache")
    expect_unchanged(before[2], y, "y_true")
### END HIDDEN TESTS
