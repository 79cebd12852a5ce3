"""A differentiated value written into an array of integers is truncated by NumPy, so
its derivative is lost: srcad refuses the write, at transform time where the array's
constructor makes it integer, when it runs where the dtype is not known until then.
Writes into floats are differentiated (oracle: central finite differences); where the
dtype is proven floating, the generated code checks nothing."""
import numpy as np
import pytest

import srcad
from oracle import check_grad, line_of, numerical_jvp


def into_int_zeros(x):
    buf = np.zeros(3, dtype=int)
    buf[0] = x  # MARK
    return np.sum(buf * x)


def into_int32_ones(x):
    buf = np.ones(3, np.int32)
    buf[1:] = 0.5 * x  # MARK
    return np.sum(buf) * x


def into_arange(x):
    steps = np.arange(3)
    steps[2] += x  # MARK
    return np.sum(steps * x)


def into_bool_mask(x):
    mask = np.zeros(2, dtype=bool)
    mask[0] = x  # MARK
    return np.sum(mask * x)


def into_astype_int(x):
    rounded = x.astype(int)
    rounded[0] = x[1]  # MARK
    return np.sum(rounded * x)


def into_int_list_array(x):
    counts = np.array([1, 2])
    counts[1] = x  # MARK
    return np.sum(counts * x)


@pytest.mark.parametrize("f, x", [
    (into_int_zeros, 1.7), (into_int32_ones, 1.7), (into_arange, 1.7), (into_bool_mask, 0.4),
    (into_astype_int, np.array([1.7, 2.2])), (into_int_list_array, 1.7)])
def test_a_write_into_integers_is_refused_when_transformed(f, x):
    for transform in (srcad.grad(f), srcad.jvp(f)):
        with pytest.raises(srcad.UnsupportedSyntaxError, match="integers") as info:
            transform.source if transform.transform_name == "grad" else transform(x, x)
        assert info.value.lineno == line_of(f, "# MARK")


def into_argument(x, buf):
    buf[0] = 2.0 * x  # MARK
    return np.sum(buf * x)


def into_array_of_an_int(x):
    pair = np.array([x, 2])      # integers where x is a Python int
    pair[1] = 0.5 * x  # MARK
    return np.sum(pair * pair)


def into_a_row(x, table):
    row = table[0]
    row[1] = x  # MARK
    return np.sum(row) * x


@pytest.mark.parametrize("f, args", [
    (into_argument, (1.7, np.zeros(3, dtype=int))),
    (into_argument, (1.7, np.zeros(3, dtype=np.uint8))),
    (into_array_of_an_int, (3,)),
    (into_a_row, (1.7, np.zeros((2, 3), dtype=int)))])
def test_a_write_into_integers_is_refused_when_it_runs(f, args):
    for run in (lambda: srcad.grad(f)(*args), lambda: srcad.value_and_grad(f)(*args),
                lambda: srcad.vjp(f)(*args), lambda: srcad.jvp(f)(*args, 1.0)):
        with pytest.raises(srcad.SrcadError, match="truncates") as info:
            run()
        assert info.value.lineno == line_of(f, "# MARK")
    assert not np.any(args[-1]) or f is into_array_of_an_int     # the caller's array kept


@pytest.mark.parametrize("f, args", [
    (into_argument, (1.7, np.zeros(3))),
    (into_argument, (1.7, np.zeros(3, dtype=np.float32))),
    (into_array_of_an_int, (3.0,)),
    (into_a_row, (1.7, np.zeros((2, 3))))])
def test_the_same_writes_into_floats_are_differentiated(f, args):
    tolerance = 1e-3 if np.result_type(args[-1]) == np.float32 else 1e-6   # rounded differences
    check_grad(f, *args, rtol=tolerance)
    _, tangent = srcad.jvp(f)(*args, 1.0)
    assert tangent == pytest.approx(numerical_jvp(f, args, [0], [1.0]), rel=tolerance)


def of_python_int(x):
    mixed = np.array([x, 2.5])   # floats, whatever x is
    mixed[0] = 0.5 * x
    return np.sum(mixed * mixed)


def into_float_buffers(x):
    buf = np.zeros(3)
    typed = np.zeros(2, dtype="float32")
    copied = np.copy(x)
    items = {}
    buf[0] = x[0]
    typed[1] = x[1]
    copied[0] = 2.0 * x[1]
    items["a"] = x[0]
    return np.sum(buf * x) + np.sum(typed) + np.sum(copied * copied) + items["a"]


def test_a_python_int_in_an_array_of_floats():
    assert srcad.grad(of_python_int)(3) == pytest.approx(0.5 * 3.0)
    assert check_grad(of_python_int, 3.0) == pytest.approx(0.5 * 3.0)


def test_writes_proven_floating_are_not_checked():
    x = np.array([0.3, -1.2, 0.7])
    check_grad(into_float_buffers, x, rtol=1e-4)     # float32 rounds the finite differences
    grad = srcad.grad(into_float_buffers)
    grad(x)
    jvp = srcad.jvp(into_float_buffers)
    jvp(x, np.ones(3))
    assert "check_floating" not in grad.source and "check_floating" not in jvp.source
    checked = srcad.grad(into_argument)
    checked(1.7, np.zeros(3))
    primals = [part for part in checked.source.split("\ndef ")
               if part.startswith("into_argument_primal")]
    assert primals and all(part.count("check_floating(buf)") == 1 for part in primals)


def shifted(x, y):
    z = np.empty_like(y)
    z[0] = x[0]  # MARK
    z[1:] = x[1:] * y[:-1]
    return z


def calls_shifted(x, y):
    return np.sum(shifted(x, y + 0.5 * x) ** 2)


def calls_shifted_with_integers(x):
    return np.sum(shifted(x, np.arange(3)) ** 2)


def test_a_called_function_writing_into_its_callers_floats_is_not_checked():
    # the caller proves y + 0.5 * x an array of floats (as x, which srcad passes as
    # floats): shifted's write into np.empty_like(y) needs no check when it runs
    x, y = np.array([0.3, -1.2, 0.7]), np.array([1.0, 2.0, -0.5])
    check_grad(calls_shifted, x, y, wrt=(0, 1))
    g = srcad.grad(calls_shifted, wrt=(0, 1))
    g(x, y)
    assert "check_floating" not in g.source
    # where the caller passes integers, the write is checked, and refused
    with pytest.raises(srcad.SrcadError, match="truncates") as info:
        srcad.grad(calls_shifted_with_integers)(x)
    assert info.value.lineno == line_of(shifted, "# MARK")


def test_hessian_through_a_checked_write():
    # the check in the generated gradient is itself differentiated: it has no derivative
    h = srcad.hessian(into_argument)(1.7, np.zeros(3))
    assert h == pytest.approx(4.0)
    assert srcad.hvp(into_argument)(1.7, np.zeros(3), 1.0) == pytest.approx(4.0)
