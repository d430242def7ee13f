"""Tests of sklearn_implicit.analysis.theory: the predicted implicit bias of diagonal networks."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq, minimize
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_implicit import (
    DiagonalLinearClassifier,
    max_margin,
    predicted_coef,
    q_minimizer,
)
from sklearn_implicit.analysis import theory
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
    hi = 700.0 if depth == 2 else 1.0 - 1e-15
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


# --- Convergence on real data (issue 26) --------------------------------------
#
# The previous solver (L-BFGS-B, then projected Newton) stopped on
# standardized breast_cancer with KKT errors from 1e-10 to 72 depending on mu
# (and on the process). The multipliers there reach 3e4 while
# s = Z^T lambda stays near 10 (the data are nearly degenerate: l_inf margin
# 0.002), so the interior-point solver computes Z^T lambda and Z b in twice
# the working precision and carries lambda in double-double at the end.

_GAMMA = 64.83793377672919  # min margin of DiagonalLinearClassifier(target_loss=1e-30)


def _breast_cancer(fit_intercept):
    # Standardized, the data are separable only with an intercept (their
    # margin through the origin is 0); without one, scaled but not centred.
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler(with_mean=fit_intercept).fit_transform(X), y


def _check_certificate(X, y, mu, depth, fit_intercept, res, tol=1e-10):
    """Independent optimality certificate of ``b* = argmin Q_mu s.t. Z b >= 1``.

    The problem is convex, so feasibility, lambda >= 0, complementarity and
    stationarity grad Q(b) = Z^T lambda (with an inverse of the mirror map by
    root finding, not the module's formulas) prove optimality.
    """
    z = _z(y)
    margins = z * (X @ res.coef + res.intercept)
    lam = res.dual_coef
    assert res.kkt_error <= tol
    assert margins.min() >= 1 - 1e-9
    assert np.all(lam >= 0) and lam.max() > 0
    assert np.max(lam * np.abs(margins - 1)) <= 1e-9 * lam.max()
    np.testing.assert_array_equal(res.support, np.flatnonzero(lam > 0))
    Z = z[:, None] * X
    b, mu_vec = res.coef, np.full(X.shape[1], float(mu))
    s = Z.T @ lam
    if fit_intercept:
        b, mu_vec = np.append(b, res.intercept), np.append(mu_vec, float(mu))
        s = np.append(s, z @ lam)
    np.testing.assert_allclose(
        _grad_potential(b, mu_vec, depth), s, rtol=1e-7, atol=1e-9 * np.abs(s).max()
    )


def _solve_without_warning(X, y, mu, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return q_minimizer(X, y, mu, **kwargs)


def test_breast_cancer_needs_intercept_when_standardized():
    X, y = _breast_cancer(fit_intercept=True)
    with pytest.raises(ValueError, match="not linearly separable"):
        q_minimizer(X, y, 1.0)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
# The mu = 1 / gamma (KKT error 32.9 before) and both ends of the
# grid below.
@pytest.mark.parametrize("mu", [1e-3, 1 / _GAMMA, 1e2])
def test_breast_cancer_converges(depth, fit_intercept, mu):
    X, y = _breast_cancer(fit_intercept)
    res = _solve_without_warning(X, y, mu, depth=depth, fit_intercept=fit_intercept)
    _check_certificate(X, y, mu, depth, fit_intercept, res)
    assert res.n_iter <= 150  # measured: 38 to 82 over the grid


@pytest.mark.slow
@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_breast_cancer_mu_grid_converges(depth, fit_intercept):
    # Measured: every KKT error <= 7e-11, 38 to 82 iterations; 5 to 19 s per
    # (depth, fit_intercept), certificates included, on a loaded 2-core
    # machine.
    X, y = _breast_cancer(fit_intercept)
    for mu in np.logspace(-3, 2, 25):
        res = _solve_without_warning(
            X, y, mu, depth=depth, fit_intercept=fit_intercept
        )
        _check_certificate(X, y, mu, depth, fit_intercept, res)


def test_breast_cancer_limits_are_the_max_margins():
    # mu -> inf: the l2 max margin; depth 2, mu -> 0: the l1 max margin
    # (logarithmically). Measured: 1 - cos = 1e-16 at mu = 1e6 and a
    # normalized l1 margin 1 - 4e-12 of the optimum at mu = 1e-30.
    X, y = _breast_cancer(fit_intercept=False)
    l2 = max_margin(X, y, norm="l2")
    b = _solve_without_warning(X, y, 1e6).coef
    assert 1 - b @ l2.coef / np.linalg.norm(b) <= 1e-12
    l1 = max_margin(X, y, norm="l1")
    res = _solve_without_warning(X, y, 1e-30)
    _check_certificate(X, y, 1e-30, 2, False, res)
    ratio = np.min(_z(y) * (X @ res.coef)) / np.abs(res.coef).sum() / l1.margin
    assert 1 - 1e-9 <= ratio <= 1 + 1e-9


def _q2(b, mu):
    """Q_mu for depth 2 in closed form (the shared notes)."""
    t = b / mu
    return np.sum(mu * (2 - np.sqrt(4 + t**2) + t * np.arcsinh(t / 2)))


@pytest.mark.parametrize("data", ["iris", "random"])
@pytest.mark.parametrize("mu", [1e-2, 0.3, 10.0])
def test_agrees_with_a_generic_solver(data, mu):
    # SLSQP on the primal, depth 2 (closed-form potential).
    if data == "iris":
        X, y = load_iris(return_X_y=True)
        X, y, fit_intercept = StandardScaler().fit_transform(X), (y == 0), True
    else:
        (X, y), fit_intercept = _separable(14, 40, 8), False
    res = _solve_without_warning(X, y, mu, fit_intercept=fit_intercept)
    _check_certificate(X, y, mu, 2, fit_intercept, res)
    Xa = np.column_stack([X, np.ones(len(y))]) if fit_intercept else X
    Z = _z(y)[:, None] * Xa
    generic = minimize(
        _q2,
        np.linalg.lstsq(Z, np.full(len(y), 1.5), rcond=None)[0],
        args=(mu,),
        jac=lambda b, mu: np.arcsinh(b / (2 * mu)),
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": lambda b: Z @ b - 1, "jac": lambda b: Z}],
        options={"ftol": 1e-15, "maxiter": 1000},
    ).x
    assert np.min(Z @ generic) >= 1 - 1e-9
    b = np.append(res.coef, res.intercept) if fit_intercept else res.coef
    assert _q2(b, mu) <= _q2(generic, mu) * (1 + 1e-12)
    np.testing.assert_allclose(b, generic, rtol=0, atol=1e-6 * np.abs(b).max())


@pytest.mark.parametrize(
    "data, depth, mu",
    [("iris", 2, 1e-3), ("iris", 3, 1e2), ("random", 2, 0.05), ("random", 3, 1e-3)],
)
def test_other_data_converge(data, depth, mu):
    if data == "iris":  # setosa vs rest, the separable one-vs-rest problem
        X, y = load_iris(return_X_y=True)
        X, y = StandardScaler().fit_transform(X), (y == 0)
        fit_intercept = True
    else:  # more features than samples
        (X, y), fit_intercept = _separable(15, 60, 300), False
    res = _solve_without_warning(X, y, mu, depth=depth, fit_intercept=fit_intercept)
    _check_certificate(X, y, mu, depth, fit_intercept, res)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("mu", [1e-3, 1.0, 1e3])
def test_degenerate_support(depth, mu):
    # Duplicated support points: twice as many active constraints as
    # features, the multipliers are not unique, the minimizer is the same.
    X, y = _separable(18, 30, 4)
    single = _solve_without_warning(X, y, mu, depth=depth)
    X2, y2 = np.vstack([X, X, 2 * X[:5]]), np.concatenate([y, y, y[:5]])
    double = _solve_without_warning(X2, y2, mu, depth=depth)
    _check_certificate(X2, y2, mu, depth, False, double)
    assert len(double.support) > X.shape[1]
    np.testing.assert_allclose(double.coef, single.coef, rtol=0,
                               atol=1e-12 * np.abs(single.coef).max())


_DETERMINISM_SCRIPT = """
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from sklearn_implicit import q_minimizer
X, y = load_breast_cancer(return_X_y=True)
for fit_intercept, depth, mu in {cases!r}:
    Xs = StandardScaler(with_mean=fit_intercept).fit_transform(X)
    res = q_minimizer(Xs, y, mu, depth=depth, fit_intercept=fit_intercept)
    print(res.coef.tobytes().hex(), np.float64(res.intercept).tobytes().hex(),
          res.dual_coef.tobytes().hex(), res.n_iter)
"""


def test_deterministic_across_processes():
    # Before, the same call gave KKT errors of 32.9 and 1.3e-10 in two
    # processes. Now the result is the same to the last bit in a fresh
    # process, also with another number of BLAS threads.
    cases = [(True, 2, 1 / _GAMMA), (False, 3, 1e-3)]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    there = subprocess.run(
        [sys.executable, "-c", _DETERMINISM_SCRIPT.format(cases=cases)],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.splitlines()
    here = []
    for fit_intercept, depth, mu in cases:
        X, y = _breast_cancer(fit_intercept)
        res = q_minimizer(X, y, mu, depth=depth, fit_intercept=fit_intercept)
        here.append(" ".join([
            res.coef.tobytes().hex(), np.float64(res.intercept).tobytes().hex(),
            res.dual_coef.tobytes().hex(), str(res.n_iter),
        ]))
    assert there == here


def test_predicted_coef_on_breast_cancer():
    # The example: the prediction warned of a KKT error of 8.46.
    X, y = _breast_cancer(fit_intercept=True)
    clf = DiagonalLinearClassifier(target_loss=1e-30).fit(X, y)
    gamma = clf.history_[0]["min_margin"][-1]
    assert gamma == pytest.approx(_GAMMA, rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coef, intercept = predicted_coef(clf, X, y, return_intercept=True)
    res = q_minimizer(X, y, 1.0 / gamma, fit_intercept=True)
    _check_certificate(X, y, 1.0 / gamma, 2, True, res)
    np.testing.assert_array_equal(coef[0], gamma * res.coef)
    assert intercept[0] == gamma * res.intercept
    cosine = coef[0] @ clf.coef_[0] / np.linalg.norm(coef) / np.linalg.norm(clf.coef_)
    assert cosine > 0.999  # measured 0.99988
    # tol and max_iter reach the solver.
    loose = predicted_coef(clf, X, y, tol=1e-3)
    np.testing.assert_allclose(loose, coef, rtol=0, atol=1e-2 * np.abs(coef).max())
    with pytest.warns(ConvergenceWarning, match="predicted_coef .*max_iter=2 "):
        predicted_coef(clf, X, y, max_iter=2)


def test_predicted_coef_names_the_problem_that_did_not_converge():
    rng = np.random.default_rng(11)
    centers = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]])
    X = np.repeat(centers, 4, axis=0) + 0.3 * rng.standard_normal((12, 3))
    y = np.repeat(["a", "b", "c"], 4)
    clf = DiagonalLinearClassifier(alpha=0.5, target_loss=1e-8).fit(X, y)
    with pytest.warns(ConvergenceWarning) as record:
        predicted_coef(clf, X, y, max_iter=1)
    messages = [str(w.message) for w in record]
    assert len(messages) == 3
    for c, message in zip("abc", messages):
        gamma = clf.history_["abc".index(c)]["min_margin"][-1]
        assert message.startswith(
            f"predicted_coef (class '{c}' vs rest, mu={0.25 / gamma:.4g}) did not "
            "converge: the result is NOT a solution of the problem (KKT error "
        )
        assert "> tol=1e-10): the solver used all max_iter=1 iterations" in message
        assert message.endswith(
            "Increase max_iter (a parameter of predicted_coef, like tol)."
        )


def test_not_a_solution_warning_from_q_minimizer():
    X, y = _breast_cancer(fit_intercept=True)
    with pytest.warns(ConvergenceWarning) as record:
        res = q_minimizer(X, y, 1 / _GAMMA, fit_intercept=True, max_iter=1)
    assert len(record) == 1
    message = str(record[0].message)
    assert message == (
        "q_minimizer did not converge: the result is NOT a solution of the "
        f"problem (KKT error {res.kkt_error:.3g} > tol=1e-10): the solver used all "
        "max_iter=1 iterations. Increase max_iter (a parameter of q_minimizer, "
        "like tol)."
    )
    assert res.kkt_error > 1e-4 and res.n_iter == 1


def _forced(monkeypatch, err, n_iter):
    """Make the solver report ``err`` after ``n_iter`` iterations."""
    real = theory._solve

    def fake(*args):
        b, lam, _, _ = real(*args)
        return b, lam, err, n_iter

    monkeypatch.setattr(theory, "_solve", fake)


@pytest.mark.parametrize(
    "err, n_iter, expected",
    [
        (
            3e-7, 1000,
            "q_minimizer: the result is approximate (KKT error 3e-07 > tol=1e-10): "
            "the solver used all max_iter=1000 iterations. Increase max_iter, or "
            "raise tol to accept this accuracy (both are parameters of "
            "q_minimizer).",
        ),
        (
            2e-10, 83,
            "q_minimizer: the result is approximate (KKT error 2e-10 > tol=1e-10): "
            "the solver stalled after 83 of max_iter=1000 iterations, so a larger "
            "max_iter will not help. Raise tol to accept this accuracy (tol and "
            "max_iter are parameters of q_minimizer).",
        ),
        (
            5.07, 120,
            "q_minimizer did not converge: the result is NOT a solution of the "
            "problem (KKT error 5.07 > tol=1e-10): the solver stalled after 120 of "
            "max_iter=1000 iterations, so a larger max_iter will not help. This is "
            "a failure of the solver on these data; please report it.",
        ),
    ],
)
def test_warning_says_what_the_result_is(monkeypatch, err, n_iter, expected):
    _forced(monkeypatch, err, n_iter)
    X, y = _separable(16, 10, 4)
    with pytest.warns(ConvergenceWarning) as record:
        res = q_minimizer(X, y, 1.0)
    assert [str(w.message) for w in record] == [expected]
    assert res.kkt_error == err
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # within tol: silent
        q_minimizer(X, y, 1.0, tol=err)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tol": 0.0}, "tol must be a positive float; got 0.0"),
        ({"tol": -1e-3}, "tol must be a positive float"),
        ({"tol": np.inf}, "tol must be a positive float"),
        ({"tol": "1e-3"}, "tol must be a positive float; got '1e-3'"),
        ({"max_iter": 0}, "max_iter must be a positive integer; got 0"),
        ({"max_iter": 2.5}, "max_iter must be a positive integer; got 2.5"),
        ({"max_iter": True}, "max_iter must be a positive integer"),
    ],
)
def test_tol_and_max_iter_are_validated(kwargs, match):
    X, y = _separable(17, 10, 4)
    with pytest.raises(ValueError, match=match):
        q_minimizer(X, y, 1.0, **kwargs)
    clf = DiagonalLinearClassifier(alpha=1.0, target_loss=1e-4, fit_intercept=False)
    clf.fit(X, y)
    with pytest.raises(ValueError, match=match):
        predicted_coef(clf, X, y, **kwargs)
