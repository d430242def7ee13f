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
written through ``log_expit`` below, with ``k = D - 2``.
"""

import numpy as np
from scipy.special import expit, log_expit

_LOG2 = np.log(2.0)
# Coefficients below this fraction of the largest are controlled in absolute
# terms (relative to the largest).
_FLOOR = 1e-3


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

    def initial_state(self):
        return np.zeros(self.n_coef)

    def log_weights(self, rho):
        """``(log u, log v)`` from ``rho`` through the conservation law."""
        depth = self.depth
        if depth == 2:
            return self.log_alpha + 0.5 * rho, self.log_alpha - 0.5 * rho
        k = depth - 2
        log_u = self.log_alpha - (_LOG2 + log_expit(-k * rho)) / k
        log_v = self.log_alpha - (_LOG2 + log_expit(k * rho)) / k
        return log_u, log_v

    def coef(self, rho):
        log_u, log_v = self.log_weights(rho)
        # u**D - v**D = sign(rho) max(u, v)**D (1 - exp(-D |rho|)): no
        # cancellation near rho = 0 and no overflow of the smaller term.
        log_big = np.maximum(log_u, log_v)
        return np.sign(rho) * np.exp(self.depth * log_big) * -np.expm1(
            -self.depth * np.abs(rho)
        )

    def _log_rates(self, rho):
        """``log a`` (d rho/dt per unit g) and ``log P`` (d beta/dt per unit g)."""
        depth = self.depth
        log_u, log_v = self.log_weights(rho)
        if depth == 2:
            log_a = np.full_like(rho, 2 * _LOG2)
        else:
            log_a = self._log_depth + np.logaddexp(
                (depth - 2) * log_u, (depth - 2) * log_v
            )
        log_p = 2 * self._log_depth + np.logaddexp(
            (2 * depth - 2) * log_u, (2 * depth - 2) * log_v
        )
        return log_a, log_p

    def log_rates_with_slopes(self, rho):
        """``log a``, ``log P`` and their derivatives ``d log a/d rho``, ``d log P/d rho``.

        For the Jacobian of the flow (:mod:`sklearn_implicit._stiff`);
        ``J = d beta/d rho = P / a``. With ``k = D - 2``,
        ``d log u/d rho = expit(k rho)`` and ``d log v/d rho = -expit(-k rho)``
        (both ``1/2`` for ``D = 2``); the slopes are weighted means of these,
        bounded by ``2 D - 2``, so nothing overflows.
        """
        depth = self.depth
        log_a, log_p = self._log_rates(rho)
        du, dv = expit((depth - 2) * rho), -expit((2 - depth) * rho)

        def slope(power):
            # d/drho log(u**power + v**power); u**power's share is
            # expit(power * log(u/v)) = expit(power * rho)
            share_u = expit(power * rho)
            return power * (share_u * du + (1 - share_u) * dv)

        dlog_a = np.zeros_like(rho) if depth == 2 else slope(depth - 2)
        return log_a, log_p, dlog_a, slope(2 * depth - 2)

    def velocity(self, rho, g):
        log_a, log_p = self._log_rates(rho)
        # sum P g**2 with P scaled by its largest entry (P may overflow).
        top = np.max(log_p)
        power = np.dot(np.exp(log_p - top), g * g)
        log_power = top + np.log(power) if power > 0 else -np.inf
        return np.exp(log_a) * g, log_power

    def error_scale(self, rho):
        # The change of rho_j that changes beta_j by its own size, or by
        # _FLOOR * max|beta| for coefficients smaller than that: errors are
        # then relative to each large coefficient (for large |rho| this is an
        # absolute error in rho, since dbeta/drho ~ D |beta|) and relative to
        # the largest one for the small coefficients. An absolute error in rho
        # alone would be blind at large alpha, where rho stays tiny.
        log_a, log_p = self._log_rates(rho)
        size = np.abs(self.coef(rho))
        floor = max(_FLOOR * np.max(size), 1e-300)
        return np.maximum(size, floor) * np.exp(log_a - log_p)
