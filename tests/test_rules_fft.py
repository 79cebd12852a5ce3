"""numpy.fft: complex and real transforms with n/s, axis/axes and norm, and the shifts.

The oracle differentiates real arguments, so complex inputs are built inside
the function from two real arrays, and complex results are read through a real
map (Re(c * y) or |y|**2) before they leave it. Lengths, axes and norm are
drawn with the shapes; the functions pass them on as variables (the rules'
conditionals decided at run time) and, in the `*_fixed` cases, as literals
(decided when the rule is inlined).
"""
import numpy as np
import pytest
from hypothesis import strategies as st

import srcad
from rule_cases import arrays, case, cases_of, floats, hvp_cases_of, run, run_hvp, shapes
from srcad import runtime

# fftn/ifftn/rfftn/irfftn with s and no axes: deprecated by NumPy 2, still supported
pytestmark = pytest.mark.filterwarnings("ignore:`axes` should not be `None`:DeprecationWarning")

ANY = floats(-2.0, 2.0)
NORMS = [None, "backward", "ortho", "forward"]
C = 0.3 + 0.8j


@st.composite
def one_axis(draw, real_out=False, min_side=1):
    """(xr, xi, n, axis, norm) for the 1-d transforms of an array of 1 to 3 axes."""
    shape = draw(shapes(1, 3, 4).filter(lambda s: min(s) >= min_side))
    xr, xi = draw(arrays(shape, ANY)), draw(arrays(shape, ANY))
    axis = draw(st.sampled_from(range(-len(shape), len(shape))))
    n = draw(st.one_of(st.none(), st.integers(1, 7)))
    if real_out and n is None and shape[axis] < 2:
        n = 3          # irfft of one bin: n would be 0
    return xr, xi, n, axis, draw(st.sampled_from(NORMS))


@st.composite
def several_axes(draw, min_dims=1, count=None, real_out=False):
    """(xr, xi, s, axes, norm): axes None or distinct axes (count of them for the 2-d
    transforms), s None or one length per axis transformed."""
    shape = draw(shapes(max(min_dims, count or 1), 3, 3))
    xr, xi = draw(arrays(shape, ANY)), draw(arrays(shape, ANY))
    ndim = len(shape)
    if count is None and draw(st.booleans()):
        axes = None
        k = draw(st.integers(1, ndim))          # s without axes: the last k axes
    else:
        k = count or draw(st.integers(1, ndim))
        axes = tuple(draw(st.permutations(range(ndim)))[:k])
        axes = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    s = draw(st.one_of(st.none(), st.lists(st.integers(1, 5), min_size=k, max_size=k)))
    if axes is None and s is None:
        k = ndim
    last = (axes[-1] if axes is not None else -1)
    if real_out and s is None and shape[last] < 2:
        s = [shape[a] for a in (axes if axes is not None else range(ndim - k, ndim))]
        s[-1] = 3
    return xr, xi, None if s is None else tuple(s), axes, draw(st.sampled_from(NORMS))


# -- complex-to-complex transforms ------------------------------------------------------

def t_fft(xr, xi, n, axis, norm):
    return np.real(np.fft.fft(xr + 1j * xi, n, axis, norm) * C)


def t_ifft(xr, xi, n, axis, norm):
    return np.imag(np.fft.ifft(xr + 1j * xi, n=n, axis=axis, norm=norm)) * 2.0


def t_fft_real(xr, xi, n, axis, norm):
    return np.abs(np.fft.fft(xr, n, axis, norm)) ** 2


def t_ifft_real(xr, xi, n, axis, norm):
    return np.real(np.fft.ifft(xr, n, axis, norm) * C)


for f in (t_fft, t_ifft):
    case(getattr(np.fft, f.__name__[2:]), f, one_axis(), wrt=(0, 1), autograd=True,
         examples=10)
for f in (t_fft_real, t_ifft_real):
    case(getattr(np.fft, f.__name__[2:-5]), f, one_axis(), autograd=True, examples=10)


def t_fft2(xr, xi, s, axes, norm):
    return np.real(np.fft.fft2(xr + 1j * xi, s, axes, norm) * C)


def t_ifft2(xr, xi, s, axes, norm):
    return np.abs(np.fft.ifft2(xr + 1j * xi, s=s, axes=axes, norm=norm)) ** 2


def t_fftn(xr, xi, s, axes, norm):
    return np.real(np.fft.fftn(xr + 1j * xi, s, axes, norm) * C)


def t_ifftn(xr, xi, s, axes, norm):
    return np.imag(np.fft.ifftn(xr + 1j * xi, s, axes, norm) * C)


case(np.fft.fft2, t_fft2, several_axes(2, count=2), wrt=(0, 1), autograd=True, examples=10)
case(np.fft.ifft2, t_ifft2, several_axes(2, count=2), wrt=(0, 1), autograd=True, examples=10)
def t_axes_none(xr, xi):
    """axes=None: every axis without s, the last len(s) axes with it."""
    z = xr + 1j * xi
    return np.concatenate([np.ravel(np.real(np.fft.fft2(z, (2, 4), None) * C)),
                           np.ravel(np.imag(np.fft.ifft2(z, None, None))),
                           np.ravel(np.real(np.fft.ifftn(z, (4, 2), None, "ortho")))])


case([np.fft.fft2, np.fft.ifft2, np.fft.ifftn], t_axes_none,
     st.tuples(arrays((2, 3, 3), ANY), arrays((2, 3, 3), ANY)), wrt=(0, 1), examples=5)
case(np.fft.fftn, t_fftn, several_axes(), wrt=(0, 1), examples=12)
case(np.fft.ifftn, t_ifftn, several_axes(), wrt=(0, 1), examples=12)


# Literal arguments: the rules' conditionals are decided when they are inlined.
def t_c2c_fixed(x, y):
    z = x + 1j * y
    a = np.fft.fft(z)
    b = np.fft.ifft(z * a, 7, norm="ortho")
    c = np.fft.fft2(np.reshape(b[:6], (2, 3)), (3, 2), norm="forward")
    e = np.fft.ifftn(c * 1j + np.conj(c), axes=(0,))
    f = np.fft.fftn(e, (2, 4))
    return np.abs(np.fft.fft(x, 3)) ** 2 + np.real(np.sum(f * C) + np.sum(b[6:]))


case([np.fft.fft, np.fft.ifft, np.fft.fft2, np.fft.ifftn, np.fft.fftn], t_c2c_fixed,
     st.tuples(arrays((5,), ANY), arrays((5,), ANY)), wrt=(0, 1), autograd=True, examples=8)


# -- real transforms ---------------------------------------------------------------------

def t_rfft(xr, xi, n, axis, norm):
    return np.real(np.fft.rfft(xr, n, axis, norm) * C)


def t_rfft_abs(xr, xi, n, axis, norm):
    return np.abs(np.fft.rfft(xr, n, axis, norm)) ** 2


def t_irfft(xr, xi, n, axis, norm):
    return np.fft.irfft(xr + 1j * xi, n, axis, norm)


def t_irfft_real(xr, xi, n, axis, norm):
    return np.fft.irfft(xr, n, axis, norm) ** 2


case(np.fft.rfft, t_rfft, one_axis(), examples=12)
case(np.fft.rfft, t_rfft_abs, one_axis(), examples=8)
case(np.fft.irfft, t_irfft, one_axis(real_out=True), wrt=(0, 1), examples=12)
case(np.fft.irfft, t_irfft_real, one_axis(real_out=True), examples=8)


def t_rfft2(xr, xi, s, axes, norm):
    return np.real(np.fft.rfft2(xr, s, axes, norm) * C)


def t_irfft2(xr, xi, s, axes, norm):
    return np.fft.irfft2(xr + 1j * xi, s, axes, norm)


def t_rfftn(xr, xi, s, axes, norm):
    return np.imag(np.fft.rfftn(xr, s, axes, norm) * C)


def t_irfftn(xr, xi, s, axes, norm):
    return np.fft.irfftn(xr + 1j * xi, s, axes, norm)


case(np.fft.rfft2, t_rfft2, several_axes(2, count=2), examples=10)
case(np.fft.irfft2, t_irfft2, several_axes(2, count=2, real_out=True), wrt=(0, 1),
     examples=10)
case(np.fft.rfftn, t_rfftn, several_axes(), examples=12)
case(np.fft.irfftn, t_irfftn, several_axes(real_out=True), wrt=(0, 1), examples=12)


# Default arguments, even lengths and norm None or "ortho": what autograd's rules cover.
def t_real_fixed(x, y, w):
    spectrum = np.fft.rfft(x) * (y + 1j * np.cos(y))
    smooth = np.fft.irfft(spectrum, norm="ortho")
    m = np.reshape(x, (3, 2)) * y[1:3]
    r2 = np.fft.irfft2(np.fft.rfft2(m) * C)
    rn = np.fft.rfftn(np.reshape(w, (3, 2)) * x[0], norm="ortho")
    return np.concatenate([smooth * x, np.ravel(r2),
                           np.ravel(np.fft.irfftn(rn * np.conj(rn) + rn, norm="ortho"))])


case([np.fft.rfft, np.fft.irfft, np.fft.rfft2, np.fft.irfft2, np.fft.rfftn, np.fft.irfftn],
     t_real_fixed, st.tuples(arrays((6,), ANY), arrays((4,), ANY), arrays((6,), ANY)),
     wrt=(0, 1, 2), autograd=True, examples=8)


# A spectral filter and its inverse; a cross-correlation by FFT.
def t_filter(x, h):
    return np.fft.irfft(np.fft.rfft(x) * np.fft.rfft(h, np.shape(x)[-1]), np.shape(x)[-1])


def t_correlate(x, y):
    n = 2 * np.shape(x)[0]
    return np.real(np.fft.ifft(np.fft.fft(x, n) * np.conj(np.fft.fft(y, n))))


case([np.fft.rfft, np.fft.irfft], t_filter,
     st.integers(2, 7).flatmap(lambda n: st.tuples(arrays((n,), ANY), arrays((3,), ANY))),
     wrt=(0, 1), examples=8)
case([np.fft.fft, np.fft.ifft], t_correlate,
     st.integers(1, 5).flatmap(lambda n: st.tuples(arrays((n,), ANY), arrays((n,), ANY))),
     wrt=(0, 1), autograd=True, examples=8)


# -- shifts ------------------------------------------------------------------------------

@st.composite
def shift_axes(draw):
    shape = draw(shapes(1, 3, 4))
    ndim = len(shape)
    axes = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                   unique=True).map(tuple)))
    return draw(arrays(shape, ANY)), draw(arrays(shape, ANY)), axes


def t_fftshift(xr, xi, axes):
    return np.real(np.fft.fftshift(xr + 1j * xi, axes) * C)


def t_ifftshift(xr, xi, axes):
    return np.fft.ifftshift(xr, axes=axes) * np.arange(np.size(xr)).reshape(np.shape(xr))


case(np.fft.fftshift, t_fftshift, shift_axes(), wrt=(0, 1), autograd=True, examples=10)
case(np.fft.ifftshift, t_ifftshift, shift_axes(), autograd=True, examples=10)


# -- Hessians: forward mode over the generated reverse code, through the FFT helpers ------

def h_fft(x):
    spectrum = np.fft.rfft(x, 16) * np.fft.rfft(np.tanh(x), 16)
    back = np.fft.irfft(spectrum, 10)
    z = np.fft.ifft(x * (1.0 + 0.5j), 9, norm="ortho")
    m = np.reshape(x, (3, 4))
    f = np.fft.fftn(m * (1.0 + 2.0j) + np.tanh(m), (2, 5), norm="forward")
    g = np.fft.irfftn(f[:, :3] ** 2, (3, 4), axes=(1, 0))
    return np.sum(back ** 2 * np.cos(back)) + np.sum(np.real(z * np.conj(z)) * np.sin(z.real)) \
        + np.sum(np.real(f * np.conj(f * np.sum(x)))) + np.sum(g * np.cos(m.T))


case([runtime.rfft_grad, runtime.irfft_grad, runtime.fft_unpad, runtime.real_like], h_fft,
     st.tuples(arrays((12,), floats(-1.0, 1.0))), hvp=True)


@pytest.mark.parametrize("c", cases_of(__name__), ids=repr)
def test_rule(c):
    run(c)


@pytest.mark.parametrize("c", hvp_cases_of(__name__), ids=repr)
def test_hvp(c):
    run_hvp(c)


# -- what the rules do beyond the table ----------------------------------------------------

def test_fft_adjoint_is_fft_under_the_complex_convention():
    """dL = Re(g * dz): the gradient of Re(sum(c * fft(z))) is fft(c), not a conjugate."""
    def loss(z):
        return np.real(np.sum(np.fft.fft(z) * C))

    z = np.array([0.5 + 0.1j, -1.0 + 0.3j, 2.0 - 0.7j, 0.25 + 0.0j])
    g = srcad.grad(loss)(z)
    np.testing.assert_allclose(g, np.fft.fft(np.full(4, C)), rtol=1e-12, atol=1e-12)
    dz = np.array([0.3 - 0.2j, 0.1 + 0.4j, -0.5 + 0.0j, 0.2 + 0.9j])
    h = 1e-6
    fd = (loss(z + h * dz) - loss(z - h * dz)) / (2 * h)
    np.testing.assert_allclose(np.real(np.sum(g * dz)), fd, rtol=1e-8)


def test_irfft_ignores_the_imaginary_parts_it_drops():
    """irfft reads only the real part of the zero-frequency and Nyquist bins."""
    def f(yi):
        return np.sum(np.fft.irfft(np.array([1.0, 2.0, 3.0]) + 1j * yi) * np.arange(4.0))

    g = srcad.grad(f)(np.array([0.3, -0.2, 0.5]))
    assert g[0] == 0.0 and g[2] == 0.0 and g[1] != 0.0


def test_repeated_axes_with_s_are_refused():
    def f(x):
        return np.sum(np.abs(np.fft.fftn(x, s=(2, 4), axes=(0, 0))) ** 2)

    with pytest.raises(NotImplementedError, match="repeated axis"):
        srcad.grad(f)(np.ones((3, 2)))


def test_out_is_refused():
    def f(x):
        out = np.zeros(3, complex)
        return np.sum(np.abs(np.fft.fft(x, out=out)))

    with pytest.raises(srcad.SrcadError):
        srcad.grad(f)(np.ones(3))


def test_fft_axes_passes_on_only_integers():
    # declared without a derivative, it must not hand a differentiated array through
    assert srcad.runtime.fft_axes(None, [0, -1]) == (0, -1)
    assert srcad.runtime.fft_axes((4, 4), None) == (-2, -1)
    with pytest.raises(srcad.SrcadError, match="FFT axes must be integers"):
        srcad.runtime.fft_axes(np.ones(2), np.ones(2))
