"""Generated names never shadow the helpers bound in the same generated module, and
transforms of transforms describe themselves."""
import importlib

import numpy as np
import pytest

import srcad
from srcad.errors import SrcadError
from oracle import check_grad

MODULE = '''
import numpy


def where(x):
    return numpy.sum(numpy.where(x > 0, x, 0.1 * x) ** 2)


def extremum(x):
    return numpy.max(x) + numpy.sum(numpy.where(x > 0, x, 0.0))


def unbroadcast(x, b):
    return numpy.sum(x * b)


def repeat_to_shape(x):
    return numpy.sum(x[0] * x)


def np(x):
    return numpy.sum(numpy.tanh(x) * x)


def as_gradient(x):
    return np(x) + unbroadcast(x, x[0]) + numpy.mean(x)


def copy_value(x):
    return as_gradient(x) * extremum(x)
'''

NAMES = ["where", "extremum", "unbroadcast", "repeat_to_shape", "np", "as_gradient",
         "copy_value"]


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    import sys
    path = tmp_path_factory.mktemp("names")
    (path / "helper_named.py").write_text(MODULE)
    sys.path.insert(0, str(path))
    try:
        yield importlib.import_module("helper_named")
    finally:
        sys.path.remove(str(path))


@pytest.mark.parametrize("fn_name", NAMES)
def test_function_named_like_a_helper(module, fn_name):
    f = getattr(module, fn_name)
    x = np.array([[1.5, -2.0, 0.7]])
    args = (x, np.array([[0.5], [2.0]])) if fn_name == "unbroadcast" else (x,)
    check_grad(f, *args)
    df = srcad.grad(f)
    df(*args)
    compile(df.source, "<generated>", "exec")
    jac = srcad.jacobian(f)(*args)
    np.testing.assert_allclose(jac, df(*args))
    h = srcad.hessian(f)(*args)
    assert h.shape == x.shape + x.shape


@pytest.mark.parametrize("fn_name", NAMES)
def test_jvp_of_a_function_named_like_a_helper(module, fn_name):
    f = getattr(module, fn_name)
    x = np.array([1.5, -2.0, 0.7])
    args = (x, np.array([0.5, 2.0, 1.0])) if fn_name == "unbroadcast" else (x,)
    t = np.array([0.3, 0.1, -0.2])
    value, tangent = srcad.jvp(f)(*args, t)
    np.testing.assert_allclose(tangent, np.sum(srcad.grad(f)(*args) * t))


def cube(x):
    return np.sum(x ** 3)


@pytest.mark.parametrize("make, shown", [
    (lambda: srcad.jacobian(srcad.hessian(cube)), "hessian of cube"),
    (lambda: srcad.grad(srcad.hessian(cube)), "hessian of cube"),
    (lambda: srcad.grad(srcad.jacobian(cube)), "jacobian of cube"),
    (lambda: srcad.grad(srcad.hvp(cube)), "hvp of cube"),
])
def test_transform_of_a_non_gradient_transform_is_a_srcad_error(make, shown):
    with pytest.raises(SrcadError, match=shown):
        make()


def test_repr_of_nested_transforms():
    inner = srcad.grad(cube)
    assert repr(srcad.jacobian(inner)) == "<srcad.jacobian of cube>"
    assert repr(srcad.hessian(cube)) == "<srcad.hessian of cube>"
    assert repr(srcad.hvp(cube)) == "<srcad.hvp of cube>"
    np.testing.assert_allclose(srcad.jacobian(inner)(np.array([1.0, 2.0])),
                               np.diag([6.0, 12.0]))
