"""Shape functions, construction, sorting and indexing functions, and products."""
import operator

import numpy as np
import pytest
from hypothesis import strategies as st

from rule_cases import (arrays, case, cases_of, distinct, floats, hvp_cases_of, one, run,
                        run_hvp)
from srcad import runtime

A234 = arrays((2, 3, 4))
A34 = arrays((3, 4))


def sh_reshape(x): return np.reshape(x, (4, -1))
def sh_ravel(x): return np.ravel(x)
def sh_expand_dims(x): return np.expand_dims(x, 1) + np.expand_dims(x, axis=-1)
def sh_squeeze(x): return np.squeeze(x) + np.squeeze(x, axis=0)
def sh_transpose(x): return np.transpose(x)
def sh_transpose_axes(x): return np.transpose(x, (2, 0, 1)) + np.transpose(x, axes=(-1, 0, 1))
def sh_swapaxes(x): return np.swapaxes(x, 0, 2)
def sh_moveaxis(x): return np.moveaxis(x, 0, -1) + np.moveaxis(x, (0, 1), (2, 0)).T
def sh_rollaxis(x): return np.rollaxis(x, 2) + np.rollaxis(x, 1, 3).transpose(1, 2, 0)
def sh_roll(x): return np.roll(x, 2) + np.roll(x, (1, -1), axis=(0, 2))
def sh_flip(x): return np.flip(x) + np.flip(x, 1) + np.flip(x, axis=(0, 2))
def sh_rot90(x): return np.rot90(x) * 2.0 + np.rot90(x, 3, axes=(1, 2)) + np.rot90(x, k=2)
def sh_broadcast_to(x): return np.broadcast_to(x, (2, 3, 4))
def sh_repeat(x): return np.repeat(x, 2)[:16] + np.repeat(x, [1, 2, 1], axis=0).ravel()
def sh_tile(x): return np.tile(x, 2) + np.tile(x, (2, 1, 1)).reshape(2, 8)
def sh_atleast(x): return np.atleast_1d(x) + np.atleast_2d(x) + np.atleast_3d(x)[..., 0]


case(np.reshape, sh_reshape, st.tuples(A34), autograd=True)
case(np.ravel, sh_ravel, one(), autograd=True)
case(np.expand_dims, sh_expand_dims, st.tuples(arrays((3,))), autograd=True)
case(np.squeeze, sh_squeeze, st.tuples(arrays((1, 3, 1))), autograd=True)
case(np.transpose, sh_transpose, one(), autograd=True)
case(np.transpose, sh_transpose_axes, st.tuples(A234), autograd=True)
case(np.swapaxes, sh_swapaxes, st.tuples(A234), autograd=True)
case(np.moveaxis, sh_moveaxis, st.tuples(arrays((2, 2, 2))), autograd=True)
case(np.rollaxis, sh_rollaxis, st.tuples(arrays((2, 2, 2))), autograd=True)
case(np.roll, sh_roll, st.tuples(A234), autograd=True)
case(np.flip, sh_flip, st.tuples(A234), autograd=True)
case(np.rot90, sh_rot90, st.tuples(arrays((3, 3, 3))), autograd=True)
case(np.broadcast_to, sh_broadcast_to, st.tuples(arrays(st.sampled_from(
    [(), (4,), (3, 1), (1, 4), (2, 1, 4), (2, 3, 4)]))))
case(np.repeat, sh_repeat, st.tuples(arrays((3, 4))))
case(np.tile, sh_tile, st.tuples(arrays((2, 4))))
case([np.atleast_1d, np.atleast_2d, np.atleast_3d], sh_atleast,
     st.tuples(arrays(st.sampled_from([(), (3,)]))), autograd=True)


def sh_split(x):
    a, b = np.split(x, 2)
    parts = np.array_split(x, 3, axis=1)
    return a * 2.0 + b + parts[2][0]


def sh_split_some(x):
    first, second, third = np.split(x, [1, 3], axis=1)
    return np.sum(second) * 3.0 + first


def sh_hsplit_vsplit(x):
    left, right = np.hsplit(x, 2)
    top, bottom = np.vsplit(x, [3])
    return left * right + top[0, :2] + bottom[0, 2:]


case([np.split, np.array_split], sh_split, st.tuples(arrays((4, 3))))
case(np.split, sh_split_some, st.tuples(arrays((2, 4))))
case([np.hsplit, np.vsplit], sh_hsplit_vsplit, st.tuples(arrays((4, 4))))


def sh_concatenate(x, y):
    return np.concatenate([x, y, x * 2.0], axis=1)[:, :6] + np.concatenate((y, x), axis=-1)


def sh_concatenate_flat(x, y):
    return np.concatenate((x, y), axis=None)


def sh_stack(x, y):
    return np.stack([x, y]) + np.moveaxis(np.stack((y, x), axis=-1), -1, 0)


def sh_hv_stack(x, y):
    return np.hstack([x, y]) * 2.0 + np.vstack((x, y)).reshape(2, 6) \
        + np.column_stack([x, y]).reshape(2, 6)


def sh_append(x, y):
    return np.append(x, y)[:8] + np.append(y, x[0], axis=None) * 2.0 \
        + np.append(x, np.reshape(y, (1, 4)), axis=0)[3, 0]


def sh_pad(x, c):
    return np.pad(x, 1) + np.pad(x, ((0, 2), (1, 1)), constant_values=c)


case(np.concatenate, sh_concatenate, st.tuples(A34, arrays((3, 2))), wrt=(0, 1),
     autograd=True)
case(np.concatenate, sh_concatenate_flat, st.tuples(A34, arrays((5,))), wrt=(0, 1))
case(np.stack, sh_stack, st.tuples(A34, A34), wrt=(0, 1), autograd=True)
case([np.hstack, np.vstack, np.column_stack], sh_hv_stack,
     st.tuples(arrays((2, 3)), arrays((2, 3))), wrt=(0, 1))
case(np.append, sh_append, st.tuples(A34, arrays((4,))), wrt=(0, 1))
case(np.pad, sh_pad, st.tuples(arrays((2, 3)), floats(-1.0, 1.0)), wrt=(0, 1))


def sh_diag(v, m):
    return np.diag(v) + np.diag(v, 1)[1:, 1:] + np.sum(np.diag(m)) + np.diag(m, -1)[0]


def sh_diagonal(x):
    return np.diagonal(x)[:, :2] + np.diagonal(x, 1, 0, 2)


def sh_triangles(x):
    return np.triu(x) + np.tril(x, -1) * 2.0 + np.triu(x, k=1)


case(np.diag, sh_diag, st.tuples(arrays((3,)), arrays((3, 4))), wrt=(0, 1))
case(np.diagonal, sh_diagonal, st.tuples(arrays((3, 3, 3))), autograd=True)
case([np.triu, np.tril], sh_triangles, st.tuples(A34), autograd=True)


def sh_sort(x):
    return np.sort(x) + np.sort(x, axis=0) * 2.0 + np.sort(x, axis=None).reshape(3, 4)


def sh_take(x):
    return np.take(x, [2, 2]) + np.take(x, [[1, 0], [3, 3]], axis=1)[0, :, 1] \
        + np.take(x, 1.9) * np.take(x, [0.2, 2.7])     # float indices, as NumPy casts them


def sh_take_along_axis(x):
    i = np.argsort(x, axis=1)
    return np.take_along_axis(x, i, axis=1) + np.take_along_axis(x, np.array([[0], [0], [1]]), 1)


case(np.sort, sh_sort, st.tuples(distinct((3, 4))), autograd=True)
case(np.take, sh_take, st.tuples(A34))
case(np.take_along_axis, sh_take_along_axis, st.tuples(distinct((3, 4))))


def sh_array(x, s):
    m = np.array([[x[0], s], [s * s, x[1]]])
    v = np.asarray([s, 2.0 * s, x[2]])
    return np.array(x) * s + np.sum(m) * v + np.array([x, x], dtype=float)[1]


def sh_array_int(x):
    return x * np.array(x, dtype=int) + x * x.astype(int) + x.astype(float) * 2.0


case([np.array, np.asarray], sh_array, st.tuples(arrays((3,)), floats(-2.0, 2.0)),
     wrt=(0, 1))
case([np.array, "ndarray.astype"], sh_array_int, st.tuples(arrays((3,), floats(0.1, 2.9)).filter(
    lambda a: np.all(np.abs(a - np.round(a)) > 0.05))))


# methods and attributes
def m_shape(x):
    return x.reshape(4, 3) + x.reshape((3, 4)).transpose() + x.T + x.transpose(1, 0) \
        + x.transpose((1, 0)) + x.swapaxes(0, 1) + x.ravel().reshape(4, 3) \
        + x.flatten().reshape(4, 3) + x.copy().T + x.repeat(1, axis=0).T \
        + x.take([0, 1, 2], axis=0).T + x.squeeze().T + x.clip(-0.5, 10.0).T


case(["ndarray.reshape", "ndarray.transpose", "ndarray.swapaxes", "ndarray.ravel",
      "ndarray.flatten", "ndarray.copy", "ndarray.repeat", "ndarray.take", "ndarray.squeeze",
      "ndarray.clip", "ndarray.T"], m_shape,
     st.tuples(A34.filter(lambda a: np.all(np.abs(a + 0.5) > 1e-2))))


def m_complex(xr, xi):
    z = xr + 1j * xi
    w = z.conj() * z.T.conjugate() + z.real * z.imag
    return w.real - w.imag


case(["ndarray.conj", "ndarray.conjugate", "ndarray.real", "ndarray.imag"], m_complex,
     st.tuples(arrays((3, 3)), arrays((3, 3))), wrt=(0, 1))


# -- products ---------------------------------------------------------------------------------

def p_dot(a, b): return np.dot(a, b)
def p_matmul(a, b): return np.matmul(a, b)
def p_matmul_op(a, b): return a @ b
def p_vdot(a, b): return np.vdot(a, b)
def p_inner(a, b): return np.inner(a, b)
def p_outer(a, b): return np.outer(a, b)
def p_tensordot(a, b): return np.tensordot(a, b), np.tensordot(a, b, axes=([0, 2], [2, 0]))
def p_tensordot1(a, b): return np.tensordot(a, b, 1)
def p_einsum(a, b): return np.einsum("ijk,jil->kl", a, b), np.einsum("ijk->k", a)
def p_einsum3(a, b, c): return np.einsum("ij,jk,k->i", a, b, c)
def p_einsum_ellipsis(a, b): return np.einsum("...ij,...jk", a, b)
def p_kron(a, b): return np.kron(a, b)
def p_cross(a, b): return np.cross(a, b)
def p_method_dot(a, b): return a.dot(b)


MATMUL_SHAPES = st.sampled_from([((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 2)), ((4,), (4,)),
                                 ((2, 2, 3), (3, 2)), ((3,), (2, 3, 2))])
DOT_SHAPES = st.sampled_from([((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 2)), ((4,), (4,)),
                              ((), (3,)), ((2, 3), ()), ((2, 2, 3), (3, 2)), ((2, 3), (2, 3, 2))])


def pairs_of(shape_pairs):
    return shape_pairs.flatmap(lambda s: st.tuples(arrays(s[0]), arrays(s[1])))


case(np.dot, p_dot, pairs_of(DOT_SHAPES), wrt=(0, 1), autograd=True)
case("ndarray.dot", p_method_dot, pairs_of(DOT_SHAPES), wrt=(0, 1))
case(np.matmul, p_matmul, pairs_of(MATMUL_SHAPES), wrt=(0, 1), autograd=True)
case(operator.matmul, p_matmul_op, pairs_of(MATMUL_SHAPES), wrt=(0, 1), autograd=True)
case(np.vdot, p_vdot, pairs_of(st.sampled_from([((3,), (3,)), ((2, 3), (3, 2))])), wrt=(0, 1),
     autograd=True)
case(np.inner, p_inner, pairs_of(st.sampled_from(
    [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)), ((), (2, 3)), ((2, 2, 3), (2, 3))])),
    wrt=(0, 1), autograd=True)
case(np.outer, p_outer, pairs_of(st.sampled_from([((3,), (2,)), ((2, 2), (3,))])), wrt=(0, 1))
case(np.tensordot, p_tensordot, st.tuples(arrays((3, 2, 2)), arrays((2, 2, 3))), wrt=(0, 1),
     autograd=True)
case(np.tensordot, p_tensordot1, pairs_of(st.sampled_from([((2, 3), (3, 4)), ((3,), (3, 2))])),
     wrt=(0, 1))
case(np.einsum, p_einsum, st.tuples(arrays((2, 3, 2)), arrays((3, 2, 4))), wrt=(0, 1),
     autograd=True)
case(np.einsum, p_einsum3, st.tuples(arrays((2, 3)), arrays((3, 4)), arrays((4,))),
     wrt=(0, 1, 2), autograd=True)
case(np.einsum, p_einsum_ellipsis, st.tuples(arrays((2, 2, 3)), arrays((3, 2))), wrt=(0, 1))
case(np.kron, p_kron, pairs_of(st.sampled_from([((2, 3), (2, 2)), ((3,), (2,)),
                                                ((2,), (2, 3))])), wrt=(0, 1), autograd=True)
case(np.cross, p_cross, pairs_of(st.sampled_from([((3,), (3,)), ((2, 3), (3,)),
                                                 ((2, 3), (2, 3))])), wrt=(0, 1))


# Hessians through the helpers of shape functions and products
def h_shapes(x):
    y = np.concatenate([x, np.tile(x, 2)], axis=1)
    z = np.stack([y, y * y])
    a, b = np.split(z, 2)
    return np.sum(np.sin(np.transpose(a, (2, 0, 1)))) + np.sum(np.sort(x, axis=None) ** 3) \
        + np.sum(np.take(x, [0, 0, 3]) ** 2) + np.sum(np.repeat(x, 2, axis=1) * b[0, :, :8])


def h_products(x):
    m = np.reshape(x, (3, 4))
    return np.sum(np.tanh(m @ m.T)) + np.sum(np.dot(m, x[:4]) ** 2) \
        + np.sum(np.tensordot(m, m, axes=([1], [1])) ** 2) + np.sum(np.diagonal(m @ m.T) ** 2)


case([runtime.concatenate_grad, runtime.tile_grad, runtime.unstack, runtime.parts,
      runtime.untranspose, runtime.sort_grad, runtime.take_grad, runtime.repeat_grad,
      runtime.add_at, runtime.item_grad], h_shapes, st.tuples(distinct((3, 4))), hvp=True)
def _cumulative(v):
    return np.cumsum(v)


def h_seed_of_a_call(x):
    z = x * 1.0
    for i in range(3):
        z = _cumulative(x * z)      # read only where the next iteration does not overwrite
        if i == 1:
            z = np.sin(x)
    return np.sum(z * z)


case(runtime.seed_or_zeros, h_seed_of_a_call, st.tuples(arrays((4,), floats(-1.0, 1.0))),
     hvp=True)
case([runtime.matmul_left, runtime.matmul_right, runtime.dot_left, runtime.dot_right,
      runtime.tensordot_left, runtime.tensordot_right, runtime.diagonal_grad], h_products,
     st.tuples(arrays((12,), floats(-1.0, 1.0))), hvp=True)


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", hvp_cases_of(__name__), ids=repr)
def test_hvp(c):
    run_hvp(c)


def test_pad_other_modes_are_refused():
    import srcad

    def reflect(x):
        return np.sum(np.pad(x, 1, mode="reflect"))

    with pytest.raises(srcad.SrcadError, match="pad"):
        srcad.grad(reflect)(np.ones(3))


def test_einsum_diagonal_is_refused():
    import srcad

    def trace(x):
        return np.einsum("ii", x)

    with pytest.raises(NotImplementedError, match="repeated index"):
        srcad.grad(trace)(np.eye(2))



def c_full(s):
    return np.full((2, 3), s) * np.arange(6.0).reshape(2, 3)


case(np.full, c_full, st.tuples(floats(-2.0, 2.0)))


def h_more(x):
    m = np.reshape(x, (3, 4))
    h = np.zeros_like(m)
    rows = []
    for i in range(3):
        h[i] = np.tanh(m[i]) * m[i]
        rows.append(h[i] ** 2)
    last = rows.pop()
    return np.sum(h * m) + np.sum(last) + np.sum(np.where(m > 0, m, 0.0) ** 2) \
        + np.sum(np.diff(m, axis=1) ** 3) + np.sum(np.pad(m, 1) ** 2 * 0.5) \
        + np.sum(np.rollaxis(m[None], 2) ** 3) \
        + np.sum(np.take_along_axis(m, np.array([[0], [2], [1]]), 1) ** 3) \
        + np.sum(np.inner(m, m) ** 2) + np.sum(np.kron(m[:2, :2], m[1:, 2:]) ** 2) \
        + np.sum(np.real(np.sqrt(m + 1j) * np.conj(m * 1j + 2.0)) ** 2)


def h_parts(m):
    z = np.empty_like(m)
    z[0] = m[0]
    z[1:] = m[1:] * m[:-1]      # the adjoint reads the two parts of dz without zeroing
    return np.sum(z ** 3)


case([runtime.part_of], h_parts, st.tuples(distinct((5,))), hvp=True)
case([runtime.take_at, runtime.saved_item, runtime.restore_item, runtime.pop_grad,
      runtime.accumulate, runtime.as_gradient, runtime.where_grad, runtime.diff_grad,
      runtime.unpad, runtime.rollaxis_grad, runtime.take_along_axis_grad, runtime.inner_left,
      runtime.inner_right, runtime.kron_grad, runtime.kron_grad_right], h_more,
     st.tuples(distinct((12,))), hvp=True)


def rolled_by_a_mask(x, m):
    return np.sum(np.roll(x, m) * np.arange(24.0).reshape(2, 3, 4)) \
        + np.sum(np.roll(x, m, axis=(0, 1, 2)) ** 2)


def test_roll_by_a_boolean_shift():
    # a boolean shift rolls by its count of True (one per axis with axis): the adjoint
    # rolls back by as many, where negating the booleans raised
    from oracle import check_grad, numerical_jvp
    import srcad
    x, m = np.linspace(-1.0, 1.0, 24).reshape(2, 3, 4), np.array([True, False, True])
    check_grad(rolled_by_a_mask, x, m)
    v = np.cos(np.arange(24.0)).reshape(2, 3, 4)
    _, jv = srcad.jvp(rolled_by_a_mask)(x, m, v)
    assert jv == pytest.approx(numerical_jvp(rolled_by_a_mask, (x, m), (0,), (v,)), rel=1e-7)
