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
        self._epoch = []  # the batches of the epoch still to come, last first

    def next(self):
        """The rows of the next batch (sorted) and whether it ends an epoch."""
        if not self._epoch:
            self._epoch = self._batches(self.random_state.permutation(self.n_samples))
        rows = self._epoch.pop()
        return rows, not self._epoch

    def _batches(self, order):
        """The batches of one epoch, last first.

        Sorted rows read the design matrix in memory order (the batch
        gradient does not depend on the order of its rows). The full batches
        are sorted in one call (one call per batch cost a tenth of a small
        SGD step).
        """
        n_full = self.n_samples // self.batch_size
        full = np.sort(order[: n_full * self.batch_size].reshape(n_full, self.batch_size),
                       axis=1)
        batches = list(full)
        if n_full * self.batch_size < self.n_samples:
            batches.append(np.sort(order[n_full * self.batch_size :]))
        return batches[::-1]
