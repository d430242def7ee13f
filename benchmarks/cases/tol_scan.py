"""The evaluation targets: evaluations at the loosest ``tol`` that is accurate enough.

For each target loss, ``tol`` is tightened from 1e-3 until the fit's
direction error against the reference is at most ``settings.scan_dir_err``
(at two consecutive ``tol``); the evaluations there are checked against
300 / 1,000 / 2,000 at 1e-10 / 1e-100 / 1e-300. Also compares the reference
with one ten times tighter.
"""

from dataclasses import replace

from common import _check, _result, direction_error, loosest_tol, reference


def run(settings):
    """The loosest tol meeting the direction-error goal, per target (the targets)."""
    size = tuple(settings.scan_size)
    depth, alpha, loss = settings.scan_depth, settings.scan_alpha, settings.scan_loss
    budgets = dict(zip((1e-10, 1e-100, 1e-300), (300, 1000, 2000)))
    rows, checks = [], []
    for target in settings.scan_targets:
        scan, chosen = loosest_tol(settings, size, depth, alpha, loss, target,
                                   settings.fit_params)
        rows.extend({"target": target, **row} for row in scan)
        budget = budgets.get(target)
        if budget is None:
            continue
        if chosen is None:
            checks.append(_check(
                f"reach {target:g} at dir. error <= {settings.scan_dir_err:g} in <= "
                f"{budget} evals", "no tol reached the direction error", False))
        else:
            tol, fit, err = chosen
            checks.append(_check(
                f"reach {target:g} at dir. error <= {settings.scan_dir_err:g} in <= "
                f"{budget} evals", f"{fit.n_evals} evals (tol={tol:g}, error {err:.1e})",
                fit.n_evals <= budget))
    # How far the reference itself can be trusted: against one 10x tighter.
    notes = []
    target = settings.scan_targets[-1]
    ref = reference(settings, size, depth, alpha, loss, target)
    tighter = reference(replace(settings, ref_tol=settings.ref_tol / 10), size, depth, alpha,
                        loss, target)
    if ref.reached and tighter.reached:
        notes.append(
            f"Reference check: at target {target:g} the reference (tol={settings.ref_tol:g}, "
            f"{ref.n_evals} evals) differs in direction from one at tol="
            f"{settings.ref_tol / 10:g} by {direction_error(ref.coef, tighter.coef):.1e}.")
    return _result(
        "Targets: evaluations at the loosest tol that meets the direction error",
        f"n x d = {size[0]} x {size[1]}, D={depth}, alpha={alpha}, loss={loss}. "
        f"tol is tightened from {settings.scan_tols[0]:g} in half decades until the "
        f"direction error against the reference (tol={settings.ref_tol:g}) is <= "
        f"{settings.scan_dir_err:g} at two consecutive tols; the first of the two is "
        "the tol reported (the error is not monotone in tol).",
        tables=[{"title": "", "columns": ["target", "tol", "reached", "evals", "time [s]",
                                          "dir. error", "meets dir. error"], "rows": rows}],
        checks=checks, notes=notes,
    )
