"""Elementary functions whose every bit is the same on every machine.

numpy's ``log10``, ``arctan2``, ``exp``, ``power``, ``cos`` and complex ``abs`` pick an
implementation at import time from the CPU's SIMD level (AVX2, AVX-512, SVML), and the results
differ in the last bit between them; BLAS kernels sum matrix products in an order that depends
on the kernel. An image is quantised to 256 levels, so one such bit can move a pixel to the next
level and change every hash downstream. The functions here use only what IEEE 754 rounds
exactly (``+ - * /``, ``sqrt``, ``frexp``, ``ldexp``, comparisons), one ufunc per operation in
a fixed order, so their results depend neither on the BLAS kernel nor on numpy's dispatch nor
on the instruction set (the measured need and cost: the README's reproducibility section).
Accuracy is about 1e-15 relative, far below a colour level.
"""

from __future__ import annotations

import math

import numpy as np

_LN2 = math.log(2.0)
_LOG10_E = 1.0 / math.log(10.0)
_SQRT_HALF = math.sqrt(0.5)
_LOG_SERIES = tuple(1.0 / (2 * k + 1) for k in range(9))
"""ln(m) = 2 s (1 + s^2/3 + s^4/5 + ...), s = (m - 1) / (m + 1), |s| <= 0.172: 9 terms."""
_EXP_SERIES = tuple(1.0 / math.factorial(k) for k in range(16))
"""exp(r) = 1 + r + r^2/2! + ..., |r| <= ln(2) / 2: 16 terms."""
_ATAN_SERIES = tuple((-1.0) ** k / (2 * k + 1) for k in range(11))
"""atan(u) = u (1 - u^2/3 + u^4/5 - ...), |u| <= tan(pi / 16) < 0.2: 11 terms."""


def _horner(coefficients: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    result = np.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result *= x
        result += c
    return result


def log10(values: np.ndarray) -> np.ndarray:
    """float64 ``log10`` of positive finite ``values`` (any float dtype, any shape)."""
    mantissa, exponent = np.frexp(np.asarray(values, dtype=np.float64))
    low = mantissa < _SQRT_HALF
    mantissa = np.where(low, mantissa * 2.0, mantissa)
    exponent = exponent - low
    s = (mantissa - 1.0) / (mantissa + 1.0)
    ln = 2.0 * s * _horner(_LOG_SERIES, s * s)
    ln += exponent * _LN2
    ln *= _LOG10_E
    return ln


def arctan2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """float64 angle of ``(x, y)`` in ``[-pi, pi]``, with numpy's signs of zero
    (``arctan2(-0.0, -1.0) = -pi``); ``(0, 0)`` gives 0 or pi as numpy does."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    ax, ay = np.abs(x), np.abs(y)
    steep = ay > ax
    num, den = np.where(steep, ax, ay), np.where(steep, ay, ax)
    t = np.divide(num, den, out=np.zeros_like(num), where=den > 0.0)
    for _ in range(2):
        t = t / (1.0 + np.sqrt(1.0 + t * t))
    angle = 4.0 * t * _horner(_ATAN_SERIES, t * t)
    angle = np.where(steep, math.pi / 2.0 - angle, angle)
    angle = np.where(np.signbit(x), math.pi - angle, angle)
    return np.where(np.signbit(y), -angle, angle)


def magnitude(values: np.ndarray) -> np.ndarray:
    """float32 ``|z|`` of complex64 ``values``: the float32 parts squared exactly in float64,
    summed and square-rooted once."""
    real = values.real.astype(np.float64)
    imag = values.imag.astype(np.float64)
    real *= real
    imag *= imag
    real += imag
    return np.sqrt(real).astype(np.float32)


def exp(values: np.ndarray) -> np.ndarray:
    """float64 ``exp`` of finite ``values``: ``2**k exp(r)``, ``|r| <= ln 2 / 2``."""
    x = np.asarray(values, dtype=np.float64)
    k = np.rint(x / _LN2)
    r = x - k * _LN2
    return np.ldexp(_horner(_EXP_SERIES, r), k.astype(np.int64))


def log(values: np.ndarray) -> np.ndarray:
    """float64 natural logarithm of positive finite ``values``."""
    return log10(values) / _LOG10_E


def matmul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Batched ``left @ right`` (``[..., M, K] x [..., K, N]``) summed over ``K`` in index
    order, one product and one sum per term: for the small inner sizes of the field images
    (3 for Gramian fields, ``n_bins`` for Markov fields), where a BLAS kernel's order would
    differ between machines."""
    out = left[..., :, 0, None] * right[..., None, 0, :]
    for k in range(1, left.shape[-1]):
        out += left[..., :, k, None] * right[..., None, k, :]
    return out
