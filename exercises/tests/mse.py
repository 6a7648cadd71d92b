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
