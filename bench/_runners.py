"""One training run per library under a given thread count (``threads(n)``
sets Numba's, every BLAS/OpenMP pool's and torch's), epoch calibration, and
the suite's one timer (``timed``, ``time_calls``) and one statistics helper
(``stats``).  A run trains a fresh model for a fixed number of epochs over the
whole training set, shuffled every epoch, and returns the wall time of the
whole ``fit`` (or of PyTorch's whole loop); nothing stops early (``tol=0``,
a huge ``n_iter_no_change``).
"""

import itertools
import os
import time
import warnings
from contextlib import contextmanager

import numba
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

torch = None
if not os.environ.get("FASTBP_BENCH_NO_TORCH"):
    try:  # optional
        import torch
    except ImportError:  # pragma: no cover - depends on the machine
        pass

NEVER_STOP = 1_000_000_000  # n_iter_no_change


def timed(fn, *args, **kwargs):
    """(wall seconds, return value) of one call fn(*args, **kwargs)."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def time_calls(fn, min_seconds, repeats=5):
    """Seconds per call of fn(): stats() over ``repeats`` batches of calls
    (after one untimed call), each batch lasting about min_seconds / repeats."""
    once, _ = timed(fn)
    number = max(1, int(min_seconds / repeats / max(once, 1e-7)))

    def batch():
        for _ in range(number):
            fn()

    per_call = [timed(batch)[0] / number for _ in range(repeats)]
    return {**stats(per_call), "calls_per_batch": number}


def stats(values):
    """Runs, median, min, max and quartiles of a list of numbers."""
    v = np.asarray(values, dtype=float)
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    return {
        "runs": v.tolist(),
        "median": float(median),
        "min": float(v.min()),
        "max": float(v.max()),
        "q1": float(q1),
        "q3": float(q3),
    }


@contextmanager
def threads(n):
    """Run the body with n threads for Numba, every BLAS/OpenMP pool and torch."""
    previous_numba = numba.get_num_threads()
    previous_torch = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=n):
        numba.set_num_threads(n)
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield
        finally:
            numba.set_num_threads(previous_numba)
            if torch is not None:
                torch.set_num_threads(previous_torch)


def estimator_params(case, solver, epochs):
    """The hyperparameters given to both fastbp and scikit-learn."""
    return dict(
        hidden_layer_sizes=case.hidden,
        activation="relu",
        solver=solver,
        batch_size=case.batch_size,
        learning_rate_init=0.001,
        max_iter=epochs,
        shuffle=True,
        random_state=0,
        tol=0.0,
        n_iter_no_change=NEVER_STOP,
    )


def estimator_class(library, task):
    if library == "fastbp":
        import fastbp as module
    else:
        import sklearn.neural_network as module
    return module.MLPRegressor if task == "regression" else module.MLPClassifier


def fit_model(model, X, y):
    """(seconds, fitted model) of model.fit(X, y), ConvergenceWarning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return timed(model.fit, X, y)


def fit_estimator(library, case, solver, X, y, epochs):
    """Fit fastbp's or scikit-learn's MLP; return (seconds, fitted model)."""
    params = estimator_params(case, solver, epochs)
    return fit_model(estimator_class(library, case.task)(**params), X, y)


# ----------------------------------------------------------------- PyTorch
def torch_model(case, dtype):
    """nn.Sequential with the same layers and ReLU hidden activations."""
    from torch import nn

    torch.manual_seed(0)
    modules = []
    for fan_in, fan_out in itertools.pairwise(case.layers):
        modules += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*modules[:-1])
    return model.to(torch.float32 if dtype == np.float32 else torch.float64)


def torch_tensors(case, X, y):
    X_t = torch.from_numpy(X)
    if case.task == "multiclass":
        return X_t, torch.from_numpy(y)
    return X_t, torch.from_numpy(np.asarray(y, dtype=X.dtype).reshape(-1, 1))


def fit_torch(case, solver, X, y, epochs, tensors=None):
    """Hand-written minibatch loop, as close to scikit-learn's setup as torch
    allows: same layers, batch size, learning rate, Nesterov momentum 0.9 /
    Adam(0.9, 0.999, 1e-8), L2 alpha=1e-4 as weight decay; a new permutation
    every epoch.  Returns (seconds, model)."""
    X_t, y_t = tensors if tensors is not None else torch_tensors(case, X, y)
    return timed(_torch_loop, case, solver, X_t, y_t, X.dtype, epochs)


def _torch_loop(case, solver, X_t, y_t, dtype, epochs):
    from torch import nn

    model = torch_model(case, dtype)
    decay = 1e-4 / case.batch_size  # scikit-learn adds alpha * W / batch_size
    if solver == "sgd":
        opt = torch.optim.SGD(
            model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, weight_decay=decay
        )
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=decay)
    losses = {"multiclass": nn.CrossEntropyLoss, "binary": nn.BCEWithLogitsLoss}
    loss_fn = losses.get(case.task, nn.MSELoss)()
    n, bs = X_t.shape[0], case.batch_size
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(X_t[idx]), y_t[idx]).backward()
            opt.step()
    return model


def run_one(library, case, solver, X, y, epochs, torch_data=None):
    """Seconds for one training run of ``epochs`` epochs."""
    if library == "torch":
        return fit_torch(case, solver, X, y, epochs, torch_data)[0]
    return fit_estimator(library, case, solver, X, y, epochs)[0]


def calibrate_epochs(library, case, solver, X, y, target_seconds, torch_data=None):
    """Number of epochs for which one run lasts about ``target_seconds``.

    After a discarded one-epoch warm-up, pilots grow geometrically from one
    epoch until one lasts at least a quarter of the target, so that per-fit
    overhead (validation, initialisation) is a small part of the estimate;
    the count is then scaled linearly.
    """
    run_one(library, case, solver, X, y, 1, torch_data)  # warm-up, discarded
    epochs = 1
    while True:
        seconds = run_one(library, case, solver, X, y, epochs, torch_data)
        if seconds >= target_seconds / 4 or epochs >= 100_000:
            break
        growth = min(10.0, max(2.0, 1.2 * target_seconds / 4 / max(seconds, 1e-6)))
        epochs = int(np.ceil(epochs * growth))
    return max(1, round(epochs * target_seconds / seconds))
