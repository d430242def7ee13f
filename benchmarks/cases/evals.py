"""Evaluations to reach a target loss, on the grids of ``settings.evals_grids``.

Cold fits at the package default ``tol`` to each target (1e-10, 1e-100,
1e-300 in the full run): gradient evaluations, wall time, time per
evaluation and the direction error against the tight-tolerance reference.
No target is checked: the evaluation targets are case ``tol_scan``'s.
"""

from common import (
    DEFAULT_TOL, _grid_reference, _reached, _result, direction_error, fit_flow, make_problem,
    timed,
)


def run(settings):
    """Evaluations, time and direction error to reach each target loss."""
    rows = []
    for grid in settings.evals_grids:
        size = tuple(grid["size"])
        X, y = make_problem(*size, seed=settings.seed)
        for depth in grid["depths"]:
            for alpha in grid["alphas"]:
                for loss in grid["losses"]:
                    for target in grid["targets"]:
                        rows.append(_evals_row(settings, grid, size, X, y, depth, alpha,
                                               loss, target))
    return _result(
        "Gradient evaluations to reach a target loss",
        f"Cold fits at the package default tol={DEFAULT_TOL:g} (fit_intercept=False); "
        f"direction error ||b/|b| - r/|r|||_2 against the same package at "
        f"tol={settings.ref_tol:g} (reference). Fits are capped at max_evals; "
        "'reached' is no when the cap stopped the fit first. n/a: no reference at this "
        "size and target (too costly), or the fit was capped.",
        tables=[{"title": "", "columns": [
            "n x d", "D", "alpha", "loss", "target", "reached", "evals", "time [s]",
            "repeats", "ms / eval", "dir. error", "ref. evals"], "rows": rows}],
    )


def _evals_row(settings, grid, size, X, y, depth, alpha, loss, target):
    def fit_once():
        return fit_flow(X, y, depth=depth, alpha=alpha, loss=loss, target=target,
                        tol=DEFAULT_TOL, max_evals=grid["max_evals"],
                        fit_params=settings.fit_params)

    first = fit_once()
    if first.reached:
        seconds, n_runs, fit = timed(fit_once, settings)
    else:  # a capped fit is timed once: its time only says "too slow"
        seconds, n_runs, fit = first.seconds, 1, first
    row = {"n x d": f"{size[0]} x {size[1]}", "D": depth, "alpha": alpha, "loss": loss,
           "target": target, "reached": fit.reached, "evals": fit.n_evals,
           "time [s]": seconds, "repeats": n_runs,
           "ms / eval": 1e3 * seconds / fit.n_evals, "dir. error": None, "ref. evals": None}
    if fit.reached and target in grid["ref_targets"]:
        ref = _grid_reference(settings, grid, size, depth, alpha, loss, target)
        if ref.reached:
            row["dir. error"] = direction_error(fit.coef, ref.coef)
            row["ref. evals"] = ref.n_evals
    row["reached"] = _reached(fit)
    return row
