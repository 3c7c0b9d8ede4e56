"""fastbp benchmark suite: the single entry point.

    python bench/run.py            # full suite (< 20 min on 2 cores)
    python bench/run.py --quick    # smoke run (~2 min): float64 only, short runs

Writes bench/results/{results.md, results.json, speedup.png}
(``--quick``: bench/results/quick/).  See bench/README.md for the method.
Benchmarks never assert: a missed goal is reported, not raised.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

START = time.perf_counter()


def progress(message):
    elapsed = time.perf_counter() - START
    print(f"[{int(elapsed // 60):02d}:{elapsed % 60:04.1f}] {message}", flush=True)


SETTINGS = {
    "full": dict(
        dtypes=("float64", "float32"),
        rounds=5,
        min_rounds=3,
        throughput_budget_seconds=660,
        target_seconds=0.5,
        sample_scale=1.0,
        compile_dtypes=("float64", "float32"),
        gemm_n=2048,
        gemm_repeats=3,
        predict_seconds=0.25,
        grid_epochs=50,
        grid_repeats=3,
    ),
    "quick": dict(
        dtypes=("float64",),
        rounds=2,
        min_rounds=2,
        throughput_budget_seconds=None,
        target_seconds=0.12,
        sample_scale=0.25,
        compile_dtypes=("float64",),
        gemm_n=1024,
        gemm_repeats=2,
        predict_seconds=0.04,
        grid_epochs=10,
        grid_repeats=1,
    ),
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short smoke run (~2 min)")
    p.add_argument("--out", help="output directory (default bench/results[/quick])")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--cases", help="comma-separated subset of case names")
    p.add_argument("--rounds", type=int, help="A/B rounds per configuration")
    p.add_argument(
        "--skip-compile",
        action="store_true",
        help="skip the cold/warm compile subprocesses (development)",
    )
    p.add_argument(
        "--from-json",
        metavar="PATH",
        help="measure nothing: re-derive the goals and rewrite "
        "results.md and speedup.png (and results.json) from a saved "
        "results.json",
    )
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    settings = dict(SETTINGS[mode])
    if args.rounds:
        settings["rounds"] = args.rounds
        settings["min_rounds"] = min(settings["min_rounds"], args.rounds)
    out_dir = args.out or os.path.join(
        HERE, "results", *(["quick"] if args.quick else [])
    )
    os.makedirs(out_dir, exist_ok=True)
    if args.from_json:
        return rerender(args.from_json, out_dir)
    if args.no_torch:
        # Read by _runners at import: the torch column then says n/a.  (Hiding
        # the module with sys.modules["torch"] = None breaks SciPy's array-API
        # checks, which look torch up in sys.modules.)
        os.environ["FASTBP_BENCH_NO_TORCH"] = "1"

    import _compile
    import bench_launch
    from _cases import CASES

    cases = CASES
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = tuple(c for c in CASES if c.name in wanted)
    progress(
        f"fastbp benchmark suite, {mode} mode: {len(cases)} cases, "
        f"dtypes {settings['dtypes']}, {settings['rounds']} A/B rounds, "
        f"~{settings['target_seconds']} s per timed fit -> {out_dir}"
    )

    results = {"mode": mode, "settings": settings}
    # 1. Fresh-process measurements first, while this process is still idle.
    if args.skip_compile:
        results["compile"] = None
    else:
        results["compile"] = _compile.measure_compile(
            settings["compile_dtypes"], progress
        )
    results["launch"] = bench_launch.measure_all(quick=args.quick, progress=progress)

    # 2. This process: warm up, then the environment record.
    import numba
    from _extras import environment, gemm_peak, grid_search, predict_latency
    from _runners import torch
    from _throughput import measure_throughput

    import fastbp

    start = time.perf_counter()
    fastbp.warmup()
    results["warmup_in_process_s"] = time.perf_counter() - start
    progress(f"fastbp.warmup() in this process: {results['warmup_in_process_s']:.2f} s")
    results["environment"] = environment()
    env = results["environment"]
    progress(
        f"numba {env['numba']} ({env['numba_threading_layer']} layer, "
        f"{env['numba_num_threads']} threads), sklearn {env['sklearn']}, "
        f"torch {env['torch']}, CPU {env['cpu_model']}"
    )
    thread_counts = sorted({1, numba.config.NUMBA_NUM_THREADS})
    results["thread_counts"] = thread_counts

    # 3. GEMM peak (again at the end: the higher of the two is the peak).
    gemm_start = gemm_peak(
        settings["gemm_n"], settings["gemm_repeats"], thread_counts, progress
    )

    # 4. Training throughput.
    results["throughput"] = measure_throughput(
        cases,
        settings["dtypes"],
        thread_counts,
        settings["rounds"],
        settings["target_seconds"],
        progress,
        with_torch=torch is not None,
        sample_scale=settings["sample_scale"],
        min_rounds=settings["min_rounds"],
        budget_seconds=settings["throughput_budget_seconds"],
    )

    # 5. Predict latency, GridSearchCV.
    from _cases import make_data

    results["predict"] = predict_latency(
        cases, make_data, max(thread_counts), settings["predict_seconds"], progress
    )
    results["grid_search"] = grid_search(
        settings["grid_epochs"], settings["grid_repeats"], max(thread_counts), progress
    )

    gemm_end = gemm_peak(
        settings["gemm_n"], settings["gemm_repeats"], thread_counts, progress
    )
    results["gemm"] = merge_gemm(gemm_start, gemm_end)
    results["environment"]["loadavg_end"] = list(os.getloadavg())
    results["total_seconds"] = time.perf_counter() - START
    results["finished_at"] = time.strftime("%Y-%m-%d %H:%M")

    # 6. Derived numbers and outputs.
    from _report import derive, write_outputs

    derive(results)
    paths = write_outputs(results, out_dir, progress)
    progress(
        f"done in {results['total_seconds'] / 60:.1f} min; wrote "
        + ", ".join(os.path.relpath(p) for p in paths)
    )
    return 0


def rerender(json_path, out_dir):
    from _report import derive, write_outputs

    with open(json_path) as fh:
        results = json.load(fh)
    derive(results)
    paths = write_outputs(results, out_dir, progress)
    progress("re-rendered " + ", ".join(os.path.relpath(p) for p in paths))
    return 0


def merge_gemm(first, second):
    peak = {}
    for dtype, per_threads in first["peak"].items():
        peak[dtype] = {}
        for n_threads, r in per_threads.items():
            r2 = second["peak"][dtype][n_threads]
            peak[dtype][n_threads] = {
                "gflops": max(r["gflops"], r2["gflops"]),
                "runs_start": r["runs"],
                "runs_end": r2["runs"],
            }
    return {"n": first["n"], "repeats": first["repeats"], "peak": peak}


if __name__ == "__main__":
    sys.exit(main())
