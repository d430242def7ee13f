"""The logistic loss ``l(m) = log(1 + exp(-m))``."""

import numpy as np
from scipy.special import log_expit

from ._common import LOG_2, scaled, weighted_log_mean

_LOG_LOG_2 = np.log(LOG_2)


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
        return weighted_log_mean(self.log_terms(p), sample_weight)

    def scaled_gradient(self, p, sample_weight):
        # -l'(m) = sigmoid(-m) = exp(log_expit(-m)), exact in both tails.
        return scaled(log_expit(-p), sample_weight)

    def initial_log_mean(self, sample_weight):
        return _LOG_LOG_2

    def log_curvature(self, p):
        """``log l''(p)``, ``l'' = expit(p) expit(-p)``, exact in both tails."""
        return log_expit(p) + log_expit(-p)
