"""How many BLAS threads should a gradient flow use?

Times ``DiagonalLinearClassifier.fit`` under ``blas_threads`` = 1, 2 and
'auto' (BLAS left at its default, all cores, for a single job), interleaved
in one run so that the machine's load affects every setting alike, and
reports the median of the repeats. It also says whether the coefficients are
bitwise equal to those of ``blas_threads=1``: OpenBLAS splits a
matrix-vector product along its summed dimension when the other one is
short, so the thread count can change the last bits.

Run: ``python benchmarks/blas_threads.py [--repeats 5]``.
"""

import argparse
import os
import time

import numpy as np
from threadpoolctl import threadpool_info

from sklearn_implicit import DiagonalLinearClassifier, config_context

SETTINGS = (1, 2, "auto")

# (name, n_samples, n_features, n_classes, n_jobs, target_loss)
PROBLEMS = (
    ("small 200 x 50", 200, 50, 2, None, 1e-2),
    ("tall 5000 x 100", 5000, 100, 2, None, 1e-1),
    ("wide 100 x 5000", 100, 5000, 2, None, 1e-2),
    ("square 1000 x 1000", 1000, 1000, 2, None, 1e-2),
    ("wide 3-class, n_jobs=2", 120, 5000, 3, 2, 1e-1),
)


def make_problem(n_samples, n_features, n_classes, seed=0):
    """Linearly separable data: labels of a sparse linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    teacher = np.zeros((n_features, n_classes))
    teacher[:5] = rng.standard_normal((5, n_classes))
    y = np.argmax(X @ teacher, axis=1) if n_classes > 2 else (X @ teacher[:, 0] > 0).astype(int)
    return X, y


def time_fit(X, y, n_jobs, target_loss, blas_threads):
    with config_context(blas_threads=blas_threads):
        clf = DiagonalLinearClassifier(target_loss=target_loss, n_jobs=n_jobs)
        start = time.perf_counter()
        clf.fit(X, y)
        return time.perf_counter() - start, clf.coef_


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    print(
        f"cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}; BLAS: "
        + ", ".join(f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)" for i in blas)
    )
    print(f"median fit time over {args.repeats} interleaved repeats (seconds)")
    print(f"{'problem':26s}" + "".join(f"{'blas_threads=' + str(s):>20s}" for s in SETTINGS))
    for name, n, d, k, n_jobs, target in PROBLEMS:
        X, y = make_problem(n, d, k)
        time_fit(X, y, n_jobs, target, 1)  # warm-up (and loky workers)
        times = {s: [] for s in SETTINGS}
        coefs = {}
        for _ in range(args.repeats):
            for s in SETTINGS:
                elapsed, coefs[s] = time_fit(X, y, n_jobs, target, s)
                times[s].append(elapsed)
        cells = []
        for s in SETTINGS:
            same = "=" if np.array_equal(coefs[s], coefs[1]) else "~"
            cells.append(f"{np.median(times[s]):.3f} {same}".rjust(20))
        print(f"{name:26s}" + "".join(cells))
    print("= : coefficients bitwise equal to blas_threads=1; ~ : they differ in the last bits")


if __name__ == "__main__":
    main()
