"""
=====================================================================
Deep linear networks: towards the l2 max margin, with aligned layers
=====================================================================

A fully connected deep linear network ``f(x) = w_D . W_{D-1} ... W_1 x`` is
a linear classifier with end-to-end coefficients
``beta = W_1^T ... W_{D-1}^T w_D``. Trained by gradient flow on the
exponential loss of separable data, the direction of ``beta`` tends to the
l2 max-margin (hard-margin SVM) direction as the loss goes to zero, whatever
the depth, and the layers *align*: each weight matrix tends to rank one, and
the top singular vectors of adjacent layers line up (Ji & Telgarsky, 2019;
see also Lyu & Li, 2020 for homogeneous networks). Unlike the diagonal
network, the fully connected one has no sparse rich regime to move to.

:class:`~sklearn_implicit.DeepLinearClassifier` records two alignment
diagnostics in ``history_`` once per decade of loss: ``alignment_min``, the
smallest ratio ``sigma_1(W_l) / ||W_l||_F`` over the layers, and
``adjacent_alignment_min``, the smallest overlap of the top singular vectors
of adjacent layers (both 1 at perfect alignment). With ``warm_start=True``
a fit continues the same trajectory to a smaller target, so the cosine with
the max-margin direction can be read off at a sequence of losses at the
cost of one trajectory.
"""

# %%
# Data and the reference direction
# --------------------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_implicit import DeepLinearClassifier
from sklearn_implicit import max_margin

rng = np.random.default_rng(0)
n_samples, n_features = 30, 10
X = rng.standard_normal((n_samples, n_features))
y = np.where(X @ rng.standard_normal(n_features) > 0, 1, 0)
svm_direction = max_margin(X, y, norm="l2").coef  # unit norm

# %%
# One trajectory per setting, read at a sequence of losses
# --------------------------------------------------------
targets = 10.0 ** -np.arange(2, 31, 4)
settings = [(2, 0.1), (3, 0.1), (3, 1.0)]
fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
for depth, alpha in settings:
    clf = DeepLinearClassifier(
        alpha=alpha, depth=depth, width=10, fit_intercept=False,
        warm_start=True, random_state=0,
    )
    gaps = []
    for target in targets:
        clf.set_params(target_loss=target).fit(X, y)
        beta = clf.coef_[0]
        gaps.append(1.0 - beta @ svm_direction / np.linalg.norm(beta))
    label = f"depth {depth}, alpha={alpha:g}"
    history = clf.history_[0]
    alignment = 1 - history["alignment_min"][-1]
    adjacent = 1 - history["adjacent_alignment_min"][-1]
    print(f"{label}\n  1 - cos(beta, SVM) at losses 1e-2, 1e-6, ..., 1e-30: "
          + ", ".join(f"{g:.1e}" for g in gaps)
          + f"\n  at 1e-30: 1 - alignment = {alignment:.1e},"
          + f" 1 - adjacent alignment = {adjacent:.1e}")
    axes[0].semilogy(-np.log10(targets), gaps, "o-", label=label)
    neg_log10 = -history["log10_loss"]
    axes[1].semilogy(neg_log10, 1 - history["alignment_min"], label=label)
    axes[2].semilogy(neg_log10, 1 - history["adjacent_alignment_min"], label=label)

axes[0].set_ylabel("1 - cos(beta, l2 max-margin direction)")
axes[1].set_ylabel("1 - min_l sigma_1(W_l) / ||W_l||_F")
axes[2].set_ylabel("1 - min_l |<v_1(W_l+1), u_1(W_l)>|")
for ax in axes:
    ax.set_xlabel("-log10(training loss)")
    ax.legend(fontsize="small")
axes[0].set_title("Direction")
axes[1].set_title("Layers tend to rank one")
axes[2].set_title("Adjacent layers line up")
plt.show()

# %%
# Reading the figure
# ------------------
# In every setting the gap to the SVM direction keeps shrinking as the loss
# goes down, slowly: from ``1e-6`` to ``1e-30`` (24 decades of loss) it
# shrinks by one to two decades, as for plain linear models, whose direction
# converges like ``1 / log(1/L)`` (Soudry et al., 2018). The layers align
# along the way, fastest for depth 2 from a small initialization. From the
# larger initialization (``alpha=1``) the random initial layers are a larger
# part of the weights: the alignment improves only slowly and is far from
# complete at ``1e-30``, and the direction lags behind too.
