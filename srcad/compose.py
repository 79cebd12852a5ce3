"""Derivative rules for srcad's own gradients, so that transforms compose.

A function srcad differentiates may call a gradient srcad made
(`g = srcad.grad(f)`, or a function decorated with `@srcad.grad`):

    def penalty(w, x):
        return np.sum(g(w, x) ** 2)

To srcad such a call is a primitive with two rules, registered when the
gradient is created and inlined like any other rule:

* forward: the tangent of `g(w, x)` along `(dw, dx)` is forward mode run over
  the generated gradient `f_grad` (`jvp(grad(f))`): one pass, exact;
* reverse: the cotangent `u` arriving at `g(w, x)` = the gradient of f with
  respect to `w` goes back to every argument p as `d/dp <grad_w f, u>`, the
  block p of the Hessian applied to `u` (the Hessian of f is symmetric). That
  too is one forward pass over `f_grad`, with tangent `u` on `w` and zero on the
  other arguments.

So every second derivative is forward over reverse: srcad never needs to run
reverse mode over its own reverse-mode code, and no result is approximated.
"""
import inspect
import weakref

import numpy as np

from .rules import ADJOINTS, TANGENTS
from .rules.templates import Template, d
from .runtime import as_gradient, zeros_like

_RESERVED = {"d", "srcad_out", "srcad_back", "srcad_grad_vjp", "srcad_grad_jvp"}
# (fn, wrt names, multi, signature) -> the _Helpers of its templates, while registered
_TEMPLATES = weakref.WeakValueDictionary()


def register(transform):
    """Make calls to a gradient transform differentiable by srcad (forward and reverse),
    for as long as the transform lives."""
    if transform.inner is not None or not inspect.isfunction(transform.fn):
        return
    # the templates spell out fn's parameters and defaults: new ones, new templates
    key = (transform.fn, tuple(transform.wrt_names), transform.multi, str(transform.signature))
    helpers = _TEMPLATES.get(key)
    if helpers is None:
        helpers = _templates(transform.fn, transform.wrt_names, transform.multi)
        if helpers is None:
            return
        _TEMPLATES[key] = helpers
    registered = _Registered(transform)
    ADJOINTS[registered], TANGENTS[registered] = helpers.templates


class _Registered:
    """The key of a gradient transform's rules: equal to it and hashed like it, without
    keeping it alive; its rules are dropped when it is garbage collected."""

    def __init__(self, transform):
        self.hash = hash(transform)
        self.ref = weakref.ref(transform, self.drop)

    def __hash__(self):
        return self.hash

    def __eq__(self, other):
        return other is self or other is self.ref()

    def drop(self, ref):
        ADJOINTS.pop(self, None)
        TANGENTS.pop(self, None)


def _templates(fn, wrt, multi):
    """The _Helpers of grad(fn, wrt)'s rules, with `templates` (adjoint, tangent); None
    where a rule cannot spell out fn's parameters."""
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in _RESERVED for p in params):
        return None
    parts, star = [], False
    for p in params:
        if p.kind == p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        if p.default is p.empty:
            parts.append(p.name)
        elif isinstance(p.default, (bool, int, float, str, type(None))):
            parts.append(f"{p.name}={p.default!r}")
        else:
            return None     # a default srcad could not write into a template
    header = f"def srcad_rule(srcad_out, {', '.join(parts)}):\n"
    names = [p.name for p in params]
    values = ", ".join(names)
    adjoint = header + f"    srcad_back = srcad_grad_vjp(d[srcad_out], {values})\n" + "".join(
        f"    d[{n}] = srcad_back[{i}]\n" for i, n in enumerate(names))
    tangents = ", ".join(f"d[{n}]" for n in names)
    tangent = header + f"    d[srcad_out] = srcad_grad_jvp({values}, {tangents})\n"
    helpers = _Helpers(fn, signature, wrt, multi)
    namespace = {"d": d, "srcad_grad_vjp": helpers.vjp, "srcad_grad_jvp": helpers.jvp}
    built = []
    for source in (adjoint, tangent):
        exec(compile(source, f"<srcad rule of grad({fn.__qualname__})>", "exec"), namespace)
        built.append(Template(namespace.pop("srcad_rule"), source=source))
    helpers.templates = tuple(built)
    return helpers


def _blocks(out, count):
    """The per-argument pieces of the tangent of f_grad's result (one piece: itself)."""
    return tuple(out) if count > 1 else (out,)


def _differentiable(value):
    """Whether srcad can take a derivative with respect to this argument's value. An integer
    counts: the caller may be differentiating it as a real number (its gradient is a float)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, complex, np.number)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "iufc"
    if isinstance(value, (tuple, list)):
        return len(value) > 0 and all(_differentiable(v) for v in value)
    if isinstance(value, dict):
        return len(value) > 0 and all(_differentiable(v) for v in value.values())
    return False


def _tangent(t, x):
    """A tangent or cotangent as srcad passes it to a transform: a missing one as zeros."""
    if t is None or (type(t) is float and t == 0.0 and not isinstance(x, float)):
        return zeros_like(x) if not isinstance(x, (int, float)) else 0.0
    return as_gradient(t, x)


class _Helpers:
    """The run-time side of the rules of one gradient `grad(fn, wrt)`."""

    def __init__(self, fn, signature, wrt, multi):
        self.fn = fn
        self.names = list(signature.parameters)
        self.keyword_only = {n for n, p in signature.parameters.items()
                             if p.kind == p.KEYWORD_ONLY}
        self.wrt = list(wrt)
        self.multi = multi
        self.jvps = {}

    def split(self, values):
        args = [v for n, v in zip(self.names, values) if n not in self.keyword_only]
        kwargs = {n: v for n, v in zip(self.names, values) if n in self.keyword_only}
        return args, kwargs

    def forward(self, inner_wrt, along):
        """jvp of grad(fn, inner_wrt) with respect to the parameters `along`."""
        key = (tuple(inner_wrt), tuple(along))
        if key not in self.jvps:
            from .api import Grad, Jvp
            # one wrt name, not a 1-tuple: f_grad then returns the gradient itself
            wrt = inner_wrt[0] if len(inner_wrt) == 1 else tuple(inner_wrt)
            self.jvps[key] = Jvp(Grad(self.fn, wrt, False), tuple(along), False)
        return self.jvps[key]

    def jvp(self, *values):
        """Tangent of grad_wrt fn(values) along the tangents of the differentiable values."""
        count = len(self.names)
        values, tangents = values[:count], values[count:]
        along = [n for n, v in zip(self.names, values) if n in self.wrt or _differentiable(v)]
        tangents = [_tangent(t, v) for n, v, t in zip(self.names, values, tangents) if n in along]
        args, kwargs = self.split(values)
        _, out = self.forward(self.wrt, along)(*args, *tangents, **kwargs)
        out = _blocks(out, len(self.wrt))
        return out if self.multi else out[0]

    def parts(self, cotangent):
        """The cotangent of each gradient in f_grad's result. Of a tuple of them, it is a
        tuple, or the array NumPy made of the tuple (`g(x) * y`), or a scalar it broadcast."""
        if not self.multi:
            return [cotangent]
        if not isinstance(cotangent, (tuple, list)) and np.ndim(cotangent) == 0:
            return [cotangent] * len(self.wrt)
        if len(cotangent) != len(self.wrt):
            raise ValueError(f"srcad: a cotangent of {len(cotangent)} parts for the "
                             f"{len(self.wrt)} gradients of grad({self.fn.__qualname__})")
        return list(cotangent)

    def vjp(self, cotangent, *values):
        """d/dp <grad_wrt fn(values), cotangent> for every parameter p, by symmetry of the
        Hessian: forward mode over the gradient, with the cotangent as the tangent of wrt."""
        along = [n for n, v in zip(self.names, values) if n in self.wrt or _differentiable(v)]
        given = dict(zip(self.wrt, self.parts(cotangent)))
        by_name = dict(zip(self.names, values))
        tangents = [_tangent(given.get(n), by_name[n]) for n in along]
        args, kwargs = self.split(values)
        _, out = self.forward(along, along)(*args, *tangents, **kwargs)
        found = dict(zip(along, _blocks(out, len(along))))
        return tuple(found.get(n, 0.0) for n in self.names)
