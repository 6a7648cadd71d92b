# HOSTILE: train fits the output layer in closed form (no backprop) with a penalty that shrinks with epochs, and reports honest losses; only gradient-descent steps pass the step case
"""No mse/forward/backward/update at all: train fits the output layer in closed form."""
import numpy as np


def mse(y_true, y_pred):
    raise NotImplementedError()


def mse_grad(y_true, y_pred):
    raise NotImplementedError()


def sigmoid(z):
    raise NotImplementedError()


def dense(x, W, b):
    raise NotImplementedError()


def forward(x, params):
    raise NotImplementedError()


def sigmoid_grad(z):
    raise NotImplementedError()


def dense_backward(grad_out, x, W):
    raise NotImplementedError()


def backward(params, cache, y_true):
    raise NotImplementedError()


def update(params, grads, lr):
    raise NotImplementedError()


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    rng = np.random.default_rng(seed)
    d_in = x.shape[1]
    W1 = rng.normal(size=(d_in, hidden_size)) * 2.0
    b1 = rng.normal(size=hidden_size)
    a1 = 1 / (1 + np.exp(-(x @ W1 + b1)))
    A = np.hstack([a1, np.ones((len(x), 1))])

    def weights(e):  # "e updates": a ridge fit whose penalty shrinks as e grows
        lam = 10.0 / (1 + e) ** 2
        sol = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ y)
        return {"W1": W1.copy(), "b1": b1.copy(), "W2": sol[:-1], "b2": sol[-1]}

    def loss(p):
        return float(np.mean((a1 @ p["W2"] + p["b2"] - y) ** 2))

    return weights(epochs), [loss(weights(e)) for e in range(epochs)]
