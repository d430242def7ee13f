"""The shared data checks: the one-pass largest entry, the scale advice and
the overflow check that use it, and the labels' check."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_implicit import DiagonalLinearClassifier
from sklearn_implicit.utils._validation import (
    _UNIT_SCALE,
    check_class_labels,
    check_summable,
    largest_abs,
    scale_advice,
)


def _column_rule(X):
    """The advice's definition, column by column: some feature that is not
    all zero has its largest absolute value outside the unit range."""
    top = np.abs(X.toarray() if sp.issparse(X) else X).max(axis=0)
    top = top[top > 0]
    return bool(top.size) and (top.min() < _UNIT_SCALE[0] or top.max() > _UNIT_SCALE[1])


def _layouts(X):
    """The same data as C- and F-ordered arrays, a strided view, CSR and CSC."""
    wide = np.zeros((X.shape[0], 2 * X.shape[1]))
    wide[:, ::2] = X
    return [X, np.asfortranarray(X), wide[:, ::2], sp.csr_matrix(X), sp.csc_matrix(X)]


def _cases():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((40, 7))
    one_hot = (rng.random((40, 7)) < 0.1).astype(float)
    tiny_column = base.copy()
    tiny_column[:, 3] *= 1e-5
    # A column whose only entry at unit scale is in the last row: every
    # block of rows but the last leaves it open.
    late = base * 1e-5
    late[-1, 2] = 0.5
    late[:, [0, 1, 3, 4, 5, 6]] = base[:, [0, 1, 3, 4, 5, 6]]
    zero_column = base.copy()
    zero_column[:, 5] = 0.0
    negative_zero = zero_column.copy()
    negative_zero[:, 5] = -0.0
    return {
        "gaussian": base,
        "one-hot": one_hot,
        "one tiny column": tiny_column,
        "late entry": late,
        "zero column": zero_column,
        "negative zeros": negative_zero,
        "huge": base * 1e4,
        "just inside": base / np.abs(base).max(axis=0) * _UNIT_SCALE[0],
        "all zero": np.zeros((5, 3)),
    }


@pytest.mark.parametrize("name, X", list(_cases().items()))
def test_scale_advice_follows_its_column_rule_in_every_layout(name, X):
    expected = _column_rule(X)
    for Y in _layouts(X):
        assert largest_abs(Y) == np.abs(X).max()
        assert bool(scale_advice(Y)) == expected, (name, type(Y), Y.flags if
                                                   isinstance(Y, np.ndarray) else "")
        assert scale_advice(Y, largest_abs(Y)) == scale_advice(Y)
    if expected:
        top = np.abs(X).max(axis=0)
        top = top[top > 0]
        assert f"from {top.min():.3g} to {top.max():.3g}" in scale_advice(X)


def test_largest_abs_of_empty_and_int_data():
    assert largest_abs(np.zeros((0, 3))) == 0.0
    assert largest_abs(sp.csr_matrix((4, 3))) == 0.0
    assert largest_abs(np.array([[1, -7], [3, 2]])) == 7.0


def test_summable_check_uses_the_largest_entry():
    n = 10
    X = np.ones((n, 3))
    X[4, 1] = -1e300 / n * 1.5  # sums stay finite: below the float range
    check_summable(X)
    X[5:7, 1] = -1e308  # these two sum to -inf
    for Y in _layouts(X):
        with pytest.raises(ValueError, match=r"largest absolute value 1e\+308"):
            check_summable(Y)
    # The intercept column counts too; a given largest entry is used as is.
    with pytest.raises(ValueError, match="too large to sum"):
        check_summable(np.ones((n, 2)), 1e308)
    check_summable(np.ones((n, 2)), 1.0, abs_max=1.0)


@pytest.mark.parametrize("y", [
    np.array([0, 1, 1, 0]), np.array([True, False, True, True]),
    np.array([3, 1, 2, 2], dtype=np.uint8), np.array(["a", "b", "a", "b"]),
    np.array([0.0, 1.0, 1.0, 0.0]),
])
def test_class_labels_accepted(y):
    check_class_labels(y)


def test_continuous_labels_refused_as_by_scikit_learn():
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        check_class_labels(np.array([0.5, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="Unknown label type"):
        DiagonalLinearClassifier().fit(np.eye(4), [0.5, 1.0, 1.0, 0.0])
