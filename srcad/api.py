"""The transforms users call: grad, value_and_grad, vjp, and their shared machinery.

A transform is generated once per function, `wrt` and the kinds of the
arguments it is called with (a Python number and an array need different
code), and cached: a second `grad(f)` costs a dictionary lookup.
"""
import inspect

import numpy as np

from .emit import compile_module
from .optimize import lean_primal
from .errors import SrcadError
from .generate import runtime_kind
from . import compose
from .forward import ForwardModule
from .reverse import ReverseModule
from .runtime import as_gradient
from .shapes import shape_pattern

_CACHE = {}


class Compiled:
    """The generated functions of one transform, with their source text."""

    def __init__(self, source, primal, adjoint, restores, gradient=None):
        self.source = source
        self.primal = primal
        self.adjoint = adjoint
        self.gradient = gradient   # f_grad(*args): what a transform of a gradient transforms
        self.restores = restores   # the adjoint undoes in-place updates: one pullback per run
        self.grad_primal = None    # the primal without the value, for grad (scalar outputs)


def _reverse(fn, wrt_names, kinds, shapes=None):
    """shapes: {parameter: shape pattern} (shapes.shape_pattern) of the call's arrays."""
    shapes = shapes or {}
    key = ("reverse", fn, tuple(wrt_names), tuple(sorted(kinds.items(), key=str)),
           tuple(sorted(shapes.items(), key=str)))
    compiled = _CACHE.get(key)
    if compiled is None:
        module = ReverseModule()
        module.param_shapes = shapes
        try:
            top = module.add(fn, wrt_names, kinds)
        except SrcadError:
            raise
        except RecursionError:
            raise SrcadError(f"cannot transform {fn.__qualname__}: recursion too deep") from None
        units = [(g.function.fn, list(g.definitions), g.helpers) for g in module.functions]
        # grad does not return the value: a primal without what only computes it, where
        # the value is known to be a scalar (so that grad need not check it)
        lean = None
        if top.kinds.get(getattr(top, "returned", None)) == "scalar":
            lean = lean_primal(top.definitions[0],
                               module.fresh(fn.__name__ + "_primal_for_grad", top.function),
                               worth=lambda s: top.kinds.get(s.targets[0].id) == "array")
        if lean is not None:
            units[0][1].insert(1, lean)
        source, functions = compile_module(units, f"reverse mode of {fn.__qualname__}")
        restores = any(g.restores_in_place() for g in module.functions)
        compiled = Compiled(source, functions[top.primal_name], functions[top.adjoint_name],
                            restores, functions[module.gradient_name])
        compiled.grad_primal = functions[lean.name] if lean is not None else None
        _CACHE[key] = compiled
    return compiled


def _forward(fn, wrt_names, kinds):
    key = ("forward", fn, tuple(wrt_names), tuple(sorted(kinds.items())))
    compiled = _CACHE.get(key)
    if compiled is None:
        module = ForwardModule()
        top = module.add(fn, wrt_names, kinds)
        units = [(g.function.fn, g.definitions, g.helpers) for g in module.functions]
        source, functions = compile_module(units, f"forward mode of {fn.__qualname__}")
        compiled = Compiled(source, functions[top.jvp_name], None, False)
        _CACHE[key] = compiled
    return compiled


class Transform:
    """A callable made from a user function; `.source` shows what was generated."""

    def __init__(self, fn, wrt, verbose):
        self.inner = None
        if isinstance(fn, Transform):
            if not isinstance(fn, Grad):
                raise SrcadError(f"srcad differentiates functions and gradients (srcad.grad); "
                                 f"got {fn!r}")
            self.inner = fn
        elif not inspect.isfunction(fn):    # what is called, never what it wraps
            raise SrcadError(f"srcad transforms a Python function (a def with source); "
                             f"got {fn!r}: write a def that computes it (one calling the "
                             "function with a functools.partial's arguments; a cached "
                             "function's .__wrapped__)")
        self.fn = fn
        try:
            self.signature = inspect.signature(fn)
        except ValueError as e:     # functools.wraps(builtin): the builtin's, unreadable
            raise SrcadError(f"cannot read the parameters of {fn!r} ({e}): make it without "
                             "functools.wraps") from None
        self.params = list(self.signature.parameters)
        self.wrt_names, self.multi = self.wrt_parameters(wrt)
        self.verbose = verbose
        self.last = None
        # the fast path of __call__: all parameters positional, given positionally
        plain = all(p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                               inspect.Parameter.POSITIONAL_OR_KEYWORD)
                    for p in self.signature.parameters.values())
        self.arity = len(self.params) if plain and self.inner is None else -1
        self.wrt_index = [self.params.index(p) for p in self.wrt_names]
        self.by_call = {}   # call_key(args) -> Compiled
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", type(self).__name__)
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__doc__ = getattr(fn, "__doc__", None)

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

    def values(self, args, kwargs):
        """{parameter: argument} for the parameters given a value (defaults included)."""
        values = dict(zip(self.params, args))
        values.update(kwargs)
        for p, param in self.signature.parameters.items():
            if p not in values and param.default is not inspect.Parameter.empty:
                values[p] = param.default
        return values

    @property
    def one_tuple(self):
        """Whether this transforms a gradient taken with a one-element wrt tuple: its
        generated `f_grad` returns the gradient alone, the gradient itself a 1-tuple."""
        inner = self.inner
        return inner is not None and inner.multi and len(inner.wrt_names) == 1

    def target(self, args, kwargs):
        """The Python function to transform: the user's, or a generated gradient's."""
        if self.inner is None:
            return self.fn
        return self.inner.compiled(args, kwargs).gradient

    def compiled(self, args, kwargs):
        if self.inner is not None:
            raise SrcadError(f"{self.transform_name} of a gradient runs in forward "
                             "mode: use srcad.jvp, srcad.hvp, srcad.hessian or srcad.jacobian")
        compiled = _reverse(self.fn, self.wrt_names, self.kinds(args, kwargs),
                            shape_pattern(self.values(args, kwargs)))
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
        if self.multi and len(values) == 1:
            grads = (grads,)
        if self.multi:
            return tuple(as_gradient(g, x) for g, x in zip(grads, values))
        return as_gradient(grads, values[0])

    @property
    def source(self):
        """The generated source: of the last call, or for unknown argument kinds."""
        if self.last is None:
            self.last = _reverse(self.fn, self.wrt_names, {})
        return self.last.source

    @property
    def transform_name(self):
        """The public name of this transform: ValueAndGrad -> "value_and_grad"."""
        return "".join("_" + c.lower() if c.isupper() else c
                       for c in type(self).__name__).lstrip("_")

    def __repr__(self):
        return f"<srcad.{self.transform_name} of {self.__qualname__}>"

    def fast_compiled(self, args):
        """The generated code for these positional arguments, from a cache keyed by
        their types and shapes; None where only the general path applies."""
        if len(args) != self.arity or self.inner is not None:
            return None
        key = call_key(args)
        if key is None:
            return None
        compiled = self.by_call.get(key)
        if compiled is None:
            compiled = self.compiled(args, {})
            if len(self.by_call) >= 64:
                self.by_call.clear()
            self.by_call[key] = compiled
        elif compiled is not self.last:
            self.last = compiled
            if self.verbose:
                print(compiled.source)
        return compiled

    def fast_shaped(self, grads, args):
        """`shaped` for positional arguments."""
        if self.multi:
            if len(self.wrt_index) == 1:
                grads = (grads,)
            return tuple([shape_like(g, args[i]) for g, i in zip(grads, self.wrt_index)])
        return shape_like(grads, args[self.wrt_index[0]])


_PLAIN_TYPES = {float, int, bool, complex, list, tuple, dict, str, type(None),
                np.float64, np.float32, np.int64, np.int32, np.bool_, np.complex128}


_ndarray = np.ndarray


def call_key(args):
    """What the generated code depends on, for arguments of common types: the type of
    each, and an ndarray's shape (kinds follow from it). None for other types."""
    key = []
    for a in args:
        t = type(a)
        if t is _ndarray:
            key.append(a.shape)
        elif t in _PLAIN_TYPES:
            key.append(t)
        else:
            return None
    return tuple(key)


def shape_like(g, x):
    """as_gradient(g, x), with the common cases first."""
    t = type(g)
    if t is type(x):
        if t is float:
            return g
        if t is np.ndarray and g.shape == x.shape and g.flags.writeable \
                and (g.dtype.kind != "c" or x.dtype.kind == "c"):
            return g
    return as_gradient(g, x)


class Grad(Transform):
    def __call__(self, *args, **kwargs):
        if not kwargs:
            # the hot path: code already generated for these argument types and shapes
            compiled = self.by_call.get(call_key(args)) if len(args) == self.arity else None
            if compiled is not None and compiled is self.last \
                    and compiled.grad_primal is not None and not self.multi:
                stack = []
                compiled.grad_primal(stack, *args)
                g = compiled.adjoint(stack, 1.0)
                x = args[self.wrt_index[0]]
                if type(g) is _ndarray and type(x) is _ndarray and g.shape == x.shape \
                        and g.dtype is x.dtype and g.flags.writeable:
                    return g
                return shape_like(g, x)
            compiled = self.fast_compiled(args)
            if compiled is not None:
                stack = []
                if compiled.grad_primal is not None:    # a scalar output, known
                    compiled.grad_primal(stack, *args)
                else:
                    value = compiled.primal(stack, *args)
                    if type(value) is not float:
                        _check_scalar(value, self.fn)
                return self.fast_shaped(compiled.adjoint(stack, 1.0), args)
        if self.inner is not None:      # a gradient of a gradient: forward over reverse
            return _forward_jacobian(self, args, kwargs, scalar=True)
        compiled = self.compiled(args, kwargs)
        stack = []
        value = compiled.primal(stack, *args, **kwargs)
        _check_scalar(value, self.fn)
        return self.shaped(compiled.adjoint(stack, 1.0), args, kwargs)


class ValueAndGrad(Transform):
    def __call__(self, *args, **kwargs):
        compiled = None if kwargs else self.fast_compiled(args)
        if compiled is not None:
            stack = []
            value = compiled.primal(stack, *args)
            if type(value) is not float:
                _check_scalar(value, self.fn)
            return value, self.fast_shaped(compiled.adjoint(stack, 1.0), args)
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


class Jvp(Transform):
    def __call__(self, *args, **kwargs):
        count = len(self.wrt_names)
        primal, tangents = args[:-count], args[-count:]
        if len(args) < count:
            raise SrcadError(f"jvp of {self.fn.__qualname__} takes the arguments, then one "
                             f"tangent per wrt argument ({count})")
        compiled = self.forward(primal, kwargs)
        if self.one_tuple:      # a tuple gives a tuple, as the gradient does
            value, tangent = compiled.primal(*tangents, *primal, **kwargs)
            return (value,), (tangent,)
        return compiled.primal(*tangents, *primal, **kwargs)

    def forward(self, args, kwargs):
        compiled = _forward(self.target(args, kwargs), self.wrt_names, self.kinds(args, kwargs))
        if compiled is not self.last:
            self.last = compiled
            if self.verbose:
                print(compiled.source)
        return compiled

    @property
    def source(self):
        if self.last is None:
            raise SrcadError("call the jvp once: its source is generated for the kinds of "
                             "the arguments it is called with")
        return self.last.source


class Jacobian(Transform):
    mode = "reverse"

    def __call__(self, *args, **kwargs):
        if self.mode == "forward" or self.inner is not None:
            return _forward_jacobian(self, args, kwargs)
        return _reverse_jacobian(self, args, kwargs)


def _reverse_jacobian(transform, args, kwargs):
    """Jacobian rows from reverse mode: one primal run, one adjoint run per output element.

    The recording is reused for every row (the adjoint pops a copy of it); only
    a function whose adjoint undoes in-place writes (and so changes what was
    recorded) runs its primal again before each further row.
    """
    compiled = transform.compiled(args, kwargs)
    stack = []
    value = compiled.primal(stack, *args, **kwargs)
    if isinstance(value, (tuple, list, dict)):
        raise SrcadError("jacobian needs an array or number output; use srcad.vjp for "
                         "tuples, lists and dicts")
    out_shape = np.shape(value)
    inputs = transform.arguments(args, kwargs)
    size = int(np.prod(out_shape))
    rows = [np.zeros((size,) + np.shape(x)) for x in inputs]
    for i in range(size):
        if not compiled.restores:
            recorded = list(stack)
        elif i == 0:
            recorded = stack
        else:
            recorded = []
            compiled.primal(recorded, *args, **kwargs)
        seed = np.zeros(out_shape)
        seed.flat[i] = 1.0
        grads = transform.shaped(compiled.adjoint(recorded, seed), args, kwargs)
        for k, g in enumerate(grads if transform.multi else (grads,)):
            rows[k][i] = g
    jacobians = [r.reshape(out_shape + np.shape(x)) for r, x in zip(rows, inputs)]
    return tuple(jacobians) if transform.multi else jacobians[0]


def _forward_jacobian(transform, args, kwargs, scalar=False):
    """Jacobian columns from forward mode, one jvp per input element (a basis tangent).

    Each jvp runs the primal too: forward mode carries tangents beside values
    and records nothing, so there is nothing to reuse between columns. A tuple
    output (the gradient of several arguments, in `hessian(f, wrt=(0, 1))`)
    gives a tuple of Jacobians, one per output: `result[i][j]` is d out_i / d x_j.
    """
    inputs = transform.arguments(args, kwargs)
    jvp_ = Jvp(transform.inner or transform.fn, tuple(transform.wrt_names), False)
    compiled = jvp_.forward(args, kwargs)
    transform.last = compiled
    run = compiled.primal
    if transform.one_tuple:     # the gradient is a 1-tuple: so is the output here
        plain = run

        def run(*a, **k):
            value, column = plain(*a, **k)
            return (value,), (column,)
    zeros = [np.zeros(np.shape(x)) if isinstance(x, np.ndarray) else 0.0 for x in inputs]
    blocks, several = [], False      # blocks[k][i]: d output i / d input k
    for k, x in enumerate(inputs):
        tangents = list(zeros)
        size = int(np.prod(np.shape(x)))
        columns = values = None
        for i in range(size):
            if isinstance(x, np.ndarray):
                tangents[k] = np.zeros(np.shape(x))
                tangents[k].flat[i] = 1.0
            else:
                tangents[k] = 1.0
            value, column = run(*tangents, *args, **kwargs)
            if columns is None:
                if scalar:
                    _check_scalar(value, transform.fn)
                several = isinstance(value, (tuple, list))
                values = list(value) if several else [value]
                columns = [np.zeros(np.shape(v) + (size,)) for v in values]
            for c, part in zip(columns, column if several else (column,)):
                c[..., i] = part
        if columns is None:     # an empty input: the output's shape from one run
            value, _ = run(*zeros, *args, **kwargs)
            several = isinstance(value, (tuple, list))
            values = list(value) if several else [value]
            columns = [np.zeros(np.shape(v) + (0,)) for v in values]
        jacobians = [c.reshape(np.shape(v) + np.shape(x)) for c, v in zip(columns, values)]
        blocks.append([as_gradient(j, x) if scalar else j for j in jacobians])
    per_output = [tuple(b[i] for b in blocks) if transform.multi else blocks[0][i]
                  for i in range(len(blocks[0]))]
    return tuple(per_output) if several else per_output[0]


def _check_scalar(value, fn):
    container = isinstance(value, (list, tuple, dict))
    if isinstance(value, float) or not container and np.ndim(value) == 0:
        return
    what = f"a {type(value).__name__}" if container else f"a value of shape {np.shape(value)}"
    raise SrcadError(f"grad needs a function with a scalar output; {fn.__qualname__} returned "
                     f"{what}: use srcad.vjp for a vector-Jacobian product or srcad.jacobian "
                     "for the full Jacobian")


def _transform(cls):
    def transform(f=None, wrt=0, verbose=False):
        if f is None:
            return lambda g: transform(g, wrt, verbose)
        made = cls(f, wrt, verbose)
        if cls is Grad:     # a function srcad differentiates may call it (compose.py)
            compose.register(made)
        return made
    return transform


grad = _transform(Grad)
grad.__doc__ = """The gradient of f's scalar output with respect to the argument(s) `wrt`."""
value_and_grad = _transform(ValueAndGrad)
value_and_grad.__doc__ = """`(value, gradient)` of f's scalar output."""
vjp = _transform(Vjp)
vjp.__doc__ = """`(value, pullback)`: pullback(cotangent) gives the gradient(s) of <f, cotangent>."""


jvp = _transform(Jvp)
jvp.__doc__ = """Forward mode: `df(*args, tangent)` returns `(value, output_tangent)`."""


def jacobian(f=None, wrt=0, mode="reverse", verbose=False):
    """The Jacobian of f, shaped `output.shape + input.shape`; mode "forward" or "reverse"."""
    if mode not in ("reverse", "forward"):
        raise SrcadError(f"jacobian mode must be 'reverse' or 'forward', not {mode!r}")
    if f is None:
        return lambda g: jacobian(g, wrt, mode, verbose)
    transform = Jacobian(f, wrt, verbose)
    transform.mode = mode
    return transform


def hessian(f=None, wrt=0, verbose=False):
    """The Hessian of a scalar function: forward mode over its reverse-mode gradient."""
    if f is None:
        return lambda g: hessian(g, wrt, verbose)
    return jacobian(Grad(f, wrt, verbose), wrt, mode="forward")


def hvp(f=None, wrt=0, verbose=False):
    """`h(*args, v)`: the Hessian-vector product, without forming the Hessian."""
    if f is None:
        return lambda g: hvp(g, wrt, verbose)
    inner = Jvp(Grad(f, wrt, verbose), wrt, verbose)

    def hessian_vector_product(*args, **kwargs):
        return inner(*args, **kwargs)[1]

    hessian_vector_product.jvp = inner
    return hessian_vector_product


def show(transformed):
    """Print the source srcad generated for a transformed function."""
    print(transformed.source)
