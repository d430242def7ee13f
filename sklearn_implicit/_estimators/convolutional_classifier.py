"""The linear convolutional network classifier."""

from numbers import Real

import numpy as np

from .._networks import ConvolutionalNetwork
from .._networks.convolutional import INITS, initial_filters
from ..utils._sklearn_compat import Interval, StrOptions
from ._docs import fill_docstring
from .classifier import BaseFlowClassifier


@fill_docstring
class ConvolutionalLinearClassifier(BaseFlowClassifier):
    """Linear classifier trained as a linear convolutional network by gradient flow.

    The network of Gunasekar et al. (2018) on ``x`` in ``R^d``
    (``d = n_features``): ``depth`` filters ``w_1, ..., w_L`` in ``R^d``,
    ``h_0 = x``, ``h_l[i] = d**-0.5 * sum_k w_l[k] h_{l-1}[(i + k) mod d]``
    for ``l < L`` (full-width circular convolutions) and
    ``f(x) = <w_L, h_{L-1}> + intercept``. It is linear in ``x``,
    ``f(x) = <beta, x> + intercept``, and in the unitary DFT ``U`` the
    end-to-end coefficients are the product of the filters' transforms,
    frequency by frequency: ``(U beta)_k = prod_l (U w_l)_k``. ``fit``
    follows the continuous-time gradient flow of the training loss on all
    filters and returns the point at which the loss first equals
    ``target_loss``. On separable data the flow drives ``beta`` towards
    sparsity in the frequency domain: its direction tends to a stationary
    point of ``min ||U beta||_{2/L}`` subject to margins at least 1 (for
    ``depth=2`` the l1 norm of the spectrum), where a fully connected network
    would give the l2 max-margin.

    The flow decouples into ``d`` complex diagonal networks, one per
    frequency, coupled only through the loss, and is integrated exactly (to
    the tolerance ``tol``) in that form: the clock is ``-log L``, so any target
    down to the smallest positive float is reached without underflow, and a
    gradient evaluation costs two products with ``X`` and two real FFTs of
    length ``d`` plus ``O(depth * d)`` operations.

    Parameters
    ----------
    alpha : float, default=1.0
        Initialization scale: every filter starts as ``alpha`` times a filter
        of unit scale (see ``init``).

    depth : int, default=2
        Number of layers ``L >= 2`` (filters).

    init : {'antisymmetric', 'normal'} or array-like, default='antisymmetric'
        The initial filters. The random draw is
        ``alpha * rng.standard_normal((depth, n_features)) / sqrt(n_features)``
        with ``rng = numpy.random.RandomState(seed)`` and ``seed`` drawn from
        ``random_state`` (one per one-vs-rest problem), so every Fourier
        coefficient of a filter has mean square ``alpha**2 / n_features``.
        ``'antisymmetric'``: the predictor is the difference of two networks
        that both start from that draw and are both trained, so
        ``beta = 0`` at initialization and the loss starts at its value at
        zero (1, or log 2 for the logistic loss), as for the other estimators
        of this package. ``'normal'``: one network with those filters (the
        model of the papers; ``beta`` starts random). An array of shape
        ``(depth, n_features)``: the filters of one network, from which the
        antisymmetric pair starts (two copies); an array of shape
        ``(1, depth, n_features)``: one network with those filters; of shape
        ``(2, depth, n_features)``: the pair, from its two networks' filters.
        Arrays are multiplied by ``alpha``, so a paper's initialization is
        reproduced exactly with ``alpha=1``.

    loss : {'exponential', 'logistic'}, default='exponential'
        Per-sample loss of the margin ``m``: ``exp(-m)`` or ``log(1 + exp(-m))``.

    target_loss : float, default=1e-5
        The flow stops at the first time the training loss
        ``sum_i s_i l(m_i) / sum_i s_i`` equals this value, which must lie
        below the loss at initialization; values down to about 1e-308 are
        allowed.

    fit_intercept : bool, default=True
        Append a constant input of value ``intercept_scaling`` whose weight
        is trained outside the convolution as a product of ``depth`` scalar
        factors, one per layer (in the Fourier picture: one more real
        frequency), so the network stays homogeneous of degree ``depth`` and
        the implicit bias acts on the intercept like on one frequency. Each
        factor starts at the RMS entry of its network's initial filter of that
        layer. With False the model is exactly the papers'.

    intercept_scaling : float, default=1.0
        Value of the constant input; ``intercept_ = intercept_scaling * b``
        where ``b`` is the product of the intercept factors.

    tol : float, default=1e-6
        Local error tolerance of the integrator, relative to the RMS entry of
        each layer (for the antisymmetric pair, of each layer's mean and, on
        its own scale, half-difference of the two networks, as for
        :class:`DeepLinearClassifier`). On the test problems the coefficients
        agree with an independent integration of the filters' ODE to better
        than ``tol``.

    max_iter : int, default=10_000
        Maximum number of integrator steps (each costs about 12 gradient
        evaluations) per binary problem.
        For discrete dynamics, the maximum number of steps per problem (one
        gradient evaluation each, of a mini-batch for SGD); None: 100,000.

    random_state : int, RandomState instance or None, default=None
        Draws the initial filters (see ``init``; not used for an array).
        Pass an int for reproducible output across multiple function calls.
        See :term:`Glossary <random_state>`.
        With ``dynamics='sgd'`` it also draws the mini-batch shuffles (from
        seeds drawn after those of the initial weights, which are therefore
        those of the flow's fit).

    warm_start : bool, default=False
        When True and the trajectory-defining parameters (``alpha``,
        ``depth``, ``init``, ``loss``, ``fit_intercept``,
        ``intercept_scaling``) and the classes are unchanged, ``fit``
        continues the stored trajectory towards a smaller ``target_loss`` on
        the same data. A larger target starts again from a new
        initialization.

    verbose : int, default=0
        Print one line per decade of loss when > 0.

    n_jobs : int, default=None
        Number of jobs for the one-vs-rest problems of a multiclass fit, via
        joblib (results do not depend on it).

    solver : {'auto', 'explicit', 'stiff'}, default='auto'
        Step method. ``'explicit'``: DOP853 (order 8); ``'stiff'``: the
        three-stage Radau IIA method (order 5) whose simplified Newton
        iterations use the data part of the flow's Jacobian, pulled back
        through the network: formed column by column where
        ``min(n_samples, n_features) <= 64``, channel by channel in the
        Fourier basis beyond (one weighted Gram matrix of the data's
        spectra per step); ``'auto'``: explicit until the flow is stiff,
        then the stiff method where a trial shows it cheaper. All three
        follow the same path to ``tol``. Used by ``dynamics='flow'`` only.

    %(dynamics_parameters)s

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        End-to-end coefficients ``beta`` (one row per one-vs-rest problem when
        there are more than two classes).

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).

    coefs_ : ndarray of shape (n_problems, 2, depth, n_features) or \
            (n_problems, depth, n_features)
        The filters: ``coefs_[k, 0]`` and ``coefs_[k, 1]`` are the two networks
        of the antisymmetric pair (the predictor is the first minus the
        second), ``coefs_[k]`` the one network otherwise.

    intercept_coefs_ : ndarray of shape (n_problems, 2, depth) or \
            (n_problems, depth), or None
        The intercept factors, laid out like ``coefs_``; their product (the
        first network's minus the second's) times ``intercept_scaling`` is
        ``intercept_``. None when ``fit_intercept=False``.

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
        reached), ``'stalled'`` (non-separable data), ``'stationary'``, or
        ``'max_iter'``; any but ``'target'`` comes with a ConvergenceWarning.
        Discrete dynamics end with ``'target'``, ``'max_iter'``,
        ``'stationary'`` (a zero gradient), ``'diverged'`` (a step too
        large; see ``learning_rate``) or, for SGD, ``'stalled'`` (its loss
        stopped falling: the noise floor of its steps, or data that are not
        separable; see the ConvergenceWarning).

    history_ : list of dict
        One dict per binary problem with 1-D arrays sampled along the path (at
        the start, then at the first step past each decade of loss, and at the
        end): ``'log10_loss'``, ``'log10_time'``, ``'min_margin'``,
        ``'l1_margin'``, ``'l2_margin'`` (as for the other estimators,
        intercept weight included), ``'n_evals'``, and ``'fourier_margin'``:
        the smallest margin divided by ``||U beta||_{2/depth}``, the quasi-norm
        ``(sum_k |(U beta)_k|**(2/depth))**(depth/2)`` over all ``d``
        frequencies and the intercept weight, whose max-margin problem the
        direction tends to.
        Discrete dynamics add ``'n_steps'``, and their ``'log10_time'`` is
        that of the sum of the step sizes (the flow time the steps stand for).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    DeepLinearClassifier : The fully connected network, whose direction tends
        to the l2 max-margin.
    DiagonalLinearClassifier : The diagonal network: the same product
        structure in the standard basis instead of the Fourier basis.

    References
    ----------
    S. Gunasekar, J. D. Lee, D. Soudry, N. Srebro. "Implicit bias of gradient
    descent on linear convolutional networks", NeurIPS 2018, arXiv:1806.00468.

    C. Yun, S. Krishnan, H. Mobahi. "A unifying view on implicit bias in
    training linear neural networks", ICLR 2021, arXiv:2010.02501.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit import ConvolutionalLinearClassifier
    >>> X = np.array([[2.0, 1.0, 0.0, -1.0], [1.0, -1.0, 0.5, 0.0],
    ...               [-2.0, 0.5, 1.0, 0.0], [-1.0, -2.0, 0.0, 1.0]])
    >>> y = np.array([1, 1, 0, 0])
    >>> clf = ConvolutionalLinearClassifier(target_loss=1e-20,
    ...                                     random_state=0).fit(X, y)
    >>> clf.predict(X)
    array([1, 1, 0, 0])
    >>> round(float(clf.log10_loss_[0]), 6)
    -20.0
    >>> clf.coefs_.shape  # (problems, the two networks, depth, n_features)
    (1, 2, 2, 4)

    The end-to-end spectrum is the product of the filters' spectra:

    >>> U = lambda v: np.fft.fft(v, norm="ortho")
    >>> (a1, a2), (b1, b2) = clf.coefs_[0]
    >>> bool(np.allclose(U(clf.coef_[0]), U(a1) * U(a2) - U(b1) * U(b2)))
    True
    """

    _parameter_constraints: dict = {
        **BaseFlowClassifier._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "init": [StrOptions(set(INITS)), "array-like"],
        "random_state": ["random_state"],
    }

    _trajectory_params = (*BaseFlowClassifier._trajectory_params, "init")

    def __init__(
        self,
        alpha=1.0,
        depth=2,
        init="antisymmetric",
        loss="exponential",
        target_loss=1e-5,
        fit_intercept=True,
        intercept_scaling=1.0,
        tol=1e-6,
        max_iter=10_000,
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

    def _make_network(self, n_coef, alpha, random_state):
        # alpha is a scalar here (see _parameter_constraints), broadcast by the base.
        n_features = n_coef - self.fit_intercept
        filters = initial_filters(
            self.init, float(alpha[0]), self.depth, n_features, random_state
        )
        return ConvolutionalNetwork(filters, intercept=self.fit_intercept)

    def _network_attributes(self, results):
        filters, factors = zip(*(
            ConvolutionalNetwork.filters_of(r.last.state, self.depth, self.n_features_in_,
                                            self.fit_intercept)
            for r in results
        ))
        # one network: its filters alone, without the axis of the pair
        single = filters[0].shape[0] == 1
        self.coefs_ = np.stack([f[0] if single else f for f in filters])
        self.intercept_coefs_ = (
            np.stack([c[0] if single else c for c in factors]) if self.fit_intercept
            else None
        )

    def _flow_history(self, k, history):
        # The network records ||U beta||_{2/L}; the margin it normalizes is
        # scale-free and is what the flow drives up.
        history = dict(history)
        norm = history.pop("fourier_norm")
        with np.errstate(divide="ignore", invalid="ignore"):
            history["fourier_margin"] = np.where(
                norm > 0, history["min_margin"] / norm, 0.0
            )
        return history
