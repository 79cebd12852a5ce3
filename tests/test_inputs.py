"""Arguments are classified when a transform is called.

Numbers, NumPy scalars, ndarrays and lists, tuples and dicts of them are
differentiated. A NumPy integer or bool argument is differentiated as the
float it stands for (the function runs on float64; the gradient is a float);
a Python int stays an int (its arithmetic is exact), its gradient a float.
ndarray subclasses and other array types are refused, naming the argument,
as is a `wrt` argument that is not numeric. Oracle: central finite
differences of the function at the float argument (tests/oracle.py).
"""
import numpy as np
import pytest

import srcad
from oracle import numerical_grad


def sum_of_squares(x):
    return np.sum(x * x)


def mean_of_squares(x):
    return np.mean(x * x)


def scaled_sum(w, data):
    return np.sum(w * data)


def root_plus_half(x):
    return np.sqrt(x) + 0.5 * x


def summed_root_plus_half(x):
    return np.sum(np.sqrt(x) + 0.5 * x)


# -- array types srcad does not differentiate: refused, naming the argument --------------

def test_matrix_argument_is_refused():
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(srcad.SrcadError, match=r"argument 'x' is a numpy.matrix.*np.asarray\(x\)"):
        srcad.grad(sum_of_squares)(m)


def test_matrix_refused_where_finite_differences_disagree_with_an_elementwise_gradient():
    # what srcad returned before: 2 * x, the gradient of an elementwise square
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    assert not np.allclose(numerical_grad(sum_of_squares, (m,)), 2 * np.asarray(m))
    with pytest.raises(srcad.SrcadError):
        srcad.value_and_grad(sum_of_squares)(m)


def test_matrix_as_data_argument_is_refused():
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(srcad.SrcadError, match="argument 'data' is a numpy.matrix"):
        srcad.grad(scaled_sum)(np.ones((2, 2)), m)


def test_matrix_inside_a_list_is_refused():
    def total(xs):
        return np.sum(xs[0] * xs[1])
    with pytest.raises(srcad.SrcadError, match=r"argument 'xs\[1\]' is a numpy.matrix"):
        srcad.grad(total)([np.ones((2, 2)), np.matrix(np.eye(2))])


def test_masked_array_is_refused():
    x = np.ma.array([1.0, 2.0, 3.0], mask=[0, 0, 1])
    expected = numerical_grad(mean_of_squares, (x,))     # the mean over the unmasked entries
    assert np.allclose(expected, [1.0, 2.0, 0.0])
    with pytest.raises(srcad.SrcadError, match=r"argument 'x' is a masked array.*compressed"):
        srcad.grad(mean_of_squares)(x)


def test_memmap_and_other_subclasses_are_refused(tmp_path):
    mm = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(3,))
    mm[:] = [1.0, 2.0, 3.0]
    with pytest.raises(srcad.SrcadError, match=r"numpy.memmap, a subclass of numpy.ndarray"):
        srcad.grad(sum_of_squares)(mm)

    class Tagged(np.ndarray):
        pass
    with pytest.raises(srcad.SrcadError, match="a subclass of numpy.ndarray"):
        srcad.grad(sum_of_squares)(np.ones(3).view(Tagged))
    # the way out the message names works
    assert np.allclose(srcad.grad(sum_of_squares)(np.asarray(mm)), [2.0, 4.0, 6.0])


class OwnDispatch:
    """An array type of its own: it takes NumPy's functions over."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array_function__(self, func, types, args, kwargs):
        return NotImplemented


def test_array_type_with_its_own_dispatch_is_refused():
    with pytest.raises(srcad.SrcadError, match="argument 'x' is a .*OwnDispatch, an array type"):
        srcad.grad(sum_of_squares)(OwnDispatch([1.0, 2.0]))
    with pytest.raises(srcad.SrcadError, match="argument 'data'"):
        srcad.grad(scaled_sum)(np.ones(2), OwnDispatch([1.0, 2.0]))


def test_a_tangent_of_an_array_type_of_its_own_is_refused_at_the_def():
    with pytest.raises(srcad.SrcadError, match="'the tangent of x' is a .*OwnDispatch") as e:
        srcad.jvp(sum_of_squares)(np.ones(2), OwnDispatch([1.0, 2.0]))
    assert (e.value.filename, e.value.lineno) == (__file__,
                                                  sum_of_squares.__code__.co_firstlineno)


@pytest.mark.parametrize("transform", [srcad.value_and_grad, srcad.vjp, srcad.jacobian,
                                       srcad.hessian, srcad.jvp])
def test_every_transform_classifies_its_arguments(transform):
    m = np.matrix([[1.0, 2.0]])
    args = (m, np.ones((1, 2))) if transform is srcad.jvp else (m,)
    with pytest.raises(srcad.SrcadError, match="numpy.matrix"):
        transform(sum_of_squares)(*args)


def test_refusal_points_at_the_def():
    with pytest.raises(srcad.SrcadError) as caught:
        srcad.grad(sum_of_squares)(np.matrix([[1.0]]))
    assert caught.value.filename == __file__
    assert caught.value.lineno == sum_of_squares.__code__.co_firstlineno


# -- wrt arguments that are not numeric -----------------------------------------------------

@pytest.mark.parametrize("value, shown", [
    ("abc", "a str"), (None, "None"), (object(), "an object"),
    (np.array(["a", "b"]), "dtype <U1"), (np.array([1.0, None]), "dtype object"),
    ([1.0, "a"], r"'x\[1\]' is a str"), ({"w": None}, r"'x\['w'\]' is None"),
])
def test_wrt_argument_that_is_not_numeric_is_refused(value, shown):
    def f(x, y):
        return y * 2.0
    with pytest.raises(srcad.SrcadError, match=shown):
        srcad.grad(f)(value, 1.5)


def test_non_numeric_data_arguments_are_fine():
    def f(x, name, flag, options):
        return x * 2.0 if flag and name == "double" else x
    assert srcad.grad(f)(1.5, "double", True, None) == 2.0
    assert srcad.grad(f)(1.5, "other", True, None) == 1.0


# -- integers and bools: differentiated as the floats they stand for ------------------------

def test_numpy_integer_scalar():
    # srcad returned np.int64(0) here: the gradient cast back to the argument's dtype
    g = srcad.grad(root_plus_half)(np.int64(2))
    assert isinstance(g, float) and not isinstance(g, np.integer)
    assert g == pytest.approx(0.5 / np.sqrt(2.0) + 0.5)
    assert g == pytest.approx(numerical_grad(root_plus_half, (np.int64(2),)))


@pytest.mark.parametrize("kind", [int, np.int8, np.int16, np.int32, np.int64, np.uint8,
                                  np.uint16, np.uint32, np.uint64])
def test_integer_scalars_of_every_dtype(kind):
    g = srcad.grad(root_plus_half)(kind(3))
    assert isinstance(g, float)
    assert g == pytest.approx(numerical_grad(root_plus_half, (3.0,)), rel=1e-9)


@pytest.mark.parametrize("value", [True, np.bool_(True)])
def test_bool_scalars(value):
    def f(x):
        return 3.0 * x + x * x
    g = srcad.grad(f)(value)
    assert isinstance(g, float) and g == pytest.approx(5.0)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint8, np.bool_])
def test_integer_and_bool_arrays_get_float64_gradients(dtype):
    x = np.array([1, 4, 9]).astype(dtype)
    g = srcad.grad(summed_root_plus_half)(x)
    assert g.dtype == np.float64 and g.shape == x.shape
    assert np.allclose(g, numerical_grad(summed_root_plus_half, (x,)), rtol=1e-8)


def test_float_scalar_dtypes_are_kept():
    assert isinstance(srcad.grad(root_plus_half)(np.float32(4.0)), np.float32)
    assert isinstance(srcad.grad(root_plus_half)(np.float16(4.0)), np.float16)


def true_and_floor_division(x):
    return np.sum(x / 2 + (x // 2) * x)


def test_true_and_floor_division_of_integers():
    # x / 2 has derivative 1/2; floor(x / 2) is piecewise constant, so d/dx of
    # (x // 2) * x is floor(x / 2), the same for the integer and the float argument
    x = np.array([3, 5, 7])
    g = srcad.grad(true_and_floor_division)(x)
    assert np.allclose(g, 0.5 + x // 2)
    assert np.allclose(g, numerical_grad(true_and_floor_division, (x,)), rtol=1e-8)


def written_into_a_copy(x):
    y = x.copy()
    y[0] = 0.5 * x[1]       # in the integer array, 0.5 * x[1] would be truncated
    return np.sum(y * y)


def test_integer_array_runs_in_floating_point():
    x = np.array([2, 3, 4])
    g = srcad.grad(written_into_a_copy)(x)
    assert np.allclose(g, numerical_grad(written_into_a_copy, (x,)), rtol=1e-8)
    assert np.allclose(g, [0.0, 2 * 3 + 0.5 * 2 * 1.5, 8.0])


def test_overflowing_integer_arithmetic_is_differentiated_in_floating_point():
    def square(x):
        return x * x
    # uint8 200 * 200 wraps around; the float it stands for does not
    assert srcad.grad(square)(np.uint8(200)) == pytest.approx(400.0)


def test_value_and_grad_of_an_integer_gives_the_float_value():
    value, g = srcad.value_and_grad(written_into_a_copy)(np.array([2, 3, 4]))
    assert value == pytest.approx(written_into_a_copy(np.array([2.0, 3.0, 4.0])))
    assert g.dtype == np.float64


def test_integers_in_containers():
    def f(p):
        return p[0] * p[1] + np.sum(p[2])
    g = srcad.grad(f)([2, 3, np.array([1, 2])])
    assert isinstance(g, list) and g[0] == 3.0 and g[1] == 2.0
    assert isinstance(g[0], float) and g[2].dtype == np.float64
    d = srcad.grad(lambda_free_dict)({"a": 2, "b": np.int32(5)})
    assert d == {"a": 5.0, "b": 2.0} and all(isinstance(v, float) for v in d.values())


def lambda_free_dict(p):
    return p["a"] * p["b"]


def test_integer_argument_as_keyword_and_default():
    def f(x, y=2):
        return x * y * y
    assert srcad.grad(f, wrt=1)(1.5) == pytest.approx(6.0)
    assert srcad.grad(f, wrt="y")(1.5, y=np.int64(3)) == pytest.approx(9.0)


def test_integer_argument_in_other_transforms():
    def cube(x):
        return x * x * x
    assert srcad.jvp(cube)(2, 1)[1] == pytest.approx(12.0)
    value, pullback = srcad.vjp(cube)(np.array([1, 2]))
    assert np.allclose(pullback(np.ones(2)), [3.0, 12.0])
    assert srcad.hessian(cube)(2) == pytest.approx(12.0)
    assert np.allclose(srcad.jacobian(cube)(np.array([1, 2])), np.diag([3.0, 12.0]))


def test_integer_data_arguments_stay_integers():
    def pick(x, i):
        return x[i] * x[i]
    assert np.allclose(srcad.grad(pick)(np.array([1.0, 2.0, 3.0]), 2), [0.0, 0.0, 6.0])


def test_integer_and_float_calls_share_no_hot_path_entry():
    df = srcad.grad(written_into_a_copy)
    expected = numerical_grad(written_into_a_copy, (np.array([2.0, 3.0, 4.0]),))
    for x in [np.array([2.0, 3.0, 4.0]), np.array([2, 3, 4]), np.array([2.0, 3.0, 4.0]),
              np.array([2, 3, 4])]:
        assert np.allclose(df(x), expected, rtol=1e-8)


def test_numpy_integer_used_as_an_integer_is_refused():
    def pick(i, x):
        return x[i] * 2.0
    with pytest.raises(srcad.SrcadError, match=r"argument 'i' are differentiated as the floats"):
        srcad.grad(pick)(np.int64(1), np.ones(3))
    with pytest.raises(srcad.SrcadError, match="IndexError"):
        srcad.grad(pick)(np.array([0, 2]), np.ones(3))
    # a Python int stays an int: a zero derivative, as Python computes it
    assert srcad.grad(pick, wrt=(0, 1))(1, np.ones(3))[0] == 0.0


def test_python_int_stays_exact():
    def f(n, x):
        return x * (n // 3) + x * (n % 7)
    big = 10 ** 20 + 5      # beyond float64's integers
    assert srcad.grad(f, wrt=1)(big, 1.0) == pytest.approx(float(big // 3 + big % 7))


def test_positional_only_integer_default():
    def f(x, n=np.int64(3), /):
        return x * n * n
    assert srcad.grad(f, wrt=1)(2.0) == pytest.approx(12.0)


# -- arrays keep their dtype: float32 in, float32 gradient out -----------------------------

def sines(x):
    return np.sin(x) * 2.0


def weighted(x, w):
    return np.sum(w * np.sin(x))


def by_transform(x):
    """Each transform's gradients (or tangents, or Jacobian) of x, and float64 oracles."""
    x64 = x.astype(np.float64)
    w = np.array([0.5, -1.5, 2.0], dtype=x.dtype)
    grad = srcad.grad(summed_root_plus_half)
    value_and_grad = srcad.value_and_grad(summed_root_plus_half)
    _, pullback = srcad.vjp(sines)(x)
    twice = srcad.grad(weighted, wrt=(0, 1))
    return [
        (grad(x), numerical_grad(summed_root_plus_half, (x64,))),
        (grad(x), numerical_grad(summed_root_plus_half, (x64,))),     # the hot path
        (value_and_grad(x)[1], numerical_grad(summed_root_plus_half, (x64,))),
        (value_and_grad(x)[1], numerical_grad(summed_root_plus_half, (x64,))),
        (pullback(np.ones(3)), 2.0 * np.cos(x64)),
        (twice(x, w)[0], w * np.cos(x64)), (twice(x, w)[1], np.sin(x64)),
        (srcad.jacobian(sines)(x), np.diag(2.0 * np.cos(x64))),
        (srcad.jacobian(sines, mode="forward")(x), np.diag(2.0 * np.cos(x64))),
        (srcad.hessian(summed_root_plus_half)(x), np.diag(-0.25 * x64 ** -1.5)),
        (srcad.jvp(sines)(x, np.ones(3))[1], 2.0 * np.cos(x64)),
        (srcad.hvp(summed_root_plus_half)(x, np.ones(3)), -0.25 * x64 ** -1.5),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_float_array_dtypes_are_kept(dtype):
    x = np.array([1.0, 4.0, 9.0], dtype=dtype)
    tolerance = {np.float16: 1e-2, np.float32: 1e-5, np.float64: 1e-7}[dtype]
    for i, (got, expected) in enumerate(by_transform(x)):
        assert type(got) is np.ndarray and got.dtype == dtype, (i, got.dtype)
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def product_of_pair(xs):
    return np.sum(xs[0] * xs[1])


def test_float32_arrays_in_containers_keep_their_dtype():
    x, y = np.array([1.0, 2.0], dtype=np.float32), np.array([3.0, -1.0])
    for pair in ([x, y], (x, y), {0: x, 1: y}):
        g = srcad.grad(product_of_pair)(pair)
        assert g[0].dtype == np.float32 and g[1].dtype == np.float64
        np.testing.assert_allclose(g[0], y)
        np.testing.assert_allclose(g[1], x)


# -- a list or tuple read by a NumPy function: read as an array in both modes -----------

def tuple_norm(x):
    return np.sum(np.sin(x)) + np.linalg.norm(x)


def tuple_elementwise(x):
    return np.sum(np.tanh(x) * np.cos(x)) + np.sum(np.reciprocal(x)) + np.sum(2 * np.square(x))


def tuple_powers(x):
    return np.sum(np.power(x, 3)) + np.sum(np.float_power(x, 2.5)) + np.sum(np.arctan2(x, x))


def tuple_sorted_and_clipped(x):
    return np.sum(np.sort(x) * np.arange(3)) + np.sum(np.maximum(x, 0.35)) + np.sum(np.sinc(x))


def tuple_through_triu(x):
    return np.sum(np.triu(x) * np.arange(9.0).reshape(3, 3)) + np.sum(np.tril(x, -1) ** 2)


def list_built_in_a_loop(x, s):
    values = []
    for _ in x:
        values.append(np.sum(np.asarray(x) * s))
    return np.sum(np.array(values) ** 2)


@pytest.mark.parametrize("f", [tuple_norm, tuple_elementwise, tuple_powers,
                               tuple_sorted_and_clipped, tuple_through_triu])
@pytest.mark.parametrize("container", [tuple, list, np.array])
def test_sequence_read_by_numpy_in_both_modes(f, container):
    x = container([0.2, 0.3, 0.45])
    expected = numerical_grad(f, (np.array([0.2, 0.3, 0.45]),))
    assert np.allclose(np.array(srcad.grad(f)(x), float), expected, atol=1e-6)
    jvp = srcad.jvp(f)
    tangents = [jvp(x, container(list(v)))[1] for v in np.eye(3)]
    assert np.allclose(tangents, expected, atol=1e-6)


def test_list_built_in_a_loop_keeps_its_gradient_a_list():
    x, s = np.array([0.3, 0.5]), 1.5
    gx, gs = srcad.grad(list_built_in_a_loop, wrt=(0, 1))(x, s)
    expected = numerical_grad(list_built_in_a_loop, (x, s), wrt=(0, 1))
    assert np.allclose(gx, expected[0]) and np.isclose(gs, expected[1])


# -- results with no derivative: refused by every transform -------------------------------

def returns_a_range(x):
    y = x * 2.0
    return range(3)


def returns_nothing(x):
    y = x * 2.0


@pytest.mark.parametrize("f, shown", [(returns_a_range, "returned a range"),
                                      (returns_nothing, "returned None")])
@pytest.mark.parametrize("transform", ["jvp", "vjp", "jacobian", "jacobian_forward"])
def test_result_without_a_derivative_is_refused(f, shown, transform):
    x = np.ones(3)
    with pytest.raises(srcad.SrcadError, match=shown) as error:
        if transform == "jvp":
            srcad.jvp(f)(x, x)
        elif transform == "vjp":
            srcad.vjp(f)(x)
        else:
            srcad.jacobian(f, mode=transform.split("_")[-1]
                           if "_" in transform else "reverse")(x)
    assert error.value.filename == __file__


# -- a tangent has its argument's shape and structure -------------------------------------

def tanh_of_product(a, b):
    return np.sum(np.tanh(a * b) ** 2)


@pytest.mark.parametrize("x, v, shown", [
    (np.float64(0.3), np.ones(3), "has shape \\(3,\\), where its argument has shape \\(\\)"),
    (np.ones(3), np.ones(2), "has shape \\(2,\\)"),
    (np.ones(3), 1.0, "has shape \\(\\)"),
    ((0.1, 0.2), (1.0,), "tuple of 2 items"),
    ({"w": 0.1}, {"v": 1.0}, "keys \\['w'\\]"),
])
def test_tangent_of_another_shape_is_refused(x, v, shown):
    with pytest.raises(srcad.SrcadError, match=shown):
        srcad.jvp(tanh_of_product)(x, 0.7, v)
    if not isinstance(x, (tuple, dict)):
        with pytest.raises(srcad.SrcadError, match=shown):
            srcad.hvp(tanh_of_product)(x, 0.7, v)
