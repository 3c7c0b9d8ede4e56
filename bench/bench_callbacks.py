"""What scikit-learn callbacks cost: a fit with a callback set (so Python
re-enters once per epoch for its task) against the same fit without one (the
issue's bar: at most 5% on the small bench case).

The callback does nothing in its hooks and asks for no ``fitted_estimator``,
so this measures fastbp's per-epoch re-entry and the task tree, not what a
real callback computes.  Adam, relu, float64, 1 thread; the two fits
alternate for ``ROUNDS`` rounds after a warm-up, and the ratio is the median
of the per-round ratios.

    python bench/bench_callbacks.py
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _cases import CASES, make_data
from _runners import estimator_class, estimator_params, fit_model, threads

CASE_NAMES = ("tiny", "small", "regression")
EPOCHS = 20
ROUNDS = 9
GOAL = 1.05  # with a callback / without


class NoOp:
    """A FitCallback whose hooks do nothing."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        return False


def measure():
    rows = []
    cases = {case.name: case for case in CASES}
    with threads(1):
        for name in CASE_NAMES:
            case = cases[name]
            X, y = make_data(case, np.float64)
            params = estimator_params(case, "adam", EPOCHS)
            model_class = estimator_class("fastbp", case.task)

            def make(with_callback, model_class=model_class, params=params):
                model = model_class(**params)
                return model.set_callbacks(NoOp()) if with_callback else model

            for with_callback in (False, True):
                fit_model(make(with_callback), X, y)  # compile or load
            seconds = {False: [], True: []}
            for _ in range(ROUNDS):
                for with_callback in (False, True):
                    seconds[with_callback].append(
                        fit_model(make(with_callback), X, y)[0]
                    )
            ratios = np.array(seconds[True]) / np.array(seconds[False])
            rows.append(
                (
                    name,
                    case.shape_text,
                    float(np.median(seconds[False])),
                    float(np.median(seconds[True])),
                    float(np.median(ratios)),
                )
            )
    return rows


def report(rows):
    print(
        f"fastbp, adam, float64, 1 thread, {EPOCHS} epochs per fit, medians of "
        f"{ROUNDS} alternating rounds; a no-op callback against none."
    )
    print()
    print("| case | layers | fit, no callback | fit, callback | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, shape, plain, watched, ratio in rows:
        print(
            f"| {name} | {shape} | {plain * 1e3:.1f} ms | {watched * 1e3:.1f} ms "
            f"| {ratio:.3f}x |"
        )
    small = next(row for row in rows if row[0] == "small")
    met = "yes" if small[-1] <= GOAL else "**no**"
    print()
    print(
        f"goal met: {met} callbacks cost <= {GOAL - 1:.0%} on the small case; "
        f"measured {small[-1]:.3f}x"
    )


if __name__ == "__main__":
    report(measure())
