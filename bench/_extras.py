"""Everything besides training throughput and whole fits: GEMM peak, predict
and partial_fit latency, GridSearchCV in fresh processes, the environment.

    python bench/_extras.py --grid-child fastbp|sklearn   # one GridSearchCV child
"""

import glob
import hashlib
import json
import os
import platform
import subprocess
import sys
from functools import partial

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GRID_RATES = (1e-3, 3e-3, 1e-2)
GRID_CALLS = (("first", 2), ("second", 2), ("n_jobs_1", 1))  # (name, n_jobs)
ENV_PREFIXES = ("OPENBLAS", "OMP_", "MKL_", "NUMBA_", "FASTBP_")


# ------------------------------------------------------------------ GEMM peak
def gemm_peak(n, repeats, thread_counts, progress):
    """Best observed flop rate of numpy's matmul of two n x n matrices:
    {"n", "repeats", "peak": {dtype: {threads: {"gflops", "runs"}}}}.  The
    best run is the peak (a slower run only means interference)."""
    from _runners import timed
    from threadpoolctl import threadpool_limits

    rng = np.random.RandomState(0)
    peak = {}
    for dtype in ("float64", "float32"):
        A, B = rng.standard_normal((2, n, n)).astype(dtype)
        C = np.empty((n, n), dtype=dtype)
        peak[dtype] = {}
        for n_threads in thread_counts:
            with threadpool_limits(limits=n_threads, user_api="blas"):
                np.matmul(A, B, out=C)  # warm the BLAS threads
                runs = [
                    2.0 * n**3 / timed(np.matmul, A, B, out=C)[0] / 1e9
                    for _ in range(repeats)
                ]
            peak[dtype][n_threads] = {"gflops": max(runs), "runs": runs}
            progress(f"GEMM {dtype} {n}x{n}, {n_threads}T: {max(runs):.1f} GFLOP/s")
    return {"n": n, "repeats": repeats, "peak": peak}


# ------------------------------------------------------------------- latency
def measure_latency(cases, n_threads, min_seconds, progress):
    """predict() on 1 row and on 10,000 rows and partial_fit() on
    PARTIAL_FIT_ROWS rows (one online-learning step, adam), float64, per
    distinct network; models fitted for one epoch on 2,000 rows first."""
    from _cases import PARTIAL_FIT_ROWS, make_data
    from _runners import (
        estimator_class,
        estimator_params,
        fit_model,
        fit_torch,
        threads,
        time_calls,
        torch,
    )

    out, seen = [], set()
    for case in cases:
        if case.layers in seen:  # medium-b32 has medium-b200's network
            continue
        seen.add(case.layers)
        X10k, y10k = make_data(case, np.float64, 10_000)
        X, y, X1 = X10k[:2_000], y10k[:2_000], X10k[:1].copy()
        Xs, ys = X[:PARTIAL_FIT_ROWS], y[:PARTIAL_FIT_ROWS]
        row = {"case": case.name, "layers": case.shape_text, "threads": n_threads}
        # batch "auto" = min(200, rows): partial_fit's 32 rows are one batch (as
        # with the case's own batch >= 32) and raise no batch-clipping warning.
        params = {**estimator_params(case, "adam", 1), "batch_size": "auto"}
        calls = {"1": ("predict", X1), "10000": ("predict", X10k)}
        calls["partial_fit"] = ("partial_fit", Xs, ys)
        with threads(n_threads):
            for lib in ("fastbp", "sklearn"):
                m = fit_model(estimator_class(lib, case.task)(**params), X, y)[1]
                row[lib] = {
                    key: time_calls(partial(getattr(m, name), *args), min_seconds)
                    for key, (name, *args) in calls.items()
                }
            if torch is not None:
                model = fit_torch(case, "adam", X, y, 1)[1].eval()
                predict = partial(_torch_predict, model, case.task)
                row["torch"] = {
                    key: time_calls(partial(predict, torch.from_numpy(x)), min_seconds)
                    for key, x in (("1", X1), ("10000", X10k))
                }
        out.append(row)
        f, s = row["fastbp"], row["sklearn"]
        progress(
            f"latency {case.name}: predict 1 row {f['1']['median'] * 1e6:.0f} vs "
            f"{s['1']['median'] * 1e6:.0f} us, partial_fit "
            f"{f['partial_fit']['median'] * 1e6:.0f} vs "
            f"{s['partial_fit']['median'] * 1e6:.0f} us (fastbp vs sklearn)"
        )
    return out


def _torch_predict(model, task, t):
    """What predict() returns, from PyTorch: labels or values."""
    from _runners import torch

    with torch.no_grad():
        z = model(t)
    if task == "multiclass":
        return z.argmax(dim=1).numpy()
    return (z[:, 0] > 0 if task == "binary" else z[:, 0]).numpy()


# --------------------------------------------------------------- GridSearchCV
def _grid_child(library):
    """One fresh process: three GridSearchCV(...).fit calls, timed."""
    import time

    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    if library == "fastbp":
        from fastbp import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    out = {}
    for name, n_jobs in GRID_CALLS:
        search = GridSearchCV(
            MLPClassifier(hidden_layer_sizes=(64,), max_iter=100, random_state=0),
            {"learning_rate_init": list(GRID_RATES)},
            cv=3,
            n_jobs=n_jobs,
        )
        start = time.perf_counter()
        search.fit(X, y)
        out[name] = time.perf_counter() - start
    out["best_learning_rate_init"] = search.best_params_["learning_rate_init"]
    out["best_cv_accuracy"] = float(search.best_score_)
    print(json.dumps(out))


def measure_grid(repeats, progress):
    """``repeats`` pairs of fresh processes (fastbp, scikit-learn; the order
    alternates), each timing GRID_CALLS; fastbp's kernel cache is warm."""
    # The premise "kernel cache warm", checked: fastbp.warmup() in a fresh process
    # (it recompiles what fastbp's sources changed since the cache was written).
    code = "import fastbp; print(fastbp.warmup())"
    cmd = [sys.executable, "-c", code]
    check = subprocess.run(cmd, capture_output=True, text=True, check=False)
    warmup_s = float(check.stdout.split()[-1]) if check.returncode == 0 else None
    took = "failed" if warmup_s is None else f"{warmup_s:.2f} s"
    progress(f"GridSearchCV: fastbp.warmup() in a fresh process first: {took}")
    runs = {"fastbp": [], "sklearn": []}
    for r in range(repeats):
        for lib in ("fastbp", "sklearn") if r % 2 == 0 else ("sklearn", "fastbp"):
            proc = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--grid-child", lib],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if proc.returncode != 0:
                return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
            runs[lib].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            progress(
                f"GridSearchCV {lib} (fresh process {r + 1}/{repeats}): "
                + ", ".join(f"{n} {runs[lib][-1][n]:.2f} s" for n, _ in GRID_CALLS)
            )
    return {
        "dataset": "digits (1797 x 64, X / 16)",
        "estimator": "MLPClassifier(hidden_layer_sizes=(64,), max_iter=100, "
        "random_state=0)",
        "learning_rates": list(GRID_RATES),
        "cv": 3,
        "calls": [{"name": n, "n_jobs": j} for n, j in GRID_CALLS],
        "runs": runs,
        "warmup_before_s": warmup_s,
    }


# ---------------------------------------------------------------- environment
def _git(*args):
    try:
        return subprocess.run(
            ["git", "-C", os.path.dirname(HERE), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def source_fingerprint(package_dir):
    """The fastbp sources benchmarked: HEAD, sha256 of every .py file under the
    package, and the files that differ from HEAD (the working tree may)."""
    digest = hashlib.sha256()
    pattern = os.path.join(package_dir, "**", "*.py")
    for path in sorted(glob.glob(pattern, recursive=True)):
        digest.update(os.path.relpath(path, package_dir).encode())
        with open(path, "rb") as fh:
            digest.update(fh.read())
    status = _git("status", "--porcelain", "--", package_dir)
    return {
        "commit": (_git("rev-parse", "--short", "HEAD") or "unknown").strip(),
        "sources_sha256": digest.hexdigest()[:16],
        # None: git failed; "": a clean tree (no file differs from HEAD).
        "uncommitted": [
            ln[3:] for ln in ("?  unknown" if status is None else status).splitlines()
        ],
    }


def _cpuinfo(key):
    try:
        with open("/proc/cpuinfo") as fh:
            return next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith(key))
    except (OSError, StopIteration):
        return ""


# OpenBLAS core types whose kernels use AVX-512 (DYNAMIC_ARCH builds pick one
# at load time; OPENBLAS_CORETYPE overrides the pick).
AVX512_OPENBLAS_CORES = ("skylakex", "cooperlake", "sapphirerapids")


def blas_kernels_below_cpu(threadpool_info, cpu_flags):
    """The OpenBLAS libraries (``threadpool_info`` entries) that run kernels
    without AVX-512 on a CPU that has it (``avx512f`` in ``cpu_flags``): the
    OpenBLAS bundled with NumPy 2.4 (0.3.31) and SciPy 1.17 (0.3.30) takes
    AMD Zen 5 for a Haswell (OpenBLAS issue #6029), so its GEMMs run at half
    the machine's vector width."""
    if "avx512f" not in cpu_flags:
        return []
    return [
        f"{os.path.basename(p['filepath'])}: {p.get('architecture')}"
        for p in threadpool_info
        if p.get("internal_api") == "openblas"
        and str(p.get("architecture", "")).lower() not in AVX512_OPENBLAS_CORES
    ]


def environment():
    import numba
    import threadpoolctl
    from _runners import torch

    import fastbp

    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "none yet"
    modules = ("numpy", "scipy", "numba", "llvmlite", "sklearn", "threadpoolctl")
    flags = _cpuinfo("flags").split()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **{name: __import__(name).__version__ for name in modules},
        "fastbp": fastbp.__version__,
        "fastbp_source": source_fingerprint(os.path.dirname(fastbp.__file__)),
        "torch": torch.__version__ if torch is not None else "n/a",
        "numba_threading_layer": layer,
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpuinfo("model name") or platform.processor() or "unknown",
        "cpu_simd_flags": sorted(f for f in flags if f.startswith(("avx", "fma"))),
        "env": {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)},
        "threadpool_info": threadpoolctl.threadpool_info(),
        "blas_kernels_below_cpu": blas_kernels_below_cpu(
            threadpoolctl.threadpool_info(), flags
        ),
        "loadavg": list(os.getloadavg()),
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--grid-child":
        _grid_child(sys.argv[2])
