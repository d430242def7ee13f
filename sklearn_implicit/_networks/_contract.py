"""The contract between a network parametrization and the integrator."""

from typing import Protocol

import numpy as np


class Network(Protocol):
    """What the integrator needs from a parametrization of ``beta``.

    The training loss depends on the state only through ``beta = coef(state)``.
    Gradient flow on the parameters moves ``beta`` with velocity ``K g`` where
    ``g = -grad_beta L`` and ``K`` is the network's (state-dependent) tangent
    kernel; the loss then decreases at the rate ``g . K g`` (the *power*).

    Some methods are optional: ``diagnostics(state) -> dict`` adds scalars
    to every history record (the dense network's layer alignment), and
    ``log_rates_with_slopes(state)`` gives the diagonal pieces of the flow's
    Jacobian that the stiff solver needs (see :mod:`sklearn_implicit._integrate.jacobian`);
    a network whose tangent maps are block-diagonal in an orthonormal basis
    of ``beta``'s space gives them by blocks instead, with
    ``block_basis(Z)`` (the design's rows in that basis) and
    ``jacobian_blocks(state, h)`` (per block, ``d coef / d state``, the
    factor of the velocity and the derivative of the velocity of ``h``; see
    :mod:`sklearn_implicit._integrate.block_jacobian`: the convolutional
    network, whose blocks are its Fourier channels); a network with neither
    gets the matrix-free stiff steps of
    :mod:`sklearn_implicit._integrate.krylov`, which use two more where the
    network has them: ``velocities(state, G)`` (the velocities of the
    columns of ``G``, linear and not normalized, in one call, as a new
    array that the caller may modify) and
    ``coef_jacobian_product(state, V)`` (``d coef / d state`` times the
    columns of ``V``, exactly); without them they call ``velocity`` per
    column and take difference quotients of ``coef``. A network whose state
    follows plain gradient flow in its own coordinates, up to a constant
    factor (the velocity is ``velocity_scale * (d coef / d state)^T g``),
    says so with the attribute ``velocity_scale``: the stiff steps then
    apply ``d coef / d state`` from the velocities they already hold,
    without a call of the network. With the batched forms the data
    Jacobian serves up to ``DATA_RANK_BATCHED`` columns instead of
    ``DATA_RANK``; a network whose evaluations are too cheap for that to
    pay sets ``large_data_jacobian = False``.

    Attributes
    ----------
    n_coef : int
        Length of ``beta``.
    """

    n_coef: int

    def initial_state(self) -> np.ndarray:
        """Flat state at initialization (a new array)."""

    def coef(self, state: np.ndarray) -> np.ndarray:
        """End-to-end coefficients ``beta`` of shape (n_coef,)."""

    def velocity(
        self, state: np.ndarray, g: np.ndarray
    ) -> tuple[np.ndarray, float, float]:
        """State velocity under gradient flow, and ``log(g . dbeta/dt)``.

        ``g`` is the negative gradient of the loss with respect to ``beta``,
        rescaled by the caller so that ``max |g| = 1`` (the velocity is linear
        in ``g`` and the power quadratic, so the caller restores the scale in
        log-space).

        Returns ``(direction, log_speed, log_power)``: the velocity is
        ``exp(log_speed) * direction`` with ``max |direction| <= 1``, so that
        the caller's rescaling is one multiplication that cannot overflow;
        ``direction`` may be ``g`` itself or a new array, which the caller
        owns. ``log_speed`` is NaN or ``+inf`` where the velocity is not
        finite (a trial state too far out). ``log_power`` is ``-inf`` when
        ``g . K g = 0``.
        """

    def error_scale(self, state: np.ndarray, dstate: np.ndarray) -> np.ndarray | float:
        """Per-component size against which local errors are measured.

        The integrator accepts a step when ``max |error / error_scale| <= tol``.
        ``dstate`` is the flow's velocity at ``state`` (``d state/d tau``, an
        evaluation's ``dstate``): which components grow and how fast, where
        the scale depends on it.
        """
