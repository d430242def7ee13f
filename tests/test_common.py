"""scikit-learn's estimator checks, with no expected failures."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_implicit import (
    ConvolutionalLinearClassifier,
    DeepLinearClassifier,
    DiagonalLinearClassifier,
    DiagonalLinearRegressor,
)

ESTIMATORS = [
    DiagonalLinearClassifier(),
    DiagonalLinearClassifier(depth=3, loss="logistic", fit_intercept=False),
    # Small and loose: the checks also fit non-separable data, where the
    # flow runs until it stalls or reaches max_iter.
    DeepLinearClassifier(
        depth=3, width=4, target_loss=1e-2, tol=1e-4, max_iter=100, random_state=0
    ),
    DiagonalLinearRegressor(),
    # Loose like the deep network: explicit steps only, so a stall on
    # non-separable data costs thousands of evaluations at the default tol.
    ConvolutionalLinearClassifier(target_loss=1e-2, tol=1e-4, max_iter=100, random_state=0),
    ConvolutionalLinearClassifier(
        depth=3, init="normal", loss="logistic", fit_intercept=False,
        target_loss=1e-2, tol=1e-4, max_iter=100, random_state=0,
    ),
    # Discrete dynamics. max_iter bounds the runs on non-separable data; on
    # the checks' data far from unit scale these steps diverge, which the
    # fits report (status_ 'diverged' and a ConvergenceWarning, shown).
    # (Not SGD: its mini-batches are drawn from the samples as given, so
    # repeated rows and integer weights are different problems, by design,
    # and check_sample_weight_equivalence would fail.)
    DiagonalLinearClassifier(
        dynamics="gd", learning_rate=0.01, learning_rate_schedule="normalized",
        target_loss=1e-2, max_iter=100,
    ),
    DiagonalLinearRegressor(dynamics="gd", learning_rate=0.1, max_iter=100),
]


# Many checks fit data that no linear function separates (random labels,
# iris' one-vs-rest problems): the classifiers' flows then stall, and the
# fits say so. That warning is expected here, and so is the deep network's
# stop at its deliberately small max_iter=100 (no other estimator above sets
# it). Any other warning, a stop at the default max_iter for instance, is
# shown.
@pytest.mark.filterwarnings(
    "ignore:Gradient flow( \\(class .+ vs rest\\))? stalled before reaching "
    "target_loss=.*The data are not linearly separable"
    ":sklearn.exceptions.ConvergenceWarning"
)
@pytest.mark.filterwarnings(
    "ignore:(Gradient flow|Gradient descent)"
    "( \\((class .+ vs rest|target \\d+)\\))? stopped after max_iter=100 steps"
    ":sklearn.exceptions.ConvergenceWarning"
)
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
