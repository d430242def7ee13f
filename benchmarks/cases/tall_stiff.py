"""The implicit method of tall designs: Radau IIA against RODAS4.

Where the design has at most one column more than rows, the stiff phase of
``solver='auto'`` takes three-stage Radau IIA steps (order 5); before, it
took RODAS4 steps (order 4), which serve wide designs still. Here both run
on the same tall problems: ``DiagonalLinearClassifier`` with its defaults
at each target of ``settings.tall_targets``, as shipped (Radau) and with
the choice of :func:`~sklearn_implicit._integrate.stiff_choice.stiff_stepper`
set to RODAS4. Evaluations, the median time of repeats (one BLAS thread)
and the direction error of ``coef_`` (with the intercept) against a
``tol=1e-11`` fit as shipped, the worst over one-vs-rest problems.
"""

import numpy as np

from common import (
    _check, _result, fit_recording, rodas4_everywhere, tall_problems, timed,
    worst_direction_error,
)
from sklearn_implicit import DiagonalLinearClassifier


def run(settings):
    """Radau IIA against RODAS4 in the stiff phase of tall designs."""
    rows, fewer, more, total = [], 0, 0, 0
    for name, X, y in tall_problems(settings):
        for target in settings.tall_targets:
            ref = DiagonalLinearClassifier(target_loss=target, tol=1e-11)
            fit_recording(ref, X, y)
            row = {"data": name, "n x d": f"{X.shape[0]} x {X.shape[1]}", "target": target}
            for label, context in (("Radau", None), ("RODAS4", rodas4_everywhere)):
                est = DiagonalLinearClassifier(target_loss=target)
                if context is None:
                    seconds, _, _ = timed(lambda: fit_recording(est, X, y), settings)
                else:
                    with context():
                        seconds, _, _ = timed(lambda: fit_recording(est, X, y), settings)
                row[f"{label} evals"] = int(np.sum(est.n_grad_evals_))
                row[f"{label} time [s]"] = seconds
                row[f"{label} dir. error"] = worst_direction_error(est, ref)
            row["evals ratio"] = row["RODAS4 evals"] / row["Radau evals"]
            rows.append(row)
            total += 1
            fewer += row["Radau evals"] < row["RODAS4 evals"]
            more += row["Radau evals"] > row["RODAS4 evals"]
    # (a fit that never turns stiff takes the same explicit steps either way)
    checks = [_check("Radau never takes more evaluations than RODAS4 on a tall problem",
                     f"fewer on {fewer} of {total}, more on {more}", more == 0)]
    return _result(
        "Tall designs: Radau IIA against RODAS4 in the stiff phase",
        "DiagonalLinearClassifier with its defaults (solver='auto', tol=1e-6, "
        "fit_intercept=True) as shipped (Radau IIA where d <= n + 1) and with RODAS4 "
        "in its place; bundled datasets standardized; time: median of repeats, one BLAS "
        "thread; direction error of [coef_, intercept_] against a tol=1e-11 fit as "
        "shipped, the worst over one-vs-rest problems.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
        checks=checks,
    )
