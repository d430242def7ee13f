"""Every private scikit-learn import of the package, in one place.

These names are stable across scikit-learn 1.6 to 1.9 but not public; if one
moves, only this file changes.
"""

from sklearn.base import _fit_context
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["_fit_context", "LinearClassifierMixin", "Interval", "StrOptions"]
