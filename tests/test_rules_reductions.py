"""Reductions and scans with axis (None, int, negative, tuple) and keepdims."""
import numpy as np
import pytest
from hypothesis import strategies as st

from oracle import numerical_grad
from rule_cases import (arrays, case, cases_of, distinct, floats, hvp_cases_of, run, run_hvp,
                        shapes, signed)
import srcad
from srcad import runtime


@st.composite
def with_axis(draw, elements=None, tuples=True, none=True, min_dims=1):
    """(x, axis, keepdims): axis None, an int, a negative int or a tuple of ints."""
    x = draw(distinct(shapes(min_dims=min_dims)) if elements is None
             else arrays(shapes(min_dims=min_dims), elements))
    choices = list(range(-x.ndim, x.ndim)) + ([None] if none else [])
    if tuples and x.ndim > 1:
        choices.append(tuple(sorted(draw(st.sets(st.integers(0, x.ndim - 1), min_size=1)))))
    return x, draw(st.sampled_from(choices)), draw(st.booleans())


def r_sum(x, axis, keepdims): return np.sum(x, axis=axis, keepdims=keepdims)
def r_mean(x, axis, keepdims): return np.mean(x, axis=axis, keepdims=keepdims)
def r_prod(x, axis, keepdims): return np.prod(x, axis=axis, keepdims=keepdims)
def r_max(x, axis, keepdims): return np.max(x, axis=axis, keepdims=keepdims)
def r_min(x, axis, keepdims): return np.min(x, axis=axis, keepdims=keepdims)
def r_amax(x, axis, keepdims): return np.amax(x, axis=axis, keepdims=keepdims)
def r_amin(x, axis, keepdims): return np.amin(x, axis=axis, keepdims=keepdims)
def r_nansum(x, axis, keepdims): return np.nansum(x, axis=axis, keepdims=keepdims)
def r_nanmean(x, axis, keepdims): return np.nanmean(x, axis=axis, keepdims=keepdims)
def r_ptp(x, axis, keepdims): return np.ptp(x, axis=axis, keepdims=keepdims)
def r_var(x, axis, keepdims): return np.var(x, axis=axis, keepdims=keepdims)
def r_std(x, axis, keepdims): return np.std(x, axis=axis, keepdims=keepdims)
def r_var_ddof(x, axis, keepdims): return np.var(x, axis=axis, ddof=1, keepdims=keepdims)
def r_std_ddof(x, axis, keepdims): return np.std(x, axis, None, None, 1, keepdims)


case(np.sum, r_sum, with_axis(), autograd=True)
case(np.mean, r_mean, with_axis(), autograd=True)
case(np.prod, r_prod, with_axis(signed(0.5, 1.5)), autograd=True)
case(np.max, r_max, with_axis(), autograd=True)
case(np.min, r_min, with_axis(), autograd=True)
case(np.amax, r_amax, with_axis(), autograd=True)
case(np.amin, r_amin, with_axis(), autograd=True)
case(np.nansum, r_nansum, with_axis(), autograd=True)
case(np.nanmean, r_nanmean, with_axis(), autograd=True)
case(np.ptp, r_ptp, with_axis(tuples=False).filter(lambda a: a[0].size > 1))
case(np.var, r_var, with_axis(), autograd=True)


def _reduces_several(a):
    return np.size(a[0]) // max(np.size(np.sum(a[0], axis=a[1])), 1) > 1


case(np.std, r_std, with_axis().filter(_reduces_several), autograd=True)
case(np.var, r_var_ddof, with_axis().filter(_reduces_several), autograd=True)
case(np.std, r_std_ddof, with_axis().filter(_reduces_several))


def r_nan_inside(x):
    y = np.where(x > 0.3, np.nan, x)
    return np.nansum(y, axis=0) * 2.0 + np.nanmean(y, axis=-1, keepdims=True)


case([np.nansum, np.nanmean], r_nan_inside, st.tuples(distinct((3, 4))).filter(
    lambda a: np.all(np.sum(a[0] <= 0.3, axis=-1) > 0)))


def s_cumsum(x, axis): return np.cumsum(x, axis)
def s_cumprod(x, axis): return np.cumprod(x, axis=axis)
def s_diff(x, axis): return np.diff(x, axis=axis)
def s_diff2(x, axis): return np.diff(x, 2, axis)


def scan_args(elements=floats(-2.0, 2.0), min_len=1):
    return with_axis(elements, tuples=False).map(lambda a: a[:2]).filter(
        lambda a: a[1] is not None or True).filter(
        lambda a: (a[0].size if a[1] is None else a[0].shape[a[1]]) >= min_len)


case(np.cumsum, s_cumsum, scan_args(), autograd=True)
case(np.cumprod, s_cumprod, scan_args(signed(0.5, 1.5)), autograd=True)
case(np.diff, s_diff, scan_args(min_len=2).filter(lambda a: a[1] is not None), autograd=True)
case(np.diff, s_diff2, scan_args(min_len=3).filter(lambda a: a[1] is not None))


def r_trace(x): return np.trace(x)
def r_trace_offset(x): return np.trace(x, 1) + np.trace(x, offset=-1, axis1=0, axis2=2)


case(np.trace, r_trace, st.tuples(arrays(st.sampled_from([(3, 3), (2, 4), (2, 3, 2)]))),
     autograd=True)
case(np.trace, r_trace_offset, st.tuples(arrays((3, 3, 3))))


def r_average(x, axis, keepdims): return np.average(x, axis, keepdims=keepdims)
def r_average_weights(x, w): return np.average(x, axis=1, weights=w)
def r_average_flat(x, w): return np.average(x, weights=w)


case(np.average, r_average, with_axis())
case(np.average, r_average_weights, st.tuples(arrays((2, 3)), arrays((3,), floats(0.5, 2.0))),
     wrt=(0, 1))
case(np.average, r_average_flat, st.tuples(arrays((2, 3)), arrays((2, 3), floats(0.5, 2.0))),
     wrt=(0, 1))


# methods reach the same rules
def m_reductions(x):
    return x.sum(axis=0) * x.mean() + x.max(axis=-1, keepdims=True) * x.min() \
        + x.var(axis=1, keepdims=True) + x.std() + x.prod(axis=0) + x.trace()


def m_scans(x):
    return x.cumsum(axis=1) + x.cumprod(0) + x.diagonal()[0]


case(["ndarray.sum", "ndarray.mean", "ndarray.max", "ndarray.min", "ndarray.var",
      "ndarray.std", "ndarray.prod", "ndarray.trace"], m_reductions, st.tuples(distinct((3, 3))))
case(["ndarray.cumsum", "ndarray.cumprod", "ndarray.diagonal"], m_scans,
     st.tuples(arrays((3, 3), signed(0.5, 1.5))))


# Hessians: forward mode over the generated reverse code, through srcad's helpers.
def h_reductions(x):
    return np.sum(np.sin(x) * np.sum(x, axis=0)) + np.max(x) * np.mean(x ** 2, axis=1)[0] \
        + np.sum(np.tanh(x) + 1.0)


case([runtime.repeat_to_shape, runtime.extremum_grad], h_reductions,
     st.tuples(distinct((3, 4))), hvp=True)


def h_unbroadcast(x):
    y = np.reshape(x, (4, 3))       # a shape the call's pattern does not give: the sum
    return np.sum(np.sin(y * x[0, :3]))     # to x[0, :3]'s shape is decided at run time


case([runtime.unbroadcast], h_unbroadcast, st.tuples(distinct((3, 4))), hvp=True)


def h_cumprod(x):
    return np.sum(np.cumprod(x, axis=1) ** 2) + np.sum(np.cumprod(x) * np.arange(12.0))


case(runtime.cumprod_divisor, h_cumprod,
     st.tuples(arrays((3, 4), signed(0.5, 1.5))), hvp=True)


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", hvp_cases_of(__name__), ids=repr)
def test_hvp(c):
    run_hvp(c)


def sum_of_a_number_along_axis_0(s, x):
    return np.sum(np.sum(np.tanh(s) * 2.0, axis=0) * x)


def test_reduction_along_axis_0_of_a_number():
    # NumPy reduces a 0-d value along axis 0 to itself; its gradient is the gradient
    s, x = 0.7, np.array([0.3, -0.4])
    got = srcad.grad(sum_of_a_number_along_axis_0, wrt=(0, 1))(s, x)
    expected = (2.0 * (1 - np.tanh(s) ** 2) * np.sum(x), 2.0 * np.tanh(s) * np.ones(2))
    assert got[0] == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


def std_of_single_values(s, x):
    return np.sin(np.std(s)) + np.sum(np.std(x, axis=1) * x[:, 0]) \
        + np.sum(np.std(x, axis=1, ddof=0.5, keepdims=True))


def test_std_of_single_values_is_constant():
    # a std over one value is 0 whatever it is: its derivative is 0, not 0 / 0
    s, x = 0.7, np.array([[0.3], [-0.4], [1.2]])
    with np.errstate(all="raise"):
        got = srcad.grad(std_of_single_values, wrt=(0, 1))(s, x)
        _, tangent = srcad.jvp(std_of_single_values, wrt=(0, 1))(s, x, 0.5, np.ones((3, 1)))
    expected = numerical_grad(std_of_single_values, (s, x), wrt=(0, 1))
    assert got[0] == expected[0] == 0.0
    np.testing.assert_array_equal(got[1], expected[1])
    assert tangent == 0.0


def std_at_zero_spread(x):
    return np.std(x)


def test_std_at_zero_spread_has_no_derivative():
    # std(c + t v) = |t| std(v): a kink, where a finite number would be a guess
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.all(np.isnan(srcad.grad(std_at_zero_spread)(np.full(3, 0.5))))


def spread_of_complex(z):
    return np.var(z) + np.std(z[1:]) ** 3


def test_spread_of_complex_values():
    # the spread is real: its tangent is Re(conj(z - mean) dz), not (z - mean) dz
    z = np.array([1.0 + 2.0j, 0.5 - 1.0j, 2.0 + 0.3j])
    t = np.array([0.3 + 0.1j, -0.2 + 0.5j, 0.1 - 0.4j])
    def along(u):
        return spread_of_complex(z + u * t)

    _, tangent = srcad.jvp(spread_of_complex)(z, t)
    assert tangent == pytest.approx(numerical_grad(along, (0.0,)), rel=1e-8)
    g = srcad.grad(spread_of_complex)(z)
    assert np.real(np.vdot(g, t)) == pytest.approx(tangent, rel=1e-12)
