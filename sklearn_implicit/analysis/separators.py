r"""Exact max-margin references (:math:`\ell_2`, :math:`\ell_1`, :math:`\ell_\infty`).

The implicit bias of gradient flow on separable data is the direction of a
max-margin problem whose norm depends on the architecture and the
initialization scale; :func:`max_margin` solves these problems exactly (to
rounding for l2, to the LP solver's tolerance otherwise) with a dual
certificate. Conventions as in :mod:`.margins`.

References
----------
Lawson, C. L. and Hanson, R. J. (1995). *Solving Least Squares Problems*,
SIAM, chapter 23 (least distance programming through NNLS).
"""

import warnings
from collections import namedtuple

import numpy as np
import scipy.sparse as sp
from scipy.linalg import qr
from scipy.optimize import linprog, nnls
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from .margins import _check_norm, _p_norm

__all__ = ["MaxMarginResult", "max_margin"]

# A point is a support point when its margin is within this fraction of the
# largest absolute margin from the minimum.
_SUPPORT_RTOL = 1e-9
# Relative margin (data scaled to max |x_ij| = 1) below which the data are
# declared not linearly separable.
_SEPARABLE_TOL = 1e-10
# KKT tolerance (relative) accepted by the polishing step of the l2 solver.
_KKT_RTOL = 1e-10
# Weight of the augmented intercept feature used to initialize the l2
# problem with an unpenalized intercept (the "method of weighting" of
# Lawson & Hanson, chapter 22); the exact answer comes from the polishing.
_INTERCEPT_WEIGHT = 1e3


_MaxMarginBase = namedtuple("MaxMarginResult", ["coef", "intercept", "margin", "support"])


class MaxMarginResult(_MaxMarginBase):
    r"""Solution of a max-margin problem (see :func:`max_margin`).

    A named tuple ``(coef, intercept, margin, support)`` with one more
    attribute, ``dual_coef``, that is not part of the tuple.

    Attributes
    ----------
    coef : ndarray of shape (n_features,)
        Unit-norm max-margin direction (:math:`\|\text{coef}\|_p = 1`).
    intercept : float
        Unpenalized intercept (0.0 without ``fit_intercept``).
    margin : float
        :math:`\min_i z_i (x_i^\top \text{coef} + \text{intercept})`, the
        maximal normalized margin.
    support : ndarray of int
        Sorted indices of the active constraints (support points).
    dual_coef : ndarray of shape (n_samples,)
        Optimal dual weights :math:`\lambda`: :math:`\lambda \ge 0`,
        :math:`\sum_i \lambda_i = 1`, zero off the support,
        :math:`\sum_i \lambda_i z_i = 0` with an intercept, and
        :math:`\|Z^\top \lambda\|_q = \text{margin}` in the dual norm
        :math:`q` (a certificate of optimality: every unit-norm direction
        :math:`b` has a margin at most
        :math:`\lambda^\top Z b \le \|Z^\top \lambda\|_q`). For ``"l2"``,
        :math:`Z^\top \lambda = \text{margin} \cdot \text{coef}` (exact to
        rounding); for ``"l1"`` and
        ``"linf"`` they are the LP solver's multipliers (accurate to its
        1e-10 feasibility tolerance).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit.analysis import max_margin
    >>> X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> result = max_margin(X, np.array([1, -1]))
    >>> coef, intercept, margin, support = result  # a named tuple
    >>> print(np.round(coef, 6), round(margin, 6), support, result.dual_coef.sum())
    [1. 0.] 1.0 [0 1] 1.0
    """

    dual_coef = None  # default for instances built by ``_make``/``_replace``

    def __new__(cls, coef, intercept, margin, support, dual_coef=None):
        self = super().__new__(cls, coef, intercept, margin, support)
        self.dual_coef = dual_coef
        return self


def _not_separable(fit_intercept, detail=""):
    where = "" if fit_intercept else " by a hyperplane through the origin"
    return ValueError(
        f"The data are not linearly separable{where}"
        + (f" {detail}" if detail else "")
        + "; max_margin is only defined for separable data."
    )


def _equality_least_norm(Z_S, s_S, fit_intercept):
    """min ||b||_2 s.t. Z_S b + s_S c = 1 (c = 0 without intercept).

    The intercept is eliminated exactly: with Q an orthonormal basis of the
    complement of ``s_S``, ``Q^T Z_S b = Q^T 1`` and ``c`` is the ``s_S``
    component of ``1 - Z_S b``. The min-norm ``b`` comes from an SVD-based
    least-squares solve.
    """
    k = Z_S.shape[0]
    ones = np.ones(k)
    if not fit_intercept:
        b = np.linalg.lstsq(Z_S, ones, rcond=None)[0]
        return b, 0.0
    Q = qr(s_S[:, np.newaxis], mode="full")[0][:, 1:]
    if Q.shape[1] == 0:
        b = np.zeros(Z_S.shape[1])
    else:
        b = np.linalg.lstsq(Q.T @ Z_S, Q.T @ ones, rcond=None)[0]
    c = s_S @ (ones - Z_S @ b) / k
    return b, c


def _dual_weights(Z_S, s_S, b, fit_intercept):
    """Nonnegative ``lam`` with ``Z_S^T lam = b`` (and ``s_S . lam = 0``).

    Returns ``(lam, relative residual, least-squares multipliers)``.
    """
    A = Z_S.T
    target = b
    if fit_intercept:
        A = np.vstack([A, s_S[np.newaxis, :]])
        target = np.append(b, 0.0)
    lam_ls = np.linalg.lstsq(A, target, rcond=None)[0]
    if np.all(lam_ls >= 0):
        lam = lam_ls
    else:  # degenerate support: nonnegative multipliers may still exist
        lam = nnls(A, target, maxiter=max(100, 10 * A.shape[1]))[0]
    # residual relative to the size of the terms (backward-error style)
    size = np.linalg.norm(b) + np.linalg.norm(A) * np.linalg.norm(lam)
    res = np.linalg.norm(A @ lam - target) / max(size, 1e-300)
    return lam, res, lam_ls


def _l2_solve(Z, s, fit_intercept):
    """Exact l2 max margin of scaled data: returns (b, c, lam, kkt_ok).

    ``b, c`` solve ``min ||b||^2 s.t. Z b + s c >= 1`` (c = 0 without
    intercept) and ``lam`` the dual weights, ``b = Z^T lam``.
    """
    n, d = Z.shape
    # Least distance programming through NNLS (Lawson & Hanson, ch. 23):
    # min ||w|| s.t. A w >= 1 with E = [A^T; 1^T], f = e_last.
    A = np.column_stack([Z, _INTERCEPT_WEIGHT * s]) if fit_intercept else Z
    E = np.vstack([A.T, np.ones((1, n))])
    f = np.zeros(E.shape[0])
    f[-1] = 1.0
    try:
        u, rnorm = nnls(E, f, maxiter=max(200, 10 * (n + d)))
    except RuntimeError:  # pragma: no cover - iteration limit
        u = None
    if u is not None:
        # The LDP margin equals rnorm / sqrt(1 - rnorm^2): ~0 iff infeasible.
        if rnorm <= _SEPARABLE_TOL:
            raise _not_separable(fit_intercept)
        r = E @ u - f
        w = -r[:-1] / r[-1]
        support = u > 0
    else:
        w = None
        support = np.zeros(n, dtype=bool)
        support[0] = True

    # Polish: primal-dual active-set iterations on the exact equality
    # problem, started from the NNLS support, until the KKT conditions hold.
    best = None
    for _ in range(2 * n + 10):
        idx = np.flatnonzero(support)
        b, c = _equality_least_norm(Z[idx], s[idx], fit_intercept)
        m = Z @ b + s * c
        viol = 1.0 - m
        worst = int(np.argmax(viol))
        scale = max(1.0, np.abs(m).max())
        if np.abs(viol[idx]).max(initial=0.0) > 1e-8 * scale:
            break  # inconsistent equality system: give up polishing
        if viol[worst] > _KKT_RTOL * scale:
            support[worst] = True
            continue
        lam_S, res, lam_ls = _dual_weights(Z[idx], s[idx], b, fit_intercept)
        if res <= _KKT_RTOL:
            lam = np.zeros(n)
            lam[idx] = lam_S
            best = (b, c, lam)
            break
        support[idx[int(np.argmin(lam_ls))]] = False
        if not support.any():
            break
    if best is not None:
        return (*best, True)

    if w is None:  # pragma: no cover
        raise RuntimeError("The l2 max-margin solver did not converge.")
    # Fall back on the NNLS solution (accurate to a few ulps times the
    # conditioning, but not certified).
    b = w[:d]
    c = w[d] * _INTERCEPT_WEIGHT if fit_intercept else 0.0
    lam = u / max(1.0 - u.sum(), 1e-300)
    return b, c, lam, False


def _lp_solve(Z, s, fit_intercept, p):
    """l1 (p = 1) or linf (p = inf) max margin of scaled data by an LP.

    Returns ``(coef, c, lam)`` with ``||coef||_p = 1``.
    """
    n, d = Z.shape
    k = 1 if fit_intercept else 0
    # margin rows: gamma - z_i . b - s_i c <= 0
    tail = [np.ones((n, 1))] + ([-s[:, np.newaxis]] if k else [])
    if p == 1:
        # x = [b+ (d), b- (d), gamma, (c)], with sum(b+) + sum(b-) <= 1
        nb = 2 * d
        bounds = [(0, None)] * nb
        norm_row = np.concatenate([np.ones(nb), np.zeros(1 + k)])
        A_ub = np.vstack([np.hstack([-Z, Z] + tail), norm_row])
        b_ub = np.append(np.zeros(n), 1.0)
    else:
        # x = [b (d) in [-1, 1], gamma, (c)]
        nb = d
        bounds = [(-1.0, 1.0)] * nb
        A_ub = np.hstack([-Z] + tail)
        b_ub = np.zeros(n)
    bounds = bounds + [(None, None)] * (1 + k)
    cost = np.zeros(nb + 1 + k)
    cost[nb] = -1.0
    res = linprog(
        cost,
        A_ub=A_ub,
        b_ub=b_ub,
        bounds=bounds,
        method="highs-ds",
        options={
            "primal_feasibility_tolerance": 1e-10,
            "dual_feasibility_tolerance": 1e-10,
        },
    )
    if res.status != 0:  # pragma: no cover - bounded and feasible LP
        raise RuntimeError(f"The max-margin linear program failed: {res.message}")
    x = res.x
    if -res.fun <= _SEPARABLE_TOL:
        raise _not_separable(fit_intercept)
    b = x[:d] - x[d : 2 * d] if p == 1 else x[:d].copy()
    c = float(x[nb + 1]) if k else 0.0
    b_norm = _p_norm(b, p)
    b, c = b / b_norm, c / b_norm
    lam = np.clip(-res.ineqlin.marginals[:n], 0.0, None)
    if lam.sum() > 0:
        lam = lam / lam.sum()
    b, c = _lp_polish(Z, s, fit_intercept, p, b, c)
    return b, c, lam


def _lp_polish(Z, s, fit_intercept, p, b, c):
    """Recompute an LP vertex from its active set by a linear solve.

    The LP solver returns its vertex to its feasibility tolerance; solving
    the square system of the active constraints gives it to rounding error.
    The polished point is kept only if it is feasible and its margin is not
    smaller.
    """
    n, d = Z.shape
    m = Z @ b + s * c
    gamma = m.min()
    scale = max(np.abs(m).max(), 1e-300)
    S = np.flatnonzero(m - gamma <= 1e-7 * scale)
    if p == 1:
        J = np.flatnonzero(np.abs(b) > 1e-9 * np.abs(b).max())
        fixed = np.zeros(len(S))
        sigma = np.sign(b[J])
    else:
        J = np.flatnonzero(np.abs(b) < 1 - 1e-9)
        B = np.setdiff1d(np.arange(d), J)
        fixed = -Z[np.ix_(S, B)] @ np.sign(b[B])
    # unknowns: b_J, c (if intercept), gamma
    cols = [Z[np.ix_(S, J)]]
    if fit_intercept:
        cols.append(s[S][:, None])
    cols.append(-np.ones((len(S), 1)))
    M = np.hstack(cols)
    rhs = fixed
    if p == 1:
        extra = np.zeros(M.shape[1])
        extra[: len(J)] = sigma
        M = np.vstack([M, extra])
        rhs = np.append(rhs, 1.0)
    sol, *_ = np.linalg.lstsq(M, rhs, rcond=None)
    if np.linalg.norm(M @ sol - rhs) > 1e-12 * max(1.0, np.abs(rhs).max()):
        return b, c
    new_b = b.copy()
    if p == 1:
        new_b[:] = 0.0
        new_b[J] = sol[: len(J)]
        if np.any(np.sign(new_b[J]) != sigma):
            return b, c
    else:
        new_b[J] = sol[: len(J)]
        new_b[B] = np.sign(b[B])
        if np.any(np.abs(new_b) > 1.0 + 1e-14):
            return b, c
        new_b = np.clip(new_b, -1.0, 1.0)
    new_c = float(sol[len(J)]) if fit_intercept else 0.0
    new_b = new_b / _p_norm(new_b, p)
    new_m = Z @ new_b + s * new_c
    if new_m.min() < gamma - 1e-9 * scale:
        return b, c
    return new_b, new_c


def max_margin(X, y, norm="l2", fit_intercept=False):
    r"""Exact max-margin direction of separable binary data.

    Solves

    .. math::

        \max_{\|\beta\|_p \le 1,\ b} \; \min_i \; z_i (x_i^\top \beta + b)

    (:math:`b = 0` unless ``fit_intercept``; the intercept is never
    penalized), the limit direction of gradient descent on linear models
    (``"l2"``) and of the rich regime of diagonal networks (``"l1"``).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Samples. A sparse matrix is converted to a dense array: this is a
        dense reference solver meant for small problems.
    y : array-like of shape (n_samples,)
        Binary labels; ``np.unique(y)[1]`` gives :math:`z = +1`.
    norm : {"l2", "l1", "linf"}, default="l2"
        Norm constraining the direction.
    fit_intercept : bool, default=False
        Whether to add a free (unpenalized) intercept, as in the usual
        hard-margin SVM.

    Returns
    -------
    result : MaxMarginResult
        Named tuple ``(coef, intercept, margin, support)``: the unit-norm
        direction (:math:`\|\text{coef}\|_p = 1`), the intercept (0.0
        without ``fit_intercept``), the maximal normalized margin
        :math:`\min_i z_i (x_i^\top \text{coef} + \text{intercept})`, and the
        sorted indices of the active constraints, those with
        :math:`m_i - \text{margin} \le 10^{-9} \max_j |m_j|`. It also
        carries the optimal dual weights as ``result.dual_coef`` (see
        :class:`MaxMarginResult`).

    Raises
    ------
    ValueError
        If the data are not linearly separable (with an intercept when
        ``fit_intercept``), ``y`` does not have exactly two classes, there
        are fewer than two samples, or a parameter is invalid.

    See Also
    --------
    normalized_margin : The normalized margin of a given classifier.

    Notes
    -----
    ``"l2"``: the hard-margin SVM, solved exactly (not a soft-margin SVM at a
    finite ``C``). Without intercept, :math:`\min \|b\|^2` subject to
    :math:`Z b \ge 1` is a least distance programming problem, reduced to
    nonnegative least squares with
    :math:`E = [Z^\top; 1^\top]`,
    :math:`f = e_{d+1}` (Lawson & Hanson, ch. 23), solved by
    the active-set method :func:`scipy.optimize.nnls`; the positive NNLS
    variables give the support. With an intercept, the same reduction is
    applied to the data augmented with a heavily weighted feature
    :math:`10^3 z_i` (the method of weighting, ch. 22), which only approximates
    the free intercept. In both cases the answer is then polished by
    primal-dual active-set iterations on the equality problem of the
    current support, :math:`\min \|b\|` subject to
    :math:`z_i (x_i^\top b + c) = 1`, solved by an
    SVD least-squares solve with the intercept eliminated exactly through an
    orthonormal basis of the complement of the labels, until the KKT
    conditions (primal feasibility, nonnegative multipliers with
    :math:`b = Z^\top \lambda` and :math:`y^\top \lambda = 0`) hold to a
    relative 1e-10
    (checked with NNLS when the support is degenerate). On small problems
    the result agrees with the KKT conditions to about 1e-14. If the
    polishing fails, the NNLS solution is returned with a
    :class:`~sklearn.exceptions.ConvergenceWarning`.

    ``"l1"`` and ``"linf"``: linear programs (:math:`b = b^+ - b^-` for
    ``"l1"``)
    solved by the HiGHS dual simplex, then polished by solving the linear
    system of the active constraints at the returned vertex. These
    directions need not be unique (the margin is); a vertex is returned.

    Data are centered (with an intercept) and scaled internally; the results
    are mapped back exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit.analysis import max_margin
    >>> X = np.array([[2.0, 1.0], [-2.0, -1.0], [1.0, 2.0]])
    >>> y = np.array([1, -1, 1])
    >>> res = max_margin(X, y)
    >>> print(np.round(res.coef, 4), round(res.margin, 4), res.support)
    [0.7071 0.7071] 2.1213 [0 1 2]
    >>> res = max_margin(X, y, norm="l1")
    >>> print(np.round(res.coef, 4), round(res.margin, 4))
    [0.5 0.5] 1.5
    >>> res = max_margin([[2.0, 1.0], [0.0, 0.0]], [1, 0], fit_intercept=True)
    >>> print(np.round(res.coef, 4), round(res.intercept, 4), round(res.margin, 4))
    [0.8944 0.4472] -1.118 1.118
    """
    p = _check_norm(norm, allow_p=False)
    if not isinstance(fit_intercept, (bool, np.bool_)):
        raise ValueError(
            f"fit_intercept must be a boolean (True or False); got {fit_intercept!r}."
        )
    fit_intercept = bool(fit_intercept)
    X = check_array(
        X,
        accept_sparse=["csr", "csc", "coo"],
        dtype=np.float64,
        ensure_min_samples=2,
        input_name="X",
    )
    if sp.issparse(X):
        X = X.toarray()
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) != 2:
        if len(classes) < 2:
            raise ValueError(
                "y contains a single class; max_margin needs samples of both "
                "classes."
            )
        raise ValueError(
            f"max_margin supports binary y only; got {len(classes)} classes."
        )
    s = 2.0 * y_idx - 1.0

    # Center (intercept only: an exact change of intercept) and scale.
    mu = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    Xc = X - mu
    sigma = np.abs(Xc).max()
    if sigma == 0:
        detail = "(all samples are equal)" if fit_intercept else "(all samples are 0)"
        raise _not_separable(fit_intercept, detail)
    Z = s[:, np.newaxis] * (Xc / sigma)

    if p == 2:
        b, c, lam, certified = _l2_solve(Z, s, fit_intercept)
        if not certified:
            warnings.warn(
                "The l2 max-margin polishing did not verify the KKT conditions; "
                "the unpolished NNLS solution is returned.",
                ConvergenceWarning,
                stacklevel=2,
            )
        nb = np.linalg.norm(b)
        coef, c = b / nb, c / nb
        if lam.sum() > 0:
            lam = lam / lam.sum()
    else:
        coef, c, lam = _lp_solve(Z, s, fit_intercept, p)

    m = Z @ coef + s * c  # margins of the scaled, centered data
    margin_scaled = m.min()
    scale = np.abs(m).max()
    if margin_scaled <= _SEPARABLE_TOL * scale:
        raise _not_separable(fit_intercept)
    support = np.flatnonzero(m - margin_scaled <= _SUPPORT_RTOL * scale)
    lam[np.setdiff1d(np.arange(lam.shape[0]), support)] = 0.0
    if lam.sum() > 0:
        lam = lam / lam.sum()
    intercept = float(sigma * c - mu @ coef) if fit_intercept else 0.0
    return MaxMarginResult(
        coef=coef,
        intercept=intercept,
        margin=float(sigma * margin_scaled),
        support=support,
        dual_coef=lam,
    )
