"""The matrix products of one training batch, one model against several
candidates side by side, on one thread: what fusing a search's first layers
across candidates (issue #13) could gain.

For the search cases' first layers (digits 64 -> 64, tabular 40 -> 64; a row
block of 100 rows, the block a batch of 200 rows is cut into), times, from a
compiled loop of ``np.dot`` calls (Numba's route to SciPy's BLAS, as the
kernels call it):

* forward:  X_b (100, n_in) @ W (n_in, K * n_out);
* gradient: X_b^T (n_in, 100) @ D (100, K * n_out);

for K = 1 (one model) and K candidates side by side, in float64 GFLOP/s, the
best of several repeats, BLAS on one thread (``OPENBLAS_NUM_THREADS=1`` is
set before NumPy loads).  The BLAS kernels OpenBLAS chose are printed first
(README, "BLAS kernels").

    python bench/bench_batch_gemm.py
    OPENBLAS_CORETYPE=SkylakeX python bench/bench_batch_gemm.py
"""

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before NumPy and SciPy load BLAS

import time

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (Numba's BLAS: listed below)

ROWS = 100
FIRST_LAYERS = {"digits": (64, 64), "tabular": (40, 64)}  # (n_in, n_out)
CANDIDATES = (1, 5, 12)  # digits' 5 learning rates, tabular's 12 candidates
REPEATS = 7


@numba.njit
def _products(A, B, C, calls):
    for _ in range(calls):
        np.dot(A, B, C)


def gflops(m, k, n, transposed):
    """Best GFLOP/s of C (m, n) = A (m, k) @ B (k, n), A a transposed view
    (F-ordered) when ``transposed``."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((k, m)).T if transposed else rng.standard_normal((m, k))
    B = rng.standard_normal((k, n))
    C = np.empty((m, n))
    calls = max(10, int(2e8 // (2 * m * n * k)))
    _products(A, B, C, 1)
    best = np.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        _products(A, B, C, calls)
        best = min(best, (time.perf_counter() - start) / calls)
    return 2.0 * m * n * k / best / 1e9


def main():
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        name = os.path.basename(pool["filepath"])
        print(f"{name}: {pool.get('architecture')} kernels")
    print(
        "\n| case | product | K | GFLOP/s (1 thread) | against K = 1 |\n"
        "|---|---|---:|---:|---:|"
    )
    for case, (n_in, n_out) in FIRST_LAYERS.items():
        # (m, k) of each product; its n is K * n_out.
        for product, (m, k), transposed in (
            ("forward X_b @ W", (ROWS, n_in), False),
            ("gradient X_b^T @ D", (n_in, ROWS), True),
        ):
            single = gflops(m, k, n_out, transposed)
            for K in CANDIDATES:
                rate = single if K == 1 else gflops(m, k, K * n_out, transposed)
                print(
                    f"| {case} | {product} | {K} | {rate:.1f} | {rate / single:.2f}x |"
                )


if __name__ == "__main__":
    main()
