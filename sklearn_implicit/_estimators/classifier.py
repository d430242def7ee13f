"""The classifiers' share: labels and one-vs-rest, the intercept column,
probabilities."""

from numbers import Real

import numpy as np
from scipy.special import log_expit, logsumexp
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted, validate_data

from .._config import blas_limit, flow_blas_threads
from .._losses import LOSSES
from ..utils._design import add_intercept_column, merge_duplicate_rows, signed_rows
from ..utils._logspace import LN10
from ..utils._sklearn_compat import (
    Interval,
    LinearClassifierMixin,
    StrOptions,
    _fit_context,
)
from ..utils._validation import (
    check_alpha,
    check_class_labels,
    check_summable,
    check_weights,
    largest_abs,
    plain,
    scale_advice,
)
from .base import BaseFlowEstimator, keep_state_on_error


class _Problems(Bunch):
    """The Bunch of :meth:`BaseFlowClassifier._problems`, whose ``X`` (the
    validated data with the intercept column, if any) is built on first use:
    the designs are gathered from the data without that copy."""

    def __getattr__(self, key):
        if key == "X":
            X = self.raw_X
            if self.intercept_scaling is not None:
                X = add_intercept_column(X, self.intercept_scaling)
            self["X"] = X
            return X
        return super().__getattr__(key)

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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Follow the gradient flow until the training loss equals ``target_loss``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,)
            Target labels.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the (weighted mean) loss.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    @keep_state_on_error
    def _fit(self, X, y, sample_weight):
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=False
        )
        problems = self._problems(X, y, sample_weight)
        alpha = self._flow_alpha(problems, self.alpha)
        self._scale_advice = problems.scale_advice
        self.classes_ = classes = problems.classes
        targets = self._flow_targets(problems, self.target_loss)
        key = self._warm_key(problems.n_features, [str(c) for c in classes])
        starts = self._warm_starts(key, targets)
        results = self._run_flows(
            problems.designs, problems.losses, problems.weights, starts, targets,
            problems.labels, alpha,
        )
        for z, r in zip(problems.signs, results):
            if r.status != "target":
                # The warning counts the original samples, not merged rows.
                r.predictions = np.asarray(signed_rows(problems.X, z) @ r.coef).ravel()
        self._store(results, starts, problems, key)
        self._warn(results, [f"class {plain(c)!r} vs rest" for c in classes])
        return self

    def _problems(self, X, y, sample_weight):
        """The binary problems of validated data (one-vs-rest beyond two classes).

        A :class:`~sklearn.utils.Bunch`: ``designs`` (rows ``z_i x_i``,
        duplicates merged), their ``weights`` and ``losses``, ``labels``
        (for verbose output), ``classes``, ``signs`` (``z`` per problem),
        ``X`` (with its intercept column, built on first use: a fit that
        reaches its target never needs it), ``n_features`` and
        ``scale_advice``. A fit builds it once; the cross-validated
        estimators once per training fold (see :mod:`._cv_path`).
        """
        check_class_labels(y)
        X, sample_weight, y = check_weights(X, sample_weight, y)
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contain only one class: {plain(classes[0])!r}."
            )
        n_features = X.shape[1]
        abs_max = largest_abs(X)
        advice = scale_advice(X, abs_max)
        intercept = self.intercept_scaling if self.fit_intercept else None
        check_summable(X, intercept, abs_max)
        if classes.shape[0] == 2:
            signs = [np.where(y == classes[1], 1.0, -1.0)]
        else:
            signs = [np.where(y == c, 1.0, -1.0) for c in classes]
        labels = [
            "" if len(signs) == 1 else f"[class {plain(classes[k])!r}] " for k in range(len(signs))
        ]
        problems = _Problems(raw_X=X, intercept_scaling=intercept)
        if self.dynamics == "sgd":
            # Mini-batches are drawn from the samples as given: merging
            # repeated rows (and sorting them) would change the batches.
            designs = [signed_rows(problems.X, z) for z in signs]
            weights = [sample_weight] * len(signs)
        else:
            # (the full loss and its gradient are the same with merged rows)
            designs, weights = zip(*(
                merge_duplicate_rows(X, sample_weight, signs=z, intercept_scaling=intercept)
                for z in signs
            ))
        problems.update(
            designs=list(designs), weights=list(weights),
            losses=[LOSSES[self.loss]()] * len(signs), labels=labels, classes=classes,
            signs=signs, n_features=n_features, scale_advice=advice,
        )
        return problems

    def _flow_alpha(self, problems, alpha):
        """The scale vector of the flows, intercept weight included."""
        alpha = check_alpha(alpha, problems.n_features)
        if self.fit_intercept:
            # The intercept weight starts at the mean scale of the features.
            alpha = np.append(alpha, alpha.mean())
        return alpha

    def _flow_targets(self, problems, target_loss):
        """The target (or decreasing array of stops) of each problem's flow."""
        return [target_loss] * len(problems.designs)

    def _read_coef(self, problems, coefs):
        """``(coef_, intercept_)`` from the coefficients of each problem's flow."""
        coefs = np.asarray(coefs)
        n_features = problems.n_features
        if self.fit_intercept:
            return coefs[:, :n_features].copy(), self.intercept_scaling * coefs[:, n_features]
        return coefs, np.zeros(coefs.shape[0])

    def _store(self, results, starts, problems, key):
        self.coef_, self.intercept_ = self._read_coef(problems, [r.coef for r in results])
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
            f"{self._trainer}{which} stalled before reaching target_loss="
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
        r"""Probability estimates from the decision values.

        The logistic loss models the probability of the class
        ``classes_[1]`` as :math:`\sigma(f(x))`, where :math:`f` is the
        decision function and :math:`\sigma(t) = 1 / (1 + e^{-t})`; the
        exponential loss is minimized by half the log-odds, so it uses
        :math:`\sigma(2 f(x))`. With more than two classes the one-vs-rest
        probabilities are normalized to sum to one.

        The probabilities saturate, by design: on separable data the flow
        drives every margin to infinity (the implicit bias fixes the
        direction of ``coef_``, while its norm grows like
        :math:`\log(1 / L)` and is set by ``target_loss``). In double
        precision the probability of the predicted class is exactly 1 once
        :math:`|f(x)|` exceeds about 18.8 (37.6 for the logistic loss), and
        that of the other class exactly 0 beyond about 372.6 (745.1): a
        model trained to ``target_loss=1e-100`` returns probabilities of
        exactly 0 and 1 for most points. They are the loss's link function
        at the point where training stopped, not calibrated probabilities.
        For those, learn the scale of the decision values on held-out data
        with :class:`~sklearn.calibration.CalibratedClassifierCV`
        (``method="sigmoid"``); see :ref:`probabilities` in the user
        guide.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)

        See Also
        --------
        sklearn.calibration.CalibratedClassifierCV : Calibrated probabilities
            from the decision values, fitted on held-out data.
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
