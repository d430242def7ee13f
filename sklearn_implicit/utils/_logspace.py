"""Small log-space helpers on 1-D arrays (scipy's versions carry array-API
overhead that dominates the cost of a gradient evaluation on small problems)."""

import numpy as np

LN10 = np.log(10.0)


def logsumexp(x):
    """log(sum(exp(x))) of a 1-D array; -inf for an empty or all -inf array."""
    if x.size == 0:
        return -np.inf
    top = np.max(x)
    if not np.isfinite(top):
        return top
    return top + np.log(np.sum(np.exp(x - top)))
