"""fastbp benchmark suite: the single entry point.

    python bench/run.py            # full suite
    python bench/run.py --quick    # smoke run: float64 only, short runs

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

from _settings import SETTINGS, START, progress


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short smoke run")
    p.add_argument("--out", help="output directory (default bench/results[/quick])")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    p.add_argument("--cases", help="comma-separated subset of case names")
    p.add_argument("--rounds", type=int, help="A/B rounds per configuration")
    p.add_argument(
        "--skip-compile",
        action="store_true",
        help="skip the fresh-process compile and import measurements (development)",
    )
    p.add_argument(
        "--from-json",
        metavar="PATH",
        help="measure nothing: re-derive the goals and rewrite the outputs from a "
        "saved results.json",
    )
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    mode = "quick" if args.quick else "full"
    settings = {name: values[args.quick] for name, values in SETTINGS.items()}
    if args.rounds:
        settings["rounds"] = args.rounds
        settings["min_rounds"] = min(settings["min_rounds"], args.rounds)
    out_dir = args.out or os.path.join(HERE, "results", *(["quick"] * args.quick))
    os.makedirs(out_dir, exist_ok=True)
    from _report import FORMAT, derive, print_goals, write_outputs

    if args.from_json:
        with open(args.from_json) as fh:
            results = json.load(fh)
        derive(results)
        paths = write_outputs(results, out_dir, progress)
        progress("re-rendered " + ", ".join(os.path.relpath(p) for p in paths))
        return 0
    if args.no_torch:
        # Read by _runners at import: the torch column then says n/a.  (Hiding
        # the module with sys.modules["torch"] = None breaks SciPy's array-API
        # checks, which look torch up in sys.modules.)
        os.environ["FASTBP_BENCH_NO_TORCH"] = "1"

    import _compile
    import bench_launch
    from _cases import CASES

    wanted = args.cases.split(",") if args.cases else [c.name for c in CASES]
    cases = tuple(c for c in CASES if c.name in wanted)
    progress(
        f"fastbp benchmark suite, {mode} mode: {len(cases)} cases, "
        f"dtypes {settings['dtypes']}, {settings['rounds']} A/B rounds, "
        f"~{settings['target_seconds']} s per timed fit -> {out_dir}"
    )
    command = " ".join(
        ["python bench/run.py", *(sys.argv[1:] if argv is None else argv)]
    )
    results = {"mode": mode, "command": command, "settings": settings, "format": FORMAT}
    # 1. Fresh-process measurements first, while this process is still idle.
    if not args.skip_compile:
        results["compile"] = _compile.measure_compile(
            progress, settings["import_pairs"]
        )
    results["launch"] = bench_launch.measure_all(quick=args.quick, progress=progress)

    # 2. This process: warm up (this also fills fastbp's own kernel cache, which
    # the GridSearchCV processes load), then the environment record.
    import numba
    from _extras import environment, gemm_peak, measure_grid, measure_latency
    from _runners import timed, torch
    from _search import measure_search
    from _throughput import measure_throughput
    from _whole_fit import measure_whole_fit, measure_xor

    import fastbp

    results["warmup_in_process_s"], _ = timed(fastbp.warmup)
    progress(f"fastbp.warmup() in this process: {results['warmup_in_process_s']:.2f} s")
    results["environment"] = env = environment()
    progress(
        f"numba {env['numba']} ({env['numba_threading_layer']} layer, "
        f"{env['numba_num_threads']} threads), sklearn {env['sklearn']}, "
        f"torch {env['torch']}, CPU {env['cpu_model']}"
    )
    results["thread_counts"] = counts = sorted({1, numba.config.NUMBA_NUM_THREADS})

    # 3. GEMM peak, again at the end: the higher of the two is the peak.
    gemm = [gemm_peak(settings["gemm_n"], settings["gemm_repeats"], counts, progress)]

    # 4. Training throughput, whole fits, XOR, single calls, GridSearchCV, the
    # fused CV search.
    if cases:
        results["throughput"] = measure_throughput(
            cases, counts, settings, progress, with_torch=torch is not None
        )
        repeats = settings["whole_fit_repeats"]
        results["whole_fit"] = measure_whole_fit(cases, repeats, progress)
    results["xor"] = measure_xor(range(settings["xor_seeds"]), progress)
    if cases:
        seconds = settings["latency_seconds"]
        results["latency"] = measure_latency(cases, max(counts), seconds, progress)
    results["grid_search"] = measure_grid(settings["grid_processes"], progress)
    results["search"] = measure_search(settings, progress)
    gemm += [gemm_peak(settings["gemm_n"], settings["gemm_repeats"], counts, progress)]
    for dtype, per_threads in gemm[0]["peak"].items():
        for n, peak in per_threads.items():
            peak["runs"] += gemm[1]["peak"][dtype][n]["runs"]
            peak["gflops"] = max(peak["runs"])
    results["gemm"] = gemm[0]
    env["loadavg_end"] = list(os.getloadavg())
    results["total_seconds"] = time.perf_counter() - START
    results["finished_at"] = time.strftime("%Y-%m-%d %H:%M")

    # 5. Derived numbers and outputs (the raw measurements are saved first, so
    # that a reporting error never loses a run: rerun with --from-json).
    with open(os.path.join(out_dir, "results.json"), "w") as fh:
        json.dump(results, fh, default=float)
    derive(results)
    paths = write_outputs(results, out_dir, progress)
    print_goals(results, progress)
    progress(
        f"done in {results['total_seconds'] / 60:.1f} min; wrote "
        + ", ".join(os.path.relpath(p) for p in paths)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
