"""Successive halving against the exhaustive fused search, larger tabular case.

    python bench/bench_halving.py [--epochs 27] [--rows 20000] [--repeats 2]

``MLPClassifierCV(search="halving", factor=3)`` against
``MLPClassifierCV(search="grid")`` on bench/_search.py's tabular data
(20,000 x 40, 4 classes), (64, 64), batch 200, 6 learning rates x 2 alphas,
cv=5, ``max_iter=--epochs`` with tol=0 (no early stop), refit included.
Prints both times (median of the repeats, alternating order), the paired
speed-up and the best CV score of each (goal: halving >= 3x faster, best
score within 0.5% of the exhaustive search's).
"""

import argparse
import os
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _runners import NEVER_STOP
from _search import TABULAR_ALPHAS, TABULAR_LAYERS, TABULAR_RATES, load_data

import fastbp


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=27)
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    X, y = load_data({"data": "tabular", "n_samples": args.rows})
    params = dict(
        hidden_layer_sizes=TABULAR_LAYERS[1:-1],
        batch_size=200,
        max_iter=args.epochs,
        tol=0.0,
        n_iter_no_change=NEVER_STOP,
        random_state=0,
        learning_rate_init=list(TABULAR_RATES),
        alpha=list(TABULAR_ALPHAS),
        cv=5,
    )
    fastbp.warmup(("float64",), jobs=("stochastic", "forward"))
    seconds = {"grid": [], "halving": []}
    best = {}
    for r in range(args.repeats):
        for search in ("grid", "halving") if r % 2 == 0 else ("halving", "grid"):
            model = fastbp.MLPClassifierCV(**params, search=search)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X, y)
            seconds[search].append(time.perf_counter() - start)
            best[search] = (model.best_score_, model.best_params_)
    ratios = [g / h for g, h in zip(seconds["grid"], seconds["halving"], strict=True)]
    print(
        f"data {X.shape}, (64, 64), batch 200, {args.epochs} epochs, 12 candidates, cv=5"
    )
    for search in ("grid", "halving"):
        print(
            f"{search}: {statistics.median(seconds[search]):.2f} s "
            f"[{min(seconds[search]):.2f}-{max(seconds[search]):.2f}], "
            f"best CV accuracy {best[search][0]:.4f} at {best[search][1]}"
        )
    gap = (best["grid"][0] - best["halving"][0]) / best["grid"][0]
    print(
        f"halving speed-up {statistics.median(ratios):.2f}x "
        f"[{min(ratios):.2f}-{max(ratios):.2f}] (goal >= 3x); best score "
        f"{100 * gap:.2f}% below the exhaustive search's (goal <= 0.5%)"
    )


if __name__ == "__main__":
    main()
