"""Cases where earlier source-transformation tools returned silently wrong gradients.

Each of these gave a wrong number with no error in Tangent 0.1.9 and its
revival (issue 2): broadcasting in / and ** (softmax normalisation), a Python
float combined with an array, **= and every augmented assignment, for loops
over active arrays and lists of active values, active values passed to
helpers as keyword arguments, integer-array indexing with a repeated index,
and reading .shape / .T / .ndim of an active array.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import srcad
from oracle import arrays, broadcast_pairs, check_against_autograd, check_grad, floats, signed


# --- broadcasting in / and ** ----------------------------------------------------------

def pf_softmax(x, w):
    e = np.exp(x)
    p = e / np.sum(e)
    return np.sum(p * w)


@given(x=arrays(st.integers(1, 5).map(lambda n: (n,))), data=st.data())
def test_softmax_normalisation_reduces_the_0d_operand(x, data):
    w = data.draw(arrays(x.shape))
    g = check_grad(pf_softmax, x, w)
    p = np.exp(x) / np.sum(np.exp(x))
    np.testing.assert_allclose(g, p * (w - np.sum(p * w)), rtol=1e-9, atol=1e-12)


def test_softmax_matches_autograd():
    check_against_autograd(pf_softmax, np.array([0.3, -1.2, 2.0, 0.1]), np.array([1.0, -2.0, 0.5, 3.0]))


def pf_softmax_rows(X, W):
    e = np.exp(X - np.max(X, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(p * W)


def test_row_softmax_keepdims_denominator():
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    check_grad(pf_softmax_rows, X, W)
    check_against_autograd(pf_softmax_rows, X, W)


def pf_div_broadcast(x, y):
    return np.sum(np.sin(x / y))


def pf_pow_broadcast(x, y):
    return np.sum(x ** y)


@pytest.mark.parametrize("f", [pf_div_broadcast, pf_pow_broadcast], ids=lambda f: f.__name__)
@given(data=st.data())
def test_broadcasting_in_div_and_pow(f, data):
    sx, sy = data.draw(broadcast_pairs())
    x = data.draw(arrays(sx, floats(0.5, 2.0)))
    y = data.draw(arrays(sy, signed(0.5, 2.0)))
    check_grad(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f", [pf_div_broadcast, pf_pow_broadcast], ids=lambda f: f.__name__)
def test_0d_and_row_operands_of_div_and_pow(f):
    x = np.array([[0.7, 1.3, 1.9], [0.6, 1.1, 1.4]])
    for y in (np.array(1.5), np.array([1.5, -0.8, 0.9]), np.array([[0.6], [1.2]])):
        gx, gy = check_grad(f, x, y, wrt=(0, 1))
        assert gy.shape == y.shape
        check_against_autograd(f, x, y, wrt=(0, 1))


def pf_pow_0d_exponent(x, p):
    return np.sum(x ** np.sum(p))


def test_pow_with_0d_exponent_from_reduction():
    x = np.array([0.5, 1.5, 2.0])
    p = np.array([0.7, 0.8])
    dx, dp = check_grad(pf_pow_0d_exponent, x, p, wrt=(0, 1))
    np.testing.assert_allclose(dp, np.full(2, np.sum(x ** 1.5 * np.log(x))), rtol=1e-9)


# --- a Python float combined with an array -------------------------------------------------

def pf_float_times_array(a, x):
    return np.sum(np.sin(a * x) + x / a + a ** x + x ** a - a)


@given(a=floats(0.5, 2.0), x=arrays(st.integers(1, 4).map(lambda n: (n,)), floats(0.5, 2.0)))
def test_python_float_with_array_gets_a_float_gradient(a, x):
    da, dx = check_grad(pf_float_times_array, a, x, wrt=(0, 1))
    assert isinstance(da, float)


def test_python_float_with_array_matches_autograd():
    check_against_autograd(pf_float_times_array, 1.3, np.array([[0.5, 1.2], [1.9, 0.8]]), wrt=(0, 1))


def pf_float_bias(x, b):
    return np.sum((x + b) ** 2)


def test_float_bias_gradient_is_sum_of_broadcast_gradient():
    x = np.array([[0.5, -1.0], [2.0, 0.3]])
    db = srcad.grad(pf_float_bias, wrt=1)(x, 0.25)
    assert isinstance(db, float) and not isinstance(db, np.ndarray)
    assert db == pytest.approx(float(np.sum(2 * (x + 0.25))))


def test_int_combined_with_array_gets_a_float_gradient():
    x = np.array([0.5, -1.0, 2.0])
    db = srcad.grad(pf_float_bias, wrt=1)(x, 2)
    assert isinstance(db, float)
    assert db == pytest.approx(float(np.sum(2 * (x + 2))))


# --- augmented assignment ----------------------------------------------------------------------

def pf_aug_pow(x, p):
    y = x * 1.0
    y **= p
    return np.sum(y)


def pf_aug_pow_array(x):
    y = x + 0.0
    y **= 3
    y **= x
    return np.sum(y)


def pf_every_augmented(x, y):
    z = x * 1.0
    z += y
    z -= y * y
    z *= y
    z /= (y + 3.0)
    z **= 2
    z %= 10.0   # z stays below 10: derivative 1
    return np.sum(z)


def test_pow_equals_with_active_exponent():
    x = np.array([0.5, 1.5, 2.0])
    dx, dp = check_grad(pf_aug_pow, x, 2.5, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2.5 * x ** 1.5, rtol=1e-9)
    assert dp == pytest.approx(float(np.sum(x ** 2.5 * np.log(x))))


@given(x=arrays((3,), floats(0.5, 2.0)))
def test_pow_equals_twice(x):
    g = check_grad(pf_aug_pow_array, x)
    # y = x^(3x): dy/dx = x^(3x) (3 ln x + 3)
    np.testing.assert_allclose(g, x ** (3 * x) * (3 * np.log(x) + 3), rtol=1e-9)


@given(x=arrays((3,), floats(0.5, 2.0)), y=arrays((3,), floats(0.5, 2.0)))
def test_every_augmented_assignment_in_one_function(x, y):
    check_grad(pf_every_augmented, x, y, wrt=(0, 1))


def pf_augmented_in_loop(x):
    s = 1.0
    for v in x:
        s *= v
        s += v * v
        s **= 0.5
        s /= 2.0
        s -= 0.1
    return s


def test_augmented_assignment_in_loop():
    check_grad(pf_augmented_in_loop, np.array([1.5, 0.8, 2.0]))
    check_against_autograd(pf_augmented_in_loop, np.array([1.5, 0.8, 2.0]))


def pf_augmented_broadcast(x, b):
    y = x * 1.0
    y += b       # b of shape (2,) broadcast into (3, 2)
    y *= b
    y /= b * b + 1.0
    return np.sum(y * y)


def test_augmented_assignment_with_broadcast_operand():
    x = np.array([[0.5, -1.0], [2.0, 0.3], [1.1, -0.4]])
    b = np.array([0.7, -1.3])
    dx, db = check_grad(pf_augmented_broadcast, x, b, wrt=(0, 1))
    # (autograd cannot follow NumPy's in-place updates; the closed form instead)
    y = (x + b) * b / (b * b + 1.0)
    np.testing.assert_allclose(dx, 2 * y * b / (b * b + 1.0), rtol=1e-9)


# --- loops over active values -----------------------------------------------------------------

def pf_for_over_array(x):
    s = 0.0
    for v in x:
        s = s + v * v * v
    return s


def pf_for_over_list(a, b, c):
    s = 0.0
    for v in [a, b, c]:
        s = s * v + np.sin(v)
    return s


def pf_for_over_tuple_of_arrays(a, b):
    s = 0.0
    for v in (a, b * 2.0, a * b):
        s = s + np.sum(v ** 2)
    return s


@given(x=arrays(st.integers(1, 5).map(lambda n: (n,))))
def test_for_over_active_array(x):
    g = check_grad(pf_for_over_array, x)
    np.testing.assert_allclose(g, 3 * x * x, rtol=1e-9, atol=1e-12)


@given(a=floats(-2.0, 2.0), b=floats(-2.0, 2.0), c=floats(-2.0, 2.0))
def test_for_over_list_of_active_values(a, b, c):
    check_grad(pf_for_over_list, a, b, c, wrt=(0, 1, 2))


def test_for_over_list_of_active_values_exact():
    a, b, c = 0.5, -1.0, 2.0
    da, db, dc = srcad.grad(pf_for_over_list, wrt=(0, 1, 2))(a, b, c)
    # s = ((sin a) b + sin b) c + sin c
    assert da == pytest.approx(np.cos(a) * b * c)
    assert db == pytest.approx((np.sin(a) + np.cos(b)) * c)
    assert dc == pytest.approx(np.sin(a) * b + np.sin(b) + np.cos(c))


def test_for_over_tuple_of_active_arrays():
    a = np.array([0.5, -1.0])
    b = np.array([2.0, 0.3])
    da, db = check_grad(pf_for_over_tuple_of_arrays, a, b, wrt=(0, 1))
    np.testing.assert_allclose(da, 2 * a + 2 * a * b * b, rtol=1e-9)
    np.testing.assert_allclose(db, 8 * b + 2 * a * a * b, rtol=1e-9)


def pf_for_over_2d(X, w):
    s = 0.0
    for row in X:
        s = s + np.tanh(np.dot(row, w))
    return s


def test_for_over_rows_of_active_matrix():
    X = np.array([[0.5, -1.0], [2.0, 0.3], [1.1, -0.4]])
    w = np.array([0.7, -1.3])
    check_grad(pf_for_over_2d, X, w, wrt=(0, 1))
    check_against_autograd(pf_for_over_2d, X, w, wrt=(0, 1))


# --- active values passed as keyword arguments -------------------------------------------------

def _pf_helper(x, scale=1.0, offset=0.0):
    return np.sin(x * scale) + offset * offset


def pf_keyword_active(x, s):
    return np.sum(_pf_helper(x, scale=s, offset=x))


def pf_keyword_only_keywords(x, s):
    return np.sum(_pf_helper(offset=s, x=x * s))


@given(x=arrays((3,)), s=signed(0.3, 2.0))
def test_active_values_as_keyword_arguments(x, s):
    dx, ds = check_grad(pf_keyword_active, x, s, wrt=(0, 1))
    np.testing.assert_allclose(dx, np.cos(x * s) * s + 2 * x, rtol=1e-9, atol=1e-12)
    assert ds == pytest.approx(float(np.sum(np.cos(x * s) * x)), abs=1e-12)


def test_all_arguments_as_keywords():
    x = np.array([0.5, -1.0, 2.0])
    dx, ds = check_grad(pf_keyword_only_keywords, x, 0.7, wrt=(0, 1))
    np.testing.assert_allclose(dx, np.cos(x * 0.7) * 0.7, rtol=1e-9)
    assert ds == pytest.approx(float(np.sum(np.cos(x * 0.7) * x) + 2 * 0.7 * 3))


# --- repeated integer-array index ------------------------------------------------------------------

def pf_repeated_index(x):
    return np.sum(x[[0, 0, 1]] * np.array([1.0, 2.0, 3.0]))


def test_repeated_index_scatter_adds():
    x = np.array([0.5, -1.0, 2.0])
    g = check_grad(pf_repeated_index, x)
    np.testing.assert_allclose(g, [3.0, 3.0, 0.0], rtol=1e-12)


def pf_repeated_index_squared(x):
    y = x[np.array([2, 2, 2, 0])]
    return np.sum(y * y)


def test_repeated_index_from_array_scatter_adds():
    x = np.array([0.5, -1.0, 2.0])
    g = check_grad(pf_repeated_index_squared, x)
    np.testing.assert_allclose(g, [2 * 0.5, 0.0, 3 * 2 * 2.0], rtol=1e-12)
    check_against_autograd(pf_repeated_index_squared, x)


def pf_repeated_rows(W, idx):
    return np.sum(np.tanh(W[idx]))


def test_repeated_rows_embedding_lookup():
    W = np.array([[0.5, -1.0], [2.0, 0.3], [1.1, -0.4]])
    idx = np.array([2, 0, 2, 2])
    g = check_grad(pf_repeated_rows, W, idx)
    expected = np.zeros_like(W)
    np.add.at(expected, idx, 1 - np.tanh(W[idx]) ** 2)
    np.testing.assert_allclose(g, expected, rtol=1e-9)


# --- reading .shape, .T, .ndim of an active array --------------------------------------------------

def pf_shape(x):
    n = x.shape[0]
    m = x.shape[-1]
    return np.sum(x) / n * m


def pf_T(x, w):
    return np.sum((x.T @ w) ** 2)


def pf_ndim(x):
    if x.ndim == 2:
        return np.sum(x * x) * x.ndim
    return np.sum(x)


def pf_shape_used_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s + x[i] * x.shape[0]
    return s


def test_reading_shape_of_active_array():
    x = np.array([[0.5, -1.0, 0.2], [2.0, 0.3, 0.7]])
    g = check_grad(pf_shape, x)
    np.testing.assert_allclose(g, np.full_like(x, 3 / 2), rtol=1e-12)


def test_reading_T_of_active_array():
    x = np.array([[0.5, -1.0, 0.2], [2.0, 0.3, 0.7]])
    w = np.array([0.4, -0.6])
    dx, dw = check_grad(pf_T, x, w, wrt=(0, 1))
    check_against_autograd(pf_T, x, w, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2 * np.outer(w, x.T @ w), rtol=1e-9)


def test_reading_ndim_of_active_array():
    x = np.array([[0.5, -1.0], [2.0, 0.3]])
    g = check_grad(pf_ndim, x)
    np.testing.assert_allclose(g, 4 * x, rtol=1e-12)
    g1 = check_grad(pf_ndim, np.array([0.5, 2.0]))
    np.testing.assert_allclose(g1, [1.0, 1.0], rtol=1e-12)


def test_reading_shape_in_loop_bound_and_value():
    x = np.array([0.5, -1.0, 2.0])
    g = check_grad(pf_shape_used_in_loop, x)
    np.testing.assert_allclose(g, [3.0, 3.0, 3.0], rtol=1e-12)
