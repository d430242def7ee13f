"""Diagonal linear network ``beta = u**D - v**D`` in mirror-flow coordinates.

With ``u(0) = v(0) = alpha`` gradient flow conserves ``u**(2-D) + v**(2-D)``
(``u v`` for ``D = 2``), so one number per feature determines both weights.
The state used here is ``rho = log(u / v)``: it is smooth, starts at 0, grows
like ``log |beta|`` and lets every quantity be formed without cancellation,
even when ``u**(2-D)`` is within rounding of zero (a closed form in the
integrated gradient ``R`` would lose all digits there for large depths).

Derivation (see the shared notes): ``d log u/dt = D u**(D-2) g`` and
``d log v/dt = -D v**(D-2) g``, hence ``d rho/dt = D (u**(D-2) + v**(D-2)) g``,
and ``dbeta/dt = D**2 (u**(2D-2) + v**(2D-2)) g``. For ``D >= 3`` the
conservation law gives ``u**(2-D) = alpha**(2-D) (1 - tanh(k rho / 2) ...)``
written in logarithms below, with ``k = D - 2``.
"""

import math

import numpy as np
from scipy.linalg.blas import daxpy, ddot, dscal, idamax
from scipy.special import expit

_LOG2 = np.log(2.0)
_LOG4 = np.log(4.0)
# Largest |rho| for the sinh/cosh forms of depth 2 (see __init__)
_LINEAR_RHO = 700.0
# Errors are measured against this fraction of the largest coefficient, or
# against a coefficient's own size where that is larger. At 1 every
# coefficient's error is relative to the largest one (the direction of beta,
# which the fits report, moves by as much). At 1e-2 (before) the step
# sizes were set by coefficients of a few hundredths of the largest, whose
# errors barely move the direction: 1 took 27% fewer evaluations on ten
# problems at tol 1e-3, 1e-6 and 1e-8 (100 x 1,000 Gaussian, breast_cancer
# at depths 2 and 3, a 5,000 x 20 Gaussian; at the default tol 0.54 to 0.87
# times the evaluations, direction errors against a tol=1e-11 fit alike or
# at most 6 times larger, all below 3.2e-8 but the depth-3 saddle fits',
# 5.0e-6 and 8.4e-7 against 6.9e-6 and 6.1e-7), and 14% fewer on nine more
# (alpha down to 1e-6, depth 4, wine, the regressor; its coefficients'
# errors alike). (From 1e-3 to 1e-2 before, 15% fewer.) Case tol_scan's
# target at 1e-10 asks for a direction error of 1e-8 at two consecutive
# tols, and now gets it at tol 1e-6 only: there the explicit steps sit at
# their stability bound, whose error does not fall with tol (about 1e-8 at
# any tol from 3e-4 to 3e-6; 2.6e-9 to 7e-9 with the floor at 1e-2).
_FLOOR = 1.0
# At depth D >= 3 a coefficient whose relative growth lags behind the
# largest one's has its errors measured against its own size, down to this
# many times its start's scale alpha_j**D (below it the coefficient has not
# left its start, and its sign may still change). Depth 2 is a mirror flow
# of a convex loss, whose errors do not grow; deeper flows have saddles,
# where coefficients wait far below the largest while it grows, until they
# escape one after another, each at a time set by its own relative size:
# errors relative to the largest coefficient alone let a saddle amplify
# them (breast_cancer at depth 3 from alpha = 0.01, tol 1e-6: direction
# error 1.4e-5 against a tol = 1e-11 fit; 1.4e-7 this way, with 4% more
# evaluations). Why lagging coefficients, measured: on the six fits of
# depth 3 and 4 of the control case, at tol 1e-3 / 1e-6 / 1e-8 the totals
# were 30,750 / 47,386 / 113,906 evaluations (31,806 / 43,925 / 98,431
# before) with the worst errors 3.4e-4 / 9.2e-7 / 8.1e-9 (9.9e-3 / 1.4e-5 /
# 1.6e-9); the same for every coefficient 30,744 / 55,544 / 145,323, for
# those that grow faster than the largest 30,350 / 55,119 / 140,190 (worst
# errors 1.9e-4 and 4.4e-5 at tol 1e-3, alike at the others); a floor of
# alpha_j**D itself: 2.6 times the evaluations at depth 4, tol 1e-8.
_LAG_FLOOR = 10.0


class DiagonalNetwork:
    """Diagonal network of depth ``depth`` with per-coordinate scales ``alpha``.

    Parameters
    ----------
    alpha : ndarray of shape (n_coef,)
        Positive initialization scales.
    depth : int
        Depth ``D >= 2``.
    """

    def __init__(self, alpha, depth):
        self.log_alpha = np.log(np.asarray(alpha, dtype=float))
        self.depth = int(depth)
        self.n_coef = self.log_alpha.shape[0]
        self._log_depth = np.log(self.depth)
        # (alpha**2 may overflow or underflow at extreme scales: the linear
        # forms below are then not used)
        with np.errstate(over="ignore", under="ignore"):
            alpha2 = np.exp(2.0 * self.log_alpha)
        # One alpha for all features (the usual case): alpha**2 is a scalar
        # factor, applied by BLAS to beta and kept as the scale s of P.
        self._alpha2, self._four_alpha2 = alpha2, 4.0 * alpha2
        self._scalar_alpha2 = None
        if self.n_coef and np.ptp(self.log_alpha) == 0:
            self._scalar_alpha2 = float(alpha2[0])
            self._log_four_alpha2 = _LOG4 + 2.0 * float(self.log_alpha[0])
        # Depth 2 uses sinh and cosh directly while |rho| stays below this
        # bound, logarithms beyond: there P = 8 alpha**2 cosh(rho) <=
        # 8 max(alpha)**2 exp(|rho|) < 1e300 / n_coef and
        # P / (4 alpha**2) <= 2 exp(|rho|) < 1e300 / n_coef, so that P needs
        # no rescaling (the power sum_j P_j g_j**2 with |g_j| <= 1 stays
        # finite in either scale), and alpha**2 is not subnormal.
        self._linear_rho = -np.inf
        # Past this |rho| the largest coefficient, at least
        # 2 min(alpha**2) sinh(|rho|), exceeds max(alpha**2): the rounding
        # error of exp(rho) - exp(-rho), a few ulps of alpha_j**2 cosh(rho_j),
        # is then at the rounding level of the largest coefficient for every j.
        # (asinh(exp(s)) = s + log(1 + sqrt(1 + exp(-2 s))), formed in logs)
        spread = 2.0 * float(np.ptp(self.log_alpha)) if self.n_coef else 0.0
        self._exp_rho = max(1.0, spread + np.log1p(np.sqrt(1.0 + np.exp(-2.0 * spread))))
        if self.depth == 2 and np.all(alpha2 > 1e-290):
            log_room = np.log(1e300 / max(self.n_coef, 1))
            self._linear_rho = min(
                _LINEAR_RHO,
                log_room - np.log(8.0) - 2.0 * self.log_alpha.max(),
                log_room - _LOG2,
            )
        self._memo = None
        self._scale_memo = None
        with np.errstate(over="ignore", under="ignore"):
            lag_floor = np.maximum(_LAG_FLOOR * np.exp(self.depth * self.log_alpha), 1e-300)
        self._lag_floor = float(lag_floor[0]) if self._scalar_alpha2 is not None else lag_floor

    @property
    def jacobian_is_low_rank(self):
        """Whether the Jacobian of the flow has no diagonal part (see
        :mod:`sklearn_implicit._integrate.jacobian`): ``d log a/d rho = 0``, depth 2."""
        return self.depth == 2

    def initial_state(self):
        return np.zeros(self.n_coef)

    def _at(self, rho):
        """``(coef, log a, P exp(-s), s, log P or None)`` at ``rho``.

        ``a`` is ``d rho/dt`` and ``P`` is ``d beta/dt`` per unit of ``g``;
        the scale ``s`` keeps ``P exp(-s)`` finite (where ``P`` is formed
        directly: ``log(4 alpha**2)`` for one alpha, 0 for per-feature
        ones; ``max log P`` where it is formed from logarithms).
        An evaluation asks for the coefficients, then the velocity, and the
        integrator then asks for the error scale of the same state: the
        quantities of the last state are kept (states are never modified in
        place, so identity is enough).
        """
        memo = self._memo
        if memo is not None and memo[0] is rho:
            return memo[1]
        # (BLAS idamax: a fifth of the cost of abs().max() at small sizes; a
        # NaN it passes over makes the coefficients NaN below)
        top = abs(rho.item(idamax(rho))) if rho.size else 0.0
        if top < self._linear_rho:
            # beta = 2 alpha**2 sinh(rho) and P = 8 alpha**2 cosh(rho) from
            # one exponential (transcendental functions are most of the cost
            # of an evaluation at large d, the vector operations around them
            # most of it at small d), and below _linear_rho nothing overflows.
            if top < self._exp_rho:
                # With e = exp(|rho|) = 1 + m, 2 sinh |rho| = m (1 + 1/e):
                # no cancellation near rho = 0.
                m = np.expm1(np.abs(rho))
                e = m + 1.0
                inv = np.reciprocal(e)
                cosh2 = e + inv
                coef = inv + 1.0
                coef *= m
                np.copysign(coef, rho, out=coef)
            else:
                # e - 1/e cancels for small |rho_j|, to an absolute error of a
                # few ulps of alpha_j**2: with some |rho| >= _exp_rho that is
                # a few ulps of the largest coefficient (see __init__).
                # (BLAS level 1 where it can serve: at small sizes a third of
                # the cost of a NumPy operation; daxpy works in place, e - 1/e
                # rounded once as by a subtraction. cosh2 stays a NumPy add:
                # 2/e + (e - 1/e) by BLAS saved 0.3 us of 60 at 100 x 1000
                # but moved cosh2 by an ulp, and the stiff switch's trials
                # then took the 1e-300 benchmark fit from 1,341 to 1,485
                # evaluations.)
                e = np.exp(rho)
                inv = np.reciprocal(e)
                cosh2 = e + inv
                coef = daxpy(inv, e, a=-1.0)
            if self._scalar_alpha2 is None:
                coef *= self._alpha2
                cosh2 *= self._four_alpha2
                point = (coef, _LOG4, cosh2, 0.0, None)
            else:
                coef = dscal(self._scalar_alpha2, coef)
                point = (coef, _LOG4, cosh2, self._log_four_alpha2, None)
        else:
            point = self._at_in_logs(rho)
        # Shared by every caller of this state: read-only, so that no caller
        # can change what the next one gets.
        point[0].setflags(write=False)
        self._memo = (rho, point)
        return point

    def _at_in_logs(self, rho):
        """:meth:`_at` from logarithms, for any depth and any size of ``rho``.

        With ``log u - log v = rho`` every sum ``u**c + v**c`` is
        ``max(u, v)**c (1 + exp(-c |rho|))``: one exponential per sum.
        """
        depth = self.depth
        abs_rho = np.abs(rho)
        if depth == 2:
            log_big = self.log_alpha + 0.5 * abs_rho
        else:
            k = depth - 2
            # One exponential serves exp(-k |rho|) and exp(-(2 D - 2) |rho|)
            # (transcendental functions are most of the cost of these
            # quantities: this form took them from 103 to 80 us at d = 1000).
            # Underflow to 0 past |rho| = 745 is the right limit for both.
            y = np.exp(-abs_rho)
            x = y if k == 1 else y**k
            log1p_x = np.log1p(x)
            # max(log u, log v) from the conservation law: u**(-k) =
            # alpha**(-k) 2 expit(-k rho), v**(-k) = alpha**(-k) 2 expit(k rho),
            # and log expit(-k |rho|) = -k |rho| - log1p(exp(-k |rho|))
            log_big = self.log_alpha + abs_rho + (log1p_x - _LOG2) / k
        # u**D - v**D = sign(rho) max(u, v)**D (1 - exp(-D |rho|)): no
        # cancellation near rho = 0 and no overflow of the smaller term.
        decay = np.expm1(-depth * abs_rho)
        coef = np.copysign(np.exp(depth * log_big), rho) * -decay
        if depth == 2:
            log_a = _LOG4
            # 1 + exp(-2 |rho|) = 2 + expm1(-2 |rho|)
            log_p = _LOG4 + 2.0 * log_big + np.log(2.0 + decay)
        else:
            log_a = self._log_depth + k * log_big + log1p_x
            # exp(-(2 D - 2) |rho|) = (x y)**2
            xy = x * y
            log_p = (2 * self._log_depth + (2 * depth - 2) * log_big
                     + np.log1p(xy * xy))
        top = log_p.max()
        return coef, log_a, np.exp(log_p - top), top, log_p

    def coef(self, rho):
        return self._at(rho)[0]

    def log_rates(self, rho):
        """``log a`` (d rho/dt per unit g) and ``log P`` (d beta/dt per unit g)."""
        _, log_a, p_scaled, log_top, log_p = self._at(rho)
        if log_p is None:
            log_p = log_top + np.log(p_scaled)
        return np.full(rho.shape, log_a) if np.ndim(log_a) == 0 else log_a, log_p

    def log_rates_with_slopes(self, rho):
        """``log a``, ``log P`` and their derivatives ``d log a/d rho``, ``d log P/d rho``.

        For the Jacobian of the flow (:mod:`sklearn_implicit._integrate.jacobian`);
        ``J = d beta/d rho = P / a``. With ``k = D - 2``,
        ``d log u/d rho = expit(k rho)`` and ``d log v/d rho = -expit(-k rho)``
        (both ``1/2`` for ``D = 2``); the slopes are weighted means of these,
        bounded by ``2 D - 2``, so nothing overflows.
        """
        depth = self.depth
        log_a, log_p = self.log_rates(rho)
        du, dv = expit((depth - 2) * rho), -expit((2 - depth) * rho)

        def slope(power):
            # d/drho log(u**power + v**power); u**power's share is
            # expit(power * log(u/v)) = expit(power * rho)
            share_u = expit(power * rho)
            return power * (share_u * du + (1 - share_u) * dv)

        dlog_a = np.zeros_like(rho) if depth == 2 else slope(depth - 2)
        return log_a, log_p, dlog_a, slope(2 * depth - 2)

    def velocity(self, rho, g):
        _, log_a, p_scaled, log_top, _ = self._at(rho)
        power = ddot(p_scaled, g * g)
        if not power > 0:
            # zero: a stationary point; NaN: g is not finite
            return g, 0.0, -np.inf if power == 0 else np.nan
        log_power = log_top + math.log(power)
        if log_a is _LOG4:
            return g, _LOG4, log_power
        # (max propagates NaN: a state that is not finite gives a NaN speed)
        speed = log_a.max()
        return np.exp(log_a - speed) * g, speed, log_power

    def error_scale(self, rho, dstate):
        # The change of rho_j that changes beta_j by _FLOOR * max|beta| (by
        # its own size where that is larger): errors relative to the largest
        # coefficient (for large |rho| an absolute error in rho, since
        # dbeta/drho ~ D |beta|). An absolute error in rho alone would be
        # blind at large alpha, where rho stays tiny. At depth >= 3, lagging
        # coefficients against their own size (see _LAG_FLOOR).
        # (the step method and integrate both ask for the scale of a step's
        # new point: the last one is kept, as the quantities of _at)
        memo = self._scale_memo
        if memo is not None and memo[0] is rho and memo[1] is dstate:
            return memo[2]
        coef, log_a, p_scaled, log_top, log_p = self._at(rho)
        size = np.abs(coef)
        k = size.argmax()
        if log_p is None:
            rate = np.exp(log_a - log_top) / p_scaled
        else:
            rate = np.exp(log_a - log_p)
        floor = max(_FLOOR * size[k], 1e-300)
        # |beta_j| grows at the relative rate dstate_j / (rate_j beta_j) per
        # unit of tau (d beta/d rho = 1/rate > 0); compared multiplied by
        # rate_j |beta_j| (a zero coefficient: not lagging)
        lead = float(rate[k] * coef[k]) if self.depth > 2 else 0.0
        if lead != 0.0:
            lead = float(dstate[k]) / lead
            lagging = np.sign(coef) * dstate < lead * (rate * size)
            lag_floor = self._lag_floor
            lag_floor = (min(lag_floor, floor) if isinstance(lag_floor, float)
                         else np.minimum(lag_floor, floor))
            floor = np.where(lagging, lag_floor, floor)
        scale = np.maximum(size, floor) * rate
        scale.setflags(write=False)
        self._scale_memo = (rho, dstate, scale)
        return scale
