"""The flow's Jacobian by blocks (the convolutional network's Fourier channels)
and the Radau steps that take it (``jacobian='blocks'``)."""

import numpy as np
import pytest
from test_convolutional import conserved_differences, rms, separable_problem
from test_krylov import check_convolutional_stiff_steps, finite_difference_jacobian
from test_stiff import fixed_step_orders

from sklearn_implicit import ConvolutionalLinearClassifier
from sklearn_implicit._integrate import FlowState, LinearFlow, integrate
from sklearn_implicit._integrate.block_jacobian import (
    BlockFlowJacobian,
    _active_rows,
    _block_gram,
    block_truncation,
)
from sklearn_implicit._integrate.krylov import DATA_RANK
from sklearn_implicit._integrate.radau import Radau5
from sklearn_implicit._integrate.stiff_choice import stiff_stepper
from sklearn_implicit._losses import ExponentialLoss, LogisticLoss, SquaredLoss
from sklearn_implicit._networks import ConvolutionalNetwork
from sklearn_implicit._networks.convolutional import initial_filters


def conv_flow(n, d, depth, init="antisymmetric", intercept=False, loss=None, seed=0):
    """A flow of the convolutional network at a random state off the start
    (so that no factor vanishes and every channel's imaginary parts, those
    of the real ones included, are away from 0)."""
    rng = np.random.default_rng(seed)
    network = ConvolutionalNetwork(initial_filters(init, 0.7, depth, d, rng), intercept)
    Z = rng.standard_normal((n, d + intercept))
    flow = LinearFlow(network, loss or ExponentialLoss(), Z, 1.0 + rng.random(n))
    state = network.initial_state()
    return flow, state + 0.3 * rng.standard_normal(state.size)


CASES = [
    # (n, d, depth, init, intercept): wide (the Woodbury core on the rows)
    # and tall (on the basis), odd and even d, one network and the pair
    (5, 8, 2, "antisymmetric", False),
    (5, 8, 3, "normal", True),
    (6, 9, 4, "antisymmetric", True),
    (20, 7, 3, "antisymmetric", True),
    (20, 6, 2, "normal", False),
]


@pytest.mark.parametrize("loss", [ExponentialLoss(), LogisticLoss()], ids=["exp", "logistic"])
@pytest.mark.parametrize("n, d, depth, init, intercept", CASES)
def test_jacobian_by_blocks_matches_finite_differences(n, d, depth, init, intercept, loss):
    # Every piece of the flow's Jacobian: the network's curvature by blocks,
    # the data part and the rank-one term (measured: at most 4.9e-10 of the
    # largest entry, the central differences' own error)
    flow, state = conv_flow(n, d, depth, init, intercept, loss)
    ev = flow.evaluate(state)
    network = flow.network
    jac = BlockFlowJacobian(flow, ev, network.block_basis(flow.X))
    assert jac.by_rows == (d + 2 > n)
    full = finite_difference_jacobian(flow, state)
    exact = jac.full_matrix(network_curvature=True)
    np.testing.assert_allclose(exact, full, rtol=0, atol=5e-9 * np.abs(full).max())
    # the velocity it is the Jacobian of is the flow's
    np.testing.assert_allclose(jac.scatter(jac.F), ev.dstate, rtol=0,
                               atol=1e-14 * np.abs(ev.dstate).max())
    # what the steps leave out is the block-diagonal network curvature
    left_out = exact - jac.full_matrix()
    scale = 1e-14 * np.abs(exact).max()
    for k, index in enumerate(jac.index):
        block = np.ix_(index, index)
        np.testing.assert_allclose(left_out[block], jac._network_curvature[k] / jac.p,
                                   rtol=0, atol=scale)
        left_out[block] = 0.0
    assert np.abs(left_out).max() <= scale


@pytest.mark.parametrize("step", [None, 1e-4, 1e-1], ids=["all rows", "none", "some"])
@pytest.mark.parametrize("n, d, depth, init, intercept", CASES)
def test_shifted_systems_are_solved_exactly(n, d, depth, init, intercept, step):
    # the real shift of a Radau step and its complex one, through the
    # Woodbury identity on the rows or on the basis, with every row, with
    # none (a step too short for any mode to need an implicit treatment)
    # or with some
    flow, state = conv_flow(n, d, depth, init, intercept)
    jac = BlockFlowJacobian(flow, flow.evaluate(state), flow.network.block_basis(flow.X),
                            step=step)
    if step == 1e-1:
        assert 0 < jac.n_samples < n
    else:
        assert jac.n_samples == (n if step is None else 0)
    matrix = jac.full_matrix()
    rng = np.random.default_rng(1)
    size = state.size
    for shift in (3.7, 2.5 + 1.7j):
        b = rng.standard_normal(size)
        if np.iscomplexobj(shift):
            b = b + 1j * rng.standard_normal(size)
        solver = jac.shifted_solver(shift)
        x = solver.solve(b, solver.project(b))[0]
        residual = shift * x - matrix @ x - b
        assert np.linalg.norm(residual) < 1e-12 * np.linalg.norm(b)


def test_active_rows_leave_out_the_smallest_rates_up_to_the_drop():
    # (weights diagonal, as the convolutional network's, and general ones)
    rng = np.random.default_rng(5)
    n, n_blocks = 7, 5
    Z = rng.standard_normal((n, 2 * n_blocks))
    weights = 10.0 ** rng.uniform(-4, 0, n)
    planes = Z.reshape(n, 2, n_blocks)
    for off_diagonal in (0.0, 0.1):
        phi = rng.uniform(0.5, 2.0, n_blocks)[:, None, None] * np.eye(2)
        phi[:, 0, 1] = phi[:, 1, 0] = off_diagonal
        rates = weights * np.einsum("iak,kab,ibk->i", planes, phi, planes)
        order = np.argsort(rates)
        three = rates[order[:3]].sum() * 1.0001
        for drop in (0.0, three, 10 * rates.sum()):
            rows = _active_rows(Z, phi, weights, drop)
            n_out = int(np.sum(np.cumsum(rates[order]) <= drop))
            if n_out == 0:
                assert rows is None
            else:
                np.testing.assert_array_equal(rows, np.sort(order[n_out:]))
        assert _active_rows(Z, phi, weights, three).size == n - 3


def test_block_basis_is_orthonormal_and_gives_the_margins():
    # Z beta = (the rows in the basis) . (beta in the basis), and the basis
    # keeps norms (Parseval), for odd and even d, with the intercept
    rng = np.random.default_rng(2)
    for d, intercept in [(7, True), (8, False)]:
        network = ConvolutionalNetwork(np.ones((2, 2, d)), intercept)
        Z = rng.standard_normal((4, d + intercept))
        basis = network.block_basis(Z)
        assert basis.shape == (4, 2, d // 2 + 1 + intercept)
        np.testing.assert_allclose(np.einsum("nbk,nbk->n", basis, basis),
                                   np.einsum("ni,ni->n", Z, Z), rtol=1e-13)
        beta = rng.standard_normal(d + intercept)
        in_basis = network.block_basis(beta[None])[0]
        np.testing.assert_allclose(np.einsum("nbk,bk->n", basis, in_basis), Z @ beta,
                                   rtol=1e-12)


@pytest.mark.parametrize("isotropic", [True, False])
def test_block_gram_matrix_and_its_truncation(isotropic):
    rng = np.random.default_rng(3)
    n, b, n_blocks = 6, 2, 40
    basis = rng.standard_normal((n, b, n_blocks))
    if isotropic:
        # the convolutional network's tangent kernel: |P_k|^2 times I,
        # spread over many orders of magnitude
        phi = 10.0 ** rng.uniform(-12, 0, n_blocks)[:, None, None] * np.eye(b)
    else:
        phi = rng.standard_normal((n_blocks, b, b))
    Z = basis.reshape(n, -1)
    want = sum(basis[:, :, k] @ phi[k] @ basis[:, :, k].T for k in range(n_blocks))
    got, columns = _block_gram(Z, phi, None)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())
    # a symmetric product of the columns, or a general one (twice the work)
    assert columns == (1 if isotropic else 2) * n_blocks * b
    drop = 1e-6
    truncated, kept_columns = _block_gram(Z, phi, block_truncation(basis, drop))
    if isotropic:
        # most blocks carry nothing: left out, within drop of the trace's
        # bound on what they held
        assert kept_columns < n_blocks * b
        bound = np.sum(np.sqrt(np.sum(phi * phi, axis=(1, 2)))
                       * np.einsum("nbk,nbk->k", basis, basis))
        assert np.linalg.norm(truncated - want, "nuc") <= drop * bound
    else:
        assert kept_columns == columns
        np.testing.assert_array_equal(truncated, got)


def test_stepper_choice_by_the_size_of_the_data_part():
    # the data Jacobian's Radau steps up to DATA_RANK, the Jacobian by
    # blocks beyond; the squared loss (no margin loss) keeps neither
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((DATA_RANK + 1, DATA_RANK + 1))
    for d, kind in ((DATA_RANK + 1, "blocks"), (DATA_RANK, "data")):
        filters = initial_filters("antisymmetric", 1.0, 2, d, np.random.RandomState(0))
        flow = LinearFlow(ConvolutionalNetwork(filters), ExponentialLoss(), Z[:, :d],
                          np.ones(Z.shape[0]))
        stepper = stiff_stepper(flow, 1e-6)
        assert isinstance(stepper, Radau5) and stepper.jacobian == kind
    squared = LinearFlow(flow.network, SquaredLoss(np.ones(Z.shape[0])), Z[:, :d],
                         np.ones(Z.shape[0]))
    with pytest.raises(TypeError, match="jacobian='blocks'"):
        Radau5(jacobian="blocks").step(squared, None, 0.0, 0.0, 0.1, None)


@pytest.mark.parametrize("depth, fit_intercept", [(2, True), (3, False)])
def test_blocks_steps_agree_with_explicit_and_converge(depth, fit_intercept):
    # min(n, d) above DATA_RANK: the Jacobian by blocks. Against a tight
    # explicit reference, to 1e-30 (measured: auto 1.5e-9 and 1.7e-8 at
    # tol = 1e-5, 3.4e-12 and 4.0e-11 at 1e-8; solver='stiff' 3.2e-9 and
    # 4.2e-8 at 1e-5), in fewer evaluations than the explicit method at the
    # same tol (1,378 and 1,006 against 1,467 and 4,215; solver='stiff' 675
    # and 1,183).
    X, y = separable_problem(70, 72, seed=depth)
    check_convolutional_stiff_steps(X, y, depth, fit_intercept, _norm_error)


def _norm_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def test_blocks_steps_keep_the_conserved_quantities_to_tol():
    # as the data Jacobian's steps (test_krylov), to the local errors that
    # tol allows (measured: 1.2e-10 of the largest squared modulus at
    # tol = 1e-6, to a loss of 1e-100)
    X, y = separable_problem(70, 72, seed=3)
    W = np.random.default_rng(4).standard_normal((2, 72)) / 4.0
    start, _ = conserved_differences(np.stack([W, W]), np.stack([rms(W)] * 2))
    tol = 1e-6
    clf = ConvolutionalLinearClassifier(depth=2, init=W, tol=tol, target_loss=1e-100,
                                        solver="stiff").fit(X, y)
    now, size = conserved_differences(clf.coefs_[0], clf.intercept_coefs_[0])
    assert np.abs(now - start).max() / size < tol


def _late_segment(depth, t0):
    """A convolutional flow (30 x 64, the pair, with the intercept) and its
    point at the clock ``t0`` (a tight integration)."""
    X, y = separable_problem(30, 64, seed=depth)
    sign = np.where(y == 1, 1.0, -1.0)[:, None]
    Z = np.hstack([sign * X, sign])
    filters = initial_filters("antisymmetric", 1.0, depth, 64, np.random.RandomState(0))
    flow = LinearFlow(ConvolutionalNetwork(filters, True), ExponentialLoss(), Z, np.ones(30))
    start = FlowState(flow.network.initial_state(), 0.0, -np.inf)
    start = FlowState(start.state, -flow.log_loss(flow.predictions(start.state)[1]), -np.inf)
    return flow, integrate(flow, start, [-t0], tol=1e-11, max_iter=10**5).last


@pytest.mark.parametrize("depth, steps", [(2, (8, 16, 32)), (3, (12, 24, 48))])
def test_blocks_steps_have_order_five_and_the_data_steps_solution(depth, steps):
    # Newton's matrix sets how fast the iterations converge, not where:
    # steps with the Jacobian by blocks land where those with the data
    # Jacobian (its columns from the network's batched calls) do, to
    # Newton's tolerance, and keep the collocation method's order 5 with
    # fixed steps (measured: the ends 4.1e-15 and 5.5e-16 apart, relative to
    # the largest entry; orders 4.95, 4.98 at depth 2 and 4.94, 5.05 at
    # depth 3), the matrix keeping 21 to 24 and 19 to 20 of the 30 rows
    t0, t1 = 10.0, 14.0
    flow, mid = _late_segment(depth, t0)
    ends = []
    for kind in ("data", "blocks"):
        stepper, h = Radau5(tol=1e-10, jacobian=kind), (t1 - t0) / 16
        state, T, tau, ev = mid.state, 1.0, t0, flow.evaluate(mid.state)
        for _ in range(16):
            state, T, ev, _ = stepper.step(flow, state, T, tau, h, ev)
            tau += h
        ends.append(state)
    assert np.max(np.abs(ends[1] - ends[0])) < 1e-12 * np.max(np.abs(ends[0]))
    orders = fixed_step_orders(flow, mid, t0, t1, lambda: Radau5(tol=1e-10, jacobian="blocks"),
                               steps)
    assert np.all((orders > 4.6) & (orders < 5.6)), orders
