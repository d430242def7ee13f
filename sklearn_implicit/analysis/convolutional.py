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
from .margins import _binary_signs, _check_X

__all__ = ["fourier_kkt_residual"]


def fourier_kkt_residual(coef, X, y, depth):
    r"""Distance of a direction from the KKT conditions of the Fourier max-margin problem.

    The problem is :math:`\min_b \|U b\|_p^p` subject to
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

    Parameters
    ----------
    coef : array-like of shape (n_features,)
        The direction :math:`\beta` (for instance ``coef_[0]`` of a binary
        :class:`~sklearn_implicit.ConvolutionalLinearClassifier` fitted with
        ``fit_intercept=False``, the papers' model).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Samples.
    y : array-like of shape (n_samples,)
        Binary labels; ``np.unique(y)[1]`` gives :math:`z = +1` (a single
        class is accepted when written as -1 or +1).
    depth : int
        Depth :math:`L \ge 2` of the network (:math:`p = 2 / L`). For
        :math:`L = 2` the conditions above are necessary but not sufficient
        (the convex problem also needs :math:`|(U Z^\top \lambda)_k| \le 1`
        where :math:`\hat b_k = 0`): use
        :func:`~sklearn_implicit.max_margin`'s certificate there.

    Returns
    -------
    residual : float
        :math:`r(\beta) \ge 0`; at most 1 (take :math:`\lambda = 0`).

    Raises
    ------
    ValueError
        If ``depth`` is not an integer of at least 2, the shapes do not
        match, or ``coef`` does not separate the data through the origin
        (its smallest margin is not positive).

    See Also
    --------
    max_margin : The exact answer for ``depth=2`` (``norm="fourier-l1"``).
    normalized_margin : With ``basis="fourier"``, the normalized margin in
        the same quasi-norm.

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
    """
    if (
        not isinstance(depth, numbers.Integral)
        or isinstance(depth, (bool, np.bool_))
        or depth < 2
    ):
        raise ValueError(f"depth must be an integer >= 2; got {plain(depth)!r}.")
    X = _check_X(X, dense=True)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim != 1 or coef.shape[0] != X.shape[1]:
        raise ValueError(
            f"coef must be a 1-D array of {X.shape[1]} coefficients (one per "
            f"feature of X); got an array of shape {coef.shape}."
        )
    if not np.all(np.isfinite(coef)):
        raise ValueError("coef must be finite.")
    Z = _binary_signs(y)[:, np.newaxis] * X
    margins = Z @ coef
    gamma = margins.min()
    if not gamma > 0:
        raise ValueError(
            "coef does not separate the data through the origin (its smallest "
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
    M = np.vstack([
        columns.real / stationarity,
        columns.imag / stationarity,
        (margins - 1.0)[np.newaxis, :] / slackness,
    ])
    rhs = np.concatenate([target.real, target.imag, [0.0]]) / stationarity
    return float(nnls(M, rhs, maxiter=max(100, 10 * M.shape[1]))[1])
