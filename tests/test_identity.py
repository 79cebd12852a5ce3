"""Forward and reverse mode agree on every construct: <J v, u> = <v, J^T u>.

For each function of the construct suites (control flow, calls, containers,
subscripts, pitfalls), at a fixed point away from branch boundaries, with
hypothesis-drawn directions v (one per differentiated argument, shaped like
it) and cotangents u (shaped like the output):

* srcad.jvp gives the value f gives, and J v;
* srcad.vjp gives J^T u;
* <J v, u> = <v, J^T u> to rounding;
* J v matches a central finite difference of f along v, and J^T u the
  finite-difference gradient of <f, u> (oracle.py), so that the two modes
  cannot agree on a wrong answer.

Primitive-by-primitive identities are in the rules' tests; these cover how
srcad carries tangents and gradients through statements.
"""
import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import srcad
from oracle import FD_STEP, floats, inner, numerical_vjp, wrt_positions

import test_calls as calls
import test_containers as containers
import test_control_flow as control
import test_pitfalls as pitfalls
import test_subscripts as subscripts

pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")


def a(*values):
    return np.array(values, dtype=float)


def like(value):
    """A strategy for values with value's structure, elements in [-1, 1]."""
    if isinstance(value, np.ndarray):
        return st.lists(floats(-1.0, 1.0), min_size=value.size, max_size=value.size).map(
            lambda xs: np.array(xs, dtype=float).reshape(value.shape))
    if isinstance(value, (tuple, list)):
        return st.tuples(*[like(v) for v in value]).map(type(value))
    if isinstance(value, dict):
        keys = list(value)
        return st.tuples(*[like(value[k]) for k in keys]).map(lambda vs: dict(zip(keys, vs)))
    return floats(-1.0, 1.0)


def axpy(t, v, x):
    """x + t v, for matching structures."""
    if isinstance(x, (tuple, list)):
        return type(x)(axpy(t, vi, xi) for vi, xi in zip(v, x))
    if isinstance(x, dict):
        return {k: axpy(t, v[k], x[k]) for k in x}
    return x + t * v


def scaled(c, x):
    if isinstance(x, (tuple, list)):
        return type(x)(scaled(c, xi) for xi in x)
    if isinstance(x, dict):
        return {k: scaled(c, x[k]) for k in x}
    return c * np.asarray(x, dtype=float)


def combine(xs, ws):
    """sum_k ws[k] * xs[k], for matching structures."""
    first = xs[0]
    if isinstance(first, (tuple, list)):
        return type(first)(combine([x[i] for x in xs], ws) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: combine([x[k] for x in xs], ws) for k in first}
    return sum(w * np.asarray(x, dtype=float) for x, w in zip(xs, ws))


def directional_fd(f, args, positions, directions):
    """Five-point central difference of f along the directions of the wrt arguments."""
    h = FD_STEP

    def at(t):
        moved = list(copy.deepcopy(args))
        for p, v in zip(positions, directions):
            moved[p] = axpy(t, v, moved[p])
        return f(*moved)

    outs = [at(t) for t in (-2 * h, -h, h, 2 * h)]
    return combine(outs, [1 / (12 * h), -8 / (12 * h), 8 / (12 * h), -1 / (12 * h)])


def assert_close(got, expected, rtol, atol, path="value"):
    if isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_close(g, e, rtol, atol, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), path
        for k in expected:
            assert_close(got[k], expected[k], rtol, atol, f"{path}[{k!r}]")
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=float),
                                   np.asarray(expected, dtype=float), rtol=rtol, atol=atol,
                                   err_msg=path)


def check_identity(f, args, wrt, data):
    positions, multi = wrt_positions(f, wrt)
    before = copy.deepcopy(args)
    expected_value = f(*copy.deepcopy(args))
    v = [data.draw(like(args[p]), label=f"v{p}") for p in positions]
    u = data.draw(like(expected_value), label="u")

    value, jv = srcad.jvp(f, wrt=wrt)(*args, *v)
    assert_close(value, expected_value, 1e-12, 1e-12)
    assert_close(jv, directional_fd(f, args, positions, v), 1e-6, 1e-6, "J v")

    value, pullback = srcad.vjp(f, wrt=wrt)(*args)
    jtu = pullback(u)
    assert_close(value, expected_value, 1e-12, 1e-12)
    jtu = jtu if multi else (jtu,)
    expected = numerical_vjp(f, args, u, wrt=tuple(positions))
    assert_close(jtu, expected, 1e-6, 1e-6, "J^T u")

    left = inner(u, jv)
    right = sum(inner(vk, gk) for vk, gk in zip(v, jtu))
    assert left == pytest.approx(right, rel=1e-9, abs=1e-12)
    assert_close(args, before, 0, 0, "arguments after the transforms")


A33 = a(0.3, -1.2, 0.8, 1.7, -0.4, 0.9, 0.1, 0.5, -1.5).reshape(3, 3)
X5 = a(0.3, -1.2, 0.8, 1.7, -0.4)

# (function, arguments, wrt); the point keeps 1e-2 away from every branch boundary
CASES = [
    # --- control flow
    (control.cf_if_elif_else, (a(1.0, 0.5, 0.2),), 0),
    (control.cf_if_elif_else, (a(0.1, -0.3, 0.4),), 0),
    (control.cf_if_elif_else, (a(-1.0, -0.5, -0.7),), 0),
    (control.cf_nested_if, (1.0, -2.0), (0, 1)),
    (control.cf_nested_if, (-1.0, 0.5), (0, 1)),
    (control.cf_if_without_else, (a(1.0, -0.5),), 0),
    (control.cf_branch_on_elementwise_data, (a(0.5, -0.5, -1.5, 1.2),), 0),
    (control.cf_branch_assigns_different_variables, (a(0.5, 1.5, 0.3),), 0),
    (control.cf_branch_assigns_different_variables, (-a(0.5, 1.5, 0.3),), 0),
    (control.cf_ifexp, (1.5,), 0),
    (control.cf_ifexp, (-0.2,), 0),
    (control.cf_ifexp_arrays, (a(1.5, 1.0, 0.7), a(0.5, 0.6, 0.9)), (0, 1)),
    (control.cf_nested_ifexp, (0.5,), 0),
    (control.cf_and, (0.5, 0.7), (0, 1)),
    (control.cf_or, (-0.5, 0.7), (0, 1)),
    (control.cf_not, (0.5, -0.7), (0, 1)),
    (control.cf_combined, (0.5, -0.7), (0, 1)),
    (control.cf_combined, (-0.5, -0.7), (0, 1)),
    (control.cf_and_or_array_conditions, (a(0.5, 0.3, -0.2),), 0),
    (control.cf_and_value, (1.5, True), 0),
    (control.cf_range_constant, (a(0.3, -1.2, 0.9),), 0),
    (control.cf_range_argument, (a(0.9, -0.7, 1.1), 3), 0),
    (control.cf_range_start_stop_step, (X5,), 0),
    (control.cf_range_bound_from_data_shape,
     (np.linspace(-1.0, 1.0, 12).reshape(3, 2, 2), a(0.4, -0.6)), (0, 1)),
    (control.cf_loop_variable_used_as_value, (1.3,), 0),
    (control.cf_for_over_array, (X5,), 0),
    (control.cf_for_over_matrix_rows, (A33[:, :2].copy(), a(0.4, -0.6)), (0, 1)),
    (control.cf_for_over_list_of_actives, (0.7, -1.3), (0, 1)),
    (control.cf_for_over_list_argument, ([a(1.0, 2.0), a(-0.5), a(0.3, 0.1, 0.2)],), 0),
    (control.cf_enumerate, (X5,), 0),
    (control.cf_enumerate_start, (a(1.5, -0.5, 0.7),), 0),
    (control.cf_zip, (a(0.3, -1.2, 0.8), a(1.7, -0.4, 0.9)), (0, 1)),
    (control.cf_zip_unequal_lengths, (a(1.0, 2.0, 3.0), a(-1.0, 0.5)), (0, 1)),
    (control.cf_enumerate_zip, (a(0.5, 1.5, -1.0), a(2.0, -0.5, 0.3)), (0, 1)),
    (control.cf_nested_loops, (A33[:2], a(0.4, -0.6, 1.1)), (0, 1)),
    (control.cf_triangular_loops, (a(0.5, -1.0, 2.0, 0.3),), 0),
    (control.cf_three_deep_loops_with_branch, (a(0.3, 1.2, -0.7, 0.8),), 0),
    (control.cf_while_data_dependent, (1.2,), 0),
    (control.cf_while_array, (a(0.5, -0.2, 0.3),), 0),
    (control.cf_while_counter, (0.7, 4), 0),
    (control.cf_nested_while_in_for, (a(0.3, -0.45, 1.2, 2.5),), 0),
    (control.cf_break, (a(1.0, 2.0, -1.0, 3.0),), 0),
    (control.cf_break_data_dependent_accumulator, (a(0.5, 0.2, -0.3, 0.8, 0.1),), 0),
    (control.cf_continue, (a(1.0, 2.0, -1.0, 0.5, 1.5, -2.0),), 0),
    (control.cf_while_break_continue, (0.7,), 0),
    (control.cf_break_in_nested_loop, (a(1.0, -1.0, 2.0, 0.5, 0.7, -0.2, -1.0, 3.0, 3.0)
                                       .reshape(3, 3),), 0),
    (control.cf_return_in_branch, (0.5,), 0),
    (control.cf_return_in_branch, (-1.0,), 0),
    (control.cf_return_in_loop, (a(0.9, 1.1, 0.3, -0.5),), 0),
    (control.cf_return_in_nested_loop, (a(1.0, 0.5, 1.2, 0.9, 0.1, 0.1).reshape(3, 2),), 0),
    (control.cf_return_in_while, (0.8,), 0),
    (control.cf_early_return_skips_rest, (a(1.0, 2.0),), 0),
    # --- calls
    (calls.calls_module_level, (a(0.3, -1.2, 0.8), a(1.5, 0.2, -0.4)), (0, 1)),
    (calls.calls_same_helper_twice, (a(0.4, -0.9, 1.3),), 0),
    (calls.calls_with_inactive_arguments, (1.5,), 0),
    (calls.calls_helper_overwriting_argument, (a(0.3, 1.1),), 0),
    (calls.calls_active_keywords, (a(0.3, -1.2, 0.8), 1.5), (0, 1)),
    (calls.calls_active_keyword_out_of_order, (a(0.3, -0.2), 1.5, a(0.7, 0.1)), (0, 1, 2)),
    (calls.calls_keyword_only, (a(0.5, 1.5), 3.0), (0, 1)),
    (calls.calls_in_loop, (a(0.3, -1.0, 0.5, 0.8), 0.7), (0, 1)),
    (calls.calls_in_branch, (0.5, 1.2), (0, 1)),
    (calls.calls_in_branch, (0.5, -1.2), (0, 1)),
    (calls.calls_branchy_helper_in_loop, (a(0.5, -1.0, 2.0, -0.3),), 0),
    (calls.calls_helper_with_loop_in_loop, (a(0.4, -1.1),), 0),
    (calls.calls_helper_with_in_place_writes, (a(0.5, -1.0, 1.5),), 0),
    (calls.calls_nested_deep, (a(0.2, -0.5, 0.9), 0.6), (0, 1)),
    (calls.calls_recursion, (a(0.3, -0.8, 1.2), 3), 0),
    (calls.calls_power_tower, (1.1, 5), 0),
    (calls._fib_like, (0.7, 4), 0),
    (calls.calls_helper_returning_tuple, (a(0.5, -1.2, 0.8),), 0),
    (calls.calls_plain_function_also_decorated_elsewhere, (a(0.5, -0.3), a(1.0, 2.0)), (0, 1)),
    # --- containers
    (containers.ct_tuple_value, (a(0.3, -1.1, 0.8), a(1.2, 0.4, -0.6)), (0, 1)),
    (containers.ct_list_value, (a(0.3, -1.1, 0.8), a(1.2, 0.4, -0.6)), (0, 1)),
    (containers.ct_dict_value, (a(0.3, -1.1, 0.8), a(1.2, 0.4, -0.6)), (0, 1)),
    (containers.ct_nested_value, (a(0.3, -1.1, 0.8), a(1.2, 0.4, -0.6)), (0, 1)),
    (containers.ct_list_overwrite_element, (a(0.3, -1.1, 0.8), a(1.2, 0.4, -0.6)), (0, 1)),
    (containers.ct_tuple_argument, ((A33[:, :2].copy(), a(0.2, -0.4)), A33[:2]), (0, 1)),
    (containers.ct_list_argument, ([A33, A33[:, :2].copy()], a(0.4, -0.6, 1.1)), (0, 1)),
    (containers.ct_dict_argument, ({"W": A33[:, :2].copy(), "b": a(0.2, -0.4), "scale": 0.3},
                                   A33[:2]), (0, 1)),
    (containers.ct_nested_argument, ({"layer1": (A33[:, :2].copy(), a(0.2, -0.4)),
                                      "rest": [a(0.5, 1.5), 0.7]}, A33[:2]), (0, 1)),
    (containers.ct_float_list, ([0.3, -1.2, 0.8],), 0),
    (containers.ct_returns_tuple, (a(0.3, -1.2), a(1.5, 0.5)), (0, 1)),
    (containers.ct_returns_list, (a(0.3, -1.2, 0.7),), 0),
    (containers.ct_returns_dict, (a(0.3, -1.2), a(1.5, 0.5)), (0, 1)),
    (containers.ct_scalar_from_tuple_output, (a(0.3, -1.2), a(1.5, 0.5)), (0, 1)),
    (containers.ct_append_in_loop, (a(0.3, -0.8, 1.1), 3), 0),
    (containers.ct_append_then_index, (a(0.5, -1.5, 2.0),), 0),
    (containers.ct_append_then_stack, (a(0.5, -1.5, 2.0),), 0),
    (containers.ct_append_with_branch, (a(0.5, -1.5, 2.0, -0.1),), 0),
    (containers.ct_comprehension, (a(0.5, -1.5, 2.0),), 0),
    (containers.ct_comprehension_range, (a(0.5, -1.5, 2.0), 0.7), (0, 1)),
    (containers.ct_comprehension_over_list, ([0.3, -0.7, 1.2],), 0),
    (containers.ct_comprehension_with_condition, (a(0.5, -1.5, 2.0, -0.1),), 0),
    (containers.ct_comprehension_zip, (a(0.5, -1.5, 2.0), a(1.0, 0.5, -0.3)), (0, 1)),
    # --- subscript reads
    (subscripts.sub_int, (X5,), 0),
    (subscripts.sub_negative_int, (X5,), 0),
    (subscripts.sub_slice, (X5,), 0),
    (subscripts.sub_negative_slice, (X5,), 0),
    (subscripts.sub_tail, (a(0.5, -1.0, 2.0, 1.5),), 0),
    (subscripts.sub_multi_axis, (A33,), 0),
    (subscripts.sub_row_then_element, (A33,), 0),
    (subscripts.sub_ellipsis_newaxis, (A33,), 0),
    (subscripts.sub_index_from_argument, (X5, 1, 3), 0),
    (subscripts.sub_index_3d, (np.arange(24, dtype=float).reshape(2, 3, 4) * 0.1 - 1.0,), 0),
    (subscripts.sub_fancy, (a(0.5, -1.0, 2.0),), 0),
    (subscripts.sub_fancy_repeated, (a(0.5, -1.0, 2.0),), 0),
    (subscripts.sub_fancy_repeated_array_index, (a(0.5, -1.0, 2.0, 0.3), np.array([0, 3, 0, -1])),
     0),
    (subscripts.sub_fancy_2d, (np.arange(9, dtype=float).reshape(3, 3) * 0.2 - 0.7,), 0),
    (subscripts.sub_mask, (X5,), 0),
    (subscripts.sub_mask_argument, (a(0.5, -1.0, 2.0, 0.3), np.array([True, False, True, True])),
     0),
    (subscripts.sub_mask_2d, (a(0.5, -1.0, 2.0, 0.3, 0.05, -0.2, 1.5, -0.7, 0.9).reshape(3, 3),),
     0),
    # --- subscript writes
    (subscripts.wr_zeros_int, (a(0.5, 1.5, -2.0),), 0),
    (subscripts.wr_zeros_like_loop, (a(0.5, 1.5, -2.0),), 0),
    (subscripts.wr_empty_rows, (A33[:, :2].copy(), A33[:2].copy()), (0, 1)),
    (subscripts.wr_ones_slice, (a(0.5, 1.5, 0.7),), 0),
    (subscripts.wr_augmented, (a(0.5, 1.5, 0.7),), 0),
    (subscripts.wr_overwrite_same_element, (a(0.5, 1.5, 0.7),), 0),
    (subscripts.wr_accumulate_in_loop, (a(0.5, 1.5, 0.7),), 0),
    (subscripts.wr_2d, (A33,), 0),
    (subscripts.wr_fancy, (a(0.5, 1.5, 0.7),), 0),
    (subscripts.wr_mask, (a(0.5, -1.0, 2.0, -0.3),), 0),
    (subscripts.wr_row_broadcast, (a(0.5, -1.0, 2.0), a(0.3, -0.7)), (0, 1)),
    (subscripts.wr_zeros_like_loop_vector, (a(0.5, 1.5, -2.0),), 0),
    (subscripts.wr_param_element, (a(0.5, 1.5, -2.0),), 0),
    (subscripts.wr_param_augmented, (a(0.5, 1.5, -2.0), a(0.3, -0.7)), (0, 1)),
    (subscripts.wr_param_in_loop, (a(0.5, 1.5, -2.0, 0.4),), 0),
    (subscripts.wr_param_after_read, (a(0.5, 1.5, -2.0),), 0),
    (subscripts.wr_param_from_other, (a(0.5, 1.5, -2.0, 0.7), 1.5), (0, 1)),
    # --- pitfalls
    (pitfalls.pf_softmax, (a(0.3, -1.2, 2.0, 0.1), a(1.0, -2.0, 0.5, 3.0)), (0, 1)),
    (pitfalls.pf_softmax_rows, (A33, A33[::-1].copy()), (0, 1)),
    (pitfalls.pf_div_broadcast, (a(0.7, 1.3, 1.9, 0.6, 1.1, 1.4).reshape(2, 3), a(1.5, -0.8, 0.9)),
     (0, 1)),
    (pitfalls.pf_pow_broadcast, (a(0.7, 1.3, 1.9, 0.6, 1.1, 1.4).reshape(2, 3), a(0.6, 1.2)
                                 .reshape(2, 1)), (0, 1)),
    (pitfalls.pf_pow_0d_exponent, (a(0.5, 1.5, 2.0), a(0.7, 0.8)), (0, 1)),
    (pitfalls.pf_float_times_array, (1.3, a(0.5, 1.2, 1.9, 0.8).reshape(2, 2)), (0, 1)),
    (pitfalls.pf_float_bias, (a(0.5, -1.0, 2.0, 0.3).reshape(2, 2), 0.25), (0, 1)),
    (pitfalls.pf_aug_pow, (a(0.5, 1.5, 2.0), 2.5), (0, 1)),
    (pitfalls.pf_aug_pow_array, (a(0.5, 1.5, 2.0),), 0),
    (pitfalls.pf_every_augmented, (a(0.5, 1.5, 2.0), a(0.7, 1.2, 0.9)), (0, 1)),
    (pitfalls.pf_augmented_in_loop, (a(1.5, 0.8, 2.0),), 0),
    (pitfalls.pf_augmented_broadcast, (a(0.5, -1.0, 2.0, 0.3, 1.1, -0.4).reshape(3, 2),
                                       a(0.7, -1.3)), (0, 1)),
    (pitfalls.pf_for_over_array, (X5,), 0),
    (pitfalls.pf_for_over_list, (0.5, -1.0, 2.0), (0, 1, 2)),
    (pitfalls.pf_for_over_tuple_of_arrays, (a(0.5, -1.0), a(2.0, 0.3)), (0, 1)),
    (pitfalls.pf_for_over_2d, (a(0.5, -1.0, 2.0, 0.3, 1.1, -0.4).reshape(3, 2), a(0.7, -1.3)),
     (0, 1)),
    (pitfalls.pf_keyword_active, (a(0.3, -1.2, 0.8), 0.7), (0, 1)),
    (pitfalls.pf_keyword_only_keywords, (a(0.5, -1.0, 2.0), 0.7), (0, 1)),
    (pitfalls.pf_repeated_index, (a(0.5, -1.0, 2.0),), 0),
    (pitfalls.pf_repeated_index_squared, (a(0.5, -1.0, 2.0),), 0),
    (pitfalls.pf_repeated_rows, (a(0.5, -1.0, 2.0, 0.3, 1.1, -0.4).reshape(3, 2),
                                 np.array([2, 0, 2, 2])), 0),
    (pitfalls.pf_shape, (a(0.5, -1.0, 0.2, 2.0, 0.3, 0.7).reshape(2, 3),), 0),
    (pitfalls.pf_T, (a(0.5, -1.0, 0.2, 2.0, 0.3, 0.7).reshape(2, 3), a(0.4, -0.6)), (0, 1)),
    (pitfalls.pf_ndim, (a(0.5, -1.0, 2.0, 0.3).reshape(2, 2),), 0),
    (pitfalls.pf_shape_used_in_loop, (a(0.5, -1.0, 2.0),), 0),
]


def _id(case):
    values = case.values if hasattr(case, "values") else case
    return values[0].__name__


def _ids():
    seen, out = {}, []
    for case in CASES:
        name_ = _id(case)
        seen[name_] = seen.get(name_, 0) + 1
        out.append(name_ if seen[name_] == 1 else f"{name_}-{seen[name_]}")
    return out


@pytest.mark.parametrize("f, args, wrt", CASES, ids=_ids())
@settings(max_examples=3)
@given(data=st.data())
def test_dot_product_identity_and_finite_differences(f, args, wrt, data):
    check_identity(f, args, wrt, data)
