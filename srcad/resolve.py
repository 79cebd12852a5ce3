"""Stage 3: what each normalized statement computes, as an `Op`.

Every right-hand side of the normalized function is one operation. This stage
binds called names to the objects they refer to in the function's namespace
and classifies the operation, so that analysis and the transformers can ask
one question per statement: which rule applies, and to which arguments.
"""
import ast
import functools
import inspect
import operator
import types

import gast
import numpy as np

from . import objects, rules, runtime
from .errors import NoDerivativeError
from .nested import as_def
from .rules.numpy import (ATTRIBUTES, METHODS, NONDIFFERENTIABLE_ATTRIBUTES,
                          NONDIFFERENTIABLE_METHODS)

OPERATORS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.FloorDiv: operator.floordiv, gast.Mod: operator.mod,
    gast.Pow: operator.pow, gast.MatMult: operator.matmul, gast.USub: operator.neg,
    gast.UAdd: operator.pos, gast.Not: operator.not_, gast.Invert: operator.invert,
    gast.BitAnd: operator.and_, gast.BitOr: operator.or_, gast.BitXor: operator.xor,
    gast.LShift: operator.lshift, gast.RShift: operator.rshift,
    gast.Lt: operator.lt, gast.LtE: operator.le, gast.Gt: operator.gt, gast.GtE: operator.ge,
    gast.Eq: operator.eq, gast.NotEq: operator.ne, gast.Is: operator.is_,
    gast.IsNot: operator.is_not, gast.In: operator.contains, gast.NotIn: operator.contains,
}
SYMBOLS = {
    gast.Add: "+", gast.Sub: "-", gast.Mult: "*", gast.Div: "/", gast.FloorDiv: "//",
    gast.Mod: "%", gast.Pow: "**", gast.MatMult: "@", gast.USub: "-", gast.UAdd: "+",
}

# Libraries whose functions are primitives: srcad never reads their source.
LIBRARY_MODULES = ("numpy", "scipy", "math", "builtins", "srcad")


class Op:
    """One primitive operation.

    kind is one of:
      rule       a derivative rule applies: `template`, `bindings` (param -> node)
      zero       non-differentiable (comparisons, shape queries, constructors)
      call       a call to the user's own Python function `callee`
      copy       `x = y`
      subscript  `x = y[index]`
      field      `x = y.attr` of a local y (`args` is [y]): the part attr names, where y
                 is differentiated (containers.field_key), else just read
      literal    `x = (a, b)` / `[a, b]` / `{k: v}`: `elements` (key -> node)
      append     `xs.append(v)`
      pop        `xs.pop()`
      method     `v.attr(...)` on a local value, until the value's kind decides it
                 (`args` starts with the receiver; see Resolver.method_of)
      unknown    nothing known: refused if its arguments are active, with `reason`
    """

    def __init__(self, kind, node, **fields):
        self.kind = kind
        self.node = node
        self.template = fields.get("template")
        self.bindings = fields.get("bindings", {})
        self.callee = fields.get("callee")
        self.args = fields.get("args", [])
        self.keywords = fields.get("keywords", {})
        self.elements = fields.get("elements", {})
        self.description = fields.get("description", "")
        self.primitive = fields.get("primitive")
        self.attr = fields.get("attr")
        self.reason = fields.get("reason")

    def inputs(self):
        """Names whose gradient this operation can produce, with the node they occupy."""
        if self.kind == "rule":
            return [(node.id, param) for param, node in self.bindings.items()
                    if isinstance(node, gast.Name) and param in self.template.differentiates]
        if self.kind == "call":
            nodes = list(self.args) + list(self.keywords.values())
            return [(n.id, None) for n in nodes if isinstance(n, gast.Name)]
        if self.kind == "copy" and isinstance(self.node, gast.Name):
            return [(self.node.id, None)]
        if self.kind == "subscript" and isinstance(self.node.value, gast.Name):
            return [(self.node.value.id, None)]
        if self.kind == "field":
            return [(self.args[0].id, None)]
        if self.kind == "literal":
            return [(n.id, None) for n in self.elements.values() if isinstance(n, gast.Name)]
        if self.kind in ("append", "pop"):
            return [(self.args[0].id, None)] if isinstance(self.args[0], gast.Name) else []
        if self.kind in ("unknown", "method"):
            return [(n, None) for n in _names(self.node)]
        return []


def _names(node):
    return sorted({n.id for n in gast.walk(node) if isinstance(n, gast.Name)})


DICT_VIEWS = {"keys": runtime.dict_keys, "values": runtime.dict_values,
              "items": runtime.dict_items}
UNRESOLVED = object()   # what a name is bound to, where srcad has not proven it


class Resolver:
    """Binds the names a function calls to the objects Python would call.

    A global or closure name is looked up in the function's namespace; a local
    is bound to an object only where every assignment to it binds that same
    object (`xp = np`, `act = np.tanh`, `la = getattr(np, "linalg")`), so that
    calls through it resolve like calls through the global. Any other local
    holds a value computed at run time: calling it is an unknown operation, and
    calling a method on it waits for its kind (Resolver.method_of).
    """

    def __init__(self, function, local_names, assignments, values=None, name_object=None):
        self.function = function
        self.locals = local_names
        self.assignments = assignments  # local -> the values assigned to it (None: not by =)
        self.bound = {}
        self.values = values or {}      # parameter -> the function its kind says it holds
        self.name_object = name_object  # object -> a gast.Name generated code reads it by

    def constant(self, node):
        """The object node refers to whenever the function runs, or UNRESOLVED: a global
        or closure name, a local bound to one object, attributes of a module or class
        among those, `getattr` of them with a constant name, constants."""
        if isinstance(node, gast.Constant):
            return node.value
        if isinstance(node, gast.Name):
            if node.id in self.locals:
                return self.bound_object(node.id)
            return self.function.namespace.get(node.id, UNRESOLVED)
        if isinstance(node, gast.Attribute):
            base = self.constant(node.value)
            value = _attribute(base, node.attr)
            if value is not UNRESOLVED:
                self.watch_attribute(base, node.attr)
            return value
        if isinstance(node, gast.Call) and not node.keywords and len(node.args) in (2, 3) \
                and self.constant(node.func) is getattr:
            base, attr, *default = [self.constant(a) for a in node.args]
            if UNRESOLVED in default or not isinstance(attr, str):
                return UNRESOLVED
            value = _attribute(base, attr)
            return default[0] if value is UNRESOLVED and default \
                and isinstance(base, (types.ModuleType, type)) else value
        return UNRESOLVED

    def bound_object(self, local):
        if local not in self.bound:
            self.bound[local] = UNRESOLVED      # until proven (and on a cycle)
            values = [UNRESOLVED if v is None else self.constant(v)
                      for v in self.assignments.get(local) or [None]]
            if local in self.values and len(values) == 1 and values[0] is UNRESOLVED:
                values = [self.values[local]]   # a parameter never assigned: its function
            if all(v is values[0] for v in values):
                self.bound[local] = values[0]
        return self.bound[local]

    def watch_attribute(self, base, attr):
        """Note what `base.attr` (resolved now) depends on: for a user's class or object,
        the bindings along the class's MRO, and the object's own attributes."""
        cls = base if isinstance(base, type) else type(base)
        if isinstance(base, types.ModuleType) or not objects.is_callable_value(cls):
            return
        watched = self.function.namespace.watched
        watched += objects.method_dependencies(cls, attr)
        if not isinstance(base, type):
            watched += objects.instance_dependencies(base)

    def is_global(self, node):
        """Whether node is a global value: a name of the namespace, a local bound to an
        object, or an attribute or item of one (`module.TABLE[k]` in srcad's own code)."""
        while isinstance(node, (gast.Attribute, gast.Subscript)):
            node = node.value
        return isinstance(node, gast.Name) and (node.id not in self.locals
                                                or self.bound_object(node.id) is not UNRESOLVED)

    def op(self, value):
        """The Op of a normalized right-hand side."""
        if isinstance(value, gast.Constant):
            return Op("zero", value)
        if isinstance(value, gast.JoinedStr):
            return Op("unknown", value, description="an f-string", reason=rules.REFUSED[str])
        if isinstance(value, gast.Name) and value.id in self.locals:
            return Op("copy", value)
        if self.is_global(value):
            return Op("zero", value, description="a global value")
        if isinstance(value, (gast.BinOp, gast.UnaryOp)):
            operands = [value.left, value.right] if isinstance(value, gast.BinOp) \
                else [value.operand]
            return self.primitive(OPERATORS[type(value.op)], operands, {}, value)
        if isinstance(value, gast.Compare):
            return Op("zero", value, description="a comparison")
        if isinstance(value, gast.Subscript):
            return Op("subscript", value)
        if isinstance(value, gast.Attribute):
            return self.attribute(value, value.value, value.attr)
        if isinstance(value, (gast.Tuple, gast.List)):
            return Op("literal", value, elements=dict(enumerate(value.elts)))
        if isinstance(value, gast.Dict):
            keys = [k.value if isinstance(k, gast.Constant) else None for k in value.keys]
            if None in keys:
                return Op("unknown", value, description="a dict with computed keys")
            return Op("literal", value, elements=dict(zip(keys, value.values)))
        if isinstance(value, gast.Call):
            return self.call(value)
        return Op("unknown", value, description=f"'{type(value).__name__}' expression")

    def attribute(self, value, receiver, attr):
        if attr in ATTRIBUTES:
            return self.primitive(ATTRIBUTES[attr], [receiver], {}, value)
        if attr in NONDIFFERENTIABLE_ATTRIBUTES:
            return Op("zero", value, description=f"'.{attr}'")
        if isinstance(receiver, gast.Name) and receiver.id in self.locals:
            # read when the function runs, never folded: an object's data may change
            return Op("field", value, args=[receiver], attr=attr, description=f"'.{attr}'")
        return Op("unknown", value, description=f"attribute '.{attr}'")

    def call(self, value):
        func = value.func
        args = list(value.args)
        keywords = {k.arg: k.value for k in value.keywords}
        if any(isinstance(a, gast.Starred) for a in args) or None in keywords:
            return Op("unknown", value, description="a call with '*' or '**' arguments")
        if isinstance(func, gast.Attribute) and not self.is_global(func):
            return self.method(value, func.value, func.attr, args, keywords)
        target = self.constant(func)
        if target is UNRESOLVED and self.local_partial(func) is not None:
            fn, leading, bound = self.local_partial(func)
            return self.primitive(fn, leading + args, {**bound, **keywords}, value)
        if target is UNRESOLVED:
            return self.unresolved(value, func)
        if target is getattr and len(args) == 2 and not keywords \
                and isinstance(args[1], gast.Constant) and isinstance(args[1].value, str):
            return self.attribute(value, args[0], args[1].value)   # getattr(v, "T")
        method = _array_method(target)
        if method is not None:      # a method of a global array: W.sum()
            return self.method_of(Op("method", value, args=[func.value] + args,
                                     keywords=keywords, attr=method), "array")
        return self.primitive(target, args, keywords, value)

    def local_partial(self, func):
        """(function, leading argument nodes, keyword argument nodes) where func is a local
        assigned once, `h = functools.partial(f, a, k=b)`, with f a function srcad can call
        and each argument a constant, a global or a parameter the function never assigns:
        then `h(x)` is `f(a, x, k=b)` (the arguments are the same values at both). Else None."""
        if not isinstance(func, gast.Name) or func.id not in self.locals:
            return None
        made = self.assignments.get(func.id) or [None]
        made = made[0] if len(made) == 1 else None
        if not isinstance(made, gast.Call) or not made.args \
                or self.constant(made.func) is not functools.partial \
                or any(isinstance(a, gast.Starred) for a in made.args) \
                or any(k.arg is None for k in made.keywords):
            return None
        fn = self.constant(made.args[0])
        params = _params(self.function.node)

        def invariant(node):
            return isinstance(node, gast.Constant) or self.is_global(node) \
                or isinstance(node, gast.Name) and node.id in params \
                and self.assignments.get(node.id) == [None]

        values = made.args[1:] + [k.value for k in made.keywords]
        if fn is UNRESOLVED or not objects.is_callable_value(fn) \
                or not all(invariant(v) for v in values):
            return None
        return fn, list(made.args[1:]), {k.arg: k.value for k in made.keywords}

    def unresolved(self, value, func):
        text = ast.unparse(gast.gast_to_ast(func))
        root = func
        while isinstance(root, gast.Attribute):
            root = root.value
        missing = (f"srcad cannot find '{text}' in the function's module or closure: define "
                   "or import it before taking the derivative")
        if root is not func and self.constant(root) is not UNRESOLVED:
            base = self.constant(func.value)
            reason = missing if isinstance(base, (types.ModuleType, type)) else (
                f"srcad cannot prove what '{text}' is: it is neither a definition of a "
                "module or class nor a method, and an object's attributes may change "
                "between calls; call the function by its own name")
        elif isinstance(root, gast.Name) and root.id in self.locals:
            values = self.assignments.get(root.id) or [None]
            made = values[0] if len(values) == 1 and isinstance(values[0], gast.Call) \
                else None
            if made is not None and _module(self.constant(made.func)) == "srcad.api":
                shown = ast.unparse(gast.gast_to_ast(made))
                reason = (f"'{shown}' made inside the function is a new transform at each "
                          "call: make it once, at module level, and call that")
            else:
                where = "a parameter" if root.id in _params(self.function.node) else \
                    "a local variable not bound to one module-level object"
                reason = (f"srcad cannot tell which function '{text}' calls: '{root.id}' "
                          f"is {where}, known only when the function runs; call the "
                          "function by its own name (or a local alias assigned once, such "
                          "as `act = np.tanh`), or wrap the result in srcad.stop_gradient")
        else:
            reason = missing
        return Op("unknown", value, description=f"'{text}'", reason=reason)

    def method(self, value, receiver, attr, args, keywords):
        if attr == "append" and len(args) == 1 and not keywords:
            return Op("append", value, args=args, description="list.append")
        if attr == "pop" and not args and not keywords:
            return Op("pop", value, args=[receiver], description="list.pop")
        if attr in DICT_VIEWS and not args and not keywords:    # refused if not a dict
            return self.primitive(DICT_VIEWS[attr], [receiver], {}, value)
        return Op("method", value, args=[receiver] + args, keywords=keywords, attr=attr,
                  description=f"'.{attr}()'")

    def method_of(self, op, kind):
        """The Op of a method call `op` (kind "method") on a receiver of the given kind
        (analysis.py): a NumPy method where the receiver is proven an array or number,
        else unknown."""
        receiver, *args = op.args
        attr = op.attr
        if isinstance(kind, objects.Instance):
            return self.instance_method(op, kind)
        if kind not in ("array", "scalar"):
            shown = ast.unparse(gast.gast_to_ast(receiver))
            if not hasattr(np, attr) and not hasattr(np.ndarray, attr):
                shown = ast.unparse(gast.gast_to_ast(self.written(receiver)))
                return Op("unknown", op.node, description=op.description, reason=(
                    f"srcad cannot prove the class of '{shown}' where '.{attr}()' is called "
                    "on it (an object read from an attribute or a container, or returned by "
                    "a call, may differ from call to call), so it cannot tell which method "
                    f"runs: call the method through its class, Class.{attr}({shown}, ...), "
                    "or pass the object in as an argument"))
            instead = f"np.{attr}({shown}, ...)" if hasattr(np, attr) \
                else f"np.asarray({shown}).{attr}(...)"
            return Op("unknown", op.node, description=op.description, reason=(
                f"srcad cannot prove that '{shown}' is a NumPy array or number where "
                f"'.{attr}()' is called on it, so it cannot tell which method runs: call "
                f"the NumPy function instead ({instead})"))
        key = "ndarray." + attr
        self.check_out(op.node, f"'.{attr}()'", {}, _positional_out(key, [receiver] + args))
        if key in rules.ADJOINTS:
            return self.rule(rules.ADJOINTS[key], [receiver] + args, op.keywords, op.node,
                             f"'.{attr}()'", key)
        if attr in METHODS:
            return self.primitive(METHODS[attr], [receiver] + args, op.keywords, op.node)
        if attr in NONDIFFERENTIABLE_METHODS:
            self.check_out(op.node, f"'.{attr}()'", op.keywords)
            return Op("zero", op.node, description=f"'.{attr}()'")
        return Op("unknown", op.node, description=f"method '.{attr}()'")

    def written(self, node):
        """node as the user wrote it, where it is a local the normalized code assigned
        once from an attribute read (`self.layer` for the `self_layer` it made)."""
        values = self.assignments.get(getattr(node, "id", None)) or [None]
        if len(values) == 1 and isinstance(values[0], gast.Attribute):
            value = values[0]
            return gast.Attribute(value=self.written(value.value), attr=value.attr,
                                  ctx=gast.Load())
        return node

    def instance_method(self, op, kind):
        """The call of a method on an object of a user's class: of the function the class
        defines, specialized like any call of it; refused where the object's own
        attribute hides it, or where the class's attribute is no function."""
        receiver, *args = op.args
        shown = f"{ast.unparse(gast.gast_to_ast(receiver))}.{op.attr}"
        if op.attr in kind.shadowed:
            return Op("unknown", op.node, description=f"'{shown}'", reason=(
                f"the object's own attribute '{op.attr}' hides the method of its class "
                f"{kind.cls.__qualname__}, and srcad cannot prove what it holds: call "
                f"{kind.cls.__qualname__}.{op.attr} (or a function) by its own name"))
        fn, how = objects.method(kind.cls, op.attr)
        if fn is None:
            return Op("unknown", op.node, description=f"'{shown}'", reason=(
                f"srcad cannot prove what '{shown}' calls: {how}; call a function by its "
                "own name"))
        self.function.namespace.watched += objects.method_dependencies(kind.cls, op.attr)
        if how == "static":
            leading = []
        elif how == "class":
            leading = [self.name_object(kind.cls)]
        else:
            leading = [receiver]
        return self.primitive(fn, leading + args, op.keywords, op.node)

    def primitive(self, target, args, keywords, node):
        label = _label(target)
        template = (rules.ADJOINTS.get(target) or rules.TANGENTS.get(target)) \
            if _hashable(target) else None
        if template is not None or _hashable(target) and target in rules.NONDIFFERENTIABLE:
            self.check_out(node, label, {}, _positional_out(target, args))
        if template is not None:
            return self.rule(template, args, keywords, node, label, target)
        if _hashable(target) and target in rules.NONDIFFERENTIABLE:
            ufunc_out = isinstance(target, np.ufunc) and len(args) > target.nin
            self.check_out(node, label, keywords, ufunc_out)
            return Op("zero", node, description=label, primitive=target)
        if self.name_object is not None and objects.is_callable_value(target) \
                and objects.unbind(target) is not None:
            # a method bound to an object, a functools.partial: a call of its function
            fn, leading, bound_keywords = objects.unbind(target)
            leading = [self.name_object(v) for v in leading]
            bound_keywords = {k: self.name_object(v) for k, v in bound_keywords.items()}
            return self.primitive(fn, leading + list(args), {**bound_keywords, **keywords},
                                  node)
        if is_user_function(target) and target.__name__ == "<lambda>":
            target, unreadable = as_def(target)     # the def the lambda stands for
            if target is None:
                return Op("unknown", node, args=args, keywords=keywords,
                          description="a lambda", reason=unreadable)
        if is_user_function(target):
            unreadable = _unreadable_parameters(target)
            if unreadable is None:
                return Op("call", node, callee=target, args=args, keywords=keywords,
                          description=label)
            return Op("unknown", node, args=args, keywords=keywords, description=label,
                      reason=unreadable)
        description, reason = _transform(target) or \
            (label, rules.REFUSED.get(target) if _hashable(target) else None)
        return Op("unknown", node, args=args, keywords=keywords, description=description,
                  reason=reason)

    def check_out(self, node, label, keywords, positional=False):
        """Refuse a call that writes its result into an array given as `out`: srcad would
        not see that array change."""
        out = keywords.get("out")
        if positional or out is not None and not (isinstance(out, gast.Constant)
                                                  and out.value is None):
            raise self.function.error(NoDerivativeError, node,
                f"cannot differentiate {label} writing into an array given as out: srcad "
                "does not see that array change; assign the result instead")

    def rule(self, template, args, keywords, node, label, primitive):
        bindings = template.bind(args, keywords)
        if bindings is None:
            raise self.function.error(NoDerivativeError, node,
                f"the arguments of {label} do not match its derivative rule "
                f"{template.fn.__name__}{template.signature}")
        return Op("rule", node, template=template, bindings=bindings, description=label,
                  args=args, keywords=keywords, primitive=primitive)


def _positional_out(fn, args):
    """Whether positional args reach fn's parameter `out` (`np.round(x, 0, x)`; an ndarray
    method by NumPy's function of its name, its receiver first). Ufuncs are checked by
    their number of inputs (Analysis.check_outputs_into_arrays)."""
    if isinstance(fn, str) and fn.startswith("ndarray."):
        fn = getattr(np, fn[len("ndarray."):], None)
    if fn is None or isinstance(fn, np.ufunc) or not callable(fn):
        return False
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:len(args)]
    if "out" not in positional:
        return False
    out = args[positional.index("out")]
    return not (isinstance(out, gast.Constant) and out.value is None)


def _attribute(base, attr):
    """base.attr where it is proven to stay what it is now: an attribute of a module or
    class (its definitions), or a method bound to base by its class; UNRESOLVED for
    anything else, such as data an instance holds, which may change between calls."""
    if base is UNRESOLVED:
        return UNRESOLVED
    try:
        value = getattr(base, attr)
    except Exception:   # a missing name, or a property that fails
        return UNRESOLVED
    if isinstance(base, (types.ModuleType, type)):
        return value
    if attr in getattr(base, "__dict__", ()):
        return UNRESOLVED
    if getattr(value, "__self__", None) is base:
        return value
    bound, _ = objects.lookup(type(base), attr)     # a static or class method, by the class
    if isinstance(bound, staticmethod) and value is bound.__func__ \
            or isinstance(bound, classmethod) and getattr(value, "__self__", None) is type(base):
        return value
    return UNRESOLVED


def _array_method(target):
    """The name of a method bound to a plain ndarray (`W.sum` of a global W), or None."""
    owner = getattr(target, "__self__", None)
    if type(owner) is np.ndarray and isinstance(target, types.BuiltinMethodType):
        return target.__name__
    return None


def _module(target):
    return getattr(target, "__module__", None)


def _params(node):
    args = node.args
    return {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}


def _transform(target):
    """(description, why it is refused) of a call of a srcad transform other than a
    registered gradient; None for anything else."""
    from .api import Transform
    from .compose import _Helpers
    helpers = getattr(target, "__self__", None)
    if isinstance(helpers, _Helpers):
        return (f"the derivative of srcad.grad({helpers.fn.__qualname__})",
                "the derivative of a call of a gradient is a second derivative, and srcad "
                "takes none of third order (a Hessian, or a jvp of the gradient, of a "
                "function calling a gradient)")
    if not isinstance(target, Transform):
        return None
    return (repr(target), "srcad differentiates calls of srcad.grad(f) (made once, at "
            "module level), but not yet of value_and_grad, vjp, jvp, jacobian, hessian or "
            "hvp, nor of a gradient of a gradient: differentiate f's own code instead, or "
            "wrap the result in srcad.stop_gradient")


def is_user_function(target):
    """A plain Python function srcad can read and differentiate itself."""
    if not inspect.isfunction(target) or getattr(target, "__srcad__", None):
        return False
    module = (getattr(target, "__module__", None) or "").split(".")[0]
    return module not in LIBRARY_MODULES


def _unreadable_parameters(fn):
    """Why a call of a user function cannot be bound to its parameters, or None: those
    functools.wraps gives a wrapper of a builtin cannot always be read."""
    try:
        inspect.signature(fn)
    except ValueError as e:
        return (f"the parameters functools.wraps gives it, those of {fn.__wrapped__!r}, "
                f"cannot be read ({e}): define it without functools.wraps")
    return None


def _hashable(target):
    try:
        hash(target)
    except TypeError:
        return False
    return True


def _label(target):
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) \
        or isinstance(target, np.ufunc) and target.__name__
    if not name:    # an instance, such as np.vectorize(f) (which takes f's __name__)
        return f"a '{type(target).__module__}.{type(target).__qualname__}' object"
    if module in (None, "builtins", "_operator", "operator"):
        return f"'{name}'"
    return f"'{module}.{name}'"
