"""The stiff steps of the networks without an exact Jacobian: Radau with the data
Jacobian where it is small, Rosenbrock-W steps."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from test_convolutional import conserved_differences, rms, separable_problem
from test_stiff import fixed_step_orders

from sklearn_implicit import ConvolutionalLinearClassifier, DeepLinearClassifier
from sklearn_implicit._integrate import FlowState, LinearFlow, integrate
from sklearn_implicit._integrate.auto import AutoStepper
from sklearn_implicit._integrate.krylov import (
    DATA_RANK,
    DATA_RANK_BATCHED,
    ROS34PW2,
    DataJacobian,
    KrylovJacobian,
    KrylovW,
    _batched,
    has_data_jacobian,
)
from sklearn_implicit._integrate.radau import Radau5
from sklearn_implicit._integrate.stiff_choice import stiff_stepper
from sklearn_implicit._losses import ExponentialLoss
from sklearn_implicit._networks import ConvolutionalNetwork, DenseNetwork
from sklearn_implicit._networks.convolutional import initial_filters


def separable(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.where(X @ rng.standard_normal(d) > 0, 1, 0)
    return X, y


def dense_flow(Z, widths=(6,), alpha=1.0):
    network = DenseNetwork(Z.shape[1], widths, alpha, "antisymmetric", np.random.RandomState(0))
    return LinearFlow(network, ExponentialLoss(), Z, np.ones(Z.shape[0]))


def start(flow):
    state = flow.network.initial_state()
    return FlowState(state, -flow.log_loss(flow.predictions(state)[1]), -np.inf)


STEPS = (16, 32, 64)


def relative_error(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("size", [2, 12])
def test_order_3_whatever_the_krylov_space(size):
    # A W-method keeps its order with any W: a space of 2 vectors (far from
    # the Jacobian) and one of 12 give order 3 on a curved segment of the
    # path with fixed steps (measured: errors 6.1e-6, 9.0e-7, 9.3e-8 with 2
    # vectors, orders 2.8 and 3.3; 2.0e-7, 1.3e-8, 1.5e-9 with 12, orders
    # 3.9 and 3.1).
    X, y = separable(30, 5, seed=1)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    flow = dense_flow(Z)
    t0, t1 = 3.0, 4.0
    mid = integrate(flow, start(flow), [-t0], tol=1e-11, max_iter=10**5).last
    orders = fixed_step_orders(flow, mid, t0, t1,
                               lambda: KrylovW(size=size, max_age=1, kind="krylov"), STEPS)
    assert ROS34PW2.order == 3
    assert np.all((orders > 2.7) & (orders < 4.2)), orders


def test_krylov_projection_is_the_jacobian_on_its_space():
    X, y = separable(30, 5)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    flow = dense_flow(Z)
    state = integrate(flow, start(flow), [np.log(1e-3)], tol=1e-8, max_iter=10_000).last.state
    ev = flow.evaluate(state)
    jac = KrylovJacobian(flow, ev, 12, np.random.default_rng(0).standard_normal(state.size))
    V, H = jac.basis, jac.projected
    assert np.allclose(V @ V.T, np.eye(V.shape[0]), atol=1e-12)
    # the velocity is in the space (W f = A f projected: the W-method's
    # error constants stay those of the exact Jacobian along the path)
    f = ev.dstate
    assert np.linalg.norm(f - V.T @ (V @ f)) < 1e-12 * np.linalg.norm(f)
    # H = V^T A V against central differences
    eps = 1e-6
    AV = np.array([(flow.evaluate(state + eps * v).dstate
                    - flow.evaluate(state - eps * v).dstate) / (2 * eps) for v in V])
    assert np.allclose(H, V @ AV.T, atol=1e-5 * np.abs(H).max())


_SLOW = pytest.mark.slow


@pytest.mark.parametrize("loss, fit_intercept, depth", [
    ("exponential", True, 2),
    ("logistic", False, 3),
    pytest.param("logistic", True, 2, marks=_SLOW),
    pytest.param("exponential", False, 2, marks=_SLOW),
    pytest.param("exponential", True, 3, marks=_SLOW),
    pytest.param("logistic", True, 3, marks=_SLOW),
    pytest.param("exponential", False, 3, marks=_SLOW),
    pytest.param("logistic", False, 2, marks=_SLOW),
])
def test_deep_stiff_agrees_with_explicit(loss, fit_intercept, depth):
    # The stiff steps from the first step (solver='stiff': Radau with the
    # data Jacobian) against a tight explicit reference: within tol / 10 and
    # converging (measured over the eight cases: at most 1.0e-8 at tol =
    # 1e-4 and 1.7e-11 at 1e-8, each case at least 220 times smaller at the
    # tighter tol; at 1e-5 the errors are already at most 2.6e-9, which
    # left one case only 44 times above its error at 1e-8; the
    # Rosenbrock-W steps gave 5.6e-7 at 1e-5 and 9.4e-10 at 1e-8).
    X, y = separable(30, 5, seed=depth)
    params = dict(depth=depth, width=6, loss=loss, fit_intercept=fit_intercept,
                  target_loss=1e-12, random_state=0)
    reference = DeepLinearClassifier(solver="explicit", tol=1e-10, **params).fit(X, y)
    errors = []
    for tol in (1e-4, 1e-8):
        clf = DeepLinearClassifier(solver="stiff", tol=tol, **params).fit(X, y)
        assert clf.status_[0] == "target"
        errors.append(relative_error(clf.coef_, reference.coef_))
        assert errors[-1] < tol / 10
    assert errors[0] > 100 * errors[1]


def breast_cancer_training_split():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    return StandardScaler().fit_transform(X_train), y_train


def test_deep_network_on_breast_cancer_takes_stiff_steps():
    # Stiff from a loss of about 0.1 on (eigenvalues of the flow's Jacobian
    # up to 1,500 per unit of the clock at 1e-2.6): the explicit method,
    # held at its stability bound, took 30,879 evaluations to the default
    # target (test_explicit_deep_network_on_breast_cancer_is_slow); with
    # Radau steps and the data Jacobian, measured 1,060 (the Rosenbrock-W
    # steps: 2,151; with Krylov Jacobians: 2,924).
    X, y = breast_cancer_training_split()
    clf = DeepLinearClassifier(random_state=0).fit(X, y)
    assert clf.status_[0] == "target"
    assert clf.n_grad_evals_[0] < 1_500


@pytest.mark.slow
def test_explicit_deep_network_on_breast_cancer_is_slow():
    X, y = breast_cancer_training_split()
    explicit = DeepLinearClassifier(random_state=0, solver="explicit").fit(X, y)
    auto = DeepLinearClassifier(random_state=0).fit(X, y)
    assert explicit.n_grad_evals_[0] > 20_000
    assert auto.n_grad_evals_[0] < explicit.n_grad_evals_[0] / 5
    # default tol: the two agree to far below it
    assert relative_error(auto.coef_, explicit.coef_) < 1e-6


def test_auto_chooses_radau_with_the_data_jacobian_for_the_dense_network():
    X, y = separable(30, 5, seed=2)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    auto = AutoStepper(tol=1e-6)
    result = integrate(dense_flow(Z), start(dense_flow(Z)), [np.log(1e-100)], tol=1e-6,
                       max_iter=10**5, stepper=auto)
    explicit = integrate(dense_flow(Z), start(dense_flow(Z)), [np.log(1e-100)], tol=1e-6,
                         max_iter=10**5)
    assert result.status == explicit.status == "target"
    assert isinstance(auto.stiff, Radau5) and auto.stiff.jacobian == "data"
    assert auto.switched_at is not None
    # measured: 787 evaluations against 2,931, coefficients 4.6e-11 apart
    # (the Rosenbrock-W steps: 1,349 and 1.3e-9)
    assert result.n_evals < 0.6 * explicit.n_evals
    assert relative_error(result.coef, explicit.coef) < 1e-6


def test_krylov_w_where_the_data_jacobian_is_large():
    # min(n, d) above DATA_RANK_BATCHED for a network with batched columns
    # (the dense one), above DATA_RANK for the convolutional one, which has
    # them too but whose evaluations are too cheap for the larger systems
    # (large_data_jacobian = False): no small data Jacobian; Krylov-W steps
    # for the dense network
    rng = np.random.default_rng(0)
    n = d = DATA_RANK_BATCHED + 1
    flow = dense_flow(rng.standard_normal((n, d)))
    assert isinstance(stiff_stepper(flow, 1e-6), KrylovW)
    small = dense_flow(rng.standard_normal((n, DATA_RANK_BATCHED)))
    assert isinstance(stiff_stepper(small, 1e-6), Radau5)
    with pytest.raises(TypeError, match="DATA_RANK"):
        Radau5(jacobian="data").step(flow, None, 0.0, 0.0, 0.1, None)
    Z = rng.standard_normal((DATA_RANK + 1, DATA_RANK + 1))
    filters = initial_filters("antisymmetric", 1.0, 2, DATA_RANK + 1, np.random.RandomState(0))
    conv = LinearFlow(ConvolutionalNetwork(filters), ExponentialLoss(), Z, np.ones(Z.shape[0]))
    assert _batched(conv.network) and not has_data_jacobian(conv)
    # (the convolutional network's steps then take its Jacobian by blocks:
    # test_block_jacobian.py)
    with pytest.raises(ValueError, match="jacobian must be"):
        Radau5(jacobian="krylov")


@pytest.mark.parametrize("depth, fit_intercept", [(2, False), (3, True)])
def test_convolutional_stiff_agrees_with_explicit(depth, fit_intercept):
    # Against a tight explicit reference, to 1e-30 (measured: auto 2.3e-9
    # and 5.3e-9 at tol = 1e-5, 1.6e-12 and 2.0e-11 at 1e-8; Radau with the
    # data Jacobian from the first step 9.3e-9 and 9.0e-9 at 1e-5), in
    # fewer evaluations than the explicit method at the same tol (441 and
    # 497 against 3,327 and 1,059 at 1e-5). The Rosenbrock-W steps had
    # 9.6e-8 and 5.1e-7, in 536 and 468 evaluations.
    X, y = separable(20, 12, seed=depth)
    check_convolutional_stiff_steps(X, y, depth, fit_intercept, relative_error)


def check_convolutional_stiff_steps(X, y, depth, fit_intercept, error):
    """ConvolutionalLinearClassifier to 1e-30: ``solver='auto'`` and
    ``'stiff'`` within ``tol / 2`` of a tol = 1e-10 explicit fit (by
    ``error(coef, reference)``), converging as tol tightens, and ``'auto'``
    in fewer evaluations than the explicit method at the same tol."""
    params = dict(depth=depth, fit_intercept=fit_intercept, target_loss=1e-30, random_state=0)
    reference = ConvolutionalLinearClassifier(solver="explicit", tol=1e-10, **params).fit(X, y)

    def fit(solver, tol):
        clf = ConvolutionalLinearClassifier(solver=solver, tol=tol, **params).fit(X, y)
        assert clf.status_[0] == "target"
        return clf.n_grad_evals_[0], error(clf.coef_, reference.coef_)

    auto_evals, auto_error = fit("auto", 1e-5)
    tight_error = fit("auto", 1e-8)[1]
    stiff_error = fit("stiff", 1e-5)[1]
    assert auto_error < 1e-5 / 2 and stiff_error < 1e-5 / 2 and tight_error < 1e-8 / 2
    assert auto_error > 30 * tight_error
    assert auto_evals < fit("explicit", 1e-5)[0]


def finite_difference_jacobian(flow, state, eps=1e-6):
    columns = []
    for e in np.eye(state.size):
        columns.append((flow.evaluate(state + eps * e).dstate
                        - flow.evaluate(state - eps * e).dstate) / (2 * eps))
    return np.column_stack(columns)


@pytest.mark.parametrize("shape", [(30, 5), (6, 12)], ids=["d<=n", "n<d"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_data_jacobian_is_the_stiff_part_and_solves_exactly(shape, sparse):
    X, y = separable(*shape, seed=3)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    flow = dense_flow(sp.csr_matrix(Z) if sparse else Z)
    state = integrate(flow, start(flow), [np.log(1e-4)], tol=1e-8, max_iter=10**5).last.state
    ev = flow.evaluate(state)
    jac = DataJacobian(flow, ev)
    full = finite_difference_jacobian(flow, state)
    n_state = state.size
    W = jac.P @ jac.S @ jac.left(np.column_stack([jac.apply_J(e) for e in np.eye(n_state)]))
    # The left-out network terms are small against the data part, whose
    # largest eigenvalues are those of the Jacobian.
    top = np.sort(np.abs(np.linalg.eigvals(full)))[::-1]
    top_w = np.sort(np.abs(np.linalg.eigvals(W)))[::-1]
    assert np.allclose(top_w[:3], top[:3], rtol=1e-3)
    assert np.linalg.norm(full - W, 2) < 0.05 * np.linalg.norm(full, 2)
    # the shifted systems are solved with W exactly (to its difference
    # quotients)
    rng = np.random.default_rng(0)
    b = rng.standard_normal(n_state)
    # real shifts, and the complex ones of Radau's steps (complex b)
    for shift, rhs in [(2.0 * top[0], b),
                       ((2.0 + 1.5j) * top[0], b + 1j * rng.standard_normal(n_state))]:
        x = jac.shifted_solver(shift).solve(rhs, None)[0]
        residual = shift * x - W @ x - rhs
        assert np.linalg.norm(residual) < 1e-6 * np.linalg.norm(rhs)
    # C^T J b from the held velocities equals that of the network's J
    expected = jac.left(jac.apply_J(b))
    np.testing.assert_allclose(jac.left_J(b), expected, rtol=0,
                               atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("shape", [(30, 7), (6, 12)], ids=["d<=n", "n<d"])
@pytest.mark.parametrize("init, intercept", [("antisymmetric", True), ("normal", False)])
def test_convolutional_data_jacobian_with_batched_columns(shape, init, intercept, monkeypatch):
    # The convolutional network's batched columns give the data Jacobian
    # that its per-column calls of velocity and coef give (to the
    # difference quotients of coef that these take for J, in P through K h:
    # measured at most 2.3e-8 of the largest entry).
    X, y = separable(*shape, seed=5)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    if intercept:
        Z = np.hstack([Z, np.where(y == 1, 1.0, -1.0)[:, None]])
    filters = initial_filters(init, 1.0, 3, shape[1], np.random.RandomState(0))
    flow = LinearFlow(ConvolutionalNetwork(filters, intercept), ExponentialLoss(), Z,
                      np.ones(Z.shape[0]))
    state = integrate(flow, start(flow), [np.log(1e-4)], tol=1e-8, max_iter=10**5).last.state
    ev = flow.evaluate(state)
    batched = DataJacobian(flow, ev)
    assert _batched(flow.network)
    monkeypatch.delattr(ConvolutionalNetwork, "velocities")
    monkeypatch.delattr(ConvolutionalNetwork, "coef_jacobian_product")
    looped = DataJacobian(flow, ev)
    for got, want in [(batched.P, looped.P), (batched.QP, looped.QP)]:
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("kind", ["data", pytest.param("krylov", marks=pytest.mark.slow)])
def test_order_3_with_either_jacobian_in_auto_steps(kind):
    # the stepper as AutoStepper and solver='stiff' make it, either kind
    X, y = separable(30, 5, seed=1)
    Z = np.where(y == 1, 1.0, -1.0)[:, None] * X
    reference = integrate(dense_flow(Z), start(dense_flow(Z)), [np.log(1e-20)], tol=1e-11,
                          max_iter=10**5)
    errors = []
    for tol in (1e-5, 1e-7):
        result = integrate(dense_flow(Z), start(dense_flow(Z)), [np.log(1e-20)], tol=tol,
                           max_iter=10**5, stepper=KrylovW(kind=kind))
        errors.append(relative_error(result.coef, reference.coef))
        assert errors[-1] < tol / 10
    assert errors[0] > 20 * errors[1]


def test_deep_network_on_raw_iris_ends_every_flow_quickly():
    # Raw iris, one-vs-rest: setosa is separable, the two others are not,
    # and their flows approach a positive infimum of the loss, where the
    # clock's velocity is singular and every data mode stiff. The explicit
    # method hit max_iter on two of the three (161,515 evaluations in all,
    # capped; case stiff_networks of benchmarks/), the Krylov-W steps on one;
    # with the data Jacobian, measured 927, 2,806 and 2,530 evaluations (the
    # diagonal network: 1,467, 2,738 and 3,992).
    X, y = load_iris(return_X_y=True)
    with pytest.warns(Warning, match="stalled"):
        clf = DeepLinearClassifier(random_state=0).fit(X, y)
    assert list(clf.status_) == ["target", "stalled", "stalled"]
    assert np.all(clf.n_grad_evals_ < 6_000)


def test_deep_network_stalls_quickly_on_digits():
    # Standardized digits, class 8 against the rest: not separable (the
    # diagonal network stalls at a loss of 10**-0.914). With the intercept
    # the data part has rank 65, above DATA_RANK: with Krylov Jacobians the
    # stiff steps never got through (max_iter after 110,698 evaluations,
    # 23 s); with the data Jacobian (DATA_RANK_BATCHED) measured 4,023
    # evaluations to the stall.
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with pytest.warns(ConvergenceWarning, match="stalled"):
        clf = DeepLinearClassifier(random_state=0).fit(X, y == 8)
    assert clf.status_[0] == "stalled"
    assert clf.n_grad_evals_[0] < 10_000


@pytest.mark.parametrize("depth", [2, 3])
def test_stiff_steps_keep_the_conserved_quantities_to_tol(depth):
    # Per frequency the differences of squared moduli between layers are
    # conserved by the flow (test_convolutional.py); the stiff steps keep
    # them to the local errors that tol allows, not to rounding (measured:
    # 6.0e-11 and 1.6e-10 of the largest squared modulus at tol = 1e-6, to a
    # loss of 1e-100, with Radau steps and the data Jacobian; 1.2e-8 and
    # 1.2e-7 with Rosenbrock-W steps).
    X, y = separable_problem(20, 16, seed=3)
    W = np.random.default_rng(4).standard_normal((depth, 16)) / 4.0
    start, _ = conserved_differences(np.stack([W, W]), np.stack([rms(W)] * 2))
    tol = 1e-6
    clf = ConvolutionalLinearClassifier(depth=depth, init=W, tol=tol, target_loss=1e-100,
                                        solver="stiff").fit(X, y)
    now, size = conserved_differences(clf.coefs_[0], clf.intercept_coefs_[0])
    drift = np.abs(now - start).max() / size
    assert drift < tol
