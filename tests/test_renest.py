"""Single-use temporaries nested back into the primal (srcad/renest.py).

The gradients and values are checked against central finite differences;
the primal's form is checked where nesting is proven safe, and left alone
where a statement between the temporary and its reader could change what
the temporary reads.
"""
import math

import numpy as np
import pytest

import srcad
from oracle import check_grad, check_value_and_grad


def rn_scalar_loop(x, a, b):
    for i in range(20):
        if x > 0:
            x = x * a + math.sin(x) - 1.0
        else:
            x = x * b + 0.5
    return x


def rn_write_between(x, c):
    c = c * 1.0
    t = c + 2.0
    c[0] = 5.0                          # t must keep the values from before this write
    s = np.sum(t)
    return s * np.sum(x) + np.sum(c * x)


def rn_helper(v):
    return np.sin(v) * 3.0


def rn_calls(x):
    y = rn_helper(x * 2.0) + x          # the temporary is an argument of a called function
    z = rn_helper(y)
    return np.sum(z * y)


def rn_reused(x):
    t = np.exp(x)                       # read twice: stays a name
    return np.sum(t * t + np.cos(t))


def rn_order(x, y):
    a = np.sin(x)
    b = np.cos(y)
    return np.sum(b * a + x)


def rn_loop_iter(x, n):
    s = 0.0
    for i in range(n * 2):
        s = s + x * i
    return s


@pytest.mark.parametrize("f, args, wrt", [
    (rn_scalar_loop, (0.3, 0.7, 0.6), (0, 1, 2)),
    (rn_write_between, (np.array([0.4, -1.2, 0.7]), np.array([0.3, 0.1, -0.5])), 0),
    (rn_calls, (np.array([0.4, -1.2, 0.7]),), 0),
    (rn_reused, (np.array([0.4, -1.2, 0.7]),), 0),
    (rn_order, (np.array([0.4, -1.2]), np.array([1.1, 0.3])), (0, 1)),
    (rn_loop_iter, (0.8, 3), 0),
])
def test_gradient_and_value_match_finite_differences(f, args, wrt):
    check_grad(f, *args, wrt=wrt)
    check_value_and_grad(f, *args, wrt=wrt)


def primal_source(f, *args, wrt=0):
    df = srcad.grad(f, wrt=wrt)
    df(*args)
    source = df.source
    return source[:source.index("_adjoint(")]


def test_the_primal_reads_as_the_user_wrote_it():
    primal = primal_source(rn_scalar_loop, 0.3, 0.7, 0.6, wrt=(0, 1, 2))
    assert "x = x * a + math.sin(x) - 1.0" in primal
    assert "if x > 0:" in primal
    assert "mul" not in primal and "cond" not in primal


def test_a_write_between_keeps_the_temporary():
    primal = primal_source(rn_write_between, np.array([0.4, -1.2, 0.7]),
                           np.array([0.3, 0.1, -0.5]))
    assert "t = c + 2.0" in primal and "np.sum(t)" in primal


def test_a_value_read_twice_stays_a_name():
    primal = primal_source(rn_reused, np.array([0.4, -1.2, 0.7]))
    assert "t = np.exp(x)" in primal


def test_grad_still_skips_the_work_only_the_value_needs():
    """The primal grad runs is made before nesting: a return value nested into the
    return statement is still left out of it."""
    df = srcad.grad(rn_reused)
    df(np.array([0.4, -1.2, 0.7]))
    lean = df.source[df.source.index("_primal_for_grad("):df.source.index("_adjoint(")]
    code = [line for line in lean.splitlines() if not line.strip().startswith("#")]
    assert not any("np.cos" in line for line in code) and "    return None" in code
