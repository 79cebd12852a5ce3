"""Part of stage 4: writes of differentiated values into arrays that hold integers.

NumPy casts what is written into an array to the array's dtype: after
`buf = np.zeros(3, dtype=int)`, `buf[0] = x` stores x truncated, whose
derivative is zero, not one. srcad follows the value written, so it would
take a wrong gradient through such a write. Each write of a differentiated
value is proven to go into floats (an array whose constructor makes it
floating or complex, a differentiated argument, which srcad passes as
floats, a list or dict display), refused at transform time where the
array's constructor makes it integer or bool, or checked when it runs
(`runtime.check_floating`) where its dtype is not known until then.

The facts are flow-insensitive, as in analysis.py: a variable holds floats
(or integers) when every assignment of it makes them.
"""
import builtins
import math
import operator

import gast
import numpy as np

from .errors import UnsupportedSyntaxError
from .normalize import local_names
from .resolve import UNRESOLVED
from .syntax import call, name, walk

FLOATING, INTEGER = "floating", "integer"
CONTAINER = "container"  # a list or dict display: what is written into it is kept
ELEMENTS = "elements"    # the dtype NumPy finds for the elements given

# constructor -> (position of its dtype parameter, its dtype without one: FLOATING,
# ELEMENTS, or the position of the argument whose dtype it takes)
CONSTRUCTORS = {
    np.zeros: (1, FLOATING), np.ones: (1, FLOATING), np.empty: (1, FLOATING),
    np.identity: (1, FLOATING), np.eye: (3, FLOATING), np.linspace: (5, FLOATING),
    np.full: (2, 1), np.zeros_like: (1, 0), np.ones_like: (1, 0), np.empty_like: (1, 0),
    np.full_like: (2, 0), np.copy: (None, 0), np.array: (1, ELEMENTS),
    np.asarray: (1, ELEMENTS), np.arange: (3, ELEMENTS), "ndarray.astype": (1, None),
}
# arithmetic whose result holds floats where an operand does, or always (true division)
ARITHMETIC = {operator.add, operator.sub, operator.mul, operator.neg, operator.pos,
              np.add, np.subtract, np.multiply, np.negative}
DIVISION = {operator.truediv, np.divide, np.true_divide}


def floating_check(generator, node):
    """The statements that go before the write `base[index] = value` (node) in generated
    code: none where the value is not differentiated or base is proven to keep it (an
    array of floats, a display), a run-time check where base's dtype is not known;
    refused where base holds integers or bools."""
    value, base = node.value, node.targets[0].value.id
    if not (isinstance(value, gast.Name) and value.id in generator.active):
        return []
    analysis = generator.analysis
    kind = floating_names(generator).get(base)
    if kind == INTEGER:
        shown = f"'{value.id}'" if value.id in local_names(analysis.function.node) \
            else "a differentiated value"
        raise analysis.function.error(UnsupportedSyntaxError, node,
            f"cannot differentiate writing {shown} into '{base}', an array of integers "
            "(or bools): NumPy truncates what is written there, so its derivative is lost; "
            f"make '{base}' an array of floats (dtype=float)")
    if kind in (FLOATING, CONTAINER):
        return []
    return [gast.Expr(value=call(generator.runtime("check_floating"), name(base)))]


def floating_names(generator):
    """{variable: FLOATING, INTEGER or CONTAINER} for the locals of a generator's function
    proven to hold such arrays, or a list or dict display, wherever they are assigned:
    its differentiated array arguments hold floats, as srcad passes them, and a called
    function's those its caller proved to (Generator.floating_params)."""
    analysis = generator.analysis
    floats = set(generator.floating_params) if generator.is_callee else {
        p for p in generator.wrt if analysis.param_kinds.get(p) == "array"}
    return _dtype_kinds(analysis, floats)


def _dtype_kinds(analysis, floats):
    cached = getattr(analysis, "dtype_kinds", None)
    if cached is not None:
        return cached
    sites = {}
    for s in analysis.statements:
        if not s.write:
            sites.setdefault(s.target, []).append(s.op)
    kinds = {}
    while True:     # from nothing proven up: each fact rests on facts proven before it
        found = {}
        for var, ops in sites.items():
            if var in analysis.params and var not in floats:
                continue        # an argument's dtype is the caller's
            made = {_made(op, kinds, analysis.resolver, sites) for op in ops}
            if var in floats:
                made.add(FLOATING)
            if len(made) == 1 and None not in made:
                found[var] = made.pop()
        found.update({p: FLOATING for p in floats if p not in sites})
        if found == kinds:
            analysis.dtype_kinds = kinds
            return kinds
        kinds = found


def _made(op, kinds, resolver, sites):
    """FLOATING or INTEGER for the array an operation makes, or None where not proven."""
    if op.kind == "copy":
        return kinds.get(op.node.id)
    if op.kind == "literal":
        return CONTAINER
    if op.kind not in ("rule", "zero") or not isinstance(op.node, (gast.Call, gast.BinOp,
                                                                    gast.UnaryOp)) \
            or not _hashable(op.primitive) \
            or op.primitive not in CONSTRUCTORS.keys() | ARITHMETIC | DIVISION:
        return None
    args, keywords = (op.args, op.keywords) if op.kind == "rule" else \
        (op.node.args, {k.arg: k.value for k in op.node.keywords})
    if op.primitive in ARITHMETIC | DIVISION:
        if keywords:        # a dtype= or casting= of its own
            return None
        operands = [_of_node(a, kinds) for a in args]
        return FLOATING if op.primitive in DIVISION or FLOATING in operands else None
    position, default = CONSTRUCTORS[op.primitive]
    dtype = keywords.get("dtype")
    if dtype is None and position is not None and len(args) > position:
        dtype = args[position]
    if dtype is not None and not (isinstance(dtype, gast.Constant) and dtype.value is None):
        return _of_dtype(resolver.constant(dtype))
    if default == ELEMENTS:
        return _of_elements(args[:1] if op.primitive is not np.arange else args[:3],
                            kinds, sites)
    if isinstance(default, int):
        return _of_node(args[default], kinds) if len(args) > default else None
    return default


def _of_elements(nodes, kinds, sites):
    """The kind of np.array(x) for these nodes: x's elements, where x is a display."""
    elements = []
    for node in nodes:
        ops = sites.get(node.id, []) if isinstance(node, gast.Name) else []
        if len(ops) == 1 and ops[0].kind == "literal":
            elements += list(ops[0].elements.values())
        else:
            elements.append(node)
    found = {_of_node(e, kinds) for e in elements}
    if found and found <= {FLOATING, INTEGER}:
        return FLOATING if FLOATING in found else INTEGER
    return None


def _of_node(node, kinds):
    if isinstance(node, gast.Constant):
        value = node.value
        if isinstance(value, (bool, int)):
            return INTEGER
        return FLOATING if isinstance(value, (float, complex)) else None
    return kinds.get(node.id) if isinstance(node, gast.Name) else None


def _of_dtype(dtype):
    if dtype is UNRESOLVED:
        return None
    try:
        kind = np.dtype(dtype).kind
    except (TypeError, ValueError):
        return None
    return FLOATING if kind in "fc" else INTEGER if kind in "biu" else None


def _hashable(x):
    try:
        hash(x)
    except TypeError:
        return False
    return True


# -- real functions: code whose every value is real numbers ------------------------------
#
# Where a function's arguments hold real numbers of at most double precision, and each of
# its operations makes real numbers of real ones, every value it computes is real, and so
# is every gradient of it: the gradient of an array part (`runtime.add_at`) is then a
# float64 array written in place, with none of the run-time tests for complex values.

# NumPy functions that make real numbers of real ones -> the most positional arguments
# they take before a dtype; a ufunc takes its inputs and outputs; `math` and `operator`
# functions take any (operator.pow is proven apart: a float to a float power may be
# complex)
REAL_CALLS = {
    np.sum: 2, np.mean: 2, np.prod: 2, np.max: 2, np.min: 2, np.amax: 2, np.amin: 2,
    np.cumsum: 2, np.dot: 2, np.outer: 2, np.transpose: 2, np.reshape: 2, np.ravel: 1,
    np.concatenate: 2, np.stack: 2, np.where: 3, np.clip: 3, np.real: 1, np.imag: 1,
    np.zeros: 1, np.ones: 1, np.empty: 1, np.zeros_like: 1, np.ones_like: 1,
    np.empty_like: 1, np.full: 2, np.full_like: 2, np.array: 1, np.asarray: 1, np.copy: 1,
    np.arange: 3, np.eye: 3, np.identity: 1, np.triu_indices: 3, np.tril_indices: 3,
    np.squeeze: 2, np.expand_dims: 2, np.diag: 2, np.tile: 2, np.repeat: 3,
    np.broadcast_to: 2, np.sort: 2, np.argsort: 2, np.argmax: 2, np.argmin: 2,
    np.linalg.norm: 1,
    "ndarray.sum": 1, "ndarray.mean": 1, "ndarray.max": 1, "ndarray.min": 1,
    "ndarray.prod": 1, "ndarray.copy": 0, "ndarray.reshape": 3, "ndarray.transpose": 3,
    "ndarray.ravel": 0,
    builtins.len: 1, builtins.range: 3, builtins.float: 1, builtins.int: 1,
    builtins.abs: 1, builtins.min: None, builtins.max: None, builtins.sum: 2,
    builtins.bool: 1, builtins.enumerate: 2, builtins.zip: None, builtins.list: 1,
    builtins.tuple: 1, builtins.reversed: 1,
}
try:
    from scipy import special
    REAL_CALLS[special.multigammaln] = 2
except ImportError:     # SciPy is optional
    pass
_REAL_KEYWORDS = {"axis", "keepdims", "out"}
_REAL_MODULES = (np, math)     # whose float constants (np.pi, math.e) code may read
_MOVES = {"copy", "subscript", "field", "literal", "append", "pop"}


def real_value(value, depth=0):
    """Whether a value holds only real numbers of at most double precision (and None):
    an ndarray of bools, integers or floats, such a number, or a list, tuple, dict or
    container of them."""
    from . import containers
    if isinstance(value, np.ndarray):
        return type(value) is np.ndarray and value.dtype.kind in "biuf" \
            and value.dtype.itemsize <= 8
    if isinstance(value, (bool, int, float, np.integer, np.bool_, np.floating)):
        return not isinstance(value, np.floating) or value.dtype.itemsize <= 8
    if value is None:
        return True
    if depth == 32:
        return False
    if type(value) in (list, tuple):
        return all(real_value(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(real_value(v, depth + 1) for v in value.values())
    container = containers.of(value)
    parts = container.parts(value) if container is not None else None
    return parts is not None and all(real_value(v, depth + 1) for _, v in parts)


def real_function(analysis):
    """Whether every value a function computes is real where its arguments are: its
    constants are real numbers, it reads no name but its own locals (and the functions
    it calls), and each operation is proven to make real numbers of real ones (a call
    of a user function by that function's own Analysis for the call)."""
    cached = getattr(analysis, "real", None)
    fn = analysis.function.fn
    if cached is None:
        if fn in _CHECKING:
            return False    # a recursion proves nothing
        _CHECKING.add(fn)
        try:
            analysis.real = cached = _own_values_real(analysis) and all(
                _real_op(s.op, analysis) for s in analysis.statements) and all(
                _real_op(node.op, analysis) for node in walk(analysis.tree)
                if isinstance(node, gast.Expr) and getattr(node, "op", None) is not None
                and node.op.kind == "call")
        finally:
            _CHECKING.discard(fn)
    return cached


_CHECKING = set()   # the functions whose real_function is being found


def _own_values_real(analysis):
    known = set(analysis.locals) | set(analysis.params)
    todo = list(analysis.tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, gast.Constant) and not (
                isinstance(node.value, (bool, int, float)) or node.value in (None, Ellipsis)):
            return False
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) \
                and node.id not in known:
            return False
        if isinstance(node, gast.Call) and isinstance(node.func, (gast.Name, gast.Attribute)):
            todo += node.args + [k.value for k in node.keywords]   # (what it calls: its op)
            continue
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) \
                and node.value.id not in known:
            module = analysis.resolver.constant(node.value)
            if not any(module is m for m in _REAL_MODULES) \
                    or type(getattr(module, node.attr, None)) not in (float, type(None)):
                return False
            continue
        todo += [child for child in gast.iter_child_nodes(node)]
    return True


def _real_op(op, analysis):
    if op.kind in _MOVES:
        return True
    if op.kind == "call":
        callee = analysis.callee_analysis(op)
        return callee is not None and real_function(callee)
    node, primitive = op.node, op.primitive
    if op.kind == "unknown" and isinstance(node, gast.Call):   # no rule: not differentiated
        primitive = analysis.resolver.constant(node.func)
    elif op.kind not in ("rule", "zero"):
        return False
    if not isinstance(node, gast.Call):
        if primitive is operator.pow:   # a float to a float power may be complex
            return any(analysis.kinds.get(getattr(n, "id", None)) == "array"
                       for n in (node.left, node.right)) \
                or isinstance(node.right, gast.Constant) and type(node.right.value) is int
        return True     # an operator, a comparison, a constant or a shape query
    keywords = {k.arg for k in node.keywords}
    if isinstance(primitive, np.ufunc):
        return len(node.args) <= primitive.nin + primitive.nout and keywords <= {"out"}
    if getattr(primitive, "__module__", None) in ("math", "_operator", "operator") \
            and primitive is not operator.pow:
        return True
    if not _hashable(primitive) or primitive not in REAL_CALLS:
        return False
    most = REAL_CALLS[primitive]
    return (most is None or len(node.args) <= most) and keywords <= _REAL_KEYWORDS
