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
for large ``mu``, rich for small ``mu``. The three black curves (dotted,
dash-dot and dashed) are lines of constant ``alpha**2 / log(1/L)``, along
which the theory predicts a fixed regime; the white curve is where the
measured score crosses 0.5.
"""

# %%
# The data and the path
# ---------------------
# One trajectory per ``alpha``; each is recorded exactly at every target loss.
# 41 scales, 16 per decade, make bands fine enough to follow the boundary.
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

alphas = np.logspace(-1, 1.5, 41)
target_losses = 10.0 ** -np.r_[1, np.arange(5, 301, 5)]
path = implicit_bias_path(X, y, alphas, target_losses, depth=2)
print(f"gradient evaluations per trajectory: {path.n_grad_evals.tolist()}")

# %%
# The map
# -------
disp = RegimeMapDisplay.from_path(path, X, y)
ax = disp.ax_
neg_log10 = np.linspace(1, 300, 200)
mus = [1.0, 0.1, 0.01]
for mu, style in zip(mus, [":", "-.", "--"]):
    coefficient = "" if mu == 1 else rf"{mu:g}\,"
    ax.plot(neg_log10, 0.5 * np.log10(mu * neg_log10 * np.log(10)), "k" + style,
            linewidth=1.5, zorder=3,
            label=rf"$\alpha^2 = {coefficient}\log(1/L)$")
log_alpha = np.log10(disp.alphas)
ax.contour(disp.neg_log10_loss, log_alpha, disp.score, levels=[0.5],
           colors="w", linewidths=3, zorder=2)
ax.plot([], [], "w-", linewidth=3, label="measured score = 0.5")
ax.set_ylim(log_alpha[0], log_alpha[-1])
ax.set_xlabel(r"$-\log_{10} L$ (target training loss $L$)")
ax.set_ylabel(r"$\log_{10}\,\alpha$")
ax.legend(loc="lower right", fontsize="small", facecolor="0.85")
ax.set_title("Depth-2 diagonal network: regime score")

print("\nregime score (0: l2 max margin / kernel, 1: l1 max margin / rich),")
print("every fourth alpha")
columns = [np.argmin(np.abs(disp.neg_log10_loss - e)) for e in (1, 10, 100, 300)]
print("alpha    " + "".join(f"  L=1e-{disp.neg_log10_loss[c]:<5.0f}" for c in columns))
for a in range(0, len(disp.alphas), 4):
    print(f"{disp.alphas[a]:<8.3g} "
          + "".join(f"  {disp.score[a, c]:9.3f}" for c in columns))

# %%
# The boundary, measured
# ----------------------
# On each column the score falls as ``alpha`` grows; the crossover scale is
# where it passes 0.5 (linear interpolation in ``log10(alpha)``), and
# ``alpha**2 / log(1/L)`` there is the constant of the curve through it.
print("\n-log10(L)  crossover alpha  alpha**2 / log(1/L)")
for e in (5, 10, 20, 50, 100, 200, 300):
    c = np.argmin(np.abs(disp.neg_log10_loss - e))
    # The score decreases along the column: interpolate on the reversed one.
    crossing = 10 ** np.interp(0.5, disp.score[::-1, c], log_alpha[::-1])
    ratio = crossing**2 / (disp.neg_log10_loss[c] * np.log(10))
    print(f"{disp.neg_log10_loss[c]:9.0f}  {crossing:15.3f}  {ratio:19.4f}")

# The score along the curves, interpolated in log10(alpha) on each column.
for mu in mus:
    along = [
        np.interp(0.5 * np.log10(mu * disp.neg_log10_loss[c] * np.log(10)),
                  log_alpha, disp.score[:, c])
        for c in columns[1:]
    ]
    print(f"score along alpha**2 = {mu:g} log(1/L) at L = 1e-10, 1e-100, 1e-300: "
          + ", ".join(f"{s:.3f}" for s in along))
plt.show()

# %%
# Reading the map
# ---------------
# Cells where the data are not yet separated would be left blank (the
# score is undefined there); on these data every loss shown separates them.
# The boundary between blue (kernel) and red (rich) moves up as the loss
# goes down: a larger ``alpha`` needs a smaller loss before the flow leaves
# the kernel regime. For these data the crossover (white) follows the curve
# ``alpha**2 = 0.01 log(1/L)`` (dashed): the printed constant
# ``alpha**2 / log(1/L)`` at the crossover goes from 0.014 at ``L = 1e-10``
# to 0.0106 at ``1e-100`` and 0.0099 at ``1e-300``, while ``alpha`` itself
# grows from 0.56 to 2.6, and the score along the dashed curve stays between
# 0.49 and 0.56. That is what the theory says: at a fixed ``mu`` the flow
# tends to a fixed separator as the loss goes to zero, so the constant
# settles as ``L`` decreases (from 0.0106 to 0.0099 over the last 200
# decades), and at larger losses the flow has not yet reached that limit.
# The constant itself depends on the data, through the size of the
# max-margin coefficients. Deep in the kernel side the score still falls along a
# curve: with a linear model the flow reaches the SVM direction itself only
# as ``L -> 0``. Small ``alpha`` alone is not enough: the rich answer also
# needs a small loss.
