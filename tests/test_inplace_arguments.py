"""In-place writes into arguments (`x /= c`, `x -= x`, `W += W`, `al[:] = v` through an
alias), differentiated in every mode and checked against finite differences.

Each program is a shortened random program of the fuzzer (its seed in the test's id).
The transforms must leave the caller's arrays as they were, and calling a transform
twice must give the same answer: a write into an argument must not leak into the next
call, nor into the tangents or cotangents the caller passed.
"""
import copy

import numpy as np
import pytest

import srcad
from oracle import (assert_args_unchanged, assert_tree_allclose, check_grad, check_vjp,
                    numerical_grad, numerical_jvp, numerical_vjp, wrt_positions)


def helper(a, b):
    return b * 2.0


def view_then_divide(x, W):
    """8000427: a view of x goes to a helper, then x is divided in place and read."""
    v = helper(W[:, -1], x[:1])
    u = v * v
    buf = W.copy()
    x /= 1.0625
    buf[-1] -= np.exp(-x ** 2)
    return np.sum(buf ** 2) + np.sum(u)


def view_read_after_divide(x, W):
    """The same, v read after the write: reverse mode cannot prove that v, a helper's
    result, does not share memory with x, and refuses."""
    v = helper(W[:, -1], x[:1])
    x /= 1.0625
    return np.sum(np.exp(-x ** 2)) + np.sum(v * v) * np.sum(W)


def subtract_itself(x, s):
    """8000450: s grows in place, x -= x, both read afterwards."""
    s += np.exp(0.5 * np.sin(x[0]))
    y = x * s
    x -= x
    return np.sum(np.sin(y)) + np.sum(x * s)


def double_then_subtract(x, y, W):
    """9000446: W += W, then W -= cumsum of an alias of x; a vector result."""
    W += W
    v = x
    t = W[:, 0] * np.exp(0.5 * np.sin(y[-1:]))
    W -= np.cumsum(v)
    return y[-1:] * v + np.sum(t) + np.sum(W)


def divide_by_own_mean(x, y, s):
    """9000454: y divided in place by an expression of y itself."""
    y /= (np.sum(np.tanh(x * s)) + np.mean(y)) ** 2 + 1.0
    return np.sum(y * y) + np.sum(np.sin(x) * s)


def updates_in_a_loop(x, y, s):
    """9000514: y += x, x /= .., y -= v, s *= .. in a loop, each read afterwards."""
    x = np.minimum(y[-1:], -y)
    y += x
    x /= np.square(s + s) ** 2 + 1.0
    v = np.tanh(1.0 / (1.0 + y[-1:] ** 2)) * s
    y -= v
    for _ in range(3):
        s *= np.tanh(x[-1] * np.tanh(s))
    return np.sum(np.sin(y)) + np.sum(x * x) + s


def write_through_alias(x, W, s):
    """7000340: al[:] = .. through a second name of an argument, then al read."""
    al = W
    al[:] = np.tanh(al) * s
    return np.sum(np.sin(al) * x)


def read_other_name_after_write(x, W, s):
    """The same, then W read: srcad follows values by name, and refuses."""
    al = W
    al[:] = np.tanh(al) * s
    return np.sum(np.sin(W) * x) + np.sum(al)


def scale_first_row(W, s):
    """W[0] = .. writes into the caller's array; the pullback undoes it."""
    W[0] = W[0] * s
    W += W
    return np.sum(W ** 2)


def add_reversed(x, d):
    """11000145: a write into x, then a vector result, which grad refuses."""
    x[:] += d[::-1]
    return np.cumsum(x)


def _shifts(a, b, scale=0.5):
    t = a
    t += np.sqrt(b ** 2 + 1.0)      # writes into the array passed as a
    return t * scale


def shifts_a_fresh_value(x, W, d):
    """The helper updates values made for its calls alone: where its result is not
    differentiated srcad runs it as it is, and nothing else sees the update."""
    u = np.sum(W, axis=0) * 2.0
    v = _shifts(u, x) + _shifts(np.exp(-x), W[0])
    return np.sum(np.sin(d) * v) + np.sum(W[0] * d)


RNG = np.random.default_rng(3)
X, Y = RNG.uniform(0.2, 0.9, 5), RNG.uniform(0.2, 0.9, 5)
W = RNG.uniform(-0.9, 0.9, (3, 5))

# (function, arguments, wrt, the modes that may refuse instead of answering)
CASES = [
    pytest.param(view_then_divide, (X, W), 1, (), id="8000427-W"),
    pytest.param(view_then_divide, (X, W), (0, 1), (), id="8000427-xW"),
    pytest.param(view_read_after_divide, (X, W), (0, 1), ("grad", "jvp", "vjp"),
                 id="8000427-read"),
    pytest.param(subtract_itself, (X, 0.7), (0, 1), (), id="8000450"),
    pytest.param(double_then_subtract, (X, Y, W), (0, 2), (), id="9000446"),
    pytest.param(double_then_subtract, (X, Y, W), 1, (), id="9000446-y"),
    pytest.param(divide_by_own_mean, (X, Y, 0.6), (0, 1, 2), (), id="9000454"),
    pytest.param(updates_in_a_loop, (X, Y, 0.8), (1, 2), (), id="9000514"),
    pytest.param(write_through_alias, (X, W, 0.9), (1, 2), (), id="7000340"),
    pytest.param(read_other_name_after_write, (X, W, 0.9), (1, 2), ("grad", "jvp", "vjp"),
                 id="7000340-read"),
    pytest.param(scale_first_row, (W, 3.0), (0, 1), (), id="row"),
    pytest.param(shifts_a_fresh_value, (X, W, Y), 2, (), id="fresh-for-a-call"),
]


def fresh(args):
    return copy.deepcopy(args)


def answer_or_refusal(call, mode, may_refuse):
    """The transform's answer, or None where srcad refuses the program and may."""
    try:
        return call()
    except srcad.SrcadError:
        if mode not in may_refuse:
            raise
        return None


@pytest.mark.parametrize("f, args, wrt, may_refuse", CASES)
def test_grad(f, args, wrt, may_refuse):
    value = f(*fresh(args))
    if np.ndim(value) != 0:
        pytest.skip("a vector result: vjp and jvp cover it")
    for _ in range(2):        # the second call sees the same arguments as the first
        answer_or_refusal(lambda: check_grad(f, *fresh(args), wrt=wrt), "grad", may_refuse)


@pytest.mark.parametrize("f, args, wrt, may_refuse", CASES)
def test_jvp(f, args, wrt, may_refuse):
    positions, multi = wrt_positions(f, wrt)
    rng = np.random.default_rng(5)
    tangents = [rng.normal(size=np.shape(args[p])) if np.ndim(args[p]) else float(rng.normal())
                for p in positions]
    expected = numerical_jvp(f, fresh(args), positions, tangents)
    for _ in range(2):
        given, kept = fresh(args), fresh(tangents)
        got = answer_or_refusal(lambda: srcad.jvp(f, wrt=wrt)(*given, *kept), "jvp",
                                may_refuse)
        if got is None:
            return
        assert_tree_allclose(got[0], f(*fresh(args)), rtol=1e-12, atol=1e-12, path="value")
        assert_tree_allclose(got[1], expected)
        assert_args_unchanged(given, args)
        assert_args_unchanged(kept, tangents)


@pytest.mark.parametrize("f, args, wrt, may_refuse", CASES)
def test_vjp(f, args, wrt, may_refuse):
    cotangent = np.random.default_rng(6).normal(size=np.shape(f(*fresh(args))))
    cotangent = cotangent if np.ndim(cotangent) else float(cotangent)
    for _ in range(2):
        given = fresh(args)
        if answer_or_refusal(lambda: check_vjp(f, given, cotangent, wrt=wrt), "vjp",
                             may_refuse) is None:
            return
        assert_args_unchanged(given, args)


def test_vjp_leaves_the_arguments_until_the_pullback():
    """Between vjp and its pullback the caller's arrays are as they were: a second vjp
    (or f itself) at the same arguments sees them, not the first run's writes."""
    given = W.copy()
    vjp = srcad.vjp(scale_first_row, wrt=(0, 1))
    first, pullback_first = vjp(given, 3.0)
    assert_args_unchanged((given,), (W,))
    second, pullback_second = vjp(given, 3.0)
    expected = numerical_vjp(scale_first_row, (W, 3.0), 1.0, (0, 1))
    assert first == second == scale_first_row(W.copy(), 3.0)
    assert_tree_allclose(pullback_second(1.0), expected)
    assert_tree_allclose(pullback_first(1.0), expected)
    assert_tree_allclose(pullback_first(1.0), expected)     # a pullback runs again
    assert_args_unchanged((given,), (W,))


def test_refused_grad_leaves_the_arguments():
    """grad refuses a vector result only after running the function: the writes into
    the caller's array must not stay behind."""
    given = X.copy()
    with pytest.raises(srcad.SrcadError, match="scalar output"):
        srcad.grad(add_reversed)(given, Y)
    assert_args_unchanged((given,), (X,))


def _squares_in_place(a, scale=0.5):
    t = a
    t += t * t
    return t * scale


def result_unused_but_argument_updated(x, y):
    y = y - 0.1
    unused = x * _squares_in_place(y)
    return np.mean(y * y)


def test_a_call_whose_result_is_unused_is_still_checked_for_updates():
    # the helper's result feeds nothing, but its in-place update of y does: srcad ran the
    # helper as it is and missed the update (a wrong gradient); it is refused at the update
    with pytest.raises(srcad.SrcadError, match="in-place update of the argument 'a'"):
        srcad.grad(result_unused_but_argument_updated, wrt=1)(np.ones(3), np.full(3, 0.5))


def shifts_a_column_then_subtracts(x, y, W, s, d, k):
    """3004090: where the helper's result is not differentiated (wrt y or d), srcad ran it
    as it is, updating a column of the caller's W through a view, then computed
    `W -= ...` as `W = W - ...`: the caller's W was left as neither f nor srcad leaves it."""
    W -= np.outer(_shifts(W[:, k % 5], W[:, 2]), s - x)
    return np.sum(y * d) + np.sum(W)


def reads_then_shifts_a_row(W, d):
    """A call that updates a row of W after W was read: reverse mode read the updated W
    when taking the derivative of np.sum(W * d) (a wrong gradient)."""
    y = np.sum(W * d)
    z = _shifts(W[0], W[1])
    return y


def _fill_first(h, v):
    h[0] = v
    return h * v


def fills_a_row_then_reads_W(W, d):
    """A differentiated call writes into a row of W, then W is read: forward mode
    updated the row's tangent but not W's (a wrong tangent)."""
    z = _fill_first(W[0], d[0])
    return np.sum(z) + np.sum(W * d)


TRANSFORMS = {
    "grad": lambda f, wrt, args: srcad.grad(f, wrt=wrt)(*args),
    "value_and_grad": lambda f, wrt, args: srcad.value_and_grad(f, wrt=wrt)(*args),
    "vjp": lambda f, wrt, args: srcad.vjp(f, wrt=wrt)(*args)[1](1.0),
    "jvp": lambda f, wrt, args: srcad.jvp(f, wrt=wrt)(
        *args, *[np.ones_like(args[p]) for p in (wrt if isinstance(wrt, tuple) else (wrt,))]),
}


def refusal(f, mode, wrt, args):
    given = fresh(args)
    with pytest.raises(srcad.SrcadError) as refused:
        TRANSFORMS[mode](f, wrt, given)
    assert_args_unchanged(given, args)
    return refused.value


@pytest.mark.parametrize("mode", TRANSFORMS)
@pytest.mark.parametrize("wrt", [0, 1, 2, 3, 4, (0, 2)])
def test_a_helper_updating_a_view_of_an_argument_is_refused(mode, wrt):
    args = (X, Y, np.outer(Y, X), 0.3, X[::-1].copy(), 2)
    error = refusal(shifts_a_column_then_subtracts, mode, wrt, args)
    assert "in place" in str(error) or "in-place" in str(error)
    if wrt in (1, 4):     # the helper runs as it is: refused at its call
        assert "it updates its parameter 'a' in place" in str(error)
        assert "shares memory with 'W'" in str(error)
        assert error.source_line.strip().startswith("W -= np.outer(_shifts(")


@pytest.mark.parametrize("mode", TRANSFORMS)
def test_a_helper_updating_an_array_read_before_the_call_is_refused(mode):
    error = refusal(reads_then_shifts_a_row, mode, 1, (W, X))
    assert "updates its parameter 'a' in place" in str(error)
    assert error.source_line.strip().startswith("z = _shifts(")


@pytest.mark.parametrize("mode", TRANSFORMS)
def test_a_differentiated_call_writing_into_a_view_read_after_is_refused(mode):
    error = refusal(fills_a_row_then_reads_W, mode, 1, (W, X))
    assert "updates what it is passed in place, and so changes 'W'" in str(error)
    assert error.source_line.strip().startswith("z = _fill_first(")


def test_a_helper_may_update_a_named_value_only_it_reads():
    def named(x, d):
        u = np.cos(x) * 3.0
        return np.sum(_shifts(u, x) * d)

    check_grad(named, X, Y, wrt=1)
    expected = numerical_jvp(named, (X, Y), [1], [np.ones(5)])
    assert_tree_allclose(srcad.jvp(named, wrt=1)(X, Y, np.ones(5))[1], expected)


# -- calls made for their effect on memory the derivative reads (reverse mode) --------

G = np.array([3.0, 1.0, 2.0])


def _set_g(v):
    G[0] = 10.0 * v
    return 0.0


def sorted_after_read(W, d):
    y = np.sum(W * d)
    W.sort()
    return y


def filled_after_read(W, d):
    y = np.sum(W * d)
    W.fill(2.0)
    return y


def copied_into_after_read(W, d):
    y = np.sum(W * d)
    np.copyto(W, 1.0)
    return y


def filled_in_a_loop_before_read(W, d):
    y = 0.0
    for i in range(3):
        W.fill(float(i))          # the adjoint would read the last fill at every step
        y = y + np.sum(W * d)
    return y


def global_written_by_a_call(W, d):
    y = np.sum(G * d)
    z = _set_g(1.0)
    return y + z


@pytest.mark.parametrize("f", [sorted_after_read, filled_after_read, copied_into_after_read,
                               filled_in_a_loop_before_read, global_written_by_a_call])
def test_an_update_by_a_call_of_what_the_derivative_read_is_refused(f):
    W, d = np.array([3.0, 1.0, 2.0]), np.arange(1.0, 4.0)
    G[:] = [3.0, 1.0, 2.0]
    with pytest.raises(srcad.UnsupportedSyntaxError, match="in place"):
        srcad.grad(f, wrt=1)(W.copy(), d)
    # forward mode computes in the function's order: right
    G[:] = [3.0, 1.0, 2.0]
    _, tangent = srcad.jvp(f, wrt=1)(W.copy(), d, np.array([1.0, 0.0, 0.0]))

    def from_the_start(W, d):   # each call sees G as the first did
        G[:] = [3.0, 1.0, 2.0]
        return f(W, d)
    expected = numerical_jvp(from_the_start, (W.copy(), d), [1], [np.array([1.0, 0.0, 0.0])])
    assert tangent == pytest.approx(expected)


def sorted_copy_after_read(W, d):
    V = W * 2.0
    y = np.sum(V * d)
    W.sort()                      # V is memory of its own: the derivative reads V
    return y


def test_an_update_by_a_call_of_other_memory_is_differentiated():
    W, d = np.array([3.0, 1.0, 2.0]), np.arange(1.0, 4.0)
    got = srcad.grad(sorted_copy_after_read, wrt=1)(W.copy(), d)
    assert got == pytest.approx(numerical_grad(sorted_copy_after_read, (W.copy(), d), wrt=1))


def sorted_then_updated(W, d):
    W[::-1].sort()                # in place, in the caller's W
    W += 1.0                      # srcad rebinds W here
    return np.sum(W * d)


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_an_argument_sorted_in_place_is_left_as_it_was(mode):
    # the transform works on a copy of W: the caller's W is left as it was, where it was
    # left half-updated (sorted, not incremented)
    W, d = np.array([[3.0, 1.0, 2.0], [0.5, -1.0, 0.2]]), np.array([0.3, -0.7, 1.1])
    before = W.copy()
    expected = numerical_grad(sorted_then_updated, (W.copy(), d), wrt=1)
    if mode == "grad":
        got = srcad.grad(sorted_then_updated, wrt=1)(W, d)
    else:
        got = np.array([srcad.jvp(sorted_then_updated, wrt=1)(W, d, e)[1] for e in np.eye(3)])
    np.testing.assert_array_equal(W, before)
    assert got == pytest.approx(expected)


def sine_into_a_buffer(x):
    b = np.zeros(3)
    np.sin(x, b)                  # the result goes into b
    return np.sum(b)


def sum_out_of_a_constant(x):
    b = np.zeros(3)
    c = np.add(np.ones(3), 1.0, out=b)     # nothing differentiated, but b is written
    return np.sum(b * x) + np.sum(c)


@pytest.mark.parametrize("f", [sine_into_a_buffer, sum_out_of_a_constant])
def test_a_result_written_into_a_given_array_is_refused(f):
    for transform in (srcad.grad(f), lambda x: srcad.jvp(f)(x, np.ones(3))):
        with pytest.raises(srcad.SrcadError, match="out=|do not match its derivative rule"):
            transform(np.array([0.3, -0.2, 0.5]))


def conj_of_a_reassigned_value_into_an_argument(y, d, s):
    y = y * s if s > 0 else [0.0, 0.0]    # y's type known only at run time
    c = y.conj(d)                 # writes conj(y), a differentiated value, into d
    return np.sum(d)


def conj_result_kept_into_an_alias(y, d, s):
    y = y * s if s > 0 else [0.0, 0.0]
    v = d
    c = y.conj(v)                 # the result is used, and v (d) is written too
    return np.sum(v) + 0.0 * np.sum(c)


@pytest.mark.parametrize("f", [conj_of_a_reassigned_value_into_an_argument,
                               conj_result_kept_into_an_alias])
def test_an_unresolved_method_writing_a_differentiated_value_is_refused(f):
    # seed 10003147: d's gradient came out 0, and d was left neither as it was nor as
    # f leaves it
    y, d = np.array([0.3, -0.2]), np.array([1.0, 2.0])
    with pytest.raises(srcad.SrcadError, match="it may write into|cannot prove that 'y'"):
        srcad.grad(f, wrt=2)(y, d.copy(), 1.5)
    assert check_program_status(10003147) != "failed"


def check_program_status(seed):
    from fuzz_programs import check_program
    return check_program(seed).status
