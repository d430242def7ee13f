"""
===========================================================
The memory effect: when the max-margin prediction is exact
===========================================================

Gradient flow on a depth-2 diagonal network is exactly
``beta / gamma = argmin Q_mu(b) s.t. Z b >= m / gamma`` with
``mu = alpha**2 / gamma`` and ``gamma`` the smallest margin reached. The
*predicted* solution of Moroshko et al. (2020) replaces ``m / gamma`` by 1.
Scaling ``alpha**2 = mu * gamma`` and training to the loss ``exp(-gamma)``
keeps ``mu`` fixed while ``gamma`` grows; the distance between the
normalized flow result and the normalized prediction then shrinks like
``1 / gamma`` when ``mu`` is not small. At small ``mu`` it shrinks more
slowly or stalls: samples that were support points early in training keep
the weight they accumulated (a memory effect), which the prediction ignores.

The figure is part of the documentation's example gallery.
"""

import matplotlib.pyplot as plt
import numpy as np

from sklearn_implicit import DiagonalLinearClassifier
from sklearn_implicit import predicted_coef

rng = np.random.default_rng(0)
n_samples, n_features = 10, 6
X = rng.standard_normal((n_samples, n_features))
y = (X @ rng.standard_normal(n_features) > 0).astype(int)

mus = [10.0, 1.0, 0.1, 0.01, 1e-3]
gammas = np.array([25.0, 50.0, 100.0, 200.0, 400.0, 700.0])


def unit(v):
    return v / np.linalg.norm(v)


fig, ax = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
for mu in mus:
    distances = []
    for gamma in gammas:
        clf = DiagonalLinearClassifier(
            alpha=np.sqrt(mu * gamma), target_loss=np.exp(-gamma), fit_intercept=False
        ).fit(X, y)
        prediction = predicted_coef(clf, X, y)[0]
        distances.append(np.linalg.norm(unit(clf.coef_[0]) - unit(prediction)))
    print(f"mu = {mu:g}: " + ", ".join(f"{d:.3g}" for d in distances))
    ax.loglog(gammas, distances, marker="o", label=f"mu = {mu:g}")
ax.loglog(gammas, 0.4 / gammas, "k--", label="1 / gamma (slope -1)")
ax.set_xlabel("gamma = -log(target loss)")
ax.set_ylabel("|| beta/|beta| - b*(mu)/|b*(mu)| ||")
ax.set_xticks(gammas, [f"{g:g}" for g in gammas])
ax.minorticks_off()
ax.set_title("Flow vs. prediction at fixed mu = alpha^2 / gamma", fontsize="medium")
ax.legend(fontsize="small")

plt.show()
