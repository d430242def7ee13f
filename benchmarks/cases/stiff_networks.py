"""The deep and convolutional networks before and after their stiff steps.

Before: ``solver='explicit'`` (what ``solver='auto'`` did for these
networks before they had a stiff method); after: ``solver='auto'`` (DOP853,
then, once the flow is stiff, Radau steps with the data Jacobian where it
is small, with the convolutional network's Jacobian by blocks where it is
not, Krylov-W steps for the deep network there). Evaluations (summed over the
one-vs-rest flows), wall time of one fit and how it ended, on the data of
issue 24 (``DeepLinearClassifier()`` on the standardized breast_cancer
training split, ``target_loss=1e-2`` on all of breast_cancer, raw iris) and
the convolutional network at ``alpha=1``, depth 3 against the diagonal
network of the same depth and alpha on the Gaussian problem, to each of
``settings.stiff_conv_targets``. The deep and convolutional fits are capped
at about ``settings.stiff_max_evals`` evaluations per flow (``max_iter``).
No target is checked.
"""

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_implicit import (
    ConvolutionalLinearClassifier,
    DeepLinearClassifier,
    DiagonalLinearClassifier,
)

from common import (
    EVALS_PER_STEP, _result, bundled_dataset, fit_recording, make_problem, standardized_dataset,
)


def _datasets(settings):
    X, y = bundled_dataset("breast_cancer")
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    sets = {
        "breast_cancer training split (398 x 30)":
            (StandardScaler().fit_transform(X_train), y_train, {}),
        "breast_cancer (569 x 30), target 1e-2":
            (*standardized_dataset("breast_cancer"), {"target_loss": 1e-2}),
        "iris, raw (150 x 4)": (*bundled_dataset("iris"), {}),
    }
    return [(name, *sets[name]) for name in sets
            if name.split()[0].rstrip(",") in settings.stiff_datasets]


def _fit(estimator, X, y):
    seconds, caught = fit_recording(estimator, X, y)
    ended = sorted(set(estimator.status_))
    if any(issubclass(w.category, ConvergenceWarning) for w in caught) and ended == ["target"]:
        ended = ["warning"]
    return {"evals": int(np.sum(estimator.n_grad_evals_)), "time [s]": seconds,
            "reached 10^ (max)": float(np.max(estimator.log10_loss_)),
            "ended": ", ".join(f"{list(estimator.status_).count(s)} {s}" for s in ended)}


def run(settings):
    """Deep and convolutional networks: explicit (before) and auto (after)."""
    cap = -(-settings.stiff_max_evals // EVALS_PER_STEP)
    rows = []
    for name, X, y, params in _datasets(settings):
        for solver in ("explicit", "auto"):
            clf = DeepLinearClassifier(solver=solver, random_state=0, max_iter=cap, **params)
            rows.append({"data": name, "estimator": "DeepLinearClassifier", "solver": solver,
                         **_fit(clf, X, y)})
    size = tuple(settings.stiff_conv_size)
    X, y = make_problem(*size, seed=settings.seed)
    for target in settings.stiff_conv_targets:
        common = dict(alpha=1.0, depth=3, fit_intercept=False, target_loss=target)
        fits = [("DiagonalLinearClassifier", "auto", DiagonalLinearClassifier(**common))]
        fits += [("ConvolutionalLinearClassifier", solver, ConvolutionalLinearClassifier(
            solver=solver, random_state=0, max_iter=cap, **common))
            for solver in ("explicit", "auto")]
        for label, solver, clf in fits:
            rows.append({"data": f"Gaussian {size[0]} x {size[1]}, alpha 1, depth 3, "
                                 f"target {target:g}",
                         "estimator": label, "solver": solver, **_fit(clf, X, y)})
    return _result(
        "Deep and convolutional networks: explicit against stiff steps",
        "Before: solver='explicit'; after: solver='auto' "
        "(once the flow is stiff: Radau steps with the data Jacobian where it is small, "
        "with the convolutional network's Jacobian by blocks where it is not, Krylov-W "
        "steps for the deep network there); deep and convolutional fits capped at "
        f"max_iter={cap:,} steps. Each fit timed once, one BLAS thread; "
        "evaluations summed over the one-vs-rest flows; 'ended' counts the flows' "
        "status_.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
    )
