"""Compile time, measured in fresh processes.

``cold``: a new process whose ``NUMBA_CACHE_DIR`` is an empty temporary
directory, so every kernel is compiled.  ``warm``: a second new process on the
same (now filled) cache directory, so kernels are loaded from disk.

Each child times, in order: ``import fastbp``; the first fit of a typical
model (64-100-10, adam, float64, one epoch on 1,000 rows: this compiles or
loads what a fit needs); the same fit again (steady state, for reference);
then ``fastbp.warmup(dtypes)`` (every remaining kernel for those dtypes).

Run as ``python bench/_compile.py --child float64 float32`` to see one child's
JSON line.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _child(dtypes):
    t0 = time.perf_counter()
    import numpy as np

    import fastbp

    t_import = time.perf_counter() - t0
    rng = np.random.RandomState(0)
    X = rng.standard_normal((1000, 64))
    y = np.arange(1000) % 10
    times = []
    for _ in range(2):
        start = time.perf_counter()
        fastbp.MLPClassifier((100,), solver="adam", max_iter=1, random_state=0).fit(
            X, y
        )
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    fastbp.warmup(dtypes=dtypes)
    t_warmup = time.perf_counter() - start
    print(
        json.dumps(
            {
                "import_s": t_import,
                "first_fit_s": times[0],
                "second_fit_s": times[1],
                "warmup_rest_s": t_warmup,
                "total_s": time.perf_counter() - t0,
                "dtypes": list(dtypes),
            }
        )
    )


def _run_child(cache_dir, dtypes):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env.pop("FASTBP_DISABLE_CACHE", None)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", *dtypes],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-5:], "process_wall_s": wall}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall  # includes interpreter start-up
    return result


def measure_compile(dtypes, progress):
    """{"cold": {...}, "warm": {...}} from two fresh processes."""
    with tempfile.TemporaryDirectory(prefix="fastbp-bench-cache-") as cache_dir:
        progress(f"compile: cold process (empty NUMBA_CACHE_DIR), dtypes {dtypes} ...")
        cold = _run_child(cache_dir, dtypes)
        progress(f"compile: cold {_summary(cold)}")
        warm = _run_child(cache_dir, dtypes)
        progress(f"compile: warm {_summary(warm)}")
    return {"cold": cold, "warm": warm, "dtypes": list(dtypes)}


def _summary(r):
    if "error" in r:
        return f"FAILED: {r['error']}"
    return (
        f"import {r['import_s']:.2f} s, first fit {r['first_fit_s']:.2f} s, "
        f"warmup rest {r['warmup_rest_s']:.2f} s, process {r['process_wall_s']:.1f} s"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(tuple(sys.argv[2:]) or ("float64", "float32"))
    else:
        print(json.dumps(measure_compile(("float64", "float32"), print), indent=1))
