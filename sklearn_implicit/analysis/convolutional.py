r"""The max-margin problems of linear convolutional networks, in the Fourier domain.

On separable data the direction of a depth-:math:`L` linear convolutional
network trained by gradient flow tends to a stationary point of

.. math::

    \min_\beta \; \|U \beta\|_{2/L}
    \quad \text{subject to} \quad z_i^\top \beta \ge 1,

with :math:`U` the unitary discrete Fourier transform and the quasi-norm
taken over the moduli of all :math:`d` frequencies (Gunasekar et al., 2018).
For :math:`L = 2` the problem is convex and
:func:`~sklearn_implicit.max_margin` with ``norm="fourier-l1"`` solves it;
for :math:`L \ge 3` it is not, there is no global optimum to compare with,
and :func:`fourier_kkt_residual` measures instead how far a direction is
from satisfying its first-order (KKT) conditions.

With ``fit_intercept=True`` the network trains its intercept weight
:math:`w` (``intercept_ = intercept_scaling * w``) as a product of one scalar
factor per layer, like one more real frequency, so the problem becomes

.. math::

    \min_{\beta, w} \; \sum_k |(U \beta)_k|^{2/L} + |w|^{2/L}
    \quad \text{subject to} \quad z_i (x_i^\top \beta + s w) \ge 1,

with :math:`s` the ``intercept_scaling``: the intercept is penalized, unlike
the free intercept of :func:`~sklearn_implicit.max_margin` and
:func:`~sklearn_implicit.normalized_margin`.

References
----------
S. Gunasekar, J. D. Lee, D. Soudry, N. Srebro. "Implicit bias of gradient
descent on linear convolutional networks", NeurIPS 2018, arXiv:1806.00468.

K. Lyu, J. Li. "Gradient descent maximizes the margin of homogeneous neural
networks", ICLR 2020, arXiv:1906.05890 (approximate KKT points).
"""

import numbers

import numpy as np
from scipy.optimize import nnls
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..utils._validation import plain
from ._fourier import frequency_counts, half_spectrum
from .margins import (
    _binary_signs,
    _check_intercept,
    _check_X,
    _estimator_rows,
    _is_estimator,
)

__all__ = ["fourier_kkt_residual"]


def fourier_kkt_residual(
    coef_or_estimator, X, y, depth=None, *, intercept=None, intercept_scaling=None
):
    r"""Distance of a direction from the KKT conditions of the Fourier max-margin problem.

    Without intercept the problem is :math:`\min_b \|U b\|_p^p` subject to
    :math:`z_i^\top b \ge 1`, with :math:`p = 2 / L` for ``depth``
    :math:`L` (the moduli of all :math:`d` frequencies of the unitary
    transform :math:`(U b)_k = d^{-1/2} \sum_j b_j e^{-2 \pi i j k / d}`).
    Write :math:`\hat b = U b`. A feasible :math:`b` is a KKT point when
    some :math:`\lambda \ge 0` has :math:`\lambda_i (z_i^\top b - 1) = 0`
    and, at every frequency,

    .. math::

        p \, \hat b_k = |\hat b_k|^{2 - p} \, (U Z^\top \lambda)_k,

    the stationarity condition
    :math:`p |\hat b_k|^{p-2} \hat b_k = (U Z^\top \lambda)_k` multiplied by
    :math:`|\hat b_k|^{2-p}`, so that it also holds, trivially, at the
    frequencies where :math:`\hat b_k = 0` (the quasi-norm has no finite
    gradient there; this is the fixed point of the flow, whose tangent
    kernel on a balanced network is :math:`L |\hat\beta_k|^{2-p}` per
    frequency). For a direction :math:`\beta` with a positive smallest margin
    :math:`\gamma`, the residual is computed at :math:`b = \beta / \gamma`
    (feasible, with an active constraint) as

    .. math::

        r(\beta) = \min_{\lambda \ge 0} \left(
        \frac{\|p \hat b - |\hat b|^{2-p} \odot U Z^\top \lambda\|_2^2}
             {\|p \hat b\|_2^2}
        + \frac{\left(\sum_i \lambda_i (z_i^\top b - 1)\right)^2}
               {\left(p \|\hat b\|_p^p\right)^2} \right)^{1/2},

    a nonnegative least-squares problem in :math:`\lambda`. The first term is
    the relative stationarity error, the second the complementary
    slackness relative to :math:`p \|\hat b\|_p^p`, which equals
    :math:`\sum_i \lambda_i z_i^\top b` at a KKT point (Euler's identity for
    the homogeneous quasi-norm). :math:`r = 0` exactly at the KKT points;
    :math:`r` does not change when :math:`\beta` or :math:`X` is multiplied
    by a positive number.

    With an ``intercept`` :math:`c` and ``intercept_scaling`` :math:`s`, the
    problem is that of
    :class:`~sklearn_implicit.ConvolutionalLinearClassifier` with
    ``fit_intercept=True``, which appends a constant input :math:`s` and
    trains its weight :math:`w = c / s` as a product of one scalar factor per
    layer, one more real frequency:

    .. math::

        \min_{\beta, w} \; \sum_k |(U \beta)_k|^p + |w|^p
        \quad \text{subject to} \quad z_i (x_i^\top \beta + s w) \ge 1,

    the intercept penalized through :math:`|c / s|^p` (unlike the free
    intercept of :func:`~sklearn_implicit.max_margin` and
    :func:`~sklearn_implicit.normalized_margin`). The residual is the one
    above for the vector :math:`(\hat b, w)` of :math:`d + 1` moduli, with
    :math:`\gamma = \min_i z_i (x_i^\top \beta + c)`,
    :math:`(b, w) = (\beta, c / s) / \gamma`, the columns
    :math:`(U z_i x_i, s z_i)` in place of :math:`U z_i x_i`, and
    :math:`\|\hat b\|_p^p + |w|^p` in place of :math:`\|\hat b\|_p^p`: the
    stationarity condition of the intercept is
    :math:`p w = |w|^{2-p} s \sum_i \lambda_i z_i`. It is unchanged when
    ``(coef, intercept)`` is multiplied by a positive number, or ``X``,
    ``intercept`` and ``intercept_scaling`` together.

    Parameters
    ----------
    coef_or_estimator : array-like of shape (n_features,) or estimator
        The direction :math:`\beta`, or a fitted linear classifier exposing
        ``coef_``, ``intercept_`` and ``classes_`` (such as
        :class:`~sklearn_implicit.ConvolutionalLinearClassifier`), whose
        ``depth``, ``intercept_`` and ``intercept_scaling`` are then used
        (its intercept only when it has no ``fit_intercept`` or has
        ``fit_intercept=True``).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Samples.
    y : array-like of shape (n_samples,)
        Labels. For a raw array: binary, ``np.unique(y)[1]`` gives
        :math:`z = +1` (a single class is accepted when written as -1 or
        +1). For an estimator they are mapped through its ``classes_``, as
        in :func:`~sklearn_implicit.normalized_margin` (one-vs-rest for
        more than two classes).
    depth : int, default=None
        Depth :math:`L \ge 2` of the network (:math:`p = 2 / L`); required
        unless the estimator has a ``depth``, which it must then equal. For
        :math:`L = 2` the conditions above are necessary but not sufficient
        (the convex problem also needs :math:`|(U Z^\top \lambda)_k| \le 1`
        where :math:`\hat b_k = 0`, and :math:`|s \sum_i \lambda_i z_i| \le 1`
        where :math:`w = 0`): use :func:`~sklearn_implicit.max_margin`'s
        certificate there (it has no penalized intercept).
    intercept : float, default=None
        The fitted intercept :math:`c` (``intercept_[0]`` of a binary
        classifier fitted with ``fit_intercept=True``); None: no intercept,
        the problem without it (the papers' model). Must be None when an
        estimator is passed.
    intercept_scaling : float, default=None
        The value :math:`s > 0` of the constant input the intercept was
        trained with (the estimator's ``intercept_scaling``); None: 1.0, or
        the estimator's. Used only with an intercept.

    Returns
    -------
    residual : float or ndarray of shape (n_classes,)
        :math:`r(\beta) \ge 0`; at most 1 (take :math:`\lambda = 0`). For a
        multiclass estimator, the residual of each one-vs-rest problem.

    Raises
    ------
    ValueError
        If ``depth`` is not an integer of at least 2 (or differs from the
        estimator's), the shapes do not match, ``coef`` or ``intercept`` is
        not finite, ``intercept_scaling`` is not a positive finite number,
        or ``coef`` (with the intercept) does not separate the data (its
        smallest margin is not positive).

    See Also
    --------
    max_margin : The exact answer for ``depth=2`` without intercept
        (``norm="fourier-l1"``).
    normalized_margin : With ``basis="fourier"``, the normalized margin in
        the same quasi-norm (its intercept is free, not in the norm).

    Examples
    --------
    One sample made of two tones. A single tone (with its conjugate
    partner) is a KKT point; the l2 direction, the sample itself, is not.

    >>> import numpy as np
    >>> from sklearn_implicit.analysis import fourier_kkt_residual
    >>> j = np.arange(8)
    >>> x = np.cos(np.pi * j / 4) + 2 * np.cos(np.pi * j / 2)
    >>> X, y = np.array([x]), np.array([1])
    >>> print(round(fourier_kkt_residual(np.cos(np.pi * j / 2), X, y, depth=3), 12))
    0.0
    >>> print(round(fourier_kkt_residual(x, X, y, depth=3), 4))
    0.2646

    The intercept alone is one more KKT point (its own "frequency"):

    >>> print(fourier_kkt_residual(np.zeros(8), X, y, depth=3, intercept=1.0))
    0.0
    """
    estimator = _is_estimator(coef_or_estimator)
    if estimator:
        if intercept is not None or intercept_scaling is not None:
            raise ValueError(
                "intercept and intercept_scaling must be None when an estimator "
                "is passed; its intercept_ and intercept_scaling are used."
            )
        own_depth = getattr(coef_or_estimator, "depth", None)
        if depth is None:
            depth = own_depth
        elif own_depth is not None and depth != own_depth:
            raise ValueError(
                f"depth={plain(depth)!r} differs from the estimator's depth "
                f"{plain(own_depth)!r}."
            )
        intercept_scaling = getattr(coef_or_estimator, "intercept_scaling", None)
    if (
        not isinstance(depth, numbers.Integral)
        or isinstance(depth, (bool, np.bool_))
        or depth < 2
    ):
        raise ValueError(f"depth must be an integer >= 2; got {plain(depth)!r}.")
    if intercept_scaling is None:
        intercept_scaling = 1.0
    if (
        not isinstance(intercept_scaling, numbers.Real)
        or isinstance(intercept_scaling, (bool, np.bool_))
        or not 0 < intercept_scaling < np.inf
    ):
        raise ValueError(
            "intercept_scaling must be a positive finite real number; got "
            f"{plain(intercept_scaling)!r}."
        )
    X = _check_X(X, dense=True)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    if estimator:
        coefs, intercepts, signs = _estimator_rows(coef_or_estimator, y)
        if coefs.shape[1] != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features, but the coefficients have "
                f"{coefs.shape[1]}."
            )
        if not np.all(np.isfinite(coefs)) or not np.all(np.isfinite(intercepts)):
            raise ValueError("The coefficients and intercept must be finite.")
        # an estimator that fits no intercept is the problem without one
        fitted = getattr(coef_or_estimator, "fit_intercept", True) is not False
        residuals = [
            _residual(c, X, z, depth, float(b) if fitted else None, intercept_scaling)
            for c, b, z in zip(coefs, intercepts, signs)
        ]
        return float(residuals[0]) if len(residuals) == 1 else np.array(residuals)
    coef = np.asarray(coef_or_estimator, dtype=np.float64)
    if coef.ndim != 1 or coef.shape[0] != X.shape[1]:
        raise ValueError(
            f"coef must be a 1-D array of {X.shape[1]} coefficients (one per "
            f"feature of X); got an array of shape {coef.shape}."
        )
    if not np.all(np.isfinite(coef)):
        raise ValueError("coef must be finite.")
    if intercept is not None:
        intercept = _check_intercept(intercept)
    return _residual(coef, X, _binary_signs(y), depth, intercept, intercept_scaling)


def _residual(coef, X, signs, depth, intercept, intercept_scaling):
    """:func:`fourier_kkt_residual` of one binary problem, inputs checked."""
    Z = signs[:, np.newaxis] * X
    margins = Z @ coef
    if intercept is not None:
        margins = margins + intercept * signs
    gamma = margins.min()
    if not gamma > 0:
        through = "through the origin" if intercept is None else "with the intercept"
        raise ValueError(
            f"coef does not separate the data {through} (its smallest "
            f"margin is {plain(gamma)}); the KKT residual is defined for "
            "directions with a positive margin."
        )
    p = 2.0 / depth
    margins = margins / gamma
    b_hat = half_spectrum(coef / gamma)
    counts = frequency_counts(X.shape[1])
    moduli = np.abs(b_hat)
    # Rows are weighted by sqrt(counts): each half-spectrum entry stands for
    # its conjugate partner too, so the sums are over all d frequencies.
    weight = np.sqrt(counts)
    target = weight * p * b_hat
    columns = (weight * moduli ** (2.0 - p))[:, np.newaxis] * half_spectrum(Z).T
    stationarity = np.linalg.norm(target)
    slackness = p * np.dot(counts, moduli**p)
    rows = [columns.real, columns.imag]
    rhs = [target.real, target.imag]
    if intercept is not None:
        # The network's intercept weight is c / s, a real channel of its own
        # whose input is the constant s: one more real frequency.
        w = intercept / intercept_scaling / gamma
        stationarity = np.hypot(stationarity, p * w)
        slackness += p * abs(w) ** p
        rows.append((abs(w) ** (2.0 - p) * intercept_scaling * signs)[np.newaxis, :])
        rhs.append([p * w])
    M = np.vstack([
        *(r / stationarity for r in rows),
        (margins - 1.0)[np.newaxis, :] / slackness,
    ])
    rhs = np.concatenate([*rhs, [0.0]]) / stationarity
    return float(nnls(M, rhs, maxiter=max(100, 10 * M.shape[1]))[1])
