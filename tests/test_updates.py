"""Gradient updates merged and gradient copies dropped in the adjoint (srcad/updates.py).

Gradients are checked against central finite differences (and a Hessian
against differences of the gradient); the adjoint's form is checked where
the rewrite is proven to keep every operation, and left alone where moving
a statement could change what it reads.
"""
import math

import numpy as np
import pytest

import srcad
from oracle import check_grad, check_value_and_grad


def up_scalar_loop(x, a, b):
    for i in range(20):
        if x > 0:
            x = x * a + math.sin(x) - 1.0
        else:
            x = x * b + 0.5
    return x


def up_products(x, y):
    z = x * y + x * x * 3.0
    w = z * z + y * z
    return w * x


def up_arrays(x, w):
    for i in range(3):
        x = x * w + np.sin(x) * 2.0
    return np.sum(x * x)


def up_late_reader_calls(x, a):
    for i in range(5):
        x = x * a + math.exp(x * 0.1)
    return x


def up_rebinds_reader(x, y):
    u = x * y
    y = u + y * x                       # y's update reads the copy of du
    return y * u


def adjoint_source(f, *args, wrt=0):
    df = srcad.grad(f, wrt=wrt)
    df(*args)
    source = df.source
    return source[source.index("_adjoint("):source.index("_grad(")]


@pytest.mark.parametrize("f, args, wrt", [
    (up_scalar_loop, (0.3, 0.7, 0.6), (0, 1, 2)),
    (up_scalar_loop, (-0.2, 1.1, 0.6), (0, 1, 2)),
    (up_products, (0.7, -1.3), (0, 1)),
    (up_arrays, (np.array([0.3, -0.8, 1.1]), np.array([0.9, 1.1, -0.4])), (0, 1)),
    (up_late_reader_calls, (0.4, 0.9), (0, 1)),
    (up_rebinds_reader, (0.4, 1.9), (0, 1)),
])
def test_gradient_matches_finite_differences(f, args, wrt):
    check_grad(f, *args, wrt=wrt)
    check_value_and_grad(f, *args, wrt=wrt)


def test_hessian_of_the_rewritten_adjoint():
    x, a, b = 0.3, 0.7, 0.6
    h = srcad.hessian(up_scalar_loop, wrt=0)(x, a, b)
    g = srcad.grad(up_scalar_loop, wrt=0)
    step = 1e-5
    assert h == pytest.approx((g(x + step, a, b) - g(x - step, a, b)) / (2 * step), rel=1e-6)


def test_the_adjoint_reads_as_written_by_hand():
    adjoint = adjoint_source(up_scalar_loop, 0.3, 0.7, 0.6, wrt=(0, 1, 2))
    assert "da = da + dx * x\n" in adjoint
    assert "dx = dx * (math.cos(x) + a)\n" in adjoint     # one product fewer
    assert "db = db + dx * x\n" in adjoint
    assert "dmul" not in adjoint


def test_a_rewrite_keeps_every_operation():
    """The floating-point operations of the adjoint as written by hand, the common
    factor dx taken out of its two paths, on the same values: equal to the last bit."""
    x, a, b = 0.3, 0.7, 0.6
    got = srcad.grad(up_scalar_loop, wrt=(0, 1, 2))(x, a, b)
    tape = []
    for i in range(20):
        tape.append(x)
        x = x * a + math.sin(x) - 1.0 if x > 0 else x * b + 0.5
    dx, da, db = 1.0, 0.0, 0.0
    for x in reversed(tape):
        if x > 0:
            da = da + dx * x
            dx = dx * (math.cos(x) + a)
        else:
            db = db + dx * x
            dx = dx * b
    assert got == (dx, da, db)


def up_reader_with_call(x, a):
    for i in range(5):
        x = x * math.cos(a) + math.sin(x)
    return x


def test_a_reader_with_a_call_is_not_moved():
    check_grad(up_reader_with_call, 0.4, 0.9, wrt=(0, 1))
    adjoint = adjoint_source(up_reader_with_call, 0.4, 0.9, wrt=(0, 1))
    assert "math.sin(a)" in adjoint
