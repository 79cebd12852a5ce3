"""Memory traffic and call overhead of srcad's gradients, measured in one run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_memory.py            # about 30 s
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_memory.py --quick    # about 5 s

1. Minor page faults and time per call, in steady state (the median over calls
   after the first two), of the gradient of two Python loops over arrays:
   an RK4 integration of dy/dt = x * sin(y) (elementwise, 20 steps) and the
   update x = x + h * tanh(x @ W) (100 steps), each at two sizes. Three ways
   alternate, call by call: `grad` (its tape keeps its arrays between calls),
   the same generated primal and adjoint run on a plain list (what each call
   did before: fresh arrays, freed at the end, faulted in again), and the
   function alone. The target: no page faults per call after the first.
2. The cost of `grad`'s wrapper: a call of the transform minus a call of its
   generated primal and adjoint from a plain function, for a float argument
   with wrt=0, two floats with wrt=(0, 1), a dict, and an array. The target:
   under 0.5 us.
"""
import resource
import statistics
import sys
import time
import timeit

import numpy as np

import srcad

QUICK = "--quick" in sys.argv


def rk4(x, y):
    h = 0.01
    for i in range(20):
        k1 = x * np.sin(y)
        k2 = x * np.sin(y + 0.5 * h * k1)
        k3 = x * np.sin(y + 0.5 * h * k2)
        k4 = x * np.sin(y + h * k3)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return np.sum(y)


def tanh_steps(x, W):
    h = 0.01
    for i in range(100):
        x = x + h * np.tanh(x @ W)
    return np.sum(x * x)


def faults_and_time(run, calls):
    """Median minor page faults and seconds of one call of run, from the third call."""
    faults, seconds = [], []
    for i in range(calls):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return statistics.median(faults[2:]), statistics.median(seconds[2:])


def on_a_list(g, args):
    """The generated primal and adjoint of g's last call, run on a plain list."""
    compiled = g.last
    primal = compiled.grad_primal or compiled.primal
    seeded = compiled.seeded_adjoint        # what grad runs: the seed 1.0 folded in

    def run():
        stack = []
        primal(stack, *args)
        return seeded(stack) if seeded else compiled.adjoint(stack, 1.0)
    return run


def memory():
    rng = np.random.default_rng(0)
    cases = [("rk4, 10^4", rk4, (rng.random(10_000), rng.random(10_000))),
             ("rk4, 10^5", rk4, (rng.random(100_000), rng.random(100_000))),
             ("tanh steps, 50x50", tanh_steps, (rng.random((50, 50)), rng.random((50, 50)) / 50)),
             ("tanh steps, 200x200", tanh_steps,
              (rng.random((200, 200)), rng.random((200, 200)) / 200))]
    calls = 6 if QUICK else 15
    print("steady state per call (median from the third call)")
    print(f"{'workload':22s} {'grad: faults':>13s} {'ms':>8s} {'on a list: faults':>18s} "
          f"{'ms':>8s} {'f alone: faults':>16s} {'ms':>8s}")
    for label, f, args in cases:
        g = srcad.grad(f, wrt=(0, 1))
        g(*args)
        ways = {"grad": lambda: g(*args), "list": on_a_list(g, args), "f": lambda: f(*args)}
        for got, expected in zip(g(*args), ways["list"]()):
            assert np.array_equal(got, expected), "the tape changed a gradient"
        results = {name: ([], []) for name in ways}
        for _ in range(3):      # alternate, so that all see the same machine
            for name, run in ways.items():
                faults, seconds = faults_and_time(run, calls)
                results[name][0].append(faults)
                results[name][1].append(seconds)
        cells = []
        for name in ways:
            faults, seconds = results[name]
            cells += [f"{statistics.median(faults):>13.0f}",
                      f"{statistics.median(seconds) * 1e3:8.2f}"]
        print(f"{label:22s} {cells[0]} {cells[1]} {cells[2]:>18s} {cells[3]} "
              f"{cells[4]:>16s} {cells[5]}")


def square(x):
    return x * x


def product(x, y):
    return x * y


def of_a_dict(p):
    return p["a"] * p["b"][0]


def of_an_array(x):
    return np.sum(x * x)


def overhead():
    cases = [("float, wrt=0", square, 0, (3.0,)),
             ("floats, wrt=(0, 1)", product, (0, 1), (3.0, 2.0)),
             ("dict, wrt=0", of_a_dict, 0, ({"a": 1.0, "b": [2.0, 3.0]},)),
             ("array, wrt=0", of_an_array, 0, (np.ones(3),))]
    number = 2_000 if QUICK else 20_000
    print()
    print("wrapper cost: grad(f)(*args) minus its primal and adjoint called directly "
          "(min over repeats of the median)")
    print(f"{'arguments':20s} {'grad us':>9s} {'direct us':>10s} {'wrapper us':>11s}")
    for label, f, wrt, args in cases:
        g = srcad.grad(f, wrt=wrt)
        g(*args)
        direct = on_a_list(g, args)
        samples = {"grad": [], "direct": []}
        for _ in range(5):
            for name, run in (("grad", g), ("direct", direct)):
                times = timeit.repeat(lambda: run(*args) if run is g else run(),
                                      number=number, repeat=5)
                samples[name].append(statistics.median(times) / number * 1e6)
        full, bare = min(samples["grad"]), min(samples["direct"])
        print(f"{label:20s} {full:9.3f} {bare:10.3f} {full - bare:11.3f}")


if __name__ == "__main__":
    memory()
    overhead()
