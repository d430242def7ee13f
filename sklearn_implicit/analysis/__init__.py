"""Tools to see and measure the implicit bias, beside the estimators.

- :mod:`.margins`: normalized margins of any linear classifier.
- :mod:`.separators`: exact max-margin references (l2, l1, l_inf, Fourier l1).
- :mod:`.convolutional`: the Fourier max-margin problems of convolutional
  networks (:func:`fourier_kkt_residual`).
- :mod:`.theory`: the predicted implicit bias of diagonal networks
  (:func:`q_minimizer`, :func:`predicted_coef`).
- :mod:`.interpolation`: the limits of diagonal networks in regression.
- :mod:`.path`: coefficients over a grid of scales and target losses.
- :mod:`.plotting`: the displays.
"""

from .convolutional import fourier_kkt_residual
from .interpolation import Interpolant, min_potential_interpolant
from .margins import normalized_margin
from .path import implicit_bias_path
from .plotting import ImplicitBiasDisplay, RegimeMapDisplay
from .separators import MaxMarginResult, max_margin
from .theory import predicted_coef, q_minimizer

__all__ = [
    "ImplicitBiasDisplay",
    "Interpolant",
    "MaxMarginResult",
    "RegimeMapDisplay",
    "fourier_kkt_residual",
    "implicit_bias_path",
    "max_margin",
    "min_potential_interpolant",
    "normalized_margin",
    "predicted_coef",
    "q_minimizer",
]
