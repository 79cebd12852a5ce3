"""The transforms users call: grad, value_and_grad, vjp, and their shared machinery.

A transform is generated once per function, `wrt` and the kinds of the
arguments it is called with (a Python number and an array need different
code), and cached: a second `grad(f)` costs a dictionary lookup. The cache
holds functions weakly and at most `config.cache_size` entries; an entry is
used only while what its code was made from is unchanged (emit.watch).

Arguments are classified on entry: numbers, NumPy scalars, ndarrays and
containers of them (lists, tuples, dicts, NamedTuples, dataclasses and
registered classes: containers.py) are differentiated (NumPy integers and
bools as the floats they stand for); ndarray subclasses and other array types
are refused.
"""
import inspect
import linecache
import weakref
from collections import OrderedDict

import gast
import numpy as np

from .dtypes import real_value
from .emit import default_values, forget, origin
from .errors import SrcadError, UnsupportedSyntaxError
from .generate import runtime_kind
from .rules.numpy import ATTRIBUTES, NONDIFFERENTIABLE_ATTRIBUTES
from . import compose, containers, objects, pipeline, runtime
from .nested import as_def
from .parse import parse_function
from .runtime import as_gradient, gradient_dtype
from .shapes import shape_pattern


class Config:
    """srcad's settings, as `srcad.config`.

    cache_size: how many generated transforms (one per function, `wrt`,
    argument kinds and shape pattern) are kept; the least recently used is
    dropped first, and a transform whose function is garbage collected too.
    """

    cache_size = 256


config = Config()


class _Cache:
    """Generated code by (function, mode, wrt, kinds, shapes), the function held weakly,
    at most `config.cache_size` entries, the least recently used dropped first."""

    def __init__(self):
        self.entries = OrderedDict()

    def get(self, fn, key):
        """The entry for fn and key, if its code may still run for fn (else it is dropped)."""
        key = (weakref.ref(fn),) + key
        compiled = self.entries.get(key)
        if compiled is not None:
            if compiled.current(fn):
                self.entries.move_to_end(key)
                return compiled
            del self.entries[key]
        return None

    def put(self, fn, key, compiled):
        self.entries[(weakref.ref(fn, self.drop),) + key] = compiled
        while len(self.entries) > max(config.cache_size, 1):
            self.entries.popitem(last=False)

    def drop(self, ref):
        """A function was garbage collected: drop its entries."""
        for key in [key for key in self.entries if key[0] is ref]:
            del self.entries[key]

    def clear(self):
        self.entries.clear()


_CACHE = _Cache()


class Compiled:
    """The generated functions of one transform, with their source text."""

    def __init__(self, source, primal, adjoint, restores, current, gradient=None):
        self.source = source
        self.primal = primal
        self.adjoint = adjoint
        self.gradient = gradient   # f_grad(*args): what a transform of a gradient transforms
        self.restores = restores   # the adjoint undoes in-place updates: one pullback per run
        self.grad_primal = None    # the primal without the value, for grad (scalar outputs)
        self.seeded_adjoint = None  # adjoint(stack) = adjoint(stack, 1.0), folded, or None
        self.fused = False         # whether `gradient` runs primal and adjoint as one
        self.current = current     # current(fn): whether this code may still run for fn
        # what its calls recorded, kept for later calls (runtime.Tape): None until a
        # first call tells whether the primal records arrays; False where it records
        # none, or where a copy would not do (the adjoint restores in-place writes)
        self.recordings = None
        weakref.finalize(self, forget, primal.__code__.co_filename)


def _reverse(fn, wrt_names, kinds, shapes=None, traced=None, real=False):
    """shapes: {parameter: shape pattern} (shapes.shape_pattern) of the call's arrays;
    traced: the keys of the code already traced (verbose=2: pipeline.py), else None;
    real: whether the call's values are all real numbers (dtypes.real_value)."""
    shapes = shapes or {}
    key = ("reverse", tuple(wrt_names), tuple(sorted(kinds.items(), key=str)),
           tuple(sorted(shapes.items(), key=str)), real)
    trace = traced is not None and key not in traced
    compiled = None if trace else _CACHE.get(fn, key)
    if compiled is None:
        try:
            made = pipeline.reverse(fn, wrt_names, kinds, shapes, real, trace)
        except SrcadError:
            raise
        except RecursionError:
            raise SrcadError(f"cannot transform {fn.__qualname__}: recursion too deep") from None
        functions, top = made.functions, made.top
        restores = any(g.restores_in_place() for g in made.module.functions)
        compiled = Compiled(made.source, functions[top.primal_name],
                            functions[top.adjoint_name], restores, made.current,
                            functions[made.module.gradient_name])
        compiled.grad_primal = functions[made.lean] if made.lean is not None else None
        if top.seeded_def is not None:
            compiled.seeded_adjoint = functions[top.seeded_name]
        compiled.fused = top.fused
        _CACHE.put(fn, key, compiled)
        if trace:
            traced.add(key)
    return compiled


def _forward(fn, wrt_names, kinds, traced=None):
    key = ("forward", tuple(wrt_names), tuple(sorted(kinds.items())))
    trace = traced is not None and key not in traced
    compiled = None if trace else _CACHE.get(fn, key)
    if compiled is None:
        made = pipeline.forward(fn, wrt_names, kinds, trace)
        compiled = Compiled(made.source, made.functions[made.top.jvp_name], None, False,
                            made.current)
        _CACHE.put(fn, key, compiled)
        if trace:
            traced.add(key)
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
        elif objects.unbind(fn) is not None and objects.is_callable_value(fn):
            fn = objects.as_function(fn)    # a bound method or partial: forwarding to it
        elif inspect.isfunction(fn) and fn.__name__ == "<lambda>":
            made, why = as_def(fn)
            if made is None:
                raise SrcadError(why)
            fn = made
        elif not inspect.isfunction(fn):    # what is called, never what it wraps
            raise SrcadError(f"srcad transforms a Python function (a def with source); "
                             f"got {fn!r}: write a def that computes it (one calling the "
                             "function with a functools.partial's arguments; a cached "
                             "function's .__wrapped__)")
        self.fn = fn
        try:
            self.signature = inspect.signature(fn)
        except ValueError as e:     # functools.wraps(builtin): the builtin's, unreadable
            parse_function(fn)      # refuses the wrapper at its def
            raise SrcadError(f"cannot read the parameters of {fn!r} ({e}): make it without "
                             "functools.wraps") from None
        self.params = list(self.signature.parameters)
        self.wrt_names, self.multi = self.wrt_parameters(wrt)
        self.verbose = verbose
        self.traced = set() if verbose == 2 else None   # keys of code printed by stages
        self.last = None
        # the fast path of __call__: all parameters positional, given positionally
        plain = all(p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                               inspect.Parameter.POSITIONAL_OR_KEYWORD)
                    for p in self.signature.parameters.values())
        self.arity = len(self.params) if plain and self.inner is None else -1
        self.wrt_index = [self.params.index(p) for p in self.wrt_names]
        self.by_call = {}   # call_key(args) -> (Compiled, entry point)
        self.hot = _miss    # the entry point the last call ran
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
        for name in names:
            if self.signature.parameters[name].kind in (inspect.Parameter.VAR_POSITIONAL,
                                                        inspect.Parameter.VAR_KEYWORD):
                raise UnsupportedSyntaxError(f"wrt names '{name}' of {self.fn.__qualname__}"
                                 f"{self.signature}, which gathers several arguments: "
                                 "differentiate a function whose parameters name them "
                                 "(functools.wraps on a wrapper gives it those of the "
                                 "function it wraps)", *_def_location(_function_of(self)))
        return names, multi

    def values(self, args, kwargs):
        """{parameter: argument} for this call, defaults included (the function's own
        default objects, as they are now). A call the function's signature refuses is a
        TypeError naming the function and its signature."""
        if not kwargs and len(args) == self.arity:
            return dict(zip(self.params, args))
        try:
            values = dict(self.signature.bind(*args, **kwargs).arguments)
        except TypeError as e:
            raise TypeError(f"{self.transform_name} of {self.__qualname__}{self.signature}: "
                            f"{e}") from None
        defaults = default_values(_function_of(self))
        for p, param in self.signature.parameters.items():
            if p not in values and param.default is not param.empty:
                values[p] = defaults.get(p, param.default)
        return values

    def prepare(self, args, kwargs):
        """The call as the generated code takes it (a `Call`): arguments of a kind srcad
        does not differentiate refused, naming them; NumPy integers and bools among the
        wrt arguments made the float64 values they stand for."""
        values = self.values(args, kwargs)
        for p, value in values.items():
            refusal = _refusal(value, p in self.wrt_names, p)
            if refusal is not None:
                raise SrcadError(f"{self.transform_name} of {self.__qualname__}: argument "
                                 f"{refusal}", *_def_location(_function_of(self)))
        call = Call(self, args, kwargs, values)
        for p in self.wrt_names:
            if p in values:
                promoted = _promoted(values[p])
                if promoted is not values[p]:
                    call.promote(p, promoted)
        return call

    @property
    def one_tuple(self):
        """Whether this transforms a gradient taken with a one-element wrt tuple: its
        generated `f_grad` returns the gradient alone, the gradient itself a 1-tuple."""
        inner = self.inner
        return inner is not None and inner.multi and len(inner.wrt_names) == 1

    def target(self, values):
        """The Python function to transform: the user's, or a generated gradient's."""
        if self.inner is None:
            return self.fn
        return self.inner.compiled(values).gradient

    def compiled(self, values):
        """The reverse-mode code for a call with these (prepared) values."""
        if self.inner is not None:
            raise SrcadError(f"{self.transform_name} of a gradient runs in forward "
                             "mode: use srcad.jvp, srcad.hvp, srcad.hessian or srcad.jacobian")
        compiled = _reverse(self.fn, self.wrt_names, kinds_of(values), shape_pattern(values),
                            self.traced, real_value(values))
        if compiled is not self.last:
            self.show(compiled)
        return compiled

    def show(self, compiled):
        """Remember the code of the last call (`.source`); print it if verbose."""
        self.last = compiled
        if self.verbose:
            print(compiled.source)

    def run(self, args, kwargs):
        """The general path of grad and value_and_grad: (value, gradient), any arguments."""
        call = self.prepare(args, kwargs)
        compiled = self.compiled(call.values)
        recordings = compiled.recordings
        with call:
            stack = recordings.tape(call.args) if recordings else []
            value = compiled.primal(stack, *call.args, **call.kwargs)
            _check_scalar(value, self, compiled, stack)
            if recordings is None:
                compiled.recordings = not compiled.restores \
                    and runtime.records_arrays(stack, call.args) \
                    and runtime.Recordings()
            seeded = compiled.seeded_adjoint
            grads = self.shaped(seeded(stack) if seeded else compiled.adjoint(stack, 1.0),
                                call.values)
        if recordings:
            recordings.keep(stack)
        self.remember(args, kwargs, call, compiled)
        return value, grads

    def remember(self, args, kwargs, call, compiled):
        """Make an entry point for later calls with positional arguments like args, the
        hot one (only for arguments `prepare` passed unchanged); else none is hot."""
        key = call_key(args) if len(args) == self.arity and not kwargs \
            and not call.promoted else None
        self.hot = _miss
        if key is not None:
            if len(self.by_call) >= 64:
                self.by_call.clear()
            self.hot = _entry(self, compiled, args, key)
            self.by_call[key] = (compiled, self.hot)

    def dispatch(self, args):
        """The result of the entry point made for positional arguments like args, now
        the hot one; _MISS where there is none, or its code may no longer run."""
        known = self.by_call.get(call_key(args))
        if known is None:
            return _MISS
        compiled, entry = known
        result = entry(*args)
        if result is not _MISS:
            self.hot = entry
            if compiled is not self.last:
                self.show(compiled)
        return result

    def shaped(self, grads, values):
        """The gradients of the wrt arguments, each shaped like its argument."""
        wrt = [values[p] for p in self.wrt_names]
        if self.multi and len(wrt) == 1:
            grads = (grads,)
        if self.multi:
            return tuple(as_gradient(g, x) for g, x in zip(grads, wrt))
        return as_gradient(grads, wrt[0])

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


def kinds_of(values):
    """{parameter: kind} (generate.runtime_kind) of a call's values."""
    return {p: runtime_kind(v) for p, v in values.items()}


def _function_of(transform):
    """The user's function under a transform (of transforms)."""
    fn = transform
    while isinstance(fn, Transform):
        fn = fn.fn
    return fn


def _def_location(fn):
    """(filename, lineno, source line) of a function's def, for SrcadError."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return ()
    line = linecache.getline(code.co_filename, code.co_firstlineno)
    return code.co_filename, code.co_firstlineno, line


# -- arguments: the kinds srcad differentiates ---------------------------------------------

_ndarray = np.ndarray
_float64 = np.dtype(np.float64)
_NUMPY_SCALARS = {t for t in set(np.sctypeDict.values())
                  if issubclass(t, (np.number, np.bool_))}
_SCALARS = {float, int, bool, complex, str, type(None)} | _NUMPY_SCALARS
_NUMERIC = (int, float, complex, np.number, np.bool_)
_WRT_TYPES = "numbers, arrays of numbers, and containers of them (lists, tuples, dicts, " \
             "NamedTuples, dataclasses)"
_DEEPEST = 32       # containers nested deeper take the general path (a cycle would not end)


def call_key(args, depth=0):
    """What decides the generated code and the handling of positional arguments of
    common types: the type of each number, an ndarray's shape (and its dtype, where not
    float64), the same of the items of a list, tuple or dict, and the type, keys and
    the same of the parts of another container. None for other types."""
    key = []
    for a in args:
        t = type(a)
        if t is _ndarray:
            dtype = a.dtype
            key.append(a.shape if dtype is _float64 else (a.shape, dtype))
        elif t in _SCALARS:
            key.append(t)
        elif depth == _DEEPEST:
            return None
        elif t is list or t is tuple or t is dict:
            items = call_key(a.values() if t is dict else a, depth + 1)
            if items is None:
                return None
            key.append((tuple(a), items) if t is dict else (t, items))
        else:
            container = containers.of(a)
            parts = container.parts(a) if container is not None else None
            items = call_key([v for _, v in parts], depth + 1) if parts is not None else None
            if items is None:
                return None
            key.append((t, tuple(k for k, _ in parts), items))
    return tuple(key)


def _refusal(value, wrt, path):
    """Why srcad refuses this argument (`path` names it), as a phrase, or None.

    ndarray subclasses and other array types are refused, until srcad supports
    them: their operators mean other things (`*` is a matrix product on
    np.matrix; a masked array's mean skips masked entries) or they dispatch
    NumPy's functions to their own. A wrt argument must be numeric: a number, a
    NumPy number or bool, an array of numbers or bools, or a container of them
    (containers.py); the parts of a container of the user's own class are looked
    into only where it is differentiated.
    """
    t = type(value)
    if t is _ndarray:
        if wrt and value.dtype.kind not in "biufc":
            return (f"'{path}' is an array of dtype {value.dtype}: srcad differentiates with "
                    "respect to arrays of numbers")
        return None
    if t in _SCALARS:
        if wrt and not isinstance(value, _NUMERIC):
            return f"'{path}' is {_a(value)}: srcad differentiates with respect to {_WRT_TYPES}"
        return None
    name = f"{t.__module__}.{t.__qualname__}"
    if isinstance(value, np.matrix):
        return (f"'{path}' is a numpy.matrix, on which * is a matrix product: pass "
                f"np.asarray({path}) and write @ for matrix products")
    if isinstance(value, np.ma.MaskedArray):
        return (f"'{path}' is a masked array ({name}), whose functions skip masked entries: "
                f"pass the entries meant, such as {path}.compressed() or {path}.filled(0.0)")
    if isinstance(value, np.ndarray):
        return (f"'{path}' is a {name}, a subclass of numpy.ndarray: pass "
                f"np.asarray({path})")
    if any(hasattr(t, a) for a in ("__array__", "__array_function__", "__array_ufunc__",
                                   "__array_interface__")):
        return (f"'{path}' is a {name}, an array type srcad does not differentiate: pass a "
                f"NumPy array, np.asarray({path})")
    container = containers.of(value)
    if container is not None and (wrt or not container.user_type):
        hidden = [a for a in _ARRAY_ATTRIBUTES if container.field(value, a) is not None]
        if wrt and hidden:
            return (f"'{path}' is {_a(value)} with a field '{hidden[0]}', which srcad reads "
                    f"as NumPy's attribute '.{hidden[0]}' of an array: rename the field")
        for k, item in container.parts(value):
            refusal = _refusal(item, wrt, path + container.label(value, k))
            if refusal is not None:
                return refusal
        return None
    if wrt:
        return (f"'{path}' is {_a(value)}: srcad differentiates with respect to {_WRT_TYPES}; "
                f"for a class of your own, register it with "
                f"srcad.register_container({type(value).__qualname__}, flatten, unflatten)")
    return None


_ARRAY_ATTRIBUTES = sorted(set(ATTRIBUTES) | NONDIFFERENTIABLE_ATTRIBUTES)


def _a(value):
    """'None', 'a str', 'an object', 'a numpy.str_': what a value is, in a message."""
    if value is None:
        return "None"
    t = type(value)
    name = t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _promoted(value):
    """value with NumPy integers and bools as the floats they stand for: a scalar an
    np.float64, an array a float64 array, a container with such parts a new one; value
    itself where nothing changes. (Python's integers are exact: an int stays.)"""
    t = type(value)
    if t is _ndarray:
        return value.astype(np.float64) if value.dtype.kind in "biu" else value
    if isinstance(value, (np.integer, np.bool_)):
        return np.float64(value)
    container = containers.of(value)
    if container is None:
        return value
    parts = [v for _, v in container.parts(value)]
    items = [_promoted(v) for v in parts]
    if all(a is b for a, b in zip(items, parts)):
        return value
    return container.rebuild(value, items)


def _tangent_mismatch(t, x, path):
    """Why tangent t cannot be the tangent of argument x, as a phrase, or None: it has
    x's shape (an array's, or none for a number) and x's structure (a list or tuple of
    x's length, a dict of x's keys, a NamedTuple, dataclass or registered class of x's
    own type with the same parts)."""
    container = containers.of(x)
    if container is None:
        if np.shape(t) != np.shape(x):
            return f"{path} has shape {np.shape(t)}, where its argument has shape " \
                   f"{np.shape(x)}: a tangent has the shape of its argument"
        return None
    parts = container.parts(x)
    theirs = _like_parts(t, x, container)
    if theirs is None or theirs.keys() != dict(parts).keys():
        if container.own_type:
            what, give = f"a {type(x).__qualname__}", f"a {type(x).__qualname__} of tangents"
        elif container.by_position:
            what = f"a {type(x).__name__} of {len(parts)} items"
            give = f"a {type(x).__name__} of tangents"
        else:
            what = f"a dict with keys {sorted(x, key=str)}"
            give = "a dict of tangents with those keys"
        return f"{path} is {_a(t)}, where its argument is {what}: give {give}"
    for k, xi in parts:
        mismatch = _tangent_mismatch(theirs[k], xi, path + container.label(x, k))
        if mismatch is not None:
            return mismatch
    return None


def _like_parts(t, x, container):
    """{key: part} of t, where t is a container like x (of x's own type, where that
    matters: containers.Container.own_type), else None."""
    kind = containers.of(t)
    if kind is None or (type(t) is not type(x) if container.own_type else
                        kind.own_type or kind.by_position != container.by_position):
        return None
    return dict(kind.parts(t))


def _as_tangent(t, x, cast=True):
    """A tangent (or cotangent) as the generated code takes it: where cast, an array in
    the floating dtype of its argument array (float32 in, float32 tangent out); the
    tangent of a container with its parts so, that of a dataclass or registered class
    as its gradient is there (a dict of the fields, a list of the children)."""
    if type(t) is _ndarray:
        if cast and type(x) is _ndarray and t.dtype != x.dtype and x.dtype.kind == "f" \
                and t.dtype.kind == "f":
            return t.astype(x.dtype)
        return t
    container = containers.of(x)
    if container is None:
        return t
    theirs = _like_parts(t, x, container)
    if theirs is None:      # unlike x (an unchecked cotangent): as it is
        return t
    parts = {k: _as_tangent(theirs[k], xi, cast) for k, xi in container.parts(x)}
    if not container.user_type and all(parts[k] is theirs[k] for k in parts):
        return t
    return list(parts.values()) if container.by_position else parts


class Grad(Transform):
    def __call__(self, *args, **kwargs):
        if not kwargs and len(args) == self.arity:
            result = self.hot(*args)    # the hot path: the last call's code, if it fits
            if result is _MISS:
                result = self.dispatch(args)
            if result is not _MISS:
                return result
        if self.inner is not None:      # a gradient of a gradient: forward over reverse
            return _forward_jacobian(self, args, kwargs, scalar=True)
        return self.run(args, kwargs)[1]


class ValueAndGrad(Transform):
    def __call__(self, *args, **kwargs):
        if not kwargs and len(args) == self.arity:
            result = self.hot(*args)
            if result is _MISS:
                result = self.dispatch(args)
            if result is not _MISS:
                return result
        return self.run(args, kwargs)


# -- entry points: one function per transform and call_key ---------------------------------

_MISS = object()    # what an entry point returns for a call it was not made for


def _miss(*args):
    return _MISS


_ENTRY_NAMES = {"stack", "value", "grads", "error", "primal", "adjoint", "recordings", "gradient",
                "locate", "check_scalar", "transform", "compiled", "as_gradient", "ndarray",
                "current", "fn", "call_key", "MISS", "float64", "float", "int", "bool",
                "complex", "str", "type", "numbers", "MISSING", "contents"}
_ENTRY_CODE = {}    # the source of an entry point -> its code, compiled once
_NUMBERS = frozenset({int, float, complex, bool} | _NUMPY_SCALARS)   # what _check_scalar passes


def _entry(transform, compiled, args, key):
    """The function that calls of transform with positional arguments of call_key `key`
    (args is one) run: _MISS for arguments of another key, or where the code may no
    longer run (the expression of Compiled.current, inlined); else the primal and the
    adjoint, on a runtime.Tape where the primal records arrays, each gradient returned
    as it is where its type shows it already has its argument's type, shape and dtype,
    else shaped like it (as_gradient); or, for grad where no Tape is needed and f_grad
    runs the primal and adjoint as one (Compiled.fused), f_grad. What it checks is
    chosen here, once."""
    params = transform.params
    if any(p in _ENTRY_NAMES or p.startswith("d_") or p.rstrip("0123456789") in
           ("arg", "dtype", "type", "key", "holder", "value") for p in params):
        params = [f"arg{i}" for i in range(len(params))]
    current = compiled.current
    names = {k: v for k, v in current.__globals__.items() if k != "current"}   # its holders
    names.update(MISS=_MISS, fn=transform.fn, numbers=_NUMBERS, ndarray=_ndarray,
                 call_key=call_key)
    fits = [_fits(p, x, k, i, names) for i, (p, x, k) in enumerate(zip(params, args, key))]
    grads = [f"d_{params[i]}" for i in transform.wrt_index]
    recordings = compiled.recordings
    value = isinstance(transform, ValueAndGrad) or compiled.grad_primal is None
    name = transform.fn.__name__ if transform.fn.__name__.isidentifier() else "function"
    name = f"{transform.transform_name}_of_{name}"
    checks = fits + [f"({current.expression})"]
    lines = [f"def {name}({', '.join(params)}):",
             "    if not (" + "\n            and ".join(checks) + "):",
             "        return MISS"]
    if compiled.fused and recordings is False and type(transform) is Grad:
        # f_grad, the primal and the adjoint as one, where no Tape keeps their arrays
        one_tuple = transform.multi and len(grads) == 1
        lines += ["    try:",
                  f"        return {'(' if one_tuple else ''}gradient({', '.join(params)})"
                  f"{',)' if one_tuple else ''}",
                  "    except Exception as error:",
                  "        locate(error)    # the user's line it came from",
                  "        raise"]
        return _entry_function(name, lines, names, gradient=compiled.gradient, locate=_locate)
    lines += [f"    stack = recordings.tape(({''.join(p + ', ' for p in params)}))"
             if recordings else "    stack = []",
             "    try:",
             f"        {'value = ' if value else ''}primal(stack, {', '.join(params)})"]
    if value:
        lines += ["        if type(value) not in numbers:",
                  "            check_scalar(value, transform(), compiled, stack)"]
    several = transform.multi and len(grads) > 1
    seeded = compiled.seeded_adjoint
    lines += [f"        {', '.join(grads) if several else grads[0]} = "
              f"adjoint(stack{'' if seeded else ', 1.0'})",
              "    except Exception as error:",
              "        locate(error)    # the user's line it came from",
              "        raise"]
    if recordings:
        lines.append("    recordings.keep(stack)")
    shaped = [_shaped(g, params[i], args[i]) for g, i in zip(grads, transform.wrt_index)]
    if transform.multi:
        result = "(\n" + "".join(f"        {s},\n" for s in shaped) + "    )"
    else:
        result = shaped[0]
    lines.append(f"    return {'value, ' if isinstance(transform, ValueAndGrad) else ''}{result}")
    return _entry_function(name, lines, names, recordings=recordings,
                           adjoint=seeded or compiled.adjoint, check_scalar=_check_scalar,
                           transform=weakref.ref(transform), compiled=compiled,
                           locate=_locate, as_gradient=as_gradient,
                           primal=compiled.primal if value else compiled.grad_primal)


def _entry_function(name, lines, names, **more):
    """The entry point `name` of these source lines, its globals names and more."""
    source = "\n".join(lines) + "\n"
    code = _ENTRY_CODE.get(source)
    if code is None:
        if len(_ENTRY_CODE) > 256:
            _ENTRY_CODE.clear()
        code = _ENTRY_CODE[source] = compile(source, "<srcad: entry point>", "exec")
    names.update(more)
    exec(code, names)
    return names[name]


_SPELLED = 8    # a list, tuple or dict of this many items at most is checked item by item


def _spelled(x, depth=0):
    """Whether the entry point checks and shapes container x part by part, written out:
    a short list, tuple or dict (its keys strings) of numbers, arrays and such."""
    t = type(x)
    if t is _ndarray or t in _SCALARS:
        return True
    if depth == 2 or not (t is list or t is tuple or t is dict) or len(x) > _SPELLED:
        return False
    if t is dict and not all(type(key) is str for key in x):
        return False
    return all(_spelled(v, depth + 1) for v in (x.values() if t is dict else x))


def _items(p, x):
    """(expression, value) of each item of container x, which expression p names."""
    return [(f"{p}[{key!r}]", x[key]) for key in (x if type(x) is dict else range(len(x)))]


def _fits(p, x, k, i, names):
    """The test that argument p is of call_key part k (x is one), naming in names
    what it compares with (i: a name of its own for each)."""
    t = type(x)
    if (t is list or t is tuple or t is dict) and _spelled(x):
        names[f"key{i}"] = tuple(x)
        length = f"tuple({p}) == key{i}" if t is dict else f"len({p}) == {len(x)}"
        return " and ".join([f"type({p}) is {t.__name__} and {length}"] + [
            _fits(item, v, None, f"{i}_{j}", names) for j, (item, v) in enumerate(_items(p, x))])
    if t is _ndarray:
        if x.dtype is _float64:
            names["float64"] = _float64
            return f"type({p}) is ndarray and {p}.shape == {x.shape!r} and {p}.dtype is float64"
        names[f"dtype{i}"] = x.dtype
        return f"type({p}) is ndarray and {p}.shape == {x.shape!r} and {p}.dtype == dtype{i}"
    if t in (float, int, bool, complex, str):
        return f"type({p}) is {t.__name__}"
    if t in _SCALARS:
        names[f"type{i}"] = t
        return f"type({p}) is type{i}"
    names[f"key{i}"] = (k,)
    return f"call_key(({p},)) == key{i}"


def _shaped(g, name, x):
    """The expression of gradient g of argument `name` (x in the key's call), returned
    shaped like its argument: as it is where its type shows it needs nothing."""
    if type(x) is float:
        return f"{g} if type({g}) is float else as_gradient({g}, {name})"
    if type(x) is _ndarray:
        return (f"{g} if type({g}) is ndarray and {g}.shape == {x.shape!r} and {g}.dtype is "
                f"{name}.dtype and {g}.flags.writeable else as_gradient({g}, {name})")
    t = type(x)
    if (t is list or t is tuple or t is dict) and _spelled(x):
        # a dict's gradient is a dict of the same keys, a list's or tuple's a list
        parts = [_shaped(f"{g}[{key!r}]", item, v) + ", " for (item, v), key in
                 zip(_items(name, x), x if t is dict else range(len(x)))]
        if t is dict:
            made = "{" + "".join(f"{key!r}: {part}" for key, part in zip(x, parts)) + "}"
            test = f"type({g}) is dict and tuple({g}) == {tuple(x)!r}"
        else:
            made = ("[" if t is list else "(") + "".join(parts) + ("]" if t is list else ")")
            test = f"type({g}) is list and len({g}) == {len(x)}"
        return f"({made} if {test} else as_gradient({g}, {name}))"
    return f"as_gradient({g}, {name})"


class Vjp(Transform):
    def __call__(self, *args, **kwargs):
        call = self.prepare(args, kwargs)
        compiled = self.compiled(call.values)
        stack = []
        with call:
            value = compiled.primal(stack, *call.args, **call.kwargs)
            _check_output(value, self, compiled, stack)
        runs = [stack]

        def pullback(cotangent):
            """The gradient of <value, cotangent> with respect to the wrt arguments."""
            with call:
                if compiled.restores:
                    recorded = runs.pop() if runs else None
                    if recorded is None:    # the last pullback undid the updates: record anew
                        recorded = []
                        compiled.primal(recorded, *call.args, **call.kwargs)
                else:
                    recorded = list(stack)
                seed = _as_tangent(cotangent, value, cast=False)   # a dataclass's: a dict
                return self.shaped(compiled.adjoint(recorded, seed), call.values)

        return value, pullback


class Jvp(Transform):
    def __call__(self, *args, **kwargs):
        count = len(self.wrt_names)
        if len(args) < count:
            raise SrcadError(f"{self.transform_name} of {self.__qualname__} takes the "
                             f"arguments, then one tangent per wrt argument ({count})")
        primal, tangents = args[:-count], args[-count:]
        for p, t in zip(self.wrt_names, tangents):
            refusal = _refusal(t, False, f"the tangent of {p}")
            if refusal is not None:
                raise SrcadError(f"{self.transform_name} of {self.__qualname__}: {refusal}",
                                 *_def_location(_function_of(self)))
        tangents = [_promoted(t) for t in tangents]
        call = self.prepare(primal, kwargs)
        for p, t in zip(self.wrt_names, tangents):
            mismatch = _tangent_mismatch(t, call.values[p], f"the tangent of {p}")
            if mismatch is not None:
                raise SrcadError(f"{self.transform_name} of {self.__qualname__}: {mismatch}")
        tangents = [_as_tangent(t, call.values[p]) for t, p in zip(tangents, self.wrt_names)]
        compiled = self.forward(call.values)
        with call:
            value, tangent = compiled.primal(*tangents, *call.args, **call.kwargs)
            _check_output(value, self)
        tangent = _tangent_like(tangent, value)
        if self.one_tuple:      # a tuple gives a tuple, as the gradient does
            return (value,), (tangent,)
        return value, tangent

    def forward(self, values):
        """The forward-mode code for a call with these (prepared) values."""
        compiled = _forward(self.target(values), self.wrt_names, kinds_of(values),
                            self.traced)
        if compiled is not self.last:
            self.show(compiled)
        return compiled

    @property
    def source(self):
        """The generated source: of the last call, or for unknown argument kinds."""
        if self.last is None:
            self.last = _forward(self.target({}), self.wrt_names, {})
        return self.last.source


class Hvp(Jvp):
    """`h(*args, v)`: the Hessian-vector product, forward mode over the gradient."""

    def __call__(self, *args, **kwargs):
        return super().__call__(*args, **kwargs)[1]


class Jacobian(Transform):
    mode = "reverse"

    def __call__(self, *args, **kwargs):
        if self.forward_mode:
            return _forward_jacobian(self, args, kwargs)
        return _reverse_jacobian(self, args, kwargs)

    @property
    def forward_mode(self):
        return self.mode == "forward" or self.inner is not None

    @property
    def source(self):
        """The generated source: of the last call, or for unknown argument kinds."""
        if self.last is None and self.forward_mode:
            self.last = _forward(self.target({}), self.wrt_names, {})
        return super().source


class Hessian(Jacobian):
    """The Hessian of a scalar function: the forward-mode Jacobian of its gradient."""
    mode = "forward"


def _tangent_like(tangent, value):
    """A jvp's output tangent in the structure of its value: generated code holds the
    tangent of a dataclass or registered container as a dict or list of its parts."""
    if containers.of(value) is None:
        return tangent
    if type(tangent) is not type(value):
        return as_gradient(tangent, value)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_tangent_like(t, v) for t, v in zip(tangent, value))
    if isinstance(value, dict):
        return {k: _tangent_like(tangent[k], v) for k, v in value.items()}
    return tangent


def _check_flat_inputs(transform, call):
    """Refuse a container as a wrt argument of a Jacobian or Hessian, whose blocks are
    laid out along an array's axes."""
    for p in transform.wrt_names:
        x = call.values[p]
        if type(x) is not _ndarray and not isinstance(x, _NUMERIC):
            raise SrcadError(f"{transform.transform_name} of {transform.__qualname__}: "
                             f"'{p}' is {_a(x)}: a Jacobian or Hessian is taken with respect "
                             "to arrays and numbers; pass the arrays as separate arguments "
                             "(wrt=(...)), or use vjp, jvp or hvp, which take structures",
                             *_def_location(_function_of(transform)))


def _reverse_jacobian(transform, args, kwargs):
    """Jacobian rows from reverse mode: one primal run, one adjoint run per output element.

    The recording is reused for every row (the adjoint pops a copy of it); only
    a function whose adjoint undoes in-place writes (and so changes what was
    recorded) runs its primal again before each further row.
    """
    call = transform.prepare(args, kwargs)
    _check_flat_inputs(transform, call)
    compiled = transform.compiled(call.values)
    stack = []
    with call:
        value = compiled.primal(stack, *call.args, **call.kwargs)
        _check_output(value, transform, compiled, stack)
    if isinstance(value, (tuple, list, dict)):
        raise SrcadError("jacobian needs an array or number output; use srcad.vjp for "
                         "tuples, lists and dicts")
    out_shape = np.shape(value)
    inputs = [call.values[p] for p in transform.wrt_names]
    size = int(np.prod(out_shape))
    rows = [np.zeros((size,) + np.shape(x), gradient_dtype(x)) for x in inputs]
    for i in range(size):
        with call:
            if not compiled.restores:
                recorded = list(stack)
            elif i == 0:
                recorded = stack
            else:
                recorded = []
                compiled.primal(recorded, *call.args, **call.kwargs)
            seed = np.zeros(out_shape)
            seed.flat[i] = 1.0
            grads = transform.shaped(compiled.adjoint(recorded, seed), call.values)
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
    call = transform.prepare(args, kwargs)
    _check_flat_inputs(transform, call)
    inputs = [call.values[p] for p in transform.wrt_names]
    jvp_ = Jvp(transform.inner or transform.fn, tuple(transform.wrt_names), False)
    compiled = jvp_.forward(call.values)
    if compiled is not transform.last:
        transform.show(compiled)
    run = compiled.primal
    if transform.one_tuple:     # the gradient is a 1-tuple: so is the output here
        plain = run

        def run(*a, **k):
            value, column = plain(*a, **k)
            return (value,), (column,)
    zeros = [np.zeros(np.shape(x), gradient_dtype(x)) if isinstance(x, np.ndarray) else 0.0
             for x in inputs]
    blocks, several = [], False      # blocks[k][i]: d output i / d input k
    for k, x in enumerate(inputs):
        tangents = list(zeros)
        size = int(np.prod(np.shape(x)))
        columns = outputs = None
        for i in range(size):
            if isinstance(x, np.ndarray):
                tangents[k] = np.zeros(np.shape(x), gradient_dtype(x))
                tangents[k].flat[i] = 1.0
            else:
                tangents[k] = 1.0
            with call:
                value, column = run(*tangents, *call.args, **call.kwargs)
            if columns is None:
                (_check_scalar if scalar else _check_output)(value, transform)
                several = isinstance(value, (tuple, list))
                outputs = list(value) if several else [value]
                columns = [np.zeros(np.shape(v) + (size,), gradient_dtype(x)) for v in outputs]
            for c, part in zip(columns, column if several else (column,)):
                c[..., i] = part
        if columns is None:     # an empty input: the output's shape from one run
            with call:
                value, _ = run(*zeros, *call.args, **call.kwargs)
            several = isinstance(value, (tuple, list))
            outputs = list(value) if several else [value]
            columns = [np.zeros(np.shape(v) + (0,), gradient_dtype(x)) for v in outputs]
        jacobians = [c.reshape(np.shape(v) + np.shape(x)) for c, v in zip(columns, outputs)]
        blocks.append([as_gradient(j, x) if scalar else j for j in jacobians])
    per_output = [tuple(b[i] for b in blocks) if transform.multi else blocks[0][i]
                  for i in range(len(blocks[0]))]
    return tuple(per_output) if several else per_output[0]


# -- results and errors: what the user's code did -----------------------------------------


def _numeric(value):
    """Whether a result has a derivative srcad can give: a number, an array of numbers,
    or a container of them (containers.py)."""
    t = type(value)
    if t is _ndarray:
        return value.dtype.kind in "biufc"
    if isinstance(value, _NUMERIC):
        return True
    container = containers.of(value)
    return container is not None and all(_numeric(v) for _, v in container.parts(value))


def _check_output(value, transform, compiled=None, stack=None):
    """Refuse a result of vjp, jvp or jacobian that has no derivative (None, a range, a
    string): the zeros it would get say the function does not depend on its inputs."""
    if not _numeric(value):
        _refuse_result(value, transform, "numbers or arrays", compiled, stack)


def _check_scalar(value, transform, compiled=None, stack=None):
    """Refuse a result grad cannot differentiate: one that is not a number."""
    if isinstance(value, _NUMERIC) or type(value) is _ndarray and value.ndim == 0 \
            and value.dtype.kind in "biufc":
        return
    _refuse_result(value, transform, "a number", compiled, stack)


def _refuse_result(value, transform, needed, compiled, stack):
    """Refuse a result, at the user's line that made it. Where the primal that made it
    wrote into the caller's arrays (compiled.restores), its adjoint runs on a zero seed
    first, undoing those writes as a differentiated call does."""
    kept = ""
    if compiled is not None and compiled.restores:
        try:
            compiled.adjoint(stack, runtime.zeros_like(value))
        except Exception:   # a rule that cannot take this seed: the refusal says why
            kept = " (the writes it made into its arguments were not undone)"
    fn = _function_of(transform)
    if needed == "a number" and _numeric(value):
        container = not isinstance(value, _ndarray)
        what = f"a {type(value).__name__}" if container \
            else f"a value of shape {np.shape(value)}"
        raise SrcadError(f"grad needs a function with a scalar output; {fn.__qualname__} "
                         f"returned {what}: use srcad.vjp for a vector-Jacobian product or "
                         f"srcad.jacobian for the full Jacobian{kept}")
    message = f"{transform.transform_name} needs {needed} from {fn.__qualname__}, which " \
              f"returned {_a(value)}{kept}"
    try:
        function = parse_function(fn)
    except SrcadError:
        raise SrcadError(message) from None
    node, how = _result_site(function, value)
    raise function.error(SrcadError, node, message + how)


def _result_site(function, value):
    """(node, phrase): where a function's result came from, as far as its source tells: a
    `return` without a value (for None), the end of a body that can end without a
    return, its only `return`, else its def."""
    returns = [n for n in _own_nodes(function.node) if isinstance(n, gast.Return)]
    if value is None:
        for r in returns:
            if r.value is None or isinstance(r.value, gast.Constant) and r.value.value is None:
                return r, ""
        if not isinstance(function.node.body[-1], (gast.Return, gast.Raise)):
            end = gast.Pass()
            end.lineno = function.node.end_lineno
            return end, ": it ends here without a return statement"
    if len(returns) == 1:
        return returns[0], ""
    return function.node, ""


def _own_nodes(node):
    """The nodes of a function's body, not those of functions defined in it."""
    for child in gast.iter_child_nodes(node):
        if not isinstance(child, (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda,
                                  gast.ClassDef)):
            yield child
            yield from _own_nodes(child)


def _locate(error):
    """Note on an error raised in generated code the user's line that code came from
    (`add_note`; on Python 3.10, where nothing prints notes, `__notes__` all the same)."""
    found, tb = None, error.__traceback__
    while tb is not None:
        found = origin(tb.tb_frame.f_code.co_filename, tb.tb_lineno) or found
        tb = tb.tb_next
    if found is None:
        return
    filename, lineno, backward = found
    if isinstance(error, SrcadError) and error.filename is None:   # a run-time refusal
        error.filename, error.lineno = filename, lineno
        error.source_line = linecache.getline(filename, lineno)
        error.args = (error._format(),)
        return
    code = "the gradient code of" if backward else "the code generated from"
    note = f"srcad: raised in {code} {filename}:{lineno}: " \
           f"{linecache.getline(filename, lineno).strip()}"
    notes = getattr(error, "__notes__", None) or []
    if note in notes:
        return
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:
        error.__notes__ = notes + [note]


class Call:
    """A call of a transform, its arguments as the generated code takes them.

    `with call:` around running generated code notes on an error raised there
    the user's line it came from; where NumPy integer arguments were made
    floats (`promoted`), a TypeError or IndexError (an integer used as one:
    an index, a bitwise operand) is refused, naming them.
    """

    def __init__(self, transform, args, kwargs, values):
        self.transform = transform
        self.args = args
        self.kwargs = kwargs
        self.values = values        # {parameter: argument}, defaults included
        self.promoted = []

    def promote(self, param, value):
        """Pass value for param."""
        self.promoted.append(param)
        self.values[param] = value
        transform = self.transform
        i = transform.params.index(param)
        if i < len(self.args):
            self.args = self.args[:i] + (value,) + self.args[i + 1:]
        elif transform.signature.parameters[param].kind is inspect.Parameter.POSITIONAL_ONLY:
            self.args = tuple(self.values[p] for p in transform.params[:i + 1])
        else:
            self.kwargs = {**self.kwargs, param: value}

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if not isinstance(error, Exception):
            return False
        _locate(error)
        if self.promoted and isinstance(error, (TypeError, IndexError)):
            names = ", ".join(f"'{p}'" for p in self.promoted)
            transform = self.transform
            raise SrcadError(
                f"{transform.transform_name} of {transform.__qualname__}: the integers of "
                f"argument {names} are differentiated as the floats they stand for, and the "
                f"function raised on those ({type(error).__name__}: {error}): where it "
                "needs integers, differentiate with respect to the other arguments",
                *_def_location(_function_of(transform))) from error
        return False


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
grad.__doc__ = """The gradient of f's scalar output with respect to the argument(s) `wrt`.

verbose=True prints the generated source whenever it is generated; verbose=2 also
prints the code after each stage of the transform (pipeline.py): parsed,
normalized, analysed, differentiated, optimized."""
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
    return Hessian(Grad(f, wrt, verbose), wrt, verbose)


def hvp(f=None, wrt=0, verbose=False):
    """`h(*args, v)`: the Hessian-vector product, without forming the Hessian."""
    if f is None:
        return lambda g: hvp(g, wrt, verbose)
    return Hvp(Grad(f, wrt, verbose), wrt, verbose)


def show(transformed):
    """Print the source srcad generated for a transformed function."""
    print(transformed.source)
