"""Forward mode, Jacobians, Hessians and transforms of gradients.

Oracles: analytic derivatives, central finite differences (oracle.py), and
the dot-product identity <J v, u> = <v, J^T u> between jvp and vjp.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import srcad
from srcad.rules.templates import d
from oracle import arrays, assert_same_source, distinct_arrays, fenced_block, floats, numerical_grad


def lecture(x1, x2, x3):
    return 6.0 * (x1 + x2 ** 2 * x3)


def test_lecture_example_forward_three_times_equals_reverse_once():
    x = (1.5, -2.0, 0.5)
    analytic = (6.0, 12.0 * x[1] * x[2], 6.0 * x[1] ** 2)
    forward = []
    for direction in np.eye(3):
        value, tangent = srcad.jvp(lecture, wrt=(0, 1, 2))(*x, *direction)
        assert value == pytest.approx(lecture(*x))
        forward.append(tangent)
    reverse = srcad.grad(lecture, wrt=(0, 1, 2))(*x)
    np.testing.assert_allclose(forward, analytic, rtol=1e-12)
    np.testing.assert_allclose(reverse, analytic, rtol=1e-12)


def loops_and_branches(x, w):
    h = np.zeros_like(x)
    for i in range(x.shape[0]):
        h[i] = np.tanh(x[i] * w[i])
    total = 0.0
    k = 0
    while k < 3:
        if np.sum(h) > 0:
            total = total + np.sum(h ** 2) * k
        else:
            total = total - np.sum(np.sin(h))
        k += 1
    return np.exp(h) * total


def elementwise(x, w):
    y = x * w + np.sin(x) / (1.5 + np.cos(w))
    return np.maximum(y, 0.1 * y) ** 2


def reductions(x, w):
    return np.sum(np.tanh(x) * w, axis=0, keepdims=True) + np.mean(x * w) + np.max(x)


def products(x, w):
    m = np.reshape(x, (2, -1))
    return (m @ np.reshape(w, (-1, 2))).T


@pytest.mark.parametrize("f", [loops_and_branches, elementwise, reductions, products],
                         ids=lambda f: f.__name__)
@given(data=st.data())
def test_dot_product_identity_and_finite_differences(f, data):
    x = np.abs(data.draw(distinct_arrays((4,)))) + 0.2   # no ties for max
    w = data.draw(arrays((4,), floats(0.2, 1.5)))
    v = data.draw(arrays((4,), floats(-1.0, 1.0)))
    value, jv = srcad.jvp(f, wrt=0)(x, w, v)
    np.testing.assert_allclose(value, f(x, w), rtol=1e-12)
    u = data.draw(arrays(np.shape(value), floats(-1.0, 1.0)))
    _, pullback = srcad.vjp(f, wrt=0)(x, w)
    jtu = pullback(u)
    assert np.sum(jv * u) == pytest.approx(np.sum(v * jtu), rel=1e-9, abs=1e-12)
    expected = numerical_grad(lambda x_: np.sum(f(x_, w) * u), (x,), 0)
    np.testing.assert_allclose(jtu, expected, rtol=1e-6, atol=1e-6)


def calls_helper(x):
    return np.sum(_scaled(x, scale=2.0) ** 2)


def _scaled(x, scale=1.0):
    return scale * np.tanh(x)


def test_jvp_through_user_calls_matches_finite_differences():
    x = np.array([0.3, -0.4, 0.8])
    v = np.array([1.0, 0.5, -2.0])
    _, jv = srcad.jvp(calls_helper)(x, v)
    assert jv == pytest.approx(np.dot(numerical_grad(calls_helper, (x,), 0), v), rel=1e-7)


def vector_function(x):
    return np.tanh(x[:3]) * np.sum(x ** 2)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_jacobian_both_modes_match_finite_differences(mode):
    x = np.array([0.3, -0.4, 0.8, 1.2])
    jac = srcad.jacobian(vector_function, mode=mode)(x)
    assert jac.shape == (3, 4)
    expected = np.array([numerical_grad(lambda x_: vector_function(x_)[i], (x,), 0)
                         for i in range(3)])
    np.testing.assert_allclose(jac, expected, rtol=1e-7, atol=1e-9)


def cubic(x):
    return np.sum(x ** 3) + x[0] * x[1]


def test_hessian_of_a_polynomial_is_analytic():
    x = np.array([0.5, -1.5, 2.0])
    expected = np.diag(6.0 * x)
    expected[0, 1] = expected[1, 0] = 1.0
    np.testing.assert_allclose(srcad.hessian(cubic)(x), expected, rtol=1e-12, atol=1e-12)


def logistic_loss(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def test_hessian_of_logistic_regression_is_analytic_and_hvp_agrees():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 4))
    y = (rng.random(20) > 0.5).astype(float)
    w = rng.normal(size=4) * 0.3
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    expected = X.T @ (X * (p * (1 - p))[:, None]) / len(y)
    H = srcad.hessian(logistic_loss)(w, X, y)
    np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-12)
    v = rng.normal(size=4)
    np.testing.assert_allclose(srcad.hvp(logistic_loss)(w, X, y, v), H @ v, rtol=1e-10)


def test_one_element_wrt_tuples_give_tuples_like_grad():
    # grad(f, wrt=(0,)) is a 1-tuple; so are hvp's result and the gradient's tangent,
    # and the Hessian is a 1-tuple of 1-tuples (result[i][j] = d grad_i / d x_j)
    rng = np.random.default_rng(2)
    X, y, w, v = rng.normal(size=(6, 3)), np.ones(6), rng.normal(size=3), rng.normal(size=3)
    H = srcad.hessian(logistic_loss)(w, X, y)
    assert isinstance(srcad.grad(logistic_loss, wrt=(0,))(w, X, y), tuple)
    (hv,) = srcad.hvp(logistic_loss, wrt=(0,))(w, X, y, v)
    np.testing.assert_allclose(hv, H @ v, rtol=1e-10)
    ((h,),) = srcad.hessian(logistic_loss, wrt=(0,))(w, X, y)
    np.testing.assert_allclose(h, H, rtol=1e-12)
    (g,), (t,) = srcad.jvp(srcad.grad(logistic_loss, wrt=(0,)))(w, X, y, v)
    np.testing.assert_allclose(g, srcad.grad(logistic_loss)(w, X, y), rtol=1e-12)
    np.testing.assert_allclose(t, H @ v, rtol=1e-10)


def control_flow(x):
    y = x
    for i in range(3):
        if y > 0.5:
            y = y * np.sin(y)
        else:
            y = y + y ** 3
    return y


@pytest.mark.parametrize("x", [0.3, 1.2, 2.0])
def test_grad_of_grad_matches_finite_differences_of_the_gradient(x):
    first = srcad.grad(control_flow)
    second = srcad.grad(first)(x)
    h = 1e-5
    expected = (first(x + h) - first(x - h)) / (2 * h)
    assert second == pytest.approx(expected, rel=1e-6)


def test_jvp_source_interleaves_tangents_and_names_lines():
    f = srcad.jvp(cubic)
    f(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    assert "def cubic_jvp(" in f.source
    assert "# test_forward.py:" in f.source
    compile(f.source, "<jvp>", "exec")


LECTURE_FILE = '''import srcad


def f(x1, x2, x3):
    return 6.0 * (x1 + x2 ** 2 * x3)
'''


def test_modes_doc_shows_the_source_srcad_generates(tmp_path, monkeypatch):
    import importlib
    import pathlib

    (tmp_path / "lecture.py").write_text(LECTURE_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    lecture_module = importlib.import_module("lecture")
    forward = srcad.jvp(lecture_module.f, wrt=(0, 1, 2))
    reverse = srcad.grad(lecture_module.f, wrt=(0, 1, 2))
    assert forward(1.0, 2.0, 3.0, 1.0, 0.0, 0.0) == (78.0, 6.0)
    assert reverse(1.0, 2.0, 3.0) == (6.0, 72.0, 24.0)
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "modes.md").read_text()
    assert LECTURE_FILE.strip() in doc
    assert_same_source(fenced_block(doc, "# forward mode of f"), forward.source.strip())
    assert_same_source(fenced_block(doc, "# reverse mode of f"), reverse.source.strip())


def _doubled_sine(x):
    return np.sin(x) * 2.0


@srcad.tangent(_doubled_sine)
def _doubled_sine_tangent(result, x):
    t = d[x] * np.cos(x)        # the tangent reaches the result through a temporary
    d[result] = 2.0 * t


def _uses_doubled_sine(x):
    return np.sum(_doubled_sine(x) * x)


def test_forward_rule_reading_the_tangent_through_a_temporary():
    x, v = np.array([0.2, 0.5, -0.4]), np.array([1.0, -0.5, 0.3])
    _, tangent = srcad.jvp(_uses_doubled_sine)(x, v)
    expected = np.sum((2.0 * np.cos(x) * x + 2.0 * np.sin(x)) * v)
    np.testing.assert_allclose(tangent, expected, rtol=1e-12)


def _writes_through_another_name(x, W):
    a = W
    a[0] = a[0] * np.tanh(x)
    return np.sum(a * a)


def test_jvp_leaves_an_argument_written_through_another_name_unchanged():
    x, W = np.array([0.3, 0.5]), np.array([[1.0, 2.0], [3.0, 4.0]])
    before = W.copy()
    value, tangent = srcad.jvp(_writes_through_another_name)(x, W, np.array([1.0, -0.5]))
    np.testing.assert_array_equal(W, before)
    assert value == _writes_through_another_name(x, W.copy())
    expected = numerical_grad(_writes_through_another_name, (x, W.copy())) @ np.array([1.0, -0.5])
    np.testing.assert_allclose(tangent, expected, rtol=1e-6)


def copy_then_write_original(W, s):
    kept = W.copy()
    W[:, 0] = np.exp(W[:, 1])
    return np.sum(kept ** 2) + s * np.sum(W)


def test_tangent_of_a_copy_does_not_follow_later_writes():
    # kept's tangent was W's tangent itself, so the write into W's tangent reached it
    W = np.array([[0.1, 0.2], [0.3, 0.4]])
    V = np.array([[1.0, -0.5], [0.25, 2.0]])
    _, tangent = srcad.jvp(copy_then_write_original)(W.copy(), 0.7, V)
    e = 1e-6
    expected = (copy_then_write_original(W + e * V, 0.7)
                - copy_then_write_original(W - e * V, 0.7)) / (2 * e)
    assert tangent == pytest.approx(expected, rel=1e-7)


def _scale_tail_rows(A, s):
    A[1:] *= s


def scales_its_argument_by_a_call(W, s):
    _scale_tail_rows(W, s)      # W's new rows depend on s
    return np.sum(W ** 3)


def test_jvp_through_a_call_that_updates_an_array_argument():
    # an array parameter passed to a function was taken as not updated by it: s's tangent
    # was not passed to the call
    W = np.array([[0.1, -0.2], [0.3, 0.4], [0.5, 0.6]])
    V = np.array([[1.0, -0.5], [0.25, 2.0], [-1.0, 0.5]])
    _, tangent = srcad.jvp(scales_its_argument_by_a_call, wrt=(0, 1))(W.copy(), 0.7, V, -0.3)
    e = 1e-6
    expected = (scales_its_argument_by_a_call(W + e * V, 0.7 - 0.3 * e)
                - scales_its_argument_by_a_call(W - e * V, 0.7 + 0.3 * e)) / (2 * e)
    assert tangent == pytest.approx(expected, rel=1e-7)


def copied_row_then_written(x, W):
    v = W[:, 1].copy()
    W[1] -= x
    return np.sum(v * v)


def converted_row_then_written(x, W):
    v = W[:, 1].astype(np.float64)
    W[1] = x * 2.0
    return np.sum(np.sin(v)) + np.sum(W)


def copied_argument_then_written(x, W):
    c = W.copy()
    W[0] *= x[0]
    return np.sum(c * W)


@pytest.mark.parametrize("f", [copied_row_then_written, converted_row_then_written,
                               copied_argument_then_written],
                         ids=lambda f: f.__name__)
def test_the_tangent_of_a_copy_is_a_copy(f):
    # v = W[:, 1].copy(): its tangent was dW[:, 1] itself, which `W[1] -= x` then wrote
    # into along with W: 1.5 where 2.0 is right (seed 18004517)
    from oracle import numerical_jvp
    x, W = np.array([0.1, 0.2, 0.3]), np.arange(6.0).reshape(2, 3) * 0.1
    tx, tW = np.array([0.5, -0.2, 0.3]), np.array([[1.0, 0.4, -0.7], [0.2, 1.1, 0.6]])
    _, tangent = srcad.jvp(f, wrt=(0, 1))(x.copy(), W.copy(), tx, tW)
    expected = numerical_jvp(f, (x, W), [0, 1], [tx, tW])
    np.testing.assert_allclose(tangent, expected, rtol=1e-6, atol=1e-8)
