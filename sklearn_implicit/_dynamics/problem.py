"""One training problem run by discrete dynamics: the entry point.

:func:`fit_one_discrete` takes what
:func:`~sklearn_implicit._integrate.problem.fit_one_flow` takes (a network,
a loss, the design ``Z``, sample weights, a warm start, the target losses,
``tol``, ``max_iter``, ``verbose``, a label and the BLAS thread count) plus
the parameters of the dynamics, and returns a result with the flow's fields
(:class:`~sklearn_implicit._dynamics.descent.DiscreteResult`).
:func:`fit_one` dispatches between the two, so that an estimator can offer
both through one ``dynamics`` parameter.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from .._config import blas_limit
from .._integrate.problem import _aligned, fit_one_flow
from ..utils._logspace import log_of_targets
from ..utils._validation import plain
from .batches import EpochBatches
from .descent import descend
from .objective import Objective
from .parameters import parameter_view
from .rules import GEOMETRIES, SCHEDULES

# The estimators' ``dynamics`` parameter: the exact flow, or a discrete one.
DYNAMICS = ("flow", *GEOMETRIES)

# What each dynamics is called in messages.
DYNAMICS_NAMES = {
    "flow": "Gradient flow",
    "gd": "Gradient descent",
    "sgd": "Stochastic gradient descent",
    "sign": "Sign descent",
    "coordinate": "Coordinate descent",
}

# ``batch_size='auto'``: min(AUTO_BATCH_SIZE, n_samples), as in
# scikit-learn's MLPClassifier.
AUTO_BATCH_SIZE = 200

# ``max_iter=None``: this many steps. A step costs one gradient evaluation
# (the flow's steps about six to twelve), and a constant step needs many:
# on separable data the loss falls like 1 / (learning_rate * steps).
DEFAULT_MAX_STEPS = 100_000


def fit_one(network, loss, Z, sample_weight, start, target_loss, tol, max_iter,
            verbose, label, blas_threads, solver="explicit", *, dynamics="flow",
            learning_rate=None, learning_rate_schedule="constant", batch_size="auto",
            random_state=None):
    """The exact flow (``dynamics='flow'``) or discrete dynamics, one problem.

    The positional parameters are those of
    :func:`~sklearn_implicit._integrate.problem.fit_one_flow`; ``solver``
    applies to the flow only, the keyword parameters to discrete dynamics
    only (see :func:`fit_one_discrete`).
    """
    if dynamics == "flow":
        return fit_one_flow(network, loss, Z, sample_weight, start, target_loss, tol,
                            max_iter, verbose, label, blas_threads, solver)
    return fit_one_discrete(
        network, loss, Z, sample_weight, start, target_loss, tol, max_iter, verbose,
        label, blas_threads, dynamics=dynamics, learning_rate=learning_rate,
        learning_rate_schedule=learning_rate_schedule, batch_size=batch_size,
        random_state=random_state,
    )


def fit_one_discrete(network, loss, Z, sample_weight, start, target_loss, tol, max_iter,
                     verbose, label, blas_threads, *, dynamics="gd", learning_rate,
                     learning_rate_schedule="constant", batch_size="auto",
                     random_state=None):
    """Train one problem by discrete dynamics on the raw parameters.

    Parameters
    ----------
    network : Network or parameter view
        A :class:`~sklearn_implicit._networks.DiagonalNetwork`, a
        :class:`~sklearn_implicit._networks.DenseNetwork` or a parameter view
        (e.g. :class:`~sklearn_implicit._dynamics.parameters.LinearParameters`).
    loss : loss object
    Z : ndarray or sparse matrix of shape (n_samples, n_coef)
    sample_weight : ndarray of shape (n_samples,)
    start : FlowState or None
        A previous result's ``last`` (its ``state`` holds raw parameters) to
        continue from, or None to start at the initialization.
    target_loss : float or array-like of float
        A positive target, or a decreasing array of targets (the state at
        each is kept in ``result.stops``), or 0: run until converged (for a
        loss whose infimum is attained, the squared loss).
    tol : float
        Convergence tolerance with ``target_loss=0``.
    max_iter : int or None
        Maximum number of steps (None: ``DEFAULT_MAX_STEPS``).
    verbose : int
    label : str
    blas_threads : int or 'auto'
    dynamics : {'gd', 'sgd', 'sign', 'coordinate'}, default='gd'
    learning_rate : float
        The step size ``eta`` (positive).
    learning_rate_schedule : {'constant', 'normalized'}, default='constant'
    batch_size : int or 'auto', default='auto'
        Mini-batch size of ``'sgd'`` (``'auto'``: ``min(200, n_samples)``);
        a size of at least ``n_samples`` is full-batch gradient descent.
        Ignored by the other dynamics.
    random_state : int, RandomState instance or None, default=None
        The mini-batch shuffles of ``'sgd'``.

    Returns
    -------
    DiscreteResult
    """
    if dynamics not in GEOMETRIES:
        raise ValueError(f"dynamics must be one of {tuple(GEOMETRIES)}; got {dynamics!r}.")
    if learning_rate_schedule not in SCHEDULES:
        raise ValueError(
            f"learning_rate_schedule must be one of {SCHEDULES}; got "
            f"{learning_rate_schedule!r}."
        )
    if not (isinstance(learning_rate, Real) and 0 < learning_rate < np.inf):
        raise ValueError(
            f"learning_rate must be a positive finite float; got {learning_rate!r}."
        )
    view = parameter_view(network)
    if max_iter is None:
        max_iter = DEFAULT_MAX_STEPS
    Z = _aligned(Z)
    batches = None
    if dynamics == "sgd":
        batch_size = _check_batch_size(batch_size, Z.shape[0])
        if batch_size < Z.shape[0]:
            batches = EpochBatches(Z.shape[0], batch_size, check_random_state(random_state))
        # (a batch of every sample is the full gradient: one product fewer
        # per step than a check of the full loss at every epoch's end)
    log_targets = log_of_targets(target_loss)
    with blas_limit(blas_threads):
        objective = Objective(view, loss, Z, sample_weight)
        if start is None:
            params, log_time = view.initial_params(), -np.inf
        else:
            params, log_time = start.state.copy(), start.log_time
        initial = objective.point(params)
        if np.isnan(initial.log_loss) or initial.log_loss == np.inf:
            raise ValueError(
                f"The loss at the starting point is not finite "
                f"({type(network).__name__}): the initial coefficients overflow. "
                "Use a smaller alpha."
            )
        # (a loss of exactly 0 at the start is its own limit)
        reachable = log_targets[0] < initial.log_loss or initial.log_loss == -np.inf
        if start is None and not reachable:
            problem = f" {label.strip()}" if label else ""
            raise ValueError(
                f"target_loss must be below the loss at initialization, "
                f"{np.exp(initial.log_loss):.6g} for loss={loss.name!r}{problem}; "
                f"got target_loss={plain(np.atleast_1d(target_loss)[0])!r}."
            )
        return descend(
            objective, params, log_time, list(log_targets), dynamics=dynamics,
            learning_rate=float(learning_rate), schedule=learning_rate_schedule,
            batches=batches, tol=tol, max_iter=max_iter, verbose=verbose, label=label,
        )


def _check_batch_size(batch_size, n_samples):
    if batch_size == "auto":
        return min(AUTO_BATCH_SIZE, n_samples)
    if isinstance(batch_size, Integral) and not isinstance(batch_size, bool) and batch_size >= 1:
        return min(int(batch_size), n_samples)
    raise ValueError(f"batch_size must be 'auto' or a positive int; got {batch_size!r}.")

