"""Every derivative rule of issue 2, against finite differences and autograd.

Covers NumPy exp exp2 expm1 log log2 log10 log1p sqrt cbrt square reciprocal
power sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh
arccosh arctanh abs absolute negative maximum minimum clip where sum mean
prod max min (axis, keepdims) dot matmul transpose .T reshape expand_dims
squeeze; math sin cos tan asin acos atan sinh cosh tanh exp log log1p sqrt
pow fabs; the non-differentiable sign floor ceil round argmax argmin shape
len zeros_like ones_like (zero derivative); the array methods x.sum(axis=),
x.mean(), x.max(), x.dot(y), x.T, x.reshape(...), x.copy(), x.astype(float),
x.shape, x.ndim; and srcad.stop_gradient.

Each unary rule is tested as sum(fn(x) * x): the cotangent reaching fn is x,
not a vector of ones, so a rule that drops or misplaces d[result] fails.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import srcad
from oracle import (arrays, broadcast_pairs, check_against_autograd, check_grad, distinct_arrays,
                    floats, shapes, signed)


# --- elementwise functions of one array ---------------------------------------------------

def np_exp(x): return np.sum(np.exp(x) * x)
def np_exp2(x): return np.sum(np.exp2(x) * x)
def np_expm1(x): return np.sum(np.expm1(x) * x)
def np_log(x): return np.sum(np.log(x) * x)
def np_log2(x): return np.sum(np.log2(x) * x)
def np_log10(x): return np.sum(np.log10(x) * x)
def np_log1p(x): return np.sum(np.log1p(x) * x)
def np_sqrt(x): return np.sum(np.sqrt(x) * x)
def np_cbrt(x): return np.sum(np.cbrt(x) * x)
def np_square(x): return np.sum(np.square(x) * x)
def np_reciprocal(x): return np.sum(np.reciprocal(x) * x * x)
def np_sin(x): return np.sum(np.sin(x) * x)
def np_cos(x): return np.sum(np.cos(x) * x)
def np_tan(x): return np.sum(np.tan(x) * x)
def np_arcsin(x): return np.sum(np.arcsin(x) * x)
def np_arccos(x): return np.sum(np.arccos(x) * x)
def np_arctan(x): return np.sum(np.arctan(x) * x)
def np_sinh(x): return np.sum(np.sinh(x) * x)
def np_cosh(x): return np.sum(np.cosh(x) * x)
def np_tanh(x): return np.sum(np.tanh(x) * x)
def np_arcsinh(x): return np.sum(np.arcsinh(x) * x)
def np_arccosh(x): return np.sum(np.arccosh(x) * x)
def np_arctanh(x): return np.sum(np.arctanh(x) * x)
def np_abs(x): return np.sum(np.abs(x) * x)
def np_absolute(x): return np.sum(np.absolute(x) * x)
def np_negative(x): return np.sum(np.negative(x) * x)


ANY = floats(-2.0, 2.0)
POSITIVE = floats(0.2, 3.0)
NONZERO = signed(0.2, 2.0)
UNIT = floats(-0.9, 0.9)

UNARY = [
    (np_exp, ANY, lambda x: np.exp(x) * (x + 1)),
    (np_exp2, ANY, lambda x: np.exp2(x) * (np.log(2) * x + 1)),
    (np_expm1, ANY, lambda x: np.exp(x) * x + np.expm1(x)),
    (np_log, POSITIVE, lambda x: 1 + np.log(x)),
    (np_log2, POSITIVE, lambda x: 1 / np.log(2) + np.log2(x)),
    (np_log10, POSITIVE, lambda x: 1 / np.log(10) + np.log10(x)),
    (np_log1p, floats(-0.8, 2.0), lambda x: x / (1 + x) + np.log1p(x)),
    (np_sqrt, POSITIVE, lambda x: 1.5 * np.sqrt(x)),
    (np_cbrt, NONZERO, lambda x: (4.0 / 3.0) * np.cbrt(x)),
    (np_square, ANY, lambda x: 3 * x * x),
    (np_reciprocal, NONZERO, lambda x: np.ones_like(x)),
    (np_sin, ANY, lambda x: np.cos(x) * x + np.sin(x)),
    (np_cos, ANY, lambda x: -np.sin(x) * x + np.cos(x)),
    (np_tan, floats(-1.3, 1.3), lambda x: x / np.cos(x) ** 2 + np.tan(x)),
    (np_arcsin, UNIT, lambda x: x / np.sqrt(1 - x * x) + np.arcsin(x)),
    (np_arccos, UNIT, lambda x: -x / np.sqrt(1 - x * x) + np.arccos(x)),
    (np_arctan, ANY, lambda x: x / (1 + x * x) + np.arctan(x)),
    (np_sinh, ANY, lambda x: np.cosh(x) * x + np.sinh(x)),
    (np_cosh, ANY, lambda x: np.sinh(x) * x + np.cosh(x)),
    (np_tanh, ANY, lambda x: (1 - np.tanh(x) ** 2) * x + np.tanh(x)),
    (np_arcsinh, ANY, lambda x: x / np.sqrt(x * x + 1) + np.arcsinh(x)),
    (np_arccosh, floats(1.2, 3.0), lambda x: x / np.sqrt(x * x - 1) + np.arccosh(x)),
    (np_arctanh, UNIT, lambda x: x / (1 - x * x) + np.arctanh(x)),
    (np_abs, NONZERO, lambda x: 2 * np.abs(x)),
    (np_absolute, NONZERO, lambda x: 2 * np.abs(x)),
    (np_negative, ANY, lambda x: -2 * x),
]
UNARY_IDS = [f.__name__ for f, _, _ in UNARY]


@pytest.mark.parametrize("f, elements, derivative", UNARY, ids=UNARY_IDS)
@given(data=st.data())
def test_unary_rule_arrays(f, elements, derivative, data):
    x = data.draw(arrays(shapes(), elements))
    g = check_grad(f, x)
    np.testing.assert_allclose(g, derivative(x), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("f, elements, derivative", UNARY, ids=UNARY_IDS)
@given(data=st.data())
def test_unary_rule_python_float(f, elements, derivative, data):
    x = data.draw(elements)
    g = check_grad(f, x)
    assert g == pytest.approx(float(derivative(np.float64(x))), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("f, elements, derivative", [u for u in UNARY if u[0] is not np_cbrt],
                         ids=[i for i in UNARY_IDS if i != "np_cbrt"])  # autograd has no cbrt rule
def test_unary_rule_matches_autograd(f, elements, derivative):
    base = np.array([[0.35, 0.6, 0.85], [0.4, 0.75, 0.55]])
    if f is np_arccosh:
        base = base + 1.0
    if f in (np_reciprocal, np_abs, np_absolute, np_arcsin, np_arctanh, np_arccos):
        base = base * np.array([1.0, -1.0, 1.0])
    check_against_autograd(f, base)


# --- binary elementwise functions with broadcasting -----------------------------------------

def np_power(x, y): return np.sum(np.power(x, y))
def np_arctan2(x, y): return np.sum(np.arctan2(x, y) * x)
def np_maximum(x, y): return np.sum(np.maximum(x, y) * np.maximum(x, y))
def np_minimum(x, y): return np.sum(np.minimum(x, y) * np.exp(np.minimum(x, y)))


@pytest.mark.parametrize("f", [np_power, np_arctan2], ids=lambda f: f.__name__)
@given(data=st.data())
def test_binary_rule_broadcasting(f, data):
    sx, sy = data.draw(broadcast_pairs())
    x = data.draw(arrays(sx, floats(0.5, 2.0)))
    y = data.draw(arrays(sy, signed(0.5, 2.0)))
    check_grad(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f", [np_maximum, np_minimum], ids=lambda f: f.__name__)
@given(data=st.data())
def test_maximum_minimum_broadcasting(f, data):
    sx, sy = data.draw(broadcast_pairs())
    x = data.draw(arrays(sx, floats(-2.0, 2.0)))
    y = data.draw(arrays(sy, floats(-2.0, 2.0)))
    assume(np.all(np.abs(np.subtract(x, y)) > 1e-2))
    check_grad(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f", [np_power, np_arctan2, np_maximum, np_minimum], ids=lambda f: f.__name__)
def test_binary_rule_matches_autograd(f):
    x = np.array([[0.7, 1.3, 1.9], [0.6, 1.1, 1.4]])
    y = np.array([1.5, -0.8, 0.9])
    check_against_autograd(f, x, y, wrt=(0, 1))


def test_power_exact():
    dx, dy = srcad.grad(np_power, wrt=(0, 1))(np.array([2.0, 3.0]), np.array([3.0, 0.5]))
    np.testing.assert_allclose(dx, [12.0, 0.5 / np.sqrt(3.0)], rtol=1e-12)
    np.testing.assert_allclose(dy, [8 * np.log(2.0), np.sqrt(3.0) * np.log(3.0)], rtol=1e-12)


def np_maximum_scalar(x):
    return np.sum(np.maximum(x, 0.0) * x) + np.sum(np.minimum(1.0, x))


def test_maximum_minimum_with_constant():
    x = np.array([-1.5, -0.3, 0.4, 1.7])
    g = check_grad(np_maximum_scalar, x)
    np.testing.assert_allclose(g, np.where(x > 0, 2 * x, 0.0) + (x < 1.0), rtol=1e-12)


def np_clip(x):
    return np.sum(np.clip(x, -0.5, 1.0) * x)


def np_clip_keywords(x, lo, hi):
    return np.sum(np.clip(x, a_min=lo, a_max=hi) ** 2)


def np_clip_bounds(x, lo, hi):
    return np.sum(np.clip(x, lo, hi) * np.array([1.0, 2.0, 3.0, 4.0]))


def np_clip_one_sided(x, lo):
    return np.sum(np.clip(x, lo, None) ** 2) + np.sum(x.clip(None, lo))


def test_clip_where_the_low_bound_is_above_the_high_one():
    # np.clip is np.minimum(np.maximum(x, lo), hi): where lo > hi, hi everywhere, and
    # only hi gets the gradient; the rule gave it to x where x equalled hi, and to lo
    # where lo > x (seed 24003755, a wrong gradient of 1.0)
    from oracle import numerical_jvp
    x = np.array([1.0, 0.0, 1.0, -0.4])
    lo = np.array([0.5, 0.2, 2.0, 0.1])
    hi = np.array([0.3, 0.9, 1.0, 0.6])
    args = (x, lo, hi)
    for wrt in range(3):
        check_grad(np_clip_bounds, *args, wrt=wrt)
        tangent = np.array([0.3, -0.7, 1.1, 0.5])
        _, got = srcad.jvp(np_clip_bounds, wrt=wrt)(*args, tangent)
        assert got == pytest.approx(numerical_jvp(np_clip_bounds, args, [wrt], [tangent]))
    np.testing.assert_array_equal(srcad.grad(np_clip_bounds, wrt=2)(*args), [1, 0, 3, 0])
    for wrt in range(2):
        check_grad(np_clip_one_sided, x, 0.5, wrt=wrt)
    from fuzz_programs import check_program
    assert check_program(24003755).status == "ok"


@given(x=arrays(shapes()))
def test_clip(x):
    assume(np.all(np.abs(x + 0.5) > 1e-2) and np.all(np.abs(x - 1.0) > 1e-2))
    g = check_grad(np_clip, x)
    np.testing.assert_allclose(g, np.clip(x, -0.5, 1.0) + x * ((x > -0.5) & (x < 1.0)), rtol=1e-9)


def test_clip_active_bounds():
    x = np.array([-2.0, -0.2, 0.3, 1.5])
    check_grad(np_clip_keywords, x, -1.0, 1.0, wrt=(0, 1, 2))
    check_against_autograd(np_clip, x)


def np_where(x, y):
    return np.sum(np.where(x > 0, x * y, y * y) + np.where(x < 1.0, np.sin(x), 2.0))


@given(data=st.data())
def test_where_broadcasting(data):
    sx, sy = data.draw(broadcast_pairs())
    x = data.draw(arrays(sx))
    y = data.draw(arrays(sy))
    assume(np.all(np.abs(x) > 1e-2) and np.all(np.abs(x - 1.0) > 1e-2))
    check_grad(np_where, x, y, wrt=(0, 1))


def test_where_matches_autograd():
    check_against_autograd(np_where, np.array([[-1.0, 0.5, 1.5]]), np.array([[0.3], [-0.7]]), wrt=(0, 1))


# --- reductions ------------------------------------------------------------------------------

def red_sum(x, axis, keepdims): return np.sum(np.sum(x, axis=axis, keepdims=keepdims) ** 2)
def red_mean(x, axis, keepdims): return np.sum(np.mean(x, axis=axis, keepdims=keepdims) ** 2)
def red_prod(x, axis, keepdims): return np.sum(np.sin(np.prod(x, axis=axis, keepdims=keepdims)))
def red_max(x, axis, keepdims): return np.sum(np.max(x, axis=axis, keepdims=keepdims) ** 2)
def red_min(x, axis, keepdims): return np.sum(np.exp(np.min(x, axis=axis, keepdims=keepdims)))


REDUCTIONS = [red_sum, red_mean, red_prod, red_max, red_min]
AXES = [None, 0, 1, -1, (0, 1)]


@pytest.mark.parametrize("f", REDUCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_axis_keepdims(f, axis, keepdims):
    x = (np.arange(12.0).reshape(3, 4) * 0.37 % 2.3) - 1.1     # distinct, nonzero
    if f is red_prod:   # factors of moderate size
        x = np.sign(x) * (0.5 + np.abs(x) * 0.5)
    assert len(np.unique(x)) == x.size
    check_grad(f, x, axis, keepdims)
    check_against_autograd(f, x, axis, keepdims)


@pytest.mark.parametrize("f", [red_sum, red_mean, red_max, red_min], ids=lambda f: f.__name__)
@given(x=distinct_arrays(shapes(min_dims=1)), data=st.data())
def test_reduction_drawn(f, x, data):
    axis = data.draw(st.sampled_from([None] + list(range(x.ndim)) + [-1]))
    check_grad(f, x, axis, data.draw(st.booleans()))


@given(x=arrays(shapes(min_dims=1), signed(0.5, 1.5)), data=st.data())
def test_prod_drawn(x, data):
    axis = data.draw(st.sampled_from([None] + list(range(x.ndim))))
    check_grad(red_prod, x, axis, False)


def red_scalar_input(x):
    return np.sum(x) * np.mean(x) + np.max(x) * np.prod(x)


def test_reductions_of_python_float():
    g = check_grad(red_scalar_input, 1.5)
    assert g == pytest.approx(2 * 1.5 + 2 * 1.5)


def red_sum_positional_axis(x):
    return np.sum(np.sum(x, 0) * np.mean(x, 1)[0]) + np.sum(np.max(x, 1))


def test_reduction_positional_axis():
    check_grad(red_sum_positional_axis, np.array([[0.1, 0.9, -0.5], [1.3, -0.2, 0.4]]))


# --- linear algebra and shape functions -----------------------------------------------------------

def la_dot(a, b): return np.sum(np.tanh(np.dot(a, b)))
def la_matmul(a, b): return np.sum(np.tanh(np.matmul(a, b)))


@pytest.mark.parametrize("f", [la_dot, la_matmul], ids=lambda f: f.__name__)
@pytest.mark.parametrize("sa, sb", [((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 2)), ((4,), (4,))],
                         ids=["2d.2d", "2d.1d", "1d.2d", "1d.1d"])
@given(data=st.data())
def test_dot_matmul(f, sa, sb, data):
    a = data.draw(arrays(sa))
    b = data.draw(arrays(sb))
    check_grad(f, a, b, wrt=(0, 1))


def la_dot_scalar(a, s):
    return np.sum(np.dot(a, s) * a)


def test_dot_with_scalar():
    check_grad(la_dot_scalar, np.array([0.5, -1.0]), 1.5, wrt=(0, 1))


def test_dot_matmul_match_autograd():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    check_against_autograd(la_dot, a, b, wrt=(0, 1))
    check_against_autograd(la_matmul, a, b, wrt=(0, 1))


def la_matmul_batched(a, b):
    return np.sum(np.sin(np.matmul(a, b)))


def test_matmul_batched():
    rng = np.random.default_rng(4)
    check_grad(la_matmul_batched, rng.normal(size=(2, 2, 3)), rng.normal(size=(3, 2)), wrt=(0, 1))


def sh_transpose(x): return np.sum(np.transpose(x) * W34.T)
def sh_transpose_axes(x): return np.sum(np.transpose(x, (2, 0, 1)) * np.arange(24.0).reshape(4, 2, 3))
def sh_dot_t(x): return np.sum(x.T * W34.T)
def sh_reshape(x): return np.sum(np.reshape(x, (4, 3)) * W34.reshape(4, 3))
def sh_reshape_minus_one(x): return np.sum(np.reshape(x, -1) * np.arange(12.0))
def sh_expand_dims(x): return np.sum(np.expand_dims(x, 1) * np.arange(3.0).reshape(1, 3, 1))
def sh_expand_dims_neg(x): return np.sum(np.expand_dims(x, axis=-1) ** 2 * np.arange(4.0))
def sh_squeeze(x): return np.sum(np.squeeze(x) * np.arange(3.0))
def sh_squeeze_axis(x): return np.sum(np.squeeze(x, axis=0) ** 3)


W34 = np.arange(12.0).reshape(3, 4) - 5.5


@pytest.mark.parametrize("f, shape", [
    (sh_transpose, (3, 4)), (sh_transpose_axes, (2, 3, 4)), (sh_dot_t, (3, 4)), (sh_reshape, (3, 4)),
    (sh_reshape_minus_one, (3, 4)), (sh_expand_dims, (3, 4)), (sh_expand_dims_neg, (3, 4)),
    (sh_squeeze, (1, 3, 1)), (sh_squeeze_axis, (1, 3)),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_shape_functions(f, shape):
    x = np.linspace(-1.0, 1.3, int(np.prod(shape))).reshape(shape)
    check_grad(f, x)
    check_against_autograd(f, x)


# --- math module ----------------------------------------------------------------------------------

def m_sin(x): return math.sin(x) * x
def m_cos(x): return math.cos(x) * x
def m_tan(x): return math.tan(x) * x
def m_asin(x): return math.asin(x) * x
def m_acos(x): return math.acos(x) * x
def m_atan(x): return math.atan(x) * x
def m_sinh(x): return math.sinh(x) * x
def m_cosh(x): return math.cosh(x) * x
def m_tanh(x): return math.tanh(x) * x
def m_exp(x): return math.exp(x) * x
def m_log(x): return math.log(x) * x
def m_log_base(x): return math.log(x, 3.0) * x
def m_log1p(x): return math.log1p(x) * x
def m_sqrt(x): return math.sqrt(x) * x
def m_fabs(x): return math.fabs(x) * x
def m_pow(x, y): return math.pow(x, y) * y


MATH = [
    (m_sin, ANY), (m_cos, ANY), (m_tan, floats(-1.3, 1.3)), (m_asin, UNIT), (m_acos, UNIT), (m_atan, ANY),
    (m_sinh, ANY), (m_cosh, ANY), (m_tanh, ANY), (m_exp, ANY), (m_log, POSITIVE), (m_log_base, POSITIVE),
    (m_log1p, floats(-0.8, 2.0)), (m_sqrt, POSITIVE), (m_fabs, NONZERO),
]


@pytest.mark.parametrize("f, elements", MATH, ids=[f.__name__ for f, _ in MATH])
@given(data=st.data())
def test_math_rules(f, elements, data):
    x = data.draw(elements)
    g = check_grad(f, x)
    assert isinstance(g, float)


def test_math_rules_exact():
    assert srcad.grad(m_sin)(0.5) == pytest.approx(math.cos(0.5) * 0.5 + math.sin(0.5))
    assert srcad.grad(m_log)(2.0) == pytest.approx(1.0 + math.log(2.0))
    assert srcad.grad(m_fabs)(-2.0) == pytest.approx(4.0)   # -x*x at -2


@given(x=POSITIVE, y=signed(0.3, 2.0))
def test_math_pow(x, y):
    dx, dy = check_grad(m_pow, x, y, wrt=(0, 1))
    assert dx == pytest.approx(y * y * x ** (y - 1), rel=1e-9)


# --- non-differentiable functions: zero derivative ------------------------------------------------

def nd_sign(x): return np.sum(np.sign(x) * x)
def nd_floor(x): return np.sum(np.floor(x) * x)
def nd_ceil(x): return np.sum(np.ceil(x) * x)
def nd_round(x): return np.sum(np.round(x) * x)
def nd_argmax(x): return x[np.argmax(x)] * 2.0 + np.sum(x * np.argmin(x))
def nd_shape(x): return np.sum(x * np.shape(x)[0]) + x.shape[0] * np.sum(x)
def nd_len(x): return np.sum(x * len(x))
def nd_zeros_like(x): return np.sum((np.zeros_like(x) + x) * x)
def nd_ones_like(x): return np.sum(np.ones_like(x) * x * 3.0)


NONDIFF = [
    (nd_sign, lambda x: np.sign(x)),
    (nd_floor, lambda x: np.floor(x)),
    (nd_ceil, lambda x: np.ceil(x)),
    (nd_round, lambda x: np.round(x)),
    (nd_argmax, lambda x: 2.0 * (np.arange(x.size) == np.argmax(x)) + np.argmin(x)),
    (nd_shape, lambda x: 2.0 * x.shape[0] * np.ones_like(x)),
    (nd_len, lambda x: len(x) * np.ones_like(x)),
    (nd_zeros_like, lambda x: 2 * x),
    (nd_ones_like, lambda x: 3.0 * np.ones_like(x)),
]


@pytest.mark.parametrize("f, derivative", NONDIFF, ids=[f.__name__ for f, _ in NONDIFF])
def test_nondifferentiable_functions_have_zero_derivative(f, derivative):
    # away from integers and half-integers (floor, ceil, round, sign are locally constant)
    x = np.array([0.3, -1.7, 2.2, -0.6, 1.15])
    g = check_grad(f, x)
    np.testing.assert_allclose(g, derivative(x), rtol=1e-9, atol=1e-12)


# --- array methods ----------------------------------------------------------------------------------

def me_sum_axis(x): return np.sum(x.sum(axis=0) ** 2) + np.sum(x.sum(1) * x.sum())
def me_mean(x): return x.mean() * x.mean(axis=1)[0]
def me_max(x): return x.max() + np.sum(x.max(axis=0) * x.min(axis=1, keepdims=True))
def me_dot(x, y): return np.sum(x.dot(y) ** 2)
def me_T(x): return np.sum((x.T @ x) * np.arange(16.0).reshape(4, 4)) + np.sum(x.T[1] ** 2)
def me_reshape(x): return np.sum(x.reshape(4, 3) * W34.reshape(4, 3)) + np.sum(x.reshape((2, 6)) ** 2)
def me_reshape_flat(x): return np.sum(x.reshape(-1) * np.arange(12.0))
def me_copy(x):
    y = x.copy()
    return np.sum(y * x)
def me_astype(x): return np.sum(x.astype(float) ** 3)
def me_shape_ndim(x): return np.sum(x * x.shape[1]) * x.ndim + x.size * np.sum(x)
def me_prod_transpose(x): return x.prod() + np.sum(x.transpose() * W34)


METHODS = [me_sum_axis, me_mean, me_max, me_T, me_reshape, me_reshape_flat, me_copy, me_astype,
           me_shape_ndim]


@pytest.mark.parametrize("f", METHODS, ids=lambda f: f.__name__)
@given(x=distinct_arrays((3, 4)))
def test_array_methods(f, x):
    check_grad(f, x)


@pytest.mark.parametrize("f", [f for f in METHODS if f is not me_copy],   # autograd's ArrayBox has no .copy
                         ids=lambda f: f.__name__)
def test_array_methods_match_autograd(f):
    x = (np.arange(12.0).reshape(3, 4) * 0.37 % 2.3) - 1.1
    check_against_autograd(f, x)


def test_array_method_dot():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(2, 3)), rng.normal(size=(3, 2))
    dx, dy = check_grad(me_dot, x, y, wrt=(0, 1))
    # autograd's ArrayBox has no .dot: compare with the closed form instead
    z = x @ y
    np.testing.assert_allclose(dx, 2 * z @ y.T, rtol=1e-9)
    np.testing.assert_allclose(dy, 2 * x.T @ z, rtol=1e-9)


def test_array_method_prod_and_transpose():
    x = np.array([[0.5, 1.2, -0.8, 1.1], [0.9, -1.3, 0.7, 1.5], [1.4, 0.6, -0.9, 0.8]]).T
    check_grad(me_prod_transpose, x)


def test_shape_and_ndim_exact():
    x = np.arange(12.0).reshape(3, 4)
    g = check_grad(me_shape_ndim, x)
    np.testing.assert_allclose(g, np.full((3, 4), 4 * 2 + 12.0), rtol=1e-12)


# --- stop_gradient ---------------------------------------------------------------------------------

def sg_basic(x):
    return np.sum(x * srcad.stop_gradient(x))


def sg_in_expression(x, y):
    c = srcad.stop_gradient(np.sum(x * y))
    return np.sum(np.sin(x) * c) + c * y[0]


def test_stop_gradient():
    x = np.array([0.5, -1.5, 2.0])
    g = srcad.grad(sg_basic)(x)
    np.testing.assert_allclose(g, x, rtol=1e-12)


def test_stop_gradient_blocks_only_its_path():
    x = np.array([0.5, -1.5])
    y = np.array([1.0, 2.0])
    dx, dy = srcad.grad(sg_in_expression, wrt=(0, 1))(x, y)
    c = np.sum(x * y)
    np.testing.assert_allclose(dx, np.cos(x) * c, rtol=1e-12)
    np.testing.assert_allclose(dy, [c, 0.0], rtol=1e-12, atol=1e-15)


def test_stop_gradient_returns_its_argument():
    x = np.array([1.0, 2.0])
    assert srcad.stop_gradient(x) is x


def nr_joins_rows_of_an_array(W):
    weights = np.arange(6.0)
    return np.sum(np.concatenate(W, axis=0) ** 2 * weights) \
        + np.sum(np.stack(W, axis=1) * weights.reshape(3, 2)) + np.sum(np.vstack(W) ** 3)


def test_concatenate_and_stack_of_an_array_give_an_array_gradient():
    """np.concatenate(W), np.stack(W) and np.vstack(W) of an array join its rows: the
    gradient is an array shaped like W, not a list of the rows' gradients."""
    from oracle import numerical_grad
    W = np.arange(6.0).reshape(2, 3) / 7 + 0.1
    check_grad(nr_joins_rows_of_an_array, W)
    _, tangent = srcad.jvp(nr_joins_rows_of_an_array)(W, np.ones_like(W))
    assert tangent == pytest.approx(np.sum(numerical_grad(nr_joins_rows_of_an_array, (W,), 0)))


def nr_cumprods(a, w):
    return np.sum(np.cumprod(a) * w) + np.sum(np.cumprod(a.reshape(2, 3), axis=1) ** 2) \
        + np.sum(np.cumprod(a.reshape(2, 3), axis=0) * 1.5)  # MARK


@pytest.mark.parametrize("a", [[0.5, 0.0, -0.7, 2.0, 0.0, 1.1], [0.0, 1.2, -0.7, 2.0, 0.9, 0.0]])
def test_cumprod_at_zeros_exact_forward_refused_reverse(a):
    """np.cumprod's gradient divides by the entries: at a zero, forward mode follows the
    product's recurrence instead (exact), and reverse mode refuses, never giving nan."""
    from oracle import line_of, numerical_grad
    a, w = np.array(a), np.arange(6.0) + 1
    t = np.array([0.3, -0.2, 0.5, 0.1, 0.7, -0.4])
    _, tangent = srcad.jvp(nr_cumprods)(a, w, t)
    assert tangent == pytest.approx(numerical_grad(nr_cumprods, (a, w), 0) @ t, abs=1e-7)
    with pytest.raises(srcad.SrcadError, match="zero") as info:
        srcad.grad(nr_cumprods)(a, w)
    assert info.value.lineno in range(line_of(nr_cumprods, "def nr_cumprods"),
                                      line_of(nr_cumprods, "# MARK") + 1)


def sign_of_a_product(a, B):
    return np.sign(a @ B)


def test_the_zero_gradient_of_sign_is_shaped_like_its_argument():
    # sign's adjoint gave the number 0.0 for a real argument, which the adjoint takes
    # for an array once a nonzero seed reaches it: `B @ dmatmul` raised (seed 25004521)
    a, B = np.array([0.3, -0.2, 0.5]), np.arange(12.0).reshape(3, 4) - 5.0
    _, pullback = srcad.vjp(sign_of_a_product, wrt=(0, 1))(a, B)
    da, dB = pullback(np.ones(4))
    np.testing.assert_array_equal(da, np.zeros(3))
    np.testing.assert_array_equal(dB, np.zeros((3, 4)))
    _, tangent = srcad.jvp(sign_of_a_product)(a, B, np.ones(3))
    np.testing.assert_array_equal(tangent, np.zeros(4))
    from fuzz_programs import check_program
    assert check_program(25004521).status == "ok"
