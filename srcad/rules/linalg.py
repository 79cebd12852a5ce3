"""Rules for numpy.linalg: determinants, inverses, solves, decompositions and norms.

Each primitive has a reverse rule (`@adjoint`) and, beside it, its forward
rule (`@tangent`), for real matrices stacked over any leading axes where
NumPy stacks them. The short ones are NumPy written out (so that srcad can
differentiate them again, for Hessians); decompositions call the helpers at
the end of `srcad/runtime.py`.

The formulas hold where the function is differentiable: an invertible matrix
for det, inv and solve; a matrix whose rank does not change nearby for pinv
and lstsq; distinct eigenvalues (singular values) where eigenvectors
(singular vectors) are used. Where no derivative exists the helpers raise
SrcadError rather than return a number. Functions that read one triangle of
a symmetric matrix (cholesky, eigh, eigvalsh) get a gradient on that
triangle only, as finite differences of NumPy's function would.
"""
import numpy as np

from ..runtime import (eig_grad, eig_jvp, eigh_grad, eigh_jvp, lstsq_grad, lstsq_jvp,
                       matrix_power_grad, matrix_power_jvp, norm_grad, norm_jvp, parts,
                       qr_grad, qr_jvp, repeat_to_shape, svd_grad,
                       svd_jvp, symmetric_input_grad, symmetric_input_tangent, unbroadcast)
from .templates import adjoint, d, only, tangent


# -- determinants and inverses --------------------------------------------------------

@adjoint(np.linalg.det)
def det(result, a):
    d[a] = np.expand_dims(d[result] * result, (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2)


@tangent(np.linalg.det)
def det_tangent(result, a):
    d[result] = result * np.trace(np.linalg.solve(a, d[a]), 0, -2, -1)


@adjoint(np.linalg.slogdet)
def slogdet(result, a):
    d[a] = np.expand_dims(parts(d[result], result)[1], (-2, -1)) \
        * np.swapaxes(np.linalg.inv(a), -1, -2)


@tangent(np.linalg.slogdet)
def slogdet_tangent(result, a):
    d[result] = (np.zeros(np.shape(result[0])), np.trace(np.linalg.solve(a, d[a]), 0, -2, -1))


@adjoint(np.linalg.inv)
def inv(result, a):
    d[a] = -(np.swapaxes(result, -1, -2) @ d[result] @ np.swapaxes(result, -1, -2))


@tangent(np.linalg.inv)
def inv_tangent(result, a):
    d[result] = -(result @ d[a] @ result)


@adjoint(np.linalg.pinv, since={"rtol": "2.0.0"})
def pinv(result, a, rcond=None, hermitian=False, *, rtol=None):
    pt = np.swapaxes(result, -1, -2)
    gt = np.swapaxes(d[result], -1, -2)
    full = -(pt @ d[result] @ pt) \
        + (np.eye(np.shape(a)[-2]) - a @ result) @ gt @ result @ pt \
        + pt @ result @ gt @ (np.eye(np.shape(a)[-1]) - result @ a)
    d[a] = full if hermitian is False else symmetric_input_grad(full, "L")


@tangent(np.linalg.pinv, since={"rtol": "2.0.0"})
def pinv_tangent(result, a, rcond=None, hermitian=False, *, rtol=None):
    pt = np.swapaxes(result, -1, -2)
    d[result] = -(result @ (d[a] if hermitian is False else symmetric_input_tangent(
        d[a], "L")) @ result) + result @ pt @ np.swapaxes(
        d[a] if hermitian is False else symmetric_input_tangent(d[a], "L"), -1, -2) \
        @ (np.eye(np.shape(a)[-2]) - a @ result) \
        + (np.eye(np.shape(a)[-1]) - result @ a) @ np.swapaxes(
            d[a] if hermitian is False else symmetric_input_tangent(d[a], "L"), -1, -2) \
        @ pt @ result


@adjoint(np.linalg.matrix_power)
def matrix_power(result, a, n):
    d[a] = matrix_power_grad(d[result], a, n)


@tangent(np.linalg.matrix_power)
def matrix_power_tangent(result, a, n):
    d[result] = matrix_power_jvp(d[a], a, n)


# -- linear systems --------------------------------------------------------------------
# b is one vector when it has one axis (NumPy 2); otherwise a stack of matrices.

@adjoint(np.linalg.solve)
def solve(result, a, b):
    g = np.expand_dims(d[result], -1) if np.ndim(b) == 1 else d[result]
    x = np.expand_dims(result, -1) if np.ndim(b) == 1 else result
    gb = np.linalg.solve(np.swapaxes(a, -1, -2), g)
    d[a] = unbroadcast(-(gb @ np.swapaxes(x, -1, -2)), a)
    d[b] = unbroadcast(gb[..., 0] if np.ndim(b) == 1 else gb, b)


@tangent(np.linalg.solve)
def solve_tangent(result, a, b):
    d[result] = np.linalg.solve(a, d[b]) \
        - (np.linalg.solve(a, d[a] @ np.expand_dims(result, -1))[..., 0] if np.ndim(b) == 1
           else np.linalg.solve(a, d[a] @ result))


@adjoint(np.linalg.lstsq)
def lstsq(result, a, b, rcond=None):
    grads = lstsq_grad(d[result], result, a, b)
    d[a] = grads[0]
    d[b] = grads[1]


@tangent(np.linalg.lstsq)
def lstsq_tangent(result, a, b, rcond=None):
    d[result] = lstsq_jvp(d[a], d[b], result, a, b)


# -- decompositions ------------------------------------------------------------------------

@adjoint(np.linalg.cholesky, since={"upper": "2.0.0"})
def cholesky(result, a, *, upper=False):
    low = np.swapaxes(result, -1, -2) if upper else result
    g = np.swapaxes(d[result], -1, -2) if upper else d[result]
    lt = np.swapaxes(low, -1, -2)
    n = np.shape(a)[-1]
    phi = (lt @ g) * (np.tri(n) - 0.5 * np.eye(n))
    p = np.linalg.solve(lt, np.swapaxes(np.linalg.solve(lt, np.swapaxes(phi, -1, -2)), -1, -2))
    d[a] = symmetric_input_grad(p, "U" if upper else "L")


@tangent(np.linalg.cholesky, since={"upper": "2.0.0"})
def cholesky_tangent(result, a, *, upper=False):
    low = np.swapaxes(result, -1, -2) if upper else result
    n = np.shape(a)[-1]
    d[result] = np.swapaxes(low @ (np.linalg.solve(low, np.swapaxes(np.linalg.solve(
        low, symmetric_input_tangent(d[a], "U" if upper else "L")), -1, -2))
        * (np.tri(n) - 0.5 * np.eye(n))), -1, -2) if upper \
        else low @ (np.linalg.solve(low, np.swapaxes(np.linalg.solve(
            low, symmetric_input_tangent(d[a], "L")), -1, -2)) * (np.tri(n) - 0.5 * np.eye(n)))


@adjoint(np.linalg.qr)
def qr(result, a, mode=only("reduced")):
    d[a] = qr_grad(d[result], result, a)


@tangent(np.linalg.qr)
def qr_tangent(result, a, mode=only("reduced")):
    d[result] = qr_jvp(d[a], result, a)


@adjoint(np.linalg.eigh)
def eigh(result, a, UPLO="L"):
    d[a] = eigh_grad(d[result], result, UPLO)


@tangent(np.linalg.eigh)
def eigh_tangent(result, a, UPLO="L"):
    d[result] = eigh_jvp(d[a], result, UPLO)


@adjoint(np.linalg.eigvalsh)
def eigvalsh(result, a, UPLO="L"):
    v = np.linalg.eigh(a, UPLO)[1]
    d[a] = symmetric_input_grad((v * np.expand_dims(d[result], -2)) @ np.swapaxes(v, -1, -2),
                                UPLO)


@tangent(np.linalg.eigvalsh)
def eigvalsh_tangent(result, a, UPLO="L"):
    v = np.linalg.eigh(a, UPLO)[1]
    d[result] = np.sum(v * (symmetric_input_tangent(d[a], UPLO) @ v), -2)


@adjoint(np.linalg.eig, np.linalg.eigvals)
def eig(result, a):
    d[a] = eig_grad(d[result], result, a)


@tangent(np.linalg.eig, np.linalg.eigvals)
def eig_tangent(result, a):
    d[result] = eig_jvp(d[a], result, a)


@adjoint(np.linalg.svd)
def svd(result, a, full_matrices=True, compute_uv=True, hermitian=only(False)):
    d[a] = svd_grad(d[result], result, a, full_matrices, compute_uv)


@tangent(np.linalg.svd)
def svd_tangent(result, a, full_matrices=True, compute_uv=True, hermitian=only(False)):
    d[result] = svd_jvp(d[a], result, a, full_matrices, compute_uv)


# -- norms ------------------------------------------------------------------------------------
# The 2-norm (ord=None, any axis) is written out; other orders go through norm_grad.

@adjoint(np.linalg.norm)
def norm(result, x, ord=None, axis=None, keepdims=False):
    d[x] = repeat_to_shape(d[result] / result, x, axis, keepdims) * x if ord is None \
        else norm_grad(d[result], x, result, ord, axis, keepdims)


@tangent(np.linalg.norm)
def norm_tangent(result, x, ord=None, axis=None, keepdims=False):
    d[result] = np.sum(d[x] * x, axis=axis, keepdims=keepdims) / result if ord is None \
        else norm_jvp(d[x], x, result, ord, axis, keepdims)
