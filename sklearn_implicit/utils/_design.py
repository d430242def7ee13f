"""The design matrix of a training problem: intercept column, signed rows,
merged duplicates."""

from functools import lru_cache

import numpy as np
import scipy.sparse as sp


def add_intercept_column(X, intercept_scaling):
    """Append the constant column that trains the intercept as one more weight."""
    column = np.full((X.shape[0], 1), intercept_scaling)
    if sp.issparse(X):
        return sp.hstack([X, sp.csr_matrix(column)], format="csr")
    return np.hstack([X, column])


def merge_duplicate_rows(Z, sample_weight, *, signs=None, intercept_scaling=None):
    """Identical rows of ``Z`` (of ``diag(signs) [Z, intercept_scaling]``) as
    one row carrying their summed weight.

    The loss is a weighted sum over rows, so this changes nothing in exact
    arithmetic; it makes repeated rows and integer weights the same problem
    to the last bit (the stiff solver's cost model, for one, depends on the
    number of rows), and puts the rows in an order that depends on their
    contents only, not on the input's order.

    Rows are compared exactly, as numbers: ``-0.0`` equals ``0.0`` (the
    returned rows hold ``0.0``) and a sparse row's explicit zeros are no
    entries. Rows are sorted by an integer hash of their contents (dense: of
    twelve columns, four at each end and in the middle; sparse: of all
    entries, exact in any order of summation), equal hashes are confirmed
    by comparing the rows in full, runs of equal hashes that hold distinct
    dense rows are sorted by a hash of all their columns, and rows that
    still share their hashes by their bytes, so the order is the contents'
    alone. The weights of a group are summed in increasing order,
    so that their sum does not depend on the input's order either.

    A dense ``Z`` is gathered once into the result, and the signs (and
    ``-0.0 + 0.0 = 0.0``) are applied to it in place: with ``signs``, the
    rows of positive sign come first, so that this is one pass over two
    blocks (a product with a column of signs, ``signs[:, None] * Z``, cost
    four times as much). Rows that are equal only once signed (``x`` with
    sign 1 and ``-x`` with sign -1) are found too, and merged by sorting
    the signed rows instead. The intercept column is written into the same
    result (:func:`add_intercept_column` first would be a second copy of
    ``Z``; fresh arrays of this size cost several products here, most of it
    in the first touch of their pages).

    Parameters
    ----------
    Z : {ndarray, sparse matrix} of shape (n_samples, n_coef)
    sample_weight : ndarray of shape (n_samples,)
    signs : ndarray of shape (n_samples,) of 1.0 and -1.0, default=None
        Signs of the rows (the labels of a classifier, so that margins are
        ``Z @ beta``, as :func:`signed_rows` makes them); None: all 1.
    intercept_scaling : float, default=None
        A positive value: the rows get one more column of this value (the
        intercept's, as :func:`add_intercept_column` adds it) before they
        are signed; None: no such column.

    Returns
    -------
    Z : ndarray or CSR matrix
        The distinct (signed) rows, sorted: a new C-contiguous array or a
        new canonical CSR matrix.
    sample_weight : ndarray
        Their summed weights.
    """
    sample_weight = np.asarray(sample_weight, dtype=float)
    if intercept_scaling is not None and (sp.issparse(Z) or Z.shape[1] == 0):
        Z = add_intercept_column(Z, intercept_scaling)
        intercept_scaling = None
    if sp.issparse(Z):
        if signs is not None:
            Z = signed_rows(Z, signs)
        Z, order, same = _sorted_sparse_rows(Z)
        first, weights = _group_weights(sample_weight, order, same)
        return (Z, weights) if first is None else (Z[first], weights)
    Z = np.ascontiguousarray(Z, dtype=float)
    n, d = Z.shape
    if d == 0:
        # rows without columns are all equal
        return Z[: min(n, 1)].copy(), sample_weight.sum(keepdims=True)[: min(n, 1)]
    negative = np.zeros(n, dtype=bool) if signs is None else np.asarray(signs) < 0
    # (an intercept column tells rows of opposite signs apart)
    kept, weights = distinct_rows(Z, sample_weight, negative, across=intercept_scaling is None)
    if kept is None:
        # rows equal only once signed: sorted as signed rows
        return merge_duplicate_rows(signed_rows(Z, np.where(negative, -1.0, 1.0)),
                                    sample_weight)
    if intercept_scaling is None:
        # (mode="clip" skips take's bounds-checking buffer; kept is in range)
        Z = np.take(Z, kept, axis=0, out=np.empty((kept.size, d)), mode="clip")
    else:
        Z = _gather_with_column(Z, kept, intercept_scaling)
    m = np.count_nonzero(~negative[kept])
    np.add(Z[:m], 0.0, out=Z[:m])
    np.subtract(0.0, Z[m:], out=Z[m:])
    return Z, weights


def distinct_rows(Z, sample_weight, negative, across=True):
    """The merge's own work on a dense ``Z``, before any row is copied: the
    rows to keep, in their sorted order, and their summed weights.

    ``negative`` marks the rows of sign -1. ``(None, None)`` where rows of
    opposite signs are equal once signed (looked for only if ``across``).
    """
    order, same = _sorted_dense_rows(Z, negative, across=across)
    if order is None:
        return None, None
    first, weights = _group_weights(sample_weight, order, same)
    return (order if first is None else order[first]), weights


def _gather_with_column(Z, rows, value):
    """``[Z[rows], value]`` as one new C-contiguous array, gathered a block
    of rows at a time (each block's temporary stays in cache)."""
    m, d = rows.size, Z.shape[1]
    out = np.empty((m, d + 1))
    block = max(1, (1 << 15) // d)
    for lo in range(0, m, block):
        out[lo:lo + block, :d] = Z[rows[lo:lo + block]]
    out[:, d] = value
    return out


def _signed(rows, negative):
    """``rows`` times their signs, with no ``-0.0`` (``0.0 - x`` negates)."""
    return np.where(negative[:, None], 0.0 - rows, rows + 0.0)


def _sorted_dense_rows(Z, negative, across=True):
    """The order that sorts the signed rows of a C-contiguous ``Z``, rows of
    positive sign first, by a hash of a few columns, then by a hash of all
    columns where those collide, then by their bytes where both collide;
    and whether sorted row ``i + 1`` equals row ``i``. ``(None, None)``
    where rows of opposite signs are equal once signed (looked for only if
    ``across``).

    The first hash reads twelve columns (four at each end and in the
    middle: a few cache lines per row, where columns spread over the row
    would cost one each), so sorting costs little beside one pass over
    ``Z``; rows of equal hash are compared in full. Sorting all rows by
    their bytes instead cost 8.5 products with ``Z`` at 3000 x 300 (14 with
    300 duplicated rows). Binary features make the twelve columns take few
    values: the rows that share them are told apart by the hash of all
    their columns (sorting them by their bytes cost 150 products at
    3300 x 300 with features of +-1).
    """
    columns, multipliers = _probe(Z.shape[1])
    # The sign is the key's top bit, so that one sort puts the rows of
    # positive sign first, each block by hash. Within a block the rows need
    # not be signed; they are where a row is looked for in the other block.
    keys = _row_hashes(Z[:, columns], negative if across else None, multipliers)
    keys |= np.left_shift(negative, np.uint64(63), dtype=np.uint64)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    if across and _equal_across_signs(Z, negative, keys, order):
        return None, None
    tie = keys[1:] == keys[:-1]
    same = _equal_adjacent_rows(Z, order, np.flatnonzero(tie))
    if np.count_nonzero(same) == np.count_nonzero(tie):
        return order, same
    # Distinct rows with one hash: the runs of equal hashes that hold such
    # rows are sorted by the hash of all columns, stably, in one sort.
    run = _runs(tie)
    members = np.flatnonzero(np.isin(run, run[1:][tie & ~same]))
    rows = order[members]
    # (a run holds rows of one sign: their hashes need not be signed)
    full = _full_hashes(Z, rows)
    ranked = np.lexsort((full, run[members]))
    order[members], full = rows[ranked], full[ranked]
    second = np.zeros(order.size, dtype=np.uint64)
    second[members] = full
    tie &= second[1:] == second[:-1]
    same = _equal_adjacent_rows(Z, order, np.flatnonzero(tie))
    if np.count_nonzero(same) < np.count_nonzero(tie):
        # Distinct rows with both hashes equal: each such run is sorted by
        # the signed rows' bytes, so that equal rows are adjacent and the
        # order is the contents'.
        run = _runs(tie)
        for r in np.unique(run[1:][tie & ~same]):
            members = np.flatnonzero(run == r)
            rows = order[members]
            ranked = np.argsort(_row_bytes(_signed(Z[rows], negative[rows])), kind="stable")
            order[members] = rows[ranked]
        same = _equal_adjacent_rows(Z, order, np.flatnonzero(tie))
    return order, same


def _runs(tie):
    """The run of equal keys that each sorted row is in, numbered from 0;
    ``tie[i]``: sorted rows ``i`` and ``i + 1`` have equal keys."""
    return np.concatenate([[0], np.cumsum(~tie)])


def _row_hashes(probed, negative, multipliers, scratch=None):
    """Hashes of the rows of ``probed`` (a new array of some of the design's
    rows or columns, which this overwrites), signed where ``negative`` (None:
    as they are); ``scratch``: a like-shaped array of ``uint64`` to use.

    A wrapping sum of the values' bits, each folded once (below), times odd
    multipliers, one per column: one integer matrix-vector product (a full
    mix per entry, as the sparse rows have, cost five times as much at
    3300 x 300); a collision costs time, not exactness. The top bit is
    left 0.
    """
    bits = probed.view(np.uint64)
    if negative is not None:
        # signed by flipping the sign bits
        bits ^= np.left_shift(negative, np.uint64(63), dtype=np.uint64)[:, None]
    # x + 0.0 turns -0.0 into 0.0, so that equal numbers have equal bits
    probed += 0.0
    # Folding the high half into the low half lets the sign and the exponent
    # reach the low bits, which the products carry into the whole key:
    # without it, values that differ in their signs alone (features of
    # +-1) differ in the sum's top bit only, and such rows all collide.
    bits ^= np.right_shift(bits, np.uint64(32), out=scratch)
    return np.einsum("ij,j->i", bits, multipliers) >> np.uint64(1)


def _full_hashes(Z, rows, negative=None):
    """:func:`_row_hashes` of all the columns of ``Z[rows]``, a block of
    rows at a time (fresh arrays as large as ``Z`` cost more in the first
    touch of their pages than the hashing itself)."""
    d = Z.shape[1]
    block = max(1, min(rows.size, (1 << 16) // d))
    buffer, scratch = np.empty((block, d)), np.empty((block, d), dtype=np.uint64)
    multipliers = _multipliers(d)
    keys = np.empty(rows.size, dtype=np.uint64)
    for lo in range(0, rows.size, block):
        k = min(block, rows.size - lo)
        np.take(Z, rows[lo:lo + k], axis=0, out=buffer[:k], mode="clip")
        keys[lo:lo + k] = _row_hashes(buffer[:k], None if negative is None
                                      else negative[lo:lo + k], multipliers, scratch[:k])
    return keys


@lru_cache(maxsize=64)
def _probe(d):
    """The columns that the first hash of the dense rows reads, and their
    multipliers (cached: building them cost a tenth of a product with a
    3300 x 300 ``Z``)."""
    columns = np.unique(np.r_[0:min(4, d), d // 2:min(d // 2 + 4, d), max(d - 4, 0):d])
    columns.flags.writeable = False
    return columns, _multipliers(columns.size)


@lru_cache(maxsize=64)
def _multipliers(d):
    """Odd multipliers, one per column of a hash that reads ``d`` columns:
    splitmix64's outputs. (Multiples of one constant made the hash depend
    on the sum of the indices where rows of +-1 differ: many collisions.)"""
    with np.errstate(over="ignore"):
        z = np.arange(1, d + 1, dtype=np.uint64) * _HASH_MIX[0]
        z = (z ^ (z >> np.uint64(30))) * _HASH_MIX[1]
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        multipliers = (z ^ (z >> np.uint64(31))) | np.uint64(1)
    multipliers.flags.writeable = False
    return multipliers


def _equal_across_signs(Z, negative, keys, order):
    """Whether a row of positive sign equals a row of negative sign once
    signed (``x`` and ``-x``). ``keys[i]`` is the key of row ``order[i]``,
    sorted, its top bit the sign; only the rows whose hash is found in both
    blocks are hashed in full, and the rows whose full hash is found in both
    are compared, signed and sorted by their bytes."""
    m = np.count_nonzero(~negative)
    if m in (0, negative.size):
        return False
    hashes = keys & ~_TOP_BIT
    positive, minus = hashes[:m], hashes[m:]
    at = np.minimum(np.searchsorted(positive, minus), m - 1)
    found = positive[at] == minus
    if not found.any():
        return False
    rows = order[np.isin(hashes, minus[found])]
    full = _full_hashes(Z, rows, negative[rows])
    both = np.intersect1d(full[~negative[rows]], full[negative[rows]])
    if both.size == 0:
        return False
    rows = rows[np.isin(full, both)]
    signed = _signed(Z[rows], negative[rows])
    ranked = np.argsort(_row_bytes(signed), kind="stable")
    signed, sign = signed[ranked], negative[rows][ranked]
    equal = np.all(signed[1:] == signed[:-1], axis=1)
    return bool(np.any(equal & (sign[1:] != sign[:-1])))


def _group_weights(sample_weight, order, same):
    """The first of each group of equal sorted rows (None where no two rows
    are equal) and the groups' weights, each group's summed in increasing
    order. ``order`` sorts the rows; ``same[i]``: sorted row ``i + 1``
    equals row ``i``."""
    if not same.any():
        return None, sample_weight[order]
    starts = np.empty(same.size + 1, dtype=bool)
    starts[0] = True
    np.logical_not(same, out=starts[1:])
    first = np.flatnonzero(starts)
    if np.all(sample_weight == 1.0):
        # unit weights (the default) sum to the groups' sizes, exactly
        return first, np.diff(first, append=sample_weight.size).astype(float)
    sample_weight = sample_weight[order]
    if np.all(sample_weight == sample_weight[0]):
        # equal weights sum alike in any order
        return first, np.add.reduceat(sample_weight, first)
    group = np.cumsum(starts) - 1
    by_weight = np.lexsort((sample_weight, group))
    return first, np.add.reduceat(sample_weight[by_weight], first)


def _equal_adjacent_rows(Z, order, candidates):
    """Whether row ``order[i + 1]`` of ``Z`` equals row ``order[i]`` as
    numbers, compared for the pairs in ``candidates`` (the others differ),
    a few MiB at a time."""
    n, d = Z.shape
    same = np.zeros(max(n - 1, 0), dtype=bool)
    block = max(1, (1 << 17) // d)
    for lo in range(0, candidates.size, block):
        c = candidates[lo:lo + block]
        equal = Z[order[c + 1]] == Z[order[c]]
        # (mostly duplicates: one reduction over the block tells, where one
        # per row cost as much as the comparison)
        same[c] = True if equal.all() else equal.all(axis=1)
    return same


def _row_bytes(Z):
    """The rows of a C-contiguous 2-D array as one opaque (void) item each."""
    return Z.view(np.dtype((np.void, Z.dtype.itemsize * Z.shape[1]))).ravel()


# odd multipliers of the rows' hashes (splitmix64's)
_HASH_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9))
_TOP_BIT = np.uint64(1) << np.uint64(63)


def _sorted_sparse_rows(Z):
    """A sparse ``Z`` in canonical CSR, its rows sorted, and which are equal.

    Returns ``(sorted rows, order, same)`` with ``same[i]`` telling whether
    sorted row ``i + 1`` equals row ``i``.

    A row's hash is the wrapping sum over its entries of a mix of the
    column index and the value's bits: a sum of integers, so it does not
    depend on the order of the entries, and equal rows get equal hashes.
    Rows are sorted by hash, then by their entries where hashes collide.
    """
    Z = sp.csr_matrix(Z, dtype=float, copy=True)
    Z.sum_duplicates()
    # explicit zeros, -0.0 included, are no entries
    Z.eliminate_zeros()
    Z.sort_indices()
    n = Z.shape[0]
    with np.errstate(over="ignore"):
        bits = Z.data.view(np.uint64)
        mixed = (bits ^ (Z.indices.astype(np.uint64) * _HASH_MIX[0])) * _HASH_MIX[1]
        mixed ^= mixed >> np.uint64(29)
    counts = np.diff(Z.indptr)
    keys = np.zeros(n, dtype=np.uint64)
    filled = counts > 0
    if mixed.size:
        keys[filled] = np.add.reduceat(mixed, Z.indptr[:-1][filled])
    order = np.argsort(keys, kind="stable")
    Z, keys = Z[order], keys[order]
    tie = keys[1:] == keys[:-1]
    same = tie.copy()
    same[tie] = _equal_sparse_rows(Z, np.flatnonzero(tie))
    collided = tie & ~same
    if collided.any():
        # Distinct rows with one hash (rare): each such run of equal hashes
        # is sorted by the rows' entries, so that equal rows are adjacent
        # and the order is still the contents'.
        run = _runs(tie)
        permutation = np.arange(n)
        for r in np.unique(run[1:][collided]):
            members = np.flatnonzero(run == r)
            contents = [_row_content(Z, i) for i in members]
            ranked = sorted(range(len(members)), key=contents.__getitem__)
            permutation[members] = members[ranked]
        Z, order = Z[permutation], order[permutation]
        same = tie.copy()
        same[tie] = _equal_sparse_rows(Z, np.flatnonzero(tie))
    return Z, order, same


def _row_content(Z, i):
    """Row ``i`` of a canonical CSR matrix as comparable bytes."""
    lo, hi = Z.indptr[i], Z.indptr[i + 1]
    return (hi - lo, Z.indices[lo:hi].tobytes(), Z.data[lo:hi].tobytes())


def _equal_sparse_rows(Z, rows):
    """Whether row ``i + 1`` equals row ``i`` of a canonical CSR matrix, for
    each ``i`` in ``rows``."""
    counts = np.diff(Z.indptr)
    equal = counts[rows] == counts[rows + 1]
    pairs = rows[equal]
    if pairs.size:
        sizes = counts[pairs]
        # the entries of each pair side by side
        offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        a = np.repeat(Z.indptr[pairs], sizes) + offsets
        b = np.repeat(Z.indptr[pairs + 1], sizes) + offsets
        differ = (Z.indices[a] != Z.indices[b]) | (Z.data[a] != Z.data[b])
        owner = np.repeat(np.arange(pairs.size), sizes)
        equal[np.flatnonzero(equal)] = np.bincount(owner[differ], minlength=pairs.size) == 0
    return equal


def signed_rows(X, z):
    """Rows ``z_i x_i``: margins are then ``Z @ beta``.

    A dense result holds no ``-0.0`` (``z_i = -1`` turns the zeros of
    ``x_i`` into ``-0.0``; adding ``0.0`` in place makes them ``0.0``).
    (:func:`merge_duplicate_rows` signs the rows itself, for less.)
    """
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(z) @ X)
    Z = np.ascontiguousarray(z[:, None] * X)
    np.add(Z, 0.0, out=Z)
    return Z
