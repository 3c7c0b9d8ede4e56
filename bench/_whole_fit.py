"""Whole ``fit`` calls, set-up included: what a user waits for.

* Every case, float64, one thread for both libraries, default adam: fits of
  WHOLE_FIT_EPOCHS epochs (``max_iter=n``, ``tol=0``, no early stop, shuffle
  on, the case's batch) on WHOLE_FIT_ROWS rows (the case's own n_samples where
  not listed).  Validation, initialisation and result bookkeeping count, so
  short fits show the fixed cost of a call, long ones approach throughput.
* XOR: the 2-3-1 logistic network of examples/xor.py (4 rows, full-batch SGD,
  learning rate 0.5, no momentum or penalty) for XOR_EPOCHS epochs, one fit
  per seed and library, and whether each fit learnt XOR (accuracy 1).

fastbp and scikit-learn runs alternate (A-B, then B-A); speed-ups are the
paired ratios scikit-learn seconds / fastbp seconds.
"""

import numpy as np
from _cases import WHOLE_FIT_EPOCHS, WHOLE_FIT_GOALS, WHOLE_FIT_ROWS, make_data
from _runners import (
    NEVER_STOP,
    estimator_class,
    fit_estimator,
    fit_model,
    stats,
    threads,
)

LIBRARIES = ("fastbp", "sklearn")
XOR_EPOCHS = 2500
XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])
XOR_PARAMS = dict(
    hidden_layer_sizes=(3,),
    activation="logistic",
    solver="sgd",
    batch_size=4,
    momentum=0.0,
    learning_rate_init=0.5,
    alpha=0.0,
    max_iter=XOR_EPOCHS,
    tol=0.0,
    n_iter_no_change=NEVER_STOP,
)


def _order(i):
    return LIBRARIES if i % 2 == 0 else LIBRARIES[::-1]


def _pair(seconds):
    """Per-library stats and the paired speed-up of {library: [seconds]}."""
    out = {lib: stats(seconds[lib]) for lib in LIBRARIES}
    out["speedup"] = stats(np.divide(seconds["sklearn"], seconds["fastbp"]))
    return out


def measure_whole_fit(cases, repeats, progress):
    rows = []
    with threads(1):
        for case in cases:
            n_rows = WHOLE_FIT_ROWS.get(case.name, case.n_samples)
            X, y = make_data(case, np.float64, n_rows)
            for lib in LIBRARIES:  # discarded: first-call costs of each code path
                fit_estimator(lib, case, "adam", X, y, 1)
            for epochs in WHOLE_FIT_EPOCHS:
                seconds = {lib: [] for lib in LIBRARIES}
                for r in range(repeats):
                    for lib in _order(r + epochs):
                        t, _ = fit_estimator(lib, case, "adam", X, y, epochs)
                        seconds[lib].append(t)
                row = {
                    "case": case.name,
                    "layers": case.shape_text,
                    "batch_size": case.batch_size,
                    "n_samples": n_rows,
                    "epochs": epochs,
                    "goal": WHOLE_FIT_GOALS.get(case.name) if epochs == 3 else None,
                    **_pair(seconds),
                }
                rows.append(row)
                progress(
                    f"whole fit {case.name} ({n_rows:,} rows) {epochs} epochs: fastbp "
                    f"{row['fastbp']['median'] * 1e3:.1f} ms, sklearn "
                    f"{row['sklearn']['median'] * 1e3:.1f} ms -> "
                    f"{row['speedup']['median']:.2f}x"
                )
    return {"threads": 1, "dtype": "float64", "solver": "adam", "rows": rows}


def measure_xor(seeds, progress):
    seconds = {lib: [] for lib in LIBRARIES}
    solved = {lib: [] for lib in LIBRARIES}
    with threads(1):
        for i, seed in enumerate(seeds):
            for lib in _order(i):
                model = estimator_class(lib, "binary")(**XOR_PARAMS, random_state=seed)
                t, model = fit_model(model, XOR_X, XOR_Y)
                seconds[lib].append(t)
                solved[lib].append(bool(model.score(XOR_X, XOR_Y) == 1.0))
    out = {"seeds": list(seeds), "epochs": XOR_EPOCHS, "solved": solved}
    out.update(_pair(seconds))
    progress(
        f"XOR 2-3-1, {XOR_EPOCHS} epochs, {len(seeds)} seeds: fastbp "
        f"{out['fastbp']['median'] * 1e3:.2f} ms, sklearn "
        f"{out['sklearn']['median'] * 1e3:.0f} ms per fit -> "
        f"{out['speedup']['median']:.0f}x; solved: fastbp {sum(solved['fastbp'])}, "
        f"sklearn {sum(solved['sklearn'])}"
    )
    return out
