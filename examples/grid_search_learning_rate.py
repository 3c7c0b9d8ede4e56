"""Tuning the learning rate with GridSearchCV, with fastbp and with scikit-learn.

The learning rate is the hyperparameter that matters most for gradient
training: too small and the network barely moves within ``max_iter`` epochs,
too large and the steps overshoot (SGD with momentum 0.9 and Adam react very
differently, which is why the solver is searched too).  ``GridSearchCV`` fits
one model per grid point and cross-validation fold and keeps the best.

fastbp's estimators are drop-in: the same ``GridSearchCV`` call works with
either class, and with the same ``random_state`` both libraries train the same
models, so the mean CV scores agree and only the time differs.  (Rounding
differences of 1e-16 stay that small, except where training is chaotic: at the
largest learning rates they can grow to change a few predictions.)
The picture shows the mean CV accuracy against the learning rate for both.

Run:  python examples/grid_search_learning_rate.py [--quick] [--outdir DIR]
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn.neural_network as sk
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import fastbp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid (for CI)")
    parser.add_argument("--outdir", type=Path, default=Path("."), help="PNG folder")
    args = parser.parse_args(argv)
    args.quick = args.quick or os.environ.get("FASTBP_EXAMPLES_QUICK") == "1"
    return args


def pyplot_or_none():
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the picture")
        return None
    return plt


LIBRARIES = {"scikit-learn": sk.MLPClassifier, "fastbp": fastbp.MLPClassifier}
STYLES = {"scikit-learn": dict(ls="--", marker="x", ms=9), "fastbp": dict(marker="o")}


def main(argv=None):
    args = parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 -> [0, 1]
    rates, max_iter, cv = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0], 50, 3
    if args.quick:
        X, y, rates, max_iter = X[:600], y[:600], [1e-3, 1e-2, 1e-1], 10
    grid = {"learning_rate_init": rates, "solver": ["sgd", "adam"]}
    params = dict(hidden_layer_sizes=(64,), max_iter=max_iter, random_state=0)
    print(f"digits {X.shape}, grid {grid}, {cv}-fold CV")
    print(f"{len(rates) * 2 * cv} fits of MLPClassifier({params}) per library")
    fastbp.warmup(dtypes=("float64",))  # compile or load kernels before timing

    searches, seconds = {}, {}
    for name, cls in LIBRARIES.items():
        searches[name] = GridSearchCV(cls(**params), grid, cv=cv, n_jobs=1)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            searches[name].fit(X, y)
        seconds[name] = time.perf_counter() - start
        print(f"\n{name}: {seconds[name]:.1f} s")
        print(f"  best parameters: {searches[name].best_params_}")
        print(f"  best mean CV accuracy: {searches[name].best_score_:.4f}")
    print(f"\nfastbp speed-up: {seconds['scikit-learn'] / seconds['fastbp']:.1f}x")
    results = {name: search.cv_results_ for name, search in searches.items()}
    gaps = np.abs(
        results["fastbp"]["mean_test_score"]
        - results["scikit-learn"]["mean_test_score"]
    )
    worst = results["fastbp"]["params"][int(np.argmax(gaps))]
    print(f"largest difference in mean CV accuracy: {gaps.max():.4f} at {worst}")

    plt = pyplot_or_none()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, cv_results in results.items():
        for solver, color in (("sgd", "tab:blue"), ("adam", "tab:orange")):
            mask = np.asarray(cv_results["param_solver"]) == solver
            lr = np.asarray(cv_results["param_learning_rate_init"], dtype=float)
            score = cv_results["mean_test_score"]
            ax.plot(
                lr[mask],
                score[mask],
                color=color,
                label=f"{name}, {solver}",
                **STYLES[name],
            )
    ax.set(
        xscale="log", xlabel="learning_rate_init", ylabel=f"mean {cv}-fold CV accuracy"
    )
    ax.set_title(f"digits, MLP (64,), {max_iter} epochs: both libraries, same scores")
    ax.legend()
    args.outdir.mkdir(parents=True, exist_ok=True)
    path = args.outdir / "grid_search_learning_rate.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
