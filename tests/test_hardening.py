"""Hardening: clear errors, extreme parameters and scales, non-separable data,
interrupted fits, and the physical time of the flow.

Random cases over the same ranges are in test_fuzz.py; the error messages
already covered by test_diagonal.py are not repeated here.
"""

import copy
import itertools
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _interrupt import fitted_state, interrupt_after
from scipy.integrate import quad
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from sklearn_implicit import DiagonalLinearClassifier


def fit_recording(est, X, y, **kwargs):
    """Fit; return the ConvergenceWarning messages (no other warning allowed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y, **kwargs)
    others = [str(w.message) for w in caught if not issubclass(w.category, ConvergenceWarning)]
    assert not others, others
    return [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def assert_all_finite(est, X):
    for name in ("coef_", "intercept_", "log10_loss_", "log10_time_"):
        assert np.all(np.isfinite(getattr(est, name))), name
    for h in est.history_:
        for key, values in h.items():
            assert np.all(np.isfinite(values[1:])), key
    assert np.all(np.isfinite(est.decision_function(X)))
    assert np.all(np.isfinite(est.predict_proba(X)))


def separable_problem(n=8, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


def misclassified_fraction(est, X, y):
    z = np.where(y == est.classes_[1], 1.0, -1.0)
    return np.mean(z * est.decision_function(X) <= 0)


# -- error messages: the parameter (or input) and the accepted range ----------


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"alpha": np.inf}, ["'alpha'", "range (0.0, inf)", "array-like"]),
        ({"alpha": ["a", "b", "c"]}, ["alpha must be a positive float", "shape (n_features,) = (3,)"]),
        ({"alpha": [[1.0, 2.0, 3.0]]}, ["alpha", "shape (n_features,) = (3,)", "(1, 3)"]),
        ({"alpha": [1.0, -1.0, 1.0]}, ["alpha must be positive and finite", "min=-1"]),
        ({"alpha": [1.0, np.inf, 1.0]}, ["alpha must be positive and finite", "max=inf"]),
        ({"depth": 0}, ["'depth'", "int in the range [2, inf)"]),
        ({"target_loss": -1.0}, ["'target_loss'", "range (0.0, inf)"]),
        ({"target_loss": np.nan}, ["'target_loss'", "range (0.0, inf)"]),
        ({"target_loss": 2.0}, ["target_loss must be below the loss at initialization", "1 for loss='exponential'"]),
        ({"tol": np.nan}, ["'tol'", "range (0.0, inf)"]),
        ({"max_iter": 2.5}, ["'max_iter'", "int in the range [1, inf)"]),
        ({"intercept_scaling": 0.0}, ["'intercept_scaling'", "range (0.0, inf)"]),
        ({"fit_intercept": "yes"}, ["'fit_intercept'", "bool"]),
        ({"warm_start": None}, ["'warm_start'", "bool"]),
        ({"verbose": "loud"}, ["'verbose'", "range [0, inf)"]),
        ({"n_jobs": "2"}, ["'n_jobs'", "int"]),
        ({"loss": None}, ["'loss'", "exponential", "logistic"]),
    ],
)
def test_parameter_errors_name_parameter_and_range(params, expected):
    X, y = separable_problem()
    with pytest.raises(ValueError) as info:
        DiagonalLinearClassifier(**params).fit(X, y)
    for part in expected:
        assert part in str(info.value), (part, str(info.value))


@pytest.mark.parametrize(
    "make_input, pattern",
    [
        (lambda X, y: (X, y, np.ones(len(y) - 1)), r"sample_weight\.shape == \(7,\), expected \(8,\)"),
        (lambda X, y: (X, y, np.r_[np.nan, np.ones(len(y) - 1)]), "sample_weight contains NaN"),
        (lambda X, y: (X[:, :0], y, None), "0 feature"),
        (lambda X, y: (X[:0], y[:0], None), "0 sample"),
        (lambda X, y: (X, np.c_[y, y], None), "y should be a 1d array"),
        # Sums of such entries overflow: the gradient cannot be formed.
        (
            lambda X, y: (X / np.abs(X).max() * 1e308, y, None),
            r"X has entries too large.*largest absolute value 1e\+308.*rescale X",
        ),
    ],
)
def test_data_errors_name_the_input(make_input, pattern):
    X, y = separable_problem()
    X, y, sample_weight = make_input(X, y)
    with pytest.raises(ValueError, match=pattern):
        DiagonalLinearClassifier().fit(X, y, sample_weight=sample_weight)


def test_huge_intercept_column_is_named():
    X, y = separable_problem()
    with pytest.raises(ValueError, match="intercept column"):
        DiagonalLinearClassifier(intercept_scaling=1e308).fit(X, y)


# -- extreme parameters and scales ---------------------------------------------


@pytest.mark.parametrize(
    "scale, alpha, depth", list(itertools.product([1e-150, 1e150], [1e-8, 1e8], [2, 10]))
)
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_extreme_scales_are_finite_and_reach_or_warn(scale, alpha, depth, fit_intercept):
    X, y = separable_problem()
    X = X * scale
    est = DiagonalLinearClassifier(
        alpha=alpha, depth=depth, target_loss=1e-300, fit_intercept=fit_intercept,
        max_iter=60,
    )
    messages = fit_recording(est, X, y)
    assert_all_finite(est, X)
    if est.log10_loss_[0] <= -300:
        assert not messages
    else:
        assert len(messages) == 1 and "smallest training loss reached is 10**" in messages[0]
    assert np.all(np.diff(est.history_[0]["log10_loss"]) <= 0)


@pytest.mark.parametrize("alpha, depth", [(1e-8, 2), (1e8, 10)])
def test_huge_features_reach_a_tiny_loss(alpha, depth):
    X, y = separable_problem()
    est = DiagonalLinearClassifier(alpha=alpha, depth=depth, target_loss=1e-40)
    assert not fit_recording(est, X * 1e150, y)
    assert est.log10_loss_[0] == pytest.approx(-40, abs=1e-10)
    assert_all_finite(est, X * 1e150)
    # The margins reached are those of the unscaled problem's flow at a
    # rescaled alpha: finite, positive, and the training set is separated.
    assert misclassified_fraction(est, X * 1e150, y) == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    "scale, alpha, depth, loss",
    list(itertools.product([1e-150, 1e150], [1e-8, 1e8], [2, 10], ["exponential", "logistic"])),
)
def test_extreme_scales_default_max_iter(scale, alpha, depth, loss):
    X, y = separable_problem()
    est = DiagonalLinearClassifier(alpha=alpha, depth=depth, loss=loss, target_loss=1e-300)
    messages = fit_recording(est, X * scale, y)
    assert_all_finite(est, X * scale)
    assert est.log10_loss_[0] <= -300 + 1e-9 or len(messages) == 1


def test_columns_many_orders_apart_keep_the_loss_monotone():
    # A fuzz case: columns of size 1e30 next to columns of size 1e-25 and
    # 1e-29. A coefficient-relative error estimate accepts steps that raise
    # the loss from 1 to 1e135 here (it measures coefficients, not margins);
    # the integrator rejects any step that raises the loss.
    signs1 = np.array([-1, -1, -1, -1, 1, 1, 1, -1])
    signs3 = np.array([1, -1, -1, -1, -1, 1, -1, 1])
    small = np.array([-2.77, 5.27, -1.58, 5.25, -1.11, 0.80, 12.13, -2.96]) * 1e-29
    X = np.column_stack([np.zeros(8), 1e30 * signs1, np.full(8, -8.88e-25), 1e30 * signs3, small])
    y = np.array([0, 1, 0, 1, 1, 1, 0, 1])
    alpha = np.array([1.49e-2, 9.26, 4.90e3, 1.33e4, 7.38e2])
    for fmt in (np.float64, np.float32):
        est = DiagonalLinearClassifier(
            alpha=alpha, depth=4, target_loss=3.3e-136, fit_intercept=False, max_iter=284
        )
        messages = fit_recording(est, X.astype(fmt), y)
        # Without the check the loss reached 10**11 (float64) and 10**19.5.
        assert np.all(np.diff(est.history_[0]["log10_loss"]) <= 1e-12)
        assert est.log10_loss_[0] <= 1e-12
        reached = est.log10_loss_[0] <= np.log10(3.3e-136) + 1e-9
        assert reached != bool(messages)
        assert_all_finite(est, X)


def test_float32_input_is_the_float64_problem():
    X, y = separable_problem()
    X32 = (X * 1e20).astype(np.float32)
    a = DiagonalLinearClassifier(alpha=1e-3, depth=3, target_loss=1e-30).fit(X32, y)
    b = DiagonalLinearClassifier(alpha=1e-3, depth=3, target_loss=1e-30).fit(X32.astype(np.float64), y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.coef_.dtype == np.float64


def test_zero_and_constant_columns():
    X, y = separable_problem(n=10)
    X = np.column_stack([X, np.zeros(10), np.full(10, 3.0)])
    for Xf in (X, sp.csr_matrix(X)):
        est = DiagonalLinearClassifier(alpha=0.5, target_loss=1e-20).fit(Xf, y)
        # A zero column gets no gradient: its weight never moves.
        assert est.coef_[0, 3] == 0.0
        assert_all_finite(est, Xf)
        assert misclassified_fraction(est, Xf, y) == 0


def test_one_sample_per_class_and_one_positive_sample():
    X = np.array([[1.0, -2.0], [-1.5, 0.5]])
    est = DiagonalLinearClassifier(alpha=0.1, depth=5, target_loss=1e-200).fit(X, [0, 1])
    assert est.log10_loss_[0] == pytest.approx(-200, abs=1e-9)
    np.testing.assert_array_equal(est.predict(X), [0, 1])
    X, _ = separable_problem(n=12)
    y = np.zeros(12, dtype=int)
    y[np.argmax(X[:, 0])] = 1
    est = DiagonalLinearClassifier(alpha=0.3, loss="logistic", target_loss=1e-50).fit(X, y)
    assert est.log10_loss_[0] == pytest.approx(-50, abs=1e-9)
    np.testing.assert_array_equal(est.predict(X), y)


# -- physical time --------------------------------------------------------------


@pytest.mark.parametrize("x", [1.0, 10.0, 1e3, 1e30])
@pytest.mark.parametrize("target", [1e-5, 1e-50, 1e-300])
def test_flow_time_matches_quadrature(x, target):
    # Two points +-x on a line, D = 2, exponential loss: the margin m = x beta
    # obeys dm/dt = x**2 8 alpha**2 cosh(4R) exp(-m) with
    # sinh(4R) = beta / (2 alpha**2), so t(m) is one integral. The stiff
    # time equation was integrated explicitly before: log10_time_ was off by
    # up to 143 decades at 1e-300 and -inf when one step reached the target.
    alpha = 1.0
    est = DiagonalLinearClassifier(alpha=alpha, target_loss=target, fit_intercept=False, tol=1e-8)
    est.fit(np.array([[x], [-x]]), [1, 0])
    m = est.coef_[0, 0] * x

    def rate(mm):  # dt/dm, scaled by exp(-m) to stay finite
        return np.exp(mm - m) / (x**2 * np.sqrt(64 * alpha**4 + 16 * (mm / x) ** 2))

    scaled, _ = quad(rate, 0, m, limit=500, epsabs=0, epsrel=1e-12)
    log10_t = (np.log(scaled) + m) / np.log(10)
    assert est.log10_time_[0] == pytest.approx(log10_t, abs=1e-4)


# -- non-separable data -----------------------------------------------------------


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
def test_stall_stops_early_at_the_infimum(loss):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = (X[:, 0] + rng.standard_normal(30) > 0).astype(int)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * np.c_[X, np.ones(30)]
    if loss == "exponential":
        objective = lambda b: np.mean(np.exp(-Z @ b))  # noqa: E731
    else:
        objective = lambda b: np.mean(np.logaddexp(0, -Z @ b))  # noqa: E731
    infimum = minimize(objective, np.zeros(4), method="BFGS", options={"gtol": 1e-12}).fun

    est = DiagonalLinearClassifier(alpha=0.5, loss=loss, target_loss=1e-8, max_iter=10_000)
    (message,) = fit_recording(est, X, y)
    assert "stalled" in message
    assert est.n_iter_ < 1000
    # The flow's point: at the infimum of the loss (the flow cannot go below it).
    assert est.loss_[0] >= infimum * (1 - 1e-9)
    assert est.loss_[0] <= infimum * (1 + 1e-6)
    assert f"10**{est.log10_loss_[0]:.4f}" in message
    assert f"{misclassified_fraction(est, X, y):.1%} of the training points" in message
    assert_all_finite(est, X)


@pytest.mark.parametrize("scale", [1e-150, 1e-50])
def test_tiny_features_on_separable_data_do_not_stall(scale):
    # The escape from the saddle at 0 lasts many decades of time with tiny
    # features, and its log-log slope falls below the stall threshold while
    # some margins are negative. The slope alone would call it a stall ("data
    # not separable"); a linear program confirms a stall first, so the flow
    # goes on and reaches the target.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))
    y = (X @ rng.standard_normal(5) > 0).astype(int)
    est = DiagonalLinearClassifier(alpha=1.0, target_loss=1e-10, fit_intercept=False)
    assert not fit_recording(est, X * scale, y)
    assert est.log10_loss_[0] == pytest.approx(-10, abs=1e-10)
    assert misclassified_fraction(est, X * scale, y) == 0
    # The same path as the unscaled data at alpha * sqrt(scale) (with
    # u' = sqrt(scale) u the depth-2 flow is the unscaled one, time rescaled),
    # to the tolerance.
    ref = DiagonalLinearClassifier(alpha=np.sqrt(scale), target_loss=1e-10,
                                   fit_intercept=False, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(est.coef_ * scale, ref.coef_,
                               atol=1e-4 * np.abs(ref.coef_).max())


def test_linear_separability_check():
    from sklearn_implicit._integrate.flow import linearly_separable

    X, y = separable_problem(n=12)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    for scale in (1e-150, 1.0, 1e150):
        assert linearly_separable(Z * scale) is True
        assert linearly_separable(sp.csr_matrix(Z * scale)) is True
    # columns 300 orders of magnitude apart
    assert linearly_separable(Z * np.array([1e-150, 1e150, 1.0])) is True
    assert linearly_separable(np.vstack([Z, -Z[:1]])) is False  # a point and its opposite
    assert linearly_separable(np.vstack([Z, np.zeros(Z.shape[1])])) is False  # a zero row


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_linear_separability_is_decided_where_highs_gives_up(sparse):
    # HiGHS leaves the feasibility program Z b >= 1 of these rows undecided
    # in most row orders ("unknown"); the fit then ran to max_iter instead of
    # stalling (1.2 million evaluations). The largest margin with |b| <= 1
    # decides: 0, not separable, in every order.
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    from sklearn_implicit._integrate.flow import linearly_separable

    X, y = make_classification(n_samples=1000, n_features=200, n_informative=10,
                               n_redundant=0, random_state=0)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    for _ in range(4):
        rows = Z[rng.permutation(Z.shape[0])]
        assert linearly_separable(sp.csr_matrix(rows) if sparse else rows) is False
    # separable rows of that size stay separable
    Z = np.sign(Z @ rng.standard_normal(Z.shape[1]))[:, None] * Z
    assert linearly_separable(sp.csr_matrix(Z) if sparse else Z) is True


def _overlapping_classes():
    """Standardized features of two overlapping classes, of a size where the
    program on all rows costs tens of milliseconds."""
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=3000, n_features=12, n_informative=6,
                               n_redundant=0, random_state=0)
    return StandardScaler().fit_transform(X), y


def _separability_problems():
    """Signed rows, not separable and separable."""
    X, y = _overlapping_classes()
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    # the same rows signed by a hyperplane through a thin slab left empty
    w = np.random.default_rng(1).standard_normal(Z.shape[1])
    keep = np.abs(Z @ w) > 0.05 * np.linalg.norm(w)
    separable = np.sign(Z[keep] @ w)[:, None] * Z[keep]
    return [("overlapping classes", Z, False), ("separable", separable, True)]


@pytest.fixture
def program_rows(monkeypatch):
    """The row count of every linear program the stall test solves."""
    from sklearn_implicit._integrate import flow as flow_module

    programs = []
    linprog = flow_module.linprog

    def counting(*args, **kwargs):
        programs.append(kwargs["A_ub"].shape[0])
        return linprog(*args, **kwargs)

    monkeypatch.setattr(flow_module, "linprog", counting)
    return programs


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_separability_from_margins_is_decided_on_few_rows(sparse, program_rows):
    # With the flow's margins the program starts on the rows nearest their
    # boundary and takes in others only as a solution misses them: the same
    # answers as the program on all rows, and no program on all rows.
    from sklearn_implicit._integrate import flow as flow_module

    rng = np.random.default_rng(0)
    for name, Z, expected in _separability_problems():
        Z = sp.csr_matrix(Z) if sparse else Z
        assert flow_module.linearly_separable(Z) is expected, name
        # margins of a random direction: the first rows are no separator's
        # nearest, so the separable case needs further rounds
        for coef in (rng.standard_normal(Z.shape[1]), np.zeros(Z.shape[1])):
            program_rows.clear()
            assert flow_module.linearly_separable(Z, Z @ coef) is expected, name
            assert program_rows and max(program_rows) < Z.shape[0], (name, program_rows)
            if expected:
                assert len(program_rows) > 1, (name, program_rows)


def test_a_stall_is_found_without_the_program_on_all_rows(program_rows):
    # The fit asks at its stall, with its margins: programs on few rows.
    X, y = _overlapping_classes()
    est = DiagonalLinearClassifier(fit_intercept=False)
    (message,) = fit_recording(est, X, y)
    assert "stalled" in message
    assert est.status_.tolist() == ["stalled"]
    assert program_rows and max(program_rows) < X.shape[0] / 10, program_rows


def test_duplicated_points_with_opposite_labels_warn():
    # Separable but for one point duplicated with the opposite label: the
    # loss tends to a positive infimum without reaching it while the other
    # margins grow, and the stall test (log-log slope below 1e-7) does not
    # fire within max_iter (not even within 10,000 steps): the fit ends at
    # max_iter. Only the warning and its content are checked.
    X, y = separable_problem(n=10)
    X = np.vstack([X, X[:1]])
    y = np.append(y, 1 - y[0])
    est = DiagonalLinearClassifier(alpha=0.3, target_loss=1e-30, max_iter=300)
    (message,) = fit_recording(est, X, y)
    assert f"10**{est.log10_loss_[0]:.4f}" in message
    assert f"{misclassified_fraction(est, X, y):.1%} of the training points" in message
    assert_all_finite(est, X)
    # One of the two copies is always on the wrong side.
    assert misclassified_fraction(est, X, y) >= 1 / len(y)


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
def test_iris_versicolor_vs_rest_warns_and_stays_finite(loss):
    # Ill-conditioned and not separable. The explicit integrator runs into
    # max_iter here (a stiff integrator should stall instead): only the
    # warning and finiteness are checked, not how the flow stopped.
    X, y = load_iris(return_X_y=True)
    est = DiagonalLinearClassifier(loss=loss, target_loss=1e-10, max_iter=300)
    (message,) = fit_recording(est, X, y == 1)
    assert re.search(r"smallest training loss reached is 10\*\*-0\.\d{4}", message)
    assert f"{misclassified_fraction(est, X, y == 1):.1%} of the training points" in message
    assert_all_finite(est, X)
    assert est.log10_loss_[0] < est.history_[0]["log10_loss"][0]


# -- interrupted fits ----------------------------------------------------------------


@pytest.mark.parametrize("multiclass", [False, True])
def test_keyboard_interrupt_leaves_the_previous_fit(monkeypatch, multiclass):
    X, y = separable_problem(n=12)
    if multiclass:
        y = np.arange(12) % 3
        X = X + 3 * np.eye(3)[y]
    est = DiagonalLinearClassifier(alpha=0.3, target_loss=1e-5, warm_start=True).fit(X, y)
    before = fitted_state(est)
    coef = est.coef_.copy()
    # Interrupt deep inside the continued integration (of the last problem
    # for a multiclass fit, after the others finished): 20 evaluations
    # before its end, counted on a copy.
    counted = interrupt_after(monkeypatch, np.inf)
    copy.deepcopy(est).set_params(target_loss=1e-40).fit(X, y)
    monkeypatch.undo()
    n_evals = counted["n"] - 20
    calls = interrupt_after(monkeypatch, n_evals)
    with pytest.raises(KeyboardInterrupt):
        est.set_params(target_loss=1e-40).fit(X, y)
    assert calls["n"] == n_evals
    monkeypatch.undo()
    assert fitted_state(est) == before
    np.testing.assert_array_equal(est.coef_, coef)
    # The stored trajectory is intact: continuing it gives the cold answer.
    est.fit(X, y)
    cold = clone(est).set_params(warm_start=False).fit(X, y)
    np.testing.assert_allclose(est.coef_, cold.coef_, rtol=1e-5, atol=1e-8 * np.abs(cold.coef_).max())


def test_keyboard_interrupt_on_new_labels_leaves_the_previous_fit(monkeypatch):
    # New classes and new n_features are set before the flows run; an
    # interrupt must not leave them next to the previous coefficients.
    X, y = separable_problem(n=12)
    est = DiagonalLinearClassifier(target_loss=1e-5).fit(X, y)
    before = fitted_state(est)
    interrupt_after(monkeypatch, 30)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X[:, :2], np.where(y == 1, "spam", "ham"))
    assert fitted_state(est) == before
    np.testing.assert_array_equal(est.classes_, [0, 1])
    assert est.n_features_in_ == 3


def test_failed_fit_leaves_the_previous_fit():
    X, y = separable_problem()
    est = DiagonalLinearClassifier(target_loss=1e-5).fit(X, y)
    before = fitted_state(est)
    with pytest.raises(ValueError, match="intercept column"):
        # Different n_features: validate_data resets n_features_in_ first.
        est.set_params(intercept_scaling=1e308).fit(X[:, :2], y)
    assert fitted_state(est) == before
    assert est.n_features_in_ == 3


def test_max_iter_in_a_warm_fit_stores_the_partial_point():
    X, y = separable_problem(n=12)
    kwargs = dict(alpha=0.2, depth=3, tol=1e-8)
    est = DiagonalLinearClassifier(target_loss=1e-5, warm_start=True, **kwargs).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        est.set_params(target_loss=1e-60, max_iter=5).fit(X, y)
    # Consistent partial state: every attribute describes the same point.
    assert -60 < est.log10_loss_[0] < -5
    assert est.history_[0]["log10_loss"][-1] == est.log10_loss_[0]
    m = np.where(y == 1, 1, -1) * est.decision_function(X)
    assert np.log10(np.mean(np.exp(-m))) == pytest.approx(est.log10_loss_[0], abs=1e-9)
    # The next warm fit continues from there to the cold answer.
    est.set_params(max_iter=10_000).fit(X, y)
    cold = DiagonalLinearClassifier(target_loss=1e-60, **kwargs).fit(X, y)
    np.testing.assert_allclose(est.coef_, cold.coef_, rtol=1e-6)
    assert est.history_[0]["log10_loss"][0] == 0
    assert np.all(np.diff(est.history_[0]["log10_loss"]) <= 0)


def test_huge_constant_column_with_large_alpha_warns_only_once():
    # Found by the long fuzz: a constant column of -4.8e145 with alpha=1000
    # on it at depth 9 overflowed the stall test's log-log slope (a
    # RuntimeWarning beside the ConvergenceWarning).
    X = np.array([[-4.8211931267997824e145, 0.82161814350115836, 0.33043707618338714],
                  [-4.8211931267997824e145, 0.90535586667311774, 0.44637457236401129],
                  [-4.8211931267997824e145, 0.58111810419635312, 0.36457239618607573],
                  [-4.8211931267997824e145, 0.028422241315796789, 0.54671298661244694]])
    y = np.array([0, 1, 0, 1])
    est = DiagonalLinearClassifier(alpha=np.array([1000.0, 1.0, 1.0]), depth=9,
                                   target_loss=0.1, fit_intercept=False, max_iter=43)
    (message,) = fit_recording(est, X, y)
    assert "smallest training loss reached is 10**" in message
    assert_all_finite(est, X)


# The documented range of alpha (the estimators' docstrings): alpha**depth
# from 1e-300 to 1e300 fits unit-scale data at every depth; a decade and a
# third further out on either side, fit says which way to change alpha.
_ALPHA_RANGE_CASES = [
    case
    for depth in (2, 3, 5, 10)
    for case in [
        (depth, 10.0 ** (300 / depth), None, None),
        (depth, 10.0 ** (-300 / depth), None, None),
        (depth, 10.0 ** (400 / depth), ValueError, "smaller alpha"),
        (depth, 10.0 ** (-400 / depth), FloatingPointError, "raise alpha"),
    ]
]


@pytest.mark.parametrize("depth, alpha, error, match", _ALPHA_RANGE_CASES + [
    # Time scales 1e200 apart: the flow is stiff beyond any step budget and
    # stops at max_iter (a ConvergenceWarning), but without RuntimeWarnings.
    (2, np.array([1e-100, 1.0, 1.0, 1.0, 1e100]), None, None),
])
def test_extreme_alpha_fits_or_says_what_to_change_without_runtime_warnings(
        depth, alpha, error, match):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))
    y = (X[:, 0] > 0).astype(int)
    per_feature = np.ndim(alpha) > 0
    clf = DiagonalLinearClassifier(alpha=alpha, depth=depth, target_loss=1e-5,
                                   max_iter=3000 if per_feature else 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore" if per_feature else "error", ConvergenceWarning)
        if error is None:
            clf.fit(X, y)
            assert np.all(np.isfinite(clf.coef_))
            if not per_feature:
                assert clf.log10_loss_[0] == pytest.approx(-5, abs=1e-9)
        else:
            with pytest.raises(error, match=match):
                clf.fit(X, y)


def test_messages_print_values_as_the_user_wrote_them(capsys):
    # Labels and targets arrive as NumPy scalars (np.unique, np.atleast_1d);
    # their repr, np.int64(1) or np.float64(1.5), is noise in a message.
    X, y = load_iris(return_X_y=True)
    texts = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DiagonalLinearClassifier(verbose=1, target_loss=1e-3).fit(X, y)
    texts += [str(w.message) for w in caught]
    texts += capsys.readouterr().out.splitlines()
    for est, target in [(DiagonalLinearClassifier(target_loss=1.5), y),
                        (DiagonalLinearClassifier(), np.ones(150)),
                        (DiagonalLinearClassifier(), np.full(150, "setosa"))]:
        with pytest.raises(ValueError) as info:
            est.fit(X, target)
        texts.append(str(info.value))
    assert any("(class 1 vs rest)" in t for t in texts)
    assert any(t.startswith("[class 0] ") for t in texts)
    assert any("got target_loss=1.5." in t for t in texts)
    assert any("only one class: 1.0." in t for t in texts)
    assert any("only one class: 'setosa'." in t for t in texts)
    assert not any("np." in t for t in texts), [t for t in texts if "np." in t]


@pytest.mark.parametrize("tol", [1e-15, 1e-16, 0.5e-14])
def test_tol_below_float64_rounding_is_rejected(tol):
    # measured: at tol = 1e-15 every estimator ran to max_iter near its
    # initial loss; at 1e-14 they reach their targets
    X, y = separable_problem(n=12)
    with pytest.raises(ValueError, match=r"below what float64 arithmetic can deliver.*tol >= 1e-14"):
        DiagonalLinearClassifier(tol=tol).fit(X, y)
    est = DiagonalLinearClassifier(tol=1e-14, target_loss=1e-10).fit(X, y)
    assert est.log10_loss_[0] <= -10


@pytest.mark.parametrize("scale", [1e-200, 1e5])
def test_max_iter_on_badly_scaled_features_advises_standardizing(scale):
    X, y = separable_problem(n=30)
    with pytest.warns(ConvergenceWarning, match="max_iter") as record:
        DiagonalLinearClassifier(max_iter=20, target_loss=1e-30).fit(X * scale, y)
    message = str(record[0].message)
    assert "StandardScaler" in message and "far from unit scale" in message
    # unit-scale features: the warning says nothing of scale
    with pytest.warns(ConvergenceWarning, match="max_iter") as record:
        DiagonalLinearClassifier(max_iter=20, target_loss=1e-30).fit(X, y)
    assert "StandardScaler" not in str(record[0].message)


@pytest.mark.parametrize("tol", [0.1, 0.3, 0.5, 0.9])
def test_loose_tol_reaches_the_target(tol):
    # At a loose tol the clock may run ahead of the true -log L (the drift
    # allowed per step is tol * tau and adds up) further than the stop's
    # Newton correction reaches; left there, tol = 0.3 on this problem ran
    # to max_iter at a loss of 10**-2.65 (159,906 evaluations). The clock
    # is set back to the loss and a later step makes the stop.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3000))
    w = np.zeros(3000)
    w[:5] = rng.standard_normal(5)
    y = np.where(X @ w > 0, 1, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = DiagonalLinearClassifier(alpha=0.1, depth=3, tol=tol, target_loss=1e-3,
                                       fit_intercept=False).fit(X, y)
    assert est.loss_[0] <= 1e-3 and est.log10_loss_[0] == pytest.approx(-3, abs=1e-9)
    # measured: 294 to 396 evaluations (484 at tol = 1e-2)
    assert est.n_grad_evals_[0] < 1_000


def test_badly_scaled_features_get_no_plateau_allowance():
    # Tiny features make a slow phase that standardizing removes: the
    # default budget stays at 10,000 steps there (with the allowance for
    # plateaus, 1e-200 times breast_cancer took 687,533 evaluations before
    # its warning), and the warning says to standardize.
    X, y = separable_problem(n=30)
    with pytest.warns(ConvergenceWarning, match="StandardScaler") as record:
        est = DiagonalLinearClassifier(target_loss=1e-30).fit(X * 1e-200, y)
    assert est.n_iter_ <= 10_000
    assert "no allowance for plateaus" in str(record[0].message)
