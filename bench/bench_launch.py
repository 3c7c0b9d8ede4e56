"""Launch overhead of an empty Numba ``prange`` region, per threading layer.

fastbp/_config.py's ``MIN_PARALLEL_WORK`` / ``WORKQUEUE_MIN_PARALLEL_WORK``
are set from these numbers: a parallel launch must cost much less than the
work it splits.  Each layer (tbb, omp, workqueue) runs in its own process with
``NUMBA_THREADING_LAYER`` set, since a process can only load one layer.

The kernel writes one element per iteration (an empty body could be removed
by the optimiser); its serial twin is timed too, so ``launch_us`` is the
parallel call minus the serial call.

    python bench/bench_launch.py            # prints a table
    python bench/bench_launch.py --quick    # fewer calls
"""

import json
import os
import subprocess
import sys
import time

LAYERS = ("tbb", "omp", "workqueue")


def _child(calls):
    import numba
    import numpy as np
    from numba import njit, prange

    # fastbp loads a pip-installed TBB only when it chooses the layer itself;
    # with NUMBA_THREADING_LAYER set it does not, so load it here.
    from fastbp._config import _load_pip_tbb

    _load_pip_tbb()

    @njit(parallel=True)
    def touch_parallel(out):
        for i in prange(out.shape[0]):
            out[i] = i

    @njit
    def touch_serial(out):
        for i in range(out.shape[0]):
            out[i] = i

    def per_call_us(fn, out):
        fn(out)
        best = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(calls):
                fn(out)
            best.append((time.perf_counter() - start) / calls * 1e6)
        return float(np.median(best)), float(min(best))

    result = {"layer": os.environ.get("NUMBA_THREADING_LAYER"), "calls": calls}
    n_max = numba.config.NUMBA_NUM_THREADS
    touch_parallel(np.empty(n_max))
    result["loaded_layer"] = numba.threading_layer()
    serial, _ = per_call_us(touch_serial, np.empty(n_max))
    result["serial_call_us"] = serial
    for n_threads in sorted({1, n_max}):
        numba.set_num_threads(n_threads)
        out = np.empty(n_max)
        median, best = per_call_us(touch_parallel, out)
        result[f"threads_{n_threads}"] = {
            "parallel_call_us": median,
            "parallel_call_min_us": best,
            "launch_us": median - serial,
        }
    print(json.dumps(result))


def measure_layer(layer, calls):
    env = dict(os.environ, NUMBA_THREADING_LAYER=layer)
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", str(calls)],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return {"layer": layer, "error": lines[-1] if lines else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_all(quick=False, progress=print):
    calls = 300 if quick else 2000
    results = []
    for layer in LAYERS:
        r = measure_layer(layer, calls)
        results.append(r)
        progress(f"launch: {format_row(r)}")
    return results


def format_row(r):
    if "error" in r:
        return f"{r['layer']}: unavailable ({r['error']})"
    parts = [f"{r['layer']}: serial call {r['serial_call_us']:.2f} us"]
    parts.extend(
        f"{key.split('_')[1]} thread(s): launch {r[key]['launch_us']:.2f} us"
        for key in sorted(k for k in r if k.startswith("threads_"))
    )
    return ", ".join(parts)


def markdown(results):
    lines = [
        (
            "| layer | serial call (us) | threads | parallel call (us, median) "
            "| launch overhead (us) |"
        ),
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['layer']} | unavailable: {r['error']} | | | |")
            continue
        for key in sorted(k for k in r if k.startswith("threads_")):
            t = r[key]
            lines.append(
                f"| {r['layer']} | {r['serial_call_us']:.2f} | {key.split('_')[1]} "
                f"| {t['parallel_call_us']:.2f} | {t['launch_us']:.2f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
    else:
        print(markdown(measure_all(quick="--quick" in sys.argv)))
