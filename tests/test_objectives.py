"""The objectives of benchmarks/bench_objectives.py: their values and srcad's derivatives.

Values are checked against independent scalar-loop transcriptions of the
ADBench definitions (ADBench's GMM test problem and its D-LSTM data file are
not part of srcad, so their golden values cannot be reproduced here);
gradients against central finite differences in float64, the k-means Newton
step against its closed form, and everything against JAX in float64 where
JAX is installed.
"""
import importlib.util
import math
import pathlib

import numpy as np
import pytest

import srcad
from oracle import numerical_grad

pytest.importorskip("scipy")

_PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_objectives.py"
_SPEC = importlib.util.spec_from_file_location("bench_objectives", _PATH)
bench = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench)


# -- independent references: one scalar at a time, as ADBench's C++ writes them ----

def log_multigamma(a, p):
    return p * (p - 1) / 4 * math.log(math.pi) + sum(
        math.lgamma(a + (1 - j) / 2) for j in range(1, p + 1))


def scalar_logsumexp(values):
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def gmm_reference(alphas, means, icf, x, gamma, m):
    N, D = x.shape
    K = len(alphas)
    likelihood = 0.0
    for i in range(N):
        terms = []
        for k in range(K):
            Q = [[0.0] * D for _ in range(D)]
            for j in range(D):
                Q[j][j] = math.exp(icf[k][j])
            entry = D
            for col in range(D):
                for row in range(col + 1, D):
                    Q[row][col] = icf[k][entry]
                    entry += 1
            centred = [x[i][j] - means[k][j] for j in range(D)]
            norm2 = sum(sum(Q[r][c] * centred[c] for c in range(D)) ** 2 for r in range(D))
            terms.append(alphas[k] + sum(icf[k][:D]) - 0.5 * norm2)
        likelihood += scalar_logsumexp(terms)
    n = D + m + 1
    C = n * D * (math.log(gamma) - 0.5 * math.log(2)) - log_multigamma(0.5 * n, D)
    prior = sum(0.5 * gamma ** 2 * (sum(math.exp(2 * q) for q in icf[k][:D])
                                    + sum(v * v for v in icf[k][D:])) - m * sum(icf[k][:D])
                for k in range(K)) - K * C
    return (-0.5 * N * D * math.log(2 * math.pi) + likelihood
            - N * scalar_logsumexp(list(alphas)) + prior)


def sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


def lstm_reference(main, extra, state, seq):
    layers, b = len(main) // 2, len(seq[0])
    hidden = [list(state[2 * i]) for i in range(layers)]
    cell = [list(state[2 * i + 1]) for i in range(layers)]
    total = 0.0
    for t in range(len(seq) - 1):
        x = [seq[t][j] * extra[0][j] for j in range(b)]
        for i in range(layers):
            w, bias = main[2 * i], main[2 * i + 1]
            for j in range(b):
                forget = sigmoid(x[j] * w[j] + bias[j])
                ingate = sigmoid(hidden[i][j] * w[b + j] + bias[b + j])
                outgate = sigmoid(x[j] * w[2 * b + j] + bias[2 * b + j])
                change = math.tanh(hidden[i][j] * w[3 * b + j] + bias[3 * b + j])
                cell[i][j] = cell[i][j] * forget + ingate * change
                hidden[i][j] = outgate * math.tanh(cell[i][j])
            x = hidden[i]
        y = [x[j] * extra[1][j] + extra[2][j] for j in range(b)]
        norm = math.log(sum(math.exp(v) for v in y) + 2.0)
        total += sum(seq[t + 1][j] * (y[j] - norm) for j in range(b))
    return -total / ((len(seq) - 1) * b)


def ode_reference(x, y0, steps):
    n, h = len(x), 2.0 / steps

    def rhs(y):
        return [x[0]] + [x[i] * y[i - 1] for i in range(1, n)]

    y = list(y0)
    for _ in range(steps):
        k1 = rhs(y)
        k2 = rhs([y[i] + 0.5 * h * k1[i] for i in range(n)])
        k3 = rhs([y[i] + 0.5 * h * k2[i] for i in range(n)])
        k4 = rhs([y[i] + h * k3[i] for i in range(n)])
        y = [y[i] + h / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]) for i in range(n)]
    return y[-1]


# -- small problems --------------------------------------------------------------------

def gmm_args(D=3, K=4, N=5, seed=0):
    return bench.gmm_data(D, K, N, np.random.default_rng(seed))


def lstm_args(seed=0):
    return bench.lstm_data(2, 5, np.random.default_rng(seed), bits=4)


def ode_args(seed=0):
    x, _, steps = bench.ode_data(5, 8, np.random.default_rng(seed))
    return x, np.random.default_rng(seed + 1).random(5), steps


def kmeans_args(seed=0):
    return bench.kmeans_data(40, 3, 2, np.random.default_rng(seed))


# -- values ------------------------------------------------------------------------------

@pytest.mark.parametrize("D,K,N", [(2, 3, 1), (3, 4, 5)])
def test_gmm_value(D, K, N):
    args = gmm_args(D, K, N)
    assert bench.gmm_objective(*args) == pytest.approx(gmm_reference(*args), rel=1e-12)


def test_gmm_value_with_wishart_m():
    alphas, means, icf, x, _, _ = gmm_args()
    args = (alphas, means, icf, x, 1.7, 2)
    assert bench.gmm_objective(*args) == pytest.approx(gmm_reference(*args), rel=1e-12)


def test_lstm_value():
    args = lstm_args()
    assert bench.lstm_objective(*args) == pytest.approx(lstm_reference(*args), rel=1e-12)


def test_ode_value():
    args = ode_args()
    assert bench.ode_solve(*args) == pytest.approx(ode_reference(*args), rel=1e-12)


def test_ode_value_against_exact_solution():
    # with x = 1 and y0 = 0 the exact solution is y_i(t) = t**(i+1) / (i+1)!; RK4 is
    # exact for polynomials of degree <= 4
    y = bench.ode_solve(np.ones(4), np.zeros(4), 3)
    assert y == pytest.approx(2.0 ** 4 / 24, rel=1e-12)


# -- derivatives ---------------------------------------------------------------------------

@pytest.mark.parametrize("f,make_args,wrt", [
    (bench.gmm_objective, gmm_args, (0, 1, 2)),
    (bench.lstm_objective, lstm_args, (0, 1)),
    (bench.ode_solve, ode_args, (0, 1)),
], ids=["gmm", "lstm", "ode"])
def test_gradient_against_finite_differences(f, make_args, wrt):
    args = make_args()
    got = srcad.grad(f, wrt=wrt)(*args)
    expected = numerical_grad(f, args, wrt=wrt)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-8)


def test_kmeans_newton_step_against_closed_form():
    centroids, points = kmeans_args()
    got = bench.kmeans_newton_step(centroids, points)
    np.testing.assert_allclose(got, bench.kmeans_closed_form(centroids, points),
                               rtol=1e-12, atol=1e-12)
    # the closed form's gradient against finite differences
    np.testing.assert_allclose(srcad.grad(bench.kmeans_cost)(centroids, points),
                               numerical_grad(bench.kmeans_cost, (centroids, points)),
                               rtol=1e-6, atol=1e-8)


@pytest.fixture(scope="module")
def jax_versions():
    pytest.importorskip("jax")
    return bench.jax_versions()


@pytest.mark.parametrize("name,f,make_args,wrt", [
    ("gmm", bench.gmm_objective, gmm_args, (0, 1, 2)),
    ("ode", bench.ode_solve, ode_args, (0, 1)),
    ("kmeans", bench.kmeans_cost, kmeans_args, None),
])      # D-LSTM is left out: compiling its lax.scan takes seconds
def test_against_jax(jax_versions, name, f, make_args, wrt):
    args = make_args()
    objective, derivative = jax_versions[name]
    assert float(objective(*args)) == pytest.approx(f(*args), rel=1e-12)
    got = bench.as_tuple(bench.srcad_derivative(f, wrt)(*args))
    expected = bench.as_tuple(derivative(*args))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, np.asarray(e), rtol=1e-9, atol=1e-12)
