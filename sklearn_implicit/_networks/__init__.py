"""Network parametrizations of a linear predictor.

Every network maps a flat state vector to the end-to-end coefficient vector
``beta`` and translates a negative gradient with respect to ``beta`` into the
velocity of its state under gradient flow. That is the whole contract with the
integrator (see :class:`~sklearn_implicit._networks._contract.Network`).
"""

from ._contract import Network
from .convolutional import ConvolutionalNetwork
from .dense import DenseNetwork
from .diagonal import DiagonalNetwork

__all__ = ["Network", "ConvolutionalNetwork", "DenseNetwork", "DiagonalNetwork"]
