"""The mirror map of the diagonal network and the dual solver of its
minimum-potential problems.

``min Q_mu(b) s.t. Z b >= c`` (the theory's prediction, :mod:`.theory`) and
``min Q_alpha(b) s.t. X b = c`` (regression, :mod:`.interpolation`) share the
potential ``Q``, its conjugate and the mirror map ``b = grad Q*(s)``
(:class:`_MirrorMap`), and a projected Newton method on the dual.
"""

import numbers
import warnings

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.optimize import linprog, minimize
from sklearn.exceptions import ConvergenceWarning

from .._config import blas_limit
from ..utils._validation import check_alpha
from .separators import _not_separable

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
