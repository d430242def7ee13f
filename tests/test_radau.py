"""The Radau IIA steps of tall designs (``sklearn_implicit._integrate.radau``)."""

import functools

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from test_stiff import (
    fixed_step_orders,
    make_flow,
    rel_err,
    run,
    separable,
    time_factor,
)

from sklearn_implicit import DiagonalLinearClassifier
from sklearn_implicit._integrate import LinearFlow, radau
from sklearn_implicit._integrate import auto as auto_module
from sklearn_implicit._integrate.auto import AutoStepper
from sklearn_implicit._integrate.driver import integrate
from sklearn_implicit._integrate.jacobian import FlowJacobian
from sklearn_implicit._integrate.krylov import DATA_RANK_BATCHED, KrylovW
from sklearn_implicit._integrate.radau import Radau5
from sklearn_implicit._integrate.rosenbrock import Rodas4
from sklearn_implicit._integrate.stiff_choice import stiff_stepper
from sklearn_implicit._losses import (
    LOSSES,
    ExponentialLoss,
    SquaredLoss,
    is_margin_loss,
)
from sklearn_implicit._networks import DenseNetwork, DiagonalNetwork


def test_tableau_is_radau_iia_and_its_eigenbasis():
    c, A = radau.NODES, radau._A
    # collocation conditions of order 3 (stage order), stiffly accurate
    for k in range(1, 4):
        np.testing.assert_allclose(A @ c ** (k - 1), c**k / k, rtol=1e-14)
    # the weights (the last row) integrate polynomials up to degree 4 (order 5)
    for k in range(1, 6):
        np.testing.assert_allclose(A[-1] @ c ** (k - 1), 1.0 / k, rtol=1e-13)
    V, lam, V_inv = radau._V, radau._LAM, radau._V_INV
    np.testing.assert_allclose((V * lam) @ V_inv, np.linalg.inv(A), atol=1e-12)
    assert lam[0].imag == 0 and lam[2] == np.conj(lam[1])
    np.testing.assert_allclose(radau._MU_REAL, 3 + 3 ** (2 / 3) - 3 ** (1 / 3), rtol=1e-14)


@pytest.mark.parametrize("shape", [(30, 8), (8, 30)], ids=["dense", "low-rank"])
def test_complex_shifted_systems_are_solved(shape):
    # (s I - J) x = b for Radau's complex shift, through the dense LU or the
    # Woodbury identity, against the dense Jacobian
    flow = make_flow(separable(*shape, seed=2), 2)
    ev = flow.evaluate(run(flow, np.exp(-5.0), 1e-10).last.state)
    jac = FlowJacobian(flow, ev)
    J = jac.full_matrix()
    b = np.random.default_rng(0).standard_normal(J.shape[0]) * (1 + 1j)
    for shift in (radau._MU_REAL / 0.3, radau._MU_COMPLEX / 0.3):
        solver = jac.shifted_solver(shift)
        x = solver.solve(b, solver.project(b))[0]
        residual = shift * x - J @ x - b
        assert np.max(np.abs(residual)) < 1e-10 * np.max(np.abs(b)) * max(1, np.abs(J).max())


@pytest.mark.parametrize("depth", [2, 3])
def test_order_five_with_fixed_steps(depth):
    # the separation phase of a tall problem (loss e^-2 to e^-4)
    flow = make_flow(separable(30, 8, seed=1), depth)
    t0, t1 = 2.0, 4.0
    mid = run(flow, np.exp(-t0), 1e-11).last
    # measured: 4.96, 4.98, 5.07 (depth 2) and 4.88, 4.94, 4.84 (depth 3).
    # (At tol 1e-8 Newton's tolerance, about 1e-12 of the coefficients, is
    # above the error of 64 and 128 steps, which it then sets.)
    orders = fixed_step_orders(flow, mid, t0, t1, lambda: Radau5(tol=1e-10), (16, 32, 64, 128))
    assert np.all((orders > 4.6) & (orders < 5.4)), orders


def test_order_five_on_a_wide_design():
    # depth 2 on a wide design: the complex systems through the Woodbury
    # identity (a segment of the late, stiff phase)
    flow = make_flow(separable(12, 25, seed=4), 2)
    t0, t1 = 20.0, 30.0
    mid = run(flow, np.exp(-t0), 1e-11).last
    # measured: 4.91, 4.95
    orders = fixed_step_orders(flow, mid, t0, t1, lambda: Radau5(tol=1e-10), (4, 8, 16))
    assert np.all((orders > 4.6) & (orders < 5.6)), orders


def test_the_stiff_method_follows_the_shape_and_the_network():
    tall, wide = separable(30, 8), separable(8, 30)
    assert isinstance(stiff_stepper(make_flow(tall), 1e-6), Radau5)
    # wide: Radau where the Jacobian has no diagonal part (depth 2), RODAS4
    # where a complex shift would need Gram matrices of complex weights
    assert isinstance(stiff_stepper(make_flow(wide), 1e-6), Radau5)
    assert isinstance(stiff_stepper(make_flow(wide, 3), 1e-6), Rodas4)
    # no exact Jacobian (the dense network): Radau with the data Jacobian
    # where it is small (min(n, d) <= DATA_RANK_BATCHED for this network
    # with batched columns), Krylov-W beyond
    network = DenseNetwork(8, (4,), 1.0, "antisymmetric", np.random.RandomState(0))
    flow = LinearFlow(network, ExponentialLoss(), tall, np.ones(30))
    stepper = stiff_stepper(flow, 1e-6)
    assert isinstance(stepper, Radau5) and stepper.jacobian == "data"
    size = DATA_RANK_BATCHED + 1
    big = np.random.default_rng(0).standard_normal((size, size))
    network = DenseNetwork(big.shape[1], (4,), 1.0, "antisymmetric", np.random.RandomState(0))
    flow = LinearFlow(network, ExponentialLoss(), big, np.ones(big.shape[0]))
    assert isinstance(stiff_stepper(flow, 1e-6), KrylovW)
    # the squared loss: RODAS4 (see radau.serves); the classifiers' losses
    # are the margin losses
    assert all(is_margin_loss(loss()) for loss in LOSSES.values())
    assert not is_margin_loss(SquaredLoss(np.ones(30)))
    regression = LinearFlow(DiagonalNetwork(np.full(8, 0.1), 2), SquaredLoss(np.ones(30)),
                            tall, np.ones(30))
    assert isinstance(stiff_stepper(regression, 1e-6), Rodas4)
    with pytest.raises(TypeError, match="tall design"):
        Radau5().step(make_flow(wide, 3), None, 0.0, 0.0, 0.1, None)


@pytest.mark.parametrize("clock", ["tau", "log_time"])
def test_one_jacobian_per_step_at_the_guessed_middle_stage(clock):
    # With a guess from the last step, the Jacobian is formed once, at the
    # guess's middle stage (from the first iteration's own evaluation), not
    # also at the step's start: one Jacobian and two factorizations per
    # step where Newton converges at once (the separation phase of a tall
    # problem, the steps of test_order_five_with_fixed_steps). Measured: 1
    # Jacobian per step; the first step's at its start in the clock tau (no
    # guess there), at its middle stage in log t (whose first guess is the
    # tangent at the start).
    flow = make_flow(separable(30, 8, seed=1), 2)
    t0, h = 2.0, 0.05
    mid = run(flow, np.exp(-t0), 1e-11).last
    stepper = Radau5(tol=1e-8, clock=clock)
    state, T, tau, ev = mid.state, time_factor(flow, mid, t0), t0, flow.evaluate(mid.state)
    for n_steps in range(1, 11):
        start = ev
        state, T, ev, _ = stepper.step(flow, state, T, tau, h, ev)
        tau += h
        assert stepper.n_jacobians == n_steps
        assert stepper.n_factorizations == 2 * n_steps
        assert (stepper._jac_ev is start) == (n_steps == 1 and clock == "tau")
        assert stepper._jac_ev is not ev


@pytest.mark.parametrize("depth", [2, 3])
def test_data_jacobian_steps_reach_the_same_collocation_solution(depth):
    # Newton's matrix sets how fast the iterations converge, not where: on
    # the diagonal network, which has both, steps with the data part of the
    # Jacobian alone (its complex systems included) land where those with
    # the exact Jacobian do, to Newton's tolerance (measured: 1.1e-15 and
    # 1.2e-15 after 16 steps of a late segment, with 68 Newton iterations
    # against 35 and 44).
    flow = make_flow(separable(30, 8, seed=1), depth)
    t0, h = 10.0, 0.25
    mid = run(flow, np.exp(-t0), 1e-11).last
    ends, iterations = [], []
    for kind in ("exact", "data"):
        # (in the clock tau: the data Jacobian's steps know no other)
        stepper = Radau5(tol=1e-10, jacobian=kind, clock="tau")
        state, T, tau, ev = mid.state, time_factor(flow, mid, t0), t0, flow.evaluate(mid.state)
        for _ in range(16):
            state, T, ev, _ = stepper.step(flow, state, T, tau, h, ev)
            tau += h
        ends.append(state)
        iterations.append(stepper.n_newton)
    assert np.max(np.abs(ends[1] - ends[0])) < 1e-12 * np.max(np.abs(ends[0]))
    # the data Jacobian leaves out the network's terms: more iterations
    assert iterations[1] > iterations[0]


@functools.lru_cache
def _tall_references(depth):
    """A tall separable problem, its tol = 1e-11 fit and its explicit fit at
    tol = 1e-10 (an independent integrator)."""
    rng = np.random.default_rng(depth)
    X = rng.standard_normal((200, 12))
    y = (X @ rng.standard_normal(12) > 0).astype(int)
    reference = DiagonalLinearClassifier(tol=1e-11, depth=depth, **_TALL).fit(X, y)
    explicit = DiagonalLinearClassifier(tol=1e-10, solver="explicit", max_iter=10**6, depth=depth,
                                        **_TALL).fit(X, y)
    return X, y, reference, explicit


_TALL = dict(alpha=0.5, target_loss=1e-20)


def _direction(est):
    b = np.r_[est.coef_.ravel(), est.intercept_]
    return b / np.linalg.norm(b)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("depth", [2, 3])
def test_tall_fits_agree_with_tight_references(sparse, depth):
    # the direction of coef_ (and log10_time_) at the default tol against a
    # tol = 1e-11 fit, which agrees with the explicit method, for solver
    # 'stiff' (Radau throughout) and 'auto' (DOP853, then Radau)
    X, y, reference, explicit = _tall_references(depth)
    assert np.linalg.norm(_direction(explicit) - _direction(reference)) < 1e-8
    Xs = sp.csr_matrix(X) if sparse else X
    for solver in ("stiff", "auto"):
        est = DiagonalLinearClassifier(solver=solver, depth=depth, **_TALL).fit(Xs, y)
        assert np.linalg.norm(_direction(est) - _direction(reference)) < 1e-6
        assert abs(est.log10_time_[0] - reference.log10_time_[0]) < 1e-5
        assert est.status_.tolist() == ["target"]


@pytest.mark.parametrize("target", [1e-5, 1e-30])
def test_a_loose_tol_does_not_stall_the_steps(target):
    # At tol = 1e-2 Newton's iterations stopped at corrections of about
    # 3e-4 of each coefficient, whatever the step size: a step shorter than
    # that error raised the loss and was rejected, quartered and rejected
    # again (standardized breast_cancer: 64,369 evaluations to 1e-5 and
    # 721,170 to 1e-30, most in steps of 1e-5 of the clock). They now go on
    # until the loss falls by the step's length, to a tenth.
    # Under solver='auto' the steps after a Newton failure were not bounded
    # by it (the failed size was tried again and again): with the bound, a
    # loose tol took fewer evaluations than the default (2,601 against
    # 3,781 to 1e-5; 3,606 against 4,650 to 1e-30). Since the error scale is
    # relative to the largest coefficient the default takes fewer (2,120
    # and 2,639), and tol = 1e-2, whose Radau steps are limited by Newton's
    # reach, about as many: 2,064 and 2,338 (2,271 and 2,332 under the
    # oldest numpy and scipy allowed), where a stall took 30 to 270 times
    # as many.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    reference = DiagonalLinearClassifier(target_loss=target).fit(X, y)
    est = DiagonalLinearClassifier(tol=1e-2, target_loss=target).fit(X, y)
    assert est.status_.tolist() == ["target"]
    assert est.n_grad_evals_[0] < 1.2 * reference.n_grad_evals_[0]
    assert np.linalg.norm(_direction(est) - _direction(reference)) < 1e-2


def test_newton_failure_is_a_rejected_step_and_bounds_the_next():
    # a step far beyond the reach of the simplified Newton iterations (the
    # separation phase of a tall problem) returns None, as a failed stage
    # does, and later steps stay below it
    flow = make_flow(separable(30, 8, seed=1), 3)
    mid = run(flow, np.exp(-3.0), 1e-10).last
    stepper = Radau5(tol=1e-6)
    ev = flow.evaluate(mid.state)
    T = time_factor(flow, mid, 3.0)
    assert stepper.step(flow, mid.state, T, 3.0, 50.0, ev) is None
    taken = stepper.step(flow, mid.state, T, 3.0, 1e-3, ev)
    assert taken is not None
    assert stepper.step_limit() <= 0.7 * 50.0 * radau._FORGET


def test_a_stall_is_found_with_radau_steps():
    # Near the infimum of a non-separable problem's loss the state moves
    # while the loss barely does: Newton's corrections held to a tenth of
    # the step's descent in the margins' terms (h / tau, a first attempt at
    # the loose-tol fix above) could not be met there, and digits' 8 against
    # the rest ran to max_iter (131,331 evaluations, against 7,803 to the
    # stall); the test on the loss's own descent costs nothing there.
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with pytest.warns(ConvergenceWarning, match="stalled"):
        est = DiagonalLinearClassifier().fit(X, y == 8)
    assert est.status_.tolist() == ["stalled"]
    assert est.n_grad_evals_[0] < 20_000


@pytest.mark.parametrize("tol", [1e-2, 1e-6, 1e-12])
def test_short_steps_descend_by_their_length(tol):
    # Newton's iterations go on until the loss falls by the step's length
    # (to a tenth): a step of length h lowers log L by h, at any tol
    flow = make_flow(separable(30, 8, seed=1), 3)
    mid = run(flow, np.exp(-3.0), 1e-10).last
    ev = flow.evaluate(mid.state)
    T = time_factor(flow, mid, 3.0)
    for h in (1e-3, 1e-6, 1e-10):
        taken = Radau5(tol=tol).step(flow, mid.state, T, 3.0, h, ev)
        assert taken is not None
        assert abs((ev.log_loss - taken[2].log_loss) / h - 1) < 1e-3


def test_the_automatic_switch_keeps_the_stiff_steps_bound():
    # in its stiff mode AutoStepper bounds the steps as its stiff stepper does
    # (features of 1e150, where every stiff step fails, are the hardening
    # tests' case for the rest)
    flow = make_flow(separable(30, 8, seed=1), 3)
    stepper = AutoStepper(tol=1e-6)
    assert stepper.step_limit() == np.inf
    stepper.stiff = stiff_stepper(flow, 1e-6)
    stepper.stiff._failed_h = 0.5
    stepper._mode = "stiff"
    assert stepper.step_limit() == stepper.stiff.step_limit() == 0.35
    # a trial is not bound by the failures before it, and forgets them
    stepper._mode = "trial"
    assert stepper.step_limit() == np.inf
    stepper.stiff.forget_failures()
    assert stepper.stiff.step_limit() == np.inf


def test_the_guess_extrapolates_the_accepted_step():
    # the first guess of a step's stages extrapolates the collocation
    # polynomial of the step that ended where it starts; a retry after a
    # step rejected by integrate extrapolates the step before that one
    flow = make_flow(separable(30, 8, seed=1), 2)
    mid = run(flow, np.exp(-3.0), 1e-10).last
    ev = flow.evaluate(mid.state)
    T = time_factor(flow, mid, 3.0)
    stepper, only_first = Radau5(tol=1e-6), Radau5(tol=1e-6)

    def guess(stepper, state, T, tau, h, ev):
        return stepper._guess(state, tau, stepper._clock(flow, T, tau, h, ev), ev)

    first = stepper.step(flow, mid.state, T, 3.0, 1e-3, ev)
    only_first.step(flow, mid.state, T, 3.0, 1e-3, ev)
    ahead = guess(stepper, *first[:2], 3.001, 1e-3, first[2])
    exact = run(flow, np.exp(-3.002), 1e-12).last.state - first[0]
    assert rel_err(ahead[2], exact) < 1e-3
    # a second step, then (as if integrate rejected it) a retry from its start
    stepper.step(flow, first[0], first[1], 3.001, 1e-3, first[2])
    retry = guess(stepper, *first[:2], 3.001, 5e-4, first[2])
    np.testing.assert_array_equal(retry, guess(only_first, *first[:2], 3.001, 5e-4, first[2]))


def _breast_cancer_flow():
    X, y = load_breast_cancer(return_X_y=True)
    X = np.hstack([StandardScaler().fit_transform(X), np.ones((len(y), 1))])
    return make_flow(X * np.where(y == 1, 1.0, -1.0)[:, None], 2, alpha=1.0)


def test_a_rejected_trial_is_retried_where_explicit_steps_cost_more(monkeypatch):
    # breast_cancer to 1e-30 at tol 1e-3: a trial of Radau steps while the
    # classes separate (tau 2.2 to 3.0) costs more per unit of clock than
    # the explicit steps before it and is rejected; past it the explicit
    # steps, held by their error, cost 600 times more than before, above
    # the rejected trial's rate, and a new trial follows at once (measured:
    # 1,312 evaluations; 5,369 waiting for stiffness to be detected, which
    # it was not until tau = 3.06).
    stepper = AutoStepper(tol=1e-3)
    result = run(_breast_cancer_flow(), 1e-30, 1e-3, stepper)
    monkeypatch.setattr(auto_module, "_RETRY_DEARER", np.inf)
    waiting = AutoStepper(tol=1e-3)
    without = run(_breast_cancer_flow(), 1e-30, 1e-3, waiting)
    assert result.status == without.status == "target"
    rejected, adopted = stepper.trials
    assert not rejected["adopted"] and adopted["adopted"]
    assert adopted["explicit_rate"] > rejected["stiff_rate"]
    assert adopted["start"] < waiting.trials[-1]["start"]
    assert result.n_evals < 0.5 * without.n_evals
    # a tighter tol takes more evaluations (1,390)
    tighter = run(_breast_cancer_flow(), 1e-30, 1e-4, AutoStepper(tol=1e-4))
    assert result.n_evals < tighter.n_evals
    # (measured 2.2e-9)
    assert rel_err(result.coef, without.coef) < 1e-6


def test_a_newton_restart_evaluates_no_stage_twice(monkeypatch):
    # Where the simplified Newton iterations stall they restart with the
    # Jacobian at the middle stage of where they are: from the same stages,
    # whose evaluations serve again (on breast_cancer to 1e-5 a tenth of
    # the evaluations went to evaluating them twice). Nor is the step's
    # start evaluated again where there is no guess (the first step).
    flow = _breast_cancer_flow()
    evaluated = []
    evaluate = flow.evaluate

    def recording(state):
        evaluated.append(state.tobytes())
        return evaluate(state)

    monkeypatch.setattr(flow, "evaluate", recording)
    stepper = Radau5(tol=1e-6)
    result = run(flow, 1e-5, 1e-6, stepper=stepper)
    assert result.status == "target"
    # more Jacobians than steps: some steps restarted
    assert stepper.n_jacobians > result.n_iter
    # a restart would evaluate the three stages of the stalled iteration again
    assert not any(a == b for a, b in zip(evaluated, evaluated[3:]))


@pytest.mark.parametrize("t0", [3.0, 3.3, 3.6])
def test_steps_in_log_time_reach_where_steps_in_tau_cannot(t0):
    # As breast_cancer's classes separate, the velocity in tau carries the
    # factor 1/(h . P h), which changes fast across the path: from a point
    # of the path (no step before it) the simplified Newton iterations in
    # tau failed at every step size from 0.01 to 0.16, those in log t
    # converged at 0.01 and 0.02 (and failed from 0.04), and their steps
    # land on the path within tol and within their own estimate (measured:
    # errors 2e-9 to 2e-7 of the error scale, estimates 1e-9 to 3e-6).
    flow = _breast_cancer_flow()
    mid = run(flow, np.exp(-t0), 1e-11).last
    T, ev = time_factor(flow, mid, t0), flow.evaluate(mid.state)
    for h in (0.01, 0.02):
        assert Radau5(tol=1e-6, clock="tau").step(flow, mid.state, T, t0, h, ev) is None
        taken = Radau5(tol=1e-6).step(flow, mid.state, T, t0, h, ev)
        assert taken is not None
        unit = flow.log_time_unit
        exact = integrate(flow, mid, [-(t0 + h)], tol=1e-12, max_iter=10**6).last
        flow.log_time_unit = unit
        scale = flow.network.error_scale(taken[0], taken[2].dstate)
        error = np.max(np.abs(taken[0] - exact.state) / scale)
        assert error < 1e-6 and error < np.max(np.abs(taken[3]) / scale)
        # the loss fell by h (to Newton's tolerance: measured up to 3.4e-10,
        # 1e-4 of the clock's tolerance), and the time is the path's
        assert abs(ev.log_loss - taken[2].log_loss - h) < 1e-3 * 1e-6 * (t0 + h)
        assert abs(np.log(taken[1]) + t0 + h + unit - exact.log_time) < 1e-6


def test_the_clock_gradient_and_the_jacobian_in_log_time():
    # grad tau (the end stage's pin) and d/drho of the velocity in log t
    # (Newton's matrix there) against central differences
    flow = make_flow(separable(30, 8, seed=1), 3)
    mid = run(flow, np.exp(-3.0), 1e-10).last
    rho, ev = mid.state, flow.evaluate(mid.state)
    s = np.log(time_factor(flow, mid, 3.0)) + 3.0
    gradient = radau._clock_gradient(flow, ev)
    assert abs(np.dot(gradient, ev.dstate) - 1) < 1e-12
    steps = 1e-6 * np.eye(rho.size)
    differences = np.array([
        flow.evaluate(rho - e).log_loss - flow.evaluate(rho + e).log_loss for e in steps
    ]) / 2e-6
    np.testing.assert_allclose(gradient, differences, rtol=1e-6, atol=1e-8)

    def velocity(state):
        return radau._LogTimeClock(s, 0.0, 1.0).rate(flow.evaluate(state), s)

    matrix = FlowJacobian(flow, ev).in_log_time(ev, s).matrix
    columns = np.array([(velocity(rho + e) - velocity(rho - e)) / 2e-6 for e in steps]).T
    assert rel_err(matrix, columns) < 1e-7
