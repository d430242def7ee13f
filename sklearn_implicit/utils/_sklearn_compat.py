"""Every private scikit-learn import of the package, in one place.

These names are stable across scikit-learn 1.6 to 1.9 but not public; if one
moves, only this file changes.
"""

from sklearn.base import _fit_context
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import _raise_for_params, _routing_enabled
from sklearn.utils.validation import _check_method_params

__all__ = [
    "_fit_context",
    "LinearClassifierMixin",
    "Interval",
    "StrOptions",
    "_check_method_params",
    "_raise_for_params",
    "_routing_enabled",
]
