"""What generated code calls: gradient shapes, zeros and in-place bookkeeping.

Generated derivatives inline most of their work as plain NumPy; these
helpers cover what needs a decision on the value's type or shape at run
time (broadcasting, containers, index kinds). Each is short and called only
where such a decision is needed.
"""
import sys

import numpy as np

from . import containers
from .containers import field_key
from .errors import SrcadError


# -- the tape: what a primal records for its adjoint ----------------------

_REAL_NUMBERS = (float, np.float64)     # the types of most real numbers gradients hold
_BASIC = (int, slice)       # the most common basic indices
_FLOAT64 = np.dtype(np.float64)
_PAGE = 4096    # smaller arrays come from the allocator's free lists, faulting nothing


class Tape(list):
    """The stack a primal pushes onto and its adjoint pops, keeping the storage of the
    arrays it records for the next call of the same code.

    A plain list records the fresh arrays the primal made; the adjoint frees them
    as it pops, and the allocator gives that memory back to the system, so each
    call page-faults its whole recording in again. A Tape copies each array of
    a page or more it records, alone or in a statement's tuple, but for the
    call's arguments (which outlive it), into `kept[i]` (the i-th array the last
    call recorded) where that has the array's shape, dtype and strides, and
    records the copy: the
    primal's arrays then die young, their memory reused within the call, and a
    steady-state call takes no new pages.

    A copy serves as well as the array only where the adjoint reads what it pops
    and never writes it back into the caller's values: srcad uses a Tape only
    for code whose adjoint restores no in-place writes (Compiled.restores). An
    array whose copy would differ in strides or writeability is recorded as it
    is, so that the adjoint computes on the same memory layout, to the last bit.
    """

    __slots__ = ("kept", "used", "inputs")

    def __init__(self, kept, inputs=()):
        self.kept = kept    # arrays of the last call, in push order (None: none kept)
        self.used = 0
        self.inputs = inputs    # the call's arguments: their memory outlives the call

    def append(self, value):
        if type(value) is tuple:        # a statement's record: its arrays kept one by one
            list.append(self, tuple([self.kept_copy(v) if type(v) is _ndarray else v
                                     for v in value]))
        else:
            list.append(self, self.kept_copy(value) if type(value) is _ndarray else value)

    def kept_copy(self, value):
        """value copied into the array kept for it, or value itself (a small one, or
        one no copy would do for, or an argument of the call)."""
        if value.nbytes < _PAGE or _among(value, self.inputs):
            return value
        i = self.used
        self.used = i + 1
        kept = self.kept
        copy = kept[i] if i < len(kept) else None
        if copy is None or copy.shape != value.shape or copy.strides != value.strides \
                or copy.dtype != value.dtype or not value.flags.writeable:
            copy = _copy_to_keep(value)
            if i < len(kept):
                kept[i] = copy
            else:
                kept.append(copy)
            return value if copy is None else copy
        _copyto(copy, value)
        return copy


_ndarray = np.ndarray
_copyto = np.copyto


def _among(value, inputs):
    for x in inputs:
        if x is value:
            return True
    return False


def _copy_to_keep(value):
    """A copy of a recorded array with its strides, for a Tape to keep; None where
    no copy has them (a view with gaps or zero strides), or it is read-only or not a
    plain number array."""
    if value.dtype.kind not in "biufc" or not value.flags.writeable:
        return None
    copy = np.empty_like(value)
    if copy.strides != value.strides:
        return None
    _copyto(copy, value)
    return copy


def _references(kept, i):
    return sys.getrefcount(kept[i])


_ALONE = _references([np.empty(0)], 0)    # an array held only by the list


class Recordings:
    """The arrays the Tapes of one piece of generated code recorded, kept for its later
    calls: one recording per call running at once (threads, recursion)."""

    __slots__ = ("free",)

    def __init__(self):
        self.free = []

    def tape(self, inputs=()):
        """A Tape for a call of the arguments inputs: on a recording no other call is
        using, or on none."""
        try:
            kept = self.free.pop()
        except IndexError:
            kept = []
        return Tape(kept, inputs)

    def keep(self, tape):
        """After a call that ran on tape, and only then (a call that raised leaves its
        recording to the garbage collector): keep its arrays for a later call, except
        those still held elsewhere (a gradient returned, or a view of one, something
        the user's code stored), which a later call must not overwrite."""
        kept = tape.kept
        for i in range(len(kept)):
            if kept[i] is not None and _references(kept, i) > _ALONE:
                kept[i] = None
        if len(self.free) < 2:
            self.free.append(kept)


def records_arrays(stack, inputs):
    """Whether a primal's recording, of a call of the arguments inputs, holds enough
    arrays a Tape would keep for keeping them to pay: more than the allocator keeps
    for reuse on its own (glibc gives back free memory above 128 KiB)."""
    return sum(v.nbytes for record in stack
               for v in (record if type(record) is tuple else (record,))
               if type(v) is _ndarray and v.nbytes >= _PAGE
               and not _among(v, inputs)) >= _KEEP_FROM


_KEEP_FROM = 1 << 18


def log_of_base(x, power):
    """log(x), for the derivative of power = x ** y in y: complex where the power is (a
    negative number to a fraction, in Python), else 0 where x <= 0 (0 ** y, and a
    negative base to a whole y, whose neighbours have no real power)."""
    if np.iscomplexobj(power) or np.iscomplexobj(x):
        return np.log(np.where(x == 0, 1.0, x + 0j))
    return np.log(np.where(x > 0, x, 1.0))


def log_of_base_tangent(dx, x, power):
    """The tangent of log_of_base(x, power) for the tangent dx of x."""
    if np.iscomplexobj(power) or np.iscomplexobj(x):
        return np.where(x == 0, 0.0, dx / np.where(x == 0, 1.0, x))
    return np.where(x > 0, dx / np.where(x > 0, x, 1.0), 0.0)


# -- broadcasting and reductions ------------------------------------------


def unbroadcast(g, x):
    """Sum the gradient g down to the shape of x (undoing NumPy broadcasting)."""
    if type(g) is np.ndarray and type(x) is np.ndarray and g.shape == x.shape:
        return g
    if type(x) in _REAL_NUMBERS and type(g) in _REAL_NUMBERS:   # a number's, itself
        return g
    shape = np.shape(x)
    if np.shape(g) == shape:
        return g
    if isinstance(x, (list, tuple, dict)):
        raise SrcadError("cannot differentiate arithmetic on a list, tuple or dict "
                         "(concatenation or repetition) in reverse mode: use np.concatenate "
                         "or np.tile, or build the list with append")
    g = np.asarray(g)
    extra = g.ndim - len(shape)
    if extra < 0:       # a gradient with fewer dimensions (a scalar 0.0): spread it
        g = np.broadcast_to(g, np.broadcast_shapes(g.shape, shape)).copy()
        extra = 0
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    kept = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if kept:
        g = g.sum(axis=kept, keepdims=True)
    if shape and g.shape != shape:
        # smaller than x (made from the zero 0.0, as in `0.0 / a` for `y / a` with a of
        # shape (1,)): spread, so that a later add_at into it sees x's shape
        g = np.broadcast_to(g, shape).copy()
    if not shape and not isinstance(x, np.ndarray):
        return float(g) if np.isrealobj(g) else complex(g)
    return g


def fit(t, like):
    """A tangent broadcast to the shape of the value it belongs to (an array's)."""
    if not isinstance(like, np.ndarray):
        return t
    shape = like.shape
    return t if np.shape(t) == shape else np.broadcast_to(t, shape)


def repeat_to_shape(g, x, axis=None, keepdims=False):
    """Broadcast the gradient of a reduction over `axis` back to x's shape."""
    shape = np.shape(x)
    if axis is not None and not keepdims and shape:    # (axis 0 of a number reduces nothing)
        g = np.expand_dims(g, tuple(a % len(shape) for a in np.atleast_1d(axis)))
    return np.broadcast_to(g, shape)


def reduced_size(x, result):
    """How many elements of x went into each element of a reduction's result."""
    return np.size(x) // max(np.size(result), 1)


def std_grad(g, x, result, axis=None, ddof=0, keepdims=False):
    """Gradient of np.std(x, axis, ddof=ddof). A std over single elements is 0 whatever
    they hold, so its gradient is 0 (the formula would give 0 / 0)."""
    n = reduced_size(x, result)
    if n == 1 and ddof < 1:
        return np.zeros(np.shape(x), np.result_type(g, x))
    return repeat_to_shape(g / result, x, axis, keepdims) \
        * (x - np.mean(x, axis=axis, keepdims=True)) / (n - ddof)


def std_jvp(t, x, result, axis=None, ddof=0, keepdims=False):
    """Tangent of np.std(x, axis, ddof=ddof) for a tangent t of x (0 over single
    elements, as std_grad)."""
    n = reduced_size(x, result)
    if n == 1 and ddof < 1:
        return np.zeros(np.shape(result), np.result_type(np.real(t), result))
    return np.sum(np.real(t * np.conj(x - np.mean(x, axis=axis, keepdims=True))), axis=axis,
                  keepdims=keepdims) / ((n - ddof) * result)


def extremum_grad(g, x, result, axis=None, keepdims=False):
    """Gradient of max/min: shared equally among the elements that attain it."""
    hit = np.asarray(x) == repeat_to_shape(result, x, axis, keepdims)
    count = hit.sum(axis=axis, keepdims=True) if axis is not None else hit.sum()
    return repeat_to_shape(g, x, axis, keepdims) * hit / count


def clip_choice(part, a, a_min=None, a_max=None, min=None, max=None):
    """Where np.clip(a, low, high) takes its value from part ("a", "low" or "high"):
    it is np.minimum(np.maximum(a, low), high), so high where high is below a or
    below low (a low above high loses), low where it is above a, else a. A bound of
    None is none (min and max: the keyword names of NumPy 2.1)."""
    low = a_min if a_min is not None else min
    high = a_max if a_max is not None else max
    none = np.False_
    highs = none if high is None else np.less(high, a) | (
        none if low is None else np.less(high, low))
    if part == "high":
        return highs
    lows = none if low is None else np.greater(low, a) & ~highs
    if part == "low":
        return lows
    return ~(highs | lows)


def where_grad(g, condition, x):
    """Gradient reaching x through np.where: g where the condition chose x."""
    return unbroadcast(np.where(condition, g, 0.0), x)


# -- products --------------------------------------------------------------


def matmul_left(g, a, b):
    """Gradient of a @ b with respect to a."""
    a, b = np.asarray(a), np.asarray(b)
    if b.ndim == 1:
        grad = np.multiply.outer(g, b) if a.ndim > 1 else g * b
    elif a.ndim == 1:
        grad = unbroadcast(np.matmul(np.expand_dims(g, -2), np.swapaxes(b, -1, -2)), a[None])
        return grad.reshape(a.shape)
    else:
        grad = np.matmul(g, np.swapaxes(b, -1, -2))
    return unbroadcast(grad, a)


def matmul_right(g, a, b):
    """Gradient of a @ b with respect to b."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1:
        grad = np.multiply.outer(a, g) if b.ndim > 1 else g * a
        if b.ndim > 2:
            grad = np.moveaxis(grad, 0, -2)
    elif b.ndim == 1:
        grad = np.matmul(np.swapaxes(a, -1, -2), np.expand_dims(g, -1))[..., 0]
        return unbroadcast(grad, b)
    else:
        grad = np.matmul(np.swapaxes(a, -1, -2), g)
    return unbroadcast(grad, b)


def dot_left(g, a, b):
    """Gradient of np.dot(a, b) with respect to a."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return unbroadcast(g * b, a)
    if b.ndim <= 2:
        return matmul_left(g, a, b)
    # np.dot contracts a's last axis with b's second-to-last
    axes_g = list(range(a.ndim - 1, np.ndim(g)))
    b_free = [i for i in range(b.ndim) if i != b.ndim - 2]
    return np.tensordot(g, b, axes=(axes_g, b_free))


def dot_right(g, a, b):
    """Gradient of np.dot(a, b) with respect to b."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return unbroadcast(g * a, b)
    if b.ndim <= 2:
        return matmul_right(g, a, b)
    axes_a = list(range(a.ndim - 1))
    grad = np.tensordot(a, g, axes=(axes_a, axes_a))
    return np.moveaxis(grad, 0, -2)


# -- zeros and accumulation ------------------------------------------------


def zeros_like(x):
    """The zero gradient for a value: same shape and structure (of a container, a list or
    dict of its parts' zeros: containers.py), float entries."""
    t = type(x)
    if t is float or t is int:      # the common cases first, as containers.py takes them
        return 0.0
    if t is list or t is tuple:
        return [zeros_like(v) for v in x]
    if t is dict:
        return {k: zeros_like(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape, dtype=_floating(x.dtype))
    container = containers.of(x)
    if container is not None:
        parts = container.parts(x)
        if container.by_position:
            return [zeros_like(v) for _, v in parts]
        return {k: zeros_like(v) for k, v in parts}
    if isinstance(x, (complex, np.complexfloating)):
        return 0j
    if isinstance(x, range):    # sliced and indexed like the float array of its length
        return np.zeros(len(x))
    return 0.0


def accumulate(total, g):
    """total + g for gradients of any structure (arrays, numbers, lists, dicts).

    The result never shares a mutable container with g, so that the backward
    pass may update it in place.
    """
    if type(total) is np.ndarray and type(g) is np.ndarray:    # the common case first
        return total + g
    if _is_zero(total):
        return _owned(g)
    if _is_zero(g):
        return total
    if isinstance(total, (list, tuple)):
        if isinstance(g, dict):
            raise TypeError("srcad: a dict gradient reached a list or tuple")
        return [accumulate(t, v) for t, v in zip(total, g)]
    if isinstance(total, dict):
        merged = dict(total)
        for k, v in g.items():
            merged[k] = accumulate(merged[k], v) if k in merged else _owned(v)
        return merged
    if isinstance(g, (list, tuple, dict)):
        return accumulate(g, total)
    return total + g


def _owned(g):
    if isinstance(g, (list, tuple)):
        return list(g)
    if isinstance(g, dict):
        return dict(g)
    if isinstance(g, np.ndarray):
        return g.copy()
    return g


def _floating(dtype):
    """The dtype of a gradient of values of this dtype: float64 for integers and bools."""
    return dtype if dtype.char in "dD" else np.result_type(dtype, np.float64)


def _is_zero(g):
    return type(g) is float and g == 0.0


def nonzero_gradient(g):
    """Whether g is more than the zero gradient 0.0 that a variable's gradient starts as
    (rules that index or reshape a gradient are run only on such a gradient). A NumPy
    zero with no dimensions is that zero too: arithmetic with a NumPy scalar makes it
    (`s * 0.0`), where the code, knowing shapes, spreads nothing to the variable's."""
    if type(g) is float:
        return g != 0.0
    if isinstance(g, (np.ndarray, np.generic)):
        return g.ndim != 0 or bool(g != 0)
    return True


def seed_or_zeros(g, y):
    """The seed of a called function's adjoint: g, or zeros shaped like the call's result
    y where g is still the zero gradient 0.0 (the callee's rules may index their seed)."""
    return zeros_like(y) if type(g) is float and g == 0.0 else g


def seed_copy(g):
    """An owned copy of an incoming gradient, safe to update in place."""
    if type(g) is np.ndarray and g.dtype is _FLOAT64:
        return g.copy()
    if isinstance(g, np.ndarray):
        return g.astype(_floating(g.dtype), copy=True)
    if isinstance(g, (list, tuple)):
        return [seed_copy(v) for v in g]
    if isinstance(g, dict):
        return {k: seed_copy(v) for k, v in g.items()}
    return g


# -- subscripts --------------------------------------------------------------


def add_at(total, x, index, g):
    """Gradient of `y = x[index]`: add g into total at index, in place when owned.

    Repeated integer indices accumulate (scatter-add). Returns the total.
    """
    if type(x) is np.ndarray and type(index) in _BASIC and (
            type(g) in _REAL_NUMBERS or type(g) is np.ndarray and g.dtype.kind != "c"):
        # the common case first: a real gradient of part of an array, a basic index
        if type(total) is float and total == 0.0:
            total = np.zeros(x.shape, dtype=_floating(x.dtype))
            total[index] = g
            return total
        if type(total) is np.ndarray and total.dtype.kind != "c":
            total[index] += g
            return total
    if type(total) is list and type(index) is int:     # an item of a list
        total[index] = accumulate(total[index], g)
        return total
    if _is_zero(total) and not isinstance(x, (int, float)):
        total = zeros_like(x)
    elif isinstance(x, np.ndarray) and isinstance(total, np.number) and np.ndim(total) == 0:
        # a NumPy scalar gradient of an array, everywhere the same (the zero 0.0 after
        # arithmetic with a NumPy scalar, `0.0 / np.float64(2.0)`): spread it
        total = np.full(x.shape, total, dtype=np.result_type(x.dtype, total, np.float64))
    if isinstance(total, np.ndarray):
        if np.iscomplexobj(g) and not np.iscomplexobj(total):
            if np.iscomplexobj(x):
                total = total.astype(np.result_type(total, g))
            else:
                g = np.real(g)      # a real x: only the real part is its gradient
        if _is_basic(index):
            total[index] += g
        else:
            np.add.at(total, index, g)
        return total
    if isinstance(total, (list, dict)):
        total[index] = accumulate(total[index], g) if _has(total, index) else g
        return total
    if isinstance(x, range):    # integers its int arguments fix: no derivative
        return total
    if isinstance(x, tuple) and isinstance(total, float):
        total = zeros_like(x)
        total[index] = accumulate(total[index], g)
        return total
    raise TypeError(f"srcad: cannot accumulate a gradient into {type(total).__name__}")


def _has(container, index):
    return index in container if isinstance(container, dict) else True


def _is_basic(index):
    if isinstance(index, tuple):
        return all(_is_basic(i) for i in index)
    return isinstance(index, (int, np.integer, slice)) or index is None or index is Ellipsis


def take_at(total, index):
    """Gradient of the value written by `x[index] = v`: read it (part_of) and zero it in
    total."""
    g = part_of(total, index)
    if type(total) is np.ndarray:
        total[index] = 0
    elif not _is_zero(total):
        total[index] = zeros_like(g)
    return g


def part_of(total, index):
    """take_at without zeroing: an owned copy of the part of total at index, where nothing
    reads that part of total after (optimize.parts_left_as_they_are)."""
    if type(total) is np.ndarray:
        g = total[index]
        return g.copy() if type(g) is np.ndarray else g
    if _is_zero(total):
        return 0.0
    return seed_copy(total[index])


MISSING = object()  # a dict key that did not exist before a write


def saved_item(x, index):
    """The value at x[index] before a write, copied so that the write cannot change it."""
    if isinstance(x, dict) and index not in x:
        return MISSING
    old = x[index]
    return old.copy() if isinstance(old, np.ndarray) else old


def restore_item(x, index, old):
    """Undo a write `x[index] = v` with the value saved_item returned."""
    if old is MISSING:
        del x[index]
    else:
        x[index] = old


# -- containers ----------------------------------------------------------------


def item_grad(g, key):
    """The gradient of one element of a tuple, list or dict, given the container's."""
    if _is_zero(g):
        return 0.0
    if isinstance(g, dict):
        return g.get(key, 0.0)
    return g[key]


def dict_keys(mapping):
    """mapping.keys() of a dict, as a list: the method srcad reads on a value it has not
    proven a dict, refused where the value is something else."""
    return list(checked_dict(mapping, "keys"))


def dict_values(mapping):
    """mapping.values() of a dict, as a list (see dict_keys)."""
    return list(checked_dict(mapping, "values").values())


def dict_items(mapping):
    """mapping.items() of a dict, as a list of (key, value) pairs (see dict_keys)."""
    return list(checked_dict(mapping, "items").items())


def checked_dict(mapping, method):
    """mapping, where it is a dict; refused (naming the method called on it) otherwise."""
    if isinstance(mapping, dict):
        return mapping
    raise SrcadError(f"cannot differentiate .{method}() of a {type(mapping).__name__}: srcad "
                     f"differentiates .{method}() of a dict; for another object, call a "
                     "function of your own that returns a list")


def array_like(x):
    """x as a NumPy function reads it: a list or tuple as an ndarray of its values; a
    list of arrays of different shapes (np.concatenate's argument) and anything else as
    it is."""
    if type(x) is list or type(x) is tuple:
        try:
            return np.asarray(x)
        except ValueError:
            return x
    return x


def copy_value(x):
    """A copy of a result that the backward pass would otherwise restore in place."""
    if isinstance(x, np.ndarray):
        return x.copy()
    container = containers.of(x)
    if container is not None:
        return container.rebuild(x, [copy_value(v) for _, v in container.parts(x)])
    return x


class grad_of:
    """`with srcad.grad_of(x) as g:` runs its block on x's gradient in the backward pass.

    The block sees the gradient as g and may replace it (clip it, print it).
    Run as plain Python, outside srcad, the block runs once with g = None.
    """

    def __init__(self, x):
        self.x = x

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def loop_length(items):
    """len(items) for a `for` loop over a list, tuple, range or array, whose k-th item
    is items[k]; a loop over anything else (a dict's keys, a set) is refused."""
    if isinstance(items, (list, tuple, range, np.ndarray)):
        return len(items)
    if isinstance(items, dict):
        raise SrcadError("cannot differentiate a loop over a dict itself: loop over "
                         "d.keys(), d.values() or d.items()")
    raise SrcadError(f"cannot differentiate a loop over a {type(items).__name__}: loop over "
                     "a list, tuple or array")


def check_floating(x):
    """Before a differentiated value is written into x: refuse an x that holds integers
    or bools, where NumPy truncates what is written (dtypes.py)."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "biu":
        raise SrcadError(f"cannot differentiate writing a differentiated value into an "
                         f"array of {x.dtype}: NumPy truncates what is written there, so its "
                         "derivative is lost; make the array one of floats (dtype=float, or "
                         ".astype(float))")


def stop_gradient(x):
    """Return x unchanged; srcad treats the result as a constant."""
    return x


def pop_grad(total, xs):
    """Backward step of `xs.append(v)`: v's gradient, popped off the list's gradient."""
    if isinstance(total, list) and len(total) == len(xs):
        return total.pop()
    return 0.0


def sequence_grad(g, x):
    """The gradient of a list or tuple x, from the gradient of the array built from it."""
    if isinstance(x, (list, tuple)):
        # 0.0 is the zero gradient (of an array built from x that nothing read); a NumPy
        # scalar is one everywhere the same (0.0 after arithmetic with a NumPy scalar)
        if _is_zero(g):
            return 0.0
        return [g] * len(x) if np.ndim(g) == 0 else list(g)
    return g


def gradient_dtype(x):
    """The dtype of an argument's gradient: an array's own, where it is floating or
    complex (float32 in, float32 out), else float64."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
        return x.dtype
    return np.dtype(np.float64)


def as_gradient(g, x):
    """Give gradient g the type, structure and dtype of the argument x."""
    t = type(g)
    if t is type(x):    # the common cases, first: a float's, an array's of its own dtype
        if t is float:
            return g
        if t is _ndarray and g.shape == x.shape and g.flags.writeable and (
                g.dtype is x.dtype is _FLOAT64 or g.dtype is x.dtype and x.dtype.kind in "fc"):
            return g
    if type(x) is dict and type(g) is dict:
        return {k: as_gradient(g.get(k, 0.0), v) for k, v in x.items()}
    if type(x) is list and type(g) is list and len(g) == len(x):
        return [as_gradient(d, v) for d, v in zip(g, x)]
    if isinstance(x, np.ndarray):
        if np.iscomplexobj(g) and not np.iscomplexobj(x):   # dL = Re(g dx) for a real x
            g = np.real(g)
        dtype = gradient_dtype(x)
        if isinstance(g, np.ndarray) and g.shape == x.shape and g.flags.writeable:
            return g if g.dtype == dtype else g.astype(dtype)
        return np.broadcast_to(g, x.shape).astype(dtype)
    container = containers.of(x)
    if container is not None:     # a NamedTuple of gradients, a dataclass made by replace
        return container.rebuild(x, [as_gradient(item_grad(g, k), v)
                                     for k, v in container.parts(x)])
    if isinstance(x, (bool, int, float)):     # dL = Re(g dx) for a real x
        return float(np.real(g if np.ndim(g) == 0 else np.sum(g)))
    if isinstance(x, complex):
        return complex(g)
    if isinstance(x, np.generic):     # a NumPy integer's or bool's, float64 (not truncated)
        made = x.dtype.type if x.dtype.kind in "fc" else np.float64
        return made(g) if np.ndim(g) == 0 else made(np.sum(g))
    return g


# -- NumPy rules: gradients of shape functions, scans and products -------------


def untranspose(g, axes):
    """Gradient of a transpose by `axes` (any spelling np.transpose or .transpose takes)."""
    axes = np.ravel(axes).astype(int) if axes is not None else ()
    if len(axes) == 0:
        return np.transpose(g)
    return np.transpose(g, np.argsort(axes % np.ndim(g)))


def rollaxis_grad(g, axis, start):
    """Gradient of np.rollaxis(x, axis, start): the axis moved back."""
    n = np.ndim(g)
    axis, start = axis % n, start + n if start < 0 else start
    return np.moveaxis(g, start - 1 if axis < start else start, axis)


def parts(g, result):
    """The gradients of the parts of a tuple or list result, zeros where none arrived."""
    if isinstance(g, (list, tuple)):
        return g
    return [np.zeros(np.shape(r), np.result_type(r, np.float64)) for r in result]


def concatenate_grad(g, seq, axis):
    """Gradients of the pieces of a concatenation along axis (None: flattened)."""
    if np.ndim(g) == 0:
        return _pieces_like([0.0] * len(seq), seq)
    if axis is None:
        g, axis = np.ravel(g), 0
    across = np.size(g) // np.shape(g)[axis]
    bounds = np.cumsum([np.size(x) // across for x in seq])[:-1]
    return _pieces_like([np.reshape(p, np.shape(x))
                         for p, x in zip(np.split(g, bounds, axis), seq)], seq)


def _pieces_like(pieces, seq):
    """The gradients of seq's items as seq's gradient: a list for a list or tuple, an
    array for an array (whose items are its rows)."""
    if isinstance(seq, np.ndarray):
        return np.stack([np.broadcast_to(p, np.shape(seq)[1:]) for p in pieces]) \
            if len(pieces) else zeros_like(seq)
    return pieces


def unstack(g, axis, seq):
    """Gradients of the arrays np.stack put along axis."""
    if np.ndim(g) == 0:
        return _pieces_like([0.0] * len(seq), seq)
    return _pieces_like(list(np.moveaxis(g, axis, 0)), seq)


def cumprod_divisor(a):
    """a, as the gradient of np.cumprod(a) divides by it: refused where a has a zero,
    where that division would give nan for a gradient that has a value."""
    if np.all(a != 0):
        return a
    raise SrcadError("cannot differentiate np.cumprod in reverse mode at an array with a "
                     "zero (its gradient divides by the entries): use forward mode "
                     "(srcad.jvp, jacobian(mode='forward')), or a loop of products")


def cumprod_tangent_of(t, a, result, axis):
    """Tangent of result = np.cumprod(a, axis) along t: the running sums of t / a times
    result where a has no zero; where it has, by the recurrence
    c'[j] = c'[j-1] * a[j] + c[j-1] * t[j] (a division would give nan)."""
    if axis is None:
        return cumprod_tangent_of(np.ravel(np.broadcast_to(t, np.shape(a))), np.ravel(a),
                               result, 0)
    if np.all(a != 0):
        return np.cumsum(t / a, axis) * result
    t, a, c = (np.moveaxis(v, axis, 0)
               for v in (np.broadcast_to(t, np.shape(a)), np.asarray(a), result))
    out = np.zeros(a.shape, dtype=np.result_type(t, a, float))
    out[0] = t[0]
    for j in range(1, len(a)):
        out[j] = out[j - 1] * a[j] + c[j - 1] * t[j]
    return np.moveaxis(out, 0, axis)


def diff_grad(g, n, axis):
    """Gradient of np.diff(x, n, axis): the n-th difference of g, zero-padded, negated n times."""
    width = [(0, 0)] * np.ndim(g)
    width[axis] = (n, n)
    return (-1) ** n * np.diff(np.pad(g, width), n, axis)


def diagonal_grad(g, x, offset=0, axis1=0, axis2=1):
    """Gradient of np.diagonal(x, offset, axis1, axis2): g written onto that diagonal."""
    out = np.zeros(np.shape(x), np.result_type(g, np.float64))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))
    rows = np.arange(min(view.shape[-2] - max(-offset, 0), view.shape[-1] - max(offset, 0)))
    view[..., rows + max(-offset, 0), rows + max(offset, 0)] = g
    return out


def repeat_grad(g, x, repeats, axis):
    """Gradient of np.repeat(x, repeats, axis): each element's copies summed."""
    shape = np.shape(x)
    if axis is None:
        x, axis = np.ravel(x), 0
    n = np.shape(x)[axis]
    owner = np.repeat(np.arange(n), repeats)
    rest = tuple(np.delete(np.shape(g), axis))
    out = np.zeros((n,) + rest, np.result_type(g, np.float64))
    np.add.at(out, owner, np.moveaxis(g, axis, 0))
    return np.reshape(np.moveaxis(out, 0, axis), shape)


def tile_grad(g, x, reps):
    """Gradient of np.tile(x, reps): the tiles summed."""
    shape = np.shape(x)
    reps = tuple(np.atleast_1d(reps))
    ndim = max(len(shape), len(reps))
    full = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + reps
    g = np.reshape(g, [n for pair in zip(reps, full) for n in pair])
    return np.reshape(np.sum(g, axis=tuple(range(0, 2 * ndim, 2))), shape)


def unpad(g, pad_width):
    """Gradient of np.pad(x, pad_width) (constant mode): the inner block of g."""
    width = np.broadcast_to(pad_width, (np.ndim(g), 2))
    return g[tuple(slice(lo, n - hi) for (lo, hi), n in zip(width, np.shape(g)))]


def sort_grad(g, x, axis=-1):
    """Gradient of np.sort(x, axis): g put back where each sorted element came from."""
    if axis is None:
        return np.reshape(sort_grad(g, np.ravel(x), 0), np.shape(x))
    out = np.zeros(np.shape(x), np.result_type(g, np.float64))
    np.put_along_axis(out, np.argsort(x, axis=axis), g, axis)
    return out


def take_grad(g, x, indices, axis=None):
    """Gradient of np.take(x, indices, axis): g added at the indices taken (as np.take
    reads them: floats and bools cast to integers)."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        indices = indices.astype(np.intp)
    out = np.zeros(np.size(x) if axis is None else np.shape(x), np.result_type(g, np.float64))
    if axis is None:
        np.add.at(out, indices, g)
        return np.reshape(out, np.shape(x))
    moved = np.moveaxis(out, axis, 0)
    np.add.at(moved, indices, np.moveaxis(
        g, tuple(range(axis, axis + np.ndim(indices))), tuple(range(np.ndim(indices)))))
    return out


def take_along_axis_grad(g, x, indices, axis):
    """Gradient of np.take_along_axis(x, indices, axis): g added at the indices taken."""
    out = np.zeros(np.shape(x), np.result_type(g, np.float64))
    if axis is None:
        np.add.at(out.reshape(-1), indices, g)
        return out
    axis %= np.ndim(x)
    grid = np.ogrid[tuple(slice(n) for n in np.shape(indices))]
    index = tuple(indices if i == axis else grid[i] for i in range(np.ndim(x)))
    np.add.at(out, index, g)
    return out


def _tensordot_axes(a, b, axes):
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(np.ndim(a) - n, np.ndim(a))), list(range(n))
    left, right = axes
    left, right = np.atleast_1d(left).tolist(), np.atleast_1d(right).tolist()
    return [i % np.ndim(a) for i in left], [i % np.ndim(b) for i in right]


def tensordot_left(g, a, b, axes=2):
    """Gradient of np.tensordot(a, b, axes) with respect to a."""
    left, right = _tensordot_axes(a, b, axes)
    a_free = [i for i in range(np.ndim(a)) if i not in left]
    b_free = [i for i in range(np.ndim(b)) if i not in right]
    grad = np.tensordot(g, b, axes=(list(range(len(a_free), np.ndim(g))), b_free))
    order = a_free + [left[right.index(j)] for j in sorted(right)]
    return np.transpose(grad, np.argsort(order))


def tensordot_right(g, a, b, axes=2):
    """Gradient of np.tensordot(a, b, axes) with respect to b."""
    left, right = _tensordot_axes(a, b, axes)
    n_a = np.ndim(a) - len(left)
    g = np.moveaxis(g, tuple(range(n_a)), tuple(range(np.ndim(g) - n_a, np.ndim(g))))
    return tensordot_left(g, b, a, (right, left))


def inner_left(g, a, b):
    """Gradient of np.inner(a, b) with respect to a (last axes contracted)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:      # a product with a scalar
        return unbroadcast(g * b, a)
    return tensordot_left(g, a, b, ([-1], [-1]))


def inner_right(g, a, b):
    """Gradient of np.inner(a, b) with respect to b."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast(g * a, b)
    return tensordot_right(g, a, b, ([-1], [-1]))


def einsum_grad(g, subscripts, operands, k):
    """Gradient of np.einsum(subscripts, *operands) with respect to operand k."""
    operands = [x for x in operands if x is not None]
    inputs, output = _einsum_explicit(subscripts, operands)
    term = inputs[k]
    if len(set(term)) < len(term):
        raise NotImplementedError("srcad: einsum with a repeated index within one operand "
                                  "(a diagonal or trace) has no derivative rule; use "
                                  "np.diagonal or np.trace")
    others = [(s, x) for i, (s, x) in enumerate(zip(inputs, operands)) if i != k]
    seen = set(output + "".join(s for s, _ in others))
    kept = "".join(c for c in term if c in seen)     # indices summed in operand k alone
    spec = ",".join([output] + [s for s, _ in others]) + "->" + kept
    grad = np.einsum(spec, g, *[x for _, x in others])
    if kept != term:
        grad = np.expand_dims(grad, tuple(i for i, c in enumerate(term) if c not in seen))
    x = operands[k]
    grad = unbroadcast(grad, x) if np.ndim(grad) == np.ndim(x) else grad
    return np.broadcast_to(grad, np.shape(x))


def _einsum_explicit(subscripts, operands):
    """Input terms and output term of an einsum, with '...' spelled out as letters."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, output = subscripts.split("->")
    else:
        lhs, output = subscripts, None
    inputs = lhs.split(",")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in subscripts]
    width = max([np.ndim(x) - len(t.replace("...", "")) for t, x in zip(inputs, operands)
                 if "..." in t] + [0])
    letters = "".join(spare[:width])
    inputs = [t.replace("...", letters[width - (np.ndim(x) - len(t.replace("...", ""))):])
              for t, x in zip(inputs, operands)]
    if output is None:
        counts = {c: "".join(inputs).count(c) for c in "".join(inputs)}
        output = letters + "".join(sorted(c for c, n in counts.items()
                                          if n == 1 and c not in letters))
    else:
        output = output.replace("...", letters)
    return inputs, output


def kron_grad(g, a, b):
    """Gradient of np.kron(a, b) with respect to a."""
    ndim = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (ndim - np.ndim(a)) + np.shape(a)
    sb = (1,) * (ndim - np.ndim(b)) + np.shape(b)
    g = np.reshape(g, [n for pair in zip(sa, sb) for n in pair])
    bb = np.reshape(b, [n for pair in zip((1,) * ndim, sb) for n in pair])
    return np.reshape(np.sum(g * bb, axis=tuple(range(1, 2 * ndim, 2))), np.shape(a))


def kron_grad_right(g, a, b):
    """Gradient of np.kron(a, b) with respect to b."""
    ndim = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (ndim - np.ndim(a)) + np.shape(a)
    sb = (1,) * (ndim - np.ndim(b)) + np.shape(b)
    g = np.reshape(g, [n for pair in zip(sa, sb) for n in pair])
    aa = np.reshape(a, [n for pair in zip(sa, (1,) * ndim) for n in pair])
    return np.reshape(np.sum(g * aa, axis=tuple(range(0, 2 * ndim, 2))), np.shape(b))


def average_weights(x, weights, axis):
    """np.average's weights, shaped to broadcast against x."""
    if axis is None or np.ndim(weights) == np.ndim(x):
        return np.broadcast_to(weights, np.shape(x))
    shape = [1] * np.ndim(x)
    shape[np.atleast_1d(axis)[0] % np.ndim(x)] = np.size(weights)
    return np.reshape(weights, shape)


def drawn(result, shift, spread, parameter):
    """The draw of a random sample `shift + spread * z` (np.random.uniform: low, high - low;
    np.random.normal: loc, scale): z, which its parameters' derivatives read. Where the
    spread is 0 the sample does not show its draw, and the derivative is refused."""
    spread = np.asarray(spread)
    if not np.all(spread):
        raise SrcadError(f"cannot differentiate a random sample whose {parameter} is 0 "
                         "there: its derivative depends on the draw, which the sample does "
                         "not show")
    return (result - shift) / spread


def real_sign(x):
    """np.sign of a real x; of a bool's too, which NumPy has no sign of (`abs(v)` of a
    value drawn from a list that also holds numbers)."""
    try:
        return np.sign(x)
    except TypeError:
        return np.asarray(x, dtype=np.float64)


def real_like(g, x):
    """g for a complex x; its real part for a real x (a real input of a complex function)."""
    if np.iscomplexobj(x) or not np.iscomplexobj(g):
        return g
    return np.real(g)


# -- FFT rules: the adjoints of np.fft's padding and of the real transforms ---------------

_ADJOINT_NORM = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _fft_lengths(x, s, axes, inverse_real=False):
    """The lengths and axes an n-d transform of x uses, read as np.fft reads them."""
    ndim = np.ndim(x)
    if axes is None:
        axes = range(ndim) if s is None else range(-len(s), 0)
    axes = [int(a) % ndim for a in np.atleast_1d(axes)]
    if len(set(axes)) < len(axes):
        raise NotImplementedError("srcad: an FFT over a repeated axis has no derivative rule "
                                  "when it crops or pads (s given) or is a real transform")
    shape = np.shape(x)
    if s is None:
        s = [shape[a] for a in axes]
        if inverse_real:
            s[-1] = 2 * (s[-1] - 1)
    s = [shape[a] if n == -1 else int(n) for n, a in zip(s, axes)]
    return s, axes


def _resize(g, shape):
    """g cropped or zero-padded at the end of each axis to shape."""
    if np.shape(g) == tuple(shape):
        return g
    out = np.zeros(shape, np.result_type(g, np.float64))
    keep = tuple(slice(0, min(m, n)) for m, n in zip(np.shape(g), shape))
    out[keep] = g[keep]
    return out


def fft_axes(s, axes):
    """The axes an n-d transform with lengths s runs over, as ints (with axes=None, the
    last len(s); None where both are None). Its result has no derivative: axes that are
    not integers are refused, not passed on."""
    if axes is not None:
        axes = np.atleast_1d(axes)
        if axes.dtype.kind not in "iu":
            raise SrcadError(f"FFT axes must be integers, not {axes.dtype} values")
        return tuple(int(a) for a in axes)
    return None if s is None else tuple(range(-len(s), 0))


def fft_unpad(g, x, s, axes):
    """The gradient of x for an FFT whose `n` or `s` padded or cropped x before the
    transform: g (the transform's adjoint applied) cropped or zero-padded back to x."""
    if s is not None:
        _fft_lengths(x, np.atleast_1d(s), axes)       # refuses repeated axes
    return _resize(g, np.shape(x))


def rfft_grad(g, x, s, axes, norm):
    """Gradient of np.fft.rfftn(x, s, axes, norm) (rfft and rfft2 too), x real.

    The transform keeps the first n//2 + 1 bins of the complex FFT along the last
    axis, so its adjoint pads g there with zeros to n, applies the (symmetric)
    FFT and keeps the real part.
    """
    s, axes = _fft_lengths(x, s, axes)
    return _resize(np.real(np.fft.fftn(g, s, axes, norm)), np.shape(x))


def irfft_grad(g, y, s, axes, norm):
    """Gradient of np.fft.irfftn(y, s, axes, norm) (irfft and irfft2 too).

    Along the last axis the result is c * sum_k w_k Re(y_k e^{2 pi i k t / n}), with
    w_k = 1 for the zero-frequency bin (and the Nyquist bin when n is even) and 2
    otherwise, so the gradient of bin k is w_k c sum_t g_t e^{2 pi i k t / n}: the
    conjugate of an rfft of g whose scale is c. The other axes are inverse FFTs,
    symmetric; y is cropped or padded as the transform does.
    """
    s, axes = _fft_lengths(y, s, axes, inverse_real=True)
    n, last = s[-1], axes[-1]
    h = np.conj(np.fft.rfft(g, n, last, _ADJOINT_NORM[norm]))
    weights = np.full(n // 2 + 1, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    h = h * np.reshape(weights, [-1 if i == last else 1 for i in range(np.ndim(h))])
    if len(axes) > 1:
        h = np.fft.ifftn(h, None, axes[:-1], norm)
    h = _resize(h, np.shape(y))
    return h if np.iscomplexobj(y) else np.real(h)


# -- numpy.linalg: decompositions, norms and powers ------------------------------
# Real matrices, stacked over leading axes where NumPy stacks them. Where a
# derivative does not exist (repeated eigenvalues or singular values reaching
# an eigenvector's or singular vector's gradient, complex eigenvectors) the
# reverse helpers raise instead of returning a wrong number, and the forward
# helpers return NaN for that part of the tangent.


def _mT(x):
    return np.swapaxes(x, -1, -2)


def _refuse(message):
    from .errors import SrcadError
    raise SrcadError("srcad: " + message)


def _inverse_gaps(w, degenerate=0.0):
    """F[..., i, j] = 1 / (w_j - w_i) for i != j, 0 on the diagonal, `degenerate`
    where two different positions hold equal values."""
    e = w[..., None, :] - w[..., :, None]
    same = e == 0
    f = 1.0 / np.where(same, 1.0, e)
    off = ~np.eye(np.shape(w)[-1], dtype=bool)
    return np.where(same, np.where(off, degenerate, 0.0), f), np.any(same & off)


def symmetric_input_grad(p, uplo="L"):
    """The gradient of a function that reads one triangle of a symmetric matrix,
    given the gradient p it has for symmetric perturbations (eigh, cholesky)."""
    full = p + _mT(p)
    half = np.tril(full) if uplo.upper() == "L" else np.triu(full)
    return half - p * np.eye(np.shape(p)[-1])


def symmetric_input_tangent(t, uplo="L"):
    """The symmetric perturbation that a tangent t of the read triangle makes."""
    part = np.tril(t) if uplo.upper() == "L" else np.triu(t)
    return part + _mT(part) - t * np.eye(np.shape(t)[-1])


def eigh_grad(g, result, uplo="L"):
    """Gradient of np.linalg.eigh(a, uplo) from the gradients of (w, v)."""
    gw, gv = parts(g, result)
    w, v = result
    inner = np.eye(np.shape(w)[-1]) * np.asarray(gw)[..., None, :]
    if np.any(gv != 0):    # (the eigenvalues' own gradient needs no 1 / (w_j - w_i))
        f, degenerate = _inverse_gaps(w)
        if degenerate:
            _refuse("eigenvectors of np.linalg.eigh at a repeated eigenvalue have no derivative")
        inner = inner + (_mT(v) @ gv) * f
    return symmetric_input_grad(v @ inner @ _mT(v), uplo)


def eigh_jvp(t, result, uplo="L"):
    """Tangents of (w, v) = np.linalg.eigh(a, uplo) for a tangent t of a."""
    w, v = result
    k = _mT(v) @ symmetric_input_tangent(t, uplo) @ v
    f, _ = _inverse_gaps(w, np.nan)
    return np.diagonal(k, 0, -2, -1), v @ (f * k)


def _svd_parts(g, result, a, full_matrices):
    gu, gs, gvh = parts(g, result)
    u, s, vh = result
    k = np.shape(s)[-1]
    if full_matrices and np.shape(u)[-1] != np.shape(vh)[-2]:
        if np.any(gu[..., k:] != 0) or np.any(gvh[..., k:, :] != 0):
            _refuse("np.linalg.svd(full_matrices=True): the extra singular vectors of a "
                    "non-square matrix are not unique and have no derivative; use "
                    "full_matrices=False")
        u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
    return u, s, vh, gu, np.asarray(gs), gvh


def svd_grad(g, result, a, full_matrices=True, compute_uv=True):
    """Gradient of np.linalg.svd(a, full_matrices, compute_uv) (distinct singular values
    where the singular vectors' gradients are not zero)."""
    if not compute_uv:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        return (u * np.asarray(g)[..., None, :]) @ vh
    u, s, vh, gu, gs, gvh = _svd_parts(g, result, a, full_matrices)
    out = (u * gs[..., None, :]) @ vh
    if np.any(gu != 0) or np.any(gvh != 0):
        f, degenerate = _inverse_gaps(s * s)
        m, n = np.shape(a)[-2:]
        if degenerate or (m != n and np.any(s == 0)):
            _refuse("singular vectors of np.linalg.svd at a repeated (or, for a non-square "
                    "matrix, zero) singular value have no derivative")
        x = f * (_mT(u) @ gu)
        y = f * (vh @ _mT(gvh))
        core = (x + _mT(x)) * s[..., None, :] + s[..., :, None] * (y + _mT(y))
        out = out + u @ core @ vh
        if m > np.shape(s)[-1]:
            out = out + (gu - u @ (_mT(u) @ gu)) / s[..., None, :] @ vh
        if n > np.shape(s)[-1]:
            out = out + u @ ((gvh - (gvh @ _mT(vh)) @ vh) / s[..., :, None])
    return out


def svd_jvp(t, result, a, full_matrices=True, compute_uv=True):
    """Tangents of np.linalg.svd(a, full_matrices, compute_uv) for a tangent t of a."""
    if not compute_uv:
        u, _, vh = np.linalg.svd(a, full_matrices=False)
        return np.diagonal(_mT(u) @ t @ _mT(vh), 0, -2, -1)
    u, s, vh = result
    k = np.shape(s)[-1]
    m, n = np.shape(a)[-2:]
    uk, vk = u[..., :k], _mT(vh[..., :k, :])
    dp = _mT(uk) @ t @ vk
    ds = np.diagonal(dp, 0, -2, -1)
    f, _ = _inverse_gaps(s * s, np.nan)
    du = uk @ (f * (dp * s[..., None, :] + s[..., :, None] * _mT(dp)))
    dv = vk @ (f * (s[..., :, None] * dp + _mT(dp) * s[..., None, :]))
    if m > k:
        du = du + (t @ vk - uk @ dp) / s[..., None, :]
    if n > k:
        dv = dv + (_mT(t) @ uk - vk @ _mT(dp)) / s[..., None, :]
    if full_matrices and m != n:    # the extra vectors are not unique: no tangent
        if m > k:
            du = np.concatenate([du, np.full(np.shape(u[..., k:]), np.nan)], -1)
        if n > k:
            dv = np.concatenate([dv, np.full(np.shape(_mT(vh[..., k:, :])), np.nan)], -1)
    return du, ds, _mT(dv)


def _qr_grad_tall(gq, gr, q, r):
    m = r @ _mT(gr) - _mT(gq) @ q
    b = gq + q @ (np.tril(m) + _mT(np.tril(m, -1)))
    return _mT(np.linalg.solve(r, _mT(b)))


def qr_grad(g, result, a):
    """Gradient of np.linalg.qr(a) (mode 'reduced'; a of full rank)."""
    gq, gr = parts(g, result)
    q, r = result
    m, n = np.shape(a)[-2:]
    if m >= n:
        return _qr_grad_tall(gq, gr, q, r)
    y, gu, gv = np.asarray(a)[..., m:], gr[..., :m], gr[..., m:]
    gx = _qr_grad_tall(gq + y @ _mT(gv), gu, q, r[..., :m])
    return np.concatenate([gx, q @ gv], -1)


def _qr_jvp_tall(t, q, r):
    c = _mT(np.linalg.solve(_mT(r), _mT(_mT(q) @ t)))
    low = np.tril(c, -1)
    upper = c - low + _mT(low)          # R' R^-1 = C - Omega, Omega = low - low^T
    return _mT(np.linalg.solve(_mT(r), _mT(t))) - q @ upper, upper @ r


def qr_jvp(t, result, a):
    """Tangents of (q, r) = np.linalg.qr(a) for a tangent t of a."""
    q, r = result
    m, n = np.shape(a)[-2:]
    if m >= n:
        return _qr_jvp_tall(t, q, r)
    dq, du = _qr_jvp_tall(t[..., :m], q, r[..., :m])
    dv = _mT(dq) @ np.asarray(a)[..., m:] + _mT(q) @ t[..., m:]
    return dq, np.concatenate([du, dv], -1)


def _eig_ordered(a, w):
    """Eigenvectors of a in the order of eigenvalues w (as np.linalg.eigvals gave them):
    each eigenvalue takes the nearest of np.linalg.eig's not yet taken, so that a
    repeated eigenvalue gets as many eigenvectors as it appears."""
    w2, v = np.linalg.eig(a)
    if np.array_equal(w, w2):       # the same order: the common case
        return v
    order = np.empty(np.shape(w), dtype=int)
    for batch in np.ndindex(np.shape(w)[:-1]):
        free = list(range(np.shape(w)[-1]))
        for i, value in enumerate(w[batch]):
            j = min(free, key=lambda k: abs(value - w2[batch][k]))
            order[batch + (i,)] = j
            free.remove(j)
    return np.take_along_axis(v, order[..., None, :], -1)


_DEPENDENT = 1e8    # the condition number above which eigenvectors count as dependent


def _eigenvector_solve(v, b):
    """v^-1 b, where v holds the eigenvectors of a matrix; a refusal where they are
    dependent, to rounding (a defective matrix, whose eigenvalues have no derivative,
    or one near it, where their derivative is lost to rounding)."""
    with np.errstate(all="ignore"):
        dependent = not np.all(np.linalg.cond(v) < _DEPENDENT)
    if dependent:
        _refuse("the eigenvalues of np.linalg.eig or eigvals of a matrix whose "
                "eigenvectors are dependent (a defective matrix, or one within rounding "
                "of it) have no derivative srcad can compute")
    return np.linalg.solve(v, b)


def _complex_valued(v):
    """Whether v holds complex values (NumPy 2.5's eig types real ones complex too)."""
    return np.iscomplexobj(v) and bool(np.any(np.imag(v) != 0))


def eig_grad(g, result, a):
    """Gradient of np.linalg.eig(a) or, with result the eigenvalues alone, of
    np.linalg.eigvals(a). Complex eigenvalues are allowed; complex eigenvectors are not."""
    if isinstance(result, tuple):
        gw, gv = parts(g, result)
        w, v = result
    else:
        gw, w = g, result
        v, gv = _eig_ordered(a, w), 0.0
    f, degenerate = _inverse_gaps(w)
    gw = np.asarray(gw)
    if degenerate and np.any((w[..., None, :] == w[..., :, None])
                             & (gw[..., None, :] != gw[..., :, None])):
        _refuse("eigenvalues of np.linalg.eig or eigvals that are repeated, weighted "
                "differently, have no derivative (only symmetric functions of them do)")
    inner = np.eye(np.shape(w)[-1]) * gw[..., None, :]
    if np.any(gv != 0):
        if _complex_valued(v):
            _refuse("complex eigenvectors of np.linalg.eig have no derivative srcad supports "
                    "(their phase is a normalization choice); use their eigenvalues")
        if degenerate:
            _refuse("eigenvectors of np.linalg.eig at a repeated eigenvalue have no derivative")
        gv = gv - v * np.sum(v * gv, axis=-2, keepdims=True)
        inner = inner + f * (_mT(v) @ gv)
    out = _eigenvector_solve(_mT(v), inner @ _mT(v))
    return np.real(out) if not np.iscomplexobj(a) else out


def eig_jvp(t, result, a):
    """Tangents of np.linalg.eig(a) (or of np.linalg.eigvals(a)) for a tangent t of a."""
    w, v = result if isinstance(result, tuple) else (result, _eig_ordered(a, result))
    c = _eigenvector_solve(v, t @ v)
    dw = np.diagonal(c, 0, -2, -1)
    if not isinstance(result, tuple):
        return dw
    if _complex_valued(v):
        return dw, np.full(np.shape(v), np.nan)
    f, _ = _inverse_gaps(w, np.nan)
    dv = v @ (f * c)
    return dw, dv - v * np.sum(v * dv, axis=-2, keepdims=True)


def _norm_axes(x, ord, axis):
    """(axes, is_matrix) of np.linalg.norm(x, ord, axis); axes None means all, flattened."""
    ndim = np.ndim(x)
    if axis is None:
        if ord is None:
            return None, False
        return ((0,), False) if ndim == 1 else ((0, 1), True)
    axes = tuple(int(i) % ndim for i in np.atleast_1d(axis))
    return axes, len(axes) == 2


def _shared(hit, axis):
    """Indicator of the elements that attain an extremum, shared equally among ties."""
    return hit / np.sum(hit, axis=axis, keepdims=True)


def norm_grad(g, x, result, ord=None, axis=None, keepdims=False):
    """Gradient of np.linalg.norm(x, ord, axis, keepdims)."""
    x = np.asarray(x, dtype=np.result_type(x, np.float64))
    axes, matrix = _norm_axes(x, ord, axis)
    if axes is None:
        return np.broadcast_to(np.asarray(g) / result, np.shape(x)) * x
    if not keepdims:
        g, result = np.expand_dims(g, axes), np.expand_dims(result, axes)
    if not matrix:
        if ord is None or ord == 2:
            return g * x / result
        if ord == 0:
            return np.zeros(np.shape(x))
        if ord == 1:
            return g * np.sign(x)
        if ord in (np.inf, -np.inf):
            return g * np.sign(x) * _shared(np.abs(x) == result, axes)
        return g * np.sign(x) * (np.abs(x) / result) ** (ord - 1)
    if ord in (None, "fro"):
        return g * x / result
    moved = np.moveaxis(x, axes, (-2, -1))
    g = np.moveaxis(g, axes, (-2, -1))
    if ord in (1, -1, np.inf, -np.inf):
        summed = -2 if ord in (1, -1) else -1       # 1: column sums, inf: row sums
        sums = np.sum(np.abs(moved), axis=summed, keepdims=True)
        pick = np.max(sums, axis=(-2, -1), keepdims=True) if ord > 0 \
            else np.min(sums, axis=(-2, -1), keepdims=True)
        out = g * np.sign(moved) * _shared(sums == pick, (-2, -1))
    elif ord in ("nuc", 2, -2):
        u, s, vh = np.linalg.svd(moved, full_matrices=False)
        if ord == "nuc":
            out = g * (u @ vh)
        else:
            i = 0 if ord == 2 else -1
            if np.shape(s)[-1] > 1 and np.any(s[..., i] == s[..., 1 if i == 0 else -2]):
                _refuse("the 2-norm of a matrix with a repeated extreme singular value has "
                        "no derivative")
            out = g * (u[..., :, i:][..., :1] * vh[..., i:, :][..., :1, :])
    else:
        _refuse(f"np.linalg.norm of a matrix with ord={ord!r} has no derivative rule")
    return np.moveaxis(out, (-2, -1), axes)


def norm_jvp(t, x, result, ord=None, axis=None, keepdims=False):
    """Tangent of np.linalg.norm(x, ord, axis, keepdims) for a tangent t of x."""
    axes, _ = _norm_axes(x, ord, axis)
    ones = np.ones(np.shape(result))
    return np.sum(np.asarray(t) * norm_grad(ones, x, result, ord, axis, keepdims), axis=axes,
                  keepdims=keepdims)


def _matrix_powers(a, n):
    """(base, k, [base**0, ..., base**(k-1)]) for matrix_power(a, n) = base**k."""
    base = np.linalg.inv(a) if n < 0 else np.asarray(a)
    k = abs(int(n))
    powers = [np.broadcast_to(np.eye(np.shape(a)[-1]), np.shape(a))]
    for _ in range(k - 1):
        powers.append(powers[-1] @ base)
    return base, k, powers


def matrix_power_grad(g, a, n):
    """Gradient of np.linalg.matrix_power(a, n)."""
    base, k, powers = _matrix_powers(a, n)
    out = np.zeros(np.shape(a), np.result_type(g, base, np.float64))
    for i in range(k):
        out = out + _mT(powers[i]) @ g @ _mT(powers[k - 1 - i])
    return -_mT(base) @ out @ _mT(base) if n < 0 else out


def matrix_power_jvp(t, a, n):
    """Tangent of np.linalg.matrix_power(a, n) for a tangent t of a."""
    base, k, powers = _matrix_powers(a, n)
    t = -base @ t @ base if n < 0 else t
    out = np.zeros(np.shape(a), np.result_type(t, base, np.float64))
    for i in range(k):
        out = out + powers[i] @ t @ powers[k - 1 - i]
    return out


def pinv_grad(g, a, p):
    """Gradient of p = np.linalg.pinv(a) (rank that does not change near a)."""
    m, n = np.shape(a)[-2:]
    return -_mT(p) @ g @ _mT(p) \
        + (np.eye(m) - a @ p) @ _mT(g) @ p @ _mT(p) \
        + _mT(p) @ p @ _mT(g) @ (np.eye(n) - p @ a)


def pinv_jvp(t, a, p):
    """Tangent of p = np.linalg.pinv(a) for a tangent t of a."""
    m, n = np.shape(a)[-2:]
    return -p @ t @ p + p @ _mT(p) @ _mT(t) @ (np.eye(m) - a @ p) \
        + (np.eye(n) - p @ a) @ _mT(t) @ _mT(p) @ p


def lstsq_grad(g, result, a, b):
    """Gradients (of a, of b) of np.linalg.lstsq(a, b): of the solution, the residuals
    and the singular values (a of full rank)."""
    gx, gres, _, gs = parts(g, result)
    x, res, _, s = result
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    vector = np.ndim(b) == 1
    col = (lambda v: v[:, None]) if vector else (lambda v: v)
    p = np.linalg.pinv(a)
    gx, xx, bb = col(np.asarray(gx, dtype=np.float64) + np.zeros(np.shape(x))), col(x), col(b)
    ga = pinv_grad(gx @ _mT(bb), a, p)
    gb = _mT(p) @ gx
    if np.size(res):
        e = bb - a @ xx
        gres = np.asarray(gres)
        ga = ga - 2.0 * (e * gres) @ _mT(xx)
        gb = gb + 2.0 * e * gres
    if np.any(gs != 0):
        ga = ga + svd_grad(gs, s, a, compute_uv=False)
    return ga, (gb[:, 0] if vector else gb)


def lstsq_jvp(ta, tb, result, a, b):
    """Tangents of np.linalg.lstsq(a, b)'s (x, residuals, rank, s)."""
    x, res, rank, s = result
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ta = np.zeros(np.shape(a)) if np.ndim(ta) == 0 else ta
    tb = np.zeros(np.shape(b)) if np.ndim(tb) == 0 else tb
    vector = np.ndim(b) == 1
    col = (lambda v: v[:, None]) if vector else (lambda v: v)
    p = np.linalg.pinv(a)
    dx = pinv_jvp(ta, a, p) @ col(b) + p @ col(tb)
    dres = np.zeros(np.shape(res))
    if np.size(res):
        e = col(b) - a @ col(x)
        dres = 2.0 * np.sum(e * (col(tb) - ta @ col(x)), axis=0)
    ds = svd_jvp(ta, s, a, compute_uv=False)
    return (dx[:, 0] if vector else dx), dres, 0.0, ds
