"""The network contract: coefficients, velocity and power, checked independently."""

import math

import numpy as np
import pytest

from sklearn_implicit._integrate import LinearFlow
from sklearn_implicit._losses import ExponentialLoss
from sklearn_implicit._networks import (
    ConvolutionalNetwork,
    DenseNetwork,
    DiagonalNetwork,
)


def _networks():
    rng = np.random.default_rng(0)
    yield "diagonal D=2", DiagonalNetwork(np.full(6, 0.3), 2), 0.7 * rng.standard_normal(6)
    yield "diagonal D=2 far", DiagonalNetwork(np.full(6, 0.3), 2), 9.0 * rng.standard_normal(6)
    yield ("diagonal D=2 uneven alpha", DiagonalNetwork(np.geomspace(1e-3, 10.0, 6), 2),
           3.0 * rng.standard_normal(6))
    yield "diagonal D=3", DiagonalNetwork(np.full(6, 0.3), 3), 2.0 * rng.standard_normal(6)
    for init in ("normal", "antisymmetric"):
        net = DenseNetwork(4, (3, 2), 0.5, init, np.random.default_rng(1))
        yield f"dense {init}", net, net.initial_state() + 0.3 * rng.standard_normal(
            net.initial_state().shape)
    for shape in [(1, 3, 5), (2, 2, 6)]:
        filters = rng.standard_normal(shape)
        # (a state of other filters: the pair's networks apart)
        state = ConvolutionalNetwork(filters + 0.3 * rng.standard_normal(shape), True)
        yield (f"convolutional {shape[0]} network(s)", ConvolutionalNetwork(filters, True),
               state.initial_state())


@pytest.mark.parametrize("name, network, state", list(_networks()),
                         ids=[case[0] for case in _networks()])
def test_velocity_and_power_agree_with_finite_differences(name, network, state):
    # power = g . d beta/dt, and d beta/dt = (d beta/d state) (d state/dt):
    # both from the network's own coef() by central differences.
    g = np.random.default_rng(2).standard_normal(network.n_coef)
    g /= np.abs(g).max()
    direction, log_speed, log_power = network.velocity(state, g)
    assert np.abs(direction).max() <= 1.0
    velocity = math.exp(log_speed) * direction
    eps = 1e-6
    dbeta = (network.coef(state + eps * velocity) - network.coef(state - eps * velocity)) / (2 * eps)
    np.testing.assert_allclose(math.log(g @ dbeta), log_power, rtol=0, atol=1e-7)
    # gradient flow on the state: d state/dt = -grad_state L = J^T g
    J = np.column_stack([
        (network.coef(state + eps * e) - network.coef(state - eps * e)) / (2 * eps)
        for e in np.eye(state.size)
    ])
    if name.startswith("convolutional"):
        # The state holds the filters' half spectra, a linear map T of which
        # gives the filters (and intercept factors) of the networks: gradient
        # flow on those moves the state by G v = J^T g, G = T^T T.
        T = np.column_stack([
            np.concatenate([part.ravel() for part in network.filters(e)])
            for e in np.eye(state.size)
        ])
        np.testing.assert_allclose(T.T @ T @ velocity, J.T @ g, rtol=1e-6, atol=1e-9)
    elif name.startswith("dense"):
        # the antisymmetric pair's state is (mean, half-difference) of the
        # two networks' layers, which moves at half the parameters' gradient
        half = 0.5 if network.antisymmetric else 1.0
        np.testing.assert_allclose(velocity, half * J.T @ g, rtol=1e-6, atol=1e-9)
    else:
        # rho = log(u / v) with u, v from the conservation law, and
        # d rho/dt = D (u**(D-2) + v**(D-2)) g on the parameter flow
        # du/dt = D u**(D-1) g, dv/dt = -D v**(D-1) g
        alpha, depth = np.exp(network.log_alpha), network.depth
        if depth == 2:
            u, v = alpha * np.exp(state / 2), alpha * np.exp(-state / 2)
        else:  # D = 3: 1/u + 1/v = 2/alpha
            u, v = alpha * (1 + np.exp(state)) / 2, alpha * (1 + np.exp(-state)) / 2
        np.testing.assert_allclose(network.coef(state), u**depth - v**depth, rtol=1e-12)
        np.testing.assert_allclose(velocity, depth * (u**(depth - 2) + v**(depth - 2)) * g,
                                   rtol=1e-12)


@pytest.mark.parametrize("alpha", [np.full(50, 0.1), np.geomspace(1e-4, 1e2, 50)])
@pytest.mark.parametrize("size", [1e-9, 0.3, 3.0, 40.0])
def test_depth_2_coefficients_are_exact_to_rounding(alpha, size):
    # beta = 2 alpha**2 sinh(rho) with libm's sinh (correctly rounded to an
    # ulp or so) as reference: every coefficient within a few ulps of itself
    # or of the largest one (the exp(rho) - exp(-rho) form cancels for
    # small rho_j once some |rho| is large; the network uses it only where
    # that cancellation is below an ulp of the largest coefficient).
    rng = np.random.default_rng(3)
    rho = size * rng.standard_normal(50)
    rho[:3] = [0.0, 1e-300, -1e-12]
    network = DiagonalNetwork(alpha, 2)
    got = network.coef(rho)
    # (alpha**2 as the network forms it, from log(alpha): that rounding is
    # the network's input, not part of this check)
    want = 2 * np.exp(2 * np.log(alpha)) * np.array([math.sinh(r) for r in rho])
    eps = np.finfo(float).eps
    np.testing.assert_array_less(np.abs(got - want),
                                 8 * eps * np.maximum(np.abs(want), np.abs(want).max()) + 1e-320)
    if np.abs(rho).max() < 1.0:
        # small states (the kernel regime, where rho stays tiny): every
        # coefficient to a few ulps of itself
        np.testing.assert_allclose(got, want, rtol=8 * eps, atol=0)


def test_evaluate_rejects_a_gradient_with_nan_that_blas_passes_over():
    # idamax may skip a NaN entry: the NaN must still reach the power and
    # make the evaluation a rejected trial (NaN), never a stationary point.
    flow = LinearFlow(DiagonalNetwork(np.full(3, 0.5), 2), ExponentialLoss(),
                      np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]), np.ones(2))
    network = flow.network
    g = np.array([1.0, np.nan, 0.5])
    _, _, log_power = network.velocity(np.zeros(3), g)
    assert np.isnan(log_power)
    flow.transpose_product = lambda r: np.array([0.25, np.nan, 1.0])
    ev = flow.evaluate(np.zeros(3))
    assert np.isnan(ev.log_dt_dtau) and np.all(ev.dstate == 0)


@pytest.mark.parametrize("init", ["antisymmetric", "normal"])
@pytest.mark.parametrize("widths", [(5,), (4, 3)])
def test_dense_batched_velocities_and_coef_jacobian(init, widths):
    # The optional batched forms that the stiff steps' data Jacobian uses:
    # velocities equal velocity column by column (to rounding), and
    # coef_jacobian_product equals a central difference quotient of coef.
    from sklearn_implicit._integrate.krylov import _velocity
    from sklearn_implicit._networks import DenseNetwork

    net = DenseNetwork(6, widths, 0.7, init, np.random.RandomState(0))
    rng = np.random.default_rng(1)
    state = net.initial_state() + 0.3 * rng.standard_normal(net.initial_state().shape)
    G = rng.standard_normal((6, 4))
    batched = net.velocities(state, G)
    looped = np.column_stack([_velocity(net, state, g) for g in G.T])
    np.testing.assert_allclose(batched, looped, rtol=0, atol=1e-14 * np.abs(looped).max())
    V = rng.standard_normal((state.size, 3))
    eps = 1e-6
    quotients = np.column_stack([(net.coef(state + eps * v) - net.coef(state - eps * v)) / (2 * eps)
                                 for v in V.T])
    exact = net.coef_jacobian_product(state, V)
    np.testing.assert_allclose(exact, quotients, rtol=0, atol=1e-9 * np.abs(quotients).max())
    # the velocities are velocity_scale times the transposed Jacobian: G^T V
    # is J V, which the stiff steps use without calling the network
    np.testing.assert_allclose(G.T @ exact, net.velocity_scale ** -1 * (batched.T @ V),
                               rtol=1e-12, atol=1e-12 * np.abs(G.T @ exact).max())


@pytest.mark.parametrize("pairs", [
    [(1.0, 2.0), (3.0, 4.0)],
    [(0.0, 1.0), (2.0, 3.0)],
    [(0.0, 0.0)],
    [],
    [(np.inf, 1.0)],
    [(0.0, np.inf), (1.0, 1.0)],
    [(np.nan, 1.0), (1.0, 1.0)],
    [(1.0, 1.0), (np.nan, 1.0)],
    [(1e300, 1e300), (1e-300, 1e-300)],
    [(1e-300, 1e-300), (1e-300, 1e-300), (2e-300, 1e-300)],
])
def test_log_sum_of_products_is_the_log_of_the_sum(pairs):
    """The dense network's log power, in Python floats, against NumPy's
    log-sum-exp of the logs (where the products overflow or underflow, the
    log of their sum by hand)."""
    from sklearn_implicit.utils._logspace import log_sum_of_products, logsumexp

    with np.errstate(divide="ignore", invalid="ignore"):
        expected = (logsumexp(np.log(np.array(pairs, dtype=float)).sum(axis=1))
                    if pairs else -np.inf)
    got = log_sum_of_products(pairs)
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected, rel=1e-15, abs=0.0) or got == expected


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_error_scale_of_coefficients_that_lag_behind(depth):
    # Independently of the network's own quantities: the scale in rho is
    # the size in beta times drho/dbeta (central differences of coef), the
    # size the largest |beta| except, at depth >= 3, for coefficients whose
    # relative growth d log|beta_j|/d tau lags behind the largest one's:
    # their own |beta_j|, floored at 10 alpha**D.
    alpha = 0.1
    network = DiagonalNetwork(np.full(5, alpha), depth)
    rho = np.array([6.0, 4.0, 4.0, 1e-3, -4.0])
    coef = network.coef(rho)
    h = 1e-6
    dbeta = (network.coef(rho + h) - network.coef(rho - h)) / (2 * h)
    # The largest coefficient grows at the relative rate lead; coefficient
    # 1 at a fifth of it, 2 five times faster, 3 (near 0) shrinks and 4
    # (negative) grows twice as fast
    lead = dbeta[0] / coef[0]
    growth = np.array([lead, lead / 5, 5 * lead, -lead, 2 * lead])
    dstate = growth * coef / dbeta
    scale = network.error_scale(rho, dstate)
    top = np.abs(coef).max()
    lagging = depth > 2 and np.array([False, True, False, True, False])
    size = np.where(lagging, np.maximum(np.abs(coef), 10 * alpha**depth), top)
    np.testing.assert_allclose(scale, size / dbeta, rtol=1e-6)
    assert (depth == 2) == np.all(scale == network.error_scale(rho.copy(), np.ones(5)))
