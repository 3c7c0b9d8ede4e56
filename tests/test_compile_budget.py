"""Compile budget: every kernel compiles at most once per dtype.

Inputs are normalised at the boundary (C-contiguous arrays of one float dtype,
int64 indices, integer codes in tuples of a fixed length), so after the package
has run on float32 and float64 data each public kernel dispatcher must hold at
most two signatures.  A third one is a full extra compilation (seconds) that
every new process pays.

The check runs in a fresh interpreter with the on-disk cache disabled
(FASTBP_DISABLE_CACHE=1):

* other tests in this session call kernels directly with their own argument
  types, which must not count;
* a kernel loaded from the cache does not compile its callees, so with a warm
  cache a callee compiled for extra argument types would go unseen.

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
)

SCRIPT = textwrap.dedent(
    """
    import importlib, json, sys, warnings

    import numpy as np
    from numba.core.dispatcher import Dispatcher

    import fastbp

    warnings.simplefilter("ignore")
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

        # The low-level public API.
        coefs = [rng.normal(size=(3, 5)), rng.normal(size=(5, 2))]
        intercepts = [rng.normal(size=5), rng.normal(size=2)]
        fastbp.forward(X, coefs, intercepts, activation="tanh")
        fastbp.loss_and_gradients(X, y, coefs, intercepts, alpha=0.1)
        fastbp.loss_and_gradients(
            X, y, coefs, intercepts, sample_weight=np.ones(40, dtype)
        )
    fastbp.check_gradients(X[:4], y[:4], coefs, intercepts)

    signatures = {}
    for module_name in sys.argv[1:]:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if isinstance(obj, Dispatcher) and obj.py_func.__module__ == module_name:
                signatures[f"{module_name}.{name}"] = [str(s) for s in obj.signatures]
    print(json.dumps(signatures))
    """
)


@pytest.fixture(scope="module")
def signatures():
    env = {**os.environ, "FASTBP_DISABLE_CACHE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *MODULES],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_entry_points_compiled_for_both_dtypes(signatures):
    """The probe really ran the kernels in two dtypes (else the budget test
    below would pass vacuously)."""
    for name in (
        "fastbp._training.run_epoch",
        "fastbp._propagate.loss_and_grad_into",
        "fastbp._propagate.forward_into",
        "fastbp._optimizers.optimizer_step",
    ):
        assert len(signatures[name]) == 2, (name, signatures[name])
        assert "float32" in " ".join(signatures[name])


def test_at_most_two_signatures_per_kernel(signatures):
    public = {n: s for n, s in signatures.items() if n.split(".")[-1][0] != "_"}
    assert len(public) >= 15  # the dispatchers were found
    over = {name: sigs for name, sigs in public.items() if len(sigs) > 2}
    assert not over, "kernels compiled more than once per dtype:\n" + "\n".join(
        f"{name}: {len(sigs)} signatures\n    " + "\n    ".join(sigs)
        for name, sigs in over.items()
    )
