"""The estimators: thin classes over the integrator.

:mod:`.base` holds what every estimator does the same way (parameters,
one flow per problem under joblib, warm start, history, warnings) and
:mod:`.classifier` what the classifiers share (labels, one-vs-rest, the
intercept, probabilities); each estimator module says which network it trains
and which parameters define it.
"""

from .convolutional_classifier import ConvolutionalLinearClassifier
from .deep_classifier import DeepLinearClassifier
from .diagonal_classifier import DiagonalLinearClassifier
from .diagonal_regressor import DiagonalLinearRegressor

__all__ = [
    "ConvolutionalLinearClassifier",
    "DeepLinearClassifier",
    "DiagonalLinearClassifier",
    "DiagonalLinearRegressor",
]
