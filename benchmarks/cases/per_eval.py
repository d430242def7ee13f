"""The cost of one gradient evaluation against its two bare products with ``X``.

``LinearFlow.evaluate`` against ``Z @ b`` and ``Z.T @ p``, timed in
alternating short blocks; checks evaluate <= 2x the pair at 100 x 1000 and
<= 1.2x at 1000 x 10000. Also a whole fit's time per evaluation.
"""

import itertools

import numpy as np

from common import (
    DEFAULT_TOL, LOSSES, DiagonalNetwork, LinearFlow, _block_time, _check, _result, bare_pair,
    fit_flow, make_problem, paired_block_times, signed_design,
)


def run(settings):
    """``LinearFlow.evaluate`` against two bare products with X."""
    rows, checks = [], []
    limits = {(100, 1000): 2.0, (1000, 10000): 1.2}
    rng = np.random.default_rng(settings.seed)
    for size in settings.per_eval_sizes:
        size = tuple(size)
        X, y = make_problem(*size, seed=settings.seed)
        Z = signed_design(X, y)
        flow = LinearFlow(DiagonalNetwork(np.full(size[1], 0.1), 2), LOSSES["exponential"](),
                          Z, np.ones(size[0]))
        # The cost does not depend on the values: spread-out states will do.
        # Two of them, alternated: the network keeps the quantities of the
        # last state it saw, and the integrator never evaluates one state twice.
        states = itertools.cycle(3.0 * rng.standard_normal((2, size[1])))
        bare = bare_pair(Z, settings.seed)
        t_eval, t_bare = paired_block_times(
            lambda: flow.evaluate(next(states)), bare, settings.per_eval_block,
            settings.per_eval_budget, max(settings.repeats, settings.per_eval_repeats))
        ratios = t_eval / t_bare
        ratio = float(np.median(ratios))
        q1, q3 = np.quantile(ratios, [0.25, 0.75])
        row = {"n x d": f"{size[0]} x {size[1]}", "bare pair [ms]": 1e3 * np.median(t_bare),
               "evaluate [ms]": 1e3 * np.median(t_eval), "evaluate / pair": ratio,
               "quartiles of the ratio": f"{q1:.3g} - {q3:.3g}",
               "block pairs": len(t_eval),
               "fit evals": None, "fit ms / eval": None, "fit / pair": None}
        if size in {tuple(s) for s in settings.per_eval_fit_sizes}:
            fit = fit_flow(X, y, depth=2, alpha=0.1, loss="exponential", target=1e-10,
                           tol=DEFAULT_TOL, max_evals=settings.scan_max_evals,
                           fit_params=settings.fit_params)
            t_fit = fit.seconds / fit.n_evals
            # a fresh bare timing right after the fit, for the pairing
            row.update({"fit evals": fit.n_evals, "fit ms / eval": 1e3 * t_fit,
                        "fit / pair": t_fit / _block_time(bare, settings.bare_block)})
        rows.append(row)
        if size in limits:
            checks.append(_check(
                f"evaluate <= {limits[size]:g}x two bare products at {size[0]} x {size[1]}",
                f"{ratio:.3g}x", ratio <= limits[size]))
    return _result(
        "Cost of one gradient evaluation",
        "LinearFlow.evaluate (D=2 diagonal network, exponential loss, a random state) "
        "against the two bare products Z @ b and Z.T @ p, timed in alternating blocks of "
        f"about {1e3 * settings.per_eval_block:g} ms for {settings.per_eval_budget:g} s per "
        "size (the median and quartiles of the per-pair ratios); "
        "'fit' columns: a whole fit (D=2, alpha=0.1, target 1e-10, default tol) per "
        "gradient evaluation, integrator overhead included.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}], checks=checks,
    )
