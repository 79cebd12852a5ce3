"""The entry points grad and value_and_grad run from their second call on (api._entry):
one per kind of arguments, each checking its kind inline. Calls alternating
between kinds, and parameters named like the entry point's own names, give the
gradients finite differences give."""
import numpy as np
import pytest

import srcad
from oracle import numerical_grad


ALTERNATING = [(2.0, 3.0), (np.float32(2.0), 3.0), (2, 3.0), (np.array([1.0, 2.0]), 3.0),
               (np.array([1.0, 2.0, 4.0]), 3.0), (np.array([1.0, 2.0], np.float32), 3.0),
               (np.array([[1.0], [2.0]]).T, 0.5), ([1.0, 2.0], 3.0), (2.0, 3.0),
               (np.array([1.0, 2.0]), np.array([3.0, 0.5])),
               (np.array([1.0, 2.0]), np.array([3.0]))]


def summed(x, y):
    return np.sum(np.asarray(x) * np.asarray(x) * y) + 3.0 * np.sum(y)


@pytest.mark.parametrize("wrt", [0, 1, (0, 1), (1,)])
def test_calls_alternating_between_kinds(wrt):
    g = srcad.grad(summed, wrt=wrt)
    vg = srcad.value_and_grad(summed, wrt=wrt)
    several = isinstance(wrt, tuple)
    for _ in range(2):
        for args in ALTERNATING:
            exact = tuple(np.float64(a) if isinstance(a, np.float32) else
                          a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args)
            expected = numerical_grad(summed, exact, wrt=wrt)
            value, again = vg(*args)
            assert value == pytest.approx(summed(*args))
            for got in (g(*args), again):
                assert isinstance(got, tuple) == several
                parts = (got, expected, wrt) if several else ((got,), (expected,), (wrt,))
                for r, e, i in zip(*parts):
                    assert np.shape(r) == np.shape(args[i])
                    if type(args[i]) is float:
                        assert type(r) is float
                    np.testing.assert_allclose(r, e, rtol=1e-4, atol=1e-6)


def of_parts(p):
    a, b = (p["a"], p["b"]) if isinstance(p, dict) else (p[0], p[1])
    return np.sum(np.asarray(a) * np.asarray(b)) + np.sum(np.asarray(b) ** 2)


CONTAINERS = [{"a": 1.0, "b": [2.0, 3.0]}, {"b": [2.0, 3.0], "a": 1.0},
              {"a": 1.0, "b": (2.0, 3.0)}, {"a": 1.0, "b": [2.0, 3.0, 4.0]},
              {"a": np.float32(1.0), "b": [2.0, 3.0]}, {"a": 2, "b": [2.0, 3.0]},
              {"a": np.array([1.0, 2.0]), "b": [2.0, 3.0]},
              {"a": np.array([1.0, 2.0], np.float32), "b": np.array([2.0, 3.0])},
              [1.0, [2.0, 3.0]], (1.0, [2.0, 3.0]), (1.0, (2.0, 3.0)), [1.0, (2.0, 3.0)]]


def _structure(x):
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_structure(v) for v in x)
    return (type(x) if not isinstance(x, np.ndarray) else np.ndarray, np.shape(x))


def _as_float(x):
    if isinstance(x, dict):
        return {k: _as_float(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_as_float(v) for v in x)
    return np.asarray(x, dtype=np.float64) if isinstance(x, np.ndarray) else float(x)


def _leaves(x):
    if isinstance(x, dict):
        return [v for k in x for v in _leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _leaves(item)]
    return list(np.ravel(x))


def test_calls_alternating_between_containers():
    # each call's container checked item by item on entry, its gradient shaped so
    g = srcad.grad(of_parts)
    for _ in range(2):
        for p in CONTAINERS:
            got = g(p)
            expected = numerical_grad(of_parts, (_as_float(p),))
            assert type(got) is type(p)
            if type(p) is not dict:     # a tuple's gradient is a tuple, a list's a list
                assert [type(v) for v in got] == [type(v) for v in p]
            np.testing.assert_allclose(_leaves(got), _leaves(expected), rtol=1e-6)
            if all(type(v) is not np.float32 for v in _leaves(p)):
                floats = _structure(_as_float(p))
                assert _structure(got) == floats


def clashing(stack, value, d_x, MISS, arg0, current):
    return stack * value + d_x * MISS + arg0 * current


def test_parameters_named_like_the_entry_points_own_names():
    g = srcad.grad(clashing, wrt=(0, 1, 2, 3, 4, 5))
    for _ in range(3):
        assert g(1.0, 2.0, 3.0, 4.0, 5.0, 6.0) == (2.0, 1.0, 4.0, 3.0, 6.0, 5.0)


def helper(x):
    return x * x


def uses_helper(x):
    return helper(x) + x


def test_a_rebound_callee_is_transformed_again():
    global helper
    g = srcad.grad(uses_helper)
    assert g(3.0) == 7.0
    assert g(3.0) == 7.0
    original = helper

    def helper(x):
        return x * x * x

    try:
        assert g(3.0) == 28.0
        assert g(3.0) == 28.0
    finally:
        helper = original
    assert g(3.0) == 7.0
