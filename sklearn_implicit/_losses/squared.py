"""The squared loss of regression, ``l(p) = (p - y)**2 / 2``."""

import numpy as np

from ._common import LOG_2, weighted_log_mean

# Relative residual above which a slow flow is crossing a plateau, not
# stalled at a floor.
_PLATEAU_RESIDUAL = 1e-6


class SquaredLoss:
    """l(p) = (p - y)**2 / 2 for targets ``y`` held by the loss.

    Unlike the margin losses, ``-l'(p) = y - p`` is signed: ``scaled_gradient``
    returns signed ``r`` with ``max |r| = 1``. ``log l`` is formed from
    ``log |p - y|``, so a residual of 1e-200 still has a finite log-loss; the
    loss is exactly 0 (log-loss ``-inf``) only at exact interpolation.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Targets.
    """

    name = "squared"

    def __init__(self, y):
        self.y = np.asarray(y, dtype=float)

    def log_terms(self, p):
        with np.errstate(divide="ignore"):
            return 2.0 * np.log(np.abs(p - self.y)) - LOG_2

    def log_mean(self, p, sample_weight):
        return weighted_log_mean(self.log_terms(p), sample_weight)

    def scaled_gradient(self, p, sample_weight):
        r = sample_weight * (self.y - p)
        top = np.max(np.abs(r))
        if top == 0:
            return r, -np.inf
        return r / top, np.log(top)

    def initial_log_mean(self, sample_weight):
        return self.log_mean(np.zeros_like(self.y), sample_weight)

    def log_curvature(self, p):
        """``log l''(p) = 0`` (for the flow's Jacobian)."""
        return np.zeros_like(p)

    def may_stall(self, predictions):
        # The loss may have a positive infimum (y outside the span of the
        # columns), and rounding puts a floor under it anyway. A flow that
        # has not yet fitted y to 1e-6 relative is not at such a floor: a
        # small initialization crosses plateaus (saddles) at any residual,
        # where the loss barely moves for decades of time and its slope
        # looks like a stall's.
        residual = np.sum((predictions - self.y) ** 2)
        return not residual > _PLATEAU_RESIDUAL**2 * np.sum(self.y**2)

    def diagnostics(self, predictions, coef):
        """History fields: the norms of ``coef`` that the implicit bias trades."""
        return {"l1_norm": np.sum(np.abs(coef)), "l2_norm": np.sqrt(np.sum(coef**2))}
