"""The squared loss of regression, ``l(p) = (p - y)**2 / 2``."""

import numpy as np

from ._common import LOG_2, weighted_log_mean


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
        # The flow's loss is the excess over the least-squares fit (self.y),
        # whose infimum is 0; only rounding can hold it up, and only once
        # the residual is tiny beside the fitted values (products and the
        # projection are exact to about 1e-15 relative on well-conditioned
        # data; 1e-6 leaves nine orders for ill-conditioned ones). Above
        # that, a loss that stands still is in a plateau: a direction of
        # the fit the flow has yet to learn, from a small initialization.
        scale = np.max(np.abs(self.y), initial=0.0)
        return not np.max(np.abs(predictions - self.y), initial=0.0) > 1e-6 * scale

    def diagnostics(self, predictions, coef):
        """History fields: the norms of ``coef`` that the implicit bias trades."""
        return {"l1_norm": np.sum(np.abs(coef)), "l2_norm": np.sqrt(np.sum(coef**2))}
