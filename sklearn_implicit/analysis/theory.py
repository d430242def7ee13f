"""What the theory says gradient flow finds: the implicit bias of diagonal networks.

For a diagonal network ``beta = u**D - v**D`` started at ``u = v = alpha``,
gradient flow is mirror descent with a fixed potential (Woodworth et al.,
2020; Moroshko et al., 2020; see the shared notes): at every time

    beta(t) = argmin Q_alpha(b)  subject to  z_i x_i . b >= m_i(t),

where ``m(t)`` are the margins reached and ``Q_alpha`` the potential whose
gradient is the integrated gradient of the loss. With ``gamma = min_i m_i``
and ``mu = alpha**D / gamma`` the coefficients rescale to
``beta / gamma = argmin Q_mu(b) s.t. Z b >= m / gamma``; replacing
``m / gamma`` by 1 gives the *predicted* max-margin solution

    b*(mu) = argmin Q_mu(b)  subject to  Z b >= 1,

which interpolates between the l2 hard-margin SVM (``mu -> inf``, the kernel
regime) and the l1 max margin (``mu -> 0`` for ``D = 2``, the rich regime).
:func:`q_minimizer` computes ``b*(mu)`` exactly and :func:`predicted_coef`
turns a fitted estimator into the prediction ``gamma * b*(mu)``, directly
comparable with its ``coef_``.

The potential
-------------
Per coordinate, with ``kappa_j = mu_j**(1 - 2/D)``,

    Q_mu(b) = sum_j mu_j**(2/D) q_D(b_j / mu_j),   q_D' = h_D^{-1},

``h_2(z) = 2 sinh(z)`` (so ``q_2(z) = 2 - sqrt(4 + z**2) + z arcsinh(z/2)``)
and ``h_D(z) = (1 - z)**(-D/(D-2)) - (1 + z)**(-D/(D-2))`` on ``(-1, 1)`` for
``D >= 3``. For a scalar ``mu`` this is ``mu**(2/D - 1)`` times the
``Q^D_mu = mu sum_j q_D(b_j / mu)`` of the papers (same minimizer); the
weights ``mu_j**(2/D)`` make ``grad Q`` proportional to the integrated
gradient also when ``alpha`` differs between features.

The solver (:mod:`._mirror`)
----------------------------
The dual of ``min Q_mu(b) s.t. Z b >= c`` is the smooth bound-constrained
problem ``min_{lambda >= 0} Q*(Z^T lambda) - c . lambda``; its primal point
is the mirror map ``b = grad Q*(Z^T lambda)``, ``b_j = mu_j h_D(kappa_j s_j)``
(the diagonal network's ``beta`` as a function of its integrated gradient).
It is solved by L-BFGS-B with analytic gradients and polished by projected
Newton iterations (Bertsekas, 1982) on the exact function until the KKT
conditions hold to ``tol``.

References
----------
E. Moroshko, S. Gunasekar, B. Woodworth, J. D. Lee, N. Srebro, D. Soudry.
"Implicit bias in deep linear classification: initialization scale vs
training accuracy", NeurIPS 2020, arXiv:2007.06738.

B. Woodworth, S. Gunasekar, J. D. Lee, E. Moroshko, P. Savarese, I. Golan,
D. Soudry, N. Srebro. "Kernel and rich regimes in overparametrized models",
COLT 2020, arXiv:2002.09277.

D. P. Bertsekas. "Projected Newton methods for optimization problems with
simple constraints", SIAM J. Control Optim. 20(2), 1982.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from ..utils._design import add_intercept_column
from ..utils._validation import check_alpha, plain
from ._mirror import _check_depth, _check_mu, _solve
from .margins import _binary_signs

__all__ = ["predicted_coef", "q_minimizer"]


def q_minimizer(
    X,
    y,
    mu,
    depth=2,
    *,
    fit_intercept=False,
    intercept_scaling=1.0,
    tol=1e-10,
    max_iter=500,
):
    """The predicted max-margin solution ``b*(mu) = argmin Q_mu(b) s.t. Z b >= 1``.

    This is the direction a diagonal network of depth ``depth`` trained by
    gradient flow on separable data is predicted to follow, when its scale
    relative to the margin reached is ``mu = alpha**depth / gamma`` (Moroshko
    et al., 2020). Large ``mu`` gives the l2 hard-margin SVM (kernel regime),
    small ``mu`` the l1 max margin for ``depth=2`` (rich regime).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Samples (converted to a dense array: this is a reference solver for
        small and medium problems; its cost per iteration is
        ``O(n_samples**2 n_features)``).
    y : array-like of shape (n_samples,)
        Binary labels; ``np.unique(y)[1]`` gives ``z = +1``. A single class
        is accepted when written as -1 or +1.
    mu : float or array-like of shape (n_features,)
        Positive scale of the potential, per feature if an array.
    depth : int, default=2
        Depth ``D >= 2`` of the diagonal network.
    fit_intercept : bool, default=False
        Add a constant column of value ``intercept_scaling`` treated as one
        more diagonal weight (as the estimators do), with the scale
        ``mean(mu**(1/D))**D``, which is ``mean(alpha)**D / gamma`` when
        ``mu = alpha**D / gamma``.
    intercept_scaling : float, default=1.0
        Value of the constant column; ``intercept = intercept_scaling * w``.
    tol : float, default=1e-10
        Accuracy of the KKT conditions: relative infeasibility
        ``max_i (1 - m_i)`` and relative complementarity
        ``max_i lambda_i |m_i - 1| / max_j lambda_j``.
    max_iter : int, default=500
        Maximum number of iterations of each phase of the solver.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With attributes

        - ``coef``: ndarray of shape (n_features,), the minimizer ``b*``;
        - ``intercept``: float (0.0 without ``fit_intercept``);
        - ``dual_coef``: ndarray of shape (n_samples,), the multipliers
          ``lambda >= 0`` with ``grad Q_mu(b*) = Z^T lambda`` (intercept
          weight included), zero off the support;
        - ``support``: indices of the samples with ``lambda_i > 0``;
        - ``kkt_error``: the KKT accuracy reached (at most ``tol`` unless a
          ConvergenceWarning was issued);
        - ``n_iter``: the number of solver iterations.

    Raises
    ------
    ValueError
        If the data are not linearly separable by ``Z b >= 1`` (through the
        origin without intercept), or a parameter is invalid.

    Notes
    -----
    Small ``mu`` is reached by continuation from ``mu = 1e-2`` (data scaled
    to ``max |z_ij| = 1``) in factors of 100. For ``depth=2`` the solver
    reached ``tol=1e-10`` on every tested problem (``mu`` from 1e-30 to
    1e9, up to 200 samples in 5 features). For ``depth >= 3`` with many
    more samples than features and small ``mu`` (below about 1e-2) it may
    stop short of ``tol`` with a ConvergenceWarning: the mirror map has a
    pole there and the multipliers are not unique. Its relative accuracy is
    also limited to about ``1e-16 (b / mu)**(1 - 2/D)``.

    See Also
    --------
    predicted_coef : The prediction for a fitted estimator.
    sklearn_implicit.analysis.separators.max_margin : The l1 and l2 limits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit.analysis import q_minimizer
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    >>> y = np.array([1, 1, 0])
    >>> res = q_minimizer(X, y, mu=1e-3)
    >>> print(np.round(res.coef, 6), res.support)
    [1. 1.] [0 1]
    >>> kernel = q_minimizer(X, y, mu=1e6).coef
    >>> print(np.round(kernel / np.linalg.norm(kernel), 4))
    [0.7071 0.7071]
    """
    depth = _check_depth(depth)
    X = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64)
    if sp.issparse(X):
        X = X.toarray()
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    z = _binary_signs(y)
    n_features = X.shape[1]
    mu = _check_mu(mu, n_features)
    if fit_intercept:
        mu = np.append(mu, np.mean(mu ** (1.0 / depth)) ** depth)
        X = add_intercept_column(X, intercept_scaling)
    Z = z[:, None] * X
    b, lam, err, n_iter = _solve(Z, np.ones(X.shape[0]), mu, depth, tol, max_iter)
    lam = np.where(lam > 0, lam, 0.0)
    intercept = intercept_scaling * float(b[n_features]) if fit_intercept else 0.0
    return Bunch(
        coef=b[:n_features],
        intercept=intercept,
        dual_coef=lam,
        support=np.flatnonzero(lam > 0),
        kkt_error=err,
        n_iter=n_iter,
    )


def predicted_coef(estimator, X, y, sample_weight=None, *, return_intercept=False):
    """What the theory says the flow found, scaled like the estimator's ``coef_``.

    For each binary (one-vs-rest) problem of a fitted diagonal-network
    classifier, with ``gamma`` the smallest margin the flow reached
    (``history_[k]['min_margin'][-1]``) and ``mu = alpha**depth / gamma``,
    returns ``gamma * b*(mu)`` (see :func:`q_minimizer`). The estimator's
    ``alpha`` (scalar or per feature), ``depth``, ``fit_intercept`` and
    ``intercept_scaling`` are used; the intercept is one more diagonal
    weight, as in the estimator. The prediction is close to ``coef_`` when
    every support point reaches about the same margin, and approaches it at
    rate ``1 / gamma`` for ``mu`` not too small; at small ``mu`` points that
    were support points early keep their accumulated weight (a memory
    effect), see ``examples/plot_memory_effect.py``.

    Parameters
    ----------
    estimator : fitted DiagonalLinearClassifier
        The estimator (any fitted classifier with the same attributes).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data the estimator was fitted on.
    y : array-like of shape (n_samples,)
        The training labels.
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights of the fit; only which weights are zero matters
        (those samples are left out, as in ``fit``).
    return_intercept : bool, default=False
        Also return the predicted intercepts.

    Returns
    -------
    coef : ndarray of shape (n_problems, n_features)
        The predicted coefficients, shaped like ``estimator.coef_``.
    intercept : ndarray of shape (n_problems,)
        The predicted intercepts, shaped like ``estimator.intercept_``; only
        when ``return_intercept=True``.

    Raises
    ------
    ValueError
        If the flow has not separated the data (``gamma <= 0``): fit with a
        smaller ``target_loss``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit import DiagonalLinearClassifier
    >>> from sklearn_implicit.analysis import predicted_coef
    >>> X = np.array([[2.0, 1.0], [1.0, -1.0], [-2.0, 0.5], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 0, 0])
    >>> clf = DiagonalLinearClassifier(alpha=3.0, target_loss=1e-30,
    ...                                fit_intercept=False).fit(X, y)
    >>> pred = predicted_coef(clf, X, y)
    >>> bool(np.linalg.norm(pred - clf.coef_) < 0.05 * np.linalg.norm(clf.coef_))
    True
    """
    check_is_fitted(estimator, ["coef_", "history_"])
    for name in ("alpha", "depth", "fit_intercept", "intercept_scaling"):
        if not hasattr(estimator, name):
            raise TypeError(
                "predicted_coef needs a fitted diagonal-network classifier "
                f"(e.g. DiagonalLinearClassifier); {type(estimator).__name__} has "
                f"no attribute {name!r}."
            )
    X = check_array(X, accept_sparse=["csr", "csc", "coo"], dtype=np.float64)
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    if X.shape[1] != estimator.coef_.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features, but the estimator was fitted with "
            f"{estimator.coef_.shape[1]} features."
        )
    if sample_weight is not None:
        keep = _check_sample_weight(sample_weight, X, ensure_non_negative=True) > 0
        X, y = X[keep], y[keep]
    classes = estimator.classes_
    positives = classes[1:] if len(classes) == 2 else classes
    depth = estimator.depth
    alpha = check_alpha(estimator.alpha, X.shape[1])
    coefs, intercepts = [], []
    for k, positive in enumerate(positives):
        gamma = float(estimator.history_[k]["min_margin"][-1])
        if not gamma > 0:
            which = "" if len(positives) == 1 else f" (class {plain(positive)!r} vs rest)"
            raise ValueError(
                f"The estimator's flow{which} has not separated the training data "
                f"(smallest margin {gamma:.4g} <= 0), so the max-margin prediction "
                "does not apply; fit with a smaller target_loss."
            )
        res = q_minimizer(
            X,
            np.where(y == positive, 1, -1),
            alpha**depth / gamma,
            depth,
            fit_intercept=estimator.fit_intercept,
            intercept_scaling=estimator.intercept_scaling,
        )
        coefs.append(gamma * res.coef)
        intercepts.append(gamma * res.intercept)
    coef = np.array(coefs)
    if return_intercept:
        return coef, np.array(intercepts)
    return coef
