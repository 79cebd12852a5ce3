"""The ten programs of issue 8's table: each must be differentiated right or refused.

Each was a silently wrong gradient (a number and no error). The fuzzer
(tests/fuzz_programs.py) finds every one of them on the code before they
were fixed (commit d8d230a); the program below is the reduced form of what it
found, and the docstring of each test names the run and program seed that
found it (``python tests/fuzz_programs.py --one SEED [--focus ...]`` shows it
on that code, whose rule table the seeds' calls are drawn from).

The oracles are not srcad: central differences in float64 (tests/oracle.py,
which moves an np.matrix or a masked array as itself) and closed forms.
"""
import functools
import inspect
import sys

import numpy as np
import pytest

import srcad
from oracle import assert_tree_allclose, numerical_grad

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")   # np.matrix

X = np.array([0.3, -0.5, 0.8])


def right(compute, expected, rtol=1e-6, atol=1e-6):
    """compute() gives expected: for the rows srcad differentiates, a refusal fails."""
    assert_tree_allclose(compute(), expected, rtol=rtol, atol=atol)


def right_or_refused(compute, expected, rtol=1e-6, atol=1e-6):
    """compute() gives expected, or raises srcad.SrcadError."""
    try:
        got = compute()
    except srcad.SrcadError:
        return
    assert_tree_allclose(got, expected, rtol=rtol, atol=atol)


# 1. a local alias of the NumPy module ----------------------------------------------

def local_module_alias(x):
    xp = np
    return xp.sum(xp.tanh(x))


def test_local_module_alias():
    """Found as seed 41000158 of ``--seed 41 --focus alias``: ``N_ = np`` in f."""
    expected = 1.0 - np.tanh(X) ** 2
    right(lambda: srcad.grad(local_module_alias)(X), expected)
    right(lambda: srcad.jvp(local_module_alias)(X, np.ones(3))[1], np.sum(expected))


# 2. a functools.wraps decorator ------------------------------------------------------

def doubled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return 2.0 * fn(*args, **kwargs)
    return wrapper


@doubled
def decorated(x):
    return np.sum(x * x)


def test_functools_wraps_decorator():
    """Found as seed 12000206 of ``--seed 12``: f under a decorator factory whose wraps
    wrapper scales it (value_and_grad gave the undecorated value)."""
    right(lambda: srcad.grad(decorated)(X), 4.0 * X)
    right(lambda: srcad.value_and_grad(decorated)(X), (2.0 * np.sum(X * X), 4.0 * X))


# 3. sorted over a list of differentiated values ---------------------------------------

def sorted_list(x):
    s = sorted([x, 2 * x, -x])
    return 3 * s[0] + s[2]


def test_sorted_routes_each_gradient_to_its_source():
    """Found as seed 44000240 of ``--focus builtins``: ``L5 = sorted(L4)``, L5 returned."""
    right(lambda: srcad.grad(sorted_list)(0.7), -1.0)
    right(lambda: srcad.grad(sorted_list)(-0.7), 5.0)
    right(lambda: srcad.jvp(sorted_list)(0.7, 1.0)[1], -1.0)


# 4. an np.matrix argument ---------------------------------------------------------------

def matrix_product(W):
    return np.sum(W * W)         # a matrix product for np.matrix


def test_matrix_argument():
    """Found as seed 31000186 of ``--seed 31 --focus inputs``: W an np.matrix (a crash in
    extremum_grad there, as np.max(W, axis=1) keeps two axes)."""
    W = np.matrix([[0.5, -0.2], [0.1, 0.3]])
    expected = numerical_grad(matrix_product, (W,))
    right_or_refused(lambda: np.asarray(srcad.grad(matrix_product)(W)), expected)


# 5. a masked array argument ---------------------------------------------------------------

def masked_mean(x):
    return np.mean(x * x)


def test_masked_array_argument():
    """Found as seed 31000158 of ``--seed 31 --focus inputs``: W a masked array."""
    x = np.ma.array(X, mask=[False, True, False])
    expected = numerical_grad(masked_mean, (x,))
    np.testing.assert_allclose(expected, [0.3, 0.0, 0.8], atol=1e-9)
    right_or_refused(lambda: np.ma.getdata(srcad.grad(masked_mean)(x)), expected)


# 6. an integer NumPy scalar ----------------------------------------------------------------

def sqrt_and_line(x):
    return np.sqrt(x) + 0.5 * x


def test_integer_numpy_scalar_gets_a_float_gradient():
    """Found as seed 45000926 of ``--seed 45 --focus inputs``: s an np.int32 (its gradient
    np.int32(3) for 3.349)."""
    expected = 0.5 / np.sqrt(2.0) + 0.5
    right(lambda: float(srcad.grad(sqrt_and_line)(np.int64(2))), expected)
    right(lambda: float(srcad.grad(sqrt_and_line)(2)), expected)


# 7. a function that returns nothing --------------------------------------------------------

def returns_nothing(x):
    y = x * 2.0     # noqa: F841 - the missing return is the point


def test_function_returning_nothing_is_refused():
    """Found as seed 12000160 of ``--seed 12``: f's body ends without a return."""
    with pytest.raises(srcad.SrcadError):
        srcad.grad(returns_nothing)(X)
    with pytest.raises(srcad.SrcadError):
        srcad.value_and_grad(returns_nothing)(X)


# 8. a custom rule that returns instead of assigning d[x] -----------------------------------

def mysq(x):
    return x * x


def uses_mysq(x):
    return np.sum(mysq(x))


def test_custom_rule_that_returns_is_refused_at_its_line():
    """Found as seed 31000140 of ``--seed 31 --focus custom_rule``: the rule returns."""
    def mysq_adjoint(result, x):
        return d[result] * 2.0 * x      # noqa: F821 - a rule's body is never run

    first, count = inspect.getsourcelines(mysq_adjoint)[1], len(inspect.getsourcelines(
        mysq_adjoint)[0])
    try:
        srcad.adjoint(mysq)(mysq_adjoint)
    except srcad.SrcadError as exc:
        assert first <= exc.lineno < first + count, exc
        return
    try:
        with pytest.raises(srcad.SrcadError) as info:
            srcad.grad(uses_mysq)(X)
        assert first <= info.value.lineno < first + count, info.value
    finally:
        from srcad.rules import ADJOINTS
        ADJOINTS.pop(mysq, None)


# 9. a helper redefined after the first gradient (a notebook re-running a cell) ---------------

def test_helper_redefined_between_two_gradients(tmp_path):
    """Found as seed 12000211 of ``--seed 12``: helper0 redefined by a later cell; the grad
    object made before gave the old helper's gradient."""
    (tmp_path / "notebook_cell1.py").write_text(
        "import numpy as np\n\n"
        "def helper(x):\n    return np.sin(x)\n\n"
        "def f(x):\n    return np.sum(helper(x))\n")
    (tmp_path / "notebook_cell2.py").write_text("def helper(x):\n    return x ** 3\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import notebook_cell1 as nb
    finally:
        sys.path.remove(str(tmp_path))
    grad_before = srcad.grad(nb.f)
    vag_before = srcad.value_and_grad(nb.f)
    np.testing.assert_allclose(grad_before(X), np.cos(X))
    vag_before(X)
    cell = tmp_path / "notebook_cell2.py"
    exec(compile(cell.read_text(), str(cell), "exec"), nb.__dict__)
    expected = 3.0 * X ** 2
    right(lambda: srcad.grad(nb.f)(X), expected)
    right(lambda: grad_before(X), expected)
    right(lambda: vag_before(X), (np.sum(X ** 3), expected))
    right(lambda: srcad.value_and_grad(nb.f)(X), (np.sum(X ** 3), expected))
    sys.modules.pop("notebook_cell1", None)


# 10. jvp of a function that indexes the result of a grad object -----------------------------

def cube(b):
    return b ** 3


cube_grads = srcad.grad(cube, wrt=(0,))


def first_of_grads(s):
    return cube_grads(s)[0]


def test_jvp_through_an_indexed_grad_object():
    """Found as seed 31000110 of ``--seed 31 --focus transform``: ``g_1 = srcad.grad(tfs,
    wrt=(0,))`` and ``g_1(s)[0]`` in f (jvp crashed on the 1-tuple tangent)."""
    value_and_tangent = (0.75, 3.0)        # 3 s**2 and 6 s at s = 0.5
    right(lambda: srcad.jvp(first_of_grads)(0.5, 1.0), value_and_tangent)
    right(lambda: srcad.grad(first_of_grads)(0.5), 3.0)
