"""Gradient flow of a linear network on a loss, integrated in the log-loss clock.

Nothing here knows about scikit-learn. A :class:`LinearFlow` binds a network
(see :mod:`sklearn_implicit._networks`), a loss (see
:mod:`sklearn_implicit._losses`) and a design matrix; :func:`integrate` follows
its trajectory.

The clock
---------
Gradient flow ``d state/dt = -grad L`` is integrated with ``tau = -log L`` as
the independent variable. The path is the same (only its speed changes), the
stopping rule ``L = target`` becomes the fixed end point
``tau = -log(target)``, and the speed ``d state/d tau = L v / (g . K g)`` only
needs the loss and its gradient up to a common factor, which is kept as a
logarithm. So the integrator runs to losses far below the smallest float.

Physical time is carried along as ``T = t exp(-tau)``, which stays of order
one because ``t`` grows like ``1/L``; ``log t = log T + tau``.

Accuracy
--------
Steps are taken by the Dormand-Prince 5(4) pair with a PI step-size
controller; a step is accepted when the estimated local error of every state
component, divided by the network's ``error_scale``, is at most ``tol``. For
the diagonal network the state is ``log(u / v)``, so ``tol`` is the admissible
local error in the relative size of each large coefficient. At every requested
stop the state is corrected by Newton steps along the flow so that the loss
equals the target to rounding (the remaining error is a displacement along
the path, which is what ``tol`` controls).
"""

from dataclasses import dataclass, field

import numpy as np

LN10 = np.log(10.0)

# Dormand-Prince 5(4) (Hairer, Norsett & Wanner, Solving ODEs I, II.5).
_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0])
_A = [
    np.array([]),
    np.array([1 / 5]),
    np.array([3 / 40, 9 / 40]),
    np.array([44 / 45, -56 / 15, 32 / 9]),
    np.array([19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729]),
    np.array([9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656]),
]
_B = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
_E = np.array(
    [71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40]
)
_ORDER = 5

# A flow whose log-loss grows by less than this per e-fold of training time,
# and keeps slowing down, has converged to a positive loss.
_STALL_SLOPE = 1e-7


@dataclass
class Evaluation:
    """The flow's velocity at one state, with what it costs nothing to keep."""

    dstate: np.ndarray  # d state / d tau
    log_loss: float
    log_dt_dtau: float  # log of d t / d tau (physical time per unit of clock)
    predictions: np.ndarray  # X @ beta (margins, for classification)
    coef: np.ndarray
    state: np.ndarray


@dataclass
class FlowState:
    """A point of the trajectory: enough to continue it (warm start)."""

    state: np.ndarray
    tau: float  # -log L at this point
    log_time: float  # log of the physical time t (-inf at t = 0)


@dataclass
class FlowResult:
    """What :func:`integrate` returns."""

    stops: list  # FlowState at each requested stop that was reached
    last: FlowState  # where the integration ended (== stops[-1] on success)
    log_loss: float
    coef: np.ndarray
    predictions: np.ndarray
    status: str  # "target", "stalled", "max_iter", "stationary"
    n_iter: int
    n_evals: int
    history: dict = field(default_factory=dict)


class LinearFlow:
    """Gradient flow of ``L(X @ coef(state))`` for one network and one loss.

    Parameters
    ----------
    network : Network
    loss : loss object from :mod:`sklearn_implicit._losses`
    X : ndarray or sparse matrix of shape (n_samples, n_coef)
        Design; for classification the rows are ``y_i x_i`` (margins).
    sample_weight : ndarray of shape (n_samples,)
    """

    def __init__(self, network, loss, X, sample_weight):
        self.network = network
        self.loss = loss
        self.X = X
        self.sample_weight = sample_weight
        self._log_sw_sum = np.log(sample_weight.sum())
        self.n_evals = 0

    def predictions(self, state):
        coef = self.network.coef(state)
        return coef, np.asarray(self.X @ coef).ravel()

    def log_loss(self, predictions):
        return self.loss.log_mean(predictions, self.sample_weight)

    def evaluate(self, state):
        """Velocity in the log-loss clock; ``None`` at a stationary point."""
        self.n_evals += 1
        coef, p = self.predictions(state)
        log_loss = self.log_loss(p)
        r, log_scale = self.loss.scaled_gradient(p, self.sample_weight)
        g = np.asarray(self.X.T @ r).ravel()
        g_max = np.max(np.abs(g))
        if not np.isfinite(g_max):
            raise FloatingPointError("non-finite gradient")
        if g_max == 0:
            return Evaluation(np.zeros_like(state), log_loss, np.inf, p, coef, state)
        g /= g_max
        # -grad_beta L = exp(log_g) * g
        log_g = log_scale - self._log_sw_sum + np.log(g_max)
        velocity, log_power = self.network.velocity(state, g)
        if log_power == -np.inf:
            return Evaluation(np.zeros_like(state), log_loss, np.inf, p, coef, state)
        # d state/d tau = (d state/dt) / (d tau/dt), d tau/dt = power / L
        dstate = velocity * np.exp(log_loss - log_g - log_power)
        log_dt_dtau = log_loss - 2 * log_g - log_power
        return Evaluation(dstate, log_loss, log_dt_dtau, p, coef, state)

    def may_stall(self, predictions):
        """Whether the loss may have a positive infimum (a stall is possible)."""
        stall = getattr(self.loss, "may_stall", None)
        if stall is not None:
            return stall(predictions)
        # Margin losses: once every margin is positive the data are separated
        # and the loss goes to 0 along the ray; before that it may not.
        return np.min(predictions) <= 0


def _history_record(flow, ev, tau, log_time):
    coef = ev.coef
    m = ev.predictions
    min_margin = float(np.min(m))
    l1 = np.sum(np.abs(coef))
    l2 = np.sqrt(np.sum(coef**2))
    record = {
        "log10_loss": ev.log_loss / LN10,
        "log10_time": log_time / LN10,
        "min_margin": min_margin,
        "l1_margin": min_margin / l1 if l1 > 0 else 0.0,
        "l2_margin": min_margin / l2 if l2 > 0 else 0.0,
        "n_evals": flow.n_evals,
    }
    # A network may add its own diagnostics (e.g. layer alignment); the
    # state is the one the record describes.
    diagnostics = getattr(flow.network, "diagnostics", None)
    if diagnostics is not None:
        record.update(diagnostics(ev.state))
    return record


def _stack_history(records):
    return {k: np.array([r[k] for r in records]) for k in records[0]}


def integrate(
    flow,
    start,
    stop_log_losses,
    *,
    tol,
    max_iter,
    history_every=LN10,
    verbose=0,
    label="",
    stepper=None,
):
    """Follow the flow from ``start`` through losses ``exp(stop_log_losses)``.

    Parameters
    ----------
    flow : LinearFlow
    start : FlowState
    stop_log_losses : sequence of float
        Decreasing log-losses below ``-start.tau`` at which the state is
        recorded exactly; the integration ends at the last one.
    tol : float
        Local error tolerance (see the module docstring).
    max_iter : int
        Maximum number of accepted plus rejected steps.
    history_every : float
        A history record is written at the first step end past every multiple
        of this many units of ``-log L`` (default: once per decade).
    verbose : int
        Print one line per history record when > 0.
    stepper : object, default=None
        The step method (see :class:`DormandPrince` for the contract);
        Dormand-Prince 5(4) when None.

    Returns
    -------
    FlowResult
    """
    stepper = DormandPrince() if stepper is None else stepper
    taus = [-float(s) for s in stop_log_losses]
    state = start.state.copy()
    tau = float(start.tau)
    log_time = float(start.log_time)
    # T = t exp(-tau); integrated alongside the state, excluded from the
    # error control (it is a quadrature of the same smooth path).
    T = np.exp(log_time - tau) if log_time > -np.inf else 0.0
    n_iter = 0
    stops = []
    records = []
    max_slope = 0.0

    ev = flow.evaluate(state)
    records.append(_history_record(flow, ev, tau, log_time))
    if verbose:
        _print_record(records[-1], label)
    if not np.isfinite(ev.log_dt_dtau):
        return _finish(flow, state, tau, log_time, ev, stops, "stationary", n_iter, records)
    next_record = (np.floor(tau / history_every) + 1) * history_every

    f = ev.dstate
    h = _initial_step(flow, state, f, taus[-1] - tau)
    err_prev = 1e-4
    status = "target"
    i_stop = 0
    while i_stop < len(taus):
        target_tau = taus[i_stop]
        if n_iter >= max_iter:
            status = "max_iter"
            break
        n_iter += 1
        h = min(h, target_tau - tau)
        last = h >= target_tau - tau
        trial = stepper.step(flow, state, T, tau, h, ev)
        if trial is None:
            # A stage landed on a stationary point or overflowed: shrink.
            h *= 0.25
            continue
        new_state, T_new, ev_new, err_vec = trial
        scale = flow.network.error_scale(new_state)
        err = np.max(np.abs(err_vec) / scale) / tol
        if not (np.isfinite(err) and err <= 1.0):
            h *= max(0.1, 0.9 * min(err, 1e10) ** (-1 / stepper.order)) if np.isfinite(err) else 0.25
            continue
        tau = target_tau if last else tau + h
        state, T, ev = new_state, T_new, ev_new
        log_time = np.log(T) + tau if T > 0 else log_time
        if last:
            stops.append(_stop_state(flow, state, tau, log_time))
            i_stop += 1
        if tau >= next_record or (last and i_stop == len(taus)):
            records.append(_history_record(flow, ev, tau, log_time))
            if verbose:
                _print_record(records[-1], label)
            next_record = (np.floor(tau / history_every) + 1) * history_every
        # Stall: the log-log slope d(-log L)/d(log t) = t / (dt/dtau) keeps
        # falling towards zero while some margin is not positive.
        slope = np.exp(log_time - ev.log_dt_dtau)
        max_slope = max(max_slope, slope)
        if slope < _STALL_SLOPE and slope < 0.5 * max_slope and flow.may_stall(ev.predictions):
            status = "stalled"
            break
        # PI step-size control (Gustafsson), gentle on stiffness-limited steps.
        factor = 0.9 * max(err, 1e-10) ** (-0.7 / stepper.order) * err_prev ** (
            0.4 / stepper.order
        )
        h *= min(5.0, max(0.2, factor))
        err_prev = max(err, 1e-4)
    return _finish(flow, state, tau, log_time, ev, stops, status, n_iter, records)


class DormandPrince:
    """Explicit Dormand-Prince 5(4) step with the error of the embedded pair.

    A stepper's contract with :func:`integrate`: ``order`` (of the error
    estimate, for step-size control) and ``step(flow, state, T, tau, h, ev)``
    returning ``(new_state, new_T, evaluation at new_state, error vector)`` or
    ``None`` when a stage cannot be evaluated. ``ev`` is the evaluation at
    ``state`` (first-same-as-last: the new evaluation is the next ``ev``).
    """

    order = _ORDER

    def step(self, flow, state, T, tau, h, ev):
        k = [ev.dstate]
        kT = [_dT(ev, T, tau)]
        for s in range(1, 6):
            ys = state + h * np.tensordot(_A[s], k, axes=1)
            Ts = T + h * (_A[s] @ kT)
            evs = flow.evaluate(ys)
            if not np.isfinite(evs.log_dt_dtau):
                return None
            k.append(evs.dstate)
            kT.append(_dT(evs, Ts, tau + _C[s] * h))
        new_state = state + h * np.tensordot(_B, k, axes=1)
        if not np.all(np.isfinite(new_state)):
            return None
        T_new = T + h * (_B @ kT)
        ev_new = flow.evaluate(new_state)
        if not np.isfinite(ev_new.log_dt_dtau):
            return None
        k.append(ev_new.dstate)
        return new_state, T_new, ev_new, h * np.tensordot(_E, k, axes=1)


def _dT(ev, T, tau):
    """d T / d tau for T = t exp(-tau)."""
    return np.exp(ev.log_dt_dtau - tau) - T


def _initial_step(flow, state, f, span):
    """A first step from the relative rate at which the velocity turns.

    The error scale is relative to the coefficients, which are all zero at
    initialization, so the usual estimate from the state's size is useless;
    the velocity's own rate of change gives the scale on which the path bends
    (about alpha**2 at small alpha, where the early phase is brief).
    """
    f_max = np.max(np.abs(f))
    if f_max == 0:
        return span
    probe = 1e-6 * span
    ev = flow.evaluate(state + probe * f)
    if not np.isfinite(ev.log_dt_dtau):
        return probe
    rate = np.max(np.abs(ev.dstate - f)) / f_max / probe
    return min(span, 0.01 / rate) if rate > 0 else span


def _stop_state(flow, state, tau, log_time):
    """Newton-correct ``state`` along the flow so that -log L = tau exactly."""
    # Aim a hair past the target so that the returned loss is <= target
    # despite rounding in the loss itself.
    slack = 1e-13 * max(1.0, abs(tau))
    corrected = state
    for _ in range(4):
        coef, p = flow.predictions(corrected)
        excess = -flow.log_loss(p) - tau
        if 0 <= excess <= slack:
            break
        ev = flow.evaluate(corrected)
        if not np.isfinite(ev.log_dt_dtau):
            break
        corrected = corrected - (excess - 0.5 * slack) * ev.dstate
    return FlowState(corrected.copy(), tau, log_time)


def _finish(flow, state, tau, log_time, ev, stops, status, n_iter, records):
    if status == "target" and stops:
        last = stops[-1]
        coef, p = flow.predictions(last.state)
        log_loss = flow.log_loss(p)
    else:
        last = FlowState(state.copy(), tau, log_time)
        coef, p, log_loss = ev.coef, ev.predictions, ev.log_loss
    return FlowResult(
        stops=stops,
        last=last,
        log_loss=float(log_loss),
        coef=coef,
        predictions=p,
        status=status,
        n_iter=n_iter,
        n_evals=flow.n_evals,
        history=_stack_history(records),
    )


def _print_record(rec, label):
    print(
        f"{label}log10(loss) = {rec['log10_loss']:9.3f}, log10(t) = "
        f"{rec['log10_time']:8.3f}, min margin = {rec['min_margin']:.4g}, "
        f"l1-margin = {rec['l1_margin']:.4g}, l2-margin = {rec['l2_margin']:.4g}, "
        f"gradient evaluations = {rec['n_evals']}"
    )
