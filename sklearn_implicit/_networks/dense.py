"""Fully connected deep linear network ``f(x) = w_D W_{D-1} ... W_1 x``.

Layer matrices have shape (fan_out, fan_in): ``W_1`` is (h_1, n_coef),
``W_l`` is (h_l, h_{l-1}) and the output layer ``w_D`` is (1, h_{D-1}). The
state is their flat concatenation, each stored row major.

Gradient flow. Write ``beta^T = P_l W_l Q_l`` with the row vector
``P_l = w_D W_{D-1} ... W_{l+1}`` and the matrix ``Q_l = W_{l-1} ... W_1``.
For ``g = -grad_beta L`` the layer velocity is the rank-one matrix
``dW_l/dt = P_l^T (Q_l g)^T``, so a gradient evaluation costs one
matrix-vector product per layer in each direction (``Q_l g`` forward,
``P_l`` backward) and one outer product per layer; the data enter only
through ``X @ beta`` and ``X^T r`` in the caller. The power is
``g . dbeta/dt = sum_l ||dW_l/dt||_F^2 = sum_l ||P_l||^2 ||Q_l g||^2``,
summed from logarithms.

Antisymmetric pair. The predictor is ``beta = beta(A) - beta(B)`` for two
networks ``A`` and ``B`` that start equal (``B`` sees ``-g``). The state holds
their mean ``M = (A + B) / 2`` and half-difference ``H = (A - B) / 2`` layer by
layer, not ``A`` and ``B``: at large ``alpha`` the layers barely move, and
``beta`` (of size ``|H| alpha**(D-1)``) would otherwise be the difference of
two products of size ``alpha**D`` computed from rounded layers, with an
absolute error ``eps alpha**D`` that can exceed ``beta`` itself. Written as
the telescoping sum ``prod(A) - prod(B) = sum_l A_D ... A_{l+1} (2 H_l)
B_{l-1} ... B_1`` it keeps full relative precision.
"""

import numpy as np
from scipy.linalg import block_diag, eigh

from ..utils._logspace import log_sum_of_products
from ._pair import halves, pair_error_scales

INITS = ("antisymmetric", "normal", "orthogonal")


def _random_layer(shape, init, rng):
    """A (fan_out, fan_in) matrix of unit scale."""
    fan_out, fan_in = shape
    if init == "orthogonal":
        # Haar-distributed semi-orthogonal matrix: every singular value is 1.
        q, r = np.linalg.qr(rng.standard_normal((max(shape), min(shape))))
        q *= np.where(np.diag(r) < 0, -1.0, 1.0)
        return q if fan_out >= fan_in else q.T
    return rng.standard_normal(shape) / np.sqrt(fan_in)


class DenseNetwork:
    """Fully connected linear network with ``len(widths) + 1`` layers.

    Parameters
    ----------
    n_coef : int
        Input dimension (length of ``beta``).
    widths : tuple of int
        Hidden widths ``h_1, ..., h_{D-1}``.
    alpha : float
        Scale of every layer at initialization.
    init : {'antisymmetric', 'normal', 'orthogonal'}
        ``'normal'``: i.i.d. ``N(0, 1/fan_in)`` entries; ``'orthogonal'``:
        Haar semi-orthogonal matrices (all singular values 1);
        ``'antisymmetric'``: two copies of one ``'normal'`` network whose
        difference is the predictor, so ``beta = 0`` at initialization.
    random_state : numpy.random.RandomState
    """

    def __init__(self, n_coef, widths, alpha, init, random_state):
        self.n_coef = int(n_coef)
        self.widths = tuple(int(w) for w in widths)
        self.depth = len(self.widths) + 1
        self.antisymmetric = init == "antisymmetric"
        self._shapes = layer_shapes(self.n_coef, self.widths)
        n_blocks = 2 if self.antisymmetric else 1
        self._sizes = np.array([a * b for a, b in self._shapes] * n_blocks)
        self._offsets = np.concatenate([[0], np.cumsum(self._sizes)[:-1]])
        draw = "normal" if self.antisymmetric else init
        start = np.concatenate(
            [alpha * _random_layer(s, draw, random_state).ravel() for s in self._shapes]
        )
        if self.antisymmetric:
            start = np.concatenate([start, np.zeros_like(start)])
        self._start = start
        self._scratch = np.empty_like(start)
        self._memo = None

    def initial_state(self):
        return self._start.copy()

    def networks(self, state):
        """Layer lists of the network(s) the predictor is made of.

        One list (views into ``state``), or the pair ``(A, B)``: views into a
        scratch buffer that the next call at another state overwrites (large
        temporaries cost more to allocate than to fill).
        """
        return self._point(state)[0]

    def _point(self, state):
        """``(networks, chains)`` at ``state``: :meth:`networks` and the
        :meth:`_output_chains` of each. An evaluation asks for the
        coefficients, then the velocity, and the stiff steps for more at
        the same state: those of the last state are kept (states are never
        modified in place, so identity is enough). Forming them again for
        each request cost about 8% of a deep fit's time on breast_cancer."""
        memo = self._memo
        if memo is not None and memo[0] is state:
            return memo[1], memo[2]
        nets = state_networks(state, self._shapes, self.antisymmetric, out=self._scratch)
        chains = [self._output_chains(layers) for layers in nets]
        self._memo = (state, nets, chains)
        return nets, chains

    def _output_chains(self, layers):
        """``P_l^T`` for every layer: what a unit of its output is worth."""
        chains = [None] * self.depth
        chains[-1] = np.ones(1)
        for l in range(self.depth - 1, 0, -1):
            chains[l - 1] = layers[l].T @ chains[l]
        return chains

    def coef(self, state):
        nets, chains = self._point(state)
        if not self.antisymmetric:
            return nets[0][0].T @ chains[0][0]
        b, chains_a = nets[1], chains[0]
        half = split_state(state, self._shapes, 2)[1]
        beta = 2.0 * half[-1][0]
        for l in range(self.depth - 2, -1, -1):
            beta = b[l].T @ beta + 2.0 * (half[l].T @ chains_a[l])
        return beta

    def velocity(self, state, g):
        out = np.empty_like(state)
        squares = []  # (||P_l||^2, ||Q_l g||^2) of every layer
        n_blocks = 2 if self.antisymmetric else 1
        for sign, layers, chains, velocities in zip(
            (1.0, -1.0), *self._point(state), split_state(out, self._shapes, n_blocks)
        ):
            q = sign * g
            for W, p, dW in zip(layers, chains, velocities):
                np.outer(p, q, out=dW)
                squares.append((p @ p, q @ q))
                q = W @ q
        log_power = log_sum_of_products(squares)
        if self.antisymmetric:
            _to_mean_and_half(out)
        # (max propagates NaN, and log(inf) = inf: both flag a trial state
        # whose velocity is not finite)
        size = np.abs(out).max(initial=0.0)
        if not 0.0 < size < np.inf:
            return out, (np.log(size) if size > 0 else 0.0), log_power
        out /= size
        return out, np.log(size), log_power

    @property
    def velocity_scale(self):
        """The velocity is this times ``(d coef / d state)^T g``: gradient
        flow on the layers, and in the pair on ``(A, B)``, whose mean and
        half-difference move at half the rate of their own gradients."""
        return 0.5 if self.antisymmetric else 1.0

    def velocities(self, state, G):
        """The velocities ``G g`` (linear in ``g``, not normalized) for the
        columns ``g`` of ``G`` (shape ``(n_coef, k)``), as the columns of a
        ``(state size, k)`` array: :meth:`velocity` for many gradients in one
        call (the columns of the stiff steps' data Jacobian, see
        :mod:`sklearn_implicit._integrate.krylov`, where a call per column
        spent most of a deep fit in Python)."""
        k = G.shape[1]
        out = np.empty((state.shape[0], k))
        for block, (sign, layers, chains) in enumerate(zip((1.0, -1.0), *self._point(state))):
            Q = sign * G
            for l, (W, p) in enumerate(zip(layers, chains)):
                lo = self._offsets[block * self.depth + l]
                fan_out, fan_in = self._shapes[l]
                dW = out[lo:lo + fan_out * fan_in].reshape(fan_out, fan_in, k)
                np.multiply(p[:, None, None], Q[None, :, :], out=dW)
                Q = W @ Q
        if self.antisymmetric:
            _to_mean_and_half(out)
        return out

    def coef_jacobian_product(self, state, V):
        """``d coef / d state`` times the columns of ``V`` (shape ``(state
        size, k)``), exactly: ``dbeta^T = sum_l P_l dW_l Q_l`` for each
        network, and ``dbeta(A) - dbeta(B)`` with ``dA = dM + dH``, ``dB =
        dM - dH`` for the pair."""
        k = V.shape[1]
        if self.antisymmetric:
            dm, dh = halves(V)
            directions = (dm + dh, dm - dh)
        else:
            directions = (V,)
        total = np.zeros((self.n_coef, k))
        for sign, layers, chains, dV in zip((1.0, -1.0), *self._point(state), directions):
            Q = None  # W_{l-1} ... W_1 (None: the identity)
            for l, (W, p) in enumerate(zip(layers, chains)):
                lo = self._offsets[l]
                fan_out, fan_in = self._shapes[l]
                dW = dV[lo:lo + fan_out * fan_in].reshape(fan_out, fan_in, k)
                u = np.tensordot(p, dW, axes=(0, 0))  # (fan_in, k): P_l dW_l
                total += sign * (u if Q is None else Q.T @ u)
                Q = W if Q is None else W @ Q
        return total

    def error_scale(self, state, dstate):
        # One scale per layer: its RMS entry, so that errors are relative to
        # the layer and hence to beta once the layers align. In the pair, an
        # error in M moves both A = M + H and B = M - H: it is measured
        # against the larger of M and H. The half-difference H starts at 0
        # and stays small at large alpha while it alone sets beta (the lazy
        # regime), so it is measured against its own RMS, floored by a tiny
        # fraction of M's.
        rms = np.sqrt(np.add.reduceat(state * state, self._offsets) / self._sizes)
        if self.antisymmetric:
            rms = np.concatenate(pair_error_scales(*halves(rms)))
        return np.repeat(np.maximum(rms, 1e-300), self._sizes)

    def diagnostics(self, state):
        """Alignment of the layers (Ji & Telgarsky 2019).

        Measured on the single network with the same predictor (see
        :func:`single_network_layers`): in the antisymmetric pair the network
        that does not carry the margin may stay bounded while the other one
        grows, so only the combined layers align.

        ``'alignment_min'``: smallest ratio ``sigma_1(W_l) / ||W_l||_F`` (1 for
        a rank-one layer). ``'adjacent_alignment_min'``: smallest
        ``|<v_1(W_{l+1}), u_1(W_l)>|`` over adjacent layers, the overlap of the
        top right singular vector of a layer with the top left singular
        vector of the layer below (1 when they line up).
        """
        layers = single_network_layers(
            state, self.n_coef, self.widths, self.antisymmetric
        )
        tops = [_top_singular(W) for W in layers]
        ratios = [ratio for ratio, _, _ in tops]
        overlaps = [abs(v @ u) for (_, u, _), (_, _, v) in zip(tops[:-1], tops[1:])]
        return {
            "alignment_min": float(min(ratios)),
            "adjacent_alignment_min": float(min(overlaps)),
        }


def _to_mean_and_half(out):
    """The velocities of the pair's networks ``(vA, vB)``, stacked along the
    first axis, made those of its state ``((vA + vB) / 2, (vA - vB) / 2)``
    in place."""
    va, vb = halves(out)
    np.subtract(va, vb, out=vb)
    va *= 2.0
    va -= vb
    out *= 0.5


def _top_singular(W):
    """``sigma_1 / ||W||_F`` and the top left and right singular vectors.

    From the eigenvector of the smaller Gram matrix: a full SVD of the input
    layer costs far more than the integration steps between two records.
    """
    wide = W.shape[0] <= W.shape[1]
    gram = W @ W.T if wide else W.T @ W
    frob2 = np.trace(gram)
    if not frob2 > 0:
        return 0.0, np.zeros(W.shape[0]), np.zeros(W.shape[1])
    n = gram.shape[0]
    lam, vec = eigh(gram, subset_by_index=[n - 1, n - 1])
    top = vec[:, 0]
    other = (W.T @ top) if wide else (W @ top)
    other /= np.linalg.norm(other)
    u, v = (top, other) if wide else (other, top)
    return float(np.sqrt(max(lam[0], 0.0) / frob2)), u, v


def layer_shapes(n_coef, widths):
    """(fan_out, fan_in) of every layer, input layer first."""
    sizes = (n_coef, *widths, 1)
    return [(sizes[l + 1], sizes[l]) for l in range(len(sizes) - 1)]


def split_state(state, shapes, n_blocks):
    """Views of ``n_blocks`` consecutive lists of layer matrices in ``state``."""
    views, start = [], 0
    for shape in shapes * n_blocks:
        stop = start + shape[0] * shape[1]
        views.append(state[start:stop].reshape(shape))
        start = stop
    depth = len(shapes)
    return [views[k * depth : (k + 1) * depth] for k in range(n_blocks)]


def state_networks(state, shapes, antisymmetric, out=None):
    """The network, or the pair ``(A, B) = (M + H, M - H)`` written to ``out``."""
    if not antisymmetric:
        return split_state(state, shapes, 1)
    mean, half = halves(state)
    out = np.empty_like(state) if out is None else out
    a, b = halves(out)
    np.add(mean, half, out=a)
    np.subtract(mean, half, out=b)
    return split_state(out, shapes, 2)


def single_network_layers(state, n_coef, widths, antisymmetric):
    """Layers ``W_1, ..., w_D`` (new arrays) of one plain network with the
    same predictor.

    The antisymmetric pair is the network of twice the width whose hidden
    layers are block diagonal and whose output weights of the second network
    are negated (its product equals ``beta`` up to rounding of size
    ``eps alpha**D``).
    """
    nets = state_networks(state, layer_shapes(n_coef, widths), antisymmetric)
    if not antisymmetric:
        return [W.copy() for W in nets[0]]
    a, b = nets
    first = np.vstack([a[0], b[0]])
    hidden = [block_diag(wa, wb) for wa, wb in zip(a[1:-1], b[1:-1])]
    last = np.hstack([a[-1], -b[-1]])
    return [first, *hidden, last]
