"""Physical time along the trajectory, carried as ``T = t exp(-tau)``.

The integrator's clock is ``tau = -log L``; the time ``t`` of the gradient
flow grows like ``1/L``, so ``T = t exp(-tau)`` stays of order one and obeys
``dT/dtau = dt/dtau exp(-tau) - T``. That equation is stiff (an explicit
method on it is unstable beyond about 3 units of ``tau``), so the decay of
``T`` over a step is applied exactly and only the increment of ``t``, the
integral of ``dt/dtau`` over the step, is approximated.

The time is under the same error control as the state: every step comes
with an estimate of the error of its increment, which :func:`integrate
<sklearn_implicit._integrate.driver.integrate>` holds to ``tol``
relative to ``T`` and to the clock (``tol * max(1, tau)``, the slip along
the path that the clock check allows the state). Two estimates are
available, and the one with the smaller estimated error is used:

- the step method's own: an explicit Runge-Kutta step integrates ``t`` as
  one more component (:func:`runge_kutta_increment`, with the method's
  embedded estimators and a control variate for the exponential growth);
  the stiff steps carry ``T`` as a stage variable (:func:`dT`, with its
  exact row of the Jacobian, see :mod:`.rosenbrock`);
- a quadrature over the last accepted points of the path
  (:func:`interpolated_increment`): ``log dt/dtau`` is smooth along the path
  (late in training it grows like ``tau``), so its interpolating polynomial
  through accepted points, exponentiated and integrated, gives the increment
  without evaluations, and two degrees give the error estimate. It serves
  the long steps of the stiff phase, over which the stage variable (fed by
  ``dt/dtau`` at stage states off the path, where it varies like an
  exponential of the margins) is the poorer.

A step alone on the first part of the path (one training sample: the state
moves on a straight line and its own error estimate vanishes) gets only the
step method's estimate, which then sets the step size.
"""

import math

import numpy as np

# Gauss-Legendre rule on [0, 1]: exact for polynomials of degree 31, and for
# exp(c x) to rounding while |c| <= _PIECE_RISE (its remainder term is
# below 1e-20 relative there); a step is cut into such pieces.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_GL_X, _GL_W = 0.5 * (_GL_X + 1.0), 0.5 * _GL_W
_PIECE_RISE = 10.0


def runge_kutta_increment(h, log_rates, tau, nodes, weights, error_weights, blend,
                          previous=None):
    """Increment of ``T`` by the step's own quadrature, and its error estimate.

    ``log_rates`` holds ``log dt/dtau`` at the stages (at ``nodes``, in
    units of ``h``) and, last, at the new point. The method's quadrature
    ``h sum_s b_s dt/dtau(Y_s) exp(-tau_new)`` integrates ``t`` as one more
    component of the state, to the method's order; ``error_weights`` (one
    row per embedded estimator, combined by ``blend`` as for the state)
    estimate its error the same way.

    But ``dt/dtau`` grows nearly exponentially (like ``exp(tau)`` late in
    training), a polynomial rule is poor on an exponential over a long step,
    and its embedded estimators poorer still: over 2.3 units of the clock
    DOP853's rule is 4.1e-7 off on ``exp(tau)`` and its estimate says 1.2e-5.
    So a control variate takes the bulk: the exponential of the polynomial
    through ``log dt/dtau`` at the ends of the step and at ``previous``
    (``(tau, log dt/dtau)`` at the previous accepted point, if given), all
    points of the path, is integrated to rounding; the rule and its
    estimators apply to the rates less it only. The correction is the
    rule's error on a smooth function, of the order of the rule's error, so
    the order stays. Returns ``(increment, error)``; the error is ``inf``
    where the rates overflow (a trial step far too long).
    """
    tau_new = tau + h
    log_rates = np.asarray(log_rates)
    taus, values = [tau, tau_new], [log_rates[0], log_rates[-1]]
    for point in reversed(previous or ()):
        if point[0] < taus[0] and np.isfinite(point[1]):
            taus, values = [point[0], *taus], [point[1], *values]
    taus, values = np.array(taus), np.array(values) - tau_new
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        rates = np.exp(log_rates - tau_new)
        if tau_new > tau:
            variate = np.exp(_lagrange(taus, values, tau + h * np.append(nodes, 1.0)))
            # exact at the ends, whatever the rounding of the polynomial
            variate[0], variate[-1] = rates[0], rates[-1]
            exact = _integral_of_exp(taus, values)
        else:
            # a step below the clock's resolution: no variate to fit
            variate, exact = np.zeros_like(rates), 0.0
        s = len(weights)
        increment = h * (weights @ rates[:s]) - (h * (weights @ variate[:s]) - exact)
        rest = rates - variate
        error = blend(*(abs(h * (e @ rest)) for e in error_weights))
    if not (np.isfinite(increment) and increment >= 0 and np.isfinite(error)):
        return increment, np.inf
    return increment, error


def interpolated_increment(points, tau_new, log_rate_new):
    """Increment of ``T`` over the last step from accepted points of the path.

    ``points`` are ``(tau, log dt/dtau)`` at accepted points, oldest first,
    the last one at the start of the step. ``log dt/dtau`` is interpolated
    through these and the new point by the polynomial of the highest degree
    available (at most 3) and one degree lower; the integral of
    ``exp(p(tau) - tau_new)`` over the step is computed for both, to
    rounding. Returns ``(increment of the higher degree, |difference|)``,
    the difference being the error estimate; None with fewer than two
    points.
    """
    if len(points) < 2:
        return None
    taus = np.array([p[0] for p in points[-3:]] + [tau_new])
    values = np.array([p[1] for p in points[-3:]] + [log_rate_new]) - tau_new
    if not (np.all(np.isfinite(values)) and np.all(np.diff(taus) > 0)):
        return None
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        high = _integral_of_exp(taus, values)
        low = _integral_of_exp(taus[1:], values[1:])
    if not (np.isfinite(high) and np.isfinite(low)):
        return None
    return high, abs(high - low)


def _integral_of_exp(taus, values):
    """``integral exp(p)`` between the last two nodes, for the polynomial
    ``p`` through ``(taus, values)`` (both callers integrate over the last
    step), by Gauss-Legendre on pieces over which ``p`` (judged by its ends,
    node values) rises by at most ``_PIECE_RISE``."""
    start, end = float(taus[-2]), float(taus[-1])
    first, last = float(values[-2]), float(values[-1])
    rise = abs(last - first) if math.isfinite(first) and math.isfinite(last) else 0.0
    h = end - start
    if rise <= _PIECE_RISE:
        # (one piece, the usual case: no grid of pieces to build)
        return float(np.sum(h * _GL_W * np.exp(_lagrange(taus, values, start + h * _GL_X))))
    pieces = int(min(256, np.ceil(rise / _PIECE_RISE)))
    x = start + h * (np.arange(pieces)[:, None] + _GL_X) / pieces
    return float(np.sum((h / pieces) * _GL_W * np.exp(_lagrange(taus, values, x))))


def _lagrange(taus, values, x):
    """The polynomial through ``(taus, values)`` at ``x`` (Lagrange form).

    The ratios ``(x - tau_j) / (tau_i - tau_j)`` of all pairs of nodes are
    formed at once and multiplied along ``j`` (each is of order one, so
    their product cannot underflow where the nodes are very close, as a
    product of the differences alone did): the loop over pairs it replaces
    made a fit at 100 x 1000 from alpha = 1 6% slower (two integrals per
    step)."""
    taus = np.asarray(taus, dtype=float)
    k = taus.shape[0]
    # (the diagonals set through strided views: the masks and selections of
    # np.where were a quarter of the time quadrature's cost)
    denominators = taus[:, None] - taus[None, :]
    denominators.flat[:: k + 1] = 1.0
    ratios = (x[..., None, None] - taus) / denominators
    ratios.reshape(-1, k * k)[:, :: k + 1] = 1.0
    return ratios.prod(axis=-1) @ np.asarray(values, dtype=float)


def dT(ev, T, tau):
    """d T / d tau for T = t exp(-tau)."""
    return np.exp(ev.log_dt_dtau - tau) - T
