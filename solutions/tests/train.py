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


### BEGIN HIDDEN TESTS
from autograder.checks import agree, alone, rng
from solutions import backprop as ref

HELPERS = ("forward", "backward", "update", "mse")  # the reference's stand in for these


def one_epoch(call_args, call_kwargs, question, args, answer):
    """After a forward pass of train's: the rest of a plain epoch (mse, backward, update),
    answered by the reference, so that the grader can send these answers with forward's
    (checks.alone). Only a saving: a loop that asks anything else gets each answer when
    it asks; and the next epoch's answers come only when train asks forward for them."""
    if question != "forward" or len(args) != 2 or len(call_args) != 2:
        return []
    y, params, lr = call_args[1], args[1], call_kwargs["lr"]
    y_pred, cache = answer
    grads = ref.backward(params, cache, y)
    return [("mse", (y, y_pred), ref.mse(y, y_pred)), ("backward", (params, cache, y), grads),
            ("update", (params, grads, lr), ref.update(params, grads, lr))]


def by_itself(train):
    """train with the reference's forward, backward, update and mse standing in for the
    student's (checks.alone), each forward answered with the rest of its epoch."""
    return alone(train, ref, *HELPERS, foresee=one_epoch)


def baseline(y):
    """The loss of always predicting the mean of y: a model must beat this."""
    return float(np.mean((y - y.mean(axis=0)) ** 2))


def assert_finite(params, call):
    bad = [key for key, value in params.items() if not np.all(np.isfinite(value))]
    assert not bad, f"the weights {call} returns hold nan or inf (in {', '.join(bad)})"


def loss_of(params, x, y, when):
    """The loss of the weights train returned, measured by the grader on the data (which
    train never received: it got copies) with the reference forward pass and mse."""
    with np.errstate(all="ignore"):
        loss = ref.mse(y, ref.forward(x, params)[0])
    assert np.isfinite(loss), f"the weights train returns {when} give a loss of nan or inf"
    return loss


@test_case(points=3, hidden=True)
def train_loss_goes_down(train):
    """the loss of the weights train returns falls clearly from 1 to 40 epochs"""
    x, y = curve()
    train = by_itself(train)
    early, _ = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=1, seed=1)
    late, losses = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=40, seed=1)
    assert np.all(np.isfinite(losses)), "some of the losses train reports are nan or inf"
    start = loss_of(early, x, y, "after 1 epoch")
    end = loss_of(late, x, y, "after 40 epochs")
    assert end < 0.8 * start, (
        f"the weights train returns have a loss of {start:.3g} after 1 epoch and {end:.3g} "
        "after 40 epochs (measured by the grader on the training data, with a correct "
        "forward pass and mse); it should fall clearly. Check that every epoch runs forward, "
        "mse, backward and update, and keeps the weights update returns"
    )


@test_case(points=4, hidden=True)
def train_fits_the_curve(train):
    """after 200 epochs the weights fit far better than always predicting the mean"""
    x, y = curve()
    target = 0.1 * baseline(y)  # a straight line gets about 0.19 of it: only a network passes
    # 6 hidden nodes at lr = 0.5 reached it within 200 epochs from each of 3,000 random
    # starts (normal / sqrt(d), normal * 0.1, uniform(-1, 1)): a correct train passes
    # whatever its seed or its way to start
    train = by_itself(train)
    params, _ = run_train(train, x, y, hidden_size=6, lr=0.5, epochs=200, seed=2)
    loss = loss_of(params, x, y, "after 200 epochs")
    assert loss < target, (
        f"the weights train returns after 200 epochs have a loss of {loss:.3g} on the "
        "training data (measured by the grader, with a correct forward pass and mse); a "
        f"trained network should get below {target:.3g} (a tenth of the loss of always "
        "predicting the mean)"
    )


@test_case(points=5, hidden=True)
def train_takes_gradient_descent_steps(train):
    """each epoch is one gradient-descent step: forward, mse, backward, update"""
    x, y = curve()
    train = by_itself(train)
    gen = rng("train steps")  # from course.yaml's seed: not known to students
    for epochs in (int(gen.integers(1, 6)), int(gen.integers(10, 20))):
        start, _ = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=epochs, seed=6)
        after, _ = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=epochs + 1, seed=6)
        assert_finite(start, f"train(epochs={epochs})")  # nan is "equal" to nan in agree
        _, cache = ref.forward(x, start)
        step = ref.update(start, ref.backward(start, cache, y), 0.5)
        assert agree(after, step), (
            f"with seed=6, the weights of train(epochs={epochs + 1}) are not one "
            f"gradient-descent step (lr=0.5) away from those of train(epochs={epochs}); "
            "every epoch must run forward, mse, backward and update once, on the weights "
            "of the epoch before"
        )


@test_case(points=2, hidden=True)
def train_reports_the_loss_of_its_weights(train):
    """the losses train reports are those of the weights it returns"""
    x, y = curve()
    train = by_itself(train)
    params, losses = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=6, seed=5)
    _, longer = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=7, seed=5)
    assert agree(longer[:6], losses), (
        "with seed=5, train(epochs=6) and train(epochs=7) report different losses for the "
        "same 6 epochs; start from np.random.default_rng(seed) and report each epoch's loss"
    )
    loss = loss_of(params, x, y, "after 6 epochs")
    if not agree(longer[6], loss):
        off = abs(longer[6] - loss) / max(abs(loss), 1e-12)
        raise AssertionError(
            f"losses[6] of train(epochs=7) differs by {off:.3g} (relative) from the loss of "
            "the weights train(epochs=6) returns; losses[e] must be your mse of epoch e's "
            "forward pass, before that epoch's update, and params the weights after the last "
            "update"
        )


@test_case(points=1, hidden=True)
def train_several_outputs(train):
    """train on 30 samples with 2 inputs and 2 outputs"""
    x = np.linspace(-1.0, 1.0, 60).reshape(30, 2)
    y = np.column_stack([x[:, 0] * x[:, 1], np.sin(2 * x[:, 0])])
    train = by_itself(train)
    early, _ = run_train(train, x, y, hidden_size=5, lr=0.5, epochs=1, seed=2)
    late, _ = run_train(train, x, y, hidden_size=5, lr=0.5, epochs=40, seed=2)
    start = loss_of(early, x, y, "after 1 epoch")
    end = loss_of(late, x, y, "after 40 epochs")
    assert end < 0.8 * start, (
        f"with 2 inputs and 2 outputs, the weights train returns have a loss of {start:.3g} "
        f"after 1 epoch and {end:.3g} after 40 epochs (measured by the grader, with a "
        "correct forward pass and mse); it should fall clearly"
    )


@test_case(points=2, hidden=True)
def train_is_repeatable(train):
    """the weights come from the seed and the data: same seed, same weights; another seed
    or other targets, other weights"""
    x, y = curve(20)
    other_y = np.cos(3.0 * x)
    train = by_itself(train)
    first, first_losses = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=3, seed=3)
    assert_finite(first, "train(epochs=3)")
    again, again_losses = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=3, seed=3)
    assert agree(first, again) and agree(first_losses, again_losses), (
        "two runs with seed=3 on the same data returned different weights or losses; make "
        "the starting weights with np.random.default_rng(seed)"
    )
    other_seed, _ = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=3, seed=4)
    assert not agree(first, other_seed), (
        "seed=3 and seed=4 gave the same weights; the starting weights must come from "
        "np.random.default_rng(seed)"
    )
    other_data, _ = run_train(train, x, other_y, hidden_size=8, lr=0.5, epochs=3, seed=3)
    assert not agree(first, other_data), (
        "two different sets of targets y gave the same weights (same seed); training must "
        "learn from x and y"
    )
### END HIDDEN TESTS
