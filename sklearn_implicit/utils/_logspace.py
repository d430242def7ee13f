"""Small log-space helpers on 1-D arrays (scipy's versions carry array-API
overhead that dominates the cost of a gradient evaluation on small problems)."""

import math

import numpy as np

LN10 = np.log(10.0)


def log_of_targets(target_loss):
    """The logs of target losses (a float or 1-D array), as a 1-D array.

    Each is taken by the C library's ``log``: NumPy picks its SIMD or its
    scalar loop by the memory layout and the addresses of the arrays, and the
    two differ in the last bit (seen for 1e-25). The stops of a flow must not
    depend on where an array happens to lie. A target of 0 gives -inf.
    """
    targets = np.atleast_1d(np.asarray(target_loss, dtype=float))
    return np.array([math.log(t) if t > 0 else -np.inf for t in targets.ravel()])


def logsumexp(x):
    """log(sum(exp(x))) of a 1-D array; -inf for an empty or all -inf array."""
    if x.size == 0:
        return -np.inf
    top = np.max(x)
    if not np.isfinite(top):
        return top
    return top + np.log(np.sum(np.exp(x - top)))
