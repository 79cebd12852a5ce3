"""Derivative rules, one module per namespace. Importing this package registers them."""
from . import builtins, fft, linalg, math, numpy, operators, runtime, scipy
from .templates import ADJOINTS, NONDIFFERENTIABLE, TANGENTS, adjoint, nondifferentiable, tangent

MODULES = (operators, numpy, linalg, fft, scipy, math, builtins, runtime)  # registered on import

__all__ = ["ADJOINTS", "TANGENTS", "NONDIFFERENTIABLE", "adjoint", "tangent", "nondifferentiable"]
