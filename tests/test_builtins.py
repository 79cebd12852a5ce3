"""Builtins on differentiated values, in both modes, against finite differences, autograd
and JAX; what is refused, and where."""
import numpy as np
import pytest

import srcad
from srcad.rules import builtins as rules
from oracle import FD_STEP, autograd_grad, check_grad, line_of, numerical_grad, with_globals


def sorted_row(x):          # the row of issue #8's table: 0.0 before, -1.0 is right
    s = sorted([x, 2 * x, -x])
    return 3 * s[0] + s[2]


def test_sorted_routes_each_gradient_back_to_its_source():
    assert srcad.grad(sorted_row)(1.0) == -1.0
    assert srcad.jvp(sorted_row)(1.0, 1.0) == (-1.0, -1.0)


# -- programs, checked against finite differences and two independent oracles ------------

def p_sorted_loop(x):
    total = 0.0
    for v in sorted([x[0], x[1] * 2.0, -x[2]]):
        total = total * 3.0 + v
    return total


def p_sorted_reverse(x):
    s = sorted(x * x, reverse=True)
    return s[0] * 2.0 + s[1] - s[2] * s[0]


def p_sorted_key(x):
    s = sorted([x[0], -x[1], x[2] * 2.0], key=abs)
    return s[0] + 2.0 * s[1] * s[2]


def p_max_min(x):
    items = [x[0], x[1] * 2.0, -x[2]]
    return max(items) - min(items) * max(x) + min(x[0], x[1] * x[2]) \
        + max(x[0], x[1], x[2], key=abs)


def p_sum(x):
    return sum([x[0] * x[1], x[2]], 0.5) * sum(x) + sum([x, x * x])[1]


def p_reversed_zip_enumerate(x):
    total = 0.0
    for i, (a, b) in enumerate(zip(reversed([x[0], x[1], x[2]]), [x[1], x[2], x[0]])):
        total = total + (i + 1.0) * a * b
    pairs = list(zip(x, reversed(x)))
    return total + pairs[0][1] * pairs[2][0]


def p_abs_round(x):
    return abs(x[0] - x[1]) * round(x[2], 1) + abs(x[2]) + x[0] * round(3.7)


def p_len(x):
    return x[0] * len([x, x]) + len(x) * x[1]


PROGRAMS = [sorted_row, p_sorted_loop, p_sorted_reverse, p_sorted_key, p_max_min, p_sum,
            p_reversed_zip_enumerate, p_abs_round, p_len]
X = np.array([0.7, -0.4, 1.3])


def _argument(f):
    return 1.0 if f is sorted_row else X.copy()


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_grad_against_finite_differences_and_autograd(f):
    x = _argument(f)
    got = check_grad(f, x)
    if f is not p_abs_round:    # autograd has no round
        np.testing.assert_allclose(got, autograd_grad(f, (x,)), rtol=1e-12, atol=1e-12)


def _directional(f, x, v, h=FD_STEP):
    """Five-point central difference of f along v."""
    at = [f(x + t * h * v) for t in (-2, -1, 1, 2)]
    return (at[0] - 8.0 * at[1] + 8.0 * at[2] - at[3]) / (12.0 * h)


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_jvp_against_finite_differences(f):
    x = _argument(f)
    v = 1.0 if f is sorted_row else np.array([0.3, -1.1, 0.6])
    value, tangent = srcad.jvp(f)(x, v)
    assert value == f(x)
    np.testing.assert_allclose(tangent, _directional(f, x, v), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_grad_against_jax(f):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    fj = with_globals(f, np=jax.numpy)
    x = _argument(f)
    expected = jax.grad(fj)(jax.numpy.asarray(x, dtype=jax.numpy.float64))
    np.testing.assert_allclose(srcad.grad(f)(x), np.asarray(expected), rtol=1e-12, atol=1e-12)


def ties(x, y):
    s = sorted([x, 2.0 * y, x * 1.0])     # equal values keep their order
    return 3.0 * s[0] + 2.0 * s[1] + s[2] + max(x, 2.0 * y) * 5.0 + min(2.0 * y, x) * 7.0


def test_ties_go_where_python_puts_them():
    # x, 2y and x * 1.0 are equal: sorted keeps them in order, max and min take the first
    assert srcad.grad(ties, wrt=(0, 1))(1.0, 0.5) == (3.0 + 1.0 + 5.0, 2.0 * 2.0 + 2.0 * 7.0)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    assert jax.grad(ties, argnums=(0, 1))(1.0, 0.5) == (9.0, 18.0)


def nan_first(x, y):
    return max([x, y]) + min(y, x)     # Python keeps the first where comparisons fail


def test_max_min_follow_python_where_comparisons_fail():
    dx, dy = srcad.grad(nan_first, wrt=(0, 1))(np.nan, 1.0)
    assert (dx, dy) == (1.0, 1.0)   # max([nan, 1.0]) is nan, min(1.0, nan) is 1.0
    dx, dy = srcad.grad(nan_first, wrt=(0, 1))(1.0, np.nan)
    assert (dx, dy) == (1.0, 1.0)


def keys_only(params):
    total = 0.0
    for name in sorted(params):     # a dict's keys: no derivative, its values untouched
        total = total + params[name] * len(name)
    return total + params[max(params)]


def test_sorted_and_max_of_a_dict_take_its_keys():
    assert srcad.grad(keys_only)({"w": 2.0, "bias": 3.0}) == {"w": 2.0, "bias": 4.0}
    assert srcad.jvp(keys_only)({"w": 2.0, "bias": 3.0}, {"w": 1.0, "bias": 0.5}) \
        == (16.0, 4.0)


def int_bitwise(n, x):
    return x * (n | 1) + (n & 2) * x


def test_integer_bitwise_operators_have_no_derivative():
    assert srcad.grad(int_bitwise, wrt=(0, 1))(4, 1.5) == (0.0, 5.0)


def sequences(x):
    zipped = list(zip([x, 2.0 * x], [3.0, x * x]))
    rev = tuple(reversed(zipped))
    return rev[0][1] * rev[1][0] + sum(list(reversed([x, x])), x)     # x**3 + 3x


def test_zip_reversed_tuple_in_both_modes():
    assert srcad.grad(sequences)(0.8) == pytest.approx(3 * 0.8 ** 2 + 3, rel=1e-12)
    assert srcad.jvp(sequences)(0.8, 1.0)[1] == pytest.approx(3 * 0.8 ** 2 + 3, rel=1e-12)


# -- refused, at the user's line ----------------------------------------------------------

def uses_map(x):
    apply = map
    values = list(apply(np.sin, x))     # map
    return values[0]


def through_text(x):
    y = float(str(x))     # str
    return y * x


def linspace_step(x):
    samples, step = np.linspace(0.0, x, 5, retstep=True)     # retstep
    return step


def writes_out(x, y):
    np.sum(x, axis=0, out=y)     # out=
    return y[0]


def five_arguments(x):
    return max(x, 1.0, 2.0, 3.0, 4.0)     # five


def pow_mod(x):
    return pow(x, 2, 5)     # mod


def through_f_string(x):
    text = f"{x:.17g}"     # f-string
    return float(text) * x


def floor_into(x):
    y = x * 2.0
    np.floor(x, y)     # positional out
    return np.sum(y)


def round_into(x):
    y = x * 2.0
    x.round(1, out=y)     # method out
    return np.sum(y)


@pytest.mark.parametrize("mode", ["grad", "jvp"])
@pytest.mark.parametrize("f, marker", [(uses_map, "# map"), (through_text, "# str"),
                                       (linspace_step, "# retstep"),
                                       (five_arguments, "# five"), (pow_mod, "# mod"),
                                       (through_f_string, "# f-string"),
                                       (floor_into, "# positional out"),
                                       (round_into, "# method out")],
                         ids=lambda v: getattr(v, "__name__", v))
def test_refused_at_the_line(f, marker, mode):
    x = np.array([0.3, 0.2]) if f in (uses_map, floor_into, round_into) else 2.0
    with pytest.raises(srcad.SrcadError) as info:
        srcad.grad(f)(x) if mode == "grad" else srcad.jvp(f)(x, x)
    assert info.value.lineno == line_of(f, marker), str(info.value)


def test_refusals_say_what_to_write_instead():
    with pytest.raises(srcad.SrcadError, match=r"\[f\(v\) for v in xs\]"):
        srcad.grad(uses_map)(np.array([0.3, 0.2]))
    with pytest.raises(srcad.SrcadError, match="compute with the number itself"):
        srcad.grad(through_text)(2.0)


def test_out_is_refused_at_the_line():
    with pytest.raises(srcad.SrcadError) as info:
        srcad.grad(writes_out)(np.ones((2, 2)), np.zeros(2))
    assert info.value.lineno == line_of(writes_out, "# out=")


def sorted_iterator(x):
    return sorted(zip([x, 2.0 * x], [1.0, 0.0]))[0][0]


def sorted_key_array(x):
    return sorted(x, key=abs)[0]


def sum_iterator(x):
    return sum(reversed([x, 2.0 * x]))


@pytest.mark.parametrize("f, x", [(sorted_iterator, 1.5), (sorted_key_array, X),
                                  (sum_iterator, 1.5)], ids=lambda v: getattr(v, "__name__", ""))
def test_items_that_cannot_be_read_again_are_refused(f, x):
    with pytest.raises(srcad.SrcadError, match="list"):
        srcad.grad(f)(x)


def test_sum_of_an_iterator_in_forward_mode_needs_no_items():
    assert srcad.jvp(sum_iterator)(1.5, 1.0) == (4.5, 3.0)


def ew_modulus(xr, xi):
    return np.abs(xr + 1j * xi)


def test_python_float_arguments_of_a_complex_computation_get_real_gradients():
    """dL = Re(g dx) for a real x: a Python float argument gets a float gradient."""
    grads = srcad.grad(ew_modulus, wrt=(0, 1))(1.0, 2.0)
    assert all(type(g) is float for g in grads)
    np.testing.assert_allclose(grads, np.array([1.0, 2.0]) / np.sqrt(5.0), rtol=1e-12)
    check_grad(ew_modulus, 1.0, 2.0, wrt=(0, 1))


def bi_concatenated_sorted(x, y):
    s = sorted([x, 2 * x]) + sorted([y, -y])  # MARK
    return s[0] * s[3] + s[1]


def test_list_concatenation_is_refused_in_reverse_mode_at_its_line():
    with pytest.raises(srcad.SrcadError, match="concatenation") as info:
        srcad.grad(bi_concatenated_sorted, wrt=(0, 1))(1.0, 2.0)
    assert info.value.lineno == line_of(bi_concatenated_sorted, "# MARK")


def abs_then_scaled_in_a_loop(x, y, s, k):
    v = abs(y) * 0.5
    for _ in range(k):
        v *= np.tanh(s / ((s / (x[2] ** 2 + 1.0)) ** 2 + 1.0))
    return np.sum(np.sin(v))


def test_abs_of_an_array_keeps_its_shape():
    # the shape of abs(y) was taken as a number's, and a scalar's gradient lost its sum
    args = (np.array([0.1, 0.2, 0.3]), np.array([0.5, -0.4, 0.2]), 0.7, 2)
    got = srcad.grad(abs_then_scaled_in_a_loop, wrt=(0, 1, 2))(*args)
    expected = numerical_grad(abs_then_scaled_in_a_loop, args, wrt=(0, 1, 2))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-9)


# -- dict views, generator expressions and map: as lists --------------------------------

def dict_views(p):
    total = 0.0
    for name, value in p.items():
        total = total + np.sum(value ** 2) * len(name)
    for value in p.values():
        total = total + np.sum(np.sin(value))
    for key in p.keys():
        total = total + np.sum(p[key]) * 0.5
    return total


def consumed_generators(x, p):
    return sum(v * v for v in x) + max(np.tanh(v) for v in x) \
        + sum(np.sum(q ** 3) for q in p.values()) + min(v for v in x if v > -5.0)


def mapped(x, y):
    return sum(map(np.sin, x)) + sum(map(lambda a, b: a * b, x, y)) \
        + np.sum(np.array(list(map(np.exp, y))))


PARAMS = {"w": np.array([0.3, -0.2, 0.5]), "bias": 0.7}


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_dict_views_in_both_modes(mode):
    expected = numerical_grad(dict_views, (PARAMS,))
    if mode == "grad":
        got = srcad.grad(dict_views)(PARAMS)
    else:
        jvp = srcad.jvp(dict_views)
        got = {"w": np.array([jvp(PARAMS, {"w": e, "bias": 0.0})[1] for e in np.eye(3)]),
               "bias": jvp(PARAMS, {"w": np.zeros(3), "bias": 1.0})[1]}
    np.testing.assert_allclose(got["w"], expected["w"], rtol=1e-6)
    assert got["bias"] == pytest.approx(expected["bias"], rel=1e-6)


def test_generator_expressions_passed_to_a_call():
    x = np.array([0.3, -0.2, 0.5])
    got = srcad.grad(consumed_generators, wrt=(0, 1))(x, PARAMS)
    expected = numerical_grad(consumed_generators, (x, PARAMS), wrt=(0, 1))
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6)
    np.testing.assert_allclose(got[1]["w"], expected[1]["w"], rtol=1e-6)
    tangent = srcad.jvp(consumed_generators, wrt=0)(x, PARAMS, np.ones(3))[1]
    assert tangent == pytest.approx(np.sum(expected[0]), rel=1e-6)


def test_map_with_a_function_and_a_lambda():
    x, y = np.array([0.3, -0.2, 0.5]), np.array([0.1, 0.4, -0.6])
    got = srcad.grad(mapped, wrt=(0, 1))(x, y)
    expected = numerical_grad(mapped, (x, y), wrt=(0, 1))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6)
    code = [line for line in srcad.grad(mapped, wrt=(0, 1)).source.splitlines()
            if not line.lstrip().startswith("#")]
    assert not any("lambda" in line for line in code)


def test_loop_over_a_dict_itself_says_to_loop_over_a_view():
    def keys_of(p):
        total = 0.0
        for k in p:
            total = total + np.sum(p[k])
        return total
    with pytest.raises(srcad.SrcadError, match=r"d.keys\(\), d.values\(\) or d.items\(\)"):
        srcad.grad(keys_of)(PARAMS)


def test_view_of_an_object_that_is_not_a_dict_is_refused():
    class Table:
        def items(self):
            return [("w", 1.0)]

    with pytest.raises(srcad.SrcadError, match=r"\.items\(\) of a Table"):
        rules.dict_items_grad([(0.0, 1.0)], Table())
    with pytest.raises(srcad.SrcadError, match=r"\.values\(\) of a Table"):
        rules.dict_values_tangent({"w": 1.0}, Table())


def fix_into_itself(x):
    v = np.fix(x, x)                    # out, given by position
    return np.sum(x * x) + np.sum(v)


def round_into_itself(x):
    v = np.round(x, 0, x)
    return np.sum(x * x) + np.sum(v)


def clip_into_itself(x):
    v = np.clip(x, -1.0, 1.0, x)
    return np.sum(x * x) + np.sum(v)


def round_method_into_itself(x):
    v = x.round(0, x)
    return np.sum(x * x) + np.sum(v)


def round_without_out(x):
    return np.sum(np.round(x, 0) * x) + np.sum(np.cumsum(x, 0))


@pytest.mark.parametrize("f", [fix_into_itself, round_into_itself, clip_into_itself,
                               round_method_into_itself], ids=lambda f: f.__name__)
@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_out_given_by_position_is_refused(f, mode):
    # np.fix(x, x) truncates x in place: the gradient [2, -4] was taken as if x kept its
    # values, where x is piecewise constant and 0 is right (seed 19011729)
    x = np.array([1.5, -2.3])
    with pytest.raises(srcad.SrcadError, match="writing into an array given as out"):
        srcad.grad(f)(x) if mode == "grad" else srcad.jvp(f)(x, x)


def test_arguments_before_out_are_differentiated():
    x = np.array([1.4, -2.3, 0.2])
    np.testing.assert_allclose(srcad.grad(round_without_out)(x), np.round(x) + [3, 2, 1])
