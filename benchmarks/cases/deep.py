"""``DeepLinearClassifier``: evaluations and time per evaluation over a bare pair.

Depth 3, width 100 in the full run, to each of ``settings.deep_targets``.
No target is checked.
"""

import warnings

import numpy as np

from sklearn_implicit import DeepLinearClassifier

from common import (
    EVALS_PER_STEP, _block_time, _result, bare_pair, make_problem, signed_design, timed,
)


def run(settings):
    """DeepLinearClassifier: evaluations and cost per evaluation."""
    size = tuple(settings.deep_size)
    X, y = make_problem(*size, seed=settings.seed)
    Z = signed_design(X, y)
    bare = bare_pair(Z, settings.seed)
    rows = []
    for target in settings.deep_targets:
        def fit():
            clf = DeepLinearClassifier(
                depth=settings.deep_depth, width=settings.deep_width, target_loss=target,
                fit_intercept=False, random_state=0,
                max_iter=-(-settings.deep_max_evals // EVALS_PER_STEP))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return clf.fit(X, y)

        seconds, n_runs, clf = timed(fit, settings)
        evals = int(np.sum(clf.n_grad_evals_))
        t_pair = _block_time(bare, settings.bare_block)
        rows.append({"target": target, "reached 10^": float(clf.log10_loss_[0]),
                     "evals": evals, "time [s]": seconds, "repeats": n_runs,
                     "ms / eval": 1e3 * seconds / evals,
                     "eval / bare pair": seconds / evals / t_pair})
    return _result(
        "DeepLinearClassifier",
        f"depth {settings.deep_depth}, width {settings.deep_width}, n x d = {size[0]} x "
        f"{size[1]}, default alpha, init, loss and tol, random_state=0; 'eval / bare pair' "
        "divides the "
        "fit's time per gradient evaluation by two bare products with X.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
    )
