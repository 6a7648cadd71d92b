"""Chen's solution. I print the loss while training to see it go down."""
import numpy as np


def mse(y_true, y_pred):
    diff = y_true - y_pred
    return float((diff ** 2).sum() / diff.size)


def mse_grad(y_true, y_pred):
    N = y_pred.size
    return 2.0 / N * (y_pred - y_true)


def sigmoid(z):
    out = np.zeros_like(z, dtype=float)
    big = z >= 0
    out[big] = 1.0 / (1.0 + np.exp(-z[big]))
    out[~big] = np.exp(z[~big]) / (1.0 + np.exp(z[~big]))
    return out


def dense(x, W, b):
    return x @ W + b


def forward(x, params):
    z1 = dense(x, params["W1"], params["b1"])
    a1 = sigmoid(z1)
    y_pred = dense(a1, params["W2"], params["b2"])
    cache = {}
    cache["x"] = x
    cache["z1"] = z1
    cache["a1"] = a1
    cache["y_pred"] = y_pred
    return y_pred, cache


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def dense_backward(grad_out, x, W):
    grad_x = grad_out @ W.T
    grad_W = x.T @ grad_out
    grad_b = grad_out.sum(axis=0)
    return grad_x, grad_W, grad_b


def backward(params, cache, y_true):
    grad_y = mse_grad(y_true, cache["y_pred"])
    grad_a1, grad_W2, grad_b2 = dense_backward(grad_y, cache["a1"], params["W2"])
    grad_z1 = grad_a1 * sigmoid_grad(cache["z1"])
    _, grad_W1, grad_b1 = dense_backward(grad_z1, cache["x"], params["W1"])
    return {"W1": grad_W1, "b1": grad_b1, "W2": grad_W2, "b2": grad_b2}


def update(params, grads, lr):
    new = {}
    for key in params:
        new[key] = params[key] - lr * grads[key]
    return new


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(x.shape[1], hidden_size)) / np.sqrt(x.shape[1])
    W2 = rng.normal(size=(hidden_size, y.shape[1])) / np.sqrt(hidden_size)
    params = {"W1": W1, "b1": np.zeros(hidden_size), "W2": W2, "b2": np.zeros(y.shape[1])}
    losses = []
    for epoch in range(epochs):
        y_pred, cache = forward(x, params)
        loss = mse(y, y_pred)
        losses.append(loss)
        if epoch % 500 == 0:
            print("epoch", epoch, "loss", loss)
        grads = backward(params, cache, y)
        params = update(params, grads, lr)
    print("final loss", losses[-1])
    return params, losses
