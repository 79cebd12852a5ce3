"""The container types srcad differentiates through: one registry.

A container is a value made of parts, each a number, an array or a container
itself (a pytree): a list, tuple or dict, a NamedTuple, a dataclass instance,
or an instance of a class registered with `srcad.register_container`. Every
structural decision asks this module: which arguments srcad differentiates
(api.py), what a gradient's zeros, copies and final type are (runtime.py), and
which part `x.attr` reads in differentiated code.

Inside generated code the gradient of a container holds the gradients of its
parts in a list, by position (a list, tuple or NamedTuple, a registered
class's children), or in a dict, by key (a dict, a dataclass's fields);
`rebuild` gives it the argument's own type at the end (a NamedTuple of
gradients, a dataclass made with `dataclasses.replace`, a registered class's
`unflatten`).
"""
import dataclasses

from .errors import SrcadError


class Container:
    """How srcad takes apart and rebuilds the values of one type.

    parts(x): [(key, part)] in order; rebuild(x, values): a value like x with the
    parts' values replaced, in that order; by_position: whether a gradient holds
    the parts in a list (else a dict by key); field(x, attr): the key of the part
    `x.attr` reads, or None; label(x, key): the part in a message (`[0]`, `.w`);
    own_type: whether a tangent of x is of x's own type (a NamedTuple's, a
    dataclass's; a tuple's may be a list); user_type: a class of the user's (a
    dataclass or registered), whose values are looked into only where they are
    differentiated.
    """

    def __init__(self, name, parts, rebuild, by_position=False, field=None,
                 label=lambda x, key: f"[{key!r}]", own_type=False, user_type=False):
        self.name = name
        self.parts = parts
        self.rebuild = rebuild
        self.by_position = by_position
        self.field = field or (lambda x, attr: None)
        self.label = label
        self.own_type = own_type or user_type
        self.user_type = user_type


def _named_tuple_field(x, attr):
    fields = type(x)._fields
    return fields.index(attr) if attr in fields else None


def _dataclass_fields(x):
    """The fields of a dataclass that `dataclasses.replace` sets: its parts."""
    return [f.name for f in dataclasses.fields(x) if f.init]


LIST = Container("list", lambda x: list(enumerate(x)), lambda x, values: type(x)(values),
                 by_position=True)
TUPLE = Container("tuple", lambda x: list(enumerate(x)), lambda x, values: type(x)(values),
                  by_position=True)
NAMED_TUPLE = Container("NamedTuple", lambda x: list(enumerate(x)),
                        lambda x, values: type(x)(*values), by_position=True,
                        field=_named_tuple_field,
                        label=lambda x, key: f".{type(x)._fields[key]}", own_type=True)
DICT = Container("dict", lambda x: list(x.items()), lambda x, values: dict(zip(x, values)))
DATACLASS = Container(
    "dataclass", lambda x: [(f, getattr(x, f)) for f in _dataclass_fields(x)],
    lambda x, values: dataclasses.replace(x, **dict(zip(_dataclass_fields(x), values))),
    field=lambda x, attr: attr if attr in _dataclass_fields(x) else None,
    label=lambda x, key: f".{key}", user_type=True)

_REGISTRY = {list: LIST, tuple: TUPLE, dict: DICT}
_BY_TYPE = {}       # type -> its Container or None, as `of` finds it (a type decides it)


def of(x):
    """The Container of x's type, or None: a registered type (list, tuple, dict or one
    of register_container), a NamedTuple, a dataclass, or a subclass of list, tuple or
    dict (taken apart as its base)."""
    t = type(x)
    try:
        return _BY_TYPE[t]
    except KeyError:
        found = _BY_TYPE[t] = _of_type(x, t)
        return found


def _of_type(x, t):
    found = _REGISTRY.get(t)
    if found is not None:
        return found
    if isinstance(x, tuple):
        return NAMED_TUPLE if hasattr(t, "_fields") else TUPLE
    if dataclasses.is_dataclass(t):
        return DATACLASS
    if isinstance(x, list):
        return LIST
    if isinstance(x, dict):
        return DICT
    return None


def field_key(x, attr):
    """The key of the part of x that `x.attr` reads, for its gradient; refused where
    x.attr is not one of x's parts (its gradient would be lost)."""
    container = of(x)
    key = container.field(x, attr) if container is not None else None
    if key is None:
        t = type(x)
        raise SrcadError(
            f"cannot differentiate reading '.{attr}' of a {t.__module__}.{t.__qualname__}, "
            "which depends on a differentiated input: srcad differentiates reading a "
            "field of a NamedTuple or dataclass, and a child of a class registered with "
            f"srcad.register_container; '.{attr}' is none of these: compute it from those, "
            f"or, where it is a constant, read it as srcad.stop_gradient(value).{attr}")
    return key


def register_container(cls, flatten, unflatten):
    """Let srcad differentiate with respect to instances of cls, a container of children.

    As for JAX's pytree nodes: flatten(obj) returns `(children, aux)`, the children
    srcad differentiates (each a number, an array or a container) and whatever
    else rebuilding needs; unflatten(aux, children) returns a new object (the
    gradient is unflatten(aux, the children's gradients)). In differentiated code
    `obj.name` reads the child that unflatten puts there.
    """
    if not isinstance(cls, type):
        raise SrcadError(f"register_container takes a class; got {cls!r}")
    if not (callable(flatten) and callable(unflatten)):
        raise SrcadError("register_container(cls, flatten, unflatten) takes two functions: "
                         "flatten(obj) -> (children, aux), unflatten(aux, children) -> obj")
    if cls in (list, tuple, dict):
        raise SrcadError(f"srcad differentiates {cls.__name__}s already: register your own "
                         "classes only")
    name = cls.__qualname__

    def flattened(x):
        found = flatten(x)
        if not (isinstance(found, tuple) and len(found) == 2
                and isinstance(found[0], (list, tuple))):
            raise SrcadError(f"the flatten function registered for {name} returned "
                             f"{type(found).__name__}: it returns (children, aux), the "
                             "children a list or tuple")
        return found

    def rebuild(x, values):
        return unflatten(flattened(x)[1], list(values))

    def field(x, attr):
        """The child x.attr reads: found on an object unflatten makes of markers."""
        children, aux = flattened(x)
        markers = [_Child() for _ in children]
        try:
            read = getattr(unflatten(aux, markers), attr)
        except Exception:   # unflatten or the attribute needs real children
            return None
        return next((i for i, m in enumerate(markers) if m is read), None)

    _BY_TYPE.clear()
    _REGISTRY[cls] = Container(name, lambda x: list(enumerate(flattened(x)[0])), rebuild,
                               by_position=True, field=field,
                               label=lambda x, key: f"[child {key}]", user_type=True)


class _Child:
    """A stand-in for a registered container's child (register_container's field)."""
