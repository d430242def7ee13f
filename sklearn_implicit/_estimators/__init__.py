"""The estimators: thin classes over the integrator.

:mod:`.base` holds what every estimator does the same way (parameters,
one flow per problem under joblib, warm start, history, warnings) and
:mod:`.classifier` what the classifiers share (labels, one-vs-rest, the
intercept, probabilities); each estimator module says which network it trains
and which parameters define it. :mod:`._cv_path` holds what the
cross-validated ``...CV`` estimators share, :mod:`._classifier_cv` what the
cross-validated classifiers add (labels, the default grids).
"""

from .convolutional_classifier import ConvolutionalLinearClassifier
from .deep_classifier import DeepLinearClassifier
from .deep_classifier_cv import DeepLinearClassifierCV
from .diagonal_classifier import DiagonalLinearClassifier
from .diagonal_classifier_cv import DiagonalLinearClassifierCV
from .diagonal_regressor import DiagonalLinearRegressor
from .diagonal_regressor_cv import DiagonalLinearRegressorCV

__all__ = [
    "ConvolutionalLinearClassifier",
    "DeepLinearClassifier",
    "DeepLinearClassifierCV",
    "DiagonalLinearClassifier",
    "DiagonalLinearClassifierCV",
    "DiagonalLinearRegressor",
    "DiagonalLinearRegressorCV",
]
