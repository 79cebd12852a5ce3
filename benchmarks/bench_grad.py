"""srcad's gradients against hand-written NumPy gradients, timed in the same run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_grad.py            # about 20 s
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_grad.py --quick    # about 7 s

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

A second table prints derivative / objective (the figure AD papers report)
for the same workloads: srcad's gradient against the plain NumPy function,
and, where installed, JAX's jax.jit(jax.grad(f)) against jax.jit(f) (float64,
calls end in block_until_ready, compile excluded) and PyTorch's eager
f(...).backward() against f(...) under no_grad (float64), each tool against
its own objective. The JAX and PyTorch versions are written as their users
write them (the scalar loop: lax.fori_loop + lax.cond in JAX, 0-d tensors
and a Python branch in PyTorch; the RNN: lax.scan in JAX); their gradients
and objectives are checked against srcad's and NumPy's before timing. The
timing is bench_objectives.py's: rounds whose order rotates, the median of
the per-round ratios. A missing JAX or PyTorch prints "-". Importing JAX and
PyTorch changes glibc's allocator state: NumPy's temporaries of 100,000
entries fault in fresh pages less often afterwards, so the elementwise chain
is faster in the second table than in the first.

The hand-written gradients are what a NumPy programmer writes to get the
gradient: the forward pass it needs and a reverse pass, with the usual
algebra (sigmoid + log-loss gives p - y, softmax + cross-entropy gives
p - Y), and without computing the loss value, which grad does not return.
"""
import math
import os
import statistics
import sys
import time
import types

import numpy as np

import srcad
from bench_objectives import measure

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


# -- JAX and PyTorch versions, as their users write them -----------------------------

def jax_versions(workloads_args):
    """{label: (objective, derivative)}: thunks of jitted JAX functions on device copies of
    the arguments, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    lax = jax.lax

    def scalar_loop(x, a, b):
        def step(i, x):
            return lax.cond(x > 0, lambda x: x * a + jnp.sin(x) - 1.0,
                            lambda x: x * b + 0.5, x)
        return lax.fori_loop(0, 200, step, x)

    def logistic(w, X, y):
        p = 1.0 / (1.0 + jnp.exp(-(X @ w)))
        return -jnp.mean(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))

    def mlp(W1, b1, W2, b2, X, Y):
        h = jnp.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        return -jnp.sum(Y * jax.nn.log_softmax(z, axis=1)) / X.shape[0]

    def rnn(Wx, Wh, xs, h0):
        def step(h, x):
            return jnp.tanh(x @ Wx + h @ Wh), None
        h, _ = lax.scan(step, h0, xs)
        return jnp.sum(h ** 2)

    def small_ops(x, y):
        b = jnp.sin(x * y) + y
        return 0.5 * jnp.sum(b * b - x)

    def elementwise(x):
        return jnp.sum(jnp.tanh(x) * jnp.exp(-x * x))

    fns = [scalar_loop, logistic, mlp, rnn, small_ops, elementwise]
    result = {}
    for fn, (label, wrt, args) in zip(fns, workloads_args):
        objective, derivative = jax.jit(fn), jax.jit(jax.grad(fn, argnums=wrt))
        device_args = tuple(jnp.asarray(a) for a in args)
        result[label] = (lambda o=objective, a=device_args: jax.block_until_ready(o(*a)),
                         lambda d=derivative, a=device_args: jax.block_until_ready(d(*a)))
    return result


def torch_versions(workloads_args):
    """{label: (objective, derivative)}: thunks of eager float64 PyTorch functions on
    tensors sharing the arguments' memory, or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def scalar_loop(x, a, b):
        for i in range(200):
            if x > 0:
                x = x * a + torch.sin(x) - 1.0
            else:
                x = x * b + 0.5
        return x

    def logistic(w, X, y):
        p = 1.0 / (1.0 + torch.exp(-(X @ w)))
        return -torch.mean(y * torch.log(p) + (1.0 - y) * torch.log(1.0 - p))

    def mlp(W1, b1, W2, b2, X, Y):
        h = torch.tanh(X @ W1 + b1)
        z = h @ W2 + b2
        return -torch.sum(Y * torch.log_softmax(z, dim=1)) / X.shape[0]

    def rnn(Wx, Wh, xs, h0):
        h = h0
        for t in range(xs.shape[0]):
            h = torch.tanh(xs[t] @ Wx + h @ Wh)
        return torch.sum(h ** 2)

    def small_ops(x, y):
        b = torch.sin(x * y) + y
        return 0.5 * torch.sum(b * b - x)

    def elementwise(x):
        return torch.sum(torch.tanh(x) * torch.exp(-x * x))

    def tensor(a, leaf):
        t = torch.from_numpy(a) if isinstance(a, np.ndarray) else \
            torch.tensor(a, dtype=torch.float64)
        return t.requires_grad_(leaf)

    def thunks(fn, wrt, args):
        inputs = [tensor(a, k in wrt) for k, a in enumerate(args)]
        leaves = [inputs[k] for k in wrt]

        def objective():
            with torch.no_grad():
                return fn(*inputs)

        def derivative():
            for leaf in leaves:
                leaf.grad = None
            fn(*inputs).backward()
            return tuple(leaf.grad for leaf in leaves)
        return objective, derivative

    fns = [scalar_loop, logistic, mlp, rnn, small_ops, elementwise]
    return {label: thunks(fn, wrt if isinstance(wrt, tuple) else (wrt,), args)
            for fn, (label, wrt, args) in zip(fns, workloads_args)}


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


def check_other(label, tool, f, df, args, objective, derivative):
    """Stop unless another tool's gradient equals srcad's and its objective NumPy's."""
    got = as_tuple(df(*args))
    theirs = tuple(np.asarray(g) for g in as_tuple(derivative()))
    if len(theirs) != len(got) or any(
            np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=1e-7, atol=1e-10)
            for a, b in zip(got, theirs)):
        sys.exit(f"ABORT {label}: srcad's gradient differs from {tool}'s")
    if not math.isclose(float(objective()), float(f(*args)), rel_tol=1e-9, abs_tol=1e-12):
        sys.exit(f"ABORT {label}: {tool}'s objective differs from the NumPy one; "
                 "fix the benchmark")


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
    print()
    derivative_over_objective(quick)
    return 0


def derivative_over_objective(quick):
    """Print df / f of srcad, JAX and PyTorch for each workload, measured in one run."""
    rounds, floor = (7, 0.002) if quick else (31, 0.005)
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                          "intra_op_parallelism_threads=1")    # before JAX is imported
    cases = workloads()
    plain = [(label, wrt, args) for label, _, wrt, _, args, _ in cases]
    others = {}
    for tool, make in (("JAX", jax_versions), ("PyTorch", torch_versions)):
        versions = make(plain)
        if versions is not None:
            others[tool] = versions
    names = ", ".join(f"{m.__name__} {m.__version__}"
                      for m in [sys.modules[n] for n in ("jax", "torch") if n in sys.modules])
    print(f"derivative / objective, median of per-round ratios over {rounds} rounds; each "
          f"tool against its own objective ({names or 'no JAX, no PyTorch'})")
    header = (f"{'workload':38s} {'f (ms)':>9s} {'df (ms)':>9s} {'srcad':>7s} {'JAX':>7s} "
              f"{'PyTorch':>8s}")
    print(header)
    print("-" * len(header))
    for label, f, wrt, _, args, _ in cases:
        df = srcad.grad(f, wrt=wrt)
        thunks = {"srcad": (lambda: f(*args), lambda: df(*args))}
        for tool, versions in others.items():
            check_other(label, tool, f, df, args, *versions[label])
            thunks[tool] = versions[label]
        result = measure(thunks, (), rounds, floor)

        def ratio(tool, width):
            return f"{result[tool][2]:{width - 1}.2f}x" if tool in result else f"{'-':>{width}s}"
        print(f"{label:38s} {result['srcad'][0] * 1e3:9.3f} {result['srcad'][1] * 1e3:9.3f} "
              f"{ratio('srcad', 7)} "
              f"{ratio('JAX', 7)} {ratio('PyTorch', 8)}")
        sys.stdout.flush()
    print("f, df (ms): the NumPy objective and srcad's gradient; JAX: jit(grad(f)) / jit(f); "
          "PyTorch: f(...).backward() / f(...) under no_grad")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
