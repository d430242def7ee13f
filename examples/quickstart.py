"""Quickstart: the same network, two initialization scales, two different answers.

A sparse linear teacher labels 60 Gaussian points in 300 dimensions. A depth-2
diagonal linear network is trained by exact gradient flow, once from a large
initialization (kernel regime) and once from a small one driven to a tiny
loss (rich regime). The first lands on the l2 max-margin separator (what
LinearSVC approximates); the second on a sparse, l1-max-margin-like one.
"""

import time

import numpy as np
from sklearn.svm import LinearSVC

from sklearn_implicit import DiagonalLinearClassifier
from sklearn_implicit import max_margin, normalized_margin

rng = np.random.default_rng(0)
n_samples, n_features = 60, 300
X = rng.standard_normal((n_samples, n_features))
teacher = np.zeros(n_features)
teacher[:4] = [2.0, -1.5, 1.0, 0.5]
y = np.where(X @ teacher > 0, 1, -1)

l2_ref = max_margin(X, y, norm="l2")
l1_ref = max_margin(X, y, norm="l1")


def describe(name, coef, extra=""):
    cos_l2 = coef @ l2_ref.coef / np.linalg.norm(coef) / np.linalg.norm(l2_ref.coef)
    l1_ratio = normalized_margin(coef, X, y, norm="l1") / l1_ref.margin
    mass = np.sort(np.abs(coef))[::-1].cumsum() / np.abs(coef).sum()
    support = int(np.searchsorted(mass, 0.9) + 1)
    cos_teacher = coef @ teacher / np.linalg.norm(coef) / np.linalg.norm(teacher)
    print(
        f"{name:<34} {cos_l2:>8.5f} {l1_ratio:>9.3f} {support:>8d} {cos_teacher:>8.3f}  {extra}"
    )


print(__doc__)
print(f"{'model':<34} {'cos(l2)':>8} {'l1-ratio':>9} {'90%-supp':>8} {'cos(w*)':>8}")
print("cos(l2): cosine with the exact l2 max-margin (hard-margin SVM) direction")
print("l1-ratio: l1-normalized margin / the l1 max-margin (1 = the l1 answer)")
print("90%-supp: features carrying 90% of |coef|; cos(w*): cosine with the teacher\n")
describe("LinearSVC(C=1e4)", LinearSVC(C=1e4, fit_intercept=False, max_iter=100_000).fit(X, y).coef_[0])
for alpha, target in [(100.0, 1e-10), (1.0, 1e-10), (0.1, 1e-10), (0.1, 1e-100), (0.1, 1e-300)]:
    start = time.perf_counter()
    clf = DiagonalLinearClassifier(alpha=alpha, target_loss=target, fit_intercept=False)
    clf.fit(X, y)
    seconds = time.perf_counter() - start
    describe(
        f"Diagonal D=2 alpha={alpha:g} loss={target:.0e}",
        clf.coef_[0],
        f"({clf.n_grad_evals_[0]} gradient evaluations, {seconds:.2f} s)",
    )
describe("exact l1 max-margin", l1_ref.coef)
print(
    "\nLarge alpha: the kernel regime, the l2 (SVM) direction. Small alpha and a"
    "\ntiny loss: the rich regime, sparse and close to the l1 max-margin."
)
