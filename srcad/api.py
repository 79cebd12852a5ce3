"""The transforms users call: grad, value_and_grad, vjp, and their shared machinery.

A transform is generated once per function, `wrt` and the kinds of the
arguments it is called with (a Python number and an array need different
code), and cached: a second `grad(f)` costs a dictionary lookup.
"""
import functools
import inspect

import numpy as np

from .emit import compile_module
from .errors import SrcadError
from .reverse import ReverseModule, runtime_kind
from .runtime import as_gradient

_CACHE = {}


class Compiled:
    """The generated functions of one transform, with their source text."""

    def __init__(self, source, primal, adjoint, restores):
        self.source = source
        self.primal = primal
        self.adjoint = adjoint
        self.restores = restores   # the adjoint undoes in-place updates: one pullback per run


def _reverse(fn, wrt_names, kinds):
    key = ("reverse", fn, tuple(wrt_names), tuple(sorted(kinds.items())))
    compiled = _CACHE.get(key)
    if compiled is None:
        module = ReverseModule()
        try:
            top = module.add(fn, wrt_names, kinds)
        except SrcadError:
            raise
        except RecursionError:
            raise SrcadError(f"cannot transform {fn.__qualname__}: recursion too deep") from None
        units = [(g.function.fn, list(g.definitions), g.helpers) for g in module.functions]
        source, functions = compile_module(units, f"reverse mode of {fn.__qualname__}")
        restores = any(g.restores_in_place() for g in module.functions)
        compiled = Compiled(source, functions[top.primal_name], functions[top.adjoint_name],
                            restores)
        _CACHE[key] = compiled
    return compiled


class Transform:
    """A callable made from a user function; `.source` shows what was generated."""

    def __init__(self, fn, wrt, verbose):
        if isinstance(fn, Transform):
            raise SrcadError("composing srcad transforms is not supported yet: "
                             "differentiate the original function")
        if not callable(fn):
            raise SrcadError(f"srcad transforms a Python function; got {fn!r}")
        self.fn = fn
        self.signature = inspect.signature(fn)
        self.params = list(self.signature.parameters)
        self.wrt_names, self.multi = self.wrt_parameters(wrt)
        self.verbose = verbose
        self.last = None
        functools.update_wrapper(self, fn)

    def wrt_parameters(self, wrt):
        multi = isinstance(wrt, (tuple, list))
        names = []
        for item in (wrt if multi else (wrt,)):
            if isinstance(item, str) and item in self.params:
                names.append(item)
            elif isinstance(item, int) and not isinstance(item, bool) \
                    and -len(self.params) <= item < len(self.params):
                names.append(self.params[item])
            else:
                raise SrcadError(f"wrt={item!r} names no parameter of {self.fn.__qualname__}"
                                 f"{self.signature}")
        return names, multi

    def kinds(self, args, kwargs):
        kinds = {p: runtime_kind(a) for p, a in zip(self.params, args)}
        for p, a in kwargs.items():
            kinds[p] = runtime_kind(a)
        for p, param in self.signature.parameters.items():
            if p not in kinds and param.default is not inspect.Parameter.empty:
                kinds[p] = runtime_kind(param.default)
        return kinds

    def compiled(self, args, kwargs):
        compiled = _reverse(self.fn, self.wrt_names, self.kinds(args, kwargs))
        if compiled is not self.last:
            self.last = compiled
            if self.verbose:
                print(compiled.source)
        return compiled

    def arguments(self, args, kwargs):
        """The values of the wrt arguments, to shape the gradients like them."""
        values = []
        for p in self.wrt_names:
            i = self.params.index(p)
            if i < len(args):
                values.append(args[i])
            elif p in kwargs:
                values.append(kwargs[p])
            else:
                values.append(self.signature.parameters[p].default)
        return values

    def shaped(self, grads, args, kwargs):
        values = self.arguments(args, kwargs)
        if self.multi:
            return tuple(as_gradient(g, x) for g, x in zip(grads, values))
        return as_gradient(grads, values[0])

    @property
    def source(self):
        """The generated source: of the last call, or for unknown argument kinds."""
        if self.last is None:
            self.last = _reverse(self.fn, self.wrt_names, {})
        return self.last.source

    def __repr__(self):
        return f"<srcad.{type(self).__name__.lower()} of {self.fn.__qualname__}>"


class Grad(Transform):
    def __call__(self, *args, **kwargs):
        compiled = self.compiled(args, kwargs)
        stack = []
        value = compiled.primal(stack, *args, **kwargs)
        _check_scalar(value, self.fn)
        return self.shaped(compiled.adjoint(stack, 1.0), args, kwargs)


class ValueAndGrad(Transform):
    def __call__(self, *args, **kwargs):
        compiled = self.compiled(args, kwargs)
        stack = []
        value = compiled.primal(stack, *args, **kwargs)
        _check_scalar(value, self.fn)
        return value, self.shaped(compiled.adjoint(stack, 1.0), args, kwargs)


class Vjp(Transform):
    def __call__(self, *args, **kwargs):
        compiled = self.compiled(args, kwargs)
        stack = []
        value = compiled.primal(stack, *args, **kwargs)
        runs = [stack]

        def pullback(cotangent):
            """The gradient of <value, cotangent> with respect to the wrt arguments."""
            if compiled.restores:
                recorded = runs.pop() if runs else None
                if recorded is None:    # the last pullback undid the updates: record anew
                    recorded = []
                    compiled.primal(recorded, *args, **kwargs)
            else:
                recorded = list(stack)
            return self.shaped(compiled.adjoint(recorded, cotangent), args, kwargs)

        return value, pullback


def _check_scalar(value, fn):
    if isinstance(value, float) or np.ndim(value) == 0 and not isinstance(value, (list, tuple)):
        return
    raise SrcadError(f"grad needs a function with a scalar output; {fn.__qualname__} returned "
                     f"a value of shape {np.shape(value)}: use srcad.vjp for a vector-Jacobian "
                     "product or srcad.jacobian for the full Jacobian")


def _transform(cls):
    def transform(f=None, wrt=0, verbose=False):
        if f is None:
            return lambda g: cls(g, wrt, verbose)
        return cls(f, wrt, verbose)
    return transform


grad = _transform(Grad)
grad.__doc__ = """The gradient of f's scalar output with respect to the argument(s) `wrt`."""
value_and_grad = _transform(ValueAndGrad)
value_and_grad.__doc__ = """`(value, gradient)` of f's scalar output."""
vjp = _transform(Vjp)
vjp.__doc__ = """`(value, pullback)`: pullback(cotangent) gives the gradient(s) of <f, cotangent>."""


def show(transformed):
    """Print the source srcad generated for a transformed function."""
    print(transformed.source)
