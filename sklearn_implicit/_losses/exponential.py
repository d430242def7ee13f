"""The exponential loss ``l(m) = exp(-m)``."""

import math

import numpy as np
from scipy.linalg.blas import ddot

from ._common import scaled, weighted_log_mean


class ExponentialLoss:
    """l(m) = exp(-m): log l = -m, -l' = exp(-m)."""

    name = "exponential"
    log_mean_is_exact = True

    def log_mean(self, p, sample_weight):
        return weighted_log_mean(-p, sample_weight)

    def scaled_gradient(self, p, sample_weight):
        return scaled(-p, sample_weight)

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
