# Bo - backprop homework
import numpy as np


def mse(y_true, y_pred):
    return float(np.mean(np.square(y_pred - y_true)))


def mse_grad(y_true, y_pred):
    return 2 * (y_pred - y_true) / y_pred.size


def sigmoid(z):
    # tanh form: sigmoid(z) = (1 + tanh(z/2)) / 2, no overflow
    return (1 + np.tanh(z / 2)) / 2


def dense(x, W, b):
    return np.dot(x, W) + b


def forward(x, params):
    z1 = dense(x, params["W1"], params["b1"])
    a1 = sigmoid(z1)
    y_pred = dense(a1, params["W2"], params["b2"])
    return y_pred, {"x": x, "z1": z1, "a1": a1, "y_pred": y_pred}


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1 - s)


def dense_backward(grad_out, x, W):
    return np.dot(grad_out, W.T), np.dot(x.T, grad_out), np.sum(grad_out, axis=0)


def backward(params, cache, y_true):
    dy = mse_grad(y_true, cache["y_pred"])
    da1, dW2, db2 = dense_backward(dy, cache["a1"], params["W2"])
    dz1 = da1 * sigmoid_grad(cache["z1"])
    dx, dW1, db1 = dense_backward(dz1, cache["x"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def update(params, grads, lr):
    return {name: params[name] - lr * grads[name] for name in ["W1", "b1", "W2", "b2"]}


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    rng = np.random.default_rng(seed)
    n_in, n_out = x.shape[1], y.shape[1]
    params = {"W1": rng.normal(0, 1 / np.sqrt(n_in), (n_in, hidden_size)),
              "b1": np.zeros(hidden_size),
              "W2": rng.normal(0, 1 / np.sqrt(hidden_size), (hidden_size, n_out)),
              "b2": np.zeros(n_out)}
    losses = []
    for i in range(epochs):
        y_pred, cache = forward(x, params)
        losses.append(mse(y, y_pred))
        params = update(params, backward(params, cache, y), lr)
    return params, losses
