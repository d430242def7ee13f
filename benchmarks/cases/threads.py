"""BLAS threads: 1 and 2 threads, the package default and no limit, interleaved.

A bare pair of products and a whole fit under each setting; checks that the
package's default is never slower than one thread (median ratio <= 1.05, the
noise level).
"""

import time

import numpy as np

from common import (
    _BLAS_MAX_THREADS, DEFAULT_TOL, PACKAGE_DEFAULT_THREADS, _block_time, _check, _result,
    bare_pair, blas_threads, fit_flow, make_problem, median_ratio, package_default_threads,
    signed_design,
)


def run(settings):
    """BLAS threads 1 vs 2 vs the package default vs no limit, interleaved."""
    settings_names = {"1": lambda: blas_threads(1), "2": lambda: blas_threads(2),
                      "package default": package_default_threads,
                      "no limit": lambda: blas_threads(None)}
    rows = []
    worst_default = 0.0
    for size in settings.threads_sizes:
        size = tuple(size)
        X, y = make_problem(*size, seed=settings.seed)
        Z = signed_design(X, y)
        bare = bare_pair(Z, settings.seed)
        def fit():
            fit_flow(X, y, depth=2, alpha=0.1, loss="exponential",
                     target=settings.threads_target, tol=DEFAULT_TOL,
                     max_evals=settings.scan_max_evals, fit_params=settings.fit_params)

        whats = [("bare pair", lambda: _block_time(bare, settings.bare_block))]
        if size in {tuple(s) for s in settings.threads_fit_sizes}:
            whats.append(("fit", fit))
        for what, fn in whats:
            times = {name: [] for name in settings_names}
            names = list(settings_names)
            repeats = settings.repeats
            if what == "fit":
                with blas_threads(1):
                    start = time.perf_counter()
                    fn()  # also a warm-up
                    once = time.perf_counter() - start
                repeats = min(101, max(settings.threads_fit_repeats,
                                       int(settings.threads_fit_budget / once)))
            repeats = -(-repeats // len(names)) * len(names)  # whole rotations
            for i in range(repeats):
                for name in names[i % len(names):] + names[:i % len(names)]:
                    with settings_names[name]():
                        start = time.perf_counter()
                        out = fn()
                        elapsed = time.perf_counter() - start
                    times[name].append(out if what == "bare pair" else elapsed)
            row = {"n x d": f"{size[0]} x {size[1]}", "what": what,
                   "1 thread [ms]": 1e3 * np.median(times["1"])}
            for name in ("2", "package default", "no limit"):
                row[f"{name} / 1"] = median_ratio(times[name], times["1"])
            row["repeats"] = len(times["1"])
            if what == "fit":  # the package's setting acts inside fits
                worst_default = max(worst_default, row["package default / 1"])
            rows.append(row)
    return _result(
        "BLAS threads",
        f"Bare pair Z @ b, Z.T @ p, and a whole fit (D=2, alpha=0.1, target "
        f"{settings.threads_target:g}), under 1 and 2 BLAS threads, the package default "
        f"(blas_threads={PACKAGE_DEFAULT_THREADS!r} in sklearn_implicit._config, BLAS at its default "
        f"{_BLAS_MAX_THREADS} threads outside fits) and no limit (blas_threads='auto', BLAS "
        "at its default). Ratios are medians of per-repeat ratios, settings interleaved "
        "in an order rotated between repeats.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
        checks=[_check("package default BLAS threading never slower than one thread",
                       f"worst median ratio over fits {worst_default:.3g}",
                       worst_default <= 1.05,
                       "met means <= 1.05 (the repeat-to-repeat noise on this machine)")],
    )
