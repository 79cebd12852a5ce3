"""The adjoint clean-up: code left without statements by dead-store removal still compiles."""
import ast

import gast
import numpy as np
import pytest

import srcad
from oracle import dead_assignments
from srcad import optimize


def returns_constant_in_branch(x):
    if x > 5:
        return 1.0
    return x * x


def returns_constant_array_in_branch(x):
    if np.sum(x) > 5:
        return 1.0
    return np.sum(x * x)


@pytest.mark.parametrize("x, expected", [(2.0, 4.0), (7.0, 0.0)])
def test_branch_returning_a_constant(x, expected):
    df = srcad.grad(returns_constant_in_branch)
    assert df(x) == expected
    compile(df.source, "<generated>", "exec")
    assert dead_assignments(df.source) == []


def test_branch_returning_a_constant_arrays():
    df = srcad.grad(returns_constant_array_in_branch)
    np.testing.assert_allclose(df(np.array([1.0, 2.0])), [2.0, 4.0])
    np.testing.assert_allclose(df(np.array([3.0, 4.0])), [0.0, 0.0])


def test_no_comment_without_code():
    df = srcad.grad(returns_constant_in_branch)
    df(2.0)
    lines = df.source.splitlines()
    for line, following in zip(lines, lines[1:]):
        if line.strip().startswith("# grad of"):
            assert not following.strip().startswith(("#", "return")), (line, following)


def logistic(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def noisy(w, X):
    noise = np.random.normal(size=X.shape[0])   # drawn whether or not grad needs it
    z = X @ w
    unused = np.log(np.abs(z) + 1.0)
    return np.sum(z * np.random.normal(size=X.shape[0])) + np.sum(unused) * 0.0 + noise[0]


def test_grad_runs_a_primal_without_the_value():
    rng = np.random.default_rng(0)
    w, X, y = rng.normal(size=3), rng.normal(size=(5, 3)), np.ones(5)
    df = srcad.grad(logistic)
    g = df(w, X, y)
    assert "def logistic_primal_for_grad(" in df.source
    lean = df.source.split("def logistic_primal_for_grad(")[1].split("\ndef ")[0]
    lean = "\n".join(l for l in lean.splitlines() if not l.strip().startswith("#"))
    assert "np.log" not in lean and "np.mean" not in lean
    value, g2 = srcad.value_and_grad(logistic)(w, X, y)
    np.testing.assert_array_equal(g, g2)
    assert np.isclose(value, logistic(w, X, y))
    compile(df.source, "<generated>", "exec")
    assert dead_assignments(df.source) == []


def test_random_draws_stay_in_the_primal_for_grad():
    rng = np.random.default_rng(1)
    w, X = rng.normal(size=3), rng.normal(size=(4, 3))
    np.random.seed(5)
    g = srcad.grad(noisy)(w, X)
    np.random.seed(5)
    np.random.normal(size=4)
    expected = X.T @ np.random.normal(size=4)
    np.testing.assert_allclose(g, expected, rtol=1e-12)


def scalar_only(x, a):
    y = x * a
    z = np.sin(y)
    return z * 2.0


def test_no_second_primal_for_scalar_code():
    df = srcad.grad(scalar_only)
    df(0.5, 2.0)
    assert "primal_for_grad" not in df.source


# -- arithmetic folded in the adjoint: scalar fills, scalar factors and signs, copies ------

from oracle import check_against_autograd, check_grad  # noqa: E402


def mean_returned(x):
    return np.mean(x)


def mean_accumulated(x):
    return np.mean(x) + np.sum(x * x)


def mean_into_product(x, y):
    return -np.mean(y * np.log(x) + (1.0 - y) * np.log(1.0 - x))


def mean_of_broadcast(x, b):
    return np.mean(x * b)


def sign_chain(x, a):
    z = -(-np.exp(-(x * a)) * 3.0) / 2.0
    return np.sum(z * x) - np.sum(-z)


def loop_with_copies(x, w):
    h = x
    for i in range(3):
        h = -np.tanh(h * w) * 0.5 + h
    return np.sum(h) / 4.0


@pytest.mark.parametrize("f, args, wrt", [
    (mean_returned, (np.array([1.0, 2.0, 4.0]),), 0),
    (mean_returned, (np.array([[1.0, 2.0, 4.0]]),), 0),
    (mean_accumulated, (np.array([[1.0], [2.0], [4.0]]),), 0),
    (mean_into_product, (np.array([0.2, 0.5, 0.7]), np.array([1.0, 0.0, 1.0])), (0, 1)),
    (mean_of_broadcast, (np.array([[0.2, 0.5], [0.7, 0.1]]), np.array([2.0, 3.0])), (0, 1)),
    (mean_of_broadcast, (np.array([[0.2, 0.5]]), np.array([[2.0], [3.0]])), (0, 1)),
    (sign_chain, (np.array([0.3, -0.2]), 0.7), (0, 1)),
    (loop_with_copies, (np.array([0.3, -0.2]), np.array([0.5, 1.5])), (0, 1)),
    (logistic, (np.array([0.1, -0.3]), np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 0.3]]),
                np.array([1.0, 0.0, 1.0])), (0, 1, 2)),
])
def test_folded_arithmetic_keeps_gradients_right(f, args, wrt):
    check_grad(f, *args, wrt=wrt)
    check_against_autograd(f, *args, wrt=wrt)
    df = srcad.grad(f, wrt=wrt)
    df(*args)
    assert dead_assignments(df.source) == []


def test_a_mean_feeding_elementwise_rules_stays_a_scalar():
    df = srcad.grad(mean_into_product)
    df(np.array([0.2, 0.5, 0.7]), np.array([1.0, 0.0, 1.0]))
    assert "np.full" not in df.source


def test_a_returned_mean_gradient_is_an_array():
    df = srcad.grad(mean_returned)
    g = df(np.array([1.0, 2.0, 4.0]))
    assert isinstance(g, np.ndarray) and g.shape == (3,)
    assert "np.full" in df.source


def test_signs_cancel_and_scalar_factors_pass_through_matmul():
    X, y, w = np.ones((4, 3)), np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.1, 0.2, 0.3])
    df = srcad.grad(logistic)
    df(w, X, y)
    adjoint = df.source.split("def logistic_adjoint")[1].split("def ")[0]
    # one expression for the sigmoid/log-loss chain: no `-dp`, no `-dneg`, no copies
    assert "-dp" not in adjoint and "-dneg\n" not in adjoint and "X.T @ (" in adjoint
    assert "dexp = " not in adjoint and "dmatmul = " not in adjoint


# -- regressions ------------------------------------------------------------------------------

def test_final_tuple_lists_only_what_the_optimized_adjoint_reads():
    df = srcad.grad(returns_constant_in_branch)
    assert df(2.0) == 4.0 and df(7.0) == 0.0
    primal = df.source.split("def returns_constant_in_branch_adjoint")[0]
    final = [line for line in primal.splitlines() if "stack.append((" in line]
    assert final and "cond" not in final[-1]
    assert dead_assignments(df.source) == []


@pytest.mark.parametrize("shape", [(3, 1), (1,), (1, 1), (2, 3), ()])
def test_unbroadcast_of_a_scalar_zero(shape):
    from srcad.runtime import unbroadcast
    x = np.ones(shape)
    g = unbroadcast(0.0, x)
    assert np.shape(g) == shape and np.all(np.asarray(g) == 0.0)


def add_both(a, b):
    return np.sum(a + b)


def copy_through(a, b):
    c = a
    return np.sum(c * 2.0) + np.sum(b)


@pytest.mark.parametrize("f, args", [
    (add_both, (np.ones(3), np.ones(3))),
    (add_both, (np.ones((2, 3)), np.ones(3))),
    (copy_through, (np.ones(3), np.ones(3))),
])
def test_returned_gradients_do_not_share_memory(f, args):
    for transform in (srcad.grad, srcad.value_and_grad):
        out = transform(f, wrt=(0, 1))(*args)
        da, db = out[1] if transform is srcad.value_and_grad else out
        assert not np.shares_memory(da, db)
        assert not any(np.shares_memory(g, x) for g in (da, db) for x in args)
        expected = db.copy()
        da *= 0.5           # an in-place update of one gradient leaves the other alone
        np.testing.assert_array_equal(db, expected)


def identity_sum(x):
    y = x
    return y


def test_vjp_gradient_is_not_the_cotangent():
    value, pullback = srcad.vjp(identity_sum)(np.ones(3))
    cotangent = np.array([1.0, 2.0, 3.0])
    g = pullback(cotangent)
    assert not np.shares_memory(g, cotangent)
    np.testing.assert_array_equal(g, cotangent)


def masked_twice(x, m1, m2):
    y = x * m1 + x * m2
    return np.sum(y * 3.0)


def test_a_common_factor_stays_out_of_a_sum_of_boolean_masks():
    # dy * m1 + dy * m2 with a scalar dy became dy * (m2 + m1): the `or` of the masks,
    # [3, 3, 0] where [6, 3, 0] is right
    x = np.array([1.0, 2.0, 3.0])
    m1, m2 = np.array([True, True, False]), np.array([True, False, False])
    np.testing.assert_array_equal(srcad.grad(masked_twice)(x, m1, m2), [6.0, 3.0, 0.0])


def test_a_common_factor_stays_out_of_a_difference_of_comparisons():
    # s = np.maximum(-s, s): ds * ((neg < s) - (neg >= s)) subtracted booleans (seed
    # 13015199), a TypeError in the gradient code
    from fuzz_programs import check_program

    def f(s):
        for _ in range(2):
            s = np.maximum(-s, s)
        return s * 1.5

    assert srcad.grad(f)(np.float64(-0.7)) == pytest.approx(-1.5)
    assert check_program(13015199).status == "ok"


# -- the adjoint grad runs: its seed 1.0 folded in -------------------------------------

def small_ops(x, y):
    a = x * y
    b = np.sin(a) + y
    return 0.5 * np.sum(b * b - x)


def test_grad_folds_its_seed_into_the_adjoint():
    # dsum = dmul * 0.5; db = dsum * (b + b) cost two array operations that the seed
    # 1.0 makes none: db is b
    x, y = np.array([0.3, -1.2, 0.8]), np.array([1.5, 0.4, -0.7])
    g = srcad.grad(small_ops, wrt=(0, 1))
    dx, dy = g(x, y)
    a = x * y
    b = np.sin(a) + y
    da = b * np.cos(a)
    np.testing.assert_allclose(dx, da * y - 0.5, rtol=1e-14)
    np.testing.assert_allclose(dy, da * x + b, rtol=1e-14)
    seeded = g.source.split("def small_ops_adjoint_for_grad(stack):")[1].split("def ")[0]
    assert "da = b * np.cos(a)" in seeded and "dsum" not in seeded and "db" not in seeded
    # small_ops runs straight through: f_grad is the lean primal and that adjoint as one
    fused = g.source.split("def small_ops_grad")[1]
    assert "da = b * np.cos(a)" in fused and "stack" not in fused and "dsum" not in fused
    _, pullback = srcad.vjp(small_ops, wrt=(0, 1))(x, y)     # the general adjoint
    np.testing.assert_allclose(pullback(2.0), (2 * dx, 2 * dy), rtol=1e-14)


def twice_a_mask(x):
    m = x > 0.0
    return np.sum(x * (m + m))      # m + m is m (an `or`), not 2 * m


def test_a_sum_of_a_mask_with_itself_is_no_multiple():
    x = np.array([0.5, -0.3, 1.2])
    np.testing.assert_array_equal(srcad.grad(twice_a_mask)(x), [1.0, 0.0, 1.0])



def mean_over_rows(X, w):
    n = X.shape[0]
    return np.sum(np.tanh(X @ w)) / n + np.sum(w * w) / len(X) / X.size


def test_sizes_of_arrays_are_numbers_so_a_mean_gets_the_seeded_adjoint():
    # X.shape[0], len(X) and X.size are Python ints: the output divided by them is a
    # number, so grad runs the adjoint with its seed folded and the primal without the
    # output's value; no unbroadcast of a number remains
    X = np.array([[0.3, -1.2], [0.8, 0.1], [-0.4, 0.9]])
    w = np.array([0.7, -0.2])
    g = srcad.grad(mean_over_rows, wrt=1)
    dw = g(X, w)
    expected = X.T @ (1.0 - np.tanh(X @ w) ** 2) / 3 + 2 * w / 3 / 6
    np.testing.assert_allclose(dw, expected, rtol=1e-14)
    assert "def mean_over_rows_adjoint_for_grad(stack)" in g.source
    assert "def mean_over_rows_primal_for_grad(" in g.source
    assert "unbroadcast" not in g.source
    _, pullback = srcad.vjp(mean_over_rows, wrt=1)(X, w)
    np.testing.assert_allclose(pullback(2.0), 2 * expected, rtol=1e-14)


def overwrite_a_column_then_a_row(x, W, k):
    buf = W.copy()
    buf[:, k % 4] = W[:, 2]
    buf[1] = x
    return np.sum(buf ** 2)


def test_no_gradient_is_zeroed_that_nothing_reads_after():
    # the column's write zeroed its part of dbuf with `take_at(dbuf, ...)`, a statement
    # for that effect alone, after which the adjoint reads dbuf no more; the row's read
    # its part of dbuf, read no more after, without zeroing it (part_of)
    from oracle import check_grad
    rng = np.random.default_rng(1)
    x, W = rng.normal(size=4), rng.normal(size=(3, 4))
    check_grad(overwrite_a_column_then_a_row, x, W, 2)
    g = srcad.grad(overwrite_a_column_then_a_row)
    g(x, W, 2)
    statements = [line.strip() for line in g.source.splitlines()]
    assert "dx = part_of(dbuf, 1)" in statements
    assert not [s for s in statements if s.startswith(("take_at(", "part_of("))]


def shifted_products(x, y):
    z = np.empty_like(y)
    z[0] = x[0]
    z[1:] = x[1:] * y[:-1]
    return np.sum(z * z)


def test_a_gradient_written_in_place_starts_as_its_first_contribution():
    # dz is updated in place (the writes' adjoints zero their parts of it), so it must
    # be an array the adjoint owns: a sum of products is one, `0.0 + ...` is no longer
    from oracle import check_grad
    x, y = np.arange(1.0, 6.0), np.arange(2.0, 7.0)
    check_grad(shifted_products, x, y)
    g = srcad.grad(shifted_products, wrt=(0, 1))
    g(x, y)
    statements = [line.strip() for line in g.source.splitlines()]
    assert not [s for s in statements if s.startswith("dz = dz +")]
    assert "dz = z * (dsum + dsum)" in statements


def test_gradients_of_parts_of_arrays_keep_their_values():
    # the run-time fast paths: a NumPy number added at an int, a Python float at a
    # slice, into a total still 0.0 and into an array; a part taken and zeroed
    from srcad import runtime
    x = np.arange(4.0)
    total = runtime.add_at(0.0, x, 1, np.float64(2.5))
    assert total.tolist() == [0.0, 2.5, 0.0, 0.0] and total.dtype == np.float64
    assert runtime.add_at(total, x, slice(1, 3), 1.0).tolist() == [0.0, 3.5, 1.0, 0.0]
    part = runtime.take_at(total, slice(1, 3))
    assert part.tolist() == [3.5, 1.0] and total.tolist() == [0.0, 0.0, 0.0, 0.0]
    part[0] = 9.0
    assert total[1] == 0.0      # a copy, not a view
    ints = runtime.add_at(0.0, np.arange(3), 0, np.float64(1.5))
    assert ints.dtype == np.float64 and ints.tolist() == [1.5, 0.0, 0.0]
    assert runtime.unbroadcast(np.float64(2.0), 3.0) == 2.0
    seed = np.ones(3)
    copied = runtime.seed_copy(seed)
    assert copied is not seed and copied.tolist() == [1.0, 1.0, 1.0]


def damped_tanh(x):
    return np.sum(np.tanh(x) * np.exp(-x * x))


def test_a_product_read_once_meets_its_common_factor():
    # `dneg = dmul * x` read once, by `dmul * neg - dneg`: written there, the two
    # products share dmul, which is taken out (`dmul * (neg - x)`): one pass fewer
    from oracle import check_grad
    x = np.linspace(-2.0, 2.0, 7)
    check_grad(damped_tanh, x)
    g = srcad.grad(damped_tanh)
    g(x)
    statements = [line.strip() for line in g.source.splitlines()]
    assert "dx = exp * (tanh * (neg - x) + (1.0 - tanh * tanh))" in statements
    assert not [s for s in statements if s.startswith("dneg =")]


def test_a_factor_inside_a_longer_product_is_taken_out():
    # `tanh * exp * (neg - x) + exp * (...)`: exp, a factor of a product of three, is
    # common to the two terms, and taken out: one multiplication of arrays fewer
    assert optimize._name_factors(gast.parse("a * g * b").body[0].value).keys() == {"a", "g", "b"}
    rest = optimize._name_factors(gast.parse("a * g * b").body[0].value)["g"]
    assert ast.unparse(gast.gast_to_ast(rest)) == "a * b"
    assert optimize._name_factors(gast.parse("a + g").body[0].value) == {}



def overlapping_writes(x):
    z = np.empty_like(x)
    z[1:] = x[1:] * x[:-1]
    z[0:2] = 2.0 * x[:2]        # overwrites z[1]: its adjoint must zero dz there
    return np.sum(z * z)


def rhs(x, y):
    z = np.empty_like(y)
    z[0] = x[0]
    z[1:] = x[1:] * y[:-1]
    return z


def steps_of_rhs(x, y):
    for _ in range(3):
        y = y + 0.1 * rhs(x, y)
    return np.sum(y * y)


def checked_source(f, *args, wrt=(0, 1)):
    """The code of f's gradient, checked against central differences, with f's hvp (of
    its first argument) checked against its Hessian."""
    check_grad(f, *args, wrt=wrt)
    g = srcad.grad(f, wrt=wrt)
    g(*args)
    v = np.ones_like(args[0])
    np.testing.assert_allclose(srcad.hvp(f)(*args, v), srcad.hessian(f)(*args) @ v, rtol=1e-9)
    return g.source


def test_parts_of_a_gradient_read_no_more_are_not_zeroed():
    # rhs's adjoint reads dz[1:] and dz[0], apart, and nothing else of dz: neither read
    # zeroes its part, so its seed dz is no longer copied (seed_copy); where a later
    # write overlaps an earlier one, the earlier's part is still zeroed (take_at)
    rng = np.random.default_rng(3)
    source = checked_source(steps_of_rhs, rng.normal(size=5), rng.normal(size=5))
    assert "dmul = dz[1:]" in source and "dx_0 = dz[0]" in source   # views: see below
    assert "seed_copy" not in source and "take_at" not in source
    x = rng.normal(size=5)
    check_grad(overlapping_writes, x)
    g = srcad.grad(overlapping_writes)
    g(x)
    assert "take_at(dz, slice(0, 2))" in g.source and "part_of(dz, slice(1, None))" in g.source


def parts_of_a_matrix(x, rows):
    y = x[rows, 1:] * np.pi
    z = x[..., :2] + x[-1, None, 1:]
    upper, _ = np.triu_indices(3, 1)
    return np.sum(y * y) + np.sum(z ** 3) * len(upper)


SCALE = np.array([1.0, 2.0j, 3.0])


def parts_times_a_global(x):
    return np.real(np.sum(x[1:] * SCALE[1:]) * (1.0 - 1.0j))


def parts_of_a_complex_product(x):
    z = np.zeros_like(x, dtype=complex)
    z[:] = x
    return np.real(np.sum(z[1:] * z[:-1] * (2.0 + 1.0j)))


def test_gradients_of_parts_of_real_arrays_are_written_in_place():
    # where every value is real, add_at's tests for complex gradients and its call go:
    # the first part's gradient fills zeros, the next ones add into them in place
    rng = np.random.default_rng(4)
    source = checked_source(steps_of_rhs, rng.normal(size=5), rng.normal(size=5))
    assert "add_at" not in source
    assert "dx = np.zeros(x.shape)" in source and "dx[1:] = " in source \
        and "dx[0] += " in source
    m = rng.normal(size=(4, 3))
    check_grad(parts_of_a_matrix, m, 2)
    g = srcad.grad(parts_of_a_matrix)
    g(m, 2)
    assert "add_at" not in g.source and "dx[index, None, 1:] = " in g.source


@pytest.mark.parametrize("f, args", [
    (parts_times_a_global, (np.array([0.5, -1.0, 2.0]),)),
    (parts_of_a_complex_product, (np.array([0.5, -1.0, 2.0]),)),
    (steps_of_rhs, (np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5j, 2.0]))),
    (steps_of_rhs, (np.array([0.5, -1.0, 2.0], dtype=np.longdouble), np.ones(3))),
], ids=["global", "complex value", "complex argument", "long double"])
def test_gradients_of_parts_that_may_be_complex_keep_add_at(f, args):
    # a complex value (from a module-level array, a constant, an argument) may make the
    # gradient of a real part complex, whose real part add_at keeps: no proof, no rewrite
    g = srcad.grad(f)
    got = g(*args)
    assert "add_at" in g.source
    if all(np.isrealobj(a) and a.dtype == np.float64 for a in args):
        check_grad(f, *args)
    else:
        assert got.dtype == np.result_type(args[0].dtype, np.float64)


def midpoint_steps(x, y):
    for _ in range(3):
        k1 = rhs(x, y)
        k2 = rhs(x, y + 0.5 * k1)
        y = y + 0.5 * (k1 + k2)
    return np.sum(y * y)


def test_gradients_a_called_adjoint_makes_with_add_at_need_no_test():
    # rhs's adjoint returns the gradients of x and y made by add_at, arrays of their
    # shapes: where its caller adds them in, `if nonzero_gradient(...)` goes; and the
    # gradient of z[0] = x[0], a number of the part's shape, is no longer unbroadcast
    rng = np.random.default_rng(5)
    source = checked_source(midpoint_steps, rng.normal(size=4), rng.normal(size=4))
    assert "nonzero_gradient" not in source and "unbroadcast" not in source
    # rhs's seed, never the zero 0.0, is read in parts that only arithmetic reads: views
    assert "dmul = dz[1:]" in source and "dx_0 = dz[0]" in source


def overwritten_with_a_constant(x):
    z = np.empty_like(x)
    z[0] = 3.0 * x[0]
    z[1:] = 5.0
    return np.sum(z * z)


def test_a_zeroing_that_nothing_reads_is_no_statement():
    # z[1:] = 5.0 has no gradient to read: its adjoint only zeroed dz[1:], which the
    # adjoint of z[0] = ... then does not read
    from oracle import check_grad
    x = np.array([1.0, 2.0, 3.0])
    check_grad(overwritten_with_a_constant, x)
    g = srcad.grad(overwritten_with_a_constant)
    g(x)
    statements = [line.strip() for line in g.source.splitlines()]
    assert not [s for s in statements if s.startswith(("take_at(", "part_of("))]
