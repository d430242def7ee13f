"""The benchmark harness runs end to end on toy sizes (so it does not rot).

Nothing here is timed: the numbers of a toy run are meaningless; only the
structure of the results and of the report is checked.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmarks_run", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def toy_results(bench):
    settings = bench.Settings.toy()
    return settings, {name: bench.run_case(name, settings) for name in bench.CASES}


def test_every_case_returns_tables_and_checks(bench, toy_results):
    _, results = toy_results
    assert set(results) == set(bench.CASES)
    for name, result in results.items():
        assert set(result) >= {"title", "about", "tables", "checks", "notes", "seconds"}
        assert not result["about"].startswith("failed"), result["notes"]
        if result["about"].startswith("not available"):
            assert result["tables"] == [] and result["checks"] == []
            continue
        assert result["tables"], name
        for table in result["tables"]:
            assert table["rows"], (name, table["title"])
            for row in table["rows"]:
                assert set(row) <= set(table["columns"]), (name, row)
        for check in result["checks"]:
            assert set(check) == {"target", "value", "met", "detail"}
            assert isinstance(check["met"], (bool, np.bool_))


def test_evals_case_reaches_toy_targets_accurately(toy_results):
    settings, results = toy_results
    rows = results["evals"]["tables"][0]["rows"]
    grid = settings.evals_grids[0]
    assert len(rows) == len(grid["targets"])
    for row in rows:
        assert row["reached"] is True
        assert row["evals"] > 0 and row["time [s]"] > 0
        # default tol against the tight reference on a 20 x 60 problem
        assert row["dir. error"] < 1e-3


def test_gd_case_meets_its_accuracy(toy_results):
    settings, results = toy_results
    row = results["gd"]["tables"][0]["rows"][0]
    assert row["GD dir. error"] <= settings.gd_dir_err
    assert row["flow dir. error"] <= settings.gd_dir_err
    assert row["GD lr (used)"] <= row["GD lr (stable max)"]
    assert row["evals ratio"] == row["GD steps"] / row["flow evals"]


def test_report_names_the_environment_and_every_case(bench, toy_results):
    settings, results = toy_results
    env = bench.environment(settings)
    report = bench.to_markdown(results, env, "python benchmarks/run.py --toy")
    for key in ("machine", "blas", "threads", "versions"):
        assert f"**{key}**" in report
    for result in results.values():
        assert result["title"] in report
    # every section says which run measured it
    stamp = f"*Measured: date {env['date']}; revision {env['revision']};"
    assert report.count(stamp) == len(results)


def test_merged_report_keeps_the_other_sections(bench, toy_results):
    """``--merge``: a run of some cases replaces their sections and target
    rows and keeps every other section, byte for byte, with its own stamp."""
    settings, results = toy_results
    env = bench.environment(settings)
    first = bench.to_markdown(results, dict(env, date="2000-01-01 00:00 UTC"), "all")
    rerun = {"gd": results["gd"]}
    kept = {name: section for name, section in bench.read_report(first, list(bench.CASES)).items()
            if name not in rerun}
    merged = bench.to_markdown(rerun, env, "python benchmarks/run.py --case gd --merge", kept,
                               list(bench.CASES))

    sections = bench.read_report(merged, list(bench.CASES))
    assert list(sections) == list(bench.CASES)
    old = bench.read_report(first, list(bench.CASES))
    for name in bench.CASES:
        same = sections[name] == old[name]
        assert same == (name != "gd"), name
    assert f"date {env['date']}" in "\n".join(sections["gd"]["text"])
    assert len(sections["gd"]["targets"]) == len(results["gd"]["checks"]) > 0
    # merging again with nothing rerun changes nothing
    assert bench.to_markdown({}, env, "python benchmarks/run.py --case gd --merge",
                             sections, list(bench.CASES)) == merged


def test_gradient_descent_tracks_flow_time(bench):
    """GD with a small step reaches the loss after about t_flow / lr steps."""
    from gd_baseline import gradient_descent

    X, y = bench.make_problem(20, 60)
    Z = bench.signed_design(X, y)
    fit = bench.fit_flow(X, y, depth=2, alpha=1.0, loss="exponential", target=1e-2,
                         tol=1e-9, max_evals=10_000)
    lr = 1e-3
    res = gradient_descent(Z, alpha=1.0, depth=2, loss="exponential", lr=lr,
                           target_loss=1e-2, max_steps=10**6)
    assert res.status == "target"
    assert res.n_steps * lr == pytest.approx(10**fit.log10_time, rel=0.05)
    assert bench.direction_error(res.coef, fit.coef) < 1e-2


def test_path_case_compares_batched_and_one_by_one(toy_results):
    settings, results = toy_results
    rows = results["path"]["tables"][0]["rows"]
    # k = 1 once; every larger k batched (batch_size = k) and one by one.
    expected = [(k, b) for k in settings.path_ks for b in ([1] if k == 1 else [k, 1])]
    assert [(r["k"], r["batch_size"]) for r in rows] == expected
    assert all(r["per trajectory / single fit"] > 0 and r["max evals"] > 0 for r in rows)


def test_solvers_case_compares_both_solvers_at_equal_accuracy(toy_results):
    settings, results = toy_results
    rows = results["solvers"]["tables"][0]["rows"]
    ((size, configs, targets),) = settings.solvers_grid
    assert [row["target"] for row in rows] == list(targets) * len(configs)
    for row in rows:
        for solver in ("explicit", "auto"):
            assert row[f"{solver} dir. error"] <= settings.scan_dir_err
            assert row[f"{solver} evals"] > 0 and row[f"{solver} tol"] in settings.scan_tols
        assert row["auto / explicit (time)"] > 0 and row["pairs"] >= settings.repeats
        # auto at the explicit method's tol: its own fit where the tols agree
        if row["auto tol"] == row["explicit tol"]:
            assert row["auto evals at explicit tol"] == row["auto evals"]
            assert row["auto dir. error at explicit tol"] == row["auto dir. error"]
        elif row["auto tol"] < row["explicit tol"]:
            assert row["auto evals at explicit tol"] > 0


def test_gram_drop_case_leaves_out_columns_and_stays_accurate(bench, toy_results):
    settings, results = toy_results
    rows = results["gram_drop"]["tables"][0]["rows"]
    fractions = settings.drop_fractions
    assert len(rows) == len(settings.drop_tols) * len(fractions)
    for row, fraction in zip(rows, fractions):
        assert row["reached"] is True and row["Gram matrices"] > 0
        assert row["dir. error"] < 100 * row["tol"]
        n_features = settings.drop_config[0][1]
        if fraction == 0.0:  # nothing left out
            assert row["columns kept (median)"] == n_features
        else:
            assert row["columns kept (median)"] < n_features
    # the recording and the setting are undone
    assert bench._jacobian.GramTruncation.columns.__name__ == "columns"
    assert bench._rosenbrock.GRAM_DROP == 1e-2


def test_large_case_is_one_trajectory_per_configuration(bench, toy_results):
    settings, results = toy_results
    grid = settings.large_grid
    rows = results["evals_large"]["tables"][0]["rows"]
    assert len(rows) == len(grid["depths"]) * len(grid["targets"])
    for depth in grid["depths"]:
        legs = [row for row in rows if row["D"] == depth]
        assert [row["target"] for row in legs] == sorted(grid["targets"], reverse=True)
        assert all(row["reached"] is True for row in legs)
        # cumulative along the trajectory
        assert np.all(np.diff([row["evals"] for row in legs]) > 0)
        assert np.all(np.diff([row["time [s]"] for row in legs]) > 0)
        first = legs[0]
        if (depth, grid["alphas"][0]) in grid["ref_skip"]:
            assert first["dir. error"] is None and first["ref. evals"] is None
        else:
            assert first["dir. error"] < 1e-3 and first["ref. evals"] > first["evals"]
        assert all(row["dir. error"] is None for row in legs[1:])
    assert "none for D=3, alpha=1 (too costly)" in results["evals_large"]["about"]


def test_default_run_leaves_out_the_cases_run_by_hand(bench, monkeypatch):
    ran = []
    def fake_run_case(name, settings):
        ran.append(name)
        return {**bench._result(name, "skipped"), "seconds": 0.0}

    monkeypatch.setattr(bench, "run_case", fake_run_case)
    bench.main(["--quick", "--output", "-"])
    assert set(ran) == set(bench.CASES) - set(bench.BY_HAND)
    assert "evals_large" in bench.BY_HAND


def test_step_cost_case_times_a_stiff_step_against_the_model(toy_results):
    settings, results = toy_results
    rows = results["step_cost"]["tables"][0]["rows"]
    assert len(rows) == len(settings.step_cost_items)
    log10_target = np.log10(settings.step_cost_fit[2])
    for row in rows:
        # a step of the stiff phase, between the start and the target
        assert log10_target < row["log10 loss"] < 0
        # six stages, each an evaluation and a linear solve, plus a Jacobian
        assert row["model [evaluations]"] > 6
        assert row["RODAS4 step [ms]"] > 0 and row["DOP853 step [ms]"] > 0
        assert row["measured / model"] == pytest.approx(
            row["RODAS4 step [evaluations]"] / row["model [evaluations]"])


def test_cv_case_compares_the_same_grid_three_ways(toy_results):
    settings, results = toy_results
    (row,) = results["cv"]["tables"][0]["rows"]
    assert row["grid"] == f"{settings.cv_alphas} x {settings.cv_targets} x {settings.cv_folds} folds"
    # the stops of one trajectory against GridSearchCV's separate fits
    assert row["same choice"] is True and row["max score difference"] <= 1e-6
    # a trajectory to the smallest target costs at least one fit to it
    assert row["CV evals / ideal evals"] >= 1.0
    assert row["CV [s]"] > 0 and row["ideal [s]"] > 0 and row["GridSearchCV [s]"] > 0
