"""The training loss of a parameter view, and its gradient, in log-space."""

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dscal, idamax


@dataclass
class Point:
    """An iterate with its full training loss."""

    params: np.ndarray
    coef: np.ndarray
    predictions: np.ndarray  # Z @ coef (the margins, for classification)
    log_loss: float


def subset_loss(loss, rows):
    """The loss of the samples ``rows`` (a loss that holds targets keeps theirs).

    Margin losses hold no per-sample data; the squared loss holds its targets
    ``y``, whose rows go with the batch.
    """
    y = getattr(loss, "y", None)
    return loss if y is None else type(loss)(y[rows])


class Objective:
    """``L(theta) = loss(Z @ coef(theta))`` for one view, loss and design.

    Parameters
    ----------
    view : parameter view (see :mod:`.parameters`)
    loss : loss object from :mod:`sklearn_implicit._losses`
    Z : ndarray or sparse matrix of shape (n_samples, n_coef)
        Design; for classification the rows are ``y_i x_i``.
    sample_weight : ndarray of shape (n_samples,)
    """

    def __init__(self, view, loss, Z, sample_weight):
        self.view = view
        self.loss = loss
        self.Z = Z
        self.sample_weight = sample_weight
        self.n_samples = Z.shape[0]
        # Gradient evaluations, full or mini-batch.
        self.n_evals = 0
        self._dense = isinstance(Z, np.ndarray) and not isinstance(Z, np.matrix)
        self._ZT = Z.T
        self._log_sw_sum = math.log(sample_weight.sum())
        self._loss_and_gradient = self._both(loss)
        # Mini-batches of equal weights (the usual case) reuse one weight
        # vector per batch size, so that a loss that keeps the logarithms of
        # its weights (the exponential loss) computes them once; dense rows
        # are gathered into one kept buffer (for a batch of 500 x 3000 a new
        # array took 2.4 to 2.9 ms, the kept buffer 1.9 ms, the batch's two
        # products 0.2 ms each: measured at one BLAS thread).
        self._equal_weights = bool(sample_weight.size) and np.ptp(sample_weight) == 0
        self._batch_weights = {}
        self._rows = None

    def _batch(self, rows):
        """``(Z[rows], weights, log sum of weights)`` of a mini-batch."""
        m = rows.size
        if self._dense:
            if self._rows is None or self._rows.shape[0] < m:
                self._rows = np.empty((m, self.Z.shape[1]))
            # (mode='clip': with the default 'raise' NumPy gathers into a
            # temporary and copies, 6.7 ms for that batch; the rows are valid)
            Z = np.take(self.Z, rows, axis=0, out=self._rows[:m], mode="clip")
        else:
            Z = self.Z[rows]
        if not self._equal_weights:
            weights = self.sample_weight[rows]
            return Z, weights, math.log(weights.sum())
        if m not in self._batch_weights:
            weights = np.full(m, self.sample_weight[0])
            self._batch_weights[m] = (weights, math.log(weights.sum()))
        return (Z, *self._batch_weights[m])

    @staticmethod
    def _both(loss):
        """``(log_mean, r, log_scale)`` of ``loss`` in one call."""
        both = getattr(loss, "log_mean_and_scaled_gradient", None)
        if both is not None:
            return both

        def separate(p, weights):
            return (loss.log_mean(p, weights), *loss.scaled_gradient(p, weights))

        return separate

    def _product(self, A, x):
        out = A @ x
        return out if self._dense else np.asarray(out).ravel()

    def point(self, params):
        """The iterate ``params`` with its full loss (one product with ``Z``)."""
        coef = self.view.coef(params)
        p = self._product(self.Z, coef)
        # (the loss as the gradient evaluations compute it: the exponential
        # loss keeps the logarithms of its weights there, which its log_mean
        # takes again at every call)
        log_loss = self._loss_and_gradient(p, self.sample_weight)[0]
        return Point(params, coef, p, float(log_loss))

    def gradient(self, params, rows=None):
        """The negative gradient of the (mini-batch) loss w.r.t. the raw parameters.

        Parameters
        ----------
        params : ndarray
        rows : ndarray of int, default=None
            The mini-batch; None for the full training loss.

        Returns
        -------
        point : Point or None
            ``params`` with its full loss (None for a mini-batch).
        log_loss : float
            Log of the loss whose gradient this is (full or mini-batch).
        direction : ndarray or None
            ``-grad_theta L = exp(log_size) * direction``; None where the
            gradient is zero or not finite.
        log_size : float
            ``-inf`` for a zero gradient, NaN where it is not finite.
        """
        self.n_evals += 1
        coef = self.view.coef(params)
        if rows is None:
            Z, ZT, weights = self.Z, self._ZT, self.sample_weight
            loss_and_gradient, log_sw_sum = self._loss_and_gradient, self._log_sw_sum
        else:
            Z, weights, log_sw_sum = self._batch(rows)
            ZT = Z.T
            loss = subset_loss(self.loss, rows)
            loss_and_gradient = (self._loss_and_gradient if loss is self.loss
                                 else self._both(loss))
        p = self._product(Z, coef)
        log_loss, r, log_scale = loss_and_gradient(p, weights)
        log_loss = float(log_loss)
        point = Point(params, coef, p, log_loss) if rows is None else None
        g = self._product(ZT, r)
        # (BLAS idamax and dscal: at small sizes a fifth of the cost of
        # NumPy's reductions; a NaN that idamax passes over reaches the
        # parameters and then the loss, where the divergence check sees it)
        g_max = abs(g.item(idamax(g))) if g.size else 0.0
        if not (math.isfinite(g_max) and log_loss < np.inf):
            return point, log_loss, None, np.nan
        if g_max == 0 or log_scale == -np.inf:
            return point, log_loss, None, -np.inf
        g = dscal(1.0 / g_max, g)
        # -grad_beta L = exp(log_g) * g
        log_g = log_scale - log_sw_sum + math.log(g_max)
        direction, log_size = self.view.gradient(params, g)
        return point, log_loss, direction, log_g + log_size
