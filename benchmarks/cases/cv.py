"""``DiagonalLinearClassifierCV`` against the ideal of path reuse and GridSearchCV.

On breast_cancer (standardized; full run: 8 scales by the estimator's
default rule, 10 targets from 1e-1 to 1e-100, 5 stratified folds), in one
process with BLAS pinned: the cross-validated fit; the ideal that one
trajectory per fold and scale sets, the sum over folds and scales of one
``DiagonalLinearClassifier`` fit to the smallest target, plus the refit at
the chosen point; and ``GridSearchCV`` over ``DiagonalLinearClassifier`` on
the same grid and folds (one fit per grid point and fold, plus the refit).
Targets: CV <= 1.3x the ideal, GridSearchCV >= 3x the CV.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_implicit import DiagonalLinearClassifier, DiagonalLinearClassifierCV

from common import (
    _check, _result, breast_cancer_or_gaussian, median_ratio, paired_times,
)


def _quiet(fit):
    # Folds that are not separable stall; that is part of the workload.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit()


def run(settings):
    """DiagonalLinearClassifierCV: time against the path-reuse ideal and GridSearchCV."""
    X, y, name = breast_cancer_or_gaussian(settings.cv_size, settings.seed)
    folds = StratifiedKFold(settings.cv_folds)
    splits = list(folds.split(X, y))
    targets = 10.0 ** -np.unique(np.round(np.geomspace(*settings.cv_target_exponents,
                                                       settings.cv_targets)))
    # The default rule's scales, then passed explicitly to every contender.
    rule = DiagonalLinearClassifierCV(alphas=settings.cv_alphas, target_losses=[targets[0]],
                                      cv=splits)
    alphas = _quiet(lambda: rule.fit(X, y)).alphas_

    def cv_fit():
        return _quiet(lambda: DiagonalLinearClassifierCV(
            alphas=alphas, target_losses=targets, cv=splits).fit(X, y))

    state = {}

    def ideal():
        # One fit per fold and scale to the smallest target, then the refit.
        evals = 0
        for train, _ in splits:
            for alpha in alphas:
                fit = _quiet(lambda: DiagonalLinearClassifier(
                    alpha=alpha, target_loss=targets.min()).fit(X[train], y[train]))
                evals += int(fit.n_grad_evals_.sum())
        cv = state["cv"]
        _quiet(lambda: DiagonalLinearClassifier(
            alpha=cv.alpha_, target_loss=cv.target_loss_).fit(X, y))
        state["ideal_evals"] = evals

    # CPU time besides wall time: every contender runs in this process on one
    # BLAS thread, so its CPU time is its work, whatever else loads the
    # machine (the wall times of one CV fit were seen to differ 2.6-fold
    # within a run on the shared development machine).
    cpu = {"cv": [], "ideal": [], "search": [], "bracket": []}

    def on_cpu(name, fn):
        def timed():
            start = time.process_time()
            fn()
            cpu[name].append(time.process_time() - start)
        return timed

    # Each pair fits the CV first: the ideal's refit uses its choice.
    times = paired_times({"cv": on_cpu("cv", lambda: state.update(cv=cv_fit())),
                          "ideal": on_cpu("ideal", ideal)},
                         settings, min_repeats=settings.cv_min_pairs)
    cv = state["cv"]

    # GridSearchCV is too long to repeat: it is timed once, between two CV
    # fits, and held against their mean, so that a load that drifts over
    # its minutes weighs on both sides of the ratio.
    bracket = []

    def timed_cv():
        start = time.perf_counter()
        on_cpu("bracket", cv_fit)()
        bracket.append(time.perf_counter() - start)

    def grid_search():
        state["search"] = _quiet(lambda: GridSearchCV(
            DiagonalLinearClassifier(), {"alpha": list(alphas), "target_loss": list(targets)},
            cv=splits).fit(X, y))

    timed_cv()
    start = time.perf_counter()
    on_cpu("search", grid_search)()
    search_seconds = time.perf_counter() - start
    search = state["search"]
    timed_cv()

    cv_seconds, ideal_seconds = float(np.median(times["cv"])), float(np.median(times["ideal"]))
    cv_over_ideal = median_ratio(times["cv"], times["ideal"])
    search_over_cv = search_seconds / np.mean(bracket)
    cpu_cv_over_ideal = median_ratio(cpu["cv"], cpu["ideal"])
    cpu_search_over_cv = cpu["search"][0] / np.mean(cpu["bracket"])
    split_scores = np.array([search.cv_results_[f"split{k}_test_score"]
                             for k in range(len(splits))])
    row = {
        "grid": f"{len(alphas)} x {len(targets)} x {len(splits)} folds",
        "CV [s]": cv_seconds,
        "ideal [s]": ideal_seconds,
        "CV / ideal": cv_over_ideal,
        "GridSearchCV [s]": search_seconds,
        "CV before / after it [s]": f"{bracket[0]:.3g} / {bracket[1]:.3g}",
        "GridSearchCV / CV": search_over_cv,
        "CPU: CV / ideal": cpu_cv_over_ideal,
        "CPU: GridSearchCV / CV": cpu_search_over_cv,
        "CV evals / ideal evals": float(cv.n_grad_evals_.sum() / state["ideal_evals"]),
        "pairs": len(times["cv"]),
        "same choice": bool(cv.alpha_ == search.best_params_["alpha"]
                            and cv.target_loss_ == search.best_params_["target_loss"]),
        "max score difference": float(np.max(np.abs(cv.scores_.reshape(len(splits), -1)
                                                    - split_scores))),
    }
    return _result(
        "Cross-validation along the path",
        f"{name}, {X.shape[0]} x {X.shape[1]}: DiagonalLinearClassifierCV with "
        f"{len(alphas)} scales by its default rule ({alphas.min():.3g} to "
        f"{alphas.max():.3g}), {len(targets)} targets from {targets.max():g} to "
        f"{targets.min():g}, {len(splits)} stratified folds, n_jobs=1. Ideal: one "
        "DiagonalLinearClassifier fit per fold and scale to the smallest target plus "
        "the refit; CV and ideal timed in pairs (median of the per-pair ratios), "
        "GridSearchCV over the same grid and folds once, between two CV fits, against "
        "their mean time. The targets are checked on CPU time (one process, one BLAS "
        "thread: the work, whatever the load); wall times beside. Evaluations exclude "
        "the refit "
        f"(chosen: alpha = {cv.alpha_:.3g}, target = {cv.target_loss_:g}, mean "
        f"accuracy {cv.best_score_:.4f}).",
        tables=[{"title": "", "columns": list(row), "rows": [row]}],
        checks=[
            _check("CV <= 1.3x the ideal of path reuse (CPU time)", f"{cpu_cv_over_ideal:.3g}",
                   cpu_cv_over_ideal <= 1.3, f"wall time {cv_over_ideal:.3g}"),
            _check("GridSearchCV >= 3x the CV (CPU time)", f"{cpu_search_over_cv:.3g}",
                   cpu_search_over_cv >= 3.0, f"wall time {search_over_cv:.3g}"),
        ],
    )
