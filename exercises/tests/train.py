"""Tests of train, the training loop.

Hidden tests never trust what the student reports:
- every expected value and threshold is computed before train is called, and
  train gets copies of x and y, so changing them in place (the grader writes
  such changes back) cannot change the data the grader measures on;
- train is judged on the weights it returns: the grader checks their shapes
  and computes their loss on the training data itself, with its own forward
  pass and mse; the fit and the fall of the loss are that recomputed loss;
- the losses train reports must agree with the weights it returns. losses[e]
  is the loss of epoch e's forward pass, before epoch e's update, so it is the
  loss of the weights after e updates: the last loss that train(epochs=E + 1)
  reports must equal, within the tolerance of course.yaml, the recomputed loss
  of the weights train(epochs=E) returns with the same seed. That comparison
  is exact (a correct train differs only by rounding); comparing the last loss
  of one run with its own returned weights would not be, since they are one
  update apart (a gap of several percent after a few dozen epochs here);
- the weights must come from gradient descent: train(epochs=E + 1) is one
  step of the reference's forward, backward and update away from
  train(epochs=E), for two values of E drawn from course.yaml's seed (one
  early, one late), so no other way of fitting passes;
- every hidden case grades train by itself (checks.alone): the reference's
  forward, backward, update and mse stand in for the student's, so a bug in
  one of those is charged to its own exercise, and cannot collude with train.
  The public cases run the student's own functions together;
- repeatable means the weights come from the seed and the data: the same seed
  twice gives the same weights, another seed or other targets other weights.
"""

OK_FORMAT = False
name = "train"

import numpy as np
from otter.test_files import test_case

from autograder.checks import as_number, as_params, as_tuple, copy_of


def curve(n=32):
    """A small regression task that a straight line cannot fit: sin(2x) + x**2."""
    x = np.linspace(-1.0, 1.0, n).reshape(-1, 1)
    return x, np.sin(2.0 * x) + x**2


def run_train(train, x, y, hidden_size, lr, epochs, seed, exact=False):
    """train on copies of x and y: (params as float arrays of the pinned shapes, losses as
    floats, one per epoch); exact: a shape that differs by an axis of length 1 fails too."""
    result = as_tuple(train(copy_of(x), copy_of(y), hidden_size=hidden_size, lr=lr,
                            epochs=epochs, seed=seed), 2, "train(x, y, ...)")
    params = as_params(result[0], shapes_for(x, y, hidden_size), "params", exact)
    reported = result[1]
    if isinstance(reported, np.ndarray) and reported.ndim == 1:
        reported = list(reported)
    if not isinstance(reported, (list, tuple)):
        raise AssertionError(f"losses is a {type(reported).__name__}; expected a list of floats")
    reported = [as_number(v, f"losses[{i}]") for i, v in enumerate(reported)]
    assert len(reported) == epochs, (
        f"losses has {len(reported)} values; expected one per epoch, {epochs}")
    return params, reported


def shapes_for(x, y, hidden_size):
    """The pinned shapes of the weights for data x, y."""
    return {"W1": (x.shape[1], hidden_size), "b1": (hidden_size,),
            "W2": (hidden_size, y.shape[1]), "b2": (y.shape[1],)}


@test_case(points=1)
def train_returns_params_and_one_loss_per_epoch(train):
    """train(x, y, epochs=5) returns (params, losses): weights of the pinned shapes and 5
    losses"""
    x, y = curve()
    run_train(train, x, y, hidden_size=6, lr=0.5, epochs=5, seed=0, exact=True)


@test_case(points=2)
def train_loss_falls(train):
    """over 60 epochs (lr = 0.5) the loss falls below half of where it started"""
    x, y = curve()
    params, losses = run_train(train, x, y, hidden_size=6, lr=0.5, epochs=60, seed=0)
    with np.errstate(all="ignore"):  # weights gone to inf: a loss of nan, which fails
        a1 = 1 / (1 + np.exp(-(x @ params["W1"] + params["b1"])))
        end = float(np.mean((y - (a1 @ params["W2"] + params["b2"])) ** 2))
    assert losses[-1] < 0.5 * losses[0] and end < 0.5 * losses[0], (
        f"the losses train reports go from {losses[0]:.3g} to {losses[-1]:.3g}, and the "
        f"weights it returns have a loss of {end:.3g}; both should fall below half the "
        "first loss. Check that every epoch runs forward, mse, backward and update, and "
        "keeps the weights update returns"
    )
