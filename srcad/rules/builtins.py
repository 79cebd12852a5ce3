"""Rules for Python's built-in functions."""
import builtins

import numpy as np

from ..runtime import stop_gradient, unbroadcast
from .templates import ADJOINTS, TANGENTS, adjoint, d, nondifferentiable, rule_table, tangent

rule_table(ADJOINTS, {
    builtins.abs: "d[x] = d[result] * np.sign(x)",
    builtins.float: "d[x] = d[result]",
}, {"np": np}, elementwise=True)
rule_table(ADJOINTS, {
    builtins.list: "d[x] = d[result]",
    builtins.tuple: "d[x] = d[result]",
}, {})
rule_table(TANGENTS, {
    builtins.list: "d[result] = list(d[x])",
    builtins.tuple: "d[result] = tuple(d[x])",
}, {})


@adjoint(builtins.max)
def max(result, x1, x2):
    d[x1] = unbroadcast(d[result] * (x1 >= x2), x1)
    d[x2] = unbroadcast(d[result] * (x1 < x2), x2)


@adjoint(builtins.min)
def min(result, x1, x2):
    d[x1] = unbroadcast(d[result] * (x1 <= x2), x1)
    d[x2] = unbroadcast(d[result] * (x1 > x2), x2)


@tangent(builtins.max)
def max_tangent(result, x1, x2):
    d[result] = d[x1] * (x1 >= x2) + d[x2] * (x1 < x2)


@tangent(builtins.min)
def min_tangent(result, x1, x2):
    d[result] = d[x1] * (x1 <= x2) + d[x2] * (x1 > x2)


nondifferentiable(builtins.len, builtins.range, builtins.int, builtins.bool, builtins.round,
                  builtins.isinstance, builtins.type, builtins.print, builtins.str,
                  builtins.enumerate, builtins.zip, builtins.sorted, builtins.any,
                  builtins.all, builtins.hasattr, builtins.id, builtins.repr,
                  reason="integer-valued or not a numeric operation")

nondifferentiable(stop_gradient, reason="srcad.stop_gradient blocks the derivative")
