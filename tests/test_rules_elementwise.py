"""Elementwise rules: NumPy functions of one and two arrays, operators, math."""
import math
import operator

import numpy as np
import pytest
from hypothesis import strategies as st

from srcad import runtime

from rule_cases import (ANY, NONZERO, NUMPY2, POSITIVE, UNIT, arrays, broadcasting, case,
                        cases_of, floats, hvp_cases_of, one, run, run_hvp)

# -- one array -----------------------------------------------------------------------------
UNARY = {
    np.exp: ANY, np.exp2: ANY, np.expm1: ANY, np.log: POSITIVE, np.log2: POSITIVE,
    np.log10: POSITIVE, np.log1p: floats(-0.8, 2.0), np.sqrt: POSITIVE, np.cbrt: NONZERO,
    np.square: ANY, np.reciprocal: NONZERO, np.sin: ANY, np.cos: ANY, np.tan: floats(-1.3, 1.3),
    np.arcsin: UNIT, np.arccos: UNIT, np.arctan: ANY, np.sinh: ANY, np.cosh: ANY, np.tanh: ANY,
    np.arcsinh: ANY, np.arccosh: floats(1.2, 3.0), np.arctanh: UNIT, np.fabs: NONZERO,
    np.abs: NONZERO, np.rad2deg: ANY, np.deg2rad: ANY, np.degrees: ANY, np.radians: ANY,
    np.sinc: NONZERO, np.copy: ANY, np.asarray: ANY, np.atleast_1d: ANY, np.atleast_2d: ANY,
    np.atleast_3d: ANY, np.real: ANY, np.negative: ANY, np.positive: ANY, np.conj: ANY,
    np.nan_to_num: ANY,
}


def _unary(fn):
    def f(x):
        return fn(x)
    f.__name__ = fn.__name__
    f.__qualname__ = fn.__name__
    return f


for fn, elements in UNARY.items():
    case(fn, _unary(fn), one(elements), autograd=fn not in (np.cbrt, np.atleast_3d, np.sinc))

case(np.flipud, _unary(np.flipud), one(ANY, min_dims=1), autograd=True)
case(np.fliplr, _unary(np.fliplr), one(ANY, min_dims=2), autograd=True)


def unary_python_float(x):
    return np.exp(x) * np.sin(x) + np.sqrt(x * x + 1.0) + np.abs(x)


case([np.exp, np.sin, np.sqrt, np.abs], unary_python_float, st.tuples(NONZERO))




# -- complex values: conj, real, imag, abs, angle, sign ---------------------------------------

def complex_parts(xr, xi):
    z = xr + 1j * xi
    y = np.conj(z) * (0.3 + 0.7j) + z * z
    return np.real(y) + 2.0 * np.imag(y) + np.abs(z) + np.angle(z)


def complex_functions(xr, xi):
    z = xr + 1j * xi
    w = np.exp(z) * np.sin(z) / (z * z + 2.0) + np.sqrt(z) + np.log(z)
    return np.real(w) * 0.5 - np.imag(w)


case([np.conj, np.real, np.imag, np.abs, np.angle], complex_parts,
     broadcasting(NONZERO, NONZERO), wrt=(0, 1), autograd=True)
case([np.exp, np.sin, np.sqrt, np.log, operator.truediv], complex_functions,
     broadcasting(POSITIVE, NONZERO), wrt=(0, 1))


def complex_sign(xr, xi):
    z = xr + 1j * xi
    return np.real(np.sign(z * z) * (0.3 - 0.8j)) + np.sign(xr) * xr


def h_complex_sign(x):
    z = x[0] + 1j * x[1] * x[2]
    return np.real(np.sign(z * z) * (0.3 - 0.8j)) * x[2]


case(np.sign, complex_sign, broadcasting(NONZERO, NONZERO).filter(   # NumPy 1: z.real != 0
    lambda p: np.all(np.abs(np.abs(p[0]) - np.abs(p[1])) > 1e-2)), wrt=(0, 1))
case(np.sign, h_complex_sign, st.tuples(arrays((3,), floats(0.3, 0.9))), hvp=True)


def h_power_in_exponent(x):
    # the exponent's derivative takes log(base): real, of a negative Python base, complex
    return np.sum(np.abs(x) ** x) + np.real((-1.1) ** x[0] + np.sum((0.5 - 2.0j) ** x))


case(runtime.log_of_base, h_power_in_exponent, st.tuples(arrays((3,), floats(0.3, 0.9))),
     hvp=True)


def imag_of_real(x):
    return np.imag(x * 2.0) + x * np.angle(x + 3.0)


case([np.imag, np.angle], imag_of_real, one(ANY))


def nan_to_num_of_nan(x):
    return np.sum(np.nan_to_num(np.log(x - 1.0)) * x)


def test_nan_to_num_where_nan():
    import srcad
    x = np.array([0.5, 2.0, 3.0])          # log(-0.5) is nan: replaced by 0, zero gradient
    with np.errstate(invalid="ignore"):
        g = srcad.grad(nan_to_num_of_nan)(x)
    np.testing.assert_allclose(g, [0.0, 2.0, 1.5 + np.log(2.0)], rtol=1e-12)


# -- two arrays, broadcasting --------------------------------------------------------------

def _binary(fn):
    def f(x, y):
        return fn(x, y)
    f.__name__ = getattr(fn, "__name__", str(fn))
    f.__qualname__ = f.__name__
    return f


def _apart(pair):
    x, y = pair
    return bool(np.all(np.abs(np.subtract(x, y)) > 1e-2))


def _not_near_multiple(pair):
    x, y = pair
    q = np.divide(x, y)
    return bool(np.all(np.abs(q - np.round(q)) > 0.05))


BINARY = {
    np.add: broadcasting(), np.subtract: broadcasting(), np.multiply: broadcasting(),
    np.divide: broadcasting(ANY, NONZERO), np.true_divide: broadcasting(ANY, NONZERO),
    np.power: broadcasting(POSITIVE, ANY), np.float_power: broadcasting(POSITIVE, ANY),
    np.maximum: broadcasting().filter(_apart), np.minimum: broadcasting().filter(_apart),
    np.fmax: broadcasting().filter(_apart), np.fmin: broadcasting().filter(_apart),
    np.logaddexp: broadcasting(), np.logaddexp2: broadcasting(),
    np.mod: broadcasting(NONZERO, NONZERO).filter(_not_near_multiple),
    np.remainder: broadcasting(NONZERO, NONZERO).filter(_not_near_multiple),
    np.fmod: broadcasting(NONZERO, NONZERO).filter(_not_near_multiple),
    np.arctan2: broadcasting(NONZERO, NONZERO), np.hypot: broadcasting(NONZERO, NONZERO),
    np.copysign: broadcasting(NONZERO, NONZERO),
}
for fn, pairs in BINARY.items():
    case(fn, _binary(fn), pairs, wrt=(0, 1), autograd=fn not in (np.float_power, np.fmax,
                                                                 np.fmin, np.copysign))

OPERATORS = {
    operator.add: broadcasting(), operator.sub: broadcasting(), operator.mul: broadcasting(),
    operator.truediv: broadcasting(ANY, NONZERO), operator.pow: broadcasting(POSITIVE, ANY),
    operator.mod: broadcasting(NONZERO, NONZERO).filter(_not_near_multiple),
}


def op_add(x, y): return x + y
def op_sub(x, y): return x - y
def op_mul(x, y): return x * y
def op_truediv(x, y): return x / y
def op_pow(x, y): return x ** y
def op_mod(x, y): return x % y
def op_neg(x): return -x
def op_pos(x): return +x


for fn, f in zip(OPERATORS, [op_add, op_sub, op_mul, op_truediv, op_pow, op_mod]):
    case(fn, f, OPERATORS[fn], wrt=(0, 1), autograd=True)
case(operator.neg, op_neg, one(), autograd=True)
case(operator.pos, op_pos, one())


def scalars_and_arrays(x, s):
    return (x * s + s / (x * x + 1.0) - s ** 2.0) % 3.7 + np.maximum(x, s)


case([operator.mul, operator.truediv, operator.pow, np.maximum], scalars_and_arrays,
     st.tuples(one(ANY).map(lambda t: t[0]), floats(-2.0, 2.0)).filter(
         lambda p: np.all(np.abs(np.subtract(*p)) > 1e-2)
         and np.all(np.abs(((p[0] * p[1] + p[1] / (p[0] ** 2 + 1) - p[1] ** 2) % 3.7) - 1.85)
                    < 1.8)),
     wrt=(0, 1))


# -- clip, where -----------------------------------------------------------------------------

def clip_constant(x):
    return np.clip(x, -0.5, 1.0)


def clip_active_bounds(x, lo, hi):
    return np.clip(x, lo, hi)


def clip_keywords(x, lo, hi):
    return np.clip(x, a_min=lo, a_max=hi) + np.clip(x, min=lo, max=hi) * 2.0


def _clip_ok(args):
    x, lo, hi = args
    return bool(np.all(lo + 0.05 < hi) and np.all(np.abs(x - lo) > 1e-2)
                and np.all(np.abs(x - hi) > 1e-2))


CLIP_ARGS = st.tuples(one(ANY).map(lambda t: t[0]), floats(-1.5, 0.0), floats(0.2, 1.5))
case(np.clip, clip_constant, one(ANY).filter(
    lambda t: np.all(np.abs(t[0] + 0.5) > 1e-2) and np.all(np.abs(t[0] - 1.0) > 1e-2)),
    autograd=True)
case(np.clip, clip_active_bounds, CLIP_ARGS.filter(_clip_ok), wrt=(0, 1, 2))
if NUMPY2:     # np.clip(x, min=..., max=...)
    case(np.clip, clip_keywords, CLIP_ARGS.filter(_clip_ok), wrt=(0, 1, 2))


def clip_array_bounds(x, lo):
    return np.clip(x, lo, 5.0)


case(np.clip, clip_array_bounds, broadcasting().filter(_apart), wrt=(0, 1))


def where_branches(x, y):
    return np.where(x > 0, x * y, y * y) + np.where(x < 1.0, np.sin(x), 2.0)


def where_condition_only(x):
    i = np.where(x > 0)
    return x[i] * 2.0


case(np.where, where_branches, broadcasting().filter(
    lambda p: np.all(np.abs(p[0]) > 1e-2) and np.all(np.abs(p[0] - 1.0) > 1e-2)),
    wrt=(0, 1), autograd=True)
case(np.where, where_condition_only, one(NONZERO, min_dims=1))


# -- math on Python floats --------------------------------------------------------
MATH = {
    math.sin: ANY, math.cos: ANY, math.tan: floats(-1.3, 1.3), math.asin: UNIT, math.acos: UNIT,
    math.atan: ANY, math.sinh: ANY, math.cosh: ANY, math.tanh: ANY, math.exp: ANY,
    math.expm1: ANY, math.log1p: floats(-0.8, 2.0), math.sqrt: POSITIVE, math.fabs: NONZERO,
    math.erf: ANY, math.log: POSITIVE, math.erfc: ANY, math.log2: POSITIVE, math.log10: POSITIVE,
    math.degrees: ANY, math.radians: ANY,
}
for fn, elements in MATH.items():
    case(fn, _unary(fn), st.tuples(elements), name=f"math_{fn.__name__}")


def math_log_base(x, b): return math.log(x, b)
def math_pow(x, y): return math.pow(x, y)
def math_atan2(y, x): return math.atan2(y, x)
def math_hypot(x, y): return math.hypot(x, y)
def math_copysign(x, y): return math.copysign(x, y) + math.copysign(2.0, x) * y


case(math.log, math_log_base, st.tuples(POSITIVE, floats(1.5, 4.0)), wrt=(0, 1))
case(math.pow, math_pow, st.tuples(POSITIVE, ANY), wrt=(0, 1))
case(math.atan2, math_atan2, st.tuples(NONZERO, NONZERO), wrt=(0, 1))
case(math.hypot, math_hypot, st.tuples(NONZERO, NONZERO), wrt=(0, 1))
case(math.copysign, math_copysign, st.tuples(NONZERO, NONZERO), wrt=(0, 1))


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", hvp_cases_of(__name__), ids=repr)
def test_hvp(c):
    run_hvp(c)
