r"""Exact max-margin references (:math:`\ell_2`, :math:`\ell_1`,
:math:`\ell_\infty`, Fourier :math:`\ell_1`).

The implicit bias of gradient flow on separable data is the direction of a
max-margin problem whose norm depends on the architecture and the
initialization scale; :func:`max_margin` solves these problems exactly (to
rounding for l2, to the LP solver's tolerance for l1 and l_inf, to the conic
solver's for the Fourier l1 norm) with a dual certificate. Conventions as
in :mod:`.margins`.

References
----------
Lawson, C. L. and Hanson, R. J. (1995). *Solving Least Squares Problems*,
SIAM, chapter 23 (least distance programming through NNLS).

Goulart, P. J. and Chen, Y. (2024). "Clarabel: an interior-point solver for
conic programs with quadratic objectives", arXiv:2405.12762.
"""

import warnings
from collections import namedtuple

import numpy as np
import scipy.sparse as sp
from scipy.linalg import qr
from scipy.optimize import linprog, nnls
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ._fourier import fourier_spectrum, frequency_counts, half_spectrum_rows
from .margins import _check_norm, _norm, _p_norm

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
        Unit-norm max-margin direction (:math:`\|\text{coef}\|_p = 1`;
        :math:`\|U \text{coef}\|_1 = 1` for ``"fourier-l1"``).
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
        1e-10 feasibility tolerance); for ``"fourier-l1"`` the dual norm is
        the largest modulus of the unitary spectrum,
        :math:`\max_k |(U Z^\top \lambda)_k|`, and the multipliers are those
        of the polished KKT system (exact to rounding when the polish
        succeeds).

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


# Clarabel's interior-point tolerances for the Fourier-l1 problem (scaled
# data, max |x_ij| = 1): tighter ones end in 'AlmostSolved', and the Newton
# polish takes the solution from there to rounding.
_SOCP_TOL = 1e-8
# Relative gap between the dual bound and the margin above which the
# Fourier-l1 solution is reported as not certified (the interior-point
# solution alone, when the polish fails, is within about 1e-8).
_SOCP_CERTIFICATE_RTOL = 1e-7
# Support points of an unpolished interior-point solution: its margins agree
# to about its tolerance, so the usual 1e-9 would miss some of them.
_SOCP_SUPPORT_RTOL = 1e-6


def _import_clarabel():
    try:
        import clarabel
    except ImportError as exc:
        raise ImportError(
            "max_margin(norm='fourier-l1') solves a second-order cone program "
            "with the Clarabel solver, which is not installed: "
            "pip install clarabel (or sklearn-implicit[socp])."
        ) from exc
    return clarabel


def _fourier_l1_solve(Z, s, fit_intercept):
    """Fourier-l1 max margin of scaled data by a second-order cone program.

    ``min sum_k counts_k t_k`` subject to ``||rows_k b||_2 <= t_k`` (one cone
    per frequency of the half spectrum) and ``Z b + s c >= 1``. Returns
    ``(coef, c, lam, polished)`` with ``||U coef||_1 = 1``.
    """
    clarabel = _import_clarabel()
    n, d = Z.shape
    rows = half_spectrum_rows(d)
    counts = frequency_counts(d)
    n_t, k = len(rows), int(fit_intercept)
    n_var = d + n_t + k  # x = [b, t, c]
    # Clarabel's form is A x + slack = rhs with the slack in a cone.
    margin_rows = np.hstack([Z, np.zeros((n, n_t))] + ([s[:, None]] if k else []))
    blocks, cones = [-margin_rows], [clarabel.NonnegativeConeT(n)]
    for j, R in enumerate(rows):
        block = np.zeros((1 + R.shape[0], n_var))
        block[0, d + j] = -1.0
        block[1:, :d] = -R
        blocks.append(block)
        cones.append(clarabel.SecondOrderConeT(block.shape[0]))
    A = sp.csc_matrix(np.vstack(blocks))
    rhs = np.zeros(A.shape[0])
    rhs[:n] = -1.0
    cost = np.zeros(n_var)
    cost[d : d + n_t] = counts
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.max_threads = 1
    settings.tol_gap_abs = settings.tol_gap_rel = _SOCP_TOL
    settings.tol_feas = settings.tol_ktratio = _SOCP_TOL
    solution = clarabel.DefaultSolver(
        sp.csc_matrix((n_var, n_var)), cost, A, rhs, cones, settings
    ).solve()
    status = str(solution.status)
    if "Infeasible" in status:
        raise _not_separable(fit_intercept)
    if status not in ("Solved", "AlmostSolved"):  # pragma: no cover
        raise RuntimeError(f"The Fourier-l1 max-margin cone program failed: {status}.")
    x = np.asarray(solution.x)
    b, c, lam, polished = _fourier_l1_polish(
        Z, s, x[:d], float(x[-1]) if k else 0.0,
        np.clip(np.asarray(solution.z)[:n], 0.0, None), rows, counts, fit_intercept,
    )
    b_norm = _norm(b, 1.0, fourier=True)
    return b / b_norm, c / b_norm, lam / max(lam.sum(), 1e-300), polished


def _fourier_l1_polish(Z, s, b, c, lam, rows, counts, fit_intercept):
    """Newton's method on the KKT system of the support that the
    interior-point solver found, with active-set corrections.

    In the orthonormal real Fourier coordinates ``v = W b`` (``W`` stacks
    ``sqrt(counts_k) rows_k``) the problem is a weighted group lasso,
    ``min sum_k sqrt(counts_k) ||v_k||`` subject to ``Z W^T v + s c >= 1``.
    On the nonzero frequencies ``S`` and active samples ``A`` its KKT
    conditions are the square system
    ``sqrt(counts_k) v_k / ||v_k|| = (W Z_A^T lam_A)_k``,
    ``s_A . lam_A = 0`` (intercept), ``Z_A W^T v + s_A c = 1``. After each
    solve, a violated margin joins ``A``, a negative multiplier leaves it and
    a frequency whose dual bound is exceeded joins ``S`` (a primal-dual
    active-set step), until every KKT condition, the inequalities included,
    holds to rounding; otherwise the interior-point solution is returned
    unchanged. Returns ``(b, c, lam, polished)``.
    """
    n = Z.shape[0]
    weights = np.sqrt(counts)
    W = np.vstack([w * R for w, R in zip(weights, rows)])
    group = np.repeat(np.arange(len(rows)), [R.shape[0] for R in rows])
    WZ = Z @ W.T  # margins in the coordinates v

    def group_norms(u):
        return np.sqrt(np.bincount(group, u * u, minlength=len(rows)))

    v, m = W @ b, Z @ b + s * c
    moduli = group_norms(v)
    dual_moduli = group_norms(W @ (Z.T @ lam))
    # The start, by the indicators of interior-point methods: at the
    # solver's stop each complementary pair has one member far smaller than
    # the other (slack against multiplier; modulus against the gap to the
    # dual bound), also where a fixed threshold on the slack alone would
    # fall between them.
    S = moduli / moduli.max() > 1.0 - dual_moduli / weights
    A = m - 1.0 < lam / max(lam.max(), np.finfo(float).tiny)
    tol = 1e-12
    for _ in range(n + len(rows) + 5):
        solved = _fourier_l1_newton(WZ, s, v, c, lam, S[group], A, weights, group,
                                    fit_intercept)
        if solved is None:
            return b, c, lam, False
        v_new, c_new, lam_new = solved
        margins = WZ @ v_new + s * c_new
        excess = group_norms(W @ (Z.T @ lam_new)) / weights - 1.0
        if margins.min() < 1.0 - tol:
            A[np.argmin(margins)] = True
        elif lam_new.min() < -tol * lam_new.max():
            A[np.argmin(lam_new)] = False
        elif excess.max() > tol:
            S[np.argmax(excess)] = True
        else:
            lam_new = np.clip(lam_new, 0.0, None)
            return W.T @ v_new, c_new, lam_new, True
    return b, c, lam, False


def _fourier_l1_newton(WZ, s, v, c, lam, cols, active, weights, group, fit_intercept):
    """Newton's method on the KKT equations of one support (see
    :func:`_fourier_l1_polish`), from ``(v, c, lam)``; None unless they then
    hold to rounding."""
    cols, A = np.flatnonzero(cols), np.flatnonzero(active)
    E = WZ[np.ix_(A, cols)]
    if fit_intercept:
        E = np.column_stack([E, s[A]])
    nv, ny = cols.size, E.shape[1]
    if nv == 0:
        return None
    # a frequency that joins the support starts at a small nonzero modulus
    start = np.where(v[cols] == 0, 1e-8, v[cols])
    x = np.concatenate([start, [c] if fit_intercept else [], lam[A]])
    blocks = [np.flatnonzero(group[cols] == k) for k in np.unique(group[cols])]
    block_weights = weights[np.unique(group[cols])]

    def kkt(x, jacobian):
        y, la = x[:ny], x[ny:]
        grad = np.zeros(ny)
        J = np.zeros((x.size, x.size)) if jacobian else None
        for j, w in zip(blocks, block_weights):
            norm_j = np.linalg.norm(y[j])
            u = y[j] / norm_j
            grad[j] = w * u
            if jacobian:
                J[np.ix_(j, j)] = w * (np.eye(j.size) - np.outer(u, u)) / norm_j
        F = np.concatenate([grad - E.T @ la, E @ y - 1.0])
        if jacobian:
            J[:ny, ny:] = -E.T
            J[ny:, :ny] = E
        return F, J

    for _ in range(50):
        F, J = kkt(x, True)
        if np.abs(F).max() <= 1e-15 * max(1.0, np.abs(x).max()):
            break
        x = x - np.linalg.lstsq(J, F, rcond=None)[0]
    if not np.abs(kkt(x, False)[0]).max() <= 1e-12 * max(1.0, np.abs(x).max()):
        return None
    v_new = np.zeros_like(v)
    v_new[cols] = x[:nv]
    lam_new = np.zeros_like(lam)
    lam_new[A] = x[ny:]
    return v_new, (float(x[nv]) if fit_intercept else 0.0), lam_new


def _fourier_dual_bound(Z, lam):
    """``||Z^T lam||`` in the dual norm of the Fourier l1 norm, the largest
    modulus of the unitary spectrum: no direction with ``||U b||_1 = 1`` has
    a larger margin when ``lam >= 0`` sums to 1 (and is orthogonal to the
    labels with an intercept)."""
    return float(np.abs(fourier_spectrum(Z.T @ lam)).max())


def max_margin(X, y, norm="l2", fit_intercept=False):
    r"""Exact max-margin direction of separable binary data.

    Solves

    .. math::

        \max_{\|\beta\|_p \le 1,\ b} \; \min_i \; z_i (x_i^\top \beta + b)

    (:math:`b = 0` unless ``fit_intercept``; the intercept is never
    penalized), the limit direction of gradient descent on linear models
    (``"l2"``), of the rich regime of diagonal networks (``"l1"``) and of
    depth-2 linear convolutional networks (``"fourier-l1"``: the norm is
    :math:`\|U \beta\|_1 = \sum_k |(U \beta)_k|`, over all :math:`d`
    frequencies of the unitary discrete Fourier transform
    :math:`(U \beta)_k = d^{-1/2} \sum_j \beta_j e^{-2 \pi i j k / d}`,
    the convention of :class:`~sklearn_implicit.ConvolutionalLinearClassifier`).

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Samples. A sparse matrix is converted to a dense array: this is a
        dense reference solver meant for small problems.
    y : array-like of shape (n_samples,)
        Binary labels; ``np.unique(y)[1]`` gives :math:`z = +1`.
    norm : {"l2", "l1", "linf", "fourier-l1"}, default="l2"
        Norm constraining the direction. ``"fourier-l1"`` needs the conic
        solver Clarabel (``pip install clarabel``, or the ``socp`` extra of
        this package).
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
    ImportError
        For ``norm="fourier-l1"`` when Clarabel is not installed.

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

    ``"fourier-l1"``: a second-order cone program. A real :math:`\beta` has a
    conjugate-symmetric spectrum, :math:`(U \beta)_{d-k} =
    \overline{(U \beta)_k}`, so the half spectrum :math:`k = 0, \dots,
    \lfloor d/2 \rfloor` holds it: one cone
    :math:`|(U \beta)_k| \le t_k` per frequency (of dimension 2 for the real
    frequencies :math:`k = 0` and, :math:`d` even, :math:`d/2`; 3 otherwise)
    and the objective :math:`\sum_k c_k t_k` with :math:`c_k = 2` for the
    frequencies that stand for a conjugate pair. It is solved by Clarabel's
    interior-point method (Goulart and Chen, 2024), a maintained conic
    solver with wheels for every platform, chosen because scipy has no
    conic solver; the solution is then polished by Newton's method on the
    KKT system of the support it identifies (active samples and nonzero
    frequencies, read from the complementary pairs of the interior point,
    then corrected by active-set steps) and kept only if every KKT
    condition then holds to rounding, which gives the certificate
    :math:`\max_k |(U Z^\top \lambda)_k| = \text{margin}` to about 1e-13 on
    small problems (within 1e-10 on every one of the test suite's varied
    problems, degenerate supports included). If the polish fails, the interior-point solution
    (margin to about 1e-8) is returned with a
    :class:`~sklearn.exceptions.ConvergenceWarning`, and another one is
    raised if the certificate's gap exceeds a relative 1e-7.

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

    In the Fourier basis: a sample made of two tones (frequencies 1 and 2 of
    ``d = 8``) and its opposite. The l2 answer is the sample itself, both
    tones; the spectrum of the Fourier-l1 answer is on the louder tone alone
    (frequency 2 and its conjugate partner 6).

    >>> j = np.arange(8)
    >>> x = np.cos(np.pi * j / 4) + 2 * np.cos(np.pi * j / 2)
    >>> res = max_margin([x, -x], [1, 0], norm="fourier-l1")
    >>> print(np.round(np.abs(np.fft.fft(res.coef, norm="ortho")), 4))
    [0.  0.  0.5 0.  0.  0.  0.5 0. ]
    """
    p, fourier = _check_norm(norm, allow_p=False)
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

    support_rtol = _SUPPORT_RTOL
    if fourier:
        coef, c, lam, polished = _fourier_l1_solve(Z, s, fit_intercept)
        if not polished:
            warnings.warn(
                "The Fourier-l1 max-margin polishing did not verify the KKT "
                "conditions; the interior-point solution is returned (its "
                "margin and support points to about 1e-8).",
                ConvergenceWarning,
                stacklevel=2,
            )
            support_rtol = _SOCP_SUPPORT_RTOL
    elif p == 2:
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
    support = np.flatnonzero(m - margin_scaled <= support_rtol * scale)
    lam[np.setdiff1d(np.arange(lam.shape[0]), support)] = 0.0
    if lam.sum() > 0:
        lam = lam / lam.sum()
    if fourier and _fourier_dual_bound(Z, lam) > (1 + _SOCP_CERTIFICATE_RTOL) * margin_scaled:
        warnings.warn(
            "The Fourier-l1 max-margin solution is not certified: its dual "
            "bound exceeds its margin by more than a relative "
            f"{_SOCP_CERTIFICATE_RTOL:g}.",
            ConvergenceWarning,
            stacklevel=2,
        )
    intercept = float(sigma * c - mu @ coef) if fit_intercept else 0.0
    return MaxMarginResult(
        coef=coef,
        intercept=intercept,
        margin=float(sigma * margin_scaled),
        support=support,
        dual_coef=lam,
    )
