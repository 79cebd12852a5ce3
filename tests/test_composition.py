"""Transforms of transforms: grad(grad(f)), jvp(grad(f)), hessian, hvp, and
functions that call a gradient srcad made (`@srcad.grad` or `srcad.grad(f)`).

Every second derivative is forward mode over reverse mode (docs/modes.md):
exact, so the oracle is a finite difference of the reverse-mode gradient
(itself checked against finite differences of f by the construct suites).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srcad
from oracle import floats, numerical_grad, numerical_jvp
from test_identity import directional_fd

import test_calls as calls
import test_containers as containers
import test_control_flow as control
import test_subscripts as subscripts

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")


def gradient_fd(f, x, v):
    """Finite difference of srcad's gradient of f along v."""
    return directional_fd(srcad.grad(f), (x,), (0,), (v,))


# --- grad of grad: scalar functions with control flow ---------------------------------

SCALAR = [
    (control.cf_ifexp, (1.5, -0.2, 0.5)),
    (control.cf_nested_ifexp, (2.0, 0.5, -1.0)),
    (control.cf_while_data_dependent, (1.2, 2.5)),
    (control.cf_return_in_branch, (2.0, 0.5, -1.0)),
    (control.cf_return_in_while, (0.8,)),
    (control.cf_while_break_continue, (0.7, 1.3)),
    (control.cf_loop_variable_used_as_value, (1.3,)),
    (calls._fib_like, (0.7,)),
]


@pytest.mark.parametrize("f, points", SCALAR, ids=lambda c: getattr(c, "__name__", ""))
def test_grad_of_grad_matches_finite_differences_of_the_gradient(f, points):
    first = srcad.grad(f)
    second = srcad.grad(first)
    extra = (4,) if f is calls._fib_like else ()
    for x in points:
        expected = directional_fd(lambda x_: first(x_, *extra), (x,), (0,), (1.0,))
        assert second(x, *extra) == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_grad_of_grad_with_a_count_argument():
    first = srcad.grad(control.cf_while_counter)
    for n in (0, 1, 4):
        expected = directional_fd(lambda x_: first(x_, n), (0.7,), (0,), (1.0,))
        assert srcad.grad(first)(0.7, n) == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_grad_of_grad_of_a_polynomial_is_exact():
    def cubic(x):
        return 2 * x ** 3 - 6 * x ** 2 + x + 1

    assert srcad.grad(srcad.grad(cubic))(2.0) == 12 * 2.0 - 12
    assert srcad.grad(srcad.grad(cubic))(-1.5) == pytest.approx(12 * -1.5 - 12, rel=1e-15)


# --- jvp(grad(f)), hessian, hvp: vector functions with every construct -------------------

def loop_branch_while(x):
    h = x * 1.0
    for i in range(x.shape[0]):
        if h[i] > 0:
            h = h * np.cos(h) + x
        else:
            h = np.sin(h) * x
    k = 0
    s = 0.0
    while k < 2:
        s = s + np.sum(h * h) * (k + 1)
        k += 1
    return s


def in_place_writes(x):
    h = np.zeros_like(x)
    for i in range(x.shape[0]):
        h[i] = np.tanh(x[i] * (i + 1.0))
    h[0] += x[-1] * h[1]
    return np.sum(h * x)


def helper_calls(x):
    return calls.calls_module_level(x, np.sin(x)) + calls.calls_helper_with_loop_in_loop(x)


def appends(x):
    return containers.ct_append_in_loop(x, 3)


VECTOR = [
    pytest.param(loop_branch_while, id="loop_branch_while"),
    pytest.param(in_place_writes, id="in_place_writes"),
    pytest.param(subscripts.wr_zeros_like_loop, id="wr_zeros_like_loop"),
    pytest.param(helper_calls, id="helper_calls"),
    pytest.param(appends, id="list_append"),
    pytest.param(control.cf_while_array, id="cf_while_array"),
    pytest.param(control.cf_break_data_dependent_accumulator, id="cf_break"),
    pytest.param(control.cf_nested_while_in_for, id="cf_nested_while_in_for"),
]
X = np.array([0.5, -0.3, 0.2, -0.1])


@pytest.mark.parametrize("f", VECTOR)
@settings(max_examples=5)
@given(v=st.lists(floats(-1.0, 1.0), min_size=4, max_size=4).map(np.array))
def test_jvp_of_grad_and_hvp_match_finite_differences_of_the_gradient(f, v):
    value, hv = srcad.jvp(srcad.grad(f))(X, v)
    np.testing.assert_allclose(value, srcad.grad(f)(X), rtol=1e-12)
    np.testing.assert_allclose(hv, gradient_fd(f, X, v), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(srcad.hvp(f)(X, v), hv, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("f", VECTOR)
def test_hessian_is_symmetric_and_matches_finite_differences(f):
    H = srcad.hessian(f)(X)
    assert H.shape == (4, 4)
    expected = np.array([gradient_fd(f, X, e) for e in np.eye(4)]).T
    np.testing.assert_allclose(H, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(srcad.jacobian(srcad.grad(f))(X), H, rtol=1e-12, atol=1e-14)


def two_arguments(x, y):
    return np.sum(x ** 2 * y) + np.sum(np.sin(x)) * np.sum(y ** 3)


def test_hessian_with_respect_to_two_arguments_gives_every_block():
    x, y = np.array([0.3, -0.7]), np.array([1.1, 0.4])
    (Hxx, Hxy), (Hyx, Hyy) = srcad.hessian(two_arguments, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(Hxx, np.diag(2 * y - np.sin(x) * np.sum(y ** 3)), rtol=1e-12)
    np.testing.assert_allclose(Hyy, np.diag(6 * y * np.sum(np.sin(x))), rtol=1e-12)
    np.testing.assert_allclose(Hxy, np.diag(2 * x) + np.outer(np.cos(x), 3 * y ** 2),
                               rtol=1e-12)
    np.testing.assert_allclose(Hyx, Hxy.T, rtol=1e-12)


# --- functions that call a gradient srcad made ------------------------------------------

def energy(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] * w > 0:
            s = s + np.sin(x[i] * w) * x[i]
        else:
            s = s + x[i] ** 3 * w
    return s


@srcad.grad
def force(x, w):
    return energy(x, w)


def penalty(x, w):
    g = force(x, w)                       # a call to a @srcad.grad-decorated function
    return np.sum(g * g) + np.sum(x ** 2)


energy_gradients = srcad.grad(energy, wrt=(0, 1))


def both_gradients(x, w):
    gx, gw = energy_gradients(x, w)       # a gradient with two wrt arguments
    return np.sum(gx * x) * gw


W = 0.8
XS = np.array([0.5, -0.3, 1.2])


def test_grad_of_a_function_calling_a_decorated_gradient():
    gx, gw = srcad.grad(penalty, wrt=(0, 1))(XS, W)
    expected_x = np.array([directional_fd(lambda x_: penalty(x_, W), (XS,), (0,), (e,))
                           for e in np.eye(3)])
    np.testing.assert_allclose(gx, expected_x, rtol=1e-6, atol=1e-8)
    assert gw == pytest.approx(directional_fd(lambda w_: penalty(XS, w_), (W,), (0,), (1.0,)),
                               rel=1e-6)


def test_grad_of_a_function_calling_a_gradient_with_two_wrt_arguments():
    gx, gw = srcad.grad(both_gradients, wrt=(0, 1))(XS, W)
    expected_x = np.array([directional_fd(lambda x_: both_gradients(x_, W), (XS,), (0,), (e,))
                           for e in np.eye(3)])
    np.testing.assert_allclose(gx, expected_x, rtol=1e-6, atol=1e-8)
    assert gw == pytest.approx(
        directional_fd(lambda w_: both_gradients(XS, w_), (W,), (0,), (1.0,)), rel=1e-6)


def _cubic(a, b):
    return np.sum(np.sin(a) * b) + np.sum(a ** 2) * b * b


gradient_tuple = srcad.grad(_cubic, wrt=("a",))      # a 1-tuple: (d/da,)
gradient_pair = srcad.grad(_cubic, wrt=("a", "b"))


def _tuple_times_array(x):
    return np.sum(gradient_tuple(x[:2], x[2]) * x[:2])    # NumPy makes the tuple an array


def _sum_of_a_tuple(x):
    return np.sum(gradient_tuple(x[:2], x[2]))


def _pair_parts(x):
    ga, gb = gradient_pair(x[:2], x[2])
    return np.sum(ga * x[:2]) * gb


gradient_b = srcad.grad(_cubic, wrt=("b",))


def _integer_scalar_argument(x, s):
    # the integer array carries s's derivative into the gradient with respect to b
    return gradient_b(np.array([s, s, s]), s / 3)[0] * x[0]


@pytest.mark.parametrize("f", [_tuple_times_array, _sum_of_a_tuple, _pair_parts])
def test_a_gradient_returning_a_tuple_is_differentiated_through_its_uses(f):
    x = np.array([0.7, -0.4, 1.3])
    np.testing.assert_allclose(srcad.grad(f)(x), numerical_grad(f, (x,)), rtol=1e-6,
                               atol=1e-8)
    v = np.array([0.3, -0.7, 0.5])
    _, jv = srcad.jvp(f)(x, v)
    assert jv == pytest.approx(directional_fd(f, (x,), (0,), (v,)), rel=1e-6, abs=1e-8)


def test_a_gradient_called_with_an_integer_the_caller_differentiates():
    x = np.array([0.7, -0.4])
    gx, gs = srcad.grad(_integer_scalar_argument, wrt=(0, 1))(x, 2)
    assert gs == pytest.approx(
        directional_fd(lambda s_: _integer_scalar_argument(x, s_), (2.0,), (0,), (1.0,)),
        rel=1e-6)
    np.testing.assert_allclose(gx, numerical_grad(lambda x_: _integer_scalar_argument(x_, 2),
                                                  (x,)), rtol=1e-6, atol=1e-8)


@given(v=st.lists(floats(-1.0, 1.0), min_size=3, max_size=3).map(np.array))
@settings(max_examples=5)
def test_jvp_and_vjp_of_a_function_calling_a_gradient_agree(v):
    value, jv = srcad.jvp(penalty)(XS, W, v)
    assert value == pytest.approx(penalty(XS, W), rel=1e-12)
    assert jv == pytest.approx(directional_fd(lambda x_: penalty(x_, W), (XS,), (0,), (v,)),
                               rel=1e-6, abs=1e-8)
    assert jv == pytest.approx(np.dot(srcad.grad(penalty)(XS, W), v), rel=1e-10, abs=1e-12)


def test_the_gradient_called_inside_is_the_plain_gradient_outside():
    np.testing.assert_allclose(force(XS, W), srcad.grad(energy)(XS, W), rtol=0, atol=0)


def test_third_derivatives_are_refused_with_a_clear_error():
    def cubic(x):
        return x ** 3

    with pytest.raises(srcad.SrcadError):
        srcad.grad(srcad.grad(srcad.grad(cubic)))(1.0)


# --- jacobian: shapes and modes ------------------------------------------------------------

def matrix_function(A, b):
    out = np.zeros((3, 2))
    for i in range(3):
        out[i] = np.tanh(A[i % 2] * b[i])
    return out.T


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_jacobian_of_matrix_to_matrix_has_shape_out_plus_in(mode):
    A = np.array([[0.3, -0.4], [0.8, 1.2]])
    b = np.array([0.5, -1.0, 2.0])
    JA, Jb = srcad.jacobian(matrix_function, wrt=(0, 1), mode=mode)(A, b)
    assert JA.shape == (2, 3, 2, 2) and Jb.shape == (2, 3, 3)
    for J, k, x in ((JA, 0, A), (Jb, 1, b)):
        for index in np.ndindex(x.shape):
            e = np.zeros(x.shape)
            e[index] = 1.0
            args = [A, b]
            column = directional_fd(matrix_function, args, (k,), (e,))
            np.testing.assert_allclose(J[(Ellipsis,) + index], column, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_jacobian_of_a_scalar_function_and_of_a_scalar_input(mode):
    x = np.array([0.3, -0.4, 0.8])
    J = srcad.jacobian(lambda_free_sum, mode=mode)(x)
    assert J.shape == (3,)
    np.testing.assert_allclose(J, 3 * x ** 2, rtol=1e-12)
    j = srcad.jacobian(control.cf_while_data_dependent, mode=mode)(1.2)
    assert np.shape(j) == ()
    assert j == pytest.approx(srcad.grad(control.cf_while_data_dependent)(1.2), rel=1e-12)


def lambda_free_sum(x):
    return np.sum(x ** 3)


def test_jacobian_modes_agree_on_a_function_with_in_place_writes():
    x = np.array([0.5, 1.5, -2.0])
    reverse = srcad.jacobian(subscripts.wr_zeros_like_loop_vector)(x)
    forward = srcad.jacobian(subscripts.wr_zeros_like_loop_vector, mode="forward")(x)
    np.testing.assert_allclose(reverse, forward, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(x, [0.5, 1.5, -2.0])


# --- helpers whose adjoints read no tangent of what they pop ----------------------------------

def _squares_of_leaky(x):
    return np.sum(np.where(x > 0, x, 0.1 * x) ** 2)


def _largest(x):
    return np.max(x) + np.sum(np.where(x > 0, x, 0.0))


def _tanh_energy(x):
    return np.sum(np.tanh(x) * x)


def _product_of_helpers(x):
    return _squares_of_leaky(x) * _largest(x)


def _three_helpers(x):
    return (_tanh_energy(x) + _squares_of_leaky(x)) * _largest(x)


@pytest.mark.parametrize("f", [_product_of_helpers, _three_helpers], ids=lambda f: f.__name__)
def test_hessian_through_helpers_keeps_the_tangent_stack_in_step(f):
    """A helper's adjoint that pops values whose tangents it never reads (np.max's rule
    reads none) still pops their tangents, so the next helper gets its own."""
    x = np.array([1.5, -2.0, 0.7])
    gradient = srcad.grad(f)
    step = 1e-5
    expected = np.array([(gradient(x + step * e) - gradient(x - step * e)) / (2 * step)
                         for e in np.eye(3)])
    np.testing.assert_allclose(srcad.hessian(f)(x), expected, rtol=1e-6, atol=1e-6)


def _abs_of_complex(x):
    z = x + 1j * x ** 2
    return np.sum(np.abs(z) ** 2) + np.sum(np.abs(x) * x)


def test_hvp_through_abs_of_a_complex_value():
    """|z| of a complex z has a derivative whose own derivative is not zero (unlike sign(x)
    for real x): the Hessian-vector product must see it."""
    x, v = np.array([0.3, -0.5, 0.8, -1.1]), np.array([1.0, 0.5, -0.3, 0.2])
    gradient = srcad.grad(_abs_of_complex)
    step = 1e-5
    expected = (gradient(x + step * v) - gradient(x - step * v)) / (2 * step)
    np.testing.assert_allclose(srcad.hvp(_abs_of_complex)(x, v), expected, rtol=1e-6, atol=1e-6)


def _writes_into_its_argument(W, d):
    v = np.dot(np.tanh(W), d)
    W[:, -1] = W[:, 0] ** 2
    return np.sum(v * v) + np.sum(W ** 3)


def test_hvp_leaves_the_direction_and_the_arguments_unchanged():
    """The gradient writes into W and restores it; forward mode over it must not leave
    that write in the caller's direction array."""
    rng = np.random.default_rng(1)
    W, d, V = rng.normal(size=(2, 3)), rng.normal(size=3), rng.normal(size=(2, 3))
    W0, V0 = W.copy(), V.copy()
    gradient = srcad.grad(_writes_into_its_argument)
    step = 1e-5
    expected = (gradient(W + step * V, d) - gradient(W - step * V, d)) / (2 * step)
    np.testing.assert_allclose(srcad.hvp(_writes_into_its_argument)(W, d, V), expected,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(V, V0)
    np.testing.assert_array_equal(W, W0)


def _row_scaled_in_place(x, W):
    B = W * 1.0
    B[-1] = B[-1] * np.tanh(x)
    return np.sum(B * B)


def _argument_row_scaled_in_place(x, W):
    v = W @ x
    W[-1] *= np.tanh(x)
    return np.sum(W) + np.mean(v * v) + np.sum(x ** 2)


@pytest.mark.parametrize("f", [_row_scaled_in_place, _argument_row_scaled_in_place],
                         ids=lambda f: f.__name__)
def test_hessian_of_a_row_read_then_overwritten(f):
    """The adjoint reads B[-1] as it was before `B[-1] = ...` wrote over it; forward mode
    over the adjoint must see the tangent it had then too."""
    rng = np.random.default_rng(2)
    x, W = rng.normal(size=3), rng.normal(size=(2, 3))
    vx, vW = rng.normal(size=3), rng.normal(size=(2, 3))
    gradient = srcad.grad(f, wrt=(0, 1))
    step = 1e-5
    plus, minus = gradient(x + step * vx, W + step * vW), gradient(x - step * vx, W - step * vW)
    got = srcad.hvp(f, wrt=(0, 1))(x, W, vx, vW)
    for g, p, m in zip(got, plus, minus):
        np.testing.assert_allclose(g, (p - m) / (2 * step), rtol=1e-6, atol=1e-6)


def _squares(a):
    return np.sum(a * a)


def _entry_set_from_a_call(y, s):
    y = y * s
    y[2] = _squares(y)      # the call's record holds y, which the write then changes
    return np.sum(y ** 2)


def test_hvp_through_a_call_whose_argument_is_then_written():
    # the adjoint restores y[2] in place before the call's adjoint reads y from its own
    # record: the tangent of y must be restored in the same array, not in a copy
    y, s = np.array([0.3, -1.2, 0.8, 0.5]), 0.4
    gradient = srcad.grad(_entry_set_from_a_call, wrt=1)
    step = 1e-5
    expected = (gradient(y.copy(), s + step) - gradient(y.copy(), s - step)) / (2 * step)
    assert srcad.hvp(_entry_set_from_a_call, wrt=1)(y.copy(), s, 1.0) == \
        pytest.approx(expected, rel=1e-6)
    assert srcad.grad(_entry_set_from_a_call, wrt=1)(y.copy(), s) == \
        pytest.approx(numerical_grad(_entry_set_from_a_call, (y.copy(), s), wrt=1))


def _shifted_then_rows_scaled(W, s, c):
    shifted = W + c     # new memory, whose tangent is dW itself (or fit(dW, shifted))
    W[1:] *= s
    return np.sum(W[:, 0] ** 3) + np.sum(shifted ** 2)


def _scale_rows(A, s):
    A[1:] *= s


def _shifted_then_rows_scaled_by_a_call(W, s, c):
    shifted = W + c
    _scale_rows(W, 0.5)
    return np.sum(W ** 3) * s + np.sum(shifted ** 2)


_SHIFTS = pytest.mark.parametrize("c", [1.0, np.array([0.3, -0.2, 0.1])], ids=["number", "row"])


def _matrix_and_directions():
    rng = np.random.default_rng(5)
    return rng.normal(size=(3, 3)), 0.7, rng.normal(size=(3, 3)), -0.4


@_SHIFTS
def test_hvp_of_a_sum_whose_operand_is_then_written(c):
    """`W + c` is new memory, but its tangent may be dW itself: the write into W, and
    into dW, must leave the sum's tangent as it leaves the sum."""
    W, s, vW, vs = _matrix_and_directions()
    gradient = srcad.grad(_shifted_then_rows_scaled, wrt=(0, 1))
    step = 1e-5
    plus = gradient(W + step * vW, s + step * vs, c)
    minus = gradient(W - step * vW, s - step * vs, c)
    got = srcad.hvp(_shifted_then_rows_scaled, wrt=(0, 1))(W.copy(), s, c, vW, vs)
    for g, p, m in zip(got, plus, minus):
        np.testing.assert_allclose(g, (p - m) / (2 * step), rtol=1e-6, atol=1e-6)


@_SHIFTS
@pytest.mark.parametrize("f", [_shifted_then_rows_scaled, _shifted_then_rows_scaled_by_a_call],
                         ids=lambda f: f.__name__)
def test_jvp_of_a_sum_whose_operand_is_then_written(f, c):
    W, s, vW, vs = _matrix_and_directions()
    _, got = srcad.jvp(f, wrt=(0, 1))(W.copy(), s, c, vW, vs)
    assert got == pytest.approx(numerical_jvp(f, (W, s, c), (0, 1), (vW, vs)), rel=1e-6)


def overwritten_then_scaled(x, y, s):
    x[[0, 1]] = s * 0.5
    s *= np.tanh(np.sum(x * y))
    return s * 2.0


def test_hvp_zeroes_the_tangent_of_overwritten_entries():
    # the adjoint's take_at zeroes dx[[0, 1]] in place; where the value it returns was
    # not needed, its tangent's update was dropped and those entries kept a tangent
    x, y, v = np.array([0.3, -0.2, 0.5]), np.array([0.2, 0.1, -0.3]), np.array([1.0, 0.5, -0.3])
    got = srcad.hvp(overwritten_then_scaled)(x.copy(), y, 0.7, v)
    expected = directional_fd(srcad.grad(overwritten_then_scaled), (x, y, 0.7), (0,), (v,))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    assert got[0] == 0.0 and got[1] == 0.0


def _sin_times(b):
    return np.sin(b) * b


_dsin_times = srcad.grad(_sin_times)


def sums_a_gradient_of_a_number(x, s):
    return np.sum(_dsin_times(s)) * np.sum(x)


def test_a_gradient_with_respect_to_a_number_is_a_number_to_kind_inference():
    # the call's result was taken for an array: np.full(v.shape, ...) of a float
    s, x = 0.7, np.array([0.3, -0.4])
    got = srcad.grad(sums_a_gradient_of_a_number, wrt=(0, 1))(x, s)
    dg = np.sin(s) + s * np.cos(s)
    assert got[1] == pytest.approx((2 * np.cos(s) - s * np.sin(s)) * np.sum(x), rel=1e-10)
    np.testing.assert_allclose(got[0], dg * np.ones(2), rtol=1e-12)


def _outer_of_a_reassigned_name(x, y, W, k, flag):
    buf = np.zeros(x.shape)
    a = W
    for i in range(1):
        masked = (a / 2.0) * ((a * y[-1:]) > 0.5)
        a = (W[:, 1] * ((W[:, (i + 1) % 4] > 0.0) | (W[:, (i + 1) % 4] < 0.2)))[:, None] * y
    a = np.outer(W[:, k % 4] * (W[:, -1] < -0.3)
                 + W[:, k % 4] * ((W[:, 2] < 0.5) | (W[:, -1] < 0.2)), np.tanh(x))
    if not flag:
        row = a[k % 3]
    return np.sum(masked ** 2) + np.sum(buf ** 2) + np.sum(a)


def test_hvp_where_a_gradient_total_starts_as_a_number():
    # a's gradient starts 0.0 and is accumulated an array of ones; its tangent was
    # 0.0 + 0.0, a number, and the tangent of the outer product's gradient
    # `np.ravel(t) @ da` a matmul of a number (seed 21004629)
    from fuzz_programs import check_program

    rng = np.random.default_rng(0)
    x, y, W = rng.normal(size=3), rng.normal(size=3), rng.normal(size=(3, 4))
    v = rng.normal(size=3)
    gradient = srcad.grad(_outer_of_a_reassigned_name)
    step = 1e-6
    expected = (gradient(x + step * v, y, W, 2, True)
                - gradient(x - step * v, y, W, 2, True)) / (2 * step)
    got = srcad.hvp(_outer_of_a_reassigned_name)(x, y, W, 2, True, v)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
    assert check_program(21004629).status == "ok"


def log_norm_times(a, b):
    return np.log(1.0 + np.sum(a ** 2)) * b


log_norm_gradients = srcad.grad(log_norm_times, wrt=(0, 1))


def squared_gradient_of_a_count(x, s):
    return log_norm_gradients(x, s)[1] ** 2


def test_the_tangent_of_a_numpy_integer_parameter_is_not_truncated():
    # grad(f, wrt=(a, b)) called with b a NumPy integer: the derivative of its result
    # took the cotangent of b as b's tangent through as_gradient, which made it b's
    # dtype, np.int64(1.009) -> 1: the gradient came out 0.9913 of the right one, with
    # no error (fuzz seed 34006749)
    x = np.array([-0.35, 0.71, -0.16])
    for s in (np.int64(3), np.int32(3), np.bool_(True), 3):
        np.testing.assert_allclose(srcad.grad(squared_gradient_of_a_count)(x, s),
                                   numerical_grad(squared_gradient_of_a_count, (x, s), 0),
                                   rtol=1e-7)
    assert type(srcad.runtime.as_gradient(1.7, np.int64(2))) is np.float64
    assert srcad.runtime.as_gradient(1.7, np.int64(2)) == 1.7
