"""The mirror map of the diagonal network and the dual solvers of its
minimum-potential problems.

``min Q_mu(b) s.t. Z b >= c`` (the theory's prediction, :mod:`.theory`) and
``min Q_alpha(b) s.t. X b = c`` (regression, :mod:`.interpolation`) share the
potential ``Q``, its conjugate and the mirror map ``b = grad Q*(s)``
(:class:`_MirrorMap`) and the dual function (:func:`_dual_problem`). The
inequality-constrained problem is solved here (:func:`_solve`): a
primal-dual interior-point method on the dual identifies the support, and
Newton's method on the support makes the KKT conditions hold to ``tol``.
"""

import numbers

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.optimize import linprog

from .._config import blas_limit
from ..utils._validation import check_alpha
from .separators import _not_separable

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
        else:
            self.log_kappa = (1.0 - 2.0 / depth) * self.log_mu
            self.bound = np.exp(-self.log_kappa)  # |s| < bound: |theta| < 1

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
        moving = ds != 0
        room = np.where(ds > 0, self.bound - s, -self.bound - s)[moving] / ds[moving]
        return min(1.0, 0.95 * float(np.min(room)))

    def __call__(self, s):
        """``(sum Q*(s), B(s), B'(s))``, with ``Q* = inf`` off the domain."""
        t = np.abs(s)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            inside = t < self.bound
            f0, f1, f2 = self._exact(np.where(inside, t, 0.0))
            if not inside.all():
                return np.inf, np.sign(s) * f1, f2
            return np.sum(f0), np.sign(s) * f1, f2


_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's splitting of a float64


def _split(a):
    """``a = hi + lo`` with ``hi`` of 26 significant bits (exact products)."""
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


class _CompensatedProduct:
    """``A @ x`` as accurate as if computed in twice the working precision.

    Dot2 of Ogita, Rump and Oishi (2005): every product is made exact by
    Dekker's splitting and the sums are compensated (TwoSum, pairwise). The
    dual of a nearly degenerate problem has multipliers far larger than
    ``s = Z^T lambda`` (``1 / margin`` times larger), and a margin ``Z b`` far
    smaller than ``|Z| |b|``: plain products then lose to rounding what the
    KKT conditions test (``1e-9`` on standardized breast_cancer, which also
    made the result depend on the summation order of the BLAS).
    """

    def __init__(self, A):
        self.A = np.ascontiguousarray(A, dtype=float)
        self.hi, self.lo = _split(self.A)
        # Rows per block: bounds the temporaries to about 2**18 entries.
        self.block = max(1, 2**18 // max(self.A.shape[1], 1))

    def __call__(self, x):
        if not np.all(np.abs(x) < 1e290):  # the splitting would overflow
            with np.errstate(over="ignore", invalid="ignore"):
                return self.A @ x
        x_hi, x_lo = _split(x)
        out = np.empty(self.A.shape[0])
        for start in range(0, self.A.shape[0], self.block):
            rows = slice(start, start + self.block)
            A, hi, lo = self.A[rows], self.hi[rows], self.lo[rows]
            p = A * x
            e = lo * x_lo - (((p - hi * x_hi) - lo * x_hi) - hi * x_lo)
            while p.shape[1] > 1:
                if p.shape[1] % 2:
                    p, e = p.copy(), e.copy()
                    p[:, 0], err = _two_sum(p[:, 0], p[:, -1])
                    e[:, 0] += e[:, -1] + err
                    p, e = p[:, :-1], e[:, :-1]
                half = p.shape[1] // 2
                p, err = _two_sum(p[:, :half], p[:, half:])
                e = e[:, :half] + e[:, half:] + err
            out[rows] = p[:, 0] + e[:, 0] if p.shape[1] else 0.0
        return out


def _two_sum(a, b):
    """``a + b = s + err`` exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _dual_problem(Zs, c, mirror, compensated=False):
    """``phi(lambda) = Q*(Z^T lambda) - c . lambda`` with gradient and Hessian
    pieces: returns a function of ``lam`` giving ``(phi, Z b - c, b, B')``.

    ``compensated`` computes ``s = Z^T lambda`` and ``Z b - c`` with
    :class:`_CompensatedProduct`; ``lambda`` may then be given in
    double-double, ``evaluate(lam, lam_lo)``.
    """
    if compensated:
        s_of = _CompensatedProduct(Zs.T)
        residual = _CompensatedProduct(np.column_stack([Zs, c]))
    else:
        s_of = Zs.T.__matmul__

        def residual(bc):
            return Zs @ bc[:-1] - c

    def evaluate(lam, lam_lo=None):
        # lam_lo: the low part of lambda in double-double (lam + lam_lo).
        s = s_of(lam) if lam_lo is None else s_of(lam) + Zs.T @ lam_lo
        value, b, db = mirror(s)
        if not np.isfinite(value):
            return np.inf, None, b, db
        return value - c @ lam, residual(np.append(b, -1.0)), b, db

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


def _spd_solver(K):
    """A solver of ``K x = rhs`` (``rhs`` a vector or columns) for a symmetric
    positive semi-definite ``K`` (overwritten); a singular ``K`` gets
    least-squares solutions of the diagonally scaled system."""
    try:
        factor = cho_factor(K, overwrite_a=True, check_finite=False)
    except LinAlgError:
        scale = 1.0 / np.sqrt(np.maximum(np.diag(K), 1e-300))
        Ks = scale[:, None] * K * scale

        def solve(rhs):
            sc = scale if rhs.ndim == 1 else scale[:, None]
            return sc * np.linalg.lstsq(Ks, sc * rhs, rcond=1e-14)[0]

        return solve
    return lambda rhs: cho_solve(factor, rhs, check_finite=False)


def _barrier_solver(Zs, db, lam, w):
    """A solver of ``K x = rhs``, ``K = A A^T + diag(D)``, ``A = Z diag(B')**0.5``,
    ``D = w / lam``.

    With ``n <= d`` the samples' system is factored as it is. Otherwise the
    rows where ``D`` dominates (``N``: points away from the support) are
    eliminated by the Woodbury identity, accurate there, which leaves
    ``(A_S W A_S^T + D_S) x_S = rhs_S - A_S W A_N^T (rhs_N / D_N)`` on the
    others with ``W = (I + A_N^T D_N^{-1} A_N)^{-1}`` (``d x d``). The
    identity applied to all rows would subtract nearly equal huge terms
    where ``D`` is tiny (the support near the solution) and lose the step.
    """
    A = Zs * np.sqrt(db)
    diag = w / lam
    if A.shape[0] <= A.shape[1]:
        K = A @ A.T
        K[np.diag_indices_from(K)] += diag
        return _spd_solver(K)
    far = diag >= np.einsum("ij,ij->i", A, A)
    A_n, d_n, A_s, d_s = A[far], diag[far], A[~far], diag[~far]
    G = A_n.T @ (A_n / d_n[:, None])
    G[np.diag_indices_from(G)] += 1.0
    solve_w = _spd_solver(G)
    if A_s.shape[0]:
        AW = solve_w(A_s.T).T
        K = AW @ A_s.T
        K[np.diag_indices_from(K)] += d_s
        solve_s = _spd_solver(K)

    def solve(rhs):
        x = np.empty_like(rhs)
        u = A_n.T @ (rhs[far] / d_n)
        if A_s.shape[0]:
            x_s = solve_s(rhs[~far] - AW @ u)
            x[~far] = x_s
            v = rhs[far] - A_n @ (A_s.T @ x_s)
        else:
            v = rhs[far]
        x[far] = (v - A_n @ solve_w(A_n.T @ (v / d_n))) / d_n
        return x

    return solve


def _fraction_to_boundary(x, dx, fraction=0.995):
    """The largest step ``<= 1`` keeping ``x + t dx`` above ``(1 - fraction) x``."""
    shrink = dx < 0
    if not shrink.any():
        return 1.0
    return min(1.0, fraction * float(np.min(-x[shrink] / dx[shrink])))


def _support_newton(evaluate, mirror, Zs, c, lam, active, tol, max_iter):
    """Newton's method on ``Z_S b(lambda_S) = c_S`` with ``lambda = 0`` off
    the support ``S``, from the interior-point iterate ``lam``.

    Returns ``(lam, b, err, n_iter)``; gives up (``err > tol``) as soon as a
    step fails to shrink the KKT error by a factor 4 (a wrong support, or
    ``lam`` too far for Newton's method) unless it reaches ``tol``, and
    drops from ``S`` the points whose multiplier a step would make
    negative. With more points than features in ``S`` the multipliers are
    not unique and the steps are least-squares solutions. Once below
    ``tol`` it takes one more step, kept if it helps, for a margin to
    rounding. ``lambda`` is carried in
    double-double: on nearly degenerate data one unit in the last place of
    ``lambda`` moves the margins by more than ``tol``.
    """
    if not np.any(active):
        return lam, None, np.inf, 0
    lam = np.where(active, lam, 0.0)
    lam_lo = np.zeros_like(lam)
    done = False
    value, grad, b, db = evaluate(lam)
    if not np.isfinite(value):
        return lam, b, np.inf, 0
    err = _kkt_error(lam, grad, c)
    for n_iter in range(max_iter):
        if err <= tol and (err <= 1e-3 * tol or done):
            return lam, b, err, n_iter
        done = err <= tol
        idx = np.flatnonzero(lam > 0)
        A = Zs[idx] * np.sqrt(db)
        step = _spd_solver(A @ A.T)(-grad[idx])
        t = mirror.max_step(Zs.T @ lam, Zs[idx].T @ step)
        hi, lo = _two_sum(lam[idx], t * step)
        hi, lo = _two_sum(hi, lo + lam_lo[idx])
        trial, trial_lo = lam.copy(), lam_lo.copy()
        keep = hi > 0
        trial[idx], trial_lo[idx] = np.where(keep, hi, 0.0), np.where(keep, lo, 0.0)
        new = evaluate(trial, trial_lo)
        if not np.isfinite(new[0]):
            return lam, b, err, n_iter + 1
        new_err = _kkt_error(trial, new[1], c)
        # A step that reaches tol is kept although it shrank the error less:
        # near tol rounding slows the contraction (numpy 1.24 on breast_cancer,
        # depth 3, mu = 1e-3: 1.4e-8 -> 1.53e-10 -> 5.9e-11, with tol = 1e-10).
        if not (new_err <= 0.25 * err or new_err <= tol < err):
            return lam, b, err, n_iter + 1
        lam, lam_lo, err = trial, trial_lo, new_err
        _, grad, b, db = new
    return lam, b, err, max_iter


def _interior_point(evaluate, mirror, Zs, c, lam, tau, tol, max_iter):
    """``min phi(lambda) s.t. lambda >= 0`` from ``lam > 0`` in the domain.

    A primal-dual barrier method: with ``w`` the multipliers of ``lambda >=
    0`` (estimates of the slacks ``Z b - c``), Newton steps on ``Z b - c = w``,
    ``lambda w = tau`` with a backtracking search on ``phi - tau sum log
    lambda`` and the fraction-to-boundary rule, and ``tau`` lowered each time
    its subproblem is solved (the monotone rule of Ipopt; Waechter and
    Biegler, 2006). ``tau`` starts at the given value, ``w`` at ``tau /
    lam``. The path needs no unique multipliers: it converges to the
    analytic centre of the optimal ones, where the support shows as
    ``lambda_i > w_i``. From ``tau <= 1e-6 max(lambda) max(c)`` on, that
    support is handed to :func:`_support_newton` whenever it changes (or the
    iterate comes much closer); it finishes in a few steps once the support
    is right.

    Returns ``(lam, b, err, n_iter)``, the best point found; it stops early
    when the line search fails or, late on the path, 50 iterations pass
    without halving the KKT error (rounding then dominates the steps).
    """
    cs = np.abs(c).max()
    value, grad, b, db = evaluate(lam)
    w = tau / lam
    n_iter = 0
    err = _kkt_error(lam, grad, c)
    best = (lam, b, err)
    tried, tried_err = None, np.inf
    progress_err, progress_at = err, 0
    while n_iter < max_iter and n_iter - progress_at <= 50:
        unit = lam.max() * cs
        tau_min = 1e-3 * min(tol, 1e-10) * unit
        if tau <= 1e-6 * unit or err <= tol:
            # Late on the path: try the support whenever it changes or the
            # iterate has come much closer since the last try.
            support = lam > w
            if not np.array_equal(support, tried) or err <= 1e-2 * tried_err:
                tried, tried_err = support, err
                lam_s, b_s, err_s, k = _support_newton(
                    evaluate, mirror, Zs, c, lam, support, tol, max_iter - n_iter
                )
                n_iter += k
                if err_s <= tol:
                    return lam_s, b_s, err_s, n_iter
                if err_s < best[2]:
                    best = (lam_s, b_s, err_s)
            if err <= tol:
                # No clear-cut support: the interior point itself satisfies
                # the KKT conditions.
                return lam, b, err, n_iter
        residual = max(
            np.max(np.abs(grad - w)) / cs, np.max(np.abs(lam * w - tau)) / unit
        )
        if residual <= 10.0 * tau / unit and tau > tau_min:
            tau = max(min(0.2 * tau, (tau / unit) ** 1.5 * unit), tau_min)
        rhs = tau / lam - grad
        dl = _barrier_solver(Zs, db, lam, w)(rhs)
        dw = tau / lam - w - (w / lam) * dl
        s = Zs.T @ lam
        t = min(_fraction_to_boundary(lam, dl), mirror.max_step(s, Zs.T @ dl))
        t_w = _fraction_to_boundary(w, dw)
        merit = value - tau * np.sum(np.log(lam))
        slope = -(rhs @ dl)
        full = t
        for _ in range(60):
            trial = lam + t * dl
            new = evaluate(trial)
            if np.isfinite(new[0]):
                new_merit = new[0] - tau * np.sum(np.log(trial))
                if new_merit <= merit + _ARMIJO * t * slope:
                    break
                # Below the rounding of the merit function: take the full
                # step when it shrinks the gradient of the merit function.
                if abs(t * slope) <= 1e-13 * (abs(merit) + 1.0) and t == full:
                    if np.max(np.abs(new[1] - tau / trial)) < np.max(np.abs(rhs)):
                        break
            t *= 0.5
        else:
            break
        n_iter += 1
        lam = trial
        value, grad, b, db = new
        w = np.clip(w + t_w * dw, tau / (1e10 * lam), 1e10 * tau / lam)
        err = _kkt_error(lam, grad, c)
        if err < best[2]:
            best = (lam, b, err)
        if err <= 0.5 * progress_err or tau > 1e-6 * unit:
            progress_err, progress_at = err, n_iter
    return (*best, n_iter)


def _solve(Z, c, mu, depth, tol, max_iter):
    """``argmin Q_mu(b) s.t. Z b >= c`` (dense ``Z``, ``c > 0``).

    Returns ``(b, lam, kkt_error, n_iter)`` with ``grad Q_mu(b) = Z^T lam``;
    the caller warns when ``kkt_error > tol``.
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
    feasible = linprog(np.zeros(d), A_ub=-Zs, b_ub=-c, bounds=(None, None))
    if feasible.status == 2:
        raise _not_separable(False)
    mirror = _MirrorMap(sigma * mu, depth)
    evaluate = _dual_problem(Zs, c, mirror, compensated=True)
    # The barrier starts at the scale of the duality gap, unknown a priori
    # (the multipliers grow like 1 / margin on nearly degenerate data): n tau
    # = |b0| . slope >= b0 . grad Q(b0) >= Q(b0) >= Q(b*) at the LP's
    # feasible point b0, with slope = |grad Q(b0)| (depth 2) or its bound
    # 1 / kappa; lambda = tau / max(c) is then of the optimal multipliers'
    # order or above, and w = tau / lambda centres the start.
    b0 = np.abs(feasible.x) if feasible.status == 0 else np.ones(d)
    if depth == 2:
        slope = np.arcsinh(b0 / (2.0 * np.exp(mirror.log_mu)))
    else:
        slope = mirror.bound
    tau = max(b0 @ slope, 1e-300) / n
    lam = np.full(n, tau / np.abs(c).max())
    # |s| = |Z^T lambda| no larger than the bound of grad Q above: half of
    # it for depth >= 3 (inside the domain |s| < bound, away from the pole);
    # all of it for depth 2, whose mirror map climbs from B(0) to b* only
    # by exp(|s|), about log(b* / mu) (20 at most per step), at tiny mu.
    top = np.max(np.abs(Zs.T @ lam) / (0.5 * slope if depth > 2 else slope.max()))
    if top > 1.0:
        lam /= top
    with blas_limit(1):
        # Small dense products: BLAS threads only add synchronization (20
        # times slower with two threads on a loaded machine).
        lam, b, err, n_iter = _interior_point(
            evaluate, mirror, Zs, c, lam, tau, tol, max_iter
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
