"""Errors at call time point at the user's code.

A result grad cannot differentiate (None, a string, an object) is refused at
the function's return line or its end; a call with the wrong arguments names
the function and its signature; an exception raised inside generated code
carries a note naming the user's line it was generated from, and the default
traceback shows the generated lines.
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import srcad
from oracle import line_of
from srcad.rules.templates import d


def returns_nothing(x):
    y = x * 2.0
    y = y + 1.0     # the end


def returns_early_without_value(x):
    if x > 0:
        return      # bare return
    return x * x


def returns_text(x):
    return "x"      # text


class Box:
    pass


def returns_object(x):
    return Box()


# -- results that are not numbers ---------------------------------------------------------------

def test_function_that_returns_nothing_is_refused_at_its_end():
    with pytest.raises(srcad.SrcadError, match="returned None: it ends here") as caught:
        srcad.grad(returns_nothing)(1.5)
    assert caught.value.filename == __file__
    assert caught.value.lineno == line_of(returns_nothing, "# the end")


def test_bare_return_is_refused_at_its_line():
    with pytest.raises(srcad.SrcadError, match="returned None") as caught:
        srcad.grad(returns_early_without_value)(1.5)
    assert caught.value.lineno == line_of(returns_early_without_value, "# bare return")
    assert srcad.grad(returns_early_without_value)(-1.5) == -3.0


@pytest.mark.parametrize("f, shown, marker", [
    (returns_text, "a str", "# text"), (returns_object, "a .*Box", "return Box()")])
def test_result_that_is_not_a_number_is_refused(f, shown, marker):
    for transform in (srcad.grad, srcad.value_and_grad):
        with pytest.raises(srcad.SrcadError, match=f"returned {shown}") as caught:
            transform(f)(1.5)
        assert caught.value.lineno == line_of(f, marker)


def test_refused_on_the_hot_path_too():
    df = srcad.grad(returns_early_without_value)
    x = np.float64(2.0)
    for _ in range(2):
        with pytest.raises(srcad.SrcadError, match="returned None"):
            df(x)


def test_numeric_results_of_every_kind_are_accepted():
    def f(x):
        return np.sum(x) > 0.0        # a bool: piecewise constant, derivative zero
    assert np.allclose(srcad.grad(f)(np.ones(2)), 0.0)

    def g(x):
        return np.array(x * x)        # a 0-d array
    assert srcad.grad(g)(3.0) == 6.0


def test_array_result_still_names_vjp_and_jacobian():
    def f(x):
        return x * 2.0
    with pytest.raises(srcad.SrcadError, match="srcad.vjp"):
        srcad.grad(f)(np.ones(3))


# -- wrong arguments name the function and its signature ------------------------------------

def two_arguments(x, y):
    return x * y


@pytest.mark.parametrize("args, kwargs, shown", [
    ((1.0,), {}, "missing a required argument: 'y'"),
    ((1.0, 2.0, 3.0), {}, "too many positional arguments"),
    ((1.0, 2.0), {"z": 1.0}, "got an unexpected keyword argument 'z'"),
])
def test_wrong_arguments_name_the_function(args, kwargs, shown):
    for transform in (srcad.grad, srcad.value_and_grad, srcad.vjp, srcad.jacobian):
        with pytest.raises(TypeError, match=r"two_arguments\(x, y\): " + shown) as caught:
            transform(two_arguments)(*args, **kwargs)
        assert "f_primal" not in str(caught.value) and "two_arguments_primal" not in \
            str(caught.value)


def test_wrong_arguments_to_jvp_and_hessian():
    with pytest.raises(TypeError, match=r"two_arguments\(x, y\)"):
        srcad.jvp(two_arguments)(1.0, 1.0)          # the tangent taken for y
    with pytest.raises(TypeError, match=r"two_arguments\(x, y\)"):
        srcad.hessian(two_arguments)(1.0)


# -- exceptions raised in generated code: a note naming the user's line ----------------------

def mismatched_product(a, b):
    c = a @ b       # the product
    return np.sum(c)


def notes(error):
    return "\n".join(getattr(error, "__notes__", []))


def test_numpy_error_carries_the_users_line():
    a, b = np.ones((2, 3)), np.ones((2, 3))
    for transform in (srcad.grad, srcad.value_and_grad, srcad.jacobian):
        with pytest.raises(ValueError) as caught:
            transform(mismatched_product)(a, b)
        line = line_of(mismatched_product, "# the product")
        assert f"{__file__}:{line}: c = a @ b" in notes(caught.value)
        assert "the code generated from" in notes(caught.value)


def test_note_on_the_hot_path_and_once():
    df = srcad.grad(mismatched_product)
    df(np.ones((2, 3)), np.ones((3, 2)))
    df(np.ones((2, 3)), np.ones((3, 2)))         # the hot path from here
    with pytest.raises(ValueError) as caught:
        df(np.ones((2, 3)), np.ones((2, 3)))
    assert notes(caught.value).count("c = a @ b") == 1


def test_forward_mode_error_carries_the_users_line():
    with pytest.raises(ValueError) as caught:
        srcad.jvp(mismatched_product)(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)))
    assert f"{line_of(mismatched_product, '# the product')}: c = a @ b" in notes(caught.value)


def breaks_backward(x):
    return x * 3.0


@srcad.adjoint(breaks_backward)
def breaks_backward_adjoint(result, x):
    d[x] = d[result] * np.ones(2) @ np.ones(3)


def calls_breaks_backward(x):
    y = np.sin(x)
    z = breaks_backward(y)      # the call
    return np.sum(z)


def test_error_in_the_backward_pass_names_the_line_it_differentiates():
    with pytest.raises(ValueError) as caught:
        srcad.grad(calls_breaks_backward)(np.ones(2))
    line = line_of(calls_breaks_backward, "# the call")
    assert f"the gradient code of {__file__}:{line}: z = breaks_backward(y)" \
        in notes(caught.value)


def writes_then_returns_a_pair(x):
    x[0] = 2.0      # undone by the adjoint, which grad runs on a zero seed to refuse
    z = breaks_backward(np.sin(x))
    return z, z


def test_a_refused_result_stays_refused_when_undoing_the_writes_fails():
    # the adjoint that undoes x[0] = 2.0 raises first: the refusal, not its ValueError
    x = np.ones(2)
    with pytest.raises(srcad.SrcadError, match="scalar output.*were not undone"):
        srcad.grad(writes_then_returns_a_pair)(x)


def test_vjp_pullback_error_is_noted():
    value, pullback = srcad.vjp(calls_breaks_backward)(np.ones(2))
    with pytest.raises(ValueError) as caught:
        pullback(1.0)
    assert "z = breaks_backward(y)" in notes(caught.value)


def test_srcad_refusals_get_no_note():
    with pytest.raises(srcad.SrcadError) as caught:
        srcad.grad(returns_text)(1.0)
    assert not notes(caught.value)


def test_default_traceback_shows_generated_lines(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        import srcad

        def f(a, b):
            product = a @ b
            return np.sum(product)

        srcad.grad(f)(np.ones((2, 3)), np.ones((2, 3)))
        """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={"PYTHONPATH": ":".join(sys.path)}, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    at = [i for i, line in enumerate(lines) if "reverse mode of f" in line and "line" in line]
    assert at, done.stderr
    assert lines[at[-1] + 1].strip() == "product = a @ b"       # the generated line itself
    if sys.version_info >= (3, 11):     # notes are printed from Python 3.11
        assert f"{script}:6: product = a @ b" in done.stderr


def ce_writes_then_vector(x, y, W):
    view = W
    view[1:] = x[:1] - y
    return np.log(x ** 2 + 1.0)


@pytest.mark.parametrize("transform", [srcad.grad, srcad.value_and_grad])
def test_refused_vector_output_leaves_the_callers_array_unchanged(transform):
    """grad refuses a vector result after its primal ran; the writes that primal made
    into the caller's array are undone as a differentiated call undoes them."""
    x, y, W = np.array([0.5, 1.0]), np.array([0.2, 0.3]), np.ones((3, 2))
    for _ in range(2):      # the general path, then the cached one
        with pytest.raises(srcad.SrcadError, match="scalar output"):
            transform(ce_writes_then_vector)(x, y, W)
        np.testing.assert_array_equal(W, np.ones((3, 2)))
