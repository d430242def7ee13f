"""The diagonal linear network regressor: kernel and rich regimes in regression."""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import RegressorMixin
from sklearn.utils import Bunch
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from .._dynamics import parameter_view
from .._losses import SquaredLoss
from .._networks import DiagonalNetwork
from ..utils._least_squares import center, least_squares_fit
from ..utils._logspace import LN10
from ..utils._sklearn_compat import Interval, _fit_context
from ..utils._validation import check_alpha, check_weights, plain, scale_advice
from ._docs import fill_docstring
from .base import BaseFlowEstimator, keep_state_on_error

# Data whose largest absolute value lies outside [2**-_SCALE_EXP,
# 2**_SCALE_EXP] are fitted at unit scale (about 1e-50 to 1e50; up to 1e150
# fits were measured exact, at 1e155 the squares of the least-squares fit
# overflow).
_SCALE_EXP = 166


def _unit_scale(A):
    """The power of two ``a`` (0 for data near unit scale) such that
    ``A / 2**a`` has its largest absolute value in [0.5, 1).

    Dividing by a power of two is exact, so the rescaled data are the data.
    """
    top = abs(A).max() if A.size else 0.0
    if not 0 < top < np.inf:
        return 0
    exponent = int(np.frexp(top)[1])
    return exponent if abs(exponent) > _SCALE_EXP else 0


@fill_docstring
class DiagonalLinearRegressor(RegressorMixin, BaseFlowEstimator):
    r"""Least-squares regression trained as a diagonal linear network by gradient flow.

    The predictor is :math:`f(x) = x^\top \beta + b` (:math:`b` the
    intercept) with :math:`\beta = u^D - v^D` elementwise (:math:`D` the
    ``depth``) and :math:`u = v = \alpha` at initialization, so
    :math:`\beta = 0` at the start. ``fit`` follows the continuous-time
    gradient flow :math:`\frac{d}{dt}(u, v) = -\nabla L(u, v)` of the
    weighted mean squared loss

    .. math::

        L = \frac{\sum_i s_i (x_i^\top \beta + b - y_i)^2}{2 \sum_i s_i}.

    With the default ``target_loss=0`` it returns the limit of the flow. When
    ``X`` has more features than samples that limit interpolates the data, and
    which interpolant it is, the *implicit bias* of training, depends on
    ``alpha`` (Woodworth et al., COLT 2020): the minimizer of the potential
    :math:`Q^D_\alpha` among all interpolants, close to the
    minimum-:math:`\ell_1`-norm interpolant (basis pursuit, sparse) for small
    ``alpha`` (the rich regime) and to the minimum-:math:`\ell_2`-norm
    interpolant (``pinv(X) @ y``, dense) for large ``alpha`` (the kernel
    regime).
    :func:`~sklearn_implicit.analysis.interpolation.min_potential_interpolant` computes
    it independently. A positive ``target_loss`` instead stops the flow at the
    first time the loss equals it (early stopping).

    The flow is integrated exactly (to the tolerance ``tol``), not
    approximated by gradient descent, with the clock
    :math:`\tau = -\log(L - L_{\min})` where :math:`L_{\min}` is the smallest
    loss the data allow (``min_loss_``, 0 when the data can be interpolated),
    computed once by least squares. The flow of :math:`L` is the flow of
    :math:`L - L_{\min}`, and in this clock it goes to infinity in every case
    (instead of stopping short at :math:`-\log L_{\min}`), so the same
    integrator reaches the limit of interpolating and non-interpolating
    problems alike. Near the limit the flow is stiff (its slowest and fastest
    directions differ by about :math:`1 / \alpha^2` in rate), so it is
    followed by a linearly implicit (Rosenbrock) method. Data far from unit
    scale (largest absolute value of ``X`` or ``y`` beyond about
    :math:`10^{50}` or below :math:`10^{-50}`) are divided by powers of two,
    exactly, and fitted with ``alpha`` rescaled so that the path is the
    same: gradient flow is invariant under this change of units up to the
    speed of its clock, and every attribute is reported in the units of the
    data.

    With ``dynamics`` other than ``'flow'`` the network is trained by
    discrete steps instead (see :ref:`discrete_dynamics`). A step is not
    invariant under a change of units, but it is under this one with the
    step size rescaled with the clock: the steps on the rescaled data are
    those on the data with ``learning_rate`` multiplied by
    :math:`c^2 4^b` (:math:`c^2` for the normalized schedule), where the
    data are divided by :math:`2^a` (``X``) and :math:`2^b` (``y``) and the
    weights multiplied by :math:`c = 2^{(a - b)/D}`; at ``depth=2`` that
    factor is a power of two, and the steps are those on the data to the
    last bit whenever :math:`c` is one too. The steps fit, like the flow, the
    centered data and their least-squares fit (the projection of ``y`` on
    the columns of ``X``): for full-batch steps this changes nothing, and
    for mini-batch steps it is ``y`` itself when the data can be
    interpolated (more features than samples, the setting of the theory).

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
        Initialization scale of both weight vectors ``u`` and ``v``; an array
        gives each feature its own scale.

    depth : int, default=2
        Depth :math:`D \ge 2` of the diagonal network.

    target_loss : float, default=0.0
        ``0`` follows the flow to its limit. A positive value stops the flow
        at the first time the training loss equals it; it must lie below the
        loss at initialization. A positive value at or below the smallest
        loss the data allow (``min_loss_``) cannot be reached: the flow is
        then followed to its limit and a ConvergenceWarning says so.

    fit_intercept : bool, default=True
        Fit a free intercept by centering ``X`` and ``y`` (weighted means),
        as scikit-learn's linear regressors do: the flow runs on the centered
        data (equivalently, the intercept is at every moment the best one for
        the current :math:`\beta`), so the implicit bias acts on the coefficients
        only and the limit is comparable with basis pursuit and the
        minimum-norm interpolant. (A constant column trained as one more
        diagonal weight, as in the classifiers, would make the intercept part
        of the sparse-versus-dense trade-off.) Centering makes a sparse ``X``
        dense; with ``False`` the model is the homogeneous model of the
        papers and a sparse ``X`` stays sparse.

    tol : float, default=1e-6
        Local error tolerance of the integrator (each step keeps its
        estimated error in each coefficient below ``tol`` times the largest
        coefficient's size, at depth 3 and beyond times its own size while
        its growth lags behind the largest one's) and, with ``target_loss=0``,
        the convergence test: the flow stops when the estimated remaining
        change of ``coef_`` is below ``tol`` times its norm.

    max_iter : int or None, default=None
        Maximum number of integrator steps per target. None: 10,000 steps,
        and up to 100,000 in all (at tol=1e-6; times (1e-6 / tol)**(1/4) at a tighter tol) while the flow is in a plateau of the loss
        (small initializations, at depth >= 3 above all, learn through
        plateaus whose steps are many; see ``status_``). An int is a hard
        bound.
        For discrete dynamics, the maximum number of steps per problem (one
        gradient evaluation each, of a mini-batch for SGD); None: 100,000.

    warm_start : bool, default=False
        When True and ``alpha``, ``depth``, ``fit_intercept`` and the number
        of targets are unchanged, ``fit`` continues the stored trajectory
        towards a smaller ``target_loss`` (the data must be the same). A
        target at or above the stored loss restarts from the initialization.

    verbose : int, default=0
        Print one line per decade of :math:`L - L_{\min}` when > 0.

    n_jobs : int, default=None
        Number of jobs for the targets of a multi-output fit, via joblib.

    %(diagonal_solver)s

    %(sgd_random_state)s

    %(dynamics_parameters)s

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        End-to-end coefficients :math:`\beta` (1-D for a 1-D ``y``).

    intercept_ : float or ndarray of shape (n_targets,)
        Intercept (0.0 when ``fit_intercept=False``).

    converged_ : ndarray of bool of shape (n_targets,)
        True where the flow reached its limit (``target_loss=0``, or a
        target the data do not allow; or a target above the limit that
        rounding kept out of reach, with a ConvergenceWarning), False where
        it stopped at ``target_loss`` or at ``max_iter``.

    status_ : ndarray of str of shape (n_targets,)
        How each flow ended: ``'converged'`` (the limit), ``'target'``
        (``target_loss`` reached), ``'stalled'`` (the loss stopped at
        rounding), ``'stationary'`` (a flow that does not move),
        ``'max_iter'``, or ``'plateau'`` (``max_iter`` used up in a plateau
        of the loss, see the ConvergenceWarning).
        Discrete dynamics end with ``'converged'``, ``'target'``, ``'max_iter'``,
        ``'stationary'`` (a zero gradient), ``'diverged'`` (a step too
        large; see ``learning_rate``) or, for SGD, ``'stalled'`` (its loss
        stopped falling: the noise floor of its steps, or data that are not
        separable; see the ConvergenceWarning).

    min_loss_ : ndarray of shape (n_targets,)
        Smallest training loss the data allow (least squares); 0 when ``y``
        can be interpolated.

    loss_ : ndarray of shape (n_targets,)
        Final training loss of each target.

    log10_loss_ : ndarray of shape (n_targets,)
        Base-10 logarithm of the final training loss.

    log10_time_ : ndarray of shape (n_targets,)
        Base-10 logarithm of the gradient-flow time at the end.

    n_iter_ : int
        Largest number of integrator steps over the targets.
        For discrete dynamics, the largest number of steps (mini-batch steps
        for SGD).

    n_grad_evals_ : ndarray of shape (n_targets,)
        Number of gradient evaluations of each target's flow.

    history_ : list of dict
        One dict per target with 1-D arrays sampled along the path (at the
        start, at the first step past each decade of :math:`L - L_{\min}`,
        and at the end): ``'log10_loss'`` (of :math:`L`),
        ``'log10_excess_loss'`` (of :math:`L - L_{\min}`, the clock),
        ``'log10_time'``, ``'l1_norm'`` and ``'l2_norm'`` of :math:`\beta`,
        and ``'n_evals'``.
        Discrete dynamics add ``'n_steps'``, and their ``'log10_time'`` is
        that of the sum of the step sizes (the flow time the steps stand for).

    effective_alpha_ : ndarray of shape (n_features,) or (n_targets, n_features), or None
        The initialization scale whose gradient flow puts ``coef_`` where it
        is: ``alpha`` for the flow, which conserves :math:`u v = \alpha^2`;
        :math:`\sqrt{u v}` of the final weights for ``dynamics='gd'`` and
        ``'sgd'`` at ``depth=2``, where every step multiplies :math:`u v` by
        :math:`1 - (2 \eta g_j)^2` (Even et al., NeurIPS 2023, see
        :mod:`sklearn_implicit._dynamics.theory`). Their limit is then the
        minimum-potential interpolant at this scale, up to a term of third
        order in the step; :func:`~sklearn_implicit.analysis.predicted_coef`
        computes it. None for the other dynamics and depths, which have no
        such closed form, and where a step was so large that a weight reached
        or crossed zero (``2 learning_rate |g_j| >= 1``).

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sklearn_implicit.analysis.interpolation.min_potential_interpolant : The limit of
        the flow, computed directly.
    sklearn.linear_model.Lasso : An explicit l1 penalty.
    sklearn.linear_model.Ridge : An explicit l2 penalty.

    References
    ----------
    B. Woodworth, S. Gunasekar, J. D. Lee, E. Moroshko, P. Savarese, I. Golan,
    D. Soudry, N. Srebro. "Kernel and rich regimes in overparametrized
    models", COLT 2020, arXiv:2002.09277.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit import DiagonalLinearRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((20, 40))
    >>> w = np.zeros(40); w[:2] = [1.0, -1.0]
    >>> y = X @ w
    >>> rich = DiagonalLinearRegressor(alpha=0.01, fit_intercept=False).fit(X, y)
    >>> np.round(rich.coef_[:3], 2)
    array([ 0.99, -0.99, -0.  ])
    >>> kernel = DiagonalLinearRegressor(alpha=10.0, fit_intercept=False).fit(X, y)
    >>> np.round(kernel.coef_[:3], 2)
    array([ 0.5 , -0.46, -0.12])

    Gradient descent on the same network ends at the limit of the flow from
    a smaller, per-feature effective initialization:

    >>> gd = DiagonalLinearRegressor(alpha=0.3, fit_intercept=False, dynamics="gd",
    ...                              learning_rate=0.05).fit(X, y)
    >>> gd.status_
    array(['converged'], dtype='<U9')
    >>> bool(np.all(gd.effective_alpha_ < 0.3))
    True
    """

    _parameter_constraints: dict = {
        **BaseFlowEstimator._parameter_constraints,
        "target_loss": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
    }

    def __init__(
        self,
        alpha=1.0,
        depth=2,
        target_loss=0.0,
        fit_intercept=True,
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
        self.target_loss = target_loss
        self.fit_intercept = fit_intercept
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _make_network(self, n_coef, alpha, random_state):
        return DiagonalNetwork(alpha, self.depth)

    def _step_size(self):
        """``learning_rate`` for the problems at unit scale (see :func:`_unit_scale`).

        With ``X' = X / 2**a``, ``y' = y / 2**b`` and ``u' = c u``
        (``c**D = 2**(a - b)``), ``L' = L / 4**b`` and
        ``grad_u' L' = grad_u L / (4**b c)``: a step of size ``eta'`` on
        ``u'`` is a step of size ``eta' / (c**2 4**b)`` on ``u``, whatever
        its geometry (every steepest step is homogeneous of degree one in
        the gradient). The normalized step divides by ``L' = L / 4**b``,
        which leaves the factor ``c**2``. Multiplying by a power of two is
        exact.
        """
        x_exp, y_exp = self._exponents
        exponent = (2 / self.depth) * (x_exp - y_exp)
        if self.learning_rate_schedule == "constant":
            exponent += 2 * y_exp
        return self.learning_rate * 2.0**exponent

    def _effective_alpha(self, problems, alpha, results):
        """``effective_alpha_`` (see the class docstring), in the data's units."""
        if self.dynamics == "flow":
            scales = [check_alpha(self.alpha, problems.n_features)] * len(results)
        elif self.depth == 2 and self.dynamics in ("gd", "sgd"):
            view = parameter_view(self._make_network(problems.n_features, alpha, None))
            # u' = c u at unit scale (see _step_size)
            c = 2.0 ** ((problems.exponents[0] - problems.exponents[1]) / self.depth)
            with np.errstate(invalid="ignore"):
                scales = [view.effective_alpha(r.last.state) / c for r in results]
            if not all(np.all(a > 0) for a in scales):
                # a weight reached or crossed zero: the product form is broken
                return None
        else:
            return None
        return scales[0] if problems.one_output else np.array(scales)

    @_fit_context(prefer_skip_nested_validation=True)
    @keep_state_on_error
    def fit(self, X, y, sample_weight=None):
        """Follow the gradient flow to its limit or to ``target_loss``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; each column is fitted by its own flow.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the (weighted mean) loss.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=True,
            multi_output=True,
        )
        problems = self._problems(X, y, sample_weight)
        alpha = self._flow_alpha(problems, self.alpha)
        self._scale_advice = problems.scale_advice
        self._exponents = problems.exponents
        targets = self._flow_targets(problems, self.target_loss)
        n_targets = len(problems.losses)
        key = self._warm_key(problems.n_features, n_targets)
        starts = self._warm_starts(key, targets)
        min_loss, y_exp = problems.min_loss, problems.exponents[1]
        self._min_loss = min_loss  # at unit scale
        with np.errstate(over="ignore"):
            self.min_loss_ = np.ldexp(min_loss, 2 * y_exp)
        results = self._run_flows(
            problems.designs, problems.losses, problems.weights, starts, targets,
            problems.labels, alpha,
        )
        self.coef_, self.intercept_ = self._read_coef(problems, [r.coef for r in results])
        with np.errstate(divide="ignore"):
            log_loss = np.logaddexp([r.log_loss for r in results], np.log(min_loss))
        log_loss = log_loss + 2 * y_exp * np.log(2.0)
        with np.errstate(over="ignore"):
            self.loss_ = np.exp(log_loss)
        self.log10_loss_ = log_loss / LN10
        # at the limit: converged, or stalled at rounding (its limit to
        # working precision), or never moved
        # (SGD's stall is at its noise floor, not at the limit)
        limit_ends = ("converged", "stationary") if self.dynamics == "sgd" else (
            "converged", "stalled", "stationary")
        self.converged_ = np.array([r.status in limit_ends for r in results])
        self.effective_alpha_ = self._effective_alpha(problems, alpha, results)
        self._store_flows(results, starts, key)
        self.log10_time_ = self.log10_time_ - self._log10_time_unit()
        self._warn(results, [f"target {k}" for k in range(n_targets)])
        return self

    def _problems(self, X, y, sample_weight):
        """The least-squares problems of validated data, one per column of ``y``.

        Data far from unit scale are taken to unit scale (see
        :func:`_unit_scale`: the same path, whose squares and products
        float64 can hold) and centered with an intercept. The flow of column
        ``k`` runs on its least-squares fit (its gradient is the same: the
        residual ``y - fit`` is orthogonal to the columns) and its loss is
        ``L - L_min``, which vanishes at the limit. A
        :class:`~sklearn.utils.Bunch` with the ``designs``, ``weights``,
        ``losses`` and ``labels`` of the flows, and what maps their results
        back to the data's units. A fit builds it once; the cross-validated
        estimators once per training fold (see :mod:`._cv_path`).
        """
        X, sample_weight, y = check_weights(X, sample_weight, y)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        n_features, n_targets = X.shape[1], Y.shape[1]
        advice = scale_advice(X)
        x_exp, y_exp = _unit_scale(X), _unit_scale(Y)
        if x_exp or y_exp:
            X = X * 2.0**-x_exp if sp.issparse(X) else np.ldexp(X, -x_exp)
            Y = np.ldexp(Y, -y_exp)
        x_mean = y_mean = None
        if self.fit_intercept:
            X, Y, x_mean, y_mean = center(X, Y, sample_weight)
        fit, min_loss = least_squares_fit(X, Y, sample_weight)
        initial_loss = sample_weight @ Y**2 / (2 * sample_weight.sum())
        return Bunch(
            designs=[X] * n_targets, weights=[sample_weight] * n_targets,
            losses=[SquaredLoss(fit[:, k]) for k in range(n_targets)],
            labels=["" if n_targets == 1 else f"[target {k}] " for k in range(n_targets)],
            X=X, Y=Y, x_mean=x_mean, y_mean=y_mean, exponents=(x_exp, y_exp),
            min_loss=min_loss, initial_loss=initial_loss, n_features=n_features,
            one_output=y.ndim == 1, scale_advice=advice,
        )

    def _flow_alpha(self, problems, alpha):
        """The scale vector of the flows, at the unit scale of the problems."""
        x_exp, y_exp = problems.exponents
        # beta' = 2**(x_exp - y_exp) beta, u' = 2**((x_exp - y_exp) / D) u
        return check_alpha(alpha, problems.n_features) * 2.0 ** ((x_exp - y_exp) / self.depth)

    def _flow_targets(self, problems, target_loss):
        """The flow targets ``L - L_min`` (0: the limit) of ``target_loss``.

        ``target_loss`` may be an array of losses: each problem then gets
        an array of flow targets.
        """
        y_exp = problems.exponents[1]
        scaled = np.ldexp(np.asarray(target_loss, dtype=float), -2 * y_exp)
        above = (np.asarray(target_loss) > 0) & (scaled >= problems.initial_loss.min())
        if np.any(above):
            shown = target_loss if np.ndim(target_loss) == 0 else np.asarray(target_loss)[above][0]
            raise ValueError(
                f"target_loss must be 0 (the limit of the flow) or below the loss "
                f"at initialization (beta = 0), "
                f"{np.ldexp(problems.initial_loss.min(), 2 * y_exp):.6g}; got "
                f"target_loss={plain(shown)!r}."
            )
        return [np.maximum(scaled - m, 0.0) for m in problems.min_loss]

    def _read_coef(self, problems, coefs):
        """``(coef_, intercept_)`` in the data's units from the flows' coefficients."""
        coef = np.array(coefs)
        x_exp, y_exp = problems.exponents
        if self.fit_intercept:
            intercept = problems.y_mean - coef @ problems.x_mean
        else:
            intercept = np.zeros(coef.shape[0])
        coef, intercept = np.ldexp(coef, y_exp - x_exp), np.ldexp(intercept, y_exp)
        if problems.one_output:
            return coef[0], float(intercept[0])
        return coef, intercept

    def _log10_time_unit(self):
        """``log10(t' / t)``, the flow time at unit scale over the user's.

        With ``X' = X / 2**a``, ``y' = y / 2**b``, ``u' = c u`` (``c**D =
        2**(a - b)``) the loss is ``L' = L / 4**b`` and gradient flow runs
        ``c**2 4**b`` times faster in ``t'`` than in ``t``.
        """
        x_exp, y_exp = self._exponents
        return ((2 / self.depth) * (x_exp - y_exp) + 2 * y_exp) * np.log10(2.0)

    def _flow_history(self, k, history):
        x_exp, y_exp = self._exponents
        shift = 2 * y_exp * np.log10(2.0)
        excess = history["log10_loss"]
        with np.errstate(divide="ignore"):
            total = np.logaddexp(excess * LN10, np.log(self._min_loss[k])) / LN10
        scaled = {"log10_loss": total + shift, "log10_excess_loss": excess + shift,
                  "log10_time": history["log10_time"] - self._log10_time_unit(),
                  "l1_norm": np.ldexp(history["l1_norm"], y_exp - x_exp),
                  "l2_norm": np.ldexp(history["l2_norm"], y_exp - x_exp)}
        return {**scaled, **{name: v for name, v in history.items() if name not in scaled}}

    def _flow_warning(self, k, r, which):
        # the limit was asked for (target_loss=0, or one the data do not allow)
        limit = self.target_loss <= self.min_loss_[k]
        if r.status in ("max_iter", "plateau"):
            goal = "converging" if limit else (
                f"reaching target_loss={self.target_loss:g}"
            )
            return self._max_iter_warning(which, goal, self.log10_loss_[k], r)
        if r.status == "stalled" and not limit:
            # The loss stopped decreasing above a reachable target: rounding.
            return (
                f"Gradient flow{which} stalled at a training loss of "
                f"10**{self.log10_loss_[k]:.4f} before reaching target_loss="
                f"{self.target_loss:g}: the excess over the smallest loss the "
                f"data allow ({self.min_loss_[k]:.6g}) is at the level of "
                "rounding errors. The returned model is the flow's limit to "
                "working precision; use target_loss=0 to ask for the limit."
            )
        if limit and self.converged_[k] and self.target_loss > 0:
            return (
                f"target_loss={self.target_loss:g} is not above the smallest "
                f"training loss the data allow{which}, {self.min_loss_[k]:.6g} "
                "(least squares): the flow was followed to its limit instead "
                "(converged_ is True). Use target_loss=0 to ask for the limit, "
                "or a target above min_loss_ to stop early."
            )
        return None

    def predict(self, X):
        """Predict with the linear model ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        return safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_
