"""The rule table in float32: every case's pullback keeps float32 and the values hold.

Each case of the rule table (rule_cases.py) runs on hypothesis-drawn arguments
with its float64 arrays made float32. srcad's vector-Jacobian product must
give float32 gradients for them, and agree with central finite differences
of the same function at the same (float32-rounded) values in float64, to
float32's tolerance relative to the gradient's size. Cases over complex
numbers, integers or NumPy functions that compute in float64 whatever they
are given (the gradient of a float64 result is float64) are left out.
"""
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
from oracle import numerical_vjp, wrt_positions
from rule_cases import CASES

CASES32 = [c for c in CASES if not c.hvp]


def as32(value):
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    if isinstance(value, (list, tuple)):
        return type(value)(as32(v) for v in value)
    return value


def as64(value):
    if isinstance(value, np.ndarray) and value.dtype == np.float32:
        return value.astype(np.float64)
    if isinstance(value, (list, tuple)):
        return type(value)(as64(v) for v in value)
    return value


def random_like(rng, value):
    """A float32 cotangent of value's structure."""
    if isinstance(value, (list, tuple)):
        return type(value)(random_like(rng, v) for v in value)
    if isinstance(value, np.ndarray):
        return rng.uniform(-1.0, 1.0, value.shape).astype(np.float32)
    return float(rng.uniform(-1.0, 1.0))


def leaves(tree):
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in leaves(t)]
    return [tree]


@pytest.mark.parametrize("c", CASES32, ids=repr)
def test_rule_in_float32(c):
    @settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
    @given(args=c.args, seed=st.integers(0, 2 ** 31))
    def check(args, seed):
        args32 = as32(tuple(args))
        positions, multi = wrt_positions(c.f, c.wrt)
        if not any(isinstance(args32[p], np.ndarray) and args32[p].dtype == np.float32
                   for p in positions):
            return
        try:
            value = c.f(*args32)
        except (TypeError, ValueError, np.linalg.LinAlgError):
            return      # a NumPy function that takes no float32 (or these values)
        if any(np.iscomplexobj(v) for v in leaves(value)) \
                or any(isinstance(v, np.ndarray) and v.dtype == np.float64
                       for v in leaves(value)):
            return      # complex results, or NumPy computed in float64 itself
        cotangent = random_like(np.random.default_rng(seed), value)
        _, pullback = srcad.vjp(c.f, wrt=c.wrt)(*args32)
        got = pullback(cotangent)
        expected = numerical_vjp(c.f, as64(args32), as64(cotangent), c.wrt)
        got, expected = (got, expected) if multi else ((got,), (expected,))
        for p, g, e in zip(positions, got, expected):
            if isinstance(args32[p], np.ndarray) and args32[p].dtype == np.float32:
                assert isinstance(g, np.ndarray) and g.dtype == np.float32, \
                    (c.name, p, type(g), getattr(g, "dtype", None))
            g64, e64 = np.asarray(leaves(g) if isinstance(g, list) else g, dtype=np.float64), \
                np.asarray(leaves(e) if isinstance(e, list) else e, dtype=np.float64)
            scale = 1.0 + float(np.max(np.abs(e64), initial=0.0))
            assert np.max(np.abs(g64 - e64), initial=0.0) <= 2e-3 * scale, (c.name, p, g, e)

    check()
