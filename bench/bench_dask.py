"""GridSearchCV on a local Dask cluster against joblib's default backend.

    python bench/bench_dask.py [--max-iter 100] [--repeats 3]

The digits search (load_digits, X / 16, 1797 x 64, 10 classes):
``GridSearchCV(fastbp.MLPClassifier(hidden_layer_sizes=(100,),
max_iter=--max-iter, random_state=0), 5 learning rates, cv=3)``: 15 fits and
the refit, float64.  Backends: n_jobs=1 (this process), n_jobs=2 on
loky, and n_jobs=-1 under ``joblib.parallel_config(backend="dask")`` on a
``LocalCluster`` of 2 worker processes x 1 thread with
``fastbp.dask.FastbpWarmup``.  Each backend's first run (loky: its workers'
start-up and kernel loads) is reported apart from the median of the repeats
that follow (interleaved across backends); the cluster's start-up (cluster,
client, plugin) apart from both.  Prints a markdown table, and whether every backend's cv_results_
(scores, ranks, params) equal the n_jobs=1 run's.
"""

import argparse
import os
import platform
import statistics
import time
import warnings
from contextlib import nullcontext

import distributed
import joblib
import numpy as np
import sklearn
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

import fastbp
from fastbp._threads import thread_budget
from fastbp.dask import FastbpWarmup

RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
# What the nanny writes into this process's environment before spawning the
# workers (distributed.nanny.pre-spawn-environ): put back afterwards, so the
# local refit keeps this process's thread count.
PRE_SPAWN_KEYS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MALLOC_TRIM_THRESHOLD_",
    "PYTHONHASHSEED",
)


def _search(max_iter, n_jobs):
    return GridSearchCV(
        fastbp.MLPClassifier(
            hidden_layer_sizes=(100,), max_iter=max_iter, random_state=0
        ),
        {"learning_rate_init": RATES},
        cv=3,
        n_jobs=n_jobs,
    )


def _timed_fit(search, X, y, context):
    start = time.perf_counter()
    with warnings.catch_warnings(), context():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return time.perf_counter() - start


def _comparable(search):
    return {
        k: (v if k == "params" else np.asarray(v).tolist())
        for k, v in search.cv_results_.items()
        if not k.endswith("_time")
    }


def _start_cluster():
    saved = {key: os.environ.get(key) for key in PRE_SPAWN_KEYS}
    start = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    client.register_plugin(FastbpWarmup(dtypes=("float64",)))
    startup = time.perf_counter() - start
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    warmups = client.run(
        lambda dask_worker: dask_worker.plugins["fastbp-warmup"].seconds
    )
    return cluster, client, startup, sorted(warmups.values())


def _dask_backend():
    return joblib.parallel_config(backend="dask")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = X / 16
    fastbp.warmup(("float64",))
    cluster, client, startup, warmups = _start_cluster()
    backends = [
        ("n_jobs=1 (this process)", f"1 x {thread_budget()}", 1, nullcontext),
        ("n_jobs=2, loky", "2 x 1", 2, nullcontext),
        ("n_jobs=-1, dask LocalCluster", "2 x 1", -1, _dask_backend),
    ]
    first, runs, results = {}, {name: [] for name, *_ in backends}, {}
    try:
        # First runs (loky: its workers start and load the kernels), then the
        # repeats interleaved, so that load from other processes on the
        # machine spreads over every backend alike.
        for repeat in range(1 + args.repeats):
            for name, _, n_jobs, context in backends:
                search = _search(args.max_iter, n_jobs)
                seconds = _timed_fit(search, X, y, context)
                if repeat == 0:
                    first[name] = seconds
                else:
                    runs[name].append(seconds)
                results[name] = _comparable(search)
    finally:
        client.close()
        cluster.close()
    reference = results[backends[0][0]]
    same = {name: results[name] == reference for name, *_ in backends[1:]}

    print(
        f"digits {X.shape}, (100,), max_iter={args.max_iter}, "
        f"{len(RATES)} learning rates, cv=3 (15 fits + refit), float64; "
        f"{os.cpu_count()} cores (load average at the end "
        f"{os.getloadavg()[0]:.1f}); Python {platform.python_version()}, "
        f"fastbp {fastbp.__version__}, scikit-learn {sklearn.__version__}, "
        f"joblib {joblib.__version__}, distributed {distributed.__version__}"
    )
    print(
        f"cluster start-up (2 workers x 1 thread, client, FastbpWarmup): "
        f"{startup:.2f} s; warmup on the workers: "
        + ", ".join(f"{s:.2f} s" for s in warmups)
    )
    print()
    print(
        f"| backend | workers x threads | first run (s) "
        f"| median of {args.repeats} (s) | vs n_jobs=1 |"
    )
    print("|---|---|---|---|---|")
    base = statistics.median(runs[backends[0][0]])
    for name, shape, *_ in backends:
        median = statistics.median(runs[name])
        print(
            f"| {name} | {shape} | {first[name]:.2f} | {median:.2f} "
            f"[{min(runs[name]):.2f}-{max(runs[name]):.2f}] | {base / median:.2f}x |"
        )
    print()
    print(
        "cv_results_ (scores, ranks, params) equal to n_jobs=1's: "
        + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in same.items())
    )


if __name__ == "__main__":
    main()
