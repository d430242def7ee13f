"""Benchmarks of sklearn-implicit's gradient-flow integrator (issue 7).

Run ``python benchmarks/run.py --quick`` (a few minutes) or
``python benchmarks/run.py`` (the full run); ``--case NAME`` runs one case.
See ``benchmarks/README.md`` for what each case measures. Every case is a
function ``case_<name>(settings) -> dict`` that can also be called from Python
(the smoke test does, on toy sizes).

The machine these run on is shared and noisy, so the headline numbers are
ratios of times taken in the same process, interleaved repeat by repeat, and
reported as medians; gradient evaluation counts are exact.
"""

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import scipy
import sklearn
from threadpoolctl import threadpool_info, threadpool_limits

import sklearn_implicit
from sklearn_implicit import DiagonalLinearClassifier
from sklearn_implicit._integrate import LinearFlow
from sklearn_implicit._integrate import explicit as _explicit
from sklearn_implicit._integrate import jacobian as _jacobian
from sklearn_implicit._integrate import rosenbrock as _rosenbrock
from sklearn_implicit._integrate import stiff_cost as _stiff_cost
from sklearn_implicit._losses import LOSSES
from sklearn_implicit._networks import DiagonalNetwork

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gd_baseline import extrapolated_steps, gradient_descent, tail_slope  # noqa: E402

try:  # the package's own BLAS-thread setting, where it has one
    from sklearn_implicit._config import config_context as _package_config
    from sklearn_implicit._config import get_config as _package_get_config

    PACKAGE_DEFAULT_THREADS = _package_get_config()["blas_threads"]
except ImportError:  # pragma: no cover - older package versions
    _package_config = None
    PACKAGE_DEFAULT_THREADS = None

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOL = DiagonalLinearClassifier().get_params()["tol"]
# The cap on evaluations is passed to the estimators as a cap on steps: six
# evaluations per step (a stiff step takes 4 or 6, an explicit DOP853 step
# 12, so a capped fit can show up to twice the cap).
EVALS_PER_STEP = 6


# --------------------------------------------------------------------------
# Settings


@dataclass
class Settings:
    """Sizes and budgets of every case; see :meth:`quick`, :meth:`full`, :meth:`toy`."""

    mode: str = "full"
    repeats: int = 5
    # Repeats of one timed item stop early once they have taken this long.
    time_budget: float = 20.0
    threads: int = 1
    seed: int = 0
    ref_tol: float = 1e-11
    ref_max_evals: int = 200_000
    fit_params: dict = field(default_factory=dict)
    # case "evals": one grid per problem size
    evals_grids: list = field(default_factory=list)
    # case "evals_large" (by hand, not in the default run: about 40 minutes):
    # the whole grid of case evals on the large problem, one trajectory per
    # configuration through its targets, each target reached once.
    # Trajectories are capped at 20,000 evaluations (depth 3 reaches 1e-300
    # from alpha = 1e-3 in 11,658 and 13,530 evaluations, from alpha = 0.1 in
    # 10,396 and 10,301, at 632ea44, since its Gram matrices leave out what
    # they may: before, each stiff step formed one of about 40 evaluations'
    # worth, and 6,800 evaluations ended at a loss of 10^-1.6). Depth 3 from
    # alpha = 1e-3 has no reference: at 100 x 1000 its references took 15x
    # the evaluations of a default fit, 110,000 and 137,000 to 1e-10.
    large_grid: dict = field(default_factory=lambda: dict(
        size=(1000, 10000), depths=(2, 3), alphas=(1e-3, 0.1, 1.0),
        losses=("exponential", "logistic"), targets=(1e-10, 1e-100, 1e-300),
        max_evals=20_000, ref_targets=(1e-10,), ref_skip=((3, 1e-3),),
        ref_max_evals=40_000,
    ))
    # case "tol_scan" (the targets of the issue)
    scan_size: tuple = (100, 1000)
    scan_depth: int = 2
    scan_alpha: float = 0.1
    scan_loss: str = "exponential"
    scan_targets: tuple = (1e-10, 1e-100, 1e-300)
    # half decades: 1e-3, 3.16e-4, ..., 1e-10
    scan_tols: tuple = tuple(10.0 ** (-k / 2) for k in range(6, 21))
    scan_dir_err: float = 1e-8
    scan_max_evals: int = 20_000
    # case "gd"
    gd_size: tuple = (100, 1000)
    gd_configs: tuple = ((2, 0.1, "exponential"),)
    gd_target: float = 1e-3
    gd_dir_err: float = 1e-3
    gd_max_steps: int = 400_000
    gd_flow_tols: tuple = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
    gd_extrapolate: tuple = (1e-10, 1e-100, 1e-300)
    # case "per_eval"
    per_eval_sizes: tuple = ((100, 1000), (1000, 10000))
    per_eval_fit_sizes: tuple = ((100, 1000), (1000, 10000))
    # Evaluate and the bare pair are timed in short alternating blocks (a few
    # milliseconds each), pair after pair for per_eval_budget seconds per
    # size, and at least per_eval_repeats pairs. The load of this shared
    # machine changes over seconds and slows the vector work of an
    # evaluation more than the products: blocks of 0.2 s, 15 pairs, gave
    # medians from 1.8 to 2.4 at 100 x 1000 in repeated runs on one
    # revision (46d5629); short pairs gave 1.88 to 1.97 in three runs.
    per_eval_block: float = 0.003  # seconds per timed block of calls
    # seconds per block of a bare pair timed alone (beside a fit, in the
    # threads and deep cases)
    bare_block: float = 0.2
    per_eval_budget: float = 10.0  # seconds of pairs per size
    per_eval_repeats: int = 15
    # case "path"
    path_sizes: tuple = ((100, 1000), (300, 3000), (1000, 10000))
    path_ks: tuple = (1, 8, 64)
    path_alpha_range: tuple = (0.1, 1.0)
    path_target: float = 1e-5
    path_budget: float = 300.0  # skip a k whose estimated cost exceeds this
    # case "threads"
    threads_sizes: tuple = ((100, 1000), (1000, 10000))  # bare products
    threads_fit_sizes: tuple = ((100, 1000), (1000, 10000))  # whole fits
    threads_target: float = 1e-5
    # The fits of the package default and of one thread run the same code
    # under the same setting: their ratio is noise, about 10% per repeat on
    # this machine, which 5 repeats left at about 5%. So: at least this many
    # repeats, more for short fits (until threads_fit_budget seconds per
    # setting), and the order of the settings rotated between repeats, whole
    # rotations only (each setting as often after each other one: a run
    # right after one with two threads can share its core with BLAS threads
    # still spinning; with 9 repeats of 4 settings, the ratio was 1.06 in
    # one run and 0.98 and 1.00 in the two before).
    threads_fit_repeats: int = 12
    threads_fit_budget: float = 3.0
    # case "solvers": ((n, d), ((alpha, loss), ...), targets) for
    # solver='auto' against 'explicit'
    solvers_grid: tuple = (
        ((100, 1000), ((0.1, "exponential"), (1.0, "exponential"), (0.1, "logistic")),
         (1e-10, 1e-30, 1e-100, 1e-300)),
        ((1000, 10000), ((0.1, "exponential"),), (1e-10,)),
    )
    # short fits are repeated until this many seconds per solver (at least
    # `repeats`, at most 21 pairs); fits to losses of 1e-30 to 1e-300 differ
    # by 5 to 10% from repeat to repeat on this machine
    solvers_budget: float = 3.0
    # case "gram_drop": (size, depth, alpha, loss, target) fitted with
    # solver='stiff' while the Gram matrices leave out each fraction of their
    # trace (0: nothing; None: the package's, _GRAM_DROP * tol) at each tol
    drop_config: tuple = ((100, 1000), 3, 1e-3, "exponential", 1e-10)
    drop_tols: tuple = (1e-6, 1e-8)
    drop_fractions: tuple = (0.0, None, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1)
    # case "step_cost": one RODAS4 step against DOP853's evaluations at a
    # state of the stiff phase (of a solver='stiff' fit of these (alpha,
    # loss, target, tol)), for each (size, depth); depth 3 on the large
    # problem would take minutes to reach that state
    step_cost_items: tuple = (((100, 1000), 2), ((100, 1000), 3), ((300, 3000), 2),
                              ((300, 3000), 3), ((1000, 10000), 2))
    step_cost_fit: tuple = (0.1, "exponential", 1e-30, 3.16e-5)
    step_cost_budget: float = 4.0  # seconds of block pairs per item
    # case "deep"
    deep_size: tuple = (200, 1000)
    deep_depth: int = 3
    deep_width: int = 100
    deep_targets: tuple = (1e-5, 1e-10)
    deep_max_evals: int = 20_000

    @classmethod
    def full(cls, **kw):
        small = dict(
            size=(100, 1000), depths=(2,), alphas=(1e-3, 0.1, 1.0),
            losses=("exponential", "logistic"), targets=(1e-10, 1e-100, 1e-300),
            max_evals=10_000, ref_targets=(1e-10, 1e-100, 1e-300),
        )
        # Depth 3 from alpha = 1e-3 passes several plateaus of the loss
        # (saddle to saddle), each a stiff stretch: 7,100 to 9,400
        # evaluations at dabb64c; its references at tol = 1e-11 took 110,000
        # to 185,000 (316,000 to 1e-10 with the approximate Jacobian of
        # 134b310, which at tol = 1e-10 took 148,000 and ended 4e-8 away).
        rich = dict(small, depths=(3,), alphas=(1e-3,), max_evals=20_000,
                    ref_max_evals=1_000_000)
        small_d3 = dict(small, depths=(3,), alphas=(0.1, 1.0))
        # The large problem costs ~50x more per evaluation: only the headline
        # configuration, fits capped, and a reference at the first target.
        large = dict(
            size=(1000, 10000), depths=(2,), alphas=(0.1,),
            losses=("exponential",), targets=(1e-10, 1e-100, 1e-300),
            max_evals=4_000, ref_targets=(1e-10,),
        )
        defaults = dict(mode="full", time_budget=10.0,
                        evals_grids=[small, rich, small_d3, large])
        return cls(**{**defaults, **kw})

    @classmethod
    def quick(cls, **kw):
        small = dict(
            size=(100, 1000), depths=(2,), alphas=(0.1, 1.0),
            losses=("exponential",), targets=(1e-10, 1e-100, 1e-300),
            max_evals=10_000, ref_targets=(1e-10, 1e-100, 1e-300),
        )
        defaults = dict(
            mode="quick", repeats=3, time_budget=3.0, evals_grids=[small],
            step_cost_items=cls.step_cost_items[:2], step_cost_budget=1.0,
            per_eval_fit_sizes=((100, 1000),), path_sizes=((100, 1000),),
            threads_fit_sizes=((100, 1000),), threads_fit_repeats=3, threads_fit_budget=1.0,
            gd_max_steps=100_000,
            path_budget=30.0, solvers_grid=cls.solvers_grid[:1], solvers_budget=1.0,
        )
        return cls(**{**defaults, **kw})

    @classmethod
    def toy(cls, **kw):
        """Seconds-long sizes for the smoke test (numbers are meaningless)."""
        size = (20, 60)
        grid = dict(
            size=size, depths=(2,), alphas=(1.0,), losses=("exponential",),
            targets=(1e-3, 1e-6), max_evals=5_000, ref_targets=(1e-3, 1e-6),
        )
        defaults = dict(
            mode="toy", repeats=2, time_budget=0.5, ref_tol=1e-9, evals_grids=[grid],
            scan_size=size, scan_alpha=1.0, scan_targets=(1e-3,), scan_tols=(1e-3, 1e-4, 1e-6),
            scan_dir_err=1e-4, scan_max_evals=5_000, gd_size=size,
            gd_configs=((2, 1.0, "exponential"),), gd_target=1e-2, gd_dir_err=1e-2,
            gd_max_steps=20_000, gd_flow_tols=(1e-3, 1e-6), gd_extrapolate=(1e-10,),
            per_eval_sizes=(size,), per_eval_fit_sizes=(size,), per_eval_block=0.001,
            per_eval_budget=0.0, bare_block=0.01,
            path_sizes=(size,), path_ks=(1, 2), path_target=1e-3, path_budget=30.0,
            threads_sizes=(size,), threads_fit_sizes=(size,), threads_target=1e-3,
            threads_fit_repeats=2, threads_fit_budget=0.0, per_eval_repeats=2,
            solvers_grid=((size, ((1.0, "exponential"),), (1e-3, 1e-6)),), solvers_budget=0.0,
            drop_config=(size, 3, 1e-2, "exponential", 1e-3), drop_tols=(1e-4,),
            drop_fractions=(0.0, None, 1e-1),
            step_cost_items=((size, 2), (size, 3)),
            step_cost_fit=(1.0, "exponential", 1e-6, 1e-4), step_cost_budget=0.0,
            deep_size=size, deep_width=4, deep_targets=(1e-3,), deep_max_evals=5_000,
            large_grid=dict(grid, depths=(2, 3), targets=(1e-3, 1e-6, 1e-9),
                            max_evals=2_000, ref_targets=(1e-3,), ref_skip=((3, 1.0),),
                            ref_max_evals=5_000),
        )
        return cls(**{**defaults, **kw})


# --------------------------------------------------------------------------
# Problems, fits, timing


_PROBLEMS = {}
_REFERENCES = {}


def make_problem(n_samples, n_features, seed=0):
    """Gaussian design, labels from a 5-sparse Gaussian teacher (cached)."""
    key = (n_samples, n_features, seed)
    if key not in _PROBLEMS:
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((n_samples, n_features))
        teacher = np.zeros(n_features)
        support = rng.choice(n_features, size=min(5, n_features), replace=False)
        teacher[support] = rng.standard_normal(support.size)
        y = np.where(X @ teacher > 0, 1, -1)
        _PROBLEMS[key] = (X, y)
    return _PROBLEMS[key]


def signed_design(X, y):
    """Rows ``y_i x_i`` (margins are ``Z @ beta``)."""
    return np.ascontiguousarray(y[:, None] * X)


@dataclass
class Fit:
    """One flow fit: the estimator's numbers plus whether the target was met."""

    coef: np.ndarray
    n_evals: int
    log10_loss: float
    log10_time: float
    reached: bool
    seconds: float


def _classifier(*, depth, alpha, loss, target, tol, max_evals, fit_params=None):
    return DiagonalLinearClassifier(
        alpha=alpha, depth=depth, loss=loss, target_loss=target, tol=tol,
        fit_intercept=False, max_iter=max(1, -(-max_evals // EVALS_PER_STEP)),
        **(fit_params or {}),
    )


def _fit(clf, X, y, target):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a capped fit is reported as not reached
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
    log10_loss = float(clf.log10_loss_[0])
    reached = bool(
        abs(log10_loss - np.log10(target)) <= 1e-6 * max(1.0, abs(np.log10(target)))
    )
    return Fit(
        clf.coef_.ravel().copy(), int(clf.n_grad_evals_[0]), log10_loss,
        float(clf.log10_time_[0]), reached, seconds,
    )


def fit_flow(X, y, *, depth, alpha, loss, target, tol, max_evals, fit_params=None):
    """Fit ``DiagonalLinearClassifier`` (no intercept) from scratch and time it once."""
    clf = _classifier(depth=depth, alpha=alpha, loss=loss, target=target, tol=tol,
                      max_evals=max_evals, fit_params=fit_params)
    return _fit(clf, X, y, target)


def reference(settings, size, depth, alpha, loss, target):
    """Tight-tolerance fit (``settings.ref_tol``) of the same package; cached.

    References of one configuration are one trajectory: a target below the
    last one continues it by a warm start (the tolerance holds across the
    restart), a larger one is a cold fit.
    """
    key = (size, settings.seed, depth, alpha, loss, settings.ref_tol,
           tuple(sorted(settings.fit_params.items())))
    chain = _REFERENCES.setdefault(key, {"clf": None, "fits": {}})
    if target not in chain["fits"]:
        X, y = make_problem(*size, seed=settings.seed)
        warm = chain["clf"] is not None and target < chain["target"]
        clf = chain["clf"] if warm else _classifier(
            depth=depth, alpha=alpha, loss=loss, target=target, tol=settings.ref_tol,
            max_evals=settings.ref_max_evals, fit_params=settings.fit_params)
        clf.set_params(warm_start=True, target_loss=target)
        fit = _fit(clf, X, y, target)
        if warm:  # count the whole trajectory
            fit.n_evals += chain["evals"]
        chain["fits"][target] = fit
        if fit.reached and (warm or chain["clf"] is None or target < chain["target"]):
            chain.update(clf=clf, target=target, evals=fit.n_evals)
        elif warm:  # stopped short of its target: cannot be continued
            chain["clf"] = None
    return chain["fits"][target]


def direction_error(coef, ref):
    """``|| b/|b| - ref/|ref| ||_2``: about the angle between them (radians)."""
    nb, nr = np.linalg.norm(coef), np.linalg.norm(ref)
    if nb == 0 or nr == 0:
        return float("nan")
    return float(np.linalg.norm(coef / nb - ref / nr))


def timed(fn, settings):
    """Median wall time of ``fn()`` over up to ``settings.repeats`` runs.

    Repeats stop early once ``settings.time_budget`` seconds have been spent
    (slow items then have fewer repeats; the count is reported).
    Returns ``(median_seconds, n_runs, last_result)``.
    """
    times = []
    result = None
    while len(times) < settings.repeats and (
        not times or sum(times) < settings.time_budget
    ):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), len(times), result


def paired_times(fns, settings, min_repeats=3):
    """Time several callables interleaved, repeat by repeat (same noise).

    At least ``min_repeats`` (at most ``settings.repeats``) pairs are taken
    whatever the time budget, since one pair says nothing about the noise.
    Returns ``{name: [seconds per repeat]}``; paired ratios are then the
    medians of per-repeat ratios.
    """
    times = {name: [] for name in fns}
    spent = 0.0
    for _ in range(settings.repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - start
            times[name].append(elapsed)
            spent += elapsed
        done = len(times[name])
        if done >= min_repeats and spent >= settings.time_budget * len(fns):
            break
    return times


def median_ratio(num, den):
    return float(np.median(np.asarray(num) / np.asarray(den)))


# --------------------------------------------------------------------------
# BLAS threads


_BLAS_MAX_THREADS = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
                        default=1)


@contextmanager
def blas_threads(n):
    """Run with ``n`` BLAS threads (``None``: BLAS's own default, all cores).

    Limits both the bare products (threadpoolctl) and the package's own
    per-fit setting, which otherwise overrides an outer limit inside ``fit``.
    """
    package = (
        _package_config(blas_threads="auto" if n is None else n)
        if _package_config is not None else nullcontext()
    )
    with threadpool_limits(limits=_BLAS_MAX_THREADS if n is None else n, user_api="blas"):
        with package:
            yield


@contextmanager
def package_default_threads():
    """BLAS at its default for bare products, the package at its import default."""
    package = (
        _package_config(blas_threads=PACKAGE_DEFAULT_THREADS)
        if _package_config is not None else nullcontext()
    )
    with threadpool_limits(limits=_BLAS_MAX_THREADS, user_api="blas"):
        with package:
            yield


# --------------------------------------------------------------------------
# Cases. Each returns {"title", "about", "tables": [...], "checks": [...],
# "notes": [...]}; a table is {"title", "columns", "rows"} with rows as dicts.


def _result(title, about, tables=(), checks=(), notes=()):
    return {"title": title, "about": about, "tables": list(tables),
            "checks": list(checks), "notes": list(notes)}


def _check(target, value, met, detail=""):
    return {"target": target, "value": value, "met": met, "detail": detail}


def case_evals(settings):
    """Evaluations, time and direction error to reach each target loss."""
    rows = []
    for grid in settings.evals_grids:
        size = tuple(grid["size"])
        X, y = make_problem(*size, seed=settings.seed)
        for depth in grid["depths"]:
            for alpha in grid["alphas"]:
                for loss in grid["losses"]:
                    for target in grid["targets"]:
                        rows.append(_evals_row(settings, grid, size, X, y, depth, alpha,
                                               loss, target))
    return _result(
        "Gradient evaluations to reach a target loss",
        f"Cold fits at the package default tol={DEFAULT_TOL:g} (fit_intercept=False); "
        f"direction error ||b/|b| - r/|r|||_2 against the same package at "
        f"tol={settings.ref_tol:g} (reference). Fits are capped at max_evals; "
        "'reached' is no when the cap stopped the fit first. n/a: no reference at this "
        "size and target (too costly), or the fit was capped.",
        tables=[{"title": "", "columns": [
            "n x d", "D", "alpha", "loss", "target", "reached", "evals", "time [s]",
            "repeats", "ms / eval", "dir. error", "ref. evals"], "rows": rows}],
    )


def _evals_row(settings, grid, size, X, y, depth, alpha, loss, target):
    def run():
        return fit_flow(X, y, depth=depth, alpha=alpha, loss=loss, target=target,
                        tol=DEFAULT_TOL, max_evals=grid["max_evals"],
                        fit_params=settings.fit_params)

    first = run()
    if first.reached:
        seconds, n_runs, fit = timed(run, settings)
    else:  # a capped fit is timed once: its time only says "too slow"
        seconds, n_runs, fit = first.seconds, 1, first
    row = {"n x d": f"{size[0]} x {size[1]}", "D": depth, "alpha": alpha, "loss": loss,
           "target": target, "reached": fit.reached, "evals": fit.n_evals,
           "time [s]": seconds, "repeats": n_runs,
           "ms / eval": 1e3 * seconds / fit.n_evals, "dir. error": None, "ref. evals": None}
    if fit.reached and target in grid["ref_targets"]:
        ref = _grid_reference(settings, grid, size, depth, alpha, loss, target)
        if ref.reached:
            row["dir. error"] = direction_error(fit.coef, ref.coef)
            row["ref. evals"] = ref.n_evals
    row["reached"] = _reached(fit)
    return row


def case_evals_large(settings):
    """Case evals on the large problem: one timed trajectory per configuration."""
    grid = settings.large_grid
    size = tuple(grid["size"])
    X, y = make_problem(*size, seed=settings.seed)
    rows = []
    for depth in grid["depths"]:
        for alpha in grid["alphas"]:
            for loss in grid["losses"]:
                rows.extend(_trajectory_rows(settings, grid, size, X, y, depth, alpha, loss))
                # a long case: its rows so far, in case it is cut short
                print(f"    [{time.strftime('%H:%M:%S')}] "
                      + json.dumps(rows[-len(grid["targets"]):], default=_json_default),
                      flush=True)
    return _result(
        "Gradient evaluations to reach a target loss, large problem",
        f"As case evals (package default tol={DEFAULT_TOL:g}, fit_intercept=False), "
        "but each configuration is one trajectory, timed once: a cold fit to the "
        "first target, then warm starts (the step size carries over) to the next; "
        "evaluations and time are cumulative from the start. The trajectory is capped "
        f"at {grid['max_evals']:,} evaluations, counted as steps of {EVALS_PER_STEP} (a last "
        "leg of explicit steps, 12 evaluations each, can run past it). Direction error against "
        f"the reference (tol={settings.ref_tol:g}, capped at "
        f"{grid['ref_max_evals']:,} evaluations) at the targets "
        f"{', '.join(f'{t:g}' for t in grid['ref_targets'])} only"
        + "".join(f"; none for D={depth}, alpha={alpha:g} (too costly)"
                  for depth, alpha in grid.get("ref_skip", ()))
        + "; n/a where the reference hit its cap or there is none.",
        tables=[{"title": "", "columns": [
            "n x d", "D", "alpha", "loss", "target", "reached", "evals", "time [s]",
            "ms / eval", "dir. error", "ref. evals"], "rows": rows}],
    )


def _trajectory_rows(settings, grid, size, X, y, depth, alpha, loss):
    clf = None
    evals, seconds, rows = 0, 0.0, []
    for target in sorted(grid["targets"], reverse=True):
        row = {"n x d": f"{size[0]} x {size[1]}", "D": depth, "alpha": alpha, "loss": loss,
               "target": target, "reached": "not run (cap)", "evals": None,
               "time [s]": None, "ms / eval": None, "dir. error": None, "ref. evals": None}
        rows.append(row)
        left = grid["max_evals"] - evals
        if left <= 0:
            continue
        if clf is None:
            clf = _classifier(depth=depth, alpha=alpha, loss=loss, target=target,
                              tol=DEFAULT_TOL, max_evals=left, fit_params=settings.fit_params)
        clf.set_params(warm_start=True, target_loss=target,
                       max_iter=max(1, -(-left // EVALS_PER_STEP)))
        fit = _fit(clf, X, y, target)
        evals += fit.n_evals
        seconds += fit.seconds
        row.update({"reached": _reached(fit), "evals": evals, "time [s]": seconds,
                    "ms / eval": 1e3 * seconds / evals})
        if not fit.reached:
            evals = grid["max_evals"]  # a capped trajectory cannot be continued
            continue
        if target in grid["ref_targets"] and (depth, alpha) not in grid.get("ref_skip", ()):
            ref = _grid_reference(settings, grid, size, depth, alpha, loss, target)
            if ref.reached:
                row["dir. error"] = direction_error(fit.coef, ref.coef)
                row["ref. evals"] = ref.n_evals
    return rows


def _grid_reference(settings, grid, size, depth, alpha, loss, target):
    """:func:`reference`, capped at the grid's ``ref_max_evals`` where it has one."""
    if "ref_max_evals" in grid:
        settings = replace(settings, ref_max_evals=grid["ref_max_evals"])
    return reference(settings, size, depth, alpha, loss, target)


def _reached(fit):
    """'yes', or 'no (10^x)' with the loss at which the fit stopped."""
    return True if fit.reached else f"no (10^{fit.log10_loss:.1f})"


def loosest_tol(settings, size, depth, alpha, loss, target, fit_params):
    """The loosest of ``settings.scan_tols`` that meets the direction-error goal.

    The error is not monotone in tol (it depends on where the steps fall),
    so one lucky tol does not count: the tol chosen is the loosest whose
    next tighter one also meets the goal. Returns ``(rows, chosen)``: one
    row per fit tried and ``(tol, fit, error)`` or None.
    """
    X, y = make_problem(*size, seed=settings.seed)
    ref = reference(settings, size, depth, alpha, loss, target)
    rows, candidate = [], None
    for tol in settings.scan_tols:
        fit = fit_flow(X, y, depth=depth, alpha=alpha, loss=loss, target=target, tol=tol,
                       max_evals=settings.scan_max_evals, fit_params=fit_params)
        err = direction_error(fit.coef, ref.coef) if fit.reached and ref.reached else None
        ok = err is not None and err <= settings.scan_dir_err
        rows.append({"tol": tol, "reached": _reached(fit), "evals": fit.n_evals,
                     "time [s]": fit.seconds, "dir. error": err, "meets dir. error": ok})
        if ok and candidate is not None:
            return rows, candidate
        candidate = (tol, fit, err) if ok else None
    return rows, None


def case_tol_scan(settings):
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


def case_gd(settings):
    """Exact flow against fixed-step gradient descent at equal accuracy."""
    size = tuple(settings.gd_size)
    X, y = make_problem(*size, seed=settings.seed)
    Z = signed_design(X, y)
    rows, extrap_rows, checks, notes = [], [], [], []
    for depth, alpha, loss in settings.gd_configs:
        row, extra, note = _gd_config(settings, size, X, y, Z, depth, alpha, loss)
        rows.append(row)
        extrap_rows.extend(extra)
        notes.append(note)
    first = rows[0]
    checks.append(_check(">= 100x fewer gradient evaluations than fixed-step GD",
                         f"{first['evals ratio']:.3g}x", first["evals ratio"] >= 100,
                         first["config"]))
    checks.append(_check(">= 50x less wall time than fixed-step GD",
                         f"{first['time ratio']:.3g}x", first["time ratio"] >= 50,
                         first["config"]))
    return _result(
        "Against fixed-step gradient descent on (u, v)",
        f"n x d = {size[0]} x {size[1]}. Equal accuracy: direction error <= "
        f"{settings.gd_dir_err:g} against the reference flow (tol={settings.ref_tol:g}) at "
        f"loss {settings.gd_target:g}, for both methods. GD: the largest step size that "
        "is stable (loss decreasing monotonically, from a ladder of powers of 2 starting at "
        "256; 256 means every step tried was stable) is shrunk until the "
        "accuracy is met (its error is about proportional to the step); its iterate is "
        "interpolated to the target loss. Flow: the loosest tol from a ladder that meets "
        "the accuracy. Ratios are GD / flow, medians of paired repeats.",
        tables=[
            {"title": "At equal accuracy", "columns": [
                "config", "GD lr (stable max)", "GD lr (used)", "GD steps", "GD dir. error",
                "flow tol", "flow evals", "flow dir. error", "GD time [s]", "flow time [s]",
                "evals ratio", "time ratio", "repeats"], "rows": rows},
            {"title": "Smaller targets: GD steps extrapolated (not run)", "columns": [
                "config", "target", "flow evals", "flow time [s]", "log10 GD steps (1/t)",
                "log10 GD steps (t_flow / lr)", "log10 evals ratio"], "rows": extrap_rows},
        ],
        checks=checks, notes=notes,
    )


def _gd_config(settings, size, X, y, Z, depth, alpha, loss):
    config = f"D={depth}, alpha={alpha}, {loss}"
    target = settings.gd_target
    ref = reference(settings, size, depth, alpha, loss, target)

    def gd(lr):
        return gradient_descent(Z, alpha=alpha, depth=depth, loss=loss, lr=lr,
                                target_loss=target, max_steps=settings.gd_max_steps)

    # Stability: the largest power of 2 whose run decreases the loss monotonically.
    ladder = [2.0**k for k in range(8, -30, -1)]
    lr_stable = None
    for lr in ladder:
        res = gd(lr)
        if res.status == "target" and np.all(np.diff(res.log_losses) <= 0):
            lr_stable = lr
            break
    if lr_stable is None:
        raise RuntimeError(f"{config}: no stable GD step size found down to 2**-29; "
                           "raise gd_max_steps.")
    # Accuracy: the error is about proportional to lr; aim 5% below the goal.
    lr, err = lr_stable, direction_error(res.coef, ref.coef)
    for _ in range(20):
        if res.status == "target" and err <= settings.gd_dir_err:
            break
        lr *= min(0.5, 0.95 * settings.gd_dir_err / err) if err > settings.gd_dir_err else 0.5
        res = gd(lr)
        err = direction_error(res.coef, ref.coef) if res.status == "target" else np.inf
    gd_res, gd_err = res, err

    for tol in settings.gd_flow_tols:
        flow = fit_flow(X, y, depth=depth, alpha=alpha, loss=loss, target=target, tol=tol,
                        max_evals=settings.scan_max_evals, fit_params=settings.fit_params)
        if flow.reached and direction_error(flow.coef, ref.coef) <= settings.gd_dir_err:
            break
    flow_tol = tol  # the tightest one tried if none met the accuracy
    flow_err = direction_error(flow.coef, ref.coef)

    times = paired_times({
        "gd": lambda: gd(lr),
        "flow": lambda: fit_flow(X, y, depth=depth, alpha=alpha, loss=loss, target=target,
                                 tol=flow_tol, max_evals=settings.scan_max_evals,
                                 fit_params=settings.fit_params),
    }, settings)
    row = {"config": config, "GD lr (stable max)": lr_stable, "GD lr (used)": lr,
           "GD steps": gd_res.n_steps, "GD dir. error": gd_err, "flow tol": flow_tol,
           "flow evals": flow.n_evals, "flow dir. error": flow_err,
           "GD time [s]": float(np.median(times["gd"])),
           "flow time [s]": float(np.median(times["flow"])),
           "evals ratio": gd_res.n_steps / flow.n_evals,
           "time ratio": median_ratio(times["gd"], times["flow"]),
           "repeats": len(times["gd"])}

    seconds_per_step = row["GD time [s]"] / gd_res.n_steps
    extra = []
    for small in settings.gd_extrapolate:
        far = fit_flow(X, y, depth=depth, alpha=alpha, loss=loss, target=small,
                       tol=DEFAULT_TOL, max_evals=settings.scan_max_evals,
                       fit_params=settings.fit_params)
        log10_steps = extrapolated_steps(gd_res.log_losses, small)
        extra.append({
            "config": config, "target": small,
            "flow evals": far.n_evals if far.reached else f"> {far.n_evals}",
            "flow time [s]": far.seconds,
            "log10 GD steps (1/t)": log10_steps,
            "log10 GD steps (t_flow / lr)": far.log10_time - np.log10(lr),
            "log10 evals ratio": log10_steps - np.log10(far.n_evals),
        })
    note = (
        f"{config}: GD's loss decays like t^-{tail_slope(gd_res.log_losses):.2f} over its last "
        f"half decade of steps (the 1/t law, anchored at its last step, is used for the "
        f"extrapolation; t_flow / lr is the step count of a GD that tracks the flow, from "
        f"the flow's own clock). GD costs {1e3 * seconds_per_step:.3g} ms per step; the "
        f"extrapolated GD wall time is steps x that. Flow fits to the smaller targets use "
        f"the default tol={DEFAULT_TOL:g}.")
    return row, extra, note


def bare_pair(Z, seed=0):
    """The two products of one gradient evaluation, ``Z @ b`` and ``Z.T @ p``, alone."""
    rng = np.random.default_rng(seed)
    b, p = rng.standard_normal(Z.shape[1]), rng.standard_normal(Z.shape[0])

    def products():
        Z @ b
        Z.T @ p

    return products


def _calls_per_block(fn, block):
    """How many calls of ``fn`` fill about ``block`` seconds (at least 3)."""
    start = time.perf_counter()
    fn()
    return max(3, int(block / max(time.perf_counter() - start, 1e-7)))


def _time_calls(fn, calls):
    """Seconds per call of ``fn``, over ``calls`` calls in a row."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _block_time(fn, block):
    """Seconds per call of ``fn``, timed over a block of about ``block`` seconds."""
    return _time_calls(fn, _calls_per_block(fn, block))


def paired_block_times(fn_a, fn_b, block, budget, min_pairs):
    """Seconds per call of ``fn_a`` and ``fn_b``, in alternating short blocks.

    Pairs of blocks (of about ``block`` seconds each, the one timed first
    alternating) are taken until ``budget`` seconds have passed and at least
    ``min_pairs`` pairs are in. The two blocks of a pair are milliseconds
    apart, so that the load of the machine, which changes over seconds, is
    nearly the same for both: the per-pair ratios then vary much less than
    ratios of long blocks.
    """
    a = (fn_a, _calls_per_block(fn_a, block), [])
    b = (fn_b, _calls_per_block(fn_b, block), [])
    end = time.perf_counter() + budget
    while len(a[2]) < min_pairs or time.perf_counter() < end:
        for fn, calls, times in ((a, b) if len(a[2]) % 2 == 0 else (b, a)):
            times.append(_time_calls(fn, calls))
    return np.array(a[2]), np.array(b[2])


def case_per_eval(settings):
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


def case_path(settings):
    """Cost per trajectory of ``implicit_bias_path``, batched and one by one, against single fits."""
    from sklearn_implicit import implicit_bias_path

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


def case_threads(settings):
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
    default = "unknown" if PACKAGE_DEFAULT_THREADS is None else PACKAGE_DEFAULT_THREADS
    return _result(
        "BLAS threads",
        f"Bare pair Z @ b, Z.T @ p, and a whole fit (D=2, alpha=0.1, target "
        f"{settings.threads_target:g}), under 1 and 2 BLAS threads, the package default "
        f"(blas_threads={default!r} in sklearn_implicit._config, BLAS at its default "
        f"{_BLAS_MAX_THREADS} threads outside fits) and no limit (blas_threads='auto', BLAS "
        "at its default). Ratios are medians of per-repeat ratios, settings interleaved "
        "in an order rotated between repeats.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
        checks=[_check("package default BLAS threading never slower than one thread",
                       f"worst median ratio over fits {worst_default:.3g}",
                       worst_default <= 1.05,
                       "met means <= 1.05 (the repeat-to-repeat noise on this machine)")],
    )


def case_solvers(settings):
    """solver='auto' against solver='explicit' at equal accuracy."""
    rows, worst = [], 0.0
    solvers = ("explicit", "auto")
    for size, configs, targets in settings.solvers_grid:
        size = tuple(size)
        X, y = make_problem(*size, seed=settings.seed)
        for alpha, loss in configs:
            for target in targets:
                scans = {solver: loosest_tol(settings, size, 2, alpha, loss, target,
                                             {**settings.fit_params, "solver": solver})
                         for solver in solvers}
                chosen = {solver: scans[solver][1] for solver in solvers}
                row = {"n x d": f"{size[0]} x {size[1]}", "alpha": alpha, "loss": loss,
                       "target": target}
                for solver in solvers:
                    tol, fit, err = chosen[solver] or (None, None, None)
                    row.update({f"{solver} tol": tol,
                                f"{solver} evals": None if fit is None else fit.n_evals,
                                f"{solver} dir. error": err})
                # auto at the explicit method's tol: what the equal-tol
                # comparison would have counted
                at = [r for r in scans["auto"][0]
                      if chosen["explicit"] and r["tol"] == chosen["explicit"][0]]
                row.update({"auto evals at explicit tol": at[0]["evals"] if at else None,
                            "auto dir. error at explicit tol":
                                at[0]["dir. error"] if at else None})
                if None in chosen.values():
                    row["auto / explicit (time)"] = "no tol met the goal"
                    rows.append(row)
                    continue

                def fit(solver, alpha=alpha, loss=loss, target=target):
                    return fit_flow(X, y, depth=2, alpha=alpha, loss=loss, target=target,
                                    tol=chosen[solver][0], max_evals=settings.scan_max_evals,
                                    fit_params={**settings.fit_params, "solver": solver})

                seconds = chosen["explicit"][1].seconds
                repeats = min(21, max(settings.repeats, int(settings.solvers_budget / seconds)))
                if seconds > settings.time_budget:
                    repeats = 1  # fits of tens of seconds
                times = {solver: [] for solver in solvers}
                for i in range(repeats):
                    for solver in (solvers if i % 2 == 0 else solvers[::-1]):
                        times[solver].append(fit(solver).seconds)
                ratio = median_ratio(times["auto"], times["explicit"])
                worst = max(worst, ratio)
                row.update({"explicit [s]": float(np.median(times["explicit"])),
                            "auto [s]": float(np.median(times["auto"])),
                            "auto / explicit (time)": ratio, "pairs": repeats})
                rows.append(row)
    return _result(
        "Automatic switch to the stiff method, at equal accuracy",
        "DiagonalLinearClassifier (D=2) with solver='auto' (the default: DOP853, then "
        "RODAS4 once the flow is stiff and a trial shows it cheaper) against "
        "solver='explicit' (DOP853 throughout), each at the loosest tol that meets a "
        f"direction error of {settings.scan_dir_err:g} against the reference (as in "
        "tol_scan: at two consecutive tols). The fits at those tols then alternate, the "
        "first of each pair alternating; the time ratio is the median of per-pair ratios "
        f"(one pair for fits over {settings.time_budget:g} s). 'evals' counts gradient "
        "evaluations only, not the stiff method's Jacobians and linear solves. 'auto "
        "... at explicit tol': the auto fit at the explicit method's tol, where auto's "
        "scan reached it (n/a: auto met the goal at a looser tol), which an equal-tol "
        "comparison would count: the explicit steps, bounded by stability on the stiff "
        "late phase, are more accurate than tol asks, the stiff steps are not.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
        checks=[_check("solver='auto' never slower than the explicit method at equal accuracy",
                       f"worst median ratio {worst:.3g}", worst <= 1.05,
                       "met means <= 1.05 (the repeat-to-repeat noise on this machine)")],
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
        _fit(clf, X, y, target)
    finally:
        _rosenbrock.Rodas4.step = step
    middle = -0.5 * np.log(target)
    return min(calls, key=lambda args: abs(args[3] - middle))


def case_step_cost(settings):
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


def case_gram_drop(settings):
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


def case_deep(settings):
    """DeepLinearClassifier: evaluations and cost per evaluation."""
    try:
        from sklearn_implicit import DeepLinearClassifier
    except ImportError:
        try:  # written, not yet exported
            from sklearn_implicit import DeepLinearClassifier
        except ImportError as exc:
            return _result("DeepLinearClassifier",
                           f"not available: cannot be imported ({exc}).")
    size = tuple(settings.deep_size)
    X, y = make_problem(*size, seed=settings.seed)
    Z = signed_design(X, y)
    bare = bare_pair(Z, settings.seed)
    rows = []
    for target in settings.deep_targets:
        def fit():
            clf = DeepLinearClassifier(
                depth=settings.deep_depth, width=settings.deep_width, target_loss=target,
                fit_intercept=False, random_state=0,
                max_iter=-(-settings.deep_max_evals // EVALS_PER_STEP))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return clf.fit(X, y)

        seconds, n_runs, clf = timed(fit, settings)
        evals = int(np.sum(clf.n_grad_evals_))
        t_pair = _block_time(bare, settings.bare_block)
        rows.append({"target": target, "reached 10^": float(clf.log10_loss_[0]),
                     "evals": evals, "time [s]": seconds, "repeats": n_runs,
                     "ms / eval": 1e3 * seconds / evals,
                     "eval / bare pair": seconds / evals / t_pair})
    return _result(
        "DeepLinearClassifier",
        f"depth {settings.deep_depth}, width {settings.deep_width}, n x d = {size[0]} x "
        f"{size[1]}, default alpha, init, loss and tol, random_state=0; 'eval / bare pair' "
        "divides the "
        "fit's time per gradient evaluation by two bare products with X.",
        tables=[{"title": "", "columns": list(rows[0]), "rows": rows}],
    )


CASES = {
    "evals": case_evals,
    "tol_scan": case_tol_scan,
    "gd": case_gd,
    "per_eval": case_per_eval,
    "path": case_path,
    "threads": case_threads,
    "solvers": case_solvers,
    "gram_drop": case_gram_drop,
    "step_cost": case_step_cost,
    "deep": case_deep,
    "evals_large": case_evals_large,
}
# run only when named (about 40 minutes)
BY_HAND = ("evals_large",)


def run_case(name, settings):
    """Run one case under the pinned thread count (the threads case sets its own)."""
    context = nullcontext() if name == "threads" else blas_threads(settings.threads)
    start = time.perf_counter()
    try:
        with context:
            result = CASES[name](settings)
    except Exception as exc:  # one broken case must not lose the others
        result = _result(name, f"failed: {type(exc).__name__}: {exc}",
                         notes=[traceback.format_exc().strip().replace("\n", " / ")])
    result["seconds"] = time.perf_counter() - start
    return result


# --------------------------------------------------------------------------
# Report


def _git_revision():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} (with uncommitted changes)" if dirty else rev


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(settings):
    """Where and how the benchmarks ran."""
    blas = [f"{i['internal_api']} {i['version']} ({i.get('architecture', '?')}, "
            f"{i['num_threads']} threads by default, {i['threading_layer'] if 'threading_layer' in i else '?'})"
            for i in threadpool_info() if i["user_api"] == "blas"]
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "revision": _git_revision(),
        "machine": f"{_cpu_model()}, nproc={os.cpu_count()}, "
                   f"usable cores={len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}",
        "blas": "; ".join(blas) or "none found by threadpoolctl",
        "threads": f"{settings.threads} BLAS thread(s) pinned with threadpoolctl and "
                   "sklearn_implicit's blas_threads (except in the threads case)",
        "versions": f"sklearn_implicit {sklearn_implicit.__version__}, python "
                    f"{platform.python_version()}, numpy {np.__version__}, scipy "
                    f"{scipy.__version__}, scikit-learn {sklearn.__version__}",
        "mode": f"{settings.mode} (repeats <= {settings.repeats}, stopping early after "
                f"{settings.time_budget:g} s per item)",
        "load average at the start": f"{os.getloadavg()[0]:.1f} (1 minute)",
        "fit params": ", ".join(f"{k}={v!r}" for k, v in settings.fit_params.items())
                      or "package defaults",
    }


def _fmt(value):
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.2e}"
        return f"{value:.3g}"
    return str(value)


def to_markdown(results, env, command=""):
    """The report: environment, the targets (met / not met), then each case."""
    lines = ["# sklearn-implicit benchmarks", ""]
    if command:
        lines += [f"Produced by `{command}`.", ""]
    lines += [f"- **{k}**: {v}" for k, v in env.items()] + [""]
    checks = [c for r in results.values() for c in r["checks"]]
    if checks:
        lines += ["## Targets", "", "| target | measured | met | note |", "|---|---|---|---|"]
        lines += [f"| {c['target']} | {c['value']} | {'met' if c['met'] else 'NOT met'} | "
                  f"{c['detail']} |" for c in checks]
        lines.append("")
    for name, result in results.items():
        lines += [f"## {result['title']} (`--case {name}`, {result['seconds']:.0f} s)", "",
                  result["about"], ""]
        for table in result["tables"]:
            if table["title"]:
                lines += [f"**{table['title']}**", ""]
            cols = table["columns"]
            lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            lines += ["| " + " | ".join(_fmt(row.get(c)) for c in cols) + " |"
                      for row in table["rows"]]
            lines.append("")
        lines += [f"- {note}" for note in result["notes"]]
        if result["notes"]:
            lines.append("")
    return "\n".join(lines)


def _parse_params(pairs):
    params = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small problem only, fewer repeats (about 3 minutes)")
    parser.add_argument("--case", action="append", choices=list(CASES),
                        help="run only this case (repeatable); default: all")
    parser.add_argument("--repeats", type=int, help="timed repeats per item")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads pinned for every case but 'threads' (default 1)")
    parser.add_argument("--param", action="append", metavar="KEY=VALUE",
                        help="extra DiagonalLinearClassifier parameter for every fit "
                             "(JSON value), e.g. to compare integrators")
    parser.add_argument("--output", default=str(Path(__file__).with_name("RESULTS.md")),
                        help="markdown report path ('-' for stdout only)")
    parser.add_argument("--json", help="also write the raw results as JSON here")
    args = parser.parse_args(argv)

    kw = {"threads": args.threads, "fit_params": _parse_params(args.param)}
    settings = Settings.quick(**kw) if args.quick else Settings.full(**kw)
    if args.repeats:
        settings.repeats = args.repeats
    env = environment(settings)
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    names = args.case or [name for name in CASES if name not in BY_HAND]
    # Cheap cases first: a run cut short still has them in the report.
    order = sorted(names, key=lambda name: name == "evals")
    results = {}
    start = time.perf_counter()
    for name in order:
        print(f"[{time.strftime('%H:%M:%S')}] case {name} ...", flush=True)
        results[name] = run_case(name, settings)
        print(f"    done in {results[name]['seconds']:.0f} s", flush=True)
        env["total"] = (f"{time.perf_counter() - start:.0f} s; load average at the end "
                        f"{os.getloadavg()[0]:.1f}")
        ordered = {n: results[n] for n in names if n in results}
        report = to_markdown(ordered, env, command.strip())
        if args.output != "-":
            Path(args.output).write_text(report + "\n")
        if args.json:
            Path(args.json).write_text(json.dumps(
                {"environment": env, "settings": asdict(settings), "results": ordered},
                indent=1, default=_json_default))
    print(report)
    return results


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


if __name__ == "__main__":
    main()
