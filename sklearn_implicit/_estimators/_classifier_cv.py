"""What the cross-validated classifiers share: their data and default grids.

A ``...ClassifierCV`` class is ``(FlowClassifierCVMixin, PointClassifier)``:
the grids' rules below read the training data once, and the network sets
only how the size of a solution is measured (:meth:`_solution_size`), which
places the default scales around the kernel-to-rich boundary.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import validate_data

from .._losses import LOSSES
from ..analysis.path import _check_targets
from ..analysis.separators import max_margin
from ..utils._design import signed_rows
from ..utils._validation import check_class_labels
from ._cv_path import FlowCVMixin, check_grid_count, user_alphas

# The default scales: alpha**depth from 10**_ALPHA_DECADES[0] to
# 10**_ALPHA_DECADES[1] times the margin scale s (see _margin_scale). The
# measured kernel-to-rich crossover of depth 2 (regime score 0.5, see
# RegimeMapDisplay) lies at alpha**2 of about 0.5 s to 1 s at a loss of
# 1e-10 and 3 s to 7 s at 1e-100, on breast_cancer (standardized, and with
# 30 noise features as in examples/plot_cv_regimes.py) and on the Gaussian
# data of examples/plot_regime_map.py (19 s at 1e-300): the range leaves
# about two decades on either side.
_ALPHA_DECADES = (-2.0, 3.0)
# The default targets: 10**-e, e geometric in this range (rounded), so that
# log(1/L), which sets the regime with alpha (mu = alpha**D / gamma), is
# sampled evenly on a log scale.
_TARGET_EXPONENTS = (2.0, 100.0)


def _margin_scale(problems, size):
    """The size ``s`` of coefficients that put every margin at 1.

    Per binary problem, ``s = size(b)`` (e.g. ``max_j |b_j|``) for ``b`` the minimum-norm
    solution of ``Z b = 1`` (rows ``z_i x_i``, intercept column included)
    when it has one (no more samples than features, generically); else the
    hard-margin SVM ``min ||b|| s.t. Z b >= 1`` when the classes are
    linearly separable; else the least-squares solution of ``Z b = 1``. The
    geometric mean over the one-vs-rest problems.
    """
    scales = []
    for z in problems.signs:
        Z = signed_rows(problems.X, z)
        ones = np.ones(Z.shape[0])
        b = lsqr(Z, ones, atol=1e-12, btol=1e-12)[0] if sp.issparse(Z) else (
            np.linalg.lstsq(Z, ones, rcond=None)[0]
        )
        if np.max(np.abs(Z @ b - 1.0)) > 1e-6:
            try:
                with warnings.catch_warnings():
                    # A polishing failure still gives a good enough scale.
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    result = max_margin(problems.X, z)
                b = result.coef / result.margin
            except ValueError:
                pass  # not separable: the least-squares solution stands
        scales.append(size(b))
    return float(np.exp(np.mean(np.log(scales))))


class FlowClassifierCVMixin(FlowCVMixin):
    """Labels and the default grids of the cross-validated classifiers."""

    _default_scoring = "accuracy"
    # whether a row of per-feature scales is a grid point (the point
    # estimator accepts an array alpha)
    _per_feature_alphas = True

    def _solution_size(self, coef):
        """The size of coefficients ``coef`` (intercept weight last, if
        fitted) that the scale ``alpha**depth`` is held against: the largest
        absolute weight, for networks whose weights act coordinate by
        coordinate."""
        return np.max(np.abs(coef))

    def _validate_cv_data(self, X, y):
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64)
        check_class_labels(y)
        self.classes_ = np.unique(y)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data; the data contain only one class: {self.classes_[0]!r}."
            )
        return X, y

    def _alpha_grid(self, full):
        grid = user_alphas(self, full.n_features)
        if grid is not None and grid.ndim > 1 and not self._per_feature_alphas:
            raise ValueError(
                f"alphas must be a 1-D array of scales for {type(self).__name__} "
                f"(its network has one scale); got an array of shape {grid.shape}."
            )
        if grid is not None:
            return grid
        s = _margin_scale(full, self._solution_size)
        exponents = np.linspace(*_ALPHA_DECADES, self.alphas)
        return (s * 10.0**exponents) ** (1.0 / self.depth)

    def _target_grid(self, full, fold_problems):
        grid = check_grid_count(self.target_losses, "target_losses")
        if grid is None:
            exponents = np.unique(np.round(np.geomspace(*_TARGET_EXPONENTS, self.target_losses)))
            # The doubles of the literals 1e-2, 1e-3, ...: as a user writes them.
            return np.array([float(f"1e-{e:.0f}") for e in exponents])
        initial_loss = np.exp(LOSSES[self.loss]().initial_log_mean(np.ones(1)))
        return _check_targets(grid, initial_loss, self.loss)
