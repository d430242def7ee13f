"""How a fit ended: ``status_``, ``converged_`` and the ConvergenceWarning agree
with each other and with the returned point, for every estimator and every
way a fit can end (target, convergence, stall, max_iter, plateau, interrupt).
"""

import re
import warnings

import numpy as np
import pytest
from _interrupt import fitted_state, interrupt_after
from sklearn.exceptions import ConvergenceWarning

from sklearn_implicit import (
    DeepLinearClassifier,
    DiagonalLinearClassifier,
    DiagonalLinearRegressor,
    implicit_bias_path,
)
from sklearn_implicit._integrate import LinearFlow
from sklearn_implicit._integrate.driver import integrate
from sklearn_implicit._integrate.flow import FlowState
from sklearn_implicit._losses import ExponentialLoss
from sklearn_implicit._networks import DiagonalNetwork


def fit_recording(est, X, y, **kwargs):
    """Fit; return the ConvergenceWarning messages (no other warning allowed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y, **kwargs)
    others = [str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning)]
    assert not others, others
    return [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def separable(n=20, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, (X @ rng.standard_normal(d) > 0).astype(int)


def non_separable(n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, (X[:, 0] + 0.8 * rng.standard_normal(n) > 0).astype(int)


def training_log10_loss(est, X, y, loss):
    """The training loss of the returned model, computed from its scores."""
    m = np.where(y == est.classes_[1], 1.0, -1.0) * est.decision_function(X)
    terms = np.exp(-m) if loss == "exponential" else np.log1p(np.exp(-m))
    return np.log10(np.mean(terms))


def plateau_numbers(message):
    steps, percent = re.search(r"over its last (\d+) steps the loss fell by only ([\d.]+)%",
                               message).groups()
    return int(steps), float(percent) / 100


# (name, factory of the estimator, data, expected status, pattern of the warning)
CLASSIFIER_ENDINGS = [
    ("target", dict(target_loss=1e-5), separable, "target", None),
    ("stall", dict(target_loss=1e-10), non_separable, "stalled", "stalled before reaching"),
    ("max_iter", dict(target_loss=1e-300, max_iter=20), separable, "max_iter",
     "stopped after max_iter=20 steps"),
]
CLASSIFIERS = {
    "diagonal": lambda **kw: DiagonalLinearClassifier(**kw),
    "deep": lambda **kw: DeepLinearClassifier(depth=2, width=4, random_state=0, **kw),
}


@pytest.mark.parametrize("make", CLASSIFIERS.values(), ids=CLASSIFIERS.keys())
@pytest.mark.parametrize("name, params, data, status, pattern", CLASSIFIER_ENDINGS,
                         ids=[e[0] for e in CLASSIFIER_ENDINGS])
def test_classifier_status_agrees_with_warning_and_state(make, name, params, data, status,
                                                         pattern):
    X, y = data()
    est = make(**params)
    messages = fit_recording(est, X, y)
    assert est.status_.tolist() == [status]
    if pattern is None:
        assert not messages
    else:
        assert len(messages) == 1 and pattern in messages[0]
        assert "plateau" not in messages[0]
        # the warning's loss is the returned model's
        reached = float(re.search(r"10\*\*(-?\d+\.\d+)", messages[0]).group(1))
        assert reached == pytest.approx(est.log10_loss_[0], abs=1e-4)
    assert training_log10_loss(est, X, y, est.loss) == pytest.approx(est.log10_loss_[0], abs=1e-8)
    if status == "target":
        assert est.log10_loss_[0] == pytest.approx(np.log10(est.target_loss), abs=1e-9)
    else:
        assert est.log10_loss_[0] > np.log10(est.target_loss)


@pytest.mark.parametrize(
    "est",
    [DiagonalLinearClassifier(alpha=1e-30, target_loss=1e-10, max_iter=50),
     DiagonalLinearClassifier(alpha=1e-3, depth=4, target_loss=1e-10, max_iter=100),
     DeepLinearClassifier(depth=3, width=4, alpha=1e-8, target_loss=1e-10, max_iter=60,
                          random_state=0)],
    ids=["diagonal, tiny alpha", "diagonal, depth 4", "deep"],
)
def test_classifier_stopped_in_a_plateau_says_so(est):
    # Small initializations: the flow creeps past a saddle, the loss barely
    # moves, and the data are separable, so it is no stall.
    X, y = separable()
    (message,) = fit_recording(est, X, y)
    assert est.status_.tolist() == ["plateau"]
    assert f"stopped after max_iter={est.max_iter} steps" in message
    assert "plateau of the loss, not at a stall" in message
    steps, fell = plateau_numbers(message)
    assert 10 <= steps < est.max_iter and fell < -np.expm1(-0.1)
    assert est.log10_loss_[0] > -1
    assert training_log10_loss(est, X, y, est.loss) == pytest.approx(est.log10_loss_[0], abs=1e-8)


def test_default_budget_crosses_plateaus(monkeypatch):
    # max_iter=None: steps taken in a plateau do not count against the
    # default budget (up to PLATEAU_MAX_ITER in all), which is shrunk here
    # to 300 steps so that the escape from the saddle at a tiny alpha (717
    # steps, 985 in all) outlasts it. The same fit capped at 300 stops in
    # the plateau.
    from sklearn_implicit._integrate import problem

    monkeypatch.setattr(problem, "DEFAULT_MAX_ITER", 300)
    X, y = separable()
    capped = DiagonalLinearClassifier(alpha=1e-30, target_loss=1e-10, max_iter=300)
    (message,) = fit_recording(capped, X, y)
    assert capped.status_.tolist() == ["plateau"] and "plateau" in message
    default = DiagonalLinearClassifier(alpha=1e-30, target_loss=1e-10)
    assert not fit_recording(default, X, y)
    assert default.status_.tolist() == ["target"] and default.n_iter_ > 300


def test_default_budget_grows_with_tighter_tol(monkeypatch):
    # max_iter=None allows (1e-6 / tol)**(1/4) times the budget of the
    # default tol, as the steps of the order-4 stiff method grow; shrunk here
    # to 60 steps at tol = 1e-6, where this fit needs 98 steps (470 at
    # tol = 1e-10, within the 600 allowed there).
    from sklearn_implicit._integrate import problem

    assert problem.default_max_iter(1e-6) == (10_000, 100_000)
    assert problem.default_max_iter(1e-3) == (10_000, 100_000)
    assert problem.default_max_iter(1e-10) == (100_000, 1_000_000)
    monkeypatch.setattr(problem, "DEFAULT_MAX_ITER", 60)
    X, y = separable()
    loose = DiagonalLinearClassifier(target_loss=1e-30)
    (message,) = fit_recording(loose, X, y)
    assert loose.status_.tolist() == ["max_iter"]
    assert "max_iter=None: 60 steps at tol=1e-06" in message
    tight = DiagonalLinearClassifier(target_loss=1e-30, tol=1e-10)
    assert not fit_recording(tight, X, y)
    assert tight.status_.tolist() == ["target"] and 60 < tight.n_iter_ <= 600
    capped = DiagonalLinearClassifier(target_loss=1e-30, tol=1e-10, max_iter=100)
    (message,) = fit_recording(capped, X, y)
    assert capped.status_.tolist() == ["max_iter"] and "max_iter=100 steps" in message


@pytest.mark.slow
def test_deep_regressor_reaches_its_limit_at_tight_tol():
    # The case of the issue: depth 4 from alpha = 0.01 on 5 x 10 data takes
    # 26,406 steps to its limit at tol = 1e-9 (about 20 s), beyond the
    # 10,000 steps of the default tol.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 10))
    w = np.zeros(10)
    w[:2] = [1.0, -1.0]
    est = DiagonalLinearRegressor(alpha=0.01, depth=4, tol=1e-9, fit_intercept=False)
    assert not fit_recording(est, X, X @ w)
    assert est.status_.tolist() == ["converged"] and est.n_iter_ > 10_000


def test_multiclass_status_has_one_entry_per_problem():
    X, y = separable(n=30)
    y = np.arange(30) % 3
    X = X + 3 * np.eye(6)[y][:, :6]
    est = DiagonalLinearClassifier(target_loss=1e-5).fit(X, y)
    assert est.status_.tolist() == ["target"] * 3


# -- the regressor: converged_ as well ---------------------------------------------


def _regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 10))
    w = np.zeros(10)
    w[:2] = [1.0, -1.0]
    return X, X @ w


def _noisy():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 4))
    return X, X @ rng.standard_normal(4) + 0.3 * rng.standard_normal(30)


REGRESSOR_ENDINGS = [
    ("converged", _regression, dict(fit_intercept=False), "converged", True, None),
    ("target", _regression, dict(target_loss=1e-3, fit_intercept=False), "target", False, None),
    ("max_iter", _regression, dict(max_iter=20, fit_intercept=False), "max_iter", False,
     "stopped after max_iter=20 steps before converging"),
    # (max_iter=150 ends in the second plateau, at a loss of 10**-0.27;
    # 200 steps end past it where the loss falls again)
    ("plateau", _regression, dict(alpha=0.01, depth=4, max_iter=150, fit_intercept=False),
     "plateau", False, "plateau of the loss, not at a stall"),
    # from alpha = 1e-100 the flow passes a slow escape and a saddle, whose
    # time the stall and convergence tests read
    ("tiny alpha", _regression, dict(alpha=1e-100, fit_intercept=False), "converged", True,
     None),
]


@pytest.mark.parametrize("name, data, params, status, converged, pattern", REGRESSOR_ENDINGS,
                         ids=[e.id if hasattr(e, "id") else e[0] for e in REGRESSOR_ENDINGS])
def test_regressor_status_agrees_with_warning_and_state(name, data, params, status, converged,
                                                        pattern):
    X, y = data()
    est = DiagonalLinearRegressor(**params)
    messages = fit_recording(est, X, y)
    assert est.status_.tolist() == [status]
    assert est.converged_.tolist() == [converged]
    if pattern is None:
        assert not messages
    else:
        assert len(messages) == 1 and pattern in messages[0]
    residual = np.linalg.norm(est.predict(X) - y) / np.linalg.norm(y)
    loss = np.mean((est.predict(X) - y) ** 2) / 2
    assert est.loss_[0] == pytest.approx(loss, rel=1e-6, abs=1e-20)
    if converged:
        # the limit interpolates the data
        assert residual < 1e-5
    elif status == "target":
        assert est.loss_[0] == pytest.approx(est.target_loss, rel=1e-9)
    else:
        # stopped short: n = 5, d = 10 is interpolated at the limit
        assert residual > 1e-3


def test_regressor_unreachable_target_converges_with_a_warning():
    X, y = _noisy()
    min_loss = DiagonalLinearRegressor().fit(X, y).min_loss_[0]
    est = DiagonalLinearRegressor(target_loss=0.5 * min_loss)
    (message,) = fit_recording(est, X, y)
    assert "is not above the smallest training loss" in message
    assert est.status_.tolist() == ["converged"] and est.converged_.tolist() == [True]
    assert est.loss_[0] == pytest.approx(min_loss, rel=1e-8)


def test_regressor_stops_at_max_iter_are_not_converged():
    # Issue 29: with max_iter=2000 the warning said "before converging"
    # while converged_ was [True] and the relative residual 0.22.
    X, y = _regression()
    est = DiagonalLinearRegressor(alpha=0.01, depth=4, tol=1e-10, max_iter=2000,
                                  fit_intercept=False)
    (message,) = fit_recording(est, X, y)
    assert "before converging" in message
    assert est.converged_.tolist() == [False]
    assert est.status_[0] in ("max_iter", "plateau")
    assert np.linalg.norm(X @ est.coef_ - y) > 0.1 * np.linalg.norm(y)


# -- interrupted fits leave every status as it was -------------------------------------


@pytest.mark.parametrize(
    "make, data",
    [(lambda: DiagonalLinearClassifier(target_loss=1e-10, max_iter=20), separable),
     (lambda: DeepLinearClassifier(depth=2, width=4, target_loss=1e-10, random_state=0),
      non_separable),
     (lambda: DiagonalLinearRegressor(max_iter=20, fit_intercept=False), _regression)],
    ids=["diagonal", "deep", "regressor"],
)
def test_interrupt_leaves_the_previous_status(monkeypatch, make, data):
    X, y = data()
    est = make()
    fit_recording(est, X, y)
    before, status = fitted_state(est), est.status_.copy()
    assert status[0] != "target"
    interrupt_after(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        est.set_params(max_iter=None).fit(X, y)
    monkeypatch.undo()
    assert fitted_state(est) == before
    np.testing.assert_array_equal(est.status_, status)


# -- implicit_bias_path ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, alphas, max_iter, status, pattern",
    [(non_separable, [1.0], None, "stalled", "'stalled' at alphas[0]"),
     (separable, [1.0], 15, "max_iter", "'max_iter' at alphas[0]"),
     (separable, [1e-30], 40, "plateau", "'plateau' at alphas[0]")],
    ids=["stalled", "max_iter", "plateau"],
)
def test_path_status_agrees_with_warning(data, alphas, max_iter, status, pattern):
    X, y = data()
    with pytest.warns(ConvergenceWarning, match=re.escape(pattern)):
        path = implicit_bias_path(X, y, alphas, target_losses=[1e-2, 1e-300],
                                  max_iter=max_iter)
    assert path.status.tolist() == [status]
    # entries past the point reached are NaN, reached ones are not
    reached = np.isfinite(path.log10_loss[0])
    assert not reached[-1]
    assert np.all(np.isnan(path.coef[0][~reached]))


# -- the plateau test itself (integrate) -------------------------------------------------


def _flow(X, y, alpha):
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    flow = LinearFlow(DiagonalNetwork(np.full(X.shape[1], alpha), 2), ExponentialLoss(), Z,
                      np.ones(len(y)))
    state = flow.network.initial_state()
    start = FlowState(state, -flow.log_loss(flow.predictions(state)[1]), -np.inf)
    return flow, start


@pytest.mark.parametrize(
    "data, alpha, status",
    [(separable, 1e-30, "plateau"),  # the loss stands still, the data separable
     (separable, 1.0, "max_iter"),  # the loss falls fast
     (non_separable, 1e-30, "max_iter")],  # standing still, but it may be a stall
    ids=["plateau", "falling", "may stall"],
)
def test_plateau_is_a_standing_loss_that_cannot_stall(data, alpha, status):
    X, y = data()
    flow, start = _flow(X, y, alpha)
    result = integrate(flow, start, [np.log(1e-300)], tol=1e-6, max_iter=30)
    assert result.status == status
    if status == "plateau":
        steps, drop = result.plateau
        assert steps == 10 and 0 <= drop < 0.1
    else:
        assert result.plateau is None


def test_plateau_steps_extend_the_budget_only_in_plateaus():
    X, y = separable()
    flow, start = _flow(X, y, 1e-30)
    extended = integrate(flow, start, [np.log(1e-10)], tol=1e-6, max_iter=200,
                         plateau_iter=10_000)
    # measured: 867 steps, most of them by the saddle
    assert extended.status == "target" and extended.n_iter > 200
    flow, start = _flow(X, y, 1.0)
    falling = integrate(flow, start, [np.log(1e-300)], tol=1e-6, max_iter=30,
                        plateau_iter=10_000)
    assert falling.status == "max_iter" and falling.n_iter == 30
