"""What dropout costs per epoch: fastbp's fit with ``dropout=0.2`` on every
hidden layer against the same fit without it (the issue's bar: at most 15%
more on the small and medium cases).

Both fits run the bench cases' settings (Adam, relu, the case's batch size,
no early stop, float64) for the same number of epochs; the two are
alternated for ``ROUNDS`` rounds after a warm-up fit, and the ratio is the
median of the per-round ratios, so both sides see the same machine load.

    python bench/bench_dropout.py [--threads N]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _cases import CASES, make_data
from _runners import estimator_class, estimator_params, fit_model, threads

CASE_NAMES = ("small", "regression", "medium-b200", "medium-b32")
RATE = 0.2
EPOCHS = 5
ROUNDS = 7
GOAL = 1.15  # dropout fit / plain fit


def measure(n_threads):
    rows = []
    cases = {case.name: case for case in CASES}
    with threads(n_threads):
        for name in CASE_NAMES:
            case = cases[name]
            X, y = make_data(case, np.float64)
            params = estimator_params(case, "adam", EPOCHS)
            model_class = estimator_class("fastbp", case.task)
            rates = (0.0, RATE)
            for rate in rates:  # compile or load, warm caches
                fit_model(model_class(**params, dropout=rate), X, y)
            seconds = {rate: [] for rate in rates}
            for _ in range(ROUNDS):
                for rate in rates:
                    model = model_class(**params, dropout=rate)
                    seconds[rate].append(fit_model(model, X, y)[0])
            ratios = np.array(seconds[RATE]) / np.array(seconds[0.0])
            rows.append(
                (
                    name,
                    case.shape_text,
                    case.batch_size,
                    float(np.median(seconds[0.0])) / EPOCHS,
                    float(np.median(seconds[RATE])) / EPOCHS,
                    float(np.median(ratios)),
                )
            )
    return rows


def report(rows, n_threads):
    print(
        f"fastbp, adam, float64, {n_threads} thread(s), {EPOCHS} epochs per fit, "
        f"medians of {ROUNDS} alternating rounds; dropout={RATE} on every hidden layer."
    )
    print()
    print("| case | layers | batch | epoch, no dropout | epoch, dropout | ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for name, shape, batch, plain, dropped, ratio in rows:
        print(
            f"| {name} | {shape} | {batch} | {plain * 1e3:.2f} ms | "
            f"{dropped * 1e3:.2f} ms | {ratio:.3f}x |"
        )
    worst = max(rows, key=lambda row: row[-1])
    met = "yes" if worst[-1] <= GOAL else "**no**"
    print()
    print(
        f"goal met: {met} dropout={RATE} costs <= {GOAL - 1:.0%} of an epoch; "
        f"worst {worst[-1]:.3f}x ({worst[0]})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    n = parser.parse_args().threads
    report(measure(n), n)
