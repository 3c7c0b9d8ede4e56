"""Training engine: whole epochs in one compiled call, L-BFGS on the flat buffer.

Per epoch Python runs once (shuffle order, loss curve, schedules, stopping
rules); ``run_epoch`` then performs every minibatch of the epoch in compiled
code: gather rows through the epoch's order (never a copy of X), forward,
loss, backward into ``grad``, one optimizer step on ``theta`` in place.

Threads: a fit owns exactly one thread pool.  BLAS is limited to one thread
while Numba runs row blocks in parallel; the Numba thread count follows
``numba.get_num_threads()`` (``NUMBA_NUM_THREADS``), is capped by
``OMP_NUM_THREADS`` when set, drops to one thread when a batch is too small to
pay for a parallel launch, and is restored after each call.
"""

import functools
import os
import warnings
from contextlib import contextmanager, nullcontext

import numba
import numpy as np
import scipy.optimize
from numba import prange
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController

from fastbp._config import (
    KERNEL_LOCK,
    MIN_BLOCK_ROWS,
    MIN_PARALLEL_ADAM_PARAMS,
    MIN_PARALLEL_WORK,
    WORKQUEUE_MIN_PARALLEL_WORK,
    jit,
)
from fastbp._optimizers import next_step, optimizer_step, step_range
from fastbp._params import B_OFFSET, chunk_range, param_chunks
from fastbp._propagate import (
    block_plan,
    finish_gradient_range,
    loss_and_grad_into,
    make_buffers,
    multiply_adds_per_row,
    wave_partials,
    wave_rows,
)

# run_epoch status codes.
EPOCH_OK, EPOCH_NON_FINITE_LOSS, EPOCH_ZERO_WEIGHT_BATCH = range(3)


@jit
def _finish_and_step_chunk(
    block_grads, n_blocks, theta, n_weights, alpha, S, solver, t, chunk
):
    """Finish the gradient on parameter chunk ``chunk`` and update it (Adam at
    step t).  A call, not inlined code: inside a parallel kernel's body the
    same loops compile to slower code.  solver = (solver_code, hyper, first,
    second) as in ``step_range``.  Returns the chunk's sum(W^2)."""
    solver_code, hyper, first, second = solver
    start, stop = chunk_range(chunk, theta.shape[0])
    # The chunk's gradient in a scratch that stays in cache (the allocator
    # hands the same block back chunk after chunk): the update needs no
    # full-size gradient written back to memory.
    chunk_grad = np.empty(stop - start, dtype=theta.dtype)
    penalty = finish_gradient_range(
        block_grads,
        n_blocks,
        theta,
        chunk_grad,
        False,
        n_weights,
        alpha,
        S,
        start,
        stop,
    )
    step_range(theta, chunk_grad, solver_code, hyper, first, second, t, start, stop)
    return penalty


@jit(parallel=True)
def finish_gradient_and_step(
    block_grads, n_blocks, model, S, optimizer, chunk_sums, threaded
):
    """Complete the gradient from one wave's row blocks and apply one update,
    chunk by chunk: each chunk of parameters is finished and stepped while it
    is in cache (one pass over the parameters instead of three).

    Returns sum(W^2) at the parameters before the update (chunk sums added in
    chunk order).  Writes: theta, the optimizer state, chunk_sums.
    """
    theta, layout, _, alpha = model
    solver_code, hyper, state = optimizer
    first, second, _ = state
    n_weights = layout[0, B_OFFSET]
    t = next_step(solver_code, state)
    n_chunks = param_chunks(theta.shape[0])
    if threaded and n_chunks > 1:
        for c in prange(n_chunks):
            chunk_sums[c] = _finish_and_step_chunk(
                block_grads,
                n_blocks,
                theta,
                n_weights,
                alpha,
                S,
                (solver_code, hyper, first, second),
                t,
                np.int64(c),
            )
    else:
        for c in range(n_chunks):
            chunk_sums[c] = _finish_and_step_chunk(
                block_grads,
                n_blocks,
                theta,
                n_weights,
                alpha,
                S,
                (solver_code, hyper, first, second),
                t,
                c,
            )
    penalty = 0.0
    for c in range(n_chunks):
        penalty += chunk_sums[c]
    return penalty


@jit
def run_epoch(
    source, Y, sw, order, batch_size, model, optimizer, buffers, grad, threaded
):
    """Run every minibatch of one epoch: rows order[k*bs : (k+1)*bs] in turn.

    model = (theta, layout, codes, alpha); optimizer = (solver_code, hyper,
    state) as for ``optimizer_step``.  Each batch: loss and gradient at the
    current theta, then one update of theta in place (fused with the gradient's
    last pass when the batch fits in one wave).  A batch whose sample weights
    sum to zero has no defined loss: the epoch stops before it and reports
    EPOCH_ZERO_WEIGHT_BATCH (scikit-learn raises there).  A non-finite batch
    loss is reported as EPOCH_NON_FINITE_LOSS; the epoch goes on.
    Writes: theta, the optimizer state, buffers, grad.
    Returns (sum over batches of batch_loss * batch_rows, status).
    """
    theta, layout, codes, alpha = model
    solver_code, hyper, state = optimizer
    block_grads, chunk_sums = buffers[5], buffers[7]
    single_wave = batch_size <= wave_rows(layout)
    weighted = sw.shape[0] > 0
    n = order.shape[0]
    total = 0.0
    status = EPOCH_OK
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        rows = order[start:stop]
        if single_wave:
            loss_sum, S, n_blocks = wave_partials(
                source, Y, sw, rows, theta, layout, codes, buffers, threaded
            )
            if not weighted:
                S = theta.dtype.type(stop - start)
            if S == 0:
                return total, EPOCH_ZERO_WEIGHT_BATCH
            penalty = finish_gradient_and_step(
                block_grads,
                n_blocks,
                model,
                S,
                optimizer,
                chunk_sums,
                threaded,
            )
            loss = (loss_sum + 0.5 * alpha * penalty) / S
        else:
            loss, S = loss_and_grad_into(
                source,
                Y,
                sw,
                rows,
                theta,
                layout,
                codes,
                alpha,
                buffers,
                grad,
                threaded,
            )
            if S == 0:
                return total, EPOCH_ZERO_WEIGHT_BATCH
            optimizer_step(theta, grad, solver_code, hyper, state, threaded)
        if not np.isfinite(loss):
            status = EPOCH_NON_FINITE_LOSS
        total += loss * (stop - start)
    return total, status


def thread_budget():
    """Numba's thread count, capped by OMP_NUM_THREADS when that is set."""
    n_threads = numba.get_num_threads()
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) > 0:
        n_threads = min(n_threads, int(omp))
    return n_threads


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


class FullBatchObjective:
    """Loss and gradient over all rows, on a flat theta, for L-BFGS.

    ``__call__(x)`` copies x (float64, from SciPy) into theta in theta's dtype,
    evaluates, and returns (loss, gradient as float64).  No packing copies:
    theta is the model's own buffer.
    """

    def __init__(self, source, Y, sw, model, threaded):
        self.source, self.Y, self.sw = source, Y, sw
        theta, layout, codes, alpha = model
        self.theta, self.layout, self.codes, self.alpha = theta, layout, codes, alpha
        n_rows = Y.shape[0]
        self.rows = np.arange(n_rows)
        self.buffers = make_buffers(
            n_rows, source[0].shape[1], Y.shape[1], layout, theta.size, theta.dtype
        )
        self.grad = np.empty_like(theta)
        self.threaded = threaded

    def __call__(self, x):
        self.theta[:] = x
        loss, _ = loss_and_grad_into(
            self.source,
            self.Y,
            self.sw,
            self.rows,
            self.theta,
            self.layout,
            self.codes,
            self.alpha,
            self.buffers,
            self.grad,
            self.threaded,
        )
        return loss, self.grad.astype(np.float64)


def minimize_lbfgs(objective, max_iter, max_fun, tol):
    """Run SciPy's L-BFGS-B as scikit-learn 1.9 does; leave the result in theta.

    Returns (n_iter, final loss).  Emits scikit-learn's ConvergenceWarning text
    when SciPy reports a status other than 0.
    """
    result = scipy.optimize.minimize(
        objective,
        objective.theta.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
    )
    n_iter = min(result.nit, max_iter)
    if result.status != 0:
        message = (
            f"lbfgs failed to converge after {n_iter} iteration(s) "
            f"(status={result.status}):\n{result.message}\n"
        )
        if n_iter == max_iter:
            message += (
                "\nIncrease the number of iterations to improve the "
                f"convergence (max_iter={max_iter})."
            )
        message += (
            "\nYou might also want to scale the data as shown in:\n"
            "    https://scikit-learn.org/stable/modules/preprocessing.html"
        )
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    objective.theta[:] = result.x
    return n_iter, float(result.fun)
