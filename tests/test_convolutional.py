"""ConvolutionalLinearClassifier: exactness against the filters' own ODE, the
Fourier identities, conventions, bad input and a first implicit-bias check.

The references here are written from the definition of the network
(``h_l[i] = d**-0.5 sum_k w_l[k] h_{l-1}[(i + k) mod d]``, ``f = <w_L, h_{L-1}>``)
with ``np.roll`` and explicit loops, never from the Fourier form the package
integrates.
"""

import math
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit, softmax
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

# the plain parameter flow solved to a target loss (DOP853 at rtol 1e-12),
# and the flow of the model linearized at initialization, d beta/dt = K g
from test_deep import ParameterFlow, linearized_flow

from sklearn_implicit import ConvolutionalLinearClassifier, max_margin
from sklearn_implicit._networks import ConvolutionalNetwork
from sklearn_implicit._networks.convolutional import random_filters


def separable_problem(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.where(X @ rng.standard_normal(d) > 0, 1, 0)


def design(X, y, intercept_scaling=None):
    """Rows ``y_i x_i`` (and the constant column): margins are ``Z @ weights``."""
    if intercept_scaling is not None:
        X = np.hstack([X, np.full((X.shape[0], 1), intercept_scaling)])
    return np.where(y == 1, 1.0, -1.0)[:, None] * X


def relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# ---------------------------------------------------------------------------
# The network by its definition
# ---------------------------------------------------------------------------


def hidden_layer(w, h):
    """``h_l[i] = d**-0.5 sum_k w[k] h[(i + k) mod d]``."""
    return sum(w[k] * np.roll(h, -k) for k in range(w.size)) / np.sqrt(w.size)


def network_output(filters, x):
    h = x
    for w in filters[:-1]:
        h = hidden_layer(w, h)
    return filters[-1] @ h


def end_to_end(filters):
    """``beta`` of one network: its output at every basis vector."""
    return np.array([network_output(filters, e) for e in np.eye(filters.shape[1])])


def circulant(w):
    """The hidden layer as a matrix: row ``i`` holds ``w[(j - i) mod d] / sqrt(d)``."""
    return np.stack([np.roll(w, i) for i in range(w.size)]) / np.sqrt(w.size)


class FilterFlow(ParameterFlow):
    """Plain gradient flow of the filters (and intercept factors), independent
    of the package; its loss and its solution to a target loss are those of
    the dense network's reference.

    The predictor is ``sum_c sign_c beta(network_c)`` (signs +1, -1), the
    intercept weight ``sum_c sign_c prod_l c_l``. The gradient of a hidden
    filter is that of ``P C(w_l) q`` with ``P = w_L^T C_{L-1} ... C_{l+1}`` and
    ``q = C_{l-1} ... C_1 g``: ``d/dw_l[k] = d**-0.5 sum_i P[i] q[(i + k) mod d]``.
    """

    def __init__(self, networks, factors, Z, loss, sample_weight=None):
        self.depth, self.d = networks[0].shape
        self.signs = (1.0, -1.0)[: len(networks)]
        self.intercept = factors is not None
        self.Z, self.loss = Z, loss
        self.s = np.ones(Z.shape[0]) if sample_weight is None else sample_weight
        self.theta0 = np.concatenate([
            np.concatenate([W.ravel(), factors[c] if self.intercept else []])
            for c, W in enumerate(networks)
        ])

    def unpack(self, theta):
        size = self.depth * (self.d + self.intercept)
        for c in range(len(self.signs)):
            part = theta[c * size : (c + 1) * size]
            filters = part[: self.depth * self.d].reshape(self.depth, self.d)
            yield filters, part[self.depth * self.d :]

    def beta(self, theta):
        """The end-to-end weights (the intercept weight last)."""
        out = np.zeros(self.d + self.intercept)
        for sign, (W, c) in zip(self.signs, self.unpack(theta)):
            v = W[-1]
            for l in range(self.depth - 2, -1, -1):
                v = circulant(W[l]).T @ v
            out[: self.d] += sign * v
            if self.intercept:
                out[-1] += sign * np.prod(c)
        return out

    def neg_grad(self, theta):
        m = self.Z @ self.beta(theta)
        r = np.exp(-m) if self.loss == "exponential" else expit(-m)
        g = self.Z.T @ (self.s * r) / self.s.sum()
        parts = []
        for sign, (W, c) in zip(self.signs, self.unpack(theta)):
            layers = [circulant(w) for w in W[:-1]]
            inputs, q = [], g[: self.d]
            for C in layers:
                inputs.append(q)
                q = C @ q
            grads = [None] * (self.depth - 1) + [q]
            P = W[-1]
            for l in range(self.depth - 2, -1, -1):
                grads[l] = np.array(
                    [P @ np.roll(inputs[l], -k) for k in range(self.d)]
                ) / np.sqrt(self.d)
                P = layers[l].T @ P
            parts.append(sign * np.concatenate(grads))
            if self.intercept:
                others = [np.prod(np.delete(c, l)) for l in range(self.depth)]
                parts.append(sign * g[-1] * np.array(others))
        return np.concatenate(parts)


def rms(filters):
    """The intercept factors' start: the RMS entry of every filter."""
    return np.sqrt(np.mean(filters**2, axis=-1))


def fitted_weights(clf, k=0):
    """``coef_`` and the end-to-end intercept weight of problem ``k``."""
    if not clf.fit_intercept:
        return clf.coef_[k]
    return np.append(clf.coef_[k], clf.intercept_[k] / clf.intercept_scaling)


# ---------------------------------------------------------------------------
# Exactness
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "depth, loss, fit_intercept, pair, d, weighted",
    [
        (2, "exponential", False, True, 8, False),
        (2, "logistic", True, True, 7, True),
        (3, "exponential", True, True, 6, False),
        (3, "logistic", False, False, 8, True),
        (2, "exponential", True, False, 5, False),
        (3, "exponential", False, True, 32, False),
        (2, "logistic", True, True, 12, True),
    ],
)
def test_matches_filter_ode(depth, loss, fit_intercept, pair, d, weighted):
    X, y = separable_problem(10, d, seed=d)
    sw = np.linspace(0.5, 2.0, 10) if weighted else None
    W = np.random.default_rng(1).standard_normal((depth, d))
    alpha, scaling, target = 0.8, 1.5, 1e-3
    networks = [alpha * W] * (2 if pair else 1)
    factors = [rms(net) for net in networks] if fit_intercept else None
    Z = design(X, y, scaling if fit_intercept else None)
    weights_ref, t_ref = FilterFlow(networks, factors, Z, loss, sw).solve(target)
    clf = ConvolutionalLinearClassifier(
        alpha=alpha, depth=depth, init=W if pair else W[None], loss=loss,
        target_loss=target, fit_intercept=fit_intercept, intercept_scaling=scaling,
    )
    errors = []
    for tol in [1e-6, 1e-9]:
        clf.set_params(tol=tol).fit(X, y, sample_weight=sw)
        errors.append(relative_error(fitted_weights(clf), weights_ref))
        assert errors[-1] < tol
        assert 10 ** clf.log10_time_[0] == pytest.approx(t_ref, rel=100 * tol)
        assert clf.loss_[0] == pytest.approx(target, rel=1e-12)
    assert errors[1] < errors[0] / 100


@pytest.mark.parametrize("pair", [True, False])
@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("intercept", [False, True])
def test_network_velocity_is_gradient_flow_of_the_filters(pair, depth, intercept):
    # At an arbitrary state (the pair's two networks apart): the network's
    # state velocity, read as filters, equals minus the gradient of
    # <g, weights> with respect to the filters and intercept factors, from
    # the definition by central differences; and the power is g . dw/dt.
    d = 7
    rng = np.random.default_rng(depth + 2 * pair + 4 * intercept)
    filters = rng.standard_normal((2 if pair else 1, depth, d))
    net = ConvolutionalNetwork(filters, intercept=intercept)
    state = net.initial_state()
    g = rng.standard_normal(d + intercept)
    g /= np.abs(g).max()
    direction, log_speed, log_power = net.velocity(state, g)
    filter_velocity, factor_velocity = net.filters(math.exp(log_speed) * direction)
    factors = rms(filters)

    def weights(params):
        W = params[: filters.size].reshape(filters.shape)
        out = [end_to_end(W[0]) - (end_to_end(W[1]) if pair else 0.0)]
        if intercept:
            c = params[filters.size :].reshape(factors.shape)
            out.append([np.prod(c[0]) - (np.prod(c[1]) if pair else 0.0)])
        return np.concatenate(out)

    params = np.concatenate([filters.ravel(), factors.ravel() if intercept else []])
    eps = 1e-6
    gradient = np.array([
        g @ (weights(params + eps * e) - weights(params - eps * e)) / (2 * eps)
        for e in np.eye(params.size)
    ])
    velocity = np.concatenate(
        [filter_velocity.ravel(), factor_velocity.ravel() if intercept else []]
    )
    np.testing.assert_allclose(velocity, gradient, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(log_power, np.log(gradient @ gradient), rtol=0, atol=1e-8)
    # the state's end-to-end weights are those of its filters
    np.testing.assert_allclose(net.coef(state), weights(params), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("pair", [True, False])
@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("d", [7, 8])
def test_batched_velocities_and_coef_jacobian(pair, depth, intercept, d):
    # The optional batched forms that the stiff steps' data Jacobian uses,
    # at an arbitrary state (the pair's two networks apart), odd and even d
    # (the real frequencies 0 and d / 2): velocities equal velocity column
    # by column (linear in g, not normalized), coef_jacobian_product equals
    # a central difference quotient of coef.
    from sklearn_implicit._integrate.krylov import _velocity

    rng = np.random.default_rng(depth + 2 * pair + 4 * intercept + 8 * d)
    filters = rng.standard_normal((2 if pair else 1, depth, d))
    factors = rng.standard_normal(filters.shape[:2]) if intercept else None
    net = ConvolutionalNetwork(filters, intercept=intercept, factors=factors)
    state = net.initial_state()
    # random columns of several scales, a zero one, the real frequencies
    # alone (0, and d / 2 for even d) and the last weight alone (the
    # intercept's channel where there is one)
    G = rng.standard_normal((net.n_coef, 6)) * np.logspace(-3, 3, 6)
    real = np.zeros((net.n_coef, 2))
    real[:d, 0], real[:d, 1] = 1.0, (-1.0) ** np.arange(d)
    G = np.column_stack([G, np.zeros(net.n_coef), real, np.eye(net.n_coef)[:, -1]])
    batched = net.velocities(state, G)
    looped = np.column_stack([_velocity(net, state, g) for g in G.T])
    assert batched.shape == looped.shape
    scale = np.abs(looped).max(axis=0) + 1e-300
    np.testing.assert_allclose(batched / scale, looped / scale, rtol=0, atol=1e-13)
    V = rng.standard_normal((state.size, 3))
    V_copy = V.copy()
    eps = 1e-6
    quotients = np.column_stack([(net.coef(state + eps * v) - net.coef(state - eps * v)) / (2 * eps)
                                 for v in V.T])
    exact = net.coef_jacobian_product(state, V)
    np.testing.assert_allclose(exact, quotients, rtol=0, atol=1e-8 * np.abs(quotients).max())
    np.testing.assert_array_equal(V, V_copy)
    # (the velocities come as the transpose of a C-ordered array, and the
    # data Jacobian passes them on as they are)
    np.testing.assert_array_equal(net.coef_jacobian_product(state, np.asfortranarray(V)), exact)
    # No velocity_scale: the velocity is the gradient of <g, coef> in the
    # half-spectrum coordinates with each 0 < k < d / 2 counted once, where
    # J^T g counts it for k and d - k (and the pair's (M, H) move at half
    # the rate of (A, B)): g . J v = (2 in the pair) (c * velocity) . v
    assert not hasattr(net, "velocity_scale")
    counts = np.tile(net._float_counts, state.size // net._float_counts.size)
    np.testing.assert_allclose(G.T @ exact, (1 + pair) * (counts[:, None] * batched).T @ V,
                               rtol=0, atol=1e-12 * np.abs(G.T @ exact).max())


# ---------------------------------------------------------------------------
# The Fourier form
# ---------------------------------------------------------------------------


def unitary(v):
    return np.fft.fft(v, axis=-1, norm="ortho")


@pytest.mark.parametrize("init", ["antisymmetric", "normal"])
@pytest.mark.parametrize("depth", [2, 3])
def test_coefs_give_coef_by_the_definition(init, depth):
    # Three classes: one pair of networks (or one network) per problem.
    rng = np.random.default_rng(5)
    y = np.arange(30) % 3
    X = 3.0 * np.eye(5)[y] + rng.standard_normal((30, 5))
    clf = ConvolutionalLinearClassifier(
        depth=depth, init=init, intercept_scaling=2.0, target_loss=1e-3,
        random_state=0,
    ).fit(X, y)
    pair = init == "antisymmetric"
    assert clf.coefs_.shape == ((3, 2, depth, 5) if pair else (3, depth, 5))
    assert clf.intercept_coefs_.shape == clf.coefs_.shape[:-1]
    for k in range(3):
        networks = clf.coefs_[k] if pair else clf.coefs_[k][None]
        factors = clf.intercept_coefs_[k] if pair else clf.intercept_coefs_[k][None]
        signs = (1.0, -1.0)[: len(networks)]
        beta = sum(s * end_to_end(W) for s, W in zip(signs, networks))
        np.testing.assert_allclose(clf.coef_[k], beta, rtol=1e-12, atol=1e-14)
        intercept = sum(s * np.prod(c) for s, c in zip(signs, factors))
        np.testing.assert_allclose(clf.intercept_[k], 2.0 * intercept, rtol=1e-12)
        # U beta = prod_l U w_l, frequency by frequency: no conjugation and
        # no constant in the unitary DFT
        spectra = sum(s * np.prod(unitary(W), axis=0) for s, W in zip(signs, networks))
        np.testing.assert_allclose(unitary(clf.coef_[k]), spectra, rtol=0, atol=1e-12)


def test_tangent_kernel_is_diagonal_in_the_fourier_basis():
    # K = sum_l J_l J_l^T from the definition (beta is linear in each filter,
    # so J_l's columns are the networks with w_l replaced by a basis vector)
    # equals U^* diag(K_k) U with K_k = sum_l prod_{m != l} |U w_m|_k^2.
    d, depth = 6, 3
    W = np.random.default_rng(0).standard_normal((depth, d))
    K = np.zeros((d, d))
    for l in range(depth):
        J = np.column_stack([end_to_end(np.vstack([W[:l], e, W[l + 1 :]])) for e in np.eye(d)])
        K += J @ J.T
    moduli = np.abs(unitary(W)) ** 2
    diagonal = sum(np.prod(np.delete(moduli, l, axis=0), axis=0) for l in range(depth))
    F = unitary(np.eye(d))  # symmetric: F[j, k] = exp(-2 pi i jk / d) / sqrt(d)
    np.testing.assert_allclose(K, (F.conj() @ np.diag(diagonal) @ F).real, atol=1e-12)


def conserved_differences(filters, factors):
    """Per frequency, the differences of squared moduli between adjacent
    layers (and intercept factors) of each network, and the largest squared
    modulus: what the flow conserves, and its scale."""
    moduli = np.concatenate([np.abs(unitary(filters)) ** 2, factors[..., None] ** 2], -1)
    return moduli[:, :-1] - moduli[:, 1:], moduli.max()


@pytest.mark.parametrize("depth", [2, 3])
def test_conserved_quantities_along_the_path(depth):
    # Per frequency k the differences |U w_l|_k^2 - |U w_{l+1}|_k^2 of every
    # network (and c_l^2 - c_{l+1}^2 of the intercept factors) are conserved:
    # the flow's velocity keeps them exactly (to rounding at every point of
    # the path), and the integrated path of the explicit method, whose late
    # steps are bounded by stability, to far below tol (the stiff steps:
    # test_stiff_steps_keep_the_conserved_quantities_to_tol).
    X, y = separable_problem(20, 16, seed=3)
    W = np.random.default_rng(4).standard_normal((depth, 16)) / 4.0
    start, _ = conserved_differences(np.stack([W, W]), np.stack([rms(W)] * 2))
    for tol, bound in [(1e-6, 1e-9), (1e-9, 1e-13)]:
        clf = ConvolutionalLinearClassifier(depth=depth, init=W, tol=tol, warm_start=True,
                                            solver="explicit")
        for target in [1e-2, 1e-10, 1e-100]:
            clf.set_params(target_loss=target).fit(X, y)
            filters, factors = clf.coefs_[0], clf.intercept_coefs_[0]
            now, size = conserved_differences(filters, factors)
            assert np.abs(now - start).max() < bound * size
            # the velocity there: d |w_l^_k|^2 / dt = 2 Re(conj(w_l^_k) dw_l^_k/dt)
            # is the same for every layer
            net = ConvolutionalNetwork(filters, intercept=True, factors=factors)
            state = net.initial_state()
            np.testing.assert_allclose(net.coef(state), fitted_weights(clf), rtol=1e-12)
            Z = design(X, y, 1.0)
            g = Z.T @ softmax(-Z @ fitted_weights(clf))
            dfilters, dfactors = net.filters(net.velocity(state, g / np.abs(g).max())[0])
            rates = np.concatenate([
                2 * (unitary(filters).conj() * unitary(dfilters)).real,
                2 * (factors * dfactors)[..., None],
            ], -1)
            np.testing.assert_allclose(
                rates - rates[:, :1], 0.0, atol=1e-14 * np.abs(rates).max()
            )


# ---------------------------------------------------------------------------
# Large alpha: the linearized model
# ---------------------------------------------------------------------------


def test_large_alpha_follows_the_linearized_model():
    # The pair starts at beta = 0 with the tangent kernel 2 sum_l J_l J_l^T
    # (both networks, J_l from the definition): at large alpha the fit stays
    # on the linearized flow, the half-difference of the networks resolved
    # to full relative precision although it is ~1e-4 of the filters.
    X, y = separable_problem(10, 6, seed=3)
    W = np.random.default_rng(2).standard_normal((2, 6))
    K = np.zeros((6, 6))
    for l in range(2):
        J = np.column_stack([end_to_end(np.vstack([W[:l], e, W[l + 1 :]])) for e in np.eye(6)])
        K += 2 * J @ J.T
    beta_lin = linearized_flow(K, design(X, y), 1e-3)
    errors = []
    for alpha in [10.0, 100.0, 1000.0]:
        clf = ConvolutionalLinearClassifier(
            alpha=alpha, init=W, target_loss=1e-3, tol=1e-9, fit_intercept=False
        ).fit(X, y)
        # (the linear model's answer does not depend on the kernel's scale)
        errors.append(relative_error(clf.coef_[0], beta_lin))
    # The distance to the lazy model shrinks at least like 1/alpha**2 (here
    # like 1/alpha**4: at depth 2 the pair's beta is linear in the
    # half-difference, 2 (M_1 H_2 + H_1 M_2) frequency by frequency).
    assert errors[0] > 1e3 * errors[1] > 1e6 * errors[2]
    assert errors[2] < 1e-9


# ---------------------------------------------------------------------------
# Conventions
# ---------------------------------------------------------------------------


def test_random_draw_is_the_documented_one():
    # One seed per problem from random_state, then
    # alpha * (RandomState(seed).standard_normal((depth, d)) / sqrt(d)):
    # passing that draw as init gives the same fit to the last bit.
    X, y = separable_problem(12, 5, seed=6)
    seed = check_random_state(7).randint(np.iinfo(np.int32).max, size=1)[0]
    draw = np.random.RandomState(seed).standard_normal((3, 5)) / np.sqrt(5)
    np.testing.assert_array_equal(random_filters(3, 5, np.random.RandomState(seed)), draw)
    params = dict(alpha=0.7, depth=3, target_loss=1e-2)
    for init, given in [("antisymmetric", draw), ("normal", draw[None])]:
        random = ConvolutionalLinearClassifier(init=init, random_state=7, **params).fit(X, y)
        exact = ConvolutionalLinearClassifier(init=given, **params).fit(X, y)
        np.testing.assert_array_equal(random.coef_, exact.coef_)
        np.testing.assert_array_equal(random.coefs_, exact.coefs_)
    # another seed, other filters
    other = ConvolutionalLinearClassifier(random_state=8, **params).fit(X, y)
    assert relative_error(other.coefs_[0, 0], random.coefs_[0]) > 0.5


def test_initialization_and_intercept_factors():
    X, y = separable_problem(10, 4, seed=6)
    W = np.random.default_rng(0).standard_normal((2, 4))
    # The pair starts at beta = 0 and at the loss of zero (1), the intercept
    # factors at the filters' RMS, so the intercept channel starts balanced
    # in both networks.
    clf = ConvolutionalLinearClassifier(init=W, alpha=2.0, target_loss=0.5).fit(X, y)
    assert clf.history_[0]["log10_loss"][0] == 0.0
    # One network (the papers' model): the clock starts at its own loss.
    clf = ConvolutionalLinearClassifier(
        init=W[None], alpha=2.0, intercept_scaling=0.5, target_loss=1e-3
    )
    beta0 = end_to_end(2.0 * W)
    b0 = np.prod(rms(2.0 * W))
    loss0 = np.mean(np.exp(-design(X, y, 0.5) @ np.append(beta0, b0)))
    clf.fit(X, y)
    assert clf.history_[0]["log10_loss"][0] == pytest.approx(np.log10(loss0), rel=1e-12)
    assert clf.coefs_.shape == (1, 2, 4)
    clf.set_params(fit_intercept=False).fit(X, y)
    assert clf.intercept_coefs_ is None
    np.testing.assert_array_equal(clf.intercept_, [0.0])


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@pytest.mark.parametrize("depth", [2, 3])
def test_reaches_1e_300_without_warnings(loss, depth):
    X, y = separable_problem(8, 6, seed=9)
    clf = ConvolutionalLinearClassifier(
        depth=depth, loss=loss, target_loss=1e-300, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.fit(X, y)
    assert clf.log10_loss_[0] == pytest.approx(-300, abs=1e-9)
    history = clf.history_[0]
    assert np.all(np.diff(history["log10_loss"]) < 0)
    assert np.all(np.isfinite(history["log10_time"][1:]))
    # the normalized margin the flow drives up grows once the data are separated
    late = history["min_margin"] > 0
    assert np.all(np.diff(history["fourier_margin"][late]) > 0)
    assert np.all(clf.decision_function(X)[y == 1] > 0)


def test_warm_start_continues_the_path():
    X, y = separable_problem(15, 6, seed=7)
    params = dict(depth=3, random_state=0, tol=1e-7)
    cold = ConvolutionalLinearClassifier(target_loss=1e-8, **params).fit(X, y)
    warm = ConvolutionalLinearClassifier(warm_start=True, target_loss=1e-3, **params)
    warm.fit(X, y).set_params(target_loss=1e-8).fit(X, y)
    assert relative_error(fitted_weights(warm), fitted_weights(cold)) < 1e-5
    history = warm.history_[0]
    assert history["log10_loss"][0] == 0.0
    assert history["log10_loss"][-1] == pytest.approx(-8)
    assert np.all(np.diff(history["n_evals"]) > 0)
    assert relative_error(warm.coefs_, cold.coefs_) < 1e-5


def test_sample_weight_and_sparse_input_match():
    X, y = separable_problem(12, 6, seed=8)
    params = dict(depth=3, target_loss=1e-4, random_state=0, tol=1e-7)
    weights = np.arange(12) % 3
    weighted = ConvolutionalLinearClassifier(**params).fit(X, y, sample_weight=weights)
    repeated = ConvolutionalLinearClassifier(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6)
    sparse = ConvolutionalLinearClassifier(**params).fit(
        sp.csr_matrix(X), y, sample_weight=weights
    )
    np.testing.assert_allclose(sparse.coef_, weighted.coef_, rtol=1e-10)
    np.testing.assert_allclose(sparse.intercept_, weighted.intercept_, rtol=1e-10)


def test_multiclass_independent_of_n_jobs():
    rng = np.random.default_rng(5)
    y = np.arange(30) % 3
    X = 4.0 * np.eye(4)[y % 4] + rng.standard_normal((30, 4))
    params = dict(target_loss=1e-3, random_state=0)
    one = ConvolutionalLinearClassifier(**params).fit(X, y)
    with joblib.parallel_backend("threading"):
        two = ConvolutionalLinearClassifier(n_jobs=2, **params).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    np.testing.assert_array_equal(one.coefs_, two.coefs_)
    assert one.coef_.shape == (3, 4)
    np.testing.assert_allclose(one.predict_proba(X).sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"init": np.ones((3, 4))}, ValueError, r"init must be 'antisymmetric', "
         r"'normal', or an array of the filters, of shape \(depth, n_features\) = "
         r"\(2, 4\) .* got an array of shape \(3, 4\)"),
        ({"init": np.ones((3, 2, 4))}, ValueError, r"n_networks 1 or 2; got an "
         r"array of shape \(3, 2, 4\)"),
        ({"init": np.full((2, 4), np.nan)}, ValueError, "init must be finite"),
        ({"init": "zeros"}, InvalidParameterError, "init"),
        ({"alpha": [1.0, 2.0]}, InvalidParameterError, "alpha"),
        ({"depth": 1}, InvalidParameterError, "depth"),
        ({"target_loss": 1.0}, ValueError, "target_loss must be below the loss at "
         "initialization, 1 for loss='exponential'"),
    ],
)
def test_bad_parameters(params, error, match):
    X, y = separable_problem(6, 4)
    clf = ConvolutionalLinearClassifier(random_state=0, **params)
    with pytest.raises(error, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "coef_")


# ---------------------------------------------------------------------------
# Implicit bias: sparsity in the frequency domain
# ---------------------------------------------------------------------------


def test_depth_2_spectrum_concentrates_on_the_teachers_frequencies():
    # Gunasekar et al. (2018): at depth 2 the direction tends to a stationary
    # point of min ||U beta||_1 s.t. margins >= 1. Labels from a teacher with
    # 2 active frequencies (3 and 7, so 4 nonzero coefficients of its
    # spectrum): at a tiny loss the flow's spectrum holds far more of its l1
    # mass on its top 4 coefficients than the l2 max-margin's, and its
    # Fourier-l1 normalized margin is the larger.
    d, n = 32, 30
    i = np.arange(d)
    teacher = np.cos(2 * np.pi * 3 * i / d) + 0.8 * np.sin(2 * np.pi * 7 * i / d + 0.5)
    X = np.random.default_rng(0).standard_normal((n, d))
    y = np.where(X @ teacher > 0, 1, 0)
    clf = ConvolutionalLinearClassifier(
        target_loss=1e-100, fit_intercept=False, random_state=0
    ).fit(X, y)
    svm = max_margin(X, y, norm="l2").coef

    def top_mass(beta):
        moduli = np.sort(np.abs(unitary(beta)))[::-1]
        return moduli[:4].sum() / moduli.sum()

    def fourier_margin(beta):
        return (design(X, y) @ beta).min() / np.abs(unitary(beta)).sum()

    beta = clf.coef_[0]
    assert top_mass(beta) > 1.5 * top_mass(svm)
    assert top_mass(beta) > 0.5
    assert fourier_margin(beta) > 1.1 * fourier_margin(svm)
    # the history records that margin
    assert clf.history_[0]["fourier_margin"][-1] == pytest.approx(fourier_margin(beta), rel=1e-12)
