"""Side by side: fastbp and scikit-learn fitting the same MLP on digits.

Same hyperparameters and random_state: the models agree up to rounding, and
fastbp trains faster.  Run:  python examples/quickstart.py
"""

import time
import warnings

import numpy as np
import sklearn.neural_network as sk
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastbp


def fit_and_time(estimator, X_train, y_train):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X_train, y_train)
    return time.perf_counter() - start


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    print("compiling / loading fastbp kernels ...", flush=True)
    print(
        f"  warmup took {fastbp.warmup(dtypes=('float64',)):.1f} s (once per machine)"
    )

    params = dict(hidden_layer_sizes=(64,), max_iter=50, random_state=0)
    print(f"\nMLPClassifier({params}) on digits, {X_train.shape[0]} training rows")
    print(f"{'library':<14}{'fit time':>10}{'accuracy':>10}")
    models = {}
    for name, cls in (
        ("scikit-learn", sk.MLPClassifier),
        ("fastbp", fastbp.MLPClassifier),
    ):
        model = cls(**params)
        seconds = fit_and_time(model, X_train, y_train)
        models[name] = model
        print(f"{name:<14}{seconds:>9.3f}s{model.score(X_test, y_test):>10.4f}")
    diff = max(
        np.abs(a - b).max()
        for a, b in zip(
            models["scikit-learn"].coefs_, models["fastbp"].coefs_, strict=True
        )
    )
    print(f"largest difference between the two models' weights: {diff:.1e}")


if __name__ == "__main__":
    main()
