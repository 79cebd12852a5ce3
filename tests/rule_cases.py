"""One table of test cases for every derivative rule, and the checks run on each.

A test module registers its cases with `case(...)`, then runs them with
`run(case)`. Each case names the primitives it checks; the coverage test
(test_coverage.py) and `python -m srcad rules` read this table, so a rule
without a case is reported and fails the suite.

`run` checks, on hypothesis-drawn arguments:

* reverse mode: srcad.vjp's pullback of a random cotangent against central
  finite differences in float64;
* forward mode: the dot-product identity <J v, u> = <v, J^T u> between
  srcad.jvp and srcad.vjp, for random v and u;
* optionally autograd's vector-Jacobian product (where autograd has the rule);
* for `hvp=True` cases, the Hessian-vector product (forward mode over the
  generated reverse code) against finite differences of srcad.grad, which is
  what checks the forward rules of srcad's own runtime helpers.
"""
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import srcad
from oracle import assert_tree_allclose, check_vjp, floats, inner, signed, wrt_positions

CASES = []
NUMPY2 = np.lib.NumpyVersion(np.__version__) >= "2.0.0"   # cases of NumPy 2 features


class Case:
    def __init__(self, primitives, f, args, wrt=0, forward=True, autograd=False,
                 examples=None, rtol=1e-6, atol=1e-6, hvp=False, name=None, module=None):
        self.primitives = list(primitives) if isinstance(primitives, (list, tuple)) \
            else [primitives]
        self.f, self.args, self.wrt = f, args, wrt
        self.forward, self.autograd, self.hvp = forward, autograd, hvp
        self.examples, self.rtol, self.atol = examples, rtol, atol
        self.name = name or f.__name__
        self.module = module

    def __repr__(self):
        return self.name

    @property
    def test_id(self):
        """The pytest node id of the test that runs this case."""
        test = "test_hvp" if self.hvp else "test_rule"
        return f"tests/{self.module}.py::{test}[{self.name}]"


def case(primitives, f, args, **options):
    """Register a case: f calls the primitive(s); args is a strategy drawing f's arguments."""
    module = sys._getframe(1).f_globals["__name__"].rsplit(".", 1)[-1]
    c = Case(primitives, f, args, module=module, **options)
    assert all(c.name != other.name or c.module != other.module for other in CASES), c.name
    CASES.append(c)
    return c


def cases_of(module):
    module = module.rsplit(".", 1)[-1]
    return [c for c in CASES if c.module == module and not c.hvp]


def hvp_cases_of(module):
    module = module.rsplit(".", 1)[-1]
    return [c for c in CASES if c.module == module and c.hvp]


# -- strategies ---------------------------------------------------------------------

ANY = floats(-2.0, 2.0)
POSITIVE = floats(0.2, 3.0)
NONZERO = signed(0.2, 2.0)
UNIT = floats(-0.9, 0.9)


def shapes(min_dims=0, max_dims=3, max_side=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def arrays(shape, elements=ANY):
    """float64 arrays of a shape (or shape strategy)."""
    return hnp.arrays(np.float64, shape, elements=elements)


def distinct(shape):
    """Arrays whose elements differ pairwise by at least 0.1 (no ties, no zeros)."""
    return hnp.arrays(np.int64, shape, elements=st.integers(-25, 25), unique=True).map(
        lambda a: a.astype(np.float64) * 0.1 + 0.05)


def one(elements=ANY, min_dims=0, max_dims=3):
    """(x,) for an array x of any shape."""
    return st.tuples(arrays(shapes(min_dims, max_dims), elements))


def broadcasting(first=ANY, second=ANY, max_dims=3):
    """(x, y) of mutually broadcastable shapes."""
    pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims,
                                              min_side=1, max_side=3)
    return pairs.flatmap(lambda s: st.tuples(arrays(s.input_shapes[0], first),
                                             arrays(s.input_shapes[1], second)))


def fixed(*args):
    return st.just(args)


def well_conditioned(n):
    """A symmetric positive definite n x n matrix B @ B.T + n * I."""
    return arrays((n, n), floats(-1.0, 1.0)).map(lambda b: b @ b.T + n * np.eye(n))


# -- checks -----------------------------------------------------------------------------


def _random_like(rng, value):
    if isinstance(value, (tuple, list)):
        return type(value)(_random_like(rng, v) for v in value)
    if np.ndim(value) == 0 and not isinstance(value, np.ndarray):
        return float(rng.uniform(-1.0, 1.0))
    return rng.uniform(-1.0, 1.0, np.shape(value))


def _check_one(c, args, seed):
    rng = np.random.default_rng(seed)
    positions, multi = wrt_positions(c.f, c.wrt)
    value = c.f(*args)
    u = _random_like(rng, value)
    # reverse mode against finite differences
    _, jtu = check_vjp(c.f, args, u, wrt=c.wrt, rtol=c.rtol, atol=c.atol)
    jtu = jtu if multi else (jtu,)
    if c.forward:
        v = [_random_like(rng, args[p]) for p in positions]
        forward_value, jv = srcad.jvp(c.f, wrt=c.wrt)(*args, *v)
        assert_tree_allclose(forward_value, value, rtol=1e-12, atol=1e-12, path="jvp value")
        lhs, rhs = inner(u, jv), sum(inner(vi, gi) for vi, gi in zip(v, jtu))
        scale = max(1.0, abs(lhs), abs(rhs))
        assert abs(lhs - rhs) <= 1e-9 * scale, f"<u, J v> = {lhs} but <v, J^T u> = {rhs}"
    if c.autograd:
        _check_autograd(c, args, u, positions, jtu)


def _autograd_version(f):
    """f with np bound to autograd.numpy, in its globals and in its closure."""
    import types

    import autograd.numpy as anp

    def swap(value):
        for space, mirror in ((np, anp), (np.linalg, anp.linalg), (np.fft, anp.fft)):
            name = getattr(value, "__name__", None)
            if name and getattr(space, name, None) is value and hasattr(mirror, name):
                return getattr(mirror, name)
        return value

    closure = f.__closure__ and tuple(types.CellType(swap(c.cell_contents))
                                      for c in f.__closure__)
    g = dict(f.__globals__, np=anp)
    return types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, closure)


def _check_autograd(c, args, u, positions, jtu):
    import autograd

    fa = _autograd_version(c.f)
    for p, got in zip(positions, jtu):
        try:
            pullback, _ = autograd.make_vjp(fa, argnum=p)(*args)
            expected = pullback(np.asarray(u))
        except (NotImplementedError, TypeError, ValueError):
            return      # autograd has no rule, or none for these arguments
        np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                                   np.real(np.asarray(expected)), rtol=1e-8, atol=1e-10,
                                   err_msg="autograd's vjp")


def run(c):
    """Check one case on drawn arguments (see the module docstring)."""
    @settings(max_examples=c.examples or settings.default.max_examples)
    @given(args=c.args, seed=st.integers(0, 2 ** 31))
    def check(args, seed):
        _check_one(c, tuple(args), seed)

    check()


def run_hvp(c):
    """The Hessian-vector product of scalar c.f against finite differences of its gradient,
    and each helper the case names appears in the generated gradient (for the kinds of
    the drawn arguments)."""
    @settings(max_examples=c.examples or 5)
    @given(args=c.args, seed=st.integers(0, 2 ** 31))
    def check(args, seed):
        rng = np.random.default_rng(seed)
        x, rest = args[0], tuple(args[1:])
        v = _random_like(rng, x)
        got = srcad.hvp(c.f)(x, *rest, v)
        h = 1e-5
        grad = srcad.grad(c.f)
        expected = (np.asarray(grad(x + h * v, *rest)) - np.asarray(grad(x - h * v, *rest))) \
            / (2 * h)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        for helper in c.primitives:
            assert f"{helper.__name__}(" in grad.source, \
                f"{helper.__name__} not in grad(f).source"

    check()
