"""
=======================================================
Calibrating the saturated probabilities of the network
=======================================================

Gradient flow on separable data drives every margin to infinity: that is
how the implicit bias shows up, and a small ``target_loss`` follows it far.
The probabilities of :meth:`~sklearn_implicit.DiagonalLinearClassifier.predict_proba`
are ``sigmoid(2 f(x))`` for the exponential loss, so they saturate: in
double precision the probability of the positive class is exactly 1 once
the decision value ``f(x)`` passes about 18.8, and exactly 0 below about
-373 (the exponential underflows). A classifier trained to a
loss of ``1e-100`` can be a good *classifier*, but its probabilities say
little more than the predicted class.

scikit-learn's :class:`~sklearn.calibration.CalibratedClassifierCV` repairs
that without touching the fit: it learns a monotone map of the decision
values on held-out folds (here Platt's sigmoid, ``method="sigmoid"``). The
reliability diagram (:class:`~sklearn.calibration.CalibrationDisplay`)
compares the fraction of positives with the predicted probability, bin by
bin, on the Wisconsin breast cancer data, standardized in a
:class:`~sklearn.pipeline.Pipeline`.
"""

# %%
# The saturated classifier
# ------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import CalibratedClassifierCV, CalibrationDisplay
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_implicit import DiagonalLinearClassifier

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, random_state=0, stratify=y
)

raw = make_pipeline(
    StandardScaler(), DiagonalLinearClassifier(alpha=0.3, target_loss=1e-100)
).fit(X_train, y_train)

# %%
# The calibrated one
# ------------------
# ``ensemble=False``: the sigmoid is fitted on cross-validated decision
# values (five folds) and then applied to the pipeline fitted on the whole
# training set, so the calibrated probabilities are a monotone function of
# the raw classifier's decision values. (The default, ``ensemble=True``,
# averages five calibrated pipelines fitted on four fifths of the data each;
# on these data they disagree enough that the average is too cautious.)
calibrated = CalibratedClassifierCV(raw, method="sigmoid", cv=5,
                                    ensemble=False).fit(X_train, y_train)


def calibration_error(y_true, proba, n_bins=5):
    """Mean over the diagram's bins of ``|fraction of positives - mean
    probability|``, weighted by the number of points in each bin."""
    bins = np.minimum((proba * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        in_bin = bins == b
        error += abs(y_true[in_bin].mean() - proba[in_bin].mean()) * in_bin.sum()
    return error / len(y_true)


models = {"raw predict_proba": raw, "calibrated (sigmoid)": calibrated}
scores = np.abs(raw.decision_function(X_test))
print(f"test set: {len(y_test)} points; median |decision value| of the raw "
      f"classifier: {np.median(scores):.3g}")
print(f"\n{'model':<22} {'accuracy':>8} {'Brier':>7} {'log-loss':>8} "
      f"{'calib. error':>12} {'p is 0 or 1':>11} {'p(true class) = 0':>17}")
probabilities = {}
for name, model in models.items():
    proba = model.predict_proba(X_test)[:, 1]
    probabilities[name] = proba
    saturated = np.mean((proba == 0.0) | (proba == 1.0))
    # A test point given probability exactly 0 for its own class makes the
    # log-loss infinite.
    proba_true = np.where(y_test == 1, proba, 1.0 - proba)
    with np.errstate(divide="ignore"):
        log_loss = -np.mean(np.log(proba_true))
    print(f"{name:<22} {model.score(X_test, y_test):>8.3f} "
          f"{brier_score_loss(y_test, proba):>7.4f} {log_loss:>8.3f} "
          f"{calibration_error(y_test, proba):>12.4f} {saturated:>11.1%} "
          f"{int(np.sum(proba_true == 0.0)):>17d}")

# %%
# Reliability diagram and histogram of the probabilities
# ------------------------------------------------------
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
# The raw probabilities fill only the two end bins: drawn as two markers,
# not joined by a line that would suggest values in between.
styles = [dict(marker="s", markersize=9, linestyle="none"), dict(marker="o")]
for (name, model), style in zip(models.items(), styles):
    CalibrationDisplay.from_estimator(model, X_test, y_test, n_bins=5,
                                      name=name, ax=ax0, **style)
ax0.set_title("Reliability diagram (test set, 5 bins)")
ax0.legend(loc="upper left")
bins = np.linspace(0, 1, 11)
ax1.hist(list(probabilities.values()), bins=bins, label=list(probabilities),
         color=["C0", "C1"])
ax1.set_yscale("log")
ax1.set_xlabel("predicted probability of the positive class")
ax1.set_ylabel("test points per bin")
ax1.set_title("Where the predicted probabilities fall")
ax1.legend(loc="upper center")
plt.show()

# %%
# Reading the figure
# ------------------
# The raw probabilities sit in the two end bins only: 96% of them are
# exactly 0 or 1 (the printed table), the bin at 0 holds 12% positives and
# the bin at 1 only 97%, and 13 test points get probability exactly 0 for
# their true class, so the log-loss is infinite. After calibration no
# probability is exactly 0 or 1, the end bins sit near the diagonal (mean
# probabilities 0.015 and 0.96 against fractions of positives 0.04 and
# 0.99), and 38 points fall in between, where the three middle bins lie
# above the diagonal: there the calibrated probabilities are somewhat too
# low, on 9 to 15 points per bin. The Brier score falls from 0.067 to
# 0.044, the binned calibration error from 0.067 to 0.038 and the log-loss
# from infinity to 0.14. The calibrated probabilities are an increasing
# function of the same pipeline's decision values (median size 2,100 on the
# test set, far past saturation), so they order the test points as the
# decision values do; the accuracy moves (0.933 to 0.940) only because the
# fitted sigmoid crosses 1/2 away from the decision value 0.
