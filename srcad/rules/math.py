"""Rules for the `math` module: Python floats in, Python floats out."""
import math

from .templates import ADJOINTS, adjoint, d, nondifferentiable, rule_table, tangent

rule_table(ADJOINTS, {
    math.sin: "d[x] = d[result] * math.cos(x)",
    math.cos: "d[x] = -d[result] * math.sin(x)",
    math.tan: "d[x] = d[result] * (1.0 + result * result)",
    math.asin: "d[x] = d[result] / math.sqrt(1.0 - x * x)",
    math.acos: "d[x] = -d[result] / math.sqrt(1.0 - x * x)",
    math.atan: "d[x] = d[result] / (1.0 + x * x)",
    math.sinh: "d[x] = d[result] * math.cosh(x)",
    math.cosh: "d[x] = d[result] * math.sinh(x)",
    math.tanh: "d[x] = d[result] * (1.0 - result * result)",
    math.exp: "d[x] = d[result] * result",
    math.expm1: "d[x] = d[result] * (result + 1.0)",
    math.log1p: "d[x] = d[result] / (1.0 + x)",
    math.sqrt: "d[x] = d[result] * 0.5 / result",
    math.fabs: "d[x] = d[result] * math.copysign(1.0, x)",
    math.erf: "d[x] = d[result] * 1.1283791670955126 * math.exp(-x * x)",
    math.erfc: "d[x] = -d[result] * 1.1283791670955126 * math.exp(-x * x)",
    math.log2: "d[x] = d[result] / (x * 0.6931471805599453)",
    math.log10: "d[x] = d[result] / (x * 2.302585092994046)",
    math.degrees: "d[x] = d[result] * 57.29577951308232",
    math.radians: "d[x] = d[result] * 0.017453292519943295",
}, {"math": math}, elementwise=True)


@adjoint(math.log)
def log(result, x, base=math.e):
    d[x] = d[result] / (x * math.log(base))
    d[base] = -d[result] * result / (base * math.log(base))


@adjoint(math.pow)
def pow(result, x, y):
    d[x] = d[result] * y * x ** (y - 1.0)
    d[y] = d[result] * result * math.log(x) if x > 0 else 0.0


@adjoint(math.atan2)
def atan2(result, y, x):
    d[y] = d[result] * x / (x * x + y * y)
    d[x] = -d[result] * y / (x * x + y * y)


@adjoint(math.hypot)
def hypot(result, x, y):
    d[x] = d[result] * x / result
    d[y] = d[result] * y / result


@tangent(math.log)
def log_tangent(result, x, base=math.e):
    d[result] = d[x] / (x * math.log(base)) - d[base] * result / (base * math.log(base))


@tangent(math.pow)
def pow_tangent(result, x, y):
    d[result] = d[x] * y * x ** (y - 1.0) + d[y] * (result * math.log(x) if x > 0 else 0.0)


@tangent(math.atan2)
def atan2_tangent(result, y, x):
    d[result] = d[y] * x / (x * x + y * y) - d[x] * y / (x * x + y * y)


@tangent(math.hypot)
def hypot_tangent(result, x, y):
    d[result] = d[x] * x / result + d[y] * y / result


# copysign(x, y) is |x| with the sign of y
@adjoint(math.copysign)
def copysign(result, x, y):
    d[x] = d[result] * math.copysign(1.0, x) * math.copysign(1.0, y)


@tangent(math.copysign)
def copysign_tangent(result, x, y):
    d[result] = d[x] * math.copysign(1.0, x) * math.copysign(1.0, y)


nondifferentiable(math.floor, math.ceil, math.trunc, reason="integer-valued")
nondifferentiable(math.isnan, math.isinf, math.isfinite, reason="boolean-valued")
nondifferentiable(math.factorial, math.comb, reason="of integers only")

