"""Matrix-free stiff steps for networks without Jacobian pieces: Krylov-W.

The dense and convolutional networks have no cheap exact Jacobian of the
flow: its data part has rank at most ``min(n, d)`` in ``beta``, but the
network's own curvature couples all the layers (rank about the sum of the
layers' fan-in and fan-out). Its stiff part, though, is small: on the
standardized breast_cancer training split (398 x 31 with the intercept),
width 32, depth 2 (2,048 states), the Jacobian along the path has some ten
eigenvalues with ``|lambda| > 20`` per unit of ``tau`` (up to 1,500 at a
loss of 1e-2.6), all others below 8 (``benchmarks/cases/deep.py``).

A Rosenbrock-*W* method keeps its order with any matrix ``W`` in place of the
Jacobian (Hairer & Wanner, Solving ODEs II, IV.7): the exactness of the
trajectory rests on the error control alone, and ``W`` only has to capture
the stiff modes for stability. ``W = V H V^T`` is the Arnoldi projection of
the Jacobian onto a Krylov space of a few tens of vectors, with
Jacobian-vector products by one extra evaluation each (a difference
quotient: its error only moves ``W``), and the shifted systems
``(s I - W) x = b`` are solved exactly,
``x = b / s + V ((s I - H)^{-1} - I / s) V^T b``. The method is ROS34PW2
(Rang & Angermann 2005): four stages, order 3 for any ``W``, embedded order
2, L-stable. Nothing is asked of the network beyond the contract's
``velocity``, so every network gets it.

Physical time rides along as for RODAS4 (:mod:`.rosenbrock`), its row of
``W`` being ``-1`` on itself and nothing else (the clock, made a component
of the state, gets a zero row: a W-method allows both).
"""

import numpy as np
from scipy.linalg.blas import dnrm2

from .rosenbrock import Rodas4, _Tableau
from .shifted_solvers import _lu_factor, _lu_solve

# ROS34PW2 (Rang & Angermann, BIT 45, 2005) in the form of Hairer & Wanner:
# alpha (stage points), Gamma (lower triangular, gamma on its diagonal),
# weights b and embedded weights b_hat.
_GAMMA = 0.435866521508459
_ALPHA = np.array([
    [0.0, 0.0, 0.0, 0.0],
    [0.87173304301691801, 0.0, 0.0, 0.0],
    [0.84457060015369423, -0.11299064236484185, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
])
_GAMMA_MATRIX = np.array([
    [_GAMMA, 0.0, 0.0, 0.0],
    [-0.87173304301691801, _GAMMA, 0.0, 0.0],
    [-0.90338057013044082, 0.054180672388095326, _GAMMA, 0.0],
    [0.24212380706095346, -1.2232505839045147, 0.54526025533510214, _GAMMA],
])
_B = np.array([0.24212380706095346, -1.2232505839045147, 1.5452602553351020, _GAMMA])
_B_HAT = np.array([0.37810903145819369, -0.096042292212423178, 0.5, 0.2179332607542295])


def transformed_tableau(name, alpha, gamma_matrix, b, b_hat, order):
    """A Rosenbrock(-W) method in the variables ``u_i = sum_j Gamma_ij k_j`` of
    :class:`~.rosenbrock._Tableau` (Hairer & Wanner, VI.7: ``a = alpha
    Gamma^-1``, ``c = diag(1/gamma) - Gamma^-1``, ``m = b Gamma^-1``)."""
    inverse = np.linalg.inv(gamma_matrix)
    gamma = gamma_matrix[0, 0]
    return _Tableau(
        name, gamma, alpha @ inverse, np.diag(1.0 / np.diag(gamma_matrix)) - inverse,
        alpha.sum(axis=1), np.zeros(len(b)), b @ inverse, (b - b_hat) @ inverse, order,
    )


ROS34PW2 = transformed_tableau("ROS34PW2", _ALPHA, _GAMMA_MATRIX, _B, _B_HAT, 3)

# Arnoldi vectors per Jacobian: min(n, n_coef) + 1 + _EXTRA, at most
# KRYLOV_SIZE (see KrylovW._size).
KRYLOV_SIZE = 24
_EXTRA = 16
# Relative size of the difference quotient's step (about the square root of
# the rounding unit, which balances truncation and cancellation).
_FD_STEP = 1.5e-8
MAX_AGE = 10


class KrylovJacobian:
    """The flow's Jacobian at one evaluation, projected on a Krylov space.

    ``V`` (orthonormal columns) and ``H = V^T A V`` from ``size`` steps of
    Arnoldi (modified Gram-Schmidt, twice) on ``A v ~ (F(y + e v) - F(y)) / e``,
    started from a fixed pseudo-random vector, so that every mode of ``A`` is
    present from the start whatever the velocity (whose stiff components
    have decayed to rounding, late in training). An exhausted space (an
    invariant subspace, or a product that cannot be evaluated) ends it early.
    """

    # the time's coupling to the state is left out of W (see the module)
    setup_cost = gram_cost = 0.0

    def __init__(self, flow, ev, size, start):
        state, f0 = ev.state, ev.dstate
        n_state = state.shape[0]
        size = min(size, n_state)
        basis = np.empty((size + 2, n_state))
        hessenberg = np.zeros((size + 2, size))
        scale = _FD_STEP * max(np.max(np.abs(state)), 1.0)
        n_basis = 0
        for v in (f0, start):
            n_basis = _orthogonal_append(basis, n_basis, v.copy(), hessenberg, None)
        k = 0
        while k < min(size, n_basis):
            probe = flow.evaluate(state + scale * basis[k])
            if not np.isfinite(probe.log_dt_dtau):
                break
            w = (probe.dstate - f0) / scale
            n_basis = _orthogonal_append(basis, n_basis, w, hessenberg, k)
            k += 1
        self.basis = basis[:k]
        self.projected = hessenberg[:k, :k]

    def log_rate_slope(self, v):
        return 0.0

    def shifted_solver(self, shift):
        return _KrylovSolver(self, shift)


def _orthogonal_append(basis, n_basis, w, hessenberg, column):
    """Orthogonalize ``w`` against the basis (Gram-Schmidt, twice), record its
    coefficients in ``hessenberg[:, column]`` and append it unless it lies in
    the span; returns the new number of basis vectors."""
    norm0 = dnrm2(w)
    for _ in range(2):
        coefficients = basis[:n_basis] @ w
        w -= coefficients @ basis[:n_basis]
        if column is not None:
            hessenberg[:n_basis, column] += coefficients
    norm = dnrm2(w)
    if not (norm > 1e-12 * norm0 and n_basis < basis.shape[0]):
        return n_basis
    if column is not None and n_basis < hessenberg.shape[0]:
        hessenberg[n_basis, column] = norm
    basis[n_basis] = w / norm
    return n_basis + 1


class _KrylovSolver:
    """``(s I - V H V^T)^{-1} b = b / s + V ((s I - H)^{-1} - I / s) V^T b``."""

    lu_cost = 0.0

    def __init__(self, jac, shift):
        self.jac, self.shift = jac, shift
        k = jac.projected.shape[0]
        matrix = -jac.projected.copy()
        matrix.ravel()[:: k + 1] += shift
        self._lu = _lu_factor(matrix) if k else None

    def project(self, v):
        return None

    def solve(self, b, yb):
        out = b / self.shift
        if self._lu is None:
            return out, None
        basis = self.jac.basis
        c = basis @ b
        out += (_lu_solve(self._lu, c) - c / self.shift) @ basis
        return out, None


class KrylovW(Rodas4):
    """Rosenbrock-W steps (ROS34PW2) with a Krylov approximation of the Jacobian.

    Satisfies the stepper contract of
    :class:`~sklearn_implicit._integrate.explicit.ExplicitRungeKutta`, for any
    network and loss; the stages are those of :class:`~.rosenbrock.Rodas4`
    with another tableau and ``W`` in place of the Jacobian. ``W`` is formed
    at every new step (``KRYLOV_SIZE`` evaluations) and kept for the retries
    of a rejected one.

    Parameters
    ----------
    tol : float, default=None
        Unused (the stepper contract of :mod:`.auto`).
    size : int, default=None
        Arnoldi vectors per Jacobian (None: from the shape of the data).
    max_age : int, default=MAX_AGE
        Accepted steps that one ``W`` serves at most.
    """

    def __init__(self, tol=None, size=None, max_age=MAX_AGE):
        super().__init__(tol=None)
        self._tableau = ROS34PW2
        self.order = ROS34PW2.order
        self.size = size
        self.max_age = max_age
        self._start = None
        self._age = 0
        self._last_ev = None

    def _refresh_jacobian(self, flow, ev):
        if self._jac is not None and ev is self._jac_ev:
            return
        if ev is not self._last_ev:
            # a new step: the last one was accepted
            self._age += 1
            self._last_ev = ev
            if self._jac is not None and self._age < self.max_age:
                return
        elif self._jac is not None and self._age > 0:
            # a retry with an old W: a fresh one may be what the step lacks
            pass
        self._age = 0
        if self._start is None or self._start.shape != ev.state.shape:
            self._start = np.random.default_rng(0).standard_normal(ev.state.shape)
        self._jac = KrylovJacobian(flow, ev, self._size(flow.X.shape), self._start)
        self._jac_ev = ev
        self.n_jacobians += 1
        self._solver = None

    def step(self, flow, state, T, tau, h, ev):
        self.time_error = np.inf
        self._h = h
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            self._refresh_jacobian(flow, ev)
            shift = 1.0 / (h * self._tableau.gamma)
            if not np.isfinite(shift):
                return None
            solver = self._linear_solver(shift)
            return self._stages(flow, solver, state, T, tau, h, ev)

    def _size(self, shape):
        if self.size is not None:
            return self.size
        # The stiff modes come from the data, whose term in the Jacobian has
        # rank at most min(n, n_coef) + 1; a few more vectors resolve the
        # largest of them.
        return min(min(shape) + 1 + _EXTRA, KRYLOV_SIZE)

    def step_cost(self, shape):
        """Four evaluations, and the share of a Krylov space's."""
        return len(self._tableau.weights) + self._size(shape) / self.max_age

    def extra_cost(self):
        """Nothing beyond evaluations: the Jacobian-vector products are
        evaluations, and the small systems cost far less than one."""
        return 0.0
