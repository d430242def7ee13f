r"""Linear convolutional network with full-width circular filters.

The network (Gunasekar et al., 2018). Filters ``w_1, ..., w_L`` in ``R^d``,
``h_0 = x``, for ``l < L``
``h_l[i] = d**-0.5 * sum_k w_l[k] h_{l-1}[(i + k) mod d]`` (a circular
cross-correlation), and ``f(x) = <w_L, h_{L-1}> = <beta, x>``.

The Fourier form. Let ``U`` be the unitary DFT,
``(U v)_k = d**-0.5 * sum_i v[i] exp(-2 pi i i k / d)``
(``scipy.fft.fft(v, norm='ortho')``), and write ``v^ = U v``. A
cross-correlation turns into a product with the conjugate transform, and the
layer's ``d**-0.5`` is exactly the normalization of ``U``:
``h_l^_k = conj(w_l^_k) h_{l-1}^_k``. The readout is an inner product, which
``U`` preserves: ``f(x) = sum_k conj(w_L^_k) h_{L-1}^_k
= sum_k conj(prod_l w_l^_k) x^_k``, while ``<beta, x> = sum_k conj(beta^_k)
x^_k``. So the conjugations cancel and, frequency by frequency,

    beta^_k = prod_l w_l^_k,

with no constant: ``beta = d**(-(L-1)/2) w_1 (*) ... (*) w_L`` (circular
convolutions). With the unnormalized DFT ``F = d**0.5 U`` this reads
``F beta = d**(-(L-1)/2) prod_l F w_l``.

The flow. With ``g = -grad_beta L`` and ``P_{l,k} = prod_{m != l} w_m^_k``,
``-dL = <g, dbeta> = Re sum_k conj(g^_k) P_{l,k} dw_l^_k``, so gradient flow on
the filters is, frequency by frequency,

    d w_l^_k / dt = g^_k conj(P_{l,k}):

``d`` complex "diagonal networks" ``beta^_k = prod_l w_l^_k``, coupled only
through ``g`` (the margins depend on every frequency). Hence

- ``d |w_l^_k|**2 / dt = 2 Re(g^_k conj(beta^_k))`` for every layer ``l``: the
  differences ``|w_l^_k|**2 - |w_m^_k|**2`` are conserved, frequency by
  frequency (balancedness in the Fourier basis);
- ``d beta^_k / dt = K_k g^_k`` with ``K_k = sum_l |P_{l,k}|**2``: the tangent
  kernel is diagonal in the Fourier basis, and the loss falls at the rate
  ``sum_k K_k |g^_k|**2``.

Real signals have conjugate-symmetric transforms, ``v^_{d-k} = conj(v^_k)``,
and the flow keeps that symmetry: frequencies ``k`` and ``d - k`` are the same
network, ``k = 0`` and (``d`` even) ``k = d / 2`` are real ones. The state
therefore holds the half spectrum ``w^_k``, ``k = 0, ..., d // 2``, of every
filter (``scipy.fft.rfft(w, norm='ortho')``), as pairs of floats (real and
imaginary part; those of the real frequencies stay exactly 0, since their
velocity is exactly 0). The flow above is the exact flow of these
coordinates; the power ``g . dbeta/dt``, the squared norm of the
filters' velocity, counts each ``0 < k < d / 2`` twice (for ``k`` and
``d - k``).

The intercept, when the last input is the constant column, is a real channel
outside the convolution: ``b = prod_l c_l`` with one scalar factor per layer,
trained like one more real frequency (``d c_l / dt = g_b prod_{m != l} c_m``),
so the whole network stays homogeneous of degree ``L`` in its parameters.

Cost. One gradient evaluation costs one real FFT (of ``g``) and one inverse
(for ``beta``), ``O(d log d)``, and ``O(L d)`` products over the layers
(prefix and suffix products, so no division by a factor that may vanish);
the filters themselves are transformed only at the start and for the fitted
attributes. The stiff steps' data Jacobian asks for the velocities of ``k``
gradients and for ``d beta / d state`` times ``k`` directions, each in one
call (:meth:`ConvolutionalNetwork.velocities`,
:meth:`~ConvolutionalNetwork.coef_jacobian_product`): one real FFT of all
the columns and ``O(L d k)`` products. Where ``k`` is large, the steps take
the flow's Jacobian by channels instead
(:meth:`~ConvolutionalNetwork.jacobian_blocks`, in the real Fourier basis
of :meth:`~ConvolutionalNetwork.block_basis`; see
:mod:`sklearn_implicit._integrate.block_jacobian`): ``O(L^2 d)`` for the
network's part.

Antisymmetric pair. The predictor may be ``beta(A) - beta(B)`` for two
networks that start equal (``B`` sees ``-g``), held as the mean ``M`` and
half-difference ``H`` of their states (see :mod:`._pair`); frequency by
frequency ``beta^ = sum_l (prod_{m > l} A_m) 2 H_l (prod_{m < l} B_m)`` keeps
full relative precision when ``H`` is tiny against ``M`` (large ``alpha``).
"""

import numpy as np
from scipy import fft

from ._pair import halves, pair_error_scales

INITS = ("antisymmetric", "normal")


def random_filters(depth, n_features, random_state):
    """``random_state.standard_normal((depth, n_features)) / sqrt(n_features)``.

    Every filter entry has variance ``1 / d``, so every Fourier coefficient
    ``w^_k`` has ``E |w^_k|**2 = 1 / d`` (before the factor ``alpha``).
    """
    return random_state.standard_normal((depth, n_features)) / np.sqrt(n_features)


def initial_filters(init, alpha, depth, n_features, random_state):
    """The initial filters of every network, shape (n_networks, depth, d).

    ``init`` is ``'antisymmetric'`` (two copies of one random draw),
    ``'normal'`` (one random draw), an array of shape ``(depth, d)`` (two
    copies of it) or of shape ``(n_networks, depth, d)`` with ``n_networks``
    1 (one network) or 2 (the predictor is the first minus the second);
    arrays are multiplied by ``alpha``.
    """
    if isinstance(init, str):
        # (alpha applied below, as to a given array: the same draw passed as
        # init gives the same filters to the last bit)
        draw = random_filters(depth, n_features, random_state)
        filters = draw if init == "antisymmetric" else draw[None]
    else:
        filters = np.asarray(init, dtype=float)
    if filters.shape == (depth, n_features):
        filters = np.stack([filters, filters])
    if filters.ndim != 3 or filters.shape[0] not in (1, 2) or filters.shape[1:] != (
        depth, n_features
    ):
        raise ValueError(
            f"init must be 'antisymmetric', 'normal', or an array of the "
            f"filters, of shape (depth, n_features) = ({depth}, {n_features}) "
            f"or (n_networks, depth, n_features) with n_networks 1 or 2; got "
            f"an array of shape {filters.shape}."
        )
    if not np.all(np.isfinite(filters)):
        raise ValueError("init must be finite; the array has NaN or infinite entries.")
    return alpha * filters


class ConvolutionalNetwork:
    """Linear convolutional network, one network or an antisymmetric pair.

    Parameters
    ----------
    filters : ndarray of shape (n_networks, depth, d)
        Initial filters; ``n_networks = 2`` makes the predictor the first
        network minus the second (the antisymmetric pair), 1 the network.
    intercept : bool
        Whether the last coefficient is an intercept weight (one scalar factor
        per layer, outside the convolution) after the ``d`` convolved ones.
    factors : ndarray of shape (n_networks, depth), default=None
        Initial intercept factors. By default each starts at the RMS entry of
        its network's initial filter of that layer (``alpha / sqrt(d)`` in
        expectation for the random draws).
    """

    # The stiff steps' data Jacobian serves it up to DATA_RANK columns only,
    # batched or not (see krylov.has_data_jacobian): forming it at every
    # step (N k work for N states, in many passes) outweighs evaluations
    # this cheap. At 100 x 1000, depth 3, Radau steps with the data Jacobian
    # of batched columns took 1,741 and 2,175 evaluations to a loss of 1e-10
    # and 1e-100 against the Krylov-W steps' 2,996 and 6,852, but 1.6 and
    # 1.06 times their time (medians of three alternating pairs, one BLAS
    # thread). Beyond DATA_RANK the same matrix comes by blocks
    # (jacobian_blocks), at any rank.
    large_data_jacobian = False

    def __init__(self, filters, intercept=False, factors=None):
        filters = np.asarray(filters, dtype=float)
        self.n_networks, self.depth, self.n_features = filters.shape
        self.antisymmetric = self.n_networks == 2
        self.intercept = bool(intercept)
        d = self.n_features
        self.n_coef = d + self.intercept
        self._n_half = d // 2 + 1  # the frequencies 0, ..., d // 2
        self._shape = (self.n_networks, self.depth, self._n_half + self.intercept)
        # How many of the d frequencies (and the intercept) each channel
        # stands for: 2 where the conjugate partner d - k is another one.
        counts = np.ones(self._shape[-1])
        counts[1 : (d + 1) // 2] = 2.0
        self._counts = counts
        # the same for every float of a layer's channels (real, imaginary)
        self._float_counts = np.repeat(counts, 2)
        z = np.zeros(self._shape, complex)
        z[..., : self._n_half] = fft.rfft(filters, axis=-1, norm="ortho")
        if self.intercept:
            z[..., -1] = np.sqrt(np.mean(filters**2, axis=-1)) if factors is None else factors
        if self.antisymmetric:
            z = np.stack([(z[0] + z[1]) / 2, (z[0] - z[1]) / 2])
        self._start = z.view(float).ravel()

    def initial_state(self):
        return self._start.copy()

    # -- coordinates ------------------------------------------------------

    def _channels(self, state):
        """Complex channels of every layer, shape (n_networks, depth,
        n_channels), a view of ``state``: the half spectrum of the filter,
        then the intercept factor."""
        return np.ascontiguousarray(state).view(complex).reshape(self._shape)

    def _to_coef(self, spectrum):
        """End-to-end coefficients from the channels of ``beta`` (along the
        last axis: one vector, or one per row)."""
        beta = np.empty((*spectrum.shape[:-1], self.n_coef))
        beta[..., : self.n_features] = fft.irfft(
            spectrum[..., : self._n_half], n=self.n_features, axis=-1, norm="ortho"
        )
        if self.intercept:
            beta[..., -1] = spectrum[..., -1].real
        return beta

    def _from_gradient(self, g):
        """Channels of ``g`` (along the last axis: one vector, or one per row)."""
        if not self.intercept:
            return fft.rfft(g, axis=-1, norm="ortho")
        out = np.empty((*g.shape[:-1], self._shape[-1]), complex)
        out[..., :-1] = fft.rfft(g[..., :-1], axis=-1, norm="ortho")
        out[..., -1] = g[..., -1]
        return out

    def networks(self, state):
        """Channels of the network(s) the predictor is made of: ``(z,)`` or ``(A, B)``,
        each of shape (depth, n_channels)."""
        return _networks(self._channels(state))

    # -- the contract -----------------------------------------------------

    def spectrum(self, state):
        """Channels of ``beta``: ``beta^_k`` for ``k = 0, ..., d // 2``, then ``b``."""
        z = self._channels(state)
        if not self.antisymmetric:
            return np.prod(z[0], axis=0)
        (a, b), half = _networks(z), z[1]
        # sum_l A_L ... A_{l+1} (2 H_l) B_{l-1} ... B_1, summed from the
        # first layer: after layer l the sum holds the terms of layers <= l
        # with their products up to l
        total, b_before = 2.0 * half[0], b[0]
        for l in range(1, self.depth):
            total *= a[l]
            total += 2.0 * half[l] * b_before
            b_before = b_before * b[l]
        return total

    def coef(self, state):
        return self._to_coef(self.spectrum(state))

    def _partials(self, state):
        """``d beta^_k / d z_k`` for every channel ``z`` of the state, shape
        (n_networks, depth, n_channels): ``P_l = prod_{m != l} z_m``, and in
        the pair ``(P_A - P_B, P_A + P_B)`` for ``(M, H)`` (``beta(A) -
        beta(B)`` with ``A = M + H``, ``B = M - H``). The flow is ``conj`` of
        these times ``g^`` (halved in the pair, whose ``(M, H)`` move at half
        the rate of ``(A, B)``)."""
        z = self._channels(state)
        if not self.antisymmetric:
            return _others(z[0])[None]
        # A and B side by side along the channels, so that one pass of
        # contiguous products serves both (half the calls of one pass each)
        n_channels = self._shape[-1]
        pair = np.empty((self.depth, 2 * n_channels), complex)
        np.add(z[0], z[1], out=pair[:, :n_channels])
        np.subtract(z[0], z[1], out=pair[:, n_channels:])
        products = _others(pair)
        p_a, p_b = products[:, :n_channels], products[:, n_channels:]
        out = np.empty(self._shape, complex)
        np.subtract(p_a, p_b, out=out[0])
        np.add(p_a, p_b, out=out[1])
        return out

    def velocity(self, state, g):
        g_hat = self._from_gradient(g)
        if self.antisymmetric:
            # d(A, B)/dt = (g^ conj(P_A), -g^ conj(P_B)) and (M, H) = (A ± B) / 2
            g_hat *= 0.5
        rates = self._partials(state)
        np.conjugate(rates, out=rates)
        rates *= g_hat
        out = rates.view(float).ravel()
        # (max propagates NaN, and log(inf) = inf: both flag a trial state
        # whose velocity is not finite)
        size = np.abs(out).max(initial=0.0)
        if size == 0.0:
            return out, 0.0, -np.inf
        if not size < np.inf:
            return out, np.log(size), np.nan
        out /= size
        # power = the squared norm of the filters' velocity (Parseval, the
        # conjugate partners counted); in the pair |dA|^2 + |dB|^2 =
        # 2 (|dM|^2 + |dH|^2)
        squares = (out * out).reshape(-1, self._float_counts.size).sum(axis=0)
        log_power = np.log(self.n_networks * np.dot(squares, self._float_counts))
        return out, np.log(size), log_power + 2.0 * np.log(size)

    def velocities(self, state, G):
        """The velocities ``G g`` (linear in ``g``, not normalized) for the
        columns ``g`` of ``G`` (shape ``(n_coef, k)``), as the columns of a
        ``(state size, k)`` array: :meth:`velocity` for many gradients in one
        call (the columns of the stiff steps' data Jacobian, see
        :mod:`sklearn_implicit._integrate.krylov`): one real FFT of all the
        columns and one product with the channels' partials."""
        k = G.shape[1]
        g_hat = self._from_gradient(G.T)
        if self.antisymmetric:
            g_hat *= 0.5
        rates = np.conjugate(self._partials(state))
        # (columns first, so that the complex channels of each column are
        # the floats of its state velocity, real and imaginary interleaved)
        out = np.empty((k, *self._shape), complex)
        np.multiply(rates[None], g_hat[:, None, None, :], out=out)
        return out.view(float).reshape(k, -1).T

    def coef_jacobian_product(self, state, V):
        """``d coef / d state`` times the columns of ``V`` (shape ``(state
        size, k)``), exactly: frequency by frequency ``dbeta^ = sum_l P_l
        dz_l`` over the layers (and the pair's two halves, see
        :meth:`_partials`), then the inverse real FFT of all the columns at
        once.

        The velocity is not a multiple of the transpose of this map in the
        half-spectrum coordinates: ``J^T g`` counts each frequency ``0 < k <
        d / 2`` twice (for ``k`` and ``d - k``) where the velocity counts it
        once, so the network has no ``velocity_scale``.
        """
        k = V.shape[1]
        # (a copy: V may be the transpose of a C-ordered array, which this
        # product would otherwise overwrite)
        dz = np.array(V.T, dtype=float, order="C").view(complex).reshape(k, *self._shape)
        dz *= self._partials(state)
        return self._to_coef(dz.sum(axis=(1, 2))).T

    # -- the exact Jacobian of the flow (see _integrate.block_jacobian) -----

    def block_basis(self, Z):
        """The rows of the design ``Z`` (shape ``(n, n_coef)``, dense or
        sparse) in the real orthonormal Fourier basis of the coefficients,
        shape ``(n, 2, n_channels)``: ``sqrt(c_k)`` times the real and
        imaginary parts of each row's channels (``c_k`` the frequencies a
        channel stands for), so that ``Z beta`` is the sum over channels of
        the rows' and ``beta``'s coordinates (Parseval). The imaginary
        coordinates of the real channels are 0."""
        Z = Z.toarray() if hasattr(Z, "toarray") else np.asarray(Z, dtype=float)
        spectrum = self._from_gradient(Z)
        spectrum *= np.sqrt(self._counts)
        return np.stack([spectrum.real, spectrum.imag], axis=1)

    def jacobian_blocks(self, state, h):
        """The flow's tangent maps, channel by channel (one block of the
        state per channel: its real and imaginary parts in every layer and
        network, ``m = 4 depth`` floats for the pair, ``2 depth`` for one).

        ``h`` is a gradient in the coordinates of :meth:`block_basis`, shape
        ``(n_channels, 2)``. Returns ``index`` (the state's positions of each
        block, shape ``(n_channels, m)``), ``J`` (``d coef / d state`` in
        those coordinates, shape ``(n_channels, 2, m)``), ``omega`` (the
        velocity of a gradient ``g`` is ``omega_k J_k^T g_k``, block by
        block) and ``curvature`` (the derivative of the velocity of ``h``
        at fixed ``h``, shape ``(n_channels, m, m)``).

        In a channel, ``dbeta^ = sum_l P_l dz_l`` is complex-linear, and the
        velocity ``sigma h^ conj(P_l)`` (``sigma = 1/2`` in the pair, see
        :meth:`velocity`) is conjugate-linear in every other layer's ``z_m``:
        its derivative is ``sigma h^ conj(P_lm)``, with ``P_lm`` the product
        over the layers other than ``l`` and ``m``. The real ``2 x 2`` forms
        are ``[[a, -b], [b, a]]`` for ``x -> (a + ib) x`` and ``[[a, b], [b,
        -a]]`` for ``x -> (a + ib) conj(x)``.
        """
        n_net, depth, nc = self._shape
        n_layers = n_net * depth
        root = np.sqrt(self._counts)
        sigma = 0.5 if self.antisymmetric else 1.0
        # (channel, network and layer) of every partial
        partials = self._partials(state).reshape(n_layers, nc).T
        J = np.empty((nc, 2, n_layers, 2))
        re, im = partials.real * root[:, None], partials.imag * root[:, None]
        J[:, 0, :, 0], J[:, 0, :, 1], J[:, 1, :, 0], J[:, 1, :, 1] = re, -im, im, re
        J = J.reshape(nc, 2, 2 * n_layers)
        omega = sigma / self._counts
        h_hat = (h[:, 0] + 1j * h[:, 1]) / root
        # q[k, i, j]: the conjugate-linear coefficient of layer j in the
        # velocity of layer i (networks stacked, as in the state)
        q = np.zeros((nc, n_layers, n_layers), complex)
        for a_net, z in enumerate(self.networks(state)):
            for l in range(depth):
                others = _others(np.delete(z, l, axis=0))
                for j, m in enumerate(i for i in range(depth) if i != l):
                    term = sigma * h_hat * np.conj(others[j])
                    if not self.antisymmetric:
                        q[:, l, m] = term
                        continue
                    # B enters with -P_B, and d B / d H = -1 (see _partials)
                    sign = 1.0 if a_net == 0 else -1.0
                    q[:, l, m] += sign * term
                    q[:, l, depth + m] += term
                    q[:, depth + l, m] += term
                    q[:, depth + l, depth + m] += sign * term
        curvature = np.empty((nc, n_layers, 2, n_layers, 2))
        curvature[:, :, 0, :, 0], curvature[:, :, 0, :, 1] = q.real, q.imag
        curvature[:, :, 1, :, 0], curvature[:, :, 1, :, 1] = q.imag, -q.real
        curvature = curvature.reshape(nc, 2 * n_layers, 2 * n_layers)
        positions = np.arange(n_layers * nc * 2).reshape(n_layers, nc, 2)
        index = positions.transpose(1, 0, 2).reshape(nc, 2 * n_layers)
        return index, J, omega, curvature

    def error_scale(self, state, dstate):
        # One scale per layer: the RMS of its parameters (the filter's entries,
        # by Parseval, and the intercept factor), as for the dense layers.
        blocks = state.reshape(self.n_networks * self.depth, -1)
        rms = np.sqrt((blocks * blocks) @ self._float_counts / self.n_coef)
        if self.antisymmetric:
            rms = np.concatenate(pair_error_scales(*halves(rms)))
        return np.repeat(np.maximum(rms, 1e-300), blocks.shape[1])

    def diagnostics(self, state):
        """``'fourier_norm'``: the quasi-norm ``||U beta||_{2/L}`` over the full
        spectrum, the intercept weight counted as one more frequency.

        It is the norm whose max-margin problem the direction tends to on
        separable data (Gunasekar et al. 2018; for ``L = 2`` the l1 norm of
        the unitary spectrum).
        """
        p = 2.0 / self.depth
        total = np.dot(self._counts, np.abs(self.spectrum(state)) ** p)
        return {"fourier_norm": float(total ** (1.0 / p))}

    # -- fitted attributes --------------------------------------------------

    @classmethod
    def filters_of(cls, state, depth, n_features, intercept):
        """:meth:`filters` of a state, the number of networks read from its size."""
        n_channels = n_features // 2 + 1 + bool(intercept)
        n_networks = state.size // (2 * depth * n_channels)
        layout = cls(np.zeros((n_networks, depth, n_features)), intercept)
        return layout.filters(state)

    def filters(self, state):
        """The filters of every network, shape (n_networks, depth, d), and the
        intercept factors, shape (n_networks, depth) (None without intercept)."""
        z = np.stack(self.networks(state))
        filters = fft.irfft(z[..., : self._n_half], n=self.n_features, axis=-1, norm="ortho")
        return filters, (z[..., -1].real.copy() if self.intercept else None)


def _networks(channels):
    """The network, or the pair ``(A, B) = (M + H, M - H)``."""
    if channels.shape[0] == 1:
        return (channels[0],)
    mean, half = channels
    return mean + half, mean - half


def _others(z):
    """``prod_{m != l} z_m`` for every layer ``l``, from prefix and suffix
    products (no division by a factor that may vanish), shape of ``z``."""
    out = np.empty_like(z)
    out[0] = 1.0
    for l in range(1, len(z)):
        np.multiply(out[l - 1], z[l - 1], out=out[l])
    after = z[-1]
    for l in range(len(z) - 2, -1, -1):
        out[l] *= after
        after = after * z[l]
    return out
