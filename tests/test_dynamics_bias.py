"""What discrete dynamics converge to: the flow, effective initializations, margins."""

import math

import numpy as np
import pytest

from sklearn_implicit import DiagonalLinearClassifier, max_margin, normalized_margin
from sklearn_implicit._dynamics import (
    DiagonalParameters,
    LinearParameters,
    effective_initialization,
    fit_one_discrete,
)
from sklearn_implicit._dynamics.batches import EpochBatches
from sklearn_implicit._losses import ExponentialLoss, SquaredLoss
from sklearn_implicit._networks import DiagonalNetwork
from sklearn_implicit.analysis import min_potential_interpolant


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


def _run(model, loss, Z, target, tol=1e-10, max_iter=10**6, **params):
    return fit_one_discrete(model, loss, Z, np.ones(Z.shape[0]), None, target, tol,
                            max_iter, 0, "", 1, **params)


# --------------------------------------------------------------------------
# the flow as the limit of small steps


def test_gradient_descent_tends_to_the_flow_at_first_order():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))
    y = np.where(X @ rng.standard_normal(5) > 0, 1, -1)
    Z = y[:, None] * X
    alpha, etas, errors = 0.5, [0.04, 0.02, 0.01, 0.005], []
    for eta in etas:
        gd = _run(DiagonalNetwork(np.full(5, alpha), 2), ExponentialLoss(), Z, 0.1,
                  dynamics="gd", learning_rate=eta)
        assert gd.status == "target"
        # The flow at GD's own final loss (at most one step below the target):
        # its clock is the loss, so this is the flow "at the same target"
        # without the sawtooth of where the last step lands.
        flow = DiagonalLinearClassifier(alpha=alpha, target_loss=math.exp(gd.log_loss),
                                        fit_intercept=False, tol=1e-11).fit(X, y)
        errors.append(_rel(gd.coef, flow.coef_[0]))
    # first order: the error halves with the step (measured slope 1.02)
    assert abs(_slope(etas, errors) - 1.0) < 0.05
    assert errors[-1] < 1e-5


# --------------------------------------------------------------------------
# regression: the effective initialization


def _plain_descent(X, y, alpha, eta, n_steps, batches=None):
    """Steps on (u, v) written out, independently of the package, with the
    steps eta * g_k they took (g_k the mini-batch gradient w.r.t. beta)."""
    n, d = X.shape
    u, v = np.full(d, alpha), np.full(d, alpha)
    steps = []
    for _ in range(n_steps):
        rows = np.arange(n) if batches is None else batches.next()[0]
        beta = u * u - v * v
        g = X[rows].T @ (y[rows] - X[rows] @ beta) / len(rows)
        steps.append(eta * g)
        u, v = u + 2 * eta * u * g, v - 2 * eta * v * g
    return np.concatenate([u, v]), np.array(steps)


def _row_space_residual(X, r):
    """The part of ``r`` outside the row space of ``X``, relative to ``r``."""
    basis = np.linalg.svd(X, full_matrices=False)[2]
    return np.linalg.norm(r - basis.T @ (basis @ r)) / np.linalg.norm(r)


@pytest.mark.parametrize("dynamics", ["gd", "sgd"])
def test_the_discrete_limit_is_exactly_a_bregman_interpolant(regression, dynamics):
    # theory.py: beta_inf = argmin D_{Q_alpha_inf}(beta, offset) s.t. X beta = y,
    # whose optimality condition is that grad Q(beta) - grad Q(offset) lies in
    # the row space of X, grad Q_a(b) = arcsinh(b / (2 a**2)).
    X, y = regression
    alpha, eta, seed = 0.1, 0.1, 3
    view = DiagonalParameters(np.full(30, alpha), 2)
    result = _run(view, SquaredLoss(y), X, 0.0, tol=1e-13, dynamics=dynamics,
                  learning_rate=eta, batch_size=4, random_state=seed)
    assert result.status == "converged"
    batches = EpochBatches(10, 4, np.random.RandomState(seed)) if dynamics == "sgd" else None
    params, steps = _plain_descent(X, y, alpha, eta, result.n_iter, batches)
    np.testing.assert_allclose(result.last.state, params, rtol=1e-12)
    assert 0.3 < np.max(2 * np.abs(steps)) < 1.0  # large steps, no sign change
    effective = effective_initialization(alpha, steps)
    # the product u v is the effective initialization, step by step
    np.testing.assert_allclose(view.effective_alpha(result.last.state), effective.alpha,
                               rtol=1e-12)
    assert effective.alpha.min() < 0.8 * alpha
    a2 = 2 * effective.alpha**2
    mirror = np.arcsinh(result.coef / a2) - np.arcsinh(effective.offset / a2)
    # (measured 1.2e-15 for GD, 1.1e-15 for SGD: exact to rounding)
    assert _row_space_residual(X, mirror) < 1e-12
    # without the offset the condition fails by far (measured 6e-3, 1.7e-2)
    assert _row_space_residual(X, np.arcsinh(result.coef / a2)) > 1e-3


def test_the_effective_initialization_explains_the_step_size_at_first_order(regression):
    # The flow's limit (alpha) is off by O(eta); the minimum-potential
    # interpolant at the effective initialization by O(eta**2), the offset.
    X, y = regression
    alpha, etas = 0.1, [0.0125, 0.025, 0.05, 0.1]
    flow = min_potential_interpolant(X, y, alpha=alpha, fit_intercept=False, tol=1e-13).coef
    view = DiagonalParameters(np.full(30, alpha), 2)
    from_flow, from_effective = [], []
    for eta in etas:
        gd = _run(view, SquaredLoss(y), X, 0.0, tol=1e-13, dynamics="gd", learning_rate=eta)
        effective = min_potential_interpolant(
            X, y, alpha=view.effective_alpha(gd.last.state), fit_intercept=False, tol=1e-13)
        from_flow.append(_rel(gd.coef, flow))
        from_effective.append(_rel(gd.coef, effective.coef))
    assert abs(_slope(etas[:3], from_flow[:3]) - 1.0) < 0.1
    assert abs(_slope(etas[:3], from_effective[:3]) - 2.0) < 0.2
    assert all(e < f / 2 for e, f in zip(from_effective, from_flow))
    # at the large step GD is measurably away from the flow's interpolant
    assert from_flow[-1] > 0.02


def test_gradient_noise_shrinks_the_effective_initialization_further(regression):
    # Pesme et al. 2021: SGD noise acts as a smaller initialization, the more
    # so the smaller the batch: a sparser interpolant (smaller l1 norm).
    # Measured at eta = 0.02: median alpha_inf / alpha 0.993 (GD), 0.908
    # (batches of 1), l1 norms 4.262 and 4.209; the flow's 4.257.
    X, y = regression
    view = DiagonalParameters(np.full(30, 0.1), 2)
    runs = {batch: _run(view, SquaredLoss(y), X, 0.0, tol=1e-12, dynamics="sgd",
                        learning_rate=0.02, batch_size=batch, random_state=0)
            for batch in (10, 2, 1)}
    assert all(run.status == "converged" for run in runs.values())
    alphas = [np.median(view.effective_alpha(runs[b].last.state)) for b in (10, 2, 1)]
    l1 = [np.abs(runs[b].coef).sum() for b in (10, 2, 1)]
    assert alphas[0] > alphas[1] > alphas[2]
    assert l1[0] > l1[1] > l1[2]
    # and the effective initialization accounts for most of the change
    # (measured: 1.1e-2 off against 4.6e-2 for the flow's interpolant)
    effective = min_potential_interpolant(
        X, y, alpha=view.effective_alpha(runs[1].last.state), fit_intercept=False,
        tol=1e-13).coef
    flow = min_potential_interpolant(X, y, alpha=0.1, fit_intercept=False, tol=1e-13).coef
    assert _rel(runs[1].coef, effective) < _rel(runs[1].coef, flow) / 2


def test_effective_initialization_needs_steps_below_one():
    with pytest.raises(ValueError, match="smaller learning_rate"):
        effective_initialization(0.1, [[0.2, -0.5]])


# --------------------------------------------------------------------------
# classification with a linear model: the geometry of the step


@pytest.fixture(scope="module")
def separable():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((12, 4))
    y = np.where(X @ rng.standard_normal(4) > 0, 1, -1)
    return X, y, y[:, None] * X


_GEOMETRY = {"gd": "l2", "sign": "linf", "coordinate": "l1"}


@pytest.fixture(scope="module")
def margin_gaps(separable):
    """``1 - normalized margin / max margin`` of each dynamics in each norm."""
    X, y, Z = separable
    best = {norm: max_margin(X, y, norm=norm) for norm in _GEOMETRY.values()}
    gaps = {}
    for dynamics in _GEOMETRY:
        for target in (1e-50, 1e-100):
            result = _run(LinearParameters(4), ExponentialLoss(), Z, target,
                          dynamics=dynamics, learning_rate=0.1,
                          learning_rate_schedule="normalized")
            assert result.status == "target"
            for norm, mm in best.items():
                gaps[dynamics, target, norm] = (
                    1 - normalized_margin(result.coef, X, y, norm=norm) / mm.margin)
            if dynamics == "gd":
                gaps["gd direction", target] = result.coef / np.linalg.norm(result.coef)
    gaps["svm"] = best["l2"].coef
    return gaps


@pytest.mark.parametrize("dynamics", list(_GEOMETRY))
def test_steepest_descent_maximizes_the_margin_of_its_norm(margin_gaps, dynamics):
    # Gunasekar et al. 2018: steepest descent w.r.t. a norm tends to the
    # max-margin separator of that norm; the normalized margin approaches
    # the maximum like 1/log(1/L) (measured: halves from 1e-50 to 1e-100).
    own = _GEOMETRY[dynamics]
    assert margin_gaps[dynamics, 1e-100, own] < 0.55 * margin_gaps[dynamics, 1e-50, own]
    assert 0 <= margin_gaps[dynamics, 1e-100, own] < 3e-3
    # in its own norm it beats the other geometries by far (measured >= 13x)
    for other in _GEOMETRY:
        if other != dynamics:
            assert margin_gaps[other, 1e-100, own] > 5 * margin_gaps[dynamics, 1e-100, own]


def test_gradient_descent_direction_tends_to_the_svm(margin_gaps):
    # the l2 max-margin direction is unique: GD's direction converges to it
    errors = [np.linalg.norm(margin_gaps["gd direction", t] - margin_gaps["svm"])
              for t in (1e-50, 1e-100)]
    assert errors[1] < 0.55 * errors[0]
    assert errors[1] < 1e-2


def test_the_normalized_step_makes_the_log_loss_fall_linearly(separable):
    # Normalized GD on the exponential loss lowers log L by about
    # eta ||grad L / L||**2 >= eta gamma**2 per step (gamma: the l2 max
    # margin), so the steps to a target grow like log(1 / target) / eta.
    X, y, Z = separable
    gamma = max_margin(X, y, norm="l2").margin
    steps = {}
    for eta in (0.2, 0.1):
        for target in (1e-50, 1e-100):
            result = _run(LinearParameters(4), ExponentialLoss(), Z, target, dynamics="gd",
                          learning_rate=eta, learning_rate_schedule="normalized")
            steps[eta, target] = result.n_iter
            assert result.n_iter <= math.log(1 / target) / (eta * gamma**2)
    assert steps[0.1, 1e-100] / steps[0.1, 1e-50] == pytest.approx(2.0, rel=0.02)
    assert steps[0.1, 1e-100] / steps[0.2, 1e-100] == pytest.approx(2.0, rel=0.01)
    # the constant step, in as many steps, has only reached L ~ 1 / (gamma**2 t)
    # at the time t = k eta (measured: t L gamma**2 = 0.83)
    n_steps = steps[0.1, 1e-100]
    constant = _run(LinearParameters(4), ExponentialLoss(), Z, 1e-100, dynamics="gd",
                    learning_rate=0.1, max_iter=n_steps)
    assert constant.status == "max_iter"
    assert 0.5 < 0.1 * n_steps * math.exp(constant.log_loss) * gamma**2 < 1.5
