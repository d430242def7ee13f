"""sklearn-implicit: linear networks trained by exact gradient flow.

Scikit-learn compatible estimators whose answer is the point of the
continuous-time gradient-flow trajectory at a chosen training loss, so that
the implicit bias of training (kernel vs rich regime) can be seen, measured
and used.

The package is built in layers, each a subpackage: the losses
(``_losses``), the network parametrizations (``_networks``), the integrator
(``_integrate``), the estimators (``_estimators``) and the public
:mod:`sklearn_implicit.analysis` tools (margins, max-margin references, the
theory's predictions, paths and plots).
"""

from ._config import config_context, get_config, set_config
from ._estimators import (
    ConvolutionalLinearClassifier,
    DeepLinearClassifier,
    DeepLinearClassifierCV,
    DiagonalLinearClassifier,
    DiagonalLinearClassifierCV,
    DiagonalLinearRegressor,
    DiagonalLinearRegressorCV,
)
from .analysis import (
    ImplicitBiasDisplay,
    RegimeMapDisplay,
    fourier_kkt_residual,
    implicit_bias_path,
    max_margin,
    normalized_margin,
    predicted_coef,
    q_minimizer,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ConvolutionalLinearClassifier",
    "DeepLinearClassifier",
    "DeepLinearClassifierCV",
    "DiagonalLinearClassifier",
    "DiagonalLinearClassifierCV",
    "DiagonalLinearRegressor",
    "DiagonalLinearRegressorCV",
    "ImplicitBiasDisplay",
    "RegimeMapDisplay",
    "fourier_kkt_residual",
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
