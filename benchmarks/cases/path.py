"""The cost per trajectory of ``implicit_bias_path`` against single fits.

k alphas (1, 8, 64 in the full run) in one batch and one by one, against
one ``DiagonalLinearClassifier`` fit; checks that 64 alphas batched cost <=
1/5 of a single fit per trajectory at 1000 x 10000.
"""

import numpy as np

from sklearn_implicit import implicit_bias_path

from common import DEFAULT_TOL, _check, _result, fit_flow, make_problem, timed


def run(settings):
    """Cost per trajectory of ``implicit_bias_path``, batched and one by one, against single fits."""
    lo, hi = settings.path_alpha_range
    target = settings.path_target
    tables, checks, notes = [], [], []
    for size in settings.path_sizes:
        size = tuple(size)
        X, y = make_problem(*size, seed=settings.seed)

        def single(alpha):
            return fit_flow(X, y, depth=2, alpha=alpha, loss="exponential", target=target,
                            tol=DEFAULT_TOL, max_evals=10**6, fit_params=settings.fit_params)

        # A single fit's cost: the mean over the ends and the middle of the alpha range.
        probe = (lo, float(np.sqrt(lo * hi)), hi)
        single_seconds = float(np.mean([timed(lambda a=a: single(a), settings)[0]
                                        for a in probe]))
        notes.append(f"{size[0]} x {size[1]}: single fit {single_seconds:.3g} s")
        rows = []
        for k in settings.path_ks:
            alphas = np.geomspace(lo, hi, k) if k > 1 else np.array([probe[1]])
            # k = 1 is one flow; larger k batched, and one by one (batch_size=1)
            # while that fits the budget: the comparison says where batching pays.
            for batch_size in ([1] if k == 1 else [k, 1]):
                estimate = single_seconds * k * (1.0 if batch_size == 1 else 0.3)
                row = {"k": k, "batch_size": batch_size}
                if estimate > settings.path_budget:
                    rows.append({**row, "path time [s]": None, "per trajectory [s]": None,
                                 "per trajectory / single fit": None, "max evals": None,
                                 "status": f"skipped: estimated {estimate:.0f} s > budget "
                                           f"{settings.path_budget:g} s"})
                    continue
                seconds, n_runs, path = timed(lambda: implicit_bias_path(
                    X, y, alphas, [target], depth=2, loss="exponential",
                    fit_intercept=False, tol=DEFAULT_TOL, batch_size=batch_size), settings)
                rows.append({**row, "path time [s]": seconds, "per trajectory [s]": seconds / k,
                             "per trajectory / single fit": seconds / k / single_seconds,
                             "max evals": int(np.max(path.n_grad_evals)),
                             "status": f"{n_runs} repeats"})
        tables.append({"title": f"n x d = {size[0]} x {size[1]}",
                       "columns": ["k", "batch_size", "path time [s]", "per trajectory [s]",
                                   "per trajectory / single fit", "max evals", "status"],
                       "rows": rows})
        if size == (1000, 10000):
            batched = [r for r in rows if r["k"] == 64 and r["batch_size"] == 64]
            value = batched[0]["per trajectory / single fit"] if batched else None
            checks.append(_check("64 alphas batched <= 1/5 of a single fit per trajectory",
                                 "skipped" if value is None else f"{value:.3g}",
                                 value is not None and value <= 0.2))
    return _result(
        "Alpha path",
        f"implicit_bias_path, D=2, exponential, target {target:g}, k alphas geometric in "
        f"[{lo:g}, {hi:g}] (k = 1: the middle one), one trajectory per alpha, in one batch "
        f"(batch_size = k) or one by one (batch_size = 1), one process. Single fit: mean "
        f"median time of DiagonalLinearClassifier at alpha in "
        f"{tuple(round(a, 4) for a in probe)} ({'; '.join(notes)}).",
        tables=tables, checks=checks,
    )
