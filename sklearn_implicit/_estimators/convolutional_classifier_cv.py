"""The linear convolutional network classifier with cross-validated scale
and target."""

import numpy as np
from scipy import fft

from ._classifier_cv import FlowClassifierCVMixin
from ._cv_path import cv_parameter_constraints
from ._docs import fill_docstring
from .convolutional_classifier import ConvolutionalLinearClassifier


@fill_docstring
class ConvolutionalLinearClassifierCV(FlowClassifierCVMixin, ConvolutionalLinearClassifier):
    """ConvolutionalLinearClassifier with the scale and target loss chosen by cross-validation.

    For each training fold and each scale in the grid ``alphas``, one gradient
    flow of a :class:`ConvolutionalLinearClassifier` is followed and stopped
    exactly at every loss of ``target_losses`` on its way down; the model at
    each stop is scored on the held-out fold, and the grid point with the best
    mean score is refitted on all the data, exactly as
    :class:`DiagonalLinearClassifierCV` does for the diagonal network. With an
    int ``random_state`` the scores are those of
    :class:`~sklearn.model_selection.GridSearchCV` over
    ``ConvolutionalLinearClassifier(random_state=...)`` on the same grid and
    folds: every flow of a training fold starts from the filters that a
    grid-search fit on that fold draws (the same draw for every scale, scaled
    by ``alpha``), at the cost of one fit to the smallest target per fold and
    scale.

    Read more in the :ref:`User Guide <cv_estimators>`.

    Parameters
    ----------
    alphas : int or array-like of shape (n_alphas,), default=8
        The initialization scales. An int ``n`` asks for ``n`` scales
        log-spaced so that ``(alpha / sqrt(n_features))**depth`` runs from
        ``1e-2 s`` to ``1e3 s``, where ``s`` is the largest modulus of the
        unitary Fourier transform of the coefficients that put every
        training margin at 1 (the intercept weight counted as one more real
        frequency): the minimum-norm solution of ``z_i (x_i . b + b_0) = 1``
        when one exists, else the hard-margin SVM on separable data, else the
        least-squares solution; the geometric mean over the one-vs-rest
        problems. The randomly drawn filters have Fourier coefficients of
        modulus about ``alpha / sqrt(n_features)``, and the network is one
        diagonal network per frequency, so this is the rule of
        :class:`DiagonalLinearClassifierCV` in the Fourier basis. For an
        array ``init`` whose filters are not of unit norm, pass the scales.

    target_losses : int or array-like of shape (n_targets,), default=8
        The training losses at which the flows are stopped and scored, as in
        :class:`DiagonalLinearClassifierCV` (an int ``n``: ``n`` losses
        ``10**-e`` with ``e`` geometric from 2 to 100, rounded).

    depth : int, default=2
        Number of layers ``L >= 2`` (filters).

    init : {'antisymmetric', 'normal'} or array-like, default='antisymmetric'
        The initial filters (see :class:`ConvolutionalLinearClassifier`).

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
        Refit a :class:`ConvolutionalLinearClassifier` at the chosen
        ``alpha_`` and ``target_loss_`` on all the data
        (``best_estimator_``). With False, ``coef_`` and ``intercept_`` are
        the mean over the training folds of their end-to-end models at that
        grid point.

    fit_intercept : bool, default=True
        Train an intercept outside the convolution (see
        :class:`ConvolutionalLinearClassifier`).

    intercept_scaling : float, default=1.0
        Value of the constant input.

    tol : float, default=1e-6
        Local error tolerance of the integrator.

    max_iter : int, default=10_000
        Maximum number of integrator steps of each trajectory (it passes
        every target of the grid) and of each refitted problem.

    random_state : int, RandomState instance or None, default=None
        Draws the initial filters: one draw per training fold (and one for
        the refit), shared by the scales. An int makes the fit reproducible
        and equal to a grid search's; a ``RandomState`` instance is read as a
        clone of the estimator would read it (each fold starts from a copy).

    solver : {'auto', 'explicit', 'stiff'}, default='auto'
        Step method of the integrator (see
        :class:`ConvolutionalLinearClassifier`).

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

    best_estimator_ : ConvolutionalLinearClassifier
        The refitted classifier (with ``refit=True``), with its filters
        ``coefs_``, ``history_`` and the other attributes of a fit.

    %(cv_fit_attributes)s

    See Also
    --------
    ConvolutionalLinearClassifier : One point of the grid.
    DiagonalLinearClassifierCV : The same for the diagonal network.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit import ConvolutionalLinearClassifierCV
    >>> rng = np.random.RandomState(0)
    >>> X = rng.standard_normal((40, 8))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> clf = ConvolutionalLinearClassifierCV(
    ...     alphas=[0.3, 3.0], target_losses=[1e-1, 1e-2], cv=2, random_state=0,
    ... ).fit(X, y)
    >>> clf.scores_.shape
    (2, 2, 2)
    >>> clf.best_estimator_.coefs_.shape
    (1, 2, 2, 8)
    """

    _parameter_constraints: dict = cv_parameter_constraints(
        ConvolutionalLinearClassifier._parameter_constraints
    )
    _point_class = ConvolutionalLinearClassifier
    _per_feature_alphas = False

    def __init__(
        self,
        alphas=8,
        target_losses=8,
        depth=2,
        init="antisymmetric",
        loss="exponential",
        cv=None,
        scoring=None,
        n_jobs=None,
        refit=True,
        fit_intercept=True,
        intercept_scaling=1.0,
        tol=1e-6,
        max_iter=10_000,
        random_state=None,
        solver="auto",
        verbose=0,
    ):
        self.alphas = alphas
        self.target_losses = target_losses
        self.depth = depth
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
        # One diagonal network per frequency whose weights start of modulus
        # alpha / sqrt(d): the largest Fourier modulus, in units in which the
        # rule reads alpha**depth.
        n_features = coef.shape[0] - self.fit_intercept
        moduli = np.abs(fft.fft(coef[:n_features], norm="ortho"))
        if self.fit_intercept:
            moduli = np.append(moduli, abs(coef[-1]))
        return np.max(moduli) * n_features ** (self.depth / 2)
