"""
===========================================================
Gradient descent and SGD against the exact flow
===========================================================

The estimators follow the exact gradient flow by default. With
``dynamics='gd'`` or ``'sgd'`` they train the same network, from the same
initialization, by the steps a practitioner runs instead, so that flow and
algorithm are one parameter apart. On a depth-2 diagonal network a finite
step multiplies the product ``u * v`` of the two weights of every feature
by ``1 - (2 * learning_rate * g)**2`` (``g`` the gradient with respect to
that coefficient), where the flow conserves it: the steps end where the
flow from a smaller, data-dependent initialization would end (Even,
Pesme, Gunasekar and Flammarion, NeurIPS 2023). Gradient noise shrinks it
further (Pesme, Pillaud-Vivien and Flammarion, NeurIPS 2021). The
shrinkage is per feature, largest where the gradients are, so the steps
move the interpolant feature by feature: here the smallest batch gives the
sparsest answer (the smallest l1 norm), while full-batch steps leave the
support features a smaller scale than the others and end slightly denser.

One dataset, an underdetermined sparse regression, fitted to its limit by
the flow, by gradient descent at three step sizes and by SGD at two batch
sizes. The regressor reports the scale each run left in effect,
``effective_alpha_``, and :func:`~sklearn_implicit.analysis.predicted_coef`
turns it into the minimum-potential interpolant at that scale, the
prediction. The classifier on the labels ``sign(y)`` of the same data shows
the normalized margins along training.
"""

# %%
# The data and the runs
# ---------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_implicit import (
    DiagonalLinearClassifier,
    DiagonalLinearRegressor,
    predicted_coef,
)

rng = np.random.default_rng(0)
n_samples, n_features = 15, 40
X = rng.standard_normal((n_samples, n_features))
teacher = np.zeros(n_features)
teacher[:3] = [1.5, -1.0, 0.7]
y = X @ teacher

alpha = 0.1
common = dict(alpha=alpha, fit_intercept=False, tol=1e-10)
runs = {"flow": dict(dynamics="flow")}
for eta in (0.01, 0.03, 0.06):
    runs[f"GD, lr={eta}"] = dict(dynamics="gd", learning_rate=eta)
for batch in (5, 3):
    runs[f"SGD, lr=0.03, batch={batch}"] = dict(
        dynamics="sgd", learning_rate=0.03, batch_size=batch, random_state=0
    )

fits = {name: DiagonalLinearRegressor(**common, **params).fit(X, y)
        for name, params in runs.items()}
flow = fits["flow"].coef_


def rel_dist(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


print("run                      steps  median alpha_eff  l1 norm  "
      "to flow  to prediction")
predictions = {}
for name, reg in fits.items():
    predictions[name] = predicted_coef(reg, X, y)
    print(f"{name:<24} {reg.n_iter_:>6}  {np.median(reg.effective_alpha_):16.4f}  "
          f"{np.abs(reg.coef_).sum():7.4f}  {rel_dist(reg.coef_, flow):7.2e}  "
          f"{rel_dist(reg.coef_, predictions[name]):13.2e}")

# %%
# The margins along training (classification of the same data)
# -------------------------------------------------------------
# Normalized steps (``learning_rate / L``) make the logarithm of the loss
# fall linearly, so the discrete runs reach 1e-20 in a few thousand steps.
labels = np.sign(y)
classifiers = {"flow": DiagonalLinearClassifier(alpha=alpha, fit_intercept=False,
                                                target_loss=1e-20).fit(X, labels)}
for eta in (0.003, 0.01, 0.03):
    classifiers[f"GD, lr={eta}"] = DiagonalLinearClassifier(
        alpha=alpha, fit_intercept=False, target_loss=1e-20, dynamics="gd",
        learning_rate=eta, learning_rate_schedule="normalized",
    ).fit(X, labels)
for batch in (5, 3):
    classifiers[f"SGD, lr=0.003, batch={batch}"] = DiagonalLinearClassifier(
        alpha=alpha, fit_intercept=False, target_loss=1e-20, dynamics="sgd",
        learning_rate=0.003, learning_rate_schedule="normalized", batch_size=batch,
        random_state=0,
    ).fit(X, labels)
print("\nrun                        steps  l1 margin at 1e-20")
for name, clf in classifiers.items():
    print(f"{name:<26} {clf.n_iter_:>6}  {clf.history_[0]['l1_margin'][-1]:.4f}")

# %%
# The figure
# ----------
# Left: how far the steps move each coefficient from the flow's limit
# (filled), and the prediction at each run's effective initialization (black
# rings), on the teacher's support and the seven largest other coefficients
# of the flow. Middle: how far each run is from the flow's interpolant and
# from its prediction. Right: the normalized l1 margin of the classifiers as
# the loss falls.
colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(fits)))
others = np.argsort(-np.abs(flow[3:]))[:7] + 3
shown = np.concatenate([np.arange(3), others])

fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained")
ax = axes[0]
discrete = [name for name in fits if name != "flow"]
width = 0.8 / len(discrete)
for k, name in enumerate(discrete, start=1):
    x = np.arange(len(shown)) - 0.4 + (k - 0.5) * width
    ax.plot(x, fits[name].coef_[shown] - flow[shown], "o", color=colors[k], label=name,
            ms=5)
    ax.plot(x, predictions[name][shown] - flow[shown], "o", mfc="none", mec="black",
            ms=9, label="prediction at effective_alpha_" if k == 1 else None)
ax.axhline(0.0, color="grey", lw=0.5)
ax.set_xticks(np.arange(len(shown)), [str(j) for j in shown])
ax.set_xlabel("feature (teacher's support: 0, 1, 2)")
ax.set_ylabel("coef_ minus the flow's coef_")
ax.set_title("Where the steps move the limit")

ax = axes[1]
names = list(fits)
position = np.arange(len(names))
ax.barh(position + 0.2, [rel_dist(fits[n].coef_, flow) for n in names], 0.4,
        color="tab:grey", label="to the flow's interpolant")
ax.barh(position - 0.2, [rel_dist(fits[n].coef_, predictions[n]) for n in names], 0.4,
        color="tab:orange", label="to the prediction")
ax.set_yticks(position, names)
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xlabel("relative distance of coef_")
ax.set_title("The effective initialization explains the step")
ax.legend(loc="upper right", fontsize=8)

ax = axes[2]
for k, (name, clf) in enumerate(classifiers.items()):
    history = clf.history_[0]
    ax.plot(-history["log10_loss"], history["l1_margin"], "-", color=colors[k],
            label=name, lw=2.5 if name == "flow" else 1.5)
ax.set_xlabel("-log10(training loss)")
ax.set_ylabel("smallest margin / ||weights||_1")
ax.set_title("Normalized l1 margin (labels sign(y))")
ax.legend(loc="lower right", fontsize=8)
axes[0].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
plt.show()
