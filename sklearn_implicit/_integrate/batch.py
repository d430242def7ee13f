"""Many flows on one design matrix, with their products served together.

Independent trajectories on the same ``X`` (the alpha path runs one per
initialization scale) need the same two products in every evaluation:
``X @ coef`` and ``X.T @ r``. With the vectors of all trajectories stacked,
they become two matrix-matrix products. At large sizes BLAS computes those
several times faster per column than matrix-vector products, because ``X``
is read from memory once per round, not once per trajectory (measured in
``benchmarks/RESULTS.md``, case ``path``).

Each trajectory runs the ordinary integrator, with the same steps, error
control, exact stops and stall detection (there is one code path), in its own
thread, on a :class:`LinearFlow` whose two products are posted to the batch.
The calling thread serves them in rounds: once every running trajectory is
waiting on a product, it stacks the posted vectors in trajectory order,
computes the products, and hands each trajectory its reply in turn. The
threads act as coroutines: one runs at a time, and a round starts only when
all of them are waiting, so which vectors share a round, and in what order,
is decided by the computation and never by timing. Results are reproducible,
and equal to separate fits to rounding, which the flow carries along its path
to within ``tol``.

Work that a stepper does with ``X`` outside an evaluation (the Jacobian of
the stiff stepper) stays in its own thread; it is correct there, just not
batched.
"""

import os
import threading

import numpy as np
import scipy.sparse as sp

from .flow import LinearFlow

_FORWARD, _BACKWARD = "X @ coef", "X.T @ r"
_ABORTED = object()


def _pin_to_one_cpu():
    """Keep the calling thread (and the threads it starts) on one CPU.

    The trajectories of a batch run one at a time and hand over to each
    other thousands of times per second. A hand-over to a thread on another,
    idle CPU costs a cross-CPU wake-up (and a GIL hand-over), which is slow
    on virtual machines: measured, the batch then took twice as long at
    100 x 1000. Threads inherit the affinity of the thread that starts
    them. Returns the affinity to restore (None where not supported).
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        allowed = os.sched_getaffinity(0)
        # the CPU this thread last ran on (field 39 of its stat line)
        with open("/proc/thread-self/stat") as stat:
            cpu = int(stat.read().rsplit(")", 1)[1].split()[36])
        os.sched_setaffinity(0, {cpu if cpu in allowed else min(allowed)})
    except (OSError, ValueError, IndexError):
        return None
    return allowed


def _unpin(allowed):
    if allowed is not None:
        try:
            os.sched_setaffinity(0, allowed)
        except OSError:
            pass


def _signal_lock():
    lock = threading.Lock()
    lock.acquire()
    return lock


def _signal(lock):
    """Release ``lock`` if it is held (a signal nobody waits for is dropped)."""
    try:
        lock.release()
    except RuntimeError:
        pass


class _Aborted(Exception):
    """Raised in a trajectory's thread when the batch is shut down early."""


class _ServedFlow(LinearFlow):
    """A flow whose products are computed by its :class:`FlowBatch`."""

    def __init__(self, network, loss, X, sample_weight, batch, index):
        super().__init__(network, loss, X, sample_weight)
        self._batch = batch
        self._index = index

    def product(self, coef):
        return self._batch._request(self._index, _FORWARD, coef)

    def transpose_product(self, r):
        return self._batch._request(self._index, _BACKWARD, r)


class FlowBatch:
    """Flows on one design matrix whose products are computed in batches.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_coef)
        The design shared by every flow of the batch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_implicit._integrate.batch import FlowBatch
    >>> from sklearn_implicit._losses import ExponentialLoss
    >>> from sklearn_implicit._networks import DiagonalNetwork
    >>> Z = np.array([[1.0, 0.5], [0.2, 1.0]])
    >>> batch = FlowBatch(Z)
    >>> flows = [batch.flow(DiagonalNetwork(np.full(2, a), 2), ExponentialLoss(),
    ...                     np.ones(2)) for a in (0.1, 1.0)]
    >>> batch.run(flows, lambda flow, k: float(flow.evaluate(np.zeros(2)).log_loss))
    [0.0, 0.0]
    """

    def __init__(self, X):
        self.X = X
        # Binary semaphores (locks released by another thread): the cheapest
        # hand-over between threads that Python has.
        self._turn_over = _signal_lock()
        self._pending = {}
        self._replies = {}
        self._wake = []
        self._running = 0
        self._next = {}  # whose turn follows whose in the current round
        self._abort = False

    def flow(self, network, loss, sample_weight):
        """A new :class:`~sklearn_implicit._integrate.flow.LinearFlow` of this batch."""
        self._wake.append(_signal_lock())
        return _ServedFlow(network, loss, self.X, sample_weight, self, len(self._wake) - 1)

    def run(self, flows, run):
        """``[run(flow, k) for k, flow in enumerate(flows)]``, in one batch.

        ``flows`` must be this batch's flows, in the order they were made.
        Each call runs in its own thread, but only one of them at a time: a
        trajectory's turn lasts from the reply to one product to its request
        for the next, and the turns go round in trajectory order. So the
        threads never compete for the interpreter (each turn is a few numpy
        operations on vectors, which would hand the GIL back and forth
        between competing threads at every call). The first exception
        raised by any call stops the others and is raised here, as is a
        KeyboardInterrupt received while serving.
        """
        n = len(flows)
        if [f._index for f in flows] != list(range(n)) or any(f._batch is not self for f in flows):
            raise ValueError("run needs all the flows of this batch, in order.")
        results, errors = [None] * n, [None] * n
        self._running = n

        def work(k):
            try:
                results[k] = run(flows[k], k)
            except _Aborted:
                pass
            except BaseException as exc:  # re-raised in the serving thread
                errors[k] = exc
                self._abort = True
            finally:
                self._running -= 1
                self._pass_turn(k)

        threads = []
        pinned = _pin_to_one_cpu()
        try:
            for k in range(n):
                threads.append(threading.Thread(
                    target=work, args=(k,), daemon=True, name=f"sklearn_implicit flow {k}"
                ))
                threads[-1].start()
                self._turn_over.acquire()
            while self._running and not self._abort:
                # Every running trajectory has posted one request.
                batch = sorted(self._pending.items())
                self._pending = {}
                self._replies.update(self._compute(batch))
                # Each trajectory hands the turn to the next one, the last
                # back to this thread: one thread switch per turn.
                order = [index for index, _ in batch]
                self._next = dict(zip(order, order[1:]))
                _signal(self._wake[order[0]])
                self._turn_over.acquire()
        finally:
            self._shut_down()
            for thread in threads:
                thread.join()
            _unpin(pinned)
        for error in errors:
            if error is not None:
                raise error
        return results

    def _request(self, index, kind, vector):
        if self._abort:
            raise _Aborted
        self._pending[index] = (kind, vector)
        self._pass_turn(index)
        self._wake[index].acquire()
        reply = self._replies.pop(index)
        if reply is _ABORTED:
            raise _Aborted
        return reply

    def _pass_turn(self, index):
        following = self._next.get(index)
        _signal(self._turn_over if following is None else self._wake[following])

    def _compute(self, batch):
        replies = []
        for kind, stacked in ((_FORWARD, self._products), (_BACKWARD, self._transpose_products)):
            indices = [index for index, (k, _) in batch if k == kind]
            if indices:
                rows = stacked(np.stack([batch_vector for _, (k, batch_vector) in batch if k == kind]))
                replies.extend(zip(indices, rows))
        return replies

    def _products(self, coefs):
        """``coefs @ X.T``: row ``j`` is ``X @ coefs[j]``."""
        if sp.issparse(self.X):
            return np.ascontiguousarray(np.asarray(self.X @ coefs.T).T)
        return coefs @ self.X.T

    def _transpose_products(self, rs):
        """``rs @ X``: row ``j`` is ``X.T @ rs[j]``."""
        if sp.issparse(self.X):
            return np.ascontiguousarray(np.asarray(self.X.T @ rs.T).T)
        return rs @ self.X

    def _shut_down(self):
        """Wake every waiting trajectory with an abort (after an error or interrupt)."""
        self._abort = True
        self._pending = {}
        for index, wake in enumerate(self._wake):
            self._replies.setdefault(index, _ABORTED)
            _signal(wake)
