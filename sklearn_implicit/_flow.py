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
Explicit steps are taken by DOP853 (Dormand and Prince's 8th-order method with
Hairer's error estimators) with a PI step-size controller; a step is accepted
when the estimated local error of every state component, divided by the
network's ``error_scale``, is at most ``tol``. For the diagonal network the
state is ``log(u / v)``, so ``tol`` is the admissible local error in the
relative size of each large coefficient. Where the flow is stiff the
steps are also held to 0.8 of DOP853's stability limit in ``h |lambda|``
(Hairer's estimate from two stages): from 0.83 on, its error estimate no
longer bounds the error of decaying modes (:class:`DormandPrince853`). At
every requested stop the state is corrected by Newton steps along the flow
so that the loss equals the target to rounding (the remaining error is a
displacement along the path, which is what ``tol`` controls).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dnrm2, dscal, idamax
from scipy.optimize import linprog

from . import _dop853

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

# Local error estimates below this fraction of tol are taken as rounding.
_ROUNDING_ERR = 1e-6

# A flow whose log-loss grows by less than this per e-fold of training time,
# and keeps slowing down, has converged to a positive loss.
_STALL_SLOPE = 1e-7

# Largest argument of exp that gives a finite float
_LOG_MAX = np.log(np.finfo(float).max)


@dataclass
class Evaluation:
    """The flow's velocity at one state, with what it costs nothing to keep."""

    dstate: np.ndarray  # d state / d tau
    log_loss: float
    # log of d t / d tau (physical time per unit of clock), t counted in units
    # of exp(flow.log_time_unit); NaN where the state overflows
    log_dt_dtau: float
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
    status: str  # "target", "stalled", "max_iter", "stationary", "converged"
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
        # log of the unit in which evaluations measure physical time (set by
        # integrate): t itself spans about 1e-450 to 1e450 over the accepted
        # scales of X and alpha, so it is counted in a problem-sized unit.
        self.log_time_unit = 0.0
        self._separable = None  # found when a stall is suspected
        self._loss_and_gradient = getattr(
            loss, "log_mean_and_scaled_gradient", self._separate_loss_and_gradient
        )
        # A dense X gives 1-d products as they are; the others (sparse,
        # np.matrix) are passed through asarray/ravel.
        self._dense = isinstance(X, np.ndarray) and not isinstance(X, np.matrix)
        self._XT = X.T

    def product(self, coef):
        """``X @ coef``: with :meth:`transpose_product`, the only use of ``X``
        in an evaluation (a batch of flows serves both from stacked columns,
        see :mod:`sklearn_implicit._batch`)."""
        out = self.X @ coef
        return out if self._dense else np.asarray(out).ravel()

    def transpose_product(self, r):
        """``X.T @ r``."""
        out = self._XT @ r
        return out if self._dense else np.asarray(out).ravel()

    def predictions(self, state):
        coef = self.network.coef(state)
        return coef, self.product(coef)

    def log_loss(self, predictions):
        return self.loss.log_mean(predictions, self.sample_weight)

    def evaluate(self, state):
        """Velocity in the log-loss clock.

        ``log_dt_dtau`` is ``+inf`` at a stationary point (zero velocity) and
        NaN where the state cannot be evaluated because its coefficients or
        gradient overflow (a trial step went too far); steppers reject such
        a step. That overflow is no news to the user: callers hold
        ``np.errstate(over="ignore", invalid="ignore")``, as :func:`integrate`
        does for its whole run (once per run, not per evaluation: entering
        an errstate costs as much as two vector operations at small sizes).
        """
        self.n_evals += 1
        coef, p = self.predictions(state)
        log_loss, r, log_scale = self._loss_and_gradient(p, self.sample_weight)
        g = self.transpose_product(r)
        # BLAS level 1 (idamax, dscal) for the vector work on g: at small
        # sizes the call overhead of NumPy's operations is a visible part of
        # an evaluation, and these cost a fifth of it. A NaN in g that
        # idamax passes over makes the power below NaN.
        g_max = abs(g.item(idamax(g)))
        # log_loss = -inf is a loss of exactly 0: a stationary point, below.
        if not (math.isfinite(g_max) and log_loss < np.inf):
            return Evaluation(np.zeros_like(state), np.nan, np.nan, p, coef, state)
        if g_max == 0:
            return Evaluation(np.zeros_like(state), log_loss, np.inf, p, coef, state)
        g = dscal(1.0 / g_max, g)
        # -grad_beta L = exp(log_g) * g
        log_g = log_scale - self._log_sw_sum + math.log(g_max)
        direction, log_speed, log_power = self.network.velocity(state, g)
        if log_power == -np.inf:
            return Evaluation(np.zeros_like(state), log_loss, np.inf, p, coef, state)
        # d state/d tau = (d state/dt) / (d tau/dt), d tau/dt = power / L;
        # too large only at a trial state far too far (NaN: rejected).
        log_factor = log_speed + log_loss - log_g - log_power
        if not log_factor < _LOG_MAX:
            return Evaluation(np.zeros_like(state), log_loss, np.nan, p, coef, state)
        dstate = dscal(math.exp(log_factor), direction)
        log_dt_dtau = log_loss - 2 * log_g - log_power - self.log_time_unit
        return Evaluation(dstate, log_loss, log_dt_dtau, p, coef, state)

    def _separate_loss_and_gradient(self, p, sample_weight):
        return (self.loss.log_mean(p, sample_weight),
                *self.loss.scaled_gradient(p, sample_weight))

    def may_stall(self, predictions):
        """Whether the loss may have a positive infimum (a stall is possible)."""
        stall = getattr(self.loss, "may_stall", None)
        if stall is not None:
            return stall(predictions)
        # Margin losses: once every margin is positive the data are separated
        # and the loss goes to 0 along the ray. Before that, a slow phase (the
        # escape from the saddle at 0 with tiny features or a tiny alpha, over
        # many decades of time) looks like a stall; only data that no linear
        # function separates can stall. A linear program says which.
        if np.min(predictions) > 0:
            return False
        # Undecided (the solver gave up) counts as separable: the flow then
        # runs on to max_iter, whose warning makes no claim about the data.
        if self._separable is None:
            self._separable = linearly_separable(self.X) is not False
        return not self._separable


def linearly_separable(Z):
    """Whether some ``b`` has ``Z @ b > 0`` in every row; None if undecided.

    Strict separability does not change when rows or columns are scaled by
    positive factors, so both are scaled to a largest entry of 1 (features
    of 1e-150 or 1e150 are then no harder than others), and the linear
    program ``Z b >= 1`` (b free) is solved by HiGHS.
    """
    Z = sp.csr_matrix(Z, dtype=float) if sp.issparse(Z) else np.asarray(Z, dtype=float)
    n, d = Z.shape
    if n == 0:
        return True
    rows = _max_abs(Z, axis=1)
    if np.any(rows == 0):
        return False  # a zero row has margin 0 for every b
    Z = sp.diags(1.0 / rows) @ Z if sp.issparse(Z) else Z / rows[:, None]
    cols = _max_abs(Z, axis=0)
    cols[cols == 0] = 1.0
    A = -(Z @ sp.diags(1.0 / cols)) if sp.issparse(Z) else -(Z / cols)
    res = linprog(np.zeros(d), A_ub=A, b_ub=-np.ones(n), bounds=(None, None),
                  method="highs")
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    return None


def _max_abs(Z, axis):
    top = abs(Z).max(axis=axis)
    return np.asarray(top.todense() if sp.issparse(top) else top, dtype=float).ravel()


def _margin_fields(m, coef):
    min_margin = float(np.min(m))
    l1 = np.sum(np.abs(coef))
    l2 = np.sqrt(np.sum(coef**2))
    return {
        "min_margin": min_margin,
        "l1_margin": min_margin / l1 if l1 > 0 else 0.0,
        "l2_margin": min_margin / l2 if l2 > 0 else 0.0,
    }


def _history_record(flow, ev, tau, log_time):
    # A loss that is not a margin loss (the squared loss) says what to record
    # in place of the margins.
    fields = getattr(flow.loss, "diagnostics", _margin_fields)
    record = {
        "log10_loss": ev.log_loss / LN10,
        "log10_time": log_time / LN10,
        **fields(ev.predictions, ev.coef),
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


# Overflow at a trial state only means that the step went too far: it is
# reported through NaN (see LinearFlow.evaluate), not as a RuntimeWarning.
@np.errstate(over="ignore", invalid="ignore")
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
        recorded exactly; the integration ends at the last one. A last entry
        ``-inf`` (a loss that vanishes at its minimum) runs until the flow has
        converged: status ``'converged'`` once the estimated remaining change
        of the coefficients is below ``tol`` relative to their norm.
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
        The step method (see :class:`ExplicitRungeKutta` for the contract);
        :class:`DormandPrince853` when None.

    Returns
    -------
    FlowResult
    """
    stepper = DormandPrince853() if stepper is None else stepper
    clock_check = getattr(flow.loss, "log_mean_is_exact", False)
    taus = [-float(s) for s in stop_log_losses]
    stepper.horizon = taus[-1]
    state = start.state.copy()
    tau = float(start.tau)
    log_time = float(start.log_time)
    n_iter = 0
    stops = []
    records = []
    max_slope = 0.0

    ev = flow.evaluate(state)
    if np.isnan(ev.log_dt_dtau):
        raise FloatingPointError(
            "The loss or its gradient overflows at the starting point of the "
            "flow: the data are too large, or alpha too small for this depth "
            "(the first steps of the flow would overflow); rescale X or raise "
            "alpha."
        )
    if np.isfinite(ev.log_dt_dtau):
        # Count time in units of the initial dt/dtau, so that T below starts
        # of order one whatever the scales of X and alpha.
        shift = ev.log_dt_dtau - tau
        flow.log_time_unit += shift
        ev.log_dt_dtau -= shift
    unit = flow.log_time_unit
    # T = t exp(-tau) (t in that unit); integrated alongside the state,
    # excluded from the error control (a quadrature of the same smooth path).
    T = np.exp(log_time - unit - tau) if log_time > -np.inf else 0.0
    records.append(_history_record(flow, ev, tau, log_time))
    if verbose:
        _print_record(records[-1], label)
    if not np.isfinite(ev.log_dt_dtau):
        return _finish(flow, state, tau, log_time, ev, stops, "stationary", n_iter, records)
    next_record = (np.floor(tau / history_every) + 1) * history_every

    f = ev.dstate
    # A last stop at L = 0 (tau = inf) means: until the flow has converged.
    converge = taus[-1] == np.inf
    h = _initial_step(flow, state, f, 1.0 if converge else taus[-1] - tau)
    err_prev = 1e-4
    status = "target"
    i_stop = 0
    while i_stop < len(taus):
        target_tau = taus[i_stop]
        if n_iter >= max_iter:
            status = "max_iter"
            break
        n_iter += 1
        h_free = h
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
        # On the exact path -log L equals the clock. The change of their gap
        # over the step is a local error along the path that needs no error
        # scale from the network (the network's scale can be blind to it, as
        # for wide layers at a large alpha): at most tol relative to the
        # clock, i.e. to the size of the margins late in training.
        # Only a loss whose log is exact at every scale can serve (the
        # squared loss of a residual reaches its rounding floor first).
        tau_end = target_tau if last else tau + h
        if clock_check:
            drift = (-ev_new.log_loss - tau_end) - (-ev.log_loss - tau)
            err = max(err, abs(drift) / (tol * max(1.0, abs(tau_end))))
        # Gradient flow never raises the loss. The error estimate can miss a
        # step that does when the columns of X differ in scale by many orders
        # (it measures coefficients, not margins); such a step is rejected.
        if ev_new.log_loss > ev.log_loss + 1e-12 * max(1.0, abs(ev.log_loss)):
            err = np.inf
        if not (np.isfinite(err) and err <= 1.0):
            h *= max(0.1, 0.9 * min(err, 1e10) ** (-1 / stepper.order)) if np.isfinite(err) else 0.25
            continue
        tau_new = tau_end
        log_time_new = np.log(T_new) + tau_new + unit if T_new > 0 else log_time
        stop = _stop_state(flow, new_state, tau_new, log_time_new) if last else None
        if last and stop is None:
            # The loss cannot be put on the target from there: the step went
            # astray although its error estimate passed.
            h *= 0.25
            continue
        tau = tau_new
        moved = ev_new.coef - ev.coef
        state, T, ev = new_state, T_new, ev_new
        log_time = log_time_new
        if last:
            stops.append(stop)
            i_stop += 1
        if tau >= next_record or (last and i_stop == len(taus)):
            # A stop is recorded where it is returned, after its correction.
            at = _point(flow, stop.state) if last else ev
            records.append(_history_record(flow, at, tau, log_time))
            if verbose:
                _print_record(records[-1], label)
            next_record = (np.floor(tau / history_every) + 1) * history_every
        # Stall: the log-log slope d(-log L)/d(log t) = t / (dt/dtau) keeps
        # falling towards zero while some margin is not positive.
        # (capped: a slope beyond e**700 only says "far from a stall")
        slope = np.exp(min(log_time - unit - ev.log_dt_dtau, 700.0))
        max_slope = max(max_slope, slope)
        if slope < _STALL_SLOPE and slope < 0.5 * max_slope and flow.may_stall(ev.predictions):
            status = "stalled"
            break
        if converge and _converged(moved, h, ev.coef, tol):
            records.append(_history_record(flow, ev, tau, log_time))
            status = "converged"
            break
        # PI step-size control (Gustafsson), gentle on stiffness-limited
        # steps: a pure integral controller (larger steps in smooth phases)
        # lets the step size hover at the stability limit, where rounding
        # errors were seen to grow a million-fold (dense and sparse copies of
        # one problem then differ in the 7th digit).
        factor = 0.9 * max(err, 1e-10) ** (-0.7 / stepper.order) * err_prev ** (
            0.4 / stepper.order
        )
        # An error estimate this far below the tolerance is mostly rounding:
        # the embedded difference cancels to the last digits (DOP853's most
        # of all), and a factor computed from it made the steps of two
        # copies of one problem (dense and sparse X) differ by 10% after one
        # step. It asks for the largest growth instead.
        if err < _ROUNDING_ERR:
            factor = 5.0
        h *= min(5.0, max(0.2, factor))
        if last:
            # A step shortened to land on a stop says little about the next
            # one: resume from the step proposed before it (else every stop
            # of a path restarts the growth of the step size).
            h = max(h, h_free)
        h = min(h, stepper.step_limit())
        err_prev = max(err, 1e-4)
    if status != "target" and records[-1]["log10_loss"] != ev.log_loss / LN10:
        # The history ends at the returned point also when the flow stopped
        # short of the target.
        records.append(_history_record(flow, ev, tau, log_time))
        if verbose:
            _print_record(records[-1], label)
    return _finish(flow, state, tau, log_time, ev, stops, status, n_iter, records)


class ExplicitRungeKutta:
    """Explicit Runge-Kutta step with an embedded error estimate.

    A stepper's contract with :func:`integrate`: ``order`` (the power of the
    step size in the local error estimate, for step-size control) and
    ``step(flow, state, T, tau, h, ev)`` returning ``(new_state, new_T,
    evaluation at new_state, error vector)`` or ``None`` when a stage cannot
    be evaluated. ``ev`` is the evaluation at ``state`` (first same as last:
    the new evaluation is the next ``ev``). The error vector is compared with
    the network's ``error_scale`` component by component.

    ``step_limit()`` bounds the step after an accepted one (``inf``: no
    bound), and :func:`integrate` sets ``horizon``, the clock of its last
    stop, before the first step (a stepper that chooses between methods may
    weigh what is left).

    Subclasses give the tableau: ``_A`` (row ``s`` holds the ``s`` weights of
    stage ``s``), ``_B`` (the solution weights) and :meth:`_error`; the last
    stage must be at the end of the step (``c = 1``), where the new point is
    compared with it to estimate ``h |lambda|`` (Hairer's test for
    stiffness, ``h_lambda``), which bounds the next step where the error
    estimate stops bounding the error of decaying modes
    (``reliable_h_lambda``) and by which
    :class:`~sklearn_implicit._stiff.AutoStepper` detects stiffness.
    """

    # (tau, log dt/dtau) at the start of the last two distinct steps, for
    # the time quadrature of long steps
    _starts = ()
    horizon = np.inf
    # Hairer's estimate of h |lambda| at the last step (0: none)
    h_lambda = 0.0
    # |h lambda| on the negative real axis up to which the embedded error
    # estimate bounds the error of the step in a decaying mode (None: up to
    # the stability limit)
    reliable_h_lambda = None

    def step(self, flow, state, T, tau, h, ev):
        if not self._starts or self._starts[-1][0] != tau:
            self._starts = (*self._starts[-1:], (tau, ev.log_dt_dtau))
        self._last_h = h
        n_stages = len(self._B)
        # Stage velocities as rows: each combination is one matrix-vector
        # product, with no list of vectors to copy into an array.
        k = np.empty((n_stages + 1, state.shape[0]))
        k[0] = ev.dstate
        log_rates = np.empty(n_stages)
        log_rates[0] = ev.log_dt_dtau
        for s in range(1, n_stages):
            ys = state + (h * self._A[s]) @ k[:s]
            evs = flow.evaluate(ys)
            if not np.isfinite(evs.log_dt_dtau):
                return None
            k[s] = evs.dstate
            log_rates[s] = evs.log_dt_dtau
        # the evaluation at the last stage (at the step's end, c = 1), which
        # h_lambda below compares with the new point (kept for inspection)
        self.last_stage = evs
        new_state = state + (h * self._B) @ k[:n_stages]
        if not np.all(np.isfinite(new_state)):
            return None
        ev_new = flow.evaluate(new_state)
        if not np.isfinite(ev_new.log_dt_dtau):
            return None
        # The previous start helps only when it is the last accepted point
        # and not far: after a stiff stretch of AutoStepper it can be old.
        previous = self._starts[0] if len(self._starts) == 2 else None
        if previous is not None and not (tau - 4 * h <= previous[0] < tau):
            previous = None
        T_new = _advance_time(T, tau, h, log_rates, ev_new.log_dt_dtau, self._B,
                              self._quadrature_span, previous)
        k[n_stages] = ev_new.dstate
        # Hairer's estimate h |lambda| ~ h |f(y1) - f(y0)| / |y1 - y0| from two
        # points at the step's end. (BLAS dnrm2 scales as it sums, so extreme
        # feature scales cannot overflow it; NumPy's norm squares first and a
        # guarded form cost 5% of an explicit fit at 100 x 1000.)
        dy = dnrm2(new_state - evs.state)
        df = dnrm2(ev_new.dstate - evs.dstate)
        self.h_lambda = h * df / dy if 0 < dy < np.inf and 0 < df < np.inf else 0.0
        return new_state, T_new, ev_new, self._error(flow, new_state, h, k)

    def step_limit(self):
        """The largest next step after an accepted one."""
        reliable = self.reliable_h_lambda
        if reliable is None or not self.h_lambda > 0:
            return np.inf
        return self._last_h * reliable / self.h_lambda


class DormandPrince(ExplicitRungeKutta):
    """Dormand-Prince 5(4): six evaluations per step, error of order 4."""

    order = 5
    _A = _A
    _B = _B
    # largest change of log dt/dtau over a step for which the quadrature
    # of dt/dtau by the weights _B is used (see _advance_time)
    _quadrature_span = 2.0
    # |h lambda| on the negative real axis beyond which the step is unstable
    # (Hairer's DOPRI5 code tests for stiffness against it)
    stability_limit = 3.25

    def _error(self, flow, new_state, h, k):
        return (h * _E) @ k


class DormandPrince853(ExplicitRungeKutta):
    """DOP853: twelve evaluations per step, order 8, error estimate of order 7.

    At the tolerances that a direction error of 1e-8 needs, it takes about
    half the evaluations of :class:`DormandPrince` (``benchmarks/``).
    """

    order = 8
    _A = _dop853.A
    _B = _dop853.B
    # an 8th-order quadrature: exp(c s) on [0, 1] to 2e-5 up to c = 4
    _quadrature_span = 4.0
    stability_limit = 6.1  # as in Hairer's DOP853 code
    # Beyond |h lambda| = 5.05 the blend of Hairer's estimators falls below
    # the step's error in a decaying mode, |R(h lambda) - exp(h lambda)|,
    # and at 5.65 (0.93 of the limit) it vanishes while that error is a
    # quarter of the mode per step (tests/test_stiff.py): the step-size
    # controller settled there on the stiff late phase of separable data,
    # and fits were accurate only at tight tolerances (on the benchmarks'
    # 100 x 1000 problem from alpha = 0.1, a direction error of 1e-8 at a
    # loss of 1e-30 took tol = 1e-6 and 699 evaluations; bounded, tol = 1e-3
    # and 579). 0.8 of the limit leaves room for lambda to grow between
    # steps.
    reliable_h_lambda = 0.8 * stability_limit

    def _error(self, flow, new_state, h, k):
        # Hairer's blend of the 5th- and 3rd-order estimators, which keeps the
        # 3rd-order one from dominating when it is the larger: the 5th-order
        # error vector, rescaled by |e5| / sqrt(|e5|**2 + |e3|**2 / 100) in the
        # norm that integrate applies (max over components of error / scale).
        e5 = (h * _dop853.E5) @ k
        e3 = (h * _dop853.E3) @ k
        # (extreme scales: a zero scale or tiny norms make the ratio 0 or
        # inf; integrate then rejects or accepts on e5 alone)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            scale = flow.network.error_scale(new_state)
            n5 = np.max(np.abs(e5) / scale)
            n3 = np.max(np.abs(e3) / scale)
            ratio = 1.0 / np.sqrt(1.0 + 0.01 * (n3 / n5) ** 2)
        if not (n5 > 0 and np.isfinite(n5) and np.isfinite(ratio)):
            return e5
        return e5 * ratio


def _advance_time(T, tau, h, log_rates, log_rate_end, weights, span, previous=None):
    """``T = t exp(-tau)`` after an explicit step, from ``log dt/dtau`` at the stages.

    ``dT/dtau = dt/dtau exp(-tau) - T`` is stiff: the explicit method on it is
    unstable beyond about 3 units of ``tau`` and already 0.2% wrong per step at
    1.2, a typical late step (it put ``log10_time_`` off by up to 140 decades
    at a loss of 1e-300). The decay of ``T`` is therefore exact, and the
    increment of ``t`` is the method's quadrature of ``dt/dtau`` (Lawson's
    form; relative error below about 1e-5 while ``log dt/dtau`` changes by
    less than ``span`` over the step: 2 for Dormand-Prince 5(4), 4 for
    DOP853). Over longer steps ``dt/dtau`` grows
    exponentially (like ``exp(tau)``) and ``log dt/dtau`` is interpolated
    instead: by the parabola through the ends and ``previous`` (``(tau,
    log dt/dtau)`` at the start of the previous step; see
    :func:`_piecewise_log_mean`), or linearly between the ends (the
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
            dT = _piecewise_log_mean(tau, h, log_rates[0], log_rate_end, previous)
        if not (np.isfinite(dT) and dT > 0):
            ends = np.exp(np.array([log_rates[0], log_rate_end]) - tau_new)
            dT = h * (ends[1] - ends[0]) / change if change != 0 else h * ends[0]
    return T * np.exp(-h) + dT


def _piecewise_log_mean(tau, h, log_rate, log_rate_end, previous, pieces=16):
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


def _converged(moved, h, coef, tol):
    """Whether the rest of the path moves ``coef`` by less than ``tol`` (relative).

    Near a minimum at which the loss vanishes quadratically (the excess of the
    squared loss over its infimum) the distance to the limit decays like
    ``sqrt(L) = exp(-tau / 2)``, so a step of length ``h`` that moved ``coef``
    by ``moved`` leaves about ``|moved| / (exp(h / 2) - 1)`` to go.
    """
    remaining = np.linalg.norm(moved) / np.expm1(0.5 * h)
    return remaining <= tol * np.linalg.norm(coef)


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
    # A probe that moves the state by more than a small fraction of its size
    # (or of 1) leaves the linear range; such speeds occur at tiny feature
    # scales or tiny alpha, where the loss barely moves at first.
    probe = min(1e-6 * span, 1e-3 * max(1.0, np.max(np.abs(state))) / f_max)
    ev = flow.evaluate(state + probe * f)
    if not np.isfinite(ev.log_dt_dtau):
        return probe
    rate = np.max(np.abs(ev.dstate - f)) / f_max / probe
    return min(span, 0.01 / rate) if rate > 0 else span


def _point(flow, state):
    """An :class:`Evaluation` of ``state`` without its velocity (for records)."""
    coef, p = flow.predictions(state)
    return Evaluation(None, flow.log_loss(p), np.nan, p, coef, state)


def _stop_state(flow, state, tau, log_time):
    """Newton-correct ``state`` along the flow so that -log L = tau exactly.

    Returns None when the corrected loss is above the target, or below it by
    more than 1e-6 (relative, in log L): Newton's method diverged, which
    means that the step to ``state`` strayed from the path.
    """
    # Aim a hair past the target so that the returned loss is <= target
    # despite rounding in the loss itself.
    slack = 1e-13 * max(1.0, abs(tau))
    corrected = state
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(8):
            coef, p = flow.predictions(corrected)
            excess = -flow.log_loss(p) - tau
            if 0 <= excess <= slack:
                break
            ev = flow.evaluate(corrected)
            if not np.isfinite(ev.log_dt_dtau):
                break
            corrected = corrected - (excess - 0.5 * slack) * ev.dstate
        excess = -flow.log_loss(flow.predictions(corrected)[1]) - tau
    # The loss may end a little below the target, never above it (the
    # estimators promise a loss at or below target_loss).
    if not -slack <= excess <= 1e-6 * max(1.0, abs(tau)):
        return None
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


_PRINTED_NAMES = {"min_margin": "min margin", "l1_margin": "l1-margin", "l2_margin": "l2-margin"}


def _print_record(rec, label):
    fields = "".join(
        f"{_PRINTED_NAMES.get(key, key.replace('_', ' '))} = {value:.4g}, "
        for key, value in rec.items()
        if key not in ("log10_loss", "log10_time", "n_evals")
    )
    print(
        f"{label}log10(loss) = {rec['log10_loss']:9.3f}, log10(t) = "
        f"{rec['log10_time']:8.3f}, {fields}gradient evaluations = {rec['n_evals']}"
    )
