r"""The implicit-bias path: coefficients over a grid of scales and training losses.

Which separator gradient flow returns depends on the initialization scale
:math:`\alpha` and on how far training goes (the target loss). One
trajectory per :math:`\alpha` passes through every target, so a grid of
:math:`A` scales by :math:`T` targets costs about :math:`A` fits, not
:math:`A T`: the integrator stops exactly at each requested loss on its way
down.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import Bunch
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_X_y

from .._config import flow_blas_threads
from .._integrate import SOLVERS, fit_flow_batch, fit_one_flow
from .._losses import LOSSES
from .._networks import DiagonalNetwork
from ..utils._design import add_intercept_column, signed_rows
from ..utils._logspace import LN10
from ..utils._validation import check_alpha, check_class_labels, check_weights, plain
from .margins import _p_norm

__all__ = ["implicit_bias_path"]

# batch_size='auto': batch from this many scales on dense designs of at least
# this many entries (n_samples * n_features), in batches of at most this many
# scales. benchmarks/RESULTS.md (case path) times one batch against one by
# one: batching is slower at 100 x 1000, about even near 300 x 3000 and
# several times faster at 1000 x 10000; on small data the hand-over between
# trajectories costs more than the stacked products save.
_AUTO_MIN_ALPHAS = 8
_AUTO_MIN_SIZE = 1_000_000
_AUTO_MAX_BATCH = 64


def _check_alphas(alphas, n_features):
    """``(A, n_features)`` array of validated scales from ``(A,)`` or ``(A, d)``."""
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim == 0:
        alphas = alphas[np.newaxis]
    if alphas.ndim not in (1, 2) or alphas.shape[0] == 0:
        raise ValueError(
            "alphas must be a non-empty 1-D array of positive scales, or a 2-D "
            "array of shape (n_alphas, n_features) of per-feature scales; got "
            f"shape {alphas.shape}."
        )
    try:
        return np.array([check_alpha(a, n_features) for a in alphas])
    except ValueError as exc:
        raise ValueError(f"Invalid entry of alphas: {exc}") from None


def _check_targets(target_losses, initial_loss, loss):
    targets = np.asarray(target_losses, dtype=float)
    if targets.ndim == 0:
        targets = targets[np.newaxis]
    if targets.ndim != 1 or targets.shape[0] == 0:
        raise ValueError(
            f"target_losses must be a non-empty 1-D array; got shape {targets.shape}."
        )
    if not np.all((targets > 0) & (targets < initial_loss)):
        raise ValueError(
            "every entry of target_losses must lie in (0, loss at initialization)"
            f" = (0, {initial_loss:.6g}) for loss={loss!r}; got min="
            f"{plain(targets.min())!r}, max={plain(targets.max())!r}."
        )
    return targets


def _decreasing_stops(targets):
    """The distinct ``targets`` in decreasing order (the stops of one
    trajectory), and the index of each target among them."""
    stops, where = np.unique(targets, return_inverse=True)
    return stops[::-1], len(stops) - 1 - where.ravel()


def _stop_coefs(network, result, n_stops, fill):
    """The coefficients at each of ``n_stops`` stops of one trajectory.

    Shape ``(n_stops, network.n_coef)``; the rows of the stops that the flow
    did not reach (it stalled or ran out of steps) hold ``fill``: NaN, or
    the end point ``result.coef``.
    """
    coef = np.empty((n_stops, network.n_coef))
    coef[:] = fill
    for t, stop in enumerate(result.stops):
        coef[t] = network.coef(stop.state)
    return coef


def _trajectories(Z, loss, sample_weight, alphas, depth, stops, tol, max_iter,
                  verbose, n_jobs, solver, batch_size):
    """One flow per row of ``alphas`` through the decreasing losses ``stops``.

    Returns the networks and the :class:`~sklearn_implicit._integrate.flow.FlowResult`
    of each. ``batch_size`` consecutive scales are integrated as one batch
    (their products with ``Z`` stacked, see :mod:`sklearn_implicit._integrate.batch`);
    batches, or single flows when ``batch_size == 1``, run under joblib.
    """
    networks = [DiagonalNetwork(alpha, depth) for alpha in alphas]
    blas_threads = flow_blas_threads(n_jobs)
    labels = [f"[alpha {k}] " for k in range(len(alphas))]
    if batch_size == 1:
        results = Parallel(n_jobs=n_jobs)(
            delayed(fit_one_flow)(
                network, loss, Z, sample_weight, None, stops, tol, max_iter, verbose,
                label, blas_threads, solver,
            )
            for network, label in zip(networks, labels)
        )
        return networks, results
    # Batches as equal as possible, fixed by batch_size alone: results do not
    # depend on n_jobs.
    n_batches = -(-len(alphas) // batch_size)
    bounds = np.linspace(0, len(alphas), n_batches + 1).round().astype(int)
    batches = Parallel(n_jobs=n_jobs)(
        delayed(fit_flow_batch)(
            networks[lo:hi], loss, Z, sample_weight, stops, tol, max_iter, verbose,
            labels[lo:hi], blas_threads, solver,
        )
        for lo, hi in zip(bounds[:-1], bounds[1:])
    )
    return networks, [result for batch in batches for result in batch]


def _check_batch_size(batch_size, n_alphas, X):
    """The batch size to use: ``batch_size``, or the measured rule for 'auto'."""
    if batch_size == "auto":
        n_samples, n_features = X.shape
        if (n_alphas < _AUTO_MIN_ALPHAS or sp.issparse(X)
                or n_samples * n_features < _AUTO_MIN_SIZE):
            return 1
        return _AUTO_MAX_BATCH
    if not (isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool)
            and batch_size >= 1):
        raise ValueError(
            f"batch_size must be a positive integer or 'auto'; got {batch_size!r}."
        )
    return int(batch_size)


def implicit_bias_path(
    X,
    y,
    alphas,
    target_losses,
    *,
    depth=2,
    loss="exponential",
    fit_intercept=False,
    intercept_scaling=1.0,
    sample_weight=None,
    tol=1e-6,
    max_iter=None,
    n_jobs=None,
    verbose=0,
    solver="auto",
    batch_size="auto",
):
    r"""Coefficients of diagonal networks for every (alpha, target loss) pair.

    For each initialization scale in ``alphas`` the gradient flow of a
    diagonal network (as in
    :class:`~sklearn_implicit.DiagonalLinearClassifier`) is followed once,
    and its state is recorded exactly at every loss in ``target_losses``.
    Entry ``[a, t]`` of the result equals a classifier fitted with
    ``alpha=alphas[a]`` and ``target_loss=target_losses[t]`` (same ``tol``),
    at the cost of one fit per scale.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,)
        Binary labels; ``classes[1]`` (the larger label) is the positive
        class, as in the estimators.
    alphas : array-like of shape (n_alphas,) or (n_alphas, n_features)
        Initialization scales: one positive float per trajectory, or one
        per-feature scale vector per row.
    target_losses : array-like of shape (n_targets,)
        Training losses at which the coefficients are recorded, in any order
        (results follow this order); each in ``(0, initial loss)``.
    depth : int, default=2
        Depth :math:`D \ge 2` of the diagonal network.
    loss : {'exponential', 'logistic'}, default='exponential'
        Per-sample loss of the margin.
    fit_intercept : bool, default=False
        Train an intercept as one more diagonal weight on a constant column
        of value ``intercept_scaling``, with scale ``mean(alpha)``.
    intercept_scaling : float, default=1.0
        Value of the constant column.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights of the samples in the (weighted mean) loss.
    tol : float, default=1e-6
        Local error tolerance of the integrator (as in the estimators).
    max_iter : int or None, default=None
        Maximum number of integrator steps per trajectory. None: 10,000
        steps, and up to 100,000 in all (at tol=1e-6; times (1e-6 / tol)**(1/4) at a tighter tol) while the flow is in a plateau of
        the loss. An int is a hard bound.
    n_jobs : int, default=None
        Number of trajectories run in parallel with joblib (``None``: 1
        unless in a :func:`joblib.parallel_backend` context). Each flow runs
        under the package's BLAS thread setting (one thread by default), so
        results do not depend on ``n_jobs``.
    verbose : int, default=0
        Print one line per decade of loss and trajectory when > 0.
    solver : {'auto', 'explicit', 'stiff'}, default='auto'
        Step method of the integrator (as in the estimators).
    batch_size : int or 'auto', default='auto'
        Number of consecutive scales integrated together as one batch: their
        products with ``X`` are stacked into matrix-matrix products, which
        cost much less per trajectory than matrix-vector products on large
        data. Each trajectory keeps its own steps, so entries agree with
        unbatched ones to the tolerance (not to the last bit). ``1``
        integrates every scale on its own. ``'auto'`` batches (up to 64 scales
        per batch) from 8 scales on dense data with at least 1,000,000
        entries, where the benchmarks measured a gain, and uses 1 otherwise. Batches (or
        single trajectories) are distributed over ``n_jobs`` workers; the
        batches depend on ``batch_size`` only, so results do not depend on
        ``n_jobs``.

        .. versionadded:: 0.1

    Returns
    -------
    path : :class:`~sklearn.utils.Bunch`
        With attributes (``A = n_alphas``, ``T = n_targets``)

        - ``alphas``: ndarray of shape (A,) or (A, n_features), as given;
        - ``target_losses``: ndarray of shape (T,), as given;
        - ``coef``: ndarray of shape (A, T, n_features);
        - ``intercept``: ndarray of shape (A, T) (zeros without intercept);
        - ``log10_loss``: ndarray of shape (A, T), the loss reached;
        - ``min_margin``: ndarray of shape (A, T),
          :math:`\min_i z_i (x_i^\top \text{coef} + \text{intercept})`;
        - ``l1_margin``, ``l2_margin``: ndarrays of shape (A, T), the
          minimum margin over :math:`\|\text{coef}\|_1` and
          :math:`\|\text{coef}\|_2` (intercept
          not in the norm, as in
          :func:`~sklearn_implicit.analysis.margins.normalized_margin`);
        - ``n_grad_evals``: ndarray of shape (A,), the gradient evaluations
          of each trajectory;
        - ``status``: ndarray of shape (A,) of str: ``'target'`` when every
          target was reached, else ``'stalled'`` or ``'stationary'`` (data
          not separable), ``'max_iter'``, or ``'plateau'`` (``max_iter``
          used up in a plateau of the loss, on separable data); entries past
          the point reached are NaN and a ConvergenceWarning is issued;
        - ``classes``: the two class labels.

    Raises
    ------
    ValueError
        If ``y`` does not have exactly two classes or a parameter is invalid.

    See Also
    --------
    sklearn_implicit.DiagonalLinearClassifier : One point of the path.
    sklearn_implicit.analysis.theory.q_minimizer : The theory's prediction.
    sklearn_implicit.analysis.plotting.ImplicitBiasDisplay : Plots of the path.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit.analysis import implicit_bias_path
    >>> X = np.array([[2.0, 1.0], [1.0, -1.0], [-2.0, 0.5], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 0, 0])
    >>> path = implicit_bias_path(X, y, alphas=[0.01, 1.0, 100.0],
    ...                           target_losses=[1e-2, 1e-10, 1e-100])
    >>> path.coef.shape
    (3, 3, 2)
    >>> np.round(path.log10_loss[0], 6)
    array([  -2.,  -10., -100.])
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}; got {loss!r}.")
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}; got {solver!r}.")
    if not (isinstance(depth, (int, np.integer)) and not isinstance(depth, bool)
            and depth >= 2):
        raise ValueError(f"depth must be an integer >= 2; got {depth!r}.")
    if not intercept_scaling > 0:
        raise ValueError(f"intercept_scaling must be positive; got {intercept_scaling!r}.")
    X, y = check_X_y(X, y, accept_sparse="csr", dtype=np.float64)
    check_class_labels(y)
    X, sample_weight, y = check_weights(X, sample_weight, y)
    classes = np.unique(y)
    if classes.shape[0] != 2:
        raise ValueError(
            "implicit_bias_path supports binary y only (one-vs-rest problems can "
            "be passed one at a time); got "
            f"{classes.shape[0]} class{'es' if classes.shape[0] != 1 else ''}."
        )
    n_features = X.shape[1]
    alpha_rows = _check_alphas(alphas, n_features)
    batch_size = _check_batch_size(batch_size, alpha_rows.shape[0], X)
    loss_obj = LOSSES[loss]()
    targets = _check_targets(
        target_losses, np.exp(loss_obj.initial_log_mean(sample_weight)), loss
    )
    if fit_intercept:
        alpha_rows = np.column_stack([alpha_rows, alpha_rows.mean(axis=1)])
        X = add_intercept_column(X, intercept_scaling)
    Z = signed_rows(X, np.where(y == classes[1], 1.0, -1.0))

    # One decreasing list of distinct stops; results are mapped back.
    stops, where = _decreasing_stops(targets)
    networks, results = _trajectories(
        Z, loss_obj, sample_weight, alpha_rows, depth, stops, tol, max_iter,
        verbose, n_jobs, solver, batch_size,
    )

    n_alphas, n_coef = alpha_rows.shape
    coef = np.full((n_alphas, len(stops), n_coef), np.nan)
    log10_loss = np.full((n_alphas, len(stops)), np.nan)
    for a, (network, result) in enumerate(zip(networks, results)):
        coef[a] = _stop_coefs(network, result, len(stops), np.nan)
        log10_loss[a, :len(result.stops)] = [-stop.tau / LN10 for stop in result.stops]
    coef, log10_loss = coef[:, where], log10_loss[:, where]
    margins = np.asarray(Z @ coef.reshape(-1, n_coef).T).T.reshape(
        n_alphas, len(targets), -1
    )
    min_margin = margins.min(axis=-1)
    if fit_intercept:
        intercept = intercept_scaling * coef[..., n_features]
        coef = coef[..., :n_features]
    else:
        intercept = np.zeros(coef.shape[:2])
    with np.errstate(divide="ignore", invalid="ignore"):
        l1_margin = min_margin / _p_norm(coef, 1.0)
        l2_margin = min_margin / _p_norm(coef, 2.0)

    status = np.array([r.status for r in results])
    bad = np.flatnonzero(status != "target")
    if bad.size:
        warnings.warn(
            f"{bad.size} of {n_alphas} trajectories stopped before the smallest "
            f"target loss ({str(status[bad[0]])!r} at alphas[{bad[0]}], after reaching "
            f"10**{results[bad[0]].log_loss / LN10:.4f}); their remaining entries "
            "are NaN. For 'max_iter' increase max_iter or tol; 'plateau' is "
            "max_iter used up in a plateau of the loss (small alpha): increase "
            "max_iter; for 'stalled' or 'stationary' the data are not linearly "
            "separable: keep the targets above the reachable loss.",
            ConvergenceWarning,
        )
    return Bunch(
        alphas=np.asarray(alphas, dtype=float),
        target_losses=targets,
        coef=coef,
        intercept=intercept,
        log10_loss=log10_loss,
        min_margin=min_margin,
        l1_margin=l1_margin,
        l2_margin=l2_margin,
        n_grad_evals=np.array([r.n_evals for r in results]),
        status=status,
        classes=classes,
    )
