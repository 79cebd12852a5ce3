"""In-place writes that share no memory with what is read later are differentiated.

srcad refuses a write whose memory another name reads afterwards (a view, the
same object). These programs write into memory of their own: the result of a
NumPy function that returns new memory (np.full copies its fill value), a
name rebound to a new value after it was an argument (`x = s2[i]` in an LSTM
loop), the new array a helper returns. Each is checked against finite
differences in reverse and forward mode. The writes that do change memory
read later stay refused, among them those through a helper's, stop_gradient's,
max's or list()'s result.
"""

import numpy as np
import pytest

import srcad
from oracle import check_grad, numerical_grad

RNG = np.random.default_rng(7)


def check_both_modes(f, args, wrt):
    """grad and jvp of f (every wrt argument at once) against finite differences."""
    check_grad(f, *args, wrt=wrt)
    tangents = [RNG.normal(size=np.shape(args[i])) for i in wrt]
    _, tangent = srcad.jvp(f, wrt=wrt)(*args, *tangents)
    grads = numerical_grad(f, args, wrt)
    expected = sum(np.sum(g * t) for g, t in zip(grads, tangents))
    assert tangent == pytest.approx(expected, rel=1e-6, abs=1e-8)


# -- the result of a NumPy function that returns new memory -----------------------------

def design_matrix(t, w):
    n = t.shape[0]
    m = np.full((n, 3), t[:, None])
    m[:, 0] = 1.0
    m[:, 2] = t ** 2
    return np.sum((m @ w) ** 2) + np.sum(t)


def tiled(t, w):
    m = np.tile(t[:, None], (1, 3))
    m[:, 1] = np.sin(t)
    return np.sum((m @ w) ** 2) + np.sum(t * t)


def repeated(t, w):
    m = np.repeat(t[:, None], 3, axis=1)
    m[0] = w
    return np.sum(m * m) + np.sum(t)


def concatenated(t, w):
    m = np.concatenate([t, w])
    m[1] = m[0] * m[2]
    return np.sum(np.tanh(m)) + np.sum(t * w[0])


def copied_with_array(t, w):
    m = np.array(t)
    m[0] = w[1]
    return np.sum(m ** 3) + np.sum(t)


def filled_like(t, w):
    m = np.full_like(t, 0.5)
    m[1:] = t[:-1] * w[0]
    return np.sum(m * t)


@pytest.mark.parametrize("f", [design_matrix, tiled, repeated, concatenated, copied_with_array,
                               filled_like], ids=lambda f: f.__name__)
def test_writes_into_new_memory_from_numpy(f):
    t = np.array([0.3, -0.5, 1.2, 0.7])
    w = np.array([0.2, -0.4, 0.9])
    check_both_modes(f, (t, w), (0, 1))


# -- a name rebound to a new value after it was an argument ------------------------------

def cell(x, h, W):
    z = np.tanh(W @ np.concatenate([x, h]))
    return z, z * 0.5


def lstm_loop(x, s, W):
    s2 = s.copy()
    for i in range(3):
        s2[i], s2[i + 1] = cell(x, s2[i + 1], W)
        x = s2[i]
    return np.sum(x ** 2) + np.sum(s2 * s2)


def lstm_layer(x, s, W):
    s2 = s.copy()
    for i in range(3):
        s2[i], s2[i + 1] = cell(x, s2[i + 1], W)
        x = s2[i]
    return x


def calls_lstm_layer(x, s, W):
    return np.sum(lstm_layer(x, s, W) ** 2)


@pytest.mark.parametrize("f", [lstm_loop, calls_lstm_layer], ids=lambda f: f.__name__)
def test_lstm_loop_rebinding_an_argument(f):
    x = RNG.normal(size=2)
    s = RNG.normal(size=(4, 2))
    W = RNG.normal(size=(2, 4)) * 0.5
    check_both_modes(f, (x, s, W), (0, 1, 2))


def shifts_rows(x):
    cur = np.zeros(3) + x
    total = 0.0
    for _ in range(3):
        prev = cur
        cur = np.zeros(3)       # new memory each iteration: prev keeps the old
        cur[0] = prev[2]
        cur[1:] = np.sin(prev[:2])
        total = total + np.sum(prev * cur)
    return total


def test_memory_made_again_in_a_loop_is_new_memory():
    check_both_modes(shifts_rows, (np.array([0.4, -1.1, 0.9]),), (0,))


# -- the new array a helper returns -----------------------------------------------------

def scaled(x, k):
    return x * k


def writes_into_a_helpers_result(x):
    y = scaled(x, 2.0)
    y[0] = 0.0
    return np.sum(y * y) + np.sum(x ** 3)


def test_writes_into_new_memory_a_helper_returns():
    check_both_modes(writes_into_a_helpers_result, (np.array([0.4, -1.1, 0.9]),), (0,))


# -- writes into memory read later stay refused -----------------------------------------

def first_rows(a):
    return a[:2]


def through_a_helpers_view(x):
    x2 = x * 1.0
    v = first_rows(x2)
    v[0] = 0.0
    return np.sum(x2 * x)


def through_asarray(x):
    x2 = x * 1.0
    y = np.asarray(x2)
    y[0] = 0.0
    return np.sum(x2 * x)


def through_array_without_copy(x):
    x2 = x * 1.0
    y = np.array(x2, copy=None if np.__version__ >= "2" else False)
    y[0] = 0.0
    return np.sum(x2 * x)


def through_stop_gradient(x):
    x2 = x * 1.0
    y = srcad.stop_gradient(x2)
    y[0] = 0.0
    return np.sum(x2 * x)


def through_max(x):
    a = x * 1.0
    b = x * 2.0
    c = max(a, b, key=np.sum)
    c[0] = 0.0
    return np.sum(b * x)


def through_a_list_copy(x):
    a = x * 1.0
    xs = [a, x * 2.0]
    ys = list(xs)
    e = ys[0]
    e[0] = 5.0
    return np.sum(a * x)


def through_a_rebound_view(x):
    s2 = np.zeros((3, 3)) + x
    row = s2[0]
    s2[0] = np.tanh(x)
    return np.sum(row * x)


@pytest.mark.parametrize("f", [through_a_helpers_view, through_asarray,
                               through_array_without_copy, through_stop_gradient, through_max,
                               through_a_list_copy, through_a_rebound_view],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_writes_into_memory_read_later_stay_refused(f, mode):
    x = np.array([0.5, 1.2, -0.3])
    with pytest.raises(srcad.UnsupportedSyntaxError, match="shares memory"):
        if mode == "grad":
            srcad.grad(f)(x)
        else:
            srcad.jvp(f)(x, x)


# -- the rows of a matrix that a builtin iterates over are views of it ----------------

def through_a_list_of_rows(W, s):
    # seed 16005681: v = list(W)[0]; v += s; W *= ... gave a wrong value and gradient
    W = W / 2.0
    v = list(W)[0]
    v += s
    W *= 3.0
    return np.sum(np.sin(v))


def through_a_tuple_of_rows(W, s):
    W = W * 1.0
    v = tuple(W)[1]
    W[1] = s
    return np.sum(np.sin(v))


def through_reversed_rows(W, s):
    W = W * 1.0
    v = list(reversed(W))[0]
    W[1] = s
    return np.sum(np.sin(v))


def through_zipped_rows(W, s):
    W = W * 1.0
    t = 0.0
    for a, b in zip(W, W):
        W[0] = s
        t = t + np.sum(a * b)
    return t


@pytest.mark.parametrize("f", [through_a_list_of_rows, through_a_tuple_of_rows,
                               through_reversed_rows, through_zipped_rows],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_writes_into_rows_a_builtin_iterated_over_are_refused(f, mode):
    # list(W), tuple(W), reversed(W), zip(W, ...) give views of W's rows: before, each
    # of these returned a wrong gradient (0.0 for the tuple, where 1.53 is right)
    W = np.array([[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(srcad.UnsupportedSyntaxError, match="shares memory"):
        if mode == "grad":
            srcad.grad(f, wrt=(0, 1))(W, 0.7)
        else:
            srcad.jvp(f, wrt=(0, 1))(W, 0.7, np.ones_like(W), 1.0)


def rows_copied_by_a_comprehension(W, s):
    W = W * 1.0
    rows = [r * 1.0 for r in W]
    W *= s
    return np.sum(np.sin(rows[0])) + np.sum(W)


def test_rows_copied_from_a_matrix_then_written_are_differentiated():
    check_both_modes(rows_copied_by_a_comprehension,
                     (np.array([[0.1, 0.2], [0.3, 0.4]]), 0.7), wrt=(0, 1))
