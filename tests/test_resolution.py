"""Every called name is resolved to what Python calls, or the function is refused.

Each function here calls NumPy, a helper or a transform through some alias
(a local or global name, an import with `as`, an attribute, `getattr`, a
closure); srcad must find the same object Python does, in both modes, or
raise a SrcadError at the user's line. The oracles are central finite
differences (oracle.py) and, for gradients, autograd.
"""
import math
import re

import numpy
import numpy as np
import numpy.linalg as la
import pytest
from numpy import tanh as th

import srcad
from oracle import check_grad, line_of, numerical_grad

X = np.array([0.3, -0.5, 1.2])
T = np.array([0.7, -0.2, 0.4])


def check_jvp(f, *args, tangent=T):
    """srcad.jvp(f)(*args, tangent) = (f(*args), the derivative of f along tangent in its
    first argument)."""
    value, got = srcad.jvp(f)(*args, tangent)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    expected = np.tensordot(np.asarray(numerical_grad(f, args)), tangent,
                            axes=np.ndim(tangent))
    assert np.ndim(got) == np.ndim(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def check_both(f, *args):
    check_grad(f, *args)
    check_jvp(f, *args)


# -- transforms called inside differentiated code ------------------------------------

def _sine_energy(x):
    return np.sum(np.sin(x) * x)


sine_energy_grad = srcad.grad(_sine_energy)


def first_partial(x):
    return sine_energy_grad(x)[0]


def gradient_norm(x):
    return np.sum(sine_energy_grad(x) ** 2)


@pytest.mark.parametrize("f", [first_partial, gradient_norm])
def test_a_gradient_called_inside_gives_scalar_tangents_and_gradients(f):
    value, tangent = srcad.jvp(f)(X, T)
    assert np.ndim(tangent) == 0
    check_both(f, X)


# -- aliases of NumPy functions and modules -------------------------------------------

act = np.tanh
npy = np
LN = la


def local_module_alias(x):
    xp = np
    return xp.sum(xp.tanh(x))


def local_function_alias(x):
    t = np.tanh
    return np.sum(t(x))


def global_function_alias(x):
    return np.sum(act(x))


def global_module_alias(x):
    return npy.sum(npy.tanh(x))


def from_import_as(x):
    return np.sum(th(x))


def submodule_import_as(x):
    return la.norm(x) + LN.norm(x)


def plain_module_name(x):
    return numpy.sum(numpy.tanh(x))


def alias_of_an_alias(x):
    a = act
    b = a
    return np.sum(b(x))


def alias_in_both_branches(x):
    if x[0] > 0:
        t = np.tanh
    else:
        t = act
    return np.sum(t(x))


def getattr_of_a_module(x):
    t = getattr(np, "tanh")
    return np.sum(t(x)) + np.sum(getattr(np, "sin")(x))


def getattr_of_a_value(x):
    return np.sum(getattr(x, "T") * x)


def local_alias_of_a_submodule(x):
    linalg = np.linalg
    return linalg.norm(x)


def method_of_an_array_result(x):
    y = np.exp(x)
    z = (y * 2.0 + 1.0).T
    return z.sum() + np.tanh(x).mean()


def _helper(v):
    return np.sum(v ** 3)


def local_alias_of_a_helper(x):
    h = _helper
    return h(x)


def _squares(v, scale=2.0):
    w = np.exp(v)
    return scale * w * w


def method_of_a_call_result(x):
    y = _squares(x) + 1.0
    return (y * x).sum() + _squares(x, scale=3.0).mean() + _passed_through(x).sum()


class Ops:
    @staticmethod
    def cube(v):
        return v ** 3


def class_attribute(x):
    return np.sum(Ops.cube(x))


W = np.array([0.5, -1.0, 2.0])


def method_of_a_global_array(x):
    return W.dot(x) + W.sum() * np.sum(x)


def _closure(function, module):
    def closed(x):
        return module.sum(function(x))
    return closed


closure_alias = _closure(np.tanh, np)


ALIASES = [local_module_alias, local_function_alias, global_function_alias,
           global_module_alias, from_import_as, submodule_import_as, plain_module_name,
           alias_of_an_alias, alias_in_both_branches, getattr_of_a_module, getattr_of_a_value,
           local_alias_of_a_submodule, method_of_an_array_result, local_alias_of_a_helper,
           class_attribute, method_of_a_global_array, closure_alias, method_of_a_call_result]


@pytest.mark.parametrize("f", ALIASES, ids=lambda f: f.__name__)
def test_aliases_resolve_in_both_modes(f):
    check_both(f, X)


@pytest.mark.parametrize("f", [local_module_alias, global_module_alias, alias_of_an_alias,
                               getattr_of_a_module, closure_alias], ids=lambda f: f.__name__)
def test_the_gradient_of_tanh_through_an_alias_is_analytic(f):
    expected = 1.0 - np.tanh(X) ** 2
    if f is getattr_of_a_module:
        expected = expected + np.cos(X)
    np.testing.assert_allclose(srcad.grad(f)(X), expected, rtol=1e-12)


def array_methods(x):
    y = x * 2.0
    return x.sum() + y.mean()


def test_array_methods_on_parameters_are_shown_before_any_call():
    assert re.search(r"repeat_to_shape\(d\w+, x,", srcad.grad(array_methods).source)
    check_both(array_methods, X)


def methods_rebinding_their_receivers(x):
    x = x.reshape(-1, 1)
    t = np.tanh(x) * x
    t = t.copy()
    for i in range(2):
        t = t.reshape(1, -1)
        t = t.clip(-1.0, 1.0) * t
    return t.sum()


def test_a_method_may_bind_its_own_receiver():
    check_both(methods_rebinding_their_receivers, X)


def method_changing_its_receivers_kind(x):
    t = np.tanh(x)
    t = t.sum()        # t is an array here and a number below
    return t.reshape(1)


def test_a_method_whose_result_changes_its_receivers_kind_is_refused():
    with pytest.raises(srcad.NoDerivativeError, match="cannot prove that 't' is a NumPy"):
        srcad.grad(method_changing_its_receivers_kind)(X)


def test_aliases_agree_with_autograd():
    from oracle import check_against_autograd
    for f in (local_function_alias, global_function_alias, from_import_as, alias_of_an_alias,
              getattr_of_a_module):
        check_against_autograd(f, X)


# -- what srcad cannot prove, it refuses, at the user's line --------------------------

FUNCTIONS = {"tanh": np.tanh}
vectorized_sine = np.vectorize(math.sin)


class Model:
    def __init__(self):
        self.activation = np.tanh

    def dot(self, v):
        return 3.0 * np.sum(v)


model = Model()


def callable_argument(x, fn):
    return np.sum(fn(x))  # refused


def callable_from_a_dict(x):
    fn = FUNCTIONS["tanh"]
    return np.sum(fn(x))  # refused


def alias_of_two_functions(x):
    if x[0] > 0:
        t = np.tanh
    else:
        t = np.sin
    return np.sum(t(x))  # refused


def extension_object_without_rule(x):
    return np.sum(vectorized_sine(x))  # refused


def attribute_of_an_instance(x):
    return np.sum(model.activation(x))  # refused


def method_of_an_object(x, obj):
    return obj.dot(x)  # refused


def _passed_through(v):
    return v


def method_of_what_a_call_returns(x, obj):
    return _passed_through(obj).dot(x)  # refused


def undefined_name(x):
    return np.sum(not_defined_anywhere(x))  # refused  # noqa: F821


REFUSED = [(callable_argument, (X, vectorized_sine)), (callable_from_a_dict, (X,)),
           (alias_of_two_functions, (X,)), (extension_object_without_rule, (X,)),
           (attribute_of_an_instance, (X,)), (method_of_an_object, (X, {"w": 1.0})),
           (method_of_what_a_call_returns, (X, model)), (undefined_name, (X,))]


@pytest.mark.parametrize("f, args", REFUSED, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_unknown_callables_are_refused_at_the_call(f, args, mode):
    transform = srcad.grad(f) if mode == "grad" else srcad.jvp(f)
    extra = (T,) if mode == "jvp" else ()
    with pytest.raises(srcad.NoDerivativeError) as caught:
        transform(*args, *extra)
    assert caught.value.lineno == line_of(f, "# refused")
    assert caught.value.filename == __file__


def test_refusals_say_why_and_what_to_write():
    with pytest.raises(srcad.NoDerivativeError, match="'fn' is a parameter"):
        srcad.grad(callable_argument)(X, vectorized_sine)
    with pytest.raises(srcad.NoDerivativeError, match=r"np\.dot\(obj"):
        srcad.grad(method_of_an_object)(X, {"w": 1.0})
    with pytest.raises(srcad.NoDerivativeError, match="'numpy.vectorize' object"):
        srcad.grad(extension_object_without_rule)(X)


def test_an_unknown_callable_on_constants_just_runs():
    def uses_callable_on_a_constant(x, fn):
        return np.sum(x) * fn(2.0)

    assert srcad.grad(uses_callable_on_a_constant)(X, math.exp) == \
        pytest.approx(np.full(3, math.exp(2.0)))


# -- transforms other than grad, called inside ------------------------------------------

value_and_gradient = srcad.value_and_grad(_sine_energy)
pullback_of = srcad.vjp(_sine_energy)
tangent_of = srcad.jvp(_sine_energy)
jacobian_of = srcad.jacobian(_sine_energy)
hessian_of = srcad.hessian(_sine_energy)
hessian_vector_of = srcad.hvp(_sine_energy)


def _cubic(s):
    return s ** 3


second_derivative = srcad.grad(srcad.grad(_cubic))


def calls_value_and_grad(x):
    return value_and_gradient(x)[0]  # refused


def calls_vjp(x):
    return pullback_of(x)[0]  # refused


def calls_jvp(x):
    return tangent_of(x, x)[1]  # refused


def calls_jacobian(x):
    return np.sum(jacobian_of(x))  # refused


def calls_hessian(x):
    return np.sum(hessian_of(x))  # refused


def calls_hvp(x):
    return np.sum(hessian_vector_of(x, x))  # refused


def calls_grad_of_grad(x):
    return np.sum(x) * second_derivative(x[0])  # refused


CALLS_TRANSFORMS = [calls_value_and_grad, calls_vjp, calls_jvp, calls_jacobian, calls_hessian,
                    calls_hvp, calls_grad_of_grad]


@pytest.mark.parametrize("f", CALLS_TRANSFORMS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_transforms_without_rules_are_refused_by_name(f, mode):
    transform = srcad.grad(f) if mode == "grad" else srcad.jvp(f)
    with pytest.raises(srcad.NoDerivativeError, match="<srcad[.]") as caught:
        transform(X, *((T,) if mode == "jvp" else ()))
    assert caught.value.lineno == line_of(f, "# refused")


def makes_a_gradient_inside(x):
    return srcad.grad(_sine_energy)(x)[0]  # refused


def test_a_transform_made_inside_is_refused_with_where_to_make_it():
    with pytest.raises(srcad.NoDerivativeError, match="at module level") as caught:
        srcad.grad(makes_a_gradient_inside)(X)
    assert caught.value.lineno == line_of(makes_a_gradient_inside, "# refused")


def scaled_by_a_transform_of_a_constant(x):
    value, gradient = value_and_gradient(W)
    return np.sum(x * gradient) * value + hessian_vector_of(W, W)[0] * x[1]


def test_transforms_of_constants_give_their_values():
    check_both(scaled_by_a_transform_of_a_constant, X)


def calls_a_gradient(x):
    return sine_energy_grad(x)[0] * x[1]


def test_a_third_derivative_is_refused():
    with pytest.raises(srcad.NoDerivativeError, match="third order"):
        srcad.hessian(calls_a_gradient)(X)


def _pair_energy(x, y):
    return np.sum(np.sin(x) * y ** 2)


pair_gradients = srcad.grad(_pair_energy, wrt=(0, 1))
pair_gradient_one = srcad.grad(_pair_energy, wrt=(1,))


def uses_pair_gradients(x):
    gx, gy = pair_gradients(x, 2.0 * x)
    (only,) = pair_gradient_one(x, x)
    return np.sum(gx * gy) + only[2]


def test_gradients_of_several_arguments_called_inside():
    check_both(uses_pair_gradients, X)


# -- module-level names keep Python's meaning ------------------------------------------

BUFFER = np.zeros(3)
SCALE = 2.0


def writes_a_global(x):
    BUFFER[0] = x[0]  # refused
    return np.sum(BUFFER * x)


def writes_through_a_view_of_a_global(x):
    part = BUFFER[0:2]
    part[0] = x[0]  # refused
    return np.sum(BUFFER)


def writes_through_a_local_alias(x):
    b = BUFFER
    b[1] = x[1]  # refused
    return np.sum(b)


def adds_into_a_global(x):
    b = BUFFER.T
    b += x  # refused
    return np.sum(BUFFER)


def declares_a_global(x):
    global SCALE  # refused
    SCALE = x[0]
    return np.sum(x)


@pytest.mark.parametrize("f", [writes_a_global, writes_through_a_view_of_a_global,
                               writes_through_a_local_alias, adds_into_a_global,
                               declares_a_global], ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_writes_into_module_level_values_are_refused(f, mode):
    transform = srcad.grad(f) if mode == "grad" else srcad.jvp(f)
    with pytest.raises(srcad.UnsupportedSyntaxError) as caught:
        transform(X, *((T,) if mode == "jvp" else ()))
    assert caught.value.lineno == line_of(f, "# refused")
    assert not BUFFER.any()


def writes_into_a_copy_of_a_global(x):
    b = np.copy(BUFFER)
    b[0] = x[0]
    return np.sum(b * x) * SCALE


def test_a_copy_of_a_global_may_be_written():
    check_both(writes_into_a_copy_of_a_global, X)


def nested_helper_reads_a_global(x):
    def scaled(v):
        return SCALE * np.sum(v ** 2)
    return scaled(x)


def helper_on_a_slice_of_a_global(x, s):
    def scaled(u):
        return u * s
    ys = scaled(x)
    x = scaled(BUFFER[::-1])
    return np.sum(ys * ys)


def test_second_derivatives_read_slices_of_globals():
    """The gradient reads BUFFER as module.BUFFER; forward mode over it reads that too."""
    np.testing.assert_allclose(srcad.hvp(helper_on_a_slice_of_a_global)(X, 0.5, T),
                               0.5 * T)


def _scaled_tanh(a, b, scale=SCALE):
    return (np.tanh(b) + b * scale) * a


def passes_a_global_by_keyword(x):
    return np.sum(_scaled_tanh(x, b=SCALE, scale=-0.4))


def test_a_global_passed_to_a_helper_has_no_tangent():
    check_both(passes_a_global_by_keyword, X)


def _closure_with_helper(scale):
    def f(x):
        def scaled(v):
            return scale[0] * np.sum(v ** 2) + cube(v)

        def cube(v):
            return np.sum(v ** 3)
        return scaled(x)
    return f


def test_a_nested_helper_reads_module_level_names_when_called(monkeypatch):
    gradient = srcad.grad(nested_helper_reads_a_global)
    np.testing.assert_allclose(gradient(X), 2 * SCALE * X)
    monkeypatch.setattr(__import__(__name__), "SCALE", 5.0, raising=True)
    np.testing.assert_allclose(gradient(X), 10.0 * X)
    assert srcad.jvp(nested_helper_reads_a_global)(X, T)[1] == pytest.approx(10.0 * X @ T)


def test_nested_helpers_see_the_closure_and_each_other():
    scale = [2.0]
    f = _closure_with_helper(scale)
    check_both(f, X)
    scale[0] = 3.0
    np.testing.assert_allclose(srcad.grad(f)(X), 6.0 * X + 3 * X ** 2)


def _shadowed(v):
    return 100.0 * v


def test_an_empty_closure_cell_hides_the_global_of_its_name():
    def f(x):
        return np.sum(_shadowed(x))  # refused

    with pytest.raises(srcad.NoDerivativeError, match="cannot find '_shadowed'"):
        srcad.grad(f)(X)
    assert f.__code__.co_freevars == ("_shadowed",)

    def _shadowed(v):    # noqa: F811  (bound after the transform is taken: a closure cell)
        return v


STAR_IMPORT = """
import numpy as np
from numpy import *


def dot_by_loops(a, b):
    total = 0.0
    for u, v in zip(a, b):
        total = total + u * v
    for w in a:
        total = total + abs(w) * w
    return total
"""


def test_loops_use_the_builtins_even_where_a_module_shadows_them(tmp_path, monkeypatch):
    (tmp_path / "star_imported.py").write_text(STAR_IMPORT)
    monkeypatch.syspath_prepend(str(tmp_path))
    import star_imported
    a, b = np.array([0.5, -1.0, 2.0]), np.array([1.5, 2.0, -0.5])
    check_grad(star_imported.dot_by_loops, a, b)
    check_jvp(star_imported.dot_by_loops, a, b)
