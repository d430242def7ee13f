"""Tests of sklearn_implicit.analysis.plotting (matplotlib's Agg backend)."""

import numpy as np
import pytest

from sklearn_implicit import (
    DiagonalLinearClassifier,
    ImplicitBiasDisplay,
    RegimeMapDisplay,
    implicit_bias_path,
    max_margin,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

X = np.array([[2.0, 1.0, 0.3], [1.0, -1.0, 0.5], [-2.0, 0.5, 0.1], [-1.0, -2.0, 0.4],
              [0.5, 1.5, -0.3]])
y = np.array([1, 1, 0, 0, 1])


@pytest.fixture(scope="module")
def path():
    return implicit_bias_path(X, y, [0.05, 1.0, 20.0], [0.3, 1e-3, 1e-10])


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_from_path_draws_one_curve_per_alpha_and_references(path):
    disp = ImplicitBiasDisplay.from_path(path, X, y)
    assert disp.ax_.shape == (2,)
    assert disp.figure_ is disp.ax_[0].figure
    assert len(disp.lines_) == 2 * 3
    # curves sorted by decreasing target loss: x increasing
    x, m = disp.lines_[0].get_data()
    np.testing.assert_allclose(x, [-np.log10(0.3), 3.0, 10.0], rtol=1e-10)
    np.testing.assert_allclose(m, path.l1_margin[0][[0, 1, 2]])
    ref = [line.get_ydata()[0] for line in disp.ax_[1].get_lines()[3:]]
    assert ref == pytest.approx([max_margin(X, y, "l2").margin])


def test_from_estimator_overlays_on_given_axes(path):
    disp = ImplicitBiasDisplay.from_path(path)
    clf = DiagonalLinearClassifier(alpha=0.5, target_loss=1e-6, fit_intercept=False)
    clf.fit(X, y)
    disp2 = ImplicitBiasDisplay.from_estimator(clf, X, y, ax=disp.ax_)
    assert disp2.ax_[0] is disp.ax_[0]
    x, m = disp2.lines_[1].get_data()
    np.testing.assert_allclose(m, clf.history_[0]["l2_margin"])
    np.testing.assert_allclose(x, -clf.history_[0]["log10_loss"])
    assert disp2.lines_[0].get_label() == "alpha=0.5"
    with pytest.raises(ValueError, match="two Axes"):
        disp.plot(ax=plt.gca())


def test_regime_map(path):
    disp = RegimeMapDisplay.from_path(path, X, y)
    assert disp.score.shape == (3, 3)
    assert disp.figure_ is disp.ax_.figure
    finite = disp.score[np.isfinite(disp.score)]
    assert np.all((finite >= 0) & (finite <= 1))
    # large alpha at a moderate loss is nearer the l2 reference than small
    # alpha at a tiny loss
    assert disp.score[2, 1] < disp.score[0, 2]


def test_regime_score_limits():
    l1 = max_margin(X, y, "l1")
    l2 = max_margin(X, y, "l2")
    at_l2 = [l2.margin / np.abs(l2.coef).sum(), l2.margin]
    at_l1 = [l1.margin, l1.margin / np.linalg.norm(l1.coef)]
    score = RegimeMapDisplay.regime_score(
        [at_l2[0], at_l1[0], -1.0], [at_l2[1], at_l1[1], -1.0], l1.margin, l2.margin
    )
    np.testing.assert_allclose(score[:2], [0.0, 1.0], atol=1e-9)
    assert np.isnan(score[2])


def test_regime_map_needs_scalar_alphas():
    p = implicit_bias_path(X, y, np.ones((2, 3)), [0.3])
    with pytest.raises(ValueError, match="scalar alphas"):
        RegimeMapDisplay.from_path(p, X, y)
