"""Package configuration: how many BLAS threads a gradient flow may use.

The integrator spends its time in two matrix-vector products per gradient
evaluation (``X @ beta`` and ``X.T @ r``). OpenBLAS splits such a product
between threads along the summed dimension when the other one is short, so
the last bits of the result depend on the number of BLAS threads (measured:
``X.T @ r`` for a 5000 x 100 matrix differs by about 1e-13 between 1 and 2
threads). A flow amplifies such differences along its path. The package
therefore runs every integration under one fixed BLAS thread count, chosen
here, whatever ``n_jobs`` and the joblib backend are: results are then
bitwise identical for any ``n_jobs``, on loky, threading or Dask workers.

The setting is process-wide (unlike scikit-learn's thread-local
configuration) because a BLAS thread pool is a process-wide resource.
Worker processes (loky, Dask) read their own copy: the package's own
``n_jobs`` dispatch passes the value on to its workers; a scikit-learn
meta-estimator (``GridSearchCV``) that fits in other processes needs the
environment variable ``SKLEARN_IMPLICIT_BLAS_THREADS`` there (see
``docs/scaling.md``), unless the default is kept.
"""

import os
import threading
import warnings
from contextlib import contextmanager
from numbers import Integral

import joblib
from threadpoolctl import ThreadpoolController

try:
    from threadpoolctl import OpenBLASController

    _release_openblas = OpenBLASController.clear_controlling_thread
except (ImportError, AttributeError):  # threadpoolctl < 3.8 has no controlling thread

    def _release_openblas():
        pass

_ENV_VAR = "SKLEARN_IMPLICIT_BLAS_THREADS"
_AUTO = "auto"


def _check_blas_threads(value, name="blas_threads"):
    if value == _AUTO or (
        isinstance(value, Integral) and not isinstance(value, bool) and value >= 1
    ):
        return value
    raise ValueError(
        f"{name} must be a positive int (the BLAS threads of every gradient "
        f"flow) or 'auto'; got {value!r}."
    )


def _blas_threads_from_env():
    raw = os.environ.get(_ENV_VAR, "1").strip()
    value = raw if raw == _AUTO else int(raw) if raw.isdigit() else raw
    return _check_blas_threads(value, name=f"The environment variable {_ENV_VAR}")


_global_config = {"blas_threads": _blas_threads_from_env()}


def get_config():
    """Retrieve the current sklearn-implicit configuration.

    Returns
    -------
    config : dict
        Keys are parameter names that can be passed to :func:`set_config`.

    See Also
    --------
    config_context : Context manager for the configuration.
    set_config : Set the configuration.

    Examples
    --------
    >>> from sklearn_implicit import get_config
    >>> get_config()["blas_threads"]
    1
    """
    return _global_config.copy()


def set_config(blas_threads=None):
    """Set the sklearn-implicit configuration (for this process).

    Parameters
    ----------
    blas_threads : int or 'auto', default=None
        BLAS threads of every gradient-flow integration. ``None`` leaves the
        setting unchanged. The default at import is 1, or the value of the
        environment variable ``SKLEARN_IMPLICIT_BLAS_THREADS``.

        - An int ``k`` (default 1): every integration runs with exactly ``k``
          BLAS threads, in the main process and in every worker, so results
          are bitwise identical for any ``n_jobs`` and joblib backend. With
          ``n_jobs`` parallel fits ``n_jobs * k`` threads run: keep it at
          most the number of cores. ``k = 1`` never oversubscribes and was
          the fastest setting in ``benchmarks/blas_threads.py``, since the
          products of one flow are small and sequential.
        - ``'auto'``: a fit with one job leaves BLAS at its own default (all
          cores); the workers of a parallel fit get one thread each. Faster
          for a single fit on very large data on an idle machine, but the
          last bits of the coefficients may then depend on ``n_jobs``, the
          backend and the machine's load.

    See Also
    --------
    config_context : Context manager for the configuration.
    get_config : Retrieve the current configuration.

    Examples
    --------
    >>> from sklearn_implicit import get_config, set_config
    >>> set_config(blas_threads=2)
    >>> get_config()["blas_threads"]
    2
    >>> set_config(blas_threads=1)
    """
    if blas_threads is not None:
        _global_config["blas_threads"] = _check_blas_threads(blas_threads)


@contextmanager
def config_context(*, blas_threads=None):
    """Context manager for the sklearn-implicit configuration.

    The setting is process-wide while the context is active; the previous
    configuration is restored on exit.

    Parameters
    ----------
    blas_threads : int or 'auto', default=None
        See :func:`set_config`. ``None`` keeps the current value.

    Yields
    ------
    None.

    See Also
    --------
    set_config : Set the configuration.
    get_config : Retrieve the current configuration.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_implicit import DiagonalLinearClassifier, config_context
    >>> X, y = make_blobs(n_samples=60, centers=[[-3, -3], [3, 3]], random_state=0)
    >>> with config_context(blas_threads=2):
    ...     clf = DiagonalLinearClassifier(target_loss=1e-2).fit(X, y)
    >>> clf.score(X, y)
    1.0
    """
    old_config = get_config()
    set_config(blas_threads=blas_threads)
    try:
        yield
    finally:
        _global_config.update(old_config)


def flow_blas_threads(n_jobs):
    """BLAS threads for each flow of a dispatch over ``n_jobs``; ``None``: leave BLAS."""
    blas_threads = _global_config["blas_threads"]
    if blas_threads == _AUTO:
        return 1 if joblib.effective_n_jobs(n_jobs) > 1 else None
    return blas_threads


_controller = []


def _blas_controller():
    # Scanning the loaded libraries costs about a millisecond; numpy's BLAS,
    # the one the flow uses, is loaded before the package, so a cached
    # controller sees it.
    if not _controller:
        _controller.append(ThreadpoolController().select(user_api="blas"))
    return _controller[0]


def _set_blas_threads(n_threads):
    """Set the BLAS threads of the process from any thread; return the limiter."""
    controller = _blas_controller()
    limiter = controller.limit(limits=n_threads, user_api="blas")
    # threadpoolctl >= 3.8 lets only one "controlling" thread change an
    # OpenBLAS pool and silently ignores the others; the limit is restored
    # by whichever thread finishes last, so no thread keeps that role.
    _release_openblas()
    effective = {info["num_threads"] for info in controller.info()}
    if effective - {n_threads}:
        warnings.warn(
            f"sklearn-implicit could not set the BLAS threads to blas_threads="
            f"{n_threads} (the BLAS runs {sorted(effective)} threads, e.g. because "
            "another thread holds a threadpoolctl limit); the last bits of the "
            "results may then depend on n_jobs and the joblib backend.",
            RuntimeWarning,
        )
    return limiter


# BLAS limits are process-wide, so flows that run at the same time in threads
# (joblib's threading backend) share one limit, set by the first and restored
# by the last; a flow asking for another count waits until they are done.
_limit_lock = threading.Condition()
_limit_state = {"n_threads": None, "count": 0, "limiter": None}
_limit_owner = threading.local()


@contextmanager
def blas_limit(n_threads):
    """Run the body with ``n_threads`` BLAS threads (``None``: unchanged), thread-safely."""
    if n_threads is None:
        yield
        return
    if getattr(_limit_owner, "depth", 0):
        # Nested in a limit this thread already holds (e.g. a fit inside a
        # path worker): the outer limit stays.
        _limit_owner.depth += 1
        try:
            yield
        finally:
            _limit_owner.depth -= 1
        return
    with _limit_lock:
        while _limit_state["count"] and _limit_state["n_threads"] != n_threads:
            _limit_lock.wait()
        if not _limit_state["count"]:
            _limit_state["limiter"] = _set_blas_threads(n_threads)
            _limit_state["n_threads"] = n_threads
        _limit_state["count"] += 1
    _limit_owner.depth = 1
    try:
        yield
    finally:
        _limit_owner.depth = 0
        with _limit_lock:
            _limit_state["count"] -= 1
            if not _limit_state["count"]:
                _limit_state["limiter"].restore_original_limits()
                _release_openblas()
                _limit_state["n_threads"] = None
                _limit_lock.notify_all()
