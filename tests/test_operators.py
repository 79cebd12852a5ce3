"""Python operators and assignment forms.

Covers: assignment, overwriting, tuple unpacking, every augmented
assignment, + - * / ** @, unary minus, Python int/float constants mixed with
arrays, // and comparisons (zero derivative), % (derivative 1 in x).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle import arrays, broadcast_pairs, check_against_autograd, check_grad, floats, signed

import srcad


# --- binary arithmetic, arrays of broadcast-compatible shapes ---------------

def op_add(x, y):
    return np.sum((x + y) ** 2)


def op_sub(x, y):
    return np.sum((x - y) ** 2)


def op_mul(x, y):
    return np.sum(np.sin(x * y))


def op_div(x, y):
    return np.sum(np.sin(x / y))


def op_pow(x, y):
    return np.sum(x ** y)


BINARY = [op_add, op_sub, op_mul, op_div, op_pow]


@pytest.mark.parametrize("f", BINARY, ids=lambda f: f.__name__)
@given(data=st.data())
def test_binary_operator_broadcasting(f, data):
    sx, sy = data.draw(broadcast_pairs())
    x = data.draw(arrays(sx, floats(0.5, 2.0)))
    y = data.draw(arrays(sy, signed(0.5, 2.0)))
    check_grad(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f", BINARY, ids=lambda f: f.__name__)
def test_binary_operator_matches_autograd(f):
    x = np.array([[0.7, 1.3, 1.9], [0.6, 1.1, 1.4]])
    y = np.array([1.5, -0.8, 0.9])
    check_against_autograd(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f", BINARY, ids=lambda f: f.__name__)
@given(x=floats(0.5, 2.0), y=signed(0.5, 2.0))
def test_binary_operator_python_floats(f, x, y):
    g = check_grad(f, x, y, wrt=(0, 1))
    assert all(isinstance(v, float) for v in g)


def op_mul_exact(x, y):
    return x * y


def test_mul_exact_values():
    dx, dy = srcad.grad(op_mul_exact, wrt=(0, 1))(3.0, -4.0)
    assert dx == pytest.approx(-4.0)
    assert dy == pytest.approx(3.0)


def op_div_exact(x, y):
    return x / y


def test_div_exact_values():
    dx, dy = srcad.grad(op_div_exact, wrt=(0, 1))(3.0, 2.0)
    assert dx == pytest.approx(0.5)
    assert dy == pytest.approx(-0.75)


def op_pow_both_active(x, y):
    return x ** y


def test_pow_exact_values():
    dx, dy = srcad.grad(op_pow_both_active, wrt=(0, 1))(2.0, 3.0)
    assert dx == pytest.approx(12.0)
    assert dy == pytest.approx(8.0 * np.log(2.0))


def op_pow_int_exponent_negative_base(x):
    return np.sum(x ** 3 + x ** 2)


def test_pow_integer_exponent_negative_base():
    x = np.array([-1.5, -0.5, 2.0])
    g = check_grad(op_pow_int_exponent_negative_base, x)
    np.testing.assert_allclose(g, 3 * x ** 2 + 2 * x, rtol=1e-9, atol=1e-12)


def op_pow_fractional(x):
    return np.sum(x ** 0.5 + x ** -1.5)


def test_pow_fractional_exponent():
    x = np.array([0.5, 1.0, 2.5])
    g = check_grad(op_pow_fractional, x)
    np.testing.assert_allclose(g, 0.5 * x ** -0.5 - 1.5 * x ** -2.5, rtol=1e-9, atol=1e-12)


def op_constant_base_pow(x):
    return np.sum(2.0 ** x)


def test_constant_base_pow():
    x = np.array([0.5, -1.0, 1.5])
    g = check_grad(op_constant_base_pow, x)
    np.testing.assert_allclose(g, np.log(2.0) * 2.0 ** x, rtol=1e-9, atol=1e-12)


# --- matmul -----------------------------------------------------------------

def op_matmul(a, b):
    return np.sum(np.tanh(a @ b))


@pytest.mark.parametrize("sa, sb", [((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 2)), ((4,), (4,))],
                         ids=["2d@2d", "2d@1d", "1d@2d", "1d@1d"])
@given(data=st.data())
def test_matmul(sa, sb, data):
    a = data.draw(arrays(sa))
    b = data.draw(arrays(sb))
    check_grad(op_matmul, a, b, wrt=(0, 1))


def test_matmul_matches_autograd():
    rng = np.random.default_rng(1)
    check_against_autograd(op_matmul, rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), wrt=(0, 1))


def op_quadratic_form(x, A):
    return x @ A @ x


def test_quadratic_form_exact():
    A = np.array([[2.0, 1.0], [0.5, 3.0]])
    x = np.array([1.0, -2.0])
    g = check_grad(op_quadratic_form, x, A)
    np.testing.assert_allclose(g, (A + A.T) @ x, rtol=1e-9, atol=1e-12)


# --- unary ------------------------------------------------------------------

def op_neg(x):
    return np.sum(-x * np.exp(-x))


def test_unary_minus_array():
    x = np.array([0.3, -1.2, 2.0])
    g = check_grad(op_neg, x)
    np.testing.assert_allclose(g, (x - 1) * np.exp(-x), rtol=1e-9, atol=1e-12)


def op_neg_scalar(x):
    y = -x
    return -(y * y * y)


def test_unary_minus_float():
    g = check_grad(op_neg_scalar, 1.5)
    assert g == pytest.approx(3 * 1.5 ** 2)


def op_unary_plus(x):
    return np.sum(+x * 3.0)


def test_unary_plus():
    g = check_grad(op_unary_plus, np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [3.0, 3.0])


# --- constants mixed with arrays --------------------------------------------

def op_constants(x):
    y = 2 * x + 1
    z = 3.5 - y / 4 + x * 0.5
    w = 1 / (z * z + 1.0)
    return np.sum(w * 10 - 7)


@given(x=arrays((3,), floats(-2.0, 2.0)))
def test_python_constants_mixed_with_arrays(x):
    check_grad(op_constants, x)


def test_python_constants_mixed_with_arrays_matches_autograd():
    check_against_autograd(op_constants, np.array([0.1, -0.4, 1.3]))


def op_int_constant_only(x):
    return 3 * x * x - 2 * x + 7


def test_int_constants_with_float_argument():
    g = check_grad(op_int_constant_only, 2.0)
    assert g == pytest.approx(10.0)


def test_int_argument_gives_float_gradient():
    g = srcad.grad(op_int_constant_only)(2)
    assert isinstance(g, float)
    assert g == pytest.approx(10.0)


# --- assignment forms ------------------------------------------------------

def op_overwrite(x):
    y = x * 2.0
    y = y * y
    y = np.sin(y) + y
    return np.sum(y)


def test_overwriting_a_variable():
    x = np.array([0.3, -0.6])
    g = check_grad(op_overwrite, x)
    np.testing.assert_allclose(g, (np.cos(4 * x ** 2) + 1) * 8 * x, rtol=1e-9, atol=1e-12)


def op_overwrite_argument(x):
    x = x * x
    x = x + 1.0
    return np.sum(x * x)


def test_overwriting_an_argument():
    x = np.array([0.5, -1.5])
    g = check_grad(op_overwrite_argument, x)
    np.testing.assert_allclose(g, 2 * (x ** 2 + 1) * 2 * x, rtol=1e-9, atol=1e-12)


def op_reuse_after_overwrite(x):
    a = x * 3.0
    b = a * x
    a = b + a
    return np.sum(a * b)


def test_value_read_before_overwrite():
    check_grad(op_reuse_after_overwrite, np.array([0.4, -1.1, 0.9]))


def op_tuple_unpack(x):
    a, b = x * 2.0, x * x
    c, d = b, a
    return np.sum(c * d + a)


def test_tuple_unpacking():
    x = np.array([0.5, -2.0])
    g = check_grad(op_tuple_unpack, x)
    np.testing.assert_allclose(g, 6 * x ** 2 + 2, rtol=1e-9, atol=1e-12)


def op_swap(x, y):
    x, y = y, x * 2.0
    return np.sum(x * x * y)


def test_tuple_swap():
    x = np.array([1.0, 2.0])
    y = np.array([-0.5, 3.0])
    dx, dy = check_grad(op_swap, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2 * y ** 2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dy, 4 * x * y, rtol=1e-9, atol=1e-12)


def op_nested_unpack(x):
    (a, b), c = (x, x * 2.0), x * 3.0
    return np.sum(a * b * c)


def test_nested_tuple_unpacking():
    x = np.array([0.5, -1.0])
    g = check_grad(op_nested_unpack, x)
    np.testing.assert_allclose(g, 18 * x ** 2, rtol=1e-9, atol=1e-12)


def op_chained_assignment(x):
    a = b = x * 2.0
    return np.sum(a * b)


def test_chained_assignment():
    x = np.array([0.5, -1.0])
    g = check_grad(op_chained_assignment, x)
    np.testing.assert_allclose(g, 8 * x, rtol=1e-9, atol=1e-12)


# --- augmented assignment ----------------------------------------------------

def aug_add(x, y):
    z = x * 1.0
    z += y
    z += 2.0
    return np.sum(z * z)


def aug_sub(x, y):
    z = x * 1.0
    z -= y
    z -= 0.5
    return np.sum(z * z)


def aug_mul(x, y):
    z = x * 1.0
    z *= y
    z *= 3.0
    return np.sum(z * z)


def aug_div(x, y):
    z = x * 1.0
    z /= y
    z /= 2.0
    return np.sum(z * z)


def aug_pow(x, y):
    z = x * 1.0
    z **= y
    z **= 2
    return np.sum(z)


AUGMENTED = [aug_add, aug_sub, aug_mul, aug_div, aug_pow]


@pytest.mark.parametrize("f", AUGMENTED, ids=lambda f: f.__name__)
@given(x=arrays((3,), floats(0.5, 2.0)), y=arrays((3,), floats(0.5, 2.0)))
def test_augmented_assignment_arrays(f, x, y):
    check_grad(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f", AUGMENTED, ids=lambda f: f.__name__)
@given(x=floats(0.5, 2.0), y=floats(0.5, 2.0))
def test_augmented_assignment_floats(f, x, y):
    check_grad(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f", AUGMENTED, ids=lambda f: f.__name__)
def test_augmented_assignment_matches_autograd(f):
    # Python floats: autograd cannot follow NumPy's in-place ndarray update
    check_against_autograd(f, 1.3, 0.7, wrt=(0, 1))


def aug_self_reference(x):
    z = x + 0.0
    z *= z
    z += z
    return np.sum(z)


def test_augmented_assignment_with_itself():
    x = np.array([0.5, -2.0])
    g = check_grad(aug_self_reference, x)
    np.testing.assert_allclose(g, 4 * x, rtol=1e-9, atol=1e-12)


def aug_accumulate_float(a, b):
    s = 0.0
    s += a * b
    s -= b
    s *= a
    s /= b
    s **= 2
    return s


def test_augmented_assignment_chain_exact():
    a, b = 1.5, 0.5
    da, db = check_grad(aug_accumulate_float, a, b, wrt=(0, 1))
    # s = ((a b - b) a / b)^2 = (a^2 - a)^2
    assert da == pytest.approx(2 * (a * a - a) * (2 * a - 1))
    assert db == pytest.approx(0.0, abs=1e-9)


# --- non-differentiable operators -----------------------------------------

def op_floordiv(x, c):
    return np.sum((x // c) * x + x)


def test_floordiv_has_zero_derivative():
    x = np.array([0.3, 1.7, -2.2, 4.6])
    dx, dc = check_grad(op_floordiv, x, 1.0, wrt=(0, 1))
    np.testing.assert_allclose(dx, x // 1.0 + 1.0, rtol=1e-9, atol=1e-9)
    assert dc == pytest.approx(0.0, abs=1e-9)


def op_comparisons(x):
    return np.sum((x > 0.5) * x * x + (x <= 0.5) * x + (x == 0.0) * 3.0 + (x != 1.0))


def test_comparisons_have_zero_derivative():
    x = np.array([-1.2, 0.2, 0.9, 1.6])
    g = check_grad(op_comparisons, x)
    np.testing.assert_allclose(g, np.where(x > 0.5, 2 * x, 1.0), rtol=1e-9, atol=1e-9)


def op_mod(x, c):
    return np.sum(np.sin(x % c) + x % 1.5)


def test_mod_derivative_in_x_is_one():
    x = np.array([0.3, 2.7, -1.1, 5.2])
    c = 2.0
    dx, dc = check_grad(op_mod, x, c, wrt=(0, 1))
    np.testing.assert_allclose(dx, np.cos(x % c) + 1.0, rtol=1e-9, atol=1e-12)
    # x % c == x - c * floor(x / c)
    assert dc == pytest.approx(float(np.sum(np.cos(x % c) * -np.floor(x / c))))


def op_mod_float(x):
    return (x % 2.0) * x


def test_mod_on_python_floats():
    g = check_grad(op_mod_float, 7.5)
    # (x - 6) * x near 7.5 -> 2x - 6
    assert g == pytest.approx(9.0)


# --- a negative base to a differentiated exponent: a complex power ----------

NEGATIVE = -1.1


def negative_base_power(s):
    return np.real(NEGATIVE ** s) + np.imag(pow(NEGATIVE, 2.0 * s))


def complex_base_power(s):
    return np.real(np.sum(np.array([-2.0 + 1.0j, 0.5 - 0.3j]) ** s))


@pytest.mark.parametrize("f", [negative_base_power, complex_base_power])
def test_power_of_a_negative_or_complex_base_in_its_exponent(f):
    # Python's (-1.1) ** 0.3 is complex: its derivative in the exponent takes the
    # complex logarithm of the base (it was taken as 0)
    check_grad(f, 0.3)
    expected = (f(0.3 + 1e-6) - f(0.3 - 1e-6)) / 2e-6
    assert srcad.jvp(f)(0.3, 1.0)[1] == pytest.approx(expected, rel=1e-6)
    second = (srcad.grad(f)(0.3 + 1e-5) - srcad.grad(f)(0.3 - 1e-5)) / 2e-5
    assert srcad.hessian(f)(0.3) == pytest.approx(second, rel=1e-5)
