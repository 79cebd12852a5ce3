"""Rules for NumPy functions and the ndarray methods that mirror them.

Each primitive has a reverse rule (`@adjoint`) and, beside it, its forward
rule (`@tangent`); elementwise functions of one array are one line each in a
`rule_table`. Complex values follow one convention throughout: the gradient
g of a complex z is the one with dL = Re(g * dz), so a holomorphic f has the
rule `d[z] = d[result] * f'(z)`, as for real z.
"""
import numpy as np

from .. import runtime
from ..runtime import (add_at, clip_choice, fit, zeros_like, sequence_grad, concatenate_grad,
                       cumprod_divisor, cumprod_tangent_of, diagonal_grad, diff_grad, dot_left, dot_right,
                       einsum_grad, extremum_grad, inner_left, inner_right, kron_grad, kron_grad_right,
                       parts, reduced_size, repeat_grad, repeat_to_shape, rollaxis_grad,
                       sort_grad, std_grad, std_jvp, take_along_axis_grad, take_grad, tensordot_left,
                       tensordot_right, tile_grad, unbroadcast, unpad, unstack, untranspose,
                       where_grad, average_weights, real_like, real_sign, drawn)
from .templates import (ADJOINTS, TANGENTS, adjoint, d, nondifferentiable, only, rule_table,
                        tangent)

# -- elementwise functions of one array -------------------------------------------
# d[x] from d[result], x and result; the forward rule is the same line read the
# other way round (`d[result] = d[x] * f'(x)`).
rule_table(ADJOINTS, {
    np.exp: "d[x] = d[result] * result",
    np.exp2: "d[x] = d[result] * result * np.log(2.0)",
    np.expm1: "d[x] = d[result] * (result + 1.0)",
    np.log: "d[x] = d[result] / x",
    np.log2: "d[x] = d[result] / (x * np.log(2.0))",
    np.log10: "d[x] = d[result] / (x * np.log(10.0))",
    np.log1p: "d[x] = d[result] / (1.0 + x)",
    np.sqrt: "d[x] = d[result] * 0.5 / result",
    np.cbrt: "d[x] = d[result] / (3.0 * result * result)",
    np.square: "d[x] = d[result] * 2.0 * x",
    np.reciprocal: "d[x] = -d[result] * result * result",
    np.sin: "d[x] = d[result] * np.cos(x)",
    np.cos: "d[x] = -d[result] * np.sin(x)",
    np.tan: "d[x] = d[result] * (1.0 + result * result)",
    np.arcsin: "d[x] = d[result] / np.sqrt(1.0 - x * x)",
    np.arccos: "d[x] = -d[result] / np.sqrt(1.0 - x * x)",
    np.arctan: "d[x] = d[result] / (1.0 + x * x)",
    np.sinh: "d[x] = d[result] * np.cosh(x)",
    np.cosh: "d[x] = d[result] * np.sinh(x)",
    np.tanh: "d[x] = d[result] * (1.0 - result * result)",
    np.arcsinh: "d[x] = d[result] / np.sqrt(x * x + 1.0)",
    np.arccosh: "d[x] = d[result] / np.sqrt(x * x - 1.0)",
    np.arctanh: "d[x] = d[result] / (1.0 - x * x)",
    np.fabs: "d[x] = d[result] * real_sign(x)",
    np.rad2deg: "d[x] = d[result] * 57.29577951308232",
    np.deg2rad: "d[x] = d[result] * 0.017453292519943295",
    np.sinc: "d[x] = d[result] * (np.cos(np.pi * x) - result) / np.where(x == 0, np.inf, x)",
    np.copy: "d[x] = d[result]",
    np.flipud: "d[x] = np.flipud(d[result])",
    np.fliplr: "d[x] = np.fliplr(d[result])",
}, {"np": np, "real_sign": real_sign}, elementwise=True)
for alias, name in ((np.degrees, np.rad2deg), (np.radians, np.deg2rad)):
    ADJOINTS[alias], TANGENTS[alias] = ADJOINTS[name], TANGENTS[name]

# Functions of a complex z that are not holomorphic: conj, real, imag, abs, angle, sign.
# Real-valued ones keep only the real part of their gradient.
# |z| differs by type: sign(x) for real x (piecewise constant), conj(z) / |z| for
# complex z (whose own derivative a Hessian needs; 0 at z = 0).
# sign is piecewise constant on real numbers; NumPy 2 takes the sign of a complex z to
# be z / |z|, which turns with z's phase: ds = i s Im(conj(z) dz) / |z|^2 (NumPy 1 took
# the sign of its real part, piecewise constant too). Its zero gradient is shaped like x:
# the adjoint takes a gradient from a nonzero seed to be an array where x is one.
COMPLEX_SIGN = np.sign(1j) == 1j
rule_table(ADJOINTS, {
    np.conj: "d[x] = np.conj(d[result])",
    np.real: "d[x] = np.real(d[result])",
    np.imag: "d[x] = real_like(-1j * np.real(d[result]), x)",
    np.abs: "d[x] = d[result] * real_sign(x) if np.isrealobj(x) else "
            "np.real(d[result]) * np.conj(x) / np.where(result == 0, 1.0, result)",
    np.angle: "d[x] = real_like(-1j * np.real(d[result]) * np.conj(x) / (x * np.conj(x)), x)",
    np.sign: "d[x] = zeros_like(x) if np.isrealobj(x) or not COMPLEX_SIGN else -1j * np.conj(x) "
             "* np.real(1j * d[result] * result) / np.where(x == 0, 1.0, np.real(x * np.conj(x)))",
}, {"np": np, "real_like": real_like, "real_sign": real_sign, "COMPLEX_SIGN": COMPLEX_SIGN,
    "zeros_like": zeros_like})
rule_table(TANGENTS, {
    np.conj: "d[result] = np.conj(d[x])",
    np.real: "d[result] = np.real(d[x])",
    np.imag: "d[result] = np.imag(d[x])",
    np.abs: "d[result] = d[x] * real_sign(x) if np.isrealobj(x) else "
            "np.real(d[x] * np.conj(x)) / np.where(result == 0, 1.0, result)",
    np.angle: "d[result] = np.imag(d[x] * np.conj(x)) / np.real(x * np.conj(x))",
    np.sign: "d[result] = result * 0.0 if np.isrealobj(x) or not COMPLEX_SIGN else 1j * result "
             "* np.imag(np.conj(x) * d[x]) / np.where(x == 0, 1.0, np.real(x * np.conj(x)))",
}, {"np": np, "real_sign": real_sign, "COMPLEX_SIGN": COMPLEX_SIGN})


# -- elementwise functions of two arrays, with broadcasting ---------------------------
# (+ - * / ** % and their np names are in operators.py)

@adjoint(np.arctan2)
def arctan2(result, x1, x2):
    d[x1] = unbroadcast(d[result] * x2 / (x1 * x1 + x2 * x2), x1)
    d[x2] = unbroadcast(-d[result] * x1 / (x1 * x1 + x2 * x2), x2)


@tangent(np.arctan2)
def arctan2_tangent(result, x1, x2):
    d[result] = d[x1] * x2 / (x1 * x1 + x2 * x2) - d[x2] * x1 / (x1 * x1 + x2 * x2)


@adjoint(np.hypot)
def hypot(result, x1, x2):
    d[x1] = unbroadcast(d[result] * x1 / result, x1)
    d[x2] = unbroadcast(d[result] * x2 / result, x2)


@tangent(np.hypot)
def hypot_tangent(result, x1, x2):
    d[result] = d[x1] * x1 / result + d[x2] * x2 / result


@adjoint(np.maximum, np.fmax)
def maximum(result, x1, x2):
    d[x1] = unbroadcast(d[result] * (x1 >= x2), x1)
    d[x2] = unbroadcast(d[result] * (x1 < x2), x2)


@tangent(np.maximum, np.fmax)
def maximum_tangent(result, x1, x2):
    d[result] = d[x1] * (x1 >= x2) + d[x2] * (x1 < x2)


@adjoint(np.minimum, np.fmin)
def minimum(result, x1, x2):
    d[x1] = unbroadcast(d[result] * (x1 <= x2), x1)
    d[x2] = unbroadcast(d[result] * (x1 > x2), x2)


@tangent(np.minimum, np.fmin)
def minimum_tangent(result, x1, x2):
    d[result] = d[x1] * (x1 <= x2) + d[x2] * (x1 > x2)


@adjoint(np.logaddexp)
def logaddexp(result, x1, x2):
    d[x1] = unbroadcast(d[result] * np.exp(x1 - result), x1)
    d[x2] = unbroadcast(d[result] * np.exp(x2 - result), x2)


@tangent(np.logaddexp)
def logaddexp_tangent(result, x1, x2):
    d[result] = d[x1] * np.exp(x1 - result) + d[x2] * np.exp(x2 - result)


@adjoint(np.logaddexp2)
def logaddexp2(result, x1, x2):
    d[x1] = unbroadcast(d[result] * np.exp2(x1 - result), x1)
    d[x2] = unbroadcast(d[result] * np.exp2(x2 - result), x2)


@tangent(np.logaddexp2)
def logaddexp2_tangent(result, x1, x2):
    d[result] = d[x1] * np.exp2(x1 - result) + d[x2] * np.exp2(x2 - result)


@adjoint(np.fmod)
def fmod(result, x1, x2):
    d[x1] = unbroadcast(d[result], x1)
    d[x2] = unbroadcast(-d[result] * np.trunc(x1 / x2), x2)


@tangent(np.fmod)
def fmod_tangent(result, x1, x2):
    d[result] = d[x1] - d[x2] * np.trunc(x1 / x2)


@adjoint(np.copysign)
def copysign(result, x1, x2):
    d[x1] = unbroadcast(d[result] * np.sign(x1) * np.copysign(1.0, x2), x1)


@tangent(np.copysign)
def copysign_tangent(result, x1, x2):
    d[result] = d[x1] * np.sign(x1) * np.copysign(1.0, x2)


# np.clip is np.minimum(np.maximum(a, low), high): where low > high, high everywhere
@adjoint(np.clip)
def clip(result, a, a_min=None, a_max=None, out=only(None), *, min=None, max=None):
    d[a] = unbroadcast(d[result] * clip_choice("a", a, a_min, a_max, min, max), a)
    d[a_min] = unbroadcast(d[result] * clip_choice("low", a, a_min, a_max, min, max), a_min)
    d[a_max] = unbroadcast(d[result] * clip_choice("high", a, a_min, a_max, min, max), a_max)
    d[min] = unbroadcast(d[result] * clip_choice("low", a, a_min, a_max, min, max), min)
    d[max] = unbroadcast(d[result] * clip_choice("high", a, a_min, a_max, min, max), max)


@tangent(np.clip)
def clip_tangent(result, a, a_min=None, a_max=None, out=only(None), *, min=None, max=None):
    d[result] = d[a] * clip_choice("a", a, a_min, a_max, min, max) \
        + d[a_min] * clip_choice("low", a, a_min, a_max, min, max) \
        + d[a_max] * clip_choice("high", a, a_min, a_max, min, max) \
        + d[min] * clip_choice("low", a, a_min, a_max, min, max) \
        + d[max] * clip_choice("high", a, a_min, a_max, min, max)


# the values put in place of NaN and infinities get the gradient of the entries they fill;
# copy=False writes into x, which srcad would not follow
@adjoint(np.nan_to_num)
def nan_to_num(result, x, copy=only(True), nan=0.0, posinf=None, neginf=None):
    d[x] = d[result] * np.isfinite(x)
    d[nan] = np.sum(d[result] * np.isnan(x))
    d[posinf] = np.sum(d[result] * np.isposinf(x))
    d[neginf] = np.sum(d[result] * np.isneginf(x))


@tangent(np.nan_to_num)
def nan_to_num_tangent(result, x, copy=only(True), nan=0.0, posinf=None, neginf=None):
    d[result] = d[x] * np.isfinite(x) + d[nan] * np.isnan(x) + d[posinf] * np.isposinf(x) \
        + d[neginf] * np.isneginf(x)


@adjoint(np.where)
def where(result, condition, x=None, y=None):
    d[x] = where_grad(d[result], condition, x)
    d[y] = where_grad(d[result], ~np.asarray(condition, dtype=bool), y)


@tangent(np.where)
def where_tangent(result, condition, x=None, y=None):
    d[result] = np.where(condition, d[x], d[y])


# -- reductions and scans --------------------------------------------------------------

@adjoint(np.sum)
def sum(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[a] = repeat_to_shape(d[result], a, axis, keepdims)


@tangent(np.sum)
def sum_tangent(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[result] = np.sum(d[a], axis=axis, keepdims=keepdims)


@adjoint(np.mean)
def mean(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[a] = repeat_to_shape(d[result], a, axis, keepdims) / reduced_size(a, result)


@tangent(np.mean)
def mean_tangent(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[result] = np.mean(d[a], axis=axis, keepdims=keepdims)


@adjoint(np.nansum)
def nansum(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[a] = np.where(np.isnan(a), 0.0, repeat_to_shape(d[result], a, axis, keepdims))


@tangent(np.nansum)
def nansum_tangent(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[result] = np.nansum(np.where(np.isnan(a), 0.0, d[a]), axis=axis, keepdims=keepdims)


@adjoint(np.nanmean)
def nanmean(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[a] = np.where(np.isnan(a), 0.0, repeat_to_shape(d[result], a, axis, keepdims)) \
        / np.sum(~np.isnan(a), axis=axis, keepdims=True)


@tangent(np.nanmean)
def nanmean_tangent(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[result] = np.nanmean(np.where(np.isnan(a), np.nan, d[a]), axis=axis, keepdims=keepdims)


@adjoint(np.prod)
def prod(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[a] = repeat_to_shape(d[result] * result, a, axis, keepdims) / a


@tangent(np.prod)
def prod_tangent(result, a, axis=None, dtype=None, out=only(None), keepdims=False):
    d[result] = np.sum(d[a] * repeat_to_shape(result, a, axis, keepdims) / a, axis=axis,
                       keepdims=keepdims)


@adjoint(np.var)
def var(result, a, axis=None, dtype=None, out=only(None), ddof=0, keepdims=False):
    d[a] = repeat_to_shape(d[result], a, axis, keepdims) * 2.0 \
        * (a - np.mean(a, axis=axis, keepdims=True)) / (reduced_size(a, result) - ddof)


@tangent(np.var)
def var_tangent(result, a, axis=None, dtype=None, out=only(None), ddof=0, keepdims=False):
    d[result] = np.sum(np.real(d[a] * np.conj(a - np.mean(a, axis=axis, keepdims=True))),
                       axis=axis, keepdims=keepdims) * 2.0 / (reduced_size(a, result) - ddof)


@adjoint(np.std)
def std(result, a, axis=None, dtype=None, out=only(None), ddof=0, keepdims=False):
    d[a] = std_grad(d[result], a, result, axis, ddof, keepdims)


@tangent(np.std)
def std_tangent(result, a, axis=None, dtype=None, out=only(None), ddof=0, keepdims=False):
    d[result] = std_jvp(d[a], a, result, axis, ddof, keepdims)


@adjoint(np.max, np.amax, np.min, np.amin)
def max(result, a, axis=None, out=only(None), keepdims=False):
    d[a] = extremum_grad(d[result], a, result, axis, keepdims)


@tangent(np.max, np.amax, np.min, np.amin)
def extremum_tangent(result, a, axis=None, out=only(None), keepdims=False):
    d[result] = np.sum(d[a] * extremum_grad(np.ones_like(result), a, result, axis, keepdims), axis=axis,
                       keepdims=keepdims)


@adjoint(np.ptp)
def ptp(result, a, axis=None, out=only(None), keepdims=False):
    d[a] = extremum_grad(d[result], a, np.max(a, axis=axis, keepdims=keepdims), axis,
                         keepdims) \
        - extremum_grad(d[result], a, np.min(a, axis=axis, keepdims=keepdims), axis, keepdims)


@tangent(np.ptp)
def ptp_tangent(result, a, axis=None, out=only(None), keepdims=False):
    d[result] = np.sum(d[a] * extremum_grad(np.ones_like(result), a, np.max(
        a, axis=axis, keepdims=keepdims), axis, keepdims), axis=axis, keepdims=keepdims) \
        - np.sum(d[a] * extremum_grad(np.ones_like(result), a, np.min(
            a, axis=axis, keepdims=keepdims), axis, keepdims), axis=axis, keepdims=keepdims)


@adjoint(np.cumsum)
def cumsum(result, a, axis=None, dtype=None, out=only(None)):
    d[a] = np.reshape(np.cumsum(d[result][::-1])[::-1], np.shape(a)) if axis is None \
        else np.flip(np.cumsum(np.flip(d[result], axis), axis), axis)


@tangent(np.cumsum)
def cumsum_tangent(result, a, axis=None, dtype=None, out=only(None)):
    d[result] = np.cumsum(d[a], axis)


@adjoint(np.cumprod)
def cumprod(result, a, axis=None, dtype=None, out=only(None)):
    d[a] = np.reshape(np.cumsum((d[result] * result)[::-1])[::-1], np.shape(a)) \
        / cumprod_divisor(a) if axis is None else \
        np.flip(np.cumsum(np.flip(d[result] * result, axis), axis), axis) / cumprod_divisor(a)


@tangent(np.cumprod)
def cumprod_tangent(result, a, axis=None, dtype=None, out=only(None)):
    d[result] = cumprod_tangent_of(d[a], a, result, axis)


@adjoint(np.diff)
def diff(result, a, n=1, axis=-1):
    d[a] = diff_grad(d[result], n, axis)


@tangent(np.diff)
def diff_tangent(result, a, n=1, axis=-1):
    d[result] = np.diff(d[a], n, axis)


@adjoint(np.trace)
def trace(result, a, offset=0, axis1=0, axis2=1, dtype=None, out=only(None)):
    d[a] = diagonal_grad(np.expand_dims(d[result], -1), a, offset, axis1, axis2)


@tangent(np.trace)
def trace_tangent(result, a, offset=0, axis1=0, axis2=1, dtype=None, out=only(None)):
    d[result] = np.trace(d[a], offset, axis1, axis2)


@adjoint(np.average)
def average(result, a, axis=None, weights=None, returned=only(False), *,
            keepdims=False):
    d[a] = repeat_to_shape(d[result], a, axis, keepdims) / reduced_size(a, result) \
        if weights is None else repeat_to_shape(d[result], a, axis, keepdims) \
        * average_weights(a, weights, axis) \
        / np.sum(average_weights(a, weights, axis), axis=axis, keepdims=True)
    d[weights] = np.reshape(np.sum(
        repeat_to_shape(d[result], a, axis, keepdims)
        * (a - repeat_to_shape(result, a, axis, keepdims))
        / np.sum(average_weights(a, weights, axis), axis=axis, keepdims=True),
        axis=() if np.ndim(weights) == np.ndim(a) else tuple(
            i for i in range(np.ndim(a)) if i != np.atleast_1d(axis)[0] % np.ndim(a))),
        np.shape(weights))


@tangent(np.average)
def average_tangent(result, a, axis=None, weights=None, returned=only(False), *,
                    keepdims=False):
    d[result] = np.average(d[a], axis, weights, keepdims=keepdims) \
        + np.sum(average_weights(a, d[weights], axis) * (a - repeat_to_shape(
            result, a, axis, keepdims)), axis=axis, keepdims=keepdims) \
        / np.sum(average_weights(a, weights, axis), axis=axis, keepdims=keepdims)


# -- shape and construction --------------------------------------------------------------

@adjoint(np.reshape, np.ravel, np.squeeze, np.expand_dims)
def reshape(result, a, *args, **kwargs):
    d[a] = np.reshape(d[result], np.shape(a))


@tangent(np.reshape, np.squeeze, np.expand_dims)
def reshape_tangent(result, a, *args, **kwargs):
    d[result] = np.reshape(d[a], np.shape(result))


# np.atleast_1d(a) of one array; several arrays give a list, which has no rule here
@adjoint(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast(result, a):
    d[a] = np.reshape(d[result], np.shape(a))


@tangent(np.atleast_1d, np.atleast_2d, np.atleast_3d)
def atleast_tangent(result, a):
    d[result] = np.reshape(d[a], np.shape(result))


@tangent(np.ravel)
def ravel_tangent(result, a, order="C"):
    d[result] = np.ravel(d[a], order)


@adjoint(np.transpose)
def transpose(result, a, axes=None):
    d[a] = np.transpose(d[result]) if axes is None else untranspose(d[result], axes)


@tangent(np.transpose)
def transpose_tangent(result, a, axes=None):
    d[result] = np.transpose(d[a], axes)


@adjoint(np.swapaxes)
def swapaxes(result, a, axis1, axis2):
    d[a] = np.swapaxes(d[result], axis1, axis2)


@tangent(np.swapaxes)
def swapaxes_tangent(result, a, axis1, axis2):
    d[result] = np.swapaxes(d[a], axis1, axis2)


@adjoint(np.moveaxis)
def moveaxis(result, a, source, destination):
    d[a] = np.moveaxis(d[result], destination, source)


@tangent(np.moveaxis)
def moveaxis_tangent(result, a, source, destination):
    d[result] = np.moveaxis(d[a], source, destination)


@adjoint(np.rollaxis)
def rollaxis(result, a, axis, start=0):
    d[a] = rollaxis_grad(d[result], axis, start)


@tangent(np.rollaxis)
def rollaxis_tangent(result, a, axis, start=0):
    d[result] = np.rollaxis(d[a], axis, start)


@adjoint(np.roll)
def roll(result, a, shift, axis=None):
    d[a] = np.roll(d[result], np.negative(shift, dtype=np.intp), axis)     # bools count 1


@tangent(np.roll)
def roll_tangent(result, a, shift, axis=None):
    d[result] = np.roll(d[a], shift, axis)


@adjoint(np.flip)
def flip(result, m, axis=None):
    d[m] = np.flip(d[result], axis)


@tangent(np.flip)
def flip_tangent(result, m, axis=None):
    d[result] = np.flip(d[m], axis)


@adjoint(np.rot90)
def rot90(result, m, k=1, axes=(0, 1)):
    d[m] = np.rot90(d[result], -k, axes)


@tangent(np.rot90)
def rot90_tangent(result, m, k=1, axes=(0, 1)):
    d[result] = np.rot90(d[m], k, axes)


@adjoint(np.broadcast_to)
def broadcast_to(result, array, shape, subok=False):
    d[array] = unbroadcast(d[result], array)


@tangent(np.broadcast_to)
def broadcast_to_tangent(result, array, shape, subok=False):
    d[result] = np.broadcast_to(d[array], shape)


@adjoint(np.repeat)
def repeat(result, a, repeats, axis=None):
    d[a] = repeat_grad(d[result], a, repeats, axis)


@tangent(np.repeat)
def repeat_tangent(result, a, repeats, axis=None):
    d[result] = np.repeat(d[a], repeats, axis)


@adjoint(np.tile)
def tile(result, A, reps):
    d[A] = tile_grad(d[result], A, reps)


@tangent(np.tile)
def tile_tangent(result, A, reps):
    d[result] = np.tile(d[A], reps)


@adjoint(np.split, np.array_split)
def split(result, ary, indices_or_sections, axis=0):
    d[ary] = np.concatenate(parts(d[result], result), axis)


@tangent(np.split)
def split_tangent(result, ary, indices_or_sections, axis=0):
    d[result] = np.split(d[ary], indices_or_sections, axis)


@tangent(np.array_split)
def array_split_tangent(result, ary, indices_or_sections, axis=0):
    d[result] = np.array_split(d[ary], indices_or_sections, axis)


@adjoint(np.hsplit)
def hsplit(result, ary, indices_or_sections):
    d[ary] = np.concatenate(parts(d[result], result), 1 if np.ndim(ary) > 1 else 0)


@tangent(np.hsplit)
def hsplit_tangent(result, ary, indices_or_sections):
    d[result] = np.hsplit(d[ary], indices_or_sections)


@adjoint(np.vsplit)
def vsplit(result, ary, indices_or_sections):
    d[ary] = np.concatenate(parts(d[result], result), 0)


@tangent(np.vsplit)
def vsplit_tangent(result, ary, indices_or_sections):
    d[result] = np.vsplit(d[ary], indices_or_sections)


@adjoint(np.concatenate)
def concatenate(result, arrays, axis=0):
    d[arrays] = concatenate_grad(d[result], arrays, axis)


@tangent(np.concatenate)
def concatenate_tangent(result, arrays, axis=0):
    d[result] = np.concatenate(d[arrays], axis)


@adjoint(np.stack)
def stack(result, arrays, axis=0):
    d[arrays] = unstack(d[result], axis, arrays)


@tangent(np.stack)
def stack_tangent(result, arrays, axis=0):
    d[result] = np.stack(d[arrays], axis)


@adjoint(np.hstack)
def hstack(result, tup):
    d[tup] = concatenate_grad(d[result], tup, 1 if np.ndim(d[result]) > 1 else 0)


@adjoint(np.vstack)
def vstack(result, tup):
    d[tup] = concatenate_grad(d[result], tup, 0)


@adjoint(np.column_stack)
def column_stack(result, tup):
    d[tup] = concatenate_grad(d[result], tup, 1)


@tangent(np.hstack)
def hstack_tangent(result, tup):
    d[result] = np.hstack(d[tup])


@tangent(np.vstack)
def vstack_tangent(result, tup):
    d[result] = np.vstack(d[tup])


@tangent(np.column_stack)
def column_stack_tangent(result, tup):
    d[result] = np.column_stack(d[tup])


@adjoint(np.append)
def append(result, arr, values, axis=None):
    pieces = concatenate_grad(d[result], (arr, values), axis)
    d[arr] = pieces[0]
    d[values] = pieces[1]


@tangent(np.append)
def append_tangent(result, arr, values, axis=None):
    d[result] = np.append(d[arr], np.zeros(np.shape(values)), axis) \
        + np.append(np.zeros(np.shape(arr)), d[values], axis)


@adjoint(np.pad)
def pad(result, array, pad_width, mode=only("constant"), *, constant_values=0):
    d[array] = unpad(d[result], pad_width)
    d[constant_values] = np.sum(d[result]) - np.sum(unpad(d[result], pad_width))


@tangent(np.pad)
def pad_tangent(result, array, pad_width, mode=only("constant"), *,
                constant_values=0):
    d[result] = np.pad(d[array], pad_width) \
        + np.pad(np.zeros(np.shape(array)), pad_width, constant_values=1.0) * d[constant_values]


@adjoint(np.diag)
def diag(result, v, k=0):
    d[v] = np.diag(d[result], k) if np.ndim(v) == 1 else diagonal_grad(d[result], v, k)


@tangent(np.diag)
def diag_tangent(result, v, k=0):
    d[result] = np.diag(d[v], k)


@adjoint(np.diagonal)
def diagonal(result, a, offset=0, axis1=0, axis2=1):
    d[a] = diagonal_grad(d[result], a, offset, axis1, axis2)


@tangent(np.diagonal)
def diagonal_tangent(result, a, offset=0, axis1=0, axis2=1):
    d[result] = np.diagonal(d[a], offset, axis1, axis2)


@adjoint(np.triu)
def triu(result, m, k=0):
    d[m] = unbroadcast(np.triu(d[result], k), m)     # a 1-d m is a matrix of equal rows


@tangent(np.triu)
def triu_tangent(result, m, k=0):
    d[result] = np.triu(d[m], k)


@adjoint(np.tril)
def tril(result, m, k=0):
    d[m] = unbroadcast(np.tril(d[result], k), m)


@tangent(np.tril)
def tril_tangent(result, m, k=0):
    d[result] = np.tril(d[m], k)


@adjoint(np.sort, since={"stable": "2.0.0"})
def sort(result, a, axis=-1, kind=None, order=None, *, stable=None):
    d[a] = sort_grad(d[result], a, axis)


@tangent(np.sort, since={"stable": "2.0.0"})
def sort_tangent(result, a, axis=-1, kind=None, order=None, *, stable=None):
    d[result] = np.reshape(d[a], -1)[np.argsort(a, axis=None)] if axis is None \
        else np.take_along_axis(d[a], np.argsort(a, axis=axis), axis)


@adjoint(np.take)
def take(result, a, indices, axis=None, out=only(None), mode="raise"):
    d[a] = take_grad(d[result], a, indices, axis)


@tangent(np.take)
def take_tangent(result, a, indices, axis=None, out=only(None), mode="raise"):
    d[result] = np.take(d[a], indices, axis)


@adjoint(np.take_along_axis)
def take_along_axis(result, arr, indices, axis=-1):
    d[arr] = take_along_axis_grad(d[result], arr, indices, axis)


@tangent(np.take_along_axis)
def take_along_axis_tangent(result, arr, indices, axis=-1):
    d[result] = np.take_along_axis(d[arr], indices, axis)


# A conversion to another dtype keeps the values of its argument, or rounds them to
# integers or booleans (a zero derivative): see `converted`.
@adjoint(np.asarray)
def asarray(result, a, dtype=None):
    d[a] = sequence_grad(d[result], a) if dtype is None \
        else sequence_grad(converted(d[result], a, result), a)


@tangent(np.asarray)
def asarray_tangent(result, a, dtype=None):
    d[result] = np.asarray(d[a]) if dtype is None else converted(np.asarray(d[a]), a, result)


@adjoint(np.array)
def array(result, object, dtype=None, *, copy=True):
    d[object] = sequence_grad(d[result], object) if dtype is None \
        else sequence_grad(converted(d[result], object, result), object)


@tangent(np.array)
def array_tangent(result, object, dtype=None, *, copy=True):
    d[result] = np.array(d[object]) if dtype is None \
        else converted(np.array(d[object]), object, result)


# -- products -------------------------------------------------------------------------

@adjoint(np.dot)
def dot(result, a, b):
    d[a] = dot_left(d[result], a, b)
    d[b] = dot_right(d[result], a, b)


@tangent(np.dot)
def dot_tangent(result, a, b):
    d[result] = np.dot(d[a], b) + np.dot(a, d[b])


@adjoint(np.vdot)
def vdot(result, a, b):
    d[a] = np.reshape(np.conj(d[result] * b), np.shape(a))
    d[b] = np.reshape(d[result] * np.conj(a), np.shape(b))


@tangent(np.vdot)
def vdot_tangent(result, a, b):
    d[result] = np.vdot(d[a], b) + np.vdot(a, d[b])


@adjoint(np.inner)
def inner(result, a, b):
    d[a] = inner_left(d[result], a, b)
    d[b] = inner_right(d[result], a, b)


@tangent(np.inner)
def inner_tangent(result, a, b):
    d[result] = np.inner(d[a], b) + np.inner(a, d[b])


@adjoint(np.outer)
def outer(result, a, b):
    d[a] = np.reshape(d[result] @ np.ravel(b), np.shape(a))
    d[b] = np.reshape(np.ravel(a) @ d[result], np.shape(b))


@tangent(np.outer)
def outer_tangent(result, a, b):
    d[result] = np.outer(d[a], b) + np.outer(a, d[b])


@adjoint(np.tensordot)
def tensordot(result, a, b, axes=2):
    d[a] = tensordot_left(d[result], a, b, axes)
    d[b] = tensordot_right(d[result], a, b, axes)


@tangent(np.tensordot)
def tensordot_tangent(result, a, b, axes=2):
    d[result] = np.tensordot(d[a], b, axes) + np.tensordot(a, d[b], axes)


@adjoint(np.einsum)
def einsum(result, subscripts, x0, x1=None, x2=None, *, out=only(None), **kwargs):
    d[x0] = einsum_grad(d[result], subscripts, (x0, x1, x2), 0)
    d[x1] = einsum_grad(d[result], subscripts, (x0, x1, x2), 1)
    d[x2] = einsum_grad(d[result], subscripts, (x0, x1, x2), 2)


@tangent(np.einsum)
def einsum_tangent(result, subscripts, x0, x1=None, x2=None, *, out=only(None),
                   **kwargs):
    d[result] = (np.einsum(subscripts, d[x0]) if x1 is None else np.einsum(
        subscripts, d[x0], x1) if x2 is None else np.einsum(subscripts, d[x0], x1, x2)) \
        + (np.einsum(subscripts, x0, d[x1]) if x2 is None
           else np.einsum(subscripts, x0, d[x1], x2)) \
        + np.einsum(subscripts, x0, x1, d[x2])


@adjoint(np.kron)
def kron(result, a, b):
    d[a] = kron_grad(d[result], a, b)
    d[b] = kron_grad_right(d[result], a, b)


@tangent(np.kron)
def kron_tangent(result, a, b):
    d[result] = np.kron(d[a], b) + np.kron(a, d[b])


@adjoint(np.cross)
def cross(result, a, b, *, axis=-1):
    d[a] = unbroadcast(np.cross(b, d[result], axis=axis), a)
    d[b] = unbroadcast(np.cross(d[result], a, axis=axis), b)


@tangent(np.cross)
def cross_tangent(result, a, b, *, axis=-1):
    d[result] = np.cross(d[a], b, axis=axis) + np.cross(a, d[b], axis=axis)


# -- methods and attributes of ndarray, dispatched by name ----------------------------------

METHODS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "var": np.var, "std": np.std, "cumsum": np.cumsum, "cumprod": np.cumprod,
    "trace": np.trace, "diagonal": np.diagonal, "dot": np.dot, "copy": np.copy,
    "ravel": np.ravel, "flatten": np.ravel, "squeeze": np.squeeze, "clip": np.clip,
    "swapaxes": np.swapaxes, "repeat": np.repeat, "take": np.take, "conj": np.conj,
    "conjugate": np.conj,
}
ATTRIBUTES = {"T": np.transpose, "real": np.real, "imag": np.imag}
NONDIFFERENTIABLE_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "nbytes", "itemsize"}
NONDIFFERENTIABLE_METHODS = {"argmax", "argmin", "argsort", "nonzero", "all", "any",
                             "index", "count", "keys", "__len__", "round"}


@adjoint("ndarray.reshape")
def reshape_method(result, a, *shape, **kwargs):
    d[a] = np.reshape(d[result], np.shape(a))


@tangent("ndarray.reshape")
def reshape_method_tangent(result, a, *shape, **kwargs):
    d[result] = np.reshape(d[a], np.shape(result))


@adjoint("ndarray.transpose")
def transpose_method(result, a, *axes):
    d[a] = np.transpose(d[result]) if axes == () else untranspose(d[result], axes)


@tangent("ndarray.transpose")
def transpose_method_tangent(result, a, *axes):
    d[result] = np.transpose(d[a]) if axes == () else np.transpose(d[a], np.ravel(axes))


@adjoint("ndarray.astype")
def astype(result, a, dtype, *args, **kwargs):
    d[a] = converted(d[result], a, result)


@tangent("ndarray.astype")
def astype_tangent(result, a, dtype, *args, **kwargs):
    d[result] = converted(d[a], a, result)


# x.item(*index) and x.tolist() give x's values as Python numbers
@adjoint("ndarray.item")
def item(result, a, *index):
    d[a] = element_grad(d[result], a, index)


@tangent("ndarray.item")
def item_tangent(result, a, *index):
    d[result] = np.asarray(d[a]).item(*index)


@adjoint("ndarray.tolist")
def tolist(result, a):
    d[a] = nested_grad(d[result], a)


@tangent("ndarray.tolist")
def tolist_tangent(result, a):
    d[result] = np.asarray(d[a]).tolist()


# -- conversions, constructors and random numbers ------------------------------------------

def _kind(x):
    return (x if isinstance(x, np.ndarray) else np.asarray(x)).dtype.kind


def converted(g, x, result):
    """The gradient g of a conversion of x to result's dtype, or the tangent g of x:
    unchanged where the conversion keeps x's values (to a floating dtype, or from
    integers to integers), 0.0 where it rounds them to integers or booleans; the real
    part where it drops an imaginary part."""
    kind = _kind(result)
    if kind == "f" and np.iscomplexobj(g):
        return np.real(g)
    return g if kind in "fc" or kind in "iu" and _kind(x) in "iu" else 0.0


def element_grad(g, x, index):
    """Gradient of x from the gradient g of x.item(*index)."""
    if np.ndim(x) == 0:
        return g
    if len(index) == 1 and isinstance(index[0], tuple):
        index = index[0]
    flat = np.unravel_index(index[0] % np.size(x) if index else 0, np.shape(x))
    return add_at(zeros_like(x), x, flat if len(index) < 2 else index, g)


def nested_grad(g, x):
    """Gradient of x from the gradient g of x.tolist() (nested lists, with 0.0 for a part
    that got no gradient)."""
    def fill(g, shape):
        if runtime._is_zero(g) or shape and not shape[0]:
            return np.zeros(shape)
        if not shape:
            return g
        return np.stack([fill(g[i], shape[1:]) for i in range(shape[0])])
    return np.asarray(fill(g, np.shape(x)))


def _steps(ndim, num, endpoint, axis):
    """Where each sample of np.linspace lies between start (0) and stop (1), shaped to
    broadcast along the result's axis."""
    shape = [1] * ndim
    shape[axis] = num
    return np.reshape(np.linspace(0.0, 1.0, num, endpoint), shape)


def linspace_grad(g, result, x, num, endpoint, axis, end):
    """Gradient of np.linspace's start (end=0) or stop (end=1); none for an integer result
    (its samples are rounded)."""
    if _kind(result) not in "fc":
        return 0.0
    weight = _steps(np.ndim(result), num, endpoint, axis)
    return unbroadcast(np.sum(g * (weight if end else 1.0 - weight), axis=axis), x)


def linspace_tangent(t, result, num, endpoint, axis, end):
    """The part of np.linspace's tangent from the tangent t of start (end=0) or stop."""
    if _kind(result) not in "fc":
        return np.zeros(np.shape(result))
    weight = _steps(np.ndim(result), num, endpoint, axis)
    t = np.expand_dims(np.broadcast_to(t, tuple(np.delete(np.shape(result), axis))), axis)
    return t * (weight if end else 1.0 - weight)


def arange_grad(g, x, result, end):
    """Gradient of np.arange's start (end=0) or step (end=1): result[i] = start + i * step."""
    g = converted(g, x, result)
    return np.sum(g if end == 0 else g * np.arange(np.size(result)))


def arange_tangent(t, x, result, end):
    """The part of np.arange's tangent from the tangent t of start (end=0) or step."""
    t = converted(t, x, result)
    return t * (np.ones(np.size(result)) if end == 0 else np.arange(np.size(result)))


# np.full's values are its fill value: differentiable in it, not in the shape (the
# adjoints srcad generates use it for the gradient of a full reduction)
@adjoint(np.full)
def full(result, shape, fill_value, dtype=None, order="C", **kwargs):
    d[fill_value] = unbroadcast(converted(d[result], fill_value, result), fill_value)


@tangent(np.full)
def full_tangent(result, shape, fill_value, dtype=None, order="C", **kwargs):
    d[result] = np.full(np.shape(result), converted(d[fill_value], fill_value, result))


@adjoint(np.full_like)
def full_like(result, a, fill_value, dtype=None, order="K", subok=True, shape=None, **kwargs):
    d[fill_value] = unbroadcast(converted(d[result], fill_value, result), fill_value)


@tangent(np.full_like)
def full_like_tangent(result, a, fill_value, dtype=None, order="K", subok=True, shape=None,
                      **kwargs):
    d[result] = np.full(np.shape(result), converted(d[fill_value], fill_value, result))


@adjoint(np.linspace)
def linspace(result, start, stop, num=50, endpoint=True, retstep=only(False), dtype=None,
             axis=0, **kwargs):
    d[start] = linspace_grad(d[result], result, start, num, endpoint, axis, 0)
    d[stop] = linspace_grad(d[result], result, stop, num, endpoint, axis, 1)


@tangent(np.linspace)
def linspace_tangent_(result, start, stop, num=50, endpoint=True, retstep=only(False),
                      dtype=None, axis=0, **kwargs):
    d[result] = linspace_tangent(d[start], result, num, endpoint, axis, 0) \
        + linspace_tangent(d[stop], result, num, endpoint, axis, 1)


# np.arange(stop) counts; np.arange(start, stop, step) is start + i * step, for i below
# a count that is piecewise constant in stop
@adjoint(np.arange)
def arange(result, start, stop=None, step=1, *, dtype=None, **kwargs):
    d[start] = 0.0 if stop is None else arange_grad(d[result], start, result, 0)
    d[step] = arange_grad(d[result], step, result, 1)


@tangent(np.arange)
def arange_tangent_(result, start, stop=None, step=1, *, dtype=None, **kwargs):
    d[result] = (0.0 if stop is None else arange_tangent(d[start], start, result, 0)) \
        + arange_tangent(d[step], step, result, 1)


# A random sample is a function of its distribution's parameters for the same state of
# the generator: loc + scale * z, low + (high - low) * u.
def parameter_grad(g, x):
    """The gradient of a distribution's parameter x: g summed to x's shape (`size` may make
    the sample larger than the parameters)."""
    return unbroadcast(g, x)


@adjoint(np.random.normal)
def normal(result, loc=0.0, scale=1.0, size=None):
    d[loc] = parameter_grad(d[result], loc)
    d[scale] = parameter_grad(d[result] * drawn(result, loc, scale, "scale"), scale)


@tangent(np.random.normal)
def normal_tangent(result, loc=0.0, scale=1.0, size=None):
    d[result] = fit(d[loc], result) + d[scale] * drawn(result, loc, scale, "scale")


@adjoint(np.random.uniform)
def uniform(result, low=0.0, high=1.0, size=None):
    d[low] = parameter_grad(d[result] * (1.0 - drawn(result, low, high - low, "high - low")),
                            low)
    d[high] = parameter_grad(d[result] * drawn(result, low, high - low, "high - low"), high)


@tangent(np.random.uniform)
def uniform_tangent(result, low=0.0, high=1.0, size=None):
    d[result] = (d[low] * (1.0 - drawn(result, low, high - low, "high - low"))
                 + d[high] * drawn(result, low, high - low, "high - low"))


# the helpers' own forward rules: each is linear in the gradient it carries
@tangent(converted)
def converted_tangent(out, g, x, result):
    d[out] = converted(d[g], x, result)


@tangent(parameter_grad)
def parameter_grad_tangent(out, g, x):
    d[out] = parameter_grad(d[g], x)


@tangent(element_grad)
def element_grad_tangent(out, g, x, index):
    d[out] = element_grad(d[g], x, index)


@tangent(nested_grad)
def nested_grad_tangent(out, g, x):
    d[out] = nested_grad(d[g], x)


@tangent(linspace_grad)
def linspace_grad_tangent(out, g, result, x, num, endpoint, axis, end):
    d[out] = linspace_grad(d[g], result, x, num, endpoint, axis, end)


@tangent(arange_grad)
def arange_grad_tangent(out, g, x, result, end):
    d[out] = arange_grad(d[g], x, result, end)


# -- declared zero derivatives -----------------------------------------------------------

nondifferentiable(
    np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix,
    reason="piecewise constant",
)
nondifferentiable(
    np.argmax, np.argmin, np.argsort, np.nonzero, np.flatnonzero, np.argwhere,
    np.count_nonzero, np.searchsorted, np.digitize, np.floor_divide,
    reason="integer-valued",
)
nondifferentiable(
    np.all, np.any, np.equal, np.not_equal, np.less, np.less_equal, np.greater,
    np.greater_equal, np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.isnan, np.isfinite, np.isinf, np.isclose, np.allclose, np.array_equal,
    reason="boolean-valued",
)
nondifferentiable(np.shape, np.ndim, np.size, np.result_type, reason="a shape query")
nondifferentiable(
    np.zeros_like, np.ones_like, np.empty_like, np.zeros, np.ones, np.empty, np.eye,
    np.identity, np.tri, np.indices,
    reason="a constructor from a shape: its values do not depend on the arguments' values",
)
nondifferentiable(np.random.randn, np.random.rand,
                  reason="random numbers from a shape: their values do not depend on it")


# -- results in new memory -------------------------------------------------------------
# Functions (and ndarray methods, by their rules' names) whose result is always new
# memory, never one of their arguments or a view of one; every ufunc's is too. A
# function missing here may return a view: srcad checks in-place writes into its result
# against its arguments (aliasing.py) and copies where an adjoint may share it.
FRESH = {
    np.array, np.copy, np.full, np.full_like, np.zeros, np.zeros_like, np.ones,
    np.ones_like, np.empty, np.empty_like, np.eye, np.identity, np.tri, np.arange,
    np.linspace, np.logspace, np.geomspace,
    np.dot, np.vdot, np.inner, np.outer, np.matmul, np.tensordot, np.kron, np.cross,
    np.concatenate, np.stack, np.hstack, np.vstack, np.dstack, np.column_stack, np.append,
    np.tile, np.repeat, np.pad, np.roll, np.sort, np.take, np.tril, np.triu, np.where,
    np.clip, np.convolve, np.interp, np.polyval,
    np.sum, np.mean, np.prod, np.max, np.min, np.amax, np.amin, np.ptp, np.std, np.var,
    np.average, np.median, np.trace, np.cumsum, np.cumprod,
    "ndarray.copy", "ndarray.astype",
}


def returns_fresh(primitive, keywords=()):
    """Whether a call of primitive with these keyword names always returns new memory:
    a ufunc's, or FRESH's without `copy=` (`np.array(x, copy=False)` may return x)."""
    return isinstance(primitive, np.ufunc) or primitive in FRESH and "copy" not in keywords
