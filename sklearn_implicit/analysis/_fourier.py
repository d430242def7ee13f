"""The unitary Fourier spectrum of real coefficient vectors.

The convention is the convolutional network's
(:mod:`sklearn_implicit._networks.convolutional`): the unitary DFT
``(U v)_k = d**-0.5 * sum_j v_j exp(-2 pi i j k / d)``
(``scipy.fft.fft(v, norm='ortho')``), so that the end-to-end spectrum is the
product of the filters' spectra with no constant, and norms of the spectrum
are taken over all ``d`` frequencies. A real vector's spectrum is
conjugate-symmetric, ``(U v)_{d-k} = conj((U v)_k)``: the half spectrum
``k = 0, ..., d // 2`` holds it, each ``0 < k < d / 2`` standing for two
frequencies of equal modulus.
"""

import numpy as np
from scipy import fft


def fourier_spectrum(v):
    """``U v`` along the last axis, all ``d`` frequencies."""
    return fft.fft(v, axis=-1, norm="ortho")


def half_spectrum(v):
    """``(U v)_k`` for ``k = 0, ..., d // 2`` along the last axis."""
    return fft.rfft(v, axis=-1, norm="ortho")


def frequency_counts(d):
    """How many of the ``d`` frequencies each half-spectrum entry stands for:
    1 for ``k = 0`` and (``d`` even) ``k = d / 2``, 2 otherwise."""
    counts = np.full(d // 2 + 1, 2.0)
    counts[0] = 1.0
    if d % 2 == 0:
        counts[-1] = 1.0
    return counts


def half_spectrum_rows(d):
    """The real linear map ``v -> (Re, Im)`` of the half spectrum, by frequency.

    Returns a list with one real matrix per frequency ``k = 0, ..., d // 2``:
    shape (1, d) for the real frequencies (``k = 0`` and, ``d`` even,
    ``k = d / 2``, whose imaginary part vanishes for a real ``v``), (2, d)
    otherwise, so that ``|(U v)_k| = ||rows[k] @ v||_2``.
    """
    half = half_spectrum(np.eye(d)).T  # (d // 2 + 1, d): row k maps v to (U v)_k
    counts = frequency_counts(d)
    return [
        h.real[None, :] if c == 1 else np.vstack([h.real, h.imag])
        for h, c in zip(half, counts)
    ]
