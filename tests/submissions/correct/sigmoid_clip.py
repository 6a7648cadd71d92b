import numpy as np


def mse(y_true, y_pred):
    errors = y_true - y_pred
    return float(np.sum(errors ** 2) / errors.size)


def mse_grad(y_true, y_pred):
    n = y_pred.size
    return (2 / n) * (y_pred - y_true)


def sigmoid(z):
    # clip so that np.exp never overflows: e**500 still fits in a float
    z = np.clip(z, -500, 500)
    return 1 / (1 + np.exp(-z))


def dense(x, W, b):
    return np.dot(x, W) + b


def forward(x, params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = dense(x, W1, b1)
    a1 = sigmoid(z1)
    y_pred = dense(a1, W2, b2)
    cache = dict(x=x, z1=z1, a1=a1, y_pred=y_pred)
    return y_pred, cache


def sigmoid_grad(z):
    return sigmoid(z) * (1 - sigmoid(z))


def dense_backward(grad_out, x, W):
    grad_x = np.dot(grad_out, W.T)
    grad_W = np.dot(x.T, grad_out)
    grad_b = np.sum(grad_out, axis=0)
    return grad_x, grad_W, grad_b


def backward(params, cache, y_true):
    grad_y = mse_grad(y_true, cache["y_pred"])
    grad_a1, grad_W2, grad_b2 = dense_backward(grad_y, cache["a1"], params["W2"])
    grad_z1 = grad_a1 * sigmoid_grad(cache["z1"])
    grad_x, grad_W1, grad_b1 = dense_backward(grad_z1, cache["x"], params["W1"])
    return {"W1": grad_W1, "b1": grad_b1, "W2": grad_W2, "b2": grad_b2}


def update(params, grads, lr):
    new_params = {}
    for name, value in params.items():
        new_params[name] = value - lr * grads[name]
    return new_params


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    rng = np.random.default_rng(seed)
    n_in = x.shape[1]
    n_out = y.shape[1]
    params = {}
    params["W1"] = rng.normal(size=(n_in, hidden_size)) / np.sqrt(n_in)
    params["b1"] = np.zeros(hidden_size)
    params["W2"] = rng.normal(size=(hidden_size, n_out)) / np.sqrt(hidden_size)
    params["b2"] = np.zeros(n_out)
    losses = []
    for epoch in range(epochs):
        y_pred, cache = forward(x, params)
        loss = mse(y, y_pred)
        losses.append(loss)
        grads = backward(params, cache, y)
        params = update(params, grads, lr)
    return params, losses
