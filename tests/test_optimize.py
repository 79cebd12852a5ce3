"""The adjoint clean-up: code left without statements by dead-store removal still compiles."""
import numpy as np
import pytest

import srcad
from oracle import dead_assignments


def returns_constant_in_branch(x):
    if x > 5:
        return 1.0
    return x * x


def returns_constant_array_in_branch(x):
    if np.sum(x) > 5:
        return 1.0
    return np.sum(x * x)


@pytest.mark.parametrize("x, expected", [(2.0, 4.0), (7.0, 0.0)])
def test_branch_returning_a_constant(x, expected):
    df = srcad.grad(returns_constant_in_branch)
    assert df(x) == expected
    compile(df.source, "<generated>", "exec")
    assert dead_assignments(df.source) == []


def test_branch_returning_a_constant_arrays():
    df = srcad.grad(returns_constant_array_in_branch)
    np.testing.assert_allclose(df(np.array([1.0, 2.0])), [2.0, 4.0])
    np.testing.assert_allclose(df(np.array([3.0, 4.0])), [0.0, 0.0])


def test_no_comment_without_code():
    df = srcad.grad(returns_constant_in_branch)
    df(2.0)
    lines = df.source.splitlines()
    for line, following in zip(lines, lines[1:]):
        if line.strip().startswith("# grad of"):
            assert not following.strip().startswith(("#", "return")), (line, following)
