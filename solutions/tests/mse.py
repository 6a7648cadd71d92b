"""Tests of the mean squared error, mse, and its gradient, mse_grad.

Hidden tests never trust what the student reports: every expected value is
computed before the student's function is called, and the function gets
copies of its inputs (on_copies), so changing its arguments in place (the
grader writes such changes back) cannot change what its answer is compared
with. Leaving the inputs unchanged is checked on its own, against copies
taken before the call.
"""

OK_FORMAT = False
name = "mse"

import numpy as np
from otter.test_files import test_case

from autograder.checks import as_number, expect_close

Y_TRUE = [1.0, 2.0, 3.0]
Y_PRED = [1.0, 2.0, 5.0]
BATCH_TRUE = [[1.0, 2.0], [3.0, 4.0]]
BATCH_PRED = [[1.0, 2.0], [3.0, 6.0]]


@test_case(points=1)
def mse_returns_one_number(mse):
    """mse returns a single float, not an array"""
    as_number(mse(np.array(Y_TRUE), np.array(Y_PRED)), "mse([1, 2, 3], [1, 2, 5])")


@test_case(points=1)
def mse_small_example(mse):
    """mse([1, 2, 3], [1, 2, 5]) = (0 + 0 + 2**2) / 3"""
    got = mse(np.array(Y_TRUE), np.array(Y_PRED))
    expect_close(got, 4 / 3, "mse([1, 2, 3], [1, 2, 5])", reveal=True)


@test_case(points=1)
def mse_on_a_batch(mse):
    """mse of a (2, 2) batch divides by its 4 values, not by its 2 rows"""
    got = mse(np.array(BATCH_TRUE), np.array(BATCH_PRED))
    expect_close(got, 2**2 / 4, "mse([[1, 2], [3, 4]], [[1, 2], [3, 6]])", reveal=True)


@test_case(points=1)
def mse_grad_small_example(mse_grad):
    """mse_grad([1, 2, 3], [1, 2, 5]) = 2 * [0, 0, 2] / 3"""
    got = mse_grad(np.array(Y_TRUE), np.array(Y_PRED))
    expect_close(got, [0.0, 0.0, 4 / 3], "mse_grad([1, 2, 3], [1, 2, 5])", reveal=True)


@test_case(points=1)
def mse_grad_on_a_batch(mse_grad):
    """mse_grad of a (2, 2) batch: 2 * (y_pred - y_true) / 4"""
    got = mse_grad(np.array(BATCH_TRUE), np.array(BATCH_PRED))
    expect_close(got, [[0.0, 0.0], [0.0, 2 * 2 / 4]],
                 "mse_grad([[1, 2], [3, 4]], [[1, 2], [3, 6]])", reveal=True)


### BEGIN HIDDEN TESTS
from autograder.checks import copy_of, expect_shape, expect_unchanged, on_copies, rng
from solutions import backprop as ref


def batch(label, *shape):
    gen = rng(label)
    return gen.normal(size=shape), gen.normal(size=shape)


@test_case(points=2, hidden=True)
def mse_on_a_vector(mse):
    """mse on 7 values"""
    y_true, y_pred = batch("mse vector", 7)
    expected = ref.mse(y_true, y_pred)
    expect_close(on_copies(mse, y_true, y_pred), expected, "mse on a (7,) vector")


@test_case(points=2, hidden=True)
def mse_on_several_columns(mse):
    """mse on a (7, 3) batch divides by all 21 values"""
    y_true, y_pred = batch("mse matrix", 7, 3)
    expected = ref.mse(y_true, y_pred)
    expect_close(on_copies(mse, y_true, y_pred), expected, "mse on a (7, 3) batch")


@test_case(points=1, hidden=True)
def mse_on_one_sample(mse):
    """mse on a batch of one sample"""
    y_true, y_pred = batch("mse one", 1, 3)
    expected = ref.mse(y_true, y_pred)
    expect_close(on_copies(mse, y_true, y_pred), expected, "mse on a (1, 3) batch")


@test_case(points=2, hidden=True)
def mse_grad_on_several_columns(mse_grad):
    """mse_grad on a (7, 3) batch"""
    y_true, y_pred = batch("mse_grad matrix", 7, 3)
    expected = ref.mse_grad(y_true, y_pred)
    expect_close(on_copies(mse_grad, y_true, y_pred), expected, "mse_grad on a (7, 3) batch")


@test_case(points=1, hidden=True)
def mse_grad_on_a_vector(mse_grad):
    """mse_grad on 7 values"""
    y_true, y_pred = batch("mse_grad vector", 7)
    expected = ref.mse_grad(y_true, y_pred)
    expect_close(on_copies(mse_grad, y_true, y_pred), expected, "mse_grad on a (7,) vector")


@test_case(points=1, hidden=True)
def mse_grad_on_one_sample(mse_grad):
    """mse_grad on a batch of one sample"""
    y_true, y_pred = batch("mse_grad one", 1, 3)
    expected = ref.mse_grad(y_true, y_pred)
    expect_close(on_copies(mse_grad, y_true, y_pred), expected, "mse_grad on a (1, 3) batch")


@test_case(points=1, hidden=True)
def mse_leaves_inputs_unchanged(mse, mse_grad):
    """mse and mse_grad return a number and an array, and leave y_true and y_pred as they were"""
    y_true, y_pred = batch("mse inputs", 7, 3)
    before = copy_of((y_true, y_pred))
    as_number(mse(y_true, y_pred), "mse on a (7, 3) batch")
    expect_shape(mse_grad(y_true, y_pred), (7, 3), "mse_grad on a (7, 3) batch")
    expect_unchanged(before[0], y_true, "y_true")
    expect_unchanged(before[1], y_pred, "y_pred")
### END HIDDEN TESTS
