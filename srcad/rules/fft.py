"""Rules for `numpy.fft`: the discrete Fourier transforms and the shifts.

Each transform is linear, so its forward rule is the transform applied to the
tangent. Its reverse rule is the transposed map, under srcad's convention for
complex values (the gradient g of z has dL = Re(g * dz)): the DFT matrix is
symmetric, so the adjoint of `fft(x, norm=m)` is `fft(g, norm=m)` itself, and of
`ifft` is `ifft`. What `n` (or `s`) did to the input, zero-padding or cropping
it, is undone on the gradient (`fft_unpad`). The real transforms keep half of
the spectrum (`rfft`) or read only half of it (`irfft`), and have helpers of
their own (`rfft_grad`, `irfft_grad` in srcad/runtime.py). A real argument's
gradient is the real part of what arrives at it.
"""
import numpy as np

from ..runtime import fft_axes, fft_unpad, irfft_grad, real_like, rfft_grad
from .templates import adjoint, d, tangent

# -- complex-to-complex transforms ----------------------------------------------------


@adjoint(np.fft.fft)
def fft(result, a, n=None, axis=-1, norm=None):
    g = np.fft.fft(d[result], None, axis, norm)
    d[a] = real_like(g if n is None else fft_unpad(g, a, n, axis), a)


@tangent(np.fft.fft)
def fft_tangent(result, a, n=None, axis=-1, norm=None):
    d[result] = np.fft.fft(d[a], n, axis, norm)


@adjoint(np.fft.ifft)
def ifft(result, a, n=None, axis=-1, norm=None):
    g = np.fft.ifft(d[result], None, axis, norm)
    d[a] = real_like(g if n is None else fft_unpad(g, a, n, axis), a)


@tangent(np.fft.ifft)
def ifft_tangent(result, a, n=None, axis=-1, norm=None):
    d[result] = np.fft.ifft(d[a], n, axis, norm)


# With s given and axes=None, np.fft transforms the last len(s) axes, and the
# gradient is transformed over those (the s-less call would take every axis).
@adjoint(np.fft.fft2)
def fft2(result, a, s=None, axes=(-2, -1), norm=None):
    g = np.fft.fft2(d[result], None, axes if s is None else fft_axes(s, axes), norm)
    d[a] = real_like(g if s is None else fft_unpad(g, a, s, axes), a)


@tangent(np.fft.fft2)
def fft2_tangent(result, a, s=None, axes=(-2, -1), norm=None):
    d[result] = np.fft.fft2(d[a], s, axes, norm)


@adjoint(np.fft.ifft2)
def ifft2(result, a, s=None, axes=(-2, -1), norm=None):
    g = np.fft.ifft2(d[result], None, axes if s is None else fft_axes(s, axes), norm)
    d[a] = real_like(g if s is None else fft_unpad(g, a, s, axes), a)


@tangent(np.fft.ifft2)
def ifft2_tangent(result, a, s=None, axes=(-2, -1), norm=None):
    d[result] = np.fft.ifft2(d[a], s, axes, norm)


@adjoint(np.fft.fftn)
def fftn(result, a, s=None, axes=None, norm=None):
    g = np.fft.fftn(d[result], None, axes if s is None else fft_axes(s, axes), norm)
    d[a] = real_like(g if s is None else fft_unpad(g, a, s, axes), a)


@tangent(np.fft.fftn)
def fftn_tangent(result, a, s=None, axes=None, norm=None):
    d[result] = np.fft.fftn(d[a], s, axes, norm)


@adjoint(np.fft.ifftn)
def ifftn(result, a, s=None, axes=None, norm=None):
    g = np.fft.ifftn(d[result], None, axes if s is None else fft_axes(s, axes), norm)
    d[a] = real_like(g if s is None else fft_unpad(g, a, s, axes), a)


@tangent(np.fft.ifftn)
def ifftn_tangent(result, a, s=None, axes=None, norm=None):
    d[result] = np.fft.ifftn(d[a], s, axes, norm)


# -- real transforms: half of a Hermitian spectrum ---------------------------------------

@adjoint(np.fft.rfft)
def rfft(result, a, n=None, axis=-1, norm=None):
    d[a] = rfft_grad(d[result], a, None if n is None else (n,), (axis,), norm)


@tangent(np.fft.rfft)
def rfft_tangent(result, a, n=None, axis=-1, norm=None):
    d[result] = np.fft.rfft(d[a], n, axis, norm)


@adjoint(np.fft.irfft)
def irfft(result, a, n=None, axis=-1, norm=None):
    d[a] = irfft_grad(d[result], a, None if n is None else (n,), (axis,), norm)


@tangent(np.fft.irfft)
def irfft_tangent(result, a, n=None, axis=-1, norm=None):
    d[result] = np.fft.irfft(d[a], n, axis, norm)


@adjoint(np.fft.rfft2)
def rfft2(result, a, s=None, axes=(-2, -1), norm=None):
    d[a] = rfft_grad(d[result], a, s, axes, norm)


@tangent(np.fft.rfft2)
def rfft2_tangent(result, a, s=None, axes=(-2, -1), norm=None):
    d[result] = np.fft.rfft2(d[a], s, axes, norm)


@adjoint(np.fft.rfftn)
def rfftn(result, a, s=None, axes=None, norm=None):
    d[a] = rfft_grad(d[result], a, s, axes, norm)


@tangent(np.fft.rfftn)
def rfftn_tangent(result, a, s=None, axes=None, norm=None):
    d[result] = np.fft.rfftn(d[a], s, axes, norm)


@adjoint(np.fft.irfft2)
def irfft2(result, a, s=None, axes=(-2, -1), norm=None):
    d[a] = irfft_grad(d[result], a, s, axes, norm)


@tangent(np.fft.irfft2)
def irfft2_tangent(result, a, s=None, axes=(-2, -1), norm=None):
    d[result] = np.fft.irfft2(d[a], s, axes, norm)


@adjoint(np.fft.irfftn)
def irfftn(result, a, s=None, axes=None, norm=None):
    d[a] = irfft_grad(d[result], a, s, axes, norm)


@tangent(np.fft.irfftn)
def irfftn_tangent(result, a, s=None, axes=None, norm=None):
    d[result] = np.fft.irfftn(d[a], s, axes, norm)


# -- shifts: permutations, each the other's inverse ----------------------------------------

@adjoint(np.fft.fftshift)
def fftshift(result, x, axes=None):
    d[x] = np.fft.ifftshift(d[result], axes)


@tangent(np.fft.fftshift)
def fftshift_tangent(result, x, axes=None):
    d[result] = np.fft.fftshift(d[x], axes)


@adjoint(np.fft.ifftshift)
def ifftshift(result, x, axes=None):
    d[x] = np.fft.fftshift(d[result], axes)


@tangent(np.fft.ifftshift)
def ifftshift_tangent(result, x, axes=None):
    d[result] = np.fft.ifftshift(d[x], axes)
