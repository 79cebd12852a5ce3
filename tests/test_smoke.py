"""Fast smoke tests of srcad's core (run in CI under the newest Python too).

Each test covers one headline feature; the topic files test them in depth.
"""

import os

import numpy as np
import pytest

import srcad
from oracle import check_grad, check_vjp, line_of, numerical_grad


def readme_loss(W, b, X, y):
    h = np.zeros((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):
        h[i] = np.tanh(X[i] @ W + b)
    err = h - y
    if np.mean(err) > 0:
        err = 2.0 * err
    return np.sum(err ** 2)


def _readme_data(sign):
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 4)) * 0.5
    b = rng.normal(size=4) * 0.5
    X = rng.normal(size=(5, 3))
    y = sign * 2.0 + 0.1 * rng.normal(size=(5, 4))
    return W, b, X, y


@pytest.mark.parametrize("sign", [-1.0, 1.0], ids=["err-doubled", "err-kept"])
def test_readme_example(sign):
    @srcad.grad(wrt=(0, 1))
    def loss(W, b, X, y):
        h = np.zeros((X.shape[0], W.shape[1]))
        for i in range(X.shape[0]):
            h[i] = np.tanh(X[i] @ W + b)
        err = h - y
        if np.mean(err) > 0:
            err = 2.0 * err
        return np.sum(err ** 2)

    W, b, X, y = _readme_data(sign)
    dW, db = loss(W, b, X, y)
    # closed form of the same loss
    h = np.tanh(X @ W + b)
    s = 2.0 if np.mean(h - y) > 0 else 1.0
    dz = 2.0 * s * s * (h - y) * (1.0 - h ** 2)
    np.testing.assert_allclose(dW, X.T @ dz, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(db, dz.sum(axis=0), rtol=1e-10, atol=1e-12)
    fd_W, fd_b = numerical_grad(readme_loss, (W, b, X, y), wrt=(0, 1))
    np.testing.assert_allclose(dW, fd_W, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(db, fd_b, rtol=1e-6, atol=1e-6)


def smoke_loop(x, n):
    y = x
    for i in range(n):
        y = y * x + np.sin(y)
    return np.sum(y)


def test_loop():
    check_grad(smoke_loop, np.array([0.3, -0.7, 1.1]), 3)


def smoke_branch(x):
    if np.sum(x) > 0:
        y = x ** 2
    else:
        y = np.exp(x)
    return np.sum(y)


@pytest.mark.parametrize("x", [np.array([1.0, 2.0]), np.array([-1.0, -2.0])], ids=["then", "else"])
def test_branch(x):
    g = check_grad(smoke_branch, x)
    expected = 2 * x if np.sum(x) > 0 else np.exp(x)
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)


def _smoke_helper(x, scale=2.0):
    return scale * np.tanh(x)


def smoke_calls_helper(x, a):
    return np.sum(_smoke_helper(x) + _smoke_helper(x * x, scale=a))


def test_helper_call():
    check_grad(smoke_calls_helper, np.array([0.5, -0.25]), 1.5, wrt=(0, 1))


def smoke_subscript_write(x):
    y = np.zeros(3)
    y[0] = x[1] * 2.0
    y[2] = x[0] * x[1]
    return np.sum(y ** 2)


def test_subscript_write():
    x = np.array([1.5, -0.5])
    g = check_grad(smoke_subscript_write, x)
    # y = [2 x1, 0, x0 x1]; sum y^2 = 4 x1^2 + x0^2 x1^2
    np.testing.assert_allclose(g, [2 * x[0] * x[1] ** 2, 8 * x[1] + 2 * x[0] ** 2 * x[1]], rtol=1e-9, atol=1e-12)


def smoke_scalar(x, y):
    return x * x * y + 3.0 * y


def test_value_and_grad():
    value, (dx, dy) = srcad.value_and_grad(smoke_scalar, wrt=(0, 1))(2.0, 5.0)
    assert value == pytest.approx(35.0)
    assert isinstance(dx, float) and isinstance(dy, float)
    assert dx == pytest.approx(20.0)
    assert dy == pytest.approx(7.0)


def smoke_vector_out(x):
    return np.sin(x) * x[0]


def test_vjp_non_scalar_output():
    x = np.array([0.4, 1.2, -0.3])
    ct = np.array([1.0, -2.0, 0.5])
    _, g = check_vjp(smoke_vector_out, (x,), ct)
    expected = ct * np.cos(x) * x[0]
    expected[0] += np.sum(ct * np.sin(x))
    np.testing.assert_allclose(g, expected, rtol=1e-9, atol=1e-12)


def test_grad_of_non_scalar_output_is_refused():
    with pytest.raises(srcad.SrcadError, match="vjp|jacobian"):
        srcad.grad(smoke_vector_out)(np.array([0.4, 1.2]))


def smoke_try(x):
    try:  # refused
        y = x * 2.0
    except ValueError:
        y = x
    return y


def test_try_is_refused_with_location():
    with pytest.raises(srcad.UnsupportedSyntaxError) as info:
        srcad.grad(smoke_try)(1.0)
    err = info.value
    assert isinstance(err, srcad.SrcadError)
    assert os.path.realpath(err.filename) == os.path.realpath(__file__)
    assert err.lineno == line_of(smoke_try, "# refused")
    assert f"{os.path.basename(__file__)}:{err.lineno}" in str(err)


def test_source_compiles():
    df = srcad.grad(smoke_loop)
    assert isinstance(df.source, str) and df.source.strip()
    compile(df.source, "<srcad-smoke>", "exec")
