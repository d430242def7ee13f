"""The discrete run: steps, stops at the target losses, divergence, history.

:func:`descend` is the discrete counterpart of
:func:`~sklearn_implicit._integrate.driver.integrate`: it takes the same
stops (a decreasing list of target log-losses, the last one ``-inf`` for
"until converged") and returns a result with the same fields, so that an
estimator reads a discrete run exactly as it reads a flow.

Where the loss is checked. Full-batch dynamics (``'gd'``, ``'sign'``,
``'coordinate'``) compute the full loss with every gradient, so the run stops
at the first iterate whose loss is at or below the target. Mini-batch SGD
computes only mini-batch losses; the full loss costs one more product with
the whole design, so it is checked once per epoch, at the epoch's end (as
scikit-learn's ``SGDClassifier`` and ``MLPClassifier`` check their stopping
criteria), and the run stops at the first epoch end at or below the target.

Time. The history's ``log10_time`` is the log of the gradient-flow time that
the steps stand for, the sum of the step sizes ``eta_k`` (``k`` times
``learning_rate`` for a constant step, comparable with the flow's time).
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dscal

from .._integrate.flow import FlowResult, FlowState
from .._integrate.history import margin_fields, print_record, stack_history
from ..utils._logspace import LN10
from .monitor import DivergenceMonitor
from .rules import GEOMETRIES, log_learning_rate, steepest_step

# Largest argument of exp that gives a finite float
_LOG_MAX = math.log(np.finfo(float).max)


@dataclass
class DiscreteResult(FlowResult):
    """A :class:`~sklearn_implicit._integrate.flow.FlowResult` of a discrete run.

    ``status`` is one of ``'target'``, ``'converged'``, ``'max_iter'``,
    ``'stationary'``, ``'diverged'`` or (SGD) ``'stalled'``; ``n_iter`` is the number of steps
    and ``n_evals`` the number of gradient evaluations (mini-batch ones for
    SGD). ``last.state`` holds the raw parameters of the parameter view.
    """

    message: str = ""  # why the run diverged ('' otherwise)
    reason: str = ""  # what the divergence (or SGD's stall) was, without the advice


# Steps too large overflow: that is reported as a divergence (by the loss
# check), not as a RuntimeWarning; one errstate for the whole run (entering
# one costs as much as a few vector operations at small sizes).
@np.errstate(over="ignore", invalid="ignore")
def descend(objective, params, log_time, log_targets, *, dynamics, learning_rate,
            schedule, batches=None, tol, max_iter, verbose=0, label="",
            history_every=LN10):
    """Run discrete training dynamics from ``params`` through the target losses.

    Parameters
    ----------
    objective : Objective
    params : ndarray
        Raw parameters to start from.
    log_time : float
        Log of the time already run (``-inf`` at initialization).
    log_targets : sequence of float
        Decreasing target log-losses; the state at the first check at or
        below each is kept (``result.stops``) and the run ends at the last.
        A last entry ``-inf`` runs until converged (see :func:`_converged`).
    dynamics : {'gd', 'sgd', 'sign', 'coordinate'}
    learning_rate : float
    schedule : {'constant', 'normalized'}
    batches : EpochBatches, default=None
        The mini-batches of ``'sgd'``.
    tol : float
        Convergence tolerance (relative change of ``coef`` still to come).
    max_iter : int
        Maximum number of steps.
    verbose : int
        Print one line per history record when > 0.
    label : str
        Prefix of the printed lines.
    history_every : float
        A record is written at the first check past every multiple of this
        many units of ``-log L`` (default: once per decade).

    Returns
    -------
    DiscreteResult
    """
    walk = _Walk(objective, dynamics, learning_rate, schedule, batches)
    monitor = DivergenceMonitor(learning_rate, stochastic=batches is not None)
    targets = [float(t) for t in log_targets]
    converge = targets[-1] == -np.inf
    stops, records = [], []
    status, message = "target", ""
    n_steps, i_stop = 0, 0
    point = walk.start(params)
    last_finite = None  # (point, log_time) of the last check with a finite loss
    moves = [np.inf, np.inf]  # the last two changes of coef between checks

    def record():
        records.append(_record(objective, point, log_time, n_steps))
        if verbose:
            print_record(records[-1], label)

    record()
    next_record = _next_record(point.log_loss, history_every)
    while True:
        alarm = monitor.check(point.log_loss)
        if alarm is not None:
            status, message = "diverged", alarm
            break
        if monitor.stalled:
            status = "stalled"
            break
        last_finite = point, log_time
        while i_stop < len(targets) and point.log_loss <= targets[i_stop]:
            stops.append(FlowState(point.params.copy(), -point.log_loss, log_time))
            i_stop += 1
        if i_stop == len(targets):
            if converge and point.log_loss == -np.inf:
                # an exact minimum (a zero loss): the limit itself
                status = "converged"
            break
        if -point.log_loss >= next_record:
            record()
            next_record = _next_record(point.log_loss, history_every)
        if converge and _converged(moves, point, tol, objective.loss):
            status = "converged"
            break
        if n_steps >= max_iter:
            status = "max_iter"
            break
        previous = point
        point, steps, log_dt, failure = walk.advance(max_iter - n_steps)
        n_steps += steps
        log_time = _log_add(log_time, log_dt)
        if failure is not None:
            status = failure
            if failure == "diverged":
                message = monitor.non_finite_gradient()
            point = previous
            break
        if converge:
            moves = [moves[1], float(np.linalg.norm(point.coef - previous.coef))]
    if status == "diverged" and last_finite is not None:
        # the last iterate whose loss was checked and finite
        point, log_time = last_finite
    if records[-1]["log10_loss"] != point.log_loss / LN10 or status == "target":
        record()
    if status == "target":
        end = stops[-1]
    else:
        end = FlowState(point.params.copy(), -point.log_loss, log_time)
    return DiscreteResult(
        stops=stops,
        last=end,
        log_loss=float(point.log_loss),
        coef=point.coef,
        predictions=point.predictions,
        status=status,
        n_iter=n_steps,
        n_evals=objective.n_evals,
        history=stack_history(records),
        message=message,
        reason=monitor.reason,
    )


def _log_add(a, b):
    """``log(exp(a) + exp(b))`` for floats (NumPy's ufunc costs more per call)."""
    if a < b:
        a, b = b, a
    if b == -np.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def _next_record(log_loss, every):
    return (np.floor(-log_loss / every) + 1) * every


def _record(objective, point, log_time, n_steps):
    """One history record, with the fields of the flow's records."""
    fields = getattr(objective.loss, "diagnostics", margin_fields)
    record = {
        "log10_loss": point.log_loss / LN10,
        "log10_time": log_time / LN10,
        **fields(point.predictions, point.coef),
        "n_evals": objective.n_evals,
        "n_steps": n_steps,
    }
    diagnostics = getattr(objective.view, "diagnostics", None)
    if diagnostics is not None:
        record.update(diagnostics(point.params))
    return record


def _converged(moves, point, tol, loss):
    """Whether the rest of the run moves ``coef`` by less than ``tol`` (relative).

    Near a minimum the iterates converge linearly: with the last two changes
    ``d_1, d_2`` of ``coef`` and ``rho = d_2 / d_1 < 1``, what remains is
    about ``d_2 rho / (1 - rho)``. Only near the loss's infimum (the loss
    says where, as for the flow): a plateau also has shrinking changes.
    """
    d1, d2 = moves
    if not d2 < d1:
        return False
    near_minimum = getattr(loss, "may_stall", None)
    if near_minimum is None or not near_minimum(point.predictions):
        return False
    rho = d2 / d1
    return d2 * rho / (1.0 - rho) <= tol * np.linalg.norm(point.coef)


class _Walk:
    """The steps between two loss checks: one step, or one epoch of SGD."""

    def __init__(self, objective, dynamics, learning_rate, schedule, batches):
        self.objective = objective
        self.view = objective.view
        self.norm = GEOMETRIES[dynamics]
        self.log_eta = math.log(learning_rate)
        self.schedule = schedule
        self.batches = batches
        self._point = None  # the last check point
        self._gradient = None  # the full gradient there (full-batch dynamics)

    def start(self, params):
        """The first check point."""
        if self.batches is None:
            self._point, *self._gradient = self.objective.gradient(params)
        else:
            self._point = self.objective.point(params)
        return self._point

    def _step(self, params, log_loss, direction, log_size):
        """``(new params, log eta_k)`` for one step along ``direction``."""
        step, log_length = steepest_step(direction, self.norm)
        log_eta = log_learning_rate(self.log_eta, self.schedule, log_loss)
        log_factor = log_eta + log_size + log_length
        # (a factor beyond the floating-point range makes the parameters
        # non-finite, and the next loss check reports the divergence)
        factor = math.exp(log_factor) if log_factor < _LOG_MAX else np.inf
        # (the step is a new array: scaled in place)
        return self.view.move(params, dscal(factor, step)), log_eta

    def advance(self, budget):
        """Step to the next check point, within ``budget >= 1`` steps.

        Returns
        -------
        point : Point or None
            The next check point (None on failure). Its loss may be
            non-finite: the caller's divergence check reports it.
        n_steps : int
        log_dt : float
            Log of the sum of the step sizes taken.
        failure : {None, 'stationary', 'diverged'}
            ``'stationary'``: the full gradient is zero. ``'diverged'``: the
            gradient is not finite at a point of finite loss.
        """
        if self.batches is None:
            return self._full_step()
        return self._epoch(budget)

    def _full_step(self):
        log_loss, direction, log_size = self._gradient
        if direction is None:
            return None, 0, -np.inf, "diverged" if np.isnan(log_size) else "stationary"
        new, log_eta = self._step(self._point.params, log_loss, direction, log_size)
        self._point, *self._gradient = self.objective.gradient(new)
        return self._point, 1, log_eta, None

    def _epoch(self, budget):
        params = self._point.params
        log_dt, n_steps = -np.inf, 0
        while n_steps < budget:
            rows, epoch_end = self.batches.next()
            _, log_loss, direction, log_size = self.objective.gradient(params, rows)
            n_steps += 1
            if direction is None:
                if np.isnan(log_size):
                    return None, n_steps, log_dt, "diverged"
                # this batch is fitted exactly: it asks for no step
            else:
                params, log_eta = self._step(params, log_loss, direction, log_size)
                log_dt = _log_add(log_dt, log_eta)
            if epoch_end:
                break
        self._point = self.objective.point(params)
        return self._point, n_steps, log_dt, None
