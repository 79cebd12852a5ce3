"""A rule's parameters are checked against its primitive's on the NumPy installed: a
parameter only a newer NumPy takes is declared with since=, and checked where it exists."""
import numpy as np
import pytest

import srcad
from srcad.rules import ADJOINTS
from srcad.rules.templates import d
from oracle import check_grad


def sort_of_numpy_1(a, axis=-1, kind=None, order=None):
    """np.sort's parameters in NumPy 1.26 (NumPy 2.0 added `*, stable=None`)."""
    return np.sort(a, axis, kind, order)


def sort_rule(result, a, axis=-1, kind=None, order=None, *, stable=None):
    d[a] = d[result][np.argsort(np.argsort(a))]


def sort_rule_misspelt(result, a, axis=-1, kind=None, order=None, *, stabel=None):
    d[a] = d[result][np.argsort(np.argsort(a))]


def sort_rule_newer_first(result, a, stable=None, axis=-1):
    d[a] = d[result][np.argsort(np.argsort(a))]


def weighted_sort(x):
    return np.sum(sort_of_numpy_1(x) * np.array([1.0, 2.0, 3.0]))


@pytest.fixture
def numpy_version(monkeypatch):
    """Set the NumPy version rules are registered under; unregister the test's rule."""
    yield lambda version: monkeypatch.setattr(np, "__version__", version)
    ADJOINTS.pop(sort_of_numpy_1, None)


def test_a_parameter_that_numpy_adds_later_is_declared(numpy_version):
    numpy_version("1.26.4")
    with pytest.raises(srcad.SrcadError, match="'stable'"):
        srcad.adjoint(sort_of_numpy_1)(sort_rule)
    srcad.adjoint(sort_of_numpy_1, since={"stable": "2.0.0"})(sort_rule)
    assert ADJOINTS[sort_of_numpy_1].fn is sort_rule
    check_grad(weighted_sort, np.array([0.3, -1.2, 2.5]))


def test_a_declared_parameter_is_checked_where_numpy_has_it(numpy_version):
    numpy_version("2.0.0")      # the version since= names: the primitive must take it
    with pytest.raises(srcad.SrcadError, match="'stable'"):
        srcad.adjoint(sort_of_numpy_1, since={"stable": "2.0.0"})(sort_rule)
    assert sort_of_numpy_1 not in ADJOINTS


@pytest.mark.parametrize("version", ["1.26.4", "2.0.0"])
@pytest.mark.parametrize("rule, since, says", [
    (sort_rule_misspelt, {"stable": "2.0.0"}, "no such parameter"),
    (sort_rule_newer_first, {"stable": "2.0.0"}, "comes last"),
    (sort_rule, {"stable": "2.0"}, "not a NumPy version"),
])
def test_a_wrong_declaration_is_refused_on_every_numpy(numpy_version, version, rule, since,
                                                       says):
    numpy_version(version)
    with pytest.raises(srcad.SrcadError, match=says) as info:
        srcad.adjoint(sort_of_numpy_1, since=since)(rule)
    assert info.value.lineno == rule.__code__.co_firstlineno
    assert sort_of_numpy_1 not in ADJOINTS



def _cube(a):
    return a ** 3       # of a Python float: a Python float, which has no .shape


@srcad.adjoint(_cube)
def _cube_adjoint(result, a):
    d[a] = d[result] * 3.0 * a ** 2


def summed_cube(s):
    v = _cube(s)
    return np.sum(v ** 2)


def test_a_custom_primitive_may_return_a_number():
    # the result of a function with a custom rule was taken for an array, and the
    # gradient of np.sum(v ** 2) read v's .shape
    check_grad(summed_cube, 0.7)
    check_grad(summed_cube, np.array([0.7, -0.2]))
