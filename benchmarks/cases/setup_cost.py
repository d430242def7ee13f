"""What a fit pays before its first step, in products with ``X``.

The set-up of a classifier fit (``_problems``: validation of the labels and
weights, the scale advice, the overflow check, the designs with their rows
signed, duplicates merged and the intercept column written) and, inside
it, ``merge_duplicate_rows`` alone, timed against one product ``X @ v``
(the unit of the evaluations' cost), at the sizes of
``settings.setup_sizes``, with and without repeated samples. The merge's
own work (hashing, sorting and comparing the rows: ``distinct_rows``) is
timed apart from the copy of ``X`` that carries the signs and the
intercept column, and that copy against the unmerged build it replaced
(``signed_rows`` then ``add_intercept_column``); Gaussian features, and
binary ones at the largest size. Best of repeats, one BLAS
thread: each of these allocates arrays as large as ``X``, whose first
touch costs as much as a pass over them.
"""

import time

import numpy as np

from common import (
    _check,
    _result,
    add_intercept_column,
    distinct_rows,
    merge_duplicate_rows,
    signed_rows,
)
from sklearn_implicit import DiagonalLinearClassifier


def _best(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _features(rng, n, d, kind):
    """``n`` rows of ``d`` features of the given kind."""
    if kind == "signs":
        return np.where(rng.random((n, d)) < 0.5, -1.0, 1.0)
    if kind == "one-hot":
        groups = max(1, d // 10)
        X = np.zeros((n, d))
        X[np.arange(n)[:, None], rng.integers(0, 10, size=(n, groups)) + 10 * np.arange(groups)] = 1.0
        return X
    return rng.standard_normal((n, d))


def run(settings):
    """Set-up cost of a classifier fit and of merging its rows."""
    rng = np.random.default_rng(settings.seed)
    rows, checks = [], []
    sizes = [(n, d, repeated, "Gaussian") for n, d, repeated in settings.setup_sizes]
    # Binary features make the hash's few probed columns take few values
    # (the rows that share them are hashed in full): the largest size again.
    sizes += [(*settings.setup_sizes[-1], kind) for kind in ("signs", "one-hot")]
    for n, d, repeated, kind in sizes:
        X = _features(rng, n - repeated, d, kind)
        y = (X[:, 0] + 0.5 * rng.standard_normal(n - repeated) > 0).astype(int)
        if repeated:
            picks = rng.choice(n - repeated, repeated, replace=False)
            X, y = np.vstack([X, X[picks]]), np.r_[y, y[picks]]
        order = rng.permutation(n)
        X, y = np.ascontiguousarray(X[order]), y[order]
        v = rng.standard_normal(d)
        signs, weights = np.where(y == 1, 1.0, -1.0), np.ones(n)
        product = _best(lambda: X @ v, settings.setup_repeats)
        row = {"features": kind, "n x d": f"{n} x {d}", "repeated rows": repeated,
               "product [ms]": 1e3 * product}
        for intercept in (False, True):
            clf = DiagonalLinearClassifier(fit_intercept=intercept)
            seconds = _best(lambda: clf._problems(X, y, None), settings.setup_repeats)
            row[f"set-up, intercept={intercept} [products]"] = seconds / product
        repeats = settings.setup_repeats
        merge = _best(lambda: merge_duplicate_rows(X, weights, signs=signs, intercept_scaling=1.0),
                      repeats)
        row["merged design [products]"] = merge / product
        own = _best(lambda: distinct_rows(X, weights, signs < 0, across=False), repeats)
        row["merge's own work [products]"] = own / product
        unmerged = _best(lambda: add_intercept_column(signed_rows(X, signs), 1.0), repeats)
        row["unmerged design [products]"] = unmerged / product
        row["a copy of X [products]"] = _best(lambda: X.copy(), repeats) / product
        rows.append(row)
    worst = max(r["merge's own work [products]"] for r in rows if r["features"] == "Gaussian")
    checks.append(_check("the merge's own work (hash, sort, comparisons) under 3 products",
                         f"worst {worst:.2f} (Gaussian features)", worst < 3.0))
    setup = next((r for r in rows if r["n x d"] == "300 x 3000" and not r["repeated rows"]
                  and r["features"] == "Gaussian"), None)
    if setup is not None:
        value = setup["set-up, intercept=True [products]"]
        checks.append(_check("the set-up of a fit at 300 x 3000 under 3 products",
                             round(value, 2), value < 3.0))
    columns = ["features", "n x d", "repeated rows", "product [ms]", "set-up, intercept=False [products]",
               "set-up, intercept=True [products]", "merged design [products]",
               "merge's own work [products]", "unmerged design [products]",
               "a copy of X [products]"]
    return _result(
        "Set-up cost of a fit",
        "DiagonalLinearClassifier._problems (everything between validate_data and the "
        "first step: labels, weights, scale advice, overflow check, the designs); "
        "merge_duplicate_rows with the labels' signs and the intercept column (merged "
        "design), its own work before it copies X (hash, sort, comparisons: "
        "distinct_rows), and the unmerged design it replaced (signed_rows, then "
        "add_intercept_column); in products X @ v timed in the same way (best of "
        f"{settings.setup_repeats}, one BLAS thread). Random Gaussian data, labels from "
        "a noisy linear rule; 'repeated rows' samples are copies of others. Features: "
        "Gaussian, random signs (+-1), or one-hot (a tenth of the columns set, one in "
        "each group of ten).",
        tables=[{"title": "", "columns": columns, "rows": rows}],
        checks=checks,
    )
