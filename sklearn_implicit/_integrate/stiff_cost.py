"""The cost model of the stiff steps, in gradient evaluations.

The automatic switch (:mod:`.auto`) weighs a step of RODAS4 against the
explicit method's evaluations; a Jacobian and its factorizations are priced
here from the shape of the design matrix (case ``step_cost`` of
``benchmarks/`` measures the model against the machine at hand).
"""

# Cost of a Jacobian in evaluations: about 3 for its products with Z and its
# set-up, plus its Gram matrix (n**2 d multiply-adds, BLAS 3), which takes
# this many evaluations per row of Z while Z fits in the last-level cache
# (taken as 16 MiB; an evaluation then runs at cache speed, about 0.5 ns per
# entry of Z on one core) and the second beyond (memory speed, 0.9 ns).
# Measured, one BLAS thread, against the model: 9.3 (10.8), 20.6 (18.6),
# 26.0 (26.4), 25.4 (24.5), 28.8 (33), 42.5 (46) evaluations from 100 x 1000
# to 1000 x 10000 in steps of the same shape, 14.3 (10.8) at 100 x 10000,
# 38.8 (46) at 1000 x 3000 and 16.0 (15.9) at 300 x 30000.
_GRAM_ROW_COST = (0.078, 0.043)
_CACHE_BYTES = 16 * 2**20
# An LU of the (n+1)- or d-square system with its set-up runs this many times
# faster per flop than an evaluation (measured 1.4, 2.6 and 4.3 evaluations
# at 100 x 1000, 300 x 3000 and 1000 x 10000).
_LU_SPEEDUP = 8.0
# A linear solve costs two products with Z, like an evaluation (measured:
# 0.9 to 1.7 evaluations).
SOLVE_COST = 1.2


def jacobian_costs(shape):
    """Cost of forming a :class:`FlowJacobian` and of one LU of its shifted
    system, in gradient evaluations, for a design of this shape (with a
    diagonal part in the low-rank form, the Gram matrix, counted here in the
    Jacobian, is formed with each LU instead)."""
    n, d = shape
    # the side of the system that is factored (the Gram matrix is size**2
    # times the other side)
    size = d if d <= n + 1 else n
    return 3.0 + gram_matrix_cost(shape, size), factorization_cost(shape, size)


def factorization_cost(shape, size):
    """Cost of the LU of a ``size``-square system with its set-up."""
    return 1.0 + size**2 / (3 * max(shape) * _LU_SPEEDUP)


def gram_matrix_cost(shape, size):
    """Cost of the Gram matrix (or, if ``d <= n + 1``, of the dense Jacobian)."""
    n, d = shape
    row_cost = _GRAM_ROW_COST[0] if 8 * n * d <= _CACHE_BYTES else _GRAM_ROW_COST[1]
    return row_cost * size
