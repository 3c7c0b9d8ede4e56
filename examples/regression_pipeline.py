"""Regression in a Pipeline: scaling + MLPRegressor, cross-validation, loss curves.

Gradient training needs features on similar scales, so the MLP sits in a
``Pipeline`` after a ``StandardScaler``: inside ``cross_val_score`` the scaler
is then fitted on each training fold only, and the validation fold never leaks
into it.  The data is scikit-learn's bundled diabetes set in its raw units
(age in years, blood pressure in mm Hg, ...; ``scaled=False``), 442 patients;
the target is a measure of disease progression after one year (25 to 346).

The picture holds two loss curves of one train/validation split, per epoch:

* training loss: ``loss_curve_``, what the estimator reports, i.e. the mean of
  1/2 (y - prediction)^2 over the epoch's minibatches, taken while the weights
  move (plus a tiny L2 penalty, alpha = 1e-4);
* validation loss: the same 1/2 (y - prediction)^2, on held-out rows, after
  each epoch.  It comes from training with ``partial_fit`` one epoch at a time.

(``early_stopping=True`` would record ``validation_scores_`` instead, but those
are R^2 scores, which cannot share an axis with a loss.)  Both curves fall
while the network learns the signal; when the validation loss stops falling
and the training loss keeps going down, further epochs only fit noise.  With
the learning rate used here (Adam, 0.03) that happens early: the lowest
validation loss comes long before the last epoch (in both the full and the
``--quick`` run), and the script prints the training loss there and at the end.

Run:  python examples/regression_pipeline.py [--quick] [--outdir DIR]
"""

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs (for CI)")
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


HIDDEN, LEARNING_RATE, ALPHA = (32,), 0.03, 1e-4


def make_model(max_iter):
    mlp = fastbp.MLPRegressor(
        hidden_layer_sizes=HIDDEN,
        learning_rate_init=LEARNING_RATE,  # Adam (the default solver)
        alpha=ALPHA,
        max_iter=max_iter,
        random_state=0,
    )
    return make_pipeline(StandardScaler(), mlp)


def main(argv=None):
    args = parse_args(argv)
    epochs = 100 if args.quick else 300
    X, y = load_diabetes(return_X_y=True, scaled=False)
    model = make_model(epochs)
    print(model)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = KFold(n_splits=5, shuffle=True, random_state=0)
        scores = cross_val_score(model, X, y, cv=cv)  # R^2 on each held-out fold
    print(f"5-fold cross-validated R^2: {scores.mean():.3f} +/- {scores.std():.3f}")
    print("per fold:", np.round(scores, 3).tolist())

    # Loss curves: one split, one epoch per partial_fit call.  (As in scikit-learn,
    # an int random_state re-seeds every call: each epoch shuffles alike.)
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    model = make_model(epochs)
    scaler, mlp = model[0].fit(X_train), model[-1]
    X_train_scaled = scaler.transform(X_train)
    n_epochs = 2 * epochs  # twice as long, to see what overtraining does
    val_loss = []
    for _ in range(n_epochs):
        mlp.partial_fit(X_train_scaled, y_train)
        val_loss.append(0.5 * np.mean((y_val - model.predict(X_val)) ** 2))
    best = int(np.argmin(val_loss))
    train_loss = mlp.loss_curve_
    print(
        f"lowest validation loss {val_loss[best]:.1f} at epoch {best + 1} of {n_epochs}"
    )
    for epoch in (best + 1, n_epochs):
        print(
            f"epoch {epoch}: training loss {train_loss[epoch - 1]:.1f}, "
            f"validation loss {val_loss[epoch - 1]:.1f}"
        )
    if best + 1 < n_epochs and train_loss[-1] < train_loss[best]:
        print(
            f"overtraining: after epoch {best + 1} the training loss keeps falling, "
            "the validation loss does not"
        )
    else:
        print(f"no overtraining within {n_epochs} epochs")

    plt = pyplot_or_none()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.5, 4))
    n = np.arange(1, n_epochs + 1)
    ax.plot(n, train_loss, label="training loss (loss_curve_)")
    ax.plot(n, val_loss, label="validation loss (held-out 25%)")
    ax.axvline(best + 1, color="gray", ls=":", label="lowest validation loss")
    ax.set(xlabel="epoch", ylabel="1/2 mean squared error", yscale="log")
    ax.set_title(
        f"diabetes: StandardScaler + MLPRegressor{HIDDEN}, Adam, lr {LEARNING_RATE}"
    )
    ax.legend()
    args.outdir.mkdir(parents=True, exist_ok=True)
    path = args.outdir / "regression_loss_curves.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
