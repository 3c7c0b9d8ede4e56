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
their idle spinners.

Safety valve for a loaded machine (a two-thread BLAS or OpenMP fit can run
10-50x slower while another process holds the other core): with a
``throughput_budget_seconds``, each (case, dtype) group gets an equal share of
what is left of it, and stops after ``min_rounds`` rounds once the next round
would overrun its share.  The rounds actually run are recorded.
"""

import itertools
import time

import numpy as np
from _cases import make_data
from _runners import calibrate_epochs, run_one, stats, threads, torch_tensors

SETTLE_SECONDS = 0.2
SOLVERS = ("sgd", "adam")


def measure_throughput(cases, thread_counts, settings, progress, with_torch):
    """Every configuration of every (case, dtype) group; ``settings``: run.py's."""
    budget, rounds = settings["throughput_budget_seconds"], settings["rounds"]
    target, min_rounds = settings["target_seconds"], settings["min_rounds"]
    libraries = ("fastbp", "sklearn", "torch")[: 3 if with_torch else 2]
    groups = list(itertools.product(cases, settings["dtypes"]))
    stage_start, configs = time.perf_counter(), []
    for g, (case, dtype) in enumerate(groups):
        n_samples = max(500, int(case.n_samples * settings["sample_scale"]))
        X, y = make_data(case, np.dtype(dtype), n_samples)
        torch_data = torch_tensors(case, X, y) if with_torch else None
        keys = list(itertools.product(SOLVERS, thread_counts, libraries))
        epochs = {}
        for solver, n_threads, lib in keys:
            with threads(n_threads):
                epochs[(solver, n_threads, lib)] = calibrate_epochs(
                    lib, case, solver, X, y, target, torch_data
                )
        calibrated = time.perf_counter()
        progress(
            f"[{g + 1}/{len(groups)}] {case.name} ({case.shape_text}, batch "
            f"{case.batch_size}, {n_samples:,} rows) {dtype}: calibrated epochs "
            + ", ".join(f"{s}/{t}T/{lib}={epochs[(s, t, lib)]}" for s, t, lib in keys)
        )
        if budget is not None:  # this group's share of what is left
            left = budget - (calibrated - stage_start)
            deadline = calibrated + max(0.0, left) / (len(groups) - g)
        seconds = {key: [] for key in keys}
        for r in range(rounds):
            now = time.perf_counter()
            late = (
                budget is not None and now + (now - calibrated) / max(r, 1) > deadline
            )
            if late and r >= min_rounds:
                progress(f"    time budget: stopping after {r} rounds")
                break
            for key in keys if r % 2 == 0 else keys[::-1]:
                solver, n_threads, lib = key
                if n_threads > 1:
                    time.sleep(SETTLE_SECONDS)
                with threads(n_threads):
                    t = run_one(lib, case, solver, X, y, epochs[key], torch_data)
                seconds[key].append(t)
        for solver, n_threads in itertools.product(SOLVERS, thread_counts):
            cfg = {
                "case": case.name,
                "layers": case.shape_text,
                "batch_size": case.batch_size,
                "dtype": dtype,
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
                tput = [n_samples * epochs[key] / t for t in seconds[key]]
                # runs: samples/s per round
                cfg["libs"][lib] = {"epochs": epochs[key], **stats(tput)}
            fb = np.array(cfg["libs"]["fastbp"]["runs"])
            for other in libraries[1:]:
                cfg[f"speedup_vs_{other}"] = stats(fb / cfg["libs"][other]["runs"])
            configs.append(cfg)
            rates = ", ".join(
                f"{lib} {cfg['libs'][lib]['median']:,.0f}/s" for lib in libraries
            )
            vs = cfg["speedup_vs_sklearn"]
            progress(
                f"    {case.name} {dtype} {solver} {n_threads}T: {rates} -> "
                f"{vs['median']:.2f}x [{vs['min']:.2f}-{vs['max']:.2f}] (goal "
                f"{case.goal}x)"
            )
    return {
        "libraries": list(libraries),
        "rounds": rounds,
        "min_rounds": min_rounds,
        "budget_seconds": budget,
        "target_seconds": target,
        "configs": configs,
    }
