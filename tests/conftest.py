"""Shared fixtures.

``seed`` is 0 by default.  Set ``FASTBP_TEST_SEEDS=N`` to run every test that
uses it (directly or through ``rng``) once for each of the seeds 0 .. N-1, to
catch tests that pass by luck::

    FASTBP_TEST_SEEDS=20 python -m pytest tests/
"""

import os

import numpy as np
import pytest


def _n_seeds():
    raw = os.environ.get("FASTBP_TEST_SEEDS", "1").strip() or "1"
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise pytest.UsageError(
            f"FASTBP_TEST_SEEDS must be a positive integer; got {raw!r}."
        )
    return n


N_SEEDS = _n_seeds()


@pytest.fixture(params=range(N_SEEDS), ids=lambda s: f"seed{s}")
def seed(request):
    """An integer seed: 0, or each of 0 .. FASTBP_TEST_SEEDS - 1."""
    return request.param


@pytest.fixture
def rng(seed):
    """A NumPy Generator seeded with ``seed``."""
    return np.random.default_rng(seed)


@pytest.fixture(scope="session", autouse=True)
def _kernels_compiled_together():
    """Compile (or load) every kernel of both dtypes through
    ``fastbp._warmup.ensure_compiled`` before any test calls a kernel
    directly: it starts Numba's threading layer first (the workaround for
    numba#8578 that users get through every public call)."""
    import fastbp

    fastbp.warmup(("float64", "float32"))
