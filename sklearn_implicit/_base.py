"""Estimator glue shared by every gradient-flow estimator.

:class:`BaseFlowEstimator` holds what every estimator does the same way:
parameter checks, sample weights, one flow per problem under joblib, warm
start, fitted flow attributes and history, and the ConvergenceWarning. The
classifiers (:class:`BaseFlowClassifier`: labels and one-vs-rest, the
intercept column, probabilities) and the regressor
(:mod:`sklearn_implicit._regressors`) only prepare their problems and read
the results. A concrete estimator says which network it trains
(:meth:`BaseFlowEstimator._make_network`) and which parameters define it.
"""

import functools
import warnings
from numbers import Integral, Real

import joblib
import numpy as np
import scipy.sparse as sp
from scipy.special import log_expit, logsumexp
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._config import blas_limit, flow_blas_threads
from ._stiff import AutoStepper, RosenbrockW, supports_stiff
from ._batch import FlowBatch
from ._flow import LN10, FlowState, LinearFlow, integrate
from ._losses import LOSSES
from .utils._sklearn_compat import Interval, LinearClassifierMixin, StrOptions

# The step methods behind the estimators' ``solver`` parameter.
SOLVERS = {"explicit": None, "stiff": RosenbrockW, "auto": AutoStepper}


def check_alpha(alpha, n_features):
    """Validate ``alpha`` (positive scalar or per-feature array) as an array."""
    try:
        alpha_vec = np.asarray(alpha, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            "alpha must be a positive float or an array of shape (n_features,) "
            f"= ({n_features},) of positive floats; got {alpha!r}."
        ) from None
    if alpha_vec.ndim == 0:
        alpha_vec = np.full(n_features, float(alpha_vec))
    else:
        if alpha_vec.shape != (n_features,):
            raise ValueError(
                f"alpha must be a positive float or an array of shape "
                f"(n_features,) = ({n_features},); got an array of shape "
                f"{alpha_vec.shape}."
            )
    if not np.all(np.isfinite(alpha_vec)) or np.any(alpha_vec <= 0):
        raise ValueError(
            "alpha must be positive and finite (every entry, for an array); "
            f"got min={np.min(alpha_vec):g}, max={np.max(alpha_vec):g}."
        )
    return alpha_vec


def add_intercept_column(X, intercept_scaling):
    """Append the constant column that trains the intercept as one more weight."""
    column = np.full((X.shape[0], 1), intercept_scaling)
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_matrix(column)], format="csr")
    return np.hstack([X, column])


def check_summable(X):
    """Raise if sums over the samples of ``|X|`` overflow (the gradient would)."""
    if X.shape[0] == 0 or X.shape[1] == 0:
        return
    # No sum can overflow below this bound, found without a copy of X.
    if max(X.max(), -X.min()) < 1e300 / X.shape[0]:
        return
    with np.errstate(over="ignore"):
        column_sums = np.asarray(abs(X).sum(axis=0)).ravel()
    if not np.all(np.isfinite(column_sums)):
        raise ValueError(
            "X has entries too large to sum in float64 (largest absolute value "
            f"{abs(X).max():.3g}; with the intercept column if fit_intercept=True): "
            "the gradient X^T r would overflow. Entries up to about "
            "1e300 / n_samples are accepted; rescale X, e.g. divide it by its "
            "largest entry."
        )


def keep_state_on_error(fit):
    """Make a fit all-or-nothing.

    Fitted attributes are set during a fit (``n_features_in_`` by
    ``validate_data``, ``classes_``, then the flow results); when the fit
    raises, KeyboardInterrupt included, every attribute is restored to what it
    was before, so a warm-started estimator still holds its previous
    trajectory and can continue it.
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        previous = dict(self.__dict__)
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(previous)
            raise

    return wrapper


def merge_duplicate_rows(Z, sample_weight):
    """Identical rows of ``Z`` as one row carrying their summed weight.

    The loss is a weighted sum over rows, so this changes nothing in exact
    arithmetic; it makes repeated rows and integer weights the same problem
    to the last bit (the stiff solver's cost model, for one, depends on the
    number of rows), and puts the rows in an order that does not depend on
    the input's. Candidates are found by sorting on a random projection and
    confirmed by comparing the rows themselves, in O(n d).
    """
    n = Z.shape[0]
    if n < 2:
        return Z, sample_weight
    if sp.issparse(Z):
        Z = sp.csr_matrix(Z)
        Z.sum_duplicates()
        Z.sort_indices()
    keys = np.asarray(Z @ np.random.RandomState(0).standard_normal(Z.shape[1])).ravel()
    order = np.argsort(keys, kind="stable")
    Z, keys, sample_weight = Z[order], keys[order], sample_weight[order]
    # Only rows with equal keys can be equal; only those are compared.
    repeat = keys[1:] == keys[:-1]
    pairs = np.flatnonzero(repeat)
    if pairs.size and sp.issparse(Z):
        diff = Z[pairs + 1] - Z[pairs]
        diff.eliminate_zeros()
        repeat[pairs] = np.diff(diff.indptr) == 0
    elif pairs.size:
        repeat[pairs] = np.all(Z[pairs + 1] == Z[pairs], axis=1)
    if not repeat.any():
        return Z, sample_weight
    group = np.concatenate([[0], np.cumsum(~repeat)])
    first = np.flatnonzero(np.concatenate([[True], ~repeat]))
    return Z[first], np.bincount(group, weights=sample_weight)


def signed_rows(X, z):
    """Rows ``z_i x_i``: margins are then ``Z @ beta``."""
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(z) @ X)
    return np.ascontiguousarray(z[:, None] * X)


def check_weights(X, sample_weight, *arrays):
    """Validated weights with their zero-weight samples dropped.

    Zero-weight samples do not enter the loss; dropping them keeps them out of
    everything else the data decide (separability, the reachable loss).
    Returns ``X, sample_weight, *arrays`` restricted to positive weights.
    """
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    if not sample_weight.sum() > 0:
        raise ValueError(
            "sample_weight must have a positive sum; all sample weights are zero."
        )
    keep = sample_weight > 0
    if keep.all():
        return (X, sample_weight, *arrays)
    return (X[keep], sample_weight[keep], *(a[keep] for a in arrays))


def _fit_one_flow(network, loss, Z, sample_weight, start, target_loss, tol, max_iter,
                  verbose, label, blas_threads, solver="explicit"):
    """Integrate one problem; module level so joblib can ship it.

    ``target_loss = 0`` follows the flow until it has converged (a loss whose
    minimum is 0, see :func:`~sklearn_implicit._flow.integrate`). A decreasing
    array of targets records the state at each (``result.stops``) and ends at
    the last one. ``solver`` names the step method (see :data:`SOLVERS`).
    """
    Z = _aligned(Z)
    # The whole problem, initial loss included, runs under one BLAS thread
    # count so that its last bits do not depend on n_jobs or the backend.
    with blas_limit(blas_threads):
        flow = LinearFlow(network, loss, Z, sample_weight)
        return _integrate_problem(flow, start, target_loss, tol, max_iter, verbose,
                                  label, solver)


def _fit_flow_batch(networks, loss, Z, sample_weight, target_loss, tol, max_iter,
                    verbose, labels, blas_threads, solver="explicit"):
    """Integrate one problem per network on the same data, as one batch.

    The products with ``Z`` of all the flows are stacked into matrix-matrix
    products (see :mod:`sklearn_implicit._batch`); each flow is otherwise
    integrated exactly as by :func:`_fit_one_flow`. Returns one result per
    network, in order.
    """
    Z = _aligned(Z)
    batch = FlowBatch(Z)
    flows = [batch.flow(network, loss, sample_weight) for network in networks]
    with blas_limit(blas_threads):
        return batch.run(flows, lambda flow, k: _integrate_problem(
            flow, None, target_loss, tol, max_iter, verbose, labels[k], solver
        ))


def _aligned(Z):
    if sp.issparse(Z):
        return Z
    # Arrays shipped by Dask can arrive unaligned; numpy then skips BLAS and
    # sums in another order (different last bits).
    return np.require(Z, requirements=["A"])


def _integrate_problem(flow, start, target_loss, tol, max_iter, verbose, label, solver):
    """Check the target against the start and integrate (see :func:`_fit_one_flow`).

    The steppers keep state, so each problem gets a new one.
    """
    with np.errstate(divide="ignore"):
        log_targets = np.log(np.atleast_1d(target_loss))
    log_target = log_targets[0]
    network = flow.network
    if solver == "stiff" and not supports_stiff(flow):
        raise ValueError(
            f"solver='stiff' needs the Jacobian of the flow, which "
            f"{type(network).__name__} does not provide; use solver='auto' "
            "(which stays explicit for it) or solver='explicit'."
        )
    stepper = SOLVERS[solver]
    stepper = None if stepper is None else stepper(tol=tol)
    if start is None:
        state = network.initial_state()
        # A network may start at beta != 0 (random layers): the clock starts
        # at the actual initial loss of this problem.
        with np.errstate(all="ignore"):
            log_loss = flow.log_loss(flow.predictions(state)[1])
        # (-inf is a loss of exactly 0: nothing to fit, handled below)
        if not log_loss < np.inf:
            raise ValueError(
                f"The loss at initialization is not finite: the initial "
                f"coefficients of the {type(network).__name__} overflow "
                f"(alpha**depth is beyond the floating-point range). Use a "
                f"smaller alpha."
            )
        if log_target > -np.inf and not log_target < log_loss:
            problem = f" {label.strip()}" if label else ""
            raise ValueError(
                f"target_loss must be below the loss at initialization, "
                f"{np.exp(log_loss):.6g} for loss={flow.loss.name!r}{problem}; "
                f"got target_loss={np.atleast_1d(target_loss)[0]!r}."
            )
        start = FlowState(state, -log_loss, -np.inf)
    return integrate(
        flow, start, list(log_targets), tol=tol, max_iter=max_iter,
        verbose=verbose, label=label, stepper=stepper,
    )


class BaseFlowEstimator(BaseEstimator):
    """Fit machinery shared by the gradient-flow estimators.

    A subclass validates its data, builds one design matrix and one loss per
    problem (a binary one-vs-rest problem, or a regression target), calls
    :meth:`_run_flows`, then :meth:`_store_flows`, and reads its attributes
    from the results; :meth:`_warn` asks it for the text of a warning.
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "depth": [Interval(Integral, 2, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
        "solver": [StrOptions(set(SOLVERS))],
    }

    # Parameters that change the trajectory; a warm start needs them unchanged.
    _trajectory_params = ("alpha", "depth", "fit_intercept")

    def _make_network(self, n_coef, alpha, random_state):
        """Return the network of one problem (``n_coef`` weights)."""
        raise NotImplementedError

    def _network_attributes(self, results):
        """Set network-specific fitted attributes (e.g. layer matrices)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _warm_key(self, n_features, problems):
        """Hash of what a stored trajectory depends on, besides the data."""
        params = {k: getattr(self, k) for k in self._trajectory_params}
        params["alpha"] = np.asarray(params["alpha"], dtype=float)
        return joblib.hash((params, n_features, problems))

    def _warm_starts(self, key, target_losses):
        """Stored flow states to continue from, or ``None`` per problem."""
        cold = [None] * len(target_losses)
        states = getattr(self, "_flow_states", None)
        if not self.warm_start or states is None:
            return cold
        if key != getattr(self, "_warm_key_value", None):
            return cold
        # The trajectory passes a larger target before the stored point:
        # continuing cannot reach it, so such a fit starts again.
        with np.errstate(divide="ignore"):
            if any(-s.tau <= np.log(t) for s, t in zip(states, target_losses)):
                return cold
        return list(states)

    def _run_flows(self, designs, losses, sample_weight, starts, target_losses,
                   labels, alpha):
        """Integrate every problem under joblib; one result per problem.

        ``sample_weight`` is one array for all problems or a list, one each.
        """
        sample_weights = (
            sample_weight if isinstance(sample_weight, list)
            else [sample_weight] * len(losses)
        )
        random_state = check_random_state(getattr(self, "random_state", None))
        # Seeds are drawn before dispatch so that results do not depend on n_jobs.
        seeds = random_state.randint(np.iinfo(np.int32).max, size=len(losses))
        blas_threads = flow_blas_threads(self.n_jobs)
        return Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_one_flow)(
                self._make_network(Z.shape[1], alpha, np.random.RandomState(seed)),
                loss,
                Z,
                weights,
                start,
                target,
                self.tol,
                self.max_iter,
                self.verbose,
                label,
                blas_threads,
                self.solver,
            )
            for Z, weights, loss, start, target, seed, label in zip(
                designs, sample_weights, losses, starts, target_losses, seeds, labels
            )
        )

    def _flow_history(self, k, history):
        """The history of problem ``k`` as stored (a hook for the regressor)."""
        return history

    def _store_flows(self, results, starts, key):
        """Attributes every estimator shares: counts, times, history, warm state."""
        self.log10_time_ = np.array([r.last.log_time / LN10 for r in results])
        self.n_iter_ = int(max(r.n_iter for r in results))
        self.n_grad_evals_ = np.array([r.n_evals for r in results])
        previous = getattr(self, "history_", None)
        history = []
        for k, (r, start) in enumerate(zip(results, starts)):
            h = self._flow_history(k, r.history)
            if start is not None and previous is not None:
                old = previous[k]
                # The new records continue the stored path; the first one
                # repeats its last point.
                h = dict(h, n_evals=h["n_evals"] + old["n_evals"][-1])
                h = {name: np.concatenate([old[name], h[name][1:]]) for name in h}
            history.append(h)
        self.history_ = history
        self._flow_states = [r.last for r in results]
        self._flow_status = [r.status for r in results]
        self._warm_key_value = key
        self._network_attributes(results)

    def _flow_warning(self, k, result, which):
        """Text of the ConvergenceWarning for problem ``k``, or None."""
        raise NotImplementedError

    def _max_iter_warning(self, which, goal, log10_loss):
        return (
            f"Gradient flow{which} stopped after max_iter={self.max_iter} steps "
            f"before {goal}; the smallest training loss reached is "
            f"10**{log10_loss:.4f}. Increase max_iter, or raise target_loss or tol."
        )

    def _warn(self, results, names):
        """One ConvergenceWarning per fit, for the first problem that needs one."""
        for k, r in enumerate(results):
            which = "" if len(results) == 1 else f" ({names[k]})"
            msg = self._flow_warning(k, r, which)
            if msg is not None:
                warnings.warn(msg, ConvergenceWarning)
                return


class BaseFlowClassifier(LinearClassifierMixin, BaseFlowEstimator):
    """Labels, one-vs-rest, the intercept column and probabilities."""

    _parameter_constraints: dict = {
        **BaseFlowEstimator._parameter_constraints,
        "loss": [StrOptions(set(LOSSES))],
        "target_loss": [Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
    }

    _trajectory_params = (*BaseFlowEstimator._trajectory_params, "loss", "intercept_scaling")

    @keep_state_on_error
    def _fit(self, X, y, sample_weight):
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=False
        )
        check_classification_targets(y)
        X, sample_weight, y = check_weights(X, sample_weight, y)

        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contain only one class: {classes[0]!r}."
            )
        n_features = X.shape[1]
        alpha = check_alpha(self.alpha, n_features)
        if self.fit_intercept:
            # The intercept weight starts at the mean scale of the features.
            alpha = np.append(alpha, alpha.mean())
            X = add_intercept_column(X, self.intercept_scaling)
        check_summable(X)

        self.classes_ = classes
        if classes.shape[0] == 2:
            signs = [np.where(y == classes[1], 1.0, -1.0)]
        else:
            signs = [np.where(y == c, 1.0, -1.0) for c in classes]
        targets = [self.target_loss] * len(signs)
        key = self._warm_key(n_features, [str(c) for c in classes])
        starts = self._warm_starts(key, targets)
        labels = [
            "" if len(signs) == 1 else f"[class {classes[k]!r}] " for k in range(len(signs))
        ]
        designs, weights = zip(
            *(merge_duplicate_rows(signed_rows(X, z), sample_weight) for z in signs)
        )
        results = self._run_flows(
            list(designs), [LOSSES[self.loss]()] * len(signs),
            list(weights), starts, targets, labels, alpha,
        )
        for z, r in zip(signs, results):
            if r.status != "target":
                # The warning counts the original samples, not merged rows.
                r.predictions = np.asarray(signed_rows(X, z) @ r.coef).ravel()
        self._store(results, starts, n_features, key)
        self._warn(results, [f"class {c!r} vs rest" for c in classes])
        return self

    def _store(self, results, starts, n_features, key):
        coefs = np.array([r.coef for r in results])
        if self.fit_intercept:
            self.coef_ = coefs[:, :n_features].copy()
            self.intercept_ = self.intercept_scaling * coefs[:, n_features]
        else:
            self.coef_ = coefs
            self.intercept_ = np.zeros(coefs.shape[0])
        log_loss = np.array([r.log_loss for r in results])
        self.loss_ = np.exp(log_loss)
        self.log10_loss_ = log_loss / LN10
        self._store_flows(results, starts, key)

    def _flow_warning(self, k, r, which):
        if r.status == "target":
            return None
        goal = f"reaching target_loss={self.target_loss:g}"
        misclassified = np.mean(r.predictions <= 0)
        if r.status == "max_iter":
            return self._max_iter_warning(which, goal, r.log_loss / LN10) + (
                f" {misclassified:.1%} of the training points are not separated "
                "(margin <= 0) at that point."
            )
        reached = f"the smallest training loss reached is 10**{r.log_loss / LN10:.4f}"
        return (
            f"Gradient flow{which} stalled before reaching target_loss="
            f"{self.target_loss:g}: {reached} and {misclassified:.1%} of the "
            "training points are not separated (margin <= 0). The data are "
            "not linearly separable (a linear program confirmed it), so the "
            "loss has a positive infimum. The returned model is the flow's "
            "point at the stall; raise target_loss above the reachable loss, "
            "or add features that separate the classes."
        )

    def decision_function(self, X):
        """Confidence scores ``X @ coef_.T + intercept_``.

        Computed under the package's BLAS thread setting (see
        ``sklearn_implicit.config_context``), so that scores, like the fit,
        do not depend on ``n_jobs`` or the joblib backend in their last bits.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        with blas_limit(flow_blas_threads(None)):
            return super().decision_function(X)

    def predict_proba(self, X):
        """Probability estimates from the decision values.

        The logistic loss models ``P(y = classes_[1] | x) = sigmoid(f(x))``;
        the exponential loss is minimized by half the log-odds, so it uses
        ``sigmoid(2 f(x))``. With more than two classes the one-vs-rest
        probabilities are normalized to sum to one.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        scores = self.decision_function(X)
        factor = 1.0 if self.loss == "logistic" else 2.0
        # log_expit keeps far-tail probabilities finite where log(proba)
        # would give -inf.
        if scores.ndim == 1:
            return np.column_stack([log_expit(-factor * scores), log_expit(factor * scores)])
        log_p = log_expit(factor * scores)
        return log_p - logsumexp(log_p, axis=1, keepdims=True)
