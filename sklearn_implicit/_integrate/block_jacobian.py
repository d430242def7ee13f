"""The flow's Jacobian for networks whose tangent maps are block-diagonal
in a basis of the coefficients: the convolutional network.

Such a network (the optional ``block_basis`` and ``jacobian_blocks`` of the
contract, see :mod:`sklearn_implicit._networks._contract`) has an orthonormal
basis of ``beta``'s space, cut into blocks of ``b`` coordinates, and a cut of
its state into blocks of ``m`` floats, such that ``d beta / d state`` maps
each state block into its own coefficient block (``J_k``, ``b x m``) and the
velocity of a gradient ``g`` is ``omega_k J_k^T g_k`` block by block. For the
convolutional network the blocks are the Fourier channels (``b = 2``: the
real and imaginary parts; ``m``: those of every layer).

The Jacobian
------------
With the notation of :mod:`.jacobian` (``w`` the normalized weights, ``M =
dw/dm``, ``h`` the gradient ``Z^T w`` in the basis, ``v = G h`` the
velocity per unit of gradient and ``p = h . J v`` the power), the velocity
in the clock is ``F = v / p`` and::

    dF/dstate = B / p + W K Y^T,
    W = [G C, F],  Y^T = [C^T J; e^T],  K = blockdiag(S / p, 1),
    e = -(2 / p) (J^T Z^T M Z J v + B^T (v / omega)),

where ``B``, the derivative of ``G h`` at fixed ``h``, is block-diagonal
(the network's own curvature: for the convolutional network it couples the
layers within a channel), and ``C S C^T = Z^T M Z`` with ``(C, S) = (Z^T,
M)`` (rank ``n``) or ``(I, Z^T M Z)`` (``d <= n``), all in the basis.

The steps use the low-rank part ``W K Y^T`` (exact, and the power's whole
gradient in ``e``) as the matrix of Radau's simplified Newton iterations
(``jacobian='blocks'`` of :class:`~.radau.Radau5`): those converge with
any matrix near the Jacobian, to the same collocation solution, and the
stiff modes are the data's (as for :class:`~.krylov.DataJacobian`, the same
matrix up to ``e``'s network term, formed here without a call of the
network per column, at any rank). Its Woodbury core ``Y^T W`` needs ``C^T
J G C``, whose middle is the tangent kernel by blocks (``|P_k|^2`` times
the identity for the convolutional network): one weighted Gram matrix of
the design in the basis per Jacobian, ``O(n^2 d)``, for the real and the
complex shift alike, and two products with the design per solve, as for
the diagonal network of depth 2 (:class:`~.shifted_solvers.WoodburySolver`).
Since the matrix needs only be near the Jacobian, it leaves out the rows
of the design whose modes are too slow for the step at hand to need an
implicit treatment (``ROW_DROP``): late in training all but the support
vectors, which shrinks the Gram matrix and the core's LU with them.
Keeping ``B / p`` would make the core depend on the shift: a Gram matrix
per shift, complex for Radau's complex one. RODAS4 steps with the whole
Jacobian (real shifts, a block-diagonal base ``s I - B / p`` inverted
block by block and a Gram matrix per step) took more evaluations and more
time on every problem tried (both keeping every row, see ``ROW_DROP``):
1000 x 4096, depth 3, from ``alpha=1`` to a loss of 1e-100, 35,289
evaluations against the Radau steps' 13,480; on four problems of 80 x 200
to 150 x 300 (depths 2 to 4, ``alpha`` 0.1 to 3, both losses) with
``solver='auto'``, 1,851 to 7,563 against 1,587 to 6,640, fewer on each.
"""

import numpy as np

from .jacobian import GramTruncation, _complex_map, _weighted_gram, loss_weights
from .shifted_solvers import WoodburySolver
from .stiff_cost import factorization_cost, gram_matrix_cost

# The rows of the design whose modes the steps' matrix may leave out: those
# with the smallest rates h a_i (a_i = c_i z_i . phi z_i / p, c_i the loss's
# curvature: the diagonal of the data part in the rows' space, whose sum
# bounds its trace), as long as together they carry at most this much. Modes
# with h a_i << 1 need no implicit treatment: Newton's iterations take them
# as a fixed-point iteration would, at a rate of about their h a_i (the
# accuracy of the step is the collocation's, whatever the matrix). Late in
# training only the support vectors keep a rate: at 300 x 1024, depth 3,
# some 115 of the 300 rows past a loss of 1e-30, and the Gram matrix and
# the LU of the Woodbury core shrink with their square and cube. To a loss
# of 1e-100 from alpha=1 (default tol), 0, 0.01, 0.05, 0.2 and 1 here took
# 6,761, 3,249, 3,205, 3,157 and 3,264 evaluations there (2.48 s down to
# 1.37 s), 2,172 to 1,998 at 100 x 1000, with direction errors against a
# tol = 1e-10 fit of 2e-9 to 1e-8 for every value; at 1000 x 4096, 13,480
# evaluations without (65 s) and 5,451 with 0.05 (32 s).
ROW_DROP = 0.05


class BlockFlowJacobian:
    """Jacobian of the velocity ``d state/d tau`` at one evaluation, by blocks.

    Parameters
    ----------
    flow : LinearFlow
        With a network providing ``block_basis`` and ``jacobian_blocks`` and
        a loss providing ``log_curvature``.
    ev : Evaluation
        The flow's evaluation at the state.
    basis : ndarray of shape (n_samples, b, n_blocks)
        ``flow.network.block_basis(flow.X)`` (formed once per design).
    truncation : GramTruncation, default=None
        The blocks its Gram matrices may leave out (None: none), given the
        squared norms of the blocks' columns (see :func:`block_truncation`).
    step : float, default=None
        The step the matrix serves: the rows whose modes it may then leave
        out are left out (see ``ROW_DROP``); None keeps every row.

    Attributes
    ----------
    setup_cost, gram_cost : float
        The model's cost of forming it and of the Gram matrices formed so
        far, in gradient evaluations.
    """

    def __init__(self, flow, ev, basis, truncation=None, step=None):
        n, b, n_blocks = basis.shape
        self.truncation = truncation
        # the design in the basis, its columns the b coordinates of every
        # block in turn (each coordinate's column contiguous)
        self._Z = basis.reshape(n, b * n_blocks)
        w, curvature = loss_weights(flow, ev)
        h = _blocks(self._Z.T @ w, b)
        index, J, omega, B = flow.network.jacobian_blocks(ev.state, h)
        self.index, self.J, self.omega = index, J, omega[:, None]
        v = self.omega * _times_transposed(J, h)
        Jv = _times(J, v)
        p = float(np.sum(h * Jv))
        # J^T Z^T M Z J v: the data part of the power's gradient
        u = self._Z @ _flat(Jv)
        q = _blocks(self._Z.T @ (w * np.dot(w, u) - curvature * u), b)
        self.e = -(2.0 / p) * (_times_transposed(J, q)
                               + _times_transposed(B, v / self.omega))
        self.F = v / p
        # (the network's curvature, left out of the steps' matrix: see the
        # module)
        self._network_curvature = B
        phi = self.omega[:, :, None] * (J @ J.transpose(0, 2, 1))
        if step is not None:
            rows = _active_rows(self._Z, phi, curvature * (step / p), ROW_DROP)
            if rows is not None:
                self._Z, w, curvature = self._Z[rows], w[rows], curvature[rows]
                n = rows.size
        self.n_samples = n
        self.p, self.w, self.curvature = p, w, curvature
        d = n_blocks * b
        self.by_rows = d > n
        # (the costs are those of the design's shape, for its rows kept)
        self.shape = (basis.shape[0], d)
        self._kept = n / basis.shape[0]
        self.setup_cost, self.lu_cost = 2.0, factorization_cost(self.shape, min(n, d))
        self.gram_cost = 0.0
        # (a dense system's solves take no product with the design)
        self.free_solves = not self.by_rows
        if not self.by_rows:
            # S = Z^T M Z in the basis, once per Jacobian
            hw = self._Z.T @ w
            # (a symmetric product: half the work of a general one)
            self.S = np.outer(hw, hw) - _weighted_gram(self._Z.T, curvature)
            self.S /= p
            self.setup_cost += gram_matrix_cost(self.shape, d) * self._kept
        self.core = self._core(phi)

    def _core(self, phi):
        """``Y^T W`` of the low-rank form (no shift): ``C^T J G C`` is a
        Gram matrix of the basis with the ``b x b`` weights ``phi_k = omega_k
        J_k J_k^T`` (the tangent kernel by blocks)."""
        n_blocks, b, m = self.J.shape
        d = n_blocks * b
        if self.by_rows:
            top, columns = _block_gram(self._Z, phi, self.truncation)
            self.gram_cost += (gram_matrix_cost(self.shape, self.shape[0])
                               * self._kept**2 * columns / d)
        else:
            top = _block_diagonal(phi)
        size = top.shape[0]
        core = np.empty((size + 1, size + 1))
        core[:size, :size] = top
        core[:size, size] = self.left(_times(self.J, self.F))
        core[size, :size] = self.left(self.omega * _times(self.J, self.e))
        core[size, size] = np.sum(self.e * self.F)
        return core

    # -- the pieces of WoodburySolver ----------------------------------------

    def apply_K(self, y):
        """``K y`` for ``y`` of shape (size + 1,) or (size + 1, k)."""
        out = y.copy()
        out[:-1] = self.apply_S(y[:-1])
        return out

    def project(self, x):
        """``Y^T x`` for a state vector (real and imaginary parts apart)."""
        if np.iscomplexobj(x):
            return _complex_map(self.project, x)
        blocks = self.gather(x)
        out = np.empty(self.core.shape[0])
        out[:-1] = self.left(_times(self.J, blocks))
        out[-1] = np.sum(self.e * blocks)
        return out

    def apply_W(self, z):
        """``W z``, a state vector."""
        if np.iscomplexobj(z):
            return _complex_map(self.apply_W, z)
        t = self.right(z[:-1])
        return self.scatter(self.omega * _times_transposed(self.J, t) + self.F * z[-1])

    # -- blocks --------------------------------------------------------------

    def gather(self, x):
        """The blocks of a state vector, shape (n_blocks, m)."""
        return x[self.index]

    def scatter(self, blocks):
        out = np.empty(blocks.size, dtype=blocks.dtype)
        out[self.index] = blocks
        return out

    def left(self, t):
        """``C^T t`` for a vector of the basis, by blocks (n_blocks, b)."""
        return self._Z @ _flat(t) if self.by_rows else _flat(t)

    def right(self, z):
        """``C z``, by blocks."""
        return _blocks(self._Z.T @ z if self.by_rows else z, self.J.shape[1])

    def apply_S(self, y):
        """``S y / p`` (the top block of ``K``) for a vector or the columns
        of a matrix."""
        if not self.by_rows:
            return self.S @ y
        w = self.w if y.ndim == 1 else self.w[:, None]
        curvature = self.curvature if y.ndim == 1 else self.curvature[:, None]
        return (w * (self.w @ y) - curvature * y) / self.p

    def full_matrix(self, network_curvature=False):
        """The dense matrix of the steps (for checks); with
        ``network_curvature``, the flow's whole Jacobian."""
        n_blocks, b, m = self.J.shape
        size = n_blocks * m
        out = np.zeros((size, size))
        G = np.zeros((size, n_blocks * b))
        Jfull = np.zeros((n_blocks * b, size))
        for k in range(n_blocks):
            if network_curvature:
                out[np.ix_(self.index[k], self.index[k])] = self._network_curvature[k] / self.p
            G[self.index[k], k * b:(k + 1) * b] = self.omega[k] * self.J[k].T
            Jfull[k * b:(k + 1) * b, self.index[k]] = self.J[k]
        # (G and J above are in the block order of the basis; C's rows in
        # its flat order)
        order = np.arange(n_blocks * b).reshape(b, n_blocks).T.ravel()
        C = (self._Z.T if self.by_rows else np.eye(n_blocks * b))[order]
        S = self.apply_S(np.eye(C.shape[1]))
        out += G @ C @ S @ C.T @ Jfull
        out += np.outer(self.scatter(self.F), self.scatter(self.e))
        return out

    def shifted_solver(self, shift):
        """Solver of ``(shift I - W K Y^T) x = b``, real or complex shift."""
        return WoodburySolver(self, shift)


class BlockBasis:
    """The design in a block network's basis (``block_basis``, ``O(n d log
    d)`` for the convolutional one) and its :func:`block_truncation`, formed
    once per design and kept by a stepper."""

    def __init__(self):
        self._design = self._value = None

    def of(self, flow, drop):
        """``(basis, truncation)`` for the flow's design (``drop`` None: no
        truncation)."""
        if self._design is not flow.X:
            basis = flow.network.block_basis(flow.X)
            truncation = None if drop is None else block_truncation(basis, drop)
            self._design, self._value = flow.X, (basis, truncation)
        return self._value


def block_truncation(basis, drop):
    """The :class:`~.jacobian.GramTruncation` of the blocks of a basis
    (shape ``(n, b, n_blocks)``): a block's weight is the Frobenius norm of
    its ``b x b`` part of the Gram matrix's weights, its norm the sum of
    its columns' squared norms, so that what is left out is bounded as
    for columns."""
    return GramTruncation(basis, drop, column_norms=np.einsum("nbk,nbk->k", basis, basis))


def _active_rows(Z, phi, weights, drop):
    """The rows to keep, sorted, or None for all: those not among the
    smallest ``weights_i z_i . phi z_i`` that sum to at most ``drop``."""
    n_blocks, b, _ = phi.shape
    diagonal = _diagonal_weights(phi)
    if diagonal is not None:
        quadratic = (Z * Z) @ _flat(diagonal)
    else:
        planes = Z.reshape(Z.shape[0], b, n_blocks)
        quadratic = np.zeros(Z.shape[0])
        for i in range(b):
            for j in range(b):
                quadratic += (planes[:, i] * planes[:, j]) @ phi[:, i, j]
    rates = weights * quadratic
    order = np.argsort(rates)
    n_out = int(np.searchsorted(np.cumsum(rates[order]), drop, "right"))
    if n_out == 0:
        return None
    return np.sort(order[n_out:])


def _block_diagonal(phi):
    """The matrix of the ``b x b`` blocks ``phi`` (n_blocks, b, b) in the
    flat order of the basis."""
    n_blocks, b, _ = phi.shape
    top = np.zeros((n_blocks * b, n_blocks * b))
    rows = np.arange(n_blocks)
    for i in range(b):
        for j in range(b):
            top[i * n_blocks + rows, j * n_blocks + rows] = phi[:, i, j]
    return top


def _block_gram(Z, phi, truncation):
    """``sum_k Z_k phi_k Z_k^T`` over the blocks (``Z_k`` the ``n x b``
    columns of block ``k``), and its work in columns of a symmetric Gram
    matrix. The blocks that carry at most the truncation's share of the
    total (their weight the Frobenius norm of ``phi_k``) are left out.
    Where every ``phi_k`` is diagonal and nonnegative (the convolutional
    network's tangent kernel, ``|P|^2`` times the identity) it is a weighted
    Gram matrix of the columns, a symmetric product; otherwise a general
    one, twice the work."""
    n, (n_blocks, b, _) = Z.shape[0], phi.shape
    kept = None if truncation is None else truncation.columns(
        np.sqrt(np.sum(phi * phi, axis=(1, 2))))
    n_kept = n_blocks if kept is None else kept.size
    diagonal = _diagonal_weights(phi)
    if diagonal is not None:
        columns = None if kept is None else (kept + n_blocks * np.arange(b)[:, None]).ravel()
        return _weighted_gram(Z, _flat(diagonal), columns), n_kept * b
    planes = Z.reshape(n, b, n_blocks)
    if kept is not None:
        planes, phi = planes[:, :, kept], phi[kept]
    core = np.zeros_like(planes)
    for i in range(b):
        for j in range(b):
            core[:, j] += planes[:, i] * phi[:, i, j]
    return core.reshape(n, -1) @ planes.reshape(n, -1).T, 2 * n_kept * b


def _diagonal_weights(phi):
    """The diagonals of the ``b x b`` weights ``phi`` (n_blocks, b) where
    they are nonnegative and the rest is rounding (the convolutional
    network's tangent kernel: ``|P|^2`` times the identity, whose
    off-diagonal entries ``P_r P_i - P_i P_r`` are 0 or a few ulps), else
    None."""
    diagonal = np.diagonal(phi, axis1=1, axis2=2)
    off = phi - diagonal[:, :, None] * np.eye(phi.shape[1])
    if np.all(diagonal >= 0) and np.all(np.abs(off) <= 1e-14 * diagonal.max(initial=0.0)):
        return diagonal
    return None


def _flat(t):
    """A vector of the basis from its blocks (n_blocks, b)."""
    return t.T.ravel()


def _blocks(v, b):
    """The blocks (n_blocks, b) of a vector of the basis."""
    return v.reshape(b, -1).T


def _times(A, x):
    """``A_k x_k`` for every block ``k`` (a batched matrix-vector product)."""
    return (A @ x[:, :, None])[:, :, 0]


def _times_transposed(A, x):
    """``A_k^T x_k`` for every block ``k``."""
    return (x[:, None, :] @ A)[:, 0, :]
