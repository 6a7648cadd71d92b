OK_FORMAT = False
name = "train"

import numpy as np
from otter.test_files import test_case

from autograder.checks import as_dict, as_number, as_tuple, expect_shape

KEYS = ["W1", "b1", "W2", "b2"]


def curve(n=32):
    """A small regression task that a straight line cannot fit: sin(2x) + x**2."""
    x = np.linspace(-1.0, 1.0, n).reshape(-1, 1)
    return x, np.sin(2.0 * x) + x**2


def run_train(train, *args, **kwargs):
    result = as_tuple(train(*args, **kwargs), 2, "train(x, y, ...)")
    params = as_dict(result[0], KEYS, "params")
    losses = result[1]
    if not isinstance(losses, (list, tuple, np.ndarray)):
        raise AssertionError(f"losses is a {type(losses).__name__}; expected a list of floats")
    return params, [as_number(v, f"losses[{i}]") for i, v in enumerate(losses)]


@test_case(points=3)
def train_returns_params_and_one_loss_per_epoch(train):
    """train(x, y, epochs=5) returns (params, losses) with 5 losses"""
    x, y = curve()
    params, losses = run_train(train, x, y, hidden_size=6, lr=0.5, epochs=5, seed=0)
    assert len(losses) == 5, f"losses has {len(losses)} values; expected one per epoch, 5"
    for key, shape in zip(KEYS, [(1, 6), (6,), (6, 1), (1,)]):
        expect_shape(params[key], shape, f"params[{key!r}]")


### BEGIN HIDDEN TESTS
def baseline(y):
    """The loss of always predicting the mean of y: a model must beat this."""
    return float(np.mean((y - y.mean(axis=0)) ** 2))


@test_case(points=5, hidden=True)
def train_loss_goes_down(train):
    """the loss falls during training (100 epochs)"""
    x, y = curve()
    _, losses = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=100, seed=1)
    assert len(losses) == 100, f"losses has {len(losses)} values; expected 100"
    assert np.all(np.isfinite(losses)), "some losses are nan or inf"
    assert losses[-1] < 0.8 * losses[0], (
        f"the loss went from {losses[0]:.3g} to {losses[-1]:.3g}; it should fall clearly"
    )


@test_case(points=8, hidden=True)
def train_fits_the_curve(train):
    """after 400 epochs the loss is far below that of always predicting the mean"""
    x, y = curve()
    _, losses = run_train(train, x, y, hidden_size=8, lr=0.5, epochs=400, seed=0)
    assert len(losses) == 400, f"losses has {len(losses)} values; expected 400"
    target = 0.1 * baseline(y)
    assert losses[-1] < target, (
        f"the final loss is {losses[-1]:.3g}; a trained network should get below "
        f"{target:.3g} (a tenth of the loss of always predicting the mean)"
    )


@test_case(points=2, hidden=True)
def train_several_outputs(train):
    """train on 30 samples with 2 inputs and 2 outputs"""
    x = np.linspace(-1.0, 1.0, 60).reshape(30, 2)
    y = np.column_stack([x[:, 0] * x[:, 1], np.sin(2 * x[:, 0])])
    params, losses = run_train(train, x, y, hidden_size=5, lr=0.5, epochs=150, seed=2)
    for key, shape in zip(KEYS, [(2, 5), (5,), (5, 2), (2,)]):
        expect_shape(params[key], shape, f"params[{key!r}]")
    assert losses[-1] < losses[0], "the loss did not fall with 2 inputs and 2 outputs"


@test_case(points=2, hidden=True)
def train_is_repeatable(train):
    """the same seed gives the same losses (weights come from default_rng(seed))"""
    x, y = curve(20)
    _, first = run_train(train, x, y, epochs=20, seed=3)
    _, second = run_train(train, x, y, epochs=20, seed=3)
    same = np.allclose(first, second, equal_nan=True)
    assert same, "two runs with seed=3 gave different losses"
### END HIDDEN TESTS
