"""Derivative rules, one module per namespace. Importing this package registers them."""
import builtins as python

import numpy as np

from . import builtins, fft, linalg, math, numpy, operators, runtime, scipy
from .templates import ADJOINTS, NONDIFFERENTIABLE, TANGENTS, adjoint, nondifferentiable, tangent

MODULES = (operators, numpy, linalg, fft, scipy, math, builtins, runtime)  # registered on import

# Primitives whose result is a list, tuple or iterator, never an array or a number: their
# gradients are added as containers are.
CONTAINERS = {python.list, python.tuple, python.sorted, python.reversed, python.zip,
              python.enumerate, "ndarray.tolist", np.split, np.array_split, np.hsplit,
              np.vsplit, np.linalg.qr, np.linalg.eigh, np.linalg.eig, np.linalg.svd,
              np.linalg.slogdet, np.linalg.lstsq}

# Primitives refused on differentiated values -> what to write instead.
REFUSED = builtins.REFUSED

__all__ = ["ADJOINTS", "TANGENTS", "NONDIFFERENTIABLE", "CONTAINERS", "REFUSED", "adjoint",
           "tangent", "nondifferentiable"]
