"""Mini-batches drawn without replacement, one shuffle per epoch."""

import numpy as np


class EpochBatches:
    """Consecutive slices of a fresh permutation of the samples, epoch by epoch.

    As in scikit-learn's ``MLPClassifier(solver='sgd', shuffle=True)``: every
    epoch visits each sample exactly once, in batches of ``batch_size`` (the
    last one smaller when ``batch_size`` does not divide ``n_samples``).

    Parameters
    ----------
    n_samples : int
    batch_size : int
        At least 1; at most ``n_samples``.
    random_state : numpy.random.RandomState
        The source of the permutations (consumed one permutation per epoch).
    """

    def __init__(self, n_samples, batch_size, random_state):
        if not 1 <= batch_size <= n_samples:
            raise ValueError(
                f"batch_size must be between 1 and n_samples={n_samples}; got "
                f"{batch_size}."
            )
        self.n_samples = int(n_samples)
        self.batch_size = int(batch_size)
        self.random_state = random_state
        self._order = None
        self._start = self.n_samples

    def next(self):
        """The rows of the next batch (sorted) and whether it ends an epoch."""
        if self._start >= self.n_samples:
            self._order = self.random_state.permutation(self.n_samples)
            self._start = 0
        stop = min(self._start + self.batch_size, self.n_samples)
        # Sorted rows read the design matrix in memory order (the batch
        # gradient does not depend on the order of its rows).
        rows = np.sort(self._order[self._start : stop])
        self._start = stop
        return rows, stop == self.n_samples
