"""What the Gram matrices of the stiff steps may leave out (``GramTruncation``).

``solver='stiff'`` fits whose Gram matrices leave out columns carrying a
given fraction of their trace: evaluations, time, direction error against
the reference and the columns kept. No target is checked.
"""

from contextlib import contextmanager

import numpy as np

from common import _jacobian, _reached, _result, _rosenbrock, direction_error, fit_flow, make_problem, reference


@contextmanager
def gram_drop(fraction, tol, kept):
    """Stiff steps whose Gram matrices leave out ``fraction`` of their trace
    (None: the package's rule), appending the columns each keeps to ``kept``."""
    saved = _rosenbrock.GRAM_DROP, _jacobian.GramTruncation.columns

    def recording_columns(self, weights):
        columns = saved[1](self, weights)
        kept.append(self.Z.shape[1] if columns is None else columns.size)
        return columns

    if fraction is not None:
        _rosenbrock.GRAM_DROP = fraction / tol
    _jacobian.GramTruncation.columns = recording_columns
    try:
        yield
    finally:
        _rosenbrock.GRAM_DROP, _jacobian.GramTruncation.columns = saved


def run(settings):
    """What the stiff steps' Gram matrices may leave out (GramTruncation)."""
    size, depth, alpha, loss, target = settings.drop_config
    size = tuple(size)
    X, y = make_problem(*size, seed=settings.seed)
    ref = reference(settings, size, depth, alpha, loss, target)
    rows = []
    for tol in settings.drop_tols:
        for fraction in settings.drop_fractions:
            kept = []
            with gram_drop(fraction, tol, kept):
                fit = fit_flow(X, y, depth=depth, alpha=alpha, loss=loss, target=target,
                               tol=tol, max_evals=settings.scan_max_evals * 10,
                               fit_params={**settings.fit_params, "solver": "stiff"})
            rows.append({
                "tol": tol,
                "trace left out": (f"{_rosenbrock.GRAM_DROP * tol:.0e} (package)"
                                   if fraction is None else fraction),
                "reached": _reached(fit),
                "evals": fit.n_evals, "time [s]": fit.seconds,
                "dir. error": direction_error(fit.coef, ref.coef) if ref.reached else None,
                "Gram matrices": len(kept),
                "columns kept (median)": float(np.median(kept)) if kept else None,
                "columns kept (max)": max(kept) if kept else None,
            })
    return _result(
        "Gram matrices of the stiff steps: what they may leave out",
        f"DiagonalLinearClassifier with solver='stiff' (RODAS4 throughout), D={depth}, "
        f"alpha={alpha:g}, loss={loss}, target {target:g}, on {size[0]} x {size[1]}, each "
        "Gram matrix Z diag(q) Z^T of its linear solves leaving out the columns of "
        "smallest |q_j| ||z_j||^2 that carry at most the given fraction of its trace "
        f"(of {size[1]:,} columns). Direction error against the reference of case evals "
        f"(tol={settings.ref_tol:g}, whose Gram matrices leave out at most "
        f"{_rosenbrock.GRAM_DROP * settings.ref_tol:.0e} of their trace). Each fit timed once.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
    )
