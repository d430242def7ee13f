"""Per-sample losses of a margin or a prediction, computed in log-space.

A loss object is the only place that knows the formula of ``l``. The
integrator talks to it through three methods, all vectorized over samples:

``log_mean(p, sample_weight)``
    ``log(sum_i s_i l(p_i) / sum_i s_i)``, finite for every finite ``p``
    (no underflow at losses far below the smallest float).
``scaled_gradient(p, sample_weight)``
    ``(r, log_scale)`` with ``-s_i l'(p_i) = exp(log_scale) * r_i`` and
    ``max_i |r_i| = 1`` (or ``r = 0``): the direction of the negative gradient
    with respect to the predictions, and its size as a logarithm.
``initial_log_mean(sample_weight)``
    the value of ``log_mean`` at ``p = 0`` (the network starts at beta = 0).

Optional: ``log_mean_and_scaled_gradient(p, sample_weight)`` returns both
results at once where they share work (the exponential loss: one pass);
``log_mean_is_exact = True`` says that ``log_mean`` keeps full relative
accuracy at any loss, so that the integrator may check its clock against it.

For classification ``p_i`` is the margin ``y_i x_i . beta`` with labels in
{-1, +1} folded into the data; for regression it is the residual-defining
prediction and the loss holds the targets.
"""

import math

import numpy as np
from scipy.linalg.blas import ddot
from scipy.special import log_expit

from ._logspace import logsumexp

_LOG_2 = np.log(2.0)
_LOG_LOG_2 = np.log(_LOG_2)


def _weighted_log_mean(log_terms, sample_weight):
    """log(sum s_i exp(log_terms_i) / sum s_i) without underflow."""
    with np.errstate(divide="ignore"):
        log_sw = np.log(sample_weight)
    return logsumexp(log_terms + log_sw) - np.log(sample_weight.sum())


def _scaled(log_r, sample_weight):
    """Split ``s_i exp(log_r_i)`` into a unit-max vector and its log-size."""
    with np.errstate(divide="ignore"):
        log_sr = log_r + np.log(sample_weight)
    log_scale = np.max(log_sr)
    return np.exp(log_sr - log_scale), log_scale


class ExponentialLoss:
    """l(m) = exp(-m): log l = -m, -l' = exp(-m)."""

    name = "exponential"
    log_mean_is_exact = True

    def log_mean(self, p, sample_weight):
        return _weighted_log_mean(-p, sample_weight)

    def scaled_gradient(self, p, sample_weight):
        return _scaled(-p, sample_weight)

    _weights = None  # (sample_weight, log sample_weight, log sum, ones)

    def log_mean_and_scaled_gradient(self, p, sample_weight):
        # l = -l' = exp(-p): the mean is the sum of the scaled gradient.
        # Weights are positive here (the estimators drop zero weights). An
        # integration passes the same weights to every evaluation: their
        # logarithms are kept (at small sizes each vector operation is a
        # visible part of an evaluation).
        weights = self._weights
        if weights is None or weights[0] is not sample_weight:
            log_sw = np.log(sample_weight)
            # equal weights (the usual case) need no vector of logarithms
            equal = sample_weight.size and np.ptp(log_sw) == 0
            weights = (sample_weight, float(log_sw[0]) if equal else log_sw,
                       math.log(sample_weight.sum()), np.ones_like(sample_weight))
            self._weights = weights
        # (x[argmin] and the sum as BLAS ddot with ones: at small sizes a
        # fifth of the cost of min() and sum(); both propagate a NaN. Not
        # BLAS dasum: OpenBLAS's dasum sums in an order that depends on the
        # alignment of r in memory, which made repeated fits differ in the
        # last digits at 300 x 3000; its ddot does not.)
        log_sw = weights[1]
        if isinstance(log_sw, float):
            p_min = p[p.argmin()]
            r = np.subtract(p_min, p)
            log_scale = log_sw - p_min
        else:
            r = log_sw - p
            log_scale = r[r.argmax()]
            r -= log_scale
        r = np.exp(r, out=r)
        log_mean = log_scale + math.log(ddot(r, weights[3])) - weights[2]
        return log_mean, r, log_scale

    def initial_log_mean(self, sample_weight):
        return 0.0

    def log_terms(self, p):
        return -p

    def log_curvature(self, p):
        """``log l''(p)`` (for the flow's Jacobian)."""
        return -p


class LogisticLoss:
    """l(m) = log(1 + exp(-m)), with a log that stays exact in the far tail.

    For m > 0, ``log l(m) = -m + log(log1p(x) / x)`` with ``x = exp(-m)``:
    the ratio tends to 1 and is evaluated without forming ``l`` itself, so
    margins of 1e4 give ``log l = -1e4`` rather than ``log 0``.
    """

    name = "logistic"
    log_mean_is_exact = True

    def log_terms(self, p):
        p = np.asarray(p, dtype=float)
        out = np.empty_like(p)
        neg = p <= 0
        # log(softplus(-m)) is safe where softplus(-m) >= log 2.
        out[neg] = np.log(np.logaddexp(0.0, -p[neg]))
        pos = ~neg
        x = np.exp(-p[pos])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(x > 0, np.log1p(x) / np.where(x > 0, x, 1.0), 1.0)
        out[pos] = -p[pos] + np.log(ratio)
        return out

    def log_mean(self, p, sample_weight):
        return _weighted_log_mean(self.log_terms(p), sample_weight)

    def scaled_gradient(self, p, sample_weight):
        # -l'(m) = sigmoid(-m) = exp(log_expit(-m)), exact in both tails.
        return _scaled(log_expit(-p), sample_weight)

    def initial_log_mean(self, sample_weight):
        return _LOG_LOG_2

    def log_curvature(self, p):
        """``log l''(p)``, ``l'' = expit(p) expit(-p)``, exact in both tails."""
        return log_expit(p) + log_expit(-p)


LOSSES = {"exponential": ExponentialLoss, "logistic": LogisticLoss}


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
            return 2.0 * np.log(np.abs(p - self.y)) - _LOG_2

    def log_mean(self, p, sample_weight):
        return _weighted_log_mean(self.log_terms(p), sample_weight)

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
        # The infimum is positive unless y lies in the span of the columns,
        # and even then rounding puts a floor under the loss.
        return True

    def diagnostics(self, predictions, coef):
        """History fields: the norms of ``coef`` that the implicit bias trades."""
        return {"l1_norm": np.sum(np.abs(coef)), "l2_norm": np.sqrt(np.sum(coef**2))}
