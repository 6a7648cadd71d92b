"""All the matrix products written with np.einsum (indices: n sample, i input, o output)."""

import numpy as np


def mse(y_true, y_pred):
    d = (y_pred - y_true).ravel()
    return float(np.einsum("i,i->", d, d) / d.size)


def mse_grad(y_true, y_pred):
    return 2.0 * (y_pred - y_true) / y_pred.size


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the same function, and tanh never overflows


def dense(x, W, b):
    return np.einsum("ni,io->no", x, W) + b


def forward(x, params):
    z1 = dense(x, params["W1"], params["b1"])
    a1 = sigmoid(z1)
    y_pred = dense(a1, params["W2"], params["b2"])
    return y_pred, {"x": x, "z1": z1, "a1": a1, "y_pred": y_pred}


def sigmoid_grad(z):
    s = sigmoid(z)
    return s - s * s


def dense_backward(grad_out, x, W):
    grad_x = np.einsum("no,io->ni", grad_out, W)
    grad_W = np.einsum("ni,no->io", x, grad_out)
    grad_b = np.einsum("no->o", grad_out)
    return grad_x, grad_W, grad_b


def backward(params, cache, y_true):
    g = mse_grad(y_true, cache["y_pred"])
    g_a1, dW2, db2 = dense_backward(g, cache["a1"], params["W2"])
    g_z1 = np.einsum("nh,nh->nh", g_a1, sigmoid_grad(cache["z1"]))
    _, dW1, db1 = dense_backward(g_z1, cache["x"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def update(params, grads, lr):
    return {k: v - lr * grads[k] for k, v in params.items()}


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    rng = np.random.default_rng(seed)
    d_in, d_out = x.shape[1], y.shape[1]
    params = {
        "W1": rng.standard_normal((d_in, hidden_size)) / np.sqrt(d_in),
        "b1": np.zeros(hidden_size),
        "W2": rng.standard_normal((hidden_size, d_out)) / np.sqrt(hidden_size),
        "b2": np.zeros(d_out),
    }
    losses = []
    for _ in range(epochs):
        y_pred, cache = forward(x, params)
        losses.append(mse(y, y_pred))
        params = update(params, backward(params, cache, y), lr)
    return params, losses
