"""Derivative rules, one module per namespace. Importing this package registers them."""
from . import builtins, math, numpy, operators, runtime  # noqa: F401  (registration on import)
from .templates import ADJOINTS, NONDIFFERENTIABLE, TANGENTS, adjoint, nondifferentiable, tangent

__all__ = ["ADJOINTS", "TANGENTS", "NONDIFFERENTIABLE", "adjoint", "tangent", "nondifferentiable"]
