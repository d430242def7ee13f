"""The estimators on the data scikit-learn users bring.

The datasets that ship with scikit-learn (breast_cancer, iris, wine,
digits) and ``make_classification`` problems of ``settings.real_synthetic``
sizes, standardized; each estimator with its defaults, at its default
target and at ``settings.real_target``: gradient evaluations, wall time
(one fit), the loss reached and how the fit ended, and the time over the
fit times of ``LogisticRegression`` and ``LinearSVC`` on the same data in
the same run. The targets of the speed work (evaluations on breast_cancer,
the deep network within 5x the diagonal one's time) are checked.
"""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from sklearn_implicit import DeepLinearClassifier, DiagonalLinearClassifier

from common import (
    _check, _result, bundled_dataset, fit_recording, real_data_problems, timed,
)

_ESTIMATORS = {"DiagonalLinearClassifier": DiagonalLinearClassifier,
               "DeepLinearClassifier": DeepLinearClassifier}


def _ended(caught):
    """How a fit ended, from its ConvergenceWarning (one per fit at most)."""
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            text = str(w.message)
            return "max_iter" if "max_iter" in text else "stalled"
    return "target"


def _fit_once(estimator, X, y):
    seconds, caught = fit_recording(estimator, X, y)
    return seconds, _ended(caught)


def run(settings):
    """Estimators with their defaults on real and synthetic data."""
    rows, checks = [], []
    for name, X, y in real_data_problems(settings):
        n, d = X.shape
        references = {}
        for label, make in [("LogisticRegression", lambda: LogisticRegression(max_iter=1_000)),
                            ("LinearSVC", LinearSVC)]:
            def fit(make=make):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    return make().fit(X, y)

            references[label] = timed(fit, settings)[0]
        times = {}
        for label, cls in _ESTIMATORS.items():
            skipped = label == "DeepLinearClassifier" and n * d > settings.real_deep_max_size
            for target in (None, settings.real_target):
                row = {"data": name, "n x d": f"{n} x {d}", "classes": len(np.unique(y)),
                       "estimator": label, "target": "default" if target is None else target}
                if skipped:
                    row["ended"] = f"not run (n x d above {settings.real_deep_max_size:,})"
                    rows.append(row)
                    continue
                params = {} if target is None else {"target_loss": target}
                if settings.real_max_iter is not None:
                    params["max_iter"] = settings.real_max_iter
                estimator = cls(**params)
                seconds, ended = _fit_once(estimator, X, y)
                times[label, target] = seconds
                row.update({
                    "evals": int(np.sum(estimator.n_grad_evals_)),
                    "time [s]": seconds,
                    "reached 10^ (max)": float(np.max(estimator.log10_loss_)),
                    "ended": ended,
                    "/ LogisticRegression": seconds / references["LogisticRegression"],
                    "/ LinearSVC": seconds / references["LinearSVC"],
                })
                rows.append(row)
                if name == "breast_cancer" and target is None:
                    # the evaluation targets at the default target
                    bound = {"DiagonalLinearClassifier": 600, "DeepLinearClassifier": 3000}[label]
                    kind = "diagonal" if label == "DiagonalLinearClassifier" else "deep"
                    checks.append(_check(
                        f"breast_cancer, {kind}, default target 1e-5: <= {bound:,} evaluations",
                        row["evals"], row["evals"] <= bound))
        deep, diagonal = (times.get(("DeepLinearClassifier", None)),
                          times.get(("DiagonalLinearClassifier", None)))
        if name in ("breast_cancer", "iris") and deep is not None:
            ratio = deep / diagonal
            checks.append(_check(f"{name}, deep within 5x the diagonal model's time (defaults)",
                                 f"{ratio:.2f}", ratio <= 5.0))
    columns = ["data", "n x d", "classes", "estimator", "target", "evals", "time [s]",
               "reached 10^ (max)", "ended", "/ LogisticRegression", "/ LinearSVC"]
    tables = [{"title": "", "columns": columns, "rows": rows}]
    if "breast_cancer" in settings.real_datasets:
        scaling = _raw_against_standardized(settings)
        tables.append({"title": "Raw against standardized features", "columns": list(scaling[0]),
                       "rows": scaling})
    return _result(
        "Real and synthetic data, default estimators",
        "Standardized features (StandardScaler); each estimator with its defaults "
        f"(max_iter={settings.real_max_iter or 'default'}), at its default target and at "
        f"{settings.real_target:g}, each fit timed once; LogisticRegression(max_iter=1000) "
        "and LinearSVC() timed as the median of repeats on the same data. 'reached' is the "
        "largest log10 loss over the one-vs-rest problems; 'ended' says how the fit ended "
        "(its ConvergenceWarning). The deep network is not run above "
        f"{settings.real_deep_max_size:,} entries.",
        tables=tables,
        checks=checks,
        notes=["Raw against standardized: the user guide's example "
               "(DiagonalLinearClassifier(alpha=0.1, target_loss=0.1)) on breast_cancer as it "
               "ships and in a Pipeline after StandardScaler, fitted on a 70% split "
               f"(train_test_split(test_size=0.3, random_state={settings.seed})) and scored "
               "on the other 30%."],
    )


def _raw_against_standardized(settings):
    """The user guide's example fitted on raw and on standardized features."""
    X, y = bundled_dataset("breast_cancer")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3,
                                                        random_state=settings.seed)
    raw = DiagonalLinearClassifier(alpha=0.1, target_loss=0.1)
    scaled = make_pipeline(StandardScaler(), clone(raw))
    rows = []
    for features, model, flow in [("raw", raw, raw), ("standardized", scaled, scaled[-1])]:
        seconds, ended = _fit_once(model, X_train, y_train)
        rows.append({"features": features, "evals": int(np.sum(flow.n_grad_evals_)),
                     "time [s]": seconds, "ended": ended,
                     "test accuracy": float(model.score(X_test, y_test))})
    return rows
