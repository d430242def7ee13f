"""Estimator glue shared by every gradient-flow classifier.

A concrete classifier only says which network it trains
(:meth:`BaseFlowClassifier._make_network`) and which parameters define that
network; validation, labels and one-vs-rest, the intercept column, sample
weights, warm start, parallelism, warnings and prediction live here.
"""

import warnings
from numbers import Integral, Real

import joblib
import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ._flow import LN10, FlowState, LinearFlow, integrate
from ._losses import LOSSES
from .utils._sklearn_compat import Interval, LinearClassifierMixin, StrOptions

def check_alpha(alpha, n_features):
    """Validate ``alpha`` (positive scalar or per-feature array) as an array."""
    if np.ndim(alpha) == 0:
        alpha_vec = np.full(n_features, float(alpha))
    else:
        alpha_vec = np.asarray(alpha, dtype=float)
        if alpha_vec.shape != (n_features,):
            raise ValueError(
                f"alpha must be a positive float or an array of shape "
                f"(n_features,) = ({n_features},); got an array of shape "
                f"{alpha_vec.shape}."
            )
    if not np.all(np.isfinite(alpha_vec)) or np.any(alpha_vec <= 0):
        raise ValueError(
            "alpha must be positive and finite (every entry, for an array); "
            f"got min={np.min(alpha_vec)!r}, max={np.max(alpha_vec)!r}."
        )
    return alpha_vec


def add_intercept_column(X, intercept_scaling):
    """Append the constant column that trains the intercept as one more weight."""
    column = np.full((X.shape[0], 1), intercept_scaling)
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_matrix(column)], format="csr")
    return np.hstack([X, column])


def signed_rows(X, z):
    """Rows ``z_i x_i``: margins are then ``Z @ beta``."""
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(z) @ X)
    return np.ascontiguousarray(z[:, None] * X)


def _fit_one_flow(network, loss, Z, sample_weight, start, target_loss, tol, max_iter,
                  verbose, label, blas_threads):
    """Integrate one binary problem; module level so joblib can ship it."""
    flow = LinearFlow(network, loss, Z, sample_weight)
    if start is None:
        start = FlowState(
            network.initial_state(), -loss.initial_log_mean(sample_weight), -np.inf
        )
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        return integrate(
            flow, start, [np.log(target_loss)], tol=tol, max_iter=max_iter,
            verbose=verbose, label=label,
        )


class BaseFlowClassifier(LinearClassifierMixin, BaseEstimator):
    """Shared fit/predict logic; subclasses provide the network."""

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "depth": [Interval(Integral, 2, None, closed="left")],
        "loss": [StrOptions(set(LOSSES))],
        "target_loss": [Interval(Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "n_jobs": [Integral, None],
    }

    # Parameters that change the trajectory; a warm start needs them unchanged.
    _trajectory_params = ("alpha", "depth", "loss", "fit_intercept", "intercept_scaling")

    def _make_network(self, n_coef, alpha, random_state):
        """Return the network of one binary problem (``n_coef`` weights)."""
        raise NotImplementedError

    def _network_attributes(self, results):
        """Set network-specific fitted attributes (e.g. layer matrices)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _initial_loss(self):
        return float(np.exp(LOSSES[self.loss]().initial_log_mean(None)))

    def _warm_key(self, n_features):
        params = {k: getattr(self, k) for k in self._trajectory_params}
        params["alpha"] = np.asarray(params["alpha"], dtype=float)
        return joblib.hash((params, n_features, [str(c) for c in self.classes_]))

    def _fit(self, X, y, sample_weight):
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=False
        )
        check_classification_targets(y)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if not sample_weight.sum() > 0:
            raise ValueError(
                "sample_weight must have a positive sum; all sample weights are zero."
            )
        # Zero-weight samples do not enter the loss; dropping them keeps them
        # out of the margins that decide separability too.
        keep = sample_weight > 0
        if not keep.all():
            X, y, sample_weight = X[keep], y[keep], sample_weight[keep]

        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contain only one class: {classes[0]!r}."
            )
        initial_loss = self._initial_loss()
        if not self.target_loss < initial_loss:
            raise ValueError(
                f"target_loss must be below the loss at initialization, "
                f"{initial_loss:.6g} for loss={self.loss!r} (the network starts at "
                f"beta = 0); got target_loss={self.target_loss!r}."
            )

        n_features = X.shape[1]
        alpha = check_alpha(self.alpha, n_features)
        if self.fit_intercept:
            # The intercept weight starts at the mean scale of the features.
            alpha = np.append(alpha, alpha.mean())
            X = add_intercept_column(X, self.intercept_scaling)

        previous_classes = getattr(self, "classes_", None)
        self.classes_ = classes
        if classes.shape[0] == 2:
            signs = [np.where(y == classes[1], 1.0, -1.0)]
        else:
            signs = [np.where(y == c, 1.0, -1.0) for c in classes]

        starts = self._warm_starts(n_features, len(signs), previous_classes)
        random_state = check_random_state(getattr(self, "random_state", None))
        # Seeds are drawn before dispatch so that results do not depend on n_jobs.
        seeds = random_state.randint(np.iinfo(np.int32).max, size=len(signs))
        loss = LOSSES[self.loss]()
        n_jobs = joblib.effective_n_jobs(self.n_jobs)
        blas_threads = 1 if n_jobs > 1 and len(signs) > 1 else None
        labels = [
            "" if len(signs) == 1 else f"[class {classes[k]!r}] " for k in range(len(signs))
        ]
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_one_flow)(
                self._make_network(X.shape[1], alpha, np.random.RandomState(seed)),
                loss,
                signed_rows(X, z),
                sample_weight,
                start,
                self.target_loss,
                self.tol,
                self.max_iter,
                self.verbose,
                label,
                blas_threads,
            )
            for z, start, seed, label in zip(signs, starts, seeds, labels)
        )
        self._store(results, starts, n_features)
        self._warn(results)
        return self

    def _warm_starts(self, n_features, n_problems, previous_classes):
        """Stored flow states to continue from, or ``None`` per problem."""
        cold = [None] * n_problems
        states = getattr(self, "_flow_states", None)
        if not self.warm_start or states is None or previous_classes is None:
            return cold
        if len(previous_classes) != len(self.classes_) or np.any(
            previous_classes != self.classes_
        ):
            return cold
        if self._warm_key(n_features) != getattr(self, "_warm_key_value", None):
            return cold
        # The trajectory passes a larger target before the stored point:
        # continuing cannot reach it, so such a fit starts again.
        if any(-s.tau <= np.log(self.target_loss) for s in states):
            return cold
        return list(states)

    def _store(self, results, starts, n_features):
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
        self.log10_time_ = np.array([r.last.log_time / LN10 for r in results])
        self.n_iter_ = int(max(r.n_iter for r in results))
        self.n_grad_evals_ = np.array([r.n_evals for r in results])
        previous = getattr(self, "history_", None)
        history = []
        for k, (r, start) in enumerate(zip(results, starts)):
            h = r.history
            if start is not None and previous is not None:
                old = previous[k]
                # The new records continue the stored path; the first one
                # repeats its last point.
                h = dict(h, n_evals=h["n_evals"] + old["n_evals"][-1])
                h = {key: np.concatenate([old[key], h[key][1:]]) for key in h}
            history.append(h)
        self.history_ = history
        self._flow_states = [r.last for r in results]
        self._flow_status = [r.status for r in results]
        self._warm_key_value = self._warm_key(n_features)
        self._network_attributes(results)

    def _warn(self, results):
        bad = [(k, r) for k, r in enumerate(results) if r.status != "target"]
        if not bad:
            return
        k, r = bad[0]
        which = "" if len(results) == 1 else f" (class {self.classes_[k]!r} vs rest)"
        reached = f"the smallest training loss reached is 10**{r.log_loss / LN10:.4f}"
        misclassified = np.mean(r.predictions <= 0)
        if r.status == "max_iter":
            msg = (
                f"Gradient flow{which} stopped after max_iter={self.max_iter} steps "
                f"before reaching target_loss={self.target_loss:g}; {reached}. "
                "Increase max_iter, or raise target_loss or tol."
            )
        else:
            msg = (
                f"Gradient flow{which} stalled before reaching target_loss="
                f"{self.target_loss:g}: {reached} and {misclassified:.1%} of the "
                "training points are not separated (margin <= 0), so the data "
                "look not linearly separable and the loss has a positive infimum. "
                "The returned model is the flow's point at the stall; raise "
                "target_loss above the reachable loss, or add features that "
                "separate the classes."
            )
        warnings.warn(msg, ConvergenceWarning)

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
        check_is_fitted(self)
        scores = self.decision_function(X)
        factor = 1.0 if self.loss == "logistic" else 2.0
        if scores.ndim == 1:
            p1 = expit(factor * scores)
            return np.column_stack([1.0 - p1, p1])
        proba = expit(factor * scores)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
