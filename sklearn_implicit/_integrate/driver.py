"""Follow a flow through its stops: :func:`integrate`, the driver of the steps.

Accuracy
--------
A step is accepted when the estimated local error of every state component,
divided by the network's ``error_scale``, is at most ``tol`` (a PI
controller chooses the step sizes). For the diagonal network the state is
``log(u / v)``, and ``tol`` is the admissible local error of each
coefficient relative to the largest. At every requested stop the state is
corrected by Newton steps along the flow so that the loss equals the target
to rounding (the remaining error is a displacement along the path, which is
what ``tol`` controls). The physical time carried along is held to
``tol`` as well (:mod:`.physical_time`). The step methods are
:mod:`.explicit` (DOP853), the implicit ones of :mod:`.stiff_choice` (for
the stiff phase) and :mod:`.auto` (the switch between them).
"""

import numpy as np
from scipy.linalg.blas import dnrm2

from .._losses import is_margin_loss
from ..utils._logspace import LN10
from .explicit import DormandPrince853
from .flow import Evaluation, FlowResult, FlowState
from .history import history_record, print_record, stack_history
from .physical_time import interpolated_increment

# Local error estimates below this fraction of tol are taken as rounding.
_ROUNDING_ERR = 1e-6

# A flow whose log-loss grows by less than this per e-fold of training time,
# and keeps slowing down, has converged to a positive loss.
_STALL_SLOPE = 1e-7

# A fit that uses up max_iter while its loss fell by less than this factor
# (in log) over the last _PLATEAU_SHARE of its accepted steps, and cannot be
# stalling, ended in a plateau (see integrate).
_PLATEAU_LOG_DROP = 0.1
_PLATEAU_SHARE = 0.1

# The implicit steps' next step is at most this many times the last (see
# _predictive_factor): a trial of the stiff method starts from the explicit
# steps' size, and grown fivefold a step it ran into Newton failures and
# was rejected (the 5000 x 20 Gaussian problem to 1e-30 at tol 1e-3: 3,545
# evaluations against 830 before; 1,061 with this bound).
_PREDICTIVE_GROWTH = 2.0
# The predictive control serves while a step is at most this share of the
# clock (max(1, |tau|)). Longer stiff steps (the short stiff tail of 100 x
# 1000 from alpha = 1 to 1e-300, h of 40 to 60 at tau near 500) save few
# evaluations by growing further while their error grows like h**5: there
# the predictive control doubled the evaluations at a direction error of
# 1e-8 (752 -> 1,570, case solvers); with this bound 745. For the margin
# losses only: the regressor's flows were not measured with it, and with it
# the fits of sample-weighted and of repeated rows (scikit-learn's check of
# their equivalence) drifted apart by 3.6e-9 in a prediction under the
# oldest dependencies (1e-9 allowed); they keep the predictive control.
_PREDICTIVE_SPAN = 0.05


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
    plateau_iter=0,
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
        Maximum number of accepted plus rejected steps, besides those of
        ``plateau_iter``. A flow that uses them up ends with status
        ``'plateau'`` when it is in a plateau of the loss: over the last
        tenth of its accepted steps (at least 10) the loss fell by less than
        a factor ``exp(0.1)``, and it cannot be stalling (``flow.may_stall``
        is False: separable data, or a residual above rounding); otherwise
        with ``'max_iter'``.
    plateau_iter : int, default=0
        Further steps allowed while the flow is in a plateau (steps taken
        from a point in a plateau do not count against ``max_iter``, up to
        this many): small initializations learn through plateaus of the
        loss, whose steps are many.
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
    # (the margin losses only, see _PREDICTIVE_SPAN)
    span = _PREDICTIVE_SPAN if is_margin_loss(flow.loss) else np.inf
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
    # T = t exp(-tau) (t in that unit), under error control with the state
    # (see physical_time); (tau, log dt/dtau) at the last accepted points
    # serve its quadrature over the path.
    T = np.exp(log_time - unit - tau) if log_time > -np.inf else 0.0
    rate_points = [(tau, ev.log_dt_dtau)]
    time_steers = False
    # the clock at every accepted point, for the plateau test
    clocks = [tau]
    plateau = None
    # steps taken from a point in a plateau (while plateau_iter lasts)
    n_plateau, in_plateau = 0, False
    records.append(history_record(flow, ev, tau, log_time))
    if verbose:
        print_record(records[-1], label)
    if not np.isfinite(ev.log_dt_dtau):
        return _finish(flow, state, tau, log_time, ev, stops, "stationary", n_iter, records)
    next_record = (np.floor(tau / history_every) + 1) * history_every

    f = ev.dstate
    # A last stop at L = 0 (tau = inf) means: until the flow has converged.
    converge = taus[-1] == np.inf
    h = _initial_step(flow, state, f, 1.0 if converge else taus[-1] - tau)
    err_prev = 1e-4
    # (h, err) of the last accepted step of an implicit method, for the
    # predictive controller (None after an explicit one)
    accepted = None
    status = "target"
    i_stop = 0
    while i_stop < len(taus):
        target_tau = taus[i_stop]
        if n_iter >= max_iter + min(n_plateau, plateau_iter):
            plateau = _plateau(flow, ev, clocks)
            status = "max_iter" if plateau is None else "plateau"
            break
        n_iter += 1
        n_plateau += in_plateau
        h_free = h
        h = min(h, target_tau - tau)
        last = h >= target_tau - tau
        trial = stepper.step(flow, state, T, tau, h, ev)
        if trial is None:
            # A stage landed on a stationary point or overflowed: shrink.
            h *= 0.25
            continue
        new_state, T_new, ev_new, err_vec = trial
        scale = flow.network.error_scale(new_state, ev_new.dstate)
        err = np.max(np.abs(err_vec) / scale) / tol
        tau_end = target_tau if last else tau + h
        T_new, time_err = _time_step(stepper, rate_points, T, T_new, tau, tau_end,
                                     ev_new.log_dt_dtau, tol)
        # The time's local error, relative to the time and to the clock: the
        # state's own control (the clock check below) lets the path slip
        # along itself by tol relative to the clock, which moves log t by as
        # much, so the time is held to the same. (A T of 0 is a time below
        # the float range, carried as log_time unchanged.) A step shorter
        # than that slip (the escape from a tiny alpha or tiny features, the
        # slow passages by a saddle: time runs while the loss stands still)
        # is timed by _short_step_time.
        time_ratio = 0.0
        clock_scale = tol * max(1.0, abs(tau_end))
        if T_new > 0 and not tau_end - tau > clock_scale:
            T_new = _short_step_time(stepper, ev, ev_new, T, T_new, time_err, tau,
                                     tau_end, tol)
        if T_new > 0:
            if tau_end - tau > clock_scale:
                time_ratio = time_err / (T_new * clock_scale)
        elif not T_new == 0:
            time_ratio = np.inf
        # On the exact path -log L equals the clock. The change of their gap
        # over the step is a local error along the path that needs no error
        # scale from the network (the network's scale can be blind to it, as
        # for wide layers at a large alpha): at most tol relative to the
        # clock, i.e. to the size of the margins late in training.
        # Only a loss whose log is exact at every scale can serve (the
        # squared loss of a residual reaches its rounding floor first).
        if clock_check:
            drift = (-ev_new.log_loss - tau_end) - (-ev.log_loss - tau)
            err = max(err, abs(drift) / (tol * max(1.0, abs(tau_end))))
        # Gradient flow never raises the loss. The error estimate can miss a
        # step that does when the columns of X differ in scale by many orders
        # (it measures coefficients, not margins); such a step is rejected.
        if ev_new.log_loss > ev.log_loss + 1e-12 * max(1.0, abs(ev.log_loss)):
            err = np.inf
        # Nor does it move backwards along its path. Where the loss stands
        # still (a saddle passed from a tiny alpha), the clock's speed is
        # set by gradients at their rounding level, the Jacobian of the
        # stiff step with it, and a step was seen to move the state far back
        # along its (straight) path with a small error estimate and no rise
        # of the loss, while the time ran on. (Not where the loss may be at
        # its infimum: a residual at its rounding level leaves the direction
        # of the velocity to rounding, and the steps to the regressor's limit
        # were then rejected for thousands of steps.)
        if _backwards(new_state - state, ev, ev_new) and not flow.may_stall(ev_new.predictions):
            err = np.inf
        # The time rejects every step that misses its tolerance, but steers
        # the step size only from its first such step on: its estimate,
        # though far below the tolerance, usually exceeds the state's (it is
        # the embedded estimate of a lower order), and steering by it from
        # the start shortens steps that the state allows, which delays the
        # switch to the stiff method (on the 100 x 1000 problem of
        # tests/test_stiff.py from alpha = 0.1 to 1e-100 at tol = 1e-3, 975
        # evaluations instead of 286). Where the time binds (a straight
        # path, whose state has no error to estimate) it steers after one
        # rejected step.
        if time_ratio > 1.0:
            time_steers = True
        if not (time_ratio <= 1.0 and np.isfinite(err) and err <= 1.0):
            worst = max(err, time_ratio)
            h *= max(0.1, 0.9 * min(worst, 1e10) ** (-1 / stepper.order)) if np.isfinite(worst) else 0.25
            continue
        if time_steers:
            err = max(err, time_ratio)
        tau_new = tau_end
        log_time_new = np.log(T_new) + tau_new + unit if T_new > 0 else log_time
        stop = _stop_state(flow, new_state, tau_new, log_time_new) if last else None
        if last and stop is None:
            behind = -ev_new.log_loss
            if clock_check and -ev.log_loss < behind < tau_new:
                # The clock ran ahead of the loss (at a loose tol -log L may
                # drift from the clock by tol * tau per step, and the drifts
                # add up), too far for the stop's Newton correction. The new
                # point is on the path, past the last one, where its loss
                # puts it: the clock is set back to the loss there, and a
                # later step makes the stop.
                tau_new, last = behind, False
                T_new = np.exp(log_time_new - unit - tau_new) if T_new > 0 else 0.0
            else:
                # The loss cannot be put on the target from there: the step
                # went astray although its error estimate passed.
                h *= 0.25
                continue
        tau = tau_new
        moved = ev_new.coef - ev.coef
        state, T, ev = new_state, T_new, ev_new
        rate_points = [*rate_points[-2:], (tau, ev.log_dt_dtau)]
        clocks.append(tau)
        if n_plateau < plateau_iter:
            in_plateau = _plateau(flow, ev, clocks) is not None
        log_time = log_time_new
        if last:
            stops.append(stop)
            i_stop += 1
        if tau >= next_record or (last and i_stop == len(taus)):
            # A stop is recorded where it is returned, after its correction.
            at = _point(flow, stop.state) if last else ev
            records.append(history_record(flow, at, tau, log_time))
            if verbose:
                print_record(records[-1], label)
            next_record = (np.floor(tau / history_every) + 1) * history_every
        # Stall: the log-log slope d(-log L)/d(log t) = t / (dt/dtau) keeps
        # falling towards zero while some margin is not positive.
        # (capped: a slope beyond e**700 only says "far from a stall")
        slope = np.exp(min(log_time - unit - ev.log_dt_dtau, 700.0))
        max_slope = max(max_slope, slope)
        if slope < _STALL_SLOPE and slope < 0.5 * max_slope and flow.may_stall(ev.predictions):
            status = "stalled"
            break
        # (near its infimum only: in a plateau the coefficients barely move
        # either, for decades of time)
        if converge and _converged(moved, h, ev.coef, tol) and flow.may_stall(ev.predictions):
            records.append(history_record(flow, ev, tau, log_time))
            status = "converged"
            break
        factor, accepted = _step_factor(stepper, err, err_prev, h, tau, accepted, span)
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
        records.append(history_record(flow, ev, tau, log_time))
        if verbose:
            print_record(records[-1], label)
    return _finish(flow, state, tau, log_time, ev, stops, status, n_iter, records,
                   plateau)


def _step_factor(stepper, err, err_prev, h, tau, accepted, span=_PREDICTIVE_SPAN):
    """Growth of the next step after an accepted one (of size ``h``, ending
    at ``tau``), and the ``(h, err)`` to keep for the next one.

    The predictive control (:func:`_predictive_factor`) for the implicit
    methods while their step is short against the clock (at most ``span``
    of ``max(1, |tau|)``); otherwise PI control
    (Gustafsson), gentle on stiffness-limited steps: a pure integral
    controller (larger steps in smooth phases) lets the step size of the
    explicit method hover at its stability limit, where rounding errors
    were seen to grow a million-fold (dense and sparse copies of one
    problem then differ in the 7th digit).
    """
    if getattr(stepper, "predictive", False) and h <= span * max(1.0, abs(tau)):
        return _predictive_factor(err, h, accepted, stepper.order)
    factor = 0.9 * max(err, 1e-10) ** (-0.7 / stepper.order) * err_prev ** (0.4 / stepper.order)
    return factor, None


def _predictive_factor(err, h, accepted, order):
    """Growth of the next step after an accepted step of an implicit method,
    and the ``(h, err)`` to keep for the next one.

    Gustafsson's predictive controller, as in Hairer's RADAU5: the smaller
    of the integral controller's step and the one that extrapolates the
    trend of the error over the last two steps. Late in training the steps
    grow with the clock (the path bends on the scale ``tau``), a few percent
    a step; the PI controller of the explicit steps settles there with an
    error estimate near 0.13 of the tolerance (traced on a 5000 x 20
    Gaussian problem from ``tau`` = 11 to 58), this one near 0.5, in longer
    steps. The implicit methods are L-stable: no stability limit for the
    steps to hover at. Over 30 fits (10 problems, tol 1e-3, 1e-6 and 1e-8)
    this took 128,371 evaluations where the PI controller took 139,476.
    """
    err = max(err, 1e-10)
    factor = 0.9 * err ** (-1.0 / order)
    if accepted is not None:
        h_prev, err_prev = accepted
        factor = min(factor, 0.9 * (h / h_prev) * (err_prev / err**2) ** (1.0 / order))
    return min(factor, _PREDICTIVE_GROWTH), (h, max(err, 1e-2))


def _time_step(stepper, rate_points, T, T_new, tau, tau_end, log_rate_end, tol):
    """``T`` at the end of a step and its estimated error.

    Of the step method's quadrature (``T_new``, ``stepper.time_error``) and
    the quadrature over accepted points of the path
    (:func:`~.physical_time.interpolated_increment`), the one with the
    smaller estimated error; the second is not formed where the first is
    already a thousand times within the time's tolerance (that saved 9% of
    a fit's time at 100 x 1000 from alpha = 1).
    """
    time_err = getattr(stepper, "time_error", np.inf)
    if not time_err >= 0:  # NaN
        time_err = np.inf
    if time_err <= 1e-3 * tol * max(1.0, abs(tau_end)) * abs(T_new):
        return T_new, time_err
    alternative = interpolated_increment(rate_points, tau_end, log_rate_end)
    if alternative is not None and alternative[1] < time_err:
        increment, time_err = alternative
        T_new = T * np.exp(-(tau_end - tau)) + increment
    return T_new, time_err


def _backwards(moved, ev, ev_new):
    """Whether a step moved against the flow's direction at both its ends.

    An accepted step turns the path by far less than a right angle, so the
    chord of a forward step has a positive projection on the velocity at
    either end. A move at the rounding level of the state says nothing.
    """
    size = np.linalg.norm(moved)
    if not size > 64 * np.finfo(float).eps * np.linalg.norm(ev_new.state):
        return False
    return moved @ ev.dstate < 0 and moved @ ev_new.dstate < 0


def _short_step_time(stepper, ev, ev_new, T, T_new, time_err, tau, tau_end, tol):
    """``T`` at the end of a step shorter than the clock's slip.

    The step method's quadrature in the clock (``T_new``, estimated error
    ``time_err``) is kept where it can be trusted: the clock moved far above
    its own rounding (the quadrature's increment is proportional to the
    clock's, and at a saddle the clock moves by a few ulps), dt/dtau changed
    by less than a factor e over the step (the quadratures, fed by dt/dtau
    at points where it varies by many orders of magnitude, were seen to take
    one step for 280 times the time so far: a depth-2 regression from
    alpha = 1e-100), and its estimate meets tol relative to the time.
    Otherwise the time comes from the distance the state moved and its
    speed in t at both ends (:func:`_path_increment`), which is exact where
    the speed changes exponentially in t. That model alone was 0.28% short
    on the first step of the escape from alpha = 0.01 at depth 3, where the
    speed starts flat (quadratic in t: at the symmetric start the weights'
    growth does not yet change the speed), which put the flow time 2e-4 off
    in log10 at the default tol; the quadrature is within 1.2e-8 there
    (tests/test_flow_time.py checks both passages against independent
    integrations).
    """
    rounding = 64.0 * np.finfo(float).eps * max(1.0, abs(tau_end)) / tol
    if (tau_end - tau >= rounding and abs(ev_new.log_dt_dtau - ev.log_dt_dtau) <= 1.0
            and time_err <= tol * T_new):
        return T_new
    increment = _path_increment(ev, ev_new, stepper.inner_points, tau_end)
    if increment is None:
        return T_new
    return T * np.exp(-(tau_end - tau)) + increment


def _path_increment(ev, ev_new, inner_points, tau_end):
    """:func:`_arc_increment` over a step, through the step's points inside.

    Where the step method knows points of the path inside the step (Radau's
    collocation points), the time is summed over the pieces between them:
    their chords follow a bending path more closely, and the speed is
    exponential in t over each piece more nearly than over the whole step
    (through the saddles passed by depth 3 from alpha = 0.01 on
    breast_cancer, the time of a default fit went from 1.4e-4 to 2.4e-5 off
    that of a tol = 1e-11 fit, relative, in as many evaluations: case
    tol_meaning). None where a piece has no increment.
    """
    points = (ev, *inner_points, ev_new)
    total = 0.0
    for start, end in zip(points[:-1], points[1:]):
        increment = _arc_increment(start, end, end.state - start.state, tau_end)
        if increment is None:
            return None
        total += increment
    return total


def _arc_increment(ev, ev_new, moved, tau_end):
    """Increment of ``T`` over a step, from the distance moved along the path.

    With the state's speed in physical time ``s = |d state/d tau| / (dt/dtau)``
    at both ends, the time taken to move ``dist`` is ``dist`` over the
    logarithmic mean of the two speeds, exact when the speed changes
    exponentially in ``t`` (a coordinate escaping from a small
    initialization, the approach to a saddle and the departure from it) and
    when it is constant. Returns None where a speed is zero or not finite.
    (Shortening the steps over which the speed changes by more than a factor
    e cost 6% more evaluations from alpha = 1e-3 at depth 3 and changed no
    time by more than 1e-7.)
    """
    log_rate, log_rate_new = ev.log_dt_dtau, ev_new.log_dt_dtau
    norm, norm_new = np.linalg.norm(ev.dstate), np.linalg.norm(ev_new.dstate)
    if not (np.isfinite(log_rate) and np.isfinite(log_rate_new) and norm > 0
            and norm_new > 0):
        return None
    # The distance along the path: the move projected on the mean direction
    # of motion (the error control lets coordinates of no weight stray).
    direction = ev.dstate / norm + ev_new.dstate / norm_new
    size = np.linalg.norm(direction)
    dist = abs(moved @ direction) / size if size > 0 else 0.0
    if not dist > 0:
        return None
    log_speed = np.log(norm) - log_rate
    change = np.log(norm_new) - log_rate_new - log_speed
    # dist / logmean(s, s_new) = (dist / s) * change / expm1(change)
    ratio = change / np.expm1(change) if change != 0 else 1.0
    increment = np.exp(-log_speed - tau_end) * dist * ratio
    if not (np.isfinite(increment) and increment >= 0):
        return None
    return increment


def _plateau_window(n_accepted):
    """The accepted steps over which the plateau test looks back."""
    return max(10, int(_PLATEAU_SHARE * n_accepted))


def _plateau(flow, ev, clocks):
    """``(steps, log-loss drop)`` if the flow at ``ev`` is in a plateau, else None.

    The loss barely moves: over the last tenth of the accepted steps (at
    least 10) it fell by less than a factor ``exp(_PLATEAU_LOG_DROP)``; and
    the flow is far from a stall: it cannot be stalling
    (``flow.may_stall``), so the loss will move on.
    """
    window = _plateau_window(len(clocks) - 1)
    if len(clocks) <= window:
        return None
    drop = clocks[-1] - clocks[-1 - window]
    if drop >= _PLATEAU_LOG_DROP or flow.may_stall(ev.predictions):
        return None
    return window, drop


def _converged(moved, h, coef, tol):
    """Whether the rest of the path moves ``coef`` by less than ``tol`` (relative).

    Near a minimum at which the loss vanishes quadratically (the excess of the
    squared loss over its infimum) the distance to the limit decays like
    ``sqrt(L) = exp(-tau / 2)``, so a step of length ``h`` that moved ``coef``
    by ``moved`` leaves about ``|moved| / (exp(h / 2) - 1)`` to go.
    """
    # (BLAS dnrm2 scales as it sums: from a tiny alpha the coefficients are
    # near 1e-160, whose squares underflow, and a norm of their change that
    # comes out 0 would pass the test at the initial loss)
    size = dnrm2(np.ascontiguousarray(coef, dtype=float))
    if not size > 0:
        # nothing yet to be relative to
        return False
    remaining = dnrm2(np.ascontiguousarray(moved, dtype=float)) / np.expm1(0.5 * h)
    return remaining <= tol * size


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


def _finish(flow, state, tau, log_time, ev, stops, status, n_iter, records, plateau=None):
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
        history=stack_history(records),
        plateau=plateau,
    )
