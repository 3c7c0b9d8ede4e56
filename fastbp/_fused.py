"""The fused pass: many independent stochastic fits advanced together.

``fit_many(runs)`` trains every ``_training.Run`` (each planned by its own
estimator exactly as its ``fit`` would plan it) to its end.  Per slice of
epochs, each live model makes one compiled ``train_epochs`` call; the models
run in parallel on a pool of ``thread_budget()`` threads (the calls release
the GIL), each model serial (its plan's ``threaded`` flag cleared).  A
model's arithmetic never depends on the thread count (``_propagate`` sums in
fixed row blocks and parameter chunks), so each model ends bit-identical to
its own ``fit``, for 1 or N threads.  This is how small batches and tiny
networks use every core: one model's batch is too small to split, but
independent models are not.  Python runs once per model per slice (about
SLICE_SECONDS of work), never per batch or per epoch.

Why a thread pool, not one compiled call with a parallel loop over the
models: that kernel (a ``prange`` over typed Lists of the Plans, measured)
trained at the same speed but cost 12.5 s more to compile cold per dtype,
and building its typed Lists compiled Numba's list helpers again in every
process (1.4 s per dtype, on every first search of a process).  Here nothing
new is compiled: the single fit's kernels serve.

Each model shuffles a private copy of its generator's MT19937 state
(``with_private_generator``: the models of a search may share one generator,
and two threads must never draw from the same state); the generators
themselves are not advanced by the shuffles.  Generators that are not MT19937
shuffle in Python, one epoch per call.  With validation data, every call runs
one epoch; Python then scores each model (``_training.validate_epoch``), as
the single fit does, and so it does with callbacks (each model's
``on_epoch``).  ``until_epoch`` pauses every model after that many epochs; a
later call resumes it (successive halving).
"""

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fastbp._shuffle import mt19937_words
from fastbp._threads import compute_threads, thread_budget
from fastbp._training import (
    AWAIT_SCORE,
    GO_ON,
    N_ITER,
    after_epoch,
    slice_epochs,
    train_epochs,
    validate_epoch,
)


def with_private_generator(run):
    """``run`` shuffling a private copy of its generator's MT19937 state
    (``Progress.rng_words``), so that models sharing a generator never draw
    from the same state, and a paused run resumes its own stream.  Runs
    whose generator is not MT19937 keep empty words and shuffle in Python."""
    progress = run.progress
    words, lock = mt19937_words(run.random_state, progress.sample_idx.shape[0])
    if words is None:
        return run
    with lock:
        return run._replace(progress=progress._replace(rng_words=words.copy()))


def fit_many(runs, until_epoch=None):
    """Train every run (``with_private_generator``) to its end, or until it
    has trained ``until_epoch`` epochs (it can then be resumed by another
    call); return each run's last code, GO_ON for a paused run (int64).

    Writes: each run's theta, optimizer state, workspace and progress, as
    ``_training.fit_stochastic`` would (Python shuffling: the run's generator
    too).  A KeyboardInterrupt propagates after the running slice.
    """
    codes = np.full(len(runs), GO_ON, dtype=np.int64)
    serial = [run._replace(plan=run.plan._replace(threaded=False)) for run in runs]
    by_epoch = any(
        run.rules.validates
        or run.on_epoch is not None
        or (run.rules.shuffle and run.progress.rng_words.shape[0] == 0)
        for run in runs
    )
    live = [k for k, run in enumerate(runs) if not _paused(run, until_epoch)]
    n_epochs = 1
    with ThreadPoolExecutor(max(1, min(thread_budget(), len(runs)))) as pool:
        while live:
            if until_epoch is not None:  # every live model trained as many epochs
                done = runs[live[0]].progress.counters[N_ITER]
                n_epochs = min(n_epochs, until_epoch - done)
            start = time.perf_counter()
            if len(live) == 1:
                # The last model may use every thread for its own row blocks
                # (same bits: see the module docstring).
                run = runs[live[0]]
                with compute_threads(run.plan.threaded, single_threaded_blas=True):
                    codes[live[0]] = _one_slice(run, n_epochs)
            else:
                with compute_threads(False, single_threaded_blas=True):
                    slices = pool.map(
                        _one_slice, [serial[k] for k in live], [n_epochs] * len(live)
                    )
                    codes[live] = list(slices)
            elapsed = time.perf_counter() - start
            for k in live:
                if codes[k] == AWAIT_SCORE:
                    codes[k] = validate_epoch(runs[k])[0]
                codes[k] = after_epoch(runs[k], codes[k])
            live = [
                k
                for k in live
                if codes[k] == GO_ON and not _paused(runs[k], until_epoch)
            ]
            if not by_epoch:
                n_epochs = slice_epochs(elapsed, n_epochs)
    return codes


def _one_slice(run, n_epochs):
    """Up to ``n_epochs`` epochs of one model (Python shuffles first when its
    generator is not MT19937); returns train_epochs' code."""
    progress = run.progress
    if run.rules.shuffle and progress.rng_words.shape[0] == 0:
        run.random_state.shuffle(progress.sample_idx)
    return train_epochs(run.plan, run.rules, progress, n_epochs)


def _paused(run, until_epoch):
    return until_epoch is not None and run.progress.counters[N_ITER] >= until_epoch
