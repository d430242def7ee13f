"""One training problem, integrated: the integrator's entry point.

An estimator (or :func:`~sklearn_implicit.implicit_bias_path`) prepares a
problem, a network, a loss, a design matrix ``Z`` and sample weights, and
asks for the trajectory's point at one or more target losses:
:func:`fit_one_flow` for one problem, :func:`fit_flow_batch` for several
networks on the same data. ``solver`` names the step method (:data:`SOLVERS`).
"""

import numpy as np
import scipy.sparse as sp

from .._config import blas_limit
from ..utils._logspace import log_of_targets
from ..utils._validation import plain
from .auto import AutoStepper
from .batch import FlowBatch
from .driver import integrate
from .flow import FlowState, LinearFlow
from .rosenbrock import Rodas4
from .stiff_choice import stiff_stepper

# The step methods behind the estimators' ``solver`` parameter (None: the
# explicit method, integrate's default).
SOLVERS = {"explicit": None, "stiff": Rodas4, "auto": AutoStepper}

# The smallest tol at which steps can still pass the error test: at 1e-15
# fits of every estimator were measured to run to max_iter near their
# initial loss, at 1e-14 they reach their targets.
MIN_TOL = 1e-14

# max_iter=None: this many steps at tol = BUDGET_TOL, and up to
# PLATEAU_MAX_ITER in all while the flow is in plateaus of the loss (see
# integrate). A depth-4 network from alpha = 0.01 takes 3,477, 5,714 and
# 11,860 steps to its limit at tol = 1e-6, 1e-7 and 1e-8
# (DiagonalLinearRegressor on 5 x 10 data), and a 40 x 200 classifier 1,098
# and 4,269 steps to a loss of 1e-5 at 1e-6 and 1e-8, more than 10,000 at
# 1e-10: most of them in plateaus. Both budgets grow with tighter tol like
# the steps of an order-4 method, tol**(-1/4) (see default_max_iter).
DEFAULT_MAX_ITER = 10_000
PLATEAU_MAX_ITER = 100_000
BUDGET_TOL = 1e-6


def default_max_iter(tol):
    """The budget of ``max_iter=None`` at this tol: ``(steps, steps in all
    with the plateau allowance)``.

    The steps of the stiff method (order 4) to a given point grow like
    ``tol**(-1/4)`` (the explicit method's, order 8, more slowly), and so
    does the budget below ``BUDGET_TOL``: tol = 1e-10 allows ten times the
    steps of the default tol. The 5 x 10 depth-4 regression above runs out
    of 10,000 steps at tol = 1e-9 (tests/test_status.py).
    """
    scale = max(1.0, (BUDGET_TOL / tol) ** 0.25)
    return int(round(DEFAULT_MAX_ITER * scale)), int(round(PLATEAU_MAX_ITER * scale))


def fit_one_flow(network, loss, Z, sample_weight, start, target_loss, tol, max_iter,
                  verbose, label, blas_threads, solver="explicit"):
    """Integrate one problem; module level so joblib can ship it.

    ``target_loss = 0`` follows the flow until it has converged (a loss whose
    minimum is 0, see :func:`~sklearn_implicit._integrate.driver.integrate`).
    ``max_iter=None`` allows the steps of :func:`default_max_iter`, more
    while the flow is in plateaus. A decreasing
    array of targets records the state at each (``result.stops``) and ends at
    the last one. ``solver`` names the step method (see :data:`SOLVERS`).
    """
    Z = _aligned(Z)
    # The whole problem, initial loss included, runs under one BLAS thread
    # count so that its last bits do not depend on n_jobs or the backend.
    with blas_limit(blas_threads):
        flow = LinearFlow(network, loss, Z, sample_weight)
        return integrate_problem(flow, start, target_loss, tol, max_iter, verbose,
                                  label, solver)


def fit_flow_batch(networks, loss, Z, sample_weight, target_loss, tol, max_iter,
                    verbose, labels, blas_threads, solver="explicit"):
    """Integrate one problem per network on the same data, as one batch.

    The products with ``Z`` of all the flows are stacked into matrix-matrix
    products (see :mod:`sklearn_implicit._integrate.batch`); each flow is otherwise
    integrated exactly as by :func:`fit_one_flow`. Returns one result per
    network, in order.
    """
    Z = _aligned(Z)
    batch = FlowBatch(Z)
    flows = [batch.flow(network, loss, sample_weight) for network in networks]
    with blas_limit(blas_threads):
        return batch.run(flows, lambda flow, k: integrate_problem(
            flow, None, target_loss, tol, max_iter, verbose, labels[k], solver
        ))


def _aligned(Z):
    if sp.issparse(Z):
        return Z
    # Arrays shipped by Dask can arrive unaligned; numpy then skips BLAS and
    # sums in another order (different last bits).
    return np.require(Z, requirements=["A"])


def integrate_problem(flow, start, target_loss, tol, max_iter, verbose, label, solver):
    """Check the target against the start and integrate (see :func:`fit_one_flow`).

    The steppers keep state, so each problem gets a new one.
    """
    log_targets = log_of_targets(target_loss)
    log_target = log_targets[0]
    network = flow.network
    if not tol >= MIN_TOL:
        raise ValueError(
            f"tol={plain(tol)!r} is below what float64 arithmetic can deliver: "
            "the local error of a step cannot be controlled below the rounding "
            f"of the state (steps are then rejected until max_iter). Use tol >= "
            f"{MIN_TOL:g}; 1e-10 to 1e-12 already give tight references."
        )
    stepper = SOLVERS[solver]
    if stepper is Rodas4:
        stepper = stiff_stepper(flow, tol)
    else:
        stepper = None if stepper is None else stepper(tol=tol)
    if start is None:
        state = network.initial_state()
        # A network may start at beta != 0 (random layers): the clock starts
        # at the actual initial loss of this problem.
        with np.errstate(all="ignore"):
            log_loss = flow.log_loss(flow.predictions(state)[1])
        # (-inf is a loss of exactly 0: nothing to fit, handled below)
        if not log_loss < np.inf:
            raise ValueError(
                f"The loss at initialization is not finite: the initial "
                f"coefficients of the {type(network).__name__} overflow "
                f"(alpha**depth is beyond the floating-point range). Use a "
                f"smaller alpha."
            )
        if log_target > -np.inf and not log_target < log_loss:
            problem = f" {label.strip()}" if label else ""
            raise ValueError(
                f"target_loss must be below the loss at initialization, "
                f"{np.exp(log_loss):.6g} for loss={flow.loss.name!r}{problem}; "
                f"got target_loss={plain(np.atleast_1d(target_loss)[0])!r}."
            )
        start = FlowState(state, -log_loss, -np.inf)
    plateau_iter = 0
    if max_iter is None:
        max_iter, total = default_max_iter(tol)
        plateau_iter = total - max_iter
    return integrate(
        flow, start, list(log_targets), tol=tol, max_iter=max_iter,
        plateau_iter=plateau_iter, verbose=verbose, label=label, stepper=stepper,
    )
