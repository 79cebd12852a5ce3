"""numpy.linalg: determinants, inverses, solves, decompositions, norms and powers.

Matrices are drawn well conditioned (B + (n+1) I, or B B^T + n I when symmetric
positive definite) with 1..4 rows and stacked over leading axes; decompositions
are tested through outputs that do not depend on the sign (or order) NumPy
picks for eigenvectors and singular vectors, with eigenvalues and singular
values at least 0.1 apart.
"""
import numpy as np
import pytest
from hypothesis import strategies as st

import srcad
from srcad import runtime
from oracle import numerical_grad
from rule_cases import NUMPY2, arrays, case, cases_of, floats, hvp_cases_of, run, run_hvp

SIZES = st.integers(1, 4)
BATCHES = st.sampled_from([(), (2,), (2, 1)])
ENTRIES = floats(-1.0, 1.0)


def _shaped(draw_matrix):
    """(a,) for a matrix of a drawn size and batch, built by draw_matrix(n, batch)."""
    return st.tuples(SIZES, BATCHES).flatmap(lambda nb: st.tuples(draw_matrix(*nb)))


def general(n, batch=()):
    """B + (n + 1) I: diagonally dominant, invertible, condition number below 3n."""
    return arrays(batch + (n, n), ENTRIES).map(lambda b: b + (n + 1) * np.eye(n))


def spd(n, batch=()):
    """B B^T + n I: symmetric positive definite."""
    return arrays(batch + (n, n), ENTRIES).map(
        lambda b: b @ np.swapaxes(b, -1, -2) + n * np.eye(n))


def rectangular(m, n, batch=()):
    """An m x n matrix of full rank: B plus (m + n) on its main diagonal."""
    return arrays(batch + (m, n), ENTRIES).map(lambda b: b + (m + n) * np.eye(m, n))


def _spectrum(n, batch, positive=False):
    """Values at least 0.25 apart and of magnitude at least 0.15 (0.45 when positive),
    in random order."""
    values = st.lists(st.integers(1, 12) if positive else st.integers(-6, 6), min_size=n,
                      max_size=n, unique=True)
    scale, shift = (0.25, 0.2) if positive else (0.3, 0.15)
    return st.lists(values, min_size=int(np.prod(batch)), max_size=int(np.prod(batch))).map(
        lambda v: (np.array(v, dtype=np.float64) * scale + shift).reshape(batch + (n,)))


def symmetric_distinct(n, batch=()):
    """Q diag(w) Q^T, Q orthogonal, w distinct."""
    return st.tuples(arrays(batch + (n, n), ENTRIES), _spectrum(n, batch)).map(
        lambda t: _orthogonal(t[0]) @ (t[1][..., None] * np.swapaxes(_orthogonal(t[0]), -1, -2)))


def _orthogonal(b):
    n = b.shape[-1]
    return np.linalg.qr(b + (n + 1) * np.eye(n))[0]


def real_spectrum(n, batch=()):
    """S diag(w) S^-1 with S well conditioned and real, distinct eigenvalues w."""
    def build(t):
        s = np.eye(n) + 0.3 * t[0]
        return s @ (t[1][..., None] * np.linalg.inv(s))
    return st.tuples(arrays(batch + (n, n), ENTRIES), _spectrum(n, batch)).map(build)


# -- determinants and inverses --------------------------------------------------------

def la_det(a): return np.linalg.det(a)
def la_det_negative(a): return np.linalg.det(-a) + np.linalg.det(a[..., ::-1, :])
def la_det_scalar(a): return np.linalg.det(a) ** 2 + np.sum(a)


def la_slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return logdet * 2.0 + sign


def la_slogdet_negative(a):
    return np.linalg.slogdet(-a)[1] * 3.0


def la_inv(a): return np.linalg.inv(a)
def la_inv_twice(a): return np.linalg.inv(a) @ a @ np.linalg.inv(a + a)


case(np.linalg.det, la_det, _shaped(general), autograd=True)
case(np.linalg.det, la_det_negative, _shaped(general), autograd=True)
case(np.linalg.det, la_det_scalar, st.tuples(general(3)), autograd=True)
case(np.linalg.slogdet, la_slogdet, _shaped(general), autograd=True)
case(np.linalg.slogdet, la_slogdet_negative, _shaped(general), autograd=True)
case(np.linalg.inv, la_inv, _shaped(general), autograd=True)
case(np.linalg.inv, la_inv_twice, _shaped(general), autograd=True)


def la_pinv(a): return np.linalg.pinv(a)
def la_pinv_hermitian(a): return np.linalg.pinv(a, hermitian=True)


TALL_OR_WIDE = st.tuples(SIZES, SIZES, BATCHES).flatmap(lambda t: st.tuples(rectangular(*t)))
case(np.linalg.pinv, la_pinv, TALL_OR_WIDE, autograd=True)
case(np.linalg.pinv, la_pinv_hermitian, _shaped(spd), name="la_pinv_hermitian")


def la_matrix_power(a):
    return np.linalg.matrix_power(a, 3) + np.linalg.matrix_power(a, 0) \
        + np.linalg.matrix_power(a, 1) * 2.0


def la_matrix_power_negative(a):
    return np.linalg.matrix_power(a, -2) + np.linalg.matrix_power(a, -1)


case(np.linalg.matrix_power, la_matrix_power,
     _shaped(lambda n, b: general(n, b).map(lambda a: a / (n + 1))), autograd=True)
case(np.linalg.matrix_power, la_matrix_power_negative, _shaped(general), autograd=True)


# -- linear systems --------------------------------------------------------------------

def la_solve(a, b): return np.linalg.solve(a, b)


def _system(b_shape):
    return st.tuples(SIZES, BATCHES).flatmap(
        lambda nb: st.tuples(general(*nb), arrays(b_shape(*nb), floats(-2.0, 2.0))))


# (autograd's solve rule reads a one-axis b as NumPy 1 did: its shapes differ for stacked a)
if NUMPY2:     # a one-axis b is one vector for stacked a too
    case(np.linalg.solve, la_solve, _system(lambda n, batch: (n,)), wrt=(0, 1),
         name="la_solve_vector")
case(np.linalg.solve, la_solve, _system(lambda n, batch: batch + (n, 2)), wrt=(0, 1),
     autograd=True, name="la_solve_matrix")
case(np.linalg.solve, la_solve, _system(lambda n, batch: (3,) + batch + (n, 1)), wrt=(0, 1),
     name="la_solve_broadcast")
if NUMPY2:
    case(np.linalg.solve, la_solve, _system(lambda n, batch: (n,)), wrt=1,
         name="la_solve_b_only")


def la_lstsq(a, b):
    x, residuals, rank, s = np.linalg.lstsq(a, b)
    return np.concatenate([np.ravel(x), residuals * 0.5, s * rank])


def la_lstsq_x(a, b):
    return np.linalg.lstsq(a, b, rcond=None)[0]


def _least_squares(m_offset, b_cols):
    return st.tuples(SIZES, st.integers(0, 2)).flatmap(lambda t: st.tuples(
        _distinct_singular(t[0] + m_offset * t[1], t[0]) if m_offset >= 0
        else _distinct_singular(t[0], t[0] + t[1]),
        arrays((t[0] + max(m_offset, 0) * t[1],) + b_cols, floats(-2.0, 2.0))))


case(np.linalg.lstsq, la_lstsq, _least_squares(1, ()), wrt=(0, 1), name="la_lstsq_vector")
case(np.linalg.lstsq, la_lstsq, _least_squares(1, (2,)), wrt=(0, 1), name="la_lstsq_matrix")
case(np.linalg.lstsq, la_lstsq_x, _least_squares(-1, (2,)), wrt=(0, 1), name="la_lstsq_wide")


# -- decompositions --------------------------------------------------------------------

def la_cholesky(a): return np.linalg.cholesky(a)
def la_cholesky_upper(a): return np.linalg.cholesky(a, upper=True)


def la_cholesky_of_product(b):
    n = b.shape[-1]
    return np.linalg.cholesky(b @ np.swapaxes(b, -1, -2) + n * np.eye(n))


case(np.linalg.cholesky, la_cholesky, _shaped(spd))
if NUMPY2:     # cholesky(a, upper=True)
    case(np.linalg.cholesky, la_cholesky_upper, _shaped(spd))
case(np.linalg.cholesky, la_cholesky_of_product,
     _shaped(lambda n, batch: arrays(batch + (n, n), ENTRIES)), autograd=True)


def la_qr(a):
    q, r = np.linalg.qr(a)
    return (q * q) @ (r * r) + q @ r * 0.5


def la_qr_r(a):
    return np.linalg.qr(a)[1] ** 2


case(np.linalg.qr, la_qr, TALL_OR_WIDE)
case(np.linalg.qr, la_qr_r, TALL_OR_WIDE, name="la_qr_r")


def la_eigh(a):
    w, v = np.linalg.eigh(a)
    return (v * v * w[..., None, :]) @ np.swapaxes(v * v, -1, -2)


def la_eigh_upper(a):
    w, v = np.linalg.eigh(a, UPLO="U")
    return (v * v * w[..., None, :] ** 2) @ np.swapaxes(v * v, -1, -2)


def la_eigh_values(a):
    return np.linalg.eigh(a)[0] ** 3


def la_eigvalsh(a):
    return np.linalg.eigvalsh(a) ** 3 + np.linalg.eigvalsh(a, "U")


case(np.linalg.eigh, la_eigh, _shaped(symmetric_distinct))
case(np.linalg.eigh, la_eigh_upper, _shaped(symmetric_distinct))
case(np.linalg.eigh, la_eigh_values, _shaped(symmetric_distinct))
case(np.linalg.eigvalsh, la_eigvalsh, _shaped(symmetric_distinct))


def la_eig(a):
    w, v = np.linalg.eig(a)
    return (v * v * w[..., None, :]) @ np.swapaxes(v * v, -1, -2)


def la_eig_values(a):
    return np.real(np.sum(np.linalg.eig(a)[0] ** 3, axis=-1))


def la_eigvals_complex(a):
    w = np.linalg.eigvals(a)
    return np.real(np.sum(w ** 3)) + np.sum(np.abs(w) ** 2) + np.sum(np.imag(w) ** 2)


def _rotation_like(batch):
    """3 x 3 matrices with a complex pair of eigenvalues and a real one, similar by a
    well-conditioned S to [[x, -y, 0], [y, x, 0], [0, 0, z]]."""
    def build(t):
        s, (x, y, z) = np.eye(3) + 0.3 * t[0], t[1]
        block = np.array([[x, -y, 0.0], [y, x, 0.0], [0.0, 0.0, z]])
        return s @ block @ np.linalg.inv(s)
    return st.tuples(arrays((3, 3), ENTRIES), st.tuples(floats(-1.0, 1.0), floats(0.5, 1.5),
                                                        floats(1.6, 2.5))).map(build)


case(np.linalg.eig, la_eig, _shaped(real_spectrum))
case(np.linalg.eig, la_eig_values, _shaped(real_spectrum))
case(np.linalg.eigvals, la_eigvals_complex, st.tuples(_rotation_like(())))


def la_svd(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (u * u * s[..., None, :]) @ (vh * vh) + u[..., :1] * vh[..., :1, :]


def la_svd_full_square(a):
    u, s, vh = np.linalg.svd(a)
    return (u * u * s[..., None, :] ** 2) @ (vh * vh) + u[..., :1] * vh[..., :1, :]


def la_svd_values(a):
    return np.linalg.svd(a, compute_uv=False) ** 2 + np.linalg.svd(a)[1]


def _distinct_singular(m, n, batch=()):
    """U diag(s) V^T with distinct singular values s >= 0.45."""
    k = min(m, n)
    def build(t):
        u = np.linalg.qr(t[0] + (m + 1) * np.eye(m, k))[0]
        v = np.linalg.qr(t[1] + (n + 1) * np.eye(n, k))[0]
        return (u * t[2][..., None, :]) @ np.swapaxes(v, -1, -2)
    return st.tuples(arrays(batch + (m, k), ENTRIES), arrays(batch + (n, k), ENTRIES),
                     _spectrum(k, batch, positive=True)).map(build)


case(np.linalg.svd, la_svd, st.tuples(SIZES, SIZES, BATCHES).flatmap(
    lambda t: st.tuples(_distinct_singular(*t))))
case(np.linalg.svd, la_svd_full_square, _shaped(lambda n, b: _distinct_singular(n, n, b)))
case(np.linalg.svd, la_svd_values, TALL_OR_WIDE, autograd=True)


# -- norms -------------------------------------------------------------------------------

NONZERO_ENTRIES = st.tuples(st.sampled_from([-1.0, 1.0]), floats(0.2, 2.0)).map(
    lambda t: t[0] * t[1])


def _distinct(shape):
    """Entries whose absolute values differ by at least 0.1 (no ties, no zeros)."""
    from hypothesis.extra import numpy as hnp
    return hnp.arrays(np.int64, shape, elements=st.integers(1, 40), unique=True).flatmap(
        lambda a: arrays(shape, st.sampled_from([-1.0, 1.0])).map(
            lambda s: s * (a * 0.1 + 0.05)))


def la_norm_2(x):
    return np.linalg.norm(x) + np.linalg.norm(x, axis=0) * 2.0 \
        + np.linalg.norm(x, axis=-1, keepdims=True) + np.linalg.norm(x, None, (0, 1), True)


def la_norm_vector_orders(x):
    return np.linalg.norm(x, 1) + np.linalg.norm(x, 2) * 2.0 + np.linalg.norm(x, np.inf) * 3.0 \
        + np.linalg.norm(x, -np.inf) * 5.0 + np.linalg.norm(x, 3) * 7.0 \
        + np.linalg.norm(x, ord=0.5) + np.linalg.norm(x, ord=0) + np.linalg.norm(x, -1) * 0.5


def la_norm_vector_axis(x):
    return np.linalg.norm(x, 1, axis=1) + np.linalg.norm(x, np.inf, 1) * 2.0 \
        + np.linalg.norm(x, -np.inf, -1) + np.linalg.norm(x, 3, axis=-1) \
        + np.linalg.norm(x, 2, axis=0, keepdims=True)[0, :3]


def la_norm_matrix(x):
    return np.linalg.norm(x, "fro") + np.linalg.norm(x, "nuc") * 2.0 \
        + np.linalg.norm(x, 2) * 3.0 + np.linalg.norm(x, -2) * 5.0 + np.linalg.norm(x, 1) \
        + np.linalg.norm(x, -1) * 0.5 + np.linalg.norm(x, np.inf) * 0.25 \
        + np.linalg.norm(x, -np.inf) * 0.125


def la_norm_matrix_axes(x):
    return np.linalg.norm(x, "fro", axis=(0, 2)) + np.linalg.norm(x, "nuc", (2, 1)) \
        + np.linalg.norm(x, 2, (1, 2)) + np.linalg.norm(x, 1, (0, 1), keepdims=True)[0, 0] \
        + np.linalg.norm(x, np.inf, axis=(2, 0))


case(np.linalg.norm, la_norm_2, st.tuples(arrays((3, 4), NONZERO_ENTRIES)), autograd=True)
case(np.linalg.norm, la_norm_vector_orders, st.tuples(_distinct((5,))), autograd=True)
case(np.linalg.norm, la_norm_vector_axis, st.tuples(_distinct((3, 4))), autograd=True)
case(np.linalg.norm, la_norm_matrix, st.tuples(_distinct_singular(3, 4).filter(
    lambda x: np.min(np.abs(x)) > 1e-3 and _no_ties(x))), autograd=True)
case(np.linalg.norm, la_norm_matrix_axes, st.tuples(_distinct((3, 3, 3)).filter(
    lambda x: _separated(x, 0, 1) and _separated(x, 0, 2) and _separated(x, 2, 0)
    and _separated_singular(np.moveaxis(x, 0, -1)))))


def _separated(x, summed, maximized):
    """Sums of |x| over one axis at least 1e-3 apart along another."""
    sums = np.sort(np.sum(np.abs(x), axis=summed, keepdims=True), axis=maximized)
    return bool(np.all(np.diff(sums, axis=maximized) > 1e-3))


def _separated_singular(x):
    """Singular values of each stacked matrix at least 1e-2 apart and from zero."""
    s = np.linalg.svd(x, compute_uv=False)
    return bool(np.all(s > 1e-2) and np.all(-np.diff(s, axis=-1) > 1e-2))


def _no_ties(x):
    """Column and row sums of |x| at least 1e-3 apart."""
    sums = np.concatenate([np.sum(np.abs(x), 0), np.sum(np.abs(x), 1)])
    cols, rows = np.sort(np.sum(np.abs(x), 0)), np.sort(np.sum(np.abs(x), 1))
    return np.all(np.diff(cols) > 1e-3) and np.all(np.diff(rows) > 1e-3) and sums.size


# Hessians: forward mode over the generated reverse code, through the rules written
# out in NumPy and the two helpers they call.
def h_linalg(x):
    a = np.reshape(x, (3, 3)) + np.diag([3.0, 4.5, 6.0])
    s = a @ a.T
    return np.linalg.det(a) + np.linalg.slogdet(s)[1] + np.sum(np.linalg.inv(a) ** 2) \
        + np.sum(np.linalg.solve(a, x[:3]) ** 2) + np.sum(np.linalg.cholesky(s) ** 2) * 0.1 \
        + np.sum(np.linalg.eigvalsh(s, "U") ** 3) * 0.01 + np.linalg.norm(x) ** 3 \
        + np.sum(np.linalg.pinv(a[:, :2], hermitian=False) ** 2)


case(runtime.symmetric_input_grad, h_linalg,
     st.tuples(arrays((9,), floats(0.1, 1.0))), hvp=True)


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", hvp_cases_of(__name__), ids=repr)
def test_hvp(c):
    run_hvp(c)


# -- refusals -------------------------------------------------------------------------------

def test_qr_complete_mode_is_refused():
    def f(a):
        return np.sum(np.linalg.qr(a, mode="complete")[0])

    with pytest.raises(srcad.SrcadError, match="qr"):
        srcad.grad(f)(np.eye(3))


def test_svd_hermitian_is_refused():
    def f(a):
        return np.sum(np.linalg.svd(a, hermitian=True)[1])

    with pytest.raises(srcad.SrcadError, match="svd"):
        srcad.grad(f)(np.eye(3))


def test_eigenvectors_at_a_repeated_eigenvalue_are_refused():
    def vectors(a):
        return np.sum(np.linalg.eigh(a)[1] ** 4)

    def values(a):
        return np.sum(np.linalg.eigh(a)[0] ** 2)

    with pytest.raises(srcad.SrcadError, match="repeated eigenvalue"):
        srcad.grad(vectors)(np.eye(3))
    np.testing.assert_allclose(srcad.grad(values)(np.eye(3)), 2.0 * np.eye(3))

    def general_vectors(a):
        return np.sum(np.linalg.eig(a)[1] ** 4)

    with pytest.raises(srcad.SrcadError, match="repeated eigenvalue"):
        srcad.grad(general_vectors)(np.diag([1.0, 1.0, 2.0]))


def squares_of_eigvals(a):
    return np.sum(np.linalg.eigvals(a) ** 2)


def first_eigval(a):
    return np.linalg.eigvals(a)[0]


def test_eigvals_at_a_repeated_eigenvalue():
    # 2I + c 11^T has the eigenvalue 2 twice: each took the same eigenvector of eig, and
    # solving with the two equal columns raised LinAlgError (fuzz seed 29014525). The
    # sum of squares is trace(a a) (gradient 2 a^T); one eigenvalue of the two alone
    # has no derivative, nor has any of a defective matrix
    from fuzz_programs import check_program
    a = 2.0 * np.eye(3) + 0.49
    np.testing.assert_allclose(srcad.grad(squares_of_eigvals)(a), 2.0 * a.T, rtol=1e-9)
    np.testing.assert_allclose(srcad.jvp(squares_of_eigvals)(a, np.ones((3, 3)))[1],
                               2.0 * np.sum(a), rtol=1e-9)
    with pytest.raises(srcad.SrcadError, match="repeated"):
        srcad.grad(first_eigval)(np.diag([1.0, 1.0, 2.0]))
    with pytest.raises(srcad.SrcadError, match="defective"):
        srcad.grad(squares_of_eigvals)(np.array([[1.0, 1.0], [0.0, 1.0]]))
    assert check_program(29014525).status == "ok"


def exp_of_eigenvalues(a):
    return np.sum(np.exp(np.linalg.eigh(a)[0]))


def test_eigenvalues_alone_need_no_gaps():
    # eigenvalues 1e-310 apart: 1 / (w_j - w_i) overflows, and only eigenvectors need it
    a = np.diag([0.0, 1e-310])
    with np.errstate(all="raise"):
        got = srcad.grad(exp_of_eigenvalues)(a)
    np.testing.assert_allclose(got, numerical_grad(exp_of_eigenvalues, (a,)), atol=1e-9)


def test_complex_eigenvectors_are_refused():
    rotation = np.array([[0.0, -1.0], [1.0, 0.0]])

    def f(a):
        return np.sum(np.abs(np.linalg.eig(a)[1]))

    with pytest.raises(srcad.SrcadError, match="complex eigenvectors"):
        srcad.grad(f)(rotation)

    def vectors(a):
        return np.linalg.eig(a)[1]

    _, tangents = srcad.jvp(vectors)(rotation, np.eye(2))
    assert np.all(np.isnan(tangents))


def test_extra_singular_vectors_of_full_matrices_are_refused():
    a = np.arange(6.0).reshape(3, 2) + np.eye(3, 2) * 5.0

    def extra(a):
        return np.sum(np.linalg.svd(a)[0] ** 3)

    def reduced_part(a):
        u, s, vh = np.linalg.svd(a)
        return np.sum(s) + np.sum(u[:, :2] * u[:, :2] * s)

    with pytest.raises(srcad.SrcadError, match="full_matrices"):
        srcad.grad(extra)(a)
    check = srcad.grad(reduced_part)(a)
    h, e = 1e-6, np.zeros_like(a)
    e[0, 1] = h
    assert abs(check[0, 1] - (reduced_part(a + e) - reduced_part(a - e)) / (2 * h)) < 1e-6


@pytest.mark.skipif(not NUMPY2, reason="cholesky(a, upper=True) is NumPy 2")
def test_cholesky_gradient_is_on_the_triangle_numpy_reads():
    def lower(a):
        return np.sum(np.linalg.cholesky(a))

    def upper(a):
        return np.sum(np.linalg.cholesky(a, upper=True))

    a = np.array([[4.0, 1.0], [1.0, 3.0]])
    g = srcad.grad(lower)(a)
    assert g[0, 1] == 0.0 and g[1, 0] != 0.0
    g = srcad.grad(upper)(a)
    assert g[1, 0] == 0.0 and g[0, 1] != 0.0
