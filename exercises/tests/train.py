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
