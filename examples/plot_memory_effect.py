"""
===========================================================
The memory effect: when the max-margin prediction is exact
===========================================================

Gradient flow on a depth-2 diagonal network is exactly
``beta / gamma = argmin Q_mu(b) s.t. Z b >= m / gamma`` with
``mu = alpha**2 / gamma`` and ``gamma`` the smallest margin reached. The
*predicted* solution ``b*(mu)`` of Moroshko et al. (2020) replaces
``m / gamma`` by 1 (:func:`~sklearn_implicit.theory.predicted_coef`).

Here ``mu`` is held fixed while ``gamma`` grows, and the figure shows the
distance between the directions of the flow's coefficients and of the
prediction against ``gamma``. The flow is stopped at a training loss, not at
a margin: for the exponential loss a mean loss ``L`` puts the smallest
margin between ``log(1/L) - log(n)`` and ``log(1/L)``, so each point is
fitted with ``alpha**2 = mu * log(1/L)`` first and then refitted twice with
``alpha**2 = mu * gamma`` for the ``gamma`` just reached, which fixes ``mu``
to better than 1e-4 (the script prints the worst error). The horizontal
axis is that measured ``gamma``.

At ``mu = 1`` the distance falls like ``1 / gamma``: ``gamma`` times the
distance is constant (right panel). For smaller ``mu`` it is larger and
falls more slowly or not at all: at ``mu = 1e-3`` it first grows, to 0.24,
and at ``mu = 1e-4`` it stalls, between 0.22 and 0.28 from ``gamma = 40`` to
``gamma = 700`` (a loss near ``1e-304``, about the smallest a float holds).
Samples that were support points early in training keep the weight they
accumulated (a memory effect), which the prediction ignores.
"""

# %%
# A small separable problem
# -------------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_implicit import DiagonalLinearClassifier
from sklearn_implicit import predicted_coef

rng = np.random.default_rng(0)
n_samples, n_features = 10, 6
X = rng.standard_normal((n_samples, n_features))
y = (X @ rng.standard_normal(n_features) > 0).astype(int)


def unit(v):
    return v / np.linalg.norm(v)


def fit_at(mu, log_inv_loss, n_refits=2):
    """Fit to the loss ``exp(-log_inv_loss)`` with ``alpha**2 = mu * gamma``."""
    alpha2 = mu * log_inv_loss
    for _ in range(n_refits + 1):
        clf = DiagonalLinearClassifier(
            alpha=np.sqrt(alpha2), target_loss=np.exp(-log_inv_loss),
            fit_intercept=False,
        ).fit(X, y)
        gamma = clf.history_[0]["min_margin"][-1]
        mu_error = abs(alpha2 / gamma / mu - 1)
        alpha2 = mu * gamma
    return clf, gamma, mu_error


# %%
# Distance to the prediction at fixed mu
# --------------------------------------
mus = [1.0, 0.1, 0.01, 1e-3, 1e-4]
log_inv_losses = np.geomspace(10, 700, 10)
gammas, distances, worst_mu_error = {}, {}, 0.0
for mu in mus:
    gammas[mu], distances[mu] = [], []
    for log_inv_loss in log_inv_losses:
        clf, gamma, mu_error = fit_at(mu, log_inv_loss)
        prediction = predicted_coef(clf, X, y)[0]
        gammas[mu].append(gamma)
        distances[mu].append(np.linalg.norm(unit(clf.coef_[0]) - unit(prediction)))
        worst_mu_error = max(worst_mu_error, mu_error)
    gammas[mu], distances[mu] = np.array(gammas[mu]), np.array(distances[mu])

print(f"worst relative error of mu = alpha**2 / gamma: {worst_mu_error:.1e}")
print("gamma: " + ", ".join(f"{g:.4g}" for g in gammas[mus[0]]))
for mu in mus:
    print(f"mu = {mu:g}\n  distance:         "
          + ", ".join(f"{d:.3g}" for d in distances[mu])
          + "\n  gamma * distance: "
          + ", ".join(f"{d:.3g}" for d in gammas[mu] * distances[mu]))

# %%
# Figure
# ------
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
for mu in mus:
    label = rf"$\mu = 10^{{{np.log10(mu):.0f}}}$"
    ax0.loglog(gammas[mu], distances[mu], "o-", label=label)
    ax1.loglog(gammas[mu], gammas[mu] * distances[mu], "o-", label=label)
ticks = [10, 30, 100, 300, 700]
ax0.loglog(gammas[1.0], 0.4 / gammas[1.0], "k--",
           label=r"$0.4 / \gamma$ (slope $-1$)")
ax1.axhline(0.4, color="k", linestyle="--", label=r"$0.4$ (rate $1/\gamma$)")
ax0.set_ylabel(r"$\|\,\beta/\|\beta\| - b^*(\mu)/\|b^*(\mu)\|\,\|$")
ax1.set_ylabel(r"$\gamma \times$ distance")
ax0.set_title(r"Flow vs. prediction at fixed $\mu = \alpha^2/\gamma$")
ax1.set_title(r"The same, times $\gamma$: flat where the rate is $1/\gamma$")
for ax in (ax0, ax1):
    ax.set_xlabel(r"smallest margin reached, $\gamma$")
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.legend()
plt.show()

# %%
# Reading the figure
# ------------------
# At ``mu = 1`` the distance is about ``0.42 / gamma`` over the whole range
# (the printed ``gamma * distance``): the prediction is exact in the limit,
# at rate ``1 / gamma``. At ``mu = 0.1`` the same product grows steadily,
# from 0.8 to 5: the distance falls, but more slowly than ``1 / gamma``. At
# ``mu = 0.01`` and ``1e-3`` the distance first stays level or grows and
# only later falls, at about the rate ``1 / gamma`` or faster, from a level
# about 13 and 80 times higher than at ``mu = 1`` (the products level off
# near 5.3 and 35).
# At ``mu = 1e-4`` the fall has barely started at ``gamma = 700``: within
# the losses a float can hold, the flow keeps a memory of its early support
# points and stays away from the predicted direction.
