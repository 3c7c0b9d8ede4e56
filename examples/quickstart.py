"""Side by side: fastbp and scikit-learn fitting the same MLP on digits.

Same hyperparameters and random_state: the models agree up to rounding, and
fastbp trains faster.  The kernels are compiled (or loaded from the on-disk
cache) before any timing starts; each library then fits the same model several
times, in alternating order (scikit-learn, fastbp, fastbp, scikit-learn, ...)
so that neither always runs on a warmer or a busier machine, and the median
fit time of each is reported.

Run:  python examples/quickstart.py [--quick] [--outdir DIR]
(``--quick``: fewer epochs and repeats; ``--outdir`` is accepted like in every
example, this one draws no picture.)
"""

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn.neural_network as sk
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastbp

LIBRARIES = {"scikit-learn": sk.MLPClassifier, "fastbp": fastbp.MLPClassifier}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer epochs and repeats (for CI)"
    )
    parser.add_argument("--outdir", type=Path, default=Path("."), help="no effect here")
    args = parser.parse_args(argv)
    args.quick = args.quick or os.environ.get("FASTBP_EXAMPLES_QUICK") == "1"
    return args


def fit_and_time(estimator, X_train, y_train):
    """Seconds taken by the whole ``estimator.fit`` call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        estimator.fit(X_train, y_train)
        return time.perf_counter() - start


def main(argv=None):
    args = parse_args(argv)
    max_iter, repeats = (20, 2) if args.quick else (50, 5)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    print("compiling / loading fastbp kernels ...", flush=True)
    print(
        "  (the first run in a new environment compiles them: about 35 s on a\n"
        "  2-core machine; later runs load them from the on-disk cache, which lives with\n"
        "  the installed package: a new virtual environment compiles again)",
        flush=True,
    )
    seconds = 0.0
    for job in ("stochastic", "forward"):  # what the demo uses: fits, predictions
        print(f"  float64 {job} kernels ...", end="", flush=True)
        job_seconds = fastbp.warmup(("float64",), jobs=(job,))
        seconds += job_seconds
        print(f" {job_seconds:.1f} s", flush=True)
    print(f"  kernels ready: warmup took {seconds:.1f} s")

    params = dict(hidden_layer_sizes=(64,), max_iter=max_iter, random_state=0)
    print(f"\nMLPClassifier({params}) on digits, {X_train.shape[0]} training rows")
    print(f"{repeats} fits per library, in alternating order", flush=True)
    seconds = {name: [] for name in LIBRARIES}
    models = {}
    order = list(LIBRARIES)
    for run in range(repeats):
        # scikit-learn, fastbp, fastbp, scikit-learn, scikit-learn, fastbp, ...
        for name in order if run % 2 == 0 else order[::-1]:
            models[name] = LIBRARIES[name](**params)
            seconds[name].append(fit_and_time(models[name], X_train, y_train))

    median = {name: statistics.median(times) for name, times in seconds.items()}
    print(f"\n{'library':<14}{'median fit':>11}{'accuracy':>10}")
    for name, model in models.items():
        print(f"{name:<14}{median[name]:>10.4f}s{model.score(X_test, y_test):>10.4f}")
    print(f"fastbp speed-up: {median['scikit-learn'] / median['fastbp']:.1f}x")
    epochs = {model.n_iter_ for model in models.values()}
    print(
        "(fit times exclude compiling the kernels, done in the warmup above;\n"
        " they include the whole fit call: input validation, weight\n"
        f" initialisation and all {'/'.join(map(str, sorted(epochs)))} epochs)"
    )
    diff = max(
        np.abs(a - b).max()
        for a, b in zip(
            models["scikit-learn"].coefs_, models["fastbp"].coefs_, strict=True
        )
    )
    print(f"largest difference between the two models' weights: {diff:.1e}")


if __name__ == "__main__":
    main()
