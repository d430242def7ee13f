"""
==========================================================================
Three linear networks, three biases: l2, l1 and sparsity in frequency
==========================================================================

Every network here computes a linear function ``f(x) = <beta, x>``; they
differ only in how ``beta`` is parametrized, and that alone decides which
separator gradient flow finds on separable data (Gunasekar et al., 2018;
the unifying tensor view of Yun, Krishnan and Mobahi, 2021):

- a fully connected network (:class:`~sklearn_implicit.DeepLinearClassifier`)
  tends to the **l2** max-margin direction, the hard-margin SVM;
- a diagonal network (:class:`~sklearn_implicit.DiagonalLinearClassifier`),
  whose weights multiply the inputs one by one, is drawn towards the **l1**
  max margin: sparsity in the standard basis (at depth 2 only slowly, as the
  loss falls);
- a convolutional network with full-width circular filters
  (:class:`~sklearn_implicit.ConvolutionalLinearClassifier`) is a diagonal
  network in the Fourier basis, and is drawn towards the max margin in the
  **l1 norm of the Fourier spectrum**: sparsity in frequency.

The same data (40 samples in 32 dimensions), labelled by a teacher with two
active frequencies (3 and 7), is fitted by the three networks of depth 2 to
a loss of ``1e-60``. The top row shows
each answer in the time domain (the coefficients), the bottom row in the
frequency domain (the moduli of the unitary DFT, ``|U beta|``), each beside
the exact max-margin direction of its norm
(:func:`~sklearn_implicit.max_margin`, ``norm="l2"``, ``"l1"`` and
``"fourier-l1"``; the last needs the conic solver Clarabel). The printed
table gives, for each network, the fraction of each norm's max margin that
its direction reaches: each network is best in its own norm.
"""

# %%
# Data from a teacher with two active frequencies
# -----------------------------------------------
import matplotlib.pyplot as plt
import numpy as np

from sklearn_implicit import (
    ConvolutionalLinearClassifier,
    DeepLinearClassifier,
    DiagonalLinearClassifier,
    max_margin,
    normalized_margin,
)

n_samples, n_features = 40, 32
j = np.arange(n_features)
teacher = np.cos(2 * np.pi * 3 * j / n_features) + 0.8 * np.sin(
    2 * np.pi * 7 * j / n_features + 0.5
)
X = np.random.default_rng(0).standard_normal((n_samples, n_features))
y = np.where(X @ teacher > 0, 1, 0)

norms = {"l2": "l2", "l1": "l1", "Fourier l1": "fourier-l1"}
references = {name: max_margin(X, y, norm=norm) for name, norm in norms.items()}

# %%
# The three networks, trained by gradient flow to a loss of 1e-60
# ---------------------------------------------------------------
common = dict(depth=2, target_loss=1e-60, fit_intercept=False)
networks = {
    "Fully connected": (DeepLinearClassifier(width=32, random_state=0, **common), "l2"),
    "Diagonal": (DiagonalLinearClassifier(alpha=0.1, **common), "l1"),
    "Convolutional": (ConvolutionalLinearClassifier(random_state=0, **common), "Fourier l1"),
}
coefs = {}
print(f"{'fraction of the max margin in':32s}" + "".join(f"{n:>12s}" for n in norms))
for name, (clf, _) in networks.items():
    coefs[name] = clf.fit(X, y).coef_[0]
    fractions = [
        normalized_margin(clf, X, y, norm=norm) / references[ref].margin
        for ref, norm in norms.items()
    ]
    print(f"{name + ' network':32s}" + "".join(f"{f:12.3f}" for f in fractions))

# %%
# Each answer beside the max-margin direction of its norm
# -------------------------------------------------------
# Directions are scaled to unit l2 norm; the frequency panels show
# ``k = 0, ..., d / 2`` (a real vector's spectrum is symmetric about d / 2).
half = np.arange(n_features // 2 + 1)


def unit(v):
    return v / np.linalg.norm(v)


def moduli(v):
    return np.abs(np.fft.fft(unit(v), norm="ortho"))[half]


fig, axes = plt.subplots(2, 3, figsize=(13, 6.5), sharey="row", constrained_layout=True)
for col, (name, (_, ref)) in enumerate(networks.items()):
    beta, reference = coefs[name], references[ref].coef
    top, bottom = axes[:, col]
    top.bar(j, unit(beta), color="C0", width=0.8, label="the network's answer")
    top.plot(j, unit(reference), "o", color="C3", ms=4,
             label="the exact max-margin direction of its norm")
    top.axhline(0, color="k", lw=0.5)
    top.set_title(f"{name} network: the {ref} bias")
    top.set_xlabel("coefficient index j")
    for k in (3, 7):
        bottom.axvspan(k - 0.5, k + 0.5, color="0.85", zorder=0,
                       label="the teacher's frequencies" if k == 3 else None)
    bottom.bar(half, moduli(beta), color="C0", width=0.8)
    bottom.plot(half, moduli(reference), "o", color="C3", ms=4)
    bottom.set_xticks(range(0, n_features // 2 + 1, 2))
    bottom.set_xlabel("frequency k")
axes[0, 0].set_ylabel(r"$\beta_j$ (unit l2 norm)")
axes[1, 0].set_ylabel(r"$|(U\beta)_k|$ (unitary DFT)")
handles, labels = axes[0, 0].get_legend_handles_labels()
handles += axes[1, 0].get_legend_handles_labels()[0]
labels += axes[1, 0].get_legend_handles_labels()[1]
fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
fig.suptitle(
    "The same data fitted by three depth-2 linear networks (loss 1e-60): "
    "coefficients (top) and their spectra (bottom)"
)
plt.show()
