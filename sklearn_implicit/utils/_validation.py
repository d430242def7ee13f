"""Checks of the parameters and data that every estimator and function shares."""

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import idamax
from sklearn.utils.multiclass import check_classification_targets
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


def largest_abs(X):
    """``max |X_ij|`` of a float64 ``X`` (0.0 when it has no entries).

    One pass: BLAS ``idamax`` over a contiguous array's memory (``X.max()``
    and ``X.min()`` read it twice, 1.7 products with ``X`` at 300 x 3000,
    ``idamax`` 0.9), or the stored entries of a sparse matrix.
    """
    if sp.issparse(X):
        flat = np.asarray((X if X.format in ("csr", "csc", "coo") else X.tocsr()).data)
    elif X.flags.c_contiguous or X.flags.f_contiguous:
        flat = X.ravel(order="K")
    else:
        flat = np.asarray(X, dtype=float).ravel()
    if flat.size == 0:
        return 0.0
    if flat.dtype != np.float64 or flat.size >= 2**31:
        # (idamax takes 32-bit sizes in the BLAS that SciPy ships)
        return float(max(flat.max(), -flat.min()))
    return abs(flat.item(idamax(flat)))


def check_summable(X, intercept_scaling=None, abs_max=None):
    """Raise if sums over the samples of ``|X|`` overflow (the gradient would),
    with a column of ``intercept_scaling`` appended if it is not None.

    ``abs_max``: :func:`largest_abs` of ``X`` where the caller has it.
    """
    if X.shape[0] == 0:
        return
    top = largest_abs(X) if abs_max is None else abs_max
    if intercept_scaling is not None:
        top = max(top, intercept_scaling)
    # No sum can overflow below this bound, found without a copy of X.
    if top < 1e300 / X.shape[0]:
        return
    if intercept_scaling is not None:
        X = add_intercept_column(X, intercept_scaling)
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


def check_class_labels(y):
    """scikit-learn's ``check_classification_targets`` on a validated 1-D ``y``.

    Integer and boolean labels are classes whatever their values: they skip
    its inspection of ``y`` (0.1 ms, a product with ``X`` at 300 x 3000, on
    every fit); others get it, with its messages.
    """
    if not (isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "biu"):
        check_classification_targets(y)


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


def scale_advice(X, abs_max=None):
    """A sentence advising to standardize ``X`` when its features are far from
    unit scale, else ''.

    The flow's speed depends on the scale of the features (tiny features
    make the early phase last many decades of time), and so does its answer
    (max-margin directions are not invariant under rescaling of features).
    "Far" means: the largest absolute value of some feature that is not
    all zero lies outside ``_UNIT_SCALE``. ``abs_max``: :func:`largest_abs`
    of ``X`` where the caller has it.
    """
    if X.shape[0] == 0 or X.shape[1] == 0:
        return ""
    top = largest_abs(X) if abs_max is None else abs_max
    if top == 0 or (top <= _UNIT_SCALE[1] and _columns_reach(X, _UNIT_SCALE[0])):
        return ""
    top = _column_abs_max(X)
    top = top[top > 0]
    return (
        f" The features are far from unit scale (their largest absolute values "
        f"range from {top.min():.3g} to {top.max():.3g}), which slows the flow "
        "and changes its answer: standardize them, e.g. with StandardScaler in "
        "a Pipeline (MaxAbsScaler for sparse data)."
    )


def _column_abs_max(X):
    if sp.issparse(X):
        return np.asarray(abs(X).max(axis=0).todense()).ravel()
    # (two reductions: abs(X) would be a copy of X)
    return np.maximum(X.max(axis=0), -X.min(axis=0))


def _columns_reach(X, low):
    """Whether every column of ``X`` that is not all zero has an entry of
    absolute value at least ``low``.

    Dense: rows are read in blocks of growing size, each block only in the
    columns that no earlier row has settled; on standardized data the first
    row settles almost every column (the column maxima, 3.6 products with
    ``X`` at 300 x 3000, cost 0.02 there).
    """
    if sp.issparse(X):
        top = _column_abs_max(X)
        return bool(np.all((top == 0) | (top >= low)))
    open_ = np.arange(X.shape[1])
    start, size = 0, 1
    while open_.size and start < X.shape[0]:
        block = np.abs(X[start:start + size, open_])
        open_ = open_[~(block >= low).any(axis=0)]
        start, size = start + size, 4 * size
    if open_.size == 0:
        return True
    # Only columns without such an entry are left: they must be all zero.
    return not np.any(X[:, open_])
