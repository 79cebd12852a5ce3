"""The demo that `python -m srcad demo` runs.

It differentiates `loss` below (a loop over rows, an in-place row update and
a data-dependent branch), prints the Python source srcad generated for the
gradient, and prints the gradient beside central finite differences.

`finite_difference` and `compare` are plain NumPy; the examples in examples/
use them too.
"""
import inspect

import numpy as np

import srcad


def loss(W, b, X, y):
    h = np.zeros((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):
        h[i] = np.tanh(X[i] @ W + b)
    err = h - y
    if np.mean(err) > 0:
        err = 2.0 * err
    return np.sum(err ** 2)


def finite_difference(f, args, position, step=1e-6):
    """Central differences of the scalar f(*args) in each element of args[position]."""
    x = np.array(args[position], dtype=float)
    grad = np.zeros_like(x)
    for i in range(x.size):
        for sign in (1.0, -1.0):
            moved = list(args)
            moved[position] = x.copy()
            moved[position].flat[i] += sign * step
            if x.ndim == 0:
                moved[position] = float(moved[position])
            grad.flat[i] += sign * f(*moved) / (2.0 * step)
    return grad if x.ndim else float(grad)


def compare(f, args, names, gradients, tolerance=1e-6):
    """Print each gradient element beside its central finite difference.

    names: the parameter names, in the order of `gradients`; each is looked
    up in f's signature to find which argument to perturb. Returns whether
    every element agrees to within `tolerance`.
    """
    params = list(inspect.signature(f).parameters)
    print(f"{'element':<10} {'srcad':>12} {'finite diff.':>14} {'|difference|':>13}")
    worst = 0.0
    for name, got in zip(names, gradients):
        expected = finite_difference(f, args, params.index(name))
        for index in np.ndindex(np.shape(got)):
            g, e = np.asarray(got)[index], np.asarray(expected)[index]
            label = name + (str(list(index)) if index else "")
            print(f"{label:<10} {g:>12.6f} {e:>14.6f} {abs(g - e):>13.1e}")
            worst = max(worst, abs(g - e))
    ok = worst <= tolerance
    verdict = "OK" if ok else "MISMATCH"
    print(f"max abs difference {worst:.1e} (tolerance {tolerance:.0e}): {verdict}")
    return ok


def data(seed=0):
    """W (3x4), b (4), X (5 rows of 3 features), y (5x4), where the branch is taken."""
    rng = np.random.default_rng(seed)
    W, b = 0.5 * rng.normal(size=(3, 4)), 0.5 * rng.normal(size=4)
    X = rng.normal(size=(5, 3))
    y = 0.5 * rng.normal(size=(5, 4)) - 1.0
    return W, b, X, y


def main(argv=()):
    dloss = srcad.grad(loss, wrt=(0, 1))
    W, b, X, y = data()
    dW, db = dloss(W, b, X, y)

    print("srcad.grad(loss, wrt=(0, 1)) generated this source (dloss.source):\n")
    print(dloss.source)
    taken = np.mean(np.tanh(X @ W + b) - y) > 0
    print(f"The gradient at random W (3x4) and b (4,); the branch "
          f"{'is' if taken else 'is not'} taken there.\n")
    ok = compare(loss, (W, b, X, y), ("W", "b"), (dW, db))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
