"""Rules for Python's operators (and the NumPy functions they stand for)."""
import operator

import numpy as np

from .. import runtime
from ..errors import SrcadError
from ..runtime import log_of_base, matmul_left, matmul_right, unbroadcast
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
    d[x2] = unbroadcast(d[result] * result * log_of_base(x1, result), x2)


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
    d[result] = d[x1] * x2 * x1 ** (x2 - 1) + d[x2] * result * log_of_base(x1, result)


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


# a | b merges two dicts (b's entries win) or is the bitwise or of integers or booleans,
# which is integer-valued.
def union_grad(g, x1, x2, k):
    """Gradient of x1 (k=0) or x2 (k=1) from the gradient g of x1 | x2."""
    if not isinstance(x1, dict):
        _integer_valued(x1, x2)
        return 0.0
    if runtime._is_zero(g):
        return 0.0
    keys = x2 if k else [key for key in x1 if key not in x2]
    return {key: g.get(key, 0.0) for key in keys}


def union_tangent(t1, t2, x1, x2):
    """Tangent of x1 | x2."""
    if not isinstance(x1, dict):
        _integer_valued(x1, x2)
        return 0.0
    t1 = runtime.zeros_like(x1) if runtime._is_zero(t1) else t1
    t2 = runtime.zeros_like(x2) if runtime._is_zero(t2) else t2
    return t1 | t2


def _integer_valued(*operands):
    for x in operands:
        if not (isinstance(x, (bool, int, np.integer, np.bool_))
                or isinstance(x, np.ndarray) and x.dtype.kind in "biu"):
            raise SrcadError(f"srcad: '|' of a {type(x).__name__} has no derivative rule: "
                             "merge dicts with | or write the result with its own rule")


@adjoint(operator.or_)
def or_(result, x1, x2):
    d[x1] = union_grad(d[result], x1, x2, 0)
    d[x2] = union_grad(d[result], x1, x2, 1)


@tangent(operator.or_)
def or_tangent(result, x1, x2):
    d[result] = union_tangent(d[x1], d[x2], x1, x2)


@tangent(union_grad)
def union_grad_tangent(out, g, x1, x2, k):
    d[out] = union_grad(d[g], x1, x2, k)


nondifferentiable(operator.floordiv, np.floor_divide, reason="piecewise constant")
# &, ^, ~, << and >> take integers and booleans only (and sets, which srcad refuses as
# differentiated values); their results are integer- or boolean-valued
nondifferentiable(operator.not_, operator.invert, operator.and_, operator.xor,
                  operator.lshift, operator.rshift, reason="integer-valued")
nondifferentiable(operator.lt, operator.le, operator.gt, operator.ge, operator.eq,
                  operator.ne, operator.is_, operator.is_not, operator.contains,
                  operator.truth, reason="boolean-valued")
