"""Compile or load the kernels of one job, once per process, job and dtype.

A job is what one kind of call needs: ``"stochastic"`` (an SGD / Adam fit:
``train_epochs`` and ``end_epoch``), ``"objective"`` (L-BFGS and the
low-level loss and gradient: ``loss_and_grad_into``) and ``"forward"``
(predictions: ``forward_into``).  The CV estimators' fused pass runs the
stochastic job's kernels.  Nothing is compiled before it is needed:
an SGD fit compiles no L-BFGS kernel, float32 compiles on its first use.

``ensure_compiled`` runs a job's tiny calls under an inter-process file lock
in the cache directory: Numba's cache is not safe when two processes compile
the same kernels at once (each compilation names its symbols with a
per-process counter, and mixed cache files crashed in our tests; Numba issue
#10128).  Under the lock one process compiles while the others wait, then load
the finished cache files.  The tiny calls build their plans with the same
planner as the estimators (``_plan``), so they compile exactly the
signatures a real call uses.
"""

import contextlib
import os
import threading
import time

import numba
import numpy as np

from fastbp._config import CACHE_DIR

JOBS = ("stochastic", "objective", "forward")

_ready = set()
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


def ensure_compiled(dtype, job):
    """Compile or load ``job``'s kernels for ``dtype`` once per process."""
    key = (job, dtype)
    if key in _ready:  # the common case, first: a one-row predict pays this
        return
    if numba.config.DISABLE_JIT:
        return
    dtype = np.dtype(dtype)
    with _guard:
        if (job, dtype) not in _ready:
            _start_parallel_runtime()
            with _interprocess_lock():
                _RUNS[job](dtype)
            _ready.update(((job, dtype), (job, dtype.type), (job, dtype.name)))
    _ready.add(key)


def _start_parallel_runtime():
    """Start Numba's threading layer before the first kernel runs.

    Numba bug (numba#8578, Numba 0.68): a kernel compiled while its parallel
    callees were loaded from the disk cache is saved without the hook that
    starts the threading layer when it is loaded; a process whose first
    parallel call is such a kernel then calls address 0 (measured: an L-BFGS
    fit, then an SGD fit, then any SGD fit in a third process segfaulted).
    Starting the layer first makes every such entry safe.  Idempotent.
    """
    try:
        from numba.np.ufunc.parallel import _launch_threads
    except ImportError:  # a Numba without it: nothing to work around
        return
    _launch_threads()


def _tiny_network(dtype):
    from fastbp._params import build_layout
    from fastbp._plan import make_network

    layout, n_params, _ = build_layout([3, 2, 2])
    theta = np.linspace(-0.5, 0.5, n_params).astype(dtype)
    return make_network(theta, layout, (0, 0, 0), 0.0)


def _tiny_data(dtype):
    from fastbp._plan import dense_source

    rng = np.random.RandomState(0)
    X = rng.rand(8, 3).astype(dtype)
    return dense_source(X), np.ascontiguousarray(X[:, :2]), np.empty(0, dtype=dtype)


def _run_stochastic(dtype):
    from fastbp._optimizers import OptimizerState
    from fastbp._plan import make_plan
    from fastbp._training import Rules, end_epoch, make_progress, train_epochs

    source, Y, sw = _tiny_data(dtype)
    network = _tiny_network(dtype)
    optimizer = OptimizerState.create("adam", 1e-3, network.theta.size, dtype)
    plan = make_plan(
        source,
        Y,
        sw,
        network,
        4,
        False,
        optimizer.kernel_form(0.9, True, 0.9, 0.999, 1e-8),
    )
    rules = Rules(4, 1, 1e-4, 10.0, 0, 1e-3, 0.5, False, False, False, False, False)
    progress = make_progress(8, [], 1, network.theta[:0], (0, 0, np.inf, -np.inf))
    train_epochs(plan, rules, progress, 1)
    end_epoch(plan, rules, progress, 0.0, 0.0)


def _run_objective(dtype):
    from fastbp._objective import Objective

    source, Y, sw = _tiny_data(dtype)
    network = _tiny_network(dtype)
    objective = Objective(source, Y, sw, network)
    objective(network.theta.copy())


def _run_forward(dtype):
    from fastbp._plan import forward_workspace
    from fastbp._propagate import for_each_block, forward_into

    source, _, _ = _tiny_data(dtype)
    network = _tiny_network(dtype)
    X = source.X
    work = forward_workspace(X.shape[0], X.shape[1], network.layout, dtype)
    forward_into(source, network, work, np.empty((X.shape[0], 2), dtype=dtype), False)
    # The low-level ``forward``: every row in one call.
    for_each_block(X, X, work.sw_buf[:0], network, work, False, False)


_RUNS = {
    "stochastic": _run_stochastic,
    "objective": _run_objective,
    "forward": _run_forward,
}


def warmup(dtypes=("float64", "float32"), jobs=JOBS):
    """Compile or load fastbp's kernels for the given dtypes and jobs.

    fastbp compiles each job's kernels by itself on first use (a fit, a
    prediction, an L-BFGS fit or the low-level loss); with a warm on-disk
    cache that takes well under a second.  Calling ``warmup`` moves that cost
    out of the first fit, e.g. into a worker's start-up.

    Parameters
    ----------
    dtypes : iterable of {'float64', 'float32'}, default=('float64', 'float32')
    jobs : iterable of {'stochastic', 'objective', 'forward'}, default=all

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
        for job in jobs:
            if job not in _RUNS:
                raise ValueError(f"jobs must be among {JOBS}; got {job!r}.")
            ensure_compiled(dtype, job)
    return time.perf_counter() - start
