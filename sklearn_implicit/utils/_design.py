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
    by comparing the rows in full, and runs of equal hashes that hold
    distinct rows are sorted by the rows' bytes, so the order is the
    contents' alone. The weights of a group are summed in increasing order,
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
        first, weights = _group_weights(sample_weight[order], same)
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
    first, weights = _group_weights(sample_weight[order], same)
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
    positive sign first, by a hash of a few columns, then by their bytes
    where hashes collide; and whether sorted row ``i + 1`` equals row ``i``.
    ``(None, None)`` where rows of opposite signs are equal once signed
    (looked for only if ``across``).

    The hash reads twelve columns (four at each end and in the middle: a few
    cache lines per row, where columns spread over the row would cost one
    each), so sorting costs little beside one pass over ``Z``; rows of equal
    hash are compared in full. Sorting all rows by their bytes instead cost
    8.5 products with ``Z`` at 3000 x 300 (14 with 300 duplicated rows).
    """
    n, d = Z.shape
    columns = np.unique(np.r_[0:min(4, d), d // 2:min(d // 2 + 4, d), max(d - 4, 0):d])
    # A wrapping sum of the probed values' bits times odd multipliers, one
    # per column: one integer matrix-vector product (a mix per entry, as the
    # sparse rows have, cost five times as much at 3300 x 300); a collision
    # costs time, not exactness.
    multipliers = (np.arange(1, columns.size + 1, dtype=np.uint64) * _HASH_MIX[0]) | np.uint64(1)
    probed = Z[:, columns]
    # signed in place, with no -0.0 (x + 0.0 turns -0.0 into 0.0)
    probed *= np.where(negative, -1.0, 1.0)[:, None]
    probed += 0.0
    # The sign is the key's top bit, so that one sort puts the rows of
    # positive sign first, each block by hash.
    keys = (probed.view(np.uint64) @ multipliers) >> np.uint64(1)
    keys |= negative.view(np.uint8).astype(np.uint64) << np.uint64(63)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    if across and _equal_across_signs(Z, negative, keys, order):
        return None, None
    tie = keys[1:] == keys[:-1]
    same = _equal_adjacent_rows(Z, order, np.flatnonzero(tie))
    collided = tie & ~same
    if collided.any():
        # Distinct rows with one hash (rows alike in the probed columns):
        # each such run of equal hashes is sorted by the signed rows' bytes,
        # so that equal rows are adjacent and the order is the contents'.
        run = np.concatenate([[0], np.cumsum(~tie)])
        for r in np.unique(run[1:][collided]):
            members = np.flatnonzero(run == r)
            rows = order[members]
            ranked = np.argsort(_row_bytes(_signed(Z[rows], negative[rows])), kind="stable")
            order[members] = rows[ranked]
        same = _equal_adjacent_rows(Z, order, np.flatnonzero(tie))
    return order, same


def _equal_across_signs(Z, negative, keys, order):
    """Whether a row of positive sign equals a row of negative sign once
    signed (``x`` and ``-x``). ``keys[i]`` is the key of row ``order[i]``,
    sorted, its top bit the sign; only the rows whose hash is found in both
    blocks are compared, signed and sorted by their bytes."""
    m = np.count_nonzero(~negative)
    if m in (0, negative.size):
        return False
    hashes = keys & ~(np.uint64(1) << np.uint64(63))
    positive, minus = hashes[:m], hashes[m:]
    at = np.minimum(np.searchsorted(positive, minus), m - 1)
    found = positive[at] == minus
    if not found.any():
        return False
    shared = np.isin(hashes, minus[found])
    rows = order[shared]
    signed = _signed(Z[rows], negative[rows])
    ranked = np.argsort(_row_bytes(signed), kind="stable")
    signed, sign = signed[ranked], negative[rows][ranked]
    equal = np.all(signed[1:] == signed[:-1], axis=1)
    return bool(np.any(equal & (sign[1:] != sign[:-1])))


def _group_weights(sample_weight, same):
    """The first of each group of equal sorted rows (None where no two rows
    are equal) and the groups' weights, each group's summed in increasing
    order."""
    if not same.any():
        return None, sample_weight
    first = np.flatnonzero(np.concatenate([[True], ~same]))
    if np.all(sample_weight == sample_weight[0]):
        # equal weights (the usual case) sum alike in any order
        return first, np.add.reduceat(sample_weight, first)
    group = np.concatenate([[0], np.cumsum(~same)])
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
        same[c] = np.all(Z[order[c + 1]] == Z[order[c]], axis=1)
    return same


def _row_bytes(Z):
    """The rows of a C-contiguous 2-D array as one opaque (void) item each."""
    return Z.view(np.dtype((np.void, Z.dtype.itemsize * Z.shape[1]))).ravel()


# odd multipliers of the sparse rows' hash (splitmix64's)
_HASH_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9))


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
        run = np.concatenate([[0], np.cumsum(~tie)])
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
