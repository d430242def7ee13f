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


def merge_duplicate_rows(Z, sample_weight, *, negative_zeros=True):
    """Identical rows of ``Z`` as one row carrying their summed weight.

    The loss is a weighted sum over rows, so this changes nothing in exact
    arithmetic; it makes repeated rows and integer weights the same problem
    to the last bit (the stiff solver's cost model, for one, depends on the
    number of rows), and puts the rows in an order that depends on their
    contents only, not on the input's order.

    Rows are compared exactly, as numbers: ``-0.0`` equals ``0.0`` (the
    returned rows hold ``0.0``) and a sparse row's explicit zeros are no
    entries. Dense rows are sorted by their bytes (``memcmp``, which stops
    at the first differing byte) and gathered once; sparse rows by an
    integer hash of their entries, exact in any order of summation, with
    equal hashes confirmed entry by entry. The weights of a group are summed
    in increasing order, so that their sum does not depend on the input's
    order either.

    Parameters
    ----------
    Z : {ndarray, sparse matrix} of shape (n_samples, n_coef)
    sample_weight : ndarray of shape (n_samples,)
    negative_zeros : bool, default=True
        Whether a dense ``Z`` may hold ``-0.0``; False (as for the output of
        :func:`signed_rows`) spares the pass that turns them into ``0.0``.

    Returns
    -------
    Z : ndarray or CSR matrix
        The distinct rows, sorted: a new C-contiguous array or a new
        canonical CSR matrix.
    sample_weight : ndarray
        Their summed weights.
    """
    sample_weight = np.asarray(sample_weight, dtype=float)
    if sp.issparse(Z):
        Z, order, same = _sorted_sparse_rows(Z)
        first, weights = _group_weights(sample_weight[order], same)
        return (Z, weights) if first is None else (Z[first], weights)
    Z = np.ascontiguousarray(Z, dtype=float)
    n, d = Z.shape
    if d == 0:
        # rows without columns are all equal
        return Z[: min(n, 1)].copy(), sample_weight.sum(keepdims=True)[: min(n, 1)]
    order = np.argsort(_row_bytes(Z), kind="stable")
    sorted_rows = None
    if negative_zeros:
        # Gathered in order once, then -0.0 + 0.0 = 0.0 in place: rows equal
        # as numbers have equal bytes, and where that moved a row, the
        # rows are sorted again.
        sorted_rows = Z[order]
        np.add(sorted_rows, 0.0, out=sorted_rows)
        again = np.argsort(_row_bytes(sorted_rows), kind="stable")
        if np.any(again != np.arange(n)):
            sorted_rows, order = sorted_rows[again], order[again]
        same, _ = _equal_adjacent_rows(sorted_rows.view(np.int64), np.arange(n))
    else:
        same, sorted_rows = _equal_adjacent_rows(Z.view(np.int64), order)
    first, weights = _group_weights(sample_weight[order], same)
    if sorted_rows is not None:
        return (sorted_rows if first is None else sorted_rows[first]), weights
    return Z[order if first is None else order[first]], weights


def _group_weights(sample_weight, same):
    """The first of each group of equal sorted rows (None where no two rows
    are equal) and the groups' weights, each group's summed in increasing
    order."""
    if not same.any():
        return None, sample_weight
    group = np.concatenate([[0], np.cumsum(~same)])
    first = np.flatnonzero(np.concatenate([[True], ~same]))
    by_weight = np.lexsort((sample_weight, group))
    return first, np.add.reduceat(sample_weight[by_weight], first)


def _equal_adjacent_rows(bits, order):
    """Whether row ``order[i + 1]`` of ``bits`` equals row ``order[i]``.

    ``bits`` holds the rows' bytes as C-contiguous 64-bit integers, and
    ``order`` sorts the rows by their bytes, so that equal rows are
    adjacent. Pairs that agree in a probe of twelve columns (four at each
    end and in the middle: a few cache lines per row, where columns spread
    over the row would cost one each) are compared in full, as integers
    (NumPy compares opaque rows byte by byte, several times slower). Where
    most pairs agree in the probe (rows alike in most columns), the rows
    are gathered in order once and all adjacent pairs compared block by
    block; that sorted copy is returned too (else None).
    """
    n, d = bits.shape
    k = min(4, d)
    probe = np.concatenate([bits[:, :k], bits[:, d // 2:d // 2 + k], bits[:, -k:]], axis=1)
    probe = probe[order]
    candidates = np.flatnonzero(np.all(probe[1:] == probe[:-1], axis=1))
    same = np.zeros(max(n - 1, 0), dtype=bool)
    if 4 * candidates.size <= n:
        if candidates.size:
            same[candidates] = np.all(
                bits[order[candidates + 1]] == bits[order[candidates]], axis=1
            )
        return same, None
    sorted_bits = bits[order]
    block = max(1, (1 << 16) // d)
    for lo in range(0, n - 1, block):
        hi = min(lo + block, n - 1)
        same[lo:hi] = np.all(sorted_bits[lo + 1:hi + 1] == sorted_bits[lo:hi], axis=1)
    return same, sorted_bits.view(np.float64)


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
    ``x_i`` into ``-0.0``; adding ``0.0`` in place makes them ``0.0``), so
    that :func:`merge_duplicate_rows` can compare its rows by their bytes
    without a pass of its own.
    """
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(z) @ X)
    Z = np.ascontiguousarray(z[:, None] * X)
    np.add(Z, 0.0, out=Z)
    return Z
