"""Discrete training dynamics through the estimators' ``dynamics`` parameter."""

import functools
import math
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from test_dynamics_bias import _rel, _slope

from sklearn_implicit import (
    ConvolutionalLinearClassifier,
    DeepLinearClassifier,
    DeepLinearClassifierCV,
    DiagonalLinearClassifier,
    DiagonalLinearClassifierCV,
    DiagonalLinearRegressor,
    DiagonalLinearRegressorCV,
    predicted_coef,
)
from sklearn_implicit._dynamics import fit_one_discrete
from sklearn_implicit._losses import ExponentialLoss
from sklearn_implicit._networks import DiagonalNetwork
from sklearn_implicit.analysis import min_potential_interpolant
from sklearn_implicit.utils._design import add_intercept_column


@pytest.fixture(scope="module")
def separable():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5))
    y = (X @ rng.standard_normal(5) > 0).astype(int)
    return X, y


# --------------------------------------------------------------------------
# every estimator, every dynamics

CLASSIFIERS = {
    "diagonal": functools.partial(DiagonalLinearClassifier, alpha=0.5),
    "deep": functools.partial(DeepLinearClassifier, width=4),
    "convolutional": ConvolutionalLinearClassifier,
}


# Normalized steps that reach the target on these data (sign descent moves
# every weight by the same amount, and needs smaller steps the more weights
# there are).
LEARNING_RATES = {
    "diagonal": {"gd": 0.01, "sgd": 0.003, "sign": 0.001, "coordinate": 0.003},
    "deep": {"gd": 0.01, "sgd": 0.01, "sign": 0.0001, "coordinate": 0.01},
    "convolutional": {"gd": 0.01, "sgd": 0.01, "sign": 0.001, "coordinate": 0.01},
}


@pytest.mark.parametrize("dynamics", ["gd", "sgd", "sign", "coordinate"])
@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_every_classifier_runs_every_dynamics(separable, name, dynamics):
    X, y = separable
    clf = CLASSIFIERS[name](dynamics=dynamics, random_state=0, learning_rate=LEARNING_RATES[name][dynamics],
                            learning_rate_schedule="normalized", batch_size=8,
                            target_loss=1e-4).fit(X, y)
    assert clf.status_.tolist() == ["target"]
    assert clf.log10_loss_[0] <= -4
    history = clf.history_[0]
    # one step per gradient evaluation (mini-batch ones for SGD)
    assert clf.n_iter_ == history["n_steps"][-1] == clf.n_grad_evals_[0] - (dynamics != "sgd")
    assert np.all(np.diff(history["n_steps"]) > 0)
    assert history["log10_loss"][-1] == clf.log10_loss_[0]
    assert np.array_equal(clf.predict(X), y)
    # the layers the estimator reports are those of the discrete run
    n = X.shape[1]
    if name == "deep":
        end_to_end = functools.reduce(np.matmul, clf.coefs_)[0, :, 0]
        np.testing.assert_allclose(end_to_end[:n], clf.coef_[0], rtol=1e-10)
    elif name == "convolutional":
        U = functools.partial(np.fft.fft, norm="ortho")
        (a1, a2), (b1, b2) = clf.coefs_[0]
        np.testing.assert_allclose(U(clf.coef_[0]), U(a1) * U(a2) - U(b1) * U(b2),
                                   atol=1e-10 * np.abs(clf.coef_).max())


def test_the_flow_is_the_default_and_ignores_the_step_parameters(separable):
    X, y = separable
    flow = DiagonalLinearClassifier(alpha=0.5, target_loss=1e-3).fit(X, y)
    also = DiagonalLinearClassifier(alpha=0.5, target_loss=1e-3, learning_rate=5.0,
                                    batch_size=3, learning_rate_schedule="normalized",
                                    random_state=1).fit(X, y)
    np.testing.assert_array_equal(flow.coef_, also.coef_)
    assert "n_steps" not in flow.history_[0]


def test_gradient_descent_tends_to_the_flow_at_first_order(separable):
    X, y = separable
    etas, errors = [0.04, 0.02, 0.01, 0.005], []
    for eta in etas:
        gd = DiagonalLinearClassifier(alpha=0.5, target_loss=0.1, dynamics="gd",
                                      learning_rate=eta).fit(X, y)
        # the flow at GD's own final loss (its clock is the loss)
        flow = DiagonalLinearClassifier(alpha=0.5, target_loss=gd.loss_[0],
                                        tol=1e-11).fit(X, y)
        both = np.append(gd.coef_, gd.intercept_), np.append(flow.coef_, flow.intercept_)
        errors.append(_rel(*both))
    # first order: the error halves with the step
    assert abs(_slope(etas, errors) - 1.0) < 0.05
    assert errors[-1] < 1e-3


# --------------------------------------------------------------------------
# SGD: reproducibility, n_jobs, the samples as given


def test_sgd_is_reproducible_and_does_not_depend_on_n_jobs():
    # three blobs, each separable from the other two
    X, y = make_blobs(45, centers=[[3, 0], [-3, 3], [-3, -3]], cluster_std=0.5,
                      random_state=0)

    def fit(random_state, n_jobs=None):
        return DiagonalLinearClassifier(
            dynamics="sgd", learning_rate=0.01, learning_rate_schedule="normalized",
            batch_size=5, target_loss=1e-3, random_state=random_state, n_jobs=n_jobs,
        ).fit(X, y)

    one = fit(0)
    assert one.status_.tolist() == ["target"] * 3
    np.testing.assert_array_equal(one.coef_, fit(0).coef_)
    np.testing.assert_array_equal(one.coef_, fit(0, n_jobs=2).coef_)
    np.testing.assert_array_equal(one.n_grad_evals_, fit(0, n_jobs=2).n_grad_evals_)
    assert not np.array_equal(one.coef_, fit(1).coef_)


def test_sgd_keeps_repeated_rows_and_full_batch_merges_them(separable):
    X, y = separable
    Xr, yr = np.vstack([X, X[:4]]), np.concatenate([y, y[:4]])
    weights = np.ones(len(y))
    weights[:4] = 2.0
    params = dict(alpha=0.5, target_loss=1e-3, learning_rate=0.003,
                  learning_rate_schedule="normalized", random_state=7)
    # Full batch: repeated rows and integer weights are the same problem.
    repeated = DiagonalLinearClassifier(dynamics="gd", **params).fit(Xr, yr)
    weighted = DiagonalLinearClassifier(dynamics="gd", **params).fit(X, y, weights)
    np.testing.assert_allclose(repeated.coef_, weighted.coef_, rtol=1e-12)
    assert repeated.n_iter_ == weighted.n_iter_ and repeated.status_[0] == "target"
    # SGD draws its batches from the 34 samples as given, in their order:
    # the same steps as the run on that design, with the estimator's seed.
    sgd = DiagonalLinearClassifier(dynamics="sgd", batch_size=4, **params).fit(Xr, yr)
    seeds = np.random.RandomState(7)
    seeds.randint(np.iinfo(np.int32).max, size=1)  # the networks' seeds come first
    batch_seed = seeds.randint(np.iinfo(np.int32).max, size=1)[0]
    Z = np.where(yr == 1, 1.0, -1.0)[:, None] * add_intercept_column(Xr, 1.0)
    run = fit_one_discrete(
        DiagonalNetwork(np.full(6, 0.5), 2), ExponentialLoss(), Z, np.ones(34), None,
        1e-3, 1e-6, None, 0, "", 1, dynamics="sgd", learning_rate=0.003,
        learning_rate_schedule="normalized", batch_size=4, random_state=batch_seed,
    )
    assert sgd.status_[0] == run.status == "target"
    np.testing.assert_array_equal(sgd.coef_[0], run.coef[:5])
    assert sgd.n_iter_ == run.n_iter and run.n_iter % math.ceil(34 / 4) == 0


# --------------------------------------------------------------------------
# divergence, warm start, bad input


def test_a_step_too_large_is_reported(separable):
    X, y = separable
    with pytest.warns(ConvergenceWarning, match=(
            r"Gradient descent diverged: .*learning_rate=50 is too large for this "
            r"problem; use a smaller learning_rate \(for instance 5\)")):
        clf = DiagonalLinearClassifier(alpha=0.5, dynamics="gd", learning_rate=50.0).fit(X, y)
    assert clf.status_.tolist() == ["diverged"]
    # the last iterate of finite loss is kept
    assert np.all(np.isfinite(clf.coef_)) and np.isfinite(clf.log10_loss_[0])


def test_sgd_at_its_noise_floor_is_a_stall_not_a_divergence():
    # Constant-step SGD on data that are not separable settles about the
    # loss's infimum, where the mini-batches' noise keeps the loss from a new
    # low: the oscillation rule once called that a divergence.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = (X[:, 0] + 0.8 * rng.standard_normal(200) > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match=(
            r"Stochastic gradient descent stalled before its target: the training "
            r"loss stopped falling: no new low in 100 checks.*"
            r"Use a smaller learning_rate, a larger batch_size")) as record:
        clf = DiagonalLinearClassifier(dynamics="sgd", learning_rate=0.1, batch_size=50,
                                       random_state=0, target_loss=1e-3).fit(X, y)
    assert len(record) == 1
    assert clf.status_.tolist() == ["stalled"]
    # near the infimum of the loss, which the exact flow finds
    with pytest.warns(ConvergenceWarning, match="not linearly separable"):
        flow = DiagonalLinearClassifier(target_loss=1e-3).fit(X, y)
    assert flow.status_.tolist() == ["stalled"]
    assert abs(clf.log10_loss_[0] - flow.log10_loss_[0]) < 0.01
    # a step that makes the loss grow is still a divergence
    with pytest.warns(ConvergenceWarning, match="diverged"):
        bad = DiagonalLinearClassifier(dynamics="sgd", learning_rate=0.3, batch_size=50,
                                       random_state=0, target_loss=1e-3).fit(X, y)
    assert bad.status_.tolist() == ["diverged"]


def test_max_iter_counts_steps_and_says_what_to_do(separable):
    X, y = separable
    with pytest.warns(ConvergenceWarning, match=(
            "Gradient descent stopped after max_iter=20 steps.*"
            "learning_rate_schedule='normalized'")):
        clf = DiagonalLinearClassifier(dynamics="gd", learning_rate=0.01,
                                       max_iter=20).fit(X, y)
    assert clf.status_.tolist() == ["max_iter"] and clf.n_iter_ == 20


def test_warm_start_continues_the_steps_and_restarts_when_they_change(separable):
    X, y = separable
    params = dict(alpha=0.5, dynamics="gd", learning_rate=0.01,
                  learning_rate_schedule="normalized")
    direct = DiagonalLinearClassifier(target_loss=1e-8, **params).fit(X, y)
    warm = DiagonalLinearClassifier(target_loss=1e-3, warm_start=True, **params).fit(X, y)
    warm.set_params(target_loss=1e-8).fit(X, y)
    # the same iterates: continuing gradient descent is gradient descent
    assert warm.status_[0] == direct.status_[0] == "target"
    np.testing.assert_array_equal(warm.coef_, direct.coef_)
    assert warm.history_[0]["n_steps"][-1] == direct.n_iter_
    # another step size is another trajectory: a restart, not a continuation
    warm.set_params(learning_rate=0.005).fit(X, y)
    cold = DiagonalLinearClassifier(target_loss=1e-8, **dict(params, learning_rate=0.005))
    assert warm.status_[0] == "target"
    np.testing.assert_array_equal(warm.coef_, cold.fit(X, y).coef_)
    # and so is the flow
    warm.set_params(dynamics="flow").fit(X, y)
    flow = DiagonalLinearClassifier(alpha=0.5, target_loss=1e-8).fit(X, y)
    np.testing.assert_array_equal(warm.coef_, flow.coef_)


@pytest.mark.parametrize("params, match", [
    ({"dynamics": "sgd"}, "learning_rate must be set when dynamics='sgd'"),
    ({"dynamics": "gd", "learning_rate": -0.1}, r"'learning_rate' parameter .* range \(0.0, inf\)"),
    ({"dynamics": "gd", "learning_rate": 0}, r"'learning_rate' parameter .* range \(0.0, inf\)"),
    ({"dynamics": "adam", "learning_rate": 0.1}, "'dynamics' parameter .*'sgd'"),
    ({"dynamics": "sgd", "learning_rate": 0.1, "batch_size": 0}, "'batch_size' parameter"),
    ({"dynamics": "sgd", "learning_rate": 0.1, "batch_size": "all"}, "'batch_size' parameter"),
    ({"dynamics": "gd", "learning_rate": 0.1, "learning_rate_schedule": "optimal"},
     "'learning_rate_schedule' parameter .*'normalized'"),
])
@pytest.mark.parametrize("estimator", [DiagonalLinearClassifier, DiagonalLinearRegressor])
def test_bad_dynamics_parameters_are_rejected(separable, estimator, params, match):
    X, y = separable
    with pytest.raises(ValueError, match=match):
        estimator(**params).fit(X, y)


# --------------------------------------------------------------------------
# scikit-learn's machinery


def test_clone_and_grid_search_over_the_learning_rate(separable):
    X, y = separable
    base = DiagonalLinearClassifier(dynamics="gd", learning_rate_schedule="normalized",
                                    target_loss=1e-3)
    assert clone(base.set_params(learning_rate=0.3)).get_params()["learning_rate"] == 0.3
    search = GridSearchCV(base, {"learning_rate": [0.003, 0.01]}, cv=3).fit(X, y)
    assert search.best_params_["learning_rate"] in (0.003, 0.01)
    assert search.best_estimator_.status_[0] == "target"
    assert search.best_estimator_.dynamics == "gd"
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


@pytest.mark.parametrize("cv_class", [DiagonalLinearClassifierCV, DiagonalLinearRegressorCV,
                                      DeepLinearClassifierCV])
def test_the_cross_validated_estimators_follow_the_flow(cv_class):
    # their path is the flow's; discrete dynamics are grid-searched as fits
    params = cv_class().get_params()
    assert not {"dynamics", "learning_rate", "learning_rate_schedule",
                "batch_size"} & set(params)
    assert cv_class.dynamics == "flow"


# --------------------------------------------------------------------------
# the regressor: units and the effective initialization


@pytest.mark.parametrize("schedule", ["constant", "normalized"])
@pytest.mark.parametrize("dynamics", ["gd", "sgd"])
@pytest.mark.parametrize("scaled", ["X", "y"])
def test_the_regressor_rescales_the_step_exactly(regression, scaled, dynamics, schedule):
    # Data beyond 1e50 are fitted at unit scale; by powers of two, with the
    # step rescaled with the clock, the steps are those on the data exactly.
    X, y = regression
    X, y = X / 2.0 ** np.frexp(np.abs(X).max())[1], y / 2.0 ** np.frexp(np.abs(y).max())[1]
    params = dict(dynamics=dynamics, batch_size=4, random_state=0, fit_intercept=False,
                  learning_rate_schedule=schedule, tol=1e-8)
    # (normalized steps grow without bound as the squared loss vanishes:
    # those runs stop at a target)
    eta, target = (1.0, 0.0) if schedule == "constant" else (0.01, 0.02)
    unit = DiagonalLinearRegressor(alpha=0.1, learning_rate=eta, target_loss=target,
                                   **params).fit(X, y)
    assert unit.status_[0] == ("target" if target else "converged")
    # X / s, y / t: beta' = beta s / t, u' = sqrt(s / t) u (depth 2), L' = L / t**2,
    # and a step of size eta' on u' is one of size eta' / (s t) on u
    # (eta' t / s for the normalized step, which divides by L')
    s, t = (2.0**200, 1.0) if scaled == "X" else (1.0, 2.0**200)
    far_eta = eta * s * t if schedule == "constant" else eta * s / t
    far = DiagonalLinearRegressor(alpha=0.1 * math.sqrt(s / t), learning_rate=far_eta,
                                  target_loss=target / t**2, **params).fit(X / s, y / t)
    np.testing.assert_array_equal(far.coef_, unit.coef_ * (s / t))
    np.testing.assert_array_equal(far.effective_alpha_, unit.effective_alpha_ * math.sqrt(s / t))
    assert far.n_iter_ == unit.n_iter_ and far.status_[0] == unit.status_[0]


def test_effective_alpha_predicts_the_gd_and_sgd_limits(regression):
    X, y = regression
    params = dict(alpha=0.1, fit_intercept=False, tol=1e-10)
    flow = DiagonalLinearRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(flow.effective_alpha_, np.full(30, 0.1))
    # the flow's prediction is its limit (to the flow's tol)
    assert _rel(predicted_coef(flow, X, y), flow.coef_) < 1e-8
    etas = [0.05, 0.025]
    for dynamics in ("gd", "sgd"):
        from_flow, from_effective = [], []
        for eta in etas:
            est = DiagonalLinearRegressor(dynamics=dynamics, learning_rate=eta, batch_size=4,
                                          random_state=3, **params).fit(X, y)
            assert est.status_[0] == "converged"
            assert np.all(est.effective_alpha_ < 0.1)
            from_effective.append(_rel(est.coef_, predicted_coef(est, X, y)))
            from_flow.append(_rel(est.coef_, flow.coef_))
        # The flow's interpolant is off at first order in the step, the one
        # at the effective initialization at second order (the offset of
        # _dynamics/theory.py). Measured: GD 1.49e-2, 7.5e-3 and 2.2e-3,
        # 5.0e-4; SGD (batches of 4) 2.79e-2, 1.47e-2 and 4.4e-3, 9.3e-4.
        assert abs(math.log2(from_flow[0] / from_flow[1]) - 1) < 0.15
        assert abs(math.log2(from_effective[0] / from_effective[1]) - 2) < 0.3
        assert from_flow[0] > 1e-2  # measurably away from the flow
        assert from_effective[0] < from_flow[0] / 5


def test_effective_alpha_is_none_without_a_closed_form(regression):
    X, y = regression
    deep = DiagonalLinearRegressor(alpha=0.3, depth=3, dynamics="gd", learning_rate=0.05,
                                   fit_intercept=False, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        deep.fit(X, y)
    assert deep.effective_alpha_ is None
    with pytest.raises(ValueError, match="no effective initialization"):
        predicted_coef(deep, X, y)
    # the direct reference agrees with predicted_coef for the flow
    flow = DiagonalLinearRegressor(alpha=0.1, fit_intercept=False).fit(X, y)
    np.testing.assert_allclose(
        predicted_coef(flow, X, y),
        min_potential_interpolant(X, y, alpha=0.1, fit_intercept=False, tol=1e-10).coef)


def test_predicted_coef_refuses_a_discrete_classifier(separable):
    X, y = separable
    clf = DiagonalLinearClassifier(dynamics="gd", learning_rate=0.1, target_loss=0.1).fit(X, y)
    with pytest.raises(ValueError, match="dynamics='gd'"):
        predicted_coef(clf, X, y)
