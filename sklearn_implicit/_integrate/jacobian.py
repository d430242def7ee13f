"""The Jacobian of the flow's velocity, for the stiff steps.

Late in training the velocity ``F(rho) = d rho/d tau`` of the diagonal network
(see :mod:`sklearn_implicit._integrate.flow` for the clock ``tau = -log L``)
has eigenvalues of order one per unit of ``tau`` (the margins of the support
vectors relax towards each other) while the path itself bends on the scale
``tau``: an explicit method is then limited by stability, not accuracy, and
the linearly implicit steps of :mod:`.rosenbrock` need this Jacobian.

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
escapes from the plateaus of small initializations, and the order of a
Rosenbrock method needs it: on the benchmarks' 100 x 1000 problem, depth 3
from alpha = 1e-3 to a loss of 1e-10 at tol = 1e-6, a method given the
low-rank part alone ended 2e-5 away in direction from the reference
(tol = 1e-11), RODAS4 with the exact Jacobian 1.1e-7. The factors are formed with ``P`` divided
by its largest entry (the products are invariant), so nothing overflows.

Linear solves ``(I / (h gamma) - A) x = b`` (:mod:`.shifted_solvers`) use
the Woodbury identity on the low-rank part, with the diagonal
``I / (h gamma) - diag`` as its base: one
``(n+1) x (n+1)`` LU per step size after an ``O(n^2 d)`` Gram matrix (per
Jacobian for depth 2, per step size otherwise), and two products with ``Z``
per stage; when ``d <= n`` the dense ``d x d`` system is cheaper and is
solved directly. The Gram matrix leaves out the columns that carry at most
``1e-2 tol`` of its trace (:class:`GramTruncation`): where a few
coordinates carry nearly all of the metric ``P``, as in the plateaus of
deep networks from small initializations, it costs ``O(n^2 |kept|)``.
"""

import copy

import numpy as np
import scipy.sparse as sp

from .shifted_solvers import DenseSolver, DiagonalWoodburySolver, WoodburySolver
from .stiff_cost import gram_matrix_cost, jacobian_costs


def has_block_jacobian(network):
    """Whether the network gives its Jacobian by blocks (see
    :mod:`.block_jacobian`)."""
    return hasattr(network, "jacobian_blocks") and hasattr(network, "block_basis")


def supports_stiff(flow):
    """Whether the flow's network and loss provide the Jacobian pieces (the
    network's by blocks are another form: :func:`has_block_jacobian`)."""
    return hasattr(flow.network, "log_rates_with_slopes") and hasattr(
        flow.loss, "log_curvature"
    )


def loss_weights(flow, ev):
    """The normalized weights ``w_i = s_i r_i / sum_j s_j l(m_j)`` and the
    curvatures ``s_i l''(m_i) / sum_j s_j l(m_j)`` at an evaluation (the
    ``w`` and ``M = w w^T - diag(curvature)`` of the Jacobians), formed in
    log-space."""
    sw, m = flow.sample_weight, ev.predictions
    r, log_scale = flow.loss.scaled_gradient(m, sw)
    # log sum_j s_j l(m_j)
    log_total = ev.log_loss + flow.log_weight_sum
    w = r * np.exp(log_scale - log_total)
    curvature = np.exp(flow.log_sample_weight + flow.loss.log_curvature(m) - log_total)
    return w, curvature


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
    1,000 columns at tol = 1e-6 (case ``gram_drop`` of ``benchmarks/``). On
    the 1000 x 10000 problem a full Gram matrix costs some 40 evaluations
    per stiff step, and that fit stalls in its plateaus; truncated, it
    reaches 1e-300 (``benchmarks/RESULTS_large.md``). The steps do not
    notice: on the 100 x 1000 problem (solver='stiff' to
    1e-10) leaving out up to 1e-4 of the trace changed neither the
    evaluations (8,521 at tol = 1e-6, 24,427 at 1e-8) nor the direction
    error (2.8e-7, 8.9e-9); from 1e-3 on, steps were rejected more often
    (1e-1: 13,129 and 50,989 evaluations) and the error did not fall. The
    steppers leave out
    ``GRAM_DROP * tol``, so the fit converges as ``tol`` is tightened.

    Parameters
    ----------
    Z : {ndarray, sparse matrix} of shape (n_samples, n_coef)
    drop : float
        The fraction of the trace that may be left out (0: nothing).
    column_norms : ndarray of shape (n_columns,), default=None
        The squared norms of the columns, or of groups of them (the blocks
        of :mod:`.block_jacobian`, whose ``q_j`` is then a norm of a block's
        weights); None: those of ``Z``.
    """

    def __init__(self, Z, drop, column_norms=None):
        self.Z, self.drop = Z, drop
        if column_norms is not None:
            self.column_norms = column_norms
        elif sp.issparse(Z):
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


def _complex_map(linear, v):
    """A real linear map of a complex vector, part by part."""
    return linear(v.real) + 1j * linear(v.imag)


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
        Z, rho = flow.X, ev.state
        log_a, log_p, dlog_a, dlog_p = flow.network.log_rates_with_slopes(rho)
        w, curvature = loss_weights(flow, ev)
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
        self._log_p_top = top
        self.w, self.curvature, self.h = w, curvature, h
        self.p_scaled, self.ph = p_scaled, ph
        self.diag_part = ev.dstate * dlog_a
        self.n_samples, self.n_coef = Z.shape
        n, d = Z.shape
        self.dense = d <= n + 1
        # (a dense system's solves take no product with Z, Woodbury's two)
        self.free_solves = self.dense
        # The model's cost of the work apart from the Gram matrices
        # (setup_cost, and lu_cost per shift); the Gram matrices are counted
        # as formed (gram_cost), after the columns left out.
        self.setup_cost, self.lu_cost = jacobian_costs(Z.shape)
        # Only some networks (the diagonal network of depth 2) have no
        # diagonal part; the others get a Gram matrix per shift.
        self.low_rank = getattr(flow.network, "jacobian_is_low_rank", False)
        self.truncation = truncation
        self.gram_cost = 0.0
        if self.dense:
            self.matrix = self._dense_matrix()
        else:
            gram = gram_matrix_cost(Z.shape, n)
            self.setup_cost -= gram
            if self.low_rank:
                self.core = self.capacitance()

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
        self.gram_cost += gram_matrix_cost(Z.shape, n) * n_columns / self.n_coef
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

    def log_rate_slope(self, v):
        """The derivative of ``log dt/dtau`` along ``v`` at this state.

        ``dt/dtau = 1/(L h.Ph)``, so its log has the gradient
        ``h J - grad log(h.Ph)``: ``exp(top) (h j + e)`` in the scaled
        factors (``e`` is the gradient part of the rank-one term, ``-f e^T =
        F grad log(h.Ph)^T exp(-top)``). For the time component of the stiff
        steps.
        """
        slope = np.dot(self.h * self.j + self.e, v)
        if slope == 0 or not np.isfinite(slope):
            return slope
        # exp(top) may overflow where the slope does not
        return np.copysign(np.exp(np.log(abs(slope)) + self._log_p_top), slope)

    def project(self, v):
        """``Y^T v``."""
        if np.iscomplexobj(v):
            return _complex_map(self.project, v)
        out = np.empty(self.n_samples + 1)
        out[:-1] = _matvec(self.Z, self.j * v)
        out[-1] = np.dot(self.e, v)
        return out

    def apply_W(self, z):
        """``W z`` for ``z`` of shape (n+1,)."""
        if np.iscomplexobj(z):
            return _complex_map(self.apply_W, z)
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
        # Z^T M Z = h h^T - Z^T diag(curvature) Z, O(n d^2); the curvatures
        # of a margin loss are >= 0, so the Gram matrix is a symmetric
        # product (on breast_cancer a fifth faster than the general one)
        ZMZ = np.outer(self.h, self.h)
        ZMZ -= _weighted_gram(Zd.T, self.curvature)
        A = self.c * self.a[:, None] * ZMZ * self.j[None, :]
        A += np.outer(self.f, self.e)
        if not self.low_rank:
            # (the diagonal through a strided view: indexing by
            # diag_indices cost a tenth of the Jacobian at d = 31)
            A.flat[:: A.shape[0] + 1] += self.diag_part
        return A

    def in_log_time(self, ev, s):
        """This Jacobian (dense) for the clock ``s = log t``, at the state of
        ``ev`` and ``s``.

        The velocity in that clock is ``F exp(s - l)`` with ``l = log
        dt/dtau``, whose derivative is ``exp(s - l) (dF/drho - F (grad
        l)^T)``, ``grad l = exp(top) (h J + e)`` (:meth:`log_rate_slope`);
        the exponents are summed before they are taken, so that neither
        factor overflows alone.
        """
        out = copy.copy(self)
        log_factor = s - ev.log_dt_dtau
        out.matrix = np.exp(log_factor) * self.matrix
        out.matrix -= np.outer(ev.dstate, np.exp(log_factor + self._log_p_top)
                               * (self.h * self.j + self.e))
        return out

    def full_matrix(self):
        """The dense ``d x d`` Jacobian, diagonal included (for checks)."""
        return self.matrix if self.dense else self._dense_matrix()

    def shifted_solver(self, shift):
        """Solver of ``(shift I - A) x = b``."""
        if self.dense:
            return DenseSolver(self, shift)
        if self.low_rank:
            return WoodburySolver(self, shift)
        return DiagonalWoodburySolver(self, shift)
