"""Tests of sklearn_implicit.analysis.theory: the predicted implicit bias of diagonal networks."""

import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

from sklearn_implicit import (
    DiagonalLinearClassifier,
    max_margin,
    predicted_coef,
    q_minimizer,
)
from sklearn_implicit.analysis._mirror import _solve


def _separable(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal(d) > 0).astype(int)
    return X, y


def _z(y):
    return np.where(y == np.unique(y)[1], 1.0, -1.0)


def _h(theta, depth):
    """h_D of the shared notes (independent of the module's formulas)."""
    if depth == 2:
        return 2.0 * np.sinh(theta)
    p = depth / (depth - 2)
    return (1 - theta) ** -p - (1 + theta) ** -p


def _grad_potential(b, mu, depth):
    """grad Q_mu(b)_j = h_D^{-1}(b_j / mu_j) / mu_j**(1 - 2/D), by root finding."""
    out = np.empty_like(b)
    hi = 50.0 if depth == 2 else 1.0 - 1e-15
    for j, (bj, mj) in enumerate(zip(b, mu)):
        theta = brentq(lambda t: _h(t, depth) - bj / mj, -hi, hi, xtol=1e-15, rtol=1e-15)
        out[j] = theta / mj ** (1.0 - 2.0 / depth)
    return out


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("mu", [1e-3, 1.0, 1e3])
def test_hand_solvable_corner(depth, mu):
    # b1 >= 1, b2 >= 1, b1 + b2 >= 1: Q increases with |b_j|, so b* = (1, 1)
    # and the third constraint is inactive; lambda_j = grad Q(1).
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    y = np.array([1, 1, 0])
    res = q_minimizer(X, y, mu, depth=depth)
    np.testing.assert_allclose(res.coef, [1.0, 1.0], rtol=1e-10)
    np.testing.assert_array_equal(res.support, [0, 1])
    expected = _grad_potential(np.ones(2), np.full(2, mu), depth)
    np.testing.assert_allclose(res.dual_coef, [*expected, 0.0], rtol=1e-9)
    if depth == 2:
        np.testing.assert_allclose(expected, np.arcsinh(1 / (2 * mu)), rtol=1e-12)


@pytest.mark.parametrize("mu", [1e-2, 0.5, 50.0])
def test_hand_solvable_single_point(mu):
    # One constraint b1 + 2 b2 >= 1: b_j = 2 mu sinh(lambda z_j) with
    # lambda fixed by the active constraint (a scalar equation).
    z = np.array([1.0, 2.0])
    lam = brentq(lambda t: z @ (2 * mu * np.sinh(t * z)) - 1.0, 0.0, 50.0, xtol=1e-16)
    res = q_minimizer(z[None, :], [1], mu)
    np.testing.assert_allclose(res.coef, 2 * mu * np.sinh(lam * z), rtol=1e-10)
    np.testing.assert_allclose(res.dual_coef, [lam], rtol=1e-9)


@pytest.mark.parametrize(
    "depth, seed, shape, mu",
    [
        (2, 0, (12, 20), 0.05),
        (2, 1, (40, 8), 1e-4),
        (2, 2, (15, 15), "per-feature"),
        (3, 0, (12, 20), 0.3),
        (3, 3, (10, 10), "per-feature"),
        (4, 4, (8, 12), 2.0),
    ],
)
def test_kkt_conditions(depth, seed, shape, mu):
    X, y = _separable(seed, *shape)
    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.05, 2.0, shape[1]) if mu == "per-feature" else mu
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = q_minimizer(X, y, mu, depth=depth)
    mu_vec = np.broadcast_to(mu, (shape[1],))
    Z = _z(y)[:, None] * X
    m = Z @ res.coef
    lam = res.dual_coef
    assert res.kkt_error <= 1e-10
    assert m.min() >= 1 - 1e-9  # primal feasibility
    assert np.all(lam >= 0)  # dual feasibility
    assert np.max(lam * np.abs(m - 1)) <= 1e-9 * lam.max()  # complementarity
    np.testing.assert_array_equal(res.support, np.flatnonzero(lam > 0))
    # stationarity, with an independent inverse of the mirror map
    np.testing.assert_allclose(
        _grad_potential(res.coef, mu_vec, depth), Z.T @ lam, rtol=1e-7,
        atol=1e-9 * np.abs(Z.T @ lam).max(),
    )


@pytest.mark.parametrize(
    "depth, alpha, target",
    [(2, 0.4, 1e-3), (2, "per-feature", 1e-15), (3, 0.7, 1e-6), (3, "per-feature", 1e-2),
     (4, 0.3, 1e-12)],
)
def test_flow_is_q_minimizer_at_every_time(depth, alpha, target):
    # The exact statement: beta(t) = argmin Q_alpha(b) s.t. Z b >= m(t).
    # It checks the potential's constants (grad Q proportional to the
    # integrated gradient) against the integrator, per-feature alpha included.
    X, y = _separable(5, 8, 10)
    rng = np.random.default_rng(6)
    alpha = rng.uniform(0.2, 1.5, 10) if alpha == "per-feature" else alpha
    clf = DiagonalLinearClassifier(
        alpha=alpha, depth=depth, target_loss=target, fit_intercept=False, tol=1e-9
    ).fit(X, y)
    beta = clf.coef_[0]
    m = _z(y) * (X @ beta)
    assert m.min() > 0
    mu = np.broadcast_to(alpha, (10,)) ** depth
    b, lam, err, _ = _solve(_z(y)[:, None] * X, m, mu, depth, 1e-12, 500)
    np.testing.assert_allclose(b, beta, rtol=1e-8, atol=1e-10 * np.abs(beta).max())
    assert np.all(lam > 0)  # every point has accumulated weight


def test_kernel_limit_is_l2_max_margin():
    X, y = _separable(7, 15, 25)
    l2 = max_margin(X, y, norm="l2").coef
    cosines = []
    for mu in [1.0, 1e2, 1e6]:
        b = q_minimizer(X, y, mu).coef
        cosines.append(b @ l2 / np.linalg.norm(b))
    assert cosines[0] < cosines[1] < cosines[2]
    assert cosines[2] > 1 - 1e-10


@pytest.mark.parametrize("depth", [2, 3])
def test_rich_limit_approaches_l1_max_margin(depth):
    # D = 2: only logarithmically in mu (Q_mu / log(1/mu) -> ||b||_1).
    X, y = _separable(8, 15, 25)
    l1 = max_margin(X, y, norm="l1").margin
    mus = [1e-2, 1e-10, 1e-30, 1e-100] if depth == 2 else [1e-1, 1e-3, 1e-5]
    ratios = []
    for mu in mus:
        b = q_minimizer(X, y, mu, depth=depth).coef
        ratios.append(np.min(_z(y) * (X @ b)) / np.abs(b).sum() / l1)
    assert np.all(np.diff(ratios) > 0)
    if depth == 2:
        assert ratios[-1] > 0.9999


def test_intercept_is_one_more_diagonal_weight():
    X, y = _separable(9, 12, 6)
    X = X + 1.5  # an offset that needs an intercept
    y = (X[:, 0] - X[:, 1] > 0).astype(int)
    mu = np.linspace(0.1, 1.0, 6)
    res = q_minimizer(X, y, mu, fit_intercept=True, intercept_scaling=2.0)
    mu_b = np.mean(np.sqrt(mu)) ** 2
    aug = q_minimizer(np.column_stack([X, np.full(12, 2.0)]), y, np.append(mu, mu_b))
    np.testing.assert_allclose(res.coef, aug.coef[:6], rtol=1e-9)
    assert res.intercept == pytest.approx(2.0 * aug.coef[6], rel=1e-9)


def _scaled_flow_distance(mu, gamma, X, y):
    clf = DiagonalLinearClassifier(
        alpha=np.sqrt(mu * gamma), target_loss=np.exp(-gamma), fit_intercept=False
    ).fit(X, y)
    pred = predicted_coef(clf, X, y)[0]
    coef = clf.coef_[0]
    return np.linalg.norm(coef / np.linalg.norm(coef) - pred / np.linalg.norm(pred))


def _check_one_over_gamma(mu):
    # alpha**2 = mu gamma and L = exp(-gamma): mu fixed, gamma grows; the
    # distance between the normalized flow and prediction shrinks like
    # 1/gamma (measured ratios on these data: 5.00 at mu = 1, 5.03 at
    # mu = 10; 2.49 at mu = 0.1, see examples/plot_memory_effect.py).
    X, y = _separable(0, 10, 6)
    d100 = _scaled_flow_distance(mu, 100.0, X, y)
    d500 = _scaled_flow_distance(mu, 500.0, X, y)
    assert d500 < 0.01
    assert 3.0 < d100 / d500 < 8.0


def test_prediction_error_shrinks_like_one_over_gamma():
    _check_one_over_gamma(1.0)


@pytest.mark.slow
def test_prediction_error_shrinks_like_one_over_gamma_large_mu():
    _check_one_over_gamma(10.0)


def test_predicted_coef_multiclass_rows_and_intercept():
    rng = np.random.default_rng(11)
    centers = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])
    X = np.repeat(centers, 4, axis=0) + 0.3 * rng.standard_normal((12, 3))
    y = np.repeat(["a", "b", "c"], 4)
    clf = DiagonalLinearClassifier(alpha=0.5, target_loss=1e-8).fit(X, y)
    coef, intercept = predicted_coef(clf, X, y, return_intercept=True)
    assert coef.shape == clf.coef_.shape and intercept.shape == clf.intercept_.shape
    for k, c in enumerate(clf.classes_):
        gamma = clf.history_[k]["min_margin"][-1]
        res = q_minimizer(X, (y == c).astype(int), 0.25 / gamma, fit_intercept=True)
        np.testing.assert_allclose(coef[k], gamma * res.coef, rtol=1e-9)
        assert intercept[k] == pytest.approx(gamma * res.intercept, rel=1e-9)
    # The prediction separates like the flow does.
    scores = X @ coef.T + intercept
    np.testing.assert_array_equal(clf.classes_[scores.argmax(axis=1)], y)


def test_predicted_coef_zero_weight_samples_are_left_out():
    X, y = _separable(12, 10, 4)
    X_bad = np.vstack([X, 100 * np.ones((1, 4))])
    y_bad = np.append(y, 1 - y[0])
    sw = np.append(np.ones(10), 0.0)
    clf = DiagonalLinearClassifier(alpha=1.0, target_loss=1e-4, fit_intercept=False)
    clf.fit(X_bad, y_bad, sample_weight=sw)
    np.testing.assert_allclose(
        predicted_coef(clf, X_bad, y_bad, sample_weight=sw), predicted_coef(clf, X, y),
        rtol=1e-12,
    )


def test_errors():
    X, y = _separable(13, 10, 4)
    with pytest.raises(ValueError, match="mu must be positive"):
        q_minimizer(X, y, -1.0)
    with pytest.raises(ValueError, match="mu must be a positive float or an array"):
        q_minimizer(X, y, np.ones(3))
    with pytest.raises(ValueError, match="depth must be an integer >= 2"):
        q_minimizer(X, y, 1.0, depth=1)
    with pytest.raises(ValueError, match="not linearly separable"):
        q_minimizer([[1.0], [1.0]], [0, 1], 1.0)
    unfitted = DiagonalLinearClassifier()
    with pytest.raises(Exception, match="not fitted"):
        predicted_coef(unfitted, X, y)
    clf = DiagonalLinearClassifier(alpha=0.01, target_loss=0.99, fit_intercept=False)
    clf.fit(X, y)
    assert clf.history_[0]["min_margin"][-1] <= 0
    with pytest.raises(ValueError, match="has not separated"):
        predicted_coef(clf, X, y)
    with pytest.raises(ValueError, match="features"):
        predicted_coef(clf, X[:, :3], y)
