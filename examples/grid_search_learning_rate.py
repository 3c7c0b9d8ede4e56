"""Tuning the learning rate: fastbp.MLPClassifierCV beside GridSearchCV.

The learning rate is the hyperparameter that matters most for gradient
training: too small and the network barely moves within ``max_iter`` epochs,
too large and the steps overshoot.  ``GridSearchCV`` fits one model per grid
point and cross-validation fold and keeps the best.

``fastbp.MLPClassifierCV`` runs the same search in one fused pass: all
(candidate, fold) models train together, in parallel over the models.  Every
model is bit-identical to the one ``GridSearchCV(fastbp.MLPClassifier(...))``
trains, so the scores, ranks and the best learning rate are the same, not
merely close.  scikit-learn's own MLP, with the same ``random_state``, trains
the same models up to rounding.

The picture shows the validation curve (mean CV accuracy against the
learning rate, +/- one standard deviation over the folds) and every
candidate's training loss per epoch (``loss_curves_``, fold 0).

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


def timed(label, make_search, X, y):
    search = make_search()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    seconds = time.perf_counter() - start
    print(f"\n{label}: {seconds:.2f} s")
    print(f"  best parameters: {search.best_params_}")
    print(f"  best mean CV accuracy: {search.best_score_:.4f}")
    return search, seconds


def main(argv=None):
    args = parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0..16 -> [0, 1]
    rates, max_iter, cv = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3], 60, 3
    if args.quick:
        X, y, rates, max_iter = X[:600], y[:600], [1e-3, 1e-2, 1e-1], 10
    params = dict(hidden_layer_sizes=(64,), max_iter=max_iter, random_state=0)
    grid = {"learning_rate_init": rates}
    print(f"digits {X.shape}, grid {grid}, {cv}-fold CV")
    print(f"{len(rates) * cv} models of MLPClassifier({params}), then one refit")
    fastbp.warmup(dtypes=("float64",))  # compile or load kernels before timing

    fused, fused_s = timed(
        "fastbp.MLPClassifierCV (one fused pass)",
        lambda: fastbp.MLPClassifierCV(**params, **grid, cv=cv),
        X,
        y,
    )
    separate, separate_s = timed(
        "GridSearchCV(fastbp.MLPClassifier)",
        lambda: GridSearchCV(fastbp.MLPClassifier(**params), grid, cv=cv),
        X,
        y,
    )
    reference, reference_s = timed(
        "GridSearchCV(sklearn MLPClassifier)",
        lambda: GridSearchCV(sk.MLPClassifier(**params), grid, cv=cv),
        X,
        y,
    )
    same = (
        fused.cv_results_["mean_test_score"] == separate.cv_results_["mean_test_score"]
    )
    print(
        f"\nmean CV scores equal to GridSearchCV(fastbp)'s, bit for bit: "
        f"{int(same.sum())} of {same.size}"
    )
    gap = np.abs(
        fused.cv_results_["mean_test_score"] - reference.cv_results_["mean_test_score"]
    ).max()
    print(f"largest difference from scikit-learn's mean CV accuracy: {gap:.4f}")
    print(
        f"times: fused {fused_s:.2f} s, GridSearchCV(fastbp) {separate_s:.2f} s, "
        f"GridSearchCV(sklearn) {reference_s:.2f} s (one run each; bench/ has "
        "the measured ratios)"
    )

    plt = pyplot_or_none()
    if plt is None:
        return
    results = fused.cv_results_
    lr = np.asarray(results["param_learning_rate_init"], dtype=float)
    mean, std = results["mean_test_score"], results["std_test_score"]
    fig, (curve, losses) = plt.subplots(1, 2, figsize=(12, 4.5))
    curve.plot(lr, mean, marker="o", label="MLPClassifierCV")
    curve.fill_between(lr, mean - std, mean + std, alpha=0.25, label="+/- 1 std")
    curve.plot(
        lr,
        reference.cv_results_["mean_test_score"],
        ls="--",
        marker="x",
        label="GridSearchCV(sklearn)",
    )
    curve.set(
        xscale="log", xlabel="learning_rate_init", ylabel=f"mean {cv}-fold CV accuracy"
    )
    curve.set_title(f"validation curve, digits, MLP (64,), {max_iter} epochs")
    curve.legend()
    colors = plt.cm.viridis(np.linspace(0, 1, len(rates)))
    for row, color in enumerate(colors):
        losses.plot(fused.loss_curves_[row][0], color=color, label=f"{lr[row]:g}")
    losses.set(xlabel="epoch", ylabel="training loss", yscale="log")
    losses.set_title("each candidate's loss curve (fold 0)")
    losses.legend(title="learning_rate_init", fontsize="small")
    args.outdir.mkdir(parents=True, exist_ok=True)
    path = args.outdir / "grid_search_learning_rate.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
