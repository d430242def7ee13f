"""
====================================================
From kernel to rich: margins along the training path
====================================================

A diagonal linear network ``beta = u**D - v**D`` started at ``u = v = alpha``
is trained by gradient flow on the exponential loss of a small separable
problem. Along the way we record the two normalized margins of the
coefficients, ``min_i y_i x_i . beta / ||beta||_1`` and
``min_i y_i x_i . beta / ||beta||_2``, every few decades of the training loss
down to ``1e-300``, for several initialization scales and for depths 2 and 3.

The dashed lines are the exact maxima of the two margins (the l1 and the l2
max-margin separators). For large ``alpha`` the l2-normalized margin is
close to its maximum at every loss shown, and for ``alpha`` of order one it
comes close early in training (0.89 to 0.97 of the maximum at ``1e-10``,
the printed table) before falling away: the network behaves like a kernel
method (the hard-margin SVM). From ``alpha = 0.3`` it never does. Only once
``log(1/L)`` is large compared with ``alpha**D`` does the l1-normalized margin
climb towards its maximum (the rich regime), and for moderate ``alpha`` that
happens at losses far below ``1e-100`` (Moroshko et al., 2020).

One call to :func:`~sklearn_implicit.implicit_bias_path` follows one
trajectory per ``alpha`` and stops exactly at every requested loss on the
way down.
"""

# %%
# A small separable problem with a sparse teacher
# -----------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_implicit import max_margin
from sklearn_implicit import implicit_bias_path
from sklearn_implicit import ImplicitBiasDisplay

rng = np.random.default_rng(0)
n_samples, n_features = 20, 40
X = rng.standard_normal((n_samples, n_features))
teacher = np.zeros(n_features)
teacher[:3] = [1.0, -1.0, 0.5]
y = np.where(X @ teacher > 0, 1, 0)

l1_max = max_margin(X, y, norm="l1").margin
l2_max = max_margin(X, y, norm="l2").margin
print(f"l1 max margin: {l1_max:.4f}   l2 max margin: {l2_max:.4f}")

# %%
# One trajectory per alpha, recorded at 31 losses from 1e-1 to 1e-300
# ---------------------------------------------------------------------
alphas = [0.3, 1.0, 3.0, 10.0]
target_losses = np.logspace(-1, -300, 31)

fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), constrained_layout=True)
for depth, row in zip([2, 3], axes):
    path = implicit_bias_path(
        X, y, alphas, target_losses, depth=depth, fit_intercept=False
    )
    ImplicitBiasDisplay.from_path(path, X, y, ax=row)
    for ax in row:
        ax.set_xlabel(r"$-\log_{10}$(training loss)")
        handles, labels = ax.get_legend_handles_labels()
        labels = [label.replace("alpha=", r"$\alpha$ = ") for label in labels]
        ax.legend(handles, labels, fontsize="small")
    row[0].set_title(f"depth {depth}: l1-normalized margin")
    row[1].set_title(f"depth {depth}: l2-normalized margin")
    print(f"\ndepth {depth} (fraction of the max margin, l1 / l2)")
    print("alpha    loss=1e-10      loss=1e-100     loss=1e-300")
    picks = [np.argmin(np.abs(np.log10(target_losses) - e)) for e in (-10, -100, -300)]
    for a, alpha in enumerate(alphas):
        cells = "  ".join(
            f"{path.l1_margin[a, t] / l1_max:6.3f}/{path.l2_margin[a, t] / l2_max:5.3f}"
            for t in picks
        )
        print(f"{alpha:<6g}  {cells}")

plt.show()

# %%
# Reading the figure
# ------------------
# At ``alpha = 10`` the l2-normalized margin stays near its maximum (0.97
# of it at ``1e-10``, 0.998 at ``1e-300``) over the whole range of losses
# and the l1-normalized one well below its own: the kernel regime. At
# ``alpha = 0.3`` and depth 2 the l1-normalized margin approaches its
# maximum and the l2 one stays away from its own: the rich regime. In
# between, the same network moves from one to the other as the loss goes
# down, and for ``alpha`` of order one the move is still under way at
# ``1e-300``.
#
# Depth 3 differs in its rich limit: it is a stationary point of the
# max-margin problem for the quasi-norm ``l_{2/3}``, not the l1 max margin,
# and at ``alpha = 0.3`` the flow settles on one whose l1-normalized margin
# is below the maximum (the printed table) and whose l2-normalized margin is
# small: a different separator.
#
# These losses cannot be reached by gradient descent in floating point, nor
# even written as ``float`` values much below ``1e-308``: the estimators and
# the path integrate the flow in the clock ``-log L`` with log-space losses.
