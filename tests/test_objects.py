"""Methods and functions as values, in both modes and under hvp and hessian.

A bound method or a functools.partial is a function: srcad differentiates the
function it forwards to, with the object (or the partial's arguments) as
constants. Methods called inside differentiated code (`self.predict(x)`,
`Class.method(obj, x)`, static and class methods) are transformed as calls of
the function the object's class defines, specialized on that class; a function
passed as a value (a module-level def, a nested def, a lambda, a partial, a
NumPy function) specializes the helper it is passed to. What srcad cannot
prove (an object's own attribute hiding a method, a closure passed as a value,
a lambda it cannot find in its line) is refused at the user's line. Gradients
are checked against central differences (oracle.py), and a model class against
autograd.
"""
import dataclasses
import functools
import itertools
import linecache

import numpy as np
import pytest

import srcad
from oracle import (check_grad, check_value_and_grad, check_vjp, line_of, numerical_grad,
                    numerical_jvp)

X = np.array([0.3, -0.2, 0.5])
T = np.array([1.0, -0.5, 0.25])


def jacobian_fd(f, x, wrt=0):
    """The Jacobian of a gradient-valued f, column by column from central differences."""
    columns = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = 1.0
        columns.append(numerical_jvp(f, (x,), (wrt,), (e,)))
    return np.stack(columns, axis=-1)


def check_forward(f, x, tangent):
    """jvp(f)(x, tangent) against a directional difference."""
    value, got = srcad.jvp(f)(x, tangent)
    np.testing.assert_allclose(value, f(x), rtol=1e-12)
    np.testing.assert_allclose(got, numerical_jvp(f, (x,), (0,), (tangent,)), rtol=1e-6,
                               atol=1e-8)


def check_second_order(f, x, v):
    """hvp and hessian of f against differences of f's own finite-difference gradient."""
    def gradient(y):
        return numerical_grad(f, (y,), 0, step=1e-3)
    expected = jacobian_fd(gradient, x)
    np.testing.assert_allclose(srcad.hessian(f)(x), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(srcad.hvp(f)(x, v), expected @ v, rtol=1e-4, atol=1e-5)


# --- a model written as a class ------------------------------------------------------

class Model:
    scale = 0.5

    def __init__(self, w):
        self.w = w

    def predict(self, x):
        return np.tanh(x) * 2.0 + np.sin(x)

    def loss(self, x, weight=1.5):
        y = self.predict(x)
        return weight * np.sum(y * y)

    @staticmethod
    def square(x):
        return x * x

    @classmethod
    def shifted(cls, x):
        return cls.square(x) + Model.square(x) * 0.5

    def everything(self, x):
        y = self.predict(x) + Model.predict(self, x)
        return np.sum(self.square(y)) + np.sum(Model.shifted(x)) + np.sum(self.shifted(y))


class Regularized(Model):
    def predict(self, x):
        return super_predict(self, x) * x


def super_predict(model, x):
    return Model.predict(model, x)


MODEL = Model(3.0)


def loss_of(x, model):
    return model.loss(x)


def everything_of(x, model):
    return model.everything(x)


def uses_global_model(x):
    return MODEL.loss(x) + np.sum(MODEL.predict(x))


@pytest.mark.parametrize("method", ["loss", "everything", "predict_sum"])
def test_a_bound_method_is_differentiated_with_self_constant(method):
    model = Model(3.0)
    f = getattr(model, method) if method != "predict_sum" else \
        functools.partial(_predict_sum, model)
    check_grad(f, X)
    check_value_and_grad(f, X)
    check_forward(f, X, T)
    check_second_order(f, X, T)


def _predict_sum(model, x):
    return np.sum(model.predict(x) ** 2)


def test_wrt_counts_the_parameters_after_self():
    model = Model(3.0)
    got = srcad.grad(model.loss, wrt=1)(X, 2.0)
    assert got == pytest.approx(numerical_grad(model.loss, (X, 2.0), 1))
    both = srcad.grad(model.loss, wrt=(0, "weight"))(X, 2.0)
    expected = numerical_grad(model.loss, (X, 2.0), (0, 1))
    np.testing.assert_allclose(both[0], expected[0], rtol=1e-6)
    assert both[1] == pytest.approx(expected[1])
    check_vjp(model.predict, (X,), T)


def test_bound_transforms_read_sensibly():
    model = Model(3.0)
    g = srcad.grad(model.loss)
    assert repr(g) == "<srcad.grad of Model.loss>"
    g(X)
    assert "def loss" in g.source and "predict" in g.source


@pytest.mark.parametrize("f", [loss_of, everything_of], ids=lambda f: f.__name__)
def test_methods_called_inside_are_transformed(f):
    model = Model(3.0)
    check_grad(f, X, model)
    value, tangent = srcad.jvp(f)(X, model, T)
    assert value == pytest.approx(f(X, model))
    np.testing.assert_allclose(tangent, numerical_jvp(f, (X, model), (0,), (T,)), rtol=1e-6)
    check_second_order(functools.partial(f, model=model), X, T)


def test_a_method_of_a_subclass_and_of_a_global_object():
    check_grad(loss_of, X, Regularized(1.0))
    check_grad(uses_global_model, X)
    check_forward(uses_global_model, X, T)


def test_against_autograd():
    autograd = pytest.importorskip("autograd")
    source = '''
class Layer:
    def __init__(self, w):
        self.w = w

    def predict(self, x):
        return np.tanh(x) * np.exp(0.1 * x)

    def loss(self, x):
        return np.sum(self.predict(x) ** 2) + np.sum(self.squash(x))

    @staticmethod
    def squash(x):
        return np.log(1.0 + x * x)
'''
    ours = _module(source, np)
    theirs = _module(source, pytest.importorskip("autograd.numpy"))
    got = srcad.grad(ours["Layer"](1.0).loss)(X)
    expected = autograd.grad(theirs["Layer"](1.0).loss)(X)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


_CELLS = itertools.count()


def _module(source, numpy):
    """The names a source text defines, run as a notebook cell is (its own file name),
    with `np` bound to numpy."""
    filename = f"<objects-cell-{next(_CELLS)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": numpy, "__name__": "notebook"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


class Dense:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def predict(self, x):
        return np.tanh(self.W @ x + self.b)

    def loss(self, x):
        return np.sum(self.predict(x) ** 2) + 0.1 * np.sum(x * x)


W = np.array([[1.0, 0.5, -0.2], [0.2, -0.3, 0.4]])


def test_methods_reading_the_objects_data():
    layer = Dense(W, np.array([0.1, -0.2]))
    check_grad(layer.loss, X)
    check_forward(layer.loss, X, T)
    check_second_order(layer.loss, X, T)


class Stack:
    def __init__(self, layer):
        self.layer = layer

    def loss(self, x):
        return np.sum(Dense.predict(self.layer, x) ** 2)

    def refused(self, x):
        return np.sum(self.layer.predict(x) ** 2)  # refused


def test_a_method_of_an_object_read_from_an_attribute():
    model = Stack(Dense(W, np.array([0.1, -0.2])))
    check_grad(model.loss, X)
    with pytest.raises(srcad.NoDerivativeError,
                       match=r"class of 'self.layer'.*Class.predict\(self.layer, ...\)") \
            as caught:
        srcad.grad(model.refused)(X)
    assert caught.value.lineno == line_of(Stack.refused, "# refused")


class Buffered:
    def __init__(self):
        self.buffer = np.zeros(3)

    def put(self, x):
        b = self.buffer
        b[0] = x[0] * 2.0  # refused
        return x

    def loss(self, x):
        y = self.put(x)
        return np.sum(self.buffer * y)


@pytest.mark.parametrize("transform", ["grad", "jvp", "hessian"])
def test_a_method_writing_into_its_objects_array_is_refused(transform):
    model = Buffered()
    made = getattr(srcad, transform)(model.loss)
    with pytest.raises(srcad.UnsupportedSyntaxError, match="through 'b'") as caught:
        made(X, T) if transform == "jvp" else made(X)
    assert caught.value.lineno == line_of(Buffered.put, "# refused")


@dataclasses.dataclass
class Params:
    W: np.ndarray
    b: np.ndarray

    def predict(self, x):
        return np.tanh(self.W @ x + self.b)


class Trainer:
    def __init__(self, reg):
        self.reg = reg

    def loss(self, params, x):
        r = params.predict(x) - 0.5
        return np.sum(r * r) + self.reg * np.sum(params.W ** 2)


def test_a_model_with_its_parameters_in_a_dataclass():
    trainer, params = Trainer(0.1), Params(W, np.array([0.1, -0.2]))
    value, got = srcad.value_and_grad(trainer.loss)(params, X)
    assert value == pytest.approx(trainer.loss(params, X))
    assert isinstance(got, Params)
    for field in ("W", "b"):
        def along(v, field=field):
            return trainer.loss(dataclasses.replace(params, **{field: v}), X)
        np.testing.assert_allclose(getattr(got, field),
                                   numerical_grad(along, (getattr(params, field),)),
                                   rtol=1e-6, atol=1e-9)
    check_grad(trainer.loss, params, X, wrt=1)


# --- a class defined again, a method changed: no stale code -----------------------------

CELL = '''
class Net:
    def predict(self, x):
        return x * 2.0

    def loss(self, x):
        return np.sum(self.predict(x) ** 2)


def loss_of(x, net):
    return net.loss(x)
'''


def test_a_class_defined_again_is_picked_up():
    first = _module(CELL, np)
    g = srcad.grad(first["loss_of"])
    np.testing.assert_allclose(g(X, first["Net"]()), 8.0 * X)
    again = _module(CELL.replace("x * 2.0", "x * 3.0"), np)
    np.testing.assert_allclose(g(X, again["Net"]()), 18.0 * X)
    np.testing.assert_allclose(g(X, first["Net"]()), 8.0 * X)
    jvp_ = srcad.jvp(first["loss_of"])
    assert jvp_(X, again["Net"](), T)[1] == pytest.approx(18.0 * X @ T)


def test_a_method_changed_on_its_class_is_picked_up():
    cell = _module(CELL, np)
    net = cell["Net"]()
    g, bound = srcad.grad(cell["loss_of"]), srcad.grad(net.loss)
    np.testing.assert_allclose(g(X, net), 8.0 * X)
    np.testing.assert_allclose(bound(X), 8.0 * X)
    cell["Net"].predict = predict_five
    np.testing.assert_allclose(g(X, net), 50.0 * X)
    np.testing.assert_allclose(bound(X), 50.0 * X)


def predict_five(self, x):
    return x * 5.0


def _times_five(x):
    return x * 5.0


def test_an_attribute_of_the_object_hiding_a_method_is_refused_at_the_call():
    cell = _module(CELL, np)
    net = cell["Net"]()
    g, bound = srcad.grad(cell["loss_of"]), srcad.grad(net.loss)
    bound(X)
    net.predict = _times_five
    for transform, args in ((g, (X, net)), (bound, (X,))):
        with pytest.raises(srcad.NoDerivativeError, match="own attribute 'predict' hides") \
                as caught:
            transform(*args)
        assert caught.value.lineno == CELL.splitlines().index(
            "        return np.sum(self.predict(x) ** 2)") + 1


def test_a_global_object_given_another_class_is_picked_up():
    cell = _module(CELL + """
NET = Net()


def uses_net(x):
    return NET.loss(x)


class Other(Net):
    def predict(self, x):
        return x * 4.0
""", np)
    g = srcad.grad(cell["uses_net"])
    np.testing.assert_allclose(g(X), 8.0 * X)
    cell["NET"].__class__ = cell["Other"]
    np.testing.assert_allclose(g(X), 32.0 * X)


class Proxy:
    def __getattribute__(self, name):
        return object.__getattribute__(self, name)

    def predict(self, x):
        return x * 2.0


class Vectorized:
    predict = np.vectorize(np.sin)


def calls_predict(x, obj):
    return np.sum(obj.predict(x))  # refused


@pytest.mark.parametrize("obj, why", [(Proxy(), "defines __getattribute__"),
                                      (Vectorized(), "not a function defined with def")])
def test_a_method_srcad_cannot_prove_is_refused_at_the_call(obj, why):
    with pytest.raises(srcad.NoDerivativeError, match=why) as caught:
        srcad.grad(calls_predict)(X, obj)
    assert caught.value.lineno == line_of(calls_predict, "# refused")


# --- functions as values -------------------------------------------------------------

def apply_twice(fn, x):
    return fn(fn(x))


def descend(f, x0, steps):
    x = x0
    for _ in range(steps):
        x = x - 0.1 * f(x)
    return x


def wave(v):
    return np.sin(v) * 1.5


def scaled(a, v, power=2):
    return a * v ** power


third = functools.partial(scaled, 1.0 / 3.0, power=3)


def passes_a_global_function(x):
    return np.sum(apply_twice(wave, x))


def passes_a_numpy_function(x):
    return np.sum(descend(np.tanh, x, 3))


def passes_a_partial(x):
    return np.sum(descend(third, x, 2)) + np.sum(apply_twice(wave, x) * x)


def passes_a_nested_def(x):
    def inner(v):
        return np.cos(v) * v

    return np.sum(apply_twice(inner, x))


def passes_lambdas(x):
    cube = lambda v: v * v * v  # noqa: E731
    return np.sum(apply_twice(cube, x)) + np.sum(apply_twice(lambda v: np.exp(0.5 * v), x))


def calls_a_local_partial(x, s):
    h = functools.partial(scaled, s)
    k = functools.partial(np.multiply, 2.0)
    return np.sum(h(x)) + np.sum(k(x) * x)


def runs_a_solver(x):
    return np.sum(descend(wave, x, 4) ** 2)


VALUES = [passes_a_global_function, passes_a_numpy_function, passes_a_partial,
          passes_a_nested_def, passes_lambdas, runs_a_solver]


@pytest.mark.parametrize("f", VALUES, ids=lambda f: f.__name__)
def test_functions_passed_as_values(f):
    check_grad(f, X)
    check_forward(f, X, T)
    check_second_order(f, X, T)


def test_a_partial_made_inside_the_function():
    check_grad(calls_a_local_partial, X, 1.7, wrt=(0, 1))
    value, tangent = srcad.jvp(calls_a_local_partial, wrt=(0, 1))(X, 1.7, T, 0.5)
    assert value == pytest.approx(calls_a_local_partial(X, 1.7))
    assert tangent == pytest.approx(
        numerical_jvp(calls_a_local_partial, (X, 1.7), (0, 1), (T, 0.5)))


def double(v):
    return v * 2.0


def takes_a_function(f, x):
    return np.sum(apply_twice(f, x))


def test_each_function_value_gets_its_own_code():
    g = srcad.grad(takes_a_function, wrt=1)
    for f in (wave, np.tanh, third, wave, double):
        np.testing.assert_allclose(g(f, X), numerical_grad(takes_a_function, (f, X), 1),
                                   rtol=1e-6)
        _, tangent = srcad.jvp(takes_a_function, wrt=1)(f, X, T)
        assert tangent == pytest.approx(numerical_jvp(takes_a_function, (f, X), (1,), (T,)))


def power_sum(a, v, power=2):
    return a * np.sum(v ** power)


def test_a_partial_is_a_function():
    f = functools.partial(power_sum, 2.0, power=3)
    check_grad(f, X)
    check_forward(f, X, T)
    check_second_order(f, X, T)
    positive = np.abs(X)
    assert srcad.grad(f, wrt="power")(positive, power=2.5) == pytest.approx(
        numerical_grad(lambda p: f(positive, power=p), (2.5,)))
    assert repr(srcad.grad(f)) == "<srcad.grad of power_sum>"


def loss(loss, x):
    return np.sum(x * x) * loss


def test_partials_of_a_lambda_and_of_a_function_naming_a_parameter_alike():
    check_grad(functools.partial(lambda a, x: a * np.sum(np.sin(x)), 2.0), X)
    check_grad(functools.partial(loss, 3.0), X)
    check_forward(functools.partial(loss, 3.0), X, T)


def closes_over_x(x):
    def inner(v):
        return v * x

    return np.sum(apply_twice(inner, x))  # refused


def test_a_closure_passed_as_a_value_is_refused_at_its_line():
    with pytest.raises(srcad.UnsupportedSyntaxError, match="reads 'x' of closes_over_x") \
            as caught:
        srcad.grad(closes_over_x)(X)
    assert caught.value.lineno == line_of(closes_over_x, "# refused")


def passes_a_vectorized(x):
    return np.sum(apply_twice(np.vectorize(np.sin), x))  # refused


def test_a_function_value_srcad_cannot_prove_is_refused():
    with pytest.raises(srcad.NoDerivativeError, match="'fn' is a parameter"):
        srcad.grad(passes_a_vectorized)(X)


def solve(f, x):
    return np.sum(apply_twice(f, x) ** 2)


def test_lambdas_passed_from_outside():
    scale = 1.5
    g = srcad.grad(solve, wrt=1)
    for f in (lambda v: v * scale,
              lambda v: np.sin(v) + scale):
        np.testing.assert_allclose(g(f, X), numerical_grad(solve, (f, X), 1), rtol=1e-6)
        _, tangent = srcad.jvp(solve, wrt=1)(f, X, T)
        assert tangent == pytest.approx(numerical_jvp(solve, (f, X), (1,), (T,)))
    cubic = lambda v: np.sum(v ** 3) * scale  # noqa: E731
    check_grad(cubic, X)
    check_forward(cubic, X, T)
    check_second_order(cubic, X, T)


def test_a_lambda_srcad_cannot_read_is_refused():
    twins = (lambda v: v * 2.0, lambda v: v * 3.0)  # two on one line: which is which?
    with pytest.raises(srcad.NoDerivativeError, match="more than one lambda") as caught:
        srcad.grad(solve, wrt=1)(twins[0], X)
    assert caught.value.lineno == line_of(apply_twice, "return fn(fn(x))")
    with pytest.raises(srcad.SrcadError, match="more than one lambda"):
        srcad.grad(twins[1])


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return 2.0 * fn(*args, **kwargs)
    return wrapper


def shifted_by_one(fn):
    def wrapper(v):
        return fn(v) + 1.0
    return wrapper


@shifted_by_one
def tripled(v):
    return v * 3.0


class Decorated:
    @doubled
    def loss(self, v):
        return np.sum(np.sin(v) * v)

    def total(self, v):
        return self.loss(v) + np.sum(apply_twice(tripled, v))


def test_decorated_functions_and_methods():
    model = Decorated()
    for f in (model.loss, model.total):
        check_grad(f, X)
        check_forward(f, X, T)
        check_second_order(f, X, T)


class Scaler:
    def __init__(self, scale):
        self.scale = scale

    @classmethod
    def double(cls, v):
        return 2.0 * v

    @staticmethod
    def square(v):
        return v * v


SCALER = Scaler(0.7)


def static_and_class_methods_through_an_instance(x):
    return np.sum(SCALER.double(x)) + np.sum(SCALER.square(x)) * SCALER.scale


def test_static_and_class_methods_read_through_a_global_instance():
    x = np.array([0.3, -0.4])
    g = srcad.grad(static_and_class_methods_through_an_instance)
    np.testing.assert_allclose(g(x), 2.0 + 2.0 * 0.7 * x, rtol=1e-12)
    saved = Scaler.__dict__["double"]

    def triple(cls, v):
        return 3.0 * v
    Scaler.double = classmethod(triple)     # the class redefined, as a notebook cell does
    try:
        np.testing.assert_allclose(g(x), 3.0 + 2.0 * 0.7 * x, rtol=1e-12)
    finally:
        Scaler.double = saved
