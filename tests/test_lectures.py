"""The lectures' worked examples, each with its known answer and finite differences.

d/dx(2x^3 - 6x^2 + x + 1) at 2 is 1; grad(2x^2 + 3y^2) at (4, 5) is (16, 30);
f = 6(x1 + x2^2 x3) gives (6, 12 x2 x3, 6 x2^2); d/dx cos(x^2) = -2x sin(x^2);
d/dw sum sin(3w + b) = 3 cos(3w + b); softmax; logistic regression; a
2-layer MLP; an RNN loop.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import srcad
from oracle import (arrays, check_against_autograd, check_grad, check_value_and_grad, floats,
                    numerical_grad)


def cubic(x):
    return 2 * x ** 3 - 6 * x ** 2 + x + 1


def test_cubic_at_2_is_1():
    assert srcad.grad(cubic)(2.0) == pytest.approx(1.0, abs=1e-12)
    assert srcad.grad(cubic)(2) == pytest.approx(1.0, abs=1e-12)
    g = check_grad(cubic, 2.0)
    assert g == pytest.approx(1.0, abs=1e-12)


@given(x=floats(-3.0, 3.0))
def test_cubic_everywhere(x):
    g = check_grad(cubic, x)
    assert g == pytest.approx(6 * x * x - 12 * x + 1, abs=1e-9)


def bowl(x, y):
    return 2 * x ** 2 + 3 * y ** 2


def test_bowl_gradient_at_4_5():
    dx, dy = srcad.grad(bowl, wrt=(0, 1))(4.0, 5.0)
    assert (dx, dy) == (pytest.approx(16.0), pytest.approx(30.0))
    check_grad(bowl, 4.0, 5.0, wrt=(0, 1))
    check_against_autograd(bowl, 4.0, 5.0, wrt=(0, 1))


def test_bowl_gradient_by_name():
    dx, dy = srcad.grad(bowl, wrt=("x", "y"))(4.0, 5.0)
    assert dx == pytest.approx(16.0) and dy == pytest.approx(30.0)


def six_x(x1, x2, x3):
    return 6 * (x1 + x2 ** 2 * x3)


@given(x1=floats(-2.0, 2.0), x2=floats(-2.0, 2.0), x3=floats(-2.0, 2.0))
def test_six_x(x1, x2, x3):
    g = check_grad(six_x, x1, x2, x3, wrt=(0, 1, 2))
    assert g[0] == pytest.approx(6.0)
    assert g[1] == pytest.approx(12 * x2 * x3, abs=1e-9)
    assert g[2] == pytest.approx(6 * x2 ** 2, abs=1e-9)


def six_x_vector(x):
    return 6 * (x[0] + x[1] ** 2 * x[2])


def test_six_x_as_a_vector():
    x = np.array([1.0, 2.0, 3.0])
    g = check_grad(six_x_vector, x)
    np.testing.assert_allclose(g, [6.0, 12 * 2.0 * 3.0, 6 * 4.0], rtol=1e-12)


def cos_square(x):
    return np.cos(x ** 2)


@given(x=floats(-2.0, 2.0))
def test_cos_of_square(x):
    g = check_grad(cos_square, x)
    assert g == pytest.approx(-2 * x * np.sin(x * x), abs=1e-9)


def test_cos_of_square_elementwise_array():
    x = np.array([0.3, -1.2, 1.7])

    def f(x):
        return np.sum(np.cos(x ** 2))

    g = check_grad(f, x)
    np.testing.assert_allclose(g, -2 * x * np.sin(x * x), rtol=1e-9)
    check_against_autograd(f, x)


def sum_sin(w, b):
    return np.sum(np.sin(3 * w + b))


@given(w=arrays(st.integers(1, 5).map(lambda n: (n,))), data=st.data())
def test_sum_sin(w, data):
    b = data.draw(arrays(w.shape))
    dw, db = check_grad(sum_sin, w, b, wrt=(0, 1))
    np.testing.assert_allclose(dw, 3 * np.cos(3 * w + b), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(db, np.cos(3 * w + b), rtol=1e-9, atol=1e-12)


# --- softmax ---------------------------------------------------------------------------

def softmax_cross_entropy(z, label):
    z = z - np.max(z)
    p = np.exp(z) / np.sum(np.exp(z))
    return -np.log(p[label])


@given(z=arrays(st.integers(2, 6).map(lambda n: (n,)), floats(-3.0, 3.0)), data=st.data())
def test_softmax_cross_entropy(z, data):
    label = data.draw(st.integers(0, z.shape[0] - 1))
    g = check_grad(softmax_cross_entropy, z, label)
    p = np.exp(z - np.max(z))
    p = p / p.sum()
    onehot = np.zeros_like(z)
    onehot[label] = 1.0
    np.testing.assert_allclose(g, p - onehot, rtol=1e-9, atol=1e-12)


def test_softmax_cross_entropy_matches_autograd():
    check_against_autograd(softmax_cross_entropy, np.array([0.3, -1.2, 2.0, 0.1]), 2)


# --- logistic regression ------------------------------------------------------------------

def logistic_loss(w, b, X, y):
    z = X @ w + b
    p = 1.0 / (1.0 + np.exp(-z))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def _logistic_data(seed=0, n=20, d=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (rng.random(n) > 0.5).astype(float)
    w = rng.normal(size=d) * 0.3
    return w, 0.1, X, y


def test_logistic_regression():
    w, b, X, y = _logistic_data()
    dw, db = check_grad(logistic_loss, w, b, X, y, wrt=(0, 1))
    p = 1 / (1 + np.exp(-(X @ w + b)))
    np.testing.assert_allclose(dw, X.T @ (p - y) / len(y), rtol=1e-9, atol=1e-12)
    assert isinstance(db, float)
    assert db == pytest.approx(float(np.mean(p - y)))
    check_against_autograd(logistic_loss, w, b, X, y, wrt=(0, 1))


def test_logistic_regression_value_and_grad():
    w, b, X, y = _logistic_data(1)
    check_value_and_grad(logistic_loss, w, b, X, y, wrt=(0, 1))


def test_logistic_regression_training_decreases_loss():
    w, b, X, y = _logistic_data(2, n=40)
    step = srcad.value_and_grad(logistic_loss, wrt=(0, 1))
    first, _ = step(w, b, X, y)
    for _ in range(30):
        loss, (dw, db) = step(w, b, X, y)
        w, b = w - 0.5 * dw, b - 0.5 * db
    assert loss < first


# --- a 2-layer MLP ------------------------------------------------------------------------------

def mlp_loss(W1, b1, W2, b2, X, Y):
    H = np.tanh(X @ W1 + b1)
    logits = H @ W2 + b2
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.sum(logp * Y) / X.shape[0]


def _mlp_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 5))
    Y = np.eye(3)[rng.integers(0, 3, size=6)]
    W1 = rng.normal(size=(5, 4)) * 0.5
    b1 = rng.normal(size=4) * 0.1
    W2 = rng.normal(size=(4, 3)) * 0.5
    b2 = rng.normal(size=3) * 0.1
    return W1, b1, W2, b2, X, Y


def test_two_layer_mlp():
    W1, b1, W2, b2, X, Y = _mlp_data()
    grads = check_grad(mlp_loss, W1, b1, W2, b2, X, Y, wrt=(0, 1, 2, 3))
    check_against_autograd(mlp_loss, W1, b1, W2, b2, X, Y, wrt=(0, 1, 2, 3))
    # hand-written backprop
    H = np.tanh(X @ W1 + b1)
    logits = H @ W2 + b2
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    dlogits = (P - Y) / X.shape[0]
    dZ = dlogits @ W2.T * (1 - H * H)
    expected = (X.T @ dZ, dZ.sum(axis=0), H.T @ dlogits, dlogits.sum(axis=0))
    for got, exp in zip(grads, expected):
        np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-12)


def mlp_params_dict(params, X, Y):
    H = np.tanh(X @ params["W1"] + params["b1"])
    logits = H @ params["W2"] + params["b2"]
    return np.sum((logits - Y) ** 2) / X.shape[0]


def test_two_layer_mlp_with_parameter_dict():
    W1, b1, W2, b2, X, Y = _mlp_data(1)
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    g = check_grad(mlp_params_dict, params, X, Y)
    assert set(g) == set(params)


# --- an RNN loop ----------------------------------------------------------------------------------

def rnn_loss(Wx, Wh, b, xs, target):
    h = np.zeros(Wh.shape[0])
    for t in range(xs.shape[0]):
        h = np.tanh(Wx @ xs[t] + Wh @ h + b)
    return np.sum((h - target) ** 2)


def rnn_loss_collect(Wx, Wh, b, xs, target):
    h = np.zeros(Wh.shape[0])
    hs = np.zeros((xs.shape[0], Wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(Wx @ xs[t] + Wh @ h + b)
        hs[t] = h
    return np.sum((hs - target) ** 2)


def _rnn_data(seed=0, T=5):
    rng = np.random.default_rng(seed)
    Wx = rng.normal(size=(4, 3)) * 0.5
    Wh = rng.normal(size=(4, 4)) * 0.5
    b = rng.normal(size=4) * 0.1
    xs = rng.normal(size=(T, 3))
    return Wx, Wh, b, xs


@pytest.mark.parametrize("T", [1, 5])
def test_rnn_loop(T):
    Wx, Wh, b, xs = _rnn_data(T=T)
    target = np.linspace(-0.5, 0.5, 4)
    check_grad(rnn_loss, Wx, Wh, b, xs, target, wrt=(0, 1, 2, 3))
    check_against_autograd(rnn_loss, Wx, Wh, b, xs, target, wrt=(0, 1, 2, 3))


def test_rnn_loop_writing_every_state_into_a_buffer():
    Wx, Wh, b, xs = _rnn_data(1)
    target = np.linspace(-0.5, 0.5, 4)
    grads = check_grad(rnn_loss_collect, Wx, Wh, b, xs, target, wrt=(0, 1, 2))
    # the same loss without in-place writes, differentiated by autograd
    def stacked(Wx, Wh, b, xs, target):
        import autograd.numpy as anp
        h = anp.zeros(Wh.shape[0])
        hs = []
        for t in range(xs.shape[0]):
            h = anp.tanh(Wx @ xs[t] + Wh @ h + b)
            hs.append(h)
        return anp.sum((anp.stack(hs) - target) ** 2)
    import autograd
    for k, got in enumerate(grads):
        expected = autograd.grad(stacked, k)(Wx, Wh, b, xs, target)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_rnn_long_sequence_matches_finite_differences_on_a_sample():
    Wx, Wh, b, xs = _rnn_data(2, T=40)
    target = np.linspace(-0.5, 0.5, 4)
    dWh = srcad.grad(rnn_loss, wrt=1)(Wx, Wh, b, xs, target)
    expected = numerical_grad(rnn_loss, (Wx, Wh, b, xs, target), wrt=1)
    np.testing.assert_allclose(dWh, expected, rtol=1e-6, atol=1e-6)
