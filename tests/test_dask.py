"""fastbp on a real Dask cluster (``fastbp.dask``; the ``dask`` extra).

One ``LocalCluster`` of two worker processes with one thread each serves the
module.  On it: a ``GridSearchCV`` through joblib's Dask backend and a fused
``MLPClassifierCV`` in one task give the local run's results exactly (every
fit is bit-identical for any thread count); a fit inside a task uses one
Numba thread, the worker's ``threads_per_worker``; ``FastbpWarmup`` loads the
kernels from the cache on every worker; closing the cluster leaves no process.
"""

import os
import subprocess
import sys
import warnings
from contextlib import contextmanager

import joblib
import numba
import numpy as np
import pytest
from extras import import_extra
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import fastbp

distributed = import_extra("distributed", "dask")
psutil = import_extra("psutil", "dask")  # a dependency of distributed

from fastbp.dask import FastbpWarmup  # after the skip: it imports distributed

# The workers cannot import this module: its functions travel by value.
import_extra("cloudpickle", "dask").register_pickle_by_value(sys.modules[__name__])

# With dashboard_address=None the scheduler still serves HTTP (metrics), on
# port 8787 or, when that is taken (another cluster), any port, with a warning.
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use")

# What the nanny writes into os.environ before it spawns a worker
# (distributed.nanny.pre-spawn-environ); the test process's own values are put
# back, so that later tests keep their thread counts.
PRE_SPAWN_KEYS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MALLOC_TRIM_THRESHOLD_",
    "PYTHONHASHSEED",
)

OMP_AT_IMPORT = os.environ.get("OMP_NUM_THREADS")

SMALL = {
    "hidden_layer_sizes": (8,),
    "max_iter": 15,
    "batch_size": 50,
    "random_state": 0,
}
GRID = {"learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-1]}


def _data():
    return make_classification(
        n_samples=240, n_features=10, n_informative=6, n_classes=3, random_state=0
    )


@contextmanager
def _own_environment():
    """Undo what the nanny writes into this process's environment when it
    spawns workers (it sets OMP_NUM_THREADS=1 here too)."""
    saved = {key: os.environ.get(key) for key in PRE_SPAWN_KEYS}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _start_cluster(n_workers):
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with _own_environment():
        cluster = distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    client = distributed.Client(cluster)
    client.register_plugin(FastbpWarmup(dtypes=("float64",)))
    return cluster, client, before


def _close_and_check(cluster, client, before):
    """Close the cluster; no worker, nor any other new child process, is left.
    multiprocessing's resource tracker is exempt: it serves the whole process
    and exits with it."""
    worker_pids = list(client.run(os.getpid).values())
    assert worker_pids
    client.close()
    cluster.close()
    for pid in worker_pids:
        try:
            psutil.Process(pid).wait(timeout=10)
        except psutil.NoSuchProcess:
            pass
    left = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before
        and p.is_running()
        and p.status() != psutil.STATUS_ZOMBIE
        and "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert not left, [(p.pid, p.cmdline()) for p in left]
    assert not any(psutil.pid_exists(pid) for pid in worker_pids)


@pytest.fixture(scope="module")
def client():
    cluster, client, before = _start_cluster(n_workers=2)
    yield client
    _close_and_check(cluster, client, before)


def _comparable(cv_results):
    """cv_results_ without its times: scores, ranks, params."""
    return {k: v for k, v in cv_results.items() if not k.endswith("_time")}


def _assert_same_cv_results(ours, reference):
    ours, reference = _comparable(ours), _comparable(reference)
    assert ours.keys() == reference.keys()
    for key, value in reference.items():
        if key == "params":
            assert ours[key] == value
        else:
            np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(value))


def test_import_fastbp_does_not_import_dask():
    script = (
        "import sys, fastbp\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dask', 'distributed')))\n"
        "import fastbp.dask\n"
        "print('distributed' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split("\n")[:2] == ["[]", "True"]


def test_workers_import_this_fastbp_and_its_cache(client):
    from fastbp._config import CACHE_DIR

    def where():
        import fastbp
        from fastbp._config import CACHE_DIR

        return fastbp.__file__, CACHE_DIR

    assert set(client.run(where).values()) == {(fastbp.__file__, CACHE_DIR)}


def _compile_stats():
    """Cache hits and misses (compilations) over every fastbp kernel."""
    hits = misses = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("fastbp."):
            continue
        for obj in vars(module).values():
            if isinstance(obj, numba.core.registry.CPUDispatcher):
                hits += sum(obj.stats.cache_hits.values())
                misses += sum(obj.stats.cache_misses.values())
    return hits, misses


def _warmup_report(dask_worker):
    plugin = dask_worker.plugins["fastbp-warmup"]
    return plugin.seconds, plugin.cache_dir, _compile_stats()


def _assert_loaded_from_cache(reports):
    from fastbp._config import CACHE_DIR

    if CACHE_DIR is None:
        pytest.skip("fastbp's on-disk cache is disabled")
    for seconds, cache_dir, (hits, misses) in reports.values():
        assert cache_dir == CACHE_DIR
        # Loaded, not compiled: no kernel missed the cache.  (The test
        # session's first process filled it: conftest's warmup.)
        assert hits > 0
        assert misses == 0
        # A compilation takes ~25 s per dtype; a load, well under a second.
        assert seconds < 10


def test_plugin_loaded_the_kernels_on_every_worker(client):
    reports = client.run(_warmup_report)
    assert len(reports) == 2
    _assert_loaded_from_cache(reports)


def test_grid_search_through_joblib_dask_equals_the_sequential_run(client):
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = GridSearchCV(fastbp.MLPClassifier(**SMALL), GRID, cv=3).fit(X, y)
        search = GridSearchCV(fastbp.MLPClassifier(**SMALL), GRID, cv=3, n_jobs=-1)
        with (
            distributed.get_task_stream(client) as tasks,
            joblib.parallel_config(backend="dask"),
        ):
            search.fit(X, y)
    assert len(tasks.data) > 0  # the fits ran on the cluster
    _assert_same_cv_results(search.cv_results_, reference.cv_results_)
    assert search.best_params_ == reference.best_params_
    np.testing.assert_array_equal(search.predict_proba(X), reference.predict_proba(X))


def _fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def test_fused_search_in_one_task_equals_the_local_run(client):
    X, y = _data()
    local = _fit_quietly(fastbp.MLPClassifierCV(**SMALL, **GRID, cv=3), X, y)
    future = client.submit(
        _fit_quietly, fastbp.MLPClassifierCV(**SMALL, **GRID, cv=3), X, y
    )
    remote = future.result()
    _assert_same_cv_results(remote.cv_results_, local.cv_results_)
    assert remote.best_params_ == local.best_params_
    for ours, reference in zip(
        remote.best_estimator_.coefs_ + remote.best_estimator_.intercepts_,
        local.best_estimator_.coefs_ + local.best_estimator_.intercepts_,
        strict=True,
    ):
        np.testing.assert_array_equal(ours, reference)


def _threads_of_a_fit(without_omp=False):
    """Run a fit large enough for parallel row blocks (batch 400 -> 4 blocks)
    and return (thread_budget(), the Numba threads its training calls ran
    with).  A serial call runs on one thread whatever Numba's setting."""
    import fastbp._training as training
    from fastbp._threads import thread_budget

    saved = os.environ.pop("OMP_NUM_THREADS", None) if without_omp else None
    original = training.compute_threads
    used = []

    @contextmanager
    def recording(threaded, single_threaded_blas=None):
        with original(threaded, single_threaded_blas):
            used.append(numba.get_num_threads() if threaded else 1)
            yield

    training.compute_threads = recording
    try:
        rng = np.random.RandomState(0)
        X = rng.randn(1200, 40)
        y = np.tanh(X[:, :3]).sum(axis=1)
        _fit_quietly(
            fastbp.MLPRegressor(
                hidden_layer_sizes=(96, 64), batch_size=400, max_iter=2, random_state=0
            ),
            X,
            y,
        )
        return thread_budget(), sorted(set(used))
    finally:
        training.compute_threads = original
        if saved is not None:
            os.environ["OMP_NUM_THREADS"] = saved


def test_a_fit_in_a_worker_task_uses_the_workers_one_thread(client):
    def inside():
        from fastbp._threads import thread_budget

        return (
            os.environ.get("OMP_NUM_THREADS"),
            numba.get_num_threads(),
            thread_budget(),
            _threads_of_a_fit(),
            _threads_of_a_fit(without_omp=True),
        )

    omp, numba_threads, budget, fit, fit_without_omp = client.submit(inside).result()
    # What distributed sets in a worker process: OMP_NUM_THREADS=1 (the
    # nanny's pre-spawn environment); Numba's own setting is untouched.
    assert omp == "1"
    assert numba_threads == numba.config.NUMBA_NUM_THREADS
    assert budget == 1
    assert fit == (1, [1])
    # Without OMP_NUM_THREADS the worker's threads_per_worker still caps it.
    assert fit_without_omp == (1, [1])
    # The probe sees real parallelism where there is some: in this process,
    # the same fit runs on all of fastbp's threads.
    budget_here, used_here = _threads_of_a_fit()
    assert used_here == [budget_here]
    # Starting the workers left this process's environment as it was.
    assert os.environ.get("OMP_NUM_THREADS") == OMP_AT_IMPORT


def test_plugin_checks_its_arguments_on_the_client():
    with pytest.raises(ValueError, match="float32 or float64"):
        FastbpWarmup(dtypes=("int32",))
    with pytest.raises(ValueError, match="jobs must be among"):
        FastbpWarmup(jobs=("predict",))


def test_a_worker_that_joins_later_is_warmed_up_and_closing_leaves_no_process():
    cluster, client, before = _start_cluster(n_workers=1)
    with _own_environment():
        cluster.scale(2)
        client.wait_for_workers(2, timeout=120)
    reports = client.run(_warmup_report)
    assert len(reports) == 2
    _assert_loaded_from_cache(reports)
    X, y = _data()
    fits = [
        client.submit(_fit_quietly, fastbp.MLPClassifier(**SMALL), X, y, pure=False)
        for _ in range(2)
    ]
    client.gather(fits)
    _close_and_check(cluster, client, before)
