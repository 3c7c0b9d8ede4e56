"""Progress bars and per-epoch monitoring with scikit-learn's callbacks.

scikit-learn 1.9 added callbacks (``sklearn.callback``): ``ProgressBar``
draws one bar per task (with ``rich``), ``ScoringMonitor`` scores the model
after every step.  scikit-learn's own MLP does not support them; fastbp's
estimators do.  A fit is one task and each epoch a subtask, so:

1. ``MLPClassifier(...).set_callbacks(ProgressBar())`` shows a fit's epochs;
2. ``GridSearchCV(fastbp.MLPClassifier(...)).set_callbacks(ProgressBar())``
   shows the search, each candidate's fits and their epochs, nested;
3. ``ScoringMonitor`` with a scorer on held-out digits logs the validation
   accuracy after every epoch, which the picture ``validation_accuracy.png``
   draws next to the training loss (``loss_curve_``).

With callbacks, Python re-enters once per epoch (``bench/bench_callbacks.py``
measures that cost); without them, nothing of this runs.

Run:  python examples/progress_and_monitoring.py [--quick] [--outdir DIR]
"""

import argparse
import os
import warnings
from pathlib import Path

from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split

import fastbp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs (for CI)")
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


def main(argv=None):
    args = parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    epochs = 15 if args.quick else 60
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(
        X / 16, y, test_size=0.3, stratify=y, random_state=0
    )
    params = dict(hidden_layer_sizes=(64,), max_iter=epochs, random_state=0)
    warnings.simplefilter("ignore", ConvergenceWarning)

    print("1. one fit, one bar for its epochs")
    model = fastbp.MLPClassifier(**params).set_callbacks(ProgressBar())
    model.fit(X_train, y_train)

    print("2. a grid search: the search, every fit, their epochs")
    search = GridSearchCV(
        fastbp.MLPClassifier(**params),
        {"learning_rate_init": [1e-3, 1e-2]},
        cv=3,
    ).set_callbacks(ProgressBar())
    search.fit(X_train, y_train)
    print(f"best parameters: {search.best_params_}")

    print("3. validation accuracy after every epoch")

    def validation_accuracy(estimator, X, y):
        # The scorer ignores the training rows it is handed and scores the
        # model of that epoch on the held-out digits instead.
        return accuracy_score(y_val, estimator.predict(X_val))

    monitor = ScoringMonitor(scoring={"validation accuracy": validation_accuracy})
    model = fastbp.MLPClassifier(**params).set_callbacks(monitor)
    model.fit(X_train, y_train)
    rows = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
    accuracy = [row["validation accuracy"] for row in rows]
    print(f"epochs logged: {len(accuracy)} of n_iter_ = {model.n_iter_}")
    print(f"validation accuracy after epoch 1: {accuracy[0]:.4f}")
    print(f"validation accuracy after the last epoch: {accuracy[-1]:.4f}")
    print(f"model.score on the held-out digits: {model.score(X_val, y_val):.4f}")

    plt = pyplot_or_none()
    if plt is None:
        return
    fig, loss_axis = plt.subplots(figsize=(7, 4.2))
    epochs_axis = range(1, len(accuracy) + 1)
    loss_axis.plot(
        epochs_axis, model.loss_curve_, color="tab:red", label="training loss"
    )
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("training log-loss", color="tab:red")
    accuracy_axis = loss_axis.twinx()
    accuracy_axis.plot(
        epochs_axis, accuracy, color="tab:blue", label="validation accuracy"
    )
    accuracy_axis.set_ylabel("validation accuracy (ScoringMonitor)", color="tab:blue")
    loss_axis.set_title(
        "digits, MLPClassifier(64,): one ScoringMonitor entry per epoch"
    )
    fig.tight_layout()
    path = args.outdir / "validation_accuracy.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
