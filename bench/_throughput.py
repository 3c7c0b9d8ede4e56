"""Training throughput: fastbp vs scikit-learn (vs PyTorch), interleaved.

For each case and dtype, every configuration (solver x threads x library) is
first calibrated: a pilot fit picks the fixed number of epochs that makes one
timed fit last about ``target_seconds`` (so fast and slow libraries are timed
over similar wall times, each over whole epochs).  Then ``rounds`` rounds run
every configuration once; odd rounds run them in reverse order, so each A/B
pair alternates A-B, B-A, ... and slow drifts of the machine hit both sides
alike.  Ratios are *paired*: fastbp / scikit-learn within the same round.

Throughput = n_samples * epochs / wall time of the whole fit.

Before each multi-threaded timed fit the process sleeps ``SETTLE_SECONDS``:
OpenBLAS worker threads keep spinning for ~0.1 s after a multi-threaded call
(and OpenMP workers after a parallel region), so without the pause a fit that
follows scikit-learn's or PyTorch's two-thread fit shares its second core with
their idle spinners (measured: fastbp 2 threads 100k instead of 160k samples/s
on medium-b200 right after a scikit-learn fit).
"""

import itertools
import time

import numpy as np
from _cases import make_data
from _runners import calibrate_epochs, run_one, stats, threads, torch_tensors

SETTLE_SECONDS = 0.2


def measure_throughput(
    cases,
    dtypes,
    thread_counts,
    rounds,
    target_seconds,
    progress,
    with_torch,
    sample_scale=1.0,
    min_rounds=None,
    budget_seconds=None,
):
    """Every configuration of every (case, dtype) group, ``rounds`` rounds.

    Safety valve for a loaded machine (a two-thread BLAS or OpenMP fit can
    run 10-50x slower while another process holds the other core): when
    ``budget_seconds`` is given, each group gets an equal share of what is
    left of it, and a group stops after ``min_rounds`` rounds once the next
    round would overrun its share.  The rounds actually run are recorded.
    """
    if min_rounds is None:
        min_rounds = rounds
    stage_start = time.perf_counter()
    libraries = ("fastbp", "sklearn", "torch") if with_torch else ("fastbp", "sklearn")
    solvers = ("sgd", "adam")
    configs = []
    total_groups = len(cases) * len(dtypes)
    group_times = []
    for g, (case, dtype_name) in enumerate(itertools.product(cases, dtypes)):
        group_start = time.perf_counter()
        dtype = np.dtype(dtype_name)
        n_samples = max(500, int(case.n_samples * sample_scale))
        X, y = make_data(case, dtype, n_samples)
        torch_data = torch_tensors(case, X, y) if with_torch else None
        keys = [
            (solver, n_threads, lib)
            for solver in solvers
            for n_threads in thread_counts
            for lib in libraries
        ]
        epochs = {}
        for key in keys:
            solver, n_threads, lib = key
            with threads(n_threads):
                epochs[key] = calibrate_epochs(
                    lib, case, solver, X, y, target_seconds, torch_data
                )
        calibration_seconds = time.perf_counter() - group_start
        progress(
            f"[{g + 1}/{total_groups}] {case.name} ({case.shape_text}, batch "
            f"{case.batch_size}, {n_samples:,} rows) {dtype_name}: calibrated epochs "
            + ", ".join(f"{s}/{t}T/{lib}={epochs[(s, t, lib)]}" for s, t, lib in keys)
        )
        seconds = {key: [] for key in keys}
        share = None
        if budget_seconds is not None:
            left = budget_seconds - (time.perf_counter() - stage_start)
            share = max(0.0, left) / (total_groups - g) + (
                time.perf_counter() - group_start
            )
        for r in range(rounds):
            elapsed = time.perf_counter() - group_start
            if share is not None and r >= min_rounds:
                per_round = (elapsed - calibration_seconds) / r
                if elapsed + per_round > share:
                    progress(f"    time budget: stopping after {r} rounds")
                    break
            order = keys if r % 2 == 0 else keys[::-1]
            for key in order:
                solver, n_threads, lib = key
                if n_threads > 1:
                    time.sleep(SETTLE_SECONDS)
                with threads(n_threads):
                    seconds[key].append(
                        run_one(lib, case, solver, X, y, epochs[key], torch_data)
                    )
        for solver, n_threads in itertools.product(solvers, thread_counts):
            cfg = {
                "case": case.name,
                "layers": case.shape_text,
                "batch_size": case.batch_size,
                "task": case.task,
                "dtype": dtype_name,
                "solver": solver,
                "threads": n_threads,
                "n_samples": n_samples,
                "flops_per_sample": case.flops_per_sample,
                "goal": case.goal,
                "rounds": len(seconds[keys[0]]),
                "libs": {},
            }
            for lib in libraries:
                key = (solver, n_threads, lib)
                tput = [n_samples * epochs[key] / s for s in seconds[key]]
                cfg["libs"][lib] = {
                    "epochs": epochs[key],
                    "seconds": seconds[key],
                    **stats(tput),  # runs: samples/s per round
                }
            fb = np.array(cfg["libs"]["fastbp"]["runs"])
            for other in libraries[1:]:
                cfg[f"speedup_vs_{other}"] = stats(fb / cfg["libs"][other]["runs"])
            configs.append(cfg)
            vs = cfg["speedup_vs_sklearn"]
            progress(
                f"    {case.name} {dtype_name} {solver} {n_threads}T: fastbp "
                f"{cfg['libs']['fastbp']['median']:,.0f}/s, sklearn "
                f"{cfg['libs']['sklearn']['median']:,.0f}/s"
                + (
                    f", torch {cfg['libs']['torch']['median']:,.0f}/s"
                    if with_torch
                    else ""
                )
                + f" -> {vs['median']:.2f}x [{vs['min']:.2f}-{vs['max']:.2f}] "
                f"(goal {case.goal}x)"
            )
        group_times.append(time.perf_counter() - group_start)
        remaining = total_groups - g - 1
        if remaining:
            progress(
                f"    throughput: about {np.mean(group_times) * remaining / 60:.1f}"
                " min left for this stage"
            )
    return {
        "libraries": list(libraries),
        "rounds": rounds,
        "min_rounds": min_rounds,
        "budget_seconds": budget_seconds,
        "target_seconds": target_seconds,
        "configs": configs,
    }
