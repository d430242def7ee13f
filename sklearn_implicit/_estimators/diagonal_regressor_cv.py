"""The diagonal linear network regressor with cross-validated scale and early stop."""

import numpy as np
from sklearn.utils.validation import validate_data

from ..utils._least_squares import row_space
from ..utils._validation import plain
from ._cv_path import (
    FlowCVMixin,
    check_grid_count,
    cv_parameter_constraints,
    user_alphas,
)
from ._docs import fill_docstring
from .diagonal_regressor import DiagonalLinearRegressor

# The default scales: alpha**depth from 10**_ALPHA_DECADES[0] to
# 10**_ALPHA_DECADES[1] times the size s of the minimum-l2-norm least-squares
# coefficients, the kernel limit, one decade apart. The potential Q_alpha is
# quadratic for coefficients far below alpha**depth and l1-like far above,
# and tends to the l1 norm only like 1/log(1/alpha): the range reaches
# further into the rich side. On 60 x 200 Gaussian data with a 5-sparse
# teacher and noise (depth 2, 5 folds), the best test R^2 over the targets
# was 0.98 at alpha**2 = 1e-8 s, 0.96 at 1e-4 s, 0.82 at 1e-2 s, and 0.16
# from s on (the kernel plateau).
_ALPHA_DECADES = (-6.0, 1.0)
# The default early stops: the excess of the training loss over the
# smallest one the folds allow, from 10**_EXCESS_DECADES[0] to
# 10**_EXCESS_DECADES[1] of its value at initialization, and the limit.
_EXCESS_DECADES = (-0.5, -4.0)


def _l2_scale(problems):
    """``max |beta|`` over the minimum-norm least-squares coefficients, in the data's units."""
    U, S, Vt = row_space(problems.X, problems.weights[0])
    root = np.sqrt(problems.weights[0])[:, None]
    beta = Vt.T @ ((U.T @ (root * problems.Y)) / S[:, None])
    x_exp, y_exp = problems.exponents
    return float(np.max(np.abs(np.ldexp(beta, y_exp - x_exp)), initial=0.0))


@fill_docstring
class DiagonalLinearRegressorCV(FlowCVMixin, DiagonalLinearRegressor):
    """DiagonalLinearRegressor with the scale and early stop chosen by cross-validation.

    For each training fold and each scale in the grid ``alphas``, one gradient
    flow of a :class:`DiagonalLinearRegressor` is followed and stopped
    exactly at every training loss of ``target_losses`` on its way down (0:
    its limit); the model at each stop is scored on the held-out fold. The
    grid point with the best mean score (the first in the order of ``alphas``
    then ``target_losses`` on ties, as
    :class:`~sklearn.model_selection.GridSearchCV`) is then refitted on all
    the data. The scores are those of ``GridSearchCV`` over
    ``DiagonalLinearRegressor`` on the same grid and folds, at the cost of
    one fit to the smallest target per fold and scale.

    The early stop is given as the training loss (the weighted mean squared
    error over two), the unit of ``DiagonalLinearRegressor(target_loss=...)``:
    the grid then means the same on every fold, and the chosen value is the
    parameter of the refit. The flow's limit (``0``) is one grid point:
    early stopping is the flow's regularization, and the limit, an
    interpolant when there are more features than samples, is what
    ``alpha`` alone selects.

    The trajectories are those of the exact flow; the point estimator's
    discrete ``dynamics`` are cross-validated as whole fits, by
    :class:`~sklearn.model_selection.GridSearchCV`.

    Read more in the :ref:`User Guide <cv_estimators>`.

    Parameters
    ----------
    alphas : int or array-like of shape (n_alphas,) or (n_alphas, n_features), default=8
        The initialization scales. An int ``n`` asks for ``n`` scales
        log-spaced with ``alpha**depth`` from ``1e-6 s`` to ``10 s``, where
        ``s`` is the largest absolute coefficient of the minimum-norm
        least-squares solution on all the data (the flow's limit in the kernel
        regime): the regime is set by ``alpha**depth`` against the size of
        the coefficients (see the User Guide). A 2-D array gives per-feature
        scales, one row per grid point.

    target_losses : int or array-like of shape (n_targets,), default=8
        The training losses ``sum_i s_i (f(x_i) - y_i)**2 / (2 sum_i s_i)``
        at which the flows are stopped and scored; 0 is the limit of the flow.
        An int ``n`` asks for the limit and ``n - 1`` losses ``L_min + f
        (L_0 - L_min)`` with ``f`` log-spaced from ``10**-0.5`` to ``1e-4``,
        where ``L_0`` is the smallest loss at initialization and ``L_min``
        the largest least-squares loss over the training folds and all the
        data (so that every target is an early stop on every fold). A
        positive loss must lie below the loss at initialization of every
        training fold; one at or below a fold's least-squares loss is that
        fold's limit.

    depth : int, default=2
        Depth ``D >= 2`` of the diagonal network.

    cv : int, cross-validation generator or iterable, default=None
        The splits, as in :func:`~sklearn.model_selection.check_cv`: None for
        5-fold, an int for that many folds, a splitter, or an iterable of
        ``(train, test)`` index arrays.

    scoring : str or callable, default=None
        The score of a model on a test fold, as in
        :class:`~sklearn.model_selection.GridSearchCV`: a scorer name (see
        :func:`sklearn.metrics.get_scorer_names`) or a callable
        ``scorer(estimator, X, y)``. None means R^2.

    n_jobs : int, default=None
        Number of flows (folds times scales times targets of ``y``) run in
        parallel with joblib, and of the targets of the refit. ``None`` means
        1 unless in a :func:`joblib.parallel_backend` context. Each flow runs
        under the package's BLAS thread setting, so results do not depend on
        ``n_jobs``.

    refit : bool, default=True
        Refit a :class:`DiagonalLinearRegressor` at the chosen ``alpha_`` and
        ``target_loss_`` on all the data (``best_estimator_``). With False,
        ``coef_`` and ``intercept_`` are the mean over the training folds of
        their models at that grid point.

    fit_intercept : bool, default=True
        Fit a free intercept by centering (see
        :class:`DiagonalLinearRegressor`).

    tol : float, default=1e-6
        Local error tolerance of the integrator and the convergence test of
        the limit (see :class:`DiagonalLinearRegressor`).

    max_iter : int, default=10_000
        Maximum number of integrator steps of each trajectory (it passes
        every target of the grid) and of each refitted target.

    solver : {'auto', 'explicit', 'stiff'}, default='auto'
        Step method of the integrator (see :class:`DiagonalLinearRegressor`).

    verbose : int, default=0
        Print one line per decade of loss and flow when > 0.

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_features,)
        The chosen scale (a row of ``alphas_`` for per-feature scales).

    target_loss_ : float
        The chosen training loss (0.0: the limit of the flow).

    alphas_ : ndarray of shape (n_alphas,) or (n_alphas, n_features)
        The grid of scales (the default rule's, or ``alphas``).

    target_losses_ : ndarray of shape (n_targets,)
        The grid of training losses, in the order of ``target_losses``.

    scores_ : ndarray of shape (n_folds, n_alphas, n_targets)
        The score of each grid point on each test fold.

    %(cv_results_attributes)s

    best_estimator_ : DiagonalLinearRegressor
        The refitted regressor (with ``refit=True``), with its ``history_``,
        ``converged_`` and the other attributes of a fit.

    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients of the chosen model.

    intercept_ : float or ndarray of shape (n_targets,)
        Its intercept.

    n_splits_ : int
        Number of cross-validation splits.

    n_iter_ : int
        Largest number of integrator steps of a trajectory (of the folds and
        of the refit).

    n_grad_evals_ : ndarray of shape (n_folds, n_alphas)
        Gradient evaluations of the trajectories of each fold and scale (all
        targets of ``y`` together), excluding the refit.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    DiagonalLinearRegressor : One point of the grid.
    sklearn.linear_model.LassoCV : The same idea along a path of explicit
        l1 penalties.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit import DiagonalLinearRegressorCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 60))
    >>> y = X[:, 0] - X[:, 1] + 0.1 * rng.standard_normal(40)
    >>> reg = DiagonalLinearRegressorCV(
    ...     alphas=[0.01, 1.0], target_losses=[0.1, 0.01, 0.0], cv=3
    ... ).fit(X, y)
    >>> reg.scores_.shape
    (3, 2, 3)
    >>> reg.alpha_, reg.target_loss_
    (0.01, 0.0)
    >>> np.round(reg.coef_[:3], 2)
    array([ 0.99, -0.93,  0.  ])
    """

    # (random_state only draws SGD's mini-batches, which the path does not run)
    _parameter_constraints: dict = cv_parameter_constraints(
        DiagonalLinearRegressor._parameter_constraints, also_dropped=("random_state",)
    )
    _point_class = DiagonalLinearRegressor
    _default_scoring = "r2"

    def __init__(
        self,
        alphas=8,
        target_losses=8,
        depth=2,
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
        fit_intercept=True,
        tol=1e-6,
        max_iter=10_000,
        solver="auto",
        verbose=0,
    ):
        self.alphas = alphas
        self.target_losses = target_losses
        self.depth = depth
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.verbose = verbose

    def _validate_cv_data(self, X, y):
        return validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=True,
            multi_output=True,
        )

    def _alpha_grid(self, full):
        grid = user_alphas(self, full.n_features)
        if grid is not None:
            return grid
        s = _l2_scale(full)
        if s == 0:
            s = 1.0  # y is constant: every scale gives the same (zero) model
        exponents = np.linspace(*_ALPHA_DECADES, self.alphas)
        return (s * 10.0**exponents) ** (1.0 / self.depth)

    def _target_grid(self, full, fold_problems):
        problems = [*fold_problems, full]
        # Losses in the data's units (the problems hold them at unit scale).
        initial = min(np.ldexp(p.initial_loss, 2 * p.exponents[1]).min() for p in problems)
        floor = max(np.ldexp(p.min_loss, 2 * p.exponents[1]).max() for p in problems)
        grid = check_grid_count(self.target_losses, "target_losses")
        if grid is None:
            if self.target_losses == 1 or not floor < initial:
                return np.zeros(1)
            fractions = np.logspace(*_EXCESS_DECADES, self.target_losses - 1)
            return np.append(floor + fractions * (initial - floor), 0.0)
        if grid.ndim != 1 or not np.all(np.isfinite(grid) & (grid >= 0)):
            raise ValueError(
                "target_losses must be a 1-D array of non-negative finite losses "
                f"(0: the limit of the flow); got {self.target_losses!r}."
            )
        if np.any(grid >= initial):
            raise ValueError(
                "every positive entry of target_losses must lie below the loss at "
                f"initialization of every training fold, at least {initial:.6g}; got "
                f"{plain(grid.max())!r}."
            )
        return grid
