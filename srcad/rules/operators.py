"""Rules for Python's operators (and the NumPy functions they stand for)."""
import operator

import numpy as np

from ..runtime import matmul_left, matmul_right, unbroadcast
from .templates import adjoint, d, nondifferentiable, tangent


@adjoint(operator.add, np.add)
def add(result, x1, x2):
    d[x1] = unbroadcast(d[result], x1)
    d[x2] = unbroadcast(d[result], x2)


@adjoint(operator.sub, np.subtract)
def subtract(result, x1, x2):
    d[x1] = unbroadcast(d[result], x1)
    d[x2] = unbroadcast(-d[result], x2)


@adjoint(operator.mul, np.multiply)
def multiply(result, x1, x2):
    d[x1] = unbroadcast(d[result] * x2, x1)
    d[x2] = unbroadcast(d[result] * x1, x2)


@adjoint(operator.truediv, np.divide, np.true_divide)
def divide(result, x1, x2):
    d[x1] = unbroadcast(d[result] / x2, x1)
    d[x2] = unbroadcast(-d[result] * result / x2, x2)


@adjoint(operator.pow, np.power, np.float_power)
def power(result, x1, x2):
    d[x1] = unbroadcast(d[result] * x2 * x1 ** (x2 - 1), x1)
    d[x2] = unbroadcast(d[result] * result * np.log(np.where(x1 > 0, x1, 1.0)), x2)


@adjoint(operator.mod, np.mod, np.remainder)
def mod(result, x1, x2):
    d[x1] = unbroadcast(d[result], x1)
    d[x2] = unbroadcast(-d[result] * np.floor_divide(x1, x2), x2)


@adjoint(operator.matmul, np.matmul)
def matmul(result, x1, x2):
    d[x1] = matmul_left(d[result], x1, x2)
    d[x2] = matmul_right(d[result], x1, x2)


@adjoint(operator.neg, np.negative)
def negative(result, x):
    d[x] = -d[result]


@adjoint(operator.pos, np.positive)
def positive(result, x):
    d[x] = d[result]


@tangent(operator.add, np.add)
def add_tangent(result, x1, x2):
    d[result] = d[x1] + d[x2]


@tangent(operator.sub, np.subtract)
def subtract_tangent(result, x1, x2):
    d[result] = d[x1] - d[x2]


@tangent(operator.mul, np.multiply)
def multiply_tangent(result, x1, x2):
    d[result] = d[x1] * x2 + x1 * d[x2]


@tangent(operator.truediv, np.divide, np.true_divide)
def divide_tangent(result, x1, x2):
    d[result] = d[x1] / x2 - d[x2] * result / x2


@tangent(operator.pow, np.power, np.float_power)
def power_tangent(result, x1, x2):
    d[result] = d[x1] * x2 * x1 ** (x2 - 1) + d[x2] * result * np.log(np.where(x1 > 0, x1, 1.0))


@tangent(operator.mod, np.mod, np.remainder)
def mod_tangent(result, x1, x2):
    d[result] = d[x1] - d[x2] * np.floor_divide(x1, x2)


@tangent(operator.matmul, np.matmul)
def matmul_tangent(result, x1, x2):
    d[result] = d[x1] @ x2 + x1 @ d[x2]


@tangent(operator.neg, np.negative)
def negative_tangent(result, x):
    d[result] = -d[x]


@tangent(operator.pos, np.positive)
def positive_tangent(result, x):
    d[result] = d[x]


nondifferentiable(
    operator.floordiv, np.floor_divide, operator.not_, operator.invert,
    operator.and_, operator.or_, operator.xor, operator.lshift, operator.rshift,
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.is_, operator.is_not, operator.contains, operator.truth,
    reason="piecewise constant or integer-valued",
)
