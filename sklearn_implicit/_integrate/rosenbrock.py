"""Linearly implicit steps for the stiff late phase of the flow: RODAS4.

RODAS4 (Hairer & Wanner, Solving ODEs II, VI.4): six stages, order 4,
embedded order 3, L-stable and stiffly accurate; a Rosenbrock method, so
its order needs the exact Jacobian (:mod:`.jacobian`) at every step. It
satisfies the stepper contract of
:class:`~sklearn_implicit._integrate.explicit.ExplicitRungeKutta` and plugs
into :func:`~sklearn_implicit._integrate.driver.integrate` unchanged.

The physical-time component ``T`` (``dT/dtau = dt/dtau exp(-tau) - T``) is a
stage variable too, with its exact row of the Jacobian: ``-1`` on itself (it
becomes stiff once steps exceed one unit of ``tau``), the gradient of
``dt/dtau exp(-tau)`` with respect to the state (from the flow's Jacobian,
no products with ``Z``) and, since ``tau`` appears explicitly, its
derivative in ``tau`` through the method's ``d`` coefficients (the order
needs all of them, as for the state). With ``solver='stiff'`` on the
benchmarks' 100 x 1000 problem from alpha = 0.1 to a loss of 1e-100,
``log10_time_`` ends 1.1e-4 off at tol = 1e-3 and 1.3e-8 off at 1e-6.
"""

from dataclasses import dataclass

import numpy as np

from .jacobian import FlowJacobian, GramTruncation, supports_stiff
from .physical_time import dT
from .stiff_cost import SOLVE_COST, jacobian_costs

# The Gram matrices of a stepper given tol may leave out this fraction of tol
# of their trace (see GramTruncation).
GRAM_DROP = 1e-2


@dataclass(frozen=True)
class _Tableau:
    """A Rosenbrock method in transformed variables ``u_i = sum_j Gamma_ij k_j``,
    which need no product with ``A``:
    ``(I/(h gamma) - A) u_i = F(y0 + sum_j a_ij u_j) + sum_j (c_ij / h) u_j``,
    ``y1 = y0 + sum_i weights_i u_i``, error ``sum_i error_weights_i u_i``."""

    name: str
    gamma: float
    stage_a: np.ndarray
    stage_c: np.ndarray
    nodes: np.ndarray  # stage times (for T), in units of h
    # the stages' multiples of h d f/d tau (non-autonomous components: T)
    stage_d: np.ndarray
    weights: np.ndarray
    error_weights: np.ndarray
    order: int  # the local error estimate is O(h**order)


_RODAS4_A = np.zeros((6, 6))
_RODAS4_A[1, :1] = [1.544]
_RODAS4_A[2, :2] = [0.9466785280815826, 0.2557011698983284]
_RODAS4_A[3, :3] = [3.314825187068521, 2.896124015972201, 0.9986419139977817]
_RODAS4_A[4, :4] = [1.221224509226641, 6.019134481288629, 12.53708332932087,
                    -0.6878860361058950]
_RODAS4_A[5, :5] = [*_RODAS4_A[4, :4], 1.0]
_RODAS4_C = np.zeros((6, 6))
_RODAS4_C[1, :1] = [-5.6688]
_RODAS4_C[2, :2] = [-2.430093356833875, -0.2063599157091915]
_RODAS4_C[3, :3] = [-0.1073529058151375, -9.594562251023355, -20.47028614809616]
_RODAS4_C[4, :4] = [7.496443313967647, -10.24680431464352, -33.99990352819905,
                    11.70890893206160]
_RODAS4_C[5, :5] = [8.083246795921522, -7.981132988064893, -31.52159432874371,
                    16.31930543123136, -6.058818238834054]
_RODAS4 = _Tableau(
    "RODAS4", 0.25, _RODAS4_A, _RODAS4_C, np.array([0.0, 0.386, 0.21, 0.63, 1.0, 1.0]),
    np.array([0.25, -0.1043, 0.1035, -0.03620000000000023, 0.0, 0.0]),
    np.array([*_RODAS4_A[4, :4], 1.0, 1.0]), np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0]), 4,
)


def stiff_step_cost(shape):
    """The model's cost of a RODAS4 step with its Jacobian, in evaluations."""
    n_stages = len(_RODAS4.weights)
    return n_stages * (1.0 + SOLVE_COST) + sum(jacobian_costs(shape))


class Rodas4:
    """Linearly implicit step of RODAS4 with the exact Jacobian.

    Satisfies the stepper contract of
    :class:`~sklearn_implicit._integrate.explicit.ExplicitRungeKutta`. Six
    evaluations and six linear solves per step; the Jacobian is formed at
    every step and kept for the retries of a rejected step, which start from
    the same state.

    Parameters
    ----------
    tol : float, default=None
        The integration's local error tolerance: the Gram matrices may leave
        out ``GRAM_DROP * tol`` of their trace (see :class:`GramTruncation`).
        None leaves nothing out.

    Attributes
    ----------
    n_jacobians : int
        Jacobians formed so far.
    n_solves : int
        Linear solves so far (each costs about two products with ``Z``).
    n_factorizations : int
        LU factorizations so far (one per Jacobian and step size).
    """

    horizon = np.inf
    # the step-size control of integrate for L-stable steps (see
    # driver._predictive_factor)
    predictive = True
    order = _RODAS4.order
    # the estimated error of T after the last step
    time_error = np.inf
    inner_points = ()

    def __init__(self, tol=None):
        self.n_jacobians = 0
        self.n_solves = 0
        self.tol = tol
        self._truncation = None
        # the model's cost of the Jacobians before the current one and of
        # every factorization so far
        self._work = 0.0
        self._tableau = _RODAS4
        self._jac = None
        self._jac_ev = None  # the evaluation the Jacobian was formed at
        self._solver = None
        self.n_factorizations = 0

    def step_limit(self):
        """No bound: the method is L-stable."""
        return np.inf

    def forget_failures(self):
        """Nothing to forget: :meth:`step_limit` has no bound."""

    def step_cost(self, shape, n_state=None):
        """The model's cost of a step, in evaluations (:func:`stiff_step_cost`;
        ``n_state``, the state's size, is not used)."""
        return stiff_step_cost(shape)

    def _refresh_jacobian(self, flow, ev):
        if self._jac is not None and ev is self._jac_ev:
            # a step from the same state, retried smaller after a rejection
            return
        if self.tol is not None and (self._truncation is None
                                     or self._truncation.Z is not flow.X):
            self._truncation = GramTruncation(flow.X, GRAM_DROP * self.tol)
        if self._jac is not None:
            self._work += self._jac.setup_cost + self._jac.gram_cost
        self._jac = FlowJacobian(flow, ev, self._truncation)
        self._jac_ev = ev
        self.n_jacobians += 1
        self._solver = None

    def _linear_solver(self, shift):
        # The order needs the exact shift: the factors of the last step size
        # serve only a retry at the same size.
        solver = self._solver
        if solver is not None and solver.shift == shift:
            return solver
        # (a singular system, h gamma times an eigenvalue = 1, gives
        # non-finite stages: see shifted_solvers._lu_factor)
        self._solver = self._jac.shifted_solver(shift)
        self.n_factorizations += 1
        self._work += self._solver.lu_cost
        return self._solver

    def _check_flow(self, flow):
        if not supports_stiff(flow):
            raise TypeError(
                "the stiff solver needs a network with log_rates_with_slopes and "
                "a loss with log_curvature (the diagonal network with the "
                "exponential or logistic loss); use the explicit solver."
            )

    def step(self, flow, state, T, tau, h, ev):
        self.time_error = np.inf
        self._check_flow(flow)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            self._refresh_jacobian(flow, ev)
            # A step so small that the shift overflows cannot be taken:
            # integrate shrinks or rejects it like any failed stage.
            shift = 1.0 / (h * self._tableau.gamma)
            if not np.isfinite(shift):
                return None
            solver = self._linear_solver(shift)
            return self._stages(flow, solver, state, T, tau, h, ev)

    def _stages(self, flow, solver, state, T, tau, h, ev):
        shift = solver.shift
        # Stage increments as rows: each combination is one matrix-vector
        # product (np.tensordot over lists cost a sixth of a step).
        tableau = self._tableau
        n_stages = len(tableau.weights)
        u = np.empty((n_stages, state.shape[0]))
        yu = None  # Y^T u, kept by the low-rank solver
        uT = np.zeros(n_stages)
        # T's row of the Jacobian: d/dstate and d/dtau of its forcing
        forcing = np.exp(ev.log_dt_dtau - tau)
        jac = self._jac
        ev_i = ev
        for i in range(n_stages):
            a_i, c_i = tableau.stage_a[i, :i], tableau.stage_c[i, :i] / h
            rhs = ev_i.dstate
            if i > 0:
                ev_i = flow.evaluate(state + a_i @ u[:i])
                if not np.isfinite(ev_i.log_dt_dtau):
                    return None
                rhs = ev_i.dstate + c_i @ u[:i]
            y_rhs = solver.project(ev_i.dstate)
            if y_rhs is not None and i > 0:
                y_rhs = y_rhs + c_i @ yu[:i]
            u_i, yu_i = solver.solve(rhs, y_rhs)
            self.n_solves += 1
            # (a non-finite u_i needs no check of its own: the next stage's
            # state, or the new state, is then not finite either)
            u[i] = u_i
            if yu_i is not None:
                if yu is None:
                    yu = np.empty((n_stages, yu_i.shape[0]))
                yu[i] = yu_i
            dT_i = dT(ev_i, T + a_i @ uT[:i], tau + tableau.nodes[i] * h)
            coupling = forcing * jac.log_rate_slope(u_i)
            uT[i] = (dT_i + c_i @ uT[:i] + coupling
                     - h * tableau.stage_d[i] * forcing) / (shift + 1.0)
        new_state = state + tableau.weights @ u
        if not np.all(np.isfinite(new_state)):
            return None
        ev_new = flow.evaluate(new_state)
        if not np.isfinite(ev_new.log_dt_dtau):
            return None
        T_new = T + tableau.weights @ uT
        self.time_error = abs(tableau.error_weights @ uT)
        return new_state, T_new, ev_new, tableau.error_weights @ u

    def extra_cost(self):
        """Work beyond gradient evaluations so far, in evaluations (the cost
        model of :func:`jacobian_costs` and ``SOLVE_COST``: the work with
        ``Z``, not the Python work of a step). Its constants were measured
        on one machine; case ``step_cost`` of ``benchmarks/`` times a step of
        RODAS4 against DOP853's evaluations on the machine at hand: on an
        Intel Xeon (SkylakeX kernels of OpenBLAS) a RODAS4 step cost 1.25
        to 1.39 times the model (three runs) at 100 x 1000 with depth 2, where
        the Python work of its stages counts (0.87 to 0.90 with depth 3,
        whose evaluations cost more), and 0.61 to 0.72 times it at 300 x 3000
        and 1000 x 10000, where its Gram matrix ran faster, relative to an
        evaluation, than on the AMD EPYC the constants come from; on an AMD
        EPYC, 1.08 and 0.75 at 100 x 1000 (depth 2 and 3), 1.2 and 1.05 at
        300 x 3000, 0.82 at 1000 x 10000 with depth 2 (one run)."""
        if self._jac is None:
            return 0.0
        jac = self._jac
        return SOLVE_COST * self.n_solves + self._work + jac.setup_cost + jac.gram_cost
