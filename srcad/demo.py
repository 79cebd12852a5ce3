"""The demo `python -m srcad demo` runs: a loop, an in-place row update and a branch."""
import numpy as np


def loss(W, b, X, y):
    h = np.zeros((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):          # a loop over rows
        h[i] = np.tanh(X[i] @ W + b)     # an in-place row update
    err = h - y
    if np.mean(err) > 0:                 # a data-dependent branch
        err = 2.0 * err
    return np.sum(err ** 2)


def finite_difference(f, args, position, step=1e-6):
    """Central differences of f in each element of args[position]."""
    x = np.array(args[position], dtype=float)
    grad = np.zeros_like(x)
    for i in range(x.size):
        for sign in (1.0, -1.0):
            shifted = x.copy()
            shifted.flat[i] += sign * step
            moved = list(args)
            moved[position] = shifted
            grad.flat[i] += sign * f(*moved) / (2.0 * step)
    return grad


def main():
    import srcad

    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 4)) * 0.5, rng.normal(size=4) * 0.5
    X, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    dloss = srcad.grad(loss, wrt=(0, 1))
    dW, db = dloss(W, b, X, y)
    print(dloss.source)
    ok = True
    for label, got, position in (("dW", dW, 0), ("db", db, 1)):
        expected = finite_difference(loss, (W, b, X, y), position)
        error = np.max(np.abs(got - expected))
        ok &= error < 1e-6
        print(f"{label} =\n{np.round(got, 6)}\n  finite differences agree to {error:.1e}")
    print("OK: gradients match central finite differences" if ok else "MISMATCH")
    return 0 if ok else 1
