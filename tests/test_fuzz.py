"""Property-based fuzzing of the gradient-flow estimators.

Random data and parameters over the whole accepted range (alpha 1e-8..1e8,
scalar and per feature; depth 2..10; target_loss 1e-300..0.5; both losses;
dense, sparse and float32 X; separable and non-separable data, duplicated
points with opposite labels, constant and all-zero columns, feature scales
1e-150..1e150, one sample per class, one positive sample, three classes).
``max_iter`` is kept small so each case is cheap; stopping there with a
ConvergenceWarning is a valid outcome.

The short tests run by default (the ``ci`` hypothesis profile of
conftest.py); the long fuzz is marked slow, see docs/fuzzing.md.
"""

import importlib
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from sklearn_implicit import DiagonalLinearClassifier

KINDS = (
    "separable", "random", "duplicates", "constant_column", "zero_column",
    "one_per_class", "imbalanced", "multiclass",
)
LOG10_HALF = float(np.log10(0.5))


def optional_estimator(module, name):
    """An estimator class written concurrently by others, or None if absent."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


DeepLinearClassifier = optional_estimator("sklearn_implicit", "DeepLinearClassifier")
DiagonalLinearRegressor = optional_estimator("sklearn_implicit", "DiagonalLinearRegressor")


def make_diagonal(params):
    return DiagonalLinearClassifier(**params)


def make_deep(params):
    # Scalar alpha only; narrow layers keep every case cheap.
    params = dict(params, alpha=float(np.exp(np.mean(np.log(params["alpha"])))))
    return DeepLinearClassifier(width=3, random_state=0, **params)


CLASSIFIERS = [pytest.param(make_diagonal, id="diagonal")]
if DeepLinearClassifier is not None:
    CLASSIFIERS.append(pytest.param(make_deep, id="deep"))


def make_data(kind, n, d, seed, log_scales):
    rng = np.random.default_rng(seed)
    if kind == "one_per_class":
        n = 2
    X = rng.standard_normal((n, d))
    if kind == "separable":
        y = (X @ rng.standard_normal(d) > 0).astype(int)
    elif kind == "multiclass":
        y = np.arange(n) % 3
    else:
        y = rng.integers(0, 2, n)
    if kind == "duplicates":
        X[1] = X[0]
    elif kind == "constant_column":
        X[:, rng.integers(d)] = rng.standard_normal()
    elif kind == "zero_column":
        X[:, rng.integers(d)] = 0.0
    elif kind == "imbalanced":
        y = np.zeros(n, dtype=int)
    if kind != "multiclass":
        # Both classes present; for "duplicates" the first two rows are one
        # point with opposite labels.
        y[0], y[1] = 0, 1
    return X * 10.0 ** np.asarray(log_scales), y


def alphas(d):
    """alpha from 1e-8 to 1e8: a scalar or one per feature."""
    log_alpha = st.floats(-8.0, 8.0)
    return st.one_of(
        log_alpha.map(lambda e: 10.0**e),
        st.lists(log_alpha, min_size=d, max_size=d).map(lambda e: 10.0 ** np.array(e)),
    )


@st.composite
def classification_cases(draw, max_iter=(5, 60)):
    """``(X, y, params)`` over the accepted parameter and data ranges."""
    kind = draw(st.sampled_from(KINDS))
    n = draw(st.integers(3, 10))
    d = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    fmt = draw(st.sampled_from(["dense", "csr", "float32"]))
    # float32 holds magnitudes up to about 3e38.
    bound = 30.0 if fmt == "float32" else 150.0
    exponent = st.floats(-bound, bound)
    if draw(st.booleans()):
        log_scales = [draw(exponent)] * d
    else:
        log_scales = draw(st.lists(exponent, min_size=d, max_size=d))
    X, y = make_data(kind, n, d, seed, log_scales)
    if fmt == "csr":
        X = sp.csr_matrix(X)
    elif fmt == "float32":
        X = X.astype(np.float32)
    params = dict(
        alpha=draw(alphas(d)),
        depth=draw(st.integers(2, 10)),
        loss=draw(st.sampled_from(["exponential", "logistic"])),
        target_loss=10.0 ** draw(st.floats(-300.0, LOG10_HALF)),
        fit_intercept=draw(st.booleans()),
        max_iter=draw(st.integers(*max_iter)),
    )
    return X, y, params


def fit_recording_warnings(estimator, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    others = [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
    return convergence, others


def assert_finite_fit(est):
    """No NaN or inf in any fitted attribute, history included.

    The one exception is ``log10(0) = -inf``: the time of the starting point
    (the first history record of a cold fit, and ``log10_time_`` when the
    flow never left the start, beta = 0: a vanishing gradient, or max_iter
    spent on rejected steps).
    """
    for name in ("coef_", "intercept_", "loss_", "log10_loss_"):
        assert np.all(np.isfinite(getattr(est, name))), (name, getattr(est, name))
    assert np.all(est.loss_ >= 0)
    time = est.log10_time_
    at_start = (np.all(est.coef_ == 0, axis=1) & (est.intercept_ == 0)).reshape(time.shape)
    assert np.all(np.isfinite(time) | (at_start & (time == -np.inf))), time
    for h in est.history_:
        for key, values in h.items():
            checked = values[1:] if key == "log10_time" else values
            assert np.all(np.isfinite(checked)), (key, values)
        assert np.all(np.isfinite(h["log10_time"]) | (h["log10_time"] == -np.inf))


def assert_monotone_history(est):
    for h in est.history_:
        log_loss = h["log10_loss"]
        # Rounding of log L at the Newton-corrected stop, no more.
        slack = 1e-12 * np.maximum(1.0, np.abs(log_loss[:-1]))
        assert np.all(np.diff(log_loss) <= slack), log_loss


def check_classifier_invariants(make, X, y, params):
    est = make(params)
    convergence, others = fit_recording_warnings(est, X, y)
    assert not others, [str(w.message) for w in others]
    assert_finite_fit(est)
    assert_monotone_history(est)
    log10_target = np.log10(params["target_loss"])
    reached = np.all(est.log10_loss_ <= log10_target + 1e-9 * max(1.0, -log10_target))
    if reached:
        assert not convergence, [str(w.message) for w in convergence]
    else:
        assert len(convergence) == 1, (est.log10_loss_, [str(w.message) for w in convergence])
        message = str(convergence[0].message)
        assert "the smallest training loss reached is 10**" in message
        assert "% of the training points are not separated" in message
    # The history ends at the returned point.
    for k, h in enumerate(est.history_):
        assert h["log10_loss"][-1] == pytest.approx(est.log10_loss_[k], rel=1e-12, abs=1e-12)

    scores = est.decision_function(X)
    assert np.all(np.isfinite(scores))
    assert np.all(np.isfinite(est.predict_proba(X)))
    assert np.all(np.isfinite(est.predict_log_proba(X)))
    assert set(np.unique(est.predict(X))) <= set(est.classes_)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.decision_function(X), scores)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    return est, reached


@pytest.mark.parametrize("make", CLASSIFIERS)
@given(case=classification_cases())
def test_fit_invariants(make, case):
    X, y, params = case
    check_classifier_invariants(make, X, y, params)


@settings(max_examples=max(10, settings().max_examples // 3))
@given(case=classification_cases(max_iter=(50, 150)), data=st.data())
def test_row_order_does_not_change_the_answer(case, data):
    X, y, params = case
    # A tight tol so that two step sequences (rounding differs with the row
    # order) land on the same point of the same path.
    params = dict(params, tol=1e-9)
    perm = np.array(data.draw(st.permutations(range(X.shape[0]))))
    a, reached_a = check_classifier_invariants(make_diagonal, X, y, params)
    b, reached_b = check_classifier_invariants(make_diagonal, X[perm], y[perm], params)
    if reached_a and reached_b:
        scale = max(np.max(np.abs(a.decision_function(X))), 1.0)
        np.testing.assert_allclose(
            b.decision_function(X), a.decision_function(X), rtol=0, atol=1e-5 * scale
        )


@st.composite
def regression_cases(draw):
    n = draw(st.integers(2, 8))
    d = draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    log_scale = draw(st.floats(-20.0, 20.0))
    X = rng.standard_normal((n, d)) * 10.0**log_scale
    if draw(st.booleans()):
        X[:, rng.integers(d)] = 0.0
    y = rng.standard_normal(n) * 10.0 ** draw(st.floats(-10.0, 10.0))
    if draw(st.booleans()):
        X = sp.csr_matrix(X)
    params = dict(
        alpha=draw(alphas(d)),
        depth=draw(st.integers(2, 10)),
        fit_intercept=draw(st.booleans()),
        max_iter=draw(st.integers(5, 60)),
    )
    return X, y, params


@pytest.mark.skipif(DiagonalLinearRegressor is None, reason="no DiagonalLinearRegressor yet")
@given(case=regression_cases())
def test_regressor_invariants(case):
    X, y, params = case
    est = DiagonalLinearRegressor(**params)
    convergence, others = fit_recording_warnings(est, X, y)
    assert not others, [str(w.message) for w in others]
    assert len(convergence) <= 1
    for name in ("coef_", "intercept_"):
        assert np.all(np.isfinite(getattr(est, name))), name
    assert_monotone_history(est)
    pred = est.predict(X)
    assert np.all(np.isfinite(pred))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), pred)


@pytest.mark.slow
@pytest.mark.parametrize("make", CLASSIFIERS)
@given(case=classification_cases(max_iter=(5, 500)))
def test_long_fuzz(make, case):
    """The long fuzz: run with HYPOTHESIS_PROFILE=long (docs/fuzzing.md)."""
    X, y, params = case
    check_classifier_invariants(make, X, y, params)
