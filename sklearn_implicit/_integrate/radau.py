"""Implicit steps of order 5: Radau IIA with three stages.

Where the design has no more columns than rows (``d <= n + 1``) the flow's
Jacobian is a dense ``d x d`` matrix (:class:`~.jacobian.FlowJacobian`),
cheap to form and to factor, and the steps' work is their evaluations. There
the data are separated over a long stretch of the clock (the loss falls
from about 0.1 to 0.01 while the coefficients grow thirtyfold), on which the
path bends on a scale of a few hundredths of ``tau``: RODAS4 (order 4)
takes thousands of steps there, and the three-stage Radau IIA method (order
5, L-stable, stiffly accurate; Hairer & Wanner, Solving ODEs II, IV.8)
about a fifth of them (case ``tall_stiff`` of ``benchmarks/``: 2.8 times
fewer evaluations on breast_cancer, both with the predictive step-size
control of :func:`~.driver._predictive_factor`). The diagonal network of
depth 2 has a Jacobian without a diagonal part on wide designs too, whose
Woodbury core (one real Gram matrix) serves the complex shift as well as
the real one: there Radau serves as well (100 x 1000 from alpha = 1 to
1e-300 with ``solver='stiff'``, 1,017 evaluations against RODAS4's 2,013;
2,099 against 2,967 with ``solver='auto'``; measured when this was written). At
depth 3 and beyond a complex shift would need Gram matrices of complex
weights, and RODAS4 stays (:mod:`.stiff_choice`); so it does for the
squared loss (see :func:`serves`).

The networks without an exact Jacobian (dense, convolutional) get Radau
steps too where the data part of their Jacobian is small (``min(n, d) <=
DATA_RANK`` or ``DATA_RANK_BATCHED``, :func:`~.krylov.serves_data`): the
simplified Newton iterations run with that part alone
(``jacobian='data'``), converge more slowly than with the exact Jacobian
but to the same collocation solution, and the steps keep order 5 where the
Rosenbrock-W steps of :mod:`.krylov` have order 3. A network that gives
its Jacobian by blocks (the convolutional one) has that part at any rank
(``jacobian='blocks'``, :mod:`.block_jacobian`): one weighted Gram matrix
per Jacobian serves both shifts, as for the diagonal network of depth 2.

The stages solve the collocation system ``Z = h (A (x) I) F(y + Z)`` by
simplified Newton iterations with the Jacobian at the step's start, in the
eigenvector basis of ``A^{-1}`` (one real eigenvalue and a complex pair):
one real and one complex system per iteration (:mod:`.shifted_solvers`),
three evaluations per iteration, the first guess extrapolated from the last
step's collocation polynomial. Where the iterations stall they restart once
with the Jacobian at the middle stage. The error estimate is the embedded
one of Hairer's RADAU5 (order 3, filtered through the real system so that
stiff components do not inflate it).

The physical-time component ``T`` (``dT/dtau = dt/dtau exp(-tau) - T``,
see :mod:`.physical_time`) is collocated with the same stages once the
state's are known: its equation is linear in ``T``, so its stages solve a
3 x 3 system exactly.

Where the Jacobian is exact and dense and the time is known (``T > 0``),
the stages are collocated in ``s = log t`` instead (:class:`_LogTimeClock`),
with the step's length in ``s`` an unknown fixed by the end's loss: the
step still ends where the loss has fallen by ``h``, as integrate's clock
asks, and ``T`` follows from ``s``. In ``tau`` the velocity carries the
factor ``1/(h . P h)``, which changes fast across the path where the
loss falls slowly while the state moves (tall data as their classes
separate), and the simplified Newton iterations lost their reach there; in
``log t`` they keep it (standardized breast_cancer, defaults, to 1e-5:
1,464 evaluations, 117 Radau steps and no Newton failure, against 2,120,
184 and 5 in ``tau``; to 1e-30: 1,709, 152 and 0 against 2,639, 236 and
6).
"""

import math

import numpy as np

from .._losses import is_margin_loss
from .block_jacobian import BlockBasis, BlockFlowJacobian
from .jacobian import FlowJacobian, GramTruncation, has_block_jacobian, supports_stiff
from .krylov import DataJacobian, network_call_cost, serves_data
from .physical_time import _lagrange, dT
from .rosenbrock import GRAM_DROP
from .stiff_cost import SOLVE_COST, jacobian_costs

_S6 = np.sqrt(6.0)
# nodes and coefficients of the three-stage Radau IIA method
NODES = np.array([(4.0 - _S6) / 10.0, (4.0 + _S6) / 10.0, 1.0])
_A = np.array([
    [(88.0 - 7.0 * _S6) / 360.0, (296.0 - 169.0 * _S6) / 1800.0, (-2.0 + 3.0 * _S6) / 225.0],
    [(296.0 + 169.0 * _S6) / 1800.0, (88.0 + 7.0 * _S6) / 360.0, (-2.0 - 3.0 * _S6) / 225.0],
    [(16.0 - _S6) / 36.0, (16.0 + _S6) / 36.0, 1.0 / 9.0],
])
_A_INV = np.linalg.inv(_A)


def _eigenbasis():
    """``A^{-1} = V diag(lam) V^{-1}`` with ``lam = (real, complex, its
    conjugate)`` and the third eigenvector the conjugate of the second."""
    lam, V = np.linalg.eig(_A_INV)
    real = int(np.argmin(np.abs(lam.imag)))
    upper = [i for i in range(3) if i != real and lam[i].imag > 0][0]
    V = np.column_stack([V[:, real].real, V[:, upper], V[:, upper].conj()])
    lam = np.array([lam[real].real, lam[upper], lam[upper].conjugate()])
    return lam, V, np.linalg.inv(V)


_LAM, _V, _V_INV = _eigenbasis()
_MU_REAL = float(_LAM[0].real)  # 3 + 3**(2/3) - 3**(1/3)
_MU_COMPLEX = complex(_LAM[1])
# Embedded error estimate of RADAU5: (mu/h - J)^{-1} (f(y0) + E . Z / h)
_E = np.array([-13.0 - 7.0 * _S6, -13.0 + 7.0 * _S6, -1.0]) / 3.0
_NEWTON_MAXITER = 6
_GUESS_NODES = np.r_[0.0, NODES]
# The cubic's coefficients (highest first) through values at the last step's
# start and stages, in units of its length from its end
_CLOCK_CUBIC = np.linalg.inv(np.vander(_GUESS_NODES - 1.0, 4))
# After Newton failed at a step size, later steps stay below 0.7 of it, a
# bound that grows by this factor per accepted step: Newton's reach moves
# slowly along the path. Before Newton restarted with a fresh Jacobian (see
# Radau5._newton), a bound forgotten faster (1.2) let the steps grow back
# into failures every few steps (breast_cancer to 1e-5 at tol 1e-4: 9,851
# evaluations against 3,091); with the restart, 1.02 to 1.2 give 2,583 to
# 2,630 there and the same 4,389 at tol 1e-6.
_FORGET = 1.05
# The rounding of log L, relative to max(1, |log L|), below which the
# step in the clock log t takes its end's loss as on the target (seen: up
# to 2.7 eps at tau = 3)
_PIN_ROUNDING = 8 * np.finfo(float).eps


class Radau5:
    """Implicit step of the three-stage Radau IIA method (order 5).

    Satisfies the stepper contract of
    :class:`~sklearn_implicit._integrate.explicit.ExplicitRungeKutta`, for
    flows of a margin loss whose Jacobian is exact and dense (``d <= n +
    1``) or without a diagonal part (see :func:`serves`), or, with
    ``jacobian='data'``, whose data Jacobian is small (see
    :func:`~.krylov.serves_data`), or, with ``jacobian='blocks'``, whose
    network gives its Jacobian by blocks (see :func:`serves_blocks`).
    ``order`` is that of its error estimate's leading term (4), which sets
    the step-size control.

    Parameters
    ----------
    tol : float, default=None
        The integration's local error tolerance: the Newton iterations stop
        well below it.
    jacobian : {'exact', 'data', 'blocks'}, default='exact'
        The matrix of the Newton iterations: the flow's exact Jacobian
        (:class:`~.jacobian.FlowJacobian`), or the data part of it pulled
        back through the network (:class:`~.krylov.DataJacobian`, for the
        networks without the exact one), or that part and the power's
        gradient formed by blocks (:class:`~.block_jacobian.BlockFlowJacobian`,
        for a network with ``jacobian_blocks``). Simplified Newton iterations
        converge with any matrix near the Jacobian, to the same
        collocation solution: the matrix sets their speed, not the
        step's accuracy. On the standardized breast_cancer data,
        ``DeepLinearClassifier(random_state=0)`` to 1e-5 took 2,217
        evaluations with the data Jacobian (0.6 s), against 4,284 with the
        Rosenbrock-W steps of :class:`~.krylov.KrylovW` (order 3; 1.5 s), and
        ended nearer the path (direction errors 2.2e-11 and 1.2e-8 against a
        tol=1e-10 fit).
    clock : {'log_time', 'tau'}, default='log_time'
        The variable the stages are collocated in: ``log t`` where the exact
        dense Jacobian serves and the time is known (:class:`_LogTimeClock`;
        ``T`` must then be ``t exp(-tau)`` in the flow's time unit, as
        integrate keeps it), ``tau`` otherwise; ``'tau'`` always (the other
        Jacobians' steps know no other).

    Attributes
    ----------
    n_jacobians, n_factorizations, n_solves, n_newton : int
        Jacobians formed, LU factorizations (real and complex), linear
        solves and Newton iterations so far.
    """

    horizon = np.inf
    # the step-size control of integrate for L-stable steps (see
    # driver._predictive_factor)
    predictive = True
    order = 4
    time_error = np.inf
    inner_points = ()

    def __init__(self, tol=None, jacobian="exact", clock="log_time"):
        if jacobian not in ("exact", "data", "blocks"):
            raise ValueError(
                f"jacobian must be 'exact', 'data' or 'blocks'; got {jacobian!r}.")
        if clock not in ("log_time", "tau"):
            raise ValueError(f"clock must be 'log_time' or 'tau'; got {clock!r}.")
        self.jacobian, self.clock = jacobian, clock
        self.tol = 1e-6 if tol is None else tol
        # Newton stops once its corrections, extrapolated, are below this
        # fraction of tol (as scipy's Radau: min(0.03, sqrt(rtol)))
        self._newton_tol = max(10 * np.finfo(float).eps / self.tol, min(0.03, self.tol**0.5))
        self.n_jacobians = self.n_factorizations = self.n_solves = self.n_newton = 0
        self._jac = self._jac_ev = None
        self._jac_log_time = False
        self._solvers = None  # (h, real system's, complex system's)
        self._truncation = None
        self._basis = BlockBasis()
        # (clock at its end, h, Z) of the last step taken, and of the last
        # one known to be accepted (integrate called again from its end)
        self._last = self._accepted = None
        self._work = 0.0
        # calls of the network by the data Jacobians retired so far, and the
        # price of one in evaluations (see KrylovW.extra_cost)
        self._data_calls, self._call_cost = 0, 0.0
        self._failed_h = np.inf  # a step size at which Newton failed lately

    def step_limit(self):
        """The largest next step after an accepted one: none past a step size
        at which Newton failed lately (the error estimate cannot see that
        limit: the simplified Newton iterations keep the step's first
        Jacobian, and where the path turns fast they stop converging at
        steps that are accurate enough)."""
        return 0.7 * self._failed_h

    def forget_failures(self):
        """Drop the bound of :meth:`step_limit` (a new stretch of stiff steps
        begins)."""
        self._failed_h = np.inf

    def step_cost(self, shape, n_state=None):
        """About two Newton iterations and the new point's evaluation, with
        a Jacobian and two factorizations, in evaluations (a data Jacobian's
        ``2 min(n, d) + 2`` calls of the network at their share of an
        evaluation, for ``n_state`` states: see :meth:`extra_cost`)."""
        if self.jacobian == "data":
            n, d = shape
            n_state = 2 * n * d if n_state is None else n_state
            return 7.0 + (2 * min(shape) + 2) * network_call_cost(shape, n_state)
        jacobian, lu = jacobian_costs(shape)
        return 7.0 + jacobian + 2 * lu

    def extra_cost(self):
        """Jacobians and factorizations so far, in evaluations (the cost
        model of :func:`~.stiff_cost.jacobian_costs`; a data Jacobian's
        calls of the network at their share of an evaluation)."""
        calls = self._data_calls
        if isinstance(self._jac, DataJacobian):
            calls += self._jac.calls
        return self._work + calls * self._call_cost

    def _check_flow(self, flow):
        if self.jacobian == "data":
            if not serves_data(flow):
                raise TypeError(
                    "Radau5 with jacobian='data' needs a margin loss with its "
                    "curvature and min(n, d) <= DATA_RANK (DATA_RANK_BATCHED for "
                    "a network with batched columns)."
                )
        elif self.jacobian == "blocks":
            if not serves_blocks(flow):
                raise TypeError(
                    "Radau5 with jacobian='blocks' needs a margin loss with its "
                    "curvature and a network with jacobian_blocks."
                )
        elif not serves(flow):
            raise TypeError(
                "Radau5 needs a margin loss and the exact Jacobian, dense (a tall "
                "design, d <= n + 1) or without a diagonal part (depth 2)."
            )

    def _refresh(self, flow, ev, clock, s):
        if self._jac is None or ev is not self._jac_ev or clock.log_time != self._jac_log_time:
            return self._use_jacobian(flow, ev, clock, s)
        if self._solvers[0] != clock.S:
            self._solvers = (clock.S, *self._factor(self._jac, clock.S))
        return self._solvers[1], self._solvers[2]

    def _jacobian(self, flow, ev, h, s=None):
        self.n_jacobians += 1
        if self.jacobian == "data":
            self._call_cost = network_call_cost(flow.X.shape, ev.state.shape[0])
            return DataJacobian(flow, ev)
        if self.jacobian == "blocks":
            jac = BlockFlowJacobian(flow, ev, *self._basis.of(flow, GRAM_DROP * self.tol),
                                    step=h)
            self._work += jac.setup_cost + jac.gram_cost
            return jac
        # (the columns a Gram matrix may leave out: the exact Jacobian's only)
        if self._truncation is None or self._truncation.Z is not flow.X:
            self._truncation = GramTruncation(flow.X, GRAM_DROP * self.tol)
        self._work += jacobian_costs(flow.X.shape)[0]
        jac = FlowJacobian(flow, ev, self._truncation)
        return jac if s is None else jac.in_log_time(ev, s)

    def _use_jacobian(self, flow, ev, clock, s):
        """Solvers of the Jacobian at ``ev`` (and ``s``, in the clock
        ``log t``) for the step ``clock.S``, kept as the current one."""
        if isinstance(self._jac, DataJacobian):
            self._data_calls += self._jac.calls
        self._jac = self._jacobian(flow, ev, clock.S, s)
        self._jac_ev, self._jac_log_time = ev, clock.log_time
        self._solvers = (clock.S, *self._factor(self._jac, clock.S))
        return self._solvers[1], self._solvers[2]

    def _factor(self, jac, h):
        """Solvers of the real and the complex system at step ``h``."""
        self.n_factorizations += 2
        # (a complex LU costs about four real ones)
        self._work += 5 * jac.lu_cost
        return jac.shifted_solver(_MU_REAL / h), jac.shifted_solver(_MU_COMPLEX / h)

    def _solve(self, solver, b):
        # (none to speak of for the dense system of a tall design; through
        # the Woodbury identity two products with Z, a complex system's
        # twice that)
        if not self._jac.free_solves:
            self._work += SOLVE_COST * (1 + np.iscomplexobj(solver.shift))
        self.n_solves += 1
        return solver.solve(b, solver.project(b))[0]

    def _clock(self, flow, T, tau, h, ev):
        """The clock of the step's collocation: ``s = log t`` where the
        Jacobian is exact and dense and the time is known (``T > 0``), ``tau``
        itself otherwise (see :class:`_LogTimeClock`)."""
        if not (self.clock == "log_time" and self.jacobian == "exact" and T > 0
                and _serves_log_time(flow)):
            return _TauClock(h)
        s0 = np.log(T) + tau
        # ds/dtau at the start, or, after a step in this clock, from the
        # clock's polynomial over it
        S = h * np.exp(ev.log_dt_dtau - s0)
        # The loss falls by h, as over a step in tau (integrate's clock check
        # holds the gap between the clock and -log L, not the clock itself)
        target = h - ev.log_loss
        last = self._accepted_step(tau)
        if last is not None and last[3] is not None:
            S = _predicted_step(last, target, S)
        return _LogTimeClock(s0, target, S)

    def _accepted_step(self, tau):
        """The record of the accepted step that ended at ``tau`` (None if
        there is none: the first step, or one after explicit steps). A step
        taken but rejected by integrate (its error) is not one: the retry
        starts from the step before it. The end point may have moved since
        (the correction onto a stop's loss)."""
        # (a step cut to land on a stop ends at tau + (stop - tau), which
        # may differ from the stop in its last bit)
        def ends_here(step):
            return step is not None and abs(step[0] - tau) <= 1e-12 * max(1.0, abs(tau))

        if ends_here(self._last):
            self._accepted = self._last
        return self._accepted if ends_here(self._accepted) else None

    def _guess(self, state, tau, clock, ev):
        """Stage increments extrapolated from the collocation polynomial of
        the accepted step that ended at ``tau``, in the same clock; the
        increments are relative to the step's start.

        Where there is none (the first step, or one after explicit steps),
        zeros in the clock ``tau``, and in ``log t`` the tangent at the start
        (``ev``): there the first correction moves ``S`` too, and from zero
        stages it converged too slowly for the iterations left at steps that
        ``tau`` allowed (a separable 30 x 8 problem at depth 3 from tau = 2:
        h = 0.125 and 0.0625 failed, and the fixed steps of the order test
        could not start).
        """
        last = self._accepted_step(tau)
        if last is None or (last[3] is not None) != clock.log_time:
            if clock.log_time:
                return NODES[:, None] * clock.S * clock.rate(ev, clock.start)
            return np.zeros((3, state.shape[0]))
        _, S_last, Z = last[:3]
        # y(t1 + c S) - y1, y1 = y0 + Z[2], from the values 0, Z at the nodes
        values = np.vstack([np.zeros_like(Z[0]), Z])
        return _lagrange(_GUESS_NODES, values, 1.0 + NODES * clock.S / S_last) - Z[2]

    def step(self, flow, state, T, tau, h, ev):
        self.time_error = np.inf
        self.inner_points = ()
        self._check_flow(flow)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            if not (h > 0 and np.isfinite(_MU_REAL / h)):
                return None
            clock = self._clock(flow, T, tau, h, ev)
            if not (clock.S > 0 and np.isfinite(_MU_REAL / clock.S)):
                return None
            Z = self._guess(state, tau, clock, ev)
            # With a guess from the last step, the Jacobian is formed at its
            # middle stage, evaluated by the first iteration anyway (see
            # _newton); without one, at the step's start.
            guessed = bool(np.any(Z))
            real = complex_ = None
            if not guessed:
                real, complex_ = self._refresh(flow, ev, clock, clock.start)
            solved = self._newton(flow, state, ev, h, Z, real, complex_, clock)
            if solved is None:
                self._failed_h = min(self._failed_h, h)
                return None
            Z, stage_evs, real = solved
            new_state = state + Z[2]
            if not np.all(np.isfinite(new_state)):
                return None
            ev_new = flow.evaluate(new_state)
            if not np.isfinite(ev_new.log_dt_dtau):
                return None
            err = self._solve(real, clock.rate(ev, clock.start) + (_E @ Z) / clock.S)
            if clock.log_time:
                T_new = T * np.exp(clock.S - h)
                # The estimate is the error at the step's end in s; on the
                # clock, where integrate measures it, the end's error
                # changes tau by slip = grad(tau) . err, which the loss's
                # pin takes back along the path: the state's error there is
                # err - slip F, and the time's slip ds/dtau in log t.
                slip = np.dot(_clock_gradient(flow, ev_new), err)
                err = err - slip * ev_new.dstate
                self.time_error = T_new * abs(slip) * np.exp(
                    ev_new.log_dt_dtau - clock.s0 - clock.S)
            else:
                T_new, self.time_error = _time_stages(T, tau, h, ev, stage_evs)
            # The collocation points inside the step (at its nodes; the last
            # is its end): the Newton iterations' last evaluations, at
            # states within their tolerance of the stages'.
            self.inner_points = tuple(stage_evs[:-1])
            self._last = (tau + h, clock.S, Z,
                          -np.array([ev.log_loss] + [e.log_loss for e in stage_evs])
                          if clock.log_time else None)
            # (a failure's bound is forgotten slowly, as steps succeed)
            self._failed_h *= _FORGET
            return new_state, T_new, ev_new, err

    def _newton(self, flow, state, ev, h, Z, real, complex_, clock):
        """The converged stage increments and the stages' evaluations, or None.

        Simplified Newton iterations with the Jacobian of the step's start,
        or, where ``real`` is None (a guess extrapolated from the last step),
        with the Jacobian at the guess's middle stage, formed in the first
        iteration from its own evaluation: where the path turns within a
        step the start's Jacobian made most iterations restart (on
        breast_cancer to 1e-5 at tol 1e-3, 110 of 160 steps). Where they
        stall (the path turns within the step: a Jacobian at its
        start is no longer the path's), they start again once from where
        they are, with the Jacobian at the middle stage: on breast_cancer to
        1e-5 at tol 1e-6 that took 4,389 evaluations in 459 steps, against
        5,335 in 695 without (the steps are limited by Newton's reach, not by
        their error there). A second restart gained nothing.

        In the clock ``s = log t`` the step's length ``S`` is an unknown
        too, fixed by the end stage's loss (``h`` below the start's): each
        iteration solves the bordered system by one more pair of solves
        (the stages' derivative in ``S``) and the clock's gradient at the
        end stage (:class:`_LogTimeClock`).
        """
        W = _V_INV @ Z  # complex rows: real, complex, conjugate
        previous, restarted, k = None, False, 0
        # the evaluations at the stages Z while they have not moved (without
        # a guess every stage is the step's start, evaluated already)
        evs = None if np.any(Z) else [ev] * 3
        while k < _NEWTON_MAXITER:
            self.n_newton += 1
            if evs is None:
                evs = [flow.evaluate(state + Z[i]) for i in range(3)]
                if not all(np.isfinite(e.log_dt_dtau) for e in evs):
                    return None
            # the error scale of the step's end, as integrate measures it
            # (the start's is no scale for the first step from rho = 0), of
            # the end stage's own state: the network keeps its quantities
            # for the state it evaluated last, and a new array of the same
            # values made it form them again (breast_cancer, depth 3 from
            # alpha = 0.01: 34,521 times for 24,455 evaluations; 27,386)
            scale = flow.network.error_scale(evs[2].state, evs[2].dstate) * self.tol
            # (here, while the network still holds the end stage's
            # quantities: a Jacobian formed below at the middle stage would
            # make it form them again)
            gradient = _clock_gradient(flow, evs[2]) if clock.log_time else None
            if real is None:
                real, complex_ = self._use_jacobian(flow, evs[1], clock, clock.times[1])
            S = clock.S
            rates = clock.rates(evs)
            G = _V_INV @ rates
            d_real = self._solve(real, (G[0] - _MU_REAL / S * W[0]).real)
            d_complex = self._solve(complex_, G[1] - _MU_COMPLEX / S * W[1])
            dS = 0.0
            if clock.log_time:
                # The stages' equations Z = S (A x I) Phi(Z, s0 + c S) move
                # with S by A Phi + S A (c Phi), which the iterations see
                # through A^-1 / S as Phi / S + c Phi. (The derivative of
                # their form A^-1 Z / S = Phi, A^-1 Z / S**2 + c Phi, not
                # linear in S, took 35,831 evaluations for wine at depth 3
                # from alpha = 0.01 to 1e-5 against 10,692.)
                B = _V_INV @ ((1.0 / S + NODES[:, None]) * rates)
                b_real = self._solve(real, B[0].real)
                b_complex = self._solve(complex_, B[1])
                moved = np.dot(gradient, _end_increment(d_real, d_complex))
                per_S = np.dot(gradient, _end_increment(b_real, b_complex))
                # (a miss of the end's loss within its rounding is none: it
                # moves the state by the rounding times d rho/d tau, which is
                # large near a saddle, where the loss stands still, and the
                # iterations there stopped converging at tol 1e-10)
                miss = clock.target + evs[2].log_loss
                if abs(miss) <= _PIN_ROUNDING * max(1.0, abs(clock.target)):
                    miss = 0.0
                dS = (miss - moved) / per_S
                if not (np.isfinite(dS) and per_S > 0):
                    return None
                d_real = d_real + dS * b_real
                d_complex = d_complex + dS * b_complex
            norm = max((np.abs(d_real) / scale).max(), (np.abs(d_complex) / scale).max())
            if not np.isfinite(norm):
                return None
            rate = None
            if previous is not None:
                rate = norm / previous if previous > 0 else 0.0
                # diverging, or too slow to converge in the iterations left
                if rate >= 1 or rate ** (_NEWTON_MAXITER - k) / (1 - rate) * norm > self._newton_tol:
                    if restarted:
                        return None
                    # (from the same stages: their evaluations serve again,
                    # a tenth of the evaluations on breast_cancer to 1e-5)
                    restarted, previous, k = True, None, 0
                    real, complex_ = self._use_jacobian(flow, evs[1], clock, clock.times[1])
                    continue
            W[0] += d_real
            W[1] += d_complex
            W[2] = W[1].conj()
            Z = (_V @ W).real
            clock.S = S + dS
            if not clock.S > 0:
                return None
            stage_evs, evs = evs, None
            if rate is None:
                # a first correction this small: the guess was on the path
                converged = norm < 1e-3 * self._newton_tol
            else:
                converged = rate / (1 - rate) * norm < self._newton_tol
            if norm == 0 or converged:
                # On the path the loss falls by h over the step (the clock
                # is -log L). Where it does not at the last stage, to a
                # tenth of h, the iterations go on while their corrections
                # matter: at a loose tol, corrections held to tol alone
                # exceeded a short step's descent, the loss rose, and the
                # step was rejected and quartered again and again
                # (breast_cancer at tol 1e-2: 721,170 evaluations to 1e-30,
                # in steps of 1e-5 of the clock; 3,606 with this test). Near
                # a loss's infimum the state moves while the loss barely
                # does, and the test costs nothing there.
                descent = ev.log_loss - stage_evs[2].log_loss
                if abs(descent - h) <= 0.1 * h or norm < 1e-6 * self._newton_tol:
                    return Z, stage_evs, real
            previous = norm
            k += 1
        return None


class _TauClock:
    """The stages collocated in the clock ``tau = -log L`` itself: the step
    is ``h``."""

    log_time = False
    start = None

    def __init__(self, h):
        self.S = h
        self.times = (None, None, None)

    def rate(self, ev, s):
        return ev.dstate

    def rates(self, evs):
        return np.vstack([e.dstate for e in evs])


class _LogTimeClock:
    """The stages collocated in ``s = log t``, the step's end where the loss
    has fallen by ``h`` (``target``, in ``-log L``).

    In ``tau`` the velocity is ``F = c a h`` with ``c = 1/(h . P h)``: where
    the loss falls slowly while the state moves (breast_cancer as its
    classes separate, loss 0.1 to 0.01), ``c`` is large and changes fast
    across the path, and so does the rank-one part of the Jacobian that
    carries its gradient. At a point 3e-5 off the path (an extrapolated
    guess's middle stage, near tau = 3.3) that part was 3.6e4 in norm,
    against 5.5 on the path, and the simplified Newton iterations stalled;
    a full Newton method (every stage's own Jacobian) from the step's start
    failed at the step sizes taken. In ``t`` the velocity has no such
    factor (in ``log t`` it is multiplied by ``t``): there full Newton
    converged from the same points at eight times those steps. The step
    keeps integrate's contract (its end is where the loss has fallen by
    ``h``): its length ``S`` in ``s`` is solved for with the stages, and
    ``T`` follows exactly.
    """

    log_time = True

    def __init__(self, s0, target, S):
        self.s0, self.target, self.S = s0, target, S
        self.start = s0

    @property
    def times(self):
        return self.s0 + NODES * self.S

    def rate(self, ev, s):
        return ev.dstate * np.exp(s - ev.log_dt_dtau)

    def rates(self, evs):
        return np.vstack([self.rate(e, s) for e, s in zip(evs, self.times)])


def _end_increment(real, complex_):
    """The end stage's increment from increments of ``W`` (real, complex;
    the third row the conjugate of the second)."""
    end = _V[2]
    return end[0].real * real + 2.0 * (end[1] * complex_).real


def _clock_gradient(flow, ev):
    """The gradient of the clock ``tau = -log L`` in the state, at ``ev``.

    ``grad tau = J . (-grad_beta log L)`` with ``J = P/a``, and the velocity
    ``F`` is ``a`` times that gradient in beta, times a factor: ``grad tau``
    is parallel to ``(P / a**2) F``, and ``F . grad tau = 1`` (the loss falls
    at unit rate in its own clock) fixes its length.
    """
    log_a, log_p = flow.network.log_rates(ev.state)
    log_q = log_p - 2 * log_a
    q = np.exp(log_q - np.max(log_q)) * ev.dstate
    return q / np.dot(q, ev.dstate)


def _predicted_step(last, target, S):
    """The step in ``s`` to the clock ``target``, from the clock's values
    at the last step's start and stages (a cubic in ``s``), by Newton's
    method from ``S`` (kept where that fails)."""
    _, S_last, _, taus = last
    # (Horner's rule on Python floats: numpy's polyfit and polyval cost 8%
    # of a default fit on breast_cancer)
    a3, a2, a1, a0 = (float(c) for c in _CLOCK_CUBIC @ taus)
    x = S / S_last
    for _ in range(8):
        dx = (target - (((a3 * x + a2) * x + a1) * x + a0)) / ((3.0 * a3 * x + 2.0 * a2) * x + a1)
        if not math.isfinite(dx):
            return S
        x += dx
        if abs(dx) <= 1e-12 * abs(x):
            break
    return x * S_last if x > 0 else S


def _serves_log_time(flow):
    """Whether the steps in ``log t`` serve the flow: a dense Jacobian
    (``d <= n + 1``; :meth:`FlowJacobian.in_log_time`) and a network that
    gives ``log_rates`` (:func:`_clock_gradient`)."""
    n, d = flow.X.shape
    return d <= n + 1 and hasattr(flow.network, "log_rates")


def _time_stages(T, tau, h, ev, stage_evs):
    """``T`` at the step's end from its collocation stages, and the embedded
    estimate of its error.

    ``dT/dtau = phi - T`` with ``phi = exp(log dt/dtau - tau)`` known at the
    stages: ``T_i = T + h sum_j a_ij (phi_j - T_j)``, a 3 x 3 linear system.
    """
    phi = np.array([np.exp(e.log_dt_dtau - (tau + c * h)) for e, c in zip(stage_evs, NODES)])
    stages = np.linalg.solve(np.eye(3) + h * _A, T + h * _A @ phi)
    increments = stages - T
    f0 = dT(ev, T, tau)
    error = (f0 + (_E @ increments) / h) / (_MU_REAL / h + 1.0)
    return stages[2], abs(error)


def serves_blocks(flow):
    """Whether Radau steps with the low-rank Jacobian by blocks
    (``jacobian='blocks'``) serve the flow: a network with
    ``jacobian_blocks`` and a margin loss with its curvature."""
    return (has_block_jacobian(flow.network) and hasattr(flow.loss, "log_curvature")
            and is_margin_loss(flow.loss))


def serves(flow):
    """Whether the flow has the exact Jacobian and its complex systems are
    cheap: dense (``d <= n + 1``), or without a diagonal part (depth 2),
    whose Woodbury core is one real Gram matrix for both shifts; for a
    margin loss only.

    The squared loss's flows pass saddles where the clock's speed rests on
    gradients at their rounding level (see :mod:`.driver`); there the
    collocated time of a Radau step was seen to go astray: from alpha =
    1e-100 on a 5 x 10 regression, ``log10_time_`` 4e-3 off with the
    oldest numpy and scipy the package allows (1e-8 with the newest), and
    a fit with repeated samples 3e-9 from the weighted one. RODAS4 keeps
    those flows.
    """
    if not (supports_stiff(flow) and is_margin_loss(flow.loss)):
        return False
    n, d = flow.X.shape
    return d <= n + 1 or getattr(flow.network, "jacobian_is_low_rank", False)
