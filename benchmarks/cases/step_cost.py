"""One RODAS4 step against DOP853 steps from the same state: measured and as modelled.

The state is one of the stiff phase of a ``solver='stiff'`` fit; the stiff
step's time in DOP853 evaluations is compared with what the cost model of
``solver='auto'`` counts. No target: it shows how far the model holds on
this machine.
"""

import numpy as np

from common import (
    _classifier, _explicit, _fit, _result, _rosenbrock, _stiff_cost, make_problem, median_ratio,
    paired_block_times, rodas4_everywhere,
)


def stiff_phase_state(X, y, depth, alpha, loss, target, tol):
    """The arguments ``(flow, state, T, tau, h, ev)`` of the step of a
    solver='stiff' fit nearest the middle of its clock (a loss of
    sqrt(target), in the stiff phase)."""
    calls = []
    step = _rosenbrock.Rodas4.step

    def recording_step(self, *args):
        calls.append(args)
        return step(self, *args)

    clf = _classifier(depth=depth, alpha=alpha, loss=loss, target=target, tol=tol,
                      max_evals=20_000, fit_params={"solver": "stiff"})
    _rosenbrock.Rodas4.step = recording_step
    try:
        # (RODAS4's step is the one measured, also where Radau would serve)
        with rodas4_everywhere():
            _fit(clf, X, y, target)
    finally:
        _rosenbrock.Rodas4.step = step
    middle = -0.5 * np.log(target)
    return min(calls, key=lambda args: abs(args[3] - middle))


def run(settings):
    """A RODAS4 step against DOP853's evaluations, measured and as modelled."""
    alpha, loss, target, tol = settings.step_cost_fit
    rows = []
    for size, depth in settings.step_cost_items:
        size = tuple(size)
        X, y = make_problem(*size, seed=settings.seed)
        flow, state, T, tau, h, ev = stiff_phase_state(
            X, y, depth, alpha, loss, target, tol)
        explicit = _explicit.DormandPrince853()
        evals = flow.n_evals
        explicit.step(flow, state, T, tau, h, ev)
        explicit_evals = flow.n_evals - evals
        stiff = _rosenbrock.Rodas4(tol=tol)

        def stiff_step():
            # a Jacobian at every step, as RODAS4 forms one per state
            stiff._jac = None
            stiff.step(flow, state, T, tau, h, ev)

        stiff_step()
        modelled = stiff.n_solves + stiff.extra_cost()  # evaluations, one per stage
        t_explicit, t_stiff = paired_block_times(
            lambda: explicit.step(flow, state, T, tau, h, ev), stiff_step,
            settings.per_eval_block * 10, settings.step_cost_budget, settings.repeats)
        per_eval = np.median(t_explicit) / explicit_evals
        measured = median_ratio(t_stiff, t_explicit) * explicit_evals
        kept = size[1] * stiff._jac.gram_cost / _stiff_cost.gram_matrix_cost(size, size[0])
        rows.append({"n x d": f"{size[0]} x {size[1]}", "depth": depth,
                     "log10 loss": -tau / np.log(10),
                     "Gram columns kept": f"{kept:.3g} of {size[1]}",
                     "DOP853 step [ms]": 1e3 * np.median(t_explicit),
                     "per evaluation [ms]": 1e3 * per_eval,
                     "RODAS4 step [ms]": 1e3 * np.median(t_stiff),
                     "RODAS4 step [evaluations]": measured,
                     "model [evaluations]": modelled,
                     "measured / model": measured / modelled,
                     "pairs": len(t_stiff)})
    return _result(
        "Cost of a stiff step: measured against the switch's cost model",
        "One RODAS4 step (with its Jacobian, as at every step of RODAS4) at the state of "
        "the step nearest the middle of the clock (the loss sqrt(target)) of a "
        f"solver='stiff' fit (alpha={alpha:g}, loss={loss}, target {target:g}, "
        f"tol={tol:g}), against DOP853 steps from the same state, timed in "
        "alternating blocks; 'evaluations' are DOP853's time per evaluation (its step over "
        "its 12 evaluations), the unit of the cost model of solver='auto' "
        "(sklearn_implicit._integrate: evaluations, linear solves, Jacobian set-up, Gram "
        "matrices as formed, LU factorizations). A measured / model above 1 means that "
        "'auto' takes the stiff method for cheaper than it is.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
    )
