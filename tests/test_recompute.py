"""Branch tests the adjoint recomputes instead of popping (srcad/recompute.py).

Each function is checked against central finite differences, and the
generated adjoint's form is checked: recomputed where the values the test
reads are proven to be the primal's at the test, recorded where they are not.
"""
import math
import re

import numpy as np
import pytest

import srcad
from oracle import check_grad, check_value_and_grad, check_vjp


def rc_two_branches(x, a, b):
    for i in range(30):
        if x > 0:
            x = x * a + math.sin(x) - 1.0
        else:
            x = x * b + 0.5
    return x


def rc_no_else(x, a):
    for i in range(12):
        if x < 1.3:
            x = x * a + 0.1
    return x


def rc_threshold(x, t):
    s = 0.0
    for i in range(10):
        if x > t:
            x = x * 0.9
        else:
            x = x * 1.2 + 0.01
        s = s + x
    return s


def rc_reads_new_value(x):
    for i in range(8):
        if x > 0.2:
            x = math.tanh(x) * 1.5      # the adjoint reads the new x before popping it
            x = x - 0.4
        else:
            x = x + 0.5
    return x


def rc_threshold_assigned(x, t):
    for i in range(8):
        if x > t:
            x = x * 0.7
        else:
            x = x + 0.3
        t = t * 0.9                     # t changes: its value at the test is not known
    return x


def rc_two_names(x, y):
    for i in range(8):
        if x > y:
            x = x * 0.5
        else:
            y = y * 0.8
            x = x + 0.4
    return x * y


def rc_other_push_after(x, y):
    for i in range(8):
        if x > 0.5:
            x = x * 0.6
            y = y * x                   # y's save is pushed after x's
        else:
            x = x + 0.9
    return x + y


def rc_nested(x, a):
    for i in range(4):
        for j in range(3):
            if x > 1.0:
                x = x * a
            else:
                x = x * 1.5 + 0.2
    return x


def rc_boolean_test(x, a):
    for i in range(10):
        if x > 0.0 and not x > 2.0:
            x = x * a + 0.3
        else:
            x = x - 1.5
    return x


def rc_array_body(x, w):
    for i in range(6):
        if x > 0.5:
            x = x * 0.7
            w = np.sin(w) * x
        else:
            x = x + 0.6
    return np.sum(w) + x


def rc_no_branch_assigns(x):
    s = 0.0
    for i in range(6):
        x = x * 1.1
        if x > 1.0:
            s = s + x
        else:
            s = s - x
    return s


def rc_else_other(x, y):
    for i in range(8):
        if x < 2.0:
            x = x * 1.3 + y
        else:
            y = y * 0.5
    return x + y


def rc_bump(v):
    v[...] = v + 0.25                   # a write into a 0-d array the test reads
    return v


def rc_callee_writes(x, t):
    s = 0.0
    for i in range(6):
        if x > t:
            rc_bump(t)
            x = x * 0.8
        else:
            x = x + 0.9
        s = s + x
    return s


def adjoint_source(f, *args, wrt=0):
    df = srcad.grad(f, wrt=wrt)
    df(*args)
    source = df.source
    return source[source.index("_adjoint("):]


@pytest.mark.parametrize("f, args, wrt", [
    (rc_two_branches, (0.3, 0.7, 0.6), (0, 1, 2)),
    (rc_two_branches, (-0.4, 0.7, 0.6), (0, 1, 2)),
    (rc_no_else, (0.2, 1.1), (0, 1)),
    (rc_threshold, (1.7, 1.0), (0, 1)),
    (rc_reads_new_value, (0.9,), 0),
    (rc_threshold_assigned, (1.1, 0.8), (0, 1)),
    (rc_two_names, (1.3, 0.9), (0, 1)),
    (rc_other_push_after, (1.4, 0.7), (0, 1)),
    (rc_nested, (0.8, 1.1), (0, 1)),
    (rc_boolean_test, (0.4, 1.2), (0, 1)),
    (rc_array_body, (1.2, np.array([0.3, -0.8, 1.1])), (0, 1)),
    (rc_no_branch_assigns, (0.7,), 0),
    (rc_else_other, (0.4, 0.3), (0, 1)),
])
def test_gradient_matches_finite_differences(f, args, wrt):
    check_grad(f, *args, wrt=wrt)
    check_value_and_grad(f, *args, wrt=wrt)


def test_vjp_runs_the_recomputed_adjoint_twice():
    value, pullback = srcad.vjp(rc_two_branches, wrt=(0, 1))(0.3, 0.7, 0.6)
    first = pullback(1.0)
    assert pullback(2.0) == pytest.approx(tuple(2.0 * g for g in first))
    check_vjp(rc_two_branches, (0.3, 0.7, 0.6), 1.5, wrt=(0, 1))


@pytest.mark.parametrize("f, args, test", [
    (rc_two_branches, (0.3, 0.7, 0.6), "if x > 0:"),
    (rc_no_else, (0.2, 1.1), "if x < 1.3:"),
    (rc_threshold, (1.7, 1.0), "if x > t:"),
    (rc_nested, (0.8, 1.1), "if x > 1.0:"),
    (rc_else_other, (0.4, 0.3), "if x < 2.0:"),
])
def test_the_adjoint_pops_then_recomputes_the_test(f, args, test):
    adjoint = adjoint_source(f, *args, wrt=(0, 1))
    assert re.search(r"x = stack\.pop\(\)\n *" + re.escape(test), adjoint), adjoint
    assert "cond" not in adjoint


@pytest.mark.parametrize("f, args", [
    (rc_reads_new_value, (0.9,)),
    (rc_threshold_assigned, (1.1, 0.8)),
    (rc_two_names, (1.3, 0.9)),
    (rc_other_push_after, (1.4, 0.7)),
    (rc_no_branch_assigns, (0.7,)),
])
def test_a_test_not_proven_recomputable_stays_recorded(f, args):
    adjoint = adjoint_source(f, *args, wrt=0)
    assert "if cond" in adjoint


def test_forward_over_the_recomputed_adjoint():
    x, a, b = 0.3, 0.7, 0.6
    h = srcad.hessian(rc_two_branches, wrt=0)(x, a, b)
    g = srcad.grad(rc_two_branches, wrt=0)
    step = 1e-5
    expected = (g(x + step, a, b) - g(x - step, a, b)) / (2 * step)
    assert h == pytest.approx(expected, rel=1e-6)


def test_a_function_that_writes_in_place_keeps_its_tests_recorded():
    t = np.array(0.5)
    g = srcad.grad(rc_callee_writes)(2.0, t.copy())
    step = 1e-6
    fd = (rc_callee_writes(2.0 + step, t.copy()) - rc_callee_writes(2.0 - step, t.copy())) \
        / (2 * step)
    assert g == pytest.approx(fd, rel=1e-6)
    assert "if cond" in adjoint_source(rc_callee_writes, 2.0, t.copy())
