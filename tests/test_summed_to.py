"""`unbroadcast` replaced by the reductions it makes where shapes are known
(generate.summed_to, as np.sum): each gradient against central finite differences, in
float64 and float32, at the shapes the code was made for and at new sizes."""
import re

import numpy as np
import pytest

import srcad
from oracle import check_grad


def st_bias(X, b):
    return np.sum(np.tanh(X + b) ** 2)


def st_row(X, r):                   # r has shape (1, n): summed over rows, kept 2-d
    return np.sum(np.sin(X * r))


def st_column(X, c):                # c has shape (m, 1)
    return np.sum((X - c) ** 2)


def st_three(T, v):                 # (k, m, n) with (n,): two leading axes summed
    return np.sum(np.exp(T * v))


def st_zero_sometimes(X, b, c):     # the bias gradient is zero where c <= 0
    y = X + b
    s = 0.0
    if c > 0:
        s = np.sum(y * y)
    return s


def st_softmax(z):                  # keepdims reductions in the rule of z - max
    z = z - np.max(z, axis=1, keepdims=True)
    return np.sum(np.exp(z) / np.sum(np.exp(z), axis=1, keepdims=True) * z)


rng = np.random.default_rng(3)
CASES = [
    (st_bias, (rng.normal(size=(4, 3)), rng.normal(size=3)), (0, 1)),
    (st_row, (rng.normal(size=(4, 3)), rng.normal(size=(1, 3))), (0, 1)),
    (st_column, (rng.normal(size=(4, 3)), rng.normal(size=(4, 1))), (0, 1)),
    (st_three, (rng.normal(size=(2, 4, 3)) * 0.3, rng.normal(size=3)), (0, 1)),
    (st_softmax, (rng.normal(size=(4, 3)),), 0),
]


@pytest.mark.parametrize("f, args, wrt", CASES)
def test_gradient_matches_finite_differences(f, args, wrt):
    check_grad(f, *args, wrt=wrt)
    df = srcad.grad(f, wrt=wrt)
    df(*args)
    assert "unbroadcast" not in df.source
    assert re.search(r"np\.sum\([^\n]*, axis=", df.source[df.source.index("_adjoint("):])


@pytest.mark.parametrize("f, args, wrt", CASES)
def test_float32_gradients_keep_their_dtype(f, args, wrt):
    args32 = tuple(a.astype(np.float32) for a in args)
    got = srcad.grad(f, wrt=wrt)(*args32)
    expected = srcad.grad(f, wrt=wrt)(*args)
    for g, e in zip(got if isinstance(wrt, tuple) else (got,),
                    expected if isinstance(wrt, tuple) else (expected,)):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=2e-4)


def test_new_sizes_reuse_the_code_and_stay_right():
    df = srcad.grad(st_bias, wrt=(0, 1))
    for m in (4, 7, 1):
        X, b = rng.normal(size=(m, 3)), rng.normal(size=3)
        check_grad(st_bias, X, b, wrt=(0, 1))
        dX, db = df(X, b)
        np.testing.assert_allclose(db, np.sum(2 * np.tanh(X + b) / np.cosh(X + b) ** 2, 0))


@pytest.mark.parametrize("c", [1.0, -1.0])
def test_a_gradient_zero_at_run_time(c):
    X, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    check_grad(st_zero_sometimes, X, b, c, wrt=(0, 1))
