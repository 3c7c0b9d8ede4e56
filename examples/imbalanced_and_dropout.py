"""Class weights on an imbalanced problem, and dropout against overfitting.

Two of fastbp's opt-in parameters that scikit-learn's MLP does not have
(a model that uses them is no longer reproducible with scikit-learn's class):

1. ``class_weight="balanced"``.  A synthetic tabular problem with three
   classes in proportions 88 / 9 / 3 %.  The default fit minimises the plain
   log-loss, so it mostly learns the majority class; balanced class weights
   (n_samples / (n_classes * class count), as ``LogisticRegression`` uses
   them) make every class weigh the same in the loss.  Compared on
   **balanced accuracy** (the mean of the per-class recalls) on held-out rows.

2. ``dropout``.  A wide network (2 x 256 units) on few training rows
   overfits: its training loss keeps falling while the loss on held-out rows
   turns up.  ``fit(X, y, X_val=..., y_val=...)`` records that held-out loss
   after every epoch (``validation_loss_curve_``); with ``dropout=0.5`` on
   both hidden layers it stays lower at the end.  The picture
   ``dropout_loss_curves.png`` draws training and validation loss per epoch
   for both fits.  (The training loss with dropout is the loss of the thinned
   networks that training sees, so it sits above the plain fit's.)

Run:  python examples/imbalanced_and_dropout.py [--quick] [--outdir DIR]
"""

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

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


def imbalanced_data():
    X, y = make_classification(
        n_samples=6000,
        n_features=20,
        n_informative=6,
        n_redundant=4,
        n_classes=3,
        n_clusters_per_class=2,
        weights=[0.88, 0.09, 0.03],
        class_sep=0.8,
        random_state=0,
    )
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


def class_weight_comparison(epochs):
    X_train, X_test, y_train, y_test = imbalanced_data()
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    print(f"class counts in the training rows: {np.bincount(y_train).tolist()}")
    scores = {}
    for class_weight in (None, "balanced"):
        model = fastbp.MLPClassifier(
            hidden_layer_sizes=(32,),
            max_iter=epochs,
            class_weight=class_weight,
            random_state=0,
        ).fit(X_train, y_train)
        predicted = model.predict(X_test)
        scores[class_weight] = balanced_accuracy_score(y_test, predicted)
        recalls = recall_score(y_test, predicted, average=None)
        print(
            f"class_weight={class_weight!r:<11} balanced accuracy: "
            f"{scores[class_weight]:.3f}   per-class recall: "
            + " ".join(f"{r:.2f}" for r in recalls)
        )
    gain = scores["balanced"] - scores[None]
    print(f"balanced accuracy gained by class_weight='balanced': {gain:+.3f}")


def dropout_comparison(epochs, outdir):
    X, y = make_classification(
        n_samples=2400,
        n_features=40,
        n_informative=10,
        n_classes=4,
        flip_y=0.05,
        random_state=1,
    )
    X = StandardScaler().fit_transform(X)
    X_train, y_train = X[:400], y[:400]  # few rows: the wide network overfits
    X_val, y_val = X[400:], y[400:]
    fits = {}
    for rate in (0.0, 0.5):
        fits[rate] = fastbp.MLPClassifier(
            hidden_layer_sizes=(256, 256),
            learning_rate_init=1e-3,
            max_iter=epochs,
            dropout=rate,
            tol=0.0,
            n_iter_no_change=epochs,
            random_state=0,
        ).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    for rate, model in fits.items():
        curve = np.array(model.validation_loss_curve_)
        print(
            f"dropout={rate}: validation loss lowest {curve.min():.3f} (epoch "
            f"{curve.argmin() + 1}), last {curve[-1]:.3f}; validation accuracy "
            f"{model.score(X_val, y_val):.3f}"
        )
    last = {rate: model.validation_loss_curve_[-1] for rate, model in fits.items()}
    print(f"last validation loss, dropout 0.5 / none: {last[0.5] / last[0.0]:.3f}")

    plt = pyplot_or_none()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for rate, color in ((0.0, "tab:red"), (0.5, "tab:blue")):
        model = fits[rate]
        epochs_axis = np.arange(1, model.n_iter_ + 1)
        label = "no dropout" if rate == 0 else f"dropout={rate}"
        ax.plot(
            epochs_axis,
            model.loss_curve_,
            color=color,
            ls="--",
            label=f"{label}: training",
        )
        ax.plot(
            epochs_axis,
            model.validation_loss_curve_,
            color=color,
            label=f"{label}: validation",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("log-loss")
    ax.set_title("(256, 256) network on 400 training rows")
    ax.legend()
    fig.tight_layout()
    path = outdir / "dropout_loss_curves.png"
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None):
    args = parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        class_weight_comparison(epochs=60 if args.quick else 200)
        dropout_comparison(epochs=60 if args.quick else 150, outdir=args.outdir)


if __name__ == "__main__":
    main()
