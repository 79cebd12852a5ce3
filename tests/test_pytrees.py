"""Structured parameters (pytrees): NamedTuples, dataclasses, nestings and registered classes.

A `wrt` argument may be any nesting of lists, tuples, dicts, NamedTuples and
dataclass instances (and of classes registered with srcad.register_container);
its gradient has the argument's type and structure, and jvp tangents, hvp
vectors and vjp cotangents take that structure too. `p.w` inside
differentiated code reads a field: differentiated where p is, else just read
when the function runs. Oracles: central finite differences over the leaves
(flattened here, independently of srcad), and JAX's pytree gradients.
"""
import dataclasses
from typing import NamedTuple

import numpy as np
import pytest

import srcad
from oracle import _derivative, line_of, numerical_grad, with_globals


class Layer(NamedTuple):
    w: np.ndarray
    b: float


@dataclasses.dataclass
class Params:
    w: np.ndarray
    b: np.ndarray
    scale: float


@dataclasses.dataclass(frozen=True)
class Stack:
    layers: list
    scale: float


class Affine:
    """A class of the user's own, registered as a container of its parts a and c."""

    def __init__(self, a, c):
        self.a = a
        self.c = c


srcad.register_container(Affine, lambda m: ((m.a, m.c), None),
                         lambda aux, children: Affine(*children))


# --- the functions ---------------------------------------------------------------------------

def layer_loss(p, x):
    return np.sum(np.tanh(p.w * x + p.b) ** 2)


def params_loss(p, x):
    h = np.tanh(p.w @ x + p.b)
    return p.scale * np.sum(h ** 2)


def nested_loss(ps, x):
    first = ps["first"]
    h = np.tanh(first.w * x + first.b)
    return np.sum((ps["second"].w * h + ps["second"].b) ** 2)


def stack_loss(s, x):
    h = x
    for layer in s.layers:
        h = np.tanh(layer.w * h + layer.b)
    return s.scale * np.sum(h ** 2)


def affine_loss(m, x):
    return np.sum(np.sin(m.a @ x) * m.c)


def fields_and_items(p, x):
    return np.sum(p.w * p[0] * x) + p[1] * p.b


def predict(p, x):
    return np.tanh(p.w * x + p.b)


def rng_layer(rng, n=3):
    return Layer(rng.normal(size=n), float(rng.normal()))


def cases():
    rng = np.random.default_rng(7)
    x = rng.normal(size=3)
    return [
        (layer_loss, rng_layer(rng), x),
        (params_loss, Params(rng.normal(size=(2, 3)), rng.normal(size=2), 1.3), x),
        (nested_loss, {"first": rng_layer(rng), "second": rng_layer(rng)}, x),
        (stack_loss, Stack([rng_layer(rng), rng_layer(rng)], 0.7), x),
        (affine_loss, Affine(rng.normal(size=(2, 3)), rng.normal(size=2)), x),
        (fields_and_items, rng_layer(rng), x),
    ]


CASES = cases()
IDS = [f.__name__ for f, _, _ in CASES]


# --- leaves: the oracle's own flattening, independent of srcad ------------------------------

def children(tree):
    """[(label, part)] of a structure, or None for a leaf."""
    if isinstance(tree, tuple) and hasattr(type(tree), "_fields"):
        return list(zip(tree._fields, tree))
    if isinstance(tree, (list, tuple)):
        return list(enumerate(tree))
    if isinstance(tree, dict):
        return list(tree.items())
    if dataclasses.is_dataclass(tree):
        return [(f.name, getattr(tree, f.name)) for f in dataclasses.fields(tree)]
    if isinstance(tree, Affine):
        return [("a", tree.a), ("c", tree.c)]
    return None


def rebuilt(tree, parts):
    if isinstance(tree, tuple) and hasattr(type(tree), "_fields"):
        return type(tree)(*parts)
    if isinstance(tree, (list, tuple)):
        return type(tree)(parts)
    if isinstance(tree, dict):
        return dict(zip(tree, parts))
    if dataclasses.is_dataclass(tree):
        return dataclasses.replace(tree, **dict(zip([f.name for f in dataclasses.fields(tree)],
                                                    parts)))
    return Affine(*parts)


def vector(tree):
    """The leaves of a structure, raveled into one float64 vector."""
    parts = children(tree)
    if parts is None:
        return np.ravel(np.asarray(tree, dtype=np.float64))
    return np.concatenate([vector(v) for _, v in parts]) if parts else np.zeros(0)


def unvector(tree, v):
    """A structure like tree with its leaves taken from the vector v."""
    def build(t, start):
        parts = children(t)
        if parts is None:
            n = int(np.size(t))
            leaf = v[start:start + n].reshape(np.shape(t))
            return (leaf if isinstance(t, np.ndarray) else float(leaf)), start + n
        built = []
        for _, part in parts:
            value, start = build(part, start)
            built.append(value)
        return rebuilt(t, built), start
    return build(tree, 0)[0]


def assert_like(got, arg, path="gradient"):
    """got has arg's type and structure, leaf by leaf: an ndarray of arg's shape for an
    ndarray, a float for a number."""
    parts = children(arg)
    if parts is None:
        if isinstance(arg, np.ndarray):
            assert isinstance(got, np.ndarray) and got.shape == arg.shape, path
        else:
            assert type(got) is float, f"{path}: {type(got).__name__}"
        return
    assert type(got) is type(arg), f"{path}: {type(got).__name__} for a {type(arg).__name__}"
    theirs = children(got)
    assert [k for k, _ in theirs] == [k for k, _ in parts], path
    for (k, g), (_, a) in zip(theirs, parts):
        assert_like(g, a, f"{path}.{k}")


def fd_grad(f, p, *rest):
    return numerical_grad(lambda v: f(unvector(p, v), *rest), (vector(p),))


def fd_hvp(f, p, v, *rest):
    """The derivative of the finite-difference gradient along v (five points)."""
    direction = vector(v)
    return np.array([_derivative(lambda t, i=i: fd_grad(f, unvector(p, vector(p) + t * direction),
                                                       *rest)[i], 0.0, 1e-3)
                     for i in range(direction.size)])


# --- every transform against finite differences ---------------------------------------------

@pytest.mark.parametrize("f, p, x", CASES, ids=IDS)
def test_grad_has_the_structure_and_the_values(f, p, x):
    got = srcad.grad(f)(p, x)
    assert_like(got, p)
    np.testing.assert_allclose(vector(got), fd_grad(f, p, x), rtol=1e-6, atol=1e-8)
    again = srcad.grad(f)(p, x)        # the cached code, on the fast path
    np.testing.assert_allclose(vector(again), vector(got), rtol=0, atol=0)


@pytest.mark.parametrize("f, p, x", CASES, ids=IDS)
def test_value_and_grad(f, p, x):
    value, got = srcad.value_and_grad(f)(p, x)
    assert value == pytest.approx(f(p, x), rel=1e-12)
    assert_like(got, p)
    np.testing.assert_allclose(vector(got), fd_grad(f, p, x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, p, x", CASES, ids=IDS)
def test_jvp_takes_a_tangent_of_the_same_structure(f, p, x):
    tangent = unvector(p, np.linspace(-1.0, 1.0, vector(p).size))
    value, got = srcad.jvp(f)(p, x, tangent)
    assert value == pytest.approx(f(p, x), rel=1e-12)
    assert got == pytest.approx(np.dot(fd_grad(f, p, x), vector(tangent)), rel=1e-6)


@pytest.mark.parametrize("f, p, x", CASES, ids=IDS)
def test_hvp_takes_a_vector_of_the_same_structure(f, p, x):
    v = unvector(p, np.cos(np.arange(vector(p).size)))
    got = srcad.hvp(f)(p, x, v)
    assert_like(got, p)
    np.testing.assert_allclose(vector(got), fd_hvp(f, p, v, x), rtol=1e-5, atol=1e-7)


def test_grad_with_respect_to_a_structure_and_an_array():
    p, x = Layer(np.array([0.3, -0.2, 0.9]), 0.15), np.array([1.0, 0.5, -0.4])
    dp, dx = srcad.grad(layer_loss, wrt=(0, 1))(p, x)
    assert_like(dp, p)
    np.testing.assert_allclose(vector(dp), fd_grad(layer_loss, p, x), rtol=1e-6)
    np.testing.assert_allclose(dx, numerical_grad(layer_loss, (p, x), wrt=1), rtol=1e-6)


def test_vjp_gives_a_structured_gradient():
    p, x = Layer(np.array([0.3, -0.2, 0.9]), 0.15), np.array([1.0, 0.5, -0.4])
    cotangent = np.array([0.5, -1.0, 2.0])
    value, pullback = srcad.vjp(predict)(p, x)
    np.testing.assert_allclose(value, predict(p, x))
    got = pullback(cotangent)
    assert_like(got, p)
    expected = numerical_grad(lambda v: np.dot(predict(unvector(p, v), x), cotangent),
                              (vector(p),))
    np.testing.assert_allclose(vector(got), expected, rtol=1e-6)


def passed_through(p, x):
    q = p
    return q


def test_a_structured_output_has_structured_tangents_and_cotangents():
    p = Params(np.array([[0.5, -1.0, 2.0]]), np.array([0.3]), 1.5)
    x = np.array([1.0, 2.0, 3.0])
    tangent = Params(np.array([[1.0, 2.0, 3.0]]), np.array([-1.0]), 0.5)
    _, out = srcad.jvp(passed_through)(p, x, tangent)
    assert type(out) is Params
    np.testing.assert_allclose(vector(out), vector(tangent))
    _, pullback = srcad.vjp(passed_through)(p, x)
    got = pullback(tangent)
    assert_like(got, p)
    np.testing.assert_allclose(vector(got), vector(tangent))


def test_jacobian_and_hessian_with_a_structure_held_constant():
    p, x = Layer(np.array([0.3, -0.2, 0.9]), 0.15), np.array([1.0, 0.5, -0.4])
    expected = np.array([numerical_grad(lambda x: predict(p, x)[i], (x,)) for i in range(3)])
    for mode in ("reverse", "forward"):
        got = srcad.jacobian(predict_of_x, wrt=0, mode=mode)(x, p)
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    hessian = srcad.hessian(loss_of_x)(x, p)
    rows = np.eye(3)
    fd = np.array([[_derivative(lambda t: numerical_grad(loss_of_x, (x + t * e, p))[j],
                                0.0, 1e-3) for j in range(3)] for e in rows])
    np.testing.assert_allclose(hessian, fd, rtol=1e-6, atol=1e-8)


def predict_of_x(x, p):
    return np.tanh(p.w * x + p.b)


def loss_of_x(x, p):
    return np.sum(np.tanh(p.w * x + p.b) ** 2)


def test_numpy_integers_in_a_dataclass_are_differentiated_as_floats():
    p = Params(np.array([[1, 2, 0]]), np.array([1]), np.int64(2))
    x = np.array([0.1, -0.3, 0.2])
    got = srcad.grad(params_loss)(p, x)
    assert type(got) is Params and got.w.dtype == np.float64
    as_floats = Params(p.w.astype(float), p.b.astype(float), 2.0)
    np.testing.assert_allclose(vector(got), fd_grad(params_loss, as_floats, x), rtol=1e-6)


# --- JAX's pytree gradients as the reference for structure ----------------------------------

def jax_registered(jax):
    """Params, Stack and Affine as JAX pytrees (once)."""
    tree_util = jax.tree_util
    if not getattr(jax_registered, "done", False):
        tree_util.register_dataclass(Params, data_fields=["w", "b", "scale"], meta_fields=[])
        tree_util.register_dataclass(Stack, data_fields=["layers", "scale"], meta_fields=[])
        tree_util.register_pytree_node(Affine, lambda m: ((m.a, m.c), None),
                                       lambda _, parts: Affine(*parts))
        jax_registered.done = True


@pytest.mark.parametrize("f, p, x", CASES, ids=IDS)
def test_grad_against_jax(f, p, x):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jax_registered(jax)
    expected = jax.grad(with_globals(f, np=jax.numpy))(p, x)
    got = srcad.grad(f)(p, x)
    assert type(got) is type(expected)
    leaves, structure = jax.tree_util.tree_flatten(expected)
    mine, my_structure = jax.tree_util.tree_flatten(got)
    assert my_structure == structure
    for a, b in zip(mine, leaves):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("f, p, x", CASES, ids=IDS)
def test_hvp_against_jax(f, p, x):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jax_registered(jax)
    v = unvector(p, np.sin(np.arange(vector(p).size) + 1.0))
    fj = with_globals(f, np=jax.numpy)
    expected = jax.jvp(lambda q: jax.grad(fj)(q, x), (p,), (v,))[1]
    got = srcad.hvp(f)(p, x, v)
    leaves, structure = jax.tree_util.tree_flatten(expected)
    mine, my_structure = jax.tree_util.tree_flatten(got)
    assert my_structure == structure
    for a, b in zip(mine, leaves):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-9, atol=1e-12)


# --- attribute reads of values srcad does not differentiate ---------------------------------

class Config:
    def __init__(self, scale):
        self.scale = scale


def scaled_by_a_config(x, cfg):
    return cfg.scale * np.sum(x ** 2)


def test_attributes_of_an_object_not_differentiated_are_read_when_it_runs():
    x, cfg = np.array([1.0, -2.0]), Config(3.0)
    g = srcad.grad(scaled_by_a_config)
    np.testing.assert_allclose(g(x, cfg), 6.0 * x)
    cfg.scale = 5.0     # the same object, changed: its new data is read
    np.testing.assert_allclose(g(x, cfg), 10.0 * x)


# --- refusals -----------------------------------------------------------------------------

class Unregistered:
    def __init__(self, w):
        self.w = w


def reads_w(p, x):
    return np.sum(p.w * x)


def test_an_unregistered_class_as_wrt_names_register_container():
    with pytest.raises(srcad.SrcadError, match=r"srcad\.register_container\(Unregistered"):
        srcad.grad(reads_w)(Unregistered(np.ones(2)), np.ones(2))


def test_an_unregistered_class_not_differentiated_is_fine():
    got = srcad.grad(reads_w, wrt=1)(Unregistered(np.array([2.0, 3.0])), np.ones(2))
    np.testing.assert_allclose(got, [2.0, 3.0])


def writes_a_field(p, x):
    p.w = p.w * x  # refused
    return np.sum(p.w)


def test_an_attribute_write_on_a_differentiated_object_is_refused_at_its_line():
    p = Params(np.ones(2), np.ones(1), 1.0)
    with pytest.raises(srcad.SrcadError, match="attribute") as caught:
        srcad.grad(writes_a_field)(p, np.ones(2))
    assert caught.value.lineno == line_of(writes_a_field, "# refused")


@dataclasses.dataclass
class WithProperty:
    w: np.ndarray

    @property
    def doubled(self):
        return 2.0 * self.w


def reads_a_property(p):
    return np.sum(p.doubled ** 2)  # refused


@pytest.mark.parametrize("transform", ["grad", "jvp"])
def test_reading_what_is_not_a_field_of_a_differentiated_value_is_refused(transform):
    p = WithProperty(np.array([1.0, 2.0]))
    with pytest.raises(srcad.SrcadError, match="'.doubled'") as caught:
        if transform == "grad":
            srcad.grad(reads_a_property)(p)
        else:
            srcad.jvp(reads_a_property)(p, WithProperty(np.ones(2)))
    assert caught.value.lineno == line_of(reads_a_property, "# refused")


class Shaped(NamedTuple):
    w: np.ndarray
    size: float


def test_a_field_named_like_an_array_attribute_is_refused():
    with pytest.raises(srcad.SrcadError, match="field 'size'"):
        srcad.grad(reads_w)(Shaped(np.ones(2), 1.0), np.ones(2))


@pytest.mark.parametrize("tangent, shown", [
    ((np.ones(3), 1.0), "is a tuple, where its argument is a Layer"),
    (Layer(np.ones(2), 1.0), r"tangent of p\.w has shape \(2,\)"),
])
def test_a_tangent_unlike_its_structure_is_refused(tangent, shown):
    p = Layer(np.ones(3), 0.5)
    with pytest.raises(srcad.SrcadError, match=shown):
        srcad.jvp(layer_loss)(p, np.ones(3), tangent)


class Pair:
    def __init__(self, a, scale=2.0):
        self.a = a
        self.scale = scale      # not a child: constant data

    @property
    def twice(self):
        return 2.0 * self.a


def reads_a(q):
    return srcad.stop_gradient(q).scale * q.a * q.a


def reads_twice(q):
    return q.twice * q.a  # refused


def reads_scale(q):
    return q.scale * q.a  # refused


@pytest.mark.parametrize("f", [reads_twice, reads_scale])
def test_a_registered_class_reads_its_children_and_refuses_the_rest(f):
    srcad.register_container(Pair, lambda q: ([q.a], q.scale),
                             lambda scale, children: Pair(children[0], scale))
    got = srcad.grad(reads_a)(Pair(3.0, 0.5))
    assert type(got) is Pair and got.a == pytest.approx(3.0) and got.scale == 0.5
    with pytest.raises(srcad.SrcadError, match="stop_gradient") as caught:
        srcad.grad(f)(Pair(3.0))
    assert caught.value.lineno == line_of(f, "# refused")


def test_register_container_checks_what_it_is_given():
    class Bad:
        def __init__(self, a):
            self.a = a

    srcad.register_container(Bad, lambda q: {"a": q.a}, lambda aux, children: Bad(*children))
    with pytest.raises(srcad.SrcadError, match=r"returns \(children, aux\)"):
        srcad.grad(reads_a)(Bad(1.0))
    with pytest.raises(srcad.SrcadError, match="takes a class"):
        srcad.register_container(Bad(1.0), dict, dict)


@pytest.mark.parametrize("transform", [srcad.jacobian, srcad.hessian,
                                       lambda f: srcad.grad(srcad.grad(f))])
@pytest.mark.parametrize("structure", [tuple, list, dict])
def test_jacobian_and_hessian_of_a_structure_are_refused(transform, structure):
    # their blocks are laid out along an array's axes: a structure is refused, not guessed
    def pair_sum(p):
        a, b = (p["a"], p["b"]) if isinstance(p, dict) else (p[0], p[1])
        return np.sum(np.sin(a) * b)
    p = {"a": np.array([0.1, 0.2]), "b": 0.5}
    p = p if structure is dict else structure(p.values())
    with pytest.raises(srcad.SrcadError, match="with respect to arrays and numbers"):
        transform(pair_sum)(p)


@dataclasses.dataclass
class _Pair:
    w: np.ndarray
    b: float


def passes_its_argument_on(p):
    return (p, np.sum(p.w) * p.b)


def test_jvp_of_a_tuple_holding_a_dataclass_gives_a_dataclass_tangent():
    p, t = _Pair(np.array([0.3, -0.2]), 0.5), _Pair(np.array([1.0, 2.0]), -1.0)
    _, (tp, tv) = srcad.jvp(passes_its_argument_on)(p, t)
    assert type(tp) is _Pair
    np.testing.assert_allclose(tp.w, t.w)
    assert tp.b == pytest.approx(t.b)
    assert tv == pytest.approx(np.sum(t.w) * p.b + np.sum(p.w) * t.b)
