"""Per-batch cost of the two phases of a training step, per case.

A batch of a training epoch is (1) ``wave_partials``: gather the rows, forward
pass, loss, deltas and gradient sums, and (2) ``finish_gradient_and_step``:
the regularised gradient and the optimizer's update, fused per parameter
chunk.  This times each phase on its own (median of repeated calls from
Python, so each figure includes one call's dispatch, ~1-2 us: visible only on
"tiny"), with one thread and with two, on the cases of ``_cases.py``: the
figures that locate where a case's time goes.

    python bench/bench_phases.py                     # every case, sgd and adam
    python bench/bench_phases.py --cases wide --solvers adam
"""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _cases import CASES, make_data
from _runners import threads

from fastbp._activations import ACTIVATION_CODES
from fastbp._losses import LOSS_CODES
from fastbp._optimizers import OptimizerState
from fastbp._params import build_layout, init_theta
from fastbp._plan import dense_source, make_network, make_plan
from fastbp._propagate import FINISH_AND_STEP, for_each_chunk, wave_partials
from fastbp._threads import compute_threads, update_is_costly, use_threads

OUTPUT = {
    "binary": ("logistic", "binary_log_loss"),
    "multiclass": ("softmax", "log_loss"),
    "regression": ("identity", "squared_error"),
}


def _median_microseconds(call, reset=lambda: None, max_calls=200):
    """Median over 7 repetitions of the mean time of ``n`` calls, after
    ``reset()`` (untimed).  n grows until a repetition lasts 30 ms, up to
    ``max_calls``: an update repeated thousands of times on one fixed gradient
    drives the optimizer into states a fit never sees (Adam on "wide" ran 2x
    slower around step 1000), so its state is reset before every repetition."""
    reset()
    call()
    n = 1
    while n < max_calls:
        reset()
        start = time.perf_counter()
        for _ in range(n):
            call()
        if time.perf_counter() - start > 0.03:
            break
        n = min(2 * n, max_calls)
    samples = []
    for _ in range(7):
        reset()
        start = time.perf_counter()
        for _ in range(n):
            call()
        samples.append((time.perf_counter() - start) / n)
    return 1e6 * float(np.median(samples))


def measure(case, dtype, solver, n_threads):
    """(rows-and-gradient us, finish-and-update us) per batch."""
    X, y = make_data(case, dtype)
    if case.task == "multiclass":
        Y = np.eye(case.layers[-1], dtype=dtype)[y]
    else:  # binary labels 0/1 or regression targets: one output column
        Y = y.reshape(-1, 1).astype(dtype)
    layout, n_params, _ = build_layout(case.layers)
    theta = init_theta(
        layout, n_params, [6.0] * layout.shape[0], np.random.RandomState(0), dtype
    )
    out_name, loss_name = OUTPUT[case.task]
    codes = (
        ACTIVATION_CODES["relu"],
        ACTIVATION_CODES[out_name],
        LOSS_CODES[loss_name],
    )
    network = make_network(theta, layout, codes, 1e-4)
    sw = np.empty(0, dtype)
    m = case.batch_size
    rows = np.random.default_rng(0).permutation(len(X))[:m]
    state = OptimizerState.create(solver, 1e-3, n_params, dtype)
    optimizer = state.kernel_form(0.9, True, 0.9, 0.999, 1e-8)
    with threads(n_threads):
        threaded = use_threads(m, layout, update_is_costly(solver, n_params))
        plan = make_plan(dense_source(X), Y, sw, network, m, threaded, optimizer)
        with compute_threads(threaded):
            n_blocks = wave_partials(plan, rows)[2]
            rows_us = _median_microseconds(lambda: wave_partials(plan, rows))
            arrays = (theta, optimizer.first, optimizer.second, optimizer.step_counter)
            start_state = [x.copy() for x in arrays]

            def reset():
                for current, initial in zip(arrays, start_state, strict=True):
                    current[...] = initial

            step_us = _median_microseconds(
                lambda: for_each_chunk(
                    FINISH_AND_STEP,
                    n_blocks,
                    dtype.type(m),
                    network,
                    plan.work,
                    optimizer,
                    threaded,
                ),
                reset,
            )
    return rows_us, step_us


def main():
    import fastbp

    fastbp.warmup()  # every kernel compiled together (see fastbp/_warmup.py)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--solvers", default="sgd,adam")
    parser.add_argument("--dtypes", default="float64,float32")
    args = parser.parse_args()
    names = args.cases.split(",") if args.cases else [c.name for c in CASES]
    print(
        "| case | solver | dtype | threads | rows + gradient (us) | finish + update (us) |"
    )
    print("|---|---|---|---:|---:|---:|")
    for case in CASES:
        if case.name not in names:
            continue
        for solver in args.solvers.split(","):
            for dtype_name in args.dtypes.split(","):
                for n_threads in (1, 2):
                    rows_us, step_us = measure(
                        case, np.dtype(dtype_name), solver, n_threads
                    )
                    print(
                        f"| {case.name} | {solver} | {dtype_name} | {n_threads} "
                        f"| {rows_us:.1f} | {step_us:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
