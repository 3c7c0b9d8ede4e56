"""Per-element cost of each hidden activation, forward and backward, against
tanh (the issue's bar: a new activation costs no more than tanh does).

For an (m, n) block of pre-activations, times ``bias_activate_inplace``
(f(Z + b), in place) and ``multiply_derivative_inplace`` (D *= f'(Z)), the
best of several repeats, in nanoseconds per element, float64 and float32.
Shapes: 200 x 3 (the tiny case's narrow layer) and 200 x 256 (a wide one).
Each call starts from a fresh copy of the same inputs (the copy's own time
is measured alone and subtracted): calls repeated on their own output would
drift into subnormal numbers (GELU and SiLU halve small values, a derivative
below 1 shrinks D), whose arithmetic is many times slower.

    python bench/bench_activations.py
"""

import time

import numpy as np

from fastbp._activations import (
    ACTIVATION_CODES,
    HIDDEN_ACTIVATIONS,
    bias_activate_inplace,
    multiply_derivative_inplace,
)

SHAPES = ((200, 3), (200, 256))
REPEATS = 7


def _best_seconds(call, calls):
    call()  # compile or load
    best = np.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def ns_per_element(kernel, fresh, source, args, n_elements, calls):
    """ns per element of kernel(fresh, *args), fresh refreshed from source
    before every call (the refresh's own time subtracted)."""

    def refresh():
        np.copyto(fresh, source)

    def refreshed_call():
        np.copyto(fresh, source)
        kernel(fresh, *args)

    seconds = _best_seconds(refreshed_call, calls) - _best_seconds(refresh, calls)
    return max(seconds, 0.0) * 1e9 / n_elements


def measure():
    rng = np.random.default_rng(0)
    rows = []
    for dtype in (np.float64, np.float32):
        for m, n in SHAPES:
            Z = rng.standard_normal((m, n)).astype(dtype)
            b = rng.standard_normal(n).astype(dtype)
            D = rng.standard_normal((m, n)).astype(dtype)
            calls = max(20, 2_000_000 // (m * n))
            for name in HIDDEN_ACTIVATIONS:
                code = ACTIVATION_CODES[name]
                work = np.empty_like(Z)
                forward = ns_per_element(
                    bias_activate_inplace, work, Z, (b, code), m * n, calls
                )
                A = Z.copy()
                bias_activate_inplace(A, b, code)
                Z_b = Z + b  # the pre-activations of A
                backward = ns_per_element(
                    multiply_derivative_inplace,
                    np.empty_like(D),
                    D,
                    (A, Z_b, code),
                    m * n,
                    calls,
                )
                rows.append((np.dtype(dtype).name, f"{m}x{n}", name, forward, backward))
    return rows


def report(rows):
    print(
        "| dtype | block | activation | forward ns/el | backward ns/el | vs tanh (fwd+bwd) |"
    )
    print("|---|---|---|---:|---:|---:|")
    tanh = {(r[0], r[1]): r[3] + r[4] for r in rows if r[2] == "tanh"}
    for dtype, block, name, forward, backward in rows:
        ratio = (forward + backward) / tanh[dtype, block]
        print(
            f"| {dtype} | {block} | {name} | {forward:.2f} | {backward:.2f} | {ratio:.2f}x |"
        )


if __name__ == "__main__":
    report(measure())
