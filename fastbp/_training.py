"""The stochastic fit (SGD, Adam): epochs, shuffles, schedules and stopping
rules in compiled code, over slices of epochs.

``train_epochs`` runs up to ``n_epochs`` epochs in one compiled call.  Each
epoch is scikit-learn 1.9's ``_fit_stochastic`` loop body, step for step:

1. shuffle the sample indices (NumPy's ``RandomState.shuffle``, drawn from the
   estimator's own MT19937 state, ``_shuffle``);
2. every minibatch: loss, gradient, one optimizer update (``batch_step``);
3. ``loss_ = sum_b batch_loss_b * rows_b / n``, ``t_ += n``, the loss curve;
4. ``end_epoch``: the no-improvement count (on the training loss, or on a
   validation score), the ``invscaling`` schedule, ``adaptive``'s division by
   5 or the stop, ``max_iter``.

Python gets control back between calls only: ``fit_stochastic`` sizes each
slice to about ``SLICE_SECONDS`` of work, so Ctrl-C stops a fit within that
time with a usable model; with ``verbose`` it asks for one epoch at a time
and prints scikit-learn's lines.  With validation data (``early_stopping``'s
split, or fastbp's ``X_val``) the validation score (the estimator's
``score``) and loss are taken in Python after each epoch (``validate_epoch``)
and handed to the compiled ``end_epoch``.  Every piece of state lives in the
``Progress`` arrays, so slicing never changes a result.
"""

import time
import warnings
from collections import namedtuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastbp._config import jit
from fastbp._dropout import EPOCH
from fastbp._optimizers import SGD
from fastbp._propagate import batch_step
from fastbp._shuffle import mt19937_words, shuffle_in_place
from fastbp._threads import compute_threads

# Learning-rate schedules (SGD only; Adam's is CONSTANT).
CONSTANT, INVSCALING, ADAPTIVE = range(3)
SCHEDULE_CODES = {"constant": CONSTANT, "invscaling": INVSCALING, "adaptive": ADAPTIVE}

# Why ``train_epochs`` / ``end_epoch`` returned.
(
    GO_ON,  # the slice is done; training goes on
    AWAIT_SCORE,  # validation data: Python scores the epoch, then ``end_epoch``
    MAX_ITER,  # n_iter_ == max_iter (scikit-learn's ConvergenceWarning)
    ONE_PASS,  # partial_fit's single epoch is done
    NO_IMPROVEMENT,  # tol / n_iter_no_change: stop
    LEARNING_RATE_TOO_SMALL,  # adaptive: stop at learning rate <= 1e-6
    DIVERGED,  # non-finite weights (scikit-learn raises after the fit)
    ZERO_WEIGHT_BATCH,  # a batch's sample weights sum to 0 (scikit-learn raises)
    STOPPED,  # a callback asked to stop (``after_epoch``; Python only)
) = range(9)

# Progress.counters and Progress.scalars entries.
N_ITER, T, NO_IMPROVEMENT_COUNT, LR_DIVIDED = range(4)
BEST_LOSS, LOSS, BEST_SCORE = range(3)

Rules = namedtuple(
    "Rules",
    [
        "batch_size",
        "max_iter",
        "tol",
        "n_iter_no_change",
        "schedule",
        "learning_rate_init",
        "power_t",
        "shuffle",
        "incremental",
        "early_stopping",
        "validates",
        "stop_on_loss",
    ],
)
Rules.__doc__ = """The fit's fixed settings, scikit-learn's names (schedule: a
SCHEDULE_CODES value, CONSTANT for Adam); ``validates``: validation data are
scored after every epoch; ``stop_on_loss``: early stopping watches the
validation loss instead of the score (fastbp's early_stopping_metric)."""

Progress = namedtuple(
    "Progress",
    [
        "sample_idx",
        "train_idx",
        "order",
        "rng_words",
        "loss_curve",
        "validation_scores",
        "validation_losses",
        "best_theta",
        "counters",
        "scalars",
    ],
)
Progress.__doc__ = """Everything a fit changes besides theta and the optimizer.

sample_idx (n,) int64: the cumulative shuffle of arange(n); train_idx (n,)
int64 rows of the training split, or empty (all rows); order (n,) int64: the
epoch's rows; rng_words (625,) uint32: the estimator's MT19937 state (empty:
Python shuffles); loss_curve, validation_scores, validation_losses
(max_iter,) float64: this call's epochs; best_theta: the best-validation
snapshot (early stopping) or empty; counters int64 (N_ITER, T, NO_IMPROVEMENT_COUNT,
LR_DIVIDED); scalars float64 (BEST_LOSS, LOSS, BEST_SCORE).
"""

_NO_WORDS = np.empty(0, dtype=np.uint32)

# Python re-enters after about this much work (Ctrl-C, see the docstring).
SLICE_SECONDS = 0.05


@jit
def all_finite(values):
    """Whether every entry of values is finite (one pass, no early exit)."""
    finite = True
    for q in range(values.shape[0]):
        finite &= np.isfinite(values[q])
    return finite


@jit(inline="always")
def run_batches(plan, order, batch_size):
    """Every minibatch of one epoch: rows order[k*bs : (k+1)*bs] in turn.

    Returns (sum over batches of batch_loss * batch_rows, status) with status
    GO_ON, DIVERGED (a batch loss was not finite; the epoch went on: the
    caller decides from the weights) or ZERO_WEIGHT_BATCH (the epoch stopped
    before that batch).
    Writes: theta, the optimizer state, plan.work.
    """
    n = order.shape[0]
    total = 0.0
    non_finite = False
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        loss, S = batch_step(plan, order[start:stop])
        if S == 0:
            return total, ZERO_WEIGHT_BATCH
        non_finite |= not np.isfinite(loss)
        total += loss * (stop - start)
    return total, DIVERGED if non_finite else GO_ON


@jit(inline="always")
def one_epoch(plan, rules, progress):
    """Shuffle, run every batch, record loss_, t_ and the loss curve.

    Returns GO_ON, ZERO_WEIGHT_BATCH or DIVERGED (non-finite weights after a
    non-finite loss, without early stopping: every later epoch would only
    propagate them).  Writes: theta, the optimizer state, progress.
    """
    counters, scalars = progress.counters, progress.scalars
    sample_idx, train_idx = progress.sample_idx, progress.train_idx
    if rules.shuffle and progress.rng_words.shape[0] > 0:
        shuffle_in_place(sample_idx, progress.rng_words)
    order = sample_idx
    if train_idx.shape[0] > 0:
        order = progress.order
        for i in range(sample_idx.shape[0]):
            order[i] = train_idx[sample_idx[i]]
    if plan.work.drop_rates.shape[0] > 0:
        plan.work.drop_key[EPOCH] = np.uint64(counters[T])  # t_ at the epoch's start
    total, status = run_batches(plan, order, rules.batch_size)
    if status == ZERO_WEIGHT_BATCH:
        return status
    if (
        status == DIVERGED
        and not rules.early_stopping
        and not all_finite(plan.network.theta)
    ):
        return DIVERGED
    n = order.shape[0]
    counters[N_ITER] += 1
    scalars[LOSS] = total / n
    counters[T] += n
    progress.loss_curve[counters[N_ITER] - 1] = scalars[LOSS]
    return GO_ON


@jit
def end_epoch(plan, rules, progress, score, watched):
    """scikit-learn's bookkeeping after an epoch, in its order:
    ``_update_no_improvement_count`` (with early stopping on ``watched``, the
    validation score, or minus the validation loss with ``stop_on_loss``,
    ``score`` being recorded; else on the epoch's loss), the optimizer's
    ``iteration_ends`` (invscaling: eta = eta_0 / (t_ + 1)^power_t) and, past
    n_iter_no_change epochs without a tol improvement, ``trigger_stopping``
    (adaptive SGD: eta /= 5 and go on, unless eta <= 1e-6).

    Returns GO_ON, NO_IMPROVEMENT, LEARNING_RATE_TOO_SMALL, ONE_PASS or
    MAX_ITER.  Writes: progress, optimizer.hyper[0] (the learning rate).
    """
    counters, scalars = progress.counters, progress.scalars
    hyper = plan.optimizer.hyper
    counters[LR_DIVIDED] = 0
    if rules.early_stopping:
        progress.validation_scores[counters[N_ITER] - 1] = score
        if watched < scalars[BEST_SCORE] + rules.tol:
            counters[NO_IMPROVEMENT_COUNT] += 1
        else:
            counters[NO_IMPROVEMENT_COUNT] = 0
        if watched > scalars[BEST_SCORE]:
            scalars[BEST_SCORE] = watched
            theta, best = plan.network.theta, progress.best_theta
            for p in range(theta.shape[0]):
                best[p] = theta[p]
    else:
        loss = scalars[LOSS]
        if loss > scalars[BEST_LOSS] - rules.tol:
            counters[NO_IMPROVEMENT_COUNT] += 1
        else:
            counters[NO_IMPROVEMENT_COUNT] = 0
        if loss < scalars[BEST_LOSS]:
            scalars[BEST_LOSS] = loss
    if rules.schedule == INVSCALING:
        hyper[0] = rules.learning_rate_init / (counters[T] + 1) ** rules.power_t
    if counters[NO_IMPROVEMENT_COUNT] > rules.n_iter_no_change:
        if rules.schedule != ADAPTIVE:
            return NO_IMPROVEMENT
        if hyper[0] <= 1e-6:
            return LEARNING_RATE_TOO_SMALL
        hyper[0] /= 5.0
        counters[LR_DIVIDED] = 1
        counters[NO_IMPROVEMENT_COUNT] = 0
    if rules.incremental:
        return ONE_PASS
    if counters[N_ITER] == rules.max_iter:
        return MAX_ITER
    return GO_ON


@jit
def train_epochs(plan, rules, progress, n_epochs):
    """Up to ``n_epochs`` epochs (``one_epoch`` then ``end_epoch``); returns
    the first code other than GO_ON, or GO_ON after n_epochs.  With
    validation data it returns AWAIT_SCORE after each epoch's batches."""
    for _ in range(n_epochs):
        code = one_epoch(plan, rules, progress)
        if code != GO_ON:
            return code
        if rules.validates:
            return AWAIT_SCORE
        code = end_epoch(plan, rules, progress, 0.0, 0.0)
        if code != GO_ON:
            return code
    return GO_ON


def make_rules(estimator, batch_size, solver_code, incremental, validates):
    """The Rules of a fit from the estimator's hyperparameters."""
    schedule = (
        SCHEDULE_CODES[estimator.learning_rate] if solver_code == SGD else CONSTANT
    )
    return Rules(
        int(batch_size),
        int(estimator.max_iter),
        float(estimator.tol),
        float(estimator.n_iter_no_change),  # may be inf
        schedule,
        float(estimator.learning_rate_init),
        float(estimator.power_t),
        bool(estimator.shuffle),
        bool(incremental),
        bool(estimator.early_stopping),
        bool(validates),
        estimator.early_stopping_metric == "loss",
    )


def make_progress(n_samples, train_idx, max_iter, best_theta, state):
    """A fit's Progress; state = (t_, no_improvement_count, best_loss,
    best_validation_score) carried over from earlier calls."""
    t, no_improvement, best_loss, best_score = state
    return Progress(
        np.arange(n_samples, dtype=np.int64),
        np.ascontiguousarray(train_idx, dtype=np.int64),
        np.empty(n_samples if len(train_idx) else 0, dtype=np.int64),
        _NO_WORDS,
        np.empty(max_iter),
        np.empty(max_iter),
        np.empty(max_iter),
        best_theta,
        np.array([0, t, no_improvement, 0], dtype=np.int64),
        np.array([best_loss, np.nan, best_score], dtype=np.float64),
    )


Run = namedtuple(
    "Run", ["plan", "rules", "progress", "random_state", "validate", "on_epoch"]
)
Run.__doc__ = """One stochastic fit, planned and not yet run: its Plan, Rules and
Progress, the generator that shuffles its epochs, ``validate()``, the
(score, loss) of the current weights on the validation data (None without
validation data), and ``on_epoch(run)``, called after every epoch, True to
stop (scikit-learn's callbacks, ``_callbacks``; None without: then no Python
runs per epoch)."""


def after_epoch(run, code):
    """Call the run's ``on_epoch`` after an epoch that ended with ``code``
    (none for an epoch that did not finish: DIVERGED, ZERO_WEIGHT_BATCH).
    Returns STOPPED when it asks to stop a fit that would go on, else code."""
    if run.on_epoch is None or code in (DIVERGED, ZERO_WEIGHT_BATCH):
        return code
    stop = run.on_epoch(run)
    return STOPPED if stop and code == GO_ON else code


def validate_epoch(run):
    """After an epoch that returned AWAIT_SCORE: the validation score and
    loss, the loss recorded in Progress.validation_losses, then ``end_epoch``
    (watching the score, or minus the loss).  Returns (code, score, loss)."""
    score, loss = run.validate()
    progress = run.progress
    progress.validation_losses[progress.counters[N_ITER] - 1] = loss
    watched = -loss if run.rules.stop_on_loss else score
    return end_epoch(run.plan, run.rules, progress, score, watched), score, loss


def slice_epochs(elapsed, n_epochs):
    """Epochs for the next compiled call: about SLICE_SECONDS of work, from
    the last call's ``elapsed`` seconds for ``n_epochs`` epochs."""
    per_epoch = max(elapsed / n_epochs, 1e-7)
    return int(min(max(SLICE_SECONDS / per_epoch, 1), 1 << 20))


def fit_stochastic(run, verbose):
    """Run a stochastic fit to its end in compiled slices; return the last
    code (see the codes above).

    The run's MT19937 state is shuffled in place under its lock
    (``_shuffle.mt19937_words``); any other generator shuffles in Python, one
    epoch per call.  A KeyboardInterrupt propagates after the slice that was
    running: the progress arrays are consistent at every return of a compiled
    call.
    """
    plan, rules, progress, random_state = run[:4]
    words, lock = mt19937_words(random_state, progress.sample_idx.shape[0])
    by_epoch = verbose or rules.validates or words is None or run.on_epoch is not None
    if words is not None:
        progress = progress._replace(rng_words=words)
        run = run._replace(progress=progress)
    n_epochs = 1
    with compute_threads(plan.threaded, single_threaded_blas=True):
        while True:
            if words is None and rules.shuffle:
                random_state.shuffle(progress.sample_idx)
            start = time.perf_counter()
            with lock:
                code = train_epochs(plan, rules, progress, n_epochs)
            elapsed = time.perf_counter() - start
            if verbose and code not in (DIVERGED, ZERO_WEIGHT_BATCH):
                print(
                    "Iteration %d, loss = %.8f"
                    % (progress.counters[N_ITER], progress.scalars[LOSS])
                )
            if code == AWAIT_SCORE:
                code, score, loss = validate_epoch(run)
                if verbose and rules.early_stopping:
                    print("Validation score: %f" % score)
                if verbose and (rules.stop_on_loss or not rules.early_stopping):
                    print("Validation loss: %f" % loss)
            if verbose:
                _print_stopping(code, plan, rules, progress)
            code = after_epoch(run, code)
            if code != GO_ON:
                return code
            if not by_epoch:
                n_epochs = slice_epochs(elapsed, n_epochs)


def _print_stopping(code, plan, rules, progress):
    """scikit-learn's ``trigger_stopping`` lines (verbose only)."""
    if (
        code not in (NO_IMPROVEMENT, LEARNING_RATE_TOO_SMALL)
        and not (progress.counters[LR_DIVIDED])
    ):
        return
    what = "Training loss"
    if rules.early_stopping:
        what = "Validation loss" if rules.stop_on_loss else "Validation score"
    msg = "%s did not improve more than tol=%f for %d consecutive epochs." % (
        what,
        rules.tol,
        rules.n_iter_no_change,
    )
    if code == NO_IMPROVEMENT:
        print(msg + " Stopping.")
    elif code == LEARNING_RATE_TOO_SMALL:
        print(msg + " Learning rate too small. Stopping.")
    else:
        print(msg + " Setting learning rate to %f" % plan.optimizer.hyper[0])


def warn_max_iter(max_iter):
    """scikit-learn's warning when a fit ends at max_iter."""
    warnings.warn(
        "Stochastic Optimizer: Maximum iterations (%d) reached and the "
        "optimization hasn't converged yet." % max_iter,
        ConvergenceWarning,
    )
