"""Array subscripts: reads and in-place writes.

Covers reads with ints, negative ints, slices (with steps and negative
bounds), multi-axis indices, Ellipsis and np.newaxis, integer-array (fancy)
indices including repeated indices (the gradient scatter-adds), boolean
masks; writes x[i] = v, x[i] += v (and the other augmented forms), x[a:b] = v,
x[mask] = v, x[[i, j]] = v into buffers made with np.zeros, np.zeros_like,
np.empty, np.ones and into a parameter array (the caller's argument must be
unchanged afterwards: check_grad asserts that).
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import srcad
from oracle import arrays, check_against_autograd, check_grad, check_vjp, floats


# --- reads ---------------------------------------------------------------------------

def sub_int(x):
    return x[0] * x[2] + np.sin(x[1])


def sub_negative_int(x):
    return x[-1] * x[-2] * x[0]


def sub_slice(x):
    return np.sum(x[1:4] * x[:3]) + np.sum(x[::2] ** 2)


def sub_negative_slice(x):
    return np.sum(x[-3:] * x[::-1][:3]) + np.sum(x[-4:-1:2])


def sub_multi_axis(A):
    return A[0, 1] * A[-1, -1] + np.sum(A[1, :] * A[:, 0]) + np.sum(A[1:, ::2] ** 2)


def sub_row_then_element(A):
    row = A[1]
    return row[0] * row[2] + np.sum(A[0][1:] ** 3)


def sub_ellipsis_newaxis(A):
    col = A[..., 0]
    outer = A[:, np.newaxis, 1] * A[np.newaxis, :, 2]
    return np.sum(col ** 2) + np.sum(outer) + np.sum(A[None])


READS_1D = [sub_int, sub_negative_int, sub_slice, sub_negative_slice]
READS_2D = [sub_multi_axis, sub_row_then_element, sub_ellipsis_newaxis]


@pytest.mark.parametrize("f", READS_1D, ids=lambda f: f.__name__)
@given(x=arrays((5,)))
def test_reads_1d(f, x):
    check_grad(f, x)


@pytest.mark.parametrize("f", READS_2D, ids=lambda f: f.__name__)
@given(A=arrays((3, 3)))
def test_reads_2d(f, A):
    check_grad(f, A)


@pytest.mark.parametrize("f", READS_1D + READS_2D, ids=lambda f: f.__name__)
def test_reads_match_autograd(f):
    x = np.array([0.3, -1.2, 0.8, 1.7, -0.4]) if f in READS_1D else \
        np.array([[0.3, -1.2, 0.8], [1.7, -0.4, 0.9], [0.1, 0.5, -1.5]])
    check_against_autograd(f, x)


def sub_tail(x):
    return np.sum(x[2:] * np.array([1.0, 10.0])) + np.sum(x[-1:] * 100.0)


def test_slice_with_start_only_exact():
    # x[2:] has the same length as x[:2] here: a mix-up gives a wrong number, not an error
    x = np.array([0.5, -1.0, 2.0, 1.5])
    g = check_grad(sub_tail, x)
    np.testing.assert_allclose(g, [0.0, 0.0, 1.0, 110.0], rtol=1e-12)


def test_int_read_exact():
    x = np.array([1.0, 2.0, 3.0])
    g = check_grad(sub_int, x)
    np.testing.assert_allclose(g, [3.0, np.cos(2.0), 1.0], rtol=1e-12)


def sub_index_from_argument(x, i, j):
    return x[i] * x[j] + np.sum(x[i:j])


@given(x=arrays((5,)), i=st.integers(0, 4), j=st.integers(0, 4))
def test_indices_from_arguments(x, i, j):
    check_grad(sub_index_from_argument, x, i, j)


def sub_index_3d(T):
    return np.sum(T[1, :, ::-1] * T[0]) + T[-1, 0, 1] + np.sum(T[:, 1, :] ** 2)


def test_3d_multi_axis():
    T = np.arange(24, dtype=float).reshape(2, 3, 4) * 0.1 - 1.0
    check_grad(sub_index_3d, T)
    check_against_autograd(sub_index_3d, T)


# --- fancy indices ------------------------------------------------------------------------

def sub_fancy(x):
    return np.sum(x[[2, 0]] * np.array([1.0, 3.0]))


def sub_fancy_repeated(x):
    return np.sum(x[[0, 0, 1]] ** 2)


def sub_fancy_repeated_array_index(x, idx):
    return np.sum(np.sin(x[idx]))


def sub_fancy_2d(A):
    rows = np.array([0, 2, 0])
    cols = np.array([1, 1, 1])
    return np.sum(A[rows, cols] * np.array([1.0, 2.0, 3.0])) + np.sum(A[[1, 1]] ** 2)


def test_fancy_index():
    x = np.array([0.5, -1.0, 2.0])
    g = check_grad(sub_fancy, x)
    np.testing.assert_allclose(g, [3.0, 0.0, 1.0])


def test_fancy_index_repeated_scatter_adds():
    x = np.array([0.5, -1.0, 2.0])
    g = check_grad(sub_fancy_repeated, x)
    # x0 appears twice: 2 * (2 x0), x1 once
    np.testing.assert_allclose(g, [4 * 0.5, 2 * -1.0, 0.0], rtol=1e-12)
    check_against_autograd(sub_fancy_repeated, x)


@given(x=arrays((4,)), idx=st.lists(st.integers(-4, 3), min_size=1, max_size=6))
def test_fancy_index_drawn_with_repeats(x, idx):
    idx = np.array(idx)
    g = check_grad(sub_fancy_repeated_array_index, x, idx)
    expected = np.zeros(4)
    np.add.at(expected, idx, np.cos(x[idx]))
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)


def test_fancy_index_2d_repeated():
    A = np.arange(9, dtype=float).reshape(3, 3) * 0.2 - 0.7
    g = check_grad(sub_fancy_2d, A)
    expected = np.zeros((3, 3))
    expected[0, 1] = 1.0 + 3.0
    expected[2, 1] = 2.0
    expected[1] += 2 * 2 * A[1]
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)


# --- boolean masks ------------------------------------------------------------------------

def sub_mask(x):
    return np.sum(x[x > 0] ** 2) + np.sum(np.exp(x[x < -0.5]))


def sub_mask_argument(x, mask):
    return np.sum(np.sin(x[mask]) * 2.0)


def sub_mask_2d(A):
    return np.sum(A[A > 0.1] ** 3) + np.sum(A[np.array([True, False, True])] * 0.5)


@given(x=arrays((5,)))
def test_boolean_mask_from_data(x):
    from hypothesis import assume
    assume(np.all(np.abs(x) > 1e-2) and np.all(np.abs(x + 0.5) > 1e-2))
    g = check_grad(sub_mask, x)
    expected = np.where(x > 0, 2 * x, 0.0) + np.where(x < -0.5, np.exp(x), 0.0)
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)


@given(x=arrays((4,)), mask=st.lists(st.booleans(), min_size=4, max_size=4))
def test_boolean_mask_argument(x, mask):
    check_grad(sub_mask_argument, x, np.array(mask))


def test_boolean_mask_2d():
    A = np.array([[0.5, -1.0, 2.0], [0.3, 0.05, -0.2], [1.5, -0.7, 0.9]])
    check_grad(sub_mask_2d, A)
    check_against_autograd(sub_mask_2d, A)


# --- writes into buffers -----------------------------------------------------------------

def wr_zeros_int(x):
    h = np.zeros(3)
    h[0] = x[1] * x[2]
    h[2] = np.sin(x[0])
    h[1] = h[0] * h[2]
    return np.sum(h * h)


def wr_zeros_like_loop(x):
    h = np.zeros_like(x)
    for i in range(x.shape[0]):
        h[i] = np.tanh(x[i] * (i + 1.0))
    return np.sum(h * x)


def wr_empty_rows(W, X):
    out = np.empty((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):
        out[i] = np.tanh(X[i] @ W)
    return np.sum(out ** 2)


def wr_ones_slice(x):
    h = np.ones(6)
    h[1:4] = x * 2.0
    h[4:] = x[:2] ** 2
    return np.prod(h)


def wr_augmented(x):
    h = np.zeros(3)
    h[0] += x[0] * 2.0
    h[0] += x[1]
    h[1] -= x[2] * x[0]
    h[2] += 1.0
    h[2] *= x[1]
    h[1] /= x[2]
    h[0] **= 2
    return np.sum(h)


def wr_overwrite_same_element(x):
    h = np.zeros(2)
    h[0] = x[0] * 3.0
    y = h[0] * x[1]
    h[0] = x[1] * x[1]      # overwrites a value that y's gradient needed
    h[1] = h[0] + y
    return np.sum(h * h)


def wr_accumulate_in_loop(x):
    h = np.zeros(2)
    for i in range(x.shape[0]):
        h[i % 2] += x[i] * x[i]
        h[(i + 1) % 2] = h[(i + 1) % 2] * 0.5 + x[i]
    return np.sum(np.sin(h))


def wr_2d(A):
    B = np.zeros((A.shape[0], A.shape[1]))
    B[0, :] = A[1] * 2.0
    B[1:, 0] = A[:-1, 0] * A[1:, 1]
    B[-1, -1] = np.sum(A)
    B[:, 1] += A[:, 2]
    return np.sum(B ** 2)


def wr_fancy(x):
    h = np.zeros(4)
    h[[0, 2]] = x[:2] * 3.0
    h[[1, 3]] += x[1:3] ** 2
    return np.sum(h * np.arange(1.0, 5.0))


def wr_mask(x):
    h = np.ones(4)
    h[x > 0] = x[x > 0] * 2.0
    return np.sum(h * x)


def wr_row_broadcast(x, b):
    h = np.zeros((3, 2))
    for i in range(3):
        h[i] = b          # a row from a broadcast (2,) value
        h[i, 0] += x[i]
    return np.sum(h ** 2)


BUFFER_WRITES = [wr_zeros_int, wr_zeros_like_loop, wr_ones_slice, wr_augmented, wr_overwrite_same_element,
                 wr_accumulate_in_loop, wr_fancy]


@pytest.mark.parametrize("f", BUFFER_WRITES, ids=lambda f: f.__name__)
@given(x=arrays((3,), floats(0.5, 2.0)))
def test_writes_into_buffers(f, x):
    check_grad(f, x)


def test_write_zeros_exact():
    x = np.array([0.5, 1.5, -2.0])
    g = check_grad(wr_zeros_int, x)
    # h = [a, a b, b] with a = x1 x2, b = sin x0; sum h^2 = a^2 + a^2 b^2 + b^2
    a, b = x[1] * x[2], np.sin(x[0])
    da = 2 * a + 2 * a * b * b
    db = 2 * a * a * b + 2 * b
    np.testing.assert_allclose(g, [db * np.cos(x[0]), da * x[2], da * x[1]], rtol=1e-9)


def test_write_rows_into_empty_buffer():
    rng = np.random.default_rng(7)
    W = rng.normal(size=(3, 2))
    X = rng.normal(size=(4, 3))
    dW, dX = check_grad(wr_empty_rows, W, X, wrt=(0, 1))
    h = np.tanh(X @ W)
    dz = 2 * h * (1 - h * h)
    np.testing.assert_allclose(dW, X.T @ dz, rtol=1e-9)
    np.testing.assert_allclose(dX, dz @ W.T, rtol=1e-9)


@given(A=arrays((3, 3)))
def test_multi_axis_writes(A):
    check_grad(wr_2d, A)


def test_mask_write():
    x = np.array([0.5, -1.0, 2.0, -0.3])
    g = check_grad(wr_mask, x)
    np.testing.assert_allclose(g, np.where(x > 0, 4 * x, 1.0), rtol=1e-9)


def test_write_broadcast_row():
    x = np.array([0.5, -1.0, 2.0])
    b = np.array([0.3, -0.7])
    dx, db = check_grad(wr_row_broadcast, x, b, wrt=(0, 1))
    np.testing.assert_allclose(dx, 2 * (b[0] + x), rtol=1e-9)
    np.testing.assert_allclose(db, [2 * np.sum(b[0] + x), 6 * b[1]], rtol=1e-9)


def test_vjp_of_buffer_output():
    x = np.array([0.5, 1.5, -2.0])
    ct = np.array([1.0, -0.5, 2.0])
    check_vjp(wr_zeros_like_loop_vector, (x,), ct)


def wr_zeros_like_loop_vector(x):
    h = np.zeros_like(x)
    for i in range(x.shape[0]):
        h[i] = x[i] * x[i - 1]
    return h


def test_vjp_pullback_twice_after_in_place_writes():
    x = np.array([0.5, 1.5, -2.0])
    ct = np.array([1.0, -0.5, 2.0])
    _, pullback = srcad.vjp(wr_zeros_like_loop_vector)(x)
    first = pullback(ct)
    second = pullback(ct)
    np.testing.assert_allclose(first, second, rtol=0, atol=0)


# --- writes into a parameter -----------------------------------------------------------------

def wr_param_element(x):
    x[0] = x[1] * x[2]
    return np.sum(x * x)


def wr_param_augmented(x, y):
    x[1:] += y
    x[0] *= y[0]
    return np.sum(np.sin(x))


def wr_param_in_loop(x):
    for i in range(1, x.shape[0]):
        x[i] = x[i] * x[i - 1] + 0.5
    return np.sum(x)


def wr_param_after_read(x):
    s = np.sum(x ** 2)
    x[:] = 0.0
    x[1] = s
    return s * x[1] + np.sum(x)


def wr_param_from_other(x, y):
    x[0] = y * 2.0
    x[2:3] = y * y
    return np.sum(x * x)


def test_write_into_parameter_from_another_argument():
    x = np.array([0.5, 1.5, -2.0, 0.7])
    dx, dy = check_grad(wr_param_from_other, x, 1.5, wrt=(0, 1))
    np.testing.assert_allclose(dx, [0.0, 2 * 1.5, 0.0, 2 * 0.7], rtol=1e-12)
    assert dy == pytest.approx(8 * 1.5 + 4 * 1.5 ** 3)


def test_write_into_parameter_element():
    x = np.array([0.5, 1.5, -2.0])
    g = check_grad(wr_param_element, x)
    a = x[1] * x[2]
    np.testing.assert_allclose(g, [0.0, 2 * x[1] + 2 * a * x[2], 2 * x[2] + 2 * a * x[1]], rtol=1e-9)


@given(x=arrays((3,)), y=arrays((2,)))
def test_augmented_write_into_parameter(x, y):
    check_grad(wr_param_augmented, x, y, wrt=(0, 1))


@given(x=arrays(st.integers(1, 5).map(lambda n: (n,))))
def test_write_into_parameter_in_loop(x):
    check_grad(wr_param_in_loop, x)


def test_write_into_parameter_after_read():
    x = np.array([0.5, 1.5, -2.0])
    g = check_grad(wr_param_after_read, x)
    s = np.sum(x ** 2)
    np.testing.assert_allclose(g, (2 * s + 1) * 2 * x, rtol=1e-9)


def test_parameter_unchanged_after_grad_and_vjp():
    x = np.array([0.5, 1.5, -2.0])
    before = x.copy()
    srcad.grad(wr_param_in_loop)(x)
    np.testing.assert_array_equal(x, before)
    srcad.value_and_grad(wr_param_in_loop)(x)
    np.testing.assert_array_equal(x, before)
    _, pullback = srcad.vjp(wr_param_in_loop)(x)
    pullback(1.0)
    np.testing.assert_array_equal(x, before)


def test_caller_copy_of_parameter_written_by_plain_call_matches_fd():
    # the plain function writes into its argument; srcad must not
    x = np.array([0.5, 1.5, -2.0])
    v = wr_param_element(x.copy())
    value, g = srcad.value_and_grad(wr_param_element)(x)
    assert value == pytest.approx(v)
    np.testing.assert_array_equal(x, [0.5, 1.5, -2.0])


# --- views read before a write, elements of containers -------------------------------------

def wr_view_read_before_write(x):
    a = x[0:2]
    s = np.sum(a * a)
    x[0] = 3.0 * x[1]
    return s + np.sum(x * x)


def wr_previous_row(x):
    h = np.zeros((4, 2))
    for t in range(3):
        prev = h[t]
        h[t + 1] = np.tanh(prev + x[t])
    return np.sum(h ** 2)


def wr_list_element_replaced(x):
    xs = [x * 1.0, x * 2.0]
    first = xs[0]
    xs[1] = x * 3.0
    return np.sum(first * xs[1])


@pytest.mark.parametrize("f", [wr_view_read_before_write, wr_previous_row,
                               wr_list_element_replaced], ids=lambda f: f.__name__)
@given(x=arrays((3,)))
def test_values_shared_before_a_write(f, x):
    check_grad(f, x)


# --- a complex gradient reaching part of an array ------------------------------------------

def cx_real_slice(x):
    return np.real(np.sum(x[:2] * (0.3 + 0.8j)))


def cx_complex_slice(x):
    z = x * (1.0 + 0.5j)
    return np.real(np.sum(z[1:] * (0.3 + 0.8j)) + np.sum(z * z))


@pytest.mark.parametrize("f", [cx_real_slice, cx_complex_slice], ids=lambda f: f.__name__)
@given(x=arrays((3,)))
def test_complex_gradient_into_a_slice(f, x):
    check_grad(f, x)


def a_range_beside_an_array_in_a_tuple(x, d):
    pair = (np.exp(0.5 * np.sin(-x[:1])), range(4))
    first, numbers = pair
    return np.sum(first) + np.sum(numbers[1:] * d[:-1]) * 0.5


def test_a_slice_of_a_range_in_a_differentiated_tuple_has_no_gradient():
    # the tuple carries x's derivative, so its range item was taken for a differentiated
    # value, and the gradient of `numbers[1:]` was added into it: a TypeError from
    # add_at (fuzz seed 30006059's grad); a range holds integers, with no derivative
    from oracle import check_grad
    x, d = np.array([0.3, -0.2]), np.array([1.0, 2.0, 3.0, 4.0])
    check_grad(a_range_beside_an_array_in_a_tuple, x, d)


def test_a_slice_of_a_range_in_a_differentiated_tuple_has_a_zero_tangent():
    # forward mode gave the range the zero tangent 0.0, which `numbers[1:]` then sliced:
    # a TypeError (fuzz seed 30006059's jvp); its zero is the float vector of its length
    from oracle import numerical_jvp
    x, d = np.array([0.3, -0.2]), np.array([1.0, 2.0, 3.0, 4.0])
    dx, dd = np.array([1.0, -2.0]), np.array([0.5, 1.0, -1.0, 2.0])
    _, tangent = srcad.jvp(a_range_beside_an_array_in_a_tuple, wrt=(0, 1))(x, d, dx, dd)
    expected = numerical_jvp(a_range_beside_an_array_in_a_tuple, (x, d), (0, 1), (dx, dd))
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-8)
