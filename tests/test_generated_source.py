"""The generated source is a product: it compiles, has no dead code, points at the user's lines.

For a handful of functions: .source compiles and contains no dead
assignments; each block carries a comment naming this file and the user's
line; tracebacks from generated code show lines registered with linecache;
srcad.show and verbose=True print the source; a second grad(f) reuses the
cached generated code.
"""

import linecache
import os
import re
import time
import traceback

import numpy as np
import pytest

import srcad
from oracle import (assert_same_source, check_grad, check_vjp, dead_assignments, fenced_block,
                    line_of, numerical_grad)

THIS_FILE = os.path.basename(__file__)


def gs_readme(W, b, X, y):
    h = np.zeros((X.shape[0], W.shape[1]))
    for i in range(X.shape[0]):
        h[i] = np.tanh(X[i] @ W + b)  # LINE-ROW
    err = h - y
    if np.mean(err) > 0:  # LINE-BRANCH
        err = 2.0 * err
    return np.sum(err ** 2)


def gs_scalar_loop(x, n):
    s = 0.0
    for i in range(n):
        if s > 1.0:
            s = s * 0.5 + x  # LINE-THEN
        else:
            s = s + x * x
    return s


def _gs_helper(v, scale=2.0):
    return np.tanh(v) * scale


def gs_calls(x, a):
    y = _gs_helper(x, scale=a)
    return np.sum(y * _gs_helper(x))  # LINE-CALLS


def gs_while(x):
    y = x
    k = 0
    while y < 5.0 and k < 20:  # LINE-WHILE
        y = y * 1.7 + 0.1
        k += 1
    return y


def gs_softmax(x, w):
    e = np.exp(x - np.max(x))
    p = e / np.sum(e)  # LINE-SOFTMAX
    return np.sum(p * w)


def gs_vector(x):
    y = np.sin(x) * x[0]
    y = y + x ** 2  # LINE-VECTOR
    return y


def gs_list(xs, y):
    return np.sum(np.tanh(xs) * y)  # LINE-LIST


CASES = [
    (gs_readme, (np.ones((3, 2)) * 0.3, np.array([0.1, -0.2]), np.arange(12.0).reshape(4, 3) * 0.1,
                 np.zeros((4, 2))), (0, 1), "# LINE-ROW"),
    (gs_scalar_loop, (0.7, 6), 0, "# LINE-THEN"),
    (gs_calls, (np.array([0.5, -1.0]), 1.5), (0, 1), "# LINE-CALLS"),
    (gs_while, (0.8,), 0, "# LINE-WHILE"),
    (gs_softmax, (np.array([0.3, 1.2, -0.4]), np.array([1.0, 2.0, 3.0])), 0, "# LINE-SOFTMAX"),
    # a list read as an array by a rule that reads only its result (tanh's)
    (gs_list, ([0.1, -0.4], np.array([1.0, 2.0])), 0, "# LINE-LIST"),
]
IDS = [f.__name__ for f, _, _, _ in CASES]


def _generated(f, args, wrt):
    df = srcad.grad(f, wrt=wrt)
    df(*args)
    return df, df.source


@pytest.mark.parametrize("f, args, wrt, marker", CASES, ids=IDS)
def test_source_compiles_and_the_gradient_is_right(f, args, wrt, marker):
    df, source = _generated(f, args, wrt)
    assert isinstance(source, str) and source.strip()
    compile(source, "<generated>", "exec")
    check_grad(f, *args, wrt=wrt)


@pytest.mark.parametrize("f, args, wrt, marker", CASES, ids=IDS)
def test_source_has_no_dead_assignments(f, args, wrt, marker):
    _, source = _generated(f, args, wrt)
    assert dead_assignments(source) == []


def test_vjp_source_has_no_dead_assignments():
    pb = srcad.vjp(gs_vector)
    x = np.array([0.3, -1.2, 0.8])
    pb(x)[1](np.ones(3))
    compile(pb.source, "<generated>", "exec")
    assert dead_assignments(pb.source) == []
    check_vjp(gs_vector, (x,), np.array([1.0, -2.0, 0.5]))


def test_source_without_a_call_is_available():
    src = srcad.grad(gs_softmax).source
    compile(src, "<generated>", "exec")
    assert "gs_softmax" in src


def gs_energy(x):
    return np.sum(np.exp(x) * x)


@pytest.mark.parametrize("make, name, call", [
    (lambda f: srcad.hvp(f), "hvp", lambda t, x: t(x, np.ones_like(x))),
    (lambda f: srcad.hessian(f), "hessian", lambda t, x: t(x)),
    (lambda f: srcad.jacobian(f), "jacobian", lambda t, x: t(x)),
    (lambda f: srcad.jacobian(f, mode="forward"), "jacobian", lambda t, x: t(x)),
    (lambda f: srcad.jvp(f), "jvp", lambda t, x: t(x, np.ones_like(x))),
])
def test_every_transform_shows_its_source_before_and_after_a_call(make, name, call):
    transform = make(gs_energy)
    assert repr(transform) == f"<srcad.{name} of gs_energy>"
    before = transform.source
    compile(before, "<generated>", "exec")
    forward = name != "jacobian" or transform.mode == "forward"
    assert before.startswith("# forward mode of" if forward else "# reverse mode of")
    call(transform, np.array([0.3, -1.2, 0.8]))
    after = transform.source
    compile(after, "<generated>", "exec")
    assert "def gs_energy" in after
    assert after.startswith("# forward mode of" if forward else "# reverse mode of")


@pytest.mark.parametrize("f, args, wrt, marker", CASES, ids=IDS)
def test_source_comments_name_the_users_file_and_line(f, args, wrt, marker):
    _, source = _generated(f, args, wrt)
    line = line_of(f, marker)
    assert f"# grad of {THIS_FILE}:{line}" in source
    # every comment that names a location names this file and a line of f
    # (or of a helper f calls, all of them in this file)
    locations = re.findall(r"# (?:grad of )?([\w.]+):(\d+)", source)
    assert locations
    first, last = line_of(f, "def "), line_of(f, "return")
    for filename, lineno in locations:
        assert filename == THIS_FILE, filename
        if f is not gs_calls:
            assert first <= int(lineno) <= last, (lineno, first, last)


def test_comment_quotes_the_user_statement():
    _, source = _generated(*CASES[0][:3])
    line = line_of(gs_readme, "# LINE-ROW")
    comment = next(l for l in source.splitlines() if f"# grad of {THIS_FILE}:{line}" in l)
    assert "h[i]" in comment and "np.tanh" in comment


def test_helper_lines_are_named_too():
    _, source = _generated(gs_calls, (np.array([0.5, -1.0]), 1.5), (0, 1))
    helper_line = line_of(_gs_helper, "return np.tanh(v) * scale")
    assert f"{THIS_FILE}:{helper_line}" in source


# --- tracebacks and linecache -------------------------------------------------------------------

def gs_fails_in_primal(x, i):
    y = np.sin(x)
    return y[i] * x[0]


def _srcad_frames(tb):
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append((code.co_filename, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def test_traceback_shows_generated_lines():
    df = srcad.grad(gs_fails_in_primal)
    with pytest.raises(IndexError) as info:
        df(np.array([0.5, 1.0]), 7)
    frames = _srcad_frames(info.value.__traceback__)
    generated = [(fn, ln) for fn, ln in frames if os.path.realpath(fn) != os.path.realpath(__file__)
                 and "srcad" in fn and not fn.endswith(".py")]
    assert generated, f"no frame in generated code among {frames}"
    filename, lineno = generated[-1]
    text = linecache.getline(filename, lineno)
    assert text.strip(), f"linecache has no line {lineno} of {filename!r}"
    assert text.strip() in df.source
    assert "y[i]" in text or "[i]" in text
    formatted = "".join(traceback.format_exception(info.value))
    assert text.strip() in formatted


def test_linecache_holds_the_whole_source():
    df = srcad.grad(gs_softmax)
    df(np.array([0.3, 1.2, -0.4]), np.array([1.0, 2.0, 3.0]))
    names = [name for name in list(linecache.cache) if "gs_softmax" in name]
    assert names, "generated source of gs_softmax is not registered with linecache"
    assert any("".join(linecache.getlines(name)) == df.source or
               "".join(linecache.getlines(name)).strip() == df.source.strip() for name in names)


# --- show, verbose ---------------------------------------------------------------------------------

def test_show_prints_the_source(capsys):
    df = srcad.grad(gs_scalar_loop)
    df(0.7, 6)
    srcad.show(df)
    out = capsys.readouterr().out
    assert df.source.strip() in out


def gs_verbose(x):
    return np.sum(np.cos(x) * x)  # LINE-VERBOSE


def test_verbose_prints_the_source_once(capsys):
    df = srcad.grad(gs_verbose, verbose=True)
    x = np.array([0.3, 1.2])
    g = df(x)
    out = capsys.readouterr().out
    assert f"{THIS_FILE}:{line_of(gs_verbose, '# LINE-VERBOSE')}" in out
    assert df.source.strip() in out
    np.testing.assert_allclose(g, np.cos(x) - x * np.sin(x), rtol=1e-12)
    df(x * 2.0)
    assert capsys.readouterr().out == ""


def test_not_verbose_prints_nothing(capsys):
    srcad.grad(gs_softmax)(np.array([0.3, 1.2, -0.4]), np.array([1.0, 2.0, 3.0]))
    assert capsys.readouterr().out == ""


# --- caching -------------------------------------------------------------------------------------

def gs_cached(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0:
            s = s + np.sin(x[i]) * x[i]
        else:
            s = s - np.exp(x[i])
    return s


def test_second_grad_reuses_the_generated_code():
    x = np.array([0.3, -1.2, 0.8])
    first = srcad.grad(gs_cached)
    first(x)
    second = srcad.grad(gs_cached)
    t0 = time.perf_counter()
    second(x)
    elapsed = time.perf_counter() - t0
    assert second.source is first.source
    assert elapsed < 0.01, f"second grad(f) took {elapsed * 1000:.1f} ms: not cached?"


def test_repeated_calls_do_not_regenerate():
    df = srcad.grad(gs_cached)
    x = np.array([0.3, -1.2, 0.8])
    df(x)
    src = df.source
    for _ in range(3):
        df(x + 0.1)
    assert df.source is src


def test_separate_wrt_gives_separate_code():
    a = srcad.grad(gs_calls, wrt=0)
    b = srcad.grad(gs_calls, wrt=(0, 1))
    args = (np.array([0.5, -1.0]), 1.5)
    a(*args)
    b(*args)
    assert a.source is not b.source


# --- user names that are also names in derivative rules ------------------------------------

def gs_names_like_rule_helpers(x):
    parts = np.split(x, 2)
    where = parts[0] * parts[1]
    unbroadcast = np.where(where > 0, where, 0.5 * where)
    return np.sum(unbroadcast * x[:2])


def test_user_names_like_rule_helpers_keep_their_meaning():
    """A rule's helper renamed to avoid a user's variable must not rename the variable."""
    x = np.array([0.3, -0.5, 0.7, 0.2])
    check_grad(gs_names_like_rule_helpers, x)
    v = np.array([0.2, -1.0, 0.4, 0.9])
    _, tangent = srcad.jvp(gs_names_like_rule_helpers)(x, v)
    np.testing.assert_allclose(tangent, numerical_grad(gs_names_like_rule_helpers, (x,)) @ v,
                               rtol=1e-6)


# --- README ------------------------------------------------------------------------------

def test_readme_example_runs_and_shows_the_source_srcad_generates(tmp_path, monkeypatch, capsys):
    """README's example, saved as example.py and run, prints what README says it prints."""
    import importlib
    import pathlib

    readme = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    example = fenced_block(readme[readme.index("## Example"):], "import numpy as np")
    (tmp_path / "example.py").write_text(example + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("example")
    printed = capsys.readouterr().out
    assert "[ 2.90744793 -1.51748933]" in printed
    assert_same_source(fenced_block(readme, "# reverse mode of f"), module.f.source.strip())
