"""scikit-learn's estimator checks, with no expected failures."""

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
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
