"""A gradient keeps the arrays its tape recorded for its next call (runtime.Tape).

Each result must stay what it was whatever later calls do: calls with other
inputs, on other threads, from inside another gradient's code or its own,
calls that raise. Oracles: central finite differences, and each result
against a copy taken when it was returned.
"""
import sys
import threading
import weakref

import numpy as np
import pytest

import srcad
from srcad import runtime
from oracle import numerical_grad

N = 24      # 24 x 24 float64 arrays: 4608 bytes, more than the page a Tape copies from


@pytest.fixture(autouse=True)
def small_recordings_on_a_tape(monkeypatch):
    # a Tape is used where the recording is large enough for keeping it to pay; these
    # tests make small ones, and have every recording of arrays kept
    monkeypatch.setattr(runtime, "_KEEP_FROM", 0)


def _small(x, W):
    return np.sum(np.tanh(x @ W) ** 2)


def test_a_small_recording_is_a_plain_list(monkeypatch):
    monkeypatch.setattr(runtime, "_KEEP_FROM", 1 << 18)
    g = srcad.grad(_small, wrt=(0, 1))
    g(*inputs(0))
    assert g.last.recordings is False


def rk4_like(x, W):
    h = 0.1
    for i in range(4):
        x = x + h * np.tanh(x @ W)
    return np.sum(x * x)


def inputs(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, N)), rng.standard_normal((N, N)) / N


def test_later_calls_reuse_the_recording_and_leave_results_alone():
    g = srcad.grad(rk4_like, wrt=(0, 1))
    results = []
    for seed in range(4):
        x, W = inputs(seed)
        got = g(x, W)
        results.append((got, [r.copy() for r in got], (x, W)))
        expected = numerical_grad(rk4_like, (x, W), wrt=(0, 1))
        for r, e in zip(got, expected):
            np.testing.assert_allclose(r, e, rtol=1e-6, atol=1e-8)
    for got, copies, _ in results:
        for r, c in zip(got, copies):
            np.testing.assert_array_equal(r, c)
    recordings = g.last.recordings
    assert isinstance(recordings, runtime.Recordings)
    kept = recordings.free[0]
    arrays = [weakref.ref(a) for a in kept if a is not None]
    # x and tanh(x @ W) of each step but the first (the argument x, and None), and the
    # last x and tanh, recorded together at the end; never the arguments themselves
    assert len(arrays) == 8
    g(*inputs(9))
    assert all(r() is a for r, a in zip(arrays, kept))


def one_record(x, W):
    return np.sum(np.tanh(x @ W) * x)


def test_a_statement_record_is_kept_but_not_the_arguments():
    # the primal records (x, W, tanh) as one tuple: the tanh is kept for the next call,
    # x and W, whose memory outlives the call, are recorded as they are
    g = srcad.grad(one_record, wrt=(0, 1))
    for seed in range(3):
        x, W = inputs(seed)
        got = g(x, W)
        for r, e in zip(got, numerical_grad(one_record, (x, W), wrt=(0, 1))):
            np.testing.assert_allclose(r, e, rtol=1e-6, atol=1e-8)
        if seed:        # (the first call finds out that the code records arrays)
            kept = [a for a in g.last.recordings.free[0] if a is not None]
            assert len(kept) == 1 and not any(a is x or a is W for a in kept)
            del kept    # (held here, the array would be left to this test at the next call)


def recorded_gradient(x, w):
    z = x
    with srcad.grad_of(w) as g:
        g = z       # the gradient of w: z as it was here, restored from the tape
    for i in range(3):
        z = np.sin(z) * w
    return np.sum(z)


def test_a_gradient_that_is_a_recorded_array_is_not_overwritten():
    g = srcad.grad(recorded_gradient, wrt=1)
    x1, w = inputs(1)
    first = g(x1, w)
    np.testing.assert_array_equal(first, x1)
    x2, _ = inputs(2)
    second = g(x2, w)
    third = g(x1 + 1.0, w)
    np.testing.assert_array_equal(first, x1)
    np.testing.assert_array_equal(second, x2)
    np.testing.assert_array_equal(third, x1 + 1.0)


SEEN = []


def stores_recorded_values(x, W):
    for i in range(3):
        y = np.tanh(x @ W)
        with srcad.grad_of(y) as g:
            SEEN.append(y)
        x = x + y
    return np.sum(x)


def test_arrays_the_users_code_keeps_are_not_overwritten():
    g = srcad.grad(stores_recorded_values)
    g(*inputs(2))       # the first call tells that the code records arrays
    SEEN.clear()
    x, W = inputs(3)
    g(x, W)
    first = list(SEEN)
    copies = [y.copy() for y in first]
    g(*inputs(4))
    g(*inputs(5))
    for y, c in zip(first, copies):
        np.testing.assert_array_equal(y, c)
    expected = [np.tanh(x @ W)]
    for i in range(2):
        x = x + expected[-1]
        expected.append(np.tanh(x @ W))
    for y, e in zip(first, reversed(expected)):
        np.testing.assert_allclose(y, e, rtol=1e-12)


def test_threads_calling_one_gradient_at_once():
    g = srcad.grad(rk4_like, wrt=(0, 1))
    cases = [inputs(seed) for seed in range(6)]
    expected = [g(*case) for case in cases]
    for r, e in zip(expected[0], numerical_grad(rk4_like, cases[0], wrt=(0, 1))):
        np.testing.assert_allclose(r, e, rtol=1e-6, atol=1e-8)
    failures = []

    def work(offset):
        for k in range(30):
            i = (k + offset) % len(cases)
            got = g(*cases[i])
            if not all(np.array_equal(a, b) for a, b in zip(got, expected[i])):
                failures.append(i)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


grad_rk4 = srcad.grad(rk4_like)


def calls_a_gradient(x, W):
    d = grad_rk4(x, W)
    return np.sum(d * d)


def test_a_gradient_called_from_inside_another_gradients_code():
    x, W = inputs(6)
    grad_rk4(x, W)      # its recording is kept: the call inside reuses it
    g = srcad.grad(calls_a_gradient, wrt=(0, 1))
    for seed in (6, 7):
        x, W = inputs(seed)
        got = g(x, W)
        expected = numerical_grad(calls_a_gradient, (x, W), wrt=(0, 1))
        for r, e in zip(got, expected):
            np.testing.assert_allclose(r, e, rtol=1e-5, atol=1e-7)


INNER = []


def calls_itself(x, W):
    for i in range(3):
        x = x + 0.1 * np.tanh(x @ W)
    with srcad.grad_of(x) as g:
        if not INNER:
            INNER.append(None)
            INNER.append(grad_itself(x, W))     # the same gradient, while it runs
    return np.sum(x * x)


grad_itself = srcad.grad(calls_itself)


def plain(x, W):
    for i in range(3):
        x = x + 0.1 * np.tanh(x @ W)
    return np.sum(x * x)


def test_a_gradient_called_while_it_runs():
    for seed in (7, 8, 9):
        x, W = inputs(seed)
        INNER.clear()
        got = grad_itself(x, W)
        np.testing.assert_allclose(got, numerical_grad(plain, (x, W)), rtol=1e-6, atol=1e-8)
        x3 = x
        for i in range(3):
            x3 = x3 + 0.1 * np.tanh(x3 @ W)
        np.testing.assert_allclose(INNER[1], numerical_grad(plain, (x3, W)), rtol=1e-6,
                                   atol=1e-8)


def fragile(x, W):
    for i in range(3):
        x = x + 0.1 * np.tanh(x @ W)
    if np.max(x) > 50.0:
        raise ValueError("too large")
    return np.sum(x * x)


def test_calls_after_one_that_raised():
    g = srcad.grad(fragile, wrt=(0, 1))
    for seed in (1, 2, 3):
        x, W = inputs(seed)
        first = g(x, W)
        copies = [r.copy() for r in first]
        with pytest.raises(ValueError, match="too large"):
            g(x + 100.0, W)
        again = g(x, W)
        for r, c, e in zip(first, copies, numerical_grad(fragile, (x, W), wrt=(0, 1))):
            np.testing.assert_array_equal(r, c)
            np.testing.assert_allclose(r, e, rtol=1e-6, atol=1e-8)
        for r, c in zip(again, copies):
            np.testing.assert_array_equal(r, c)


def test_arrays_of_another_layout_or_dtype():
    g = srcad.grad(rk4_like, wrt=(0, 1))
    x, W = inputs(10)
    layouts = [(x, W), (np.asfortranarray(x), W), (x, np.asfortranarray(W)),
               (x.astype(np.float32), W.astype(np.float32)), (x, W)]
    for args in layouts:
        got = g(*args)
        tol = 1e-3 if args[0].dtype == np.float32 else 1e-6
        expected = numerical_grad(rk4_like, (x, W), wrt=(0, 1))
        for r, e, a in zip(got, expected, args):
            assert r.dtype == a.dtype
            np.testing.assert_allclose(r, e, rtol=tol, atol=tol)


def test_the_same_bits_as_without_a_tape():
    x, W = inputs(11)
    g = srcad.grad(rk4_like, wrt=(0, 1))
    g(x, W)
    compiled = g.last
    stack = []
    compiled.primal(stack, x, W)
    seeded = compiled.seeded_adjoint        # what grad runs: the seed 1.0 folded in
    plain_result = seeded(stack) if seeded else compiled.adjoint(stack, 1.0)
    for _ in range(3):
        for r, p in zip(g(x, W), plain_result):
            np.testing.assert_array_equal(r, p)


def test_value_and_grad_on_a_kept_recording():
    vg = srcad.value_and_grad(rk4_like, wrt=(0, 1))
    results = []
    for seed in (12, 13, 14, 12):
        x, W = inputs(seed)
        value, grads = vg(x, W)
        results.append((grads, [g.copy() for g in grads]))
        assert value == pytest.approx(rk4_like(x, W), rel=1e-12)
        for r, e in zip(grads, numerical_grad(rk4_like, (x, W), wrt=(0, 1))):
            np.testing.assert_allclose(r, e, rtol=1e-6, atol=1e-8)
    assert isinstance(vg.last.recordings, runtime.Recordings)
    for grads, copies in results:
        for r, c in zip(grads, copies):
            np.testing.assert_array_equal(r, c)
    for r, first in zip(results[3][0], results[0][0]):
        np.testing.assert_array_equal(r, first)
