"""Parallel and distributed fitting: n_jobs, joblib backends, BLAS threads, Dask.

The promise under test: a fit's result does not depend on how it was
scheduled. Coefficients are compared bitwise, on data where the BLAS thread
count does change the last bits of the matrix-vector products (so that a
policy that let it vary would be caught).
"""

import hashlib
import threading

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_info

from sklearn_implicit import DiagonalLinearClassifier, implicit_bias_path
from sklearn_implicit._config import (
    _blas_threads_from_env,
    blas_limit,
    config_context,
    get_config,
    set_config,
)
from sklearn_implicit._integrate import fit_one_flow
from sklearn_implicit._losses import LOSSES
from sklearn_implicit._networks import DiagonalNetwork
from sklearn_implicit.utils._design import add_intercept_column, signed_rows

PATH_TARGETS = [0.6, 0.4]

# Past OpenBLAS's threshold for threading a matrix-vector product, which it
# then may split along the summed dimension (the fits and the folds of a
# 2-fold search both see such shapes).
WIDE_SHAPE = (100, 5000)
TARGET_LOSS = 0.6  # a short flow (about 80 gradient evaluations) suffices


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def _wide_data(n_classes, n_samples=WIDE_SHAPE[0]):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, WIDE_SHAPE[1]))
    y = np.arange(n_samples) % n_classes
    return X, y


def _products_depend_on_threads(X):
    """Whether 1 and 2 BLAS threads give different products with ``[X, 1]``."""
    X = np.hstack([X, np.ones((X.shape[0], 1))])
    rng = np.random.default_rng(1)
    b, r = rng.standard_normal(X.shape[1]), rng.standard_normal(X.shape[0])
    with blas_limit(1):
        one = np.concatenate([X @ b, X.T @ r])
    with blas_limit(2):
        two = np.concatenate([X @ b, X.T @ r])
    return not np.array_equal(one, two)


def _fitted(clf):
    return np.concatenate([clf.coef_.ravel(), clf.intercept_, clf.loss_])


def _assert_identical(a, b):
    """Recursive bitwise equality of fit outputs (arrays, dicts, sequences)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_identical(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, z in zip(a, b):
            _assert_identical(x, z)
    elif hasattr(a, "__dict__") and not isinstance(a, np.ndarray):
        _assert_identical(vars(a), vars(b))
    else:
        np.testing.assert_array_equal(a, b, strict=True)


def _coef_fingerprint(estimator, X, y):
    """A scorer whose value changes with any bit of the fitted coefficients."""
    data = estimator.coef_.tobytes() + estimator.intercept_.tobytes()
    return float(int.from_bytes(hashlib.sha256(data).digest()[:6], "big"))


# --- configuration -----------------------------------------------------------


def test_config_default_set_and_context():
    assert get_config() == {"blas_threads": 1}
    with config_context(blas_threads=3):
        assert get_config()["blas_threads"] == 3
        with config_context(blas_threads="auto"):
            assert get_config()["blas_threads"] == "auto"
        with config_context():
            assert get_config()["blas_threads"] == 3
        assert get_config()["blas_threads"] == 3
    assert get_config()["blas_threads"] == 1
    with pytest.raises(RuntimeError), config_context(blas_threads=2):
        raise RuntimeError
    assert get_config()["blas_threads"] == 1
    set_config(blas_threads=2)
    try:
        set_config()  # None leaves the value unchanged
        assert get_config()["blas_threads"] == 2
    finally:
        set_config(blas_threads=1)
    returned = get_config()
    returned["blas_threads"] = 5
    assert get_config()["blas_threads"] == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "all", "2"])
def test_config_rejects_bad_blas_threads(bad):
    with pytest.raises(ValueError, match="blas_threads must be a positive int .* or 'auto'"):
        set_config(blas_threads=bad)
    with pytest.raises(ValueError, match="blas_threads"):
        with config_context(blas_threads=bad):
            pass
    assert get_config()["blas_threads"] == 1


def test_config_from_environment(monkeypatch):
    monkeypatch.setenv("SKLEARN_IMPLICIT_BLAS_THREADS", "4")
    assert _blas_threads_from_env() == 4
    monkeypatch.setenv("SKLEARN_IMPLICIT_BLAS_THREADS", " auto ")
    assert _blas_threads_from_env() == "auto"
    monkeypatch.delenv("SKLEARN_IMPLICIT_BLAS_THREADS")
    assert _blas_threads_from_env() == 1
    for bad in ("0", "-2", "many"):
        monkeypatch.setenv("SKLEARN_IMPLICIT_BLAS_THREADS", bad)
        with pytest.raises(ValueError, match="SKLEARN_IMPLICIT_BLAS_THREADS must be"):
            _blas_threads_from_env()


# --- the BLAS limit ------------------------------------------------------------


@pytest.fixture
def blas_present():
    if not _blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library")


def test_blas_limit_sets_and_restores(blas_present):
    before = _blas_threads()
    with blas_limit(1):
        assert set(_blas_threads()) == {1}
        with blas_limit(3):  # nested: the outer limit stays
            assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {1}
    assert _blas_threads() == before
    with blas_limit(None):
        assert _blas_threads() == before


def test_blas_limit_is_shared_by_concurrent_threads(blas_present):
    """The first flow sets the limit, the last one restores it; another count waits."""
    before = _blas_threads()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with blas_limit(1):
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second():
        first_in.wait(10)
        with blas_limit(1):
            second_in.set()
            first_out.wait(10)
            # The first thread has left: its exit must not lift our limit.
            seen["after first left"] = _blas_threads()

    def other_count():
        first_in.wait(10)
        with blas_limit(2):
            seen["other count, ran after"] = first_out.is_set()
            seen["other count"] = _blas_threads()

    threads = [threading.Thread(target=f) for f in (first, second, other_count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert set(seen["after first left"]) == {1}
    assert seen["other count, ran after"]
    assert set(seen["other count"]) == {2}
    assert _blas_threads() == before


def test_blas_threads_setting_reaches_the_flow(blas_present):
    """Fits under 1 and 2 BLAS threads differ in the last bits on wide data."""
    X, y = _wide_data(2)
    if not _products_depend_on_threads(X):
        pytest.skip("this BLAS gives the same products for 1 and 2 threads")
    clf = DiagonalLinearClassifier(target_loss=TARGET_LOSS)
    with config_context(blas_threads=1):
        one = _fitted(clone(clf).fit(X, y))
    with config_context(blas_threads=2):
        two = _fitted(clone(clf).fit(X, y))
    with config_context(blas_threads=1):
        again = _fitted(clone(clf).fit(X, y))
    np.testing.assert_array_equal(one, again)
    np.testing.assert_allclose(one, two, rtol=1e-9, atol=1e-12)
    assert not np.array_equal(one, two)


# --- n_jobs and backends -------------------------------------------------------


def _unaligned_copy(A):
    """``A`` in memory that is not 8-byte aligned, as Dask can deliver it."""
    buf = np.empty(A.nbytes + 16, dtype=np.uint8)
    start = (-buf.ctypes.data) % 8 + 4
    out = buf[start:start + A.nbytes].view(A.dtype).reshape(A.shape)
    out[...] = A
    return out


def test_unaligned_shipped_data_give_identical_fit():
    X, y = _wide_data(2)
    Z = signed_rows(add_intercept_column(X, 1.0), np.where(y == 1, 1.0, -1.0))
    unaligned = _unaligned_copy(Z)
    assert not unaligned.flags["ALIGNED"]

    def fit(Z):
        network = DiagonalNetwork(np.ones(Z.shape[1]), 2)
        result = fit_one_flow(network, LOSSES["exponential"](), Z, np.ones(Z.shape[0]),
                               None, TARGET_LOSS, 1e-6, 10_000, 0, "", 1)
        return result.coef

    np.testing.assert_array_equal(fit(unaligned), fit(Z), strict=True)



def test_repeated_fits_are_identical_at_a_size_where_memory_layout_varies():
    # Reductions whose order follows the alignment of their input in memory
    # (OpenBLAS's dasum, once used for the exponential loss) made repeated
    # fits at 300 x 3000 differ in the last digits: the vectors of an
    # evaluation land at other addresses from one run to the next.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3000))
    y = X[:, :3].sum(axis=1) > 0

    def fit():
        clf = DiagonalLinearClassifier(alpha=0.1, target_loss=1e-5, fit_intercept=False)
        return clf.fit(X, y).coef_

    first = fit()
    for _ in range(3):
        np.testing.assert_array_equal(fit(), first, strict=True)


@pytest.mark.parametrize("blas_threads", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_multiclass_identical_for_any_n_jobs_and_backend(blas_threads):
    X, y = _wide_data(3)
    clf = DiagonalLinearClassifier(target_loss=TARGET_LOSS)
    with config_context(blas_threads=blas_threads):
        reference = _fitted(clone(clf).set_params(n_jobs=1).fit(X, y))
        for backend in ("loky", "threading"):
            for n_jobs in (2, -1):
                with joblib.parallel_config(backend=backend):
                    got = _fitted(clone(clf).set_params(n_jobs=n_jobs).fit(X, y))
                np.testing.assert_array_equal(got, reference, strict=True)


def test_n_jobs_leaves_blas_setting_of_the_caller(blas_present):
    before = _blas_threads()
    X, y = _wide_data(3)
    with joblib.parallel_config(backend="threading"):
        DiagonalLinearClassifier(target_loss=TARGET_LOSS, n_jobs=2).fit(X, y)
    assert _blas_threads() == before


PARAM_GRID = {"alpha": [0.5, 2.0], "depth": [2, 3], "target_loss": [0.6, 0.4]}
# Two folds of 100 samples: every fit sees the wide shape.
GRID_DATA = {"n_classes": 2, "n_samples": 2 * WIDE_SHAPE[0]}


def _grid_search(X, y, n_jobs=None):
    search = GridSearchCV(
        DiagonalLinearClassifier(),
        PARAM_GRID,
        cv=2,
        scoring={"log_loss": "neg_log_loss", "coef": _coef_fingerprint},
        refit="log_loss",
        n_jobs=n_jobs,
    )
    return search.fit(X, y)


def _split_scores(search):
    return {k: v for k, v in search.cv_results_.items() if k.startswith("split")}


@pytest.fixture(scope="module")
def sequential_search():
    return _grid_search(*_wide_data(**GRID_DATA))


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_grid_search_identical_across_backends(sequential_search, backend):
    with joblib.parallel_config(backend=backend):
        search = _grid_search(*_wide_data(**GRID_DATA), n_jobs=2)
    _assert_identical(_split_scores(search), _split_scores(sequential_search))
    np.testing.assert_array_equal(search.best_estimator_.coef_, sequential_search.best_estimator_.coef_)


def test_path_identical_for_any_n_jobs():
    X, y = _wide_data(2)
    alphas = [0.5, 2.0]
    reference = implicit_bias_path(X, y, alphas, PATH_TARGETS, n_jobs=1)
    for backend in ("loky", "threading"):
        for n_jobs in (2, -1):
            with joblib.parallel_config(backend=backend):
                got = implicit_bias_path(X, y, alphas, PATH_TARGETS, n_jobs=n_jobs)
            _assert_identical(got, reference)


# --- Dask ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_grid_search_on_dask_cluster(sequential_search, dask_client):
    from distributed import get_task_stream

    X, y = _wide_data(**GRID_DATA)
    # The data go to the workers once, not with every task.
    with get_task_stream(dask_client) as stream:
        with joblib.parallel_config(backend="dask", scatter=[X, y]):
            search = _grid_search(X, y, n_jobs=-1)
    _assert_identical(_split_scores(search), _split_scores(sequential_search))
    n_fits = len(search.cv_results_["params"]) * search.n_splits_
    assert len(stream.data) >= n_fits
    assert {task["worker"] for task in stream.data} == set(dask_client.scheduler_info()["workers"])


def test_multiclass_on_dask_cluster(dask_client):
    X, y = _wide_data(3)
    clf = DiagonalLinearClassifier(target_loss=TARGET_LOSS)
    reference = _fitted(clone(clf).fit(X, y))
    with joblib.parallel_config(backend="dask"):
        got = _fitted(clone(clf).set_params(n_jobs=-1).fit(X, y))
    np.testing.assert_array_equal(got, reference, strict=True)


def test_path_on_dask_cluster(dask_client):
    X, y = _wide_data(2)
    alphas = [0.5, 2.0]
    reference = implicit_bias_path(X, y, alphas, PATH_TARGETS, n_jobs=1)
    with joblib.parallel_config(backend="dask"):
        _assert_identical(implicit_bias_path(X, y, alphas, PATH_TARGETS, n_jobs=-1), reference)
