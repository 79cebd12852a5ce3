"""A tanh RNN written as a Python loop that fills a buffer in place.

    python examples/inplace_rnn.py

`H[t] = h` writes into an array created with np.zeros: autograd and JAX
refuse such writes; srcad saves the overwritten row on its stack and
restores it in the backward pass. The script prints the part of the
generated source that does this, checks the gradient against central finite
differences, and takes a few gradient steps.
"""
import numpy as np

import srcad
from srcad.demo import compare


def rnn_loss(W, U, v, xs, targets):
    h = np.zeros(W.shape[0])
    H = np.zeros((xs.shape[0], W.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(h @ W + xs[t] @ U)
        H[t] = h
    predictions = H @ v
    return np.mean((predictions - targets) ** 2)


grad_rnn = srcad.grad(rnn_loss, wrt=("W", "U", "v"))


def main():
    rng = np.random.default_rng(0)
    hidden, features, steps = 4, 2, 20
    W = 0.3 * rng.normal(size=(hidden, hidden))
    U = rng.normal(size=(features, hidden))
    v = rng.normal(size=hidden)
    xs = rng.normal(size=(steps, features))
    targets = np.sin(np.cumsum(xs[:, 0]))
    args = (W, U, v, xs, targets)

    grads = grad_rnn(*args)
    print("The write H[t] = h in the generated primal and adjoint:")
    for line in grad_rnn.source.splitlines():
        if "H[t]" in line or "(H, t" in line or "(dH, t" in line:
            print(line)

    print()
    if not compare(rnn_loss, args, ("W", "U", "v"), grads):
        raise SystemExit(1)

    print()
    for step in range(201):
        if step % 50 == 0:
            print(f"step {step:3d}  loss {rnn_loss(W, U, v, xs, targets):.4f}")
        dW, dU, dv = grad_rnn(W, U, v, xs, targets)
        W, U, v = W - 0.1 * dW, U - 0.1 * dU, v - 0.1 * dv


if __name__ == "__main__":
    main()
