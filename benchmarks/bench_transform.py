"""Transform time against a function's length, and its fitted exponent.

    python benchmarks/bench_transform.py            # about a minute
    python benchmarks/bench_transform.py --quick    # up to 99 statements

The function is straight-line NumPy code, `x = np.sin(x) * 1.01 + x` repeated
(each line three primitive operations: sin, *, +), ending in `np.sum(x)`. For
each length the script times `srcad.grad(f)` plus its first call, minus the
time of a later call (the transform alone), on a fresh module each time so
nothing is cached; the median of three. It does the same for `srcad.jvp`.
The exponent is the slope of log(time) against log(length), fitted by least
squares over the lengths timed: 1 is linear.
"""
import importlib.util
import math
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import srcad

LENGTHS = (3, 10, 20, 33, 100, 333)     # lines: 9 to 999 statements
TARGETS = {60: 0.100, 999: 2.0}         # statements -> seconds


def module_of(lines, tag):
    """A fresh module defining f with `lines` repetitions of the line."""
    source = "import numpy as np\n\ndef f(x):\n" + "    x = np.sin(x) * 1.01 + x\n" * lines \
        + "    return np.sum(x)\n"
    fd, path = tempfile.mkstemp(suffix=f"_{tag}.py")
    with os.fdopen(fd, "w") as out:
        out.write(source)
    spec = importlib.util.spec_from_file_location(f"bench_transform_{tag}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def transform_time(lines, make, call, repeats=3):
    times = []
    x = np.linspace(0.1, 0.9, 4)
    for r in range(repeats):
        f = module_of(lines, f"{lines}_{r}_{time.perf_counter_ns()}").f
        start = time.perf_counter()
        transformed = make(f)
        call(transformed, x)
        first = time.perf_counter() - start
        start = time.perf_counter()
        call(transformed, x)
        times.append(first - (time.perf_counter() - start))
    return statistics.median(times)


def exponent(lengths, times):
    xs, ys = [math.log(n) for n in lengths], [math.log(t) for t in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)


def main():
    lengths = [n for n in LENGTHS if n <= 33] if "--quick" in sys.argv else LENGTHS
    modes = {"grad": (srcad.grad, lambda g, x: g(x)),
             "jvp": (srcad.jvp, lambda j, x: j(x, np.ones_like(x)))}
    print(f"{'statements':>10}  " + "  ".join(f"{m:>10}" for m in modes))
    results = {m: [] for m in modes}
    for n in lengths:
        row = []
        for m, (make, call) in modes.items():
            t = transform_time(n, make, call)
            results[m].append(t)
            row.append(f"{t * 1e3:>8.1f}ms")
        print(f"{3 * n:>10}  " + "  ".join(row), flush=True)
    statements = [3 * n for n in lengths]
    print("fitted exponent: " + ", ".join(f"{m} {exponent(statements, ts):.2f}"
                                          for m, ts in results.items()))
    for count, target in TARGETS.items():
        if count in statements:
            t = results["grad"][statements.index(count)]
            print(f"grad at {count} statements: {t * 1e3:.0f} ms, target "
                  f"{target * 1e3:.0f} ms  {'ok' if t <= target else 'MISSED'}")


if __name__ == "__main__":
    main()
