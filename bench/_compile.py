"""Compile time, measured in fresh processes.

``cold``: a new process whose ``NUMBA_CACHE_DIR`` is an empty temporary
directory, so every kernel it needs is compiled.  ``warm``: a second new
process on the same (now filled) directory, so kernels load from disk.  Each
times, in order: ``import fastbp`` (numba included); the *first fit*, a
default ``MLPClassifier(random_state=0)`` (adam, (100,)) for 5 epochs on
digits X / 16, float64 only; the same fit again (steady state).  The cold
process then times ``fastbp.warmup(("float32",))``: the other dtype.

A listener on Numba's ``numba:compile`` event records, per compiled Python
function, the seconds inside its compilations (inclusive), the same minus the
compilations nested in them (exclusive) and the number of signatures.  It sees
compilations only: a kernel loaded from the cache raises no event.

``import fastbp`` is compared with ``import sklearn.neural_network`` in pairs
of fresh processes that only import (alternating order).

    python bench/_compile.py            # the whole measurement, as a report
    python bench/_compile.py --child cold|warm|import-fastbp|import-sklearn
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))


def _child(mode):
    t0 = time.perf_counter()
    if mode.startswith("import-"):
        __import__({"import-fastbp": "fastbp"}.get(mode, "sklearn.neural_network"))
        print(json.dumps({"import_s": time.perf_counter() - t0}))
        return
    from numba.core import event

    class CompileListener(event.Listener):
        def __init__(self):
            self.phase = "import"
            self.stack = []  # [name, start, seconds of nested compilations]
            self.kernels = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0]))

        def on_start(self, ev):
            f = ev.data["dispatcher"].py_func
            name = f"{f.__module__}.{f.__qualname__}"
            self.stack.append([name, time.perf_counter(), 0.0])

        def on_end(self, ev):
            name, start, nested = self.stack.pop()
            inclusive = time.perf_counter() - start
            if self.stack:
                self.stack[-1][2] += inclusive
            record = self.kernels[self.phase][name]
            record[0] += inclusive
            record[1] += inclusive - nested
            record[2] += 1

    listener = CompileListener()
    event.register("numba:compile", listener)
    import warnings

    import fastbp

    out = {"import_s": time.perf_counter() - t0}
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    warnings.simplefilter("ignore", ConvergenceWarning)
    for key in ("first_fit", "second_fit"):
        listener.phase = key
        start = time.perf_counter()
        fastbp.MLPClassifier(random_state=0, max_iter=5).fit(X, y)
        out[f"{key}_s"] = time.perf_counter() - start
    if mode == "cold":
        listener.phase = "other_dtype"
        start = time.perf_counter()
        fastbp.warmup(("float32",))
        out["other_dtype_s"] = time.perf_counter() - start
    out["kernels"] = {
        phase: {
            name: {"inclusive_s": r[0], "exclusive_s": r[1], "signatures": r[2]}
            for name, r in per_name.items()
        }
        for phase, per_name in listener.kernels.items()
    }
    print(json.dumps(out))


def _run_child(mode, cache_dir=None):
    env = dict(os.environ)
    env.pop("FASTBP_DISABLE_CACHE", None)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    wall = time.perf_counter() - start  # includes interpreter start-up
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["no output"]
        return {"error": lines[-1], "process_wall_s": wall}
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "process_wall_s": wall}


def measure_compile(progress, import_pairs=3):
    """Cold and warm processes, then ``import_pairs`` pairs of import-only
    processes (fastbp's sources and numba's files are then in the OS cache)."""
    with tempfile.TemporaryDirectory(prefix="fastbp-bench-cache-") as cache_dir:
        progress("compile: cold process (empty NUMBA_CACHE_DIR) ...")
        out = {"cold": _run_child("cold", cache_dir)}
        out["warm"] = _run_child("warm", cache_dir)
    for name in ("cold", "warm"):
        r = out[name]
        progress(
            f"compile: {name}: "
            + (
                f"FAILED {r['error']}"
                if "error" in r
                else f"import {r['import_s']:.2f} s, first fit {r['first_fit_s']:.2f} s"
                + (
                    f", other dtype {r['other_dtype_s']:.1f} s"
                    if name == "cold"
                    else ""
                )
                + f", {sum(map(len, r['kernels'].values()))} functions compiled"
            )
        )
    imports = {"fastbp": [], "sklearn": []}
    for i in range(import_pairs):
        for lib in ("fastbp", "sklearn") if i % 2 == 0 else ("sklearn", "fastbp"):
            imports[lib].append(
                _run_child(f"import-{lib}").get("import_s", float("nan"))
            )
    out["imports"] = imports
    progress(
        "compile: import fastbp "
        + ", ".join(f"{s:.2f}" for s in imports["fastbp"])
        + " s vs import sklearn.neural_network "
        + ", ".join(f"{s:.2f}" for s in imports["sklearn"])
        + " s"
    )
    return out


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        sys.path.insert(0, HERE)
        from _report import compile_section, goals, print_goals

        results = {"compile": measure_compile(print)}
        print(compile_section(results))
        results["goals"] = goals(results)
        print_goals(results, print)
