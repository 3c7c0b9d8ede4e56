"""Compile budget: every kernel compiles at most once per dtype.

Inputs are normalised at the boundary (C-contiguous arrays of one float dtype,
int64 indices, int64 codes and float64 scalars in the plan's named tuples,
``fastbp._plan``), so after the package has run on float32 and float64 data
each public kernel dispatcher must hold at most two signatures.  A third one
is a full extra compilation (seconds) that every new process pays.

The check runs in a fresh interpreter with the on-disk cache disabled
(FASTBP_DISABLE_CACHE=1):

* other tests in this session call kernels directly with their own argument
  types, which must not count;
* a kernel loaded from the cache does not compile its callees, so with a warm
  cache a callee compiled for extra argument types would go unseen.

Compilation is lazy, per job (``fastbp._warmup``): a second fresh process
checks that an SGD fit and a predict compile no L-BFGS / objective kernel.

Compiling everything from scratch for both dtypes takes 30-60 s, hence
``slow``.  Private helpers (leading underscore) are exempt: they are
implementation details of the public kernels, which are all checked.
"""

import json
import os
import subprocess
import sys
import textwrap

import numba
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        numba.config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: nothing is compiled"
    ),
]

MODULES = (
    "fastbp._propagate",
    "fastbp._optimizers",
    "fastbp._training",
    "fastbp._losses",
    "fastbp._activations",
    "fastbp._shuffle",
)

SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys, warnings

    import numpy as np
    from numba.core.dispatcher import Dispatcher
    from numba.core.errors import NumbaWarning
    from scipy import sparse

    import fastbp

    # Numba's own warnings are kept (NumbaIRAssumptionWarning: a kernel
    # inlined twice into one function), all others ignored.
    numba_warnings = warnings.catch_warnings(record=True)
    caught = numba_warnings.__enter__()
    warnings.simplefilter("ignore")
    warnings.simplefilter("always", NumbaWarning)
    rng = np.random.default_rng(0)

    # Estimators: every solver, dense and CSR input, fit and predict, per dtype.
    fastbp.warmup(("float64", "float32"))
    for dtype in (np.float64, np.float32):
        X = rng.normal(size=(40, 3)).astype(dtype)
        y = rng.normal(size=(40, 2))
        for solver in ("sgd", "adam", "lbfgs"):
            reg = fastbp.MLPRegressor(hidden_layer_sizes=(4,), solver=solver, max_iter=2)
            reg.fit(X, y, sample_weight=rng.uniform(0.5, 1.5, 40))
            reg.predict(X.astype(np.float64))  # mixed dtypes at predict time
        fastbp.MLPRegressor(hidden_layer_sizes=(4,), loss="poisson", max_iter=2).fit(X, np.abs(y))
        y3 = np.arange(40) % 3
        fastbp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, early_stopping=True).fit(X, y3)
        # The fused search, dense and CSR, with and without early stopping.
        for early_stopping in (False, True):
            fastbp.MLPClassifierCV(
                hidden_layer_sizes=(4,), max_iter=2, learning_rate_init=[1e-3, 1e-2],
                early_stopping=early_stopping, cv=2,
            ).fit(X if early_stopping else sparse.csr_matrix(X), y3)

        # The low-level public API.
        coefs = [rng.normal(size=(3, 5)), rng.normal(size=(5, 2))]
        intercepts = [rng.normal(size=5), rng.normal(size=2)]
        fastbp.forward(X, coefs, intercepts, activation="tanh")
        fastbp.loss_and_gradients(X, y, coefs, intercepts, alpha=0.1)
        fastbp.loss_and_gradients(
            X, y, coefs, intercepts, sample_weight=np.ones(40, dtype)
        )
    fastbp.check_gradients(X[:4], y[:4], coefs, intercepts)
    numba_warnings.__exit__(None, None, None)

    signatures = {}
    for module_name in sys.argv[1:]:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if isinstance(obj, Dispatcher) and obj.py_func.__module__ == module_name:
                signatures[f"{module_name}.{name}"] = [str(s) for s in obj.signatures]
    numba_messages = sorted(
        {f"{w.category.__name__}: {str(w.message)[:300]}" for w in caught}
    )
    print(json.dumps({"signatures": signatures, "numba_warnings": numba_messages}))
    """
)


def _run_fresh(script, *args):
    """Run ``script`` in a new interpreter with the on-disk cache disabled;
    return the JSON document on its last line of output."""
    env = {**os.environ, "FASTBP_DISABLE_CACHE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def probe():
    return _run_fresh(SCRIPT, *MODULES)


@pytest.fixture(scope="module")
def signatures(probe):
    return probe["signatures"]


def test_compiling_every_kernel_raises_no_numba_warning(probe):
    """Numba compiles every kernel without a warning of its own: e.g. a
    function inlining one of ``_vector_math``'s Numba-inlined kernels twice
    gets a NumbaIRAssumptionWarning from its SSA reconstruction."""
    assert probe["numba_warnings"] == []


ENTRY_POINTS = (
    "fastbp._training.train_epochs",
    "fastbp._training.end_epoch",
    "fastbp._propagate.loss_and_grad_into",
    "fastbp._propagate.forward_into",
    "fastbp._propagate.for_each_block",
    "fastbp._propagate.for_each_chunk",
)


def test_entry_points_compiled_for_both_dtypes(signatures):
    """The probe really ran the kernels in two dtypes (else the budget test
    below would pass vacuously)."""
    for name in ENTRY_POINTS:
        assert len(signatures[name]) == 2, (name, signatures[name])
        joined = " ".join(signatures[name])
        assert "float32" in joined and "float64" in joined, (name, joined)


def test_at_most_two_signatures_per_kernel(signatures):
    public = {n: s for n, s in signatures.items() if n.split(".")[-1][0] != "_"}
    assert len(public) >= 15  # the dispatchers were found
    over = {name: sigs for name, sigs in public.items() if len(sigs) > 2}
    assert not over, "kernels compiled more than once per dtype:\n" + "\n".join(
        f"{name}: {len(sigs)} signatures\n    " + "\n    ".join(sigs)
        for name, sigs in over.items()
    )


SGD_ONLY_SCRIPT = textwrap.dedent(
    """
    import json, warnings

    import numpy as np

    import fastbp
    import fastbp._propagate as propagate
    import fastbp._training as training
    import fastbp._warmup as warmup_module

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)

    def state():
        kernels = {
            "loss_and_grad_into": propagate.loss_and_grad_into,
            "train_epochs": training.train_epochs,
            "forward_into": propagate.forward_into,
        }
        result = {name: [str(s) for s in k.signatures] for name, k in kernels.items()}
        # (job, dtype) keys; other entries (if any) are not jobs.
        ready = warmup_module._ready
        result["jobs"] = sorted({key[0] for key in ready if isinstance(key, tuple)})
        return result

    clf = fastbp.MLPClassifier(
        hidden_layer_sizes=(4,), solver="sgd", max_iter=3, random_state=0
    ).fit(X, y)
    clf.predict(X)
    after_sgd = state()

    coefs = [rng.normal(size=(3, 4)), rng.normal(size=(4, 1))]
    intercepts = [rng.normal(size=4), rng.normal(size=1)]
    fastbp.loss_and_gradients(X, X[:, :1], coefs, intercepts)
    print(json.dumps({"after_sgd": after_sgd, "after_objective": state()}))
    """
)


def test_sgd_fit_and_predict_compile_no_objective_kernel():
    """An SGD fit and a predict in a fresh process compile the stochastic and
    forward jobs only: no L-BFGS / objective kernel.  loss_and_grad_into is
    inlined into the stochastic fit, so its own dispatcher holds a signature
    only once the objective job ran; the low-level loss then compiles it
    (so this test can fail)."""
    result = _run_fresh(SGD_ONLY_SCRIPT)
    after_sgd, after_objective = result["after_sgd"], result["after_objective"]
    # The fit and the prediction really ran compiled code.
    assert "stochastic" in after_sgd["jobs"] and "forward" in after_sgd["jobs"]
    assert len(after_sgd["train_epochs"]) == 1, after_sgd
    assert len(after_sgd["forward_into"]) == 1, after_sgd
    # ... and compiled nothing of the objective job.
    assert "objective" not in after_sgd["jobs"], after_sgd
    assert after_sgd["loss_and_grad_into"] == [], after_sgd
    # The low-level loss and gradient compiles it.
    assert "objective" in after_objective["jobs"], after_objective
    assert len(after_objective["loss_and_grad_into"]) == 1, after_objective
    assert "float64" in after_objective["loss_and_grad_into"][0]
