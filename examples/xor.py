"""XOR with the classic 2-3-1 sigmoid network and full-batch gradient descent.

XOR (output 1 when exactly one input is 1) is the textbook problem no linear
model can solve: a hidden layer is needed.  Here 2 inputs feed 3 logistic
(sigmoid) hidden units and 1 logistic output unit.

Why ``MLPClassifier`` and not a hand loop: with ``solver='sgd'``,
``batch_size=4`` (all four samples), ``momentum=0``, ``alpha=0`` and a constant
learning rate, every epoch is exactly one plain gradient-descent step
``W <- W - 0.5 * dL/dW``, run in compiled code, and ``loss_curve_`` records the
loss for free.  The script proves that equivalence at the end: one more epoch
(``partial_fit``) lands on the same weights as one step taken by hand with
``fastbp.loss_and_gradients``.  (The low-level API is the subject of
``backprop_by_hand.py``.)  The classifier uses the cross-entropy (log) loss,
not the squared error of older textbooks: its output delta is simply a - y.

The loss curve shows the famous plateau at log 2 = 0.693 (the network answers
0.5 for everything) before it breaks symmetry and drops.  How long the plateau
lasts depends on the initial weights: ``random_state=0`` learns XOR within
3000 epochs; a few other seeds need more.

Run:  python examples/xor.py [--quick] [--outdir DIR]
"""

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

import fastbp

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = np.array([0, 1, 1, 0])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (for CI)")
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
    epochs = 3000 if args.quick else 5000
    clf = fastbp.MLPClassifier(
        hidden_layer_sizes=(3,),
        activation="logistic",
        solver="sgd",
        batch_size=4,  # the whole data set: full-batch gradient descent
        momentum=0.0,
        learning_rate_init=0.5,
        alpha=0.0,  # no L2 penalty: the plain loss
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,  # never stop early
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)

    print(f"2-3-1 sigmoid network, {clf.n_iter_} epochs of gradient descent")
    print(f"loss: first epoch {clf.loss_curve_[0]:.4f}, last {clf.loss_curve_[-1]:.4f}")
    print(" x1  x2  target  P(y=1)  predicted")
    proba = clf.predict_proba(X)[:, 1]
    for (x1, x2), target, p, pred in zip(X, y, proba, clf.predict(X), strict=True):
        print(f"{x1:3.0f} {x2:3.0f} {target:7d} {p:7.3f} {pred:10d}")
    accuracy = clf.score(X, y)
    print(f"accuracy: {accuracy:.2f}")
    print(f"learned XOR: {'yes' if accuracy == 1.0 else 'no'}")

    plt = pyplot_or_none()
    if plt is not None:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(range(1, clf.n_iter_ + 1), clf.loss_curve_, label="training loss")
        ax.axhline(np.log(2), color="tab:red", ls=":", label="log 2: P = 0.5 for all")
        ax.set(xlabel="epoch (= one gradient step)", ylabel="log-loss", yscale="log")
        ax.set_title("XOR, 2-3-1 sigmoid network, learning rate 0.5")
        ax.legend()
        args.outdir.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.outdir / "xor_loss.png", dpi=100, bbox_inches="tight")
        print(f"saved {args.outdir / 'xor_loss.png'}")

    # One more epoch == one gradient-descent step taken by hand.
    params = [a.copy() for a in clf.coefs_ + clf.intercepts_]
    net = dict(activation="logistic", out_activation="logistic", loss="log_loss")
    _, dW, db = fastbp.loss_and_gradients(X, y, clf.coefs_, clf.intercepts_, **net)
    by_hand = [a - 0.5 * g for a, g in zip(params, dW + db, strict=True)]
    clf.partial_fit(X, y)
    after = clf.coefs_ + clf.intercepts_
    gap = max(np.abs(a - b).max() for a, b in zip(by_hand, after, strict=True))
    print(
        f"one more epoch vs one step W - 0.5 * dL/dW by hand: max difference {gap:.1e}"
    )


if __name__ == "__main__":
    main()
