"""The generated code is what Python would run now.

Generated code is cached; an entry is used only while the code and defaults
of every function it was made from, and the bindings of the names srcad
looked up, are unchanged. Defaults, globals and closure cells are the objects
Python uses at that call. The cache is bounded and holds functions weakly.
Oracle: the derivatives are known in closed form (x**2, x**3) or taken by
central finite differences.
"""
import gc
import importlib
import linecache
import sys
import textwrap
import weakref

import numpy as np

import srcad
from srcad import api
from oracle import numerical_grad
from srcad.rules.templates import d


def run_cell(namespace, source, filename):
    """What a notebook does with a cell: compile its text and run it in the namespace."""
    source = textwrap.dedent(source)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)


# -- a helper redefined after the gradient was made (a notebook cell run again) --------------

def test_helper_redefined_in_a_notebook():
    notebook = {"__name__": "notebook", "np": np}
    run_cell(notebook, """
        def helper(x):
            return x * x

        def f(x):
            return helper(x) + 1.0
        """, "<cell 1>")
    df, vg = srcad.grad(notebook["f"]), srcad.value_and_grad(notebook["f"])
    assert df(3.0) == 6.0 and vg(3.0) == (10.0, 6.0)
    run_cell(notebook, """
        def helper(x):
            return x * x * x
        """, "<cell 2>")
    assert df(3.0) == 27.0                       # the gradient made before
    assert vg(3.0) == (28.0, 27.0)               # the value too
    assert srcad.grad(notebook["f"])(3.0) == 27.0    # a new gradient
    assert srcad.jvp(notebook["f"])(3.0, 1.0) == (28.0, 27.0)
    assert srcad.hessian(notebook["f"])(3.0) == 18.0


def test_helper_redefined_two_levels_down():
    notebook = {"__name__": "notebook", "np": np}
    run_cell(notebook, """
        def inner(x):
            return np.sin(x)

        def middle(x):
            return 2.0 * inner(x)

        def f(x):
            return np.sum(middle(x))
        """, "<cell 3>")
    df = srcad.grad(notebook["f"])
    x = np.array([0.1, 0.2])
    assert np.allclose(df(x), 2.0 * np.cos(x))
    run_cell(notebook, "def inner(x):\n    return np.tanh(x)\n", "<cell 4>")
    assert np.allclose(df(x), numerical_grad(notebook["f"], (x,)))
    assert np.allclose(df(x), 2.0 * (1.0 - np.tanh(x) ** 2))


def square(x):
    return x * x


def cube(x):
    return x * x * x


def calls_operation(x):
    return operation(x)


operation = square


def test_global_function_rebound():
    global operation
    df = srcad.grad(calls_operation)
    assert df(3.0) == 6.0
    try:
        operation = cube
        assert df(3.0) == 27.0
        assert srcad.value_and_grad(calls_operation)(3.0) == (27.0, 27.0)
    finally:
        operation = square
    assert df(3.0) == 6.0


def make_closure():
    op = square

    def f(x):
        return op(x)

    def rebind(new):
        nonlocal op
        op = new
    return f, rebind


def test_closure_cell_rebound():
    f, rebind = make_closure()
    df = srcad.grad(f)
    assert df(3.0) == 6.0
    rebind(cube)
    assert df(3.0) == 27.0


def test_code_replaced():
    def f(x):
        return x * x
    df = srcad.grad(f)
    assert df(3.0) == 6.0
    f.__code__ = cube.__code__
    assert df(3.0) == 27.0


def test_module_reloaded(tmp_path, monkeypatch):
    path = tmp_path / "srcad_reloaded_helpers.py"
    path.write_text("def helper(x):\n    return x * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("srcad_reloaded_helpers")
    try:
        def f(x):
            return module.helper(x)
        df = srcad.grad(f)
        assert df(3.0) == 6.0
        path.write_text("def helper(x):\n    return x * x * x  # reloaded\n")
        importlib.invalidate_caches()
        importlib.reload(module)        # the same module object, a new helper in it
        assert df(3.0) == 27.0
    finally:
        sys.modules.pop("srcad_reloaded_helpers", None)


# -- defaults, globals and cells: Python's objects at the call -------------------------------

def with_mutable_default(x, c=[1.0]):
    return x * c[0]


def test_mutable_default_is_the_functions_own_object():
    df = srcad.grad(with_mutable_default)
    assert df(2.0) == 1.0
    with_mutable_default.__defaults__[0][0] = 4.0
    try:
        assert df(2.0) == 4.0
        assert srcad.grad(with_mutable_default)(2.0) == 4.0
    finally:
        with_mutable_default.__defaults__[0][0] = 1.0
    assert "c=c_default" in df.source


SCALE = 2.0


def default_from_a_global(x, s=SCALE):
    return x * s


def test_default_is_bound_when_the_def_ran():
    global SCALE
    SCALE = 7.0
    try:
        assert srcad.grad(default_from_a_global)(1.0) == 2.0
        assert default_from_a_global(1.0) == 2.0
    finally:
        SCALE = 2.0


def test_defaults_replaced():
    def f(x, s=2.0):
        return x * s
    df = srcad.grad(f)
    assert df(1.0) == 2.0
    f.__defaults__ = (5.0,)
    assert df(1.0) == 5.0


def test_array_default_is_not_evaluated_again():
    def f(x, w=np.arange(3.0)):
        return np.sum(x * w)
    w = f.__defaults__[0]
    df = srcad.grad(f)
    assert np.allclose(df(np.ones(3)), w)
    w[:] = [5.0, 6.0, 7.0]
    assert np.allclose(df(np.ones(3)), [5.0, 6.0, 7.0])


OFFSET = 1.0


def nested_helper_reads_a_global(x):
    def shifted(y):
        return y * OFFSET
    return shifted(x)


def test_nested_helper_reads_globals_live():
    global OFFSET
    df = srcad.grad(nested_helper_reads_a_global)
    assert df(2.0) == 1.0
    OFFSET = 3.0
    try:
        assert df(2.0) == 3.0
    finally:
        OFFSET = 1.0


def test_closure_data_read_live():
    def make(scale):
        def f(x):
            return x * scale[0]
        return f
    scale = [2.0]
    df = srcad.grad(make(scale))
    assert df(1.0) == 2.0
    scale[0] = 3.0
    assert df(1.0) == 3.0


WEIGHT = 2.0


def uses_weight(x):
    return x * WEIGHT


def test_rebinding_data_reuses_the_code():
    global WEIGHT
    df = srcad.grad(uses_weight)
    assert df(1.0) == 2.0
    compiled = df.last
    try:
        for w in (3.0, 4.0, 5.0):
            WEIGHT = w
            assert df(1.0) == w
            assert df.last is compiled      # data is read live: nothing to regenerate
    finally:
        WEIGHT = 2.0


# -- the cache: bounded, weak ------------------------------------------------------------------

def made(k):
    def f(x):
        return x * x * k
    return f


def test_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(srcad.config, "cache_size", 3)
    functions = [made(float(k)) for k in range(8)]
    for k, f in enumerate(functions):
        assert srcad.grad(f)(1.0) == 2.0 * k
    assert len(api._CACHE.entries) <= 3
    assert srcad.grad(functions[0])(1.0) == 0.0      # regenerated


def test_cache_holds_functions_weakly():
    f = made(3.0)
    df = srcad.grad(f)
    assert df(1.0) == 6.0
    keys = [key for key in api._CACHE.entries if key[0]() is f]
    filename = df.last.primal.__code__.co_filename
    assert keys and filename in linecache.cache
    alive = weakref.ref(f)
    del f, df
    gc.collect()
    assert alive() is None
    assert not any(key in api._CACHE.entries for key in keys)
    assert filename not in linecache.cache      # and its generated file is removed


def test_least_recently_used_is_dropped_first(monkeypatch):
    monkeypatch.setattr(srcad.config, "cache_size", 2)
    a, b, c = made(1.0), made(2.0), made(3.0)
    srcad.grad(a)(1.0)
    srcad.grad(b)(1.0)
    srcad.grad(a)(1.0)          # a used last
    srcad.grad(c)(1.0)          # drops b
    keys = [key[0]() for key in api._CACHE.entries]
    assert a in keys and c in keys and b not in keys


def test_staleness_is_checked_on_the_hot_path():
    notebook = {"__name__": "notebook", "np": np}
    run_cell(notebook, "def h(x):\n    return np.sin(x)\n\n"
                       "def f(x):\n    return np.sum(h(x))\n", "<cell 5>")
    df = srcad.grad(notebook["f"])
    x = np.array([0.3, 0.4])
    for _ in range(3):      # the hot path: positional arrays seen before
        assert np.allclose(df(x), np.cos(x))
    run_cell(notebook, "def h(x):\n    return np.exp(x)\n", "<cell 6>")
    assert np.allclose(df(x), np.exp(x))


# -- rules registered after the code was generated ---------------------------------------------

def softsign(x):
    return x / (1.0 + abs(x))


def uses_softsign(x):
    return np.sum(softsign(x))


def test_rule_registered_later_is_used():
    from srcad.rules import ADJOINTS
    x = np.array([0.5, -2.0])
    df = srcad.grad(uses_softsign)
    assert np.allclose(df(x), 1.0 / (1.0 + np.abs(x)) ** 2)      # from softsign's source
    try:
        @srcad.adjoint(softsign)
        def softsign_adjoint(result, x):
            d[x] = d[result] * 2.0      # not softsign's derivative: which code runs shows

        assert np.allclose(df(x), 2.0)
        assert np.allclose(srcad.grad(uses_softsign)(x), 2.0)

        @srcad.adjoint(softsign)
        def softsign_adjoint_again(result, x):      # a notebook cell edited and run again
            d[x] = d[result] * 3.0

        assert np.allclose(df(x), 3.0)
    finally:
        ADJOINTS.pop(softsign, None)
