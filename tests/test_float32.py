"""The rule table and the construct suite in float32: gradients keep float32, values hold.

Each case of the rule table (rule_cases.py) runs on hypothesis-drawn arguments,
and each function of the construct suite (test_identity.py) at its points,
with the float64 arrays made float32. srcad's vector-Jacobian product must
give float32 gradients for them, and agree with central finite differences
of the same function at the same (float32-rounded) values in float64, to
float32's tolerance relative to the gradient's size. Cases over complex
numbers, integers or NumPy functions that compute in float64 whatever they
are given (the gradient of a float64 result is float64) are left out.
"""
import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srcad
import test_rules_builtins  # noqa: F401 - each registers its cases
import test_rules_constructors  # noqa: F401
import test_rules_elementwise  # noqa: F401
import test_rules_linalg  # noqa: F401
import test_rules_reductions  # noqa: F401
import test_rules_shape  # noqa: F401
from test_identity import CASES as CONSTRUCTS, _ids
from oracle import numerical_vjp, wrt_positions
from rule_cases import CASES

CASES32 = [c for c in CASES if not c.hvp]


def recast(value, source, target):
    """value with its arrays of dtype source made target, in lists, tuples and dicts too."""
    if isinstance(value, np.ndarray) and value.dtype == source:
        return value.astype(target)
    if isinstance(value, dict):
        return {k: recast(v, source, target) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(recast(v, source, target) for v in value)
    return value


def as32(value):
    return recast(value, np.float64, np.float32)


def as64(value):
    return recast(value, np.float32, np.float64)


def random_like(rng, value):
    """A float32 cotangent of value's structure."""
    if isinstance(value, dict):
        return {k: random_like(rng, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(random_like(rng, v) for v in value)
    if isinstance(value, np.ndarray):
        return rng.uniform(-1.0, 1.0, value.shape).astype(np.float32)
    return float(rng.uniform(-1.0, 1.0))


def leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in leaves(t)]
    return [tree]


def check_float32(f, args, wrt, seed):
    """srcad's pullback of f at args made float32: float32 gradients for float32 arrays,
    and float64 central differences at the same rounded values to float32's tolerance."""
    args32 = as32(tuple(args))
    positions, multi = wrt_positions(f, wrt)
    if not any(isinstance(args32[p], np.ndarray) and args32[p].dtype == np.float32
               for p in positions):
        return
    try:
        value = f(*copy.deepcopy(args32))
    except (TypeError, ValueError, np.linalg.LinAlgError):
        return      # a NumPy function that takes no float32 (or these values)
    if any(np.iscomplexobj(v) for v in leaves(value)) \
            or any(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in leaves(value)):
        return      # complex results, or NumPy computed in float64 itself
    cotangent = random_like(np.random.default_rng(seed), value)
    _, pullback = srcad.vjp(f, wrt=wrt)(*copy.deepcopy(args32))
    got = pullback(cotangent)
    expected = numerical_vjp(f, as64(args32), as64(cotangent), wrt)
    got, expected = (got, expected) if multi else ((got,), (expected,))
    for p, g, e in zip(positions, got, expected):
        for x, gx in zip(leaves(args32[p]), leaves(g)):
            if isinstance(x, np.ndarray) and x.dtype == np.float32:
                assert isinstance(gx, np.ndarray) and gx.dtype == np.float32, \
                    (f.__name__, p, type(gx), getattr(gx, "dtype", None))
        g64 = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in leaves(g)])
        e64 = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in leaves(e)])
        scale = 1.0 + float(np.max(np.abs(e64), initial=0.0))
        assert np.max(np.abs(g64 - e64), initial=0.0) <= 2e-3 * scale, (f.__name__, p, g, e)


@pytest.mark.parametrize("f, args, wrt", CONSTRUCTS, ids=_ids())
def test_construct_in_float32(f, args, wrt):
    check_float32(f, args, wrt, seed=0)


@pytest.mark.parametrize("c", CASES32, ids=repr)
def test_rule_in_float32(c):
    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(args=c.args, seed=st.integers(0, 2 ** 31))
    def check(args, seed):
        check_float32(c.f, args, c.wrt, seed)

    check()
