"""The diagonal linear network classifier with cross-validated scale and target."""

from ._classifier_cv import FlowClassifierCVMixin
from ._cv_path import cv_parameter_constraints
from ._docs import fill_docstring
from .diagonal_classifier import DiagonalLinearClassifier


@fill_docstring
class DiagonalLinearClassifierCV(FlowClassifierCVMixin, DiagonalLinearClassifier):
    """DiagonalLinearClassifier with the scale and target loss chosen by cross-validation.

    For each training fold and each scale in the grid ``alphas``, one gradient
    flow of a :class:`DiagonalLinearClassifier` is followed and stopped
    exactly at every loss of ``target_losses`` on its way down; the model at
    each stop is scored on the held-out fold. The grid point with the best
    mean score (the first in the order of ``alphas`` then ``target_losses`` on
    ties, as :class:`~sklearn.model_selection.GridSearchCV`) is then refitted
    on all the data. The scores are those of ``GridSearchCV`` over
    ``DiagonalLinearClassifier`` on the same grid and folds, at the cost of
    one fit to the smallest target per fold and scale instead of one fit per
    grid point.

    The trajectories are those of the exact flow; the point estimator's
    discrete ``dynamics`` are cross-validated as whole fits, by
    :class:`~sklearn.model_selection.GridSearchCV`.

    Read more in the :ref:`User Guide <cv_estimators>`.

    Parameters
    ----------
    alphas : int or array-like of shape (n_alphas,) or (n_alphas, n_features), default=8
        The initialization scales. An int ``n`` asks for ``n`` scales
        log-spaced around the data's kernel-to-rich boundary:
        ``alpha**depth`` from ``1e-2 s`` to ``1e3 s``, where ``s`` is the size
        (largest absolute coefficient, intercept weight included) of the
        coefficients that put every training margin at 1: the minimum-norm
        solution of ``z_i (x_i . b + b_0) = 1`` for all ``i`` when one exists,
        else the hard-margin SVM on separable data, else the least-squares
        solution of those equations; the geometric mean over the one-vs-rest
        problems. The regime is set by ``alpha**depth`` against the size of
        the coefficients, about ``s`` times the smallest margin (see the User
        Guide). A 2-D array gives per-feature scales, one row per grid point.

    target_losses : int or array-like of shape (n_targets,), default=8
        The training losses at which the flows are stopped and scored. An int
        ``n`` asks for ``n`` losses ``10**-e`` with ``e`` geometric from 2 to
        100, rounded to integers (``1e-2, 1e-3, 1e-6, 1e-11, 1e-19, 1e-33,
        1e-57, 1e-100`` for 8). Each must lie below the loss at initialization
        (1 for the exponential loss, log 2 for the logistic loss).

    depth : int, default=2
        Depth ``D >= 2`` of the diagonal network.

    loss : {'exponential', 'logistic'}, default='exponential'
        Per-sample loss of the margin ``m``: ``exp(-m)`` or ``log(1 + exp(-m))``.

    cv : int, cross-validation generator or iterable, default=None
        The splits, as in :func:`~sklearn.model_selection.check_cv`: None for
        5-fold stratified, an int for that many stratified folds, a splitter,
        or an iterable of ``(train, test)`` index arrays.

    scoring : str or callable, default=None
        The score of a model on a test fold, as in
        :class:`~sklearn.model_selection.GridSearchCV`: a scorer name (see
        :func:`sklearn.metrics.get_scorer_names`) or a callable
        ``scorer(estimator, X, y)``. None means accuracy.

    n_jobs : int, default=None
        Number of flows (folds times scales times one-vs-rest problems) run
        in parallel with joblib, and of the one-vs-rest problems of the refit.
        ``None`` means 1 unless in a :func:`joblib.parallel_backend` context.
        Each flow runs under the package's BLAS thread setting, so results do
        not depend on ``n_jobs``.

    refit : bool, default=True
        Refit a :class:`DiagonalLinearClassifier` at the chosen ``alpha_`` and
        ``target_loss_`` on all the data (``best_estimator_``). With False,
        ``coef_`` and ``intercept_`` are the mean over the training folds of
        their models at that grid point (every training fold must then hold
        every class).

    fit_intercept : bool, default=True
        Train an intercept as one more diagonal weight on a constant column
        (see :class:`DiagonalLinearClassifier`).

    intercept_scaling : float, default=1.0
        Value of the constant column; ``intercept_ = intercept_scaling * w``.

    tol : float, default=1e-6
        Local error tolerance of the integrator (see
        :class:`DiagonalLinearClassifier`).

    max_iter : int, default=10_000
        Maximum number of integrator steps of each trajectory (it passes
        every target of the grid) and of each refitted problem.

    solver : {'auto', 'explicit', 'stiff'}, default='auto'
        Step method of the integrator (see :class:`DiagonalLinearClassifier`).

    verbose : int, default=0
        Print one line per decade of loss and flow when > 0.

    Attributes
    ----------
    alpha_ : float or ndarray of shape (n_features,)
        The chosen scale (a row of ``alphas_`` for per-feature scales).

    target_loss_ : float
        The chosen target loss.

    alphas_ : ndarray of shape (n_alphas,) or (n_alphas, n_features)
        The grid of scales (the default rule's, or ``alphas``).

    target_losses_ : ndarray of shape (n_targets,)
        The grid of target losses, in the order of ``target_losses``.

    %(cv_score_attributes)s

    best_estimator_ : DiagonalLinearClassifier
        The refitted classifier (with ``refit=True``), with its ``history_``,
        ``loss_`` and the other attributes of a fit.

    %(cv_fit_attributes)s

    See Also
    --------
    DiagonalLinearClassifier : One point of the grid.
    sklearn_implicit.analysis.implicit_bias_path : The coefficients over a
        grid, on one training set.
    sklearn.linear_model.LogisticRegressionCV : The same idea along a path
        of regularization strengths.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_implicit import DiagonalLinearClassifierCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X, y = StandardScaler().fit_transform(X[:150]), y[:150]
    >>> clf = DiagonalLinearClassifierCV(
    ...     alphas=[0.1, 1.0, 10.0], target_losses=[1e-2, 1e-4, 1e-8], cv=3
    ... ).fit(X, y)
    >>> clf.scores_.shape
    (3, 3, 3)
    >>> clf.alpha_, clf.target_loss_
    (10.0, 0.01)
    >>> round(clf.best_score_, 3)
    0.933
    """

    # (random_state only draws SGD's mini-batches, which the path does not run)
    _parameter_constraints: dict = cv_parameter_constraints(
        DiagonalLinearClassifier._parameter_constraints, also_dropped=("random_state",)
    )
    _point_class = DiagonalLinearClassifier

    def __init__(
        self,
        alphas=8,
        target_losses=8,
        depth=2,
        loss="exponential",
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
        fit_intercept=True,
        intercept_scaling=1.0,
        tol=1e-6,
        max_iter=10_000,
        solver="auto",
        verbose=0,
    ):
        self.alphas = alphas
        self.target_losses = target_losses
        self.depth = depth
        self.loss = loss
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.verbose = verbose
