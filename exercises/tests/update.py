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
