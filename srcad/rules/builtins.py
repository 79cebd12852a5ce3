"""Rules for Python's built-in functions.

The builtins that take a sequence (`sorted`, `max`, `min`, `sum`, `reversed`,
`zip`, `enumerate`, `list`, `tuple`) treat the gradient of a list as any list's
is treated: one gradient per item, 0.0 for an item that got none. Each routes
the gradient of an item of its result back to the item of its argument that
it came from: `sorted` through the permutation it applied, `max` and `min` to
the one item they returned, `sum` to every item.

Their rules read the argument again after the builtin has iterated over it,
so it must be a list, tuple, array or dict (whose items are its keys, which
have no derivative); an iterator (a `map`, `zip` or `reversed` object, a
generator) has nothing left to read, and is refused where its items are
needed. `sorted` and `max`/`min` find where each item of their result came
from without calling `key` again: by identity in a list or tuple (the result
holds the argument's own objects), by repeating the same comparisons where
there is no `key`.
"""
import builtins
import operator

import numpy as np

from .. import runtime
from ..errors import SrcadError
from ..runtime import unbroadcast
from . import numpy as numpy_rules, operators as operator_rules  # noqa: F401 - abs, pow share theirs
from .templates import ADJOINTS, TANGENTS, adjoint, d, nondifferentiable, tangent


# -- run-time helpers the rules call ----------------------------------------------------

def _refuse(message):
    raise SrcadError("srcad: " + message)


def _items(x, caller):
    """x's items, read again after `caller` iterated over x: those of a list, tuple or
    array, a dict's keys; an iterator or a set is refused."""
    if isinstance(x, (list, tuple, np.ndarray)):
        return x
    if isinstance(x, dict):
        return list(x)
    _refuse(f"{caller} of a {type(x).__name__} has no derivative here, since its items "
            f"cannot be read again; pass a list: {caller[:-1]}list(...))")


def _at(g, k):
    """The gradient of the k-th item, from a sequence's gradient g (0.0 where none)."""
    if runtime._is_zero(g) or k >= len(g):
        return 0.0
    return g[k]


def _gradient_of(x, grads):
    """The gradient of x, given the gradient of each of its items (grads[i] for x's i-th
    item, 0.0 where none, missing past the end): an array for an array, a list for a list
    or tuple, 0.0 for a dict (keys have no derivative), the list itself for an iterator."""
    if isinstance(x, dict):
        return 0.0
    if isinstance(x, np.ndarray):
        total = runtime.zeros_like(x)
        for i, g in enumerate(grads):
            if not runtime._is_zero(g):
                total = runtime.add_at(total, x, i, g)
        return total
    if isinstance(x, (list, tuple)):
        return [_at(grads, i) for i in range(len(x))]
    if isinstance(x, (set, frozenset)):
        _refuse("a set has no order in which its items' gradients can be given back: "
                "use a list")
    return list(grads)


def _tangents(t, x):
    """The tangents of x's items, from the tangent t of x: t itself; zeros for a dict's
    keys, or where t is the zero tangent 0.0."""
    if isinstance(x, dict):
        return [0.0] * len(x)
    if not runtime._is_zero(t):
        return t
    if isinstance(x, (list, tuple, np.ndarray)):
        return runtime.zeros_like(x)
    if not hasattr(x, "__len__"):
        _refuse(f"the items of a {type(x).__name__} (an iterator) cannot be read again: "
                "pass a list, list(...)")
    return [0.0] * len(x)


def items_grad(g, x):
    """Gradient of x, from the gradient g of list(x) or tuple(x)."""
    if runtime._is_zero(g):
        return 0.0
    return _gradient_of(x, g)


def items_tangent(t, x):
    """Tangent of list(x), from the tangent t of x."""
    if isinstance(x, (set, frozenset)):
        _refuse("a set has no order in which its items' tangents can be given: use a list")
    return list(_tangents(t, x))


def _positions(items, chosen):
    """The position in items of each object of chosen, which holds items' own objects (as
    sorted, max and min return them); repeated objects are taken in order."""
    where = {}
    for i, v in enumerate(items):
        where.setdefault(id(v), []).append(i)
    if not all(where.get(id(v)) for v in chosen):
        _refuse("the result of sorted, max or min with key= no longer holds its argument's "
                "items (they were copied or replaced): leave them unchanged")
    return [where[id(v)].pop(0) for v in chosen]


def sort_order(x, result, key=None, reverse=False):
    """Where sorted(x, key=key, reverse=reverse) took each item of its result from:
    result[k] is the item order[k] of x."""
    items = _items(x, "sorted()")
    if key is None:     # the same comparisons, in the same order, as sorted made
        return sorted(range(len(items)), key=items.__getitem__, reverse=reverse)
    if isinstance(items, np.ndarray):
        _refuse("sorted(key=...) of an array has no derivative here: sort a list, "
                "sorted(list(x), key=...)")
    return _positions(items, result)


def sorted_grad(g, x, result, key=None, reverse=False):
    """Gradient of x from the gradient g of sorted(x): each item's back where it came from."""
    if runtime._is_zero(g):
        return 0.0
    order = sort_order(x, result, key, reverse)
    grads = [0.0] * len(order)
    for k, i in enumerate(order):
        grads[i] = _at(g, k)
    return _gradient_of(x, grads)


def sorted_tangent(t, x, result, key=None, reverse=False):
    """Tangent of sorted(x), from the tangent t of x."""
    t = _tangents(t, x)
    return [t[i] for i in sort_order(x, result, key, reverse)]


def choice(x, result, key, pick):
    """Which item of x max or min (pick) returned: its position; None where x was empty
    and the result is max's or min's default."""
    items = _items(x, f"{pick.__name__}()")
    if len(items) == 0:
        return None
    if key is None:     # the same comparisons, in the same order, as max or min made
        return pick(range(len(items)), key=items.__getitem__)
    if isinstance(items, np.ndarray):
        _refuse(f"{pick.__name__}(key=...) of an array has no derivative here: pass a "
                f"list, {pick.__name__}(list(x), key=...)")
    return _positions(items, [result])[0]


def chosen_grad(g, x, chosen):
    """Gradient of x from the gradient g of its item at position chosen."""
    if chosen is None or isinstance(x, dict) or runtime._is_zero(g):
        return 0.0
    grads = [0.0] * len(x)
    grads[chosen] = g
    return _gradient_of(x, grads)


def chosen_tangent(t, x, chosen, default):
    """Tangent of x's item at position chosen (of the default where chosen is None)."""
    if chosen is None:
        return default
    return 0.0 if runtime._is_zero(t) else _tangents(t, x)[chosen]


def sum_grad(g, x):
    """Gradient of x from the gradient g of sum(x): g, summed to each item's shape."""
    items = _items(x, "sum()")
    if isinstance(x, dict):
        return 0.0
    if isinstance(items, np.ndarray):
        row = unbroadcast(g, items[0]) if len(items) else 0.0
        return np.broadcast_to(row, items.shape)
    return [unbroadcast(g, v) for v in items]


def sum_tangent(t, x):
    """Tangent of sum(x) without its start, from the tangent t of x."""
    return sum(_tangents(t, x), 0.0)


def reversed_grad(g, x):
    """Gradient of x from the gradient g of reversed(x)."""
    if runtime._is_zero(g):
        return 0.0
    n = len(x)
    return _gradient_of(x, [_at(g, n - 1 - i) for i in range(n)])


def reversed_tangent(t, x):
    """Tangent of reversed(x), as a list."""
    return list(reversed(_tangents(t, x)))


def enumerate_grad(g, x):
    """Gradient of x from the gradient g of enumerate(x): the second of each pair's."""
    if runtime._is_zero(g):
        return 0.0
    return _gradient_of(x, [_at(pair, 1) for pair in g])


def enumerate_tangent(t, x):
    """Tangent of enumerate(x), as a list of pairs (the counts have none)."""
    return [(0.0, tk) for tk in _tangents(t, x)]


def zip_grad(g, x, k):
    """Gradient of x, the k-th argument of zip, from the gradient g of its result."""
    if runtime._is_zero(g):
        return 0.0
    return _gradient_of(x, [_at(group, k) for group in g])


def zip_tangent(tangents, xs):
    """Tangent of zip(*xs), as a list of tuples, from the tangent of each argument."""
    return list(zip(*[_tangents(t, x) for t, x in zip(tangents, xs)]))


def dict_values_grad(g, mapping):
    """Gradient of a dict from the gradient g of the list of its values."""
    runtime.checked_dict(mapping, "values")
    if runtime._is_zero(g):
        return 0.0
    return {k: _at(g, i) for i, k in enumerate(mapping)}


def dict_items_grad(g, mapping):
    """Gradient of a dict from the gradient g of the list of its (key, value) pairs."""
    runtime.checked_dict(mapping, "items")
    if runtime._is_zero(g):
        return 0.0
    return {k: _at(_at(g, i), 1) for i, k in enumerate(mapping)}


def dict_values_tangent(t, mapping):
    """Tangent of the list of a dict's values, from the tangent t of the dict."""
    runtime.checked_dict(mapping, "values")
    return [runtime.item_grad(t, k) for k in mapping]


def dict_items_tangent(t, mapping):
    """Tangent of the list of a dict's (key, value) pairs (the keys have none)."""
    runtime.checked_dict(mapping, "items")
    return [(0.0, runtime.item_grad(t, k)) for k in mapping]


# -- the rules --------------------------------------------------------------------------

# d.keys(), d.values(), d.items() on a value srcad reads as a dict (runtime.dict_keys).
@adjoint(runtime.dict_values)
def dict_values_(result, mapping):
    d[mapping] = dict_values_grad(d[result], mapping)


@tangent(runtime.dict_values)
def dict_values_tangent_(result, mapping):
    d[result] = dict_values_tangent(d[mapping], mapping)


@adjoint(runtime.dict_items)
def dict_items_(result, mapping):
    d[mapping] = dict_items_grad(d[result], mapping)


@tangent(runtime.dict_items)
def dict_items_tangent_(result, mapping):
    d[result] = dict_items_tangent(d[mapping], mapping)


# abs is np.abs on every argument abs accepts (Python and NumPy numbers, arrays).
ADJOINTS[builtins.abs], TANGENTS[builtins.abs] = ADJOINTS[np.abs], TANGENTS[np.abs]
# pow(x, y) is x ** y; pow(x, y, mod) is refused (its arguments do not fit the rule).
ADJOINTS[builtins.pow] = ADJOINTS[operator.pow]
TANGENTS[builtins.pow] = TANGENTS[operator.pow]


@adjoint(builtins.float)
def float_(result, x=0.0):
    d[x] = unbroadcast(d[result], x)


@tangent(builtins.float)
def float_tangent(result, x=0.0):
    d[result] = float(d[x])


@adjoint(builtins.list, builtins.tuple)
def list_(result, iterable=()):
    d[iterable] = items_grad(d[result], iterable)


@tangent(builtins.list)
def list_tangent(result, iterable=()):
    d[result] = items_tangent(d[iterable], iterable)


@tangent(builtins.tuple)
def tuple_tangent(result, iterable=()):
    d[result] = tuple(items_tangent(d[iterable], iterable))


@adjoint(builtins.sorted)
def sorted_(result, iterable, *, key=None, reverse=False):
    d[iterable] = sorted_grad(d[result], iterable, result, key, reverse)


@tangent(builtins.sorted)
def sorted_tangent_(result, iterable, *, key=None, reverse=False):
    d[result] = sorted_tangent(d[iterable], iterable, result, key, reverse)


# max(iterable) and max(x1, x2, ...) (up to four arguments): the gradient goes to the
# item max returned, the first of the largest (by key), as Python picks it; to default
# where the iterable was empty.
@adjoint(builtins.max)
def max_(result, x1, x2=None, x3=None, x4=None, *, key=None, default=None):
    chosen = choice(x1 if x2 is None else (x1, x2) if x3 is None else (x1, x2, x3)
                    if x4 is None else (x1, x2, x3, x4), result, key, max)
    d[x1] = chosen_grad(d[result], x1, chosen) if x2 is None \
        else (d[result] if chosen == 0 else 0.0)
    d[x2] = d[result] if chosen == 1 else 0.0
    d[x3] = d[result] if chosen == 2 else 0.0
    d[x4] = d[result] if chosen == 3 else 0.0
    d[default] = d[result] if chosen is None else 0.0


@tangent(builtins.max)
def max_tangent(result, x1, x2=None, x3=None, x4=None, *, key=None, default=None):
    chosen = choice(x1 if x2 is None else (x1, x2) if x3 is None else (x1, x2, x3)
                    if x4 is None else (x1, x2, x3, x4), result, key, max)
    d[result] = chosen_tangent(d[x1], x1, chosen, d[default]) if x2 is None \
        else (d[x1], d[x2])[chosen] if x3 is None else (d[x1], d[x2], d[x3])[chosen] \
        if x4 is None else (d[x1], d[x2], d[x3], d[x4])[chosen]


@adjoint(builtins.min)
def min_(result, x1, x2=None, x3=None, x4=None, *, key=None, default=None):
    chosen = choice(x1 if x2 is None else (x1, x2) if x3 is None else (x1, x2, x3)
                    if x4 is None else (x1, x2, x3, x4), result, key, min)
    d[x1] = chosen_grad(d[result], x1, chosen) if x2 is None \
        else (d[result] if chosen == 0 else 0.0)
    d[x2] = d[result] if chosen == 1 else 0.0
    d[x3] = d[result] if chosen == 2 else 0.0
    d[x4] = d[result] if chosen == 3 else 0.0
    d[default] = d[result] if chosen is None else 0.0


@tangent(builtins.min)
def min_tangent(result, x1, x2=None, x3=None, x4=None, *, key=None, default=None):
    chosen = choice(x1 if x2 is None else (x1, x2) if x3 is None else (x1, x2, x3)
                    if x4 is None else (x1, x2, x3, x4), result, key, min)
    d[result] = chosen_tangent(d[x1], x1, chosen, d[default]) if x2 is None \
        else (d[x1], d[x2])[chosen] if x3 is None else (d[x1], d[x2], d[x3])[chosen] \
        if x4 is None else (d[x1], d[x2], d[x3], d[x4])[chosen]


@adjoint(builtins.sum)
def sum_(result, iterable, start=0):
    d[iterable] = sum_grad(d[result], iterable)
    d[start] = unbroadcast(d[result], start)


@tangent(builtins.sum)
def sum_tangent_(result, iterable, start=0):
    d[result] = sum_tangent(d[iterable], iterable) + d[start]


@adjoint(builtins.reversed)
def reversed_(result, sequence):
    d[sequence] = reversed_grad(d[result], sequence)


@tangent(builtins.reversed)
def reversed_tangent_(result, sequence):
    d[result] = reversed_tangent(d[sequence], sequence)


@adjoint(builtins.enumerate)
def enumerate_(result, iterable, start=0):
    d[iterable] = enumerate_grad(d[result], iterable)


@tangent(builtins.enumerate)
def enumerate_tangent_(result, iterable, start=0):
    d[result] = enumerate_tangent(d[iterable], iterable)


# zip of up to four iterables.
@adjoint(builtins.zip)
def zip_(result, x1, x2=None, x3=None, x4=None, *, strict=False):
    d[x1] = zip_grad(d[result], x1, 0)
    d[x2] = zip_grad(d[result], x2, 1)
    d[x3] = zip_grad(d[result], x3, 2)
    d[x4] = zip_grad(d[result], x4, 3)


@tangent(builtins.zip)
def zip_tangent_(result, x1, x2=None, x3=None, x4=None, *, strict=False):
    d[result] = zip_tangent((d[x1],) if x2 is None else (d[x1], d[x2]) if x3 is None
                            else (d[x1], d[x2], d[x3]) if x4 is None
                            else (d[x1], d[x2], d[x3], d[x4]),
                            (x1,) if x2 is None else (x1, x2) if x3 is None
                            else (x1, x2, x3) if x4 is None else (x1, x2, x3, x4))


# -- the helpers' own rules (forward mode over generated reverse code) ------------------
# Each helper is linear in the gradient it carries.

@tangent(items_grad)
def items_grad_tangent(out, g, x):
    d[out] = items_grad(d[g], x)


@tangent(sorted_grad)
def sorted_grad_tangent(out, g, x, result, key=None, reverse=False):
    d[out] = sorted_grad(d[g], x, result, key, reverse)


@tangent(chosen_grad)
def chosen_grad_tangent(out, g, x, chosen):
    d[out] = chosen_grad(d[g], x, chosen)


@tangent(sum_grad)
def sum_grad_tangent(out, g, x):
    d[out] = sum_grad(d[g], x)


@tangent(reversed_grad)
def reversed_grad_tangent(out, g, x):
    d[out] = reversed_grad(d[g], x)


@tangent(enumerate_grad)
def enumerate_grad_tangent(out, g, x):
    d[out] = enumerate_grad(d[g], x)


@tangent(zip_grad)
def zip_grad_tangent(out, g, x, k):
    d[out] = zip_grad(d[g], x, k)


@tangent(dict_values_grad)
def dict_values_grad_tangent(out, g, mapping):
    d[out] = dict_values_grad(d[g], mapping)


@tangent(dict_items_grad)
def dict_items_grad_tangent(out, g, mapping):
    d[out] = dict_items_grad(d[g], mapping)


# complex(real, imag): dL = Re(g dz) = Re(g) d(real) - Im(g) d(imag)
@adjoint(builtins.complex)
def complex_(result, real=0.0, imag=0.0):
    d[real] = np.real(d[result])
    d[imag] = -np.imag(d[result])


@tangent(builtins.complex)
def complex_tangent(result, real=0.0, imag=0.0):
    d[result] = d[real] + 1j * d[imag]


nondifferentiable(sort_order, choice, reason="an index")

nondifferentiable(builtins.len, builtins.range, builtins.slice, runtime.loop_length,
                  reason="integer-valued")
nondifferentiable(runtime.dict_keys, reason="a dict's keys")
nondifferentiable(builtins.int, builtins.round,
                  reason="piecewise constant: an integer, or a number rounded to ndigits")
nondifferentiable(builtins.bool, builtins.any, builtins.all, builtins.isinstance,
                  builtins.hasattr, reason="boolean-valued")
nondifferentiable(builtins.type, builtins.id, reason="a type or an object's identity")
nondifferentiable(builtins.print, reason="returns None")
nondifferentiable(runtime.stop_gradient, reason="srcad.stop_gradient blocks the derivative")

# Builtins refused on differentiated values, with what to write instead.
_AS_TEXT = ("a number's text carries its value but not its derivative: compute with the "
            "number itself, or wrap the value in srcad.stop_gradient")
_ONE_AT_A_TIME = ("srcad follows lists, not iterators taken one item at a time: index the "
                  "list, or loop over it with for")
REFUSED = {
    builtins.map: "write a list comprehension, [f(v) for v in xs], which srcad differentiates",
    builtins.filter: "write a list comprehension, [v for v in xs if ...]",
    builtins.str: _AS_TEXT, builtins.repr: _AS_TEXT, builtins.format: _AS_TEXT,
    builtins.iter: _ONE_AT_A_TIME, builtins.next: _ONE_AT_A_TIME,
    builtins.divmod: "write x // y and x % y",
    builtins.dict: "write a dict display, {key: value, ...}",
    builtins.set: "a set has no order in which srcad could give back its items' gradients: "
                  "use a list",
    builtins.frozenset: "a set has no order in which srcad could give back its items' "
                        "gradients: use a list",
}
