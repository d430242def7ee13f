"""Tests of sklearn_implicit.analysis.margins and .max_margin: normalized margins and exact max margins."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog, minimize
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from sklearn_implicit.analysis import MaxMarginResult, max_margin, normalized_margin

SQRT2 = np.sqrt(2.0)
SQRT5 = np.sqrt(5.0)
DUAL = {"l2": 2, "l1": np.inf, "linf": 1}  # dual norm of each primal norm
P = {"l2": 2, "l1": 1, "linf": np.inf}


def _signs(y):
    return np.where(np.asarray(y) == np.unique(y)[1], 1.0, -1.0)


def _separable(rng, n, d, intercept=0.0, offset=0.0, return_teacher=False):
    """Data labeled by a random teacher ``sign(x . w + c)``."""
    X = rng.standard_normal((n, d)) + offset
    w = rng.standard_normal(d)
    c = intercept - offset * w.sum()
    y = (X @ w + c > 0).astype(int)
    if return_teacher:
        return X, y, w, c
    return X, y


def _assert_kkt(res, X, y, norm, fit_intercept, atol=1e-10):
    """Check a MaxMarginResult against the optimality conditions.

    Primal: ``||coef||_p = 1`` and ``margin = min_i m_i``. Dual: the weights
    ``lambda`` are in the simplex, vanish off the support, satisfy
    ``sum_i lambda_i s_i = 0`` with an intercept, and
    ``||Z^T lambda||_q = margin``. By weak duality the last equality proves
    that no unit-norm direction has a larger margin.
    """
    s = _signs(y)
    Z = s[:, None] * X
    m = s * (X @ res.coef + res.intercept)
    lam = res.dual_coef
    gamma = res.margin
    assert np.linalg.norm(res.coef, P[norm]) == pytest.approx(1.0, abs=1e-13)
    assert m.min() == pytest.approx(gamma, rel=1e-12)
    # support = active constraints
    active = np.flatnonzero(m - gamma <= 1e-9 * np.abs(m).max())
    np.testing.assert_array_equal(res.support, active)
    # dual feasibility and complementary slackness
    assert np.all(lam >= 0)
    assert lam.sum() == pytest.approx(1.0, abs=1e-14)
    off = np.setdiff1d(np.arange(len(y)), res.support)
    assert np.all(lam[off] == 0)
    assert np.max(lam * (m - gamma)) <= atol * gamma
    if fit_intercept:
        assert abs(s @ lam) <= atol
    # strong duality
    assert np.linalg.norm(Z.T @ lam, DUAL[norm]) == pytest.approx(gamma, rel=atol)
    if norm == "l2":
        # stationarity: the direction is proportional to Z^T lambda
        np.testing.assert_allclose(Z.T @ lam, gamma * res.coef, atol=atol * gamma)


# ---------------------------------------------------------------------------
# max_margin: hand-solvable problems
# ---------------------------------------------------------------------------


def test_hand_three_points_no_intercept():
    # z_i = s_i x_i: (2, 1), (2, 1), (1, 2).
    # l2: min ||b|| s.t. 2 b1 + b2 >= 1, b1 + 2 b2 >= 1 -> by symmetry
    #     b = (1/3, 1/3), both constraints active, coef = (1, 1)/sqrt2,
    #     margin = 1/||b|| = 3/sqrt2. Stationarity Z^T lam ~ (1, 1) forces
    #     lam_0 + lam_1 = lam_2 = 1/2.
    # l1: on b1 + b2 = 1, b >= 0, min(1 + b1, 1 + b2) is largest at
    #     b = (1/2, 1/2): margin 3/2.
    # linf: b = (1, 1) maximizes both margins: margin 3.
    X = np.array([[2.0, 1.0], [-2.0, -1.0], [1.0, 2.0]])
    y = np.array([1, -1, 1])
    res = max_margin(X, y)
    assert isinstance(res, MaxMarginResult)
    np.testing.assert_allclose(res.coef, [1 / SQRT2, 1 / SQRT2], atol=1e-15)
    assert res.margin == pytest.approx(3 / SQRT2, rel=1e-15)
    assert res.intercept == 0.0
    np.testing.assert_array_equal(res.support, [0, 1, 2])
    assert res.dual_coef[2] == pytest.approx(0.5, abs=1e-15)
    assert res.dual_coef[0] + res.dual_coef[1] == pytest.approx(0.5, abs=1e-15)
    _assert_kkt(res, X, y, "l2", False)

    res = max_margin(X, y, norm="l1")
    np.testing.assert_allclose(res.coef, [0.5, 0.5], atol=1e-15)
    assert res.margin == pytest.approx(1.5, rel=1e-15)
    _assert_kkt(res, X, y, "l1", False)

    res = max_margin(X, y, norm="linf")
    np.testing.assert_allclose(res.coef, [1.0, 1.0], atol=1e-15)
    assert res.margin == pytest.approx(3.0, rel=1e-15)


def test_hand_norms_give_different_directions():
    # A single distinct z = (2, 1): the l2 answer is z/||z|| (margin sqrt5),
    # l1 puts all weight on the largest coordinate (coef (1, 0), margin 2),
    # linf takes the signs (coef (1, 1), margin 3).
    X = np.array([[2.0, 1.0], [-2.0, -1.0]])
    y = ["b", "a"]  # "b" is classes_[1] -> +1
    expected = {
        "l2": ([2 / SQRT5, 1 / SQRT5], SQRT5),
        "l1": ([1.0, 0.0], 2.0),
        "linf": ([1.0, 1.0], 3.0),
    }
    for norm, (coef, margin) in expected.items():
        res = max_margin(X, y, norm=norm)
        np.testing.assert_allclose(res.coef, coef, atol=1e-15)
        assert res.margin == pytest.approx(margin, rel=1e-15)
        np.testing.assert_array_equal(res.support, [0, 1])
        _assert_kkt(res, X, y, norm, False)


def test_hand_intercept_two_points():
    # x+ = (2, 1), x- = (0, 0). With a free intercept the l2 max margin is
    # half the distance between the classes, sqrt5/2, along (2, 1)/sqrt5,
    # through the midpoint (1, 1/2): intercept = -(2 + 1/2)/sqrt5 = -sqrt5/2.
    # l1: c = -gamma and 2 b1 + b2 >= 2 gamma, best b = (1, 0): gamma = 1.
    # linf: b = (1, 1): 3 = 2 gamma, gamma = 3/2, intercept -3/2.
    X = np.array([[2.0, 1.0], [0.0, 0.0]])
    y = np.array([1, 0])
    expected = {
        "l2": ([2 / SQRT5, 1 / SQRT5], -SQRT5 / 2, SQRT5 / 2),
        "l1": ([1.0, 0.0], -1.0, 1.0),
        "linf": ([1.0, 1.0], -1.5, 1.5),
    }
    for norm, (coef, intercept, margin) in expected.items():
        res = max_margin(X, y, norm=norm, fit_intercept=True)
        np.testing.assert_allclose(res.coef, coef, atol=1e-15)
        assert res.intercept == pytest.approx(intercept, abs=1e-15)
        assert res.margin == pytest.approx(margin, rel=1e-15)
        np.testing.assert_allclose(res.dual_coef, [0.5, 0.5], atol=1e-15)
        _assert_kkt(res, X, y, norm, True)
    # Through the origin the point (0, 0) has margin 0 for every direction.
    with pytest.raises(ValueError, match="not linearly separable by a hyperplane"):
        max_margin(X, y)


@pytest.mark.parametrize("shift", [0.0, 1000.0])
def test_hand_intercept_point_and_segment(shift):
    # Positives (-1, 1), (1, 1) span a segment; the negative (0, -1) is at
    # distance 2 from it: coef (0, 1), margin 1, intercept 0 (the hyperplane
    # x2 = 0). Shifting all points by (shift, shift) changes the intercept to
    # -shift only. Dual: lam_2 = 1/2 (balance), and Z^T lam = (0, 1) gives
    # lam_0 = lam_1 = 1/4.
    X = np.array([[-1.0, 1.0], [1.0, 1.0], [0.0, -1.0]]) + shift
    y = np.array([1, 1, 0])
    res = max_margin(X, y, fit_intercept=True)
    np.testing.assert_allclose(res.coef, [0.0, 1.0], atol=1e-15)
    assert res.intercept == pytest.approx(-shift, abs=1e-12)
    assert res.margin == pytest.approx(1.0, rel=1e-13)
    np.testing.assert_array_equal(res.support, [0, 1, 2])
    np.testing.assert_allclose(res.dual_coef, [0.25, 0.25, 0.5], atol=1e-14)
    _assert_kkt(res, X, y, "l2", True)


def test_hand_degenerate_support():
    # z = (1, 0), (1, 1), (1, -1), (1, -1/2): b = (1, 0) meets all four
    # constraints with equality, so min ||b|| = 1 at b = (1, 0) (b1 >= 1 is
    # a constraint). The multipliers are not unique (lam_1 = lam_2 + lam_3/2
    # is the only condition on the second coordinate).
    X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, -1.0], [-1.0, 0.5]])
    y = np.array([1, 1, 1, 0])
    for norm in ["l2", "l1", "linf"]:
        res = max_margin(X, y, norm=norm)
        if norm == "l2":
            np.testing.assert_allclose(res.coef, [1.0, 0.0], atol=1e-15)
            assert res.margin == pytest.approx(1.0, rel=1e-15)
            np.testing.assert_array_equal(res.support, [0, 1, 2, 3])
        _assert_kkt(res, X, y, norm, False)
    # linf: b = (1, t) has margin 1 - |t| ... at best 1 (t = 0).
    assert max_margin(X, y, norm="linf").margin == pytest.approx(1.0, rel=1e-14)


# ---------------------------------------------------------------------------
# max_margin: random problems, optimality conditions, independent solvers
# ---------------------------------------------------------------------------


def _slsqp_l2(X, y, fit_intercept, teacher, teacher_intercept):
    """Independent l2 reference: min ||b||^2 s.t. s_i (x_i . b + c) >= 1.

    SLSQP started from the (rescaled, feasible) teacher that labeled the data.
    """
    s = _signs(y)
    Z = s[:, None] * X
    d = X.shape[1]
    A = np.column_stack([Z, s]) if fit_intercept else Z
    w0 = np.append(teacher, teacher_intercept) if fit_intercept else teacher
    w0 = 1.5 * w0 / (A @ w0).min()
    mask = np.ones(A.shape[1])
    if fit_intercept:
        mask[-1] = 0.0
    out = minimize(
        lambda w: 0.5 * np.sum((mask * w) ** 2),
        w0,
        jac=lambda w: mask * w,
        constraints=[{"type": "ineq", "fun": lambda w: A @ w - 1, "jac": lambda w: A}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    assert out.success, out.message
    b = out.x[:d]
    c = out.x[d] if fit_intercept else 0.0
    return b / np.linalg.norm(b), c / np.linalg.norm(b)


@pytest.mark.parametrize(
    "n, d, fit_intercept, offset",
    [(40, 200, False, 0.0), (50, 5, False, 0.0), (50, 5, True, 3.0), (40, 200, True, 0.0)],
)
def test_l2_random_kkt_and_slsqp(n, d, fit_intercept, offset):
    rng = np.random.default_rng(n + d)
    X, y, w, c = _separable(
        rng, n, d, intercept=0.4 if fit_intercept else 0.0, offset=offset, return_teacher=True
    )
    res = max_margin(X, y, fit_intercept=fit_intercept)
    _assert_kkt(res, X, y, "l2", fit_intercept, atol=1e-12)
    # The support determines the answer: the KKT system of
    # min ||b||^2/2 s.t. Z_S b + s_S c = 1 reproduces (coef, intercept).
    s = _signs(y)
    S = res.support
    A = s[S, None] * X[S]
    if fit_intercept:
        A = np.column_stack([A, s[S]])
    k, nS = int(fit_intercept), len(S)
    H = np.diag(np.r_[np.ones(d), np.zeros(k)])
    K = np.block([[H, -A.T], [A, np.zeros((nS, nS))]])
    sol = np.linalg.lstsq(K, np.r_[np.zeros(d + k), np.ones(nS)], rcond=None)[0]
    b = sol[:d]
    np.testing.assert_allclose(b / np.linalg.norm(b), res.coef, atol=1e-10)
    if fit_intercept:
        assert sol[d] / np.linalg.norm(b) == pytest.approx(res.intercept, abs=1e-10)
    coef, intercept = _slsqp_l2(X, y, fit_intercept, w, c)
    np.testing.assert_allclose(res.coef, coef, atol=1e-6)
    assert res.intercept == pytest.approx(intercept, abs=1e-6)
    # no other direction does better: SLSQP's margin is not larger
    slsqp_margin = normalized_margin(coef, X, y, intercept=intercept)
    assert slsqp_margin <= res.margin * (1 + 1e-12)


def _l1_min_norm_lp(X, y, fit_intercept):
    """Independent l1 reference: min ||b||_1 s.t. s_i (x_i . b + c) >= 1.

    Interior-point method on a different formulation (|b| bounded by t);
    the maximal normalized margin is 1 / min ||b||_1.
    """
    s = _signs(y)
    Z = s[:, None] * X
    n, d = X.shape
    k = int(fit_intercept)
    # x = [b (d), t (d), c (k)]: minimize sum t, -t <= b <= t, Z b + s c >= 1
    cost = np.concatenate([np.zeros(d), np.ones(d), np.zeros(k)])
    I = np.eye(d)
    rows = [
        np.hstack([I, -I, np.zeros((d, k))]),
        np.hstack([-I, -I, np.zeros((d, k))]),
        np.hstack([-Z, np.zeros((n, d))] + ([-s[:, None]] if k else [])),
    ]
    rhs = np.concatenate([np.zeros(2 * d), -np.ones(n)])
    out = linprog(cost, A_ub=np.vstack(rows), b_ub=rhs, bounds=(None, None), method="highs-ipm")
    assert out.status == 0
    return 1.0 / out.fun


@pytest.mark.parametrize(
    "n, d, fit_intercept", [(40, 200, False), (50, 5, False), (50, 5, True), (30, 8, True)]
)
def test_l1_random_against_independent_lp(n, d, fit_intercept):
    rng = np.random.default_rng(7 * n + d)
    X, y = _separable(rng, n, d, intercept=-0.3 if fit_intercept else 0.0)
    res = max_margin(X, y, norm="l1", fit_intercept=fit_intercept)
    assert res.margin == pytest.approx(_l1_min_norm_lp(X, y, fit_intercept), rel=1e-7)
    _assert_kkt(res, X, y, "l1", fit_intercept, atol=1e-8)


def test_l1_brute_force_2d():
    # Every unit-l1 direction in 2-D is (cos t, sin t) / (|cos t| + |sin t|):
    # a fine grid of t bounds the optimum from below to O(grid step).
    rng = np.random.default_rng(11)
    X, y = _separable(rng, 12, 2)
    res = max_margin(X, y, norm="l1")
    Z = _signs(y)[:, None] * X

    def grid_margins(t):
        B = np.column_stack([np.cos(t), np.sin(t)])
        B /= np.abs(B).sum(axis=1, keepdims=True)
        return (Z @ B.T).min(axis=0)

    t = np.linspace(0, 2 * np.pi, 100_001)
    coarse = grid_margins(t)
    step = t[1] - t[0]
    t_best = t[np.argmax(coarse)]
    fine_t = np.linspace(t_best - step, t_best + step, 100_001)
    best = grid_margins(fine_t).max()
    assert max(coarse.max(), best) <= res.margin * (1 + 1e-12)
    assert best == pytest.approx(res.margin, rel=1e-8)


def test_linf_random_kkt():
    rng = np.random.default_rng(5)
    X, y = _separable(rng, 30, 6, intercept=0.2)
    for fit_intercept in [False, True]:
        res = max_margin(X, y, norm="linf", fit_intercept=fit_intercept)
        _assert_kkt(res, X, y, "linf", fit_intercept, atol=1e-8)


def test_max_margin_scale_and_label_invariance():
    rng = np.random.default_rng(2)
    X, y = _separable(rng, 20, 4, intercept=0.5)
    ref = max_margin(X, y, fit_intercept=True)
    scaled = max_margin(3.0 * X, y, fit_intercept=True)
    np.testing.assert_allclose(scaled.coef, ref.coef, atol=1e-13)
    assert scaled.margin == pytest.approx(3 * ref.margin, rel=1e-13)
    assert scaled.intercept == pytest.approx(3 * ref.intercept, rel=1e-12)
    # string labels with the same order give the same answer; swapping the
    # order of the classes flips the direction
    labels = np.array(["neg", "pos"])
    same = max_margin(X, labels[y], fit_intercept=True)
    np.testing.assert_allclose(same.coef, ref.coef, atol=1e-15)
    flipped = max_margin(X, 1 - y, fit_intercept=True)
    np.testing.assert_allclose(flipped.coef, -ref.coef, atol=1e-13)
    assert flipped.intercept == pytest.approx(-ref.intercept, abs=1e-13)


def test_max_margin_sparse_and_lists():
    rng = np.random.default_rng(4)
    X, y = _separable(rng, 15, 6)
    X[np.abs(X) < 0.5] = 0.0
    dense = max_margin(X, y)
    for Xs in [sp.csr_matrix(X), sp.csc_matrix(X), X.tolist()]:
        res = max_margin(Xs, list(y))
        np.testing.assert_allclose(res.coef, dense.coef, atol=1e-15)
        assert res.margin == pytest.approx(dense.margin, rel=1e-15)


def test_l2_fallback_warns(monkeypatch):
    # If the KKT polishing can never certify a solution, the NNLS solution is
    # returned with a ConvergenceWarning; without intercept it is still the
    # exact LDP solution up to rounding.
    import sklearn_implicit.analysis.separators as margins

    rng = np.random.default_rng(12)
    X, y = _separable(rng, 20, 3)
    ref = max_margin(X, y)
    monkeypatch.setattr(margins, "_KKT_RTOL", -1.0)
    with pytest.warns(ConvergenceWarning, match="did not verify the KKT"):
        res = margins.max_margin(X, y)
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-10)
    assert res.margin == pytest.approx(ref.margin, rel=1e-10)


def test_max_margin_result_is_a_tuple():
    res = max_margin([[1.0, 0.0], [-1.0, 0.0]], [1, 0])
    coef, intercept, margin, support = res
    np.testing.assert_allclose(coef, [1.0, 0.0], atol=1e-15)
    assert (intercept, margin) == (0.0, pytest.approx(1.0, rel=1e-15))
    np.testing.assert_array_equal(support, [0, 1])
    assert res.margin == margin


# ---------------------------------------------------------------------------
# max_margin: errors
# ---------------------------------------------------------------------------

XOR_X = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
XOR_Y = np.array([0, 0, 1, 1])


@pytest.mark.parametrize("norm", ["l2", "l1", "linf"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_max_margin_not_separable(norm, fit_intercept):
    with pytest.raises(ValueError, match="not linearly separable.*only defined"):
        max_margin(XOR_X, XOR_Y, norm=norm, fit_intercept=fit_intercept)


def test_max_margin_not_separable_through_origin_only():
    # separable with an intercept, not through the origin (both classes on
    # the same side of every line through 0 cannot be split)
    X = np.array([[1.0, 1.0], [2.0, 2.0]])
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="not linearly separable"):
        max_margin(X, y)
    res = max_margin(X, y, fit_intercept=True)
    assert res.margin == pytest.approx(np.sqrt(2) / 2, rel=1e-14)
    with pytest.raises(ValueError, match="all samples are equal"):
        max_margin(np.ones((3, 2)), [0, 1, 1], fit_intercept=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"norm": "l3"}, "norm must be 'l1', 'l2', 'linf' or 'fourier-l1'; got 'l3'"),
        ({"norm": 2}, "norm must be 'l1', 'l2', 'linf' or 'fourier-l1'"),
        ({"norm": None}, "norm must be"),
        ({"fit_intercept": "yes"}, "fit_intercept must be a boolean"),
        ({"fit_intercept": 1}, "fit_intercept must be a boolean"),
    ],
)
def test_max_margin_bad_parameters(kwargs, match):
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    with pytest.raises(ValueError, match=match):
        max_margin(X, [1, 0], **kwargs)


def test_max_margin_bad_data():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="binary y only; got 3 classes"):
        max_margin(X, [0, 1, 2])
    with pytest.raises(ValueError, match="single class"):
        max_margin(X, [1, 1, 1])
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        max_margin(X[:1], [1])
    with pytest.raises(ValueError, match="NaN"):
        max_margin(np.array([[np.nan, 0.0], [1.0, 0.0]]), [0, 1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        max_margin(X, [0, 1])


# ---------------------------------------------------------------------------
# normalized_margin
# ---------------------------------------------------------------------------


def test_normalized_margin_raw_array_by_hand():
    # z = (2, 1) and (1, 1) (second sample has label 0 -> -1 at x = (-1, -1)).
    # beta = (1, 2): margins 4 and 3 -> min 3, ||beta||_2 = sqrt5,
    # ||beta||_1 = 3, ||beta||_inf = 2, ||beta||_{1/2} = (1 + sqrt2)^2.
    X = np.array([[2.0, 1.0], [-1.0, -1.0]])
    y = np.array([1, 0])
    beta = np.array([1.0, 2.0])
    assert normalized_margin(beta, X, y) == pytest.approx(3 / SQRT5, rel=1e-15)
    assert normalized_margin(beta, X, y, norm="l1") == pytest.approx(1.0, rel=1e-15)
    assert normalized_margin(beta, X, y, norm="linf") == pytest.approx(1.5, rel=1e-15)
    assert normalized_margin(beta, X, y, norm=0.5) == pytest.approx(
        3 / (1 + SQRT2) ** 2, rel=1e-14
    )
    assert normalized_margin(beta, X, y, norm=np.inf) == pytest.approx(1.5, rel=1e-15)
    # intercept 1: margins 5 and 2
    assert normalized_margin(beta, X, y, intercept=1.0) == pytest.approx(2 / SQRT5, rel=1e-15)
    # labels already in {-1, +1}, even a single class
    assert normalized_margin(beta, X, [1, -1]) == pytest.approx(3 / SQRT5, rel=1e-15)
    assert normalized_margin(beta, X[:1], [1]) == pytest.approx(4 / SQRT5, rel=1e-15)
    # a (1, d) array is accepted; the margin can be negative
    assert normalized_margin(-beta[None, :], X, y) == pytest.approx(-4 / SQRT5, rel=1e-15)
    # invariant to positive rescaling of (beta, b)
    assert normalized_margin(7 * beta, X, y, intercept=7.0) == pytest.approx(
        2 / SQRT5, rel=1e-15
    )


@pytest.mark.parametrize("p", [2 / 3, 0.25, 1.5, 3.0])
def test_normalized_margin_quasi_norm_formula(p):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((25, 7))
    y = rng.integers(0, 2, 25)
    beta = rng.standard_normal(7)
    z = np.where(y == 1, 1.0, -1.0)
    expected = np.min(z * (X @ beta + 0.3)) / np.sum(np.abs(beta) ** p) ** (1 / p)
    got = normalized_margin(beta, X, y, norm=p, intercept=0.3)
    assert got == pytest.approx(expected, rel=1e-13)
    # no overflow for huge coefficients
    got_big = normalized_margin(beta * 1e200, X, y, norm=p, intercept=0.3e200)
    assert got_big == pytest.approx(expected, rel=1e-13)


def test_normalized_margin_matches_max_margin():
    rng = np.random.default_rng(8)
    X, y = _separable(rng, 30, 4, intercept=0.3)
    for norm in ["l2", "l1", "linf"]:
        res = max_margin(X, y, norm=norm, fit_intercept=True)
        got = normalized_margin(res.coef, X, y, norm=norm, intercept=res.intercept)
        assert got == pytest.approx(res.margin, rel=1e-14)


def test_normalized_margin_binary_estimators():
    rng = np.random.default_rng(3)
    X, y01 = _separable(rng, 40, 3, intercept=0.5)
    labels = np.array(["cat", "dog"])
    y = labels[y01]
    best = max_margin(X, y, fit_intercept=True).margin
    for est in [
        LinearSVC(C=1e4, max_iter=200_000, tol=1e-10),
        LogisticRegression(C=1e4, max_iter=10_000),
    ]:
        est.fit(X, y)
        w = est.coef_.ravel()
        b = est.intercept_[0]
        z = np.where(y == est.classes_[1], 1.0, -1.0)
        expected = np.min(z * (X @ w + b)) / np.linalg.norm(w)
        got = normalized_margin(est, X, y)
        assert isinstance(got, float)
        assert got == pytest.approx(expected, rel=1e-13)
        assert got == pytest.approx(normalized_margin(w, X, y01, intercept=b), rel=1e-15)
        # a separating solution, and never better than the max margin
        assert 0 < got <= best * (1 + 1e-12)
        l1 = normalized_margin(est, X, y, norm="l1")
        assert l1 == pytest.approx(np.min(z * (X @ w + b)) / np.abs(w).sum(), rel=1e-13)
    # near-hard-margin LinearSVC approaches the exact max margin
    svc = LinearSVC(C=1e4, max_iter=200_000, tol=1e-10).fit(X, y)
    assert normalized_margin(svc, X, y) == pytest.approx(best, rel=1e-2)


def test_normalized_margin_multiclass():
    rng = np.random.default_rng(6)
    centers = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 5.0]])
    y = np.repeat([0, 1, 2], 10)
    X = centers[y] + 0.5 * rng.standard_normal((30, 2))
    for est in [LogisticRegression(max_iter=1000), LinearSVC()]:
        est.fit(X, y)
        got = normalized_margin(est, X, y, norm="l1")
        assert got.shape == (3,)
        for k in range(3):
            z = np.where(y == k, 1.0, -1.0)
            w = est.coef_[k]
            expected = np.min(z * (X @ w + est.intercept_[k])) / np.abs(w).sum()
            assert got[k] == pytest.approx(expected, rel=1e-13)


def test_normalized_margin_sparse_matches_dense():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((20, 10))
    X[np.abs(X) < 1] = 0.0
    y = rng.integers(0, 2, 20)
    beta = rng.standard_normal(10)
    dense = normalized_margin(beta, X, y, intercept=-0.2)
    for fmt in [sp.csr_matrix, sp.csc_matrix, sp.coo_matrix]:
        assert normalized_margin(beta, fmt(X), y, intercept=-0.2) == pytest.approx(
            dense, rel=1e-14
        )
    est = LogisticRegression().fit(X, y)
    assert normalized_margin(est, sp.csr_matrix(X), y) == pytest.approx(
        normalized_margin(est, X, y), rel=1e-14
    )


class _NoInterceptModel:
    """A fitted duck-typed linear model with a 1-D coef_ and no intercept_."""

    def __init__(self, coef, classes):
        self.coef_ = np.asarray(coef)
        self.classes_ = np.asarray(classes)


def test_normalized_margin_duck_typed_estimator():
    X = np.array([[2.0, 1.0], [-1.0, -1.0]])
    model = _NoInterceptModel([1.0, 2.0], ["a", "b"])
    # "b" -> +1: margins 4 and 3 as in the raw-array test
    assert normalized_margin(model, X, ["b", "a"]) == pytest.approx(3 / SQRT5, rel=1e-15)


@pytest.mark.parametrize("norm", ["l3", "L2", 0, -1.0, np.nan, True, None, [2]])
def test_normalized_margin_bad_norm(norm):
    with pytest.raises(ValueError, match="norm must be 'l1', 'l2', 'linf', 'fourier-l1' or a positive float"):
        normalized_margin([1.0, 0.0], [[1.0, 0.0], [-1.0, 0.0]], [1, 0], norm=norm)


def test_normalized_margin_errors():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    y = np.array([1, 0, 1])
    with pytest.raises(ValueError, match="coefficient vector is zero"):
        normalized_margin(np.zeros(2), X, y)
    with pytest.raises(ValueError, match="coefficient vector is zero"):
        normalized_margin(np.zeros(2), X, y, norm=0.5)
    with pytest.raises(ValueError, match="X has 2 features, but the coefficients have 3"):
        normalized_margin(np.ones(3), X, y)
    with pytest.raises(ValueError, match="3 classes"):
        normalized_margin(np.ones(2), X, [0, 1, 2])
    with pytest.raises(ValueError, match="single class"):
        normalized_margin(np.ones(2), X, [0, 0, 0])
    with pytest.raises(ValueError, match="1-D coefficient array"):
        normalized_margin(np.ones((2, 2)), X, y)
    with pytest.raises(ValueError, match="intercept must be None or a finite real"):
        normalized_margin(np.ones(2), X, y, intercept=np.nan)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        normalized_margin(np.ones(2), X, y[:2])
    est = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="intercept must be None when an estimator"):
        normalized_margin(est, X, y, intercept=0.0)
    with pytest.raises(ValueError, match=r"labels \[7\] that are not among the classes"):
        normalized_margin(est, X, [1, 7, 0])
    with pytest.raises(NotFittedError):
        normalized_margin(LogisticRegression(), X, y)
    est.coef_ = np.zeros_like(est.coef_)
    with pytest.raises(ValueError, match="coefficient vector is zero"):
        normalized_margin(est, X, y)
