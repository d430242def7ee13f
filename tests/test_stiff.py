"""The stiff integrator: Jacobian, linear solves, accuracy, order, switch, stall."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.datasets import load_iris, load_wine

from sklearn_implicit._integrate import FlowState, LinearFlow, integrate
from sklearn_implicit._integrate import auto as auto_module
from sklearn_implicit._integrate import dop853_coefficients as _dop853
from sklearn_implicit._integrate.auto import (
    _CHEAP_JACOBIAN,
    _STIFF_H_LAMBDA,
    _STIFF_H_LAMBDA_FLAT,
    _STIFF_WINDOW,
    _TRIAL_ROOM,
    _TRIAL_STEPS,
    AutoStepper,
)
from sklearn_implicit._integrate.driver import (
    _PREDICTIVE_GROWTH,
    _PREDICTIVE_SPAN,
    _predictive_factor,
    _step_factor,
)
from sklearn_implicit._integrate.explicit import DormandPrince853
from sklearn_implicit._integrate.jacobian import (
    FlowJacobian,
    GramTruncation,
    _weighted_gram,
)
from sklearn_implicit._integrate.krylov import KrylovW
from sklearn_implicit._integrate.rosenbrock import GRAM_DROP, Rodas4, stiff_step_cost
from sklearn_implicit._integrate.shifted_solvers import _lu_factor, _lu_solve
from sklearn_implicit._integrate.stiff_cost import jacobian_costs
from sklearn_implicit._losses import ExponentialLoss, LogisticLoss
from sklearn_implicit._networks import DiagonalNetwork

LOSSES = [ExponentialLoss(), LogisticLoss()]


def separable(n, d, k=3, seed=0):
    """Signed rows ``y_i x_i`` of a Gaussian design with a sparse teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[:k] = rng.choice([-1.0, 1.0], size=k) * (1 + rng.random(k))
    return np.where(X @ w > 0, 1.0, -1.0)[:, None] * X


def make_flow(Z, depth=2, alpha=0.1, loss=None, sample_weight=None):
    n, d = Z.shape
    sw = np.ones(n) if sample_weight is None else sample_weight
    return LinearFlow(DiagonalNetwork(np.full(d, alpha), depth), loss or ExponentialLoss(), Z, sw)


def start(flow):
    state = flow.network.initial_state()
    return FlowState(state, -flow.log_loss(flow.predictions(state)[1]), -np.inf)


def run(flow, target, tol, stepper=None, max_iter=100_000):
    return integrate(
        flow, start(flow), [np.log(target)], tol=tol, max_iter=max_iter, stepper=stepper
    )


def time_factor(flow, point, tau):
    """``T = t exp(-tau)`` at a point of a run of ``flow``, in the flow's time
    unit (as integrate keeps it, and as the steppers take it)."""
    return np.exp(point.log_time - flow.log_time_unit - tau)


def rel_err(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
@pytest.mark.parametrize("depth", [2, 3, 5])
@pytest.mark.parametrize("shape", [(8, 5), (5, 12)], ids=["dense", "low-rank"])
def test_jacobian_matches_finite_differences(loss, depth, shape):
    n, d = shape
    rng = np.random.default_rng(depth)
    Z = rng.standard_normal((n, d))
    flow = make_flow(Z, depth, 0.3, loss, rng.uniform(0.2, 3.0, n))
    rho = rng.standard_normal(d)
    A = FlowJacobian(flow, flow.evaluate(rho)).full_matrix()
    eps = 1e-6
    columns = [
        (flow.evaluate(rho + eps * e).dstate - flow.evaluate(rho - eps * e).dstate) / (2 * eps)
        for e in np.eye(d)
    ]
    assert rel_err(A, np.column_stack(columns)) < 1e-7


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
@pytest.mark.parametrize("depth, below_growth", [(2, False), (4, False), (4, True)])
def test_woodbury_solve_matches_dense_solve(loss, depth, below_growth):
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((6, 15))
    flow = make_flow(Z, depth, 0.5, loss, rng.uniform(0.5, 2.0, 6))
    jac = FlowJacobian(flow, flow.evaluate(rng.standard_normal(15)))
    assert not jac.dense
    # the diagonal part (zero for depth 2) is in the base of the Woodbury form
    assert np.all(jac.diag_part == 0) == (depth == 2)
    shift = 2.5
    if below_growth:
        # a step longer than the time scale of a growing coordinate: the
        # base has negative entries (a Gram matrix of weights of both signs)
        shift = 0.5 * np.max(jac.diag_part)
        assert np.any(shift - jac.diag_part < 0) and np.any(shift - jac.diag_part > 0)
    solver = jac.shifted_solver(shift)
    b = rng.standard_normal(15)
    x, yx = solver.solve(b, solver.project(b))
    expected = np.linalg.solve(shift * np.eye(15) - jac.full_matrix(), b)
    assert rel_err(x, expected) < 1e-12
    if depth == 2:  # the low-rank solver also returns Y^T x
        assert rel_err(yx, solver.project(x)) < 1e-12


class _KeepColumns:
    """A GramTruncation that keeps the given columns."""

    def __init__(self, columns):
        self._columns = np.asarray(columns)

    def columns(self, weights):
        return self._columns


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("kept, factored", [([3, 10, 22], True), (list(range(0, 40, 4)), True),
                                            (list(range(0, 40, 3)), False)])
def test_few_kept_columns_factor_the_capacitance(sparse, kept, factored):
    # depth >= 3 (a diagonal part): with k kept columns and k + 2 <= n, the
    # capacitance comes as factors of inner size k + 2, solved by a second
    # Woodbury identity; the solves equal those of the (n+1)-square LU
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((12, 40))
    Zs = sp.csr_matrix(Z) if sparse else Z
    flow = make_flow(Zs, 4, 0.5, LogisticLoss(), rng.uniform(0.5, 2.0, 12))
    jac = FlowJacobian(flow, flow.evaluate(rng.standard_normal(40)), _KeepColumns(kept))
    shift = 2.5
    solver = jac.shifted_solver(shift)
    inv = 1.0 / (shift - jac.diag_part)
    C = jac.capacitance(inv)
    factors = jac.capacitance(inv, factored=True)
    assert isinstance(factors, tuple) == factored
    if factored:
        L, R = factors
        assert L.shape == (13, len(kept) + 2) and R.shape == (len(kept) + 2, 13)
        assert rel_err(L @ R, C) < 1e-13
        assert solver._lu[0].shape == (len(kept) + 2,) * 2
    b = rng.standard_normal(40)
    x, _ = solver.solve(b, solver.project(b))
    # D^{-1} (b + W (I - K C)^{-1} K Y^T D^{-1} b), the full capacitance
    z = np.linalg.solve(np.eye(13) - jac.apply_K(C), jac.apply_K(jac.project(inv * b)))
    expected = inv * (b + jac.apply_W(z))
    assert rel_err(x, expected) < 1e-12
    # with every column kept, the exact solve
    exact = FlowJacobian(flow, flow.evaluate(rng.standard_normal(40)))
    assert exact.capacitance(inv, factored=True).shape == (13, 13)


def test_singular_system_gives_non_finite_solution_silently():
    # (h gamma times an eigenvalue = 1): no exception and no warning, a
    # non-finite solution, which the step turns into a rejection
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = _lu_solve(_lu_factor(a.copy()), np.array([1.0, 1.0]))
    assert not np.all(np.isfinite(x))


@pytest.mark.parametrize("bad_stage", [1, -1], ids=["inner", "last"])
def test_non_finite_stage_rejects_the_step(bad_stage, monkeypatch):
    # no check per stage: a non-finite stage reaches the next stage's state
    # or the new state, and the step returns None
    Z = separable(6, 15, seed=5)
    flow = make_flow(Z)
    stepper = Rodas4()
    state = np.random.default_rng(0).standard_normal(15)
    ev = flow.evaluate(state)
    assert stepper.step(flow, state, 0.0, 1.0, 0.01, ev) is not None
    solver = stepper._linear_solver(1.0 / (0.01 * stepper._tableau.gamma))
    n_stages = len(stepper._tableau.weights)
    calls = []
    solve = solver.solve

    def failing(b, yb):
        calls.append(None)
        x, yx = solve(b, yb)
        if len(calls) - 1 == bad_stage % n_stages:
            x = np.full_like(x, np.nan)
        return x, yx

    monkeypatch.setattr(solver, "solve", failing)
    with np.errstate(invalid="ignore", over="ignore"):
        assert stepper._stages(flow, solver, state, 0.0, 1.0, 0.01, ev) is None


def test_sparse_design_gives_the_same_jacobian():
    Z = separable(6, 15, seed=2)
    rho = np.random.default_rng(3).standard_normal(15)
    dense = FlowJacobian(make_flow(Z), make_flow(Z).evaluate(rho))
    flow = make_flow(sp.csr_matrix(Z))
    sparse = FlowJacobian(flow, flow.evaluate(rho))
    assert rel_err(sparse.full_matrix(), dense.full_matrix()) < 1e-12
    assert rel_err(sparse.core, dense.core) < 1e-12


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_gram_truncation_leaves_out_at_most_drop_of_the_trace(sparse):
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((20, 300)) * rng.uniform(0.1, 3.0, 300)
    # a metric over many orders of magnitude, some entries negative (a
    # step past a growing coordinate)
    q = 10.0 ** rng.uniform(-24, 0, 300) * rng.choice([-1.0, 1.0], 300, p=[0.1, 0.9])
    drop = 1e-8
    Zs = sp.csr_matrix(Z) if sparse else Z
    columns = GramTruncation(Zs, drop).columns(q)
    assert columns is not None and 1 <= columns.size < 150
    assert np.all(np.diff(columns) > 0)
    mass = np.abs(q) * np.sum(Z**2, axis=0)
    left_out = np.setdiff1d(np.arange(300), columns)
    assert mass[left_out].sum() <= drop * mass.sum()
    # the largest of the kept would have gone over
    assert mass[left_out].sum() + mass[columns].min() > drop * mass.sum()
    assert mass[columns].min() >= mass[left_out].max()
    full, kept = _weighted_gram(Zs, q), _weighted_gram(Zs, q, columns)
    nuclear = np.abs(np.linalg.eigvalsh(full - kept)).sum()
    assert nuclear <= drop * mass.sum() * (1 + 1e-6)
    # nothing to leave out, or too little to pay for copying the columns
    assert GramTruncation(Zs, 0.0).columns(q) is None
    assert GramTruncation(Zs, drop).columns(np.ones(300)) is None


def test_truncated_gram_matrices_change_the_fit_far_below_tol(monkeypatch):
    # depth 3 from a small initialization: a few coordinates carry all but
    # 1e-8 of the metric in the plateaus, and the Gram matrices keep those
    Z = separable(15, 60, seed=1)
    kept = []

    columns = GramTruncation.columns

    def recording_columns(self, weights):
        chosen = columns(self, weights)
        kept.append(self.Z.shape[1] if chosen is None else chosen.size)
        return chosen

    monkeypatch.setattr(GramTruncation, "columns", recording_columns)
    for tol in [1e-4, 1e-6]:
        truncated, exact = Rodas4(tol=tol), Rodas4()
        kept.clear()
        result = run(make_flow(Z, 3, 1e-3), 1e-10, tol, truncated)
        # measured: half the Gram matrices from at most 2 (tol 1e-4) and 4
        # (tol 1e-6) of the 60 columns, so that the capacitance is factored
        # (k + 2 <= 15); at most 2 at both while the error scale was relative
        # to each coefficient above 1e-2 of the largest
        assert np.median(kept) <= 4
        kept.clear()
        reference = run(make_flow(Z, 3, 1e-3), 1e-10, tol, exact)
        assert kept == []  # nothing left out
        # measured: 1.6e-14 and 1e-15 (the same steps)
        assert rel_err(result.coef, reference.coef) < 1e-3 * tol
        assert truncated.extra_cost() < exact.extra_cost()
    assert GRAM_DROP * tol < 1e-6


@pytest.mark.parametrize(
    "depth, loss",
    [
        pytest.param(2, LOSSES[0], marks=pytest.mark.slow),
        (3, LOSSES[1]),
    ],
)
def test_stiff_agrees_with_explicit_and_converges(depth, loss):
    Z = separable(15, 30, seed=depth)
    reference = run(make_flow(Z, depth, loss=loss), 1e-10, 1e-10).coef
    tols = [1e-3, 1e-5, 1e-7]
    errors = []
    for tol in tols:
        result = run(make_flow(Z, depth, loss=loss), 1e-10, tol, Rodas4())
        assert result.status == "target"
        errors.append(rel_err(result.coef, reference))
    # order 4 with an estimate of order 3: far below tol (the errors are
    # relative to the largest coefficient, as the error control's), and
    # falling (measured: 3.9e-7, 1.1e-8 and 1.2e-9 at depth 2, 1.5e-5,
    # 2.7e-8 and 1.2e-10 at depth 3; 3.7e-7, 1.4e-9 and 2.5e-11 at depth 3
    # while the control was relative to each coefficient above 1e-2 of the
    # largest)
    # (the depth-2 errors fell 1,500-fold from tol 1e-3 to 1e-7 with that
    # control, 310-fold with this one, which holds the small coefficients
    # less tightly at tight tol)
    assert all(e < tol / 50 for e, tol in zip(errors, tols))
    assert errors[0] > errors[1] > errors[2] and errors[0] > 100 * errors[2]


@pytest.mark.parametrize(
    "depth, low, high, steps",
    [
        # the exact Jacobian (depth 3: with its diagonal part): RODAS4, order
        # 4 (depth 3 from 4 steps: at 32 its error, 1e-11, nears that of the
        # reference, and the measured order rose to 4.8)
        (2, 3.7, 4.6, (8, 16, 32)),
        (3, 3.7, 4.6, (4, 8, 16)),
    ],
)
def test_stiff_order_with_fixed_steps(depth, low, high, steps):
    # a segment of the late (stiff, curved) phase
    Z = separable(12, 25, seed=4)
    flow = make_flow(Z, depth)
    t0, t1 = 20.0, 30.0
    mid = run(flow, np.exp(-t0), 1e-11).last
    orders = fixed_step_orders(flow, mid, t0, t1, Rodas4, steps)
    assert np.all((orders > low) & (orders < high)), orders


def fixed_step_orders(flow, mid, t0, t1, make_stepper, steps):
    """Observed orders of a step method with fixed steps from the point
    ``mid`` of the path (at the clock ``t0``) to ``t1``, against a tol = 1e-12
    integration: ``log2`` of the ratios of successive errors, for step
    counts that double (``steps``); ``make_stepper()`` gives a fresh
    stepper for each count."""
    end = integrate(flow, mid, [-t1], tol=1e-12, max_iter=10**5).last.state
    errors = []
    for n_steps in steps:
        stepper, state, T, tau = make_stepper(), mid.state, time_factor(flow, mid, t0), t0
        h = (t1 - t0) / n_steps
        ev = flow.evaluate(state)
        for _ in range(n_steps):
            state, T, ev, _ = stepper.step(flow, state, T, tau, h, ev)
            tau += h
        errors.append(np.max(np.abs(state - end)))
    return np.log2(np.array(errors[:-1]) / errors[1:])


@pytest.mark.parametrize("stepper", [Rodas4, AutoStepper])
def test_reaches_1e_300_without_warnings(stepper):
    flow = make_flow(separable(20, 50, seed=5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run(flow, 1e-300, 1e-6, stepper())
    assert result.status == "target"
    assert np.isclose(result.log_loss, np.log(1e-300), rtol=1e-12)
    assert np.isfinite(result.last.log_time)


def test_auto_switches_late_and_saves_evaluations():
    Z = separable(40, 200, seed=6)
    explicit = run(make_flow(Z), 1e-300, 1e-6)
    auto_stepper = AutoStepper()
    auto = run(make_flow(Z), 1e-300, 1e-6, auto_stepper)
    # measured: 3807 evaluations explicit, 1179 auto (switch at tau = 110)
    assert auto_stepper.switched_at is not None and auto_stepper.switched_at > 23
    assert auto.n_evals < 0.6 * explicit.n_evals
    assert rel_err(auto.coef, explicit.coef) < 1e-5
    # early the flow is not stiff: the two are the same method there
    early = run(make_flow(Z), 1e-5, 1e-6, AutoStepper())
    assert early.n_evals == run(make_flow(Z), 1e-5, 1e-6).n_evals


class StiffnessRecorder(AutoStepper):
    """Records Hairer's estimate of h |lambda| (recomputed here) over the
    explicit method's bound at each explicit step, and after which of them a
    trial of the stiff method began."""

    def __init__(self):
        super().__init__()
        self.fractions, self.trial_starts, self.trial_room = [], [], []

    def _explicit_step(self, flow, state, T, tau, h, ev):
        trial = super()._explicit_step(flow, state, T, tau, h, ev)
        if trial is not None:
            stage, end = self.explicit.last_stage, trial[2]
            h_lambda = h * (np.linalg.norm(end.dstate - stage.dstate)
                            / np.linalg.norm(end.state - stage.state))
            assert h_lambda == pytest.approx(self.explicit.h_lambda, rel=1e-12)
            self.fractions.append(h_lambda / self.explicit.reliable_h_lambda)
            if self._mode == "trial":
                self.trial_starts.append(len(self.fractions))
                self.trial_room.append((tau, self._explicit_rate))
        return trial

    def window_means(self):
        """Means over each _STIFF_WINDOW consecutive steps (the first from
        step 0, and so on)."""
        return np.convolve(self.fractions, np.ones(_STIFF_WINDOW), "valid") / _STIFF_WINDOW


def test_auto_tries_the_stiff_method_at_the_explicit_step_bound_with_room_left():
    Z = separable(100, 1000, seed=0)
    trial_cost = _TRIAL_STEPS * stiff_step_cost(Z.shape)
    # To a loss of 1e-100 from alpha = 0.1 the explicit steps reach their
    # bound, and trials start there (after a window of steps at it on
    # average), while the explicit method has _TRIAL_ROOM trials' worth of
    # work left.
    auto = StiffnessRecorder()
    result = run(make_flow(Z, alpha=0.1), 1e-100, 1e-5, auto)
    assert result.status == "target" and auto.trial_starts
    means = auto.window_means()
    for i, (tau, rate) in zip(auto.trial_starts, auto.trial_room):
        assert means[i - _STIFF_WINDOW] > _STIFF_H_LAMBDA
        assert rate * (-np.log(1e-100) - tau) > _TRIAL_ROOM * trial_cost
    # To 1e-30 they reach it too, but too near the end for a trial to pay:
    # the very steps of DOP853 alone.
    auto = StiffnessRecorder()
    result = run(make_flow(Z, alpha=0.1), 1e-30, 1e-5, auto)
    explicit = run(make_flow(Z, alpha=0.1), 1e-30, 1e-5)
    assert max(auto.window_means()) > _STIFF_H_LAMBDA
    assert auto.trial_starts == [] and auto.stiff.n_jacobians == 0
    assert result.n_evals == explicit.n_evals
    assert np.array_equal(result.coef, explicit.coef)


def test_auto_tries_the_stiff_method_where_explicit_steps_stop_growing(monkeypatch):
    # From alpha = 1 to 1e-300 at tol 1e-6 the explicit steps settle below
    # their bound (the error estimate grows with h |lambda| near it) and stop
    # growing, while the stiff steps would grow with the clock. Measured:
    # trial adopted at tau = 33 and 639 evaluations; without the test of
    # flat steps at tau = 133 and 1,044; the fits differ by 1.2e-9.
    Z = separable(100, 1000, seed=1)
    auto = StiffnessRecorder()
    result = run(make_flow(Z, alpha=1.0), 1e-300, 1e-6, auto)
    monkeypatch.setattr(auto_module, "_STIFF_H_LAMBDA_FLAT", np.inf)
    without = AutoStepper()
    reference = run(make_flow(Z, alpha=1.0), 1e-300, 1e-6, without)
    assert result.status == reference.status == "target"
    (start,) = auto.trial_starts
    mean = auto.window_means()[start - _STIFF_WINDOW]
    assert _STIFF_H_LAMBDA_FLAT < mean < _STIFF_H_LAMBDA
    assert auto.switched_at < 0.5 * without.switched_at
    assert result.n_evals < 0.7 * reference.n_evals
    assert rel_err(result.coef, reference.coef) < 1e-8


def _dop853_on_a_decaying_mode(z):
    """DOP853's step on y' = lambda y from y = 1, z = h lambda: its error
    |R(z) - exp(z)| and Hairer's blend of its error estimators."""
    n = len(_dop853.B)
    A = np.zeros((n, n))
    for i, row in enumerate(_dop853.A):
        A[i, :len(row)] = row
    k = z * np.linalg.solve(np.eye(n) - z * A, np.ones(n))  # h f at the stages
    R = 1 + _dop853.B @ k
    k = np.append(k, z * R)  # h f at the new point (the 13th column)
    e5, e3 = _dop853.E5 @ k, _dop853.E3 @ k
    return abs(R - np.exp(z)), abs(e5) * abs(e5) / np.sqrt(e5**2 + 0.01 * e3**2)


def test_dop853_steps_are_bounded_where_its_error_estimate_fails():
    bound, limit = DormandPrince853.reliable_h_lambda, DormandPrince853.stability_limit
    # up to the bound the estimate is at least the error of a decaying mode
    for z in np.linspace(-bound, -1.0, 50):
        error, estimate = _dop853_on_a_decaying_mode(z)
        assert estimate >= error
    # beyond, it falls below it, and near 0.93 of the stability limit it
    # vanishes while the step keeps over a quarter of the mode
    error, estimate = _dop853_on_a_decaying_mode(-5.1)
    assert estimate < error
    z = -0.93 * limit
    error, estimate = _dop853_on_a_decaying_mode(z)
    assert error > 0.25 and estimate < error / 50


class _UnboundedDOP853(DormandPrince853):
    reliable_h_lambda = None


def test_bounded_explicit_steps_are_accurate_at_loose_tolerances():
    # On the stiff late phase (separable data from alpha = 0.1 to a loss of
    # 1e-30) the unbounded steps settle where the estimate is blind, and
    # the fit drifts from the path (measured: direction error 1.7e-5 at
    # tol = 1e-3, 1.4e-8 at 1e-5); bounded, 2.5e-9 and 1.9e-10 in 7% and 3%
    # more evaluations.
    Z = separable(100, 1000, seed=0)

    def direction(coef):
        return coef / np.linalg.norm(coef)

    reference = direction(run(make_flow(Z), 1e-30, 1e-11).coef)
    for tol in [1e-3, 1e-5]:
        bounded = run(make_flow(Z), 1e-30, tol)
        unbounded = run(make_flow(Z), 1e-30, tol, _UnboundedDOP853())
        error = np.linalg.norm(direction(bounded.coef) - reference)
        assert error < 1e-8
        assert np.linalg.norm(direction(unbounded.coef) - reference) > 10 * error
        assert bounded.n_evals < 1.1 * unbounded.n_evals


def iris_versicolor():
    X, y = load_iris(return_X_y=True)
    z = np.where(y == 1, 1.0, -1.0)
    # raw features with an intercept column: ill-conditioned, not separable
    return z[:, None] * np.hstack([X, np.ones((150, 1))])


@pytest.mark.parametrize(
    "stepper, loss, max_steps",
    [
        # measured: 371 and 415 steps; the explicit method alone needs
        # 9,553 with the exponential loss (test_explicit_needs_many_steps_on_iris)
        (AutoStepper, ExponentialLoss(), 1_000),
        pytest.param(AutoStepper, LogisticLoss(), 1_000, marks=pytest.mark.slow),
        # measured: 1,109 steps
        pytest.param(Rodas4, ExponentialLoss(), 1_500, marks=pytest.mark.slow),
    ],
)
def test_non_separable_ill_conditioned_stall_quickly(stepper, loss, max_steps):
    Z = iris_versicolor()
    flow = make_flow(Z, alpha=1.0, loss=loss)
    result = run(flow, 1e-300, 1e-6, stepper(), max_iter=max_steps)
    assert result.status == "stalled"

    # the flow converges to the minimizer of the (convex, in beta) loss
    def objective(beta):
        return flow.log_loss(Z @ beta)

    best = minimize(objective, result.coef, method="BFGS", options={"gtol": 1e-12})
    assert result.log_loss - best.fun < 1e-7


@pytest.mark.slow
def test_explicit_needs_many_steps_on_iris():
    flow = make_flow(iris_versicolor(), alpha=1.0)
    result = run(flow, 1e-300, 1e-6, DormandPrince853(), max_iter=50_000)
    # measured: 9,553 steps, over 20 times what the stiff method takes
    assert result.status == "stalled" and result.n_iter > 5_000


class _LossWithoutCurvature:
    """An exponential loss that does not expose its curvature."""

    name = "exponential"

    def __init__(self):
        self._loss = ExponentialLoss()
        self.log_mean = self._loss.log_mean
        self.scaled_gradient = self._loss.scaled_gradient
        self.initial_log_mean = self._loss.initial_log_mean


def test_without_jacobian_pieces_auto_takes_krylov_w_steps_and_rodas4_refuses():
    Z = separable(20, 50, seed=7)
    auto = AutoStepper()
    result = run(make_flow(Z, loss=_LossWithoutCurvature()), 1e-100, 1e-6, auto)
    # the matrix-free W-method serves a flow without the exact Jacobian
    assert result.status == "target" and isinstance(auto.stiff, KrylovW)
    assert auto.switched_at is not None
    explicit = run(make_flow(Z, loss=_LossWithoutCurvature()), 1e-100, 1e-10)
    assert rel_err(result.coef, explicit.coef) < 1e-5
    with pytest.raises(TypeError, match="log_curvature"):
        run(make_flow(Z, loss=_LossWithoutCurvature()), 1e-10, 1e-6, Rodas4())


def test_dop853_tableau_integrates_polynomials_to_its_order():
    # The bushy-tree order conditions sum_i b_i c_i**(k-1) = 1/k, k <= order,
    # with nodes c_i = sum_j a_ij: a check on the transcribed coefficients.
    weights = DormandPrince853._B
    nodes = np.array([row.sum() for row in DormandPrince853._A])
    for k in range(1, DormandPrince853.order + 1):
        assert weights @ nodes ** (k - 1) == pytest.approx(1 / k, abs=1e-14)


def test_expensive_jacobians_use_rodas4_and_retry_at_the_predicted_break_even():
    # 200 samples in cache: a Jacobian costs about 19 evaluations, more than
    # _CHEAP_JACOBIAN, so trials start late and are retried only where the
    # stiff steps, growing like tau, are predicted to pay.
    Z = separable(200, 400, seed=8)
    assert jacobian_costs(Z.shape)[0] > _CHEAP_JACOBIAN
    stepper = AutoStepper()
    result = run(make_flow(Z), 1e-300, 1e-6, stepper)
    assert result.status == "target"
    assert stepper.trials and stepper.trials[-1]["adopted"]
    for failed, following in zip(stepper.trials, stepper.trials[1:]):
        assert not failed["adopted"]
        assert failed["stiff_rate"] >= failed["explicit_rate"]
        # the prediction: (tau - tau0) grown by the ratio of the costs
        assert failed["next_trial_after"] == pytest.approx(
            failed["end"] * failed["stiff_rate"] / failed["explicit_rate"])
        slowed = following["explicit_rate"] > 2 * failed["explicit_rate"]
        # (or the explicit steps have cost _RETRY_WORK trials since, or cost
        # more per unit of clock than the failed trial's stiff steps)
        retried = following["start_cost"] >= failed["retry_cost"]
        dearer = following["explicit_rate"] > failed["stiff_rate"]
        assert (following["start"] >= failed["next_trial_after"] or slowed or retried
                or dearer)
    explicit = run(make_flow(Z), 1e-300, 1e-6)
    assert rel_err(result.coef, explicit.coef) < 1e-5


def test_a_failed_trial_is_retried_after_bounded_explicit_work(monkeypatch):
    # wine, class 1 against the rest, depth 3 from alpha = 0.01 to 1e-10 at
    # tol 1e-8: a trial at tau near 2 (the path turning) fails by far and
    # predicts its break-even past tau = 50, while from tau near 5 the
    # explicit steps sit at their stability limit. The retry after bounded
    # explicit work adopts the stiff method there (7,653 evaluations
    # measured; 22,559 without the retry, all explicit steps from tau = 2).
    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    z = np.where(y == 1, 1.0, -1.0)
    Z = np.column_stack([X, np.ones(y.size)]) * z[:, None]
    stepper = AutoStepper()
    result = run(make_flow(Z, 3, 0.01), 1e-10, 1e-8, stepper)
    monkeypatch.setattr(auto_module, "_RETRY_WORK", np.inf)
    without = run(make_flow(Z, 3, 0.01), 1e-10, 1e-8, AutoStepper())
    assert result.status == without.status == "target"
    failed, adopted = stepper.trials[-2:]
    assert not failed["adopted"] and adopted["adopted"]
    assert adopted["start"] < failed["next_trial_after"]
    assert adopted["start_cost"] >= failed["retry_cost"]
    assert result.n_evals < 0.5 * without.n_evals
    assert rel_err(result.coef, without.coef) < 1e-6


def test_a_trial_near_its_break_even_is_adopted(monkeypatch):
    # Depth 3 from alpha = 0.1 to 1e-30 at tol 1e-6: the trial's stiff steps
    # cost 1.72 times the explicit ones per unit of clock, but their cost
    # falls like 1 / (tau - tau0) and breaks even soon, for less extra work
    # than a new trial costs. Measured: 1,071 evaluations; 1,659 when only a
    # cheaper trial is adopted (two more trials, the third adopted); the
    # two fits differ by 4e-9.
    Z = separable(100, 1000, seed=1)
    stepper = AutoStepper()
    result = run(make_flow(Z, 3, 0.1), 1e-30, 1e-6, stepper)
    monkeypatch.setattr(auto_module, "_ADOPT_EXCESS", 0.0)
    cheaper_only = AutoStepper()
    without = run(make_flow(Z, 3, 0.1), 1e-30, 1e-6, cheaper_only)
    assert result.status == without.status == "target"
    (trial,) = stepper.trials
    assert trial["adopted"] and trial["stiff_rate"] > trial["explicit_rate"]
    assert not cheaper_only.trials[0]["adopted"]
    assert result.n_evals < 0.8 * without.n_evals
    assert rel_err(result.coef, without.coef) < 1e-5


@pytest.mark.parametrize("shape, low, high", [
    # in cache: 9.3 and 26 measured; out of cache: 42.5 measured
    ((100, 1000), 5, 15), ((300, 3000), 18, 35), ((1000, 10000), 30, 60),
])
def test_jacobian_cost_model_is_calibrated(shape, low, high):
    cost, lu = jacobian_costs(shape)
    assert low <= cost <= high
    assert 1 <= lu <= 10


# --------------------------------------------------------------------------
# step-size control of the implicit steps


def _controlled_errors(grow, steps=60, order=4):
    """Error estimates of steps under ``_predictive_factor`` where the step
    that meets tol exactly grows by ``grow`` a step (the late phase, whose
    steps grow with the clock) and the estimate is ``(h / h_tol)**order``."""
    h, h_tol, accepted, errors = 0.1, 1.0, None, []
    for _ in range(steps):
        err = (h / h_tol) ** order
        errors.append(err)
        factor, accepted = _predictive_factor(err, h, accepted, order)
        h *= factor
        h_tol *= grow
    return np.array(errors)


@pytest.mark.parametrize("grow", [1.0, 1.05, 1.2])
def test_predictive_control_settles_near_half_of_tol(grow):
    """Where the steps grow steadily the implicit steps' controller runs
    them at about half of tol, without a rejected step (the PI controller
    of the explicit steps settles near 0.13 at 5% growth a step)."""
    errors = _controlled_errors(grow)
    assert np.all(errors <= 1.0)
    assert 0.3 <= errors[-1] <= 0.8


def test_predictive_control_grows_at_most_twofold():
    factor, kept = _predictive_factor(1e-12, 0.5, None, 4)
    assert factor == _PREDICTIVE_GROWTH == 2.0
    assert kept == (0.5, 1e-2)


def test_implicit_steppers_take_the_predictive_control():
    Z = separable(30, 60)
    flow = LinearFlow(DiagonalNetwork(np.full(60, 0.5), 2), ExponentialLoss(), Z, np.ones(30))
    assert Rodas4.predictive and KrylovW.predictive
    assert not getattr(DormandPrince853(), "predictive", False)
    auto = AutoStepper(tol=1e-6)
    state = flow.network.initial_state()
    ev = flow.evaluate(state)
    auto.step(flow, state, 0.0, -ev.log_loss, 1e-3, ev)
    assert not auto.predictive  # explicit steps first
    for mode in ("trial", "stiff"):
        auto._mode = mode
        assert auto.predictive


def test_predictive_control_only_for_steps_short_against_the_clock():
    # Long stiff steps late in training take the PI controller: there the
    # predictive one grew them at little gain while their error grew like
    # h**5 (case solvers of benchmarks/: twice the evaluations at equal
    # accuracy). Both controllers from the same error history: the
    # predictive one keeps (h, err) for its trend, the PI one keeps nothing.
    stiff = Rodas4()
    tau = 500.0
    short, long = 0.5 * _PREDICTIVE_SPAN * tau, 2.0 * _PREDICTIVE_SPAN * tau
    factor, kept = _step_factor(stiff, 0.5, 0.4, short, tau, (0.9 * short, 0.3))
    assert (factor, kept) == _predictive_factor(0.5, short, (0.9 * short, 0.3), stiff.order)
    assert kept == (short, 0.5)
    factor, kept = _step_factor(stiff, 0.5, 0.4, long, tau, (0.9 * long, 0.3))
    assert kept is None
    assert factor == pytest.approx(0.9 * 0.5 ** (-0.7 / 4) * 0.4 ** (0.4 / 4))
    # (the clock's scale is at least one)
    assert _step_factor(stiff, 0.5, 0.4, 0.5 * _PREDICTIVE_SPAN, 0.01, None)[1] is not None
    # the explicit method never takes the predictive control
    assert _step_factor(DormandPrince853(), 0.5, 0.4, short, tau, None)[1] is None
    # without a bound (the squared loss's flows) long steps keep it too
    assert _step_factor(stiff, 0.5, 0.4, long, tau, None, span=np.inf)[1] == (long, 0.5)
