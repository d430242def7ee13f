"""The package against scipy's ``solve_ivp(method='DOP853')`` at equal accuracy.

Both integrate the same ODE: the diagonal network's state in the log-loss
clock ``tau = -log L``, whose velocity is ``LinearFlow.evaluate`` (the
package's own, so that only the integrators differ), from the same initial
state to ``tau = -log(target)``. The package fits at its default tol; its
direction error against the tight-tolerance reference sets the accuracy
(not below ``settings.scipy_min_error``, near the reference's own
accuracy). scipy's rtol is tightened from ``settings.scipy_rtols[0]`` in
half decades until its error meets the package's; ``atol = rtol`` (the
state is a logarithm of the weights: an absolute error in it is a relative
error of the coefficients). Times are medians of repeats, one BLAS thread.
"""

import time

import numpy as np
from scipy.integrate import solve_ivp

from common import (
    DEFAULT_TOL, LOSSES, DiagonalNetwork, LinearFlow, _check, _reached, _result,
    direction_error, fit_flow, make_problem, reference, signed_design, timed,
)


class _Budget(Exception):
    pass


def _scipy_fit(Z, depth, alpha, loss, target, rtol, max_evals):
    """solve_ivp on the tau-clock ODE: (coef, evals, seconds); coef is
    "budget" where it ran past ``max_evals`` evaluations, None where it
    failed (a step size below its floor: trial states that overflow)."""
    n, d = Z.shape
    flow = LinearFlow(DiagonalNetwork(np.full(d, alpha), depth), LOSSES[loss](), Z,
                      np.ones(n))
    count = [0]

    def velocity(tau, state):
        count[0] += 1
        if count[0] > max_evals:
            raise _Budget
        return flow.evaluate(state).dstate

    start = time.perf_counter()
    state = flow.network.initial_state()
    tau0 = -flow.evaluate(state).log_loss
    try:
        sol = solve_ivp(velocity, (tau0, -np.log(target)), state, method="DOP853",
                        rtol=rtol, atol=rtol)
    except _Budget:
        return "budget", count[0], time.perf_counter() - start
    seconds = time.perf_counter() - start
    if not sol.success:
        return None, count[0], seconds
    return flow.evaluate(sol.y[:, -1]).coef.copy(), count[0], seconds


def run(settings):
    """Time at equal accuracy against scipy's DOP853, over the grid of case evals."""
    rows, wins, total = [], 0, 0
    grid = settings.scipy_grid
    size = tuple(grid["size"])
    X, y = make_problem(*size, seed=settings.seed)
    Z = signed_design(X, y)
    for depth, alpha in grid["configs"]:
        for loss in grid["losses"]:
            for target in grid["targets"]:
                row = _row(settings, X, y, Z, size, depth, alpha, loss, target)
                rows.append(row)
                if row["ahead"] is not None:
                    total += 1
                    wins += row["ahead"]
    checks = [_check("ahead of scipy's DOP853 at equal accuracy in every configuration",
                     f"{wins} of {total}", total > 0 and wins == total)]
    return _result(
        "Against scipy's solve_ivp(DOP853) on the same tau-clock ODE",
        f"n x d = {size[0]} x {size[1]} (the problem of case evals). The package fits at "
        f"tol={DEFAULT_TOL:g} (DiagonalLinearClassifier, no intercept); 'accuracy' is its "
        f"direction error against the reference (tol={settings.ref_tol:g}), at least "
        f"{settings.scipy_min_error:g}. scipy integrates the same ODE (the package's "
        "velocity, LinearFlow.evaluate) with rtol = atol from "
        f"{settings.scipy_rtols[0]:g} in half decades, and the loosest rtol whose direction "
        "error meets that accuracy is timed. Runs past "
        f"{settings.scipy_evals_factor}x the package's evaluations are stopped (scipy "
        "then needs more work: the package is ahead). Times are medians of repeats, one "
        "BLAS thread; the ratio > 1 means the package is faster.",
        tables=[{"title": "", "columns": [
            "D", "alpha", "loss", "target", "reached", "evals", "time [s]", "accuracy",
            "scipy rtol", "scipy evals", "scipy time [s]", "scipy / package", "ahead"],
            "rows": rows}],
        checks=checks,
    )


def _row(settings, X, y, Z, size, depth, alpha, loss, target):
    def package():
        return fit_flow(X, y, depth=depth, alpha=alpha, loss=loss, target=target,
                        tol=DEFAULT_TOL, max_evals=settings.scipy_max_evals,
                        fit_params=settings.fit_params)

    seconds, _, fit = timed(package, settings)
    row = {"D": depth, "alpha": alpha, "loss": loss, "target": target,
           "reached": _reached(fit), "evals": fit.n_evals, "time [s]": seconds,
           "accuracy": None, "scipy rtol": None, "scipy evals": None,
           "scipy time [s]": None, "scipy / package": None, "ahead": None}
    ref = reference(settings, size, depth, alpha, loss, target)
    if not (fit.reached and ref.reached):
        return row
    goal = max(direction_error(fit.coef, ref.coef), settings.scipy_min_error)
    row["accuracy"] = goal
    cap = settings.scipy_evals_factor * fit.n_evals
    for rtol in settings.scipy_rtols:
        with np.errstate(all="ignore"):
            coef, evals, _ = _scipy_fit(Z, depth, alpha, loss, target, rtol, cap)
        if isinstance(coef, str):
            # past the cap before meeting the accuracy: the package is ahead
            row.update({"scipy rtol": rtol, "scipy evals": f"> {cap:,}", "ahead": True})
            return row
        if coef is not None and direction_error(coef, ref.coef) <= goal:
            with np.errstate(all="ignore"):
                scipy_seconds, _, _ = timed(
                    lambda: _scipy_fit(Z, depth, alpha, loss, target, rtol, cap), settings)
            row.update({"scipy rtol": rtol, "scipy evals": evals,
                        "scipy time [s]": scipy_seconds,
                        "scipy / package": scipy_seconds / seconds,
                        "ahead": scipy_seconds > seconds})
            return row
    row["scipy evals"] = "accuracy not met at the tightest rtol"
    return row
