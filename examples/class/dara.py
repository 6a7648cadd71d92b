import numpy as np

# Dara: backprop exercise


def mse(y_true, y_pred):
    return float(np.mean((y_true - y_pred) ** 2))


def mse_grad(y_true, y_pred):
    return 2.0 * (y_pred - y_true) / y_pred.size


def sigmoid(z):
    z = np.clip(z, -500.0, 500.0)   # avoid overflow in exp
    return 1.0 / (1.0 + np.exp(-z))


def dense(x, W, b):
    return np.matmul(x, W) + b


def forward(x, params):
    z1 = dense(x, params["W1"], params["b1"])
    a1 = sigmoid(z1)
    out = dense(a1, params["W2"], params["b2"])
    return out, {"x": x, "z1": z1, "a1": a1, "y_pred": out}


def sigmoid_grad(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def dense_backward(grad_out, x, W):
    return np.matmul(grad_out, W.T), np.matmul(x.T, grad_out), grad_out.sum(axis=0)


def backward(params, cache, y_true):
    g = mse_grad(y_true, cache["y_pred"])
    g, dW2, db2 = dense_backward(g, cache["a1"], params["W2"])
    g = g * sigmoid_grad(cache["z1"])
    g, dW1, db1 = dense_backward(g, cache["x"], params["W1"])
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def update(params, grads, lr):
    new_params = dict(params)
    for key in new_params:
        new_params[key] = params[key].copy() - lr * grads[key]
    return new_params


def train(x, y, hidden_size=8, lr=0.5, epochs=2000, seed=0):
    rng = np.random.default_rng(seed)
    d_in = x.shape[1]
    d_out = y.shape[1]
    params = {
        "W1": rng.normal(size=(d_in, hidden_size)) / np.sqrt(d_in),
        "b1": np.zeros(hidden_size),
        "W2": rng.normal(size=(hidden_size, d_out)) / np.sqrt(hidden_size),
        "b2": np.zeros(d_out),
    }
    losses = []
    for _ in range(epochs):
        pred, cache = forward(x, params)
        losses.append(mse(y, pred))
        params = update(params, backward(params, cache, y), lr)
    return params, losses
