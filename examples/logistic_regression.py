"""Logistic regression trained by gradient descent, with gradients from srcad.

    python examples/logistic_regression.py

`srcad.value_and_grad` returns the mean log-loss and its gradient with
respect to w and b in one call. The gradient is checked once against the
closed form X.T @ (p - y) / n, then used for 300 steps of gradient descent.
"""
import numpy as np

import srcad


def log_loss(w, b, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


loss_and_grad = srcad.value_and_grad(log_loss, wrt=("w", "b"))


def main():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3))
    true_w, true_b = np.array([2.0, -1.0, 0.5]), 0.3
    y = (X @ true_w + true_b + 0.3 * rng.normal(size=500) > 0).astype(float)

    w, b = np.zeros(3), 0.0
    _, (dw, db) = loss_and_grad(w, b, X, y)
    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    assert np.allclose(dw, X.T @ (p - y) / len(y)) and np.isclose(db, np.mean(p - y))
    print("gradient at w = 0 equals the closed form X.T @ (p - y) / n")

    for step in range(301):
        loss, (dw, db) = loss_and_grad(w, b, X, y)     # dw: array like w, db: float like b
        if step % 50 == 0:
            print(f"step {step:3d}  loss {loss:.4f}")
        w, b = w - 1.0 * dw, b - 1.0 * db
    accuracy = np.mean((X @ w + b > 0) == (y > 0))
    print(f"w = {np.round(w, 2)}, b = {b:.2f}, training accuracy {accuracy:.1%}")


if __name__ == "__main__":
    main()
