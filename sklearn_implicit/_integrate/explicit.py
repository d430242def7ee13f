"""Explicit Runge-Kutta steps: DOP853 and the stepper contract.

DOP853 (Dormand and Prince's 8th-order method with Hairer's error
estimators) takes the steps while the flow is not stiff. Where it is, its
steps are also held to 0.8 of its stability limit in ``h |lambda|``
(Hairer's estimate from two stages): from 0.83 on, its error estimate no
longer bounds the error of decaying modes (:class:`DormandPrince853`).
"""

import math

import numpy as np
from scipy.linalg.blas import dnrm2

from . import dop853_coefficients as _dop853
from .physical_time import runge_kutta_increment


class ExplicitRungeKutta:
    """Explicit Runge-Kutta step with an embedded error estimate.

    A stepper's contract with :func:`integrate`: ``order`` (the power of the
    step size in the local error estimate, for step-size control) and
    ``step(flow, state, T, tau, h, ev)`` returning ``(new_state, new_T,
    evaluation at new_state, error vector)`` or ``None`` when a stage cannot
    be evaluated. ``ev`` is the evaluation at ``state`` (first same as last:
    the new evaluation is the next ``ev``); ``T`` is ``t exp(-tau)``, with
    ``t`` in the flow's time unit (``exp(flow.log_time_unit)``, the unit of
    ``ev.log_dt_dtau``): a step in the clock ``log t`` needs ``t`` itself
    (:mod:`.radau`). The error vector is compared with
    the network's ``error_scale`` component by component; ``time_error``,
    set by the step, is the estimated error of ``new_T`` (see
    :mod:`.physical_time`), which is compared with ``new_T``;
    ``inner_points``, set by the step, is a tuple of evaluations at points
    of the path inside the step, in order, or ``()`` (the steps whose time
    comes from the distance moved use them, see
    :func:`~.driver._path_increment`).

    ``step_limit()`` bounds the step after an accepted one (``inf``: no
    bound); a stepper with ``predictive`` True (the L-stable implicit ones)
    gets the predictive step-size control of
    :func:`~sklearn_implicit._integrate.driver._predictive_factor`, the
    others the PI control; and :func:`integrate` sets ``horizon``, the
    clock of its last stop, before the first step (a stepper that chooses
    between methods may weigh what is left).

    Subclasses give the tableau: ``_A`` (row ``s`` holds the ``s`` weights of
    stage ``s``), ``_B`` (the solution weights), ``_C`` (the nodes),
    :meth:`_error`, and for the time component ``_time_error_weights`` (the
    embedded estimators' weights over the stages and the new point) with
    ``_blend`` (their combination into one estimate); the last
    stage must be at the end of the step (``c = 1``), where the new point is
    compared with it to estimate ``h |lambda|`` (Hairer's test for
    stiffness, ``h_lambda``), which bounds the next step where the error
    estimate stops bounding the error of decaying modes
    (``reliable_h_lambda``) and by which
    :class:`~sklearn_implicit._integrate.auto.AutoStepper` detects stiffness.
    """

    horizon = np.inf
    # the estimated error of T after the last step
    time_error = np.inf
    # evaluations on the path inside the last step (none here: the stages'
    # states are not points of the path)
    inner_points = ()
    # (tau, log dt/dtau) at the start of the last two distinct steps
    _starts = ()
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
        self.time_error = np.inf
        n_stages = len(self._B)
        # Stage velocities as rows: each combination is one matrix-vector
        # product, with no list of vectors to copy into an array.
        k = np.empty((n_stages + 1, state.shape[0]))
        k[0] = ev.dstate
        # log dt/dtau at the stages and the new point (the time component)
        log_rates = np.empty(n_stages + 1)
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
        log_rates[n_stages] = ev_new.log_dt_dtau
        # The previous start serves the time's control variate only when it
        # is the last accepted point and not far: after a stiff stretch of
        # AutoStepper it can be old.
        previous = [p for p in self._starts[:-1] if tau - 4 * h <= p[0] < tau]
        increment, self.time_error = runge_kutta_increment(
            h, log_rates, tau, self._C, self._B, self._time_error_weights, self._blend,
            previous,
        )
        T_new = T * np.exp(-h) + increment
        k[n_stages] = ev_new.dstate
        # Hairer's estimate h |lambda| ~ h |f(y1) - f(y0)| / |y1 - y0| from two
        # points at the step's end. (BLAS dnrm2 scales as it sums, so extreme
        # feature scales cannot overflow it; NumPy's norm squares first and a
        # guarded form cost 5% of an explicit fit at 100 x 1000.)
        dy = dnrm2(new_state - evs.state)
        df = dnrm2(ev_new.dstate - evs.dstate)
        self.h_lambda = h * df / dy if 0 < dy < np.inf and 0 < df < np.inf else 0.0
        return new_state, T_new, ev_new, self._error(flow, ev_new, h, k)

    def step_limit(self):
        """The largest next step after an accepted one."""
        reliable = self.reliable_h_lambda
        if reliable is None or not self.h_lambda > 0:
            return np.inf
        return self._last_h * reliable / self.h_lambda


class DormandPrince853(ExplicitRungeKutta):
    """DOP853: twelve evaluations per step, order 8, error estimate of order 7.

    Its order pays at the tolerances that a direction error of 1e-8 needs
    (case ``tol_scan`` of ``benchmarks/``).
    """

    order = 8
    _A = _dop853.A
    _B = _dop853.B
    _C = _dop853.C
    _time_error_weights = (_dop853.E5, _dop853.E3)
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

    @staticmethod
    def _blend_ratio(n5, n3):
        """Hairer's blend of the 5th- and 3rd-order estimators, which keeps
        the 3rd-order one from dominating when it is the larger: the factor
        |e5| / sqrt(|e5|**2 + |e3|**2 / 100) on the 5th-order estimate, or
        None where tiny norms make it 0 or inf (e5 is then used alone)."""
        # (scalar arithmetic of the math module: NumPy's scalars and errstate
        # cost as much as a vector operation at small sizes; the same IEEE
        # operations, so the same bits)
        n5, n3 = float(n5), float(n3)
        if not (n5 > 0 and math.isfinite(n5)):
            return None
        q = n3 / n5
        ratio = 1.0 / math.sqrt(1.0 + 0.01 * (q * q))
        if not math.isfinite(ratio):
            return None
        return ratio

    def _blend(self, n5, n3):
        # (a vanishing e5 is no evidence of accuracy for the time's single
        # component: the 3rd-order estimate then stands)
        ratio = self._blend_ratio(n5, n3)
        return np.maximum(n5, n3) if ratio is None else n5 * ratio

    def _error(self, flow, ev_new, h, k):
        # the blend in the norm that integrate applies (max over components
        # of error / scale), applied to the 5th-order error vector
        e5 = (h * _dop853.E5) @ k
        e3 = (h * _dop853.E3) @ k
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            scale = flow.network.error_scale(ev_new.state, ev_new.dstate)
            n5 = np.max(np.abs(e5) / scale)
            n3 = np.max(np.abs(e3) / scale)
        ratio = self._blend_ratio(n5, n3)
        return e5 if ratio is None else e5 * ratio
