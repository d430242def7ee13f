r"""What the theory says gradient flow finds: the implicit bias of diagonal networks.

For a diagonal network :math:`\beta = u^D - v^D` started at
:math:`u = v = \alpha`, gradient flow is mirror descent with a fixed
potential (Woodworth et al., 2020; Moroshko et al., 2020): at every time

.. math::

    \beta(t) = \operatorname*{argmin}_b \; Q_\alpha(b)
    \quad \text{subject to} \quad z_i^\top b \ge m_i(t),

where :math:`m(t)` are the margins reached and :math:`Q_\alpha` the
potential whose gradient is the integrated gradient of the loss. With
:math:`\gamma = \min_i m_i` and :math:`\mu = \alpha^D / \gamma` the
coefficients rescale to :math:`\beta / \gamma = \operatorname{argmin}
Q_\mu(b)` subject to :math:`Z b \ge m / \gamma`; replacing
:math:`m / \gamma` by 1 gives the *predicted* max-margin solution

.. math::

    b^*(\mu) = \operatorname*{argmin}_b \; Q_\mu(b)
    \quad \text{subject to} \quad Z b \ge 1,

which interpolates between the :math:`\ell_2` hard-margin SVM
(:math:`\mu \to \infty`, the kernel regime) and the :math:`\ell_1` max
margin (:math:`\mu \to 0` for :math:`D = 2`, the rich regime).
:func:`q_minimizer` computes :math:`b^*(\mu)` exactly and
:func:`predicted_coef` turns a fitted estimator into the prediction
:math:`\gamma\, b^*(\mu)`, directly comparable with its ``coef_``.

The potential
-------------
Per coordinate, with :math:`\kappa_j = \mu_j^{1 - 2/D}`,

.. math::

    Q_\mu(b) = \sum_j \mu_j^{2/D} q_D(b_j / \mu_j), \qquad q_D' = h_D^{-1},

:math:`h_2(z) = 2 \sinh(z)` (so
:math:`q_2(z) = 2 - \sqrt{4 + z^2} + z \operatorname{arcsinh}(z/2)`) and
:math:`h_D(z) = (1 - z)^{-D/(D-2)} - (1 + z)^{-D/(D-2)}` on :math:`(-1, 1)`
for :math:`D \ge 3`. For a scalar :math:`\mu` this is
:math:`\mu^{2/D - 1}` times the :math:`Q^D_\mu = \mu \sum_j q_D(b_j / \mu)`
of the papers (same minimizer); the weights :math:`\mu_j^{2/D}` make
:math:`\nabla Q` proportional to the integrated gradient also when
:math:`\alpha` differs between features.

The solver (:mod:`._mirror`)
----------------------------
The dual of :math:`\min Q_\mu(b)` subject to :math:`Z b \ge c` is the smooth
bound-constrained problem
:math:`\min_{\lambda \ge 0} Q^*(Z^\top \lambda) - c^\top \lambda`; its primal
point is the mirror map :math:`b = \nabla Q^*(Z^\top \lambda)`,
:math:`b_j = \mu_j h_D(\kappa_j s_j)` with :math:`s = Z^\top \lambda` (the
diagonal network's :math:`\beta` as a function of its integrated gradient).
It is solved by a primal-dual interior-point method (with the barrier
update of Waechter and Biegler, 2006), which identifies the support, and
finished by Newton's method on the support until the KKT conditions hold to
``tol``; the products :math:`Z^\top \lambda` and :math:`Z b` are computed
in twice the working precision (Ogita, Rump and Oishi, 2005).

References
----------
E. Moroshko, S. Gunasekar, B. Woodworth, J. D. Lee, N. Srebro, D. Soudry.
"Implicit bias in deep linear classification: initialization scale vs
training accuracy", NeurIPS 2020, arXiv:2007.06738.

B. Woodworth, S. Gunasekar, J. D. Lee, E. Moroshko, P. Savarese, I. Golan,
D. Soudry, N. Srebro. "Kernel and rich regimes in overparametrized models",
COLT 2020, arXiv:2002.09277.

A. Waechter, L. T. Biegler. "On the implementation of an interior-point
filter line-search algorithm for large-scale nonlinear programming", Math.
Program. 106(1), 2006.

T. Ogita, S. M. Rump, S. Oishi. "Accurate sum and dot product", SIAM J. Sci.
Comput. 26(6), 2005.
"""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_regressor
from sklearn.exceptions import ConvergenceWarning
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
from .interpolation import min_potential_interpolant
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
    max_iter=1000,
):
    r"""The predicted max-margin solution :math:`b^*(\mu)` of the theory.

    .. math::

        b^*(\mu) = \operatorname*{argmin}_b \; Q_\mu(b)
        \quad \text{subject to} \quad Z b \ge 1

    (:mod:`sklearn_implicit.analysis.theory` defines the potential
    :math:`Q_\mu`). This is the
    direction a diagonal network of depth :math:`D` = ``depth``
    trained by gradient flow on separable data is predicted to follow, when
    its scale relative to the margin :math:`\gamma` reached is
    :math:`\mu = \alpha^D / \gamma` (Moroshko et al., 2020). Large
    :math:`\mu` gives the :math:`\ell_2` hard-margin SVM (kernel regime),
    small :math:`\mu` the :math:`\ell_1` max margin for ``depth=2`` (rich
    regime).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Samples (converted to a dense array: this is a reference solver for
        small and medium problems; its cost per iteration is
        :math:`O(n^2 d)` for :math:`n` samples and :math:`d` features).
    y : array-like of shape (n_samples,)
        Binary labels; ``np.unique(y)[1]`` gives :math:`z = +1`. A single
        class is accepted when written as -1 or +1.
    mu : float or array-like of shape (n_features,)
        Positive scale of the potential, per feature if an array.
    depth : int, default=2
        Depth :math:`D \ge 2` of the diagonal network.
    fit_intercept : bool, default=False
        Add a constant column of value ``intercept_scaling`` treated as one
        more diagonal weight (as the estimators do), with the scale
        :math:`\operatorname{mean}(\mu^{1/D})^D`, which is
        :math:`\operatorname{mean}(\alpha)^D / \gamma` when
        :math:`\mu = \alpha^D / \gamma`.
    intercept_scaling : float, default=1.0
        Value of the constant column; ``intercept = intercept_scaling * w``.
    tol : float, default=1e-10
        Accuracy of the KKT conditions: relative infeasibility
        :math:`\max_i (1 - m_i)` and relative complementarity
        :math:`\max_i \lambda_i |m_i - 1| / \max_j \lambda_j`.
    max_iter : int, default=1000
        Maximum number of solver iterations (interior-point and Newton steps
        together; the tested problems needed 15 to 100, up to 250 at extreme
        :math:`\mu`).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With attributes

        - ``coef``: ndarray of shape (n_features,), the minimizer
          :math:`b^*`;
        - ``intercept``: float (0.0 without ``fit_intercept``);
        - ``dual_coef``: ndarray of shape (n_samples,), the multipliers
          :math:`\lambda \ge 0` with
          :math:`\nabla Q_\mu(b^*) = Z^\top \lambda` (intercept weight
          included), zero off the support;
        - ``support``: indices of the samples with :math:`\lambda_i > 0`;
        - ``kkt_error``: the KKT accuracy reached (at most ``tol`` unless a
          ConvergenceWarning was issued);
        - ``n_iter``: the number of solver iterations.

    Raises
    ------
    ValueError
        If the data are not linearly separable by :math:`Z b \ge 1` (through the
        origin without intercept), or a parameter is invalid.

    Notes
    -----
    The solver needs neither unique multipliers (more points than features
    on the support) nor their scale, which grows like the inverse margin on
    nearly degenerate data. It reached ``tol=1e-10`` on every tested
    problem: breast_cancer, iris, digits and random data with ``depth`` 2
    and 3 and :math:`\mu` from :math:`10^{-3}` to :math:`10^2` (up to 569
    samples in 31 features, and 100 in 1000), and small random problems
    with ``depth=2`` and :math:`\mu` from :math:`10^{-300}` to
    :math:`10^{15}`, ``depth=3`` from :math:`10^{-10}` to :math:`10^{12}`.
    The result does not depend on the process or the number of BLAS
    threads. Its relative accuracy is limited to about
    :math:`10^{-16} (b / \mu)^{1 - 2/D}`: with ``depth >= 3`` and tiny
    :math:`\mu` it may stop short of ``tol`` with a ConvergenceWarning.

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
    result = _q_minimizer(
        X, y, mu, depth, fit_intercept, intercept_scaling, tol, max_iter
    )
    _warn_if_not_converged(result, tol, max_iter, "q_minimizer")
    return result


def _q_minimizer(X, y, mu, depth, fit_intercept, intercept_scaling, tol, max_iter):
    """:func:`q_minimizer` without the warning."""
    depth = _check_depth(depth)
    if (
        isinstance(tol, (bool, np.bool_))
        or not isinstance(tol, numbers.Real)
        or not 0 < tol < np.inf
    ):
        raise ValueError(f"tol must be a positive float; got {plain(tol)!r}.")
    if (
        isinstance(max_iter, (bool, np.bool_))
        or not isinstance(max_iter, numbers.Integral)
        or max_iter < 1
    ):
        raise ValueError(
            f"max_iter must be a positive integer; got {plain(max_iter)!r}."
        )
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


def _warn_if_not_converged(result, tol, max_iter, caller, problem=""):
    """Say what the result is when the solver stopped above ``tol``: close
    (a KKT error up to 1e-4) or not a solution at all."""
    err, n_iter = result.kkt_error, result.n_iter
    if err <= tol:
        return
    if n_iter >= max_iter:
        stop = f"the solver used all max_iter={max_iter} iterations"
    else:
        stop = (
            f"the solver stalled after {n_iter} of max_iter={max_iter} iterations, "
            "so a larger max_iter will not help"
        )
    if err <= 1e-4:
        message = (
            f"{caller}{problem}: the result is approximate (KKT error {err:.3g} > "
            f"tol={tol:g}): {stop}. "
            + (
                "Increase max_iter, or raise tol to accept this accuracy (both are "
                if n_iter >= max_iter
                else "Raise tol to accept this accuracy (tol and max_iter are "
            )
            + f"parameters of {caller})."
        )
    else:
        message = (
            f"{caller}{problem} did not converge: the result is NOT a solution of "
            f"the problem (KKT error {err:.3g} > tol={tol:g}): {stop}. "
            + (
                f"Increase max_iter (a parameter of {caller}, like tol)."
                if n_iter >= max_iter
                else "This is a failure of the solver on these data; please report it."
            )
        )
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


def predicted_coef(
    estimator,
    X,
    y,
    sample_weight=None,
    *,
    return_intercept=False,
    tol=1e-10,
    max_iter=1000,
):
    r"""What the theory says the training found, scaled like the estimator's ``coef_``.

    For each binary (one-vs-rest) problem of a fitted diagonal-network
    classifier trained by the flow, with :math:`\gamma` the smallest margin the flow reached
    (``history_[k]['min_margin'][-1]``) and :math:`\mu = \alpha^D / \gamma`,
    returns :math:`\gamma\, b^*(\mu)` (see :func:`q_minimizer`). The
    estimator's
    ``alpha`` (scalar or per feature), ``depth``, ``fit_intercept`` and
    ``intercept_scaling`` are used; the intercept is one more diagonal
    weight, as in the estimator. The prediction is close to ``coef_`` when
    every support point reaches about the same margin, and approaches it at
    rate :math:`1 / \gamma` for :math:`\mu` not too small; at small
    :math:`\mu` points that
    were support points early keep their accumulated weight (a memory
    effect), see ``examples/plot_memory_effect.py``.

    For a fitted :class:`~sklearn_implicit.DiagonalLinearRegressor`, returns
    the minimum-potential interpolant at the estimator's
    ``effective_alpha_`` (see
    :func:`~sklearn_implicit.analysis.min_potential_interpolant`): the
    limit of the flow (``effective_alpha_`` is then ``alpha``), and of
    gradient descent and SGD at ``depth=2`` up to a term of third order in
    the step, where ``effective_alpha_`` is the initialization the finite
    steps and their noise leave in effect (Even et al., NeurIPS 2023).

    Parameters
    ----------
    estimator : fitted DiagonalLinearClassifier or DiagonalLinearRegressor
        The estimator (any fitted classifier with the same attributes).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The training data the estimator was fitted on.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        The training labels (targets for a regressor).
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights of the fit; for a classifier only which weights
        are zero matters (those samples are left out, as in ``fit``).
    return_intercept : bool, default=False
        Also return the predicted intercepts.
    tol : float, default=1e-10
        Accuracy of the KKT conditions of each :func:`q_minimizer` problem.
    max_iter : int, default=1000
        Maximum number of solver iterations per binary problem (see
        :func:`q_minimizer`).

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
        If the flow has not separated the data (:math:`\gamma \le 0`): fit with a
        smaller ``target_loss``. If a classifier was trained by discrete
        dynamics, or a regressor by dynamics with no effective
        initialization (``effective_alpha_`` is None).

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
    if is_regressor(estimator):
        return _predicted_interpolant(estimator, X, y, sample_weight, return_intercept,
                                      tol, max_iter)
    if getattr(estimator, "dynamics", "flow") != "flow":
        raise ValueError(
            f"predicted_coef predicts the max-margin point of the exact flow; the "
            f"classifier was trained with dynamics={estimator.dynamics!r}, whose "
            "finite steps move that point. Fit with dynamics='flow' to compare."
        )
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
        mu = alpha**depth / gamma
        res = _q_minimizer(
            X,
            np.where(y == positive, 1, -1),
            mu,
            depth,
            estimator.fit_intercept,
            estimator.intercept_scaling,
            tol,
            max_iter,
        )
        mu_text = f"mu={mu[0]:.4g}" if np.all(mu == mu[0]) else "per-feature mu"
        which = "" if len(positives) == 1 else f"class {plain(positive)!r} vs rest, "
        _warn_if_not_converged(
            res, tol, max_iter, "predicted_coef", f" ({which}{mu_text})"
        )
        coefs.append(gamma * res.coef)
        intercepts.append(gamma * res.intercept)
    coef = np.array(coefs)
    if return_intercept:
        return coef, np.array(intercepts)
    return coef


def _predicted_interpolant(estimator, X, y, sample_weight, return_intercept, tol,
                           max_iter):
    """:func:`predicted_coef` of a fitted diagonal-network regressor."""
    alpha = getattr(estimator, "effective_alpha_", None)
    if alpha is None:
        raise ValueError(
            f"The regressor was trained with dynamics={estimator.dynamics!r} at "
            f"depth={estimator.depth}, which has no effective initialization "
            "(effective_alpha_ is None): the prediction exists for the flow, and "
            "for dynamics 'gd' and 'sgd' at depth=2."
        )
    y = np.asarray(y)
    Y = y.reshape(-1, 1) if y.ndim == 1 else y
    alphas = np.reshape(alpha, (Y.shape[1], -1))
    results = [
        min_potential_interpolant(
            X, Y[:, k], alpha=alphas[k], depth=estimator.depth,
            sample_weight=sample_weight, fit_intercept=estimator.fit_intercept,
            tol=tol, max_iter=max_iter,
        )
        for k in range(Y.shape[1])
    ]
    coef = np.array([r.coef for r in results])
    intercept = np.array([r.intercept for r in results])
    if y.ndim == 1:
        coef, intercept = coef[0], float(intercept[0])
    return (coef, intercept) if return_intercept else coef
