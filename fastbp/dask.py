"""Scaling out: fastbp on a Dask cluster (needs ``pip install 'fastbp[dask]'``).

``import fastbp`` never imports Dask; this module does (``distributed``).

Two lines run a scikit-learn search on the cluster through joblib's Dask
backend; each (candidate, split) fit becomes one Dask task::

    import joblib
    from distributed import Client, LocalCluster
    from sklearn.model_selection import GridSearchCV

    import fastbp
    from fastbp.dask import FastbpWarmup

    client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    client.register_plugin(FastbpWarmup(dtypes=("float64",)))
    search = GridSearchCV(fastbp.MLPClassifier(), grid, n_jobs=-1)
    with joblib.parallel_config(backend="dask"):
        search.fit(X, y)

A fused search (``fastbp.MLPClassifierCV``) is one task:
``client.submit(fastbp.MLPClassifierCV(...).fit, X, y).result()``.  The
results are the local run's, bit for bit: every fit's sums are taken in
fixed row blocks, whatever the thread count.

Compiled kernels
    A new worker process would compile or load fastbp's kernels on its first
    fit.  ``FastbpWarmup`` is a worker plugin that does it when the worker
    starts (now and for every worker that joins later), through
    ``fastbp.warmup``.  With the on-disk cache warm (any earlier process on
    the same machine, or a shared ``NUMBA_CACHE_DIR``), that is a load, well
    under a second per dtype, not a compilation (~25 s per dtype on a cold
    cache).  On a cold cache the first worker of a machine compiles, under
    fastbp's file lock, while the others wait and then load.  Workers load
    only what fastbp sources of their own filled: the cache directory is
    named after the sources' fingerprint (``fastbp._config``).

Threads
    Two rules cap the Numba threads of a fit inside a Dask task
    (``fastbp._threads.thread_budget()``): ``OMP_NUM_THREADS``, which Dask's
    nanny sets to 1 in every worker process
    (``distributed.nanny.pre-spawn-environ``), so each fit runs on one thread
    next to the worker's other tasks; and the worker's own thread count
    (``threads_per_worker``), which holds when that variable is changed or
    absent (threaded workers: ``processes=False``).  Results do not depend on
    it.  The nanny also sets those variables in the process that starts a
    ``LocalCluster``, before it spawns the workers: local fits there then run
    on one Numba thread, until ``OMP_NUM_THREADS`` is restored.
"""

import asyncio

import distributed
import numpy as np

from fastbp._config import CACHE_DIR
from fastbp._warmup import JOBS, warmup

__all__ = ["FastbpWarmup"]


class FastbpWarmup(distributed.WorkerPlugin):
    """Worker plugin: load (or compile) fastbp's kernels when a worker starts.

    Parameters
    ----------
    dtypes : iterable of {'float64', 'float32'}, default=('float64',)
        The dtypes the cluster will fit in (float64 unless X is float32).
    jobs : iterable of {'stochastic', 'objective', 'forward'}, default=all
        As in ``fastbp.warmup``: SGD / Adam fits, L-BFGS fits, predictions.

    Attributes
    ----------
    seconds : float or None
        On a worker, after set-up: the wall time ``fastbp.warmup`` took
        there (read it with ``client.run``; see Examples).
    cache_dir : str or None
        On a worker, after set-up: the kernel cache it loaded from (None when
        fastbp's cache is disabled).

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> client.register_plugin(FastbpWarmup())  # doctest: +SKIP
    >>> client.run(lambda dask_worker: dask_worker.plugins["fastbp-warmup"].seconds)  # doctest: +SKIP
    {'tcp://127.0.0.1:40123': 0.41, 'tcp://127.0.0.1:40125': 0.43}
    """

    name = "fastbp-warmup"
    idempotent = True  # registering it again does not warm up the workers again

    def __init__(self, dtypes=("float64",), jobs=JOBS):
        self.dtypes = tuple(np.dtype(dtype).name for dtype in dtypes)
        for dtype in self.dtypes:
            if dtype not in ("float32", "float64"):
                raise ValueError(f"dtypes must be float32 or float64; got {dtype}.")
        self.jobs = tuple(jobs)
        for job in self.jobs:
            if job not in JOBS:
                raise ValueError(f"jobs must be among {JOBS}; got {job!r}.")
        self.seconds = None
        self.cache_dir = None

    async def setup(self, worker):
        # Off the worker's event loop: a cold cache compiles for tens of
        # seconds, and the loop must keep answering heartbeats meanwhile.
        self.seconds = await asyncio.to_thread(warmup, self.dtypes, self.jobs)
        self.cache_dir = CACHE_DIR
