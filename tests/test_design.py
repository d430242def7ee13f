"""The design matrix: exact merging of duplicated rows, and what it promises.

A fit with a row repeated is the fit with that row's weight doubled, to the
last bit, wherever the copies sit; and the rows' order does not matter.
"""

import functools
import operator

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_implicit import DeepLinearClassifier, DiagonalLinearClassifier
from sklearn_implicit.utils._design import (
    add_intercept_column,
    merge_duplicate_rows,
    signed_rows,
)

DENSE_AND_SPARSE = [np.asarray, sp.csr_matrix]


def _dense(Z):
    return Z.toarray() if sp.issparse(Z) else Z


def _problem(n, d, seed, zeros=0.3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[rng.random(X.shape) < zeros] = 0.0
    y = (X @ rng.standard_normal(d) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("make", DENSE_AND_SPARSE, ids=["dense", "sparse"])
@pytest.mark.parametrize("d", [3, 37, 300])
@pytest.mark.parametrize("weighting", ["integers", "unit", "equal"])
def test_merge_finds_every_copy_wherever_it_sits(make, d, weighting):
    # Keys from a BLAS product gave the same row another key in its last bit
    # at another position (the product's blocking depends on it), and such
    # copies stayed apart. Rows are now compared as they are. (Unit weights,
    # the default, and equal weights take paths of their own.)
    rng = np.random.default_rng(d)
    base = rng.standard_normal((7, d))
    picks = rng.integers(0, 7, size=60)
    Z = base[picks]
    weights = {"integers": rng.integers(1, 5, size=60).astype(float),
               "unit": np.ones(60), "equal": np.full(60, 0.3)}[weighting]
    merged, merged_weights = merge_duplicate_rows(make(Z), weights)
    merged = _dense(merged)
    distinct = np.unique(picks)
    assert merged.shape == (distinct.size, d)
    for row, weight in zip(merged, merged_weights):
        (k,) = np.flatnonzero(np.all(base == row, axis=1))
        # summed one after the other
        assert weight == functools.reduce(operator.add, weights[picks == k])


@pytest.mark.parametrize("make", DENSE_AND_SPARSE, ids=["dense", "sparse"])
def test_merge_compares_rows_as_numbers(make):
    # -0.0 equals 0.0, and a sparse row's explicit zeros are no entries
    Z = np.array([[1.0, 0.0, 2.0], [1.0, -0.0, 2.0], [-0.0, 3.0, 0.0], [0.0, 3.0, -0.0]])
    if make is sp.csr_matrix:
        # the second row with an explicit -0.0, the third with an explicit 0.0
        Z = sp.csr_matrix((np.array([1.0, 2.0, 1.0, -0.0, 2.0, 0.0, 3.0, 3.0]),
                           np.array([0, 2, 0, 1, 2, 0, 1, 1]),
                           np.array([0, 2, 5, 7, 8])), shape=(4, 3))
    merged, weights = merge_duplicate_rows(make(Z) if make is np.asarray else Z,
                                           np.array([1.0, 2.0, 3.0, 4.0]))
    merged = _dense(merged)
    assert merged.shape == (2, 3)
    assert sorted(weights.tolist()) == [3.0, 7.0]
    # no negative zeros left
    assert not np.any(np.signbit(merged) & (merged == 0))


@pytest.mark.parametrize("make", DENSE_AND_SPARSE, ids=["dense", "sparse"])
def test_merge_does_not_depend_on_the_row_order(make):
    rng = np.random.default_rng(5)
    X, _ = _problem(40, 25, seed=5)
    Z = np.vstack([X, X[[3, 3, 17, 30]]])
    weights = rng.uniform(0.1, 3.0, size=Z.shape[0])
    reference = merge_duplicate_rows(make(Z), weights)
    for _ in range(5):
        order = rng.permutation(Z.shape[0])
        merged, merged_weights = merge_duplicate_rows(make(Z[order]), weights[order])
        assert _dense(merged).tobytes() == _dense(reference[0]).tobytes()
        # weights summed in one order whatever the input's: the same bits
        assert merged_weights.tobytes() == reference[1].tobytes()


def test_merge_of_sparse_rows_that_share_a_hash():
    # Hash collisions are rare; force them (a mix that ignores the column
    # makes [1, 0] and [0, 1] collide): equal rows still end up together,
    # distinct ones apart.
    from sklearn_implicit.utils import _design

    Z = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    original = _design._HASH_MIX
    try:
        # multipliers of 0 and 1 make every row's hash the sum of its bits
        _design._HASH_MIX = (np.uint64(0), np.uint64(1))
        merged, weights = merge_duplicate_rows(Z, np.array([1.0, 2.0, 3.0, 4.0]))
    finally:
        _design._HASH_MIX = original
    merged = merged.toarray()
    assert merged.shape == (2, 2)
    assert {tuple(r): w for r, w in zip(merged, weights)} == {(1.0, 0.0): 4.0, (0.0, 1.0): 6.0}


def test_signed_rows_hold_no_negative_zeros():
    X = np.array([[0.0, -0.0, 1.0], [0.0, 2.0, -0.0]])
    Z = signed_rows(X, np.array([-1.0, 1.0]))
    assert np.array_equal(Z, [[0.0, 0.0, -1.0], [0.0, 2.0, 0.0]])
    assert not np.any(np.signbit(Z) & (Z == 0))


def _same_fit(a, b):
    for name in ("coef_", "intercept_", "log10_loss_", "log10_time_", "n_grad_evals_"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name


ESTIMATORS = [
    lambda: DiagonalLinearClassifier(alpha=0.3, target_loss=1e-20, tol=1e-8),
    lambda: DiagonalLinearClassifier(alpha=0.5, depth=3, loss="logistic", target_loss=1e-8),
    lambda: DeepLinearClassifier(depth=2, width=4, target_loss=1e-6, random_state=0),
]


@pytest.mark.parametrize("make", DENSE_AND_SPARSE, ids=["dense", "sparse"])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=["diagonal", "diagonal-3", "deep"])
def test_a_repeated_row_is_a_doubled_weight_to_the_last_bit(make, estimator):
    X, y = _problem(30, 41, seed=1)
    rng = np.random.default_rng(2)
    # (copies among the last rows too: a BLAS product takes those in another
    # block, so keys computed by one differ there in the last bit)
    for k, position in [(3, 29), (12, 30), (29, 0), (7, 19)]:
        repeated = np.insert(X, position, X[k], axis=0)
        labels = np.insert(y, position, y[k])
        weights = np.ones(30)
        weights[k] = 2.0
        a = estimator().fit(make(repeated), labels)
        b = estimator().fit(make(X), y, sample_weight=weights)
        _same_fit(a, b)
        order = rng.permutation(31)
        c = estimator().fit(make(repeated[order]), labels[order])
        _same_fit(a, c)


@pytest.mark.parametrize("intercept", [None, 2.0], ids=["no intercept", "intercept"])
@pytest.mark.parametrize("make", DENSE_AND_SPARSE, ids=["dense", "sparse"])
def test_merge_with_signs_is_the_merge_of_the_signed_rows(make, intercept):
    # The classifiers pass the labels as signs (and the intercept column's
    # value): the result is the merge of signed_rows (of the data with that
    # column), to the last bit, also where a row equals another only once
    # signed (x with sign 1, -x with sign -1, merged without an intercept
    # column, which tells them apart), and holds no -0.0.
    X, y = _problem(60, 14, seed=3)
    X = np.vstack([X, X[[4, 4, 9]], -X[[7]]])
    signs = np.where(np.r_[y, y[[4, 4, 9]], 1 - y[[7]]] == 1, 1.0, -1.0)
    weights = np.random.default_rng(3).uniform(0.5, 2.0, size=X.shape[0])
    for rows in (np.arange(X.shape[0] - 1), np.arange(X.shape[0])):
        merged, merged_weights = merge_duplicate_rows(make(X[rows]), weights[rows],
                                                      signs=signs[rows],
                                                      intercept_scaling=intercept)
        full = make(X[rows]) if intercept is None else add_intercept_column(
            make(X[rows]), intercept)
        expected, expected_weights = merge_duplicate_rows(
            signed_rows(full, signs[rows]), weights[rows])
        merged, expected = _dense(merged), _dense(expected)
        # rows 4 (three times) and 9 (twice) merged, and 7 with its negative
        across = rows.size == X.shape[0] and intercept is None
        assert merged.shape[0] == rows.size - 3 - across
        assert not np.any(np.signbit(merged) & (merged == 0))
        assert sorted(map(tuple, merged)) == sorted(map(tuple, expected))
        by_row = dict(zip(map(tuple, expected), expected_weights))
        assert all(by_row[tuple(r)] == w for r, w in zip(merged, merged_weights))


def test_merge_with_signs_of_rows_alike_in_the_probed_columns():
    # Rows that differ only outside the twelve probed columns share a hash:
    # they are compared in full and ordered by their contents.
    rng = np.random.default_rng(0)
    X = np.zeros((30, 40))
    X[:, 10:30] = rng.integers(0, 3, size=(30, 20)).astype(float)
    X = np.vstack([X, X[:5]])
    signs = np.where(rng.random(35) < 0.5, 1.0, -1.0)
    signs[30:] = signs[:5]
    weights = np.ones(35)
    merged, merged_weights = merge_duplicate_rows(X, weights, signs=signs)
    signed = signs[:, None] * X + 0.0
    assert merged.shape[0] == np.unique(signed, axis=0).shape[0]
    assert merged_weights.sum() == 35.0
    for _ in range(3):
        order = rng.permutation(35)
        again = merge_duplicate_rows(X[order], weights[order], signs=signs[order])
        assert again[0].tobytes() == merged.tobytes()


@pytest.mark.parametrize("kind", ["signs", "one-hot"])
def test_merge_of_binary_rows(kind):
    # Binary features make the twelve probed columns take few values: most
    # rows share their first hash and are told apart by the hash of all
    # their columns. The merge is still exact and the order the contents'.
    rng = np.random.default_rng(1)
    if kind == "signs":
        X = np.where(rng.random((400, 24)) < 0.5, -1.0, 1.0)
    else:
        X = np.zeros((400, 24))
        X[np.arange(400)[:, None], rng.integers(0, 6, size=(400, 4)) + 6 * np.arange(4)] = 1.0
    X = np.vstack([X, X[:40], -X[40:45]])
    signs = np.where(rng.random(X.shape[0]) < 0.5, 1.0, -1.0)
    signs[400:440] = signs[:40]
    signs[440:] = -signs[40:45]
    weights = rng.uniform(0.5, 2.0, size=X.shape[0])
    for across in (False, True):
        # rows 40..44 and their negatives are equal once signed
        n = 440 + 5 * across
        merged, merged_weights = merge_duplicate_rows(X[:n], weights[:n], signs=signs[:n])
        expected, expected_weights = merge_duplicate_rows(
            signed_rows(X[:n], signs[:n]), weights[:n])
        distinct = np.unique(signed_rows(X[:n], signs[:n]), axis=0)
        assert merged.shape == distinct.shape
        # (the rows of positive sign come first: another order)
        assert sorted(map(tuple, merged)) == sorted(map(tuple, expected))
        by_row = dict(zip(map(tuple, expected), expected_weights))
        assert all(by_row[tuple(r)] == w for r, w in zip(merged, merged_weights))
        order = rng.permutation(n)
        again = merge_duplicate_rows(X[order], weights[order], signs=signs[order])
        assert again[0].tobytes() == merged.tobytes()
        assert again[1].tobytes() == merged_weights.tobytes()


def test_merge_of_rows_whose_full_hashes_collide(monkeypatch):
    # Rows alike in the probed columns whose full hashes collide too (forced
    # here) are sorted by their bytes: still exact, still the contents' order.
    from sklearn_implicit.utils import _design

    monkeypatch.setattr(_design, "_full_hashes",
                        lambda Z, rows, negative=None: np.zeros(rows.size, dtype=np.uint64))
    rng = np.random.default_rng(2)
    X = np.zeros((50, 40))
    X[:, 10:30] = rng.integers(0, 2, size=(50, 20)).astype(float)
    X = np.vstack([X, X[:7], -X[7:9]])
    signs = np.ones(X.shape[0])
    signs[57:] = -1.0
    weights = np.ones(X.shape[0])
    merged, merged_weights = merge_duplicate_rows(X, weights, signs=signs)
    signed = signs[:, None] * X + 0.0
    assert merged.shape[0] == np.unique(signed, axis=0).shape[0]
    assert merged_weights.sum() == X.shape[0]
    order = rng.permutation(X.shape[0])
    again = merge_duplicate_rows(X[order], weights[order], signs=signs[order])
    assert again[0].tobytes() == merged.tobytes()
