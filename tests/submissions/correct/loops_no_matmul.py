"""Backpropagation with explicit Python loops: no @, no np.dot, no einsum."""

import math

import numpy as np


def mse(y_true, y_pred):
    total = 0.0
    count = 0
    for t, p in zip(np.ravel(y_true), np.ravel(y_pred)):
        total += (t - p) ** 2
        count += 1
    return float(total / count)


def mse_grad(y_true, y_pred):
    n = y_pred.size
    flat_true = np.ravel(y_true)
    flat_pred = np.ravel(y_pred)
    grad = np.zeros(n)
    for i in range(n):
        grad[i] = 2.0 * (flat_pred[i] - flat_true[i]) / n
    return grad.reshape(y_pred.shape)


def _sigmoid_one(v):
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    out = np.zeros(z.shape)
    for index in np.ndindex(z.shape):
        out[index] = _sigmoid_one(z[index])
    return out


def dense(x, W, b):
    n, d_in = x.shape
    d_out = W.shape[1]
    out = np.zeros((n, d_out))
    for i in range(n):
        for j in range(d_out):
            total = b[j]
            for k in range(d_in):
                total += x[i, k] * W[k, j]
            out[i, j] = total
    return out


def forward(x, params):
    z1 = dense(x, params["W1"], params["b1"])
    a1 = sigmoid(z1)
    y_pred = dense(a1, params["W2"], params["b2"])
    cache = {"x": x, "z1": z1, "a1": a1, "y_pred": y_pred}
    return y_pred, cache


def sigmoid_grad(z):
    s = sigmoid(z)
    out = np.zeros(s.shape)
    for index in np.ndindex(s.shape):
        out[index] = s[index] * (1.0 - s[index])
    return out


def dense_backward(grad_out, x, W):
    n, d_out = grad_out.shape
    d_in = x.shape[1]
    grad_x = np.zeros((n, d_in))
    grad_W = np.zeros((d_in, d_out))
    grad_b = np.zeros(d_out)
    for i in range(n):
        for j in range(d_out):
            g = grad_out[i, j]
            grad_b[j] += g
            for k in range(d_in):
                grad_x[i, k] += g * W[k, j]
                grad_W[k, j] += x[i, k] * g
    return grad_x, grad_W, grad_b


def backward(params, cache, y_true):
    g_y = mse_grad(y_true, cache["y_pred"])
    g_a1, dW2, db2 = dense_backward(g_y, cache["a1"], params["W2"])
    slope = sigmoid_grad(cache["z1"])
    g_z1 = np.zeros(g_a1.shape)
    for index in np.ndindex(g_a1.shape):
        g_z1[index] = g_a1[index] * slope[index]
    _, dW1, db1 = dense_backward(g_z1, cache["x"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def update(params, grads, lr):
    new_params = {}
    for key in params:
        new = np.array(params[key], dtype=float)
        for index in np.ndindex(new.shape):
            new[index] = new[index] - lr * grads[key][index]
        new_params[key] = new
    return new_params


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    rng = np.random.default_rng(seed)
    d_in, d_out = x.shape[1], y.shape[1]
    params = {
        "W1": rng.normal(size=(d_in, hidden_size)) / math.sqrt(d_in),
        "b1": np.zeros(hidden_size),
        "W2": rng.normal(size=(hidden_size, d_out)) / math.sqrt(hidden_size),
        "b2": np.zeros(d_out),
    }
    losses = []
    for epoch in range(epochs):
        y_pred, cache = forward(x, params)
        losses.append(mse(y, y_pred))
        grads = backward(params, cache, y)
        params = update(params, grads, lr)
    return params, losses
