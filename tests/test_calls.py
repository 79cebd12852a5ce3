"""Calls to the user's own functions.

Covers: module-level helpers, nested defs, closures reading free variables,
default and keyword arguments (active values passed as keywords), helpers
called in loops and branches, calls nested several deep, recursion with a
depth argument, helpers returning tuples, helpers that are srcad-decorated.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

import srcad
from oracle import (arrays, check_against_autograd, check_grad, floats, numerical_grad,
                    signed)


# --- module-level helpers ---------------------------------------------------------

def _square_sin(x):
    return np.sin(x) * x * x


def _affine(x, w, b):
    return x * w + b


def calls_module_level(x, w):
    y = _square_sin(x)
    z = _affine(y, w, 1.0)
    return np.sum(z * z)


@given(x=arrays((3,)), w=arrays((3,)))
def test_module_level_helpers(x, w):
    check_grad(calls_module_level, x, w, wrt=(0, 1))


def test_module_level_helpers_match_autograd():
    check_against_autograd(calls_module_level, np.array([0.3, -1.2, 0.8]), np.array([1.5, 0.2, -0.4]),
                           wrt=(0, 1))


def calls_same_helper_twice(x):
    a = _square_sin(x)
    b = _square_sin(a + x)
    return np.sum(a * b)


def test_same_helper_called_twice():
    check_grad(calls_same_helper_twice, np.array([0.4, -0.9, 1.3]))
    check_against_autograd(calls_same_helper_twice, np.array([0.4, -0.9, 1.3]))


def _helper_inactive_arg(x, n):
    return x ** n


def calls_with_inactive_arguments(x):
    return _helper_inactive_arg(x, 3) + _helper_inactive_arg(x, 2)


def test_helper_with_inactive_argument():
    assert check_grad(calls_with_inactive_arguments, 1.5) == pytest.approx(3 * 2.25 + 3.0)


def _overwrites_its_argument(x):
    x = x * 2.0
    x = np.sin(x)
    return x


def calls_helper_overwriting_argument(x):
    y = _overwrites_its_argument(x)
    return np.sum(y * x)


def test_helper_that_overwrites_its_parameter():
    x = np.array([0.3, 1.1])
    g = check_grad(calls_helper_overwriting_argument, x)
    np.testing.assert_allclose(g, np.sin(2 * x) + 2 * x * np.cos(2 * x), rtol=1e-9)


# --- nested defs and closures --------------------------------------------------------

def calls_nested_def(x, y):
    def inner(a, b):
        return a * np.exp(b)

    return np.sum(inner(x, y) + inner(y, x))


def test_nested_def():
    check_grad(calls_nested_def, np.array([0.5, -0.3]), np.array([1.0, 0.2]), wrt=(0, 1))


def test_nested_def_defined_in_the_test():
    scale = 3.0

    def helper(v):
        return scale * np.tanh(v)

    def f(x):
        return np.sum(helper(x) * x)

    x = np.array([0.2, -0.8, 1.4])
    g = check_grad(f, x)
    t = np.tanh(x)
    np.testing.assert_allclose(g, scale * (t + x * (1 - t * t)), rtol=1e-9)


def _make_closure(c):
    def f(x):
        return np.sum(np.sin(c * x) + c)
    return f


def test_closure_reads_free_variable():
    for c in (2.0, -0.5):
        f = _make_closure(c)
        x = np.array([0.3, 1.2])
        g = check_grad(f, x)
        np.testing.assert_allclose(g, c * np.cos(c * x), rtol=1e-9)


def _make_closure_array(W):
    def f(x):
        return np.sum(np.tanh(W @ x))
    return f


def test_closure_reads_free_array():
    W = np.array([[1.0, -0.5], [0.3, 0.8], [0.2, 0.1]])
    f = _make_closure_array(W)
    x = np.array([0.4, -0.6])
    g = check_grad(f, x)
    np.testing.assert_allclose(g, W.T @ (1 - np.tanh(W @ x) ** 2), rtol=1e-9)


def calls_closure_helper_reading_active(x, y):
    def helper(a):
        return a * y  # y is active and read from the enclosing scope

    return np.sum(helper(x) + helper(x * x))


def test_nested_helper_closes_over_active_value():
    x = np.array([0.5, -1.5])
    y = np.array([2.0, 0.3])
    dx, dy = check_grad(calls_closure_helper_reading_active, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dx, y + 2 * x * y, rtol=1e-9)
    np.testing.assert_allclose(dy, x + x * x, rtol=1e-9)


def helper_whose_helper_takes_a_name_the_caller_binds_in_a_generator(W, s, d):
    def inner(u):
        def deeper(t):          # t: deeper's parameter, not a variable inner reads
            return np.sin(t) * s
        return deeper(u) * 2.0 + u
    W = W - sum(t * t for t in np.square(d))
    return np.sum(W - inner(W))


def test_a_nested_scope_s_parameter_is_no_free_variable_of_its_helper():
    # the lifted inner took t, the parameter of deeper and the generator's variable, for
    # a variable of f it reads, and its call passed the global t, which does not exist
    # (fuzz seed 28006623)
    from fuzz_programs import check_program
    W, d = np.arange(1.0, 4.0), np.array([0.5, 0.2])
    dW, ds = check_grad(helper_whose_helper_takes_a_name_the_caller_binds_in_a_generator,
                        W, 0.7, d, wrt=(0, 1))
    np.testing.assert_allclose(dW, -1.4 * np.cos(W - np.sum(d ** 4)), rtol=1e-9)
    assert check_program(28006623).status in ("ok", "refused")


def test_free_names_follow_python_scopes():
    import gast
    from srcad.nested import free_names
    tree = gast.parse("def f(a, *b):\n"
                      "    def g(t=u):\n"
                      "        return t + v\n"
                      "    w = [x + y for x in z if x > q]\n"
                      "    return g() + a + b + w + sum(t for t in r)\n")
    assert free_names(tree.body[0]) == {"u", "v", "y", "z", "q", "sum", "r"}


# --- defaults and keyword arguments ----------------------------------------------------

def _scaled(x, scale=2.0, shift=0.5):
    return scale * x + shift


def calls_defaults(x):
    return np.sum(_scaled(x) ** 2)


def calls_keyword_constants(x):
    return np.sum(_scaled(x, shift=-1.0) * _scaled(x, scale=0.5))


def calls_active_keywords(x, a):
    return np.sum(_scaled(x, scale=a) + _scaled(shift=x * a, x=a))


def calls_active_keyword_out_of_order(x, a, b):
    return np.sum(_scaled(shift=b, scale=a, x=x) ** 2)


def test_default_arguments():
    x = np.array([0.5, -1.0])
    g = check_grad(calls_defaults, x)
    np.testing.assert_allclose(g, 2 * (2 * x + 0.5) * 2, rtol=1e-9)


def test_keyword_constants():
    x = np.array([0.5, -1.0, 2.0])
    g = check_grad(calls_keyword_constants, x)
    np.testing.assert_allclose(g, 2 * (0.5 * x + 0.5) + 0.5 * (2 * x - 1.0), rtol=1e-9)


@given(x=arrays((3,)), a=signed(0.2, 2.0))
def test_active_values_as_keyword_arguments(x, a):
    dx, da = check_grad(calls_active_keywords, x, a, wrt=(0, 1))
    # sum(a x + 0.5) + sum(2 a + x a)
    np.testing.assert_allclose(dx, 2 * a * np.ones(3), rtol=1e-9)
    assert da == pytest.approx(float(np.sum(x)) * 2 + 6.0)


@given(x=arrays((2,)), a=signed(0.2, 2.0), b=arrays((2,)))
def test_active_keyword_arguments_out_of_order(x, a, b):
    check_grad(calls_active_keyword_out_of_order, x, a, b, wrt=(0, 1, 2))


def test_keyword_arguments_match_autograd():
    check_against_autograd(calls_active_keyword_out_of_order, np.array([0.3, -0.2]), 1.5,
                           np.array([0.7, 0.1]), wrt=(0, 1, 2))


def keyword_only_helper(x, *, power=2.0):
    return x ** power


def calls_keyword_only(x, p):
    return np.sum(keyword_only_helper(x) + keyword_only_helper(x, power=p))


def test_keyword_only_parameter_with_active_value():
    x = np.array([0.5, 1.5])
    dx, dp = check_grad(calls_keyword_only, x, 3.0, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2 * x + 3 * x ** 2, rtol=1e-9)
    assert dp == pytest.approx(float(np.sum(x ** 3 * np.log(x))))


def calls_scalar_with_defaults(x, scale=2.0, shift=0.5):
    return np.sum(_scaled(x, scale, shift) ** 2)


def test_transform_called_with_keyword_arguments():
    df = srcad.grad(calls_scalar_with_defaults, wrt=("x", "scale"))
    x = np.array([1.0, 2.0])
    dx, dscale = df(x=x, scale=3.0)
    assert isinstance(dx, np.ndarray) and dx.shape == (2,) and isinstance(dscale, float)
    np.testing.assert_allclose(dx, 2 * (3 * x + 0.5) * 3, rtol=1e-9)
    assert dscale == pytest.approx(float(np.sum(2 * (3 * x + 0.5) * x)))
    # the default of a wrt parameter is used when it is not passed
    dx2, dscale2 = df(x)
    np.testing.assert_allclose(dx2, 2 * (2 * x + 0.5) * 2, rtol=1e-9)
    assert dscale2 == pytest.approx(float(np.sum(2 * (2 * x + 0.5) * x)))


# --- calls inside loops and branches ------------------------------------------------------

def _step(h, x, w):
    return np.tanh(h * w + x)


def calls_in_loop(xs, w):
    h = 0.0
    for x in xs:
        h = _step(h, x, w)
    return h


@given(xs=arrays(st.integers(1, 5).map(lambda n: (n,))), w=signed(0.1, 1.5))
def test_helper_called_in_loop(xs, w):
    check_grad(calls_in_loop, xs, w, wrt=(0, 1))


def test_helper_called_in_loop_matches_autograd():
    check_against_autograd(calls_in_loop, np.array([0.3, -1.0, 0.5, 0.8]), 0.7, wrt=(0, 1))


def _branchy(x):
    if x > 0:
        return x * x
    return -x * 3.0


def calls_in_branch(x, y):
    if x * y > 0:
        z = _branchy(x) * _square_sin(y)
    else:
        z = _branchy(y) + x
    return z


@given(x=signed(0.1, 2.0), y=signed(0.1, 2.0))
def test_helper_called_in_branch(x, y):
    check_grad(calls_in_branch, x, y, wrt=(0, 1))


def calls_branchy_helper_in_loop(x):
    s = 0.0
    for v in x:
        s = s + _branchy(v) * v
    return s


def test_helper_with_branch_called_in_loop():
    x = np.array([0.5, -1.0, 2.0, -0.3])
    g = check_grad(calls_branchy_helper_in_loop, x)
    np.testing.assert_allclose(g, np.where(x > 0, 3 * x * x, -6 * x), rtol=1e-9)


def _helper_with_loop(x, n):
    y = x
    for i in range(n):
        y = y * 0.5 + np.sin(y)
    return y


def calls_helper_with_loop_in_loop(x):
    s = 0.0
    for k in range(3):
        s = s + _helper_with_loop(x, k + 1)
    return np.sum(s)


def test_helper_with_loop_called_in_loop():
    check_grad(calls_helper_with_loop_in_loop, np.array([0.4, -1.1]))
    check_against_autograd(calls_helper_with_loop_in_loop, np.array([0.4, -1.1]))


def _writes_into_buffer(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i]
    return out


def calls_helper_with_in_place_writes(x):
    s = 0.0
    for k in range(2):
        s = s + np.sum(_writes_into_buffer(x * (k + 1)))
    return s


def test_helper_with_in_place_writes_called_in_loop():
    x = np.array([0.5, -1.0, 1.5])
    g = check_grad(calls_helper_with_in_place_writes, x)
    np.testing.assert_allclose(g, 2 * x + 8 * x, rtol=1e-9)


# --- nested several deep --------------------------------------------------------------------

def _deep4(x):
    return np.exp(x) * 0.5


def _deep3(x, w):
    return _deep4(x * w) + x


def _deep2(x, w):
    return _deep3(np.sin(x), w) * _deep3(x, w=w)


def _deep1(x, w):
    y = _deep2(x, w)
    return _deep2(y * 0.3, w) + y


def calls_nested_deep(x, w):
    return np.sum(_deep1(x, w))


@given(x=arrays((3,), floats(-1.0, 1.0)), w=floats(-1.0, 1.0))
def test_calls_nested_four_deep(x, w):
    check_grad(calls_nested_deep, x, w, wrt=(0, 1))


def test_calls_nested_four_deep_matches_autograd():
    check_against_autograd(calls_nested_deep, np.array([0.2, -0.5, 0.9]), 0.6, wrt=(0, 1))


# --- recursion ----------------------------------------------------------------------------

def _recursive(x, depth):
    if depth == 0:
        return x
    return np.sin(_recursive(x, depth - 1)) * x


def calls_recursion(x, depth):
    return np.sum(_recursive(x, depth))


@pytest.mark.parametrize("depth", [0, 1, 3, 5])
def test_recursion_with_depth_argument(depth):
    x = np.array([0.3, -0.8, 1.2])
    check_grad(calls_recursion, x, depth)
    check_against_autograd(calls_recursion, x, depth)


def _power_tower(x, n):
    if n <= 1:
        return x
    half = _power_tower(x, n // 2)
    if n % 2 == 0:
        return half * half
    return half * half * x


def calls_power_tower(x, n):
    return _power_tower(x, n)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_recursion_power_by_squaring(n):
    g = check_grad(calls_power_tower, 1.1, n)
    assert g == pytest.approx(n * 1.1 ** (n - 1))


def _fib_like(x, n):
    if n < 2:
        return x * (n + 1)
    return _fib_like(x, n - 1) * 0.5 + np.cos(_fib_like(x, n - 2))


def test_tree_recursion():
    check_grad(_fib_like, 0.7, 4)
    check_against_autograd(_fib_like, 0.7, 4)


# --- helpers returning tuples, srcad-decorated helpers -------------------------------------------------

def _two_outputs(x):
    return np.sin(x), x * x


def calls_helper_returning_tuple(x):
    s, q = _two_outputs(x)
    pair = _two_outputs(s)
    return np.sum(s * q + pair[0] * pair[1])


def test_helper_returning_a_tuple():
    check_grad(calls_helper_returning_tuple, np.array([0.5, -1.2, 0.8]))
    check_against_autograd(calls_helper_returning_tuple, np.array([0.5, -1.2, 0.8]))


def _plain_model(w, x):
    return np.sum(np.tanh(x * w) ** 2)


_decorated_grad = srcad.grad(_plain_model)


def calls_plain_function_also_decorated_elsewhere(w, x):
    return _plain_model(w, x) * 2.0


def test_helper_that_also_has_a_gradient_elsewhere():
    w = np.array([0.5, -0.3])
    x = np.array([1.0, 2.0])
    g = check_grad(calls_plain_function_also_decorated_elsewhere, w, x)
    np.testing.assert_allclose(g, 2.0 * _decorated_grad(w, x), rtol=1e-9)


class _Model:
    def __init__(self, scale):
        self.scale = scale

    def loss(self, w):
        return np.sum((w * self.scale) ** 2)


def test_method_function():
    m = _Model(3.0)
    w = np.array([0.5, -1.0])
    g = srcad.grad(_Model.loss, wrt=1)(m, w)
    np.testing.assert_allclose(g, 18.0 * w, rtol=1e-9)


# --- inactive arguments of helpers stay inactive ---------------------------------------
# A helper is specialized per call site to the parameters whose arguments are
# differentiated there: an integer order or a constant passed to it is a constant
# inside it too, where a function without a derivative in it may read it.

def _log_multigamma_scaled(a, n, p):
    # math.lgamma has no derivative rule: fine on the constant p
    return special.gammaln(a) * n + math.lgamma(p) + special.polygamma(1, a) / p


def calls_with_constant_arguments(x):
    return _log_multigamma_scaled(np.sum(x * x) + 3.0, 2, 2)


def _term(c, n, x):
    return c * np.sum(special.polygamma(n, x)) + math.lgamma(n + 1)


_POINTS = np.array([0.7, 1.9, 2.4])


def calls_from_two_sites(x):
    # x differentiated at the first call, c at the second: two specializations
    return _term(2.5, 1, x) + _term(np.sum(x) + 2.0, 1, _POINTS)


def _order_of(n, x):
    return special.polygamma(n, x)


def passes_an_integer_through_two_helpers(x):
    return np.sum(_term(3.0, 1, x) * _order_of(2, x))


@pytest.mark.parametrize("f", [calls_with_constant_arguments, calls_from_two_sites,
                               passes_an_integer_through_two_helpers],
                         ids=lambda f: f.__name__)
def test_inactive_arguments_of_helpers_stay_inactive(f):
    x = np.array([0.5, 1.2, 0.8])
    check_grad(f, x)
    t = np.array([0.3, -1.0, 0.7])
    value, tangent = srcad.jvp(f)(x, t)
    assert value == pytest.approx(f(x), rel=1e-12)
    assert tangent == pytest.approx(np.dot(numerical_grad(f, (x,)), t), rel=1e-6, abs=1e-8)


def _lgamma_of(c, x):
    return math.lgamma(c) * np.sum(x)


def differentiates_what_has_no_rule_inside(x):
    return _lgamma_of(np.sum(x) + 2.0, x)


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_an_active_argument_without_a_rule_inside_is_still_refused(mode):
    x = np.array([0.5, 1.2])
    with pytest.raises(srcad.NoDerivativeError, match="math.lgamma"):
        if mode == "grad":
            srcad.grad(differentiates_what_has_no_rule_inside)(x)
        else:
            srcad.jvp(differentiates_what_has_no_rule_inside)(x, x)


def test_each_call_site_gets_the_helper_differentiated_in_its_own_arguments():
    source = srcad.grad(calls_from_two_sites).source
    assert source.count("def _term_adjoint") == 2     # one for (x,), one for (c, x)


def _fills(h, v):
    h[0] = v
    return h


def fills_a_constant_buffer(x):
    h = np.zeros(3)
    h = _fills(h, x[0] * 2.0)
    return np.sum(h * x)


def test_a_helper_writing_into_an_inactive_argument():
    # the buffer's argument is a constant, but the helper writes a differentiated value
    # into it: reverse mode still refuses, forward mode follows it
    x = np.array([0.5, 1.2, -0.3])
    with pytest.raises(srcad.UnsupportedSyntaxError, match="in-place update of the argument"):
        srcad.grad(fills_a_constant_buffer)(x)
    t = np.array([1.0, -0.5, 2.0])
    _, tangent = srcad.jvp(fills_a_constant_buffer)(x, t)
    assert tangent == pytest.approx(numerical_grad(fills_a_constant_buffer, (x,)) @ t)
