"""srcad.jacobian in reverse mode against forward mode, on wide and tall functions.

    python benchmarks/bench_jacobian.py            # about 10 s
    python benchmarks/bench_jacobian.py --quick    # fewer repetitions

Reverse mode builds the Jacobian one row per output element (one primal run,
then one pullback per row); forward mode one column per input element (one
jvp per column). So forward mode should win on a function with few inputs
and many outputs (10 -> 1000) and reverse mode on one with few outputs and
many inputs (1000 -> 10). Two functions of each shape: `tanh(W @ x)`, and a
loop of three tanh layers with a branch on the data (Python control flow
in the differentiated code). Each mode's Jacobian is first checked against
the other's and against the analytic Jacobian of tanh(W @ x); the time is
the median of several runs, the transform excluded (one warm-up call).
"""
import statistics
import sys
import time

import numpy as np

import srcad


def layer(x, W):
    return np.tanh(W @ x)


def layers(x, W, V):
    h = np.tanh(W @ x)
    for k in range(3):
        if np.sum(h) > 0:
            h = np.tanh(V @ h) + h
        else:
            h = np.tanh(V @ h) - 0.5 * h
    return h


def median_time(fn, runs):
    fn()    # warm: the transform happens here
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    quick = "--quick" in sys.argv
    runs = 3 if quick else 7
    rng = np.random.default_rng(0)
    rows = []
    for n_in, n_out in ((10, 1000), (1000, 10)):
        x = rng.normal(size=n_in)
        W = rng.normal(size=(n_out, n_in)) / np.sqrt(n_in)
        V = rng.normal(size=(n_out, n_out)) / np.sqrt(n_out)
        cases = [("tanh(W @ x)", layer, (x, W)), ("3 layers, loop + branch", layers, (x, W, V))]
        for label, f, args in cases:
            reverse = srcad.jacobian(f)
            forward = srcad.jacobian(f, mode="forward")
            jr, jf = reverse(*args), forward(*args)
            assert jr.shape == jf.shape == (n_out, n_in), (jr.shape, jf.shape)
            np.testing.assert_allclose(jr, jf, rtol=1e-9, atol=1e-12)
            if f is layer:
                t = np.tanh(W @ x)
                np.testing.assert_allclose(jr, (1 - t * t)[:, None] * W, rtol=1e-9, atol=1e-12)
            t_rev = median_time(lambda: reverse(*args), runs)
            t_fwd = median_time(lambda: forward(*args), runs)
            rows.append((f"{n_in} -> {n_out}", label, t_rev, t_fwd))

    print(f"srcad.jacobian, median of {runs} runs (transform excluded)\n")
    print(f"| {'shape':<11} | {'function':<23} | {'reverse (ms)':>12} | {'forward (ms)':>12} "
          f"| {'reverse / forward':>17} | {'faster':<7} |")
    print(f"|{'-' * 13}|{'-' * 25}|{'-' * 14}|{'-' * 14}|{'-' * 19}|{'-' * 9}|")
    for shape, label, t_rev, t_fwd in rows:
        faster = "forward" if t_fwd < t_rev else "reverse"
        print(f"| {shape:<11} | {label:<23} | {t_rev * 1e3:12.2f} | {t_fwd * 1e3:12.2f} "
              f"| {t_rev / t_fwd:17.2f} | {faster:<7} |")
    wins = {shape: {r[3] < r[2] for r in rows if r[0] == shape} for shape in {r[0] for r in rows}}
    print()
    print("forward mode wins where inputs are few (10 -> 1000): "
          f"{'yes' if wins['10 -> 1000'] == {True} else 'NO'}; "
          "reverse mode wins where outputs are few (1000 -> 10): "
          f"{'yes' if wins['1000 -> 10'] == {False} else 'NO'}")


if __name__ == "__main__":
    main()
