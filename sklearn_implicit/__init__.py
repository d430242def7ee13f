"""sklearn-implicit: linear networks trained by exact gradient flow.

Scikit-learn compatible estimators whose answer is the point of the
continuous-time gradient-flow trajectory at a chosen training loss, so that
the implicit bias of training (kernel vs rich regime) can be seen, measured
and used.
"""

from ._classifiers import DeepLinearClassifier, DiagonalLinearClassifier
from ._config import config_context, get_config, set_config
from .margins import max_margin, normalized_margin
from .path import implicit_bias_path
from ._regressors import DiagonalLinearRegressor
from .plotting import ImplicitBiasDisplay, RegimeMapDisplay
from .theory import predicted_coef, q_minimizer

__version__ = "0.1.0.dev0"

__all__ = [
    "DeepLinearClassifier",
    "DiagonalLinearClassifier",
    "DiagonalLinearRegressor",
    "ImplicitBiasDisplay",
    "RegimeMapDisplay",
    "implicit_bias_path",
    "max_margin",
    "normalized_margin",
    "predicted_coef",
    "q_minimizer",
    "config_context",
    "get_config",
    "set_config",
    "__version__",
]
