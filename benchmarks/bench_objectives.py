"""srcad on ADBench / GradBench objectives, against JAX-jit and PyTorch in the same run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_objectives.py          # a few minutes
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_objectives.py --quick  # about a minute

Four objectives, each at two sizes, written as a NumPy user writes them
(definitions: ADBench, Srajer et al. arXiv 1807.10129, and GradBench):

- GMM: the log-likelihood of a Gaussian mixture with a Wishart prior, in
  ADBench's sign form (the prior bracket added, as ADBench's implementations
  and golden values have it); gradient with respect to alphas, means, icf.
- D-LSTM: ADBench's diagonal LSTM over a bit-encoded character sequence, a
  Python loop over characters and layers; gradient with respect to the main
  and extra parameters.
- ODE: GradBench's "ode" system (y0' = x0, yi' = xi * y(i-1)) integrated by
  RK4 in a Python loop of `steps` steps; the last component of the final
  state, differentiated with respect to the parameters x and the initial
  state y0.
- k-means: the cost sum_i min_k |x_i - c_k|^2 and its Newton step
  grad / (Hessian times ones), from `srcad.grad` and `srcad.hvp` (the
  Hessian is diagonal, so this is GradBench's Newton direction).

For every objective the script first checks srcad's derivative against an
oracle that is not srcad: a central finite difference along a random
direction (GMM, D-LSTM, ODE) or the closed form (k-means), and JAX's and
PyTorch's derivatives where installed; it stops with a message if any
differs. It then times, in rounds whose order rotates, the objective and the
derivative of each tool (each sample a batch of calls lasting at least a few
milliseconds; JAX calls end in block_until_ready, its compile time is
excluded). A tool's ratio is the median over rounds of derivative time /
objective time, both measured in that round with that tool: srcad's
objective is the plain NumPy function. JAX (float64, jax_enable_x64) runs
`jax.jit` of the same computations, with `lax.scan` / `lax.fori_loop` for the
loops as a JAX user writes them; PyTorch runs eagerly in float64. All tools
run single-threaded. Last column: srcad's transform time (a fresh function
object: transform + first call - the faster of two later calls), and JAX's
compile time (first call - a later one).
JAX and PyTorch are optional: a missing one prints "-".
"""
import math
import os
import statistics
import sys
import time
import types

import numpy as np
from scipy.special import multigammaln

import srcad

SEED = 0


# -- the objectives, as a NumPy user writes them ------------------------------------

def logsumexp(a, axis):
    mx = np.max(a, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - mx), axis=axis)) + np.squeeze(mx, axis=axis)


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    N, D = x.shape
    K = alphas.shape[0]
    qs = icf[:, :D]                         # log of the diagonal of each Q_k
    ls = icf[:, D:]                         # strictly lower entries, column by column
    Qdiags = np.exp(qs)
    sum_qs = np.sum(qs, axis=1)
    cols, rows = np.triu_indices(D, 1)
    Ls = np.zeros((K, D, D))
    Ls[:, rows, cols] = ls
    xcentered = x[None, :, :] - means[:, None, :]
    Qxcentered = Qdiags[:, None, :] * xcentered + xcentered @ np.transpose(Ls, (0, 2, 1))
    main = (alphas + sum_qs)[:, None] - 0.5 * np.sum(Qxcentered ** 2, axis=2)
    n = D + wishart_m + 1
    C = n * D * (math.log(wishart_gamma) - 0.5 * math.log(2)) - multigammaln(0.5 * n, D)
    prior = (0.5 * wishart_gamma ** 2 * (np.sum(Qdiags ** 2) + np.sum(ls ** 2))
             - wishart_m * np.sum(sum_qs) - K * C)
    return (-0.5 * N * D * math.log(2 * math.pi) + np.sum(logsumexp(main, 0))
            - N * logsumexp(alphas, 0) + prior)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_objective(main, extra, state, seq):
    layers = main.shape[0] // 2
    b = seq.shape[1]
    hidden = [state[2 * i] for i in range(layers)]
    cell = [state[2 * i + 1] for i in range(layers)]
    total = 0.0
    count = 0
    for t in range(seq.shape[0] - 1):
        x = seq[t] * extra[0]
        for i in range(layers):
            weight = main[2 * i]
            bias = main[2 * i + 1]
            forget = sigmoid(x * weight[:b] + bias[:b])
            ingate = sigmoid(hidden[i] * weight[b:2 * b] + bias[b:2 * b])
            outgate = sigmoid(x * weight[2 * b:3 * b] + bias[2 * b:3 * b])
            change = np.tanh(hidden[i] * weight[3 * b:] + bias[3 * b:])
            cell[i] = cell[i] * forget + ingate * change
            hidden[i] = outgate * np.tanh(cell[i])
            x = hidden[i]
        y = x * extra[1] + extra[2]
        ynorm = y - np.log(np.sum(np.exp(y)) + 2.0)
        total += np.sum(seq[t + 1] * ynorm)
        count += b
    return -total / count


def ode_rhs(x, y):
    z = np.empty_like(y)
    z[0] = x[0]
    z[1:] = x[1:] * y[:-1]
    return z


def ode_solve(x, y0, steps):
    h = 2.0 / steps
    y = y0
    for _ in range(steps):
        k1 = ode_rhs(x, y)
        k2 = ode_rhs(x, y + 0.5 * h * k1)
        k3 = ode_rhs(x, y + 0.5 * h * k2)
        k4 = ode_rhs(x, y + h * k3)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y[-1]


def kmeans_cost(centroids, points):
    d2 = np.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    return np.sum(np.min(d2, axis=1))


_kmeans_grad = srcad.grad(kmeans_cost)
_kmeans_hvp = srcad.hvp(kmeans_cost)


def kmeans_newton_step(centroids, points):
    """The Newton direction: the Hessian of the cost is diagonal."""
    return _kmeans_grad(centroids, points) / _kmeans_hvp(centroids, points,
                                                         np.ones_like(centroids))


# -- data ------------------------------------------------------------------------------

def gmm_data(D, K, N, rng):
    """GradBench's distributions: N(0,1) for x, alphas, q and l, U(0,1) for the means."""
    return (rng.normal(size=K), rng.random((K, D)), rng.normal(size=(K, D * (D + 1) // 2)),
            rng.normal(size=(N, D)), 1.0, 0)


def lstm_data(layers, chars, rng, bits=14):
    """U(0,1) parameters and state, as ADBench; random bits for the characters."""
    return (rng.random((2 * layers, 4 * bits)), rng.random((3, bits)),
            rng.random((2 * layers, bits)), (rng.random((chars, bits)) < 0.5).astype(float))


def ode_data(n, steps, rng):
    return rng.random(n), np.zeros(n), steps


def kmeans_data(N, K, D, rng):
    return rng.normal(size=(K, D)), rng.normal(size=(N, D))


# -- JAX versions (jax.jit; loops as lax.scan / lax.fori_loop) --------------------------

def jax_versions():
    """{name: (objective, derivative)} of jitted JAX functions, or None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def lse(a, axis):
        mx = jnp.max(a, axis=axis, keepdims=True)
        return jnp.log(jnp.sum(jnp.exp(a - mx), axis=axis)) + jnp.squeeze(mx, axis=axis)

    def gmm(alphas, means, icf, x, wishart_gamma, wishart_m):
        N, D = x.shape
        K = alphas.shape[0]
        qs, ls = icf[:, :D], icf[:, D:]
        Qdiags = jnp.exp(qs)
        sum_qs = jnp.sum(qs, axis=1)
        cols, rows = np.triu_indices(D, 1)
        Ls = jnp.zeros((K, D, D)).at[:, rows, cols].set(ls)
        xc = x[None, :, :] - means[:, None, :]
        Qxc = Qdiags[:, None, :] * xc + xc @ jnp.transpose(Ls, (0, 2, 1))
        main = (alphas + sum_qs)[:, None] - 0.5 * jnp.sum(Qxc ** 2, axis=2)
        n = D + wishart_m + 1
        C = n * D * (math.log(wishart_gamma) - 0.5 * math.log(2)) - multigammaln(0.5 * n, D)
        prior = (0.5 * wishart_gamma ** 2 * (jnp.sum(Qdiags ** 2) + jnp.sum(ls ** 2))
                 - wishart_m * jnp.sum(sum_qs) - K * C)
        return (-0.5 * N * D * math.log(2 * math.pi) + jnp.sum(lse(main, 0))
                - N * lse(alphas, 0) + prior)

    def lstm(main, extra, state, seq):
        layers, b = main.shape[0] // 2, seq.shape[1]

        def step(carry, pair):
            hidden, cell = carry
            x = pair[0] * extra[0]
            new_h, new_c = [], []
            for i in range(layers):
                w, bias = main[2 * i], main[2 * i + 1]
                forget = jax.nn.sigmoid(x * w[:b] + bias[:b])
                ingate = jax.nn.sigmoid(hidden[i] * w[b:2 * b] + bias[b:2 * b])
                outgate = jax.nn.sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
                change = jnp.tanh(hidden[i] * w[3 * b:] + bias[3 * b:])
                c = cell[i] * forget + ingate * change
                x = outgate * jnp.tanh(c)
                new_h.append(x)
                new_c.append(c)
            y = x * extra[1] + extra[2]
            ynorm = y - jnp.log(jnp.sum(jnp.exp(y)) + 2.0)
            return (jnp.stack(new_h), jnp.stack(new_c)), jnp.sum(pair[1] * ynorm)

        pairs = jnp.stack([seq[:-1], seq[1:]], axis=1)
        _, totals = jax.lax.scan(step, (state[0::2], state[1::2]), pairs)
        return -jnp.sum(totals) / ((seq.shape[0] - 1) * b)

    def ode(x, y0, steps):
        h = 2.0 / steps

        def rhs(y):
            return jnp.concatenate([x[:1], x[1:] * y[:-1]])

        def step(_, y):
            k1 = rhs(y)
            k2 = rhs(y + 0.5 * h * k1)
            k3 = rhs(y + 0.5 * h * k2)
            k4 = rhs(y + h * k3)
            return y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

        return jax.lax.fori_loop(0, steps, step, y0)[-1]

    def kmeans(centroids, points):
        d2 = jnp.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
        return jnp.sum(jnp.min(d2, axis=1))

    def kmeans_step(centroids, points):
        g, hv = jax.jvp(lambda c: jax.grad(kmeans)(c, points), (centroids,),
                        (jnp.ones_like(centroids),))
        return g / hv

    def synced(fn, statics):
        jitted = jax.jit(fn, static_argnums=statics)

        def call(*args):
            return jax.block_until_ready(jitted(*args))
        return call

    return {
        "gmm": (synced(gmm, (4, 5)), synced(jax.grad(gmm, argnums=(0, 1, 2)), (4, 5))),
        "lstm": (synced(lstm, ()), synced(jax.grad(lstm, argnums=(0, 1)), ())),
        "ode": (synced(ode, (2,)), synced(jax.grad(ode, argnums=(0, 1)), (2,))),
        "kmeans": (synced(kmeans, ()), synced(kmeans_step, ())),
    }


# -- PyTorch versions (eager, float64) ---------------------------------------------------

def torch_versions():
    """{name: (objective, derivative)} taking NumPy arrays, or None without PyTorch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def lse(a, axis):
        mx = torch.amax(a, dim=axis, keepdim=True)
        return torch.log(torch.sum(torch.exp(a - mx), dim=axis)) + torch.squeeze(mx, axis)

    def gmm(alphas, means, icf, x, wishart_gamma, wishart_m):
        N, D = x.shape
        K = alphas.shape[0]
        qs, ls = icf[:, :D], icf[:, D:]
        Qdiags = torch.exp(qs)
        sum_qs = torch.sum(qs, dim=1)
        cols, rows = np.triu_indices(D, 1)
        Ls = torch.zeros((K, D, D), dtype=torch.float64)
        Ls[:, rows, cols] = ls
        xc = x[None, :, :] - means[:, None, :]
        Qxc = Qdiags[:, None, :] * xc + xc @ torch.transpose(Ls, 1, 2)
        main = (alphas + sum_qs)[:, None] - 0.5 * torch.sum(Qxc ** 2, dim=2)
        n = D + wishart_m + 1
        C = n * D * (math.log(wishart_gamma) - 0.5 * math.log(2)) - multigammaln(0.5 * n, D)
        prior = (0.5 * wishart_gamma ** 2 * (torch.sum(Qdiags ** 2) + torch.sum(ls ** 2))
                 - wishart_m * torch.sum(sum_qs) - K * C)
        return (-0.5 * N * D * math.log(2 * math.pi) + torch.sum(lse(main, 0))
                - N * lse(alphas, 0) + prior)

    def lstm(main, extra, state, seq):
        layers, b = main.shape[0] // 2, seq.shape[1]
        hidden = [state[2 * i] for i in range(layers)]
        cell = [state[2 * i + 1] for i in range(layers)]
        total = 0.0
        for t in range(seq.shape[0] - 1):
            x = seq[t] * extra[0]
            for i in range(layers):
                w, bias = main[2 * i], main[2 * i + 1]
                forget = torch.sigmoid(x * w[:b] + bias[:b])
                ingate = torch.sigmoid(hidden[i] * w[b:2 * b] + bias[b:2 * b])
                outgate = torch.sigmoid(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
                change = torch.tanh(hidden[i] * w[3 * b:] + bias[3 * b:])
                cell[i] = cell[i] * forget + ingate * change
                hidden[i] = outgate * torch.tanh(cell[i])
                x = hidden[i]
            y = x * extra[1] + extra[2]
            ynorm = y - torch.log(torch.sum(torch.exp(y)) + 2.0)
            total = total + torch.sum(seq[t + 1] * ynorm)
        return -total / ((seq.shape[0] - 1) * b)

    def ode(x, y0, steps):
        h = 2.0 / steps

        def rhs(y):
            return torch.cat([x[:1], x[1:] * y[:-1]])

        y = y0
        for _ in range(steps):
            k1 = rhs(y)
            k2 = rhs(y + 0.5 * h * k1)
            k3 = rhs(y + 0.5 * h * k2)
            k4 = rhs(y + h * k3)
            y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return y[-1]

    def kmeans(centroids, points):
        d2 = torch.sum((points[:, None, :] - centroids[None, :, :]) ** 2, dim=2)
        return torch.sum(torch.amin(d2, dim=1))

    def tensors(args, wrt):
        return [torch.tensor(a, dtype=torch.float64, requires_grad=k in wrt)
                if isinstance(a, np.ndarray) else a for k, a in enumerate(args)]

    def objective(fn):
        def call(*args):
            with torch.no_grad():
                return fn(*tensors(args, ())).item()
        return call

    def gradient(fn, wrt):
        def call(*args):
            inputs = tensors(args, wrt)
            grads = torch.autograd.grad(fn(*inputs), [inputs[k] for k in wrt])
            return tuple(g.numpy() for g in grads)
        return call

    def kmeans_step(centroids, points):
        c, p = tensors((centroids, points), (0,))
        (g,) = torch.autograd.grad(kmeans(c, p), c, create_graph=True)
        (hv,) = torch.autograd.grad(g, c, torch.ones_like(c))
        return (g / hv).detach().numpy()

    return {
        "gmm": (objective(gmm), gradient(gmm, (0, 1, 2))),
        "lstm": (objective(lstm), gradient(lstm, (0, 1))),
        "ode": (objective(ode), gradient(ode, (0, 1))),
        "kmeans": (objective(kmeans), kmeans_step),
    }


# -- the cases -------------------------------------------------------------------------

def cases(quick):
    """(name, label, objective, wrt or None for k-means, argument maker)."""
    lstm_big = (4, 1024) if quick else (4, 4096)
    return [
        ("gmm", "GMM D=10 K=25 N=1000", gmm_objective, (0, 1, 2),
         lambda rng: gmm_data(10, 25, 1000, rng)),
        ("gmm", "GMM D=64 K=100 N=1000", gmm_objective, (0, 1, 2),
         lambda rng: gmm_data(64, 100, 1000, rng)),
        ("lstm", "D-LSTM l=2 c=1024 b=14", lstm_objective, (0, 1),
         lambda rng: lstm_data(2, 1024, rng)),
        ("lstm", f"D-LSTM l={lstm_big[0]} c={lstm_big[1]} b=14", lstm_objective, (0, 1),
         lambda rng: lstm_data(*lstm_big, rng)),
        ("ode", "ODE RK4 n=10 steps=1000", ode_solve, (0, 1), lambda rng: ode_data(10, 1000, rng)),
        ("ode", "ODE RK4 n=100 steps=1000", ode_solve, (0, 1),
         lambda rng: ode_data(100, 1000, rng)),
        ("kmeans", "k-means N=1000 K=10 D=8", kmeans_cost, None,
         lambda rng: kmeans_data(1000, 10, 8, rng)),
        ("kmeans", "k-means N=10000 K=100 D=16", kmeans_cost, None,
         lambda rng: kmeans_data(10000, 100, 16, rng)),
    ]


def srcad_derivative(f, wrt):
    return kmeans_newton_step if wrt is None else srcad.grad(f, wrt=wrt)


# -- checks ------------------------------------------------------------------------------

def as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


def kmeans_closed_form(centroids, points):
    """grad / diag(Hessian) of the k-means cost, from the assignment of each point."""
    d2 = np.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    nearest = np.argmin(d2, axis=1)
    counts = np.bincount(nearest, minlength=len(centroids))[:, None].astype(float)
    sums = np.zeros_like(centroids)
    np.add.at(sums, nearest, points)
    return (2.0 * (counts * centroids - sums)) / (2.0 * counts)


def finite_difference_check(label, f, wrt, grads, args):
    """Stop unless <gradient, d> matches a central difference along a random direction d."""
    rng = np.random.default_rng(SEED + 1)
    dirs = [rng.normal(size=np.shape(args[i])) for i in wrt]
    eps = 1e-6

    def moved(sign):
        new = list(args)
        for i, d in zip(wrt, dirs):
            new[i] = args[i] + sign * eps * d
        return f(*new)

    fd = (moved(1.0) - moved(-1.0)) / (2 * eps)
    exact = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
    if not math.isclose(fd, exact, rel_tol=1e-5, abs_tol=1e-9 * max(1.0, abs(exact))):
        sys.exit(f"ABORT {label}: srcad's gradient fails the finite-difference check "
                 f"(<grad, d> = {exact!r}, central difference {fd!r})")


def check(label, name, f, wrt, derivative, args, others):
    """Stop unless srcad's derivative matches the oracles and the other tools."""
    got = as_tuple(derivative(*args))
    if wrt is None:
        expected = kmeans_closed_form(*args)
        if not np.allclose(got[0], expected, rtol=1e-9, atol=1e-12):
            sys.exit(f"ABORT {label}: srcad's Newton step differs from the closed form "
                     f"(max abs difference {np.max(np.abs(got[0] - expected))})")
    else:
        finite_difference_check(label, f, wrt, got, args)
    for tool, versions in others.items():
        theirs = tuple(np.asarray(g) for g in as_tuple(versions[name][1](*args)))
        if len(theirs) != len(got) or any(
                np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=1e-7, atol=1e-10)
                for a, b in zip(got, theirs)):
            sys.exit(f"ABORT {label}: srcad's derivative differs from {tool}'s")
        value = float(versions[name][0](*args))
        if not math.isclose(value, float(f(*args)), rel_tol=1e-9, abs_tol=1e-12):
            sys.exit(f"ABORT {label}: {tool}'s objective differs from the NumPy one; "
                     "fix the benchmark")


# -- timing ------------------------------------------------------------------------------

def timed(fn, args, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn(*args)
    return (time.perf_counter() - t0) / number


def calls_per_sample(fn, args, floor):
    once = min(timed(fn, args, 1) for _ in range(2))
    return max(1, math.ceil(floor / max(once, 1e-7)))


def measure(pairs, args, rounds, floor):
    """{tool: (objective s, derivative s, median per-round ratio)}; order rotates."""
    items = [(tool, kind, fn) for tool, fns in pairs.items() for kind, fn in zip("od", fns)]
    numbers = {}
    for tool, kind, fn in items:
        fn(*args)                               # warm up (JAX compiles here)
        numbers[tool, kind] = calls_per_sample(fn, args, floor)
    times = {key: [] for key in numbers}
    for r in range(rounds):
        shift = r % len(items)
        for tool, kind, fn in items[shift:] + items[:shift]:
            times[tool, kind].append(timed(fn, args, numbers[tool, kind]))
    result = {}
    for tool in pairs:
        obj, der = times[tool, "o"], times[tool, "d"]
        result[tool] = (statistics.median(obj), statistics.median(der),
                        statistics.median(d / o for d, o in zip(der, obj)))
    return result


def transform_time(f, wrt, args, repeats):
    """Median of: transform of a fresh copy of f + its first call - the faster of two
    later calls."""
    samples = []
    for _ in range(repeats):
        fresh = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__,
                                   f.__closure__)
        if wrt is None:
            g, h = srcad.grad(fresh), srcad.hvp(fresh)

            def call():
                g(*args)
                h(*args, np.ones_like(args[0]))
        else:
            df = srcad.grad(fresh, wrt=wrt)

            def call():
                df(*args)
        t0 = time.perf_counter()
        call()
        first = time.perf_counter() - t0
        samples.append(first - min(timed(call, (), 1) for _ in range(2)))
    return statistics.median(samples)


def compile_time(fn, args):
    """First call of a jitted function minus a later one."""
    t0 = time.perf_counter()
    fn(*args)
    t1 = time.perf_counter()
    fn(*args)
    t2 = time.perf_counter()
    return (t1 - t0) - (t2 - t1)


def main(argv):
    unknown = [a for a in argv if a != "--quick"]
    if unknown:
        sys.exit(f"usage: python benchmarks/bench_objectives.py [--quick]  (unknown: {unknown})")
    quick = "--quick" in argv
    rounds, floor = (5, 0.002) if quick else (7, 0.01)
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                          "intra_op_parallelism_threads=1")    # before JAX is imported
    others = {}
    for tool, make in (("JAX", jax_versions), ("PyTorch", torch_versions)):
        versions = make()
        if versions is not None:
            others[tool] = versions
    versions = ", ".join(f"{m.__name__} {m.__version__}" for m in
                         [np] + [sys.modules[n] for n in ("jax", "torch") if n in sys.modules])
    print(f"{versions}, python {sys.version.split()[0]}, {rounds} rounds, seed {SEED}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    header = (f"{'objective':28s} {'f (ms)':>9s} {'srcad':>7s} {'JAX':>7s} {'PyTorch':>8s}"
              f" {'srcad df (ms)':>13s} {'transform':>10s} {'JAX jit':>8s}")
    print("derivative / objective, median of per-round ratios; each tool against its own "
          "objective")
    print(header)
    print("-" * len(header))
    for name, label, f, wrt, make_args in cases(quick):
        args = make_args(np.random.default_rng(SEED))
        derivative = srcad_derivative(f, wrt)
        jit = compile_time(others["JAX"][name][1], args) if "JAX" in others else None
        check(label, name, f, wrt, derivative, args, others)
        pairs = {"srcad": (f, derivative)}
        pairs.update({tool: versions[name] for tool, versions in others.items()})
        result = measure(pairs, args, rounds, floor)
        transform = transform_time(f, wrt, args, 1 if quick else 3)

        def ratio(tool):
            return f"{result[tool][2]:6.2f}x" if tool in result else f"{'-':>7s}"
        print(f"{label:28s} {result['srcad'][0] * 1e3:9.3f} {ratio('srcad'):>7s} "
              f"{ratio('JAX'):>7s} {ratio('PyTorch'):>8s} {result['srcad'][1] * 1e3:13.3f} "
              f"{transform * 1e3:8.0f}ms "
              + (f"{jit * 1e3:6.0f}ms" if jit is not None else f"{'-':>8s}"))
        sys.stdout.flush()
    print("k-means derivative: the Newton step grad / hvp(ones) (srcad.grad + srcad.hvp); "
          "transform: grad + hvp")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
