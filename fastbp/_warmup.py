"""Compile or load every kernel up front, once per process and dtype.

``warmup`` is public.  ``ensure_compiled`` runs it automatically before the
first compiled call of each dtype in a process, under an inter-process file
lock in the cache directory: Numba's cache is not safe when two processes
compile the same kernels at once (each compilation names its symbols with a
per-process counter, and mixed cache files crashed in our tests; Numba issue
#10128).  Under the lock one process compiles while the others wait, then load
the finished cache files.
"""

import contextlib
import os
import threading
import time
import warnings

import numba
import numpy as np

from fastbp._config import CACHE_DIR

_ready = set()
_in_progress = threading.local()
_guard = threading.RLock()


@contextlib.contextmanager
def _interprocess_lock():
    if CACHE_DIR is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock available
        yield
        return
    with open(os.path.join(CACHE_DIR, "compile.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_compiled(dtype):
    """Run ``warmup`` for ``dtype`` once per process, before any other call."""
    if dtype in _ready:  # the common case, first: a one-row predict pays this
        return
    key = np.dtype(dtype).name
    if key in _ready or numba.config.DISABLE_JIT:
        return
    with _guard:
        if key in _ready or getattr(_in_progress, "active", False):
            return
        _in_progress.active = True
        try:
            with _interprocess_lock():
                _warmup_dtype(key)
            _ready.update((key, np.dtype(key)))
        finally:
            _in_progress.active = False


def _warmup_dtype(dtype):
    import scipy.sparse as sp

    from fastbp._estimators import MLPClassifier
    from fastbp._lowlevel import forward, loss_and_gradients

    rng = np.random.RandomState(0)
    X = rng.rand(8, 3).astype(dtype)
    y = np.arange(8) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for solver in ("sgd", "adam", "lbfgs"):
            for data in (X, sp.csr_matrix(X)):
                clf = MLPClassifier((2,), solver=solver, max_iter=1, batch_size=4)
                clf.fit(data, y).predict_proba(data)
        forward(X, clf.coefs_, clf.intercepts_)
        loss_and_gradients(X, y, clf.coefs_, clf.intercepts_)


def warmup(dtypes=("float64", "float32")):
    """Compile or load every fastbp kernel for the given dtypes.

    Runs tiny fits (sgd, adam, lbfgs, dense and sparse input), predictions and
    the low-level functions, so that the first real fit pays no compilation.
    With a warm on-disk cache this takes well under a second; without one,
    compiling takes tens of seconds per dtype.  fastbp does this by itself
    before its first compiled call in a process; calling it in a worker's
    start-up moves that cost out of the first fit.

    Parameters
    ----------
    dtypes : iterable of {'float64', 'float32'}, default=('float64', 'float32')

    Returns
    -------
    seconds : float
        Wall time spent.
    """
    start = time.perf_counter()
    for dtype in dtypes:
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtypes must be float32 or float64; got {dtype}.")
        ensure_compiled(dtype)
    return time.perf_counter() - start
