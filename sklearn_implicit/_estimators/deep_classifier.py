"""The fully connected deep linear network classifier."""

from numbers import Integral, Real

import numpy as np

from .._networks import DenseNetwork
from .._networks.dense import INITS, single_network_layers
from ..utils._sklearn_compat import Interval, StrOptions
from ._docs import fill_docstring
from .classifier import BaseFlowClassifier


@fill_docstring
class DeepLinearClassifier(BaseFlowClassifier):
    r"""Linear classifier trained as a fully connected deep linear network.

    The predictor is :math:`f(x) = w_D^\top W_{D-1} \cdots W_1 x + b`
    (:math:`b` the intercept), a product of :math:`D` = ``depth`` weight
    matrices with hidden widths ``width``; it is linear in :math:`x` with
    end-to-end coefficients
    :math:`\beta = W_1^\top \cdots W_{D-1}^\top w_D`. ``fit`` follows the
    continuous-time gradient flow :math:`\dot W_l = -\nabla_{W_l} L` of the
    training loss :math:`L` from a random initialization of scale ``alpha``
    and returns the point at which the loss first equals ``target_loss``. On
    linearly separable data the direction of :math:`\beta` tends, as the
    loss goes to 0, to the :math:`\ell_2` max-margin (hard-margin SVM)
    direction and the layers align to rank one (Ji & Telgarsky, 2019); at
    large ``alpha`` and moderate targets the model stays close to its
    linearization at initialization (the kernel regime).

    The flow is integrated exactly (to the tolerance ``tol``), not approximated
    by gradient descent: the clock is :math:`-\log L`, so any target down to
    the smallest positive float is reached without underflow, and an
    adaptive Runge-Kutta method with error control follows the path. The
    data enter only through :math:`X \beta` and :math:`X^\top r`: a gradient
    evaluation costs two products with :math:`X` and
    ``O(width * (n_features + depth * width))`` operations for the layers.

    Parameters
    ----------
    alpha : float, default=1.0
        Initialization scale: every layer starts as ``alpha`` times a random
        matrix of unit scale (see ``init``), so :math:`f` starts of size
        about :math:`\alpha^D` (0 for the antisymmetric initialization).

    depth : int, default=2
        Number of layers :math:`D \ge 2` (:math:`D - 1` hidden layers).

    width : int or tuple of int, default=32
        Width of every hidden layer, or a tuple of the ``depth - 1`` hidden
        widths from the input side.

    init : {'antisymmetric', 'normal', 'orthogonal'}, default='antisymmetric'
        Random matrices of unit scale drawn from ``random_state``:
        ``'normal'``: i.i.d. :math:`\mathcal{N}(0, 1/\text{fan-in})`
        entries; ``'orthogonal'``:
        Haar-random semi-orthogonal matrices (every singular value 1);
        ``'antisymmetric'``: the predictor is the difference of two
        ``'normal'`` networks that start from the same weights and are both
        trained, so :math:`f = 0` at initialization. It is the default
        because the flow then starts at :math:`\beta = 0` and the loss of the
        other estimators of this package (1 or :math:`\log 2`), whatever
        ``alpha``: the
        answer carries no random initial function, and at large ``alpha``
        the flow is exactly in the kernel regime instead of being dominated
        by an initial function of size :math:`\alpha^D`. It doubles the
        number of weights.

    loss : {'exponential', 'logistic'}, default='exponential'
        Per-sample loss of the margin :math:`m`: :math:`e^{-m}` or
        :math:`\log(1 + e^{-m})`.

    target_loss : float, default=1e-5
        The flow stops at the first time the training loss
        :math:`L = \sum_i s_i \ell(m_i) / \sum_i s_i` (sample weights
        :math:`s_i`, margins :math:`m_i`) equals this value. Must lie below
        the loss at initialization (1 for the exponential loss and
        :math:`\log 2` for the logistic loss with ``init='antisymmetric'``;
        the loss of the random
        initial predictor otherwise); values down to about 1e-308 are allowed.

    fit_intercept : bool, default=True
        Append a constant input of value ``intercept_scaling`` (as in
        LinearSVC): the first layer has one more input column, whose
        end-to-end weight gives the intercept, so the implicit bias acts on
        coefficients and intercept jointly. With False the model is the
        homogeneous model of the papers.

    intercept_scaling : float, default=1.0
        Value of the constant input; ``intercept_ = intercept_scaling * w``.

    tol : float, default=1e-6
        Local error tolerance of the integrator: each step keeps the estimated
        error of every layer below ``tol`` times the RMS entry of that layer.
        With ``init='antisymmetric'`` the two networks are integrated as
        their mean and half-difference, and the half-difference, which starts
        at 0 and alone sets ``coef_``, is controlled relative to its own RMS
        size, so the accuracy holds also at large ``alpha``, where the layers
        barely move. The returned coefficients converge as ``tol`` shrinks;
        on test problems their relative error against an independent
        high-accuracy integration is below ``tol``.

    max_iter : int or None, default=None
        Maximum number of integrator steps (each costs about six gradient
        evaluations) per binary problem. None: 10,000 steps, and up to
        100,000 in all (at tol=1e-6; times (1e-6 / tol)**(1/4) at a tighter tol) while the flow is in a plateau of the loss (small
        initializations, at depth >= 3 above all, learn through plateaus
        whose steps are many; see ``status_``). An int is a hard bound.
        For discrete dynamics, the maximum number of steps per problem (one
        gradient evaluation each, of a mini-batch for SGD); None: 100,000.

    random_state : int, RandomState instance or None, default=None
        Draws the initial layers (one seed per one-vs-rest problem, drawn
        before dispatch, so results do not depend on ``n_jobs``). Pass an int
        for reproducible output across multiple function calls.
        See :term:`Glossary <random_state>`.
        With ``dynamics='sgd'`` it also draws the mini-batch shuffles (from
        seeds drawn after those of the initial weights, which are therefore
        those of the flow's fit).

    warm_start : bool, default=False
        When True and the trajectory-defining parameters (``alpha``,
        ``depth``, ``width``, ``init``, ``loss``, ``fit_intercept``,
        ``intercept_scaling``) and the classes are unchanged, ``fit``
        continues the stored trajectory towards a smaller ``target_loss``
        (the data must be the same; ``random_state`` is then not used). A
        target at or above the stored loss restarts from a new
        initialization, since the trajectory passes that target before the
        stored point.

    verbose : int, default=0
        Print one line per decade of loss when > 0.

    n_jobs : int, default=None
        Number of jobs for the one-vs-rest problems of a multiclass fit, via
        joblib. ``None`` means 1 unless in a :func:`joblib.parallel_backend`
        context. With several jobs each worker limits BLAS to one thread.

    solver : {'auto', 'explicit', 'stiff'}, default='auto'
        Step method of the integrator. ``'explicit'``: DOP853 (order 8).
        ``'stiff'``: where ``min(n_samples, n_features) <= 128``, the
        three-stage Radau IIA method (order 5) whose simplified Newton
        iterations use the data part of the flow's Jacobian, pulled back
        through the network (of that rank); beyond, the linearly implicit
        Rosenbrock-W method ROS34PW2 (order 3 whatever the matrix in place
        of the Jacobian) with the Jacobian projected on a Krylov space.
        ``'auto'``: explicit while the flow is not stiff, switching to the
        stiff method when the explicit steps become limited by stability
        (late in training, and on ill-conditioned data) and a trial shows it
        cheaper. All three follow the same path to ``tol``.
        Used by ``dynamics='flow'`` only.

    %(dynamics_parameters)s

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        End-to-end coefficients :math:`\beta` (one row per one-vs-rest
        problem when there are more than two classes).

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).

    coefs_ : list of length depth of ndarray
        Layer matrices as in :class:`~sklearn.neural_network.MLPClassifier`
        (``coefs_[l]`` maps the inputs of layer ``l`` to its outputs, shape
        ``(fan_in, fan_out)``), stacked over the binary problems:
        ``coefs_[l]`` has shape ``(n_problems, fan_in, fan_out)``. The first
        layer has ``n_features + 1`` inputs when ``fit_intercept=True`` (the
        last one is the constant input); the last layer has one output. So
        ``functools.reduce(np.matmul, coefs_)[:, :, 0]`` is ``coef_`` (followed
        by the intercept weight). With ``init='antisymmetric'`` the pair of
        networks is written as one network of twice the width whose hidden
        layers are block diagonal and whose output weights of the second copy
        are negated.

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
        (that margin divided by the l1 and l2 norms of the end-to-end
        weights, intercept weight included), ``'n_evals'``, and the layer
        alignment: ``'alignment_min'``, the smallest ratio
        :math:`\sigma_1(W_l) / \|W_l\|_F` over the layers (1 when every layer
        has rank one), and ``'adjacent_alignment_min'``, the smallest overlap
        :math:`|\langle v_1(W_{l+1}), u_1(W_l) \rangle|` of the top right
        singular vector of a
        layer with the top left singular vector of the layer below (1 when
        adjacent layers line up); with ``init='antisymmetric'`` the worst of
        the two networks.
        Discrete dynamics add ``'n_steps'``, and their ``'log10_time'`` is
        that of the sum of the step sizes (the flow time the steps stand for).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    DiagonalLinearClassifier : The diagonal network, whose implicit bias
        moves between the l2 and l1 max-margins.
    sklearn.svm.LinearSVC : The l2 max-margin answer of the small-loss limit.
    sklearn.neural_network.MLPClassifier : Nonlinear networks trained by
        stochastic gradient methods.

    References
    ----------
    Z. Ji, M. Telgarsky. "Gradient descent aligns the layers of deep linear
    networks", ICLR 2019, arXiv:1810.02032.

    Z. Ji, M. Telgarsky. "Directional convergence and alignment in deep
    learning", NeurIPS 2020, arXiv:2006.06657.

    L. Chizat, E. Oyallon, F. Bach. "On lazy training in differentiable
    programming", NeurIPS 2019, arXiv:1812.07956.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit import DeepLinearClassifier
    >>> X = np.array([[2.0, 1.0], [1.0, -1.0], [-2.0, 0.5], [-1.0, -2.0]])
    >>> y = np.array([1, 1, 0, 0])
    >>> clf = DeepLinearClassifier(depth=3, width=8, target_loss=1e-20,
    ...                            random_state=0).fit(X, y)
    >>> clf.predict(X)
    array([1, 1, 0, 0])
    >>> round(float(clf.log10_loss_[0]), 6)
    -20.0
    >>> [w.shape for w in clf.coefs_]
    [(1, 3, 16), (1, 16, 16), (1, 16, 1)]
    """

    _parameter_constraints: dict = {
        **BaseFlowClassifier._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "width": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "init": [StrOptions(set(INITS))],
        "random_state": ["random_state"],
    }

    _trajectory_params = (*BaseFlowClassifier._trajectory_params, "width", "init")

    def __init__(
        self,
        alpha=1.0,
        depth=2,
        width=32,
        init="antisymmetric",
        loss="exponential",
        target_loss=1e-5,
        fit_intercept=True,
        intercept_scaling=1.0,
        tol=1e-6,
        max_iter=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        n_jobs=None,
        solver="auto",
        dynamics="flow",
        learning_rate=None,
        learning_rate_schedule="constant",
        batch_size="auto",
    ):
        self.alpha = alpha
        self.depth = depth
        self.width = width
        self.init = init
        self.loss = loss
        self.target_loss = target_loss
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.solver = solver
        self.dynamics = dynamics
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.batch_size = batch_size

    def _hidden_widths(self):
        """``width`` as a tuple of ``depth - 1`` positive ints."""
        n_hidden = self.depth - 1
        if np.ndim(self.width) == 0:
            return (int(self.width),) * n_hidden
        widths = np.asarray(self.width)
        if (
            widths.shape != (n_hidden,)
            or not np.issubdtype(widths.dtype, np.integer)
            or np.any(widths < 1)
        ):
            raise ValueError(
                f"width must be a positive int or a sequence of depth - 1 = "
                f"{n_hidden} positive ints (the hidden widths); got {self.width!r}."
            )
        return tuple(int(w) for w in widths)

    def _make_network(self, n_coef, alpha, random_state):
        # alpha is a scalar here (see _parameter_constraints), broadcast by the base.
        return DenseNetwork(
            n_coef, self._hidden_widths(), float(alpha[0]), self.init, random_state
        )

    def _network_attributes(self, results):
        n_coef = results[0].coef.shape[0]
        widths = self._hidden_widths()
        antisymmetric = self.init == "antisymmetric"
        layers = [
            single_network_layers(r.last.state, n_coef, widths, antisymmetric)
            for r in results
        ]
        self.coefs_ = [
            np.stack([problem[l].T for problem in layers]) for l in range(self.depth)
        ]

    def _fit(self, X, y, sample_weight):
        # the widths are checked before any fitted attribute is set
        self._hidden_widths()
        return super()._fit(X, y, sample_weight)
