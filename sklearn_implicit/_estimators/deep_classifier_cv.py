"""The fully connected deep linear network classifier with cross-validated
scale and target."""

import numpy as np

from ._classifier_cv import FlowClassifierCVMixin
from ._cv_path import cv_parameter_constraints
from ._docs import fill_docstring
from .deep_classifier import DeepLinearClassifier


@fill_docstring
class DeepLinearClassifierCV(FlowClassifierCVMixin, DeepLinearClassifier):
    """DeepLinearClassifier with the scale and target loss chosen by cross-validation.

    For each training fold and each scale in the grid ``alphas``, one gradient
    flow of a :class:`DeepLinearClassifier` is followed and stopped exactly at
    every loss of ``target_losses`` on its way down; the model at each stop
    is scored on the held-out fold, and the grid point with the best mean
    score is refitted on all the data, exactly as
    :class:`DiagonalLinearClassifierCV` does for the diagonal network. With an
    int ``random_state`` the scores are those of
    :class:`~sklearn.model_selection.GridSearchCV` over
    ``DeepLinearClassifier(random_state=...)`` on the same grid and folds: every
    flow of a training fold starts from the random layers that a grid-search
    fit on that fold draws (the same draw for every scale, scaled by
    ``alpha``), at the cost of one fit to the smallest target per fold and
    scale.

    The trajectories are those of the exact flow; the point estimator's
    discrete ``dynamics`` are cross-validated as whole fits, by
    :class:`~sklearn.model_selection.GridSearchCV`.

    Read more in the :ref:`User Guide <cv_estimators>`.

    Parameters
    ----------
    alphas : int or array-like of shape (n_alphas,), default=8
        The initialization scales. An int ``n`` asks for ``n`` scales
        log-spaced so that ``alpha**depth`` runs from ``1e-2 s`` to ``1e3 s``,
        where ``s`` is the Euclidean norm of the coefficients (intercept
        weight included) that put every training margin at 1: the
        minimum-norm solution of ``z_i (x_i . b + b_0) = 1`` when one exists,
        else the hard-margin SVM on separable data, else the least-squares
        solution; the geometric mean over the one-vs-rest problems. The
        end-to-end coefficients of each network of the initialization have a
        norm of about ``alpha**depth``, so the grid runs from layers that
        move far from their initialization (the rich regime) to layers that
        barely move (the kernel regime); see the User Guide for the
        measurement.

    target_losses : int or array-like of shape (n_targets,), default=8
        The training losses at which the flows are stopped and scored, as in
        :class:`DiagonalLinearClassifierCV` (an int ``n``: ``n`` losses
        ``10**-e`` with ``e`` geometric from 2 to 100, rounded).

    depth : int, default=2
        Number of layers ``D >= 2``.

    width : int or tuple of int, default=32
        Width of every hidden layer, or the ``depth - 1`` hidden widths.

    init : {'antisymmetric', 'normal', 'orthogonal'}, default='antisymmetric'
        The random layers of unit scale (see :class:`DeepLinearClassifier`).

    loss : {'exponential', 'logistic'}, default='exponential'
        Per-sample loss of the margin ``m``: ``exp(-m)`` or ``log(1 + exp(-m))``.

    cv : int, cross-validation generator or iterable, default=None
        The splits, as in :func:`~sklearn.model_selection.check_cv`: None for
        5-fold stratified, an int for that many stratified folds, a splitter,
        or an iterable of ``(train, test)`` index arrays.

    scoring : str or callable, default=None
        The score of a model on a test fold, as in
        :class:`~sklearn.model_selection.GridSearchCV`. None means accuracy.

    n_jobs : int, default=None
        Number of flows (folds times scales times one-vs-rest problems) run
        in parallel with joblib, and of the one-vs-rest problems of the refit.
        Results do not depend on ``n_jobs``.

    refit : bool, default=True
        Refit a :class:`DeepLinearClassifier` at the chosen ``alpha_`` and
        ``target_loss_`` on all the data (``best_estimator_``). With False,
        ``coef_`` and ``intercept_`` are the mean over the training folds of
        their end-to-end models at that grid point.

    fit_intercept : bool, default=True
        Append a constant input of value ``intercept_scaling`` (see
        :class:`DeepLinearClassifier`).

    intercept_scaling : float, default=1.0
        Value of the constant input; ``intercept_ = intercept_scaling * w``.

    tol : float, default=1e-6
        Local error tolerance of the integrator.

    max_iter : int or None, default=None
        Maximum number of integrator steps of each trajectory (it passes
        every target of the grid) and of each refitted problem; None as in
        :class:`DeepLinearClassifier`.

    random_state : int, RandomState instance or None, default=None
        Draws the initial layers: one draw per training fold (and one for the
        refit), shared by the scales. An int makes the fit reproducible and
        equal to a grid search's; a ``RandomState`` instance is read as a
        clone of the estimator would read it (each fold starts from a copy).

    solver : {'auto', 'explicit', 'stiff'}, default='auto'
        Step method of the integrator (see :class:`DeepLinearClassifier`).

    verbose : int, default=0
        Print one line per decade of loss and flow when > 0.

    Attributes
    ----------
    alpha_ : float
        The chosen scale.

    target_loss_ : float
        The chosen target loss.

    alphas_ : ndarray of shape (n_alphas,)
        The grid of scales (the default rule's, or ``alphas``).

    target_losses_ : ndarray of shape (n_targets,)
        The grid of target losses.

    %(cv_score_attributes)s

    best_estimator_ : DeepLinearClassifier
        The refitted classifier (with ``refit=True``), with its layers
        ``coefs_``, ``history_`` and the other attributes of a fit.

    %(cv_fit_attributes)s

    See Also
    --------
    DeepLinearClassifier : One point of the grid.
    DiagonalLinearClassifierCV : The same for the diagonal network.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit import DeepLinearClassifierCV
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((40, 4))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> clf = DeepLinearClassifierCV(
    ...     alphas=[0.3, 3.0], target_losses=[1e-1, 1e-2], width=4, cv=2,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> clf.scores_.shape
    (2, 2, 2)
    >>> clf.best_estimator_.coefs_[0].shape
    (1, 5, 8)
    """

    _parameter_constraints: dict = cv_parameter_constraints(
        DeepLinearClassifier._parameter_constraints
    )
    _point_class = DeepLinearClassifier
    _per_feature_alphas = False

    def __init__(
        self,
        alphas=8,
        target_losses=8,
        depth=2,
        width=32,
        init="antisymmetric",
        loss="exponential",
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
        fit_intercept=True,
        intercept_scaling=1.0,
        tol=1e-6,
        max_iter=None,
        random_state=None,
        solver="auto",
        verbose=0,
    ):
        self.alphas = alphas
        self.target_losses = target_losses
        self.depth = depth
        self.width = width
        self.init = init
        self.loss = loss
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.solver = solver
        self.verbose = verbose

    def _solution_size(self, coef):
        # Each network's end-to-end coefficients start with a Euclidean norm
        # of about alpha**depth, in no preferred direction.
        return np.linalg.norm(coef)

    def _validate_cv_data(self, X, y):
        # the widths are checked before any fitted attribute is set
        self._hidden_widths()
        return super()._validate_cv_data(X, y)
