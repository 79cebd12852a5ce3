"""Rules for NumPy functions and the ndarray methods that mirror them."""
import numpy as np

from ..runtime import (dot_left, dot_right, extremum_grad, matmul_left, matmul_right,
                       reduced_size, repeat_to_shape, unbroadcast, where_grad)
from .templates import ADJOINTS, TANGENTS, adjoint, d, nondifferentiable, rule_table, tangent

# Elementwise functions of one array: d[x] from d[result], x and result.
# Their forward rules are the same expressions read the other way round.
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
    np.abs: "d[x] = d[result] * np.sign(x)",
    np.fabs: "d[x] = d[result] * np.sign(x)",
    np.copy: "d[x] = d[result]",
    np.asarray: "d[x] = d[result]",
    np.transpose: "d[x] = np.transpose(d[result])",
}, {"np": np}, elementwise=True)
ADJOINTS[np.absolute] = ADJOINTS[np.abs]
TANGENTS[np.absolute] = TANGENTS[np.abs]

# Functions that only rearrange elements: the gradient goes back to x's shape.
rule_table(ADJOINTS, {
    np.ravel: "d[x] = np.reshape(d[result], np.shape(x))",
    np.squeeze: "d[x] = np.reshape(d[result], np.shape(x))",
}, {"np": np})
rule_table(TANGENTS, {
    np.ravel: "d[result] = np.ravel(d[x])",
    np.squeeze: "d[result] = np.reshape(d[x], np.shape(result))",
}, {"np": np})


@adjoint(np.arctan2)
def arctan2(result, x1, x2):
    d[x1] = unbroadcast(d[result] * x2 / (x1 * x1 + x2 * x2), x1)
    d[x2] = unbroadcast(-d[result] * x1 / (x1 * x1 + x2 * x2), x2)


@tangent(np.arctan2)
def arctan2_tangent(result, x1, x2):
    d[result] = d[x1] * x2 / (x1 * x1 + x2 * x2) - d[x2] * x1 / (x1 * x1 + x2 * x2)


@adjoint(np.maximum)
def maximum(result, x1, x2):
    d[x1] = unbroadcast(d[result] * (x1 >= x2), x1)
    d[x2] = unbroadcast(d[result] * (x1 < x2), x2)


@tangent(np.maximum)
def maximum_tangent(result, x1, x2):
    d[result] = d[x1] * (x1 >= x2) + d[x2] * (x1 < x2)


@adjoint(np.minimum)
def minimum(result, x1, x2):
    d[x1] = unbroadcast(d[result] * (x1 <= x2), x1)
    d[x2] = unbroadcast(d[result] * (x1 > x2), x2)


@tangent(np.minimum)
def minimum_tangent(result, x1, x2):
    d[result] = d[x1] * (x1 <= x2) + d[x2] * (x1 > x2)


@adjoint(np.clip)
def clip(result, a, a_min=None, a_max=None):
    d[a] = d[result] * (result == a)


@tangent(np.clip)
def clip_tangent(result, a, a_min=None, a_max=None):
    d[result] = d[a] * (result == a)


@adjoint(np.where)
def where(result, condition, x, y):
    d[x] = where_grad(d[result], condition, x)
    d[y] = where_grad(d[result], ~np.asarray(condition, dtype=bool), y)


@tangent(np.where)
def where_tangent(result, condition, x, y):
    d[result] = np.where(condition, d[x], d[y])


@adjoint(np.sum)
def sum(result, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = repeat_to_shape(d[result], a, axis, keepdims)


@tangent(np.sum)
def sum_tangent(result, a, axis=None, dtype=None, out=None, keepdims=False):
    d[result] = np.sum(d[a], axis=axis, keepdims=keepdims)


@adjoint(np.mean)
def mean(result, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = repeat_to_shape(d[result], a, axis, keepdims) / reduced_size(a, result)


@tangent(np.mean)
def mean_tangent(result, a, axis=None, dtype=None, out=None, keepdims=False):
    d[result] = np.mean(d[a], axis=axis, keepdims=keepdims)


@adjoint(np.prod)
def prod(result, a, axis=None, dtype=None, out=None, keepdims=False):
    d[a] = repeat_to_shape(d[result] * result, a, axis, keepdims) / a


@tangent(np.prod)
def prod_tangent(result, a, axis=None, dtype=None, out=None, keepdims=False):
    d[result] = np.sum(d[a] * repeat_to_shape(result, a, axis, keepdims) / a, axis=axis,
                       keepdims=keepdims)


@adjoint(np.max, np.amax)
def max(result, a, axis=None, out=None, keepdims=False):
    d[a] = extremum_grad(d[result], a, result, axis, keepdims)


@adjoint(np.min, np.amin)
def min(result, a, axis=None, out=None, keepdims=False):
    d[a] = extremum_grad(d[result], a, result, axis, keepdims)


@tangent(np.max, np.amax, np.min, np.amin)
def extremum_tangent(result, a, axis=None, out=None, keepdims=False):
    d[result] = np.sum(d[a] * extremum_grad(1.0, a, result, axis, keepdims), axis=axis,
                       keepdims=keepdims)


@adjoint(np.dot)
def dot(result, a, b):
    d[a] = dot_left(d[result], a, b)
    d[b] = dot_right(d[result], a, b)


@tangent(np.dot)
def dot_tangent(result, a, b):
    d[result] = np.dot(d[a], b) + np.dot(a, d[b])


@adjoint(np.reshape)
def reshape(result, a, *args, **kwargs):
    d[a] = np.reshape(d[result], np.shape(a))


@tangent(np.reshape)
def reshape_tangent(result, a, *args, **kwargs):
    d[result] = np.reshape(d[a], np.shape(result))


@adjoint(np.expand_dims)
def expand_dims(result, a, axis):
    d[a] = np.reshape(d[result], np.shape(a))


@tangent(np.expand_dims)
def expand_dims_tangent(result, a, axis):
    d[result] = np.reshape(d[a], np.shape(result))


@adjoint(np.array)
def array(result, object, dtype=None):
    d[object] = d[result]


@tangent(np.array)
def array_tangent(result, object, dtype=None):
    d[result] = np.array(d[object], dtype=float)


# Methods of ndarray, dispatched by name on whatever the receiver is.
METHODS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "max": np.max, "min": np.min,
    "dot": np.dot, "copy": np.copy, "ravel": np.ravel, "flatten": np.ravel,
    "squeeze": np.squeeze, "clip": np.clip,
}
ATTRIBUTES = {"T": np.transpose}
NONDIFFERENTIABLE_ATTRIBUTES = {"shape", "ndim", "size", "dtype", "nbytes", "itemsize"}
NONDIFFERENTIABLE_METHODS = {"argmax", "argmin", "argsort", "nonzero", "all", "any",
                             "item", "tolist", "index", "count", "keys", "__len__"}


@adjoint("ndarray.reshape")
def reshape_method(result, a, *shape, **kwargs):
    d[a] = np.reshape(d[result], np.shape(a))


@adjoint("ndarray.transpose")
def transpose_method(result, a, *axes):
    d[a] = np.reshape(np.transpose(d[result], np.argsort(axes) if axes else None), np.shape(a))


@adjoint("ndarray.astype")
def astype(result, a, dtype, *args, **kwargs):
    d[a] = d[result]


@tangent("ndarray.reshape")
def reshape_method_tangent(result, a, *shape, **kwargs):
    d[result] = np.reshape(d[a], np.shape(result))


@tangent("ndarray.transpose")
def transpose_method_tangent(result, a, *axes):
    d[result] = np.transpose(d[a], axes or None)


@tangent("ndarray.astype")
def astype_tangent(result, a, dtype, *args, **kwargs):
    d[result] = d[a]


nondifferentiable(
    np.sign, np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix,
    np.argmax, np.argmin, np.argsort, np.shape, np.ndim, np.size, np.zeros_like,
    np.ones_like, np.empty_like, np.full_like, np.zeros, np.ones, np.empty, np.full,
    np.arange, np.linspace, np.eye, np.identity, np.isnan, np.isfinite, np.isinf,
    np.nonzero, np.all, np.any, np.equal, np.not_equal, np.less, np.less_equal,
    np.greater, np.greater_equal, np.logical_and, np.logical_or, np.logical_not,
    np.floor_divide, np.count_nonzero, np.searchsorted, np.random.randn,
    np.random.rand, np.random.normal, np.random.uniform,
    reason="piecewise constant, integer-valued or a constructor",
)
