"""srcad's gradients against hand-written NumPy gradients, timed in the same run.

    python benchmarks/bench_grad.py            # about 10 s
    python benchmarks/bench_grad.py --quick    # fewer repetitions, about 2 s

For each workload the script first checks that srcad's gradient equals the
hand-written one (np.allclose, and the hand-written one against a central
finite difference along a random direction) and stops with a message if not.
It then alternates srcad calls and hand-written calls (the order flips every
pair); each sample times a batch of calls long enough (>= 1 ms) for the clock
to resolve it. The ratio printed is the MEDIAN OF THE PER-PAIR RATIOS
srcad/hand-written; the ratio of the two median times is printed beside it
as a cross-check. Last comes the transform time of the README example of
issue 2: a fresh function object each time (so nothing is cached), the time
of srcad.grad(f) plus its first call, minus the time of a later call; the
median of several.

The hand-written gradients are what a NumPy programmer writes to get the
gradient: the forward pass it needs and a reverse pass, with the usual
algebra (sigmoid + log-loss gives p - y, softmax + cross-entropy gives
p - Y), and without computing the loss value, which grad does not return.
"""
import math
import statistics
import sys
import time
import types

import numpy as np

import srcad

SEED = 0


# -- 1. a scalar loop with a branch, pure Python floats ---------------------

def scalar_loop(x, a, b):
    for i in range(200):
        if x > 0:
            x = x * a + math.sin(x) - 1.0
        else:
            x = x * b + 0.5
    return x


def scalar_loop_by_hand(x, a, b):
    tape = []                                   # (x before the step, branch taken)
    for i in range(200):
        if x > 0:
            tape.append((x, True))
            x = x * a + math.sin(x) - 1.0
        else:
            tape.append((x, False))
            x = x * b + 0.5
    dx, da, db = 1.0, 0.0, 0.0
    for x, positive in reversed(tape):
        if positive:
            da += dx * x
            dx = dx * (a + math.cos(x))
        else:
            db += dx * x
            dx = dx * b
    return dx, da, db


# -- 2. logistic regression, mean log-loss via the sigmoid -------------------

def logistic(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def logistic_by_hand(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (p - y) / y.shape[0]


# -- 3. 2-layer tanh MLP, softmax cross-entropy -------------------------------

def mlp(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - np.max(z, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def mlp_by_hand(W1, b1, W2, b2, X, Y):
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    dz = (p - Y) / X.shape[0]                   # rows of Y are one-hot
    dW2 = h.T @ dz
    db2 = dz.sum(axis=0)
    da = (dz @ W2.T) * (1.0 - h * h)
    dW1 = X.T @ da
    db1 = da.sum(axis=0)
    return dW1, db1, dW2, db2


# -- 4. tanh RNN as a Python loop ----------------------------------------------

def rnn(Wx, Wh, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
    return np.sum(h ** 2)


def rnn_by_hand(Wx, Wh, xs, h0):
    hs = [h0]
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
        hs.append(h)
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    dh = 2.0 * h
    for t in range(xs.shape[0] - 1, -1, -1):
        da = dh * (1.0 - hs[t + 1] * hs[t + 1])
        dWx += np.outer(xs[t], da)
        dWh += np.outer(hs[t], da)
        dh = Wh @ da
    return dWx, dWh


# -- 5. a few elementwise operations on short arrays: the cost of each call -------

def small_ops(x, y):
    a = x * y
    b = np.sin(a) + y
    return 0.5 * np.sum(b * b - x)


def small_ops_by_hand(x, y):
    a = x * y
    b = np.sin(a) + y
    da = b * np.cos(a)                          # d(0.5 * b * b)/db = b
    return da * y - 0.5, da * x + b


# -- 6. an elementwise chain on a long array: the cost of each pass over memory -----

def elementwise(x):
    return np.sum(np.tanh(x) * np.exp(-x * x))


def elementwise_by_hand(x):
    t = np.tanh(x)
    e = np.exp(-x * x)
    return e * (1.0 - t * t - 2.0 * x * t)


def workloads():
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(1000, 100))
    y = (rng.random(1000) < 0.5).astype(float)
    w = rng.normal(size=100) * 0.1
    Xm = rng.normal(size=(256, 784))
    Ym = np.eye(10)[rng.integers(0, 10, size=256)]
    W1, b1 = rng.normal(size=(784, 256)) * 0.05, rng.normal(size=256) * 0.1
    W2, b2 = rng.normal(size=(256, 10)) * 0.05, rng.normal(size=10) * 0.1
    xs, h0 = rng.normal(size=(100, 32)), rng.normal(size=64) * 0.1
    Wx, Wh = rng.normal(size=(32, 64)) * 0.2, rng.normal(size=(64, 64)) * 0.1
    xo, yo = rng.normal(size=16), rng.normal(size=16)
    xe = rng.normal(size=100_000)
    # (label, function, wrt, hand-written gradient, arguments, target ratio)
    return [
        ("scalar loop, 200 iterations, floats", scalar_loop, (0, 1, 2), scalar_loop_by_hand,
         (0.3, 0.7, 0.6), 1.0),
        ("logistic regression 1000x100", logistic, 0, logistic_by_hand, (w, X, y), 1.1),
        ("MLP 784-256-10, batch 256", mlp, (0, 1, 2, 3), mlp_by_hand,
         (W1, b1, W2, b2, Xm, Ym), 1.0),
        ("tanh RNN, T=100, 32->64", rnn, (0, 1), rnn_by_hand, (Wx, Wh, xs, h0), 1.0),
        ("small ops on 16 entries", small_ops, (0, 1), small_ops_by_hand, (xo, yo), 1.0),
        ("elementwise chain, 100,000 entries", elementwise, 0, elementwise_by_hand, (xe,),
         1.0),
    ]


# -- checks ------------------------------------------------------------------------

def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def check(label, f, wrt, df, by_hand, args):
    """Stop unless srcad equals the hand-written gradient, and that one is right."""
    got, expected = as_tuple(df(*args)), as_tuple(by_hand(*args))
    if len(got) != len(expected):
        sys.exit(f"ABORT {label}: srcad returned {len(got)} gradients, expected {len(expected)}")
    for k, (a, b) in enumerate(zip(got, expected)):
        if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=1e-7, atol=1e-10):
            diff = np.max(np.abs(np.asarray(a) - np.asarray(b))) \
                if np.shape(a) == np.shape(b) else f"shapes {np.shape(a)} vs {np.shape(b)}"
            sys.exit(f"ABORT {label}: srcad's gradient #{k} differs from the hand-written "
                     f"one (max abs difference {diff})")
    # the hand-written gradient against a central difference along a random direction
    rng = np.random.default_rng(SEED + 1)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    dirs = [rng.normal(size=np.shape(args[i])) for i in positions]
    eps = 1e-6

    def moved(sign):
        new = list(args)
        for i, d in zip(positions, dirs):
            new[i] = args[i] + sign * eps * (float(d) if np.ndim(d) == 0 else d)
        return f(*new)

    fd = (moved(1.0) - moved(-1.0)) / (2 * eps)
    exact = sum(float(np.sum(g * d)) for g, d in zip(expected, dirs))
    if not math.isclose(fd, exact, rel_tol=1e-5, abs_tol=1e-7):
        sys.exit(f"ABORT {label}: the hand-written gradient fails the finite-difference "
                 f"check ({exact} vs {fd}); fix the benchmark")


# -- timing ------------------------------------------------------------------------

def batch_size(fns, args, floor=1e-3):
    """Calls per sample so that one sample of the faster function takes >= floor s."""
    fastest = min(min(timed(fn, args, 1) for _ in range(5)) for fn in fns)
    return max(1, math.ceil(floor / max(fastest, 1e-7)))


def timed(fn, args, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn(*args)
    return (time.perf_counter() - t0) / number


def paired(df, by_hand, args, pairs):
    """Alternate srcad and hand-written samples; per-call times and per-pair ratios."""
    for _ in range(3):                          # warm up both
        df(*args)
        by_hand(*args)
    number = batch_size((df, by_hand), args)
    ts, th = [], []
    for k in range(pairs):
        if k % 2:
            b = timed(by_hand, args, number)
            s = timed(df, args, number)
        else:
            s = timed(df, args, number)
            b = timed(by_hand, args, number)
        ts.append(s)
        th.append(b)
    ratios = [s / b for s, b in zip(ts, th)]
    return statistics.median(ts), statistics.median(th), statistics.median(ratios), ratios


# -- transform time of the README example of issue 2 ---------------------------------

def readme_loss(W, b, X, y):
    h = np.zeros((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):          # a loop over rows
        h[i] = np.tanh(X[i] @ W + b)     # an in-place row update
    err = h - y
    if np.mean(err) > 0:                 # a data-dependent branch
        err = 2.0 * err
    return np.sum(err ** 2)


def transform_time(repeats):
    rng = np.random.default_rng(SEED)
    args = (rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(5, 3)),
            rng.normal(size=(5, 4)))
    f0 = readme_loss
    times = []
    for _ in range(repeats):
        # a new function object with the same code: srcad's cache does not know it
        f = types.FunctionType(f0.__code__, f0.__globals__, f0.__name__, f0.__defaults__,
                               f0.__closure__)
        t0 = time.perf_counter()
        df = srcad.grad(f, wrt=(0, 1))
        df(*args)
        t1 = time.perf_counter()
        df(*args)
        t2 = time.perf_counter()
        times.append((t1 - t0) - (t2 - t1))
    return statistics.median(times), min(times), max(times)


def main(argv):
    unknown = [a for a in argv if a != "--quick"]
    if unknown:
        sys.exit(f"usage: python benchmarks/bench_grad.py [--quick]  (unknown: {unknown})")
    quick = "--quick" in argv
    pairs = 30 if quick else 300
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"{pairs} paired samples per workload, seed {SEED}")
    header = (f"{'workload':38s} {'srcad':>10s} {'by hand':>10s} {'ratio':>7s} "
              f"{'(r.o.m.)':>8s} {'target':>7s}")
    print(header)
    print("-" * len(header))
    missed = []
    for label, f, wrt, by_hand, args, target in workloads():
        df = srcad.grad(f, wrt=wrt)
        check(label, f, wrt, df, by_hand, args)
        t_s, t_h, ratio, _ = paired(df, by_hand, args, pairs)
        mark = "ok" if ratio <= target else "MISSED"
        if ratio > target:
            missed.append(label)
        print(f"{label:38s} {t_s * 1e3:8.3f}ms {t_h * 1e3:8.3f}ms {ratio:6.2f}x "
              f"{t_s / t_h:7.2f}x {target:5.1f}x  {mark}")
    print("ratio: median of per-pair ratios srcad/hand-written; "
          "(r.o.m.): ratio of the two median times")
    med, lo, hi = transform_time(7 if quick else 25)
    mark = "ok" if med <= 0.020 else "MISSED"
    print(f"transform of the README example (grad + first call - later call): "
          f"{med * 1e3:.1f} ms median (min {lo * 1e3:.1f}, max {hi * 1e3:.1f}), "
          f"target 20 ms  {mark}")
    if med > 0.020:
        missed.append("transform time")
    if missed:
        print("above target: " + "; ".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
