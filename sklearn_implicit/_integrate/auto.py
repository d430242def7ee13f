"""The automatic choice of step method: DOP853 until the flow is stiff, then
the implicit method that serves the flow (:mod:`.stiff_choice`)."""

import numpy as np

from .explicit import DormandPrince853
from .jacobian import has_block_jacobian, supports_stiff
from .stiff_choice import stiff_stepper
from .stiff_cost import jacobian_costs

# A Jacobian that costs at most this many evaluations is cheap: trials of
# the stiff method then run _TRIAL_STEPS steps, otherwise
# _TRIAL_STEPS_EXPENSIVE.
_CHEAP_JACOBIAN = 16.0
# Automatic switch: the explicit method is stability-limited when Hairer's
# estimate of h |lambda| (from its last two stages, both at the end of the
# step), averaged over _STIFF_WINDOW consecutive steps, exceeds
# _STIFF_H_LAMBDA of the bound on its steps (DormandPrince853's
# reliable_h_lambda; an average, because steps at the bound alternate about
# it by some 20%, as the estimate does: on the 100 x 1000 problem of
# tests/test_stiff.py a streak of steps above 0.9 of it never came, and the
# fit to 1e-300 took 2,835 evaluations instead of 717). The stiff method is
# then tried for a few steps and kept if it advances the clock more cheaply.
# A trial starts only while the explicit method, at its recent cost per unit
# of clock, has more than _TRIAL_ROOM trials' worth of work left before the
# last stop (a trial: _TRIAL_STEPS stiff steps at the model's cost,
# stiff_step_cost): a rejected one then costs at most about a quarter of
# what is left, and an adopted one has room to pay. Nearer the end the
# bounded explicit steps are the better buy: limited by stability, they are
# far more accurate than tol asks, while RODAS4's are limited by tol (at
# 100 x 1000 from alpha = 0.1 to a loss of 1e-30, a direction error of 1e-8
# took DOP853 alone tol = 1e-3 and 579 evaluations; with a trial, as a room
# of 2 allowed, tol = 1e-4 and 615).
_STIFF_H_LAMBDA = 0.9
_STIFF_WINDOW = 5
# Steps that stopped growing are held by stability too where their mean
# h |lambda| exceeds _STIFF_H_LAMBDA_FLAT of the bound: the step-size control
# then settles below the bound (the error estimate grows with h |lambda|
# near it), while the path's own scale, the clock, grows. At 100 x 1000
# from alpha = 1 to 1e-300 at tol 1e-6 the explicit steps sat at 0.74 to
# 0.79 of the bound, h within 2% of 2.14, from tau = 8 to 150 (a trial
# there: stiff steps at 0.6 of the explicit cost per unit of clock).
# "Stopped growing": over the window, the largest step (tried steps
# included) below _FLAT_STEPS times the smallest.
_STIFF_H_LAMBDA_FLAT = 0.7
_FLAT_STEPS = 1.05
_TRIAL_STEPS = 10
_TRIAL_ROOM = 4.0
# Where a Jacobian costs more than _CHEAP_JACOBIAN evaluations (at 1000 x
# 10000 about 43, so that a trial of RODAS4 costs a few seconds), trials
# are shorter: the step size of RODAS4 reaches its accuracy limit within two
# steps (it may grow fivefold per step).
_TRIAL_STEPS_EXPENSIVE = 6
# After a failed trial the next one also comes once the explicit steps have
# cost this many trials' worth since (doubled after each failure), whatever
# the predicted break-even says: a trial in a passing transient (the path
# turning at a saddle) predicted the break-even far too late, and the
# explicit steps then crept on at their stability limit (wine, depth 3
# from alpha = 0.01 to 1e-10 at tol 1e-8: 1,500 explicit steps on one
# flow). The failed trials cost at most about a quarter of the work.
_RETRY_WORK = 4.0
# After a failed trial the next one also comes, stiffness detected or not,
# once the explicit steps cost more per unit of clock than _RETRY_DEARER
# times the failed trial's stiff steps did: a trial judged against the
# explicit steps before it, where the path was about to turn, was rejected,
# and the explicit steps after it then cost a thousand times more, limited
# by their error (standardized breast_cancer to 1e-30 at tol 1e-3: 5,576
# evaluations, 4,000 of them in 0.07 of clock; 1,312 with this retry).
_RETRY_DEARER = 1.0
# A trial whose stiff steps still cost more per unit of clock than the
# explicit ones is adopted all the same when, with their cost falling like
# 1 / (tau - tau0), the extra work until the break-even is below this share
# of a trial: rejected, it would be paid again by the next trial (its first
# Jacobian and the growth of its steps). Trials 1.2 to 1.7 times dearer were
# rejected just before their break-even on 100 x 1000 problems (depth 3 from
# alpha = 0.1 to 1e-30 at tol 1e-6: two more trials, 1,659 evaluations
# instead of 1,071).
_ADOPT_EXCESS = 0.5


class AutoStepper:
    """DOP853 while the flow is not stiff, an implicit step once it is
    (the method :func:`~.stiff_choice.stiff_stepper` chooses for the flow).

    Satisfies the stepper contract of
    :class:`~sklearn_implicit._integrate.explicit.ExplicitRungeKutta` (``order`` follows
    the method in use). Stiffness is detected as in Hairer's codes: the last
    stage of the explicit step and the new point are both at the step's end, so
    ``h |F(y_new) - F(y_last)| / |y_new - y_last|`` estimates ``h |lambda|``
    for free (``DormandPrince853.h_lambda``). Once its mean over
    ``_STIFF_WINDOW`` consecutive steps exceeds ``_STIFF_H_LAMBDA`` of the
    bound on the explicit steps (``reliable_h_lambda``), or
    ``_STIFF_H_LAMBDA_FLAT`` of it over steps that have stopped growing,
    and the explicit method has more than ``_TRIAL_ROOM`` trials' worth of
    work left before the last stop (``horizon``), the stiff method is tried
    for a few accepted steps and kept if its cost per unit of the clock
    (gradient evaluations plus linear solves and Jacobians, counted in
    evaluations) is lower than that of the last explicit steps, or if it is
    predicted to break even (below) for less extra work than
    ``_ADOPT_EXCESS`` of a trial.

    Otherwise the explicit method resumes, and the next trial waits for the
    clock at which the stiff method is predicted to break even: late in
    training its steps grow in proportion to the clock (the path bends on
    the scale ``tau``) while the explicit steps stay at their stability
    limit, so its relative cost falls like ``1 / tau`` (measured at
    1000 x 10000: steps of 0.027 ``tau`` from ``tau`` = 90 to 690). A
    bounded clock (a loss with a positive infimum) never gets there: there
    the next trial starts once the explicit cost per unit of clock has
    doubled; and at least as many explicit steps as a trial has. Whatever
    the prediction, a trial comes again once the explicit steps since the
    failed one have cost ``_RETRY_WORK`` trials (twice as many after each
    further failure): a trial in a passing transient predicted its
    break-even far too late; and, stiffness detected or not, once the
    explicit steps cost more per unit of clock than the failed trial's
    stiff steps did (``_RETRY_DEARER``). Flows
    without the Jacobian pieces stay explicit.

    Near the end no trial starts: there the explicit steps, bounded by
    stability, are cheaper and far more accurate than tol asks, while the
    stiff method's steps are limited by tol (case ``solvers`` of
    ``benchmarks/`` compares the two at equal accuracy).

    Parameters
    ----------
    tol : float, default=None
        The integration's local error tolerance, for the implicit method.

    Attributes
    ----------
    switched_at : float or None
        The clock ``tau`` at which the stiff method was adopted.
    trials : list of dict
        One record per judged trial: the clock at its start and end, the
        costs per unit of clock of the stiff and the explicit method, whether
        it was adopted, the clock before which the next trial waits, the
        cost so far (evaluations and the stiff method's work) at its start,
        and the cost past which the next trial may start anyway.
    """

    horizon = np.inf
    # the estimated error of T after the last step (of the method that took it)
    time_error = np.inf
    inner_points = ()

    def __init__(self, tol=None):
        self.explicit = DormandPrince853()
        self.tol = tol
        self.stiff = None  # chosen for the flow at the first step
        self.switched_at = None
        self.trials = []
        self._mode = "explicit"
        self._recent = []  # (h |lambda|, h) of the last explicit steps
        self._wait = 0  # explicit steps before the next trial may start
        self._trial_steps = None
        self._trial_cost = None
        self._tau0 = None  # the clock at the first step
        self._next_trial_tau = -np.inf  # predicted break-even of the stiff method
        # lowest explicit cost per unit clock since the last failed trial
        self._failed_rate = np.inf
        # the stiff steps' cost per unit clock in the last rejected trial
        self._rejected_rate = np.inf
        # the cost (flow evaluations and the stiff method's work) past which
        # the next trial may start anyway
        self._retry_cost = np.inf
        self._marks = []  # (tau, cost) at the start of each call
        self._trial_start = None
        self._explicit_rate = None

    @property
    def predictive(self):
        """Whether integrate's predictive step-size control serves: while
        the implicit method takes the steps, in trials too."""
        return self._mode != "explicit" and self.stiff.predictive

    @property
    def order(self):
        return self.stiff.order if self._mode != "explicit" else self.explicit.order

    def step_limit(self):
        # The stiff stepper's once adopted: unbounded, the steps after a
        # Newton failure grew back into the failing size, and a loose tol
        # took more evaluations than the default on breast_cancer. Not in a
        # trial, which starts from the explicit steps' size and forgets the
        # failures before it: where every stiff step failed (features of
        # 1e150), the bound had shrunk to nothing and held the steps there.
        if self._mode == "stiff":
            return self.stiff.step_limit()
        return self.explicit.step_limit() if self._mode == "explicit" else np.inf

    def _cost(self, flow):
        return flow.n_evals + self.stiff.extra_cost()

    def _accepted_rate(self, k, start=0):
        """Cost per unit clock over the last ``k`` accepted steps since
        ``self._marks[start]`` (None if there are fewer)."""
        marks = self._marks[start:]
        # a mark where tau advanced ends an accepted step
        ends = [i for i in range(1, len(marks)) if marks[i][0] > marks[i - 1][0]]
        if len(ends) < k:
            return None
        first = ends[-k] - 1
        span = marks[-1][0] - marks[first][0]
        return (marks[-1][1] - marks[first][1]) / span

    def step(self, flow, state, T, tau, h, ev):
        if self._tau0 is None:
            self._tau0 = tau
            exact = supports_stiff(flow) or has_block_jacobian(flow.network)
            self.stiff = stiff_stepper(flow, self.tol)
            # A failed trial of the stiff method costs a few Jacobians: where
            # they are expensive, trials are shorter.
            expensive = exact and jacobian_costs(flow.X.shape)[0] > _CHEAP_JACOBIAN
            self._trial_steps = _TRIAL_STEPS_EXPENSIVE if expensive else _TRIAL_STEPS
            # the model's cost of a trial, for the room left before the end
            self._trial_cost = self._trial_steps * self.stiff.step_cost(flow.X.shape,
                                                                         ev.state.shape[0])
        self._marks.append((tau, self._cost(flow)))
        if self._mode == "explicit" and len(self._marks) > 4 * self._trial_steps:
            del self._marks[: -2 * self._trial_steps]
        if self._mode != "explicit" and self._stuck():
            self._back_to_explicit()
        if self._mode == "trial":
            self._judge_trial(tau)
        if self._mode == "explicit":
            trial = self._explicit_step(flow, state, T, tau, h, ev)
            self.time_error = self.explicit.time_error
            self.inner_points = self.explicit.inner_points
            return trial
        trial = self.stiff.step(flow, state, T, tau, h, ev)
        self.time_error = self.stiff.time_error
        self.inner_points = self.stiff.inner_points
        return trial

    def _judge_trial(self, tau):
        if self._accepted_rate(self._trial_steps, self._trial_start) is None:
            return
        # The first steps of a trial pay for its first Jacobian and for the
        # growth of the step size from the explicit method's: the method is
        # judged on the rest.
        rate = self._accepted_rate(self._trial_steps // 2, self._trial_start)
        start, start_cost = self._marks[self._trial_start]
        # break-even where (tau - tau0) has grown by the ratio of the costs
        break_even = self._tau0 + (tau - self._tau0) * rate / self._explicit_rate
        if rate < self._explicit_rate or (
                break_even < self.horizon
                and self._excess(tau, rate) < _ADOPT_EXCESS * self._trial_cost):
            self._mode = "stiff"
            self.switched_at = start
        else:
            self._next_trial_tau = break_even
            # The explicit steps' cost is then tracked at its lowest since
            # the trial, not taken from before it: where the clock slows
            # down (the approach to a saddle, where it stands still), the
            # rate there was seen to exceed the explicit method's rates after
            # the saddle a millionfold, and a depth-2 regression from
            # alpha = 1e-100 then crept on with explicit steps, thousands per
            # decade of loss, to max_iter. A retry comes once the rate has
            # doubled from its lowest (the flow stiffens), or once the
            # explicit steps have cost _RETRY_WORK trials since (doubled
            # after each failure).
            self._failed_rate = self._explicit_rate
            self._rejected_rate = rate
            failures = sum(not trial["adopted"] for trial in self.trials)
            self._retry_cost = (self._marks[-1][1]
                                + _RETRY_WORK * 2.0**failures * self._trial_cost)
            self._back_to_explicit()
        self.trials.append({"start": start, "end": tau, "stiff_rate": rate,
                            "explicit_rate": self._explicit_rate,
                            "adopted": self._mode == "stiff",
                            "next_trial_after": self._next_trial_tau,
                            "start_cost": start_cost,
                            "retry_cost": self._retry_cost})
        self._marks = self._marks[-1:]

    def _excess(self, tau, rate):
        """The stiff method's extra cost over the explicit one's from ``tau``
        to the break-even, if its rate falls like ``1 / (tau - tau0)``."""
        ratio = rate / self._explicit_rate
        return (tau - self._tau0) * self._explicit_rate * (ratio * np.log(ratio) - ratio + 1)

    def _stuck(self):
        """No accepted stiff step for several trial lengths (extreme scales
        can make every linearly implicit step fail)."""
        window = 3 * self._trial_steps
        if len(self._marks) < window:
            return False
        return self._marks[-window][0] == self._marks[-1][0]

    def _back_to_explicit(self):
        self._mode = "explicit"
        self._wait = self._trial_steps
        self._recent = []
        self._marks = self._marks[-1:]

    def _explicit_step(self, flow, state, T, tau, h, ev):
        trial = self.explicit.step(flow, state, T, tau, h, ev)
        if trial is None:
            return None
        # the estimate concerns a step that integrate may still reject; the
        # window only needs it to be large repeatedly
        explicit = self.explicit
        limit = explicit.reliable_h_lambda or explicit.stability_limit
        self._recent = [*self._recent[1 - _STIFF_WINDOW:], (explicit.h_lambda, h)]
        self._wait -= 1
        h_lambdas, sizes = zip(*self._recent)
        mean = sum(h_lambdas) / _STIFF_WINDOW
        flat = max(sizes) < _FLAT_STEPS * min(sizes)
        stiff = len(self._recent) == _STIFF_WINDOW and (
            mean > _STIFF_H_LAMBDA * limit or (flat and mean > _STIFF_H_LAMBDA_FLAT * limit))
        rate = None
        if self._wait <= 0 and (stiff or self._rejected_rate < np.inf):
            rate = self._accepted_rate(self._trial_steps)
        dearer = rate is not None and rate > _RETRY_DEARER * self._rejected_rate
        if (stiff or dearer) and self._wait <= 0:
            if rate is not None:
                self._failed_rate = min(self._failed_rate, rate)
            if rate is not None and (dearer or tau >= self._next_trial_tau
                                     or rate > 2 * self._failed_rate
                                     or self._marks[-1][1] >= self._retry_cost) and (
                    rate * (self.horizon - tau) > _TRIAL_ROOM * self._trial_cost):
                self._explicit_rate = rate
                self._mode = "trial"
                self._trial_start = len(self._marks)
                self.stiff.forget_failures()
        return trial
