"""Refusals: srcad raises a SrcadError subclass at transform time, located and named.

Covers try, with (other than srcad's own), generators (yield), global and
nonlocal writes, async def, exec/eval, a call with no rule and no source on
an active value (NoDerivativeError), *args unpacking, an in-place write
through a view, grad of a non-scalar output, and a bad wrt. Each error
carries .filename (this file), .lineno (the marked line) and names the
construct; its message shows file:line. "Transform time" is checked by
asking for .source, which generates code without running the function.
"""

import contextlib
import importlib
import importlib.util
import math
import os
import py_compile
import sys

import numpy as np
import pytest

import srcad
from oracle import check_grad, line_of, numerical_grad


def assert_located(err, f, marker):
    """err names this file and the line of f that carries marker."""
    assert isinstance(err, srcad.SrcadError)
    assert err.filename is not None and os.path.realpath(err.filename) == os.path.realpath(__file__)
    assert err.lineno == line_of(f, marker)
    text = str(err)
    assert f"{os.path.basename(__file__)}:{err.lineno}" in text
    assert "Traceback" not in text


def refusal(f, exc_type=srcad.SrcadError, args=(np.array([0.5, 1.5]),), wrt=0):
    """The error srcad raises for f: the same at transform time (.source) and on a call."""
    with pytest.raises(exc_type) as at_transform:
        srcad.grad(f, wrt=wrt).source
    with pytest.raises(exc_type) as at_call:
        srcad.grad(f, wrt=wrt)(*args)
    assert type(at_call.value) is type(at_transform.value)
    assert at_call.value.lineno == at_transform.value.lineno
    return at_call.value


# --- statements srcad does not differentiate ----------------------------------------------

def er_try(x):
    y = x * 2.0
    try:  # MARK
        y = y * x
    except ValueError:
        pass
    return np.sum(y)


def er_try_finally(x):
    y = x * 2.0
    try:  # MARK
        y = np.sin(y)
    finally:
        y = y + 1.0
    return np.sum(y)


def er_with(x):
    y = x * 2.0
    with np.errstate(all="ignore"):  # MARK
        y = np.log(y)
    return np.sum(y)


def er_with_contextlib(x):
    with contextlib.suppress(ValueError):  # MARK
        x = x * x
    return np.sum(x)


def er_yield(x):
    for v in x:
        yield v * v  # MARK


def er_yield_from(x):
    yield from [x * 2.0]  # MARK


_COUNTER = 0.0


def er_global(x):
    global _COUNTER  # MARK
    _COUNTER = np.sum(x)
    return np.sum(x * x)


def _make_nonlocal():
    total = 0.0

    def er_nonlocal(x):
        nonlocal total  # MARK
        total = total + np.sum(x)
        return np.sum(x * x)

    return er_nonlocal


er_nonlocal = _make_nonlocal()


def er_eval(x):
    y = eval("x * 2.0")  # MARK
    return np.sum(y)


def er_exec(x):
    scope = {"x": x}
    exec("y = x * 2.0", scope)  # MARK
    return np.sum(scope["y"])


STATEMENTS = [
    (er_try, "try"),
    (er_try_finally, "try"),
    (er_with, "with"),
    (er_with_contextlib, "with"),
    (er_yield, "yield"),
    (er_yield_from, "yield"),
    (er_global, "global"),
    (er_nonlocal, "nonlocal"),
    (er_eval, "eval"),
    (er_exec, "exec"),
]


@pytest.mark.parametrize("f, construct", STATEMENTS, ids=[f"{f.__name__}" for f, _ in STATEMENTS])
def test_unsupported_construct_is_refused_with_location(f, construct):
    err = refusal(f)
    assert_located(err, f, "# MARK")
    assert construct in str(err)


@pytest.mark.parametrize("f", [er_try, er_with, er_yield, er_global, er_nonlocal],
                         ids=lambda f: f.__name__)
def test_syntax_refusals_are_unsupported_syntax_errors(f):
    assert isinstance(refusal(f), srcad.UnsupportedSyntaxError)


def test_refusal_message_says_what_to_do_instead():
    err = refusal(er_try)
    # the message goes beyond the location: a construct and a suggestion
    assert len(err.message) > len("cannot differentiate 'try'")
    assert err.source_line is not None and "try" in err.source_line


def test_refusal_in_called_helper_names_the_helper_line():
    err = refusal(er_calls_helper_with_try)
    assert_located(err, _helper_with_try, "# MARK")


def _helper_with_try(x):
    try:  # MARK
        return x * 2.0
    except ValueError:
        return x


def er_calls_helper_with_try(x):
    return np.sum(_helper_with_try(x))


def test_async_def_is_refused():
    async def er_async(x):  # MARK
        return np.sum(x * x)

    with pytest.raises(srcad.UnsupportedSyntaxError) as info:
        srcad.grad(er_async)(np.array([0.5, 1.5]))
    assert "async" in str(info.value)
    assert_located(info.value, er_async, "# MARK")


# --- calls with no rule ------------------------------------------------------------------------

def er_frexp(x):
    mantissa, exponent = np.frexp(x)  # MARK
    return np.sum(mantissa * exponent)


def er_c_function(x):
    return math.gamma(x) * 2.0  # MARK


def er_ufunc_without_rule(x):
    return np.sum(np.i0(x))  # MARK


@pytest.mark.parametrize("f, args", [
    (er_frexp, (np.array([0.5, 1.5, -0.3, 0.2]),)),
    (er_c_function, (1.5,)),
    (er_ufunc_without_rule, (np.array([0.5, 1.5]),)),
], ids=["np.frexp", "math.gamma", "np.i0"])
def test_call_without_rule_on_active_value(f, args):
    err = refusal(f, srcad.NoDerivativeError, args)
    assert_located(err, f, "# MARK")


def er_rule_less_call_on_inactive(x, n):
    k = math.gamma(n)          # n is not differentiated: no rule is needed
    return np.sum(x * x) * k


def test_call_without_rule_on_inactive_value_is_fine():
    x = np.array([0.5, 1.5])
    g = check_grad(er_rule_less_call_on_inactive, x, 4.0)
    np.testing.assert_allclose(g, 2 * x * 6.0, rtol=1e-12)


# --- *args unpacking ------------------------------------------------------------------------------

def _star_helper(*parts):
    return parts[0] * parts[1]


def er_star_call(x):
    parts = [x, x * 2.0]
    return np.sum(_star_helper(*parts))  # MARK


def er_star_call_active_sequence(x):
    return np.sum(np.add(*x))  # MARK


@pytest.mark.parametrize("f", [er_star_call, er_star_call_active_sequence], ids=lambda f: f.__name__)
def test_star_args_are_refused_or_exact(f):
    # the contract: refuse what it cannot follow, never a wrong gradient
    x = np.array([[0.5, 1.5], [2.0, -1.0]])
    try:
        srcad.grad(f)(x)
    except srcad.SrcadError as err:
        assert_located(err, f, "# MARK")
        return
    check_grad(f, x)


# --- in-place writes through views ---------------------------------------------------------------

def er_write_through_row_view(x):
    h = np.zeros((2, 3))
    a = h[0]
    a[1] = x[0]  # MARK
    return np.sum(h * x[1])


def er_write_through_slice_view(x):
    h = np.zeros(4)
    tail = h[1:]
    tail[0] = x[0] * x[1]  # MARK
    return np.sum(h ** 2)


def er_write_through_reshape_view(x):
    h = np.zeros(4)
    m = h.reshape(2, 2)
    m[1, 1] = x[1]  # MARK
    return np.sum(h * 3.0)


def er_view_read_after_write(x):
    a = x[0:2]
    x[0] = 3.0 * x[1]  # MARK
    return np.sum(a)


def er_view_read_in_next_iteration(x):
    h = np.zeros(3)
    a = h[0:2]
    s = 0.0
    for i in range(2):
        s = s + np.sum(a)
        h[i] = x[i] * 2.0  # MARK
    return s


def er_list_element_changed_in_place(x):
    xs = [np.zeros(2), np.zeros(2)]
    row = xs[0]
    row[0] = x[0]  # MARK
    return np.sum(xs[0]) * x[1]


@pytest.mark.parametrize("f", [er_write_through_row_view, er_write_through_slice_view,
                               er_write_through_reshape_view, er_view_read_after_write,
                               er_view_read_in_next_iteration, er_list_element_changed_in_place],
                         ids=lambda f: f.__name__)
def test_in_place_write_through_a_view_is_refused(f):
    err = refusal(f, args=(np.array([0.5, 1.5]),))
    assert_located(err, f, "# MARK")


# --- non-scalar output, bad wrt ----------------------------------------------------------------------

def er_vector_output(x):
    return np.sin(x)


def er_tuple_output(x):
    return np.sum(x), x


def test_grad_of_non_scalar_output_points_to_vjp_and_jacobian():
    for transform in (srcad.grad, srcad.value_and_grad):
        with pytest.raises(srcad.SrcadError) as info:
            transform(er_vector_output)(np.array([0.5, 1.5]))
        assert "vjp" in str(info.value) and "jacobian" in str(info.value)


def test_grad_of_tuple_output_is_refused():
    with pytest.raises(srcad.SrcadError, match="vjp|jacobian"):
        srcad.grad(er_tuple_output)(np.array([0.5, 1.5]))


def test_grad_of_single_element_array_output():
    # shape (1,) is not a scalar: refused too, or a correct gradient of its only element
    def f(x):
        return np.sum(x, keepdims=True)
    try:
        g = srcad.grad(f)(np.array([0.5, 1.5]))
    except srcad.SrcadError as err:
        assert "vjp" in str(err) or "jacobian" in str(err)
    else:
        np.testing.assert_allclose(g, [1.0, 1.0])


@pytest.mark.parametrize("wrt", [5, "z", (0, "nope"), 1.5])
def test_bad_wrt_is_refused(wrt):
    with pytest.raises(srcad.SrcadError):
        srcad.grad(er_vector_output, wrt=wrt)(np.array([0.5]))


def test_not_a_function_is_refused():
    with pytest.raises(srcad.SrcadError):
        srcad.grad(42)


def test_function_without_source_is_refused():
    with pytest.raises(srcad.SrcadError):
        srcad.grad(np.sin)(0.5)


def test_errors_are_exported_classes():
    assert issubclass(srcad.UnsupportedSyntaxError, srcad.SrcadError)
    assert issubclass(srcad.NoDerivativeError, srcad.SrcadError)
    assert issubclass(srcad.SrcadError, Exception)


# --- custom rules, validated when @srcad.adjoint / @srcad.tangent runs ---------------------------

d = srcad.rules.templates.d


def _mysq(x):
    return x * x


def rule_returns(result, x):
    return 2.0 * x * d[result]  # MARK


def rule_names_no_parameter(result, x):
    d[y] = 2.0 * x * d[result]  # MARK  # noqa: F821


def rule_reads_an_argument_gradient(result, x):
    d[x] = 2.0 * d[x] * d[result]  # MARK


def rule_with_parameter_primitive_lacks(result, x, scale):  # MARK
    d[x] = 2.0 * scale * x * d[result]


def rule_assigns_nothing(result, x):  # MARK
    """The gradient is 2 x."""


def rule_adds_into_gradient(result, x):
    d[x] += 2.0 * x * d[result]  # MARK


def rule_assigns_twice(result, x):  # MARK
    d[x] = x * d[result]
    d[x] = x * d[result]


def rule_overwrites_parameter(result, x):
    x = 2.0 * x  # MARK
    d[x] = x * d[result]


def rule_writes_an_attribute(result, x):
    result.cache = 2.0 * x  # MARK
    d[x] = 2.0 * x * d[result]


def rule_branches(result, x):
    if x > 0:  # MARK
        d[x] = 2.0 * x * d[result]


def tangent_assigns_an_argument(result, x):
    d[x] = 2.0 * x * d[result]  # MARK


def tangent_reads_result(result, x):
    d[result] = 2.0 * x * d[x] + d[result]  # MARK


BAD_RULES = [
    (srcad.adjoint, rule_returns, "d[arg] ="),
    (srcad.adjoint, rule_names_no_parameter, "d[y]"),
    (srcad.adjoint, rule_reads_an_argument_gradient, "reads d[x]"),
    (srcad.adjoint, rule_with_parameter_primitive_lacks, "'scale'"),
    (srcad.adjoint, rule_assigns_nothing, "assigns no gradient"),
    (srcad.adjoint, rule_adds_into_gradient, "d[arg] ="),
    (srcad.adjoint, rule_assigns_twice, "twice"),
    (srcad.adjoint, rule_overwrites_parameter, "'x'"),
    (srcad.adjoint, rule_writes_an_attribute, "d[arg] ="),
    (srcad.adjoint, rule_branches, "d[arg] ="),
    (srcad.tangent, tangent_assigns_an_argument, "assigns d[x]"),
    (srcad.tangent, tangent_reads_result, "reads d[result]"),
    (srcad.tangent, rule_returns, "d[result] ="),
]


@pytest.mark.parametrize("register, rule, says", BAD_RULES,
                         ids=[f"{r.__name__}-{k.__name__}" for k, r, _ in BAD_RULES])
def test_bad_rule_is_refused_at_registration_at_its_line(register, rule, says):
    with pytest.raises(srcad.SrcadError) as info:
        register(_mysq)(rule)
    assert_located(info.value, rule, "# MARK")
    assert says in info.value.message
    tables = srcad.rules.ADJOINTS, srcad.rules.TANGENTS
    assert all(_mysq not in table for table in tables)      # nothing registered


def test_a_rule_whose_body_returns_is_refused_not_zero():
    """A rule that `return`s its gradient is refused when the decorator runs; the
    primitive stays without a rule (differentiated from its source)."""
    def sq(x):
        return x * x

    with pytest.raises(srcad.SrcadError) as info:
        @srcad.adjoint(sq)
        def sq_rule(result, x):
            return 2 * x * d[result]
    assert "return 2 * x * d[result]" in info.value.source_line

    def f(x):
        return sq(x) + x
    assert check_grad(f, 1.5) == pytest.approx(4.0)


def test_a_valid_rule_is_used_in_both_modes():
    def cube(x):
        return x ** 3

    @srcad.adjoint(cube)
    def cube_adjoint(result, x):
        three = 3.0
        d[x] = three * x * x * d[result]

    @srcad.tangent(cube)
    def cube_tangent(result, x):
        d[result] = 3.0 * x * x * d[x]

    def f(x):
        return np.sum(np.sin(cube(x)))
    x = np.array([0.3, -0.7])
    check_grad(f, x)
    _, tangent = srcad.jvp(f)(x, np.ones(2))
    np.testing.assert_allclose(tangent, np.sum(np.cos(x ** 3) * 3 * x ** 2), rtol=1e-12)


def test_a_rule_reading_an_undefined_name_is_refused_at_its_line():
    """A name in a rule's body that is no parameter and not defined in its module
    (here the primitive's own parameter name, `a`) is refused where the rule is used."""
    def twice_sin(a):
        return np.sin(a) * 2.0

    @srcad.adjoint(twice_sin)
    def twice_sin_adjoint(result, z):
        d[z] = d[result] * 2.0 * np.cos(a)  # MARK  # noqa: F821

    def f(x):
        return np.sum(twice_sin(x))
    try:
        with pytest.raises(srcad.SrcadError, match="reads 'a'") as info:
            srcad.grad(f)(np.array([1.0, 2.0]))
        assert_located(info.value, twice_sin_adjoint, "# MARK")
    finally:
        del srcad.rules.ADJOINTS[twice_sin]


def test_the_shipped_rules_pass_validation():
    from srcad.rules.templates import validate
    for table, reverse in ((srcad.rules.ADJOINTS, True), (srcad.rules.TANGENTS, False)):
        for template in set(table.values()):
            validate(template, reverse)
            template.check_names()


# --- every refusal at the user's line ------------------------------------------------------------

def er_lambda(x):
    return np.sum((lambda v: v * v)(x))  # MARK


def er_del(x):
    y = x * 2.0
    z = y
    del y  # MARK
    return np.sum(z)


def er_walrus(x):
    if (s := np.sum(x)) > 0:  # MARK
        return s
    return -s


def er_match(x):
    match x.ndim:  # MARK
        case 1:
            return np.sum(x)
    return 0.0


def er_class(x):
    class Box:  # MARK
        pass
    return np.sum(x)


def er_star_assignment(x):
    first, *rest = x  # MARK
    return first


def er_import(x):
    import math as m  # MARK
    return np.sum(x) * m.pi


def er_set_comprehension(x):
    values = {v for v in range(3)}  # MARK
    return np.sum(x) * len(values)


def er_dict_comprehension(x):
    scaled = {i: x * i for i in range(2)}  # MARK
    return np.sum(scaled[1])


def er_generator_expression(x):
    squares = (v * v for v in x)  # MARK
    return sum(squares)


def er_loop_else(x):
    for i in range(2):
        x = x * 2.0
    else:  # MARK (a loop's else: the location is the loop)
        pass
    return np.sum(x)


def er_nested_nonlocal(x):
    total = np.sum(x)

    def add(v):
        nonlocal total  # MARK
        total = total + v
        return total
    return add(1.0)


def er_nested_global(x):
    def count(v):
        global _COUNTER  # MARK
        _COUNTER = v
        return v * 2.0
    return np.sum(count(x))


async def _async_helper(x):  # MARK
    return x * 2.0


def er_calls_async_helper(x):
    return np.sum(_async_helper(x))


def _generator_helper(x):
    yield x * 2.0  # MARK


def er_calls_generator_helper(x):
    return _generator_helper(x)


def _square(x):
    return x * x


def er_call_with_wrong_arguments(x):
    return np.sum(_square(x, x))  # MARK


_EXEC_SCOPE = {}
exec("def exec_helper(x):\n    return x * 3.0\n", _EXEC_SCOPE)
exec_helper = _EXEC_SCOPE["exec_helper"]


def er_calls_exec_helper(x):
    return np.sum(exec_helper(x))  # MARK


LOCATED = [
    (er_lambda, er_lambda, "lambda"),
    (er_del, er_del, "del"),
    (er_walrus, er_walrus, ":="),
    (er_match, er_match, "match"),
    (er_class, er_class, "class"),
    (er_star_assignment, er_star_assignment, "starred"),
    (er_import, er_import, "import"),
    (er_set_comprehension, er_set_comprehension, "set comprehension"),
    (er_dict_comprehension, er_dict_comprehension, "dict comprehension"),
    (er_generator_expression, er_generator_expression, "generator"),
    (er_nested_nonlocal, er_nested_nonlocal, "nonlocal"),
    (er_nested_global, er_nested_global, "global"),
    (er_calls_async_helper, _async_helper, "async def"),
    (er_calls_generator_helper, _generator_helper, "yield"),
    (er_call_with_wrong_arguments, er_call_with_wrong_arguments, "too many"),
    (er_calls_exec_helper, er_calls_exec_helper, "source cannot be read"),
]


@pytest.mark.parametrize("f, where, says", LOCATED, ids=[f.__name__ for f, _, _ in LOCATED])
def test_refusal_is_a_srcad_error_at_the_users_line(f, where, says):
    for transform, args in ((srcad.grad, (np.array([0.5, 1.5]),)),
                            (srcad.jvp, (np.array([0.5, 1.5]), np.ones(2)))):
        with pytest.raises(srcad.SrcadError) as info:
            transform(f)(*args)
        assert_located(info.value, where, "# MARK")
        assert says in info.value.message


def test_loop_else_is_refused_at_the_loop():
    err = refusal(er_loop_else)
    assert err.lineno == line_of(er_loop_else, "for i in")


def test_helper_in_a_module_without_source_is_refused_at_the_call(tmp_path):
    source = tmp_path / "sourceless_helper.py"
    source.write_text("def helper(x):\n    return x * x\n")
    compiled = tmp_path / "sourceless_helper.pyc"
    py_compile.compile(str(source), cfile=str(compiled), doraise=True)
    source.unlink()
    spec = importlib.util.spec_from_file_location("sourceless_helper", compiled)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    globals()["sourceless"] = module
    try:
        err = refusal(er_calls_sourceless_helper, srcad.NoDerivativeError)
    finally:
        del globals()["sourceless"]
    assert_located(err, er_calls_sourceless_helper, "# MARK")


def er_calls_sourceless_helper(x):
    return np.sum(sourceless.helper(x))  # MARK  # noqa: F821


def positional_only(x, /, y=2.0):
    return np.sum(np.sin(x) * y)


def test_positional_only_parameters():
    x = np.array([0.5, 1.5])
    check_grad(positional_only, x)
    check_grad(positional_only, x, 3.0, wrt=1)
    _, tangent = srcad.jvp(positional_only)(x, np.ones(2))
    assert tangent == pytest.approx(np.sum(np.cos(x) * 2.0))


def er_list_pop(x):
    rows = [x * 2.0, x * x]
    last = rows.pop()  # MARK
    return np.sum(last) + np.sum(rows[0] * 3.0)


def er_list_pop_statement(x):
    rows = [x * 2.0, x * x]
    rows.pop()  # MARK
    return np.sum(rows[0] * 3.0)


@pytest.mark.parametrize("f", [er_list_pop, er_list_pop_statement], ids=lambda f: f.__name__)
def test_list_pop_is_refused_in_reverse_mode_and_differentiated_forward(f):
    """Reverse mode has no rule for list.pop() (its gradient was lost, or the backward
    pass popped a list already popped); forward mode has one."""
    x = np.array([0.5, 1.5, -0.7])
    assert_located(refusal(f, srcad.UnsupportedSyntaxError, (x,)), f, "# MARK")
    v = np.array([1.0, -2.0, 0.5])
    _, tangent = srcad.jvp(f)(x, v)
    assert tangent == pytest.approx(np.dot(numerical_grad(f, (x,)), v), rel=1e-6)


def subscript_of_a_constant(x):
    return x * len("abc"[1:]) + x * (2.0, 3.0)[1]


def test_subscript_of_a_constant():
    assert check_grad(subscript_of_a_constant, 1.5) == pytest.approx(5.0)


def annotated_with_a_local_type(x):
    kind = float

    def twice(v: kind) -> kind:
        return v * 2.0
    return np.sum(twice(x) * x)


def test_annotations_are_not_evaluated_by_generated_code():
    check_grad(annotated_with_a_local_type, np.array([0.5, 1.5]))


@pytest.mark.skipif(sys.version_info < (3, 12), reason="type parameters need Python 3.12")
def test_generic_functions(tmp_path, monkeypatch):
    (tmp_path / "generic_module.py").write_text(
        "import numpy as np\n\n\n"
        "def twice[T](v: T) -> T:\n    return v * 2.0\n\n\n"
        "def f[T](x: T) -> T:\n    return np.sum(twice(x) * x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("generic_module")
    check_grad(module.f, np.array([0.5, 1.5]))


def test_a_function_whose_file_changed_since_is_refused(tmp_path, monkeypatch):
    """srcad reads the file when it transforms: text that is no longer the def that made
    the function (edited since the module was imported) is refused, not differentiated."""
    path = tmp_path / "edited_module.py"
    path.write_text("def f(x):\n    return x * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_module")
    path.write_text("def g(x, y):\n    return x * y * 3.0\n")
    with pytest.raises(srcad.SrcadError, match="changed") as info:
        srcad.grad(module.f)(1.5)
    assert info.value.lineno == 1 and "def g" in info.value.source_line


def er_atleast_1d_of_two(x, y):
    pair = np.atleast_1d(x, y)  # MARK
    return np.sum(pair[0] ** 2) + np.sum(pair[1])


@pytest.mark.parametrize("transform", [srcad.grad, srcad.jvp])
def test_atleast_1d_of_several_arrays_is_refused(transform):
    """np.atleast_1d(x, y) returns a list; its one-array rule does not apply."""
    x = np.array([1.0, 2.0])
    with pytest.raises(srcad.NoDerivativeError) as info:
        transform(er_atleast_1d_of_two)(x, x, *([x] if transform is srcad.jvp else []))
    assert_located(info.value, er_atleast_1d_of_two, "# MARK")


def clipped_into_itself(W, d):
    np.clip(W, -1.0, 1.0, out=W)
    return np.sum(W * d)


def test_a_rule_signature_in_a_refusal_shows_what_it_allows():
    # out= is allowed only as None: the signature says so, not an object's repr
    with pytest.raises(srcad.SrcadError, match=r"out=None only") as refused:
        srcad.grad(clipped_into_itself, wrt=1)(np.ones(3), np.ones(3))
    assert " object at " not in str(refused.value)
