"""Stage 3: what each normalized statement computes, as an `Op`.

Every right-hand side of the normalized function is one operation. This stage
binds called names to the objects they refer to in the function's namespace
and classifies the operation, so that analysis and the transformers can ask
one question per statement: which rule applies, and to which arguments.
"""
import ast
import inspect
import operator

import gast

from . import rules
from .errors import NoDerivativeError
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
      literal    `x = (a, b)` / `[a, b]` / `{k: v}`: `elements` (key -> node)
      append     `xs.append(v)`
      pop        `xs.pop()`
      unknown    nothing known: refused if its arguments are active
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
        if self.kind == "literal":
            return [(n.id, None) for n in self.elements.values() if isinstance(n, gast.Name)]
        if self.kind in ("append", "pop"):
            return [(self.args[0].id, None)] if isinstance(self.args[0], gast.Name) else []
        if self.kind == "unknown":
            return [(n, None) for n in _names(self.node)]
        return []


def _names(node):
    return sorted({n.id for n in gast.walk(node) if isinstance(n, gast.Name)})


class Resolver:
    def __init__(self, function, local_names):
        self.function = function
        self.locals = local_names

    def lookup(self, node):
        """The object a global name or dotted path refers to, or None."""
        if isinstance(node, gast.Name):
            if node.id in self.locals:
                return None
            return self.function.namespace.get(node.id)
        if isinstance(node, gast.Attribute):
            base = self.lookup(node.value)
            return getattr(base, node.attr, None) if base is not None else None
        return None

    def is_global(self, node):
        while isinstance(node, gast.Attribute):
            node = node.value
        return isinstance(node, gast.Name) and node.id not in self.locals

    def op(self, value):
        """The Op of a normalized right-hand side."""
        if isinstance(value, gast.Constant) or isinstance(value, gast.JoinedStr):
            return Op("zero", value)
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
            return self.attribute(value)
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

    def attribute(self, value):
        attr = value.attr
        if attr in ATTRIBUTES:
            return self.primitive(ATTRIBUTES[attr], [value.value], {}, value)
        if attr in NONDIFFERENTIABLE_ATTRIBUTES:
            return Op("zero", value, description=f"'.{attr}'")
        return Op("unknown", value, description=f"attribute '.{attr}'")

    def call(self, value):
        func = value.func
        args = list(value.args)
        keywords = {k.arg: k.value for k in value.keywords}
        if any(isinstance(a, gast.Starred) for a in args) or None in keywords:
            return Op("unknown", value, description="a call with '*' or '**' arguments")
        if isinstance(func, gast.Attribute) and not self.is_global(func):
            return self.method(value, func.value, func.attr, args, keywords)
        target = self.lookup(func)
        if target is None:
            text = ast.unparse(gast.gast_to_ast(func))
            return Op("unknown", value, description=f"'{text}'")
        return self.primitive(target, args, keywords, value)

    def method(self, value, receiver, attr, args, keywords):
        if attr == "append" and len(args) == 1 and not keywords:
            return Op("append", value, args=args, description="list.append")
        if attr == "pop" and not args and not keywords:
            return Op("pop", value, args=[receiver], description="list.pop")
        key = "ndarray." + attr
        if key in rules.ADJOINTS:
            return self.rule(rules.ADJOINTS[key], [receiver] + args, keywords, value,
                             f"'.{attr}()'", key)
        if attr in METHODS:
            return self.primitive(METHODS[attr], [receiver] + args, keywords, value)
        if attr in NONDIFFERENTIABLE_METHODS:
            return Op("zero", value, description=f"'.{attr}()'")
        return Op("unknown", value, description=f"method '.{attr}()'")

    def primitive(self, target, args, keywords, node):
        label = _label(target)
        template = (rules.ADJOINTS.get(target) or rules.TANGENTS.get(target)) \
            if _hashable(target) else None
        if template is not None:
            return self.rule(template, args, keywords, node, label, target)
        if _hashable(target) and target in rules.NONDIFFERENTIABLE:
            return Op("zero", node, description=label, primitive=target)
        if is_user_function(target):
            return Op("call", node, callee=target, args=args, keywords=keywords,
                      description=label)
        return Op("unknown", node, args=args, keywords=keywords, description=label)

    def rule(self, template, args, keywords, node, label, primitive):
        bindings = template.bind(args, keywords)
        if bindings is None:
            raise self.function.error(NoDerivativeError, node,
                f"the arguments of {label} do not match its derivative rule "
                f"{template.fn.__name__}{template.signature}")
        return Op("rule", node, template=template, bindings=bindings, description=label,
                  args=args, keywords=keywords, primitive=primitive)


def is_user_function(target):
    """A plain Python function srcad can read and differentiate itself."""
    if not inspect.isfunction(target) or getattr(target, "__srcad__", None):
        return False
    module = (getattr(target, "__module__", None) or "").split(".")[0]
    return module not in LIBRARY_MODULES


def _hashable(target):
    try:
        hash(target)
    except TypeError:
        return False
    return True


def _label(target):
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", repr(target))
    if module in (None, "builtins", "_operator", "operator"):
        return f"'{name}'"
    return f"'{module}.{name}'"
