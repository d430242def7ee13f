"""Tests of DiagonalLinearRegressor and of its limit, min_potential_interpolant."""

import functools
import warnings

import numpy as np
import pytest
from scipy.optimize import linprog
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression

from sklearn_implicit import DiagonalLinearRegressor
from sklearn_implicit.analysis import min_potential_interpolant


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def sparse_problem():
    """Underdetermined sparse recovery: n = 40, d = 100, 3-sparse truth."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 100))
    w = np.zeros(100)
    w[[3, 50, 97]] = [1.0, -2.0, 1.5]
    return X, X @ w, w


@functools.lru_cache(maxsize=None)
def _fit_sparse(alpha, depth=2):
    """The homogeneous flow's limit on the sparse problem (shared by tests)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 100))
    w = np.zeros(100)
    w[[3, 50, 97]] = [1.0, -2.0, 1.5]
    return DiagonalLinearRegressor(alpha=alpha, depth=depth, fit_intercept=False).fit(
        X, X @ w
    )


@pytest.fixture(scope="module")
def small_problem():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((15, 40))
    w = np.zeros(40)
    w[[1, 20]] = [1.0, -1.0]
    return X, X @ w + 0.1


def _basis_pursuit(X, y):
    """min ||b||_1 s.t. X b = y, as an LP in (b+, b-) (HiGHS)."""
    d = X.shape[1]
    res = linprog(np.ones(2 * d), A_eq=np.hstack([X, -X]), b_eq=y, bounds=(0, None))
    assert res.status == 0
    return res.x[:d] - res.x[d:]


@pytest.mark.parametrize(
    "alpha, depth", [(0.01, 2), (0.1, 2), (1.0, 2), (10.0, 2), (0.1, 3)]
)
def test_limit_is_min_potential_interpolant(sparse_problem, alpha, depth):
    X, y, _ = sparse_problem
    reg = _fit_sparse(alpha, depth)
    ref = min_potential_interpolant(X, y, alpha=alpha, depth=depth, fit_intercept=False)
    assert _rel(reg.coef_, ref.coef) < 1e-5
    assert reg.intercept_ == 0.0
    assert reg.converged_.tolist() == [True]
    assert reg.min_loss_.tolist() == [0.0]  # full row rank: y is interpolated
    assert reg.loss_[0] < 1e-10


def test_limit_with_intercept(small_problem):
    X, y = small_problem
    reg = DiagonalLinearRegressor(alpha=0.2).fit(X, y)
    ref = min_potential_interpolant(X, y, alpha=0.2)
    assert _rel(reg.coef_, ref.coef) < 1e-5
    assert reg.intercept_ == pytest.approx(ref.intercept, abs=1e-5)
    # centering costs one dimension: the data are still interpolated, up to
    # the rounding of the least-squares projection
    assert reg.min_loss_[0] < 1e-28
    np.testing.assert_allclose(reg.predict(X), y, atol=1e-5)


def test_interpolant_is_exact(sparse_problem):
    X, y, _ = sparse_problem
    for alpha, depth in [(1e-3, 2), (1.0, 2), (1e2, 2), (0.01, 3), (10.0, 4)]:
        res = min_potential_interpolant(X, y, alpha=alpha, depth=depth, fit_intercept=False)
        assert np.abs(X @ res.coef - y).max() <= 1e-11 * np.abs(y).max()
        # Optimality: grad Q(coef) is in the row space of X. For D = 2,
        # grad Q = arcsinh(coef / (2 alpha**2)) up to a constant factor.
        if depth == 2:
            grad_q = np.arcsinh(res.coef / (2 * alpha**2))
            lam = np.linalg.lstsq(X.T, grad_q, rcond=None)[0]
            assert _rel(X.T @ lam, grad_q) < 1e-8


def test_rich_limit_is_basis_pursuit(sparse_problem):
    X, y, w = sparse_problem
    bp = _basis_pursuit(X, y)
    assert _rel(bp, w) < 1e-8  # the truth is recovered exactly by l1
    errors = [
        _rel(min_potential_interpolant(X, y, alpha=a, fit_intercept=False).coef, bp)
        for a in [1e-1, 1e-2, 1e-3, 1e-4]
    ]
    assert np.all(np.diff(errors) < 0)
    assert errors[-1] < 1e-4
    # and the flow itself follows the same trend
    flow = [_rel(_fit_sparse(a).coef_, bp) for a in [0.1, 0.01]]
    assert flow[1] < 0.1 * flow[0]
    assert flow[1] < 0.02


def test_kernel_limit_is_min_l2_interpolant(sparse_problem):
    X, y, _ = sparse_problem
    pinv = np.linalg.pinv(X) @ y
    errors = [
        _rel(min_potential_interpolant(X, y, alpha=a, fit_intercept=False).coef, pinv)
        for a in [1.0, 10.0, 100.0]
    ]
    assert np.all(np.diff(errors) < 0)
    assert errors[-1] < 1e-6
    assert _rel(_fit_sparse(10.0).coef_, pinv) < 1e-3


def test_recovery_of_sparse_truth(sparse_problem):
    X, y, w = sparse_problem
    rich, kernel = _fit_sparse(0.01), _fit_sparse(10.0)
    assert _rel(rich.coef_, w) < 0.02
    assert _rel(kernel.coef_, w) > 0.5
    assert np.sum(np.abs(rich.coef_)) < np.sum(np.abs(kernel.coef_))
    assert np.linalg.norm(rich.coef_) > np.linalg.norm(kernel.coef_)


def test_target_loss_stops_on_the_path(small_problem):
    X, y = small_problem
    reg = DiagonalLinearRegressor(alpha=0.1, target_loss=1e-3).fit(X, y)
    assert reg.loss_[0] == pytest.approx(1e-3, rel=1e-9)
    assert reg.converged_.tolist() == [False]
    limit = min_potential_interpolant(X, y, alpha=0.1).coef
    assert _rel(reg.coef_, limit) > 1e-3  # early stopping is not the limit
    h = reg.history_[0]
    assert set(h) == {
        "log10_loss", "log10_excess_loss", "log10_time", "l1_norm", "l2_norm", "n_evals"
    }
    assert np.all(np.diff(h["log10_loss"]) < 0)
    # the last record is the step end before the stop's Newton correction
    assert h["l1_norm"][-1] == pytest.approx(np.abs(reg.coef_).sum(), rel=1e-6)
    assert h["log10_loss"][-1] == pytest.approx(-3.0, abs=1e-6)
    assert h["n_evals"][-1] == reg.n_grad_evals_[0]


def test_warm_start_continues_the_path(small_problem):
    X, y = small_problem
    reg = DiagonalLinearRegressor(alpha=0.1, target_loss=1e-2, warm_start=True).fit(X, y)
    evals_first = reg.n_grad_evals_[0]
    reg.set_params(target_loss=1e-5).fit(X, y)
    cold = DiagonalLinearRegressor(alpha=0.1, target_loss=1e-5).fit(X, y)
    assert _rel(reg.coef_, cold.coef_) < 1e-5
    assert reg.loss_[0] == pytest.approx(1e-5, rel=1e-9)
    # only the rest of the path was integrated, and the history continues
    assert reg.n_grad_evals_[0] < cold.n_grad_evals_[0]
    assert reg.history_[0]["n_evals"][-1] == evals_first + reg.n_grad_evals_[0]
    assert np.all(np.diff(reg.history_[0]["log10_loss"]) < 0)
    # a larger target than the stored one restarts
    reg.set_params(target_loss=1e-3).fit(X, y)
    again = DiagonalLinearRegressor(alpha=0.1, target_loss=1e-3).fit(X, y)
    np.testing.assert_array_equal(reg.coef_, again.coef_)


def _noisy_overdetermined(seed=1, n=30, d=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n) + 2.0
    return X, y


@pytest.mark.parametrize("alpha", [0.05, 5.0])
def test_overdetermined_noisy_converges_to_least_squares(alpha):
    X, y = _noisy_overdetermined()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = DiagonalLinearRegressor(alpha=alpha).fit(X, y)
    ols = LinearRegression().fit(X, y)
    assert _rel(reg.coef_, ols.coef_) < 1e-5
    assert reg.intercept_ == pytest.approx(ols.intercept_, rel=1e-5)
    min_loss = np.mean((y - ols.predict(X)) ** 2) / 2
    assert reg.min_loss_[0] == pytest.approx(min_loss, rel=1e-10)
    assert reg.loss_[0] == pytest.approx(min_loss, rel=1e-8)
    assert reg.converged_.tolist() == [True]
    # the clock is the excess loss: it fell by many decades
    assert reg.history_[0]["log10_excess_loss"][-1] < -8


def test_unreachable_positive_target_warns_and_converges():
    X, y = _noisy_overdetermined()
    min_loss = DiagonalLinearRegressor().fit(X, y).min_loss_[0]
    with pytest.warns(ConvergenceWarning, match="smallest training loss the data allow"):
        reg = DiagonalLinearRegressor(target_loss=0.5 * min_loss).fit(X, y)
    assert reg.converged_.tolist() == [True]
    # a reachable target stops early, without warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        early = DiagonalLinearRegressor(target_loss=1.5 * min_loss).fit(X, y)
    assert early.loss_[0] == pytest.approx(1.5 * min_loss, rel=1e-9)
    assert early.converged_.tolist() == [False]


def test_sample_weight_equals_repeated_rows():
    X, y = _noisy_overdetermined(seed=2, n=12, d=20)  # underdetermined, noisy
    X, y = X[:, :20], y
    rng = np.random.default_rng(3)
    sw = rng.integers(0, 4, size=12).astype(float)
    weighted = DiagonalLinearRegressor(alpha=0.3, target_loss=1e-2).fit(X, y, sample_weight=sw)
    rows = np.repeat(np.arange(12), sw.astype(int))
    repeated = DiagonalLinearRegressor(alpha=0.3, target_loss=1e-2).fit(X[rows], y[rows])
    assert _rel(weighted.coef_, repeated.coef_) < 1e-6
    assert weighted.intercept_ == pytest.approx(repeated.intercept_, rel=1e-6)
    # overdetermined: the weights decide the least-squares limit
    X2, y2 = _noisy_overdetermined(seed=4, n=15, d=3)
    sw2 = rng.integers(0, 4, size=15).astype(float)
    reg = DiagonalLinearRegressor(alpha=0.5).fit(X2, y2, sample_weight=sw2)
    rows2 = np.repeat(np.arange(15), sw2.astype(int))
    rep = DiagonalLinearRegressor(alpha=0.5).fit(X2[rows2], y2[rows2])
    assert _rel(reg.coef_, rep.coef_) < 1e-6
    ref = min_potential_interpolant(X2, y2, alpha=0.5, sample_weight=sw2)
    assert _rel(reg.coef_, ref.coef) < 1e-5


def test_multi_output_is_independent_flows(small_problem):
    X, y = small_problem
    Y = np.column_stack([y, X[:, 7] - X[:, 8]])
    reg = DiagonalLinearRegressor(alpha=0.3, target_loss=1e-4).fit(X, Y)
    assert reg.coef_.shape == (2, 40) and reg.intercept_.shape == (2,)
    assert reg.predict(X).shape == (15, 2)
    for k in range(2):
        single = DiagonalLinearRegressor(alpha=0.3, target_loss=1e-4).fit(X, Y[:, k])
        np.testing.assert_allclose(reg.coef_[k], single.coef_, rtol=0, atol=1e-12)
        assert reg.intercept_[k] == pytest.approx(single.intercept_, abs=1e-12)
    assert len(reg.history_) == 2


def test_errors():
    X, y = _noisy_overdetermined()
    with pytest.raises(ValueError, match="below the loss at initialization"):
        DiagonalLinearRegressor(target_loss=1e6).fit(X, y)
    with pytest.raises(ValueError, match="alpha must be positive"):
        DiagonalLinearRegressor(alpha=[1.0, -1.0, 1.0, 1.0, 1.0]).fit(X, y)
    with pytest.raises(ValueError, match="target_loss"):
        DiagonalLinearRegressor(target_loss=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="depth must be an integer"):
        min_potential_interpolant(X, y, depth=1)
    # all-zero weights: scikit-learn >= 1.9 rejects them in _check_sample_weight
    # ("at least one non-zero number"); before, the package's own check does
    with pytest.raises(ValueError, match="non-zero|positive sum"):
        min_potential_interpolant(X, y, sample_weight=np.zeros(len(y)))


def test_nothing_to_fit_gives_zero_coef():
    X, _ = _noisy_overdetermined()
    reg = DiagonalLinearRegressor().fit(X, np.full(len(X), 3.0))
    np.testing.assert_array_equal(reg.coef_, 0.0)
    assert reg.intercept_ == pytest.approx(3.0)
    assert min_potential_interpolant(X, np.full(len(X), 3.0)).intercept == pytest.approx(3.0)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("exponent", [400, -400])
def test_data_far_from_unit_scale_follow_the_same_path(depth, exponent):
    # X * c with alpha * c**(-1/D) is the same flow as (X, alpha) under
    # u -> c**(-1/D) u: beta / c, the same losses, time c**(-2/D) t. With
    # c = 2**400 (about 1e120) or its inverse, the squares of the data leave
    # float64 and the estimator fits at unit scale internally.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 30))
    y = X[:, :2] @ np.array([1.5, -1.0]) + 0.3
    c = 2.0**exponent
    # at a target loss (the time and history are exact there) and at the limit
    for target in (1e-4, 0.0):
        kwargs = dict(depth=depth, tol=1e-9, target_loss=target)
        ref = DiagonalLinearRegressor(alpha=0.2, **kwargs).fit(X, y)
        big = DiagonalLinearRegressor(alpha=0.2 * c ** (-1 / depth), **kwargs).fit(X * c, y)
        assert ref.converged_[0] == big.converged_[0] == (target == 0)
        scale = np.abs(ref.coef_).max()
        np.testing.assert_allclose(big.coef_ * c, ref.coef_, rtol=1e-6, atol=1e-8 * scale)
        assert big.intercept_ == pytest.approx(ref.intercept_, rel=1e-6)
        h, h_ref = big.history_[0], ref.history_[0]
        np.testing.assert_allclose(h["l1_norm"][-1] * c, h_ref["l1_norm"][-1], rtol=1e-6)
        if target:
            assert big.log10_loss_[0] == pytest.approx(np.log10(target), abs=1e-9)
            assert big.log10_time_[0] == pytest.approx(
                ref.log10_time_[0] - 2 / depth * np.log10(c), abs=1e-5)
            # (records between stops fall at step ends, which differ)
            assert h["log10_loss"][-1] == pytest.approx(h_ref["log10_loss"][-1], abs=1e-9)


def test_features_of_1e160_are_fitted_exactly():
    # At 1e155 and beyond, the least-squares fit's squares overflow; the
    # flow ran 14 evaluations and returned coefficients 100 times too small
    # with converged_=True.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5))
    for scale in (1e160, 1e300):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est = DiagonalLinearRegressor(alpha=0.1).fit(X * scale, X[:, 0])
        ref = DiagonalLinearRegressor(alpha=0.1 * np.sqrt(scale)).fit(X, X[:, 0])
        np.testing.assert_allclose(est.coef_ * scale, ref.coef_, rtol=1e-6, atol=1e-9)
        assert est.converged_[0] and est.loss_[0] < 1e-10
