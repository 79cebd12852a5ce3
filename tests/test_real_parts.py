"""Gradients of parts of arrays in functions proven real (dtypes.real_function).

There srcad writes a part's gradient in place (`dx = np.zeros(x.shape)`, `dx[1:] = g`,
`dx[0] += h`: optimize.ScattersInPlace), trusts the gradients a called function's
adjoint makes that way (ZeroPullbacks), and reads a called function's seed in parts as
views (optimize.views_of_parts). Random programs of reads and writes at basic indices
(ints, slices with steps and negative bounds, None, Ellipsis, tuples, an int argument),
through a called function and a loop, checked against central differences, the Hessian
against the hvp, and the code for the rewrites.
"""
import importlib.util
import itertools
import os
import sys
import tempfile

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import srcad
from oracle import check_grad

# indices of a (4, 3) array, each with the shape it selects, for reads that must meet
PARTS = {
    "1:": (3, 3), ":-1": (3, 3), "::2": (2, 3), "::-1": (4, 3), "1:3, ::2": (2, 2),
    "..., 1:": (4, 2), ":, 0": (4,), "-1": (3,), "i": (3,), "i, 1:": (2,), "None, 0": (1, 3),
    "2, ...": (3,), "-2:, -1": (2,), ":, ::-1": (4, 3),
}
_COUNT = itertools.count()


def program(reads, writes, unary):
    """A module: `inner(x, y, i)` writes parts of a buffer from parts of x and y, `outer`
    calls it in a loop and reads parts of x itself."""
    lines = ["import numpy as np", "", "", "def inner(x, y, i):", "    z = np.zeros_like(y)"]
    for index in writes:
        lines.append(f"    z[{index}] = np.{unary}(x[{index}]) * y[{index}]")
    lines += ["    return z", "", "", "def outer(x, y, i):", "    for _ in range(2):",
              "        y = y + 0.1 * inner(x, y, i)", "    total = np.sum(y * y)"]
    for a, b in reads:
        lines.append(f"    total = total + np.sum(np.{unary}(x[{a}])) * np.sum(x[{b}] ** 2)")
    lines.append("    return total")
    return "\n".join(lines) + "\n"


def load(source):
    directory = tempfile.mkdtemp(prefix="srcad_real_parts_")
    name = f"real_parts_{next(_COUNT)}"
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


indices = st.sampled_from(sorted(PARTS))


@settings(max_examples=25, deadline=None)
@given(reads=st.lists(st.tuples(indices, indices), min_size=1, max_size=3),
       writes=st.lists(indices, min_size=1, max_size=3),
       unary=st.sampled_from(["sin", "tanh", "exp"]), i=st.integers(-4, 3),
       seed=st.integers(0, 2 ** 16))
def test_gradients_of_parts_written_in_place_match_differences(reads, writes, unary, i, seed):
    module = load(program(reads, writes, unary))
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    check_grad(module.outer, x, y, i, wrt=(0, 1))
    g = srcad.grad(module.outer, wrt=(0, 1))
    g(x, y, i)
    assert "add_at" not in g.source       # every part's gradient written in place
    v = rng.normal(size=(4, 3))
    hessian = srcad.hessian(module.outer)(x, y, i).reshape(12, 12)
    np.testing.assert_allclose(srcad.hvp(module.outer)(x, y, i, v).ravel(),
                               hessian @ v.ravel(), rtol=1e-7, atol=1e-9)


def test_the_random_programs_take_the_real_paths():
    # the writes' gradients in inner are views of its seed where only arithmetic reads
    # them, and inner's returned gradients need no test in outer
    module = load(program([("1:", ":, 0")], [":-1"], "sin"))
    g = srcad.grad(module.outer, wrt=(0, 1))
    g(np.ones((4, 3)), np.ones((4, 3)), 1)
    assert "dmul = dz[:neg]" in g.source and "nonzero_gradient" not in g.source
    assert "dx = np.zeros(x.shape)" in g.source


def half(a, b):
    return a * 0.5 + b


def returns_its_argument(x, y):
    v = np.tanh(x @ y)
    unused = half(v, x[:1])
    return x


def test_the_gradient_of_the_returned_argument_starts_as_the_seed():
    # dx, the gradient of what f returns, starts as the incoming gradient, not as the
    # zero 0.0: the gradient of x[:1] (its callee's, not known to be zero) is added into
    # it, never written into new zeros that drop it (fuzz seed 33008476)
    x, y = np.array([0.3, -1.2, 0.7, 0.4]), np.array([1.0, 2.0, -0.5, 0.3])
    u = np.array([-0.5, 0.25, 2.0, 1.0])
    _, pullback = srcad.vjp(returns_its_argument)(x, y)
    np.testing.assert_allclose(pullback(u), u)
