"""Stiff steps for networks without an exact Jacobian: the data Jacobian,
Rosenbrock-W.

The dense and convolutional networks have no cheap exact Jacobian of the
flow: its data part has rank at most ``min(n, d)`` in ``beta``, but the
network's own curvature couples all the layers (rank about the sum of the
layers' fan-in and fan-out). Its stiff part, though, is the data part: on
the standardized breast_cancer training split (398 x 31 with the
intercept), width 32, depth 2 (2,048 states), the Jacobian along the path
has some ten eigenvalues with ``|lambda| > 20`` per unit of ``tau`` (up to
1,500 at a loss of 1e-2.6), on all of breast_cancer 26 (up to 1.8e6 at
1e-6), and the rest below 8.

A Rosenbrock-*W* method keeps its order with any matrix ``W`` in place of the
Jacobian (Hairer & Wanner, Solving ODEs II, IV.7): the exactness of the
trajectory rests on the error control alone, and ``W`` only has to hold
the stiff modes for stability (and, for long steps, be near the Jacobian
on the path's directions). The method is ROS34PW2 (Rang & Angermann 2005):
four stages, order 3 for any ``W``, embedded order 2, L-stable. Two ``W``:

- :class:`DataJacobian`, the data part of the Jacobian pulled back through
  the network, exact up to difference quotients of ``coef``, with the
  network's curvature left out; formed at every step from ``2 min(n, d) +
  2`` calls of the network (no product with ``Z``) and solved by Woodbury.
  Used where ``min(n, d) <= DATA_RANK`` (``DATA_RANK_BATCHED`` for a network
  with batched columns that does not opt out, see :func:`has_data_jacobian`)
  and the loss gives its curvature;
  there, for a margin loss, Radau IIA steps (:mod:`.radau`) take it as the
  matrix of their simplified Newton iterations instead (:func:`serves_data`):
  the iterations converge to the collocation solution with any matrix near
  the Jacobian, so the order is 5, not 3 (``DeepLinearClassifier(
  random_state=0)`` on the standardized breast_cancer data: 2,217
  evaluations to 1e-5, against 4,284 with these W-steps; see
  :class:`~.radau.Radau5`).
- :class:`KrylovJacobian`, the Jacobian projected on a Krylov space of a
  few tens of vectors (products by one extra evaluation each), kept for
  ``MAX_AGE`` steps: cheaper per step where ``min(n, d)`` is large, but
  its stale spaces miss stiff modes as they turn (on all of breast_cancer
  to 1e-100 it ran to max_iter where the data Jacobian took 5,545
  evaluations).

Nothing is asked of the network beyond the contract's ``velocity`` and
``coef``, so every network gets them; a network with the optional
``velocities`` and ``coef_jacobian_product`` (the dense and the
convolutional ones) has the data Jacobian's columns formed in two calls
instead of two per column, and ``J`` exactly (on breast_cancer, depth 2:
2.5 s against 4.4 s a fit). Physical time rides along as for RODAS4
(:mod:`.rosenbrock`), its row of ``W`` being ``-1`` on itself and nothing
else (the clock, made a component of the state, gets a zero row: a W-method
allows both).
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg.blas import dger, dnrm2

from .._losses import is_margin_loss
from .jacobian import _complex_map, loss_weights
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
# KRYLOV_SIZE (see KrylovW._size). Up to DATA_RANK columns the data
# Jacobian is formed instead: at 100 x 1000 (100 columns) the convolutional
# network reached 1e-100 in 2,184 evaluations with it against 6,108 with
# the Krylov one, but in 6.7 s against 1.6 s (its 2 k calls of the
# network cost more than its saved evaluations there; with its columns
# batched it is still slower, see ConvolutionalNetwork.large_data_jacobian).
KRYLOV_SIZE = 24
_EXTRA = 16
DATA_RANK = 64
# A network with the batched ``velocities`` and ``coef_jacobian_product``
# forms the columns in two calls: there the data Jacobian serves up to this
# rank, unless the network says ``large_data_jacobian = False`` (the
# convolutional one, whose evaluations are too cheap for it to pay). On the
# standardized digits data (1797 x 65 with the intercept), class 8 against
# the rest, not separable, the Krylov Jacobian's steps ran to max_iter
# (110,698 evaluations, 23 s) where the data Jacobian's stalled after 4,023
# (3.9 s). Its solvers' algebra grows like N k**2 (see
# DataJacobian.lu_cost): at 1000 x 201 (not separable, width 32) one trial
# of the stiff steps cost 2 s, twice the whole explicit fit, and the trial
# was rejected.
DATA_RANK_BATCHED = 128
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
    """Rosenbrock-W steps (ROS34PW2) with a data or a Krylov Jacobian.

    Satisfies the stepper contract of
    :class:`~sklearn_implicit._integrate.explicit.ExplicitRungeKutta`, for any
    network and loss; the stages are those of :class:`~.rosenbrock.Rodas4`
    with another tableau and ``W`` in place of the Jacobian. A ``W`` is kept
    for the retries of a rejected step, unless it was formed at an earlier
    state (it may be what the step lacks).

    Parameters
    ----------
    tol : float, default=None
        Unused (the stepper contract of :mod:`.auto`).
    size : int, default=None
        Arnoldi vectors of a Krylov Jacobian (None: from the shape of the
        data, see :meth:`_size`).
    max_age : int, default=None
        Accepted steps that one ``W`` serves at most (None: 1 for the data
        Jacobian, ``MAX_AGE`` for the Krylov one).
    kind : {'data', 'krylov'}, default=None
        Which ``W`` (None: the data Jacobian where :func:`has_data_jacobian`,
        see the module).
    """

    def __init__(self, tol=None, size=None, max_age=None, kind=None):
        super().__init__(tol=None)
        self.kind = kind
        self._tableau = ROS34PW2
        self.order = ROS34PW2.order
        self.size = size
        self.max_age = max_age
        self._start = None
        self._age = 0
        self._last_ev = None
        self._calls, self._call_cost = 0, 0.0

    def _refresh_jacobian(self, flow, ev):
        if self._jac is not None and ev is self._jac_ev:
            return
        if ev is not self._last_ev:
            # a new step: the last one was accepted
            self._age += 1
            self._last_ev = ev
            if self._jac is not None and self._age < self._max_age(flow):
                return
        # (else a new step past the age, or the retry of a step taken with an
        # old W, which a fresh one may be what it lacks)
        self._age = 0
        if self._start is None or self._start.shape != ev.state.shape:
            self._start = np.random.default_rng(0).standard_normal(ev.state.shape)
        if self._data_kind(flow):
            self._call_cost = network_call_cost(flow.X.shape, ev.state.shape[0])
            self._replace(DataJacobian(flow, ev))
        else:
            self._replace(KrylovJacobian(flow, ev, self._size(flow.X.shape), self._start))
        self._jac_ev = ev
        self.n_jacobians += 1

    def _replace(self, jac):
        if isinstance(self._jac, DataJacobian):
            self._calls += self._jac.calls
        self._jac, self._solver = jac, None

    def _check_flow(self, flow):
        # every network serves: only velocity and coef are used
        return

    def _max_age(self, flow):
        if self.max_age is not None:
            return self.max_age
        # A data Jacobian costs no product with Z and is formed at every
        # step: one kept for later steps (its columns G C and K C from an
        # earlier state) took twice the steps on all of breast_cancer.
        return 1 if self._data_kind(flow) else MAX_AGE

    def _data_kind(self, flow):
        if self.kind is not None:
            return self.kind == "data"
        return has_data_jacobian(flow)

    def _size(self, shape):
        if self.size is not None:
            return self.size
        # The stiff modes come from the data, whose term in the Jacobian has
        # rank at most min(n, n_coef) + 1; a few more vectors resolve the
        # largest of them.
        return min(min(shape) + 1 + _EXTRA, KRYLOV_SIZE)

    def step_cost(self, shape, n_state=None):
        """Four evaluations, and the share of a Krylov space's (an
        estimate for the data Jacobian too, which :meth:`extra_cost`
        counts as it is formed; ``n_state`` is not used)."""
        return len(self._tableau.weights) + self._size(shape) / (self.max_age or MAX_AGE)

    def extra_cost(self):
        """The network's work for the data Jacobians, in evaluations (the
        products of a Krylov space are evaluations, and the small systems
        cost far less than one): a call of ``velocity`` or ``coef`` is
        priced by :func:`network_call_cost`."""
        calls = self._calls + (self._jac.calls if isinstance(self._jac, DataJacobian) else 0)
        return calls * self._call_cost


def network_call_cost(shape, n_state):
    """The price of one call of the network's ``velocity`` or ``coef``, in
    evaluations: its share ``N / (N + 2 n d)`` of an evaluation's
    multiply-adds (``N = n_state`` states, two products with the ``n x d``
    design)."""
    n, d = shape
    return n_state / (n_state + 2.0 * n * d)


def has_data_jacobian(flow):
    """Whether :class:`DataJacobian` serves the flow: the loss gives its
    curvature and the data part has rank ``min(n, d) <= DATA_RANK``
    (``DATA_RANK_BATCHED`` for a network with batched columns, unless its
    attribute ``large_data_jacobian`` is False)."""
    network = flow.network
    large = _batched(network) and getattr(network, "large_data_jacobian", True)
    rank = DATA_RANK_BATCHED if large else DATA_RANK
    return hasattr(flow.loss, "log_curvature") and min(flow.X.shape) <= rank


def _batched(network):
    return hasattr(network, "velocities") and hasattr(network, "coef_jacobian_product")


def serves_data(flow):
    """Whether Radau steps with :class:`DataJacobian` serve the flow: it has
    one (:func:`has_data_jacobian`), for a margin loss (as
    :func:`~.radau.serves`: the squared loss keeps Rosenbrock steps)."""
    return has_data_jacobian(flow) and is_margin_loss(flow.loss)


class DataJacobian:
    """The data part of the flow's Jacobian, pulled back through the network.

    With ``h = Z^T w`` (the normalized weights of :mod:`.jacobian`), ``G``
    the network's velocity per unit of gradient (``velocity``, linear in
    ``g``), ``J = d beta/d state`` and ``K = J G`` the tangent kernel, the
    velocity in the clock is ``F = G h / p``, ``p = h.K h``, and its
    Jacobian is the data part

        D = (G - 2 F (K h)^T) / p  Z^T M Z  J,    M = dw/dm,

    plus the derivatives of ``G`` and ``J`` (the network's curvature and
    metric), which are left out. ``D`` has rank at most ``k = min(n, d)``
    and carries the stiff modes (the network's own terms had eigenvalues
    below 8 per unit of the clock in the cases of the module docstring, the
    data term up to 1.8e6). It is formed as ``P S Q^T`` with ``k`` columns:
    ``C = I`` and ``S = Z^T M Z`` when ``d <= n``, ``C = Z^T`` and ``S = M``
    otherwise; ``P = (G - 2 F (K h)^T) C / p`` (``k`` calls of
    ``velocity``), ``Q^T = C^T J`` (``J`` applied by a difference quotient
    of ``coef``: no product with ``Z``). Nothing is asked of the network
    beyond the contract; the loss gives its curvature (``log_curvature``).
    """

    setup_cost = gram_cost = 0.0
    # The LU of its k x k system and its solvers' product P S (N k**2 for N
    # states) are left out of the cost model: priced by their multiply-adds
    # against an evaluation's (2 n d + N), they made the trials of Radau
    # steps on breast_cancer look 50 evaluations a factorization dearer than
    # they are in time (the evaluations' own overhead dominates at that
    # size), and DeepLinearClassifier(random_state=0) took 8,169 evaluations
    # instead of 2,217. Hence the bound on k (DATA_RANK_BATCHED).
    lu_cost = 0.0

    def __init__(self, flow, ev):
        Z, network = flow.X, flow.network
        n, d = Z.shape
        self.network, self.state, self.coef = network, ev.state, ev.coef
        # calls of the network's velocity and coef (see KrylovW.extra_cost)
        self.calls = 0
        self._scale = _FD_STEP * max(np.max(np.abs(ev.state)), 1.0)
        w, curvature, h = _weights(flow, ev)
        # the columns C: the unit vectors (d <= n) or the rows of Z
        self.by_rows, self._Z = d > n, Z
        # G C and K C = J G C: 2 k calls of the network, or two calls of
        # its batched forms where it has them (the optional velocities and
        # coef_jacobian_product: the same work, without a Python call per
        # column; the cost model counts the columns either way)
        batched = _batched(network)
        # C^T J, where the velocities are a multiple of J^T (J^T C = GC / c)
        self._CJ = None
        if batched:
            GC = _velocities(network, ev.state, Z.T if self.by_rows else np.eye(d))
            KC = network.coef_jacobian_product(ev.state, GC)
            self.calls += GC.shape[1]
            scale = getattr(network, "velocity_scale", None)
            if scale is not None:
                self._CJ = GC.T / scale
        else:
            columns = _dense_rows(Z) if self.by_rows else np.eye(d)
            GC = np.column_stack([_velocity(network, ev.state, c) for c in columns])
            KC = np.column_stack([self.apply_J(col) for col in GC.T])
        self.calls += GC.shape[1]
        # F = G h / p, p = h.K h: the velocity (one more call of each)
        Gh = _velocity(network, ev.state, h)
        Kh = self.apply_J(Gh)
        self.calls += 1
        p = h @ Kh
        F = Gh / p
        KhC = self.left(Kh)
        # P = (GC - 2 F KhC^T) / p, in place (GC is a fresh array): an
        # N x k outer product and two N x k temporaries were a third of the
        # work of forming this Jacobian.
        GC *= 1.0 / p
        self.P = _add_outer(GC, -2.0 / p, F, KhC)
        if self.by_rows:
            self.S = np.outer(w, w) - np.diag(curvature)
        else:
            gram = Z.T @ (sp.diags(-curvature) @ Z if sp.issparse(Z) else Z * -curvature[:, None])
            self.S = (gram.toarray() if sp.issparse(gram) else gram) + np.outer(h, h)
        # Q^T P = C^T J P = (C^T KC - 2 (C^T Kh) KhC^T / p) / p (C^T Kh = KhC:
        # the rank-one term after the product, in k x k)
        self.QP = (self.left(KC) - (2.0 / p) * np.outer(KhC, KhC)) / p

    @property
    def free_solves(self):
        """Whether a solve needs no product with ``Z`` (see :meth:`left_J`)."""
        return self._CJ is not None or not self.by_rows

    def left_J(self, v):
        """``C^T J v``: one product with a matrix held where the network
        gives ``velocity_scale`` (a call of the network per solve was a fifth
        of a deep fit's time on breast_cancer), else :meth:`apply_J` (on the
        real and imaginary parts of a complex ``v``, for Radau's complex
        systems: the network's states are real)."""
        if np.iscomplexobj(v):
            return _complex_map(self.left_J, v)
        if self._CJ is not None:
            return self._CJ @ v
        return self.left(self.apply_J(v))

    def left(self, v):
        """``C^T v`` for a vector or the columns of a matrix."""
        if not self.by_rows:
            return v
        out = self._Z @ v
        return out.toarray() if sp.issparse(out) else np.asarray(out)

    def apply_J(self, v):
        """``J v``: exact where the network has ``coef_jacobian_product``,
        else by a difference quotient of ``coef`` (no product with Z)."""
        size = np.max(np.abs(v))
        if not size > 0:
            return np.zeros_like(self.coef)
        self.calls += 1
        if hasattr(self.network, "coef_jacobian_product"):
            return self.network.coef_jacobian_product(self.state, v[:, None] / size)[:, 0] * size
        step = self._scale / size
        return (self.network.coef(self.state + step * v) - self.coef) / step

    def log_rate_slope(self, v):
        return 0.0

    def shifted_solver(self, shift):
        return _DataSolver(self, shift)


def _add_outer(A, alpha, x, y):
    """``A + alpha x y^T``, in ``A`` (which the caller owns) where it is a
    contiguous float array (BLAS ``dger``)."""
    if A.dtype == np.float64 and A.flags.writeable:
        if A.flags.f_contiguous:
            return dger(alpha, x, y, a=A, overwrite_a=True)
        if A.flags.c_contiguous:
            dger(alpha, y, x, a=A.T, overwrite_a=True)
            return A
    return A + alpha * np.outer(x, y)


def _velocities(network, state, G):
    """``G g`` for the columns of ``G`` (dense or sparse), each scaled to a
    largest entry of 1 for the network and back (as :func:`_velocity`)."""
    G = G.toarray() if sp.issparse(G) else np.asarray(G)
    sizes = np.max(np.abs(G), axis=0)
    sizes[sizes == 0] = 1.0
    if np.all(sizes == 1.0):
        # (the unit vectors of a tall design: nothing to scale)
        return network.velocities(state, G)
    out = network.velocities(state, G / sizes)
    out *= sizes
    return out


def _dense_rows(Z):
    """The rows of ``Z``, dense, one at a time."""
    for i in range(Z.shape[0]):
        row = Z[i]
        yield np.asarray(row.todense()).ravel() if sp.issparse(Z) else row


def _weights(flow, ev):
    """``w``, ``s l'' / sum(s l)`` (:func:`~.jacobian.loss_weights`) and
    ``h = Z^T w`` at an evaluation."""
    w, curvature = loss_weights(flow, ev)
    return w, curvature, np.asarray(flow.X.T @ w).ravel()


def _velocity(network, state, g):
    """``G g``, the network's velocity for the gradient ``g`` (any scale)."""
    size = np.max(np.abs(g))
    if not size > 0:
        return np.zeros_like(state)
    direction, log_speed, _ = network.velocity(state, g / size)
    return np.exp(log_speed) * size * direction


class _DataSolver:
    """``(s I - P S Q^T)^{-1} b = (b + P S (s I - Q^T P S)^{-1} Q^T b) / s``."""

    lu_cost = 0.0

    def __init__(self, jac, shift):
        self.jac, self.shift = jac, shift
        k = jac.S.shape[0]
        # (complex for the complex shift of a Radau step)
        matrix = -(jac.QP @ jac.S).astype(np.result_type(jac.S, shift))
        matrix.ravel()[:: k + 1] += shift
        self._lu = _lu_factor(matrix)

    def project(self, v):
        return None

    def solve(self, b, yb):
        jac = self.jac
        z = _lu_solve(self._lu, jac.left_J(b))
        # P (S z): two products of N k + k**2 per solve. The product P S
        # (N k**2), formed once per Jacobian for all its solves, cost about
        # a fifth of a fit's time (ConvolutionalLinearClassifier at depth 3,
        # 100 x 1000, batched columns: some five solves per Jacobian).
        # (A real matrix times a complex vector: part by part, since NumPy
        # would copy the N x k matrix to complex for every product.)
        Sz = jac.S @ z
        Pz = _complex_map(jac.P.__matmul__, Sz) if np.iscomplexobj(Sz) else jac.P @ Sz
        return (b + Pz) / self.shift, None
