"""What the antisymmetric pair of networks shares, whatever the layers.

The predictor ``beta(A) - beta(B)`` of two networks that start equal is
integrated in the coordinates ``M = (A + B) / 2`` and ``H = (A - B) / 2``
(see :mod:`.dense`): ``H`` starts at 0 and alone sets ``beta`` while the
layers barely move (large ``alpha``), so its errors are measured against its
own size, never against less than ``HALF_FLOOR`` times the size of ``M``.
"""

import numpy as np

HALF_FLOOR = 1e-12


def halves(x):
    """The two halves of a 1-d array, as views (``np.split(x, 2)`` costs
    ten times as much in Python, and the stiff steps of a deep network call
    it hundreds of thousands of times)."""
    half = x.shape[0] // 2
    return x[:half], x[half:]


def pair_error_scales(mean_rms, half_rms):
    """Error scales of the layers of ``M`` and of ``H``, from their RMS entries.

    An error in ``M`` moves both ``A = M + H`` and ``B = M - H``: it is measured
    against the larger of the two sizes.
    """
    return np.maximum(mean_rms, half_rms), np.maximum(half_rms, HALF_FLOOR * mean_rms)
