"""Generated code's globals: a plain dict with helpers and modules bound, data read live."""
import linecache
import math

import numpy as np

import srcad

SCALE = 2.0
WEIGHTS = np.array([1.0, 2.0, 3.0])


def uses_global_scalar(x):
    return x * SCALE + math.sin(x)


def uses_global_array(x):
    return np.sum(x * WEIGHTS)


def test_reassigned_global_scalar_is_seen():
    global SCALE
    df = srcad.grad(uses_global_scalar)
    assert df(0.5) == SCALE + math.cos(0.5)
    old = SCALE
    try:
        SCALE = 5.0
        assert df(0.5) == 5.0 + math.cos(0.5)
    finally:
        SCALE = old
    assert df(0.5) == old + math.cos(0.5)


def test_reassigned_global_array_is_seen():
    global WEIGHTS
    df = srcad.grad(uses_global_array)
    x = np.zeros(3)
    np.testing.assert_allclose(df(x), WEIGHTS)
    old = WEIGHTS
    try:
        WEIGHTS = np.array([-1.0, 0.5, 4.0])
        np.testing.assert_allclose(df(x), [-1.0, 0.5, 4.0])
    finally:
        WEIGHTS = old


def test_closure_variable_rebound_is_seen():
    scale = 3.0

    def f(x):
        return x * scale

    df = srcad.grad(f)
    assert df(1.0) == 3.0
    scale = 7.0
    assert df(1.0) == 7.0
    assert f(1.0) == 7.0


def test_globals_are_a_plain_dict():
    df = srcad.grad(uses_global_scalar)
    df(0.5)
    assert type(df.last.primal.__globals__) is dict
    assert type(df.last.adjoint.__globals__) is dict


def test_live_read_is_readable():
    df = srcad.grad(uses_global_scalar)
    df(0.5)
    assert "test_emit.SCALE" in df.source
    assert "math.sin(x)" in df.source


def test_global_defined_after_the_transform():
    source = "def f(x):\n    return np.sum(x * LATER)\n"
    filename = "<test_emit exec'd module>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": np, "__name__": "not_a_module"}
    exec(compile(source, filename, "exec"), namespace)
    df = srcad.grad(namespace["f"])
    namespace["LATER"] = 2.0
    np.testing.assert_allclose(df(np.ones(2)), [2.0, 2.0])
