"""Part of stage 1: a decorator's wrapper that forwards `*args, **kwargs`.

A decorator written with `functools.wraps(fn)` usually returns

    def wrapper(*args, **kwargs):
        return 2.0 * fn(*args, **kwargs)

srcad differentiates the wrapper's own code (never just fn): its `*args,
**kwargs` are spelled out as the parameters of the function it wraps (which
`inspect.signature` reports for it), and each call forwarding them passes
those parameters on. That is exactly what Python does when every use of
`args` and `kwargs` is such a forwarding call to the wrapped function, with
defaults that are constants; anything else is refused at its line.
"""
import inspect

import gast

from .errors import UnsupportedSyntaxError
from .syntax import const, name, names_in, replace_names

CONSTANTS = (bool, int, float, complex, str, bytes, type(None))


def call_signature(fn):
    """The parameters srcad gives fn, which a call of it binds to: those
    `inspect.signature` reports, positional-only for a wrapper taking `*args` alone."""
    signature = inspect.signature(fn)
    flags = fn.__code__.co_flags
    if hasattr(fn, "__wrapped__") and flags & inspect.CO_VARARGS \
            and not flags & inspect.CO_VARKEYWORDS:
        return signature.replace(parameters=[
            p.replace(kind=p.POSITIONAL_ONLY) if p.kind == p.POSITIONAL_OR_KEYWORD else p
            for p in signature.parameters.values()])
    return signature


def spell_out_forwarding(function):
    """Give a wrapper `def wrapper(*args, **kwargs)` the wrapped function's parameters,
    and its forwarding calls those parameters, in place."""
    node, fn = function.node, function.fn
    varargs, kwargs = node.args.vararg, node.args.kwarg
    wrapped = getattr(fn, "__wrapped__", None)
    if wrapped is None or node.args.posonlyargs or node.args.args or node.args.kwonlyargs:
        _refuse(function, node, "a function with '*args' or '**kwargs' parameters",
                "list its parameters; in a decorator, make the wrapper with "
                "@functools.wraps(fn) and have it only forward *args, **kwargs to fn")
    if varargs is None:
        _refuse(function, node, "a wrapper taking '**kwargs' without '*args'",
                "take *args, **kwargs and forward both")
    params = reported_parameters(function)
    _check_parameters(function, node, params, kwargs is not None)
    forwarded = _forwarding_calls(function, varargs.id, kwargs.id if kwargs else None,
                                  wrapped)
    for call in forwarded:
        call.args = [name(p.name) for p in params if p.kind != p.KEYWORD_ONLY]
        call.keywords = [gast.keyword(arg=p.name, value=name(p.name))
                         for p in params if p.kind == p.KEYWORD_ONLY]
    node.args = _arguments(params, positional_only=kwargs is None)


def check_wrapper_parameters(function):
    """A wrapper with parameters of its own (no `*args`) takes those of the function it
    wraps, which srcad calls it with (functools.wraps makes `inspect.signature` report
    them): the same kinds and defaults, in order. Where only their names differ
    (`def wrapper(x): return c * fn(x)` around `fn(v)`), the wrapper's are renamed."""
    fn, node = function.fn, function.node
    own = list(inspect.signature(fn, follow_wrapped=False).parameters.values())
    reported = reported_parameters(function)
    if len(own) != len(reported) or not all(
            p.kind == q.kind and _same_default(p.default, q.default)
            for p, q in zip(own, reported)):
        _refuse(function, node, f"a wrapper whose parameters ({_listed(own)}) differ from "
                f"those of the function it wraps ({_listed(reported)})",
                "give it the same parameters, or *args, **kwargs forwarded to the function")
    renames = {p.name: q.name for p, q in zip(own, reported) if p.name != q.name}
    if renames:
        body = gast.Module(body=node.body, type_ignores=[])
        for taken in set(renames.values()) & names_in(body) - set(renames):
            _refuse(function, node, f"a wrapper that uses the name '{taken}', a parameter "
                    "of the function it wraps", "rename it in the wrapper")
        node.args = replace_names(node.args, renames)
        node.body = [replace_names(stmt, renames) for stmt in node.body]


def reported_parameters(function):
    """The parameters `inspect.signature` reports for a wrapper: those of the function it
    wraps. Where they cannot be read (a builtin's, on some Python and NumPy versions),
    the wrapper is refused at its def."""
    try:
        return list(inspect.signature(function.fn).parameters.values())
    except ValueError as e:
        _refuse(function, function.node, f"a wrapper of {function.fn.__wrapped__!r}, whose "
                f"parameters cannot be read ({e})", "make it without functools.wraps")


def _same_default(a, b):
    return a is b or type(a) in CONSTANTS and type(a) is type(b) and a == b


def _listed(params):
    return ", ".join(p.name for p in params)


def _check_parameters(function, node, params, has_kwargs):
    """The wrapped function's parameters can be the wrapper's, with Python's meaning."""
    used = names_in(gast.Module(body=node.body, type_ignores=[]))
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            _refuse(function, node, f"a wrapper of a function with '{p}'",
                    "list the parameters of the wrapped function")
        if not has_kwargs and p.kind == p.KEYWORD_ONLY:
            _refuse(function, node, f"a wrapper without '**kwargs' of a function with the "
                    f"keyword-only parameter '{p.name}'", "take *args, **kwargs")
        if p.default is not p.empty and type(p.default) not in CONSTANTS:
            _refuse(function, node, f"a wrapper of a function whose parameter "
                    f"'{p.name}' has the default {p.default!r} (not a number or string)",
                    "give the wrapper the function's parameters instead of *args, **kwargs")
        if p.name in used:
            _refuse(function, node, f"a wrapper that uses the name '{p.name}', a parameter "
                    "of the function it wraps", "rename it in the wrapper")


def _forwarding_calls(function, args_name, kwargs_name, wrapped):
    """The calls `f(*args, **kwargs)` in the wrapper's body; each f must be the wrapped
    function, and args and kwargs used nowhere else."""
    node = function.node
    own = names_in(gast.Module(body=node.body, type_ignores=[]), (gast.Store, gast.Del))
    forwarded, parts = [], set()
    for call in gast.walk(gast.Module(body=node.body, type_ignores=[])):
        if not isinstance(call, gast.Call):
            continue
        star = [a for a in call.args if isinstance(a, gast.Starred)]
        double = [k for k in call.keywords if k.arg is None]
        if not any(_is_name(a.value, args_name) for a in star) \
                and not any(_is_name(k.value, kwargs_name) for k in double):
            continue
        exact = len(call.args) == 1 and star and _is_name(star[0].value, args_name) \
            and (kwargs_name is None and not call.keywords
                 or len(call.keywords) == 1 and double and _is_name(double[0].value,
                                                                    kwargs_name))
        target = function.namespace.get(call.func.id) \
            if isinstance(call.func, gast.Name) and call.func.id not in own else None
        if not exact or target is not wrapped:
            _refuse(function, call, "a wrapper forwarding '*args, **kwargs' other than "
                    "as the whole call of the function it wraps",
                    "forward them only as fn(*args, **kwargs), fn the wrapped function")
        forwarded.append(call)
        parts.add(id(star[0].value))
        parts.update(id(k.value) for k in double)
    for n in gast.walk(gast.Module(body=node.body, type_ignores=[])):
        if isinstance(n, gast.Name) and n.id in (args_name, kwargs_name) \
                and id(n) not in parts:
            _refuse(function, n, f"a wrapper using '{n.id}' other than to forward it",
                    "forward *args, **kwargs only as fn(*args, **kwargs), or give the "
                    "wrapper the function's parameters")
    return forwarded


def _arguments(params, positional_only):
    """gast parameters like `params` (inspect.Parameter), defaults as constants."""
    def param(p):
        return gast.Name(id=p.name, ctx=gast.Param(), annotation=None, type_comment=None)

    positional = [p for p in params if p.kind != p.KEYWORD_ONLY]
    keyword = [p for p in params if p.kind == p.KEYWORD_ONLY]
    only = [p for p in positional if positional_only or p.kind == p.POSITIONAL_ONLY]
    return gast.arguments(
        posonlyargs=[param(p) for p in only],
        args=[param(p) for p in positional if p not in only],
        vararg=None, kwarg=None,
        kwonlyargs=[param(p) for p in keyword],
        kw_defaults=[None if p.default is p.empty else const(p.default) for p in keyword],
        defaults=[const(p.default) for p in positional if p.default is not p.empty])


def _is_name(node, id_):
    return id_ is not None and isinstance(node, gast.Name) and node.id == id_


def _refuse(function, node, construct, advice):
    raise function.error(UnsupportedSyntaxError, node,
                         f"cannot differentiate {construct}: {advice}")
