"""The control set of the integrator: evaluations and errors over fixed problems and tols.

A change to the step methods, their error control or the automatic switch
is judged on this set before the targeted cases: the Gaussian 100 x 1000
problem of the papers' regime (sparse teacher) at depths 2, 3 and 4, alpha
from 1e-6 to 1, both losses, targets from 1e-3 to 1e-300; breast_cancer
and wine (standardized, with intercept; wine's three one-vs-rest flows
summed); a tall separable Gaussian 5000 x 20; and the regressor on a sparse
50 x 200 problem. Each at ``settings.control_tols``, against the same fit
at ``tol=1e-11``: the direction error of ``[coef_, intercept_]`` for the
classifiers, the relative error of ``coef_`` for the regressor. Evaluation
counts are machine-independent; no targets, the totals per tol are the
summary.
"""

import warnings

import numpy as np

from common import (
    _result,
    direction_error,
    make_problem,
    separable_gaussian,
    standardized_dataset,
)
from sklearn_implicit import DiagonalLinearClassifier, DiagonalLinearRegressor


def _sparse_regression(n, d, seed=0):
    """Gaussian design, noiseless targets of a 5-sparse teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    teacher = np.zeros(d)
    support = rng.choice(d, 5, replace=False)
    teacher[support] = rng.standard_normal(5) + np.sign(rng.standard_normal(5))
    return X, X @ teacher


def _data(spec):
    kind, *args = spec
    if kind == "dataset":
        return standardized_dataset(*args)
    if kind == "tall":
        # (seed 1: the tall problem of the earlier scratch control runs)
        return separable_gaussian(*args, np.random.default_rng(1))
    if kind == "gaussian":
        return make_problem(*args)
    return _sparse_regression(*args)


def _fit(spec, data, params, tol):
    """``(coefficients with intercept, evaluations)`` of one fit."""
    estimator = DiagonalLinearRegressor if spec[0] == "regression" else DiagonalLinearClassifier
    est = estimator(tol=tol, max_iter=200_000, **params)
    with warnings.catch_warnings():
        # (fits that end at max_iter or on a plateau warn; the table shows them)
        warnings.simplefilter("ignore")
        est.fit(*data)
    coef = np.hstack([np.ravel(est.coef_), np.ravel(est.intercept_)])
    return coef, int(np.sum(est.n_grad_evals_))


def run(settings):
    """Evaluations and errors of the control set at each tol."""
    rows, totals = [], dict.fromkeys(settings.control_tols, 0)
    for name, spec, params in settings.control_problems:
        data = _data(spec)
        ref, ref_evals = _fit(spec, data, params, settings.ref_tol)
        for tol in settings.control_tols:
            coef, evals = _fit(spec, data, params, tol)
            if spec[0] == "regression":
                error = float(np.linalg.norm(coef - ref) / np.linalg.norm(ref))
            else:
                error = direction_error(coef, ref)
            totals[tol] += evals
            rows.append({"problem": name, "tol": tol, "evals": evals, "error": error,
                         "ref. evals": ref_evals})
    summary = [{"tol": tol, "evals": total} for tol, total in totals.items()]
    return _result(
        "The integrator's control set: evaluations and errors",
        f"Default estimators (DiagonalLinearClassifier / DiagonalLinearRegressor) with "
        f"the parameters named, at each tol, against the same fit at tol="
        f"{settings.ref_tol:g} (reference): 'error' is the direction error of "
        "[coef_, intercept_] for the classifiers, the relative error of coef_ for the "
        "regressor. Gaussian: 100 x 1000, labels of a 5-sparse teacher, no intercept; "
        "tall: 5000 x 20 Gaussian, labels of a random direction, no intercept; "
        "breast_cancer and wine standardized, with intercept (wine: three flows, "
        "evaluations summed); regressor: 50 x 200 Gaussian, 5-sparse noiseless "
        "targets, no intercept, to its default target.",
        tables=[
            {"title": "Per problem", "columns": ["problem", "tol", "evals", "error",
                                                 "ref. evals"], "rows": rows},
            {"title": "Totals", "columns": ["tol", "evals"], "rows": summary},
        ],
    )
