"""Parameter views: the raw weights that discrete training dynamics move.

Gradient flow does not depend on how a network's weights are written down,
so the networks of :mod:`sklearn_implicit._networks` integrate whatever
state suits the flow best (the diagonal network integrates
``rho = log(u / v)``, using the flow's conservation law ``u v = alpha**2``).
A discrete step does depend on it: gradient descent on ``(u, v)`` does not
conserve ``u v`` (which is how a finite step changes the implicit bias), and
sign or coordinate descent depend on the coordinates themselves. So the
discrete dynamics move the *raw* parameters of the model as a practitioner
would train them, through a parameter view:

``initial_params()``
    The stored parameters at initialization (a new flat array).
``coef(params)``
    The end-to-end coefficients ``beta``.
``gradient(params, g)``
    ``(direction, log_size)``: the negative gradient of the loss with
    respect to the raw parameters is ``exp(log_g + log_size) * direction``
    when ``-grad_beta L = exp(log_g) * g`` (``g`` scaled to ``max |g| = 1``
    by the caller, as for a network's ``velocity``).
``move(params, delta)``
    The stored parameters after the raw parameters move by ``delta`` (a new
    array).

The views live here, beside the dynamics, rather than as methods of the
networks: the flow has no use for them, each is a few lines built from a
network's public description (its ``alpha`` and depth, or its layers), and
the network contract stays the one the integrator needs.
"""

import math

import numpy as np
from scipy import fft

from .._networks import ConvolutionalNetwork, DenseNetwork, DiagonalNetwork

_LOG2 = math.log(2.0)

__all__ = [
    "ConvolutionalParameters",
    "DenseParameters",
    "DiagonalParameters",
    "LinearParameters",
    "parameter_view",
]


class LinearParameters:
    """The linear model ``beta = w`` itself, started at ``w = 0``.

    The reference for the geometry of a step: steepest descent on ``w`` with
    respect to a norm tends in direction to that norm's max-margin separator
    (Gunasekar et al., 2018).

    Parameters
    ----------
    n_coef : int
        Length of ``beta``.
    """

    def __init__(self, n_coef):
        self.n_coef = int(n_coef)

    def initial_params(self):
        return np.zeros(self.n_coef)

    def coef(self, params):
        return params

    def gradient(self, params, g):
        return g, 0.0

    def move(self, params, delta):
        return params + delta


class DiagonalParameters:
    """The diagonal network ``beta = u**D - v**D``, ``u = v = alpha`` at start.

    The stored parameters are ``[u, v]`` (length ``2 n_coef``). With
    ``g = -grad_beta L`` the negative gradient is ``D u**(D-1) g`` for ``u``
    and ``-D v**(D-1) g`` for ``v``.

    Parameters
    ----------
    alpha : ndarray of shape (n_coef,)
        Positive initialization scales.
    depth : int
        Depth ``D >= 2``.
    """

    def __init__(self, alpha, depth):
        self.alpha = np.asarray(alpha, dtype=float)
        self.depth = int(depth)
        self.n_coef = self.alpha.shape[0]

    @classmethod
    def from_network(cls, network):
        """The raw parameters of a :class:`~sklearn_implicit._networks.DiagonalNetwork`."""
        return cls(np.exp(network.log_alpha), network.depth)

    def initial_params(self):
        return np.concatenate([self.alpha, self.alpha])

    def split(self, params):
        """Views ``(u, v)`` of the two weight vectors."""
        return params[: self.n_coef], params[self.n_coef :]

    def coef(self, params):
        u, v = self.split(params)
        if self.depth == 2:
            # (u - v)(u + v): no cancellation of the squares when u ~ v
            # (large alpha, small beta) beyond the rounding of u and v
            return (u - v) * (u + v)
        return u**self.depth - v**self.depth

    def gradient(self, params, g):
        u, v = self.split(params)
        out = np.empty_like(params)
        du, dv = self.split(out)
        if self.depth == 2:
            np.multiply(u, g, out=du)
            np.multiply(v, g, out=dv)
            np.negative(dv, out=dv)
            return out, _LOG2
        power = self.depth - 1
        np.multiply(u**power, g, out=du)
        np.multiply(v**power, -g, out=dv)
        return out, math.log(self.depth)

    def move(self, params, delta):
        return params + delta

    def effective_alpha(self, params):
        """``sqrt(u v)`` per feature (depth 2): the scale whose flow passes here.

        Gradient flow conserves ``u v = alpha**2``; a discrete step does not.
        For depth 2 the point ``(u, v)`` is where the flow from the
        initialization ``sqrt(u v)`` would stand with the same ratio ``u / v``
        (see :func:`~sklearn_implicit._dynamics.theory.effective_initialization`).
        """
        if self.depth != 2:
            raise ValueError(
                f"effective_alpha is defined for depth 2 (the conserved "
                f"product u v); got depth={self.depth}."
            )
        u, v = self.split(params)
        return np.sqrt(u * v)


class _NetworkState:
    """A view that stores a network's own state (the flow's coordinates).

    What the subclasses share: the network starts, reads ``beta`` and
    writes its diagnostics; they map the state to and from the raw weights.
    """

    def __init__(self, network):
        self.network = network
        self.n_coef = network.n_coef

    def initial_params(self):
        return self.network.initial_state()

    def coef(self, params):
        return self.network.coef(params)

    def diagnostics(self, params):
        return self.network.diagnostics(params)


class DenseParameters(_NetworkState):
    """The layers of a :class:`~sklearn_implicit._networks.DenseNetwork`.

    The stored parameters are the network's own state. For a plain network
    these are the layer matrices, and the network's velocity is the negative
    gradient with respect to them. For the antisymmetric pair the state is
    the mean ``M`` and half-difference ``H`` of the two networks' layers
    ``A = M + H`` and ``B = M - H`` (which keeps ``beta`` accurate at large
    ``alpha``); the raw parameters are ``A`` and ``B``: the network's velocity
    is ``(dM/dt, dH/dt)`` under gradient flow on ``(A, B)``, so the raw
    negative gradient is ``(dM + dH, dM - dH)``, and a raw move ``(a, b)``
    moves ``M`` by ``(a + b) / 2`` and ``H`` by ``(a - b) / 2``.

    Parameters
    ----------
    network : DenseNetwork
    """

    def gradient(self, params, g):
        direction, log_speed, _ = self.network.velocity(params, g)
        if not self.network.antisymmetric:
            return direction, log_speed
        mean, half = np.split(direction, 2)
        return np.concatenate([mean + half, mean - half]), log_speed

    def move(self, params, delta):
        if not self.network.antisymmetric:
            return params + delta
        a, b = np.split(delta, 2)
        return params + 0.5 * np.concatenate([a + b, a - b])


class ConvolutionalParameters(_NetworkState):
    """The filters of a :class:`~sklearn_implicit._networks.ConvolutionalNetwork`.

    The stored parameters are the network's own state: the half spectra of
    the filters and the intercept factors (complex channels as pairs of
    floats), for the antisymmetric pair as the mean ``M`` and half-difference
    ``H`` of the two networks. The raw parameters are what a practitioner
    trains: the real filters ``w_l`` in ``R^d`` and the intercept factors of
    every network. The state is a linear function of them (``w^ = U w``, the
    unitary DFT, halved by conjugate symmetry), and the network's velocity is
    the gradient flow of the filters written in that basis, so the raw
    negative gradient is its inverse transform (``irfft``, which drops the
    imaginary parts that the real frequencies hold as exact zeros), and a raw
    move is transformed forward (``rfft``). For the pair, as for
    :class:`DenseParameters`, the raw gradient of ``(A, B)`` is
    ``(dM + dH, dM - dH)`` and a raw move ``(a, b)`` moves ``M`` by
    ``(a + b) / 2`` and ``H`` by ``(a - b) / 2``.

    A gradient step is the same in either basis (the basis change commutes
    with the step); sign and coordinate descent are not, and take the real
    filters' coordinates.

    Parameters
    ----------
    network : ConvolutionalNetwork
    """

    def __init__(self, network):
        super().__init__(network)
        self._d = network.n_features
        self._intercept = network.intercept
        self._n_half = self._d // 2 + 1  # the frequencies 0, ..., d // 2
        # raw layout: per network and layer, the d filter entries, then the
        # intercept factor
        self._raw_shape = (network.n_networks, network.depth, self._d + self._intercept)

    def _to_raw(self, state_vector):
        # (the network's channels of (A, B), or of the one network)
        z = np.stack(self.network.networks(state_vector))
        raw = np.empty(self._raw_shape)
        raw[..., : self._d] = fft.irfft(z[..., : self._n_half], n=self._d, axis=-1,
                                        norm="ortho")
        if self._intercept:
            raw[..., -1] = z[..., -1].real
        return raw.ravel()

    def _to_state(self, raw_vector):
        raw = raw_vector.reshape(self._raw_shape)
        z = np.empty(raw.shape[:-1] + (self._n_half + self._intercept,), complex)
        z[..., : self._n_half] = fft.rfft(raw[..., : self._d], axis=-1, norm="ortho")
        if self._intercept:
            z[..., -1] = raw[..., -1]
        if self.network.antisymmetric:
            z = 0.5 * np.stack([z[0] + z[1], z[0] - z[1]])
        return z.view(float).ravel()

    def gradient(self, params, g):
        direction, log_speed, _ = self.network.velocity(params, g)
        return self._to_raw(direction), log_speed

    def move(self, params, delta):
        return params + self._to_state(delta)


def parameter_view(model):
    """The parameter view of a network (a view is returned as it is).

    Parameters
    ----------
    model : DiagonalNetwork, DenseNetwork, ConvolutionalNetwork or parameter view

    Returns
    -------
    view : LinearParameters, DiagonalParameters, DenseParameters or \
            ConvolutionalParameters
    """
    if isinstance(model, DiagonalNetwork):
        return DiagonalParameters.from_network(model)
    if isinstance(model, DenseNetwork):
        return DenseParameters(model)
    if isinstance(model, ConvolutionalNetwork):
        return ConvolutionalParameters(model)
    if all(hasattr(model, name) for name in ("initial_params", "gradient", "move")):
        return model
    raise TypeError(
        f"Discrete training dynamics need the raw parameters of the model; "
        f"{type(model).__name__} has no parameter view (see "
        "sklearn_implicit._dynamics.parameters)."
    )
