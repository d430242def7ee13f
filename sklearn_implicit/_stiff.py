"""Linearly implicit steps for the stiff late phase of the flow.

Late in training the velocity ``F(rho) = d rho/d tau`` of the diagonal network
(see :mod:`sklearn_implicit._flow` for the clock ``tau = -log L``) has
eigenvalues of order one per unit of ``tau`` (the margins of the support
vectors relax towards each other) while the path itself bends on the scale
``tau``: an explicit method is then limited by stability, not accuracy. The
steppers here satisfy the contract of :class:`~sklearn_implicit._flow.ExplicitRungeKutta`
and plug into :func:`~sklearn_implicit._flow.integrate` unchanged.

The Jacobian
------------
With ``h = Z^T w`` (``w_i = s_i r_i / sum_j s_j l(m_j)`` the normalized
weights, ``m = Z beta(rho)``), ``c = 1/(h . P h)``, ``a = d rho/dt`` and
``P = d beta/dt`` per unit of gradient and ``J = d beta/d rho = P/a``
(:meth:`DiagonalNetwork.log_rates_with_slopes`),
``F = c a h`` and::

    dF/drho = c diag(a' h) + c diag(a) Z^T M Z diag(J)
              - c F (2 diag(J) Z^T M Z (P h) + P' h^2)^T,
    M = dw/dm = w w^T - diag(s l''(m) / sum_j s_j l(m_j)),

a diagonal plus a part of rank at most ``n + 1``. The diagonal
``F (log a)'`` (zero for depth 2) is the positive feedback by which a
coordinate of a deeper network, once it grows, grows faster: it drives the
escapes from the plateaus of small initializations. Leaving it out (a
W-method tolerates an approximate Jacobian), as up to revision 134b310,
cost accuracy there: on the benchmark's 100 x 1000 problem, depth 3 from
alpha = 1e-3 to a loss of 1e-10 at tol = 1e-6, ROS34PW2 with the low-rank
part alone ended 2e-5 away in direction from the reference (tol = 1e-11),
RODAS4 with the exact Jacobian 1.1e-7, in 7,101 instead of 8,956
evaluations; at depths 3 to 5 from alpha = 1e-3 to 0.3 (both losses, to
1e-10 to 1e-100), 6 to 160 times closer in 1.26 to 3.4 times fewer
evaluations (where the explicit method does most of the work, as from
alpha = 1, little changes). The factors are formed with ``P`` divided by
its largest entry (the products are invariant), so nothing overflows.

Linear solves ``(I / (h gamma) - A) x = b`` use the Woodbury identity on the
low-rank part, with the diagonal ``I / (h gamma) - diag`` as its base: one
``(n+1) x (n+1)`` LU per step size after an ``O(n^2 d)`` Gram matrix (per
Jacobian for depth 2, per step size otherwise), and two products with ``Z``
per stage; when ``d <= n`` the dense ``d x d`` system is cheaper and is
solved directly. The Gram matrix leaves out the columns that carry at most
``1e-2 tol`` of its trace (:class:`GramTruncation`): where a few
coordinates carry nearly all of the metric ``P``, as in the plateaus of
deep networks from small initializations, it costs ``O(n^2 |kept|)``.

The methods
-----------
RODAS4 (Hairer & Wanner, Solving ODEs II, VI.4): six stages, order 4,
embedded order 3, L-stable and stiffly accurate; a Rosenbrock method, so
its order needs the exact Jacobian at every step. It takes fewer
evaluations than ROS34PW2 for a smaller error (``tests/test_stiff.py``),
and even where a Jacobian costs about 43 evaluations it is the cheaper of
the two: at 1000 x 10000, depth 2, from a loss of 1e-40 to 1e-300, 43 s
against 304 s for ROS34PW2, whose reused Jacobians went stale within a few
steps (probe, one BLAS thread). It is the method of the estimators.

ROS34PW2 (Rang & Angermann, BIT 45, 2005), kept for comparison: four
stages, order 3 for *any* matrix ``A`` in place of the Jacobian (a
W-method), embedded order 2, L-stable and stiffly accurate. Being a
W-method, one Jacobian serves many steps on separable data (the late phase
is accuracy-limited); it is rebuilt after a rejected step, when the
weights, metric or speed have drifted, after a number of steps, and every
step when it is cheap: when the loss has a positive infimum the eigenvalues
scale like ``1/(tau_inf - tau)`` and a stale Jacobian costs more steps than
a fresh one.

In both, the physical-time component ``T`` (``dT/dtau = dt/dtau exp(-tau) -
T``) is a stage variable too, with the exact ``-1`` as its own Jacobian (it
becomes stiff once steps exceed one unit of ``tau``).
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dgetrf, dgetrs

from ._flow import DormandPrince853, _dT

# ROS34PW2 in the form of Hairer & Wanner (IV.7.4): alpha, Gamma, b, b_hat.
_GAMMA = 0.435866521508459
_ALPHA = np.array(
    [
        [0.0, 0.0, 0.0, 0.0],
        [0.87173304301691801, 0.0, 0.0, 0.0],
        [0.84457060015369423, -0.11299064236484185, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ]
)
_GAMMA_TABLE = np.array(
    [
        [_GAMMA, 0.0, 0.0, 0.0],
        [-0.87173304301691801, _GAMMA, 0.0, 0.0],
        [-0.90338057013044082, 0.054180672388095326, _GAMMA, 0.0],
        [0.24212380706095346, -1.2232505839045147, 0.54526025533510214, _GAMMA],
    ]
)
_B = np.array([0.24212380706095346, -1.2232505839045147, 1.5452602553351020, _GAMMA])
_B_HAT = np.array(
    [0.37810903145819369, -0.096042292212423178, 0.5, 0.2179332607542295]
)


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
    weights: np.ndarray
    error_weights: np.ndarray
    order: int  # the local error estimate is O(h**order)


_GAMMA_INV = np.linalg.inv(_GAMMA_TABLE)
_ROS34PW2 = _Tableau(
    "ROS34PW2", _GAMMA, _ALPHA @ _GAMMA_INV,
    np.diag(1 / np.diag(_GAMMA_TABLE)) - _GAMMA_INV, _ALPHA.sum(axis=1),
    _B @ _GAMMA_INV, (_B - _B_HAT) @ _GAMMA_INV, 3,
)

# RODAS4 (Hairer & Wanner, Solving ODEs II, VI.4, and their RODAS code),
# given there in the transformed variables: six stages, order 4, embedded
# order 3, L-stable and stiffly accurate (the last two stages end at the new
# point, and the last increment is the error estimate). A Rosenbrock method,
# not a W-method: its order needs the exact Jacobian at every step.
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
    np.array([*_RODAS4_A[4, :4], 1.0, 1.0]), np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0]), 4,
)
_TABLEAUS = {t.name: t for t in (_ROS34PW2, _RODAS4)}

# Rebuild the Jacobian once the weights w have moved by this much in l1 norm,
# or the metric P or the speed max|F| by this factor, since it was formed...
_MAX_WEIGHT_DRIFT = 0.25
_MAX_LOG_DRIFT = 0.5
# ... or after this many steps. Very stiff problems (a loss with a positive
# infimum on ill-conditioned data) need a fresh one every step; it is formed
# every step when it costs at most _CHEAP_JACOBIAN evaluations (and always
# for RODAS4, whose order needs it).
_MAX_AGE = 16
_CHEAP_JACOBIAN = 16.0
# Cost of a Jacobian in evaluations: about 3 for its products with Z and its
# set-up, plus its Gram matrix (n**2 d multiply-adds, BLAS 3), which takes
# this many evaluations per row of Z while Z fits in the last-level cache
# (taken as 16 MiB; an evaluation then runs at cache speed, about 0.5 ns per
# entry of Z on one core) and the second beyond (memory speed, 0.9 ns).
# Measured, one BLAS thread, against the model: 9.3 (10.8), 20.6 (18.6),
# 26.0 (26.4), 25.4 (24.5), 28.8 (33), 42.5 (46) evaluations from 100 x 1000
# to 1000 x 10000 in steps of the same shape, 14.3 (10.8) at 100 x 10000,
# 38.8 (46) at 1000 x 3000 and 16.0 (15.9) at 300 x 30000.
_GRAM_ROW_COST = (0.078, 0.043)
_CACHE_BYTES = 16 * 2**20
# An LU of the (n+1)- or d-square system with its set-up runs this many times
# faster per flop than an evaluation (measured 1.4, 2.6 and 4.3 evaluations
# at 100 x 1000, 300 x 3000 and 1000 x 10000).
_LU_SPEEDUP = 8.0
# A linear solve costs two products with Z, like an evaluation (measured:
# 0.9 to 1.7 evaluations).
_SOLVE_COST = 1.2
# The Gram matrices of a stepper given tol may leave out this fraction of tol
# of their trace (see GramTruncation).
_GRAM_DROP = 1e-2
# ROS34PW2 keeps the LU factors of the last step size while 1/(h gamma) has
# changed by at most this fraction.
_SHIFT_REUSE = 0.2

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
_TRIAL_STEPS = 10
_TRIAL_ROOM = 4.0
# Where a Jacobian costs more than _CHEAP_JACOBIAN evaluations (at 1000 x
# 10000 about 43, so that a trial of RODAS4 costs a few seconds), trials
# are shorter: the step size of RODAS4 reaches its accuracy limit within two
# steps (it may grow fivefold per step).
_TRIAL_STEPS_EXPENSIVE = 6


def supports_stiff(flow):
    """Whether the flow's network and loss provide the Jacobian pieces."""
    return hasattr(flow.network, "log_rates_with_slopes") and hasattr(
        flow.loss, "log_curvature"
    )


def jacobian_costs(shape):
    """Cost of forming a :class:`FlowJacobian` and of one LU of its shifted
    system, in gradient evaluations, for a design of this shape (with a
    diagonal part in the low-rank form, the Gram matrix, counted here in the
    Jacobian, is formed with each LU instead)."""
    n, d = shape
    # the side of the system that is factored (the Gram matrix is size**2
    # times the other side)
    size = d if d <= n + 1 else n
    return 3.0 + _gram_cost(shape, size), _factorization_cost(shape, size)


def stiff_step_cost(shape):
    """The model's cost of a RODAS4 step with its Jacobian, in evaluations."""
    n_stages = len(_RODAS4.weights)
    return n_stages * (1.0 + _SOLVE_COST) + sum(jacobian_costs(shape))


def _factorization_cost(shape, size):
    """Cost of the LU of a ``size``-square system with its set-up."""
    return 1.0 + size**2 / (3 * max(shape) * _LU_SPEEDUP)


def _gram_cost(shape, size):
    """Cost of the Gram matrix (or, if ``d <= n + 1``, of the dense Jacobian)."""
    n, d = shape
    row_cost = _GRAM_ROW_COST[0] if 8 * n * d <= _CACHE_BYTES else _GRAM_ROW_COST[1]
    return row_cost * size


def _weighted_gram(Z, weights, columns=None):
    """``Z diag(weights) Z^T`` (dense), over the given columns only (None: all)."""
    if columns is not None:
        Z, weights = Z[:, columns], weights[columns]
    if sp.issparse(Z):
        return np.asarray((Z @ sp.diags(weights) @ Z.T).todense())
    if np.all(weights >= 0):
        scaled = Z * np.sqrt(weights)
        # scaled @ scaled.T is a symmetric rank-k update (half the work)
        return scaled @ scaled.T
    return (Z * weights) @ Z.T


class GramTruncation:
    """Which columns of ``Z`` a Gram matrix ``Z diag(q) Z^T`` may leave out.

    Those with the smallest ``|q_j| ||z_j||^2``, as long as together they
    carry at most ``drop`` of ``sum_j |q_j| ||z_j||^2`` (the trace of the
    Gram matrix of ``|q|``, which bounds the nuclear norm of what is left
    out). In the plateaus of small initializations at depth >= 3 the metric
    ``P`` spans many orders of magnitude and a few coordinates carry all but
    a tiny fraction of it: depth 3 from alpha = 1e-3 on the benchmarks'
    100 x 1000 problem, half of the Gram matrices kept at most 3 of the
    1,000 columns at tol = 1e-6 (case ``gram_drop`` of ``benchmarks/``); on
    the 1000 x 10000 problem that fit's stiff steps had each cost some 40
    evaluations, and it had stalled in its plateaus; now it reaches 1e-300
    in 11,664 evaluations at 17.5 ms each (``benchmarks/RESULTS_large.md``).
    The steps do not notice: on the 100 x 1000 problem (solver='stiff' to
    1e-10) leaving out up to 1e-4 of the trace changed neither the
    evaluations (8,521 at tol = 1e-6, 24,427 at 1e-8) nor the direction
    error (2.8e-7, 8.9e-9); from 1e-3 on, steps were rejected more often
    (1e-1: 13,129 and 50,989 evaluations) and the error stayed where it
    was. The steppers leave out
    ``_GRAM_DROP * tol``, so the fit converges as ``tol`` is tightened.

    Parameters
    ----------
    Z : {ndarray, sparse matrix} of shape (n_samples, n_coef)
    drop : float
        The fraction of the trace that may be left out (0: nothing).
    """

    def __init__(self, Z, drop):
        self.Z, self.drop = Z, drop
        if sp.issparse(Z):
            self.column_norms = np.asarray(Z.multiply(Z).sum(axis=0)).ravel()
        else:
            self.column_norms = np.einsum("ij,ij->j", Z, Z)

    def columns(self, weights):
        """The columns to keep, sorted, or None for all of them."""
        mass = np.abs(weights) * self.column_norms
        total = mass.sum()
        if not (self.drop > 0 and 0 < total < np.inf):
            return None
        # Copying the kept columns costs up to a quarter of a full Gram
        # matrix at 1000 x 10000; below half of them it pays. Whether half
        # can go is known from a partition, in linear time (the sort below
        # was a visible part of a stiff step at 100 x 1000, where it keeps
        # all).
        half = (mass.size + 1) // 2
        if np.partition(mass, half - 1)[:half].sum() > self.drop * total:
            return None
        order = np.argsort(mass)
        n_left_out = np.searchsorted(np.cumsum(mass[order]), self.drop * total, "right")
        if 2 * n_left_out < mass.size:
            return None
        return np.sort(order[n_left_out:])


def _lu_factor(a):
    """LU factors of a square system (LAPACK getrf, as scipy's ``lu_factor``).

    A singular system (a zero pivot: h gamma times an eigenvalue = 1,
    possible only where the flow expands) gives non-finite solutions, and the
    step is retried smaller.
    """
    # LAPACK directly: with scipy.linalg's wrappers (array checks, batching)
    # a solve of the Woodbury system at n = 100 took 23 us, with getrs 7
    lu, piv, _ = dgetrf(a, overwrite_a=True)
    return lu, piv


def _lu_solve(factors, b):
    return dgetrs(*factors, b)[0]


def _matvec(Z, v):
    return np.asarray(Z @ v).reshape(Z.shape[0], *v.shape[1:])


def _rmatvec(Z, v):
    return np.asarray(Z.T @ v).ravel()


class FlowJacobian:
    """Jacobian of the velocity ``d rho/d tau`` at one evaluation, factored.

    ``A = W K Y^T`` with ``W = [diag(a) Z^T, f]``, ``Y = [diag(j) Z^T, e]``
    and ``K = blockdiag(c M, 1)`` (``P`` scaled by its largest entry, so
    ``c``, ``j`` and ``f`` are scale-free versions of ``1/(h.Ph)``, ``J`` and
    ``F``), plus the diagonal ``diag_part``.

    Parameters
    ----------
    flow : LinearFlow
        With a network providing ``log_rates_with_slopes`` and a loss
        providing ``log_curvature``.
    ev : Evaluation
        The flow's evaluation at the state.
    truncation : GramTruncation, default=None
        The columns its Gram matrices may leave out (None: none).

    Attributes
    ----------
    gram_cost : float
        Work of the Gram matrices formed so far, in gradient evaluations.
    """

    def __init__(self, flow, ev, truncation=None):
        Z, sw = flow.X, flow.sample_weight
        m, rho = ev.predictions, ev.state
        log_a, log_p, dlog_a, dlog_p = flow.network.log_rates_with_slopes(rho)
        r, log_scale = flow.loss.scaled_gradient(m, sw)
        # log sum_j s_j l(m_j)
        log_total = ev.log_loss + np.log(sw.sum())
        w = r * np.exp(log_scale - log_total)
        with np.errstate(divide="ignore"):
            curvature = np.exp(np.log(sw) + flow.loss.log_curvature(m) - log_total)
        h = _rmatvec(Z, w)
        top = np.max(log_p)
        p_scaled = np.exp(log_p - top)
        c = 1.0 / np.dot(h, p_scaled * h)
        a = np.exp(log_a)
        j = np.exp(log_p - top - log_a)
        f = c * a * h
        ph = _matvec(Z, p_scaled * h)
        Mp = w * np.dot(w, ph) - curvature * ph
        e = -c * (2 * j * _rmatvec(Z, Mp) + np.exp(-top) * p_scaled * dlog_p * h * h)

        self.Z, self.a, self.j, self.f, self.e, self.c = Z, a, j, f, e, c
        self.w, self.curvature, self.log_p, self.h = w, curvature, log_p, h
        self.p_scaled, self.ph = p_scaled, ph
        self.diag_part = ev.dstate * dlog_a
        self.speed = np.max(np.abs(ev.dstate))
        self.n_samples, self.n_coef = Z.shape
        n, d = Z.shape
        self.dense = d <= n + 1
        # The model's cost of forming this Jacobian, its Gram matrix included
        # where it is formed with it, before any column is left out (cost,
        # for the reuse rule of ROS34PW2), and the work apart from the Gram
        # matrices (setup_cost, and lu_cost per shift), which are counted as
        # formed (gram_cost).
        self.cost, self.lu_cost = jacobian_costs(Z.shape)
        self.setup_cost = self.cost
        # Only some networks (the diagonal network of depth 2) have no
        # diagonal part; the others get a Gram matrix per shift.
        self.low_rank = getattr(flow.network, "jacobian_is_low_rank", False)
        self.truncation = truncation
        self.gram_cost = 0.0
        if self.dense:
            self.matrix = self._dense_matrix()
        else:
            gram = _gram_cost(Z.shape, n)
            self.setup_cost -= gram
            if self.low_rank:
                self.core = self.capacitance()
            else:
                self.cost -= gram

    def capacitance(self, inv=None, factored=False):
        """``C = Y^T D^{-1} W``, the only ``O(n^2 d)`` piece, for the
        diagonal ``D = 1/inv`` (``None``: the identity).

        With ``factored``, where the Gram matrix keeps ``k`` columns with
        ``k + 2 <= n``, ``C`` comes as factors ``(L, R)``, ``C = L R`` of
        inner size ``k + 2``: ``L = [[Z_S, u, 0], [0, 0, 1]]`` and ``R =
        [[diag(q_S) Z_S^T, 0], [0, 1], [v^T, s]]`` for the kept columns
        ``S``, ``u`` and ``v^T`` the last column and row of ``C`` and ``s``
        its corner.
        """
        Z, n = self.Z, self.n_samples
        j, a = (self.j, self.a) if inv is None else (self.j * inv, self.a * inv)
        # j a = P: Z diag(P / D) Z^T, whose weights are all positive unless a
        # step outruns a growing coordinate
        q = self.p_scaled if inv is None else self.p_scaled * inv
        columns = None if self.truncation is None else self.truncation.columns(q)
        n_columns = self.n_coef if columns is None else columns.size
        self.gram_cost += _gram_cost(Z.shape, n) * n_columns / self.n_coef
        # Z (j f) = c Z (P h) (j a = P), known without D (a product saved;
        # with D, two products: one with a d x 2 block ran at a third of
        # their speed)
        u = self.c * self.ph if inv is None else _matvec(Z, j * self.f)
        v = _matvec(Z, a * self.e)
        corner = np.dot(self.e, self.f if inv is None else inv * self.f)
        if factored and columns is not None and n_columns + 2 <= n:
            kept = Z[:, columns]
            kept = kept.toarray() if sp.issparse(kept) else kept
            L = np.zeros((n + 1, n_columns + 2))
            L[:n, :n_columns], L[:n, -2], L[n, -1] = kept, u, 1.0
            R = np.zeros((n_columns + 2, n + 1))
            R[:n_columns, :n] = q[columns, None] * kept.T
            R[-2, n], R[-1, :n], R[-1, n] = 1.0, v, corner
            return L, R
        C = np.empty((n + 1, n + 1))
        C[:n, :n] = _weighted_gram(Z, q, columns)
        C[:n, n], C[n, :n], C[n, n] = u, v, corner
        return C

    def project(self, v):
        """``Y^T v``."""
        out = np.empty(self.n_samples + 1)
        out[:-1] = _matvec(self.Z, self.j * v)
        out[-1] = np.dot(self.e, v)
        return out

    def apply_W(self, z):
        """``W z`` for ``z`` of shape (n+1,)."""
        return self.a * _rmatvec(self.Z, z[:-1]) + self.f * z[-1]

    def apply_K(self, y):
        """``K y`` for ``y`` of shape (n+1,) or (n+1, k)."""
        out = y.copy()
        top = y[:-1]
        curvature = self.curvature if y.ndim == 1 else self.curvature[:, None]
        out[:-1] = self.c * (np.multiply.outer(self.w, self.w @ top) - curvature * top)
        return out

    def _dense_matrix(self):
        Zd = self.Z.toarray() if sp.issparse(self.Z) else self.Z
        # Z^T M Z = h h^T - Z^T diag(curvature) Z, O(n d^2)
        ZMZ = np.outer(self.h, self.h) - (Zd * self.curvature[:, None]).T @ Zd
        A = self.c * self.a[:, None] * ZMZ * self.j[None, :]
        A += np.outer(self.f, self.e)
        A[np.diag_indices_from(A)] += self.diag_part
        return A

    def full_matrix(self):
        """The dense ``d x d`` Jacobian, diagonal included (for checks)."""
        return self.matrix if self.dense else self._dense_matrix()

    def shifted_solver(self, shift):
        """Solver of ``(shift I - A) x = b``."""
        if self.dense:
            return _DenseSolver(self, shift)
        if self.low_rank:
            return _WoodburySolver(self, shift)
        return _DiagonalWoodburySolver(self, shift)


def _shifted(scale, a, shift):
    """``scale a + shift I``, in place of the square ``a``."""
    a *= scale
    # the diagonal as a strided view (np.diag_indices_from builds index
    # arrays, a visible cost next to the LU at n = 100)
    a.ravel()[:: a.shape[0] + 1] += shift
    return a


class _DenseSolver:
    def __init__(self, jac, shift):
        self.shift, self.lu_cost = shift, jac.lu_cost
        self._lu = _lu_factor(_shifted(-1.0, jac.matrix.copy(), shift))

    def project(self, v):
        return None

    def solve(self, b, yb):
        return _lu_solve(self._lu, b), None


class _WoodburySolver:
    """``(s I - W K Y^T)^{-1} b = (b + W (s I - K C)^{-1} K Y^T b) / s``."""

    def __init__(self, jac, shift):
        self.jac, self.shift, self.lu_cost = jac, shift, jac.lu_cost
        self._lu = _lu_factor(_shifted(-1.0, jac.apply_K(jac.core), shift))

    def project(self, v):
        """``Y^T v``."""
        return self.jac.project(v)

    def solve(self, b, yb):
        """``x`` and ``Y^T x`` from ``b`` and ``Y^T b``."""
        jac = self.jac
        z = _lu_solve(self._lu, jac.apply_K(yb))
        return (b + jac.apply_W(z)) / self.shift, (yb + jac.core @ z) / self.shift


class _DiagonalWoodburySolver:
    """``(D - W K Y^T)^{-1} b = D^{-1} (b + W (I - K C)^{-1} K Y^T D^{-1} b)``
    with the diagonal ``D = s I - diag_part`` and ``C = Y^T D^{-1} W``.

    ``C`` depends on the shift: a Gram matrix per factorization. Where the
    Gram matrix keeps few columns (``C = L R`` of inner size ``k + 2 <= n``,
    see :meth:`FlowJacobian.capacitance`), a second Woodbury identity,
    ``(I - K L R)^{-1} = I + K L (I - R K L)^{-1} R``, factors a ``k + 2``
    square system in place of the ``n + 1`` square one, whose LU takes
    ``n**3 / 3`` multiply-adds at every step size. A zero ``D_jj`` (``h gamma``
    times a growth rate = 1) gives non-finite stages, and the step is
    retried smaller (see :func:`_lu_factor`).
    """

    def __init__(self, jac, shift):
        self.jac, self.shift = jac, shift
        self._inv = 1.0 / (shift - jac.diag_part)
        C = jac.capacitance(self._inv, factored=True)
        if isinstance(C, tuple):
            L, self._R = C
            self._KL = jac.apply_K(L)
            self._lu = _lu_factor(_shifted(-1.0, self._R @ self._KL, 1.0))
        else:
            self._KL = None
            self._lu = _lu_factor(_shifted(-1.0, jac.apply_K(C), 1.0))
        self.lu_cost = (jac.lu_cost if self._KL is None
                        else _factorization_cost(jac.Z.shape, self._lu[0].shape[0]))

    def project(self, v):
        # Y^T D^{-1} b is formed in solve: it costs one product, as Y^T b would
        return None

    def solve(self, b, yb):
        jac, inv = self.jac, self._inv
        z = jac.apply_K(jac.project(inv * b))
        if self._KL is None:
            z = _lu_solve(self._lu, z)
        else:
            z = z + self._KL @ _lu_solve(self._lu, self._R @ z)
        return inv * (b + jac.apply_W(z)), None


class RosenbrockW:
    """Linearly implicit step: RODAS4, or ROS34PW2 with a reused Jacobian.

    Satisfies the stepper contract of :class:`~sklearn_implicit._flow.ExplicitRungeKutta`.
    RODAS4 (order 4, embedded 3; six evaluations and six linear solves per
    step), the default, needs the exact Jacobian, formed at every step (and
    kept for the retries of a rejected step, which start from the same
    state). ROS34PW2 (order 3 for any matrix in place of the Jacobian,
    embedded 2; four evaluations and four solves per step), on request,
    forms a Jacobian anew only when it is stale: after a rejected step, when
    the weights, the metric or the speed have drifted, after ``_MAX_AGE``
    steps, or every step when it is cheap.

    Parameters
    ----------
    method : {None, 'RODAS4', 'ROS34PW2'}, default=None
        None is RODAS4.
    tol : float, default=None
        The integration's local error tolerance: the Gram matrices may leave
        out ``_GRAM_DROP * tol`` of their trace (see :class:`GramTruncation`).
        None leaves nothing out.

    Attributes
    ----------
    method : str
        ``'ROS34PW2'`` or ``'RODAS4'``.
    n_jacobians : int
        Jacobians formed so far.
    n_solves : int
        Linear solves so far (each costs about two products with ``Z``).
    n_factorizations : int
        LU factorizations so far (one per Jacobian and step size).
    """

    horizon = np.inf

    def __init__(self, method=None, tol=None):
        self.n_jacobians = 0
        self.n_solves = 0
        self.tol = tol
        self._truncation = None
        # the model's cost of the Jacobians before the current one and of
        # every factorization so far
        self._work = 0.0
        self._tableau = _RODAS4 if method is None else _TABLEAUS[method]
        self._jac = None
        self._jac_ev = None  # the evaluation the Jacobian was formed at
        self._jac_tau = None
        self._age = 0
        self._last_tau = None
        self._solver = None
        self.n_factorizations = 0

    @property
    def order(self):
        return self._tableau.order

    @property
    def method(self):
        return self._tableau.name

    def step_limit(self):
        """No bound: the methods are L-stable."""
        return np.inf

    def _stale(self, flow, ev, tau):
        jac = self._jac
        if jac is not None and ev is self._jac_ev:
            # a step from the same state, retried smaller after a rejection
            return False
        every_step = jac is not None and (
            jac.cost <= _CHEAP_JACOBIAN or self._tableau is _RODAS4)
        if jac is None or self._age >= (1 if every_step else _MAX_AGE):
            return True
        if tau == self._last_tau and tau != self._jac_tau:
            # the previous step from here was rejected with an old Jacobian
            return True
        r, log_scale = flow.loss.scaled_gradient(ev.predictions, flow.sample_weight)
        w = r * np.exp(log_scale - ev.log_loss - np.log(flow.sample_weight.sum()))
        if np.sum(np.abs(w - jac.w)) > _MAX_WEIGHT_DRIFT:
            return True
        log_p = flow.network.log_rates_with_slopes(ev.state)[1]
        if np.max(np.abs(log_p - jac.log_p)) > _MAX_LOG_DRIFT:
            return True
        # the speed 1/(h.Ph) scales every eigenvalue
        return abs(np.log(np.max(np.abs(ev.dstate)) / jac.speed)) > _MAX_LOG_DRIFT

    def _refresh_jacobian(self, flow, ev, tau):
        if not self._stale(flow, ev, tau):
            return
        if self.tol is not None and (self._truncation is None
                                     or self._truncation.Z is not flow.X):
            self._truncation = GramTruncation(flow.X, _GRAM_DROP * self.tol)
        if self._jac is not None:
            self._work += self._jac.setup_cost + self._jac.gram_cost
        self._jac = FlowJacobian(flow, ev, self._truncation)
        self._jac_ev = ev
        self._jac_tau = tau
        self._age = 0
        self.n_jacobians += 1
        self._solver = None

    def _linear_solver(self, shift):
        solver = self._solver
        # A W-method stays of its order with any matrix in place of the
        # Jacobian, so the factors of a nearby step size serve (the matrix
        # is then the Jacobian plus a small multiple of I). RODAS4 needs
        # the exact shift.
        if solver is not None and (
            solver.shift == shift
            or (self._tableau is _ROS34PW2
                and abs(solver.shift / shift - 1.0) <= _SHIFT_REUSE)
        ):
            return solver
        # (a singular system, h gamma times an eigenvalue = 1, gives
        # non-finite stages: see _lu_factor)
        self._solver = self._jac.shifted_solver(shift)
        self.n_factorizations += 1
        self._work += self._solver.lu_cost
        return self._solver

    def step(self, flow, state, T, tau, h, ev):
        if not supports_stiff(flow):
            raise TypeError(
                "the stiff solver needs a network with log_rates_with_slopes and "
                "a loss with log_curvature (the diagonal network with the "
                "exponential or logistic loss); use the explicit solver."
            )
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            self._refresh_jacobian(flow, ev, tau)
            # A step so small that the shift overflows cannot be taken:
            # integrate shrinks or rejects it like any failed stage.
            shift = 1.0 / (h * self._tableau.gamma)
            if not np.isfinite(shift):
                return None
            solver = self._linear_solver(shift)
            trial = self._stages(flow, solver, state, T, tau, h, ev)
        self._last_tau = tau
        self._age += 1
        return trial

    def _stages(self, flow, solver, state, T, tau, h, ev):
        shift = solver.shift
        # Stage increments as rows: each combination is one matrix-vector
        # product (np.tensordot over lists cost a sixth of a step).
        tableau = self._tableau
        n_stages = len(tableau.weights)
        u = np.empty((n_stages, state.shape[0]))
        yu = None  # Y^T u, kept by the low-rank solver
        uT = np.zeros(n_stages)
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
            # T has the exact Jacobian -1 (its equation is linear in T)
            dT = _dT(ev_i, T + a_i @ uT[:i], tau + tableau.nodes[i] * h)
            uT[i] = (dT + c_i @ uT[:i]) / (shift + 1.0)
        new_state = state + tableau.weights @ u
        if not np.all(np.isfinite(new_state)):
            return None
        ev_new = flow.evaluate(new_state)
        if not np.isfinite(ev_new.log_dt_dtau):
            return None
        T_new = T + tableau.weights @ uT
        return new_state, T_new, ev_new, tableau.error_weights @ u

    def extra_cost(self):
        """Work beyond gradient evaluations so far, in evaluations (the cost
        model of :func:`jacobian_costs` and ``_SOLVE_COST``: the work with
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
        return _SOLVE_COST * self.n_solves + self._work + jac.setup_cost + jac.gram_cost


class AutoStepper:
    """DOP853 while the flow is not stiff, a :class:`RosenbrockW` step once it is.

    Satisfies the stepper contract of
    :class:`~sklearn_implicit._flow.ExplicitRungeKutta` (``order`` follows
    the method in use). Stiffness is detected as in Hairer's codes: the last
    stage of the explicit step and the new point are both at the step's end, so
    ``h |F(y_new) - F(y_last)| / |y_new - y_last|`` estimates ``h |lambda|``
    for free (``DormandPrince853.h_lambda``). Once its mean over
    ``_STIFF_WINDOW`` consecutive steps exceeds ``_STIFF_H_LAMBDA`` of the
    bound on the explicit steps (``reliable_h_lambda``), and the explicit
    method has more than ``_TRIAL_ROOM`` trials' worth of work left before
    the last stop (``horizon``), the stiff method is tried for a few
    accepted steps and kept if its cost per unit of the clock (gradient
    evaluations plus linear solves and Jacobians, counted in evaluations) is
    lower than that of the last explicit steps.

    Otherwise the explicit method resumes, and the next trial waits for the
    clock at which the stiff method is predicted to break even: late in
    training its steps grow in proportion to the clock (the path bends on
    the scale ``tau``) while the explicit steps stay at their stability
    limit, so its relative cost falls like ``1 / tau`` (measured at
    1000 x 10000: steps of 0.027 ``tau`` from ``tau`` = 90 to 690). A
    bounded clock (a loss with a positive infimum) never gets there: there
    the next trial starts once the explicit cost per unit of clock has
    doubled; and at least as many explicit steps as a trial has. Flows
    without the Jacobian pieces stay explicit.

    Near the end no trial starts: there the explicit steps, bounded by
    stability, are cheaper and far more accurate than tol asks, while the
    stiff method's steps are limited by tol (case ``solvers`` of
    ``benchmarks/`` compares the two at equal accuracy).

    Parameters
    ----------
    tol : float, default=None
        The integration's local error tolerance, for the stiff method (see
        :class:`RosenbrockW`).

    Attributes
    ----------
    switched_at : float or None
        The clock ``tau`` at which the stiff method was adopted.
    trials : list of dict
        One record per judged trial: the clock at its start and end, the
        costs per unit of clock of the stiff and the explicit method, whether
        it was adopted, and the clock before which the next trial waits.
    """

    horizon = np.inf

    def __init__(self, tol=None):
        self.explicit = DormandPrince853()
        self.stiff = RosenbrockW(tol=tol)
        self.switched_at = None
        self.trials = []
        self._mode = "explicit"
        self._recent = []  # h |lambda| of the last explicit steps
        self._wait = 0  # explicit steps before the next trial may start
        self._trial_steps = None
        self._trial_cost = None
        self._tau0 = None  # the clock at the first step
        self._next_trial_tau = -np.inf  # predicted break-even of the stiff method
        self._failed_rate = np.inf  # explicit cost per unit clock at the last failed trial
        self._marks = []  # (tau, cost) at the start of each call
        self._trial_start = None
        self._explicit_rate = None

    @property
    def order(self):
        return self.stiff.order if self._mode != "explicit" else self.explicit.order

    def step_limit(self):
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
            # A failed trial of the stiff method costs a few Jacobians: where
            # they are expensive, trials are shorter.
            expensive = (supports_stiff(flow)
                         and jacobian_costs(flow.X.shape)[0] > _CHEAP_JACOBIAN)
            self._trial_steps = _TRIAL_STEPS_EXPENSIVE if expensive else _TRIAL_STEPS
            # the model's cost of a trial, for the room left before the end
            self._trial_cost = self._trial_steps * stiff_step_cost(flow.X.shape)
        self._marks.append((tau, self._cost(flow)))
        if self._mode == "explicit" and len(self._marks) > 4 * self._trial_steps:
            del self._marks[: -2 * self._trial_steps]
        if self._mode != "explicit" and self._stuck():
            self._back_to_explicit()
        if self._mode == "trial":
            self._judge_trial(tau)
        if self._mode == "explicit":
            return self._explicit_step(flow, state, T, tau, h, ev)
        return self.stiff.step(flow, state, T, tau, h, ev)

    def _judge_trial(self, tau):
        if self._accepted_rate(self._trial_steps, self._trial_start) is None:
            return
        # The first steps of a trial pay for its first Jacobian and for the
        # growth of the step size from the explicit method's: the method is
        # judged on the rest.
        rate = self._accepted_rate(self._trial_steps // 2, self._trial_start)
        start = self._marks[self._trial_start][0]
        if rate < self._explicit_rate:
            self._mode = "stiff"
            self.switched_at = start
        else:
            # break-even where (tau - tau0) has grown by the ratio of the costs
            self._next_trial_tau = (self._tau0
                                    + (tau - self._tau0) * rate / self._explicit_rate)
            self._failed_rate = self._explicit_rate
            self._back_to_explicit()
        self.trials.append({"start": start, "end": tau, "stiff_rate": rate,
                            "explicit_rate": self._explicit_rate,
                            "adopted": self._mode == "stiff",
                            "next_trial_after": self._next_trial_tau})
        self._marks = self._marks[-1:]

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
        self._recent = [*self._recent[1 - _STIFF_WINDOW:], explicit.h_lambda]
        self._wait -= 1
        stiff = (len(self._recent) == _STIFF_WINDOW
                 and sum(self._recent) > _STIFF_WINDOW * _STIFF_H_LAMBDA * limit)
        if stiff and self._wait <= 0 and supports_stiff(flow):
            rate = self._accepted_rate(self._trial_steps)
            if rate is not None and (tau >= self._next_trial_tau
                                     or rate > 2 * self._failed_rate) and (
                    rate * (self.horizon - tau) > _TRIAL_ROOM * self._trial_cost):
                self._explicit_rate = rate
                self._mode = "trial"
                self._trial_start = len(self._marks)
        return trial
