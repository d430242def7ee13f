"""The design matrix of a training problem: intercept column, signed rows,
merged duplicates."""

import numpy as np
import scipy.sparse as sp


def add_intercept_column(X, intercept_scaling):
    """Append the constant column that trains the intercept as one more weight."""
    column = np.full((X.shape[0], 1), intercept_scaling)
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_matrix(column)], format="csr")
    return np.hstack([X, column])


def merge_duplicate_rows(Z, sample_weight):
    """Identical rows of ``Z`` as one row carrying their summed weight.

    The loss is a weighted sum over rows, so this changes nothing in exact
    arithmetic; it makes repeated rows and integer weights the same problem
    to the last bit (the stiff solver's cost model, for one, depends on the
    number of rows), and puts the rows in an order that does not depend on
    the input's. Candidates are found by sorting on a random projection and
    confirmed by comparing the rows themselves, in O(n d).
    """
    n = Z.shape[0]
    if n < 2:
        return Z, sample_weight
    if sp.issparse(Z):
        Z = sp.csr_matrix(Z)
        Z.sum_duplicates()
        Z.sort_indices()
    keys = np.asarray(Z @ np.random.RandomState(0).standard_normal(Z.shape[1])).ravel()
    order = np.argsort(keys, kind="stable")
    Z, keys, sample_weight = Z[order], keys[order], sample_weight[order]
    # Only rows with equal keys can be equal; only those are compared.
    repeat = keys[1:] == keys[:-1]
    pairs = np.flatnonzero(repeat)
    if pairs.size and sp.issparse(Z):
        diff = Z[pairs + 1] - Z[pairs]
        diff.eliminate_zeros()
        repeat[pairs] = np.diff(diff.indptr) == 0
    elif pairs.size:
        repeat[pairs] = np.all(Z[pairs + 1] == Z[pairs], axis=1)
    if not repeat.any():
        return Z, sample_weight
    group = np.concatenate([[0], np.cumsum(~repeat)])
    first = np.flatnonzero(np.concatenate([[True], ~repeat]))
    return Z[first], np.bincount(group, weights=sample_weight)


def signed_rows(X, z):
    """Rows ``z_i x_i``: margins are then ``Z @ beta``."""
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(z) @ X)
    return np.ascontiguousarray(z[:, None] * X)
