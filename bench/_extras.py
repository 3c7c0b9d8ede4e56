"""Everything besides training throughput: GEMM peak, predict and partial_fit
latency, GridSearchCV end to end, and the environment record."""

import os
import platform
import subprocess
import sys
import time
import warnings

import numba
import numpy as np
from _cases import PARTIAL_FIT_ROWS
from _runners import (
    NEVER_STOP,
    estimator_class,
    estimator_params,
    fit_estimator,
    fit_torch,
    threads,
    torch,
)
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info, threadpool_limits


# ------------------------------------------------------------------ GEMM peak
def gemm_peak(n, repeats, thread_counts, progress):
    """Best observed flop rate of numpy's matmul of two n x n matrices.

    Returns {dtype: {threads: {"gflops": best, "runs": [...]}}}.  The best of
    ``repeats`` runs is the peak (a slower run only means interference).
    """
    rng = np.random.RandomState(0)
    result = {}
    for dtype in ("float64", "float32"):
        A = rng.standard_normal((n, n)).astype(dtype)
        B = rng.standard_normal((n, n)).astype(dtype)
        C = np.empty((n, n), dtype=dtype)
        result[dtype] = {}
        for n_threads in thread_counts:
            runs = []
            with threadpool_limits(limits=n_threads, user_api="blas"):
                np.matmul(A, B, out=C)  # warm the BLAS threads
                for _ in range(repeats):
                    start = time.perf_counter()
                    np.matmul(A, B, out=C)
                    runs.append(2.0 * n**3 / (time.perf_counter() - start) / 1e9)
            result[dtype][n_threads] = {"gflops": max(runs), "runs": runs}
            progress(
                f"GEMM {dtype} {n}x{n}, {n_threads} thread(s): "
                f"{max(runs):.1f} GFLOP/s peak"
            )
    return {"n": n, "repeats": repeats, "peak": result}


# ------------------------------------------------------------ predict latency
def time_calls(fn, min_seconds, repeats=5):
    """Median and min seconds per call of fn(), over ``repeats`` batches of
    calls, each batch lasting about min_seconds / repeats."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    number = max(1, int(min_seconds / repeats / max(once, 1e-7)))
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        per_call.append((time.perf_counter() - start) / number)
    return {
        "median_s": float(np.median(per_call)),
        "min_s": float(min(per_call)),
        "max_s": float(max(per_call)),
        "calls_per_batch": number,
        "batches": repeats,
    }


def predict_latency(cases, make_data, n_threads, min_seconds, progress):
    """predict() on 1 row and on 10,000 rows, and partial_fit() on
    PARTIAL_FIT_ROWS rows (one online-learning step), each library, float64.

    Models are trained for one epoch on 2,000 rows first (the weights' values
    do not change the cost).  ``n_threads`` for every library, as in training.
    """
    out = []
    seen = set()
    for case in cases:
        if case.layers in seen:  # medium-b32 has medium-b200's network
            continue
        seen.add(case.layers)
        X10k, y10k = make_data(case, np.float64, 10_000)
        X, y = X10k[:2_000], y10k[:2_000]
        X1 = X10k[:1].copy()
        row = {
            "case": case.name,
            "layers": case.shape_text,
            "dtype": "float64",
            "threads": n_threads,
        }
        with threads(n_threads):
            for library in ("fastbp", "sklearn"):
                _, model = fit_estimator(library, case, "adam", X, y, 1)
                X_step, y_step = X[:PARTIAL_FIT_ROWS], y[:PARTIAL_FIT_ROWS]
                row[library] = {
                    "1": time_calls(lambda m=model, X=X1: m.predict(X), min_seconds),
                    "10000": time_calls(
                        lambda m=model, X=X10k: m.predict(X), min_seconds
                    ),
                    "partial_fit": time_calls(
                        lambda m=model, X=X_step, y=y_step: m.partial_fit(X, y),
                        min_seconds,
                    ),
                }
            if torch is not None:
                _, model = fit_torch(case, "adam", X, y, 1)
                model.eval()
                t1, t10k = torch.from_numpy(X1), torch.from_numpy(X10k)
                task = case.task

                def torch_predict(t, model=model, task=task):
                    with torch.no_grad():
                        z = model(t)
                    if task == "multiclass":
                        return z.argmax(dim=1).numpy()
                    if task == "binary":
                        return (z[:, 0] > 0).numpy()
                    return z[:, 0].numpy()

                row["torch"] = {
                    "1": time_calls(lambda t=t1: torch_predict(t), min_seconds),
                    "10000": time_calls(lambda t=t10k: torch_predict(t), min_seconds),
                }
        out.append(row)
        progress(
            f"predict {case.name}: 1 row fastbp {row['fastbp']['1']['median_s'] * 1e6:.0f}"
            f" us vs sklearn {row['sklearn']['1']['median_s'] * 1e6:.0f} us; 10k rows "
            f"{row['fastbp']['10000']['median_s'] * 1e3:.2f} ms vs "
            f"{row['sklearn']['10000']['median_s'] * 1e3:.2f} ms; partial_fit "
            f"{row['fastbp']['partial_fit']['median_s'] * 1e6:.0f} us vs "
            f"{row['sklearn']['partial_fit']['median_s'] * 1e6:.0f} us"
        )
    return out


# --------------------------------------------------------------- GridSearchCV
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)


def grid_search(epochs, repeats, n_threads, progress):
    """GridSearchCV(5 learning rates x 3 folds, refit) on digits, both libraries,
    interleaved; ``epochs`` fixed epochs per fit, so both do the same work."""
    from _cases import Case
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    case = Case("digits", (64, 100, 10), 200, "multiclass", goal=0.0)
    params = estimator_params(case, "adam", epochs)
    grid = {"learning_rate_init": list(LEARNING_RATES)}
    runs = {"fastbp": [], "sklearn": []}
    best = {}
    with threads(n_threads):
        for r in range(repeats):
            order = ("fastbp", "sklearn") if r % 2 == 0 else ("sklearn", "fastbp")
            for library in order:
                search = GridSearchCV(
                    estimator_class(library, case)(**params), grid, cv=3, n_jobs=1
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    start = time.perf_counter()
                    search.fit(X, y)
                    seconds = time.perf_counter() - start
                runs[library].append(seconds)
                best[library] = {
                    "best_learning_rate_init": search.best_params_[
                        "learning_rate_init"
                    ],
                    "best_cv_accuracy": float(search.best_score_),
                }
                progress(
                    f"GridSearchCV {library} run {r + 1}/{repeats}: {seconds:.2f} s"
                )
    ratios = [s / f for f, s in zip(runs["fastbp"], runs["sklearn"], strict=True)]
    return {
        "dataset": "digits (1797 x 64, X / 16)",
        "estimator": "MLPClassifier(hidden_layer_sizes=(100,), solver='adam', "
        f"batch_size=200, max_iter={epochs}, tol=0, n_iter_no_change={NEVER_STOP})",
        "grid": grid,
        "cv": 3,
        "fits": len(LEARNING_RATES) * 3 + 1,
        "threads": n_threads,
        "seconds": runs,
        "best": best,
        "speedup_runs": ratios,
        "speedup_median": float(np.median(ratios)),
    }


# ---------------------------------------------------------------- environment
def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return sorted(f for f in flags if f.startswith(("avx", "fma")))
    except OSError:
        pass
    return []


def _git_commit(path):
    try:
        return subprocess.run(
            ["git", "-C", path, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except Exception:
        return "unknown"


def _fastbp_sources(package_dir):
    """sha256 of fastbp's sources and the files changed since the commit: the
    working tree may differ from ``fastbp_commit`` when this runs."""
    import glob
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(package_dir, "*.py"))):
        with open(path, "rb") as fh:
            digest.update(fh.read())
    try:
        dirty = subprocess.run(
            [
                "git",
                "-C",
                os.path.dirname(package_dir),
                "status",
                "--porcelain",
                "--",
                "fastbp",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
    except Exception:
        dirty = ["unknown"]
    return digest.hexdigest()[:16], dirty


def environment():
    import scipy
    import sklearn
    import threadpoolctl

    import fastbp

    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "none yet"
    sources_sha, dirty = _fastbp_sources(os.path.dirname(fastbp.__file__))
    env_vars = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("OPENBLAS", "OMP_", "MKL_", "NUMBA_", "FASTBP_"))
    }
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "llvmlite": __import__("llvmlite").__version__,
        "sklearn": sklearn.__version__,
        "threadpoolctl": threadpoolctl.__version__,
        "fastbp": fastbp.__version__,
        "fastbp_commit": _git_commit(os.path.dirname(os.path.dirname(fastbp.__file__))),
        "fastbp_sources_sha256": sources_sha,
        "fastbp_uncommitted_changes": dirty,
        "torch": torch.__version__ if torch is not None else "n/a",
        "numba_threading_layer": layer,
        "numba_num_threads": numba.config.NUMBA_NUM_THREADS,
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "cpu_simd_flags": _cpu_flags(),
        "env": env_vars,
        "threadpool_info": threadpool_info(),
        "loadavg": list(os.getloadavg()),
    }
