"""Checks of the parameters and data that every estimator and function shares."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _check_sample_weight

from ._design import add_intercept_column


def plain(value):
    """``value`` as a user writes it: a NumPy scalar becomes a Python one, so
    that messages show ``1.5`` or ``'setosa'``, not ``np.float64(1.5)``."""
    return value.item() if isinstance(value, np.generic) else value


def check_alpha(alpha, n_features):
    """Validate ``alpha`` (positive scalar or per-feature array) as an array."""
    try:
        alpha_vec = np.asarray(alpha, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            "alpha must be a positive float or an array of shape (n_features,) "
            f"= ({n_features},) of positive floats; got {alpha!r}."
        ) from None
    if alpha_vec.ndim == 0:
        alpha_vec = np.full(n_features, float(alpha_vec))
    else:
        if alpha_vec.shape != (n_features,):
            raise ValueError(
                f"alpha must be a positive float or an array of shape "
                f"(n_features,) = ({n_features},); got an array of shape "
                f"{alpha_vec.shape}."
            )
    if not np.all(np.isfinite(alpha_vec)) or np.any(alpha_vec <= 0):
        raise ValueError(
            "alpha must be positive and finite (every entry, for an array); "
            f"got min={np.min(alpha_vec):g}, max={np.max(alpha_vec):g}."
        )
    return alpha_vec


def check_summable(X, intercept_scaling=None):
    """Raise if sums over the samples of ``|X|`` overflow (the gradient would),
    with a column of ``intercept_scaling`` appended if it is not None."""
    if intercept_scaling is not None:
        if X.shape[0] and intercept_scaling < 1e300 / X.shape[0]:
            if X.shape[1] == 0 or max(X.max(), -X.min()) < 1e300 / X.shape[0]:
                return
        X = add_intercept_column(X, intercept_scaling)
    if X.shape[0] == 0 or X.shape[1] == 0:
        return
    # No sum can overflow below this bound, found without a copy of X.
    if max(X.max(), -X.min()) < 1e300 / X.shape[0]:
        return
    with np.errstate(over="ignore"):
        column_sums = np.asarray(abs(X).sum(axis=0)).ravel()
    if not np.all(np.isfinite(column_sums)):
        raise ValueError(
            "X has entries too large to sum in float64 (largest absolute value "
            f"{abs(X).max():.3g}; with the intercept column if fit_intercept=True): "
            "the gradient X^T r would overflow. Entries up to about "
            "1e300 / n_samples are accepted; rescale X, e.g. divide it by its "
            "largest entry."
        )


def check_weights(X, sample_weight, *arrays):
    """Validated weights with their zero-weight samples dropped.

    Zero-weight samples do not enter the loss; dropping them keeps them out of
    everything else the data decide (separability, the reachable loss).
    Returns ``X, sample_weight, *arrays`` restricted to positive weights.
    """
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not sample_weight.sum() > 0:
        raise ValueError(
            "sample_weight must have a positive sum; all sample weights are zero."
        )
    keep = sample_weight > 0
    if keep.all():
        return (X, sample_weight, *arrays)
    return (X[keep], sample_weight[keep], *(a[keep] for a in arrays))


# Features whose largest absolute values lie outside this range are "far
# from unit scale" for the advice below.
_UNIT_SCALE = (1e-3, 1e3)


def scale_advice(X):
    """A sentence advising to standardize ``X`` when its features are far from
    unit scale, else ''.

    The flow's speed depends on the scale of the features (tiny features
    make the early phase last many decades of time), and so does its answer
    (max-margin directions are not invariant under rescaling of features).
    """
    if X.shape[0] == 0 or X.shape[1] == 0:
        return ""
    if sp.issparse(X):
        top = np.asarray(abs(X).max(axis=0).todense())
    else:
        # (two reductions: abs(X) was a copy of X, most of a fit's set-up
        # cost at 300 x 3000)
        top = np.maximum(X.max(axis=0), -X.min(axis=0))
    top = top.ravel()[top.ravel() > 0]
    if top.size == 0 or (_UNIT_SCALE[0] <= top.min() and top.max() <= _UNIT_SCALE[1]):
        return ""
    return (
        f" The features are far from unit scale (their largest absolute values "
        f"range from {top.min():.3g} to {top.max():.3g}), which slows the flow "
        "and changes its answer: standardize them, e.g. with StandardScaler in "
        "a Pipeline (MaxAbsScaler for sparse data)."
    )

