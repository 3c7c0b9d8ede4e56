"""The fused pass: many independent stochastic fits advanced together.

``fit_many(runs)`` trains every ``_training.Run`` (each planned by its own
estimator exactly as its ``fit`` would plan it) to its end.  One compiled
call per slice of epochs, ``train_models``, runs ``train_epochs`` for every
live model, the models in parallel and each model on one thread (its plan's
``threaded`` flag cleared).  A model's arithmetic never depends on the thread
count (``_propagate`` sums in fixed row blocks and parameter chunks), so each
model ends bit-identical to its own ``fit``, for 1 or N threads.  This is how
small batches and tiny networks use every core: one model's batch is too
small to split, but independent models are not.

The model axis: the runs' Plans, Rules and Progress records in three typed
Lists, model k at index k; ``live`` holds the models still training.  A
model leaves when its code is not GO_ON (max_iter, no improvement, divergence,
...): the caller then ends its fit as the estimator's own fit would.

Each model shuffles a private copy of its generator's MT19937 state
(``with_private_generator``: the models of a search may share one generator,
and two threads must never draw from the same state); the generators
themselves are not advanced by the shuffles.  Generators that are not MT19937
shuffle in Python, one epoch per call.  ``until_epoch`` pauses every model
after that many epochs; a later call resumes it (successive halving).  With early stopping, every call runs one epoch; Python then scores
each model (``Run.score``) and calls the compiled ``end_epoch``, as the
single fit does.
"""

import time

import numpy as np
from numba import prange
from numba.typed import List

from fastbp._config import jit
from fastbp._shuffle import mt19937_words
from fastbp._threads import compute_threads
from fastbp._training import (
    AWAIT_SCORE,
    GO_ON,
    N_ITER,
    end_epoch,
    slice_epochs,
    train_epochs,
)


@jit(parallel=True)
def train_models(plans, rules, progresses, live, n_epochs, codes):
    """``train_epochs(plans[k], rules[k], progresses[k], n_epochs)`` for every
    k in ``live``, in parallel over the models (each model serial: its plan
    is not threaded).  Models share no writable array, hence race-free.

    Writes: every live model's theta, optimizer state, workspace and
    progress; codes[k] (the model's return code) for k in live.
    """
    for j in prange(live.shape[0]):
        k = live[j]
        codes[k] = train_epochs(plans[k], rules[k], progresses[k], n_epochs)


def _typed_list(items):
    typed = List()
    for item in items:
        typed.append(item)
    return typed


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
    n_models = len(runs)
    codes = np.full(n_models, GO_ON, dtype=np.int64)
    if n_models == 0:
        return codes
    python_shuffles = [
        k
        for k, run in enumerate(runs)
        if run.rules.shuffle and run.progress.rng_words.shape[0] == 0
    ]
    plans = _typed_list(run.plan._replace(threaded=False) for run in runs)
    rules = _typed_list(run.rules for run in runs)
    progresses = _typed_list(run.progress for run in runs)
    by_epoch = bool(python_shuffles) or any(run.rules.early_stopping for run in runs)
    live = np.array(
        [k for k, run in enumerate(runs) if not _paused(run, until_epoch)],
        dtype=np.int64,
    )
    n_epochs = 1
    while live.shape[0]:
        if until_epoch is not None:  # every live model has trained as many epochs
            done = runs[live[0]].progress.counters[N_ITER]
            n_epochs = min(n_epochs, until_epoch - done)
        for k in python_shuffles:
            if codes[k] == GO_ON:
                runs[k].random_state.shuffle(progresses[k].sample_idx)
        start = time.perf_counter()
        if live.shape[0] == 1:
            # The last model may use every thread for its own row blocks
            # (same bits: see the module docstring).
            k = live[0]
            plan = runs[k].plan
            with compute_threads(plan.threaded, single_threaded_blas=True):
                codes[k] = train_epochs(plan, rules[k], progresses[k], n_epochs)
        else:
            with compute_threads(True):
                train_models(plans, rules, progresses, live, n_epochs, codes)
        elapsed = time.perf_counter() - start
        for k in live:
            if codes[k] == AWAIT_SCORE:
                codes[k] = end_epoch(plans[k], rules[k], progresses[k], runs[k].score())
        live = live[codes[live] == GO_ON]
        live = live[[not _paused(runs[k], until_epoch) for k in live]]
        if not by_epoch:
            n_epochs = slice_epochs(elapsed, n_epochs)
    return codes


def _paused(run, until_epoch):
    return until_epoch is not None and run.progress.counters[N_ITER] >= until_epoch
