"""Discrete training dynamics: parameter views, step rules, runs, results."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_implicit._dynamics import (
    DYNAMICS,
    DenseParameters,
    DiagonalParameters,
    LinearParameters,
    fit_one,
    fit_one_discrete,
    parameter_view,
)
from sklearn_implicit._dynamics.batches import EpochBatches
from sklearn_implicit._dynamics.monitor import GROWTH, WINDOW, DivergenceMonitor
from sklearn_implicit._dynamics.rules import log_learning_rate, steepest_step
from sklearn_implicit._integrate import fit_one_flow
from sklearn_implicit._losses import ExponentialLoss, LogisticLoss, SquaredLoss
from sklearn_implicit._networks import (
    ConvolutionalNetwork,
    DenseNetwork,
    DiagonalNetwork,
)
from sklearn_implicit._networks.convolutional import initial_filters
from sklearn_implicit.utils._logspace import LN10


def _classification(n=20, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(X @ rng.standard_normal(d) > 0, 1.0, -1.0)
    return X, y, y[:, None] * X


def _run(model, loss, Z, target, **params):
    params.setdefault("learning_rate", 0.1)
    return fit_one_discrete(model, loss, Z, np.ones(Z.shape[0]), None, target, 1e-10,
                            params.pop("max_iter", 10**6), 0, "", 1, **params)


# --------------------------------------------------------------------------
# parameter views


def _views():
    rng = np.random.default_rng(3)
    yield "linear", LinearParameters(6), 0.5 * rng.standard_normal(6)
    for depth in (2, 3):
        view = DiagonalParameters(np.geomspace(0.1, 2.0, 6), depth)
        yield f"diagonal D={depth}", view, view.initial_params() * np.exp(
            0.3 * rng.standard_normal(12))
    for init in ("normal", "antisymmetric"):
        view = parameter_view(DenseNetwork(6, (4, 3), 0.7, init, np.random.RandomState(1)))
        yield f"dense {init}", view, view.initial_params() + 0.3 * rng.standard_normal(
            view.initial_params().shape)
    # odd and even lengths (a Nyquist frequency or none), with an intercept
    for init, d, intercept in (("normal", 5, False), ("antisymmetric", 6, True)):
        filters = initial_filters(init, 0.7, 3, d, np.random.RandomState(1))
        view = parameter_view(ConvolutionalNetwork(filters, intercept=intercept))
        # (a raw move keeps the state a real filter's spectrum)
        n_raw = filters.shape[0] * 3 * (d + intercept)
        yield f"convolutional {init}", view, view.move(
            view.initial_params(), 0.3 * rng.standard_normal(n_raw))


@pytest.mark.parametrize("name, view, params", list(_views()),
                         ids=[case[0] for case in _views()])
def test_view_gradient_is_the_raw_parameters_gradient(name, view, params):
    # For a raw move e: -dL = g . dbeta = g . (d coef(move(params, t e)) / dt),
    # which must equal <raw negative gradient, e> (central differences).
    rng = np.random.default_rng(4)
    g = rng.standard_normal(view.n_coef)
    g /= np.abs(g).max()
    direction, log_size = view.gradient(params, g)
    gradient = math.exp(log_size) * direction
    eps = 1e-6
    for e in rng.standard_normal((5, gradient.size)):  # raw moves
        dbeta = (view.coef(view.move(params, eps * e))
                 - view.coef(view.move(params, -eps * e))) / (2 * eps)
        assert math.isclose(g @ dbeta, gradient @ e, rel_tol=1e-7, abs_tol=1e-9)


def test_views_of_the_networks_start_where_the_networks_start():
    diagonal = DiagonalNetwork(np.array([0.1, 0.5, 2.0]), 3)
    dense = DenseNetwork(3, (4,), 0.5, "antisymmetric", np.random.RandomState(0))
    for network in (diagonal, dense):
        view = parameter_view(network)
        np.testing.assert_allclose(view.coef(view.initial_params()),
                                   network.coef(network.initial_state()), atol=1e-15)
    view = parameter_view(diagonal)
    u, v = view.split(view.initial_params())
    # (to an ulp: the network keeps log(alpha))
    np.testing.assert_allclose(u, [0.1, 0.5, 2.0], rtol=2.3e-16)
    np.testing.assert_array_equal(v, u)
    assert parameter_view(view) is view
    with pytest.raises(TypeError, match="no parameter view"):
        parameter_view(object())


def test_convolutional_view_moves_the_real_filters():
    # A raw move of one filter entry of network A moves that entry of the
    # filters the network reports, and nothing else.
    filters = initial_filters("antisymmetric", 0.5, 2, 5, np.random.RandomState(0))
    network = ConvolutionalNetwork(filters, intercept=True)
    view = parameter_view(network)
    delta = np.zeros(2 * 2 * 6)
    delta[6 + 2] = 0.25  # network A, layer 2, entry 2
    before, _ = network.filters(view.initial_params())
    after, factors = network.filters(view.move(view.initial_params(), delta))
    expected = before.copy()
    expected[0, 1, 2] += 0.25
    np.testing.assert_allclose(after, expected, atol=1e-15)
    np.testing.assert_allclose(factors, network.filters(view.initial_params())[1])


def test_antisymmetric_dense_view_moves_the_two_networks():
    # raw parameters (A, B) = (M + H, M - H): moving A alone moves M and H by
    # half of it each
    network = DenseNetwork(3, (2,), 0.5, "antisymmetric", np.random.RandomState(0))
    view = DenseParameters(network)
    params = view.initial_params() + 0.1
    delta = np.zeros_like(params)
    half = params.size // 2
    delta[:half] = 1.0
    moved = view.move(params, delta)
    np.testing.assert_allclose(moved - params, 0.5)


def test_effective_alpha_is_the_geometric_mean_of_the_weights():
    view = DiagonalParameters(np.array([0.3, 0.3]), 2)
    params = np.array([0.6, 0.1, 0.15, 0.4])  # u = (0.6, 0.1), v = (0.15, 0.4)
    np.testing.assert_allclose(view.effective_alpha(params), [0.3, 0.2])
    with pytest.raises(ValueError, match="depth 2"):
        DiagonalParameters(np.array([0.3]), 3).effective_alpha(np.ones(2))


# --------------------------------------------------------------------------
# step rules


@pytest.mark.parametrize("norm, dual", [("l2", 2), ("linf", 1), ("l1", np.inf)])
def test_steepest_step_has_the_dual_norm_as_length_and_rate(norm, dual):
    # The steepest step Delta of a norm for the gradient d: ||Delta|| = ||d||_*
    # and <d, Delta> = ||d||_***2 (Gunasekar et al. 2018).
    primal = {"l2": 2, "linf": np.inf, "l1": 1}[norm]
    d = np.random.default_rng(0).standard_normal(7)
    step, log_length = steepest_step(d.copy(), norm)
    delta = math.exp(log_length) * step
    dual_norm = np.linalg.norm(d, dual)
    assert math.isclose(np.linalg.norm(delta, primal), dual_norm, rel_tol=1e-14)
    assert math.isclose(d @ delta, dual_norm**2, rel_tol=1e-14)


def test_coordinate_step_moves_the_largest_gradient_coordinate_only():
    step, log_length = steepest_step(np.array([0.5, -2.0, 1.0]), "l1")
    np.testing.assert_array_equal(step, [0.0, -1.0, 0.0])
    assert log_length == math.log(2.0)


def test_normalized_learning_rate_divides_by_the_loss():
    assert log_learning_rate(math.log(0.1), "constant", -500.0) == math.log(0.1)
    assert log_learning_rate(math.log(0.1), "normalized", -500.0) == math.log(0.1) + 500.0
    with pytest.raises(ValueError, match="learning_rate_schedule"):
        log_learning_rate(0.0, "adaptive", 0.0)


# --------------------------------------------------------------------------
# mini-batches


def test_every_epoch_visits_every_sample_once():
    batches = EpochBatches(10, 4, np.random.RandomState(0))
    for _ in range(3):
        rows, sizes, ends = [], [], []
        while True:
            batch, end = batches.next()
            rows.extend(batch)
            sizes.append(len(batch))
            ends.append(end)
            if end:
                break
        assert sorted(rows) == list(range(10))
        assert sizes == [4, 4, 2]
        assert ends == [False, False, True]


def test_sgd_is_reproducible_under_random_state():
    X, y, Z = _classification()
    view = DiagonalParameters(np.full(5, 0.5), 2)
    runs = [_run(view, LogisticLoss(), Z, 0.1, dynamics="sgd", batch_size=3,
                 learning_rate=0.05, random_state=seed) for seed in (7, 7, 8)]
    np.testing.assert_array_equal(runs[0].coef, runs[1].coef)
    assert runs[0].n_iter == runs[1].n_iter
    assert not np.array_equal(runs[0].coef, runs[2].coef)
    # a RandomState instance is consumed like the seed it was built from
    from_instance = _run(view, LogisticLoss(), Z, 0.1, dynamics="sgd", batch_size=3,
                         learning_rate=0.05, random_state=np.random.RandomState(7))
    np.testing.assert_array_equal(from_instance.coef, runs[0].coef)


def test_a_batch_of_every_sample_is_gradient_descent():
    X, y, Z = _classification()
    view = DiagonalParameters(np.full(5, 0.5), 2)
    gd = _run(view, ExponentialLoss(), Z, 0.1, dynamics="gd")
    sgd = _run(view, ExponentialLoss(), Z, 0.1, dynamics="sgd", batch_size=50,
               random_state=0)
    np.testing.assert_array_equal(gd.coef, sgd.coef)
    assert gd.n_iter == sgd.n_iter


def test_sgd_checks_the_full_loss_at_epoch_ends():
    X, y, Z = _classification()
    view = DiagonalParameters(np.full(5, 0.5), 2)
    result = _run(view, ExponentialLoss(), Z, 0.05, dynamics="sgd", batch_size=6,
                  random_state=0)
    assert result.status == "target"
    # 20 samples in batches of 6: four steps per epoch
    assert result.n_iter % 4 == 0
    assert result.n_evals == result.n_iter
    assert np.all(result.history["n_steps"][1:] % 4 == 0)
    loss = ExponentialLoss().log_mean(Z @ result.coef, np.ones(20))
    # The full training loss at the returned point, to rounding: the run
    # takes it as the gradient evaluations do (from the loss's kept weight
    # logarithms), log_mean from the weights; numpy 1.24 on an AVX-512
    # machine put the two one unit in the last place apart.
    assert abs(result.log_loss - loss) <= 4 * np.spacing(abs(loss))
    assert max(result.log_loss, loss) <= math.log(0.05)


# --------------------------------------------------------------------------
# the run: stops, results, history


def test_the_run_stops_at_the_first_iterate_at_or_below_the_target():
    X, y, Z = _classification()
    network = DiagonalNetwork(np.full(5, 0.5), 2)
    result = _run(network, ExponentialLoss(), Z, 1e-2, dynamics="gd")
    assert result.status == "target"
    assert result.log_loss <= math.log(1e-2)
    one_short = _run(network, ExponentialLoss(), Z, 1e-2, dynamics="gd",
                     max_iter=result.n_iter - 1)
    assert one_short.status == "max_iter"
    assert one_short.n_iter == result.n_iter - 1
    assert one_short.log_loss > math.log(1e-2)
    # one gradient evaluation per step, and one at the start
    assert result.n_evals == result.n_iter + 1


def test_result_has_the_flow_fields_and_history():
    X, y, Z = _classification()
    network = DiagonalNetwork(np.full(5, 0.5), 2)
    flow = fit_one_flow(network, ExponentialLoss(), Z, np.ones(20), None, 1e-3, 1e-8,
                        10_000, 0, "", 1)
    result = _run(network, ExponentialLoss(), Z, 1e-3, dynamics="gd", learning_rate=0.2)
    for name in ("stops", "last", "log_loss", "coef", "predictions", "status", "n_iter",
                 "n_evals", "history"):
        assert hasattr(result, name)
    assert set(flow.history) | {"n_steps"} == set(result.history)
    history = result.history
    # one record at the start, one per decade of loss, one at the end
    assert np.array_equal(np.floor(-history["log10_loss"][1:-1]), [1, 2])
    # (the package's own log(10): NumPy's and math's may differ in the last bit)
    assert history["log10_loss"][-1] == result.log_loss / LN10
    # the time is the number of steps times the learning rate
    np.testing.assert_allclose(10 ** history["log10_time"][1:],
                               0.2 * history["n_steps"][1:], rtol=1e-12)
    assert history["log10_time"][0] == -np.inf
    np.testing.assert_allclose(result.predictions, Z @ result.coef, rtol=1e-14)
    np.testing.assert_array_equal(result.last.state, result.stops[0].state)
    assert result.last.tau == -result.log_loss


def test_decreasing_targets_are_all_recorded():
    X, y, Z = _classification()
    network = DiagonalNetwork(np.full(5, 0.5), 2)
    targets = [1e-1, 1e-2, 1e-3]
    result = _run(network, ExponentialLoss(), Z, targets, dynamics="gd")
    assert len(result.stops) == 3
    for stop, target in zip(result.stops, targets):
        single = _run(network, ExponentialLoss(), Z, target, dynamics="gd")
        np.testing.assert_array_equal(stop.state, single.last.state)
        assert stop.tau == single.last.tau >= -math.log(target)


def test_a_warm_start_continues_the_same_iterates():
    X, y, Z = _classification()
    network = DiagonalNetwork(np.full(5, 0.5), 2)
    first = _run(network, ExponentialLoss(), Z, 1e-2, dynamics="gd")
    continued = fit_one_discrete(network, ExponentialLoss(), Z, np.ones(20), first.last,
                                 1e-3, 1e-10, 10**6, 0, "", 1, dynamics="gd",
                                 learning_rate=0.1)
    direct = _run(network, ExponentialLoss(), Z, 1e-3, dynamics="gd")
    np.testing.assert_array_equal(continued.coef, direct.coef)
    assert first.n_iter + continued.n_iter == direct.n_iter
    assert continued.history["log10_time"][-1] == pytest.approx(
        direct.history["log10_time"][-1], rel=1e-12)


def test_sparse_design_gives_the_dense_run():
    X, y, Z = _classification()
    network = DiagonalNetwork(np.full(5, 0.5), 2)
    dense = _run(network, ExponentialLoss(), Z, 1e-2, dynamics="sgd", batch_size=4,
                 random_state=0)
    sparse = _run(network, ExponentialLoss(), sp.csr_matrix(Z), 1e-2, dynamics="sgd",
                  batch_size=4, random_state=0)
    assert sparse.n_iter == dense.n_iter
    np.testing.assert_allclose(sparse.coef, dense.coef, rtol=1e-10)


def test_fit_one_dispatches_flow_and_discrete_dynamics():
    X, y, Z = _classification()
    network = DiagonalNetwork(np.full(5, 0.5), 2)
    args = (network, ExponentialLoss(), Z, np.ones(20), None, 1e-2, 1e-8, 10**6, 0, "", 1)
    flow = fit_one(*args, "auto", dynamics="flow")
    np.testing.assert_array_equal(flow.coef, fit_one_flow(*args, "auto").coef)
    gd = fit_one(*args, "auto", dynamics="gd", learning_rate=0.1)
    np.testing.assert_array_equal(gd.coef, _run(network, ExponentialLoss(), Z, 1e-2).coef)
    assert DYNAMICS == ("flow", "gd", "sgd", "sign", "coordinate")


def test_regression_runs_until_converged():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 30))
    y = X[:, :3] @ np.array([1.0, -1.5, 0.8])
    view = DiagonalParameters(np.full(30, 0.1), 2)

    def converged(tol):
        return fit_one_discrete(view, SquaredLoss(y), X, np.ones(10), None, 0.0, tol,
                                10**6, 0, "", 1, dynamics="gd", learning_rate=0.05)

    limit, result = converged(1e-14), converged(1e-8)
    assert limit.status == result.status == "converged"
    # what the run left to go is at most tol relative to coef
    assert np.linalg.norm(result.coef - limit.coef) <= 1e-8 * np.linalg.norm(limit.coef)
    assert np.abs(X @ limit.coef - y).max() < 1e-12 * np.abs(y).max()
    assert {"l1_norm", "l2_norm", "n_steps"} <= set(result.history)


@pytest.mark.parametrize("params, match", [
    ({"dynamics": "adam"}, "dynamics must be one of"),
    ({"learning_rate": 0.0}, "learning_rate must be a positive"),
    ({"learning_rate": np.inf}, "learning_rate must be a positive"),
    ({"learning_rate_schedule": "optimal"}, "learning_rate_schedule must be"),
    ({"dynamics": "sgd", "batch_size": 0}, "batch_size must be"),
    ({"dynamics": "sgd", "batch_size": 2.5}, "batch_size must be"),
])
def test_invalid_parameters_are_rejected(params, match):
    X, y, Z = _classification()
    with pytest.raises(ValueError, match=match):
        _run(LinearParameters(5), ExponentialLoss(), Z, 1e-2, **params)


def test_a_zero_gradient_is_a_stationary_point():
    # a feature that is zero in every sample: the loss cannot move
    Z = np.zeros((4, 2))
    result = _run(LinearParameters(2), ExponentialLoss(), Z, 0.5, dynamics="gd")
    assert result.status == "stationary"
    assert result.n_iter == 0 and result.log_loss == 0.0


def test_target_above_the_initial_loss_is_rejected():
    X, y, Z = _classification()
    with pytest.raises(ValueError, match="below the loss at initialization"):
        _run(LinearParameters(5), ExponentialLoss(), Z, 2.0)


# --------------------------------------------------------------------------
# divergence


def test_a_step_too_large_is_reported_as_divergence():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 30))
    y = X[:, :3] @ np.array([1.0, -1.5, 0.8])
    # the largest eigenvalue of X^T X / n bounds the stable step of the
    # linear model, 2 / lambda; three times that grows the loss geometrically
    lam = np.linalg.eigvalsh(X.T @ X / 10).max()
    result = _run(LinearParameters(30), SquaredLoss(y), X, 0.0, dynamics="gd",
                  learning_rate=6.0 / lam)
    assert result.status == "diverged"
    assert f"learning_rate={6.0 / lam:g} is too large" in result.message
    assert "grew by a factor" in result.message
    # the returned iterate is the last one whose loss was checked and finite
    assert np.isfinite(result.log_loss)
    stable = _run(LinearParameters(30), SquaredLoss(y), X, 0.0, dynamics="gd",
                  learning_rate=1.0 / lam)
    assert stable.status == "converged" and stable.message == ""


def test_a_cycle_is_reported_as_divergence():
    # sign descent with a normalized step too large for this data settles into
    # a cycle of two points, neither of them a new low
    X, y, Z = _classification()
    result = _run(LinearParameters(5), ExponentialLoss(), Z, 1e-10, dynamics="sign",
                  learning_rate=0.3, learning_rate_schedule="normalized")
    assert result.status == "diverged"
    assert "oscillates" in result.message and "learning_rate=0.3" in result.message


def test_divergence_monitor_rules():
    monitor = DivergenceMonitor(0.5)
    assert monitor.check(-1.0) is None
    assert monitor.check(-1.0 + math.log(GROWTH) - 1e-9) is None
    assert "grew by a factor" in monitor.check(-1.0 + math.log(GROWTH) + 1e-6)
    assert "non-finite" in DivergenceMonitor(0.5).check(np.nan)
    # a plateau whose loss is equal to rounding for long is not a cycle
    plateau = DivergenceMonitor(0.5)
    assert all(plateau.check(-2.0) is None for _ in range(10 * WINDOW))
    # a cycle of two points, one of them the best: the alarm comes WINDOW
    # checks after the best
    cycle = DivergenceMonitor(0.5)
    messages = [cycle.check(-2.0 + 0.1 * (k % 2)) for k in range(WINDOW + 1)]
    assert messages[:-1] == [None] * WINDOW
    assert "oscillates" in messages[-1]
