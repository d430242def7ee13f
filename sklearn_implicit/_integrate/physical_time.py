"""Physical time along the trajectory, carried as ``T = t exp(-tau)``.

The integrator's clock is ``tau = -log L``; the time ``t`` of the gradient
flow grows like ``1/L``, so ``T = t exp(-tau)`` stays of order one and obeys
``dT/dtau = dt/dtau exp(-tau) - T``. The explicit steps advance it by a
quadrature of ``dt/dtau`` over the step (:func:`advance_time`); the stiff
steps treat it as one more stage variable (:func:`dT`).
"""

import numpy as np


def advance_time(T, tau, h, log_rates, log_rate_end, weights, span, previous=None):
    """``T = t exp(-tau)`` after an explicit step, from ``log dt/dtau`` at the stages.

    ``dT/dtau = dt/dtau exp(-tau) - T`` is stiff: the explicit method on it is
    unstable beyond about 3 units of ``tau`` and already 0.2% wrong per step at
    1.2, a typical late step (it put ``log10_time_`` off by up to 140 decades
    at a loss of 1e-300). The decay of ``T`` is therefore exact, and the
    increment of ``t`` is the method's quadrature of ``dt/dtau`` (Lawson's
    form; relative error below about 1e-5 while ``log dt/dtau`` changes by
    less than ``span`` over the step, 4 for DOP853). Over longer steps ``dt/dtau`` grows
    exponentially (like ``exp(tau)``) and ``log dt/dtau`` is interpolated
    instead: by the parabola through the ends and ``previous`` (``(tau,
    log dt/dtau)`` at the start of the previous step; see
    :func:`piecewise_log_mean`), or linearly between the ends (the
    logarithmic mean) when there is none.
    """
    tau_new = tau + h
    change = log_rate_end - log_rates[0]
    # Overflow only happens on trial steps far too long, which are rejected;
    # division by zero on steps of 1e-160 and below (tiny alpha at depth
    # >= 3, where the loss barely moves at first), whose parabola is then not
    # finite and falls back to the logarithmic mean.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        dT = h * (weights @ np.exp(log_rates - tau_new)) if abs(change) <= span else -1.0
        if not (np.isfinite(dT) and dT > 0) and previous is not None:
            dT = piecewise_log_mean(tau, h, log_rates[0], log_rate_end, previous)
        if not (np.isfinite(dT) and dT > 0):
            ends = np.exp(np.array([log_rates[0], log_rate_end]) - tau_new)
            dT = h * (ends[1] - ends[0]) / change if change != 0 else h * ends[0]
    return T * np.exp(-h) + dT


def piecewise_log_mean(tau, h, log_rate, log_rate_end, previous, pieces=16):
    """``integral of exp(log dt/dtau - tau - h)`` over the step, from a parabola.

    ``log dt/dtau`` is nearly linear in ``tau`` late in training (it grows
    like ``tau``), but its small curvature, over the long steps of a
    high-order method, makes the logarithmic mean of the end points off by
    up to 1e-3 relative (14 units of ``tau``, a loss of 1e-50). The parabola
    through the previous accepted point and the two ends of the step is
    summed as ``pieces`` logarithmic means (exact for piecewise linear).
    """
    tau_prev, log_rate_prev = previous
    back = tau - tau_prev
    v0, v1, v2 = np.array([log_rate_prev, log_rate, log_rate_end]) - (tau + h)
    if not (back > 0 and h > 0 and np.isfinite([v0, v1, v2]).all()):
        return np.nan
    # Lagrange form of the parabola through (-back, v0), (0, v1), (h, v2)
    x = np.linspace(0.0, h, pieces + 1)
    values = (v0 * x * (x - h) / (back * (back + h))
              - v1 * (x + back) * (x - h) / (back * h)
              + v2 * x * (x + back) / (h * (h + back)))
    # the ends are exact, whatever the rounding
    values[0], values[-1] = v1, v2
    rise = np.diff(values)
    small = np.abs(rise) < 1e-8
    # exp(a) expm1(d) / d per piece, 1 + d/2 where d is tiny
    factor = np.where(small, 1.0 + 0.5 * rise, np.expm1(rise) / np.where(small, 1.0, rise))
    return float(np.sum((h / pieces) * np.exp(values[:-1]) * factor))


def dT(ev, T, tau):
    """d T / d tau for T = t exp(-tau)."""
    return np.exp(ev.log_dt_dtau - tau) - T
