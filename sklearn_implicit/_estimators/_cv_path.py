"""Cross-validation along the path: what the ``...CV`` estimators share.

Grid-searching ``alpha`` and ``target_loss`` fits every grid point from
scratch, yet one trajectory per scale passes through every target loss. A
cross-validated estimator therefore follows one flow per (fold, scale,
binary problem), asks the integrator to stop exactly at every target on its
way down (:func:`~sklearn_implicit._integrate.problem.fit_one_flow` with a
decreasing array of targets), and scores the model at each stop: the cost
of ``n_folds * n_alphas`` fits to the smallest target, whatever the number
of targets (benchmark case ``cv``).

:class:`FlowCVMixin` is placed before a single-point estimator class in the
bases of a ``...CV`` class, and uses that class's problem contract:

- ``_problems(X, y, sample_weight)``: the flows' designs, weights, losses
  and labels on validated data (one call per training fold);
- ``_flow_alpha(problems, alpha)`` and ``_flow_targets(problems, targets)``:
  the scale vector and the stops of the flows;
- ``_read_coef(problems, coefs)``: ``(coef_, intercept_)`` from the flows'
  coefficients;
- ``_make_network`` and ``_run_flows`` (see :mod:`.base`).

The ``...CV`` class adds ``_point_class`` (the single-point estimator it
refits), ``_default_scoring``, ``_validate_cv_data`` and the rules of its
default grids, ``_alpha_grid`` and ``_target_grid``.
"""

import warnings
from numbers import Integral

import numpy as np
from scipy.stats import rankdata
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils import Bunch
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)

from ..analysis.path import _check_alphas, _decreasing_stops, _stop_coefs
from ..utils._logspace import LN10
from ..utils._sklearn_compat import (
    Interval,
    StrOptions,
    _check_method_params,
    _fit_context,
    _raise_for_params,
    _routing_enabled,
)
from .base import BaseFlowEstimator, keep_state_on_error

# Flow statuses that end a trajectory where it should: every stop reached
# ('target'), or the limit of a regression flow ('converged').
_COMPLETE = ("target", "converged")


def cv_parameter_constraints(point_constraints, also_dropped=()):
    """The constraints of a ``...CV`` class from those of its point estimator.

    The grids replace ``alpha`` and ``target_loss``; a warm start has no
    meaning for a grid. The path is the exact flow's (see
    :class:`FlowCVMixin`): the parameters of discrete dynamics are not
    offered, nor those in ``also_dropped`` (``random_state``, where the point
    estimator uses it for SGD's mini-batches only).
    """
    dropped = ("alpha", "target_loss", "warm_start", *BaseFlowEstimator._dynamics_params,
               *also_dropped)
    constraints = {
        name: rule for name, rule in point_constraints.items() if name not in dropped
    }
    constraints.update({
        "alphas": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "target_losses": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "refit": ["boolean"],
    })
    return constraints


class FlowCVMixin:
    """Fit, score and routing of the cross-validated gradient-flow estimators.

    Cross-validation along the path follows the exact flow only. Discrete
    dynamics could stop at every target too, but what makes the path cheap
    is that one trajectory per scale serves every target, and a discrete
    trajectory also depends on ``learning_rate`` (and, for SGD, on
    ``batch_size`` and the shuffles): its grid is one of whole fits, which
    :class:`~sklearn.model_selection.GridSearchCV` over the point estimator
    runs as well.
    """

    # (read by the point estimator's fit machinery)
    dynamics = "flow"

    def _get_scorer(self):
        return get_scorer(self._default_scoring if self.scoring is None else self.scoring)

    def _point_estimator(self, **params):
        """An unfitted single-point estimator with this estimator's settings."""
        cls = self._point_class
        shared = {name: getattr(self, name) for name in cls._get_param_names()
                  if name in self._get_param_names()}
        return cls(**shared, **params)

    @_fit_context(prefer_skip_nested_validation=True)
    @keep_state_on_error
    def fit(self, X, y, sample_weight=None, **params):
        """Cross-validate the grid along one trajectory per fold and scale, then refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target labels (classifier) or values (regressor).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples: they weigh the loss of each
            training fold and of the refit and, as in
            :class:`~sklearn.linear_model.LogisticRegressionCV`, the test
            scores (with metadata routing enabled, only if the scorer requests
            them).

        **params : dict
            Metadata for the splitter (e.g. ``groups``) and the scorer; only
            with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit_cv(X, y, sample_weight, params)

    def score(self, X, y, sample_weight=None, **score_params):
        """The ``scoring`` score of the fitted model on the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test samples.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True labels or values.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        **score_params : dict
            Metadata for the scorer; only with metadata routing enabled.

        Returns
        -------
        score : float
        """
        _raise_for_params(score_params, self, "score")
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        if _routing_enabled():
            score_params = process_routing(self, "score", **score_params).scorer.score
        return self._get_scorer()(self, X, y, **score_params)

    def _fit_cv(self, X, y, sample_weight, params):
        _raise_for_params(params, self, "fit")
        X, y = self._validate_cv_data(X, y)
        if sample_weight is not None:
            # Its length and sign are checked here; each training fold checks
            # the rest as a fit of the point estimator does.
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != (X.shape[0],):
                raise ValueError(
                    f"sample_weight must have shape ({X.shape[0]},), one weight per "
                    f"sample; got shape {sample_weight.shape}."
                )
        if _routing_enabled():
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
        else:
            # As LogisticRegressionCV: the weights also weigh the test scores.
            score = {} if sample_weight is None else {"sample_weight": sample_weight}
            routed = Bunch(splitter=Bunch(split={}), scorer=Bunch(score=score))
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        folds = list(cv.split(X, y, **routed.splitter.split))
        fold_problems = [
            self._problems(X[train], y[train],
                           None if sample_weight is None else sample_weight[train])
            for train, _ in folds
        ]
        # The default grids are read from the data passed to fit.
        full = self._problems(X, y, sample_weight)
        alphas = self._alpha_grid(full)
        targets = self._target_grid(full, fold_problems)

        paths = _fold_paths(self, fold_problems, alphas, targets)
        scores, fold_models = self._score_paths(
            X, y, folds, fold_problems, paths, routed.scorer.score
        )

        self.alphas_, self.target_losses_ = alphas, targets
        self.scores_ = scores
        self.n_splits_ = len(folds)
        self.n_grad_evals_ = np.array([path.n_evals for path in paths])
        self.n_iter_ = max(r.n_iter for path in paths for _, r in path.results)
        self.cv_results_ = _cv_results(scores, alphas, targets)
        self.best_index_ = int(self.cv_results_["rank_test_score"].argmin())
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        a, t = np.unravel_index(self.best_index_, scores.shape[1:])
        self.alpha_ = _grid_value(alphas, a)
        self.target_loss_ = float(targets[t])

        messages = _stop_messages(self, paths)
        if self.refit:
            messages += self._refit(X, y, sample_weight)
        else:
            self.__dict__.pop("best_estimator_", None)
            self._average_folds(fold_problems, fold_models, a * len(targets) + t)
        if messages:
            warnings.warn(" ".join(messages), ConvergenceWarning)
        return self

    def _score_paths(self, X, y, folds, fold_problems, paths, score_params):
        """The score of every stop on its test fold, ``(n_folds, n_alphas, n_targets)``.

        Each stop is scored as a fitted point estimator holding its
        coefficients, so that any scorer sees what ``GridSearchCV`` would.
        With ``refit=False`` the models are also returned, fold by fold.
        """
        scorer = self._get_scorer()
        n_alphas, n_targets = len(paths[0].coefs), len(paths[0].coefs[0])
        scores = np.empty((len(folds), n_alphas, n_targets))
        fold_models = []
        for f, ((_, test), problems, path) in enumerate(zip(folds, fold_problems, paths)):
            X_test, y_test = X[test], y[test]
            test_params = _check_method_params(X, params=score_params, indices=test)
            model = self._point_estimator()
            model.n_features_in_ = X.shape[1]
            if "classes" in problems:
                model.classes_ = problems.classes
            models = []
            for a in range(n_alphas):
                for t in range(n_targets):
                    model.coef_, model.intercept_ = self._read_coef(problems, path.coefs[a][t])
                    scores[f, a, t] = scorer(model, X_test, y_test, **test_params)
                    if not self.refit:
                        models.append((model.coef_, model.intercept_))
            fold_models.append(models)
        return scores, fold_models

    def _refit(self, X, y, sample_weight):
        """Fit the point estimator at the chosen grid point on all the data.

        Returns the texts of its ConvergenceWarnings, which join those of the
        folds in one warning per fit.
        """
        best = self._point_estimator(alpha=self.alpha_, target_loss=self.target_loss_)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            best.fit(X, y, sample_weight=sample_weight)
        messages = []
        for w in caught:
            if issubclass(w.category, ConvergenceWarning):
                messages.append(f"The refit on all the data: {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.best_estimator_ = best
        self.n_iter_ = max(self.n_iter_, best.n_iter_)
        self.coef_, self.intercept_ = best.coef_, best.intercept_
        return messages

    def _average_folds(self, fold_problems, fold_models, best):
        """``refit=False``: the mean of the folds' models at the chosen point."""
        if "classes" in fold_problems[0]:
            if any(not np.array_equal(p.classes, self.classes_) for p in fold_problems):
                raise ValueError(
                    "refit=False averages the models of the training folds, which "
                    "needs every class in every training fold; use refit=True or "
                    "a stratified splitter."
                )
        coefs, intercepts = zip(*(models[best] for models in fold_models))
        self.coef_ = np.mean(coefs, axis=0)
        self.intercept_ = np.mean(intercepts, axis=0)
        if np.ndim(self.intercept_) == 0:
            self.intercept_ = float(self.intercept_)

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``groups`` (and any metadata the splitter asks for) goes to the
        splitter's ``split``; the scorer receives what it requests, in ``fit``
        (on each test fold) and in ``score``. See scikit-learn's
        :ref:`Metadata Routing User Guide <metadata_routing>`.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter`
            encapsulating the routing information.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv, classifier=is_classifier(self)),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=self._get_scorer(),
                method_mapping=MethodMapping()
                .add(caller="fit", callee="score")
                .add(caller="score", callee="score"),
            )
        )


def check_grid_count(value, name):
    """``value`` if it is a grid (array-like), else None: an int asks for the default rule."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        return None
    grid = np.asarray(value, dtype=float)
    if grid.size == 0:
        raise ValueError(f"{name} must be a positive int or a non-empty array; got {value!r}.")
    return grid


def user_alphas(estimator, n_features):
    """The user's grid of scales (validated), or None for the default rule."""
    grid = check_grid_count(estimator.alphas, "alphas")
    if grid is not None:
        _check_alphas(grid, n_features)
        return grid.ravel() if grid.ndim == 0 else grid
    return None


def _fold_paths(estimator, fold_problems, alphas, targets):
    """One trajectory per (fold, scale, binary problem), all in one dispatch.

    Returns one :class:`~sklearn.utils.Bunch` per fold: ``coefs[a][t]``, the
    coefficients of every problem of the fold at scale ``a`` and target
    ``t`` (at the end point for targets the flow did not reach, as the point
    estimator returns it), ``n_evals`` per scale, and ``(label, result)``
    per flow.
    """
    flows = []  # (fold, alpha index, flow alpha, where, label, seed)
    designs, losses, weights, stops, labels, flow_alphas = [], [], [], [], [], []
    for f, problems in enumerate(fold_problems):
        flow_targets = estimator._flow_targets(problems, targets)
        # Every scale of a fold starts from the same random draw, the one a
        # grid search's fit on that fold would make.
        seeds = estimator._problem_seeds(len(problems.designs), as_clone=True)
        for a, alpha in enumerate(alphas):
            flow_alpha = estimator._flow_alpha(problems, alpha)
            for k in range(len(problems.designs)):
                problem_stops, where = _decreasing_stops(flow_targets[k])
                label = f"[fold {f}, alphas[{a}]] {problems.labels[k]}"
                flows.append((f, a, flow_alpha, where, label, seeds[k]))
                designs.append(problems.designs[k])
                losses.append(problems.losses[k])
                weights.append(problems.weights[k])
                stops.append(problem_stops)
                labels.append(label)
                flow_alphas.append(flow_alpha)
    results = estimator._run_flows(
        designs, losses, weights, [None] * len(flows), stops, labels, flow_alphas,
        [flow[-1] for flow in flows],
    )
    paths = [
        Bunch(coefs=[[[] for _ in targets] for _ in alphas],
              n_evals=np.zeros(len(alphas), dtype=int), results=[])
        for _ in fold_problems
    ]
    for (f, a, flow_alpha, where, label, seed), result, problem_stops, Z in zip(
        flows, results, stops, designs
    ):
        # the flow's own network, which reads the coefficients of its states
        network = estimator._make_network(Z.shape[1], flow_alpha, np.random.RandomState(seed))
        coefs = _stop_coefs(network, result, len(problem_stops), result.coef)[where]
        for t in range(len(targets)):
            paths[f].coefs[a][t].append(coefs[t])
        paths[f].n_evals[a] += result.n_evals
        paths[f].results.append((label.strip(), result))
    return paths


def _stop_messages(estimator, paths):
    """The text of the fit's one ConvergenceWarning on the folds, if any."""
    results = [item for path in paths for item in path.results]
    early = [(label, r) for label, r in results if r.status not in _COMPLETE]
    if not early:
        return []
    label, r = early[0]
    statuses = sorted({r.status for _, r in early})
    return [
        f"Gradient flow stopped before the smallest target in {len(early)} of "
        f"{len(results)} trajectories (statuses {statuses}), e.g. {label}: "
        f"{r.status!r} at a training loss of 10**{r.log_loss / LN10:.4f}. The "
        "targets below the point reached were scored at that point, which "
        f"is what {estimator._point_class.__name__} returns for them. "
        "'stalled': the loss has a positive infimum on that training fold "
        "(classes not linearly separable, or a regression limit reached to "
        "rounding); 'max_iter': increase max_iter (it counts the steps of a "
        "whole trajectory) or tol."
    ]


def _grid_value(alphas, a):
    """Scale ``a`` of the grid as a user writes it: a float, or a per-feature row."""
    return float(alphas[a]) if alphas.ndim == 1 else alphas[a].copy()


def _cv_results(scores, alphas, targets):
    """``cv_results_`` in :class:`~sklearn.model_selection.GridSearchCV`'s layout.

    Candidates run over ``alphas`` (outer) and ``target_losses`` (inner),
    the order of ``GridSearchCV(param_grid={"alpha": ..., "target_loss":
    ...})``, whose ranking (NaN means tied with the worst) this follows.
    """
    n_folds = scores.shape[0]
    flat = scores.reshape(n_folds, -1)
    params = [{"alpha": _grid_value(alphas, a), "target_loss": float(target)}
              for a in range(len(alphas)) for target in targets]
    results = {
        "param_alpha": np.array([p["alpha"] for p in params], dtype=object),
        "param_target_loss": np.array([p["target_loss"] for p in params]),
        "params": params,
    }
    for i in range(n_folds):
        results[f"split{i}_test_score"] = flat[i]
    mean = flat.mean(axis=0)
    results["mean_test_score"] = mean
    results["std_test_score"] = np.sqrt(np.mean((flat - mean) ** 2, axis=0))
    if np.isnan(mean).all():
        rank = np.ones(mean.shape, dtype=np.int32)
    else:
        rank = rankdata(-np.nan_to_num(mean, nan=np.nanmin(mean) - 1), method="min")
    results["rank_test_score"] = rank.astype(np.int32)
    return results
