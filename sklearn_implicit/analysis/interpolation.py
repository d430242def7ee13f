r"""Where gradient flow on the squared loss ends: the minimum-potential interpolant.

For a diagonal network :math:`\beta = u^D - v^D` started at
:math:`u = v = \alpha` (:math:`\beta = 0`), gradient flow on the squared
loss is mirror descent with the potential :math:`Q^D_\alpha` of
:mod:`sklearn_implicit.analysis.theory`: the integrated gradient
:math:`R(t)` stays in the row space of :math:`X` and :math:`\beta(t)` is the
mirror map of :math:`R(t)`. Its limit is therefore (Woodworth et al., 2020)

.. math::

    \beta_\infty = \operatorname*{argmin}_b \; Q^D_\alpha(b)
    \quad \text{subject to} \quad X b = \hat y,

where :math:`\hat y` is the (sample-weighted) projection of :math:`y` on the
column space of :math:`X`: :math:`y` itself when the data can be
interpolated, the least-squares fit otherwise. :math:`Q^D_\alpha` tends to a
multiple of the :math:`\ell_1` norm as :math:`\alpha \to 0` (for
:math:`D = 2` the minimizer tends to the minimum-:math:`\ell_1`
interpolant, basis pursuit) and to a multiple of the squared :math:`\ell_2`
norm as :math:`\alpha \to \infty` (the minimum-:math:`\ell_2`-norm
interpolant :math:`X^+ y`).

The solver
----------
With the thin SVD :math:`\sqrt{s}\, X = U S V^\top` (rank :math:`r`,
sample weights :math:`s`), the constraint reads
:math:`V^\top b = c = S^{-1} U^\top \sqrt{s}\, y` and the optimality
condition (:math:`\nabla Q(b)` in the row space) reads :math:`b = B(V \mu)`
for the mirror map :math:`B`. The dual
:math:`\phi(\mu) = Q^*(V \mu) - c^\top \mu` is smooth and strictly convex in
:math:`\mu` (:math:`r` numbers); it is minimized by Newton's method with a
backtracking line search from :math:`\mu = 0`, until :math:`V^\top b = c`
holds to rounding. The orthonormal :math:`V` keeps the Newton systems as
well conditioned as the mirror map allows.

References
----------
B. Woodworth, S. Gunasekar, J. D. Lee, E. Moroshko, P. Savarese, I. Golan,
D. Soudry, N. Srebro. "Kernel and rich regimes in overparametrized models",
COLT 2020, arXiv:2002.09277.
"""


import warnings
from collections import namedtuple

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    column_or_1d,
)

from ..utils._least_squares import center, row_space
from ..utils._validation import check_alpha
from ._mirror import _ARMIJO, _check_depth, _dual_problem, _MirrorMap

__all__ = ["Interpolant", "min_potential_interpolant"]

Interpolant = namedtuple("Interpolant", ["coef", "intercept", "n_iter"])
Interpolant.__doc__ = r"""The minimum-potential interpolant.

Attributes
----------
coef : ndarray of shape (n_features,)
    :math:`\operatorname{argmin}_b Q^D_\alpha(b)` subject to
    :math:`X b + \text{intercept} = \hat y`.
intercept : float
    :math:`\bar y - \bar x^\top \text{coef}` with a fitted intercept
    (weighted means :math:`\bar x`, :math:`\bar y`), else 0.
n_iter : int
    Newton iterations of the dual solver.

Examples
--------
>>> import numpy as np
>>> from sklearn_implicit.analysis import min_potential_interpolant
>>> X = np.array([[1.0, 1.0]])
>>> result = min_potential_interpolant(X, np.array([2.0]), alpha=1.0, fit_intercept=False)
>>> coef, intercept, n_iter = result  # a named tuple
>>> print(np.round(coef, 6), intercept)
[1. 1.] 0.0
"""


def _newton(evaluate, mirror, A, c, tol, max_iter):
    """Minimize ``phi(mu) = Q*(A^T mu) - c . mu`` (``A`` with orthonormal rows)."""
    mu = np.zeros(A.shape[0])
    value, grad, b, db = evaluate(mu)
    scale = max(np.abs(c).max(), np.finfo(float).tiny)
    err = np.abs(grad).max() / scale
    for n_iter in range(max_iter):
        if err <= tol:
            return b, err, n_iter
        H = (A * db) @ A.T
        try:
            step = -cho_solve(cho_factor(H), grad)
        except LinAlgError:
            step = -np.linalg.lstsq(H, grad, rcond=None)[0]
        t = mirror.max_step(A.T @ mu, A.T @ step)
        full, accepted = t, False
        for _ in range(60):
            trial = mu + t * step
            new = evaluate(trial)
            predicted = grad @ (t * step)
            if np.isfinite(new[0]):
                new_err = np.abs(new[1]).max() / scale
                if new[0] <= value + _ARMIJO * predicted:
                    accepted = True
                # Near the solution the decrease is below the rounding of phi:
                # a full step is then taken when it shrinks the residual.
                elif abs(predicted) <= 1e-13 * (abs(value) + 1.0) and t == full:
                    accepted = new_err < err
                if accepted:
                    break
            t *= 0.5
        if not accepted:
            return b, err, n_iter
        mu = trial
        value, grad, b, db = new
        err = new_err
    return b, err, max_iter


def min_potential_interpolant(
    X, y, *, alpha=1.0, depth=2, sample_weight=None, fit_intercept=True, tol=1e-12,
    max_iter=200,
):
    r"""The limit of gradient flow on the squared loss for a diagonal network.

    Returns :math:`\operatorname{argmin}_b Q^D_\alpha(b)` subject to
    :math:`X b = \hat y` (:math:`\hat y`: the weighted least-squares fit of
    :math:`y`, which is :math:`y` when :math:`X` has full row rank), the
    interpolant that gradient flow from :math:`\beta = 0` converges to
    (see the module docstring). It is the reference for
    :class:`~sklearn_implicit.DiagonalLinearRegressor` with ``target_loss=0``:
    the same ``alpha``, ``depth``, ``fit_intercept`` and ``sample_weight`` give
    the same coefficients.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Design (densified).

    y : array-like of shape (n_samples,)
        Targets.

    alpha : float or array-like of shape (n_features,), default=1.0
        Initialization scale of the diagonal network (per feature for an
        array); the potential is :math:`Q^D_\alpha`.

    depth : int, default=2
        Depth :math:`D \ge 2` of the diagonal network.

    sample_weight : array-like of shape (n_samples,), default=None
        Positive weights of the squared loss. They matter only when ``y``
        cannot be interpolated (they define the least-squares fit); zero
        weights remove samples.

    fit_intercept : bool, default=True
        Center ``X`` and ``y`` (weighted means) first and return the free
        intercept :math:`\bar y - \bar x^\top \text{coef}`, as the regressor
        does.

    tol : float, default=1e-12
        The solver stops when
        :math:`\max |V^\top b - c| \le \text{tol} \cdot \max |c|` (see the
        module docstring), which makes :math:`X\, \text{coef}` equal to
        :math:`\hat y` to about ``tol`` times the norm of :math:`y` (times the
        condition of :math:`X`).

    max_iter : int, default=200
        Maximum number of Newton iterations.

    Returns
    -------
    result : Interpolant
        Named tuple ``(coef, intercept, n_iter)``.

    See Also
    --------
    sklearn_implicit.DiagonalLinearRegressor : The gradient flow itself.
    sklearn_implicit.analysis.theory.q_minimizer : The classification counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit.analysis import min_potential_interpolant
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 40))
    >>> w = np.zeros(40); w[:2] = [1.0, -1.0]
    >>> y = X @ w
    >>> rich = min_potential_interpolant(X, y, alpha=1e-4, fit_intercept=False)
    >>> np.round(rich.coef[:3], 4)
    array([ 1., -1., -0.])
    >>> kernel = min_potential_interpolant(X, y, alpha=1e3, fit_intercept=False)
    >>> bool(np.allclose(kernel.coef, np.linalg.pinv(X) @ y, atol=1e-6))
    True
    """
    X = check_array(X, accept_sparse="csr", dtype=np.float64)
    y = column_or_1d(y, dtype=np.float64)
    check_consistent_length(X, y)
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not sample_weight.sum() > 0:
        raise ValueError("sample_weight must have a positive sum; all are zero.")
    keep = sample_weight > 0
    X, y, sample_weight = X[keep], y[keep], sample_weight[keep]
    depth = _check_depth(depth)
    alpha = check_alpha(alpha, X.shape[1])
    if fit_intercept:
        X, Y, x_mean, y_mean = center(X, y[:, None], sample_weight)
        y, y_mean = Y[:, 0], y_mean[0]
    U, S, Vt = row_space(X, sample_weight)
    c = (U.T @ (np.sqrt(sample_weight) * y)) / S
    if not np.any(c):
        coef, err, n_iter = np.zeros(X.shape[1]), 0.0, 0
    else:
        mirror = _MirrorMap(alpha**depth, depth)
        coef, err, n_iter = _newton(_dual_problem(Vt, c, mirror), mirror, Vt, c, tol,
                                    max_iter)
    if not err <= tol:
        warnings.warn(
            f"min_potential_interpolant stopped with a relative constraint error "
            f"of {err:.3g} > tol={tol:g} after {n_iter} Newton iterations; the "
            "result is approximate. Increase max_iter or raise tol; extreme "
            "alpha (tiny with depth >= 3, or a huge range across features) "
            "limits the attainable accuracy.",
            ConvergenceWarning,
        )
    intercept = float(y_mean - x_mean @ coef) if fit_intercept else 0.0
    return Interpolant(coef, intercept, n_iter)
