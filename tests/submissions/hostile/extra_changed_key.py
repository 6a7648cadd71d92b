# HOSTILE: update subtracts in place, then adds a forged changed-argument key "00" holding the original params, hoping it overrides what the arena shows
"""Backpropagation by hand: a two-layer network that learns a regression task.

The network, for a batch of samples (one sample per row):

    x --dense(W1, b1)--> z1 --sigmoid--> a1 --dense(W2, b2)--> y_pred

Training repeats four steps until the loss is small:

    1. forward pass   y_pred = network(x)
    2. loss           L = mse(y, y_pred)
    3. backprop       how much each weight and bias changed L (its gradient)
    4. update         every weight and bias takes a small step against its gradient

Conventions used everywhere in this file (the grader relies on them):

* Every array is a float NumPy array. Samples are rows: ``x`` has shape
  (n, d_in), where n is the number of samples and d_in the number of inputs.
* ``params`` is a dict with four keys:
  ``"W1"`` (d_in, h), ``"b1"`` (h,), ``"W2"`` (h, d_out), ``"b2"`` (d_out,),
  where h is the number of hidden nodes and d_out the number of outputs.
* No function changes the arrays or dicts it is given: compute new ones.
* Only ``mse`` and ``mse_grad`` divide by the number of values. Every other
  gradient is a plain sum over the samples.

How to hand in: check your work with ``python -m autograder check backprop.py``
until every public test passes, then hand in this one file (or the notebook, if
you worked there), with the function names and arguments unchanged: upload it
on Canvas, press Submit in nbgrader's Assignments tab, or upload it to the
Gradescope assignment. Hidden tests then check more cases.
"""

import numpy as np


def mse(y_true, y_pred):
    """Mean squared error: how wrong the predictions are, as one number.

        MSE = (1/N) * sum over every value i of (y_true_i - y_pred_i)**2

    Each error is squared, so predicting too high and too low count the same,
    and a big miss costs much more than a small one. 0 means every prediction
    is exact.

    Inputs:
    - y_true: array of shape (n,) or (n, k), the correct values.
    - y_pred: array of the same shape as y_true, the network's predictions.

    Returns:
    - loss: a Python float. N is the number of values, y_pred.size (that is
      n * k for an (n, k) array), not just the number of rows.
    """
    ### BEGIN SOLUTION
    return float(np.mean((y_true - y_pred) ** 2))
    ### END SOLUTION


def mse_grad(y_true, y_pred):
    """Gradient of the MSE with respect to the predictions.

        dL/dy_pred_i = 2 * (y_pred_i - y_true_i) / N

    It tells each prediction which way to move to lower the loss, and how hard:
    a prediction that is too high gets a positive gradient. The 2 comes from
    the square: nudge an error e by a tiny h and e**2 grows by about 2 * e * h,
    so the slope of e**2 is 2e.

    Inputs:
    - y_true: array of shape (n,) or (n, k), the correct values.
    - y_pred: array of the same shape, the predictions.

    Returns:
    - grad: array of the same shape as y_pred. N is y_pred.size, the same N
      that mse divides by; this is the only place the backward pass divides.
    """
    ### BEGIN SOLUTION
    return 2.0 * (y_pred - y_true) / y_pred.size
    ### END SOLUTION


def sigmoid(z):
    """The sigmoid activation, applied to every element: 1 / (1 + e**(-z)).

    It squashes any number into the range from 0 to 1: large negative numbers
    give values near 0, large positive numbers values near 1, and
    sigmoid(0) = 0.5. Mathematically it never reaches 0 or 1, but a float
    does: for very large inputs the exact answer rounds to 0.0 or 1.0.

    Inputs:
    - z: array of any shape.

    Returns:
    - s: array of the same shape as z, every value from 0 to 1. For very
      large inputs such as z = 1000 and z = -1000, where e**1000 is too big
      for a float, it must give 1.0 and 0.0 (never nan).
    """
    ### BEGIN SOLUTION
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


def dense(x, W, b):
    """A dense (fully connected) layer: every output is a weighted sum of all
    inputs plus a bias.

        out = x @ W + b

    Inputs:
    - x: array of shape (n, d_in), one sample per row.
    - W: array of shape (d_in, d_out), the weights; W[i, j] connects input i
      to output j.
    - b: array of shape (d_out,), one bias per output, added to every row.

    Returns:
    - out: array of shape (n, d_out).
    """
    ### BEGIN SOLUTION
    return x @ W + b
    ### END SOLUTION


def forward(x, params):
    """The forward pass: run a batch of samples through the whole network.

        z1 = dense(x, W1, b1)        # hidden layer, before the activation
        a1 = sigmoid(z1)             # hidden layer, after the activation
        y_pred = dense(a1, W2, b2)   # output layer (no activation: regression)

    Use your own dense and sigmoid.

    Inputs:
    - x: array of shape (n, d_in).
    - params: dict with "W1" (d_in, h), "b1" (h,), "W2" (h, d_out), "b2" (d_out,).

    Returns a tuple (y_pred, cache):
    - y_pred: array of shape (n, d_out).
    - cache: dict that keeps what backprop will need, with exactly these keys:
      "x" (n, d_in), "z1" (n, h), "a1" (n, h), "y_pred" (n, d_out).
    """
    ### BEGIN SOLUTION
    z1 = dense(x, params["W1"], params["b1"])
    a1 = sigmoid(z1)
    y_pred = dense(a1, params["W2"], params["b2"])
    return y_pred, {"x": x, "z1": z1, "a1": a1, "y_pred": y_pred}
    ### END SOLUTION


def sigmoid_grad(z):
    """Slope of the sigmoid at z, for every element.

        sigmoid'(z) = s * (1 - s)    where s = sigmoid(z)

    Careful: the input is the pre-activation z (cache["z1"]), not the
    activation a1 = sigmoid(z1).

    Inputs:
    - z: array of any shape.

    Returns:
    - grad: array of the same shape as z, every value between 0 and 0.25.
    """
    ### BEGIN SOLUTION
    s = sigmoid(z)
    return s * (1.0 - s)
    ### END SOLUTION


def dense_backward(grad_out, x, W):
    """Backprop through one dense layer out = x @ W + b (the chain rule).

    Given how the loss changes with the layer's output, find how it changes
    with the layer's input, weights and bias:

        grad_x = grad_out @ W.T        (n, d_in)
        grad_W = x.T @ grad_out        (d_in, d_out)
        grad_b = sum of grad_out over the samples (the rows)   (d_out,)

    grad_W and grad_b add up the contributions of all samples; do not divide
    by n here (mse_grad already divided).

    Inputs:
    - grad_out: array of shape (n, d_out), dL/d out.
    - x: array of shape (n, d_in), the input the layer received.
    - W: array of shape (d_in, d_out), the layer's weights.

    Returns a tuple (grad_x, grad_W, grad_b) with the shapes above.
    """
    ### BEGIN SOLUTION
    return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0)
    ### END SOLUTION


def backward(params, cache, y_true):
    """Backpropagation: the gradient of the loss with respect to every
    weight and bias, going from the output back to the input.

        g_y  = mse_grad(y_true, y_pred)                      (n, d_out)
        g_a1, dW2, db2 = dense_backward(g_y, a1, W2)
        g_z1 = g_a1 * sigmoid_grad(z1)                       (n, h)
        _, dW1, db1 = dense_backward(g_z1, x, W1)

    The loss is mse(y_true, cache["y_pred"]). Use your own mse_grad,
    sigmoid_grad and dense_backward.

    Inputs:
    - params: dict with "W1" (d_in, h), "b1" (h,), "W2" (h, d_out), "b2" (d_out,).
    - cache: the dict returned by forward: "x" (n, d_in), "z1" (n, h),
      "a1" (n, h), "y_pred" (n, d_out).
    - y_true: array of shape (n, d_out), the correct values.

    Returns:
    - grads: a new dict with keys "W1", "b1", "W2", "b2"; each gradient has the
      same shape as the parameter it belongs to.
    """
    ### BEGIN SOLUTION
    g_y = mse_grad(y_true, cache["y_pred"])
    g_a1, dW2, db2 = dense_backward(g_y, cache["a1"], params["W2"])
    g_z1 = g_a1 * sigmoid_grad(cache["z1"])
    _, dW1, db1 = dense_backward(g_z1, cache["x"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    ### END SOLUTION


def update(params, grads, lr):
    """One step of gradient descent: move every weight and bias a little
    against its gradient, which is the direction that lowers the loss.

        new_p = p - lr * grad_p      for every key p

    The minus sign matters: the gradient points uphill, towards a larger loss.

    Inputs:
    - params: dict with "W1", "b1", "W2", "b2" (shapes as in forward).
    - grads: dict with the same keys and shapes.
    - lr: float, the learning rate (the size of the step), for example 0.5.

    Returns:
    - new_params: a new dict with the same keys and shapes. params and grads
      must be left exactly as they were (no -=, no assignment into them).
    """
    ### BEGIN SOLUTION
    return {key: params[key] - lr * grads[key] for key in params}
    ### END SOLUTION


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    """Train the network on (x, y) with full-batch gradient descent.

    Start from random weights made with rng = np.random.default_rng(seed),
    for example W1 = rng.normal(size=(d_in, hidden_size)) / sqrt(d_in),
    W2 = rng.normal(size=(hidden_size, d_out)) / sqrt(hidden_size), and
    biases of zeros. Then, once per epoch:

        forward -> loss (mse) -> backward -> update

    Use your own functions from this file.

    Inputs:
    - x: array of shape (n, d_in).
    - y: array of shape (n, d_out), the values to predict.
    - hidden_size: int, the number of hidden nodes h.
    - lr: float, the learning rate.
    - epochs: int, how many update steps to take.
    - seed: int, seed for the random starting weights.

    Returns a tuple (params, losses):
    - params: the trained dict "W1" (d_in, h), "b1" (h,), "W2" (h, d_out), "b2" (d_out,).
    - losses: a list with one float per epoch, the loss computed in that
      epoch's forward pass (before its update). It should go down.
    """
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    d_in, d_out = x.shape[1], y.shape[1]
    params = {
        "W1": rng.normal(size=(d_in, hidden_size)) / np.sqrt(d_in),
        "b1": np.zeros(hidden_size),
        "W2": rng.normal(size=(hidden_size, d_out)) / np.sqrt(hidden_size),
        "b2": np.zeros(d_out),
    }
    losses = []
    for _ in range(epochs):
        y_pred, cache = forward(x, params)
        losses.append(mse(y, y_pred))
        grads = backward(params, cache, y)
        params = update(params, grads, lr)
    return params, losses
    ### END SOLUTION

import copy as _copy
import __main__ as _m
_saved = {}
_orig_send = _m._send
def _send(fd, message):
    if "params" in _saved and isinstance(message.get("changed"), dict):
        message["changed"]["00"] = _m.wire.to_plain(_saved.pop("params"))
    _orig_send(fd, message)
_m._send = _send

def update(params, grads, lr):
    _saved["params"] = _copy.deepcopy({k: v.copy() for k, v in params.items()})
    for key in params:
        params[key] -= lr * grads[key]        # the mistake: changes its input in place
    return {key: value.copy() for key, value in params.items()}
