"""Weighted least squares: centering, the row space, the best fit."""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import svd


def center(X, Y, sample_weight):
    """Weighted centering: ``(X - x_mean, Y - y_mean, x_mean, y_mean)``.

    The intercept of a centered least-squares problem is free (unpenalized)
    and equal to ``y_mean - x_mean . coef``. A sparse ``X`` is made dense.
    """
    if sp.issparse(X):
        X = X.toarray()
    total = sample_weight.sum()
    x_mean = sample_weight @ X / total
    y_mean = sample_weight @ Y / total
    return X - x_mean, Y - y_mean, x_mean, y_mean


def row_space(X, sample_weight):
    """``(U, S, Vt)`` of the thin SVD of ``sqrt(s) X``, cut to its numerical rank."""
    if sp.issparse(X):
        X = X.toarray()
    U, S, Vt = svd(np.sqrt(sample_weight)[:, None] * X, full_matrices=False,
                   lapack_driver="gesdd")
    rank = int(np.sum(S > S[0] * max(X.shape) * np.finfo(float).eps)) if S.size else 0
    return U[:, :rank], S[:rank], Vt[:rank]


def least_squares_fit(X, Y, sample_weight):
    """The projection of ``Y`` on the (weighted) column space of ``X``.

    Returns the fitted values of weighted least squares (``Y`` itself, exactly,
    when ``X`` has full row rank: every ``Y`` can then be interpolated) and
    the smallest training loss ``sum_i s_i (y_i - fit_i)**2 / (2 sum_i s_i)``
    per column of ``Y`` (shape (n_targets,)).
    """
    U, _, _ = row_space(X, sample_weight)
    if U.shape[1] == X.shape[0]:
        return Y.copy(), np.zeros(Y.shape[1])
    root = np.sqrt(sample_weight)[:, None]
    fit = U @ (U.T @ (root * Y)) / root
    min_loss = sample_weight @ (Y - fit) ** 2 / (2 * sample_weight.sum())
    return fit, min_loss
