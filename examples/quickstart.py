"""Quickstart: the gradient of a NumPy function with a loop and a branch.

    python examples/quickstart.py

srcad reads `loss`, writes Python source for its gradient, compiles it and
returns it as `dloss`. The script prints that source, then the gradient
beside central finite differences. (`python -m srcad demo` runs the same
demo from the installed package.)
"""
import numpy as np

import srcad
from srcad.demo import compare


def loss(W, b, X, y):
    h = np.zeros((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):          # a loop over rows
        h[i] = np.tanh(X[i] @ W + b)     # an in-place row update
    err = h - y
    if np.mean(err) > 0:                 # a data-dependent branch
        err = 2.0 * err
    return np.sum(err ** 2)


# The same as decorating loss with @srcad.grad(wrt=(0, 1)), keeping loss itself
# for the finite-difference check.
dloss = srcad.grad(loss, wrt=(0, 1))

if __name__ == "__main__":
    rng = np.random.default_rng(1)
    W, b = 0.5 * rng.normal(size=(3, 4)), 0.5 * rng.normal(size=4)
    X, y = rng.normal(size=(5, 3)), 0.5 * rng.normal(size=(5, 4)) - 1.0

    dW, db = dloss(W, b, X, y)          # float64 arrays shaped like W and b
    print(dloss.source)                 # srcad.show(dloss) prints it too
    ok = compare(loss, (W, b, X, y), ("W", "b"), (dW, db))
    raise SystemExit(0 if ok else 1)
