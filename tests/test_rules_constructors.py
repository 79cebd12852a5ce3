"""Functions that carry a differentiated value into a new array or a Python number: fill
values, endpoints, a distribution's parameters, conversions to another dtype."""
import numpy as np
import pytest
from hypothesis import strategies as st

from rule_cases import (ANY, NONZERO, POSITIVE, arrays, case, cases_of, floats, hvp_cases_of,
                        run, run_hvp)
import srcad
from srcad import runtime
from srcad.rules import numpy as rules


def c_full_like(x, v):
    return np.full_like(np.ones((2, 3)), v) * x + np.full_like(x, v[0], dtype=float) \
        + np.full_like(x, 2.5, dtype=int) * x


def c_full(x, v):
    return np.full((2, 3), v) * x + np.full(3, x[0, 1]) + np.full(3, v[1], dtype=float)


case(np.full_like, c_full_like, st.tuples(arrays((2, 3)), arrays((3,))), wrt=(0, 1))
case(np.full, c_full, st.tuples(arrays((2, 3)), arrays((3,))), wrt=(0, 1))


def c_linspace(a, b):
    return np.linspace(a, b, 5) + np.linspace(b, a, 5, endpoint=False) \
        + np.linspace(0.0, a * b, num=5)


def c_linspace_arrays(a, b):
    return np.linspace(a, b, 4, axis=-1) * 2.0 + np.linspace(a, 1.0, 4).T + \
        np.linspace(b[0], a, 4, axis=1)


case(np.linspace, c_linspace, st.tuples(ANY, ANY), wrt=(0, 1))
case(np.linspace, c_linspace_arrays, st.tuples(arrays((3,)), arrays((3,))), wrt=(0, 1))


def c_arange(x, step):
    return np.arange(x, x + 2.5) * x + np.arange(3) * x + np.sum(np.arange(x, 3.0, step) ** 2)


def _count_kept(p):
    x, step = p
    return abs((3.0 - x) / step - round((3.0 - x) / step)) > 1e-2


case(np.arange, c_arange, st.tuples(floats(-1.0, 1.0), floats(0.3, 0.7)).filter(_count_kept),
     wrt=(0, 1))


def c_normal(mu, sigma):
    np.random.seed(7)
    return np.random.normal(mu, sigma, (2, 3)) + np.random.normal(mu[0], 2.0) \
        + np.random.normal(size=3, scale=sigma[0])


def c_uniform(low, high):
    np.random.seed(11)
    return np.random.uniform(low, high) * 2.0 + np.random.uniform(low[0], high[1], size=(2, 3))


case(np.random.normal, c_normal, st.tuples(arrays((3,)), arrays((3,), POSITIVE)), wrt=(0, 1))
case(np.random.uniform, c_uniform, st.tuples(arrays((3,)), arrays((3,), floats(2.5, 4.0))),
     wrt=(0, 1))


def c_item_tolist(x):
    values = x.tolist()
    return x[0, 1:].item(1) * values[1][0] + x.item(0, 1) * x.item(4) + values[0][2] \
        + x[1, :1].item() + x.item((1, 1))


case(["ndarray.item", "ndarray.tolist"], c_item_tolist, st.tuples(arrays((2, 3))))


def c_nan_to_num(x, fill, big, small):
    values = np.array([1.0, np.nan, np.inf, -np.inf, 3.0])
    return np.nan_to_num(values, nan=fill, posinf=big, neginf=small) * x \
        + np.nan_to_num(values, nan=fill * fill, posinf=1.0, neginf=big)


case(np.nan_to_num, c_nan_to_num, st.tuples(POSITIVE, ANY, ANY, ANY), wrt=(0, 1, 2, 3))


def c_conversions(x, n):
    return np.asarray(x, dtype=complex).real.astype(float) * 2.0 \
        + np.array(x * 3.7, dtype=int) * x + x.astype(int) + np.asarray([n, n * 2.0], float)[1]


case([np.asarray, np.array, "ndarray.astype"], c_conversions,
     st.tuples(arrays((3,), floats(0.05, 0.45)), ANY).filter(
         lambda p: np.all(np.abs(p[0] * 3.7 - np.round(p[0] * 3.7)) > 1e-2)), wrt=(0, 1))


# -- Hessian-vector products through the helpers ----------------------------------------

def h_constructors(x):
    filled = np.full_like(np.ones(3), x[0] * x[1])
    samples = np.linspace(x[0], x[1] * x[1], 4)
    steps = np.arange(x[2], x[2] + 2.5) * x[2]
    np.random.seed(3)
    noise = np.random.normal(x[0], x[1] * x[1], 3)
    values = (x * x).tolist()
    return np.sum(filled * filled) + np.sum(samples ** 3) + np.sum(steps ** 2) \
        + np.sum(noise ** 2) + values[0] * values[1] + (x * x).item(2) * x[0] \
        + np.sum(np.asarray(x * x, dtype=float) ** 2)


case([runtime.sequence_grad, rules.converted, rules.element_grad, rules.nested_grad, rules.linspace_grad,
      rules.arange_grad, rules.parameter_grad], h_constructors,
     st.tuples(arrays((3,), floats(0.3, 0.9))), hvp=True)


def h_sequence_read_as_array(x):
    pair = (x[0] * x[1], x[2])
    return np.linalg.norm(pair) + np.sum(np.sqrt(pair)) * x[0]


case([runtime.array_like], h_sequence_read_as_array,
     st.tuples(arrays((3,), floats(0.3, 0.9))), hvp=True)


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", hvp_cases_of(__name__), ids=repr)
def test_hvp(c):
    run_hvp(c)


def uniform_up_to(low):
    return np.sum(np.random.uniform(low, 2.0))


def test_a_sample_that_does_not_show_its_draw_is_refused():
    # low == high: the sample is low whatever the draw u, and its derivative in low is
    # 1 - u; the rule divided 0 by 0 and gave nan (seed 18003228)
    low = np.array([0.5, 2.0])
    with pytest.raises(srcad.SrcadError, match="high - low is 0"):
        srcad.grad(uniform_up_to)(low)
    with pytest.raises(srcad.SrcadError, match="high - low is 0"):
        srcad.jvp(uniform_up_to)(low, np.ones(2))
    np.random.seed(3)
    got = srcad.grad(uniform_up_to)(np.array([0.5, 1.0]))
    np.random.seed(3)
    u = np.random.random(2)         # the draws: low + (high - low) * u
    np.testing.assert_allclose(got, 1.0 - u, rtol=1e-12)
