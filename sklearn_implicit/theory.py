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

The solver
----------
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

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.optimize import linprog, minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Bunch
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from ._base import add_intercept_column, check_alpha
from ._config import blas_limit
from .margins import _binary_signs, _not_separable

__all__ = ["predicted_coef", "q_minimizer"]

# The L-BFGS-B phase sees the dual extended beyond these points by its
# second-order Taylor expansion (finite everywhere, convex): |theta| <= this
# for depth >= 3 (the mirror map has a pole at 1), and exp(log mu + |s|)
# <= exp(this) for depth 2 (no overflow). The Newton phase uses the exact
# function.
_THETA_CAP = 1.0 - 1e-6
_LOG_B_CAP = 200.0
_ARMIJO = 1e-4


class _MirrorMap:
    """``b = B(s)``, ``B'(s)`` and ``Q*(s)`` per coordinate, for scaled ``mu``.

    ``Q*`` is the convex conjugate of ``Q_mu``; ``B = grad Q*`` is its inverse
    gradient. Every formula is written without cancellation (small ``s``) and
    without overflow of intermediate terms (large ``s``).
    """

    def __init__(self, mu, depth):
        self.log_mu = np.log(mu)
        self.depth = depth
        if depth == 2:
            self.log_kappa = np.zeros_like(self.log_mu)
            self.bound = np.full_like(self.log_mu, np.inf)
            self.cap = np.maximum(_LOG_B_CAP - self.log_mu, 1.0)
        else:
            self.log_kappa = (1.0 - 2.0 / depth) * self.log_mu
            self.bound = np.exp(-self.log_kappa)  # |s| < bound: |theta| < 1
            self.cap = _THETA_CAP * self.bound

    def _exact(self, t):
        """``(Q*, |B|, B')`` at ``t = |s| >= 0`` inside the domain."""
        log_mu = self.log_mu
        if self.depth == 2:
            big = np.exp(log_mu + t)
            return big * np.expm1(-t) ** 2, -big * np.expm1(-2 * t), big * (
                1 + np.exp(-2 * t)
            )
        k = self.depth - 2
        p = self.depth / k
        kappa = np.exp(self.log_kappa)
        theta = kappa * t
        l_minus, l_plus = np.log1p(-theta), np.log1p(theta)
        # (1 - theta)**-p - (1 + theta)**-p = (1 + theta)**-p expm1(...)
        h = np.exp(-p * l_plus) * np.expm1(p * (l_plus - l_minus))
        dh = p * (np.exp(-(p + 1) * l_minus) + np.exp(-(p + 1) * l_plus))
        # H(theta) = (k/2) ((1 - theta)**-q + (1 + theta)**-q - 2), q = 2/k;
        # its series near 0 avoids the cancellation of the two terms.
        q = 2.0 / k
        with np.errstate(invalid="ignore"):
            direct = 0.5 * k * (np.expm1(-q * l_minus) + np.expm1(-q * l_plus))
        series = np.zeros_like(theta)
        coef, power = 1.0, np.ones_like(theta)
        for j in range(1, 13):
            coef *= (q + j - 1) / j
            power = power * theta
            if j % 2 == 0:
                series += k * coef * power
        H = np.where(theta < 1e-2, series, direct)
        mu_over_kappa = np.exp(log_mu - self.log_kappa)
        return mu_over_kappa * H, np.exp(log_mu) * h, np.exp(log_mu) * kappa * dh

    def max_step(self, s, ds):
        """A step length along ``ds`` that keeps ``s`` well inside the domain
        and, for depth 2, changes no ``exp(|s|)`` by more than ``e**20``."""
        top = np.max(np.abs(ds))
        if top == 0:
            return 1.0
        if self.depth == 2:
            return min(1.0, 20.0 / top)
        room = np.where(ds > 0, self.bound - s, -self.bound - s) / np.where(
            ds != 0, ds, np.inf
        )
        return min(1.0, 0.95 * float(np.min(room)))

    def __call__(self, s, extended):
        """``(sum Q*(s), B(s), B'(s))``; ``extended`` selects the Taylor-extended
        function of the L-BFGS-B phase, else ``Q* = inf`` off the domain."""
        t = np.abs(s)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if extended:
                t0 = np.minimum(t, self.cap)
                f0, f1, f2 = self._exact(t0)
                delta = t - t0
                value = f0 + delta * (f1 + 0.5 * f2 * delta)
                return np.sum(value), np.sign(s) * (f1 + f2 * delta), f2
            inside = t < self.bound
            f0, f1, f2 = self._exact(np.where(inside, t, 0.0))
            if not inside.all():
                return np.inf, np.sign(s) * f1, f2
            return np.sum(f0), np.sign(s) * f1, f2


def _dual_problem(Zs, c, mirror):
    """``phi(lambda) = Q*(Z^T lambda) - c . lambda`` with gradient and Hessian
    pieces: returns a function of ``(lam, extended)``."""

    def evaluate(lam, extended):
        s = Zs.T @ lam
        value, b, db = mirror(s, extended)
        if not np.isfinite(value):
            return np.inf, None, b, db
        m = Zs @ b
        return value - c @ lam, m - c, b, db

    return evaluate


def _kkt_error(lam, grad, c):
    """Largest relative violation of feasibility and complementarity.

    ``grad = Z b - c`` (the dual gradient); stationarity ``grad Q(b) = Z^T
    lambda`` holds by construction of ``b``.
    """
    scale = np.abs(c).max()
    infeasible = max(np.max(-grad), 0.0) / scale
    top = lam.max()
    complementarity = np.max(lam * np.abs(grad)) / (top * scale) if top > 0 else 0.0
    return max(infeasible, complementarity)


def _lbfgs_phase(evaluate, n, lam_scale, max_iter):
    def fun(x):
        value, grad, _, _ = evaluate(lam_scale * x, True)
        return value, lam_scale * grad

    res = minimize(
        fun,
        np.zeros(n),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, None)] * n,
        options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 20},
    )
    return lam_scale * res.x, res.nit


def _newton_phase(evaluate, mirror, Zs, c, lam, tol, max_iter):
    """Projected Newton on the exact dual, from ``lam`` (inside the domain).

    Bertsekas' method: variables within ``eps`` of their bound whose
    gradient pushes them there form the binding set and take a scaled
    gradient step (the projection sets them to 0); the others take a Newton
    step. The Hessian ``Z_F diag(B') Z_F^T`` is singular when more points
    than features are free (their multipliers are then not unique), so the
    Newton system carries a Levenberg-Marquardt term ``nu diag(H)``, reduced
    after full steps and raised after short ones.
    """
    value, grad, b, db = evaluate(lam, False)
    nu = 1e-8
    for n_iter in range(max_iter):
        err = _kkt_error(lam, grad, c)
        if err <= tol:
            return lam, b, err, n_iter
        diag_h = np.maximum(np.einsum("ij,ij,j->i", Zs, Zs, db), 1e-300)
        # Distance to the solution measured by a diagonally scaled projected
        # gradient step; it sets the width eps of the binding set.
        gap = lam - np.maximum(lam - grad / diag_h, 0.0)
        eps = min(np.max(np.abs(gap)), 1e-3 * max(lam.max(), 1e-300))
        binding = (lam <= eps) & (grad > 0)
        idx = np.flatnonzero(~binding)
        direction = np.where(binding, -grad / diag_h, 0.0)
        if idx.size:
            A = Zs[idx] * np.sqrt(db)
            scale = 1.0 / np.sqrt(diag_h[idx])
            H = (scale[:, None] * A) @ (scale[:, None] * A).T
            H[np.diag_indices_from(H)] += nu
            rhs = -scale * grad[idx]
            try:
                step = scale * cho_solve(cho_factor(H), rhs)
            except LinAlgError:
                step = scale * np.linalg.lstsq(H, rhs, rcond=None)[0]
            direction[idx] = step
        t = mirror.max_step(Zs.T @ lam, Zs.T @ direction)
        full = t
        accepted = False
        for _ in range(60):
            trial = np.maximum(lam + t * direction, 0.0)
            new = evaluate(trial, False)
            predicted = grad @ (trial - lam)
            if np.isfinite(new[0]):
                if new[0] <= value + _ARMIJO * predicted:
                    accepted = True
                # Near the solution the decrease is below rounding of phi:
                # then a full step is taken when it improves the KKT error.
                elif abs(predicted) <= 1e-13 * (abs(value) + 1.0) and t == full:
                    accepted = _kkt_error(trial, new[1], c) < err
                if accepted:
                    break
            t *= 0.5
        if not accepted:
            if nu >= 1e6:
                return lam, b, err, n_iter
            nu *= 100.0
            continue
        nu = max(nu * (0.1 if t == full else 10.0), 1e-14) if t == full else min(nu * 10.0, 1e6)
        lam = trial
        value, grad, b, db = new
    return lam, b, _kkt_error(lam, grad, c), max_iter


def _solve(Z, c, mu, depth, tol, max_iter):
    """``argmin Q_mu(b) s.t. Z b >= c`` (dense ``Z``, ``c > 0``).

    Returns ``(b, lam, kkt_error, n_iter)`` with ``grad Q_mu(b) = Z^T lam``.
    """
    n, d = Z.shape
    # Scaling the data scales the answer: with Z = sigma Zs,
    # argmin Q_mu s.t. Z b >= c is argmin Q_{sigma mu} s.t. Zs b' >= c over
    # sigma, and the multipliers scale by sigma**(-2/D).
    sigma = np.abs(Z).max()
    if sigma == 0:
        raise _not_separable(False, "(all samples are 0)")
    Zs = Z / sigma
    # Without a feasible point the dual is unbounded below: say so at once.
    if linprog(np.zeros(d), A_ub=-Zs, b_ub=-c, bounds=(None, None)).status == 2:
        raise _not_separable(False)
    mu = sigma * mu
    # Continuation in mu: small mu makes the dual steep (exponential for
    # depth 2, a pole for depth >= 3), so it is reached from mu' >= 1e-2 in
    # steps of 100, each stage started from the previous multipliers.
    n_stages = int(np.ceil(max(np.log10(1e-2 / mu.min()), 0.0) / 2.0))
    n_iter = 0
    with blas_limit(1):
        # Small dense products: BLAS threads only add synchronization (20
        # times slower with two threads on a loaded machine).
        for stage in range(n_stages, -1, -1):
            mirror = _MirrorMap(mu * 100.0**stage, depth)
            evaluate = _dual_problem(Zs, c, mirror)
            if stage == n_stages:
                # Near the kernel regime lambda ~ 1 / B'(0), else of order 1.
                _, _, db0 = mirror(np.zeros(d), False)
                lam_scale = 1.0 / max(db0.max() * max(Zs.shape), 1.0)
                lam, n_lbfgs = _lbfgs_phase(evaluate, n, lam_scale, max_iter)
                n_iter += n_lbfgs
            else:
                # Keep theta = kappa s (depth >= 3) or add log(100) to the
                # largest |s| (depth 2), the change of the minimizer's dual
                # point per stage on its support.
                s_top = np.abs(Zs.T @ lam).max()
                if depth == 2:
                    lam = lam * (s_top + np.log(100.0)) / max(s_top, 1e-300)
                else:
                    lam = lam * 100.0 ** (1.0 - 2.0 / depth)
            # The extended dual may put its minimizer off the true domain
            # (|theta| >= 1, depth >= 3): pull lambda back inside.
            theta = np.abs(Zs.T @ lam) / mirror.bound
            if theta.max() >= _THETA_CAP:
                lam = lam * (_THETA_CAP / theta.max())
            lam, b, err, n_newton = _newton_phase(
                evaluate, mirror, Zs, c, lam, tol if stage == 0 else 1e-6, max_iter
            )
            n_iter += n_newton
    if not err <= tol:
        warnings.warn(
            f"The dual solver of q_minimizer stopped with a KKT error of {err:.3g} "
            f"> tol={tol:g} (after {n_iter} iterations); the result is approximate. Increase max_iter, or "
            "raise tol; extreme values of mu (tiny with depth >= 3) limit the "
            "attainable accuracy.",
            ConvergenceWarning,
        )
    return b / sigma, lam * sigma ** (-2.0 / depth), err, n_iter


def _check_mu(mu, n_features):
    """Validate ``mu`` like ``alpha``, naming ``mu`` in the errors."""
    try:
        return check_alpha(mu, n_features)
    except ValueError as exc:
        raise ValueError(str(exc).replace("alpha", "mu")) from None


def _check_depth(depth):
    if (
        not isinstance(depth, numbers.Integral)
        or isinstance(depth, (bool, np.bool_))
        or depth < 2
    ):
        raise ValueError(f"depth must be an integer >= 2; got {depth!r}.")
    return int(depth)


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
    sklearn_implicit.margins.max_margin : The l1 and l2 limits.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit.theory import q_minimizer
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
    >>> from sklearn_implicit.theory import predicted_coef
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
            which = "" if len(positives) == 1 else f" (class {positive!r} vs rest)"
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
