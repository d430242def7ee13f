r"""Normalized margins of linear classifiers.

The implicit bias of gradient flow on separable data is stated in terms of
margins: the direction of the trained predictor tends to (a stationary point
of) a max-margin problem whose norm depends on the architecture and the
initialization scale. This module measures the margin of any linear
classifier; :mod:`.separators` computes the max-margin references exactly, so
that tests and experiments can compare against them.

Conventions
-----------
Binary labels are mapped to :math:`z_i = +1` for the larger class label
(``classes_[1]`` after ``np.unique``) and :math:`z_i = -1` for the other
one, as in scikit-learn's linear classifiers. For a direction :math:`\beta`
and an intercept :math:`b` the margins are
:math:`m_i = z_i (x_i^\top \beta + b)` and the normalized margin is
:math:`\min_i m_i / \|\beta\|_p`. The intercept is never penalized.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from ..utils._validation import plain
from ._fourier import fourier_spectrum

__all__ = ["normalized_margin"]

_NORM_NAMES = {"l1": 1.0, "l2": 2.0, "linf": np.inf}
_BASES = ("standard", "fourier")


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def _check_norm(norm, allow_p, basis="standard"):
    """The exponent p (1.0, 2.0, inf or a positive float) of ``norm`` and
    whether it is taken over the unitary Fourier spectrum.

    ``'fourier-l1'`` is the Fourier spectrum's l1 norm in any ``basis``; the
    other norms are taken in ``basis`` (``'standard'`` or ``'fourier'``).
    """
    if basis not in _BASES:
        raise ValueError(f"basis must be 'standard' or 'fourier'; got {basis!r}.")
    fourier = basis == "fourier"
    if isinstance(norm, str):
        if norm in _NORM_NAMES:
            return _NORM_NAMES[norm], fourier
        if norm == "fourier-l1":
            return 1.0, True
    elif (
        allow_p
        and isinstance(norm, numbers.Real)
        and not isinstance(norm, (bool, np.bool_))
        and norm > 0
        and not np.isnan(norm)
    ):
        return float(norm), fourier
    if allow_p:
        accepted = "'l1', 'l2', 'linf', 'fourier-l1' or a positive float p"
    else:
        accepted = "'l1', 'l2', 'linf' or 'fourier-l1'"
    raise ValueError(f"norm must be {accepted}; got {norm!r}.")


def _p_norm(beta, p):
    """``(sum_j |beta_j|**p)**(1/p)`` along the last axis, without overflow."""
    a = np.abs(beta)
    if p == np.inf:
        return a.max(axis=-1)
    amax = a.max(axis=-1, keepdims=True)
    ratio = a / np.where(amax > 0, amax, 1.0)
    return amax[..., 0] * np.sum(ratio**p, axis=-1) ** (1.0 / p)


def _norm(beta, p, fourier):
    """:func:`_p_norm` of ``beta``, or of its unitary spectrum over all
    ``d`` frequencies (the moduli, a quasi-norm for ``p < 1``)."""
    return _p_norm(fourier_spectrum(beta) if fourier else beta, p)


def _check_X(X, dense):
    X = check_array(
        X,
        accept_sparse=["csr", "csc", "coo"],
        dtype=np.float64,
        input_name="X",
    )
    if dense and sp.issparse(X):
        X = X.toarray()
    return X


def _signs_from_classes(y, classes, positive):
    """+1 where ``y == positive``, -1 elsewhere; every label must be known."""
    known = np.isin(y, classes)
    if not np.all(known):
        unknown = np.unique(y[~known])
        raise ValueError(
            f"y contains labels {unknown.tolist()!r} that are not among the "
            f"classes {np.asarray(classes).tolist()!r}."
        )
    return np.where(y == positive, 1.0, -1.0)


def _binary_signs(y):
    """Map raw binary labels to +-1 (larger label -> +1)."""
    classes = np.unique(y)
    if len(classes) == 2:
        return _signs_from_classes(y, classes, classes[1])
    if len(classes) == 1:
        if np.issubdtype(classes.dtype, np.number) and classes[0] in (-1, 1):
            # A single class given directly as -1 or +1: its sign is known.
            return np.full(y.shape[0], float(classes[0]))
        raise ValueError(
            f"y contains a single class {plain(classes[0])!r}; with a raw coefficient "
            "array the sign of each sample can only be inferred from two "
            "classes (or from labels in {-1, +1})."
        )
    raise ValueError(
        f"y contains {len(classes)} classes; a 1-D coefficient array defines a "
        "binary classifier. Pass a fitted multiclass estimator to get one-vs-"
        "rest margins."
    )


def _check_intercept(intercept):
    """``intercept`` as a float; it must be a finite real number."""
    if (
        not isinstance(intercept, numbers.Real)
        or isinstance(intercept, (bool, np.bool_))
        or not np.isfinite(intercept)
    ):
        raise ValueError(
            f"intercept must be None or a finite real number; got {intercept!r}."
        )
    return float(intercept)


def _is_estimator(coef_or_estimator):
    """Whether ``coef_or_estimator`` is a fitted estimator rather than
    coefficients; raises NotFittedError for an estimator not yet fitted."""
    if hasattr(coef_or_estimator, "fit") and not hasattr(coef_or_estimator, "coef_"):
        check_is_fitted(coef_or_estimator, "coef_")  # raises NotFittedError
    return hasattr(coef_or_estimator, "coef_")


def _estimator_rows(estimator, y):
    """The binary problems of a fitted linear classifier.

    Returns ``coef`` of shape (n_rows, n_features), ``intercept`` of shape
    (n_rows,) (zeros without ``intercept_``) and ``signs`` of shape
    (n_rows, n_samples): one row for a binary classifier (``classes_[1]`` is
    +1), one per class for one-vs-rest (class ``k`` is +1 in row ``k``).
    """
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    if coef.ndim == 1:
        coef = coef[np.newaxis, :]
    if coef.ndim != 2:
        raise ValueError(
            f"estimator.coef_ must be 1-D or 2-D; got shape {coef.shape}."
        )
    n_rows = coef.shape[0]
    icpt = np.asarray(getattr(estimator, "intercept_", 0.0), dtype=np.float64)
    icpt = icpt.ravel()
    if icpt.size == 1:
        icpt = np.full(n_rows, icpt[0])
    elif icpt.size != n_rows:
        raise ValueError(
            f"estimator.intercept_ has {icpt.size} entries but coef_ has "
            f"{n_rows} rows."
        )
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        if n_rows != 1:
            raise ValueError(
                "a multiclass estimator must expose classes_ to map y to "
                "one-vs-rest signs."
            )
        signs = _binary_signs(y)[np.newaxis, :]
    else:
        classes = np.asarray(classes)
        if n_rows == 1 and len(classes) == 2:
            signs = _signs_from_classes(y, classes, classes[1])[np.newaxis, :]
        elif n_rows == len(classes) and n_rows > 1:
            _signs_from_classes(y, classes, classes[0])  # label check only
            signs = np.where(y[np.newaxis, :] == classes[:, np.newaxis], 1.0, -1.0)
        else:
            raise ValueError(
                f"estimator.coef_ has {n_rows} rows, which matches neither "
                f"a binary classifier nor one row per class for its "
                f"{len(classes)} classes."
            )
    return coef, icpt, signs


# --------------------------------------------------------------------------
# normalized_margin
# --------------------------------------------------------------------------


def normalized_margin(
    coef_or_estimator, X, y, norm="l2", intercept=None, *, basis="standard"
):
    r"""Normalized margin :math:`\min_i z_i (x_i^\top \beta + b) / \|\beta\|_p`.

    Parameters
    ----------
    coef_or_estimator : array-like of shape (n_features,) or estimator
        Either the coefficient vector :math:`\beta` of a linear classifier,
        or a fitted linear classifier exposing ``coef_`` of shape
        ``(1, n_features)`` (binary) or ``(n_classes, n_features)``
        (multiclass), ``intercept_`` and ``classes_`` (the estimators of this
        package, :class:`~sklearn.svm.LinearSVC`,
        :class:`~sklearn.linear_model.LogisticRegression`, ...). A ``coef_``
        given as a 1-D array is treated as binary. Without ``intercept_`` the
        intercept is 0.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Samples.
    y : array-like of shape (n_samples,)
        Labels. For an estimator they are mapped through its ``classes_``:
        ``classes_[1]`` gives :math:`z = +1` and ``classes_[0]`` gives
        :math:`z = -1`. For a raw array the classes are ``np.unique(y)``; a
        single class is accepted only when written as -1 or +1.
    norm : {"l1", "l2", "linf", "fourier-l1"} or float, default="l2"
        Norm of :math:`\beta` in the denominator. A positive float :math:`p`
        gives :math:`\|\beta\|_p = (\sum_j |\beta_j|^p)^{1/p}`, a quasi-norm
        when :math:`p < 1` (e.g. :math:`p = 2/D` for a depth-:math:`D`
        diagonal network). ``"fourier-l1"`` is the l1 norm of the unitary
        spectrum, :math:`\|U \beta\|_1`, the norm of ``max_margin``'s
        ``"fourier-l1"`` problem (the same as ``norm=1.0, basis="fourier"``).
    intercept : float, default=None
        Intercept :math:`b` used with a raw coefficient array (0 when
        None). Must be None when an estimator is passed (its ``intercept_``
        is used).
    basis : {"standard", "fourier"}, default="standard"
        Where the norm is taken: on :math:`\beta` itself, or on its unitary
        discrete Fourier transform
        :math:`(U \beta)_k = d^{-1/2} \sum_j \beta_j e^{-2 \pi i j k / d}`
        (``numpy.fft.fft(beta, norm="ortho")``), the moduli of all :math:`d`
        frequencies (conjugate pairs both counted). With ``norm=2 / L`` this
        is the quasi-norm :math:`\|U \beta\|_{2/L}` whose max-margin problem
        a depth-:math:`L` linear convolutional network tends to
        (:class:`~sklearn_implicit.ConvolutionalLinearClassifier`, whose
        ``history_`` records the same ratio for ``fit_intercept=False``).
        ``"l2"`` is the same in both bases (:math:`U` is unitary).

    Returns
    -------
    margin : float or ndarray of shape (n_classes,)
        The normalized margin; for a multiclass estimator, the one-vs-rest
        margins (class ``k`` has :math:`z = +1`, every other class
        :math:`z = -1`), computed from row ``k`` of ``coef_`` and
        ``intercept_[k]``.

    Raises
    ------
    ValueError
        If ``norm`` or ``basis`` is not recognized, a coefficient vector is
        zero, shapes are inconsistent or ``y`` holds labels unknown to the
        estimator.

    See Also
    --------
    max_margin : The largest normalized margin over all directions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit.analysis import normalized_margin
    >>> X = np.array([[2.0, 1.0], [-1.0, -1.0]])
    >>> y = np.array([1, 0])
    >>> print(round(normalized_margin([1.0, 0.0], X, y), 4))
    1.0
    >>> print(round(normalized_margin([1.0, 1.0], X, y, norm="l1"), 4))
    1.0
    >>> print(round(normalized_margin([1.0, 1.0], X, y, norm=0.5), 4))
    0.5
    >>> print(round(normalized_margin([1.0, 0.0], X, y, intercept=0.5), 4))
    0.5

    In the Fourier basis (two features: frequencies 0 and 1, both real):

    >>> print(round(normalized_margin([1.0, 0.0], X, y, norm="fourier-l1"), 4))
    0.7071
    >>> print(round(normalized_margin([1.0, 0.0], X, y, norm=0.5, basis="fourier"), 4))
    0.3536
    """
    p, fourier = _check_norm(norm, allow_p=True, basis=basis)
    X = _check_X(X, dense=False)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)

    if _is_estimator(coef_or_estimator):
        if intercept is not None:
            raise ValueError(
                "intercept must be None when an estimator is passed; its "
                "intercept_ is used."
            )
        coef, icpt, signs = _estimator_rows(coef_or_estimator, y)
        multiclass = coef.shape[0] > 1
    else:
        coef = np.asarray(coef_or_estimator, dtype=np.float64)
        if coef.ndim == 2 and coef.shape[0] == 1:
            coef = coef[0]
        if coef.ndim != 1:
            raise ValueError(
                "coef_or_estimator must be a 1-D coefficient array or a fitted "
                f"linear classifier; got an array of shape {coef.shape}."
            )
        coef = coef[np.newaxis, :]
        icpt = np.array([0.0 if intercept is None else _check_intercept(intercept)])
        signs = _binary_signs(y)[np.newaxis, :]
        multiclass = False

    if not np.all(np.isfinite(coef)) or not np.all(np.isfinite(icpt)):
        raise ValueError("The coefficients and intercept must be finite.")
    if coef.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features, but the coefficients have "
            f"{coef.shape[1]}."
        )
    norms = _norm(coef, p, fourier)
    if np.any(norms == 0):
        raise ValueError(
            "The coefficient vector is zero: the normalized margin "
            "z (x . beta + b) / ||beta|| is undefined."
        )
    scores = np.asarray(X @ coef.T).T + icpt[:, np.newaxis]  # (n_rows, n)
    margins = np.min(signs * scores, axis=1) / norms
    if multiclass:
        return margins
    return float(margins[0])
