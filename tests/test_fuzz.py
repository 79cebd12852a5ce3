"""Random programs (tests/fuzz_programs.py, tests/fuzz/) checked against two oracles.

A bounded, deterministic run of the fuzzer: a fixed list of program seeds,
each generating a module of Python + NumPy whose grad, value_and_grad, jvp,
vjp (and, for every third seed, hvp) must match central differences and JAX
in float64, agree with each other, and leave the arguments as they were, or
be refused with srcad.SrcadError. Run the fuzzer itself for many more
programs:

    python tests/fuzz_programs.py --count 3000 --seed 1 --jobs 2

The rest of the file holds the reduced programs the fuzzer found, as
regression tests (those of issue 8's table are in test_soundness_rows.py).
"""
import numpy as np
import pytest

import srcad
from fuzz_programs import check_program, program_seed
from oracle import check_grad, numerical_grad, numerical_jvp

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")

SEEDS = [program_seed(7, i) for i in range(30)]
OUTCOMES = {}


def outcome_of(seed):
    if seed not in OUTCOMES:
        OUTCOMES[seed] = check_program(seed)
    return OUTCOMES[seed]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_program(seed):
    outcome = outcome_of(seed)
    assert outcome.status not in ("failed", "error"), (
        f"program seed {seed}, {outcome.failure[0]}: {outcome.failure[1]}\n{outcome.source}")


def test_most_programs_are_checked():
    outcomes = [outcome_of(seed) for seed in SEEDS]
    checked = [o for o in outcomes if o.checks]
    assert len(checked) >= len(SEEDS) // 3, [o.status for o in outcomes]


def test_a_program_that_corrupts_numpy_on_its_own_is_no_test():
    # np.stack(W + x, axis=-1) with an np.matrix W writes past NumPy's memory: the
    # worker died, and the fuzzer counted a failure without srcad having run
    assert check_program(2004752).status == "invalid"


def test_a_program_whose_own_method_call_fails_is_no_test():
    # `helper0(...).max()` of a float raises in Python; the reference program ran it as
    # np.max(...), so the failure of f looked like srcad's (seed 24002816)
    assert check_program(24002816).status == "invalid"


@pytest.mark.parametrize("seed", [
    2005485,    # np.linalg.norm of a W that underflowed to zeros: nan, where differences see 0
    2005598,    # math.atan2(s, s) after s -= s: singular at (0, 0), nan times a zero
    6024607,    # W = operator.mod(..., zeros): nan, read only into values later overwritten
])
def test_singular_points_are_kinks_to_the_oracle(seed):
    assert check_program(seed).status != "failed"


def test_a_worker_stuck_outside_srcad_is_no_failure(monkeypatch):
    # scipy.special.polygamma(2, -1e15 + 0.5) never returns, and the alarm cannot reach
    # it (seed 6025992): the runner counts a worker ended there as invalid, because the
    # flag it shares with the worker is set only while srcad's code runs
    from fuzz import check

    class Flag:
        value = 0
    seen = []
    real = srcad.jvp

    def jvp(*args, **kwargs):
        seen.append(check.IN_SRCAD.value)
        return real(*args, **kwargs)
    monkeypatch.setattr(check, "IN_SRCAD", Flag())
    monkeypatch.setattr(srcad, "jvp", jvp)
    for seed in SEEDS:      # the first program srcad differentiates in forward mode
        check_program(seed)
        if seen:
            break
    assert seen and set(seen) == {1} and check.IN_SRCAD.value == 0


def test_a_hessian_through_a_helper_whose_argument_is_then_written():
    # v8 = helper0(y, ...); y[k] *= ...: forward mode over the adjoint restored y but not
    # its tangent, which the helper's record shares (seed 8004945)
    assert check_program(8004945).status == "ok"

    def helper(a):
        return np.sum(a * a)

    def f(y):
        v = helper(y) * 2.0
        y[1] *= 3.0
        return v

    np.testing.assert_allclose(srcad.hvp(f)(np.arange(1.0, 6.0), np.ones(5)), 4.0 * np.ones(5))


def test_a_numpy_zero_is_the_zero_gradient_of_a_helper_shaped_by_its_arguments():
    # helper0(s, b=np.max(W, axis=1)) whose result is unread: its adjoint, specialized to
    # b's shape, made b's gradient s * 0.0, a NumPy zero with no dimensions, and the
    # gradient of np.max then spread it along an axis it does not have (seed 13003817)
    assert check_program(13003817).status == "ok"
    assert not srcad.runtime.nonzero_gradient(np.float64(0.0) * np.float32(2.0))
    assert not srcad.runtime.nonzero_gradient(np.asarray(0.0))
    assert srcad.runtime.nonzero_gradient(np.zeros(2))
    assert srcad.runtime.nonzero_gradient(np.float64(-1e-300))


def test_the_oracles_differentiate_the_arguments_as_drawn():
    # y -= srcad.runtime.take_at(d, 2) * (d * x) zeroes d[2] in place, as f does; the
    # float64 arguments the oracles use shared d with srcad's, so the differences saw x
    # multiplied by zeros and called srcad's right gradient wrong (seed 14006864)
    assert check_program(14006864).status == "ok"


def test_an_hvp_of_a_tuple_argument_is_a_tuple_to_the_oracle_too():
    assert check_program(8002446).status == "ok"


def test_the_tangent_of_a_new_sum_whose_operand_is_then_written():
    # v2 = y + c; y[3] *= ...: jvp gave v2 the tangent of y itself, which the write changed
    assert check_program(6025933).status == "ok"


def test_a_method_that_may_write_into_its_argument():
    # L7.append(y.conj(buf5)) with y's type known only at run time: conj writes into buf5
    # (seed 6019181 of the grammar without the effects feature; its program there)
    assert check_program(6019181, source=PROGRAM_6019181).status != "failed"


PROGRAM_6019181 = """import numpy as np

def helper0(a, b, scale=0.5, steps=2, on=True):
    t = (np.sin(a)) + ((a) * (b))
    return t * scale

def f(x, y, W, s, d, k, flag):
    x = (x) * ((s) * (s))
    buf5 = np.zeros_like(x)
    y = helper0((s) / 2.0, b=np.abs(x))
    buf5[:] -= np.cos(y)
    L7 = [(np.where(buf5))[0]]
    L7.append((y).conj(buf5))
    return np.sum(np.sin(buf5))
"""


def _scaled(b):
    t = b * (np.tanh(0.5) * 0.5)       # a NumPy scalar factor
    return t * 0.5


def unread_call_of_an_array_from_a_list(W, a):
    v = _scaled(np.array([a for i in range(3)]))     # read by nothing
    return np.sum(W) * a


def test_a_numpy_scalar_gradient_of_an_array_from_a_list():
    # the unread call's gradient of b was np.float64(0.0), which sequence_grad took for
    # an array (seed 6017484 of the grammar without the effects feature)
    check_grad(unread_call_of_an_array_from_a_list, np.ones(3), 0.7, wrt=(0, 1))


def test_a_custom_primitive_returning_a_number():
    # np.sum(mysq(s) ** 2) with a custom rule for mysq: its result taken for an array
    assert check_program(6012609).status != "failed"


def test_extra_singular_vectors_are_no_test_of_a_derivative():
    # np.linalg.svd(W, 2)[2] of a 3 x 5 W: rows of vh past the third are not unique, and
    # forward mode's tangent for them is nan; differences measured LAPACK's choice
    assert check_program(6003910).status == "skipped"


def test_a_hessian_through_a_call_whose_argument_is_then_written():
    # al4[k] = helper0(al4, ...): the tangent's record was restored in a copy
    assert check_program(3004731).status == "ok"


def test_a_hessian_through_a_sum_whose_operand_is_then_written():
    # v2 = exp(-(W + x[-1]) ** 2) then W[1:] *= ...: dv2 was fit(dW, ...), dW itself
    assert check_program(6005952).status != "failed"


def test_a_negative_base_to_a_differentiated_power():
    # np.real(pow(-1.1, s)): Python's power is complex; its derivative in s was taken as 0
    assert check_program(3001526).status == "ok"


def test_a_helper_updating_a_view_of_an_argument_in_place():
    # helper0(W[:, k % 5], ...) does `t = a; t += ...`: run as it is, it changed W's column,
    # then `W -= ...` was rebound: the caller's W was left in a third state
    assert check_program(3004090).status != "failed"


def test_a_std_of_one_value_is_constant():
    # np.std(s) of a number is 0 whatever s is: its gradient is 0, not 0 / 0
    assert check_program(3004684).status != "failed"


def test_a_call_of_a_writing_runtime_helper_is_refused():
    # y += srcad.runtime.take_at(x, 2) zeroes x[2]; reverse mode took the call for a read
    assert check_program(2012467).status != "failed"


# ---------------------------------------------------------------------------
# Reduced programs the fuzzer found
# ---------------------------------------------------------------------------

X = np.array([0.3, -0.5, 0.8])


def self_assignment(x):
    x = x
    return np.mean(x * x)


def test_self_assignment_keeps_the_gradient():
    # `x = x` was a copy whose adjoint zeroed dx after adding it to itself
    check_grad(self_assignment, X.copy())
    _, tangent = srcad.jvp(self_assignment)(X.copy(), np.ones(3))
    assert tangent == pytest.approx(np.mean(2 * X))


def augmented_through_alias(x, s):
    y = x * 1.0
    z = y
    z += s            # changes y too: the same array
    return np.sum(y * y)


def augmented_on_argument_alias(x):
    y = x
    y += 1.0          # changes x too
    return np.sum(x * y)


@pytest.mark.parametrize("f, args, wrt, tangents", [
    (augmented_through_alias, (X.copy(), 0.5), (0, 1), (np.ones(3), 1.0)),
    (augmented_on_argument_alias, (X.copy(),), 0, (np.ones(3),)),
])
def test_augmented_assignment_through_a_second_name_is_refused(f, args, wrt, tangents):
    # `z += s` on an array updates its memory in place; srcad rebinds z, so a
    # later read of y would miss the update: refused, like `z[...] = ...`
    with pytest.raises(srcad.UnsupportedSyntaxError, match="shares memory"):
        srcad.grad(f, wrt=wrt)(*args)
    with pytest.raises(srcad.UnsupportedSyntaxError, match="shares memory"):
        srcad.jvp(f, wrt=wrt)(*args, *tangents)


def augmented_without_alias(x, s):
    y = x * 1.0
    y += s
    y *= np.tanh(x)
    return np.sum(y * y)


def test_augmented_assignment_on_an_unshared_array_is_differentiated():
    check_grad(augmented_without_alias, X.copy(), 0.5, wrt=(0, 1))


def _grows(a):
    a += 1.0          # changes the caller's array
    return a * 2.0


def calls_helper_updating_argument(x):
    y = x * 1.0
    z = _grows(y)
    return np.sum(y * z)


def _writes_through_alias(a):
    b = a
    b[0] = 5.0 * b[1]
    return np.sum(b)


def calls_helper_writing_through_alias(x):
    y = x * 1.0
    z = _writes_through_alias(y)
    return np.sum(y * z)


@pytest.mark.parametrize("f", [calls_helper_updating_argument,
                               calls_helper_writing_through_alias])
def test_called_function_changing_its_argument_is_refused(f):
    with pytest.raises(srcad.UnsupportedSyntaxError, match="inside a called function"):
        srcad.grad(f)(X.copy())
    with pytest.raises(srcad.UnsupportedSyntaxError, match="inside a called function"):
        srcad.jvp(f)(X.copy(), np.ones(3))


def takes_at(x, y):
    y += srcad.runtime.take_at(x, 2)      # reads x[2] and zeroes it
    return np.sum(x)


def takes_at_for_effect(x):
    z = x
    srcad.runtime.take_at(z, 0)
    return np.sum(x * x)


@pytest.mark.parametrize("f", [takes_at, takes_at_for_effect])
def test_runtime_helper_writing_its_argument(f):
    args = (X.copy(), np.ones(3))[:f.__code__.co_argcount]
    with pytest.raises(srcad.NoDerivativeError, match="writes into"):
        srcad.grad(f)(*args)
    # forward mode follows the write (it runs through generated gradients)
    value, tangent = srcad.jvp(f)(*args, np.ones(3))
    assert value == pytest.approx(f(*(np.copy(a) for a in args)))
    assert tangent == pytest.approx(numerical_jvp(f, args, [0], [np.ones(3)]))


def element_of_tuple_then_write(x, s):
    t = (x, 1.0)
    v = t[0]
    x[0] = s
    return np.sum(v)


def element_of_list_then_write(x, s):
    rows = [x]
    r = rows[0]
    x[0] = s
    return np.sum(r)


@pytest.mark.parametrize("f", [element_of_tuple_then_write, element_of_list_then_write])
def test_element_taken_from_a_container_then_written_is_refused(f):
    # r is x (taken back out of the list): the write changes it
    with pytest.raises(srcad.UnsupportedSyntaxError, match="shares memory"):
        srcad.grad(f, wrt=(0, 1))(X.copy(), 0.5)


def rebinding_after_alias(x, s):
    y = x
    x = np.array([s for i in range(3)])   # nothing reads this x
    return np.sum(y * y)


def test_unread_array_built_from_a_list():
    # the zero gradient 0.0 of the new x reached sequence_grad, which took list(0.0)
    check_grad(rebinding_after_alias, X.copy(), 0.5, wrt=(0, 1))


def scalar_written_into_several_slots(x, s):
    b = np.zeros(3)
    b[[0, 1]] = s * x[0]
    b[1:] += s
    return np.sum(b * x)


def test_value_broadcast_into_a_fancy_or_slice_write():
    # the value's gradient is the sum over the slots it was written to
    check_grad(scalar_written_into_several_slots, X.copy(), 0.5, wrt=(0, 1))


def numpy_scalar_gradient_into_subscript(x, W):
    v = np.sum(x[:1])
    x /= np.max(W) ** 2 + 1.0       # dx becomes 0.0 / np.float64: a NumPy scalar
    return v


def test_numpy_scalar_zero_gradient_reaches_add_at():
    W = np.array([[0.5, -0.2], [0.1, 0.3]])
    got = srcad.grad(numpy_scalar_gradient_into_subscript)(X.copy(), W)
    np.testing.assert_allclose(got, [1.0, 0.0, 0.0])


def writes_into_arguments_through_aliases(x, W, s):
    a = W
    a[:, 1] -= W[:, -1]
    b = x
    b[[2]] = s
    return s * s


def test_writes_into_arguments_through_aliases_are_undone():
    # the adjoint reads nothing written, but the writes change the caller's arrays
    x, W = X.copy(), np.arange(6.0).reshape(2, 3) / 10
    x0, W0 = x.copy(), W.copy()
    assert srcad.grad(writes_into_arguments_through_aliases, wrt=2)(x, W, 0.5) == 1.0
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(W, W0)
    expected = numerical_grad(writes_into_arguments_through_aliases, (x, W, 0.5), wrt=2)
    assert expected == pytest.approx(1.0)


def divide_by_own_last_element(y, s):
    v = np.exp(y[-1:] * s)
    y /= (np.sin(-1.1) * np.cos(y[-1:])) ** 2 + 1.0   # this y is never read
    return np.sum(v ** 2)


def test_zero_gradient_keeps_the_shape_of_its_variable():
    # dy = unbroadcast(0.0 / add, y) had add's shape (1,): y[-1:]'s gradient was then
    # added into that and spread over all of y
    check_grad(divide_by_own_last_element, np.array([0.3, -0.5, 0.8, 0.1]), 0.5, wrt=(0, 1))


def cumsum_never_read(x, y):
    old = y
    y = np.cumsum(x)            # the new y is never read: its gradient stays 0.0
    return np.sum(old ** 2)


def outer_overwritten_in_loop(x, W):
    v = W * 1.0
    for i in range(3):
        if i < 2:
            v = np.outer(W[:, i], x)    # reversed, the second time it finds dv reset to 0.0
    return np.mean(v * v)


def outer_maybe_never_read(x, W, k):
    W = np.outer(W[:, -1], x)
    y = x
    for i in range(k):
        if i == 1:
            y = np.mean(W, axis=0)      # for k < 2 the new W is never read
    return np.sum(y * y)


def call_outer_maybe_never_read(x, W, k):
    return outer_maybe_never_read(x, W, k) * 2.0


def test_rules_do_not_run_on_the_zero_gradient():
    # a variable reassigned and its new value never read keeps the gradient 0.0: rules
    # specialized for known shapes (`np.cumsum(dy[::-1])`, `dv @ b`) failed on the float
    x, W = np.array([0.3, -0.5, 0.8]), np.arange(9.0).reshape(3, 3) / 10
    check_grad(cumsum_never_read, x.copy(), np.array([0.2, 0.4, -0.1]), wrt=(0, 1))
    check_grad(outer_overwritten_in_loop, x.copy(), W.copy(), wrt=(0, 1))
    for k in (0, 1, 3):
        check_grad(outer_maybe_never_read, x.copy(), W.copy(), k, wrt=(0, 1))
        check_grad(call_outer_maybe_never_read, x.copy(), W.copy(), k, wrt=(0, 1))
    _, pullback = srcad.vjp(outer_maybe_never_read, wrt=(0, 1))(x.copy(), W.copy(), 1)
    assert pullback(1.0)[1] == pytest.approx(np.zeros((3, 3)))


def _cumulative(x):
    return np.cumsum(x)


def _dead_call_result(x, y):
    z = _cumulative(x)      # overwritten before it is read: its gradient stays 0.0
    z = y * 2.0
    return np.sum(z)


def _call_result_read_in_some_iterations(x, y, k):
    z = y * 1.0
    for i in range(k):
        z = _cumulative(x)
        if i > 0:
            z = y * 2.0
    return np.sum(z * z)


def test_called_function_whose_result_is_never_read():
    """Its adjoint still runs (it pops what its primal pushed), on zeros, not on the float
    0.0 its rules could not index."""
    x, y = np.array([1.0, 2.0]), np.array([0.5, 0.1])
    dx, dy = srcad.grad(_dead_call_result, wrt=(0, 1))(x, y)
    np.testing.assert_array_equal(dx, [0.0, 0.0])
    np.testing.assert_array_equal(dy, [2.0, 2.0])
    for k in (0, 1, 2, 3):
        check_grad(_call_result_read_in_some_iterations, x, y, k, wrt=(0, 1))
    hessian = srcad.hessian(_call_result_read_in_some_iterations, wrt=0)(x, y, 1)
    np.testing.assert_allclose(hessian, [[4.0, 2.0], [2.0, 2.0]])


def test_a_row_of_a_list_of_a_matrix_then_written():
    # v5 = list(W)[0]; v5 += sum(L4); W *= ...: v5 is a view of W's first row, which
    # srcad took for new memory: value_and_grad's value -2.71 where f returns -1.80
    assert check_program(16005681).status != "failed"


def test_abs_of_a_bool_drawn_from_a_list_of_numbers():
    # L2 = [abs(v) for v in [np.allclose(s, s), ...]]: jvp took np.sign of True, which
    # NumPy has no loop for (seed 17001926)
    assert check_program(17001926).status == "ok"

    def f(s):
        values = [np.allclose(s, s), s * 0.5]
        return np.sum(np.array([abs(v) for v in values]) ** 2) + np.fabs(s)

    assert srcad.jvp(f)(0.7, 1.0)[1] == pytest.approx(1.35)
    assert srcad.grad(f)(-0.7) == pytest.approx(-1.35)


def test_a_copy_of_a_view_of_an_argument_then_written():
    # v2 = W[:, 1].copy(); W[1] -= ...: jvp's tangent of v2 was the view dW[:, 1], which
    # the write into dW changed (seed 18004517)
    assert check_program(18004517).status == "ok"


def test_a_uniform_sample_whose_bounds_meet():
    # np.random.uniform(M, 2) where M's diagonal is 2: jvp gave nan (seed 18003228)
    assert check_program(18003228).status != "failed"


def test_a_qr_of_a_matrix_of_lower_rank_is_no_test_of_a_derivative():
    # np.linalg.qr of an outer product: Q is not unique there, and srcad and JAX each
    # gave a number for a derivative that does not exist (seed 18006029)
    assert check_program(18006029).status == "skipped"


def test_out_given_by_position_to_a_function_without_a_derivative():
    # helper0(np.fix(x, x), ...) truncated x in place, unseen: the hvp took x's later
    # reads for differentiable (seed 19011729)
    assert check_program(19011729).status != "failed"


def test_the_mean_of_an_item_of_an_array():
    # v1 = np.asarray(...)[3].item() * ...; np.mean(v1 * v1): `.item()` is a Python
    # number, taken for an array: the gradient code read `mul.shape` of a float
    # (seed 20010242)
    assert check_program(20010242).status == "ok"

    def f(x):
        v = x[3].item() * np.sqrt(x[0] ** 2 + 1.0)
        return np.mean(v * v)

    x = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(srcad.grad(f)(x), [0.032, 0.0, 0.0, 0.808], rtol=1e-12)


def test_a_gradient_called_with_an_integer_array_the_caller_differentiates():
    # g_1(np.array([s for i in range(4)]), s / 3)[0] with g_1 = grad(tf, wrt=('b',)) and s
    # an int: the composed rule took no derivative along the integer array (seed 35013103)
    assert check_program(35013103).status == "ok"


def test_a_roll_by_a_boolean_shift():
    # np.roll(M, np.any(W, axis=-1)): the adjoint negated the boolean shift, a TypeError
    # where grad refuses the function's tuple result (seed 36006906)
    assert check_program(36006906).status == "ok"
