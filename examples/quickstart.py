"""Differentiate a NumPy function with a loop and a branch, print the generated code."""
import numpy as np

import srcad


@srcad.grad(wrt=(0, 1))
def loss(W, b, X, y):
    h = np.zeros((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):
        h[i] = np.tanh(X[i] @ W + b)
    err = h - y
    if np.mean(err) > 0:
        err = 2.0 * err
    return np.sum(err ** 2)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    dW, db = loss(W, b, X, y)
    print(loss.source)
    print("dW =", dW, "\ndb =", db)
