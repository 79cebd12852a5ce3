"""srcad's gradients against hand-written NumPy gradients, timed in the same run.

Each workload alternates a srcad call and a hand-written call many times and
prints the median of the per-pair time ratios (srcad / hand-written). Also
prints the time to transform the README example (first call minus a warm call).
Run: python benchmarks/bench_grad.py [--quick]
"""
import math
import statistics
import sys
import time

import numpy as np

import srcad


# -- workloads: the function, and its gradient written by hand ----------------

def scalar_loop(x, a, b):
    for i in range(200):
        if x > 0:
            x = x * a + math.sin(x)
        else:
            x = x * b - 0.1
    return x


def scalar_loop_by_hand(x, a, b):
    tape = []
    for i in range(200):
        branch = x > 0
        tape.append((x, branch))
        x = x * a + math.sin(x) if branch else x * b - 0.1
    dx, da, db = 1.0, 0.0, 0.0
    for x, branch in reversed(tape):
        if branch:
            da += dx * x
            dx = dx * (a + math.cos(x))
        else:
            db += dx * x
            dx = dx * b
    return dx, da, db


def logistic(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def logistic_by_hand(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (p - y) / len(y)


def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def mlp_by_hand(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    e = np.exp(z)
    p = e / np.sum(e, axis=1, keepdims=True)
    dz = (p * np.sum(Y, axis=1, keepdims=True) - Y) / X.shape[0]
    dW2, db2 = h.T @ dz, dz.sum(axis=0)
    dpre = (dz @ W2.T) * (1.0 - h * h)
    return X.T @ dpre, dpre.sum(axis=0), dW2, db2


def rnn(Wx, Wh, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
    return np.sum(h ** 2)


def rnn_by_hand(Wx, Wh, xs, h0):
    hs = [h0]
    for t in range(xs.shape[0]):
        hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh))
    dWx, dWh = np.zeros_like(Wx), np.zeros_like(Wh)
    dh = 2.0 * hs[-1]
    for t in reversed(range(xs.shape[0])):
        dpre = dh * (1.0 - hs[t + 1] ** 2)
        dWx += np.outer(xs[t], dpre)
        dWh += np.outer(hs[t], dpre)
        dh = dpre @ Wh.T
    return dWx, dWh


def workloads():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 100))
    y = (rng.random(1000) > 0.5).astype(float)
    w = rng.normal(size=100) * 0.1
    Xm = rng.normal(size=(256, 784))
    Ym = np.eye(10)[rng.integers(0, 10, 256)]
    W1, b1 = rng.normal(size=(784, 256)) * 0.05, np.zeros(256)
    W2, b2 = rng.normal(size=(256, 10)) * 0.05, np.zeros(10)
    xs, h0 = rng.normal(size=(100, 32)), np.zeros(64)
    Wx, Wh = rng.normal(size=(32, 64)) * 0.1, rng.normal(size=(64, 64)) * 0.1
    return [
        ("scalar loop (200 iterations, floats)", scalar_loop, scalar_loop_by_hand,
         (0.3, 0.9, 0.8), (0, 1, 2)),
        ("logistic regression 1000x100", logistic, logistic_by_hand, (w, X, y), 0),
        ("MLP 784-256-10, batch 256", mlp, mlp_by_hand, (W1, b1, W2, b2, Xm, Ym), (0, 1, 2, 3)),
        ("tanh RNN, T=100", rnn, rnn_by_hand, (Wx, Wh, xs, h0), (0, 1)),
    ]


def paired_ratio(f, g, args, pairs):
    ratios, times_f, times_g = [], [], []
    for _ in range(pairs):
        t0 = time.perf_counter()
        f(*args)
        t1 = time.perf_counter()
        g(*args)
        t2 = time.perf_counter()
        times_f.append(t1 - t0)
        times_g.append(t2 - t1)
        ratios.append((t1 - t0) / (t2 - t1))
    return statistics.median(times_f), statistics.median(times_g), statistics.median(ratios)


def transform_time(repeats):
    from srcad.demo import loss
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(5, 3)),
            rng.normal(size=(5, 4)))
    times = []
    for _ in range(repeats):
        srcad.api._CACHE.clear()
        df = srcad.grad(loss, wrt=(0, 1))
        t0 = time.perf_counter()
        df(*args)
        t1 = time.perf_counter()
        df(*args)
        t2 = time.perf_counter()
        times.append((t1 - t0) - (t2 - t1))
    return statistics.median(times)


def main(argv):
    pairs = 20 if "--quick" in argv else 200
    print(f"{'workload':40s} {'srcad':>10s} {'by hand':>10s} {'ratio':>7s}")
    for label, f, by_hand, args, wrt in workloads():
        df = srcad.grad(f, wrt=wrt)
        got, expected = df(*args), by_hand(*args)
        got = got if isinstance(got, tuple) else (got,)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for a, b in zip(got, expected):
            if not np.allclose(a, b, rtol=1e-8, atol=1e-10):
                sys.exit(f"{label}: srcad's gradient differs from the hand-written one")
        t_srcad, t_hand, ratio = paired_ratio(df, by_hand, args, pairs)
        print(f"{label:40s} {t_srcad * 1e3:8.3f}ms {t_hand * 1e3:8.3f}ms {ratio:6.2f}x")
    print("(ratio: median over paired runs of srcad time / hand-written time)")
    print(f"transform of the README example: {transform_time(5 if pairs == 20 else 20) * 1e3:.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
