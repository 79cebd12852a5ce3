"""Rules for Python's built-in functions."""
import builtins

import numpy as np

from ..runtime import stop_gradient
from .numpy import maximum, maximum_tangent, minimum, minimum_tangent
from .templates import ADJOINTS, TANGENTS, adjoint, nondifferentiable, rule_table, tangent

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


# max(a, b) and min(a, b) of two numbers share np.maximum's and np.minimum's rules.
adjoint(builtins.max)(maximum)
tangent(builtins.max)(maximum_tangent)
adjoint(builtins.min)(minimum)
tangent(builtins.min)(minimum_tangent)

nondifferentiable(builtins.len, builtins.range, builtins.int, builtins.bool, builtins.round,
                  builtins.isinstance, builtins.type, builtins.print, builtins.str,
                  builtins.enumerate, builtins.zip, builtins.sorted, builtins.any,
                  builtins.all, builtins.hasattr, builtins.id, builtins.repr,
                  reason="integer-valued or not a numeric operation")

nondifferentiable(stop_gradient, reason="srcad.stop_gradient blocks the derivative")
