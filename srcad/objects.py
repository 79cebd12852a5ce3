"""Objects and functions as values: what srcad proves of them at transform time.

A value that is no number or array has a kind (generate.runtime_kind) that is
part of what decides the generated code:

* a function srcad can call (a user function, a method bound to an object, a
  functools.partial, a user class) is its own kind: a parameter of that kind is
  bound to it, so that a call through the parameter resolves like a call of a
  global function, specialized on the function it receives;
* an object of a user's class has the kind `Instance(cls, shadowed)`: its
  methods are the functions its class defines (along `cls.__mro__`), except the
  names its own `__dict__` holds (`shadowed`), which srcad refuses to call;
* anything else is "other".

A method found on a class stays valid while the classes along the MRO bind
the same object to its name: `method_dependencies` gives those bindings, for
`emit.watch` to check (a notebook cell run again makes a new class, which is a
new kind).
"""
import ast
import functools
import inspect
import types
from typing import NamedTuple

import gast
import numpy as np

from .parse import MISSING


class Instance(NamedTuple):
    """The kind of an object of a user's class."""
    cls: type
    shadowed: frozenset     # names of the class's attributes the object's __dict__ holds

    def __repr__(self):
        return f"<instance of {self.cls.__module__}.{self.cls.__qualname__}>"


_NOT_OBJECTS = (tuple, list, dict, set, frozenset, np.ndarray, np.generic, type,
                types.ModuleType, BaseException, functools.partial)


def value_kind(value):
    """The kind of a value that is no number or array (see the module's doc)."""
    if is_callable_value(value):
        return value
    cls = type(value)
    if _user_class(cls) and not isinstance(value, _NOT_OBJECTS):
        own = getattr(value, "__dict__", None) or ()
        return Instance(cls, frozenset(k for k in own if lookup(cls, k)[1] is not None))
    return "other"


def is_callable_value(value):
    """Whether value is a function srcad resolves a call through (its own kind)."""
    from .resolve import is_user_function
    if isinstance(value, types.MethodType):
        return is_user_function(value.__func__) or _has_rule(value)
    return is_user_function(value) or type(value) is functools.partial \
        or isinstance(value, type) and _user_class(value) or _has_rule(value)


def _has_rule(value):
    """Whether value is a function with a derivative rule (np.tanh), or none needed."""
    from . import rules
    try:
        return value in rules.ADJOINTS or value in rules.TANGENTS \
            or value in rules.NONDIFFERENTIABLE
    except TypeError:   # unhashable
        return False


def is_constant_kind(kind):
    """Whether a kind is that of a value srcad reads as a constant (a function, a class,
    an object): nothing flows into it from a differentiated value."""
    return not isinstance(kind, str)


def _user_class(cls):
    module = (getattr(cls, "__module__", None) or "").split(".")[0]
    from .resolve import LIBRARY_MODULES
    return module not in LIBRARY_MODULES and not issubclass(cls, _NOT_OBJECTS) \
        and not any(hasattr(cls, a) for a in ("__array__", "__array_function__",
                                              "__array_ufunc__", "__array_interface__"))


def lookup(cls, attr):
    """(the object cls's MRO binds attr to, the class that binds it), or (None, None)."""
    for klass in cls.__mro__:
        own = vars(klass)
        if attr in own:
            return own[attr], klass
    return None, None


def method_dependencies(cls, attr):
    """(holder, key, object) bindings that decide what `cls.attr` is (see emit.watch)."""
    found = []
    for klass in cls.__mro__:
        own = vars(klass)
        found.append((own, attr, own.get(attr, MISSING)))
        if attr in own:
            break
    return found


def instance_dependencies(obj):
    """Bindings of obj's class, and of its own __dict__ where one would hide a method of
    its class."""
    own = getattr(obj, "__dict__", None)
    if not isinstance(own, dict):
        return [(obj, "__class__", type(obj))]
    names = {k for klass in type(obj).__mro__ for k, v in vars(klass).items()
             if isinstance(v, (types.FunctionType, staticmethod, classmethod))}
    return [(obj, "__class__", type(obj))] + [(own, k, own.get(k, MISSING))
                                              for k in sorted(names)]


def method(cls, attr):
    """(function, how) of a method looked up on an object of cls: how is "method" (the
    object is its first argument), "static" or "class" (cls is); (None, why) where srcad
    cannot prove what the lookup gives."""
    from .resolve import is_user_function
    shown = f"{cls.__qualname__}.{attr}"
    if cls.__getattribute__ is not object.__getattribute__:
        return None, (f"{cls.__qualname__} defines __getattribute__, so srcad cannot tell what "
                      f"'.{attr}' gives")
    raw, _ = lookup(cls, attr)
    if raw is None:
        return None, f"class {cls.__qualname__} has no attribute '{attr}'"
    how = "static" if isinstance(raw, staticmethod) else \
        "class" if isinstance(raw, classmethod) else "method"
    fn = raw.__func__ if how != "method" else raw
    if not is_user_function(fn):
        return None, (f"{shown} is {_a(raw)}, not a function defined with def (nor a "
                      "staticmethod or classmethod of one)")
    return fn, how


def _a(value):
    name = type(value).__qualname__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def unbind(target):
    """(function, leading arguments, keyword arguments) of a bound method or a
    functools.partial (of those, in turn); None for anything else."""
    if isinstance(target, types.MethodType):
        inner = unbind(target.__func__) or (target.__func__, (), {})
        return inner[0], (target.__self__,) + inner[1], inner[2]
    if type(target) is functools.partial:
        inner = unbind(target.func) or (target.func, (), {})
        return inner[0], inner[1] + tuple(target.args), {**inner[2], **target.keywords}
    return None


# -- a bound method or partial as the function a transform differentiates ------------------

def as_function(target):
    """A Python function that forwards its arguments to a bound method or functools.partial
    (target), with target's parameters: what srcad differentiates for it. The object
    bound (self, a partial's arguments) are constants of its code."""
    from .nested import LIFTED
    signature = inspect.signature(target)
    fn = unbind(target)[0]
    params, call_args, call_keywords, defaults, kwdefaults = [], [], [], [], {}
    for p in signature.parameters.values():
        arg = gast.Name(id=p.name, ctx=gast.Param(), annotation=None, type_comment=None)
        params.append((p, arg))
        if p.kind is p.VAR_POSITIONAL:
            call_args.append(gast.Starred(value=_load(p.name), ctx=gast.Load()))
        elif p.kind is p.VAR_KEYWORD:
            call_keywords.append(gast.keyword(arg=None, value=_load(p.name)))
        elif p.kind is p.KEYWORD_ONLY:
            call_keywords.append(gast.keyword(arg=p.name, value=_load(p.name)))
            if p.default is not p.empty:
                kwdefaults[p.name] = p.default
        else:
            call_args.append(_load(p.name))
            if p.default is not p.empty:
                defaults.append(p.default)
    kinds = {k: [a for p, a in params if p.kind is k] for k in inspect._ParameterKind}
    arguments = gast.arguments(
        posonlyargs=kinds[inspect.Parameter.POSITIONAL_ONLY],
        args=kinds[inspect.Parameter.POSITIONAL_OR_KEYWORD],
        vararg=(kinds[inspect.Parameter.VAR_POSITIONAL] or [None])[0],
        kwonlyargs=kinds[inspect.Parameter.KEYWORD_ONLY],
        kw_defaults=[None if p.default is p.empty else gast.Constant(None, None)
                     for p, _ in params if p.kind is p.KEYWORD_ONLY],
        kwarg=(kinds[inspect.Parameter.VAR_KEYWORD] or [None])[0],
        defaults=[gast.Constant(None, None) for _ in defaults])
    name_ = fn.__name__ if fn.__name__.isidentifier() else "lambda_"
    target_name = name_ if name_ not in signature.parameters else "bound_" + name_
    node = gast.FunctionDef(
        name=name_, args=arguments, decorator_list=[], returns=None,
        type_comment=None, type_params=[],
        body=[gast.Return(value=gast.Call(func=_load(target_name), args=call_args,
                                          keywords=call_keywords))])
    code = fn.__code__
    for n in gast.walk(node):
        if isinstance(n, (gast.stmt, gast.expr)):
            n.lineno, n.col_offset = code.co_firstlineno, 0
            n.end_lineno, n.end_col_offset = code.co_firstlineno, 0
    module = gast.gast_to_ast(gast.Module(body=[node], type_ignores=[]))
    ast.fix_missing_locations(module)
    namespace = dict(fn.__globals__)
    exec(compile(module, code.co_filename, "exec"), namespace)
    made = namespace[name_]
    made.__globals__[target_name] = target      # the wrapper's own globals: a copy
    made.__defaults__ = tuple(defaults) or None
    made.__kwdefaults__ = kwdefaults or None
    made.__qualname__ = getattr(target, "__qualname__", None) or fn.__qualname__
    made.__module__ = fn.__module__
    LIFTED[made] = (node, code.co_filename)
    return made


def _load(name_):
    return gast.Name(id=name_, ctx=gast.Load(), annotation=None, type_comment=None)
