"""Every called name is resolved to what Python calls, or the function is refused.

Each function here calls NumPy, a helper or a transform through some alias
(a local or global name, an import with `as`, an attribute, `getattr`, a
closure); srcad must find the same object Python does, in both modes, or
raise a SrcadError at the user's line. The oracles are central finite
differences (oracle.py) and, for gradients, autograd.
"""
import numpy as np
import pytest

import srcad
from oracle import check_grad, line_of, numerical_grad

X = np.array([0.3, -0.5, 1.2])
T = np.array([0.7, -0.2, 0.4])


def check_jvp(f, *args, tangent=T):
    """srcad.jvp(f)(*args, tangent) = (f(*args), the directional derivative of f)."""
    value, got = srcad.jvp(f)(*args, tangent)
    np.testing.assert_allclose(value, f(*args), rtol=1e-12)
    expected = np.tensordot(np.asarray(numerical_grad(lambda x: f(x, *args[1:]), args)),
                            tangent, axes=np.ndim(tangent))
    assert np.ndim(got) == np.ndim(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def check_both(f, *args):
    check_grad(f, *args)
    check_jvp(f, *args)


# -- transforms called inside differentiated code ------------------------------------

def _sine_energy(x):
    return np.sum(np.sin(x) * x)


sine_energy_grad = srcad.grad(_sine_energy)


def first_partial(x):
    return sine_energy_grad(x)[0]


def gradient_norm(x):
    return np.sum(sine_energy_grad(x) ** 2)


@pytest.mark.parametrize("f", [first_partial, gradient_norm])
def test_a_gradient_called_inside_gives_scalar_tangents_and_gradients(f):
    value, tangent = srcad.jvp(f)(X, T)
    assert np.ndim(tangent) == 0
    check_both(f, X)
