"""The integrator: gradient flow in the log-loss clock, to any target loss.

Nothing here knows about scikit-learn. The pieces, in the order data flows
through them:

- :mod:`.problem`: the entry point, one problem (network, loss, data,
  targets) integrated under a fixed BLAS thread count; ``SOLVERS``.
- :mod:`.flow`: :class:`LinearFlow`, the velocity of a network on a loss in
  the clock ``tau = -log L``; the contract with the networks is
  :class:`~sklearn_implicit._networks.Network`.
- :mod:`.driver`: :func:`integrate`, the step-size control, exact stops,
  stall detection and history (:mod:`.history`).
- step methods: :mod:`.explicit` (DOP853), :mod:`.rosenbrock` (RODAS4, with
  :mod:`.jacobian`, :mod:`.shifted_solvers` and the cost model
  :mod:`.stiff_cost`), :mod:`.radau` (Radau IIA of order 5, for tall
  designs), :mod:`.krylov` (Rosenbrock-W, for networks without the Jacobian
  pieces), :mod:`.stiff_choice` (which implicit method serves a flow) and
  :mod:`.auto` (the switch between explicit and implicit).
- :mod:`.physical_time`: the flow time carried along the clock.
- :mod:`.batch`: many flows on one design matrix, their products stacked.
"""

from .driver import integrate
from .flow import FlowResult, FlowState, LinearFlow
from .problem import SOLVERS, fit_flow_batch, fit_one_flow

__all__ = [
    "FlowResult",
    "FlowState",
    "LinearFlow",
    "SOLVERS",
    "fit_flow_batch",
    "fit_one_flow",
    "integrate",
]
