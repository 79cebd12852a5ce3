"""Forward rules for the helpers that generated reverse-mode code calls.

They make srcad's own output differentiable by srcad: a forward-mode
transform of a gradient (`jvp(grad(f))`, `hessian`, `hvp`) runs through the
generated adjoint and meets these helpers. Each is linear in the gradient
it carries, so each rule applies the helper to the tangent. `array_like`, which
generated code of either mode calls on a list read by a NumPy function, has a
reverse rule too.
"""

from .. import runtime
from ..runtime import (accumulate, add_at, as_gradient, copy_value, dot_left, dot_right,
                       extremum_grad, fit, item_grad, matmul_left, matmul_right, part_of,
                       pop_grad, repeat_to_shape, restore_item, saved_item, seed_copy, take_at,
                       unbroadcast, where_grad)
from .templates import adjoint, d, nondifferentiable, tangent


@adjoint(runtime.array_like)
def array_like(result, x):
    d[x] = runtime.sequence_grad(d[result], x)


@tangent(runtime.array_like)
def array_like_tangent(result, x):
    d[result] = runtime.array_like(d[x])


@tangent(runtime.cumprod_divisor)
def cumprod_divisor_tangent(out, a):
    d[out] = d[a]


@tangent(unbroadcast)
def unbroadcast_tangent(out, g, x):
    d[out] = unbroadcast(d[g], x)


@tangent(runtime.seed_or_zeros)
def seed_or_zeros_tangent(out, g, y):
    d[out] = runtime.seed_or_zeros(d[g], y)


@tangent(repeat_to_shape)
def repeat_to_shape_tangent(out, g, x, axis=None, keepdims=False):
    d[out] = repeat_to_shape(d[g], x, axis, keepdims)


@tangent(extremum_grad)
def extremum_grad_tangent(out, g, x, extremum, axis=None, keepdims=False):
    d[out] = extremum_grad(d[g], x, extremum, axis, keepdims)


@tangent(where_grad)
def where_grad_tangent(out, g, condition, x):
    d[out] = where_grad(d[g], condition, x)


@tangent(matmul_left)
def matmul_left_tangent(out, g, a, b):
    d[out] = matmul_left(d[g], a, b) + matmul_left(g, a, d[b])


@tangent(matmul_right)
def matmul_right_tangent(out, g, a, b):
    d[out] = matmul_right(d[g], a, b) + matmul_right(g, d[a], b)


@tangent(dot_left)
def dot_left_tangent(out, g, a, b):
    d[out] = dot_left(d[g], a, b) + dot_left(g, a, d[b])


@tangent(dot_right)
def dot_right_tangent(out, g, a, b):
    d[out] = dot_right(d[g], a, b) + dot_right(g, d[a], b)


@tangent(accumulate)
def accumulate_tangent(out, total, g):
    d[out] = accumulate(d[total], d[g])


@tangent(add_at)
def add_at_tangent(out, total, x, index, g):
    d[out] = add_at(copy_value(d[total]), x, index, d[g])


@tangent(take_at)
def take_at_tangent(out, total, index):
    d[out] = take_at(d[total], index)


@tangent(part_of)
def part_of_tangent(out, total, index):
    d[out] = part_of(d[total], index)


@tangent(saved_item)
def saved_item_tangent(out, x, index):
    d[out] = saved_item(d[x], index)


@tangent(restore_item)
def restore_item_tangent(out, x, index, old):
    d[out] = restore_item(d[x], index, d[old])


@tangent(item_grad)
def item_grad_tangent(out, g, key):
    d[out] = item_grad(d[g], key)


@tangent(pop_grad)
def pop_grad_tangent(out, total, xs):
    d[out] = pop_grad(d[total], xs)


@tangent(copy_value)
def copy_value_tangent(out, x):
    d[out] = copy_value(d[x])


@tangent(seed_copy)
def seed_copy_tangent(out, g):
    d[out] = seed_copy(d[g])


@tangent(fit)
def fit_tangent(out, t, like):
    d[out] = fit(d[t], like)


@tangent(runtime.sequence_grad)
def sequence_grad_tangent(out, g, x):
    d[out] = runtime.sequence_grad(d[g], x)


@tangent(runtime.log_of_base)
def log_of_base_tangent(out, x, power):
    d[out] = runtime.log_of_base_tangent(d[x], x, power)


@tangent(as_gradient)
def as_gradient_tangent(out, g, x):
    d[out] = as_gradient(d[g], x)


nondifferentiable(runtime.zeros_like, runtime.reduced_size, runtime.nonzero_gradient,
                  runtime.field_key, reason="a shape, a zero or an index")
nondifferentiable(runtime.check_floating, reason="a check: it returns nothing")
nondifferentiable(runtime.real_sign)
nondifferentiable(runtime.drawn, reason="a sample's draw, which its parameters do not change")

# Helpers that update their first argument in place (analysis.py follows them).
MUTATING = {add_at, take_at, restore_item, pop_grad}


# Helpers of the NumPy rules: each is linear in the gradient it carries (and
# bilinear in the two factors of a product).
@tangent(runtime.untranspose)
def untranspose_tangent(out, g, axes):
    d[out] = runtime.untranspose(d[g], axes)


@tangent(runtime.rollaxis_grad)
def rollaxis_grad_tangent(out, g, axis, start):
    d[out] = runtime.rollaxis_grad(d[g], axis, start)


@tangent(runtime.parts)
def parts_tangent(out, g, result):
    d[out] = runtime.parts(d[g], result)


@tangent(runtime.concatenate_grad)
def concatenate_grad_tangent(out, g, seq, axis):
    d[out] = runtime.concatenate_grad(d[g], seq, axis)


@tangent(runtime.unstack)
def unstack_tangent(out, g, axis, seq):
    d[out] = runtime.unstack(d[g], axis, seq)


@tangent(runtime.diff_grad)
def diff_grad_tangent(out, g, n, axis):
    d[out] = runtime.diff_grad(d[g], n, axis)


@tangent(runtime.diagonal_grad)
def diagonal_grad_tangent(out, g, x, offset=0, axis1=0, axis2=1):
    d[out] = runtime.diagonal_grad(d[g], x, offset, axis1, axis2)


@tangent(runtime.repeat_grad)
def repeat_grad_tangent(out, g, x, repeats, axis):
    d[out] = runtime.repeat_grad(d[g], x, repeats, axis)


@tangent(runtime.tile_grad)
def tile_grad_tangent(out, g, x, reps):
    d[out] = runtime.tile_grad(d[g], x, reps)


@tangent(runtime.unpad)
def unpad_tangent(out, g, pad_width):
    d[out] = runtime.unpad(d[g], pad_width)


@tangent(runtime.sort_grad)
def sort_grad_tangent(out, g, x, axis=-1):
    d[out] = runtime.sort_grad(d[g], x, axis)


@tangent(runtime.take_grad)
def take_grad_tangent(out, g, x, indices, axis=None):
    d[out] = runtime.take_grad(d[g], x, indices, axis)


@tangent(runtime.take_along_axis_grad)
def take_along_axis_grad_tangent(out, g, x, indices, axis):
    d[out] = runtime.take_along_axis_grad(d[g], x, indices, axis)


@tangent(runtime.tensordot_left)
def tensordot_left_tangent(out, g, a, b, axes=2):
    d[out] = runtime.tensordot_left(d[g], a, b, axes) + runtime.tensordot_left(g, a, d[b], axes)


@tangent(runtime.tensordot_right)
def tensordot_right_tangent(out, g, a, b, axes=2):
    d[out] = runtime.tensordot_right(d[g], a, b, axes) + runtime.tensordot_right(g, d[a], b, axes)


@tangent(runtime.inner_left)
def inner_left_tangent(out, g, a, b):
    d[out] = runtime.inner_left(d[g], a, b) + runtime.inner_left(g, a, d[b])


@tangent(runtime.inner_right)
def inner_right_tangent(out, g, a, b):
    d[out] = runtime.inner_right(d[g], a, b) + runtime.inner_right(g, d[a], b)


@tangent(runtime.kron_grad)
def kron_grad_tangent(out, g, a, b):
    d[out] = runtime.kron_grad(d[g], a, b) + runtime.kron_grad(g, a, d[b])


@tangent(runtime.kron_grad_right)
def kron_grad_right_tangent(out, g, a, b):
    d[out] = runtime.kron_grad_right(d[g], a, b) + runtime.kron_grad_right(g, d[a], b)


@tangent(runtime.real_like)
def real_like_tangent(out, g, x):
    d[out] = runtime.real_like(d[g], x)


# Helpers of the FFT rules: linear in the gradient they carry.
@tangent(runtime.fft_unpad)
def fft_unpad_tangent(out, g, x, s, axes):
    d[out] = runtime.fft_unpad(d[g], x, s, axes)


@tangent(runtime.rfft_grad)
def rfft_grad_tangent(out, g, x, s, axes, norm):
    d[out] = runtime.rfft_grad(d[g], x, s, axes, norm)


@tangent(runtime.irfft_grad)
def irfft_grad_tangent(out, g, y, s, axes, norm):
    d[out] = runtime.irfft_grad(d[g], y, s, axes, norm)


nondifferentiable(runtime.fft_axes, reason="an index")


# The helper of the numpy.linalg rules that generated adjoints call, linear in the
# gradient it carries.
@tangent(runtime.symmetric_input_grad)
def symmetric_input_grad_tangent(out, p, uplo="L"):
    d[out] = runtime.symmetric_input_grad(d[p], uplo)
