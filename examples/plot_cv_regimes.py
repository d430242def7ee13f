"""
=====================================================
Choosing the scale and the target by cross-validation
=====================================================

How far to train (``target_loss``) and from which initialization scale
(``alpha``) decide which separator a diagonal network returns: the kernel
regime (close to the hard-margin SVM) for large ``alpha`` and moderate
losses, the rich regime (sparse, close to the l1 max margin) for small
``alpha`` and tiny losses. :class:`~sklearn_implicit.DiagonalLinearClassifierCV`
picks both by cross-validation. A grid search would fit every grid point
from scratch; but one trajectory per scale and fold passes through every
target loss, so the estimator follows that trajectory once and scores the
model at every target on its way down.

On the breast cancer data (standardized), then on the same data with as
many irrelevant noise features appended, the maps below show the mean
cross-validated accuracy over the grid and, for the second data set, which
regime each grid point is in.
"""

# %%
# Cross-validation along the path
# -------------------------------
# The default grid has 8 scales around the data's kernel-to-rich boundary
# (``alpha**2`` from ``1e-2 s`` to ``1e3 s``, with ``s`` the size of the
# coefficients of the hard-margin SVM at margin 1, intercept included) and 8
# targets from ``1e-2`` down to ``1e-100``.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from sklearn_implicit import DiagonalLinearClassifierCV, RegimeMapDisplay, implicit_bias_path

X_cancer, y = load_breast_cancer(return_X_y=True)
noise = np.random.default_rng(0).standard_normal(X_cancer.shape)
data = {
    "breast cancer": StandardScaler().fit_transform(X_cancer),
    "with 30 noise features": StandardScaler().fit_transform(np.hstack([X_cancer, noise])),
}
folds = StratifiedKFold(3, shuffle=True, random_state=0)

searches = {}
for name, X in data.items():
    start = time.perf_counter()
    clf = DiagonalLinearClassifierCV(cv=folds).fit(X, y)
    searches[name] = clf
    print(f"{name}: {time.perf_counter() - start:.1f} s, "
          f"{clf.n_grad_evals_.sum()} gradient evaluations for "
          f"{clf.scores_.size} scores; chosen alpha = {clf.alpha_:.3g}, "
          f"target_loss = {clf.target_loss_:g}, mean accuracy {clf.best_score_:.4f}")
    print("  mean accuracy (rows: alpha; columns: target loss)")
    print("  alpha   " + "".join(f"{t:>8.0e}" for t in clf.target_losses_))
    for alpha, row in zip(clf.alphas_, clf.scores_.mean(axis=0)):
        print(f"  {alpha:<7.3g} " + "".join(f"{s:8.4f}" for s in row))

# %%
# The regimes
# -----------
# :func:`~sklearn_implicit.implicit_bias_path` follows the same grid on all
# the noisy data. The regime score compares the l1- and l2-normalized
# margins of each model with those of the l1 and l2 max-margin separators:
# 0 at the l2 max margin (kernel), 1 at the l1 max margin (rich).
X = data["with 30 noise features"]
clf = searches["with 30 noise features"]
path = implicit_bias_path(X, y, clf.alphas_, clf.target_losses_, fit_intercept=True)

fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), constrained_layout=True)
for ax, (name, clf) in zip(axes, searches.items()):
    mesh = ax.pcolormesh(-np.log10(clf.target_losses_), np.log10(clf.alphas_),
                         clf.scores_.mean(axis=0), shading="nearest", cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="mean accuracy on the test folds")
    ax.plot(-np.log10(clf.target_loss_), np.log10(clf.alpha_), "r*", markersize=16,
            markeredgecolor="w")
    ax.set_title(f"CV accuracy, {name} (star: chosen)")
disp = RegimeMapDisplay.from_path(path, X, y, fit_intercept=True, ax=axes[2])
axes[2].set_title("Regime of each grid point, with noise features")
for ax in axes:
    # The targets are geometric in log(1/L), which sets the regime.
    ax.set_xscale("log")
    ax.set_xlabel(r"$-\log_{10} L$ (target training loss $L$)")
    ax.set_ylabel(r"$\log_{10}\,\alpha$")
plt.show()

print("regime score, with noise features (rows: alpha; columns: target loss)")
for alpha, row in zip(disp.alphas, disp.score):
    print(f"  {alpha:<7.3g} " + "".join(f"{s:8.3f}" for s in row))

# %%
# Reading the maps
# ----------------
# On the breast cancer data the target matters more than the scale: every
# scale scores 0.9578 at ``L = 1e-2`` (a larger target is stronger early
# stopping). At losses of ``1e-11`` and below the kernel side (``alpha >=
# 26``, rows that no longer depend on ``alpha``: the kernel regime's answer)
# scores 0.947 to 0.949 and the rich side (``alpha <= 11``) 0.949 to 0.951.
# The estimator takes ``alpha = 2.2`` and ``L = 1e-2``: scores tie along
# the first column, and ties go to the first grid point, as in
# :class:`~sklearn.model_selection.GridSearchCV`.
#
# With 30 noise features the regimes show in the score. At losses of
# ``1e-11`` and below the kernel rows (``alpha >= 7.3``, regime score below
# 0.3) score 0.935 to 0.937 and the rich ones (``alpha <= 0.27``, regime
# score above 0.67) 0.940 to 0.951: the rich regime's sparse separators put
# less weight on the noise. Early stopping still wins, at 0.9613 for
# ``alpha = 0.62`` and ``L = 1e-2``. The regime boundary moves to larger
# ``alpha`` as the loss falls, as the theory's ``mu = alpha**2 / gamma``
# says (the smallest margin ``gamma`` grows like ``log(1/L)``).
#
# The 192 scores of each search cost one trajectory per fold and scale, 24
# trajectories to ``1e-100``, where a grid search fits each of the 192
# (fold, scale, target) points from scratch (benchmark case ``cv``).
