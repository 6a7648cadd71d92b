import numpy as np


def mse(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean().item()


def mse_grad(y_true, y_pred):
    return 2 * (y_pred - y_true) / np.size(y_pred)


def sigmoid(z):
    out = np.empty_like(z, dtype=float)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1 + ez)
    return out


def dense(x, W, b):
    return np.matmul(x, W) + b[np.newaxis, :]


def forward(x, params):
    cache = {"x": x}
    cache["z1"] = dense(x, params["W1"], params["b1"])
    cache["a1"] = sigmoid(cache["z1"])
    cache["y_pred"] = dense(cache["a1"], params["W2"], params["b2"])
    return cache["y_pred"], cache


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)


def dense_backward(grad_out, x, W):
    return np.matmul(grad_out, W.T), np.matmul(x.T, grad_out), grad_out.sum(axis=0)


def backward(params, cache, y_true):
    grads = {}
    g = mse_grad(y_true, cache["y_pred"])
    g, grads["W2"], grads["b2"] = dense_backward(g, cache["a1"], params["W2"])
    g = g * sigmoid_grad(cache["z1"])
    _, grads["W1"], grads["b1"] = dense_backward(g, cache["x"], params["W1"])
    return grads


def update(params, grads, lr):
    new_params = dict(params)             # a new dict ...
    for key in new_params:
        new_params[key] = new_params[key].copy()   # ... holding new arrays
        new_params[key] -= lr * grads[key]         # so -= is safe here
    return new_params


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    rng = np.random.default_rng(seed)
    d_in, d_out = x.shape[1], y.shape[1]
    params = {
        "W1": rng.normal(size=(d_in, hidden_size)) / np.sqrt(d_in),
        "b1": np.zeros(hidden_size),
        "W2": rng.normal(size=(hidden_size, d_out)) / np.sqrt(hidden_size),
        "b2": np.zeros(d_out),
    }
    losses = []
    epoch = 0
    while epoch < epochs:
        y_pred, cache = forward(x, params)
        losses.append(mse(y, y_pred))
        params = update(params, backward(params, cache, y), lr)
        epoch += 1
    return params, losses
