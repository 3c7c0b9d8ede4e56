"""Thread policy: who owns the threads during one compiled computation.

A fit owns exactly one thread pool.  BLAS is limited to one thread while
Numba runs row blocks in parallel; the Numba thread count follows
``numba.get_num_threads()`` (``NUMBA_NUM_THREADS``), is capped by
``OMP_NUM_THREADS`` when set and, inside a Dask task, by the worker's thread
count (``thread_budget``), drops to one thread when a batch is too small to
pay for a parallel launch (``use_threads``, decided once per fit and stored in
the plan), and is restored after each call.
"""

import functools
import os
import sys
from contextlib import contextmanager, nullcontext

import numba
from threadpoolctl import ThreadpoolController

from fastbp._config import (
    KERNEL_LOCK,
    MIN_BLOCK_ROWS,
    MIN_PARALLEL_ADAM_PARAMS,
    MIN_PARALLEL_WORK,
    WORKQUEUE_MIN_PARALLEL_WORK,
)
from fastbp._propagate import block_plan, multiply_adds_per_row


def thread_budget():
    """Numba's thread count, capped by OMP_NUM_THREADS when that is set and,
    inside a Dask task, by the worker's thread count (``_dask_worker_threads``).
    """
    n_threads = numba.get_num_threads()
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        n_threads = min(n_threads, int(omp))
    worker_threads = _dask_worker_threads()
    if worker_threads:
        n_threads = min(n_threads, worker_threads)
    return n_threads


def _dask_worker_threads():
    """The thread count (``threads_per_worker``) of the Dask worker running
    the calling thread's task, else None.

    A worker runs that many tasks at once, so a fit in one of them gets no
    more threads than that, whatever ``OMP_NUM_THREADS`` says (Dask's nanny
    sets it to 1, but threaded workers and a changed
    ``distributed.nanny.pre-spawn-environ`` leave it unset).  fastbp never
    imports distributed: where it is not imported, no task is running.
    Cost: a dictionary and a context-variable look-up.
    """
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.get_worker().state.nthreads
    except (ValueError, AttributeError):  # not in a task; another distributed
        return None


def _threading_layer_is_workqueue():
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:  # no parallel region has run yet: assume the worst
        return numba.config.THREADING_LAYER in ("workqueue", "default")


def use_threads(n_rows, layout, costly_update=False):
    """Whether a call over ``n_rows`` rows should run in parallel: its row
    blocks (at least two, with enough work), or, for ``costly_update``, the
    parameter chunks of each update (see ``update_is_costly``)."""
    if not costly_update and n_rows <= MIN_BLOCK_ROWS:
        return False  # one row block (block_plan): decided without the checks below
    if thread_budget() < 2:
        return False
    workqueue = _threading_layer_is_workqueue()
    threshold = WORKQUEUE_MIN_PARALLEL_WORK if workqueue else MIN_PARALLEL_WORK
    if (
        block_plan(n_rows, layout)[0] >= 2
        and n_rows * multiply_adds_per_row(layout) >= threshold
    ):
        return True
    return costly_update and not workqueue


def update_is_costly(solver, n_params):
    """Whether one optimizer update is worth parallel parameter chunks on its
    own, whatever the batch size (MIN_PARALLEL_ADAM_PARAMS)."""
    return solver == "adam" and n_params >= MIN_PARALLEL_ADAM_PARAMS


@functools.cache
def _blas_controller():
    """One scan of the loaded BLAS libraries per process (a fresh
    ``threadpool_limits`` re-reads /proc/self/maps: ~1 ms per call)."""
    return ThreadpoolController()


def compute_threads(threaded, single_threaded_blas=None):
    """Own the threads for one compiled computation.

    threaded: Numba threads = ``thread_budget()`` (restored afterwards), BLAS
    limited to one thread so that the two pools never stack, and compiled
    calls serialised under the workqueue layer, which is not thread-safe.
    ``single_threaded_blas`` (default: ``threaded``) limits BLAS even for a
    serial call; fits do so, so that results never depend on BLAS threading.
    Limiting BLAS costs tens of microseconds, which a one-row ``predict``
    must not pay.
    """
    if single_threaded_blas is None:
        single_threaded_blas = threaded
    if not threaded:
        if single_threaded_blas:
            return _blas_controller().limit(limits=1, user_api="blas")
        return nullcontext()
    return _parallel_threads()


@contextmanager
def _parallel_threads():
    """Numba threads = ``thread_budget()``, BLAS at one thread, and the
    workqueue lock when that layer is in use (see ``compute_threads``)."""
    blas = _blas_controller().limit(limits=1, user_api="blas")
    previous = numba.get_num_threads()
    lock = KERNEL_LOCK if _threading_layer_is_workqueue() else nullcontext()
    with lock, blas:
        numba.set_num_threads(thread_budget())
        try:
            yield
        finally:
            numba.set_num_threads(previous)
