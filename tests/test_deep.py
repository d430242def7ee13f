"""DeepLinearClassifier: exactness, implicit bias, conventions and bad input."""

import time
import warnings
from functools import reduce

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from scipy.linalg import eigh
from scipy.special import expit, softmax
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_implicit import DeepLinearClassifier, max_margin


def separable_problem(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.where(X @ rng.standard_normal(d) > 0, 1, 0)


def signed(X, y):
    return np.where(y == 1, 1.0, -1.0)[:, None] * X


def initial_networks(clf, n_coef):
    """The estimator's initial layers, one list per network of the predictor.

    Repeats the base class: one seed per binary problem is drawn from
    ``random_state`` before dispatch.
    """
    rng = check_random_state(clf.random_state)
    seed = rng.randint(np.iinfo(np.int32).max, size=1)[0]
    net = clf._make_network(
        n_coef, np.full(n_coef, float(clf.alpha)), np.random.RandomState(seed)
    )
    return [[W.copy() for W in layers] for layers in net.networks(net.initial_state())]


def product(layers):
    """End-to-end vector of one network (layers W_1 first)."""
    return reduce(lambda inner, W: W @ inner, layers).ravel()


def jacobian(layers):
    """d beta / d vec_F(W_l) for every layer, from Kronecker products.

    ``beta^T = P W_l Q`` gives ``beta = (Q^T kron P) vec_F(W_l)``.
    """
    blocks = []
    for l in range(len(layers)):
        P = reduce(np.matmul, layers[:l:-1], np.ones((1, 1)))
        Q = reduce(lambda inner, W: W @ inner, layers[:l], np.eye(layers[0].shape[1]))
        blocks.append(np.kron(Q.T, P))
    return np.hstack(blocks)


class ParameterFlow:
    """Plain gradient flow of the layer entries, independent of the package.

    The predictor is ``sum_c sign_c beta(network_c)`` (signs +1, -1), the
    parameters are the column-major layer entries, the gradient comes from
    the Kronecker Jacobian and the loss is computed directly (fine for
    moderate targets).
    """

    def __init__(self, networks, Z, loss, sample_weight=None):
        self.shapes = [W.shape for W in networks[0]]
        self.n_networks = len(networks)
        self.Z, self.loss = Z, loss
        self.s = np.ones(Z.shape[0]) if sample_weight is None else sample_weight
        self.theta0 = np.concatenate(
            [W.ravel(order="F") for net in networks for W in net]
        )

    def networks(self, theta):
        out, k = [], 0
        for _ in range(self.n_networks):
            layers = []
            for shape in self.shapes:
                size = shape[0] * shape[1]
                layers.append(theta[k : k + size].reshape(shape, order="F"))
                k += size
            out.append(layers)
        return out

    def beta(self, theta):
        nets = self.networks(theta)
        return sum(sign * product(net) for sign, net in zip((1, -1), nets))

    def loss_value(self, theta):
        m = self.Z @ self.beta(theta)
        per = np.exp(-m) if self.loss == "exponential" else np.logaddexp(0, -m)
        return self.s @ per / self.s.sum()

    def neg_grad(self, theta):
        nets = self.networks(theta)
        m = self.Z @ self.beta(theta)
        r = np.exp(-m) if self.loss == "exponential" else expit(-m)
        g = self.Z.T @ (self.s * r) / self.s.sum()
        return np.concatenate(
            [sign * jacobian(net).T @ g for sign, net in zip((1, -1), nets)]
        )

    def solve(self, target):
        """beta and the time at which the loss equals ``target`` (DOP853)."""

        def event(t, theta):
            return np.log(self.loss_value(theta)) - np.log(target)

        event.terminal = True
        sol = solve_ivp(
            lambda t, theta: self.neg_grad(theta), (0, 1e12), self.theta0,
            method="DOP853", rtol=1e-12, atol=1e-14, events=event,
        )
        return self.beta(sol.y_events[0][0]), sol.t_events[0][0]

    def descend(self, target, step):
        """Gradient descent to the loss ``target``, interpolated between the
        two iterates around it (in log-loss); beta and the time ``k * step``."""
        theta, loss, k = self.theta0, self.loss_value(self.theta0), 0
        while True:
            new = theta + step * self.neg_grad(theta)
            new_loss = self.loss_value(new)
            if new_loss <= target:
                break
            theta, loss, k = new, new_loss, k + 1
        w = np.log(loss / target) / np.log(loss / new_loss)
        return self.beta(theta + w * (new - theta)), (k + w) * step


def relative_error(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def cosine(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


# ---------------------------------------------------------------------------
# Exactness
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "init, loss, weighted",
    [
        ("antisymmetric", "exponential", False),
        ("antisymmetric", "logistic", True),
        ("normal", "exponential", True),
        ("orthogonal", "logistic", False),
    ],
)
def test_matches_parameter_ode(init, loss, weighted):
    X, y = separable_problem(8, 3, seed=1)
    sw = np.linspace(0.5, 2.0, 8) if weighted else None
    target = 1e-3
    clf = DeepLinearClassifier(
        depth=3, width=3, alpha=0.8, init=init, loss=loss, target_loss=target,
        fit_intercept=False, random_state=1,
    )
    ref = ParameterFlow(initial_networks(clf, 3), signed(X, y), loss, sw)
    beta_ref, t_ref = ref.solve(target)
    errors = []
    for tol in [1e-6, 1e-9]:
        clf.set_params(tol=tol).fit(X, y, sample_weight=sw)
        errors.append(relative_error(clf.coef_[0], beta_ref))
        assert errors[-1] < tol
        assert 10 ** clf.log10_time_[0] == pytest.approx(t_ref, rel=100 * tol)
        assert clf.loss_[0] == pytest.approx(target, rel=1e-12)
    assert errors[1] < errors[0] / 100


def test_gradient_descent_error_proportional_to_step():
    X, y = separable_problem(8, 3, seed=1)
    target = 0.05
    clf = DeepLinearClassifier(
        depth=3, width=3, alpha=0.8, target_loss=target, fit_intercept=False,
        tol=1e-10, random_state=1,
    ).fit(X, y)
    ref = ParameterFlow(initial_networks(clf, 3), signed(X, y), "exponential")
    errors = []
    for step in [0.04, 0.02, 0.01]:
        beta, t = ref.descend(target, step)
        errors.append(relative_error(beta, clf.coef_[0]))
        assert t == pytest.approx(10 ** clf.log10_time_[0], rel=10 * step)
    # First order: halving the step halves the error.
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.1)
    assert errors[-1] < 1e-4


def test_coefs_multiply_to_coef_and_intercept():
    X, y = separable_problem(12, 4, seed=2)
    for init in ["antisymmetric", "normal"]:
        clf = DeepLinearClassifier(
            depth=4, width=(5, 3, 2), init=init, intercept_scaling=2.0,
            target_loss=1e-2, random_state=0,
        ).fit(X, y)
        hidden = (5, 3, 2) if init == "normal" else (10, 6, 4)
        fan = (5, *hidden, 1)
        shapes = [(1, fan[l], fan[l + 1]) for l in range(4)]
        assert [W.shape for W in clf.coefs_] == shapes
        end_to_end = reduce(np.matmul, clf.coefs_)[:, :, 0]
        np.testing.assert_allclose(end_to_end[:, :4], clf.coef_, rtol=1e-12)
        np.testing.assert_allclose(2.0 * end_to_end[:, 4], clf.intercept_, rtol=1e-12)


# ---------------------------------------------------------------------------
# Implicit bias
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["antisymmetric", "normal"])
def test_direction_tends_to_l2_max_margin_and_layers_align(init):
    # Ji & Telgarsky (2019): the direction of beta tends to the hard-margin
    # SVM, slowly, and the layers align to rank one.
    X, y = separable_problem(20, 30)
    svm = max_margin(X, y, norm="l2").coef
    clf = DeepLinearClassifier(
        depth=3, width=16, alpha=0.1, init=init, fit_intercept=False,
        random_state=0, warm_start=True,
    )
    gaps = []
    for target in [1e-10, 1e-30, 1e-100]:
        clf.set_params(target_loss=target).fit(X, y)
        gaps.append(1 - cosine(clf.coef_[0], svm))
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[0] > 5 * gaps[2]
    assert 1 - gaps[2] >= 0.995
    history = clf.history_[0]
    assert history["log10_loss"][-1] == pytest.approx(-100)
    late = history["log10_loss"] <= -10
    for key in ["alignment_min", "adjacent_alignment_min"]:
        values = history[key][late]
        assert values[-1] > values[0]
        assert values[-1] > 0.99
    assert np.all(history["alignment_min"] <= 1 + 1e-12)


def linearized_flow(K, Z, target):
    """Flow of the model linearized at initialization: d beta/dt = K g.

    In the clock tau = -log L of the exponential loss from beta = 0:
    d beta/d tau = K h / (h . K h) with h = Z^T softmax(-Z beta).
    """

    def rhs(tau, beta):
        h = Z.T @ softmax(-Z @ beta)
        Kh = K @ h
        return Kh / (h @ Kh)

    sol = solve_ivp(
        rhs, (0.0, -np.log(target)), np.zeros(K.shape[0]), method="DOP853",
        rtol=1e-12, atol=1e-14,
    )
    return sol.y[:, -1]


def tangent_kernel(clf, n_coef):
    """K = J J^T at initialization (beta-space), trace-normalized."""
    K = sum(J @ J.T for J in map(jacobian, initial_networks(clf, n_coef)))
    return K / np.trace(K)


def test_large_alpha_follows_linearized_model():
    X, y = separable_problem(10, 4, seed=3)
    Z = signed(X, y)
    errors = []
    for alpha in [10.0, 30.0, 100.0]:
        clf = DeepLinearClassifier(
            depth=2, width=3, alpha=alpha, target_loss=1e-3, tol=1e-9,
            fit_intercept=False, random_state=0,
        ).fit(X, y)
        beta_lin = linearized_flow(tangent_kernel(clf, 4), Z, 1e-3)
        errors.append(relative_error(clf.coef_[0], beta_lin))
    # The distance to the lazy model shrinks at least like 1/alpha**2.
    assert errors[0] > 9 * errors[1] > 81 * errors[2]
    assert errors[2] < 1e-6


def test_large_alpha_small_loss_direction_is_kernel_max_margin():
    # The linearized flow tends to the hard-margin SVM in the metric K^{-1}:
    # argmin b^T K^{-1} b s.t. Z b >= 1, i.e. b = K^{1/2} c with c the SVM of
    # the features X K^{1/2}. With a small, anisotropic K (width 3) it differs
    # from the plain SVM direction.
    X, y = separable_problem(10, 4, seed=3)
    Z = signed(X, y)
    clf = DeepLinearClassifier(
        depth=3, width=3, alpha=1e3, tol=1e-8, fit_intercept=False, random_state=0,
        warm_start=True,
    )
    K = tangent_kernel(clf, 4)
    lam, V = eigh(K)
    K_half = (V * np.sqrt(lam)) @ V.T
    kernel_svm = K_half @ max_margin(X @ K_half, y, norm="l2").coef
    svm = max_margin(X, y, norm="l2").coef
    assert 1 - cosine(kernel_svm, svm) > 0.01
    gaps = []
    for target in [1e-20, 1e-50]:
        clf.set_params(target_loss=target).fit(X, y)
        beta = clf.coef_[0]
        assert relative_error(beta, linearized_flow(K, Z, target)) < 1e-6
        gaps.append(1 - cosine(beta, kernel_svm))
    assert gaps[1] < gaps[0] / 2
    assert gaps[1] < 1e-4
    assert 1 - cosine(beta, svm) > 0.01


# ---------------------------------------------------------------------------
# Conventions
# ---------------------------------------------------------------------------


def test_deterministic_for_fixed_random_state():
    X, y = separable_problem(15, 5, seed=4)
    params = dict(depth=3, width=6, init="normal", target_loss=0.1)
    a = DeepLinearClassifier(random_state=7, **params).fit(X, y)
    b = DeepLinearClassifier(random_state=7, **params).fit(X, y)
    c = DeepLinearClassifier(random_state=8, **params).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    for Wa, Wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(Wa, Wb)
    # Another seed: other layers, and (at a moderate loss) another beta.
    assert relative_error(a.coefs_[0], c.coefs_[0]) > 0.5
    assert relative_error(a.coef_[0], c.coef_[0]) > 1e-2


def test_multiclass_independent_of_n_jobs():
    # Three clusters, each separable from the other two.
    rng = np.random.default_rng(5)
    y = np.arange(30) % 3
    X = 4.0 * np.eye(3)[y] + rng.standard_normal((30, 3))
    params = dict(depth=2, width=4, target_loss=1e-3, random_state=0)
    one = DeepLinearClassifier(**params).fit(X, y)
    with joblib.parallel_backend("threading"):
        two = DeepLinearClassifier(n_jobs=2, **params).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    assert one.coef_.shape == (3, 3)
    assert [W.shape[0] for W in one.coefs_] == [3, 3]
    for k in range(3):
        np.testing.assert_allclose(
            reduce(np.matmul, [W[k] for W in one.coefs_])[:3, 0], one.coef_[k],
            rtol=1e-12,
        )
    proba = one.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_random_init_starts_at_its_own_loss():
    # With init='normal' beta(0) != 0: the clock starts at the actual initial
    # loss, which may lie above 1, and a target below it is accepted.
    X, y = separable_problem(10, 3, seed=6)
    clf = DeepLinearClassifier(
        depth=2, width=4, alpha=2.0, init="normal", fit_intercept=False, random_state=3
    )
    beta0 = sum(
        sign * product(net) for sign, net in zip((1, -1), initial_networks(clf, 3))
    )
    loss0 = np.mean(np.exp(-signed(X, y) @ beta0))
    assert loss0 > 1.5
    clf.set_params(target_loss=1.5).fit(X, y)
    assert clf.history_[0]["log10_loss"][0] == pytest.approx(np.log10(loss0), rel=1e-12)
    assert clf.loss_[0] == pytest.approx(1.5, rel=1e-12)
    with pytest.raises(ValueError, match=r"target_loss must be below the loss at "
                       r"initialization, .* got target_loss=.*"):
        clf.set_params(target_loss=1.01 * loss0).fit(X, y)


def test_warm_start_continues_the_path():
    X, y = separable_problem(15, 5, seed=7)
    params = dict(depth=3, width=5, random_state=0, tol=1e-7)
    cold = DeepLinearClassifier(target_loss=1e-8, **params).fit(X, y)
    warm = DeepLinearClassifier(warm_start=True, target_loss=1e-3, **params).fit(X, y)
    warm.set_params(target_loss=1e-8).fit(X, y)
    assert relative_error(warm.coef_[0], cold.coef_[0]) < 1e-5
    assert warm.history_[0]["log10_loss"][0] == 0.0
    assert warm.history_[0]["log10_loss"][-1] == pytest.approx(-8)


def test_sample_weight_and_sparse_input_match():
    X, y = separable_problem(12, 4, seed=8)
    params = dict(depth=3, width=4, target_loss=1e-4, random_state=0, tol=1e-7)
    weights = np.arange(12) % 3
    weighted = DeepLinearClassifier(**params).fit(X, y, sample_weight=weights)
    repeated = DeepLinearClassifier(**params).fit(
        np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6)
    sparse = DeepLinearClassifier(**params).fit(
        sp.csr_matrix(X), y, sample_weight=weights
    )
    np.testing.assert_allclose(sparse.coef_, weighted.coef_, rtol=1e-10)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"width": (4, 4)}, ValueError, r"width must be a positive int or a sequence "
         r"of depth - 1 = 1 positive ints"),
        ({"width": (2.5,)}, ValueError, "width must be"),
        ({"width": 0}, InvalidParameterError, "width"),
        ({"alpha": [1.0, 2.0]}, InvalidParameterError, "alpha"),
        ({"init": "zeros"}, InvalidParameterError, "init"),
        ({"target_loss": 1.0}, ValueError, "target_loss must be below the loss at "
         "initialization, 1 for loss='exponential'"),
    ],
)
def test_bad_parameters(params, error, match):
    X, y = separable_problem(6, 2)
    with pytest.raises(error, match=match):
        DeepLinearClassifier(random_state=0, **params).fit(X, y)


# ---------------------------------------------------------------------------
# Cost (for the benchmarks)
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_cost_depth3_width100():
    X, y = separable_problem(200, 1000)
    for init in ["antisymmetric", "normal"]:
        clf = DeepLinearClassifier(
            depth=3, width=100, target_loss=1e-10, init=init, random_state=0
        )
        start = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - start
        print(f"{init}: {clf.n_grad_evals_[0]} gradient evaluations, "
              f"{clf.n_iter_} steps, {seconds:.2f} s")
        assert clf.log10_loss_[0] == pytest.approx(-10)
        assert clf.n_grad_evals_[0] < 1000


def test_large_alpha_deep_network_stops_at_the_target():
    # A fuzz case: at alpha=1000 and depth 9 the layers' error scale is
    # blind to a drift of the loss from the clock (6.7 units of -log L in a
    # step, measured with the layers' error alone), after which the stop
    # correction ends above the target. The integrator also bounds the drift
    # of the loss from the clock.
    X = np.array([[3.45584192, 8.21618144, 3.30437076, -13.03157232],
                  [9.05355867, 4.46374572, -5.36953235, 5.81118104]])
    y = np.array([0, 1])
    est = DeepLinearClassifier(width=3, random_state=0, alpha=1000.0, depth=9,
                               target_loss=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.fit(X, y)
    assert -10 - 1e-9 <= est.log10_loss_[0] <= -10
