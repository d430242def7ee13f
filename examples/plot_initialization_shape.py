"""
==============================================================
Initialization shape: steering which features the network uses
==============================================================

``alpha`` need not be one number: an array gives every feature its own
initialization scale (the *initialization shape*, Azulay et al., 2021). In
the rich regime the flow's implicit penalty on a coefficient ``b_j`` behaves
like ``|b_j| log(|b_j| / alpha_j**2)`` for depth 2 (Woodworth et al., 2020),
so a feature with a larger initial scale is cheaper to use: the shape acts
as a prior on which features carry the weight.

Here two features, ``x0`` and ``x1``, each separate the two classes on
their own, and 38 more features are noise. With a uniform ``alpha`` the
network shares the weight between ``x0`` and ``x1`` roughly as the l1 max
margin does; multiplying the scale of one of them by 10 makes the network
rely on that one. The path function accepts one scale vector per row of
``alphas``, so the three shapes are followed together.
"""

# %%
# Two separating features among noise
# -----------------------------------
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from sklearn_implicit import max_margin
from sklearn_implicit import implicit_bias_path

rng = np.random.default_rng(0)
n_samples, n_features = 30, 40
X = rng.standard_normal((n_samples, n_features))
sign = rng.choice([-1.0, 1.0], n_samples)
X[:, 0] = sign * (0.5 + np.abs(rng.standard_normal(n_samples)))
X[:, 1] = sign * (0.5 + np.abs(rng.standard_normal(n_samples)))
y = (sign > 0).astype(int)


def shares(coef):
    """Fractions of ``sum |coef|`` on x0, on x1 and on the noise features."""
    a = np.abs(coef)
    total = a.sum(axis=-1)
    return a[..., 0] / total, a[..., 1] / total, a[..., 2:].sum(axis=-1) / total


l1_shares = shares(max_margin(X, y, norm="l1").coef)
print("l1 max margin: share of x0 %.3f, of x1 %.3f, of the noise %.3f" % l1_shares)

# %%
# Three shapes, one path
# ----------------------
uniform = np.full(n_features, 0.1)
favour_x0, favour_x1 = uniform.copy(), uniform.copy()
favour_x0[0] *= 10
favour_x1[1] *= 10
names = ["uniform alpha=0.1", "alpha of x0 x 10", "alpha of x1 x 10"]
target_losses = np.logspace(-1, -300, 31)
path = implicit_bias_path(X, y, np.array([uniform, favour_x0, favour_x1]),
                          target_losses)

print("\nshare of sum |coef| on x0 / x1 / noise")
print(f"{'shape':<20} {'L=1e-10':>18} {'L=1e-100':>18} {'L=1e-300':>18}")
picks = [np.argmin(np.abs(np.log10(target_losses) - e)) for e in (-10, -100, -300)]
for name, coef in zip(names, path.coef):
    s0, s1, noise = shares(coef)
    print(f"{name:<20} " + " ".join(
        f"{s0[t]:6.3f}/{s1[t]:.3f}/{noise[t]:.3f}" for t in picks))

# %%
# Figure
# ------
# Colour: the initialization shape (or the l1 max margin); line style: the
# feature. The l1 max margin's shares are constant, drawn in red over the
# range of losses.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 5), constrained_layout=True)
neg_log10 = -np.log10(target_losses)
labels = [r"uniform $\alpha = 0.1$", r"$\alpha$ of $x_0$ $\times\,10$",
          r"$\alpha$ of $x_1$ $\times\,10$", "l1 max margin"]
colors = ["C0", "C1", "C2", "C3"]
for coef, color in zip(path.coef, colors):
    s0, s1, _ = shares(coef)
    ax0.plot(neg_log10, s0, "-", color=color, linewidth=2)
    ax0.plot(neg_log10, s1, "--", color=color, linewidth=2)
for share, style in zip(l1_shares[:2], ["-", "--"]):
    ax0.plot(neg_log10[[0, -1]], [share, share], style, color=colors[3],
             linewidth=1.5)
ax0.set_xlabel(r"$-\log_{10}$(training loss)")
ax0.set_ylabel(r"share of $\|\beta\|_1$")
ax0.set_ylim(0, 1)
ax0.legend(handles=[Line2D([], [], color="0.3", linestyle="-", label=r"on $x_0$"),
                    Line2D([], [], color="0.3", linestyle="--", label=r"on $x_1$")],
           loc="center right", bbox_to_anchor=(1.0, 0.485), fontsize="medium")
ax0.set_title("Which feature carries the weight")

width = 0.2
final = [shares(coef[-1]) for coef in path.coef] + [l1_shares]
for k, (label, values, color) in enumerate(zip(labels, final, colors)):
    ax1.bar(np.arange(3) + (k - 1.5) * width, values, width, color=color,
            label=label)
ax1.set_xticks(np.arange(3), [r"$x_0$", r"$x_1$", "38 noise features"])
ax1.set_ylabel(r"share of $\|\beta\|_1$ at $L = 10^{-300}$")
ax1.set_title("At the smallest loss")
fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center",
           ncol=4, fontsize="medium")
plt.show()

# %%
# Reading the figure
# ------------------
# A factor of 10 in the initial scale of one feature moves most of the
# weight onto it, although the data would be separated as well by the other
# one. As the loss goes down, ``log(1/L)`` grows against the fixed
# difference ``log(10**2)`` of the two features' penalties and the shares
# drift back towards those of the l1 max margin, but only logarithmically:
# even at ``1e-300`` the shape still decides. The noise features get little
# weight in every case, as in the l1 max margin.
