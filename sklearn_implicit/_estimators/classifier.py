"""The classifiers' share: labels and one-vs-rest, the intercept column,
probabilities."""

from numbers import Real

import numpy as np
from scipy.special import log_expit, logsumexp
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._config import blas_limit, flow_blas_threads
from .._losses import LOSSES
from ..utils._design import add_intercept_column, merge_duplicate_rows, signed_rows
from ..utils._logspace import LN10
from ..utils._sklearn_compat import Interval, LinearClassifierMixin, StrOptions
from ..utils._validation import check_alpha, check_summable, check_weights
from .base import BaseFlowEstimator, keep_state_on_error


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
            *(merge_duplicate_rows(signed_rows(X, z), sample_weight, negative_zeros=False)
              for z in signs)
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
        if r.status in ("max_iter", "plateau"):
            return self._max_iter_warning(which, goal, r.log_loss / LN10, r) + (
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
