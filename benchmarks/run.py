"""Benchmarks of sklearn-implicit's gradient-flow integrator.

Run ``python benchmarks/run.py --quick`` (a few minutes) or
``python benchmarks/run.py`` (the full run); ``--case NAME`` runs one case.
See ``benchmarks/README.md`` for what each case measures. Case NAME is the
module ``cases/NAME.py``, whose ``run(settings) -> dict`` can also be called
from Python (the smoke test does, on toy sizes); ``common.py`` holds what
the cases share (settings, problems, fits, timing, the report).

The machine these run on is shared and noisy, so the headline numbers are
ratios of times taken in the same process, interleaved repeat by repeat, and
reported as medians; gradient evaluation counts are exact.
"""

import argparse
import json
import os
import sys
import time
import traceback
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

# The cases, their helpers and gd_baseline.py are imported from this folder,
# also when this file is loaded from elsewhere (the smoke test).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cases import (  # noqa: E402
    clocks, control, convolutional, cv, deep, dynamics, evals, evals_large, gd, gram_drop,
    grid_search, path, per_eval, real_data, scipy_ivp, separability, setup_cost, solvers,
    step_cost, stiff_networks, tall_stiff, threads, tol_meaning, tol_scan,
)
from common import (  # noqa: E402
    Settings, _json_default, _result, blas_threads, environment, read_report, to_markdown,
)
# Also for callers from Python (the smoke test): problems and fits, and the
# stiff integrator whose settings case gram_drop changes and restores.
from common import _jacobian, _rosenbrock, direction_error, fit_flow, make_problem, signed_design  # noqa: E402,F401

# Case name -> its run(settings), in the order of the report.
CASES = {
    "evals": evals.run,
    "tol_scan": tol_scan.run,
    "tol_meaning": tol_meaning.run,
    "gd": gd.run,
    "per_eval": per_eval.run,
    "path": path.run,
    "threads": threads.run,
    "solvers": solvers.run,
    "gram_drop": gram_drop.run,
    "step_cost": step_cost.run,
    "deep": deep.run,
    "convolutional": convolutional.run,
    "stiff_networks": stiff_networks.run,
    "real_data": real_data.run,
    "separability": separability.run,
    "tall_stiff": tall_stiff.run,
    "scipy_ivp": scipy_ivp.run,
    "clocks": clocks.run,
    "setup_cost": setup_cost.run,
    "cv": cv.run,
    "grid_search": grid_search.run,
    "dynamics": dynamics.run,
    "control": control.run,
    "evals_large": evals_large.run,
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
    parser.add_argument("--merge", action="store_true",
                        help="keep the other cases' sections of the existing report "
                             "(each section says which run measured it)")
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
    kept = {}
    if args.merge and args.output != "-" and Path(args.output).exists():
        kept = read_report(Path(args.output).read_text(), list(CASES))
    results = {}
    start = time.perf_counter()
    for name in order:
        print(f"[{time.strftime('%H:%M:%S')}] case {name} ...", flush=True)
        results[name] = run_case(name, settings)
        print(f"    done in {results[name]['seconds']:.0f} s", flush=True)
        env["total"] = (f"{time.perf_counter() - start:.0f} s; load average at the end "
                        f"{os.getloadavg()[0]:.1f}")
        ordered = {n: results[n] for n in names if n in results}
        report = to_markdown(ordered, env, command.strip(),
                             {n: v for n, v in kept.items() if n not in results}, list(CASES))
        if args.output != "-":
            Path(args.output).write_text(report + "\n")
        if args.json:
            Path(args.json).write_text(json.dumps(
                {"environment": env, "settings": asdict(settings), "results": ordered},
                indent=1, default=_json_default))
    print(report)
    return results


if __name__ == "__main__":
    main()
