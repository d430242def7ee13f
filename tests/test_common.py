"""scikit-learn's estimator checks, with no expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_implicit import DiagonalLinearClassifier

ESTIMATORS = [
    DiagonalLinearClassifier(),
    DiagonalLinearClassifier(depth=3, loss="logistic", fit_intercept=False),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
