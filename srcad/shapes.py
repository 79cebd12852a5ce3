"""Shapes known at transform time, so that generated code can use plain expressions.

The code for a call is generated for the kinds of its arguments and, for
arrays, for a *shape pattern*: each dimension is either 1 or a symbol, and
two dimensions share a symbol exactly when they had the same size in the
call (`(1000, 100), (100,), (1000,)` -> `("n1", "n2"), ("n2",), ("n1",)`).
A new batch size gives the same pattern and reuses the code. With the
pattern, broadcasting is decided at transform time: two dimensions with
different symbols cannot meet in a broadcast (the primal would have raised),
1 broadcasts, equal symbols match.

`infer_shapes` propagates patterns through the statements of a function,
flow-insensitively like the kinds of analysis.py: a variable whose
assignments give different shapes, or an operation without a shape rule,
has an unknown shape (None), and the generated code keeps the run-time
helpers (`unbroadcast`, `matmul_left`, ...) there.
"""
import builtins
import operator

import gast
import numpy as np

UNSET = object()

BINARY = {operator.add, operator.sub, operator.mul, operator.truediv, operator.pow,
          operator.mod, np.add, np.subtract, np.multiply, np.divide, np.true_divide,
          np.power, np.maximum, np.minimum, np.arctan2, np.where}
UNARY = {operator.neg, operator.pos, np.copy, np.asarray}
REDUCTIONS = {np.sum, np.mean, np.max, np.min, np.amax, np.amin, np.prod}
MATMUL = {operator.matmul, np.matmul, np.dot}


def shape_pattern(values):
    """{name: value} -> {name: pattern} for the ndarray and scalar values among them."""
    symbols = {}
    patterns = {}
    for key, value in values.items():
        if type(value) is np.ndarray:
            patterns[key] = tuple(1 if n == 1 else symbols.setdefault(n, f"n{len(symbols) + 1}")
                                  for n in value.shape)
        elif isinstance(value, (float, int, np.number)) and not isinstance(value, complex):
            patterns[key] = ()
    return patterns


def broadcast(*shapes):
    if any(s is None for s in shapes):
        return None
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(ndim):
        dims = {s[i - ndim + len(s)] for s in shapes if i - ndim + len(s) >= 0} - {1}
        if len(dims) > 1:
            return None
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def matmul_shape(a, b):
    if a is None or b is None or not a or not b or len(a) > 2 or len(b) > 2:
        return None
    inner_a = a[-1]
    inner_b = b[0] if len(b) == 1 else b[-2]
    if inner_a != inner_b:
        return None
    return a[:-1] + b[1:] if len(b) == 2 else a[:-1]


def _constant(node, default=UNSET):
    if node is None:
        return default
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, gast.Tuple) and all(isinstance(e, gast.Constant) for e in node.elts):
        return tuple(e.value for e in node.elts)
    return UNSET


def reduction_shape(shape, axis, keepdims):
    if shape is None or axis is UNSET or keepdims not in (True, False):
        return None
    if axis is None:
        return tuple(1 for _ in shape) if keepdims else ()
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not all(isinstance(a, int) and -len(shape) <= a < len(shape) for a in axes):
        return None
    axes = {a % len(shape) for a in axes}
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class ShapeInference:
    def __init__(self, analysis, param_shapes):
        self.analysis = analysis
        self.kinds = analysis.kinds
        self.shapes = {}
        for p in analysis.params:
            if self.kinds.get(p) == "scalar":
                self.shapes[p] = ()
            elif p in param_shapes and self.kinds.get(p) == "array":
                self.shapes[p] = param_shapes[p]
            else:
                self.shapes[p] = None
        for target in analysis.loop_targets:
            self.join(target, ())
        changed = True
        while changed:
            changed = False
            for s in analysis.statements:
                if s.write:
                    continue
                old = self.shapes.get(s.target, UNSET)
                new = self.op_shape(s.op) if self.kinds.get(s.target) != "scalar" else ()
                if self.join(s.target, new) != old:
                    changed = True

    def join(self, var, shape):
        old = self.shapes.get(var, UNSET)
        self.shapes[var] = shape if old is UNSET or old == shape else None
        return self.shapes[var]

    def of(self, node):
        if isinstance(node, gast.Constant):
            return () if type(node.value) in (int, float, bool) else None
        if isinstance(node, gast.Name):
            if node.id not in self.analysis.locals:
                return None
            shape = self.shapes.get(node.id, UNSET)
            return None if shape is UNSET else shape
        return None

    def op_shape(self, op):
        if op.kind == "copy":
            return self.of(op.node)
        if op.kind == "subscript":
            base, index = op.node.value, op.node.slice
            shape = self.of(base)
            if shape and self.integer(index):
                return shape[1:]
            return None
        if op.kind != "rule" or op.primitive is None:
            return None
        p = op.primitive
        args = op.args
        if any(isinstance(a, gast.Starred) for a in args):
            return None
        if p in MATMUL:
            if len(args) == 2 and not op.keywords:
                return matmul_shape(self.of(args[0]), self.of(args[1]))
            return None
        elementwise = isinstance(p, np.ufunc) and p.signature is None and p.nout == 1
        if p in BINARY or p in UNARY or elementwise:
            if op.keywords or not args or (p is np.where and len(args) != 3):
                return None
            return broadcast(*[self.of(a) for a in args])
        if p is builtins.abs and len(args) == 1 and not op.keywords:
            return self.of(args[0])     # elementwise on an array
        if getattr(p, "__module__", None) == "math" or p is builtins.float:
            return ()
        if p is np.transpose and len(args) == 1 and not op.keywords:
            shape = self.of(args[0])
            return None if shape is None else shape[::-1]
        if p in REDUCTIONS and args:
            bindings = op.bindings
            if any(k in bindings and _constant(bindings[k]) is not None
                   for k in ("dtype", "out")):
                return None
            return reduction_shape(self.of(args[0]), _constant(bindings.get("axis"), None),
                                   _constant(bindings.get("keepdims"), False))
        return None

    def integer(self, index):
        if isinstance(index, gast.Constant):
            return type(index.value) is int
        if isinstance(index, gast.Name):
            loops = self.analysis.loop_targets.get(index.id, 0)
            return loops > 0 and self.analysis.sites.get(index.id, 0) == loops
        return False
