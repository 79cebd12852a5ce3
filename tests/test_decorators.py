"""Decorated functions are differentiated as what they are: the wrapper's own code.

A decorator made with functools.wraps sets `__wrapped__`; srcad never follows
it to differentiate the undecorated function in the wrapper's place. A wrapper
with parameters of its own is differentiated like any function; one taking
`*args, **kwargs` that only forwards them to the function it wraps takes that
function's parameters. What srcad cannot read that way (a wrapper using
`args` otherwise, a cache, a callable object) is refused,
at the user's line where there is one. Gradients are checked against central
differences (oracle.py).
"""
import functools
import os

import numpy as np
import pytest

import srcad
from oracle import check_grad, line_of, numerical_grad


def assert_located(err, f, marker):
    """err names this file and the line of f that carries marker."""
    assert os.path.realpath(err.filename) == os.path.realpath(__file__)
    assert err.lineno == line_of(f, marker)
    assert f"{os.path.basename(__file__)}:{err.lineno}" in str(err)


# --- decorators -----------------------------------------------------------------------------------

def doubled(fn):
    """The decorator of issue's table: the wrapper returns twice the function."""
    @functools.wraps(fn)
    def wrapper(x):
        return 2.0 * fn(x)
    return wrapper


def doubled_forwarding(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # MARK (refused where fn has a default that is an array)
        return 2.0 * fn(*args, **kwargs)
    return wrapper


def shifted_positional(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args) + 1.0
    return wrapper


def squared_output(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        value = fn(*args, **kwargs)
        return value * value
    return wrapper


def without_wraps(fn):
    def wrapper(x, y):
        return np.sin(fn(x, y))
    return wrapper


def scaled(c):
    """A decorator with an argument; its wrapper names the parameter its own way."""
    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(value):
            return c * fn(value)
        return wrapper
    return decorator


def swapped(fn):
    @functools.wraps(fn)
    def wrapper(b, a):
        return fn(a, b) * np.sum(a)
    return wrapper


def registered(fn):
    """A decorator that returns the function itself (a registry)."""
    return fn


@doubled
def table_row(x):
    return np.sum(np.tanh(x) ** 2)


def table_row_undecorated(x):
    return np.sum(np.tanh(x) ** 2)


@doubled_forwarding
def forwarded(x, y=3.0, *, k=0.5):
    return np.sum(x * x * y) * k


@shifted_positional
def positional(x, y):
    return np.sum(np.sin(x) * y)


@squared_output
@doubled_forwarding
def stacked(x):
    return np.sum(x ** 3)


@without_wraps
def plain_wrapper(x, y):
    return np.sum(x * y)


@scaled(3.0)
def tripled(x):
    return np.sum(np.cos(x))


@swapped
def swapped_product(a, b):
    return np.sum(a * a * b)


@registered
def registry_entry(x):
    return np.sum(np.exp(x))


X = np.array([0.3, -0.8, 1.1])


# --- the wrapper's own code is differentiated ---------------------------------------------------

def test_wraps_decorator_gives_the_wrapper_gradient_not_the_wrapped_one():
    g = check_grad(table_row, X)
    np.testing.assert_allclose(g, 2.0 * srcad.grad(table_row_undecorated)(X), rtol=1e-12)


def forwarded_with_keyword(x):
    return forwarded(x, k=1.5)


def test_forwarding_wrapper_takes_the_wrapped_parameters():
    check_grad(forwarded, X)
    check_grad(forwarded, X, 2.0, wrt=1)
    check_grad(forwarded_with_keyword, X)
    g = srcad.grad(forwarded, wrt="y")(X, y=2.0, k=1.5)
    np.testing.assert_allclose(g, 2.0 * np.sum(X * X) * 1.5, rtol=1e-12)
    value, _ = srcad.value_and_grad(forwarded)(X)
    assert value == pytest.approx(forwarded(X))


def test_positional_only_forwarding():
    check_grad(positional, X, 2.0)
    check_grad(positional, X, 2.0, wrt=1)


def test_stacked_decorators():
    check_grad(stacked, X)


def test_wrapper_naming_its_parameters_its_own_way():
    """The wrapper's parameters are the ones Python binds: `swapped_product(a, b)` runs
    `wrapper(b=a, a=b)`, whatever functools.wraps makes the signature report."""
    y = np.array([0.4, 1.2, -0.5])
    check_grad(tripled, X)
    check_grad(swapped_product, X, y)
    check_grad(swapped_product, X, y, wrt=1)
    assert srcad.value_and_grad(swapped_product)(X, y)[0] == pytest.approx(
        swapped_product(X, y))


def test_wrapper_without_wraps_and_registering_decorator():
    check_grad(plain_wrapper, X, X[::-1].copy())
    check_grad(registry_entry, X)


def calls_decorated_helpers(x):
    return table_row(x) + forwarded(x, 2.0) + positional(x, x[0]) + stacked(x[1:])


def test_decorated_helpers_called_inside():
    check_grad(calls_decorated_helpers, X)


@pytest.mark.parametrize("f", [table_row, forwarded, stacked, calls_decorated_helpers],
                         ids=lambda f: f.__name__)
def test_forward_mode_through_wrappers(f):
    v = np.array([1.0, -2.0, 0.5])
    value, tangent = srcad.jvp(f)(X, v)
    assert value == pytest.approx(f(X))
    expected = np.dot(numerical_grad(f, (X,)), v)
    assert tangent == pytest.approx(expected, rel=1e-6)


def test_hessian_through_a_forwarding_wrapper():
    h = srcad.hessian(forwarded)(X)
    expected = np.array([numerical_grad(lambda x: srcad.grad(forwarded)(x)[i], (X,))
                         for i in range(3)])
    np.testing.assert_allclose(h, expected, rtol=1e-6, atol=1e-8)


def test_wrapper_side_effects_run(capsys):
    def announcing(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            print("calling")
            return fn(*args, **kwargs)
        return wrapper

    f = announcing(table_row_undecorated)
    check_grad(f, X)
    assert "calling" in capsys.readouterr().out


# --- wrappers srcad cannot read as Python does: refused at their line --------------------------

def forwards_without_wraps(fn):
    def wrapper(*args, **kwargs):  # MARK
        return fn(*args, **kwargs)
    return wrapper


def reads_args(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(args[0] * 2.0)  # MARK
    return wrapper


def forwards_to_another(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return table_row_undecorated(*args, **kwargs)  # MARK
    return wrapper


def forwards_with_an_extra_argument(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(X, *args, **kwargs)  # MARK
    return wrapper


def takes_fewer_parameters(fn):
    @functools.wraps(fn)
    def wrapper(x):  # MARK
        return fn(x, x)
    return wrapper


def shadows_a_parameter(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # MARK
        x = 3.0
        return x * fn(*args, **kwargs)
    return wrapper


def _sum(x):
    return np.sum(x * x)


def _product(x, y):
    return np.sum(x * y)


def _weighted(x, w=np.ones(3)):
    return np.sum(x * w)


REFUSED = [
    (forwards_without_wraps, _sum, "functools.wraps"),
    (reads_args, _sum, "'args'"),
    (forwards_to_another, _sum, "function it wraps"),
    (forwards_with_an_extra_argument, _product, "function it wraps"),
    (takes_fewer_parameters, _product, "differ"),
    (shadows_a_parameter, _sum, "'x'"),
    (doubled_forwarding, _weighted, "default"),
]


@pytest.mark.parametrize("decorator, fn, says", REFUSED, ids=[d.__name__ for d, _, _ in REFUSED])
def test_wrapper_refused_at_its_line(decorator, fn, says):
    wrapped = decorator(fn)
    two = fn is _product

    def caller(x):
        return wrapped(x)

    def caller_of_two(x):
        return wrapped(x, x)

    for f in (wrapped, caller_of_two if two else caller):   # transformed, or called inside
        with pytest.raises(srcad.UnsupportedSyntaxError) as info:
            srcad.grad(f)(*((X, X) if two and f is wrapped else (X,)))
        assert_located(info.value, decorator, "# MARK")
        assert says in info.value.message


# --- caches, callable objects, partials ------------------------------------------------------------

@functools.lru_cache
def cached(x):
    return x * 3.0


def uses_cached_on_active(x):
    return cached(x) * x  # MARK


def uses_cached_on_constant(x):
    return cached(2.0) * x


class Doubling:
    """A decorator returning a callable object, not a function."""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.fn = fn

    def __call__(self, x):
        return 2.0 * self.fn(x)


@Doubling
def doubled_object(x):
    return x * x


def uses_doubled_object(x):
    return doubled_object(x) + x  # MARK


def test_cached_helper_on_a_differentiated_value_is_refused_at_the_call():
    with pytest.raises(srcad.NoDerivativeError) as info:
        srcad.grad(uses_cached_on_active)(1.5)
    assert_located(info.value, uses_cached_on_active, "# MARK")


def test_cached_helper_on_constants_runs():
    assert check_grad(uses_cached_on_constant, 1.5) == pytest.approx(6.0)


@pytest.mark.parametrize("f", [uses_doubled_object], ids=lambda f: f.__name__)
def test_callable_objects_called_inside_are_refused_at_the_call(f):
    with pytest.raises(srcad.NoDerivativeError) as info:
        srcad.grad(f)(1.5)
    assert_located(info.value, f, "# MARK")


@pytest.mark.parametrize("obj", [cached, doubled_object], ids=["lru_cache", "callable object"])
def test_transform_of_a_non_function_is_refused_not_unwrapped(obj):
    for transform in (srcad.grad, srcad.jvp, srcad.value_and_grad):
        with pytest.raises(srcad.SrcadError, match="write a def"):
            transform(obj)


# --- functools.wraps of a builtin: the function wears its name, never its rule ------------------

@functools.wraps(max)
def wears_max(x):
    return x * x


@functools.wraps(np.sin)
def wears_sin(x):
    return x * x


def wraps_max_by_hand(x):
    return x * x


wraps_max_by_hand.__wrapped__ = max     # keeps this module's __module__, unlike wraps


def calls_wears_max(x):
    return wears_max(x) + x  # MARK


def calls_wraps_max_by_hand(x):
    return wraps_max_by_hand(x) + x  # MARK


def calls_wears_sin(x):
    return wears_sin(x) + x  # MARK


def test_wraps_of_a_builtin_is_refused_not_given_its_rule():
    # inspect.signature reads np.sin's parameters on Python 3.11+ with NumPy 2 only, and
    # never max's: where it cannot, the wrapper is refused at its def all the same
    for f in (wears_max, wears_sin, wraps_max_by_hand):
        with pytest.raises(srcad.UnsupportedSyntaxError, match="functools.wraps|differ") as info:
            srcad.grad(f)(1.5)
        assert os.path.realpath(info.value.filename) == os.path.realpath(__file__)
        def_line = f.__code__.co_firstlineno + (f is not wraps_max_by_hand)   # under @wraps
        assert info.value.lineno == def_line
    for f in (calls_wears_max, calls_wears_sin, calls_wraps_max_by_hand):
        with pytest.raises(srcad.NoDerivativeError) as info:
            srcad.grad(f)(1.5)
        assert_located(info.value, f, "# MARK")


def calls_positional_by_keyword(x):
    return positional(x, y=2.0)  # MARK


def test_keyword_call_of_a_wrapper_taking_args_alone_is_refused_at_the_call():
    """Python refuses it (the wrapper takes no keywords): srcad too, at the call."""
    with pytest.raises(TypeError):
        calls_positional_by_keyword(X)
    for transform, args in ((srcad.grad, (X,)), (srcad.jvp, (X, X))):
        with pytest.raises(srcad.SrcadError, match="positional") as info:
            transform(calls_positional_by_keyword)(*args)
        assert_located(info.value, calls_positional_by_keyword, "# MARK")


def _halved(fn):
    def wrapper(*args, **kwargs):   # no functools.wraps: its parameters are its own
        return fn(*args, **kwargs) * 0.5
    return wrapper


@_halved
def dec_halved_product(x, y):
    return np.sum(x * y)


@pytest.mark.parametrize("transform", [srcad.grad, srcad.jvp, srcad.value_and_grad])
@pytest.mark.parametrize("wrt", [0, 1, (0, 1), "kwargs"])
def test_wrt_naming_a_star_parameter_is_refused(transform, wrt):
    with pytest.raises(srcad.SrcadError, match="gathers several arguments") as info:
        transform(dec_halved_product, wrt=wrt)
    assert info.value.lineno is not None
