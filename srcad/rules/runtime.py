"""Forward rules for the helpers that generated reverse-mode code calls.

They make srcad's own output differentiable by srcad: a forward-mode
transform of a gradient (`jvp(grad(f))`, `hessian`, `hvp`) runs through the
generated adjoint and meets these helpers. Each is linear in the gradient
it carries, so each rule applies the helper to the tangent.
"""
import builtins

from .. import runtime
from ..runtime import (accumulate, add_at, as_gradient, copy_value, dot_left, dot_right,
                       extremum_grad, fit, item_grad, matmul_left, matmul_right, pop_grad,
                       repeat_to_shape, restore_item, saved_item, seed_copy, take_at,
                       unbroadcast, where_grad)
from .templates import d, nondifferentiable, tangent


@tangent(unbroadcast)
def unbroadcast_tangent(out, g, x):
    d[out] = unbroadcast(d[g], x)


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


@tangent(as_gradient)
def as_gradient_tangent(out, g, x):
    d[out] = as_gradient(d[g], x)


nondifferentiable(runtime.zeros_like, runtime.reduced_size, builtins.reversed, builtins.slice,
                  reason="a shape, a zero or an index")

# Helpers that update their first argument in place (analysis.py follows them).
MUTATING = {add_at, take_at, restore_item, pop_grad}
