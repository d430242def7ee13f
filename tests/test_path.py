"""Tests of sklearn_implicit.implicit_bias_path."""

import math

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sklearn_implicit import (
    DiagonalLinearClassifier,
    implicit_bias_path,
    normalized_margin,
)
from sklearn_implicit.utils._logspace import LN10, log_of_targets

TOL = 1e-6


def _data(seed=0, n=12, d=5, offset=0.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + offset
    y = np.where(X @ rng.standard_normal(d) - offset > 0, "pos", "neg")
    return X, y


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_path_equals_separate_fits(fit_intercept):
    X, y = _data(offset=1.0 if fit_intercept else 0.0)
    alphas = [0.2, 3.0]
    targets = [1e-3, 0.3, 1e-2]  # any order; results follow it
    path = implicit_bias_path(
        X, y, alphas, targets, fit_intercept=fit_intercept, intercept_scaling=1.5,
        tol=TOL,
    )
    assert path.coef.shape == (2, 3, 5)
    assert path.intercept.shape == path.log10_loss.shape == (2, 3)
    np.testing.assert_array_equal(path.status, ["target", "target"])
    np.testing.assert_allclose(path.log10_loss, np.log10([targets] * 2), rtol=1e-12)
    # The margins of the path and of the separate fits, each integrated to
    # tol, agree with those of a tight path to about tol (measured: at most
    # 1.8e-6 relative, the separate fit from alpha = 3 to a loss of 0.3,
    # whose margin is -0.30; the path there 5e-8): the two may differ by
    # the sum.
    tight = implicit_bias_path(
        X, y, alphas, targets, fit_intercept=fit_intercept, intercept_scaling=1.5,
        tol=1e-11,
    )
    for a, alpha in enumerate(alphas):
        for t, target in enumerate(targets):
            clf = DiagonalLinearClassifier(
                alpha=alpha, target_loss=target, fit_intercept=fit_intercept,
                intercept_scaling=1.5, tol=TOL,
            ).fit(X, y)
            scale = np.abs(clf.coef_).max()
            np.testing.assert_allclose(path.coef[a, t], clf.coef_[0], rtol=0,
                                       atol=1e-6 * scale)
            assert path.intercept[a, t] == pytest.approx(
                clf.intercept_[0], abs=1e-6 * scale
            )
            for norm in ("l1", "l2"):
                margin = tight[f"{norm}_margin"][a, t]
                assert path[f"{norm}_margin"][a, t] == pytest.approx(margin, rel=2e-6)
                assert normalized_margin(clf, X, y, norm=norm) == pytest.approx(
                    margin, rel=2e-6)
    np.testing.assert_array_equal(path.classes, ["neg", "pos"])


def test_per_feature_alpha_depth_and_logistic_loss():
    X, y = _data(seed=1)
    alphas = np.array([np.linspace(0.1, 1.0, 5), np.full(5, 0.5)])
    path = implicit_bias_path(X, y, alphas, [1e-2, 1e-6], depth=3, loss="logistic",
                              tol=TOL)
    clf = DiagonalLinearClassifier(alpha=alphas[0], depth=3, loss="logistic",
                                   target_loss=1e-6, fit_intercept=False, tol=TOL)
    clf.fit(X, y)
    np.testing.assert_allclose(path.coef[0, 1], clf.coef_[0], rtol=1e-6)
    assert path.alphas.shape == (2, 5)


def test_one_trajectory_per_alpha_costs_about_one_fit():
    X, y = _data(seed=2)
    targets = np.logspace(-1, -20, 12)
    path = implicit_bias_path(X, y, [1.0], targets)
    clf = DiagonalLinearClassifier(alpha=1.0, target_loss=1e-20,
                                   fit_intercept=False).fit(X, y)
    # Twelve exact stops add a few steps, not twelve trajectories.
    assert path.n_grad_evals[0] < 1.5 * clf.n_grad_evals_[0]


def test_n_jobs_sparse_and_sample_weight_give_the_same_path():
    X, y = _data(seed=3)
    kwargs = dict(alphas=[0.3, 3.0], target_losses=[0.3, 0.05])
    ref = implicit_bias_path(X, y, **kwargs)
    with joblib.parallel_backend("threading"):
        par = implicit_bias_path(X, y, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(ref.coef, par.coef)
    spr = implicit_bias_path(sp.csr_matrix(X), y, **kwargs)
    np.testing.assert_allclose(spr.coef, ref.coef, rtol=1e-9)
    # Zero-weight samples are left out, as in the estimators.
    X_extra = np.vstack([X, 50 * np.ones((1, 5))])
    y_extra = np.append(y, "neg")
    sw = np.append(np.ones(12), 0.0)
    wtd = implicit_bias_path(X_extra, y_extra, sample_weight=sw, **kwargs)
    np.testing.assert_allclose(wtd.coef, ref.coef, rtol=1e-12)


def test_not_separable_stalls_with_warning_and_nan():
    X = np.array([[1.0], [2.0], [-1.0], [1.5]])
    y = np.array([1, 1, 0, 0])
    with pytest.warns(ConvergenceWarning, match="stalled"):
        path = implicit_bias_path(X, y, [1.0], [0.95, 1e-8])
    assert path.status[0] == "stalled"
    assert np.isfinite(path.coef[0, 0]).all()
    assert np.isnan(path.coef[0, 1]).all() and np.isnan(path.log10_loss[0, 1])


def test_errors():
    X, y = _data()
    y3 = np.array(["a", "b", "c"] * 4)
    with pytest.raises(ValueError, match="binary y only"):
        implicit_bias_path(X, y3, [1.0], [0.1])
    with pytest.raises(ValueError, match="target_losses must lie in"):
        implicit_bias_path(X, y, [1.0], [0.1, 1.0])
    with pytest.raises(ValueError, match="target_losses must lie in"):
        implicit_bias_path(X, y, [1.0], [0.0])
    with pytest.raises(ValueError, match="alpha must be positive"):
        implicit_bias_path(X, y, [1.0, -1.0], [0.1])
    with pytest.raises(ValueError, match="shape"):
        implicit_bias_path(X, y, np.ones((2, 3)), [0.1])
    with pytest.raises(ValueError, match="loss must be one of"):
        implicit_bias_path(X, y, [1.0], [0.1], loss="hinge")
    with pytest.raises(ValueError, match="depth must be an integer"):
        implicit_bias_path(X, y, [1.0], [0.1], depth=1)


@pytest.mark.parametrize("sparse, solver", [(False, "auto"), (True, "explicit")])
def test_batched_path_equals_unbatched(sparse, solver):
    X, y = _data(seed=4, n=15, d=6)
    X = sp.csr_matrix(X) if sparse else X
    # Scales over four decades, depths with different rates: the trajectories
    # of one batch take very different numbers of steps.
    alphas = np.geomspace(0.01, 100.0, 7)
    targets = [0.2, 1e-4, 1e-25]
    one = implicit_bias_path(X, y, alphas, targets, depth=3, solver=solver,
                             batch_size=1, tol=TOL)
    batched = implicit_bias_path(X, y, alphas, targets, depth=3, solver=solver,
                                 batch_size=4, tol=TOL)
    np.testing.assert_array_equal(batched.status, one.status)
    np.testing.assert_array_equal(batched.log10_loss, one.log10_loss)
    # Every flow stops on the targets themselves.
    np.testing.assert_array_equal(
        one.log10_loss, np.broadcast_to(log_of_targets(targets) / LN10, one.log10_loss.shape)
    )
    # The stacked products round differently; the flow carries that along its
    # path to within the tolerance.
    scale = np.abs(one.coef).max(axis=-1, keepdims=True)
    np.testing.assert_allclose(batched.coef / scale, one.coef / scale, rtol=0,
                               atol=20 * TOL)
    # Each trajectory keeps its own steps.
    np.testing.assert_allclose(batched.n_grad_evals, one.n_grad_evals, rtol=0.05)


def test_batched_path_is_reproducible_and_independent_of_n_jobs():
    X, y = _data(seed=5)
    kwargs = dict(alphas=np.geomspace(0.1, 10.0, 6), target_losses=[0.1, 1e-6],
                  batch_size=3)
    ref = implicit_bias_path(X, y, **kwargs)
    again = implicit_bias_path(X, y, **kwargs)
    with joblib.parallel_backend("threading"):
        par = implicit_bias_path(X, y, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(again.coef, ref.coef)
    np.testing.assert_array_equal(par.coef, ref.coef)
    np.testing.assert_array_equal(par.n_grad_evals, ref.n_grad_evals)


def test_batch_with_stalled_and_capped_trajectories():
    # Not separable: every trajectory stalls; the batch must still finish
    # each one and report it, whatever the others do.
    X = np.array([[1.0], [2.0], [-1.0], [1.5]])
    y = np.array([1, 1, 0, 0])
    with pytest.warns(ConvergenceWarning, match="stalled"):
        path = implicit_bias_path(X, y, [0.1, 1.0, 10.0], [0.95, 1e-8], batch_size=3)
    np.testing.assert_array_equal(path.status, ["stalled"] * 3)
    assert np.isfinite(path.coef[:, 0]).all() and np.isnan(path.coef[:, 1]).all()
    X, y = _data(seed=6)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        path = implicit_bias_path(X, y, [1e-3, 1.0], [0.5, 1e-200], max_iter=30,
                                  batch_size=2)
    # both capped; from alpha = 1e-3 still by the saddle at 0, in a plateau
    assert path.status.tolist() == ["plateau", "max_iter"]


@pytest.mark.parametrize("batch_size", [0, -2, 1.5, "big", True])
def test_batch_size_errors(batch_size):
    X, y = _data()
    with pytest.raises(ValueError, match="batch_size must be a positive integer or 'auto'"):
        implicit_bias_path(X, y, [1.0], [0.1], batch_size=batch_size)


def test_auto_batch_size_rule():
    from sklearn_implicit.analysis.path import _check_batch_size

    big, small = np.zeros((1000, 1000)), np.zeros((10, 100))
    assert _check_batch_size("auto", 64, big) == 64
    assert _check_batch_size("auto", 7, big) == 1  # too few scales
    assert _check_batch_size("auto", 64, small) == 1  # too small to pay
    assert _check_batch_size("auto", 64, sp.csr_matrix(big)) == 1
    assert _check_batch_size(5, 3, small) == 5


def test_stop_logs_do_not_depend_on_array_layout():
    # NumPy's log takes its SIMD or scalar loop by layout and addresses, and
    # the two differ in the last bit for 1e-25: the stops of one path differed
    # between batched and unbatched runs on one CI machine.
    targets = np.array([0.2, 1e-4, 1e-25, 0.0])
    expected = [math.log(0.2), math.log(1e-4), math.log(1e-25), -np.inf]
    buffer = np.zeros(64)
    for offset in range(8):
        view = buffer[offset:offset + 4]
        view[:] = targets
        np.testing.assert_array_equal(log_of_targets(view), expected)
        np.testing.assert_array_equal(log_of_targets(view[::-1])[::-1], expected)
    assert log_of_targets(1e-25).tolist() == [math.log(1e-25)]
