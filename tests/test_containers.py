"""Lists, tuples and dicts as values, arguments and return values.

Covers: containers built and read inside the function, container arguments
(the gradient has the same structure: tuple for tuple, list for list, dict
for dict, nested), container return values through vjp, list.append in a
loop, list comprehensions.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import srcad
from oracle import (arrays, assert_grad_like, check_against_autograd, check_grad, check_vjp, floats,
                    numerical_grad, shapes)


# --- containers as values --------------------------------------------------------------

def ct_tuple_value(x, y):
    t = (x * 2.0, y, x * y)
    a, b, c = t
    return np.sum(a * t[1] + c * t[0])


def ct_list_value(x, y):
    items = [x, np.sin(y), x * y]
    return np.sum(items[0] * items[2] + items[1] * items[-1])


def ct_dict_value(x, y):
    d = {"a": x * 3.0, "b": np.exp(y)}
    d["c"] = d["a"] * d["b"]
    return np.sum(d["c"] + d["a"] * x)


def ct_nested_value(x, y):
    pack = {"pair": (x, y * y), "list": [x * y, [y, x]]}
    inner = pack["list"][1]
    return np.sum(pack["pair"][0] * inner[0] + pack["pair"][1] * pack["list"][0] + inner[1])


def ct_list_overwrite_element(x, y):
    items = [x, y, x * y]
    items[1] = items[1] * items[0]
    items[0] = np.sin(items[2])
    return np.sum(items[0] + items[1] * items[2])


VALUES = [ct_tuple_value, ct_list_value, ct_dict_value, ct_nested_value, ct_list_overwrite_element]


@pytest.mark.parametrize("f", VALUES, ids=lambda f: f.__name__)
@given(x=arrays((3,)), y=arrays((3,)))
def test_containers_as_values(f, x, y):
    check_grad(f, x, y, wrt=(0, 1))


@pytest.mark.parametrize("f", [ct_tuple_value, ct_list_value, ct_dict_value, ct_nested_value],
                         ids=lambda f: f.__name__)
def test_containers_as_values_match_autograd(f):
    check_against_autograd(f, np.array([0.3, -1.1, 0.8]), np.array([1.2, 0.4, -0.6]), wrt=(0, 1))


@pytest.mark.parametrize("f", VALUES, ids=lambda f: f.__name__)
def test_containers_as_values_python_floats(f):
    g = check_grad(f, 0.7, -1.3, wrt=(0, 1))
    assert all(isinstance(v, float) for v in g)


# --- containers as arguments --------------------------------------------------------------

def ct_tuple_argument(params, x):
    W, b = params
    return np.sum(np.tanh(x @ W + b) ** 2)


def ct_list_argument(layers, x):
    h = x
    for W in layers:
        h = np.tanh(h @ W)
    return np.sum(h)


def ct_dict_argument(params, x):
    z = x @ params["W"] + params["b"]
    return np.sum(np.log(1.0 + np.exp(z))) + params["scale"] * np.sum(params["W"] ** 2)


def ct_nested_argument(params, x):
    (W1, b1), rest = params["layer1"], params["rest"]
    h = np.tanh(x @ W1 + b1)
    return np.sum(h * rest[0]) + rest[1] * np.sum(h)


def _rng():
    return np.random.default_rng(3)


def test_tuple_argument_gradient_is_a_tuple():
    rng = _rng()
    params = (rng.normal(size=(3, 2)), rng.normal(size=2))
    x = rng.normal(size=(4, 3))
    g = check_grad(ct_tuple_argument, params, x)
    assert isinstance(g, tuple) and len(g) == 2
    check_against_autograd(ct_tuple_argument, params, x)


def test_list_argument_gradient_is_a_list():
    rng = _rng()
    layers = [rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=(2, 2))]
    x = rng.normal(size=3)
    g = check_grad(ct_list_argument, layers, x)
    assert isinstance(g, list) and len(g) == 3
    check_against_autograd(ct_list_argument, layers, x)


def test_dict_argument_gradient_is_a_dict():
    rng = _rng()
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "scale": 0.3}
    x = rng.normal(size=(4, 3))
    g = check_grad(ct_dict_argument, params, x)
    assert isinstance(g, dict) and set(g) == {"W", "b", "scale"}
    assert isinstance(g["scale"], float)
    check_against_autograd(ct_dict_argument, params, x)


def test_nested_container_argument():
    rng = _rng()
    params = {"layer1": (rng.normal(size=(3, 2)), rng.normal(size=2)),
              "rest": [rng.normal(size=2), 0.7]}
    x = rng.normal(size=(5, 3))
    g = check_grad(ct_nested_argument, params, x)
    assert isinstance(g["layer1"], tuple) and isinstance(g["rest"], list)
    assert isinstance(g["rest"][1], float)


def test_container_argument_and_array_argument_together():
    rng = _rng()
    params = (rng.normal(size=(3, 2)), rng.normal(size=2))
    x = rng.normal(size=(4, 3))
    gp, gx = check_grad(ct_tuple_argument, params, x, wrt=(0, 1))
    assert isinstance(gp, tuple) and isinstance(gx, np.ndarray)


def ct_unused_member(params, x):
    return np.sum(params[0] * x)


def test_unused_member_of_container_gets_zero_gradient():
    params = (np.array([1.0, 2.0]), np.array([[3.0, 4.0]]), 5.0)
    x = np.array([0.5, -1.0])
    g = check_grad(ct_unused_member, params, x)
    np.testing.assert_allclose(g[0], x)
    np.testing.assert_allclose(g[1], np.zeros((1, 2)))
    assert g[2] == 0.0 and isinstance(g[2], float)


def ct_float_list(xs):
    s = 0.0
    for i in range(len(xs)):
        s = s + xs[i] * xs[i] * (i + 1)
    return s


@given(xs=st.lists(floats(-2.0, 2.0), min_size=1, max_size=5))
def test_list_of_python_floats(xs):
    g = check_grad(ct_float_list, xs)
    assert isinstance(g, list) and all(isinstance(v, float) for v in g)
    np.testing.assert_allclose(g, [2 * v * (i + 1) for i, v in enumerate(xs)], rtol=1e-9, atol=1e-12)


def ct_list_of_arrays_shapes(xs):
    return np.sum(np.sin(xs[0])) + np.sum(xs[-1] ** 2)


@given(data=st.data())
def test_list_argument_with_drawn_shapes(data):
    n = data.draw(st.integers(1, 3))
    xs = [data.draw(arrays(shapes())) for _ in range(n)]
    check_grad(ct_list_of_arrays_shapes, xs)


# --- containers as return values (vjp) --------------------------------------------------

def ct_returns_tuple(x, y):
    return np.sin(x) * y, np.sum(x * y)


def ct_returns_list(x):
    return [x * 2.0, np.exp(x), np.sum(x)]


def ct_returns_dict(x, y):
    return {"prod": x * y, "norm": np.sum(x * x), "pair": (y, x + y)}


def test_vjp_of_tuple_output():
    x = np.array([0.3, -1.2])
    y = np.array([1.5, 0.5])
    ct = (np.array([1.0, -2.0]), 0.5)
    check_vjp(ct_returns_tuple, (x, y), ct, wrt=(0, 1))


def test_vjp_of_list_output():
    x = np.array([0.3, -1.2, 0.7])
    ct = [np.array([1.0, 0.5, -1.0]), np.array([2.0, 0.0, 1.0]), 3.0]
    _, g = check_vjp(ct_returns_list, (x,), ct)
    np.testing.assert_allclose(g, 2 * ct[0] + ct[1] * np.exp(x) + 3.0, rtol=1e-9)


def test_vjp_of_dict_output():
    x = np.array([0.3, -1.2])
    y = np.array([1.5, 0.5])
    ct = {"prod": np.array([1.0, 2.0]), "norm": -1.0, "pair": (np.array([0.5, 0.5]), np.array([1.0, -1.0]))}
    check_vjp(ct_returns_dict, (x, y), ct, wrt=(0, 1))


def test_vjp_pullback_called_twice():
    x = np.array([0.3, -1.2])
    y = np.array([1.5, 0.5])
    _, pullback = srcad.vjp(ct_returns_tuple, wrt=(0, 1))(x, y)
    ct = (np.array([1.0, -2.0]), 0.5)
    first = pullback(ct)
    second = pullback(ct)
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)


def ct_scalar_from_tuple_output(x, y):
    a, b = ct_returns_tuple(x, y)
    return np.sum(a) * b


def test_grad_through_helper_returning_tuple():
    check_grad(ct_scalar_from_tuple_output, np.array([0.3, -1.2]), np.array([1.5, 0.5]), wrt=(0, 1))


# --- list.append in a loop ---------------------------------------------------------------

def ct_append_in_loop(x, n):
    outs = []
    h = x
    for i in range(n):
        h = np.tanh(h * 1.5 + 0.1)
        outs.append(h)
    total = 0.0
    for o in outs:
        total = total + np.sum(o * o)
    return total


@pytest.mark.parametrize("n", [1, 3, 5])
def test_list_append_in_loop(n):
    x = np.array([0.3, -0.8, 1.1])
    check_grad(ct_append_in_loop, x, n)
    check_against_autograd(ct_append_in_loop, x, n)


def ct_append_then_index(x):
    hs = []
    for i in range(x.shape[0]):
        hs.append(x[i] * (i + 1.0))
    return hs[0] * hs[-1] + hs[1] * hs[1]


def test_list_append_then_index():
    x = np.array([0.5, -1.5, 2.0])
    g = check_grad(ct_append_then_index, x)
    np.testing.assert_allclose(g, [3 * x[2], 8 * x[1], 3 * x[0]], rtol=1e-9)


def ct_append_then_stack(x):
    rows = []
    for v in x:
        rows.append(v * v)
        rows.append(np.sin(v))
    return np.sum(np.array(rows) * np.arange(2 * x.shape[0]))


def test_list_append_then_np_array():
    x = np.array([0.5, -1.5, 2.0])
    g = check_grad(ct_append_then_stack, x)
    k = np.arange(6).reshape(3, 2)
    np.testing.assert_allclose(g, k[:, 0] * 2 * x + k[:, 1] * np.cos(x), rtol=1e-9)


def ct_append_with_branch(x):
    kept = []
    for v in x:
        if v > 0:
            kept.append(v * v)
        else:
            kept.append(-v)
    s = 0.0
    for k in kept:
        s = s + k
    return s


def test_list_append_in_branches():
    x = np.array([0.5, -1.5, 2.0, -0.1])
    g = check_grad(ct_append_with_branch, x)
    np.testing.assert_allclose(g, np.where(x > 0, 2 * x, -1.0), rtol=1e-9)


# --- list comprehensions ---------------------------------------------------------------

def ct_comprehension(x):
    squares = [v * v for v in x]
    return np.sum(np.array(squares)) + squares[0] * squares[-1]


def ct_comprehension_range(x, w):
    terms = [np.sin(x[i] * w) * i for i in range(x.shape[0])]
    total = 0.0
    for t in terms:
        total = total + t
    return total


def ct_comprehension_over_list(xs):
    ys = [np.tanh(x) * 2.0 for x in xs]
    return ys[0] * ys[1] + ys[2]


def ct_comprehension_with_condition(x):
    pos = [v * 3.0 for v in x if v > 0]
    s = 0.0
    for p in pos:
        s = s + p * p
    return s


def ct_comprehension_zip(x, y):
    prods = [a * b for a, b in zip(x, y)]
    return prods[0] + prods[1] * prods[2]


def test_list_comprehension():
    x = np.array([0.5, -1.5, 2.0])
    check_grad(ct_comprehension, x)
    check_against_autograd(ct_comprehension, x)


@given(x=arrays(st.integers(1, 4).map(lambda n: (n,))), w=floats(-1.5, 1.5))
def test_list_comprehension_over_range(x, w):
    check_grad(ct_comprehension_range, x, w, wrt=(0, 1))


def test_list_comprehension_over_list_of_floats():
    g = check_grad(ct_comprehension_over_list, [0.3, -0.7, 1.2])
    assert isinstance(g, list) and all(isinstance(v, float) for v in g)


def test_list_comprehension_with_condition():
    x = np.array([0.5, -1.5, 2.0, -0.1])
    g = check_grad(ct_comprehension_with_condition, x)
    np.testing.assert_allclose(g, np.where(x > 0, 18 * x, 0.0), rtol=1e-9)


def test_list_comprehension_over_zip():
    x = np.array([0.5, -1.5, 2.0])
    y = np.array([1.0, 0.5, -0.3])
    dx, dy = check_grad(ct_comprehension_zip, x, y, wrt=(0, 1))
    np.testing.assert_allclose(dx, [y[0], y[1] * x[2] * y[2], x[1] * y[1] * y[2]], rtol=1e-9)


def test_gradient_structure_helper_is_strict():
    # the oracle itself: a list gradient for a tuple argument is rejected
    with pytest.raises(AssertionError):
        assert_grad_like([np.zeros(2)], (np.zeros(2),))
    assert numerical_grad(ct_unused_member, ((np.ones(2), np.ones((1, 2)), 1.0), np.ones(2)))[2] == 0.0
