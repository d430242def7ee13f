"""
==================================================
The regime map: initialization scale vs. training
==================================================

Which separator a depth-2 diagonal network reaches depends on two knobs:
the initialization scale ``alpha`` and how far the training loss is driven
down (``target_loss``). This example colours the ``(target_loss, alpha)``
plane by a regime score built from the two normalized margins of the
coefficients: 0 when the coefficients reach the l2 max margin (the kernel
regime, the hard-margin SVM) and 1 when they reach the l1 max margin (the
rich regime); see :class:`~sklearn_implicit.RegimeMapDisplay`.

The theory (Woodworth et al., 2020; Moroshko et al., 2020) says that the
regime is set by ``mu = alpha**2 / gamma``, with ``gamma`` the smallest
margin reached, which grows like ``log(1/L)`` (to within ``log n``): kernel
for large ``mu``, rich for small ``mu``. The dashed curves are lines of
constant ``alpha**2 / log(1/L)``, along which the theory predicts a fixed
regime.
"""

# %%
# The data and the path
# ---------------------
# One trajectory per ``alpha``; each is recorded exactly at every target loss.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_implicit import implicit_bias_path
from sklearn_implicit import RegimeMapDisplay

rng = np.random.default_rng(0)
n_samples, n_features = 20, 40
X = rng.standard_normal((n_samples, n_features))
teacher = np.zeros(n_features)
teacher[:3] = [1.0, -1.0, 0.5]
y = np.where(X @ teacher > 0, 1, 0)

alphas = np.logspace(-1, 1.5, 9)
target_losses = np.logspace(-1, -300, 24)
path = implicit_bias_path(X, y, alphas, target_losses, depth=2)
print(f"gradient evaluations per trajectory: {path.n_grad_evals.tolist()}")

# %%
# The map
# -------
disp = RegimeMapDisplay.from_path(path, X, y)
neg_log10 = np.linspace(1, 300, 200)
mus = [1.0, 0.1, 0.01]
for mu, style in zip(mus, [":", "-.", "--"]):
    disp.ax_.plot(neg_log10, 0.5 * np.log10(mu * neg_log10 * np.log(10)),
                  "k" + style, label=f"alpha**2 = {mu:g} log(1/L)")
disp.ax_.set_ylim(np.log10(alphas[0]), np.log10(alphas[-1]))
disp.ax_.legend(loc="lower right", fontsize="small")
disp.ax_.set_title("Depth-2 diagonal network: regime score")

print("\nregime score (0: l2 max margin / kernel, 1: l1 max margin / rich)")
columns = [np.argmin(np.abs(disp.neg_log10_loss - e)) for e in (1, 10, 100, 300)]
print("alpha    " + "".join(f"  L=1e-{disp.neg_log10_loss[c]:<5.0f}" for c in columns))
for a, alpha in enumerate(disp.alphas):
    print(f"{alpha:<8.3g} " + "".join(f"  {disp.score[a, c]:9.3f}" for c in columns))

# The score along the curves, interpolated in log10(alpha) on each column.
log_alpha = np.log10(disp.alphas)
for mu in mus:
    along = [
        np.interp(0.5 * np.log10(mu * disp.neg_log10_loss[c] * np.log(10)),
                  log_alpha, disp.score[:, c])
        for c in columns[1:]
    ]
    print(f"along alpha**2 = {mu:g} log(1/L): "
          + ", ".join(f"{s:.3f}" for s in along))
plt.show()

# %%
# Reading the map
# ---------------
# Cells where the data are not yet separated would be left blank (the
# score is undefined there); on these data every loss shown separates them.
# The boundary between blue (kernel) and
# red (rich) moves up as the loss goes down: a larger ``alpha`` needs a
# smaller loss before the flow leaves the kernel regime. For these data the
# crossover follows the curve ``alpha**2 = 0.01 log(1/L)``, along which the
# printed score stays near 0.5 from ``L = 1e-14`` to ``L = 1e-300``, as the
# theory says (the constant depends on the data, through the size of the
# max-margin coefficients). Deep in the kernel side the score still falls
# along a curve: with a linear model the flow reaches the SVM direction
# itself only as ``L -> 0``. Small ``alpha`` alone is not enough:
# the rich answer also needs a small loss.
