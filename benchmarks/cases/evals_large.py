"""The grid of case ``evals`` on the large problem, one trajectory per configuration.

Each configuration is fitted once: a cold fit to the first target, then
warm starts to the next ones, with cumulative evaluations and time, and the
direction error at the first target. Run by hand only (about 40 minutes,
report in ``RESULTS_large.md``); no target is checked.
"""

import json
import time

from common import (
    DEFAULT_TOL, EVALS_PER_STEP, _classifier, _fit, _grid_reference, _json_default, _reached,
    _result, direction_error, make_problem,
)


def run(settings):
    """Case evals on the large problem: one timed trajectory per configuration."""
    grid = settings.large_grid
    size = tuple(grid["size"])
    X, y = make_problem(*size, seed=settings.seed)
    rows = []
    for depth in grid["depths"]:
        for alpha in grid["alphas"]:
            for loss in grid["losses"]:
                rows.extend(_trajectory_rows(settings, grid, size, X, y, depth, alpha, loss))
                # a long case: its rows so far, in case it is cut short
                print(f"    [{time.strftime('%H:%M:%S')}] "
                      + json.dumps(rows[-len(grid["targets"]):], default=_json_default),
                      flush=True)
    return _result(
        "Gradient evaluations to reach a target loss, large problem",
        f"As case evals (package default tol={DEFAULT_TOL:g}, fit_intercept=False), "
        "but each configuration is one trajectory, timed once: a cold fit to the "
        "first target, then warm starts (the step size carries over) to the next; "
        "evaluations and time are cumulative from the start. The trajectory is capped "
        f"at {grid['max_evals']:,} evaluations, counted as steps of {EVALS_PER_STEP} (a last "
        "leg of explicit steps, 12 evaluations each, can run past it). Direction error against "
        f"the reference (tol={settings.ref_tol:g}, capped at "
        f"{grid['ref_max_evals']:,} evaluations) at the targets "
        f"{', '.join(f'{t:g}' for t in grid['ref_targets'])} only"
        + "".join(f"; none for D={depth}, alpha={alpha:g} (too costly)"
                  for depth, alpha in grid.get("ref_skip", ()))
        + "; n/a where the reference hit its cap or there is none.",
        tables=[{"title": "", "columns": [
            "n x d", "D", "alpha", "loss", "target", "reached", "evals", "time [s]",
            "ms / eval", "dir. error", "ref. evals"], "rows": rows}],
    )


def _trajectory_rows(settings, grid, size, X, y, depth, alpha, loss):
    clf = None
    evals, seconds, rows = 0, 0.0, []
    for target in sorted(grid["targets"], reverse=True):
        row = {"n x d": f"{size[0]} x {size[1]}", "D": depth, "alpha": alpha, "loss": loss,
               "target": target, "reached": "not run (cap)", "evals": None,
               "time [s]": None, "ms / eval": None, "dir. error": None, "ref. evals": None}
        rows.append(row)
        left = grid["max_evals"] - evals
        if left <= 0:
            continue
        if clf is None:
            clf = _classifier(depth=depth, alpha=alpha, loss=loss, target=target,
                              tol=DEFAULT_TOL, max_evals=left, fit_params=settings.fit_params)
        clf.set_params(warm_start=True, target_loss=target,
                       max_iter=max(1, -(-left // EVALS_PER_STEP)))
        fit = _fit(clf, X, y, target)
        evals += fit.n_evals
        seconds += fit.seconds
        row.update({"reached": _reached(fit), "evals": evals, "time [s]": seconds,
                    "ms / eval": 1e3 * seconds / evals})
        if not fit.reached:
            evals = grid["max_evals"]  # a capped trajectory cannot be continued
            continue
        if target in grid["ref_targets"] and (depth, alpha) not in grid.get("ref_skip", ()):
            ref = _grid_reference(settings, grid, size, depth, alpha, loss, target)
            if ref.reached:
                row["dir. error"] = direction_error(fit.coef, ref.coef)
                row["ref. evals"] = ref.n_evals
    return rows
