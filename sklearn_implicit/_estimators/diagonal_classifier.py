"""The diagonal linear network classifier."""


from .._networks import DiagonalNetwork
from ._docs import fill_docstring
from .classifier import BaseFlowClassifier


@fill_docstring
class DiagonalLinearClassifier(BaseFlowClassifier):
    r"""Linear classifier trained as a diagonal linear network by gradient flow.

    The predictor is :math:`f(x) = x^\top \beta + b` (:math:`b` the
    intercept) with :math:`\beta = u^D - v^D` elementwise (:math:`D` the
    ``depth``) and :math:`u = v = \alpha` at initialization, so
    :math:`\beta = 0` at the start. ``fit`` follows the continuous-time
    gradient flow :math:`\frac{d}{dt}(u, v) = -\nabla L(u, v)` of the
    training loss :math:`L` and returns the point at which the loss first
    equals ``target_loss``. Which separator this is, the *implicit bias* of
    training, depends on ``alpha``, ``depth`` and ``target_loss``: large
    ``alpha`` and moderate targets give the kernel regime (close to the
    :math:`\ell_2` hard-margin SVM, the LinearSVC answer); moderate ``alpha``
    and tiny targets give the rich regime (sparse, close to the
    :math:`\ell_1` max-margin for ``depth=2``).

    The flow is integrated exactly (to the tolerance ``tol``), not approximated
    by gradient descent: the diagonal network's conservation law reduces it to
    one number per feature (:math:`\log(u / v)`), the clock is
    :math:`-\log L`, so any target down to the smallest positive float is
    reached without underflow, and an adaptive Runge-Kutta method with error
    control follows the path. See Moroshko et al. (NeurIPS 2020) and
    Woodworth et al. (COLT 2020).

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
        Initialization scale of both weight vectors ``u`` and ``v``; an array
        gives each feature its own scale (the "initialization shape"). With
        ``fit_intercept=True`` the intercept weight starts at the mean of
        ``alpha``. On data of unit scale, fits reach the target for
        :math:`\alpha^D` from :math:`10^{-300}` to :math:`10^{300}` (tested at
        depths 2, 3, 5, 10);
        beyond, where the network's first steps leave the float range,
        ``fit`` raises an error that says which way to change ``alpha``.

    depth : int, default=2
        Depth :math:`D \ge 2` of the diagonal network.

    loss : {'exponential', 'logistic'}, default='exponential'
        Per-sample loss of the margin :math:`m`: :math:`e^{-m}` or
        :math:`\log(1 + e^{-m})`.

    target_loss : float, default=1e-5
        The flow stops at the first time the training loss
        :math:`L = \sum_i s_i \ell(m_i) / \sum_i s_i` (sample weights
        :math:`s_i`, margins :math:`m_i`) equals this value. Must lie below
        the loss at initialization (1 for the exponential loss,
        :math:`\log 2` for the logistic loss); values down to about 1e-308
        are allowed.

    fit_intercept : bool, default=True
        Append a constant column of value ``intercept_scaling`` that is
        trained as one more diagonal weight (as in LinearSVC), so the implicit
        bias acts on the coefficients and the intercept jointly. With False
        the model is the homogeneous model of the papers.

    intercept_scaling : float, default=1.0
        Value of the constant column; ``intercept_ = intercept_scaling * w``.

    tol : float, default=1e-6
        Local error tolerance of the integrator: every step keeps its
        estimated error in each coefficient below ``tol`` times the largest
        coefficient's size (at depth 3 and beyond, times its own size while
        its growth lags behind the largest one's). The returned coefficients converge as ``tol``
        shrinks; on the test problems their relative error against an
        independent high-accuracy integration of the parameter ODE is at
        most ``10 * tol`` (typically about ``0.01 * tol``). The stop itself is
        exact: the final loss equals ``target_loss`` to rounding.

    max_iter : int or None, default=None
        Maximum number of integrator steps (each costs about six gradient
        evaluations) per binary problem. None: 10,000 steps, and up to
        100,000 in all (at tol=1e-6; times (1e-6 / tol)**(1/4) at a tighter tol) while the flow is in a plateau of the loss (small
        initializations, at depth >= 3 above all, learn through plateaus
        whose steps are many; see ``status_``). An int is a hard bound.
        For discrete dynamics, the maximum number of steps per problem (one
        gradient evaluation each, of a mini-batch for SGD); None: 100,000.

    warm_start : bool, default=False
        When True and the trajectory-defining parameters (``alpha``, ``depth``,
        ``loss``, ``fit_intercept``, ``intercept_scaling``) and the classes are
        unchanged, ``fit`` continues the stored trajectory towards a smaller
        ``target_loss`` (the data must be the same). A target at or above the
        stored loss restarts from the initialization, since the trajectory
        passes that target before the stored point. A fit that stops at
        ``max_iter`` or at a stall stores the point it reached (with a
        ConvergenceWarning), so the next warm-started fit continues from
        there; a fit that raises, KeyboardInterrupt included, leaves every
        fitted attribute as it was before the call.

    verbose : int, default=0
        Print one line per decade of loss when > 0.

    n_jobs : int, default=None
        Number of jobs for the one-vs-rest problems of a multiclass fit, via
        joblib. ``None`` means 1 unless in a :func:`joblib.parallel_backend`
        context. With several jobs each worker limits BLAS to one thread.

    %(diagonal_solver)s

    %(sgd_random_state)s

    %(dynamics_parameters)s

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        End-to-end coefficients :math:`\beta` (one row per one-vs-rest
        problem when there are more than two classes).

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).

    classes_ : ndarray of shape (n_classes,)
        Class labels; ``classes_[1]`` is the positive class of a binary fit.

    loss_ : ndarray of shape (n_problems,)
        Final training loss of each binary problem (0.0 if below the smallest
        float; see ``log10_loss_``).

    log10_loss_ : ndarray of shape (n_problems,)
        Base-10 logarithm of the final training loss.

    log10_time_ : ndarray of shape (n_problems,)
        Base-10 logarithm of the gradient-flow time at which it was reached.

    n_iter_ : int
        Largest number of integrator steps over the binary problems.
        For discrete dynamics, the largest number of steps (mini-batch steps
        for SGD).

    n_grad_evals_ : ndarray of shape (n_problems,)
        Number of gradient evaluations of each binary problem.

    status_ : ndarray of str of shape (n_problems,)
        How each binary problem's flow ended: ``'target'`` (``target_loss``
        reached), ``'stalled'`` (non-separable data: the loss stopped at its
        positive infimum), ``'stationary'`` (a flow that does not move:
        non-separable too), ``'max_iter'``, or ``'plateau'`` (``max_iter``
        used up in a plateau of the loss, on separable data). A fit with
        any status but ``'target'`` issues a ConvergenceWarning.
        Discrete dynamics end with ``'target'``, ``'max_iter'``,
        ``'stationary'`` (a zero gradient), ``'diverged'`` (a step too
        large; see ``learning_rate``) or, for SGD, ``'stalled'`` (its loss
        stopped falling: the noise floor of its steps, or data that are not
        separable; see the ConvergenceWarning).

    history_ : list of dict
        One dict per binary problem with 1-D arrays sampled along the path (at
        the start, then at the first step past each decade of loss, and at the
        end): ``'log10_loss'``, ``'log10_time'``, ``'min_margin'`` (smallest
        margin :math:`y_i (x_i^\top \beta + b)`, labels :math:`y_i = \pm 1`),
        ``'l1_margin'`` and ``'l2_margin'``
        (that margin divided by the l1 and l2 norms of the trained weights,
        intercept weight included) and ``'n_evals'``.
        Discrete dynamics add ``'n_steps'``, and their ``'log10_time'`` is
        that of the sum of the step sizes (the flow time the steps stand for).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sklearn.svm.LinearSVC : The l2 max-margin answer of the kernel regime.

    References
    ----------
    E. Moroshko, S. Gunasekar, B. Woodworth, J. D. Lee, N. Srebro, D. Soudry.
    "Implicit bias in deep linear classification: initialization scale vs
    training accuracy", NeurIPS 2020, arXiv:2007.06738.

    B. Woodworth, S. Gunasekar, J. D. Lee, E. Moroshko, P. Savarese, I. Golan,
    D. Soudry, N. Srebro. "Kernel and rich regimes in overparametrized
    models", COLT 2020, arXiv:2002.09277.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit import DiagonalLinearClassifier
    >>> X = np.array([[2.0, 1.0], [1.0, -1.0], [-2.0, 0.5], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 0, 0])
    >>> clf = DiagonalLinearClassifier(alpha=0.1, target_loss=1e-20).fit(X, y)
    >>> clf.predict(X)
    array([1, 1, 0, 0])
    >>> round(float(clf.log10_loss_[0]), 6)
    -20.0

    Normalized gradient descent, one parameter apart from the flow:

    >>> gd = DiagonalLinearClassifier(alpha=0.1, target_loss=1e-20, dynamics="gd",
    ...                               learning_rate=0.1,
    ...                               learning_rate_schedule="normalized").fit(X, y)
    >>> gd.predict(X), gd.status_
    (array([1, 1, 0, 0]), array(['target'], dtype='<U6'))
    """

    _parameter_constraints: dict = {**BaseFlowClassifier._parameter_constraints}

    def __init__(
        self,
        alpha=1.0,
        depth=2,
        loss="exponential",
        target_loss=1e-5,
        fit_intercept=True,
        intercept_scaling=1.0,
        tol=1e-6,
        max_iter=None,
        warm_start=False,
        verbose=0,
        n_jobs=None,
        solver="auto",
        random_state=None,
        dynamics="flow",
        learning_rate=None,
        learning_rate_schedule="constant",
        batch_size="auto",
    ):
        self.alpha = alpha
        self.depth = depth
        self.loss = loss
        self.target_loss = target_loss
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.solver = solver
        self.random_state = random_state
        self.dynamics = dynamics
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.batch_size = batch_size

    def _make_network(self, n_coef, alpha, random_state):
        return DiagonalNetwork(alpha, self.depth)
