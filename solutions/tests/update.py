"""Tests of update, one step of gradient descent.

Hidden tests never trust what the student reports: every expected value (the
new parameters and their shapes) is computed before the student's function is
called, and the function gets copies of its inputs (on_copies), so changing
params or grads in place (the grader writes such changes back) cannot change
what its answer is compared with. Leaving the inputs unchanged is checked on
its own, against copies taken before the call.
"""

OK_FORMAT = False
name = "update"

import numpy as np
from otter.test_files import test_case

from autograder.checks import as_dict, as_params, copy_of, expect_close, expect_unchanged

KEYS = ["W1", "b1", "W2", "b2"]


@test_case(points=2)
def update_small_example(update):
    """one step with lr = 0.1 moves each value against its gradient"""
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0]),
              "W2": np.array([[2.0]]), "b2": np.array([-1.0])}
    grads = {"W1": np.array([[10.0]]), "b1": np.array([-5.0]),
             "W2": np.array([[0.0]]), "b2": np.array([1.0])}
    new = as_dict(update(params, grads, 0.1), KEYS, "update(params, grads, 0.1)")
    expected = {"W1": [[0.0]], "b1": [0.5], "W2": [[2.0]], "b2": [-1.1]}
    for key in KEYS:
        expect_close(new[key], expected[key], f"new_params[{key!r}]", reveal=True)


@test_case(points=1)
def update_leaves_its_inputs_unchanged(update):
    """update returns new arrays and leaves params and grads as they were (no -=)"""
    params = {"W1": np.array([[1.0, 2.0]]), "b1": np.array([0.0, 1.0]),
              "W2": np.array([[2.0], [-1.0]]), "b2": np.array([-1.0])}
    grads = {key: np.ones_like(value) for key, value in params.items()}
    before = copy_of((params, grads))
    shapes = {key: value.shape for key, value in params.items()}
    as_params(update(params, grads, 0.5), shapes, "update(params, grads, 0.5)")
    expect_unchanged(before[0], params, "params")
    expect_unchanged(before[1], grads, "grads")


### BEGIN HIDDEN TESTS
from autograder.checks import expect_shape, on_copies, random_params
from solutions import backprop as ref


def expect_new_params(new, shapes):
    new = as_dict(new, KEYS, "new_params")
    for key in KEYS:
        expect_shape(new[key], shapes[key], f"new_params[{key!r}]")


def shapes_of(params):
    return {key: np.shape(params[key]) for key in KEYS}


def reference_case(label):
    return random_params(label, 5, 4, 3), random_params(label + " grads", 5, 4, 3)


@test_case(points=3, hidden=True)
def update_rule(update):
    """p - lr * grad for every parameter, n=7, d_in=5, h=4, d_out=3"""
    params, grads = reference_case("update rule")
    expected = ref.update(params, grads, 0.05)
    new = as_dict(on_copies(update, params, grads, 0.05), KEYS, "new_params")
    for key in KEYS:
        expect_close(new[key], expected[key], f"new_params[{key!r}]")


@test_case(points=2, hidden=True)
def update_leaves_params_unchanged(update):
    """update returns a new dict with the right shapes and leaves params as it was"""
    params, grads = reference_case("update params")
    before, shapes = copy_of(params), shapes_of(params)
    expect_new_params(update(params, copy_of(grads), 0.05), shapes)
    expect_unchanged(before, params, "params")


@test_case(points=2, hidden=True)
def update_leaves_grads_unchanged(update):
    """update returns a new dict with the right shapes and leaves grads as it was"""
    params, grads = reference_case("update grads")
    before, shapes = copy_of(grads), shapes_of(params)
    expect_new_params(update(copy_of(params), grads, 0.05), shapes)
    expect_unchanged(before, grads, "grads")
### END HIDDEN TESTS
