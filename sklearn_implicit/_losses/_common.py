"""Log-space pieces that several losses share."""

import numpy as np

from ..utils._logspace import logsumexp

LOG_2 = np.log(2.0)


def weighted_log_mean(log_terms, sample_weight):
    """log(sum s_i exp(log_terms_i) / sum s_i) without underflow."""
    with np.errstate(divide="ignore"):
        log_sw = np.log(sample_weight)
    return logsumexp(log_terms + log_sw) - np.log(sample_weight.sum())


def scaled(log_r, sample_weight):
    """Split ``s_i exp(log_r_i)`` into a unit-max vector and its log-size."""
    with np.errstate(divide="ignore"):
        log_sr = log_r + np.log(sample_weight)
    log_scale = np.max(log_sr)
    return np.exp(log_sr - log_scale), log_scale
