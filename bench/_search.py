"""The fused CV search: ``fastbp.MLPClassifierCV`` against ``GridSearchCV``
over fastbp's and scikit-learn's ``MLPClassifier``, wall time and peak memory.

    python bench/_search.py [--quick]     # this stage alone: table and goals
    python bench/_search.py --child SPEC  # one fresh-process call (JSON spec)

Cases (SEARCH_CASES): digits (X / 16), (64,), 100 epochs, 5 learning rates,
cv=3; and ~20,000 x 40 teacher-network data (``_cases.make_data``, 4
classes), (64, 64), 6 learning rates x 2 alphas, cv=5, at batch 200 and at
batch 32, a fixed number of epochs (``tol=0``, no early stop).  refit=True
everywhere, so every search does the same work.

In this process, per case: one untimed call of every configuration
(max_iter=1 on the first WARM_ROWS rows: loky's workers start and load
fastbp's kernels), then ``repeats`` rounds timing each configuration once,
odd rounds in reverse order.  Then fresh processes: peak memory of each
configuration once, and (digits) the first call of a fresh process,
MLPClassifierCV against scikit-learn's GridSearchCV(n_jobs=2), ``repeats``
pairs, alternating.  Raw figures only; bench/_report.py derives the rest.
"""

import json
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# name: (library, n_jobs); n_jobs None is the fused MLPClassifierCV.
CONFIGS = {
    "fused": ("fastbp", None),
    "fastbp_1": ("fastbp", 1),
    "fastbp_2": ("fastbp", 2),
    "sklearn_1": ("sklearn", 1),
    "sklearn_2": ("sklearn", 2),
}
FRESH_CONFIGS = ("fused", "sklearn_2")  # digits: first call of a fresh process
DIGITS_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
TABULAR_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
TABULAR_ALPHAS = (1e-4, 1e-2)
TABULAR_LAYERS = (40, 64, 64, 4)  # n_features, hidden, classes
WARM_ROWS = 2_000  # rows of the untimed warm-up calls
PAUSE_SECONDS = 0.2  # before each timed call (see _throughput)
CHILD_TIMEOUT = 900
# A loky worker's command line; the other descendants of a process that ran
# GridSearchCV(n_jobs=2) are loky's and multiprocessing's resource trackers.
WORKER_MARK = "LokyProcess"


def search_cases(settings):
    """The cases as JSON-able specs (a child process rebuilds them)."""
    from _runners import NEVER_STOP

    fixed = {"tol": 0.0, "n_iter_no_change": NEVER_STOP, "random_state": 0}
    tabular = {
        "data": "tabular",
        "n_samples": settings["search_rows"],
        "grid": {
            "learning_rate_init": list(TABULAR_RATES),
            "alpha": list(TABULAR_ALPHAS),
        },
        "cv": 5,
    }
    return [
        {
            "name": "digits",
            "data": "digits",
            "n_samples": 1797,
            "params": {"hidden_layer_sizes": [64], "max_iter": 100, "random_state": 0},
            "grid": {"learning_rate_init": list(DIGITS_RATES)},
            "cv": 3,
            "fresh": True,
        },
        *(
            {
                **tabular,
                "name": f"tabular-b{batch}",
                "params": {
                    "hidden_layer_sizes": list(TABULAR_LAYERS[1:-1]),
                    "batch_size": batch,
                    "max_iter": settings[f"search_epochs_b{batch}"],
                    **fixed,
                },
                "fresh": False,
            }
            for batch in (200, 32)
        ),
    ]


def load_data(spec):
    if spec["data"] == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return X / 16.0, y
    from _cases import Case, make_data

    # Only the data generator reads the case: the shape and the task.
    case = Case("search", TABULAR_LAYERS, 200, "multiclass", goal=0.0)
    return make_data(case, np.float64, spec["n_samples"])


def make_search(spec, config, max_iter=None):
    """The unfitted search of ``config`` on ``spec`` (``max_iter`` overrides)."""
    library, n_jobs = CONFIGS[config]
    params = {
        **spec["params"],
        "hidden_layer_sizes": tuple(spec["params"]["hidden_layer_sizes"]),
    }
    if max_iter is not None:
        params["max_iter"] = max_iter
    if n_jobs is None:
        import fastbp

        return fastbp.MLPClassifierCV(**params, **spec["grid"], cv=spec["cv"])
    from sklearn.model_selection import GridSearchCV

    if library == "fastbp":
        from fastbp import MLPClassifier
    else:
        from sklearn.neural_network import MLPClassifier
    return GridSearchCV(
        MLPClassifier(**params), spec["grid"], cv=spec["cv"], n_jobs=n_jobs
    )


def fit_quietly(search, X, y):
    """Seconds of search.fit(X, y), ConvergenceWarning silenced."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        search.fit(X, y)
        return time.perf_counter() - start


def answer(search):
    return {
        "best_params": search.best_params_,
        "best_score": float(search.best_score_),
        "mean_test_score": search.cv_results_["mean_test_score"].tolist(),
    }


def _work(spec, search, X, y):
    """The fused search's work: epochs of every (candidate, split) model and
    of the refit, training rows, and flops (the suite's convention: 6 x
    sum(fan_in x fan_out) per row and epoch)."""
    from sklearn.model_selection import check_cv

    splits = check_cv(spec["cv"], y, classifier=True).split(X, y)
    train_rows = [len(train) for train, _ in splits]
    n_iter = np.asarray(search.n_iter_)
    refit_n_iter = int(search.best_estimator_.n_iter_)
    multiply_adds = int(sum(W.size for W in search.best_estimator_.coefs_))
    rows_epochs = float((n_iter * np.array(train_rows)).sum()) + refit_n_iter * len(y)
    return {
        "train_rows": train_rows,
        "n_iter": n_iter.tolist(),
        "refit_n_iter": refit_n_iter,
        "refit_rows": len(y),
        "multiply_adds_per_row": multiply_adds,
        "flops": 6.0 * multiply_adds * rows_epochs,
    }


# ------------------------------------------------------------- in-process
def _measure_case(spec, repeats, progress):
    import numba

    import fastbp

    X, y = load_data(spec)
    fastbp.warmup()
    warm = min(WARM_ROWS, len(y))
    start = time.perf_counter()
    for config in CONFIGS:  # untimed: loky workers exist and have loaded kernels
        fit_quietly(make_search(spec, config, max_iter=1), X[:warm], y[:warm])
    warm_s = time.perf_counter() - start
    runs = {config: [] for config in CONFIGS}
    answers = {config: [] for config in CONFIGS}
    names = list(CONFIGS)
    fused = None
    for r in range(repeats):
        for config in names if r % 2 == 0 else names[::-1]:
            search = make_search(spec, config)
            time.sleep(PAUSE_SECONDS)
            runs[config].append(fit_quietly(search, X, y))
            answers[config].append(answer(search))
            if config == "fused":
                fused = search
        same = all(
            answers[c][-1]["best_params"] == answers["fused"][-1]["best_params"]
            for c in ("fastbp_1", "fastbp_2")
        )
        progress(
            f"search {spec['name']} ({r + 1}/{repeats}): "
            + ", ".join(f"{c} {runs[c][-1]:.2f} s" for c in names)
            + f"; same best_params_ as GridSearchCV(fastbp): {same}"
        )
    fastbp_answers = {c: answers[c] for c in ("fastbp_1", "fastbp_2")}
    return {
        **spec,
        "n_features": int(X.shape[1]),
        "n_classes": len(np.unique(y)),
        "n_candidates": int(np.asarray(fused.n_iter_).shape[0]),
        "threads": numba.get_num_threads(),
        "warm_rows": warm,
        "warm_calls_s": warm_s,
        "runs": runs,
        "same_best_params": {
            c: [
                a["best_params"] == f["best_params"]
                for a, f in zip(v, answers["fused"], strict=True)
            ]
            for c, v in fastbp_answers.items()
        },
        "same_mean_test_score": {
            c: [
                bool(
                    np.array_equal(
                        a["mean_test_score"], f["mean_test_score"], equal_nan=True
                    )
                )
                for a, f in zip(v, answers["fused"], strict=True)
            ]
            for c, v in fastbp_answers.items()
        },
        "answers": {c: v[-1] for c, v in answers.items()},
        "work": _work(spec, fused, X, y),
    }


def _child(spec, config, warmup):
    """Run one configuration in a fresh process; its time and peak memory."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child"]
    cmd.append(json.dumps({"case": spec, "config": config, "warmup": warmup}))
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {CHILD_TIMEOUT} s"}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _mib(n):
    return f"{n / 2**20:.0f} MiB"


def measure_search(settings, progress):
    """Every case: in-process timings, then fresh-process memory and (digits)
    first calls.  {"cases": [...], "warmup_before_s", "seconds"}."""
    import traceback

    stage_start = time.perf_counter()
    repeats = settings["search_repeats"]
    # The fresh processes load fastbp's kernels from its cache: fill it first
    # (this recompiles whatever fastbp's sources changed since it was written).
    code = "import fastbp; print(fastbp.warmup())"
    check = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    warmup_s = float(check.stdout.split()[-1]) if check.returncode == 0 else None
    took = "failed" if warmup_s is None else f"{warmup_s:.2f} s"
    progress(f"search: fastbp.warmup() in a fresh process first: {took}")
    cases = []
    for spec in search_cases(settings):
        case_start = time.perf_counter()
        try:
            case = _measure_case(spec, repeats, progress)
        except Exception:  # a benchmark reports, never raises
            error = traceback.format_exc().strip().splitlines()[-1]
            progress(f"search {spec['name']}: failed: {error}")
            cases.append({**spec, "error": error})
            continue
        case["memory"] = {}
        for config in CONFIGS:
            got = _child(spec, config, warmup=True)
            case["memory"][config] = got
            text = got.get("error") or (
                f"{_mib(got['total_bytes'])} ({got['seconds']:.2f} s)"
            )
            progress(f"search {spec['name']} memory (fresh process), {config}: {text}")
        if spec["fresh"]:
            case["fresh"] = {config: [] for config in FRESH_CONFIGS}
            for r in range(repeats):
                order = FRESH_CONFIGS if r % 2 == 0 else FRESH_CONFIGS[::-1]
                for config in order:
                    case["fresh"][config].append(_child(spec, config, warmup=False))
                got = [case["fresh"][c][-1] for c in FRESH_CONFIGS]
                progress(
                    f"search {spec['name']} first call of a fresh process "
                    f"({r + 1}/{repeats}): "
                    + ", ".join(
                        f"{c} " + (g.get("error") or f"{g['seconds']:.2f} s")
                        for c, g in zip(FRESH_CONFIGS, got, strict=True)
                    )
                )
        case["seconds"] = time.perf_counter() - case_start
        cases.append(case)
    seconds = time.perf_counter() - stage_start
    progress(f"search stage: {seconds:.0f} s")
    return {"cases": cases, "warmup_before_s": warmup_s, "seconds": seconds}


# ------------------------------------------------------------ fresh child
def _proc_status(pid="self"):
    """{"VmRSS", "VmHWM"} in bytes from /proc/<pid>/status ({} if gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def _descendants(root):
    """Pids of every process below ``root`` (from /proc/*/stat's ppid)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            out.append(pid)
            todo.append(pid)
    return sorted(out)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")[:160]
    except OSError:
        return "?"


def _reset_peak():
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _child_main(spec_json):
    """One call in this fresh process; prints one JSON line: seconds, answer,
    peak memory: this process's peak RSS growth during the call, plus the
    peak RSS (VmHWM) of every loky worker left after it ("total_bytes"); the
    other descendants (resource trackers) are listed, not added."""
    t0 = time.perf_counter()
    request = json.loads(spec_json)
    spec, config = request["case"], request["config"]
    if CONFIGS[config][0] == "fastbp":
        import fastbp

        if request["warmup"]:
            fastbp.warmup()
    else:
        import sklearn.neural_network  # noqa: F401
    X, y = load_data(spec)
    search = make_search(spec, config)
    setup_s = time.perf_counter() - t0
    reset = _reset_peak()
    before = _proc_status().get("VmRSS")
    seconds = fit_quietly(search, X, y)
    after = _proc_status()
    if reset and "VmHWM" in after:
        method, peak = "VmHWM, reset before the call", after["VmHWM"]
    else:  # ru_maxrss: kB on Linux, the whole process's lifetime
        method = "ru_maxrss (process lifetime)"
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    growth = None if before is None else max(0, peak - before)
    descendants = [
        {"pid": pid, "cmdline": _cmdline(pid), **_proc_status(pid)}
        for pid in _descendants(os.getpid())
    ]
    for d in descendants:
        d["kind"] = "worker" if WORKER_MARK in d["cmdline"] else "helper"
    workers = sum(d.get("VmHWM", 0) for d in descendants if d["kind"] == "worker")
    helpers = sum(d.get("VmHWM", 0) for d in descendants if d["kind"] == "helper")
    print(
        json.dumps(
            {
                "config": config,
                "seconds": seconds,
                "setup_s": setup_s,
                "warmup": request["warmup"],
                "rss_before_bytes": before,
                "peak_growth_bytes": growth,
                "peak_method": method,
                "descendants": descendants,
                "workers_peak_bytes": workers,
                "helpers_peak_bytes": helpers,
                "total_bytes": None if growth is None else growth + workers,
                "answer": answer(search),
            }
        )
    )


# -------------------------------------------------------------- stand-alone
def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short smoke run")
    p.add_argument("--child", metavar="SPEC", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child_main(args.child)
        return 0
    from _extras import gemm_peak
    from _report import derive_search, print_goals, search_goals, search_section
    from _settings import SETTINGS, progress

    settings = {name: values[args.quick] for name, values in SETTINGS.items()}
    import numba

    import fastbp

    progress(f"fastbp.warmup(): {fastbp.warmup():.2f} s")
    # The GEMM peak before and after, the higher kept (as run.py does).
    n, repeats, counts = (
        settings["gemm_n"],
        settings["gemm_repeats"],
        [numba.get_num_threads()],
    )
    gemm = gemm_peak(n, repeats, counts, progress)
    search = measure_search(settings, progress)
    after = gemm_peak(n, repeats, counts, progress)
    for dtype, per_threads in gemm["peak"].items():
        for k, peak in per_threads.items():
            peak["runs"] += after["peak"][dtype][k]["runs"]
            peak["gflops"] = max(peak["runs"])
    results = {"search": search, "gemm": gemm}
    derive_search(results)
    results["goals"] = search_goals(results)
    print("\n" + search_section(results) + "\n")
    print_goals(results, progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
