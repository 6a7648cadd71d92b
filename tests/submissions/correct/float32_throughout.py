"""Every computation in float32 (half the memory, the precision of a GPU)."""

import numpy as np

F = np.float32


def mse(y_true, y_pred):
    diff = np.asarray(y_true, dtype=F) - np.asarray(y_pred, dtype=F)
    return float(np.mean(diff * diff))


def mse_grad(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=F)
    y_pred = np.asarray(y_pred, dtype=F)
    return F(2) * (y_pred - y_true) / F(y_pred.size)


def sigmoid(z):
    z = np.asarray(z, dtype=F)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, F(1) / (F(1) + e), e / (F(1) + e)).astype(F)


def dense(x, W, b):
    return np.asarray(x, dtype=F) @ np.asarray(W, dtype=F) + np.asarray(b, dtype=F)


def forward(x, params):
    x = np.asarray(x, dtype=F)
    z1 = dense(x, params["W1"], params["b1"])
    a1 = sigmoid(z1)
    y_pred = dense(a1, params["W2"], params["b2"])
    return y_pred, {"x": x, "z1": z1, "a1": a1, "y_pred": y_pred}


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (F(1) - s)


def dense_backward(grad_out, x, W):
    grad_out = np.asarray(grad_out, dtype=F)
    x = np.asarray(x, dtype=F)
    W = np.asarray(W, dtype=F)
    return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0)


def backward(params, cache, y_true):
    g_y = mse_grad(y_true, cache["y_pred"])
    g_a1, dW2, db2 = dense_backward(g_y, cache["a1"], params["W2"])
    g_z1 = g_a1 * sigmoid_grad(cache["z1"])
    _, dW1, db1 = dense_backward(g_z1, cache["x"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def update(params, grads, lr):
    step = F(lr)
    return {k: np.asarray(params[k], dtype=F) - step * np.asarray(grads[k], dtype=F)
            for k in params}


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    x = np.asarray(x, dtype=F)
    y = np.asarray(y, dtype=F)
    rng = np.random.default_rng(seed)
    d_in, d_out = x.shape[1], y.shape[1]
    params = {
        "W1": (rng.normal(size=(d_in, hidden_size)) / np.sqrt(d_in)).astype(F),
        "b1": np.zeros(hidden_size, dtype=F),
        "W2": (rng.normal(size=(hidden_size, d_out)) / np.sqrt(hidden_size)).astype(F),
        "b2": np.zeros(d_out, dtype=F),
    }
    losses = []
    for _ in range(epochs):
        y_pred, cache = forward(x, params)
        losses.append(mse(y, y_pred))
        params = update(params, backward(params, cache, y), lr)
    return params, losses
