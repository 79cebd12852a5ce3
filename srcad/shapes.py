"""Shapes known at transform time, so that generated code can use plain expressions.

The code for a call is generated for the kinds of its arguments and, for
arrays, for a *shape pattern*: each dimension is either 1 or a symbol, and
two dimensions share a symbol exactly when they had the same size in the
call (`(1000, 100), (100,), (1000,)` -> `("n1", "n2"), ("n2",), ("n1",)`).
A new batch size gives the same pattern and reuses the code. With the
pattern, broadcasting is decided at transform time: two dimensions with
different symbols cannot meet in a broadcast (the primal would have raised),
1 broadcasts, equal symbols match.

`ShapeInference` propagates patterns through the statements of a function,
flow-insensitively like the kinds of analysis.py: a variable whose
assignments give different shapes, or an operation without a shape rule,
has an unknown shape (None), and the generated code keeps the run-time
helpers (`unbroadcast`, `matmul_left`, ...) there. A call of a user function
has the shape that function's own inference gives for the call's arguments.

A slice with constant bounds makes a *derived* dimension: `x[1:]` and
`y[:-1]` of dimension `n1` both have `n1-1`, which stands for max(0, n1 - 1).
Equal symbols still mean equal sizes; but a derived dimension may be 1 at run
time, so only equality is concluded from it (as from any two symbols, which
`broadcast` never takes to match).
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
LIKE = {np.zeros_like, np.ones_like, np.empty_like, np.full_like}
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


def sliced(dim, index):
    """The dimension a slice with constant bounds (step 1) leaves of dim, or None:
    `n1` -> `n1-k` for `[a:]` and `[a:-b]` (k = a + b), a literal 1 -> 1 or None."""
    if not isinstance(index, slice) or index.step not in (None, 1):
        return None
    start, stop = index.start or 0, index.stop
    if dim == 1:
        return 1 if len(range(1)[index]) == 1 else None
    if start < 0 or stop is not None and stop >= 0:
        return None
    k = start - (stop or 0)
    if k == 0:
        return dim
    base, _, offset = dim.partition("-")
    return f"{base}-{int(offset or 0) + k}"


class ShapeInference:
    """shapes: {variable: pattern or None}; returned_shape(op, of): the shape a call of
    a user function returns, where `of` gives its arguments' shapes."""

    def __init__(self, analysis, param_shapes, returned_shape=None):
        self.analysis = analysis
        self.kinds = analysis.kinds
        self.returned_shape = returned_shape
        self.defined = {}       # a local assigned once -> its Op (constant indices)
        for s in analysis.statements:
            if not s.write:
                self.defined[s.target] = None if s.target in self.defined else s.op
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
            return self.subscript_shape(self.of(op.node.value), op.node.slice)
        if op.kind == "call" and self.returned_shape is not None:
            return self.returned_shape(op, self.of)
        if op.kind == "zero" and op.primitive in LIKE:     # np.zeros_like(x), no derivative
            call = op.node
            if isinstance(call, gast.Call) and call.args and len(call.args) <= 2 \
                    and not isinstance(call.args[0], gast.Starred) \
                    and all(k.arg in ("dtype", "order", "subok") for k in call.keywords):
                return self.of(call.args[0])
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

    def subscript_shape(self, shape, index):
        """The shape of x[index] for x of this shape: integers, constant slices and new
        axes (None) on leading axes."""
        if not shape:
            return None
        parts = index.elts if isinstance(index, gast.Tuple) else [index]
        out, i = [], 0
        for part in parts:
            if isinstance(part, gast.Constant) and part.value is None:
                out.append(1)
                continue
            if i == len(shape):
                return None
            dim, i = shape[i], i + 1
            if self.integer(part):
                continue
            bounds = self.constant_slice(part)
            if bounds is None or sliced(dim, bounds) is None:
                return None
            out.append(sliced(dim, bounds))
        return tuple(out) + shape[i:]

    def constant_slice(self, node):
        if not isinstance(node, gast.Slice):
            return None
        bounds = [None if n is None or isinstance(n, gast.Constant) and n.value is None
                  else self.integer_constant(n) for n in (node.lower, node.upper, node.step)]
        if any(b is UNSET for b in bounds):
            return None
        return slice(*bounds)

    def integer_constant(self, node):
        """The int a node always has (a constant, or a local assigned once a constant or
        its negation: normalization names `-1`), else UNSET."""
        if isinstance(node, gast.Constant):
            return node.value if type(node.value) is int else UNSET
        if isinstance(node, gast.Name) and node.id not in self.analysis.params \
                and node.id not in self.analysis.loop_targets:
            op = self.defined.get(node.id)
            if op is not None and op.kind == "rule" and op.primitive is operator.neg \
                    and len(op.args) == 1 and not op.keywords:
                value = self.integer_constant(op.args[0])
                return UNSET if value is UNSET else -value
            if op is not None and op.kind == "copy":
                return self.integer_constant(op.node)
        return UNSET

    def integer(self, index):
        if isinstance(index, gast.Constant):
            return type(index.value) is int
        if isinstance(index, gast.Name):
            loops = self.analysis.loop_targets.get(index.id, 0)    # of a range: a number
            return loops > 0 and self.analysis.sites.get(index.id, 0) == loops \
                and self.kinds.get(index.id) == "scalar"
        return False
