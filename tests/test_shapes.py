"""Code specialized to shape patterns: plain NumPy where shapes are known, right gradients
when the sizes change, helpers kept where the pattern does not decide."""
import numpy as np
import pytest

import srcad
from srcad.shapes import broadcast, matmul_shape, shape_pattern


def test_shape_pattern_names_equal_sizes_alike():
    pattern = shape_pattern({"X": np.zeros((5, 3)), "w": np.zeros(3), "y": np.zeros(5),
                             "b": np.zeros((1, 3)), "s": 2.0, "xs": [1.0]})
    assert pattern == {"X": ("n1", "n2"), "w": ("n2",), "y": ("n1",), "b": (1, "n2"), "s": ()}


def test_broadcast_and_matmul_patterns():
    assert broadcast(("n1", "n2"), ("n2",)) == ("n1", "n2")
    assert broadcast(("n1", 1), (1, "n2")) == ("n1", "n2")
    assert broadcast(("n1",), ("n2",)) is None
    assert matmul_shape(("n1", "n2"), ("n2",)) == ("n1",)
    assert matmul_shape(("n2",), ("n2", "n3")) == ("n3",)
    assert matmul_shape(("n1", "n2"), ("n3", "n2")) is None


def logistic(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def logistic_by_hand(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return X.T @ (p - y) / y.shape[0]


def layer(W, b, X):
    return np.sum(np.tanh(X @ W + b) ** 2)


def layer_by_hand(W, b, X):
    h = np.tanh(X @ W + b)
    da = 2 * h * (1 - h * h)
    return X.T @ da, da.sum(axis=0)


@pytest.mark.parametrize("n", [7, 3, 1, 4])
def test_logistic_for_several_sizes(n):
    rng = np.random.default_rng(n)
    X, w = rng.normal(size=(n, 4)), rng.normal(size=4)
    y = (rng.random(n) < 0.5).astype(float)
    df = srcad.grad(logistic)
    np.testing.assert_allclose(df(w, X, y), logistic_by_hand(w, X, y), rtol=1e-10)


def test_logistic_source_is_plain_numpy():
    rng = np.random.default_rng(0)
    X, w, y = rng.normal(size=(6, 3)), rng.normal(size=3), np.ones(6)
    df = srcad.grad(logistic)
    df(w, X, y)
    assert "unbroadcast" not in df.source and "matmul_right" not in df.source
    assert "X.T @" in df.source
    # the mean's gradient stays a scalar: every elementwise rule it reaches broadcasts it
    assert "np.full" not in df.source and "/ y.size" in df.source


@pytest.mark.parametrize("shapes", [((4, 3), (3,), (5, 4)), ((4, 4), (4,), (4, 4)),
                                    ((4, 1), (1,), (5, 4)), ((4, 3), (1, 3), (5, 4)),
                                    ((1, 3), (3,), (5, 1))])
def test_bias_broadcasting_for_several_patterns(shapes):
    rng = np.random.default_rng(1)
    W, b, X = (rng.normal(size=s) for s in shapes)
    dW, db = srcad.grad(layer, wrt=(0, 1))(W, b, X)
    hW, hb = layer_by_hand(W, b, X)
    np.testing.assert_allclose(dW, hW, rtol=1e-10)
    np.testing.assert_allclose(db, np.reshape(hb, b.shape) if b.ndim == 1 else
                               hb.reshape(1, -1), rtol=1e-10)
    assert dW.shape == W.shape and db.shape == b.shape


def rnn(Wx, Wh, xs, h0):
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ Wx + h @ Wh)
    return np.sum(h ** 2)


def test_rnn_matches_finite_differences_when_sizes_coincide():
    rng = np.random.default_rng(2)
    for n in (3, 4):    # 4: the input and hidden sizes are equal
        Wx, Wh = rng.normal(size=(n, 4)) * 0.3, rng.normal(size=(4, 4)) * 0.3
        xs, h0 = rng.normal(size=(5, n)), rng.normal(size=4)
        dWx, dWh = srcad.grad(rnn, wrt=(0, 1))(Wx, Wh, xs, h0)
        E = rng.normal(size=Wh.shape)
        eps = 1e-6
        fd = (rnn(Wx, Wh + eps * E, xs, h0) - rnn(Wx, Wh - eps * E, xs, h0)) / (2 * eps)
        assert np.isclose(np.sum(dWh * E), fd, rtol=1e-6)
        E = rng.normal(size=Wx.shape)
        fd = (rnn(Wx + eps * E, Wh, xs, h0) - rnn(Wx - eps * E, Wh, xs, h0)) / (2 * eps)
        assert np.isclose(np.sum(dWx * E), fd, rtol=1e-6)


def test_new_batch_size_reuses_the_code():
    rng = np.random.default_rng(3)
    df = srcad.grad(logistic)
    df(rng.normal(size=3), rng.normal(size=(6, 3)), np.ones(6))
    first = df.last
    df(rng.normal(size=3), rng.normal(size=(9, 3)), np.ones(9))
    assert df.last is first


def test_hessian_through_the_mean_gradient():
    rng = np.random.default_rng(4)
    X, w, y = rng.normal(size=(6, 3)), rng.normal(size=3), np.ones(6)
    H = srcad.hessian(logistic)(w, X, y)
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    np.testing.assert_allclose(H, X.T @ (X * (p * (1 - p))[:, None]) / 6, rtol=1e-8)


def rhs(x, y):
    z = np.empty_like(y)
    z[0] = x[0]
    z[1:] = x[1:] * y[:-1]
    return z


def euler(x, y0, w):
    y = y0
    for _ in range(3):
        y = y + 0.1 * rhs(x, y) * w
    return np.sum(y ** 2)


def test_a_helper_returns_its_kind_and_shape():
    from oracle import check_grad
    rng = np.random.default_rng(5)
    x, y0, w = rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)
    df = srcad.grad(euler, wrt=(0, 1, 2))
    check_grad(euler, x, y0, w, wrt=(0, 1, 2))
    df(x, y0, w)
    adjoint = df.source.split("def euler_adjoint")[1].split("def ")[0]
    assert "unbroadcast" not in adjoint and "accumulate" not in adjoint
    # z[1:] = x[1:] * y[:-1]: the slots and the value have one shape, n1-1
    assert "dmul = dz[1:]" in df.source
    # products added into a new total share no memory (of dz, arithmetic makes new
    # arrays), and are returned as they are
    assert "return (dx, dy)" in df.source


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_slices_of_any_size_against_a_broadcast_operand(n):
    # x[1:] has the derived dimension n1-1, which is 1 when n is 2: a product with an
    # array of one entry, or of n entries, must sum its gradient back either way
    from oracle import check_grad

    def f(x, w, v):
        a = x[1:] * w
        b = x[:-1] * x[1:]
        return np.sum(a * a) + np.sum(b * v[:-1])

    rng = np.random.default_rng(n)
    df = srcad.grad(f, wrt=(0, 1, 2))
    for w in (rng.normal(size=1), rng.normal(size=max(n - 1, 1))):
        x, v = rng.normal(size=n), rng.normal(size=n)
        try:
            f(x, w, v)
        except ValueError:
            continue
        got = df(x, w, v)
        check_grad(f, x, w, v, wrt=(0, 1, 2))
        assert [g.shape for g in got] == [x.shape, w.shape, v.shape]


def test_a_helper_of_unknown_result_and_a_recursive_one_stay_general():
    from oracle import check_grad

    def pair(a):
        return a, 2.0 * a

    def power(a, k):
        return a if k == 0 else a * power(a, k - 1)

    def f(x):
        p, q = pair(x)
        return np.sum(p * q) + np.sum(power(x, 2))

    check_grad(f, np.array([0.5, -1.0, 2.0]))


def kmeans(centroids, points):
    d2 = np.sum((points[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    return np.sum(np.min(d2, axis=1))


def test_new_axes_keep_shapes_and_a_factor_leaves_the_sum():
    from oracle import check_grad, dead_assignments
    rng = np.random.default_rng(6)
    centroids, points = rng.normal(size=(3, 2)), rng.normal(size=(7, 2))
    check_grad(kmeans, centroids, points)
    df = srcad.grad(kmeans)
    df(centroids, points)
    # the broadcast over points is summed straight away, and -2 scales the (1, 3, 2) sum
    assert "-2 * np.sum(dpow * sub, axis=0, keepdims=True)" in df.source
    hvp = srcad.hvp(kmeans)
    ones = np.ones_like(centroids)
    np.testing.assert_allclose(hvp(centroids, points, ones),
                               2.0 * np.bincount(np.argmin(
                                   ((points[:, None] - centroids[None]) ** 2).sum(2), axis=1),
                                   minlength=3)[:, None] * ones)
    assert dead_assignments(hvp.source) == []
    # the squares are read only for their shape, which sub has: they are not recorded
    assert "stack.append((centroids, sub, d2, min_))" in df.source
    # f_grad runs straight through, so the hvp is one function; of the squares, the
    # distances and the minima it computes no tangent: the gradient is linear in sub
    code = "\n".join(line for line in hvp.source.splitlines() if "#" not in line)
    assert code.count("\ndef ") == 1 and "stack" not in code
    assert code.count("extremum_grad(") == 1 and code.count("fit(") == 2


def scaled_in_a_branch(W, flag):
    if flag:
        W = W * np.tanh(W)
    shifted = W + 1.0
    return np.sum(shifted)


def test_a_shape_is_read_of_an_array_bound_on_every_path():
    # shifted is read for its shape only; the branch's tanh has that shape pattern but
    # is None where the branch did not run (seed 22007830)
    from fuzz_programs import check_program
    from oracle import check_grad
    W = np.array([[0.5, -1.2], [0.3, 0.8]])
    for flag in (True, False):
        check_grad(scaled_in_a_branch, W, flag)
    assert check_program(22007830).status == "ok"
