"""Oracles shared by the srcad test suite.

Everything here is independent of srcad's implementation:

* ``numerical_grad`` / ``numerical_vjp``: five-point central finite
  differences in float64, for Python float/int arguments, ndarray arguments
  and tuple/list/dict containers of them (nested).
* ``check_grad`` / ``check_vjp`` / ``check_value_and_grad``: run srcad and
  compare with the finite differences, checking the gradient's type, shape
  and dtype kind against the argument it belongs to.
* ``autograd_grad`` / ``check_against_autograd``: the same function run by
  autograd (its globals rebound so that ``np`` is ``autograd.numpy``), for
  functions without in-place writes.
* ``line_of``: the absolute line number of a marked line of a function, for
  the error-location tests.
* ``dead_assignments``: names bound by an assignment in generated source and
  never read anywhere in it.
* Hypothesis strategies for shapes and arrays whose values stay away from
  kinks and domain edges.
"""

import ast
import copy
import inspect
import numbers
import types

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Relative step of the finite differences. The five-point stencil has a
# truncation error O(h**4) and a rounding error O(eps * |f| / h); with
# h = 1e-4 both are far below the default tolerances of 1e-6. Test inputs
# must keep at least 1e-3 away from kinks and branch boundaries.
FD_STEP = 1e-4


# ---------------------------------------------------------------------------
# Argument selection
# ---------------------------------------------------------------------------

def wrt_positions(f, wrt):
    """``(positions, is_tuple)`` for a ``wrt`` of int, str or a tuple of them."""
    multi = isinstance(wrt, tuple)
    items = wrt if multi else (wrt,)
    params = list(inspect.signature(f).parameters)
    positions = []
    for item in items:
        if isinstance(item, str):
            positions.append(params.index(item))
        elif isinstance(item, numbers.Integral) and not isinstance(item, bool):
            positions.append(int(item) if item >= 0 else len(params) + int(item))
        else:
            raise TypeError(f"bad wrt item {item!r}")
    return tuple(positions), multi


def _is_scalar_leaf(x):
    return (isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))
            and not isinstance(x, np.ndarray))


def _to_scalar(out):
    """The float value of a scalar output (Python or NumPy scalar, 0-d array)."""
    if np.ndim(out) != 0:
        raise AssertionError(f"expected a scalar output, got shape {np.shape(out)}")
    return float(out)


# ---------------------------------------------------------------------------
# Finite differences
# ---------------------------------------------------------------------------

def _derivative(g, x0, step=FD_STEP):
    """Five-point central difference of a scalar function g at float x0."""
    h = step * max(1.0, abs(x0))
    return (g(x0 - 2 * h) - 8.0 * g(x0 - h) + 8.0 * g(x0 + h) - g(x0 + 2 * h)) / (12.0 * h)


def _replace(container, key, value):
    if isinstance(container, dict):
        new = dict(container)
        new[key] = value
        return new
    items = list(container)
    items[key] = value
    return type(container)(items)


def _num_grad_struct(scalar_fn, x, step=FD_STEP):
    """Gradient of scalar_fn at x, x a leaf or a (nested) tuple/list/dict.

    An ndarray subclass (np.matrix, a masked array) is moved as itself, in
    float64: only its data changes, so that f sees the same kind of value."""
    if isinstance(x, np.ndarray):
        base = x.astype(np.float64)
        g = np.zeros(base.shape)
        for idx in np.ndindex(base.shape):
            def at(v, idx=idx):
                a = base.copy()
                np.asarray(a.data if isinstance(a, np.ma.MaskedArray) else a)[idx] = v
                return scalar_fn(a)
            g[idx] = _derivative(at, float(np.asarray(base)[idx]), step)
        return g
    if _is_scalar_leaf(x):
        return float(_derivative(scalar_fn, float(x), step))
    if isinstance(x, (tuple, list)):
        return type(x)(
            _num_grad_struct(lambda v, i=i: scalar_fn(_replace(x, i, v)), x[i], step)
            for i in range(len(x)))
    if isinstance(x, dict):
        return {k: _num_grad_struct(lambda v, k=k: scalar_fn(_replace(x, k, v)), x[k], step)
                for k in x}
    raise TypeError(f"cannot take a numerical gradient with respect to {type(x).__name__}")


def _numerical(f, args, wrt, scalarize, step=FD_STEP):
    args = tuple(args)
    positions, multi = wrt_positions(f, wrt)
    grads = []
    for p in positions:
        def scalar_fn(v, p=p):
            call_args = list(copy.deepcopy(args))
            call_args[p] = v
            return scalarize(f(*call_args))
        grads.append(_num_grad_struct(scalar_fn, args[p], step))
    return tuple(grads) if multi else grads[0]


def numerical_grad(f, args, wrt=0, step=FD_STEP):
    """Finite-difference gradient of scalar-valued ``f(*args)`` w.r.t. ``wrt``.

    Returns the same structure srcad.grad promises: a float for a float/int
    argument, a float64 ndarray for an ndarray, the same tuple/list/dict for
    a container, and a tuple of those when ``wrt`` is a tuple.
    """
    return _numerical(f, args, wrt, _to_scalar, step)


def inner(cotangent, out):
    """Sum of elementwise products of two matching structures of arrays/floats."""
    if isinstance(out, (tuple, list)):
        assert isinstance(cotangent, (tuple, list)) and len(cotangent) == len(out)
        return sum(inner(c, o) for c, o in zip(cotangent, out))
    if isinstance(out, dict):
        return sum(inner(cotangent[k], out[k]) for k in out)
    return float(np.sum(np.asarray(cotangent, dtype=np.float64) * np.asarray(out, dtype=np.float64)))


def numerical_vjp(f, args, cotangent, wrt=0, step=FD_STEP):
    """Finite-difference vector-Jacobian product: gradient of <cotangent, f(*args)>."""
    return _numerical(f, args, wrt, lambda out: inner(cotangent, out), step)


def tree_map(fn, *trees):
    """fn applied leaf by leaf to matching tuple/list/dict structures."""
    first = trees[0]
    if isinstance(first, (tuple, list)):
        return type(first)(tree_map(fn, *parts) for parts in zip(*trees))
    if isinstance(first, dict):
        return {k: tree_map(fn, *(t[k] for t in trees)) for k in first}
    return fn(*trees)


def numerical_jvp(f, args, positions, tangents, step=FD_STEP):
    """Five-point directional difference of f(*args) as the arguments at `positions`
    move along `tangents` (the same structures as those arguments)."""
    h = step

    def at(t):
        moved = list(copy.deepcopy(tuple(args)))
        for p, v in zip(positions, tangents):
            moved[p] = tree_map(lambda a, dv: a + t * dv if not isinstance(a, np.ndarray) else
                                _moved(a, t * np.asarray(dv)), moved[p], v)
        return f(*moved)

    outs = [at(t) for t in (-2 * h, -h, h, 2 * h)]
    weights = [1 / (12 * h), -8 / (12 * h), 8 / (12 * h), -1 / (12 * h)]
    return tree_map(lambda *o: sum(w * np.asarray(v, dtype=np.float64)
                                   for w, v in zip(weights, o)), *outs)


def _moved(a, delta):
    """a + delta for an array, keeping its kind (a masked array keeps its mask)."""
    moved = a.astype(np.float64)
    np.asarray(moved.data if isinstance(moved, np.ma.MaskedArray) else moved)[...] += delta
    return moved


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------

def assert_grad_like(got, arg, path="gradient"):
    """``got`` has the type, shape and dtype kind promised for argument ``arg``."""
    if isinstance(arg, np.ndarray):
        assert isinstance(got, np.ndarray), (
            f"{path}: expected an ndarray for an ndarray argument, got {type(got).__name__}")
        assert got.shape == arg.shape, f"{path}: shape {got.shape} != argument shape {arg.shape}"
        if arg.dtype.kind == "f":
            assert got.dtype.kind == "f", f"{path}: dtype {got.dtype} is not a float dtype"
    elif _is_scalar_leaf(arg):
        assert isinstance(got, float) and not isinstance(got, np.ndarray), (
            f"{path}: expected a float for a {type(arg).__name__} argument, "
            f"got {type(got).__name__}")
    elif isinstance(arg, (tuple, list)):
        assert type(got) is type(arg), (
            f"{path}: expected a {type(arg).__name__}, got {type(got).__name__}")
        assert len(got) == len(arg), f"{path}: length {len(got)} != {len(arg)}"
        for i, (g, a) in enumerate(zip(got, arg)):
            assert_grad_like(g, a, f"{path}[{i}]")
    elif isinstance(arg, dict):
        assert isinstance(got, dict), f"{path}: expected a dict, got {type(got).__name__}"
        assert set(got) == set(arg), f"{path}: keys {sorted(got)} != {sorted(arg)}"
        for k in arg:
            assert_grad_like(got[k], arg[k], f"{path}[{k!r}]")
    else:
        raise TypeError(f"unexpected argument type {type(arg).__name__}")


def assert_tree_allclose(got, expected, rtol=1e-6, atol=1e-6, path="gradient"):
    """Same structure and elementwise close (|got - expected| <= atol + rtol*|expected|)."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(expected), (
            f"{path}: structure {type(got).__name__} does not match {type(expected).__name__}"
            f" of length {len(expected)}")
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_tree_allclose(g, e, rtol, atol, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), f"{path}: keys differ"
        for k in expected:
            assert_tree_allclose(got[k], expected[k], rtol, atol, f"{path}[{k!r}]")
    else:
        assert np.shape(got) == np.shape(expected), (
            f"{path}: shape {np.shape(got)} != {np.shape(expected)}")
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                                   np.asarray(expected, dtype=np.float64),
                                   rtol=rtol, atol=atol, err_msg=path)


def assert_args_unchanged(args, before):
    """The transformed function must not modify its caller's arguments."""
    for i, (a, b) in enumerate(zip(args, before)):
        if isinstance(b, (np.ndarray, float, int, tuple, list, dict)):
            assert_tree_allclose(a, b, rtol=0, atol=0, path=f"argument {i} after the call")


def _expected_like(positions, multi, args, grads, rtol, atol, got):
    if multi:
        assert isinstance(got, tuple), (
            f"wrt is a tuple: expected a tuple of gradients, got {type(got).__name__}")
        assert len(got) == len(positions), f"expected {len(positions)} gradients, got {len(got)}"
        for k, p in enumerate(positions):
            assert_grad_like(got[k], args[p], f"gradient[{k}] (argument {p})")
    else:
        assert_grad_like(got, args[positions[0]])
    assert_tree_allclose(got, grads, rtol, atol)


def check_grad(f, *args, wrt=0, rtol=1e-6, atol=1e-6):
    """srcad.grad(f, wrt=wrt)(*args) matches finite differences in value and type.

    Returns srcad's gradient so that a test can check more about it.
    """
    import srcad

    before = copy.deepcopy(args)
    got = srcad.grad(f, wrt=wrt)(*args)
    assert_args_unchanged(args, before)
    expected = numerical_grad(f, args, wrt)
    positions, multi = wrt_positions(f, wrt)
    _expected_like(positions, multi, args, expected, rtol, atol, got)
    return got


def check_value_and_grad(f, *args, wrt=0, rtol=1e-6, atol=1e-6):
    """srcad.value_and_grad returns f's value and the finite-difference gradient."""
    import srcad

    value, got = srcad.value_and_grad(f, wrt=wrt)(*args)
    expected_value = f(*copy.deepcopy(args))
    np.testing.assert_allclose(float(value), float(expected_value), rtol=1e-12, atol=1e-12)
    expected = numerical_grad(f, args, wrt)
    positions, multi = wrt_positions(f, wrt)
    _expected_like(positions, multi, args, expected, rtol, atol, got)
    return value, got


def check_vjp(f, args, cotangent, wrt=0, rtol=1e-6, atol=1e-6):
    """srcad.vjp returns f's value and a pullback matching finite differences."""
    import srcad

    args = tuple(args)
    value, pullback = srcad.vjp(f, wrt=wrt)(*args)
    assert_tree_allclose(value, f(*copy.deepcopy(args)), rtol=1e-12, atol=1e-12, path="value")
    got = pullback(cotangent)
    expected = numerical_vjp(f, args, cotangent, wrt)
    positions, multi = wrt_positions(f, wrt)
    _expected_like(positions, multi, args, expected, rtol, atol, got)
    return value, got


# ---------------------------------------------------------------------------
# autograd as a second, independent oracle
# ---------------------------------------------------------------------------

def with_globals(f, **replacements):
    """A copy of f whose global names are rebound (e.g. np=autograd.numpy)."""
    g = dict(f.__globals__)
    g.update(replacements)
    clone = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
    clone.__kwdefaults__ = f.__kwdefaults__
    return clone


def _float_converter():
    def conv(x):
        if isinstance(x, np.ndarray):
            return x.astype(np.float64) if x.dtype.kind in "iu" else x
        if isinstance(x, tuple) or isinstance(x, list):
            return type(x)(conv(v) for v in x)
        if isinstance(x, dict):
            return {k: conv(v) for k, v in x.items()}
        if isinstance(x, numbers.Integral) and not isinstance(x, bool):
            return float(x)
        return x
    return conv


def autograd_grad(f, args, wrt=0):
    """autograd's gradient of f (with np rebound to autograd.numpy)."""
    import autograd
    import autograd.numpy as anp

    fa = with_globals(f, np=anp)
    positions, multi = wrt_positions(f, wrt)
    args = list(args)
    conv = _float_converter()
    for p in positions:
        args[p] = conv(args[p])
    grads = tuple(autograd.grad(fa, argnum=p)(*args) for p in positions)
    return grads if multi else grads[0]


def check_against_autograd(f, *args, wrt=0, rtol=1e-9, atol=1e-12):
    """srcad.grad agrees with autograd on a function without in-place writes."""
    import srcad

    got = srcad.grad(f, wrt=wrt)(*args)
    expected = autograd_grad(f, args, wrt)
    positions, multi = wrt_positions(f, wrt)
    _expected_like(positions, multi, args, expected, rtol, atol, got)
    return got


# ---------------------------------------------------------------------------
# Source helpers
# ---------------------------------------------------------------------------

def line_of(f, marker):
    """Absolute line number (in f's file) of the first line of f containing marker."""
    lines, start = inspect.getsourcelines(f)
    for i, line in enumerate(lines):
        if marker in line:
            return start + i
    raise AssertionError(f"marker {marker!r} not found in the source of {f.__name__}")


def _target_names(target):
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for elt in target.elts:
            yield from _target_names(elt)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def dead_assignments(source):
    """Names bound by an assignment statement in ``source`` but never read anywhere.

    Only plain name targets of ``=``, augmented and annotated assignments and
    ``:=`` count as bindings (loop variables and imports do not); a read is
    any ``Name`` in load context anywhere in the module, so a name assigned in
    the primal and read in the adjoint counts as read. ``_`` is exempt.
    """
    tree = ast.parse(source)
    assigned = {}
    loaded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                for name in _target_names(t):
                    assigned.setdefault(name, node.lineno)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            for name in _target_names(node.target):
                assigned.setdefault(name, node.lineno)
        elif isinstance(node, ast.NamedExpr):
            assigned.setdefault(node.target.id, node.lineno)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Load, ast.Del)):
            loaded.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            loaded.update(node.names)
    return sorted((name, line) for name, line in assigned.items()
                  if name not in loaded and name != "_")


# ---------------------------------------------------------------------------
# Hypothesis strategies
# ---------------------------------------------------------------------------

def floats(lo, hi):
    """Finite floats in [lo, hi]."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def signed(lo, hi):
    """Floats with magnitude in [lo, hi] and either sign (away from zero)."""
    return st.tuples(st.sampled_from([-1.0, 1.0]), floats(lo, hi)).map(lambda t: t[0] * t[1])


def shapes(min_dims=0, max_dims=2, max_side=4):
    """Array shapes with 0..2 axes of length 1..4."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def arrays(shape, elements=None):
    """float64 arrays of the given shape (or shape strategy)."""
    if elements is None:
        elements = floats(-2.0, 2.0)
    return hnp.arrays(np.float64, shape, elements=elements)


def broadcast_pairs(max_dims=2, max_side=3):
    """Pairs of mutually broadcastable shapes (0-d, 1-d and 2-d)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


def distinct_arrays(shape):
    """float64 arrays whose elements differ pairwise by at least 0.1 (no ties for max/min)."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-30, 30), unique=True).map(
        lambda a: a.astype(np.float64) * 0.1 + 0.05)


# ---------------------------------------------------------------------------
# Generated source shown in the docs
# ---------------------------------------------------------------------------

def fenced_block(text, first_line):
    """The body of the first ```python block of text that starts with first_line."""
    start = text.index("```python\n" + first_line) + len("```python\n")
    return text[start:text.index("```", start)].strip()


def assert_same_source(shown, generated):
    """The same code and comments; the same text where ast.unparse prints it the same way
    (Python 3.10 brackets tuple targets, later versions do not)."""
    import sys

    def comments(text):
        return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]

    assert comments(shown) == comments(generated)
    assert ast.dump(ast.parse(shown)) == ast.dump(ast.parse(generated))
    if sys.version_info >= (3, 11):
        assert shown == generated
