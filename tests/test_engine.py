"""The compiled fit loop (``fastbp._training``) seen from the estimators.

Each test compares fastbp with scikit-learn run on the same data in the same
test, or with fastbp itself run another way (one epoch per compiled call
instead of slices): the expected values are never typed in.
"""

import io
import os
import subprocess
import sys
import textwrap
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
import sklearn.neural_network as sk
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp import _training

ESTIMATORS = {
    "Classifier": (fastbp.MLPClassifier, sk.MLPClassifier),
    "Regressor": (fastbp.MLPRegressor, sk.MLPRegressor),
}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16, y[:400]


def _fit_both(kind, X, y, **params):
    ours_cls, ref_cls = ESTIMATORS[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ours_cls(**params).fit(X, y), ref_cls(**params).fit(X, y)


def _value_type(value):
    """The type of an attribute, and of its elements for lists."""
    if isinstance(value, list):
        return ("list", tuple(sorted({type(v).__name__ for v in value})))
    return type(value).__name__


@pytest.mark.parametrize("kind", ["Classifier", "Regressor"])
@pytest.mark.parametrize(
    "params",
    [
        {"solver": "adam"},
        {"solver": "sgd", "early_stopping": True},
        {"solver": "lbfgs"},
    ],
    ids=["adam", "sgd-early-stopping", "lbfgs"],
)
def test_fitted_attributes_have_sklearns_types(kind, params, digits):
    """Every fitted attribute scikit-learn sets has the same Python type
    (np.float64 losses, float scores, int counters, lists of np.float64)."""
    X, y = digits
    if kind == "Regressor":
        y = y.astype(float)
    ours, ref = _fit_both(
        kind, X, y, hidden_layer_sizes=(8,), max_iter=5, random_state=0, **params
    )
    names = [n for n in vars(ref) if n.endswith("_") and not n.startswith("_")]
    assert "loss_" in names and "n_iter_" in names
    for name in names:
        if name in ("coefs_", "intercepts_"):
            continue  # lists of arrays (views of the flat buffer in fastbp)
        assert _value_type(getattr(ours, name)) == _value_type(getattr(ref, name)), name


def test_huge_inputs_fail_as_in_sklearn():
    """X = finfo.max * U(0, 1): the products overflow.  scikit-learn raises
    its non-finite-weights error for adam and sgd, and for lbfgs stops after
    0 iterations with a nan loss and a ConvergenceWarning; fastbp does the
    same (Adam's subnormal flush used to turn the NaN moments into zeros, so
    fastbp trained to a constant model)."""
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.uniform(size=10)
    for solver in ("adam", "sgd"):
        for cls in (sk.MLPRegressor, fastbp.MLPRegressor):
            with (
                pytest.raises(ValueError, match="non-finite parameter weights"),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore")
                cls(solver=solver, random_state=0).fit(X, y)
    results = {}
    for cls in (sk.MLPRegressor, fastbp.MLPRegressor):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = cls(solver="lbfgs", random_state=0).fit(X, y)
        convergence = [w for w in caught if w.category is ConvergenceWarning]
        results[cls] = (
            model.n_iter_,
            np.isnan(model.loss_),
            str(convergence[0].message),
        )
    assert results[sk.MLPRegressor] == results[fastbp.MLPRegressor]


def test_overflow_inside_the_network_is_silent_but_trains_the_same(digits):
    """X * 1e300: scikit-learn's NumPy warns "overflow encountered in square"
    and both train to the same, flat loss.  fastbp's compiled kernels do not
    report IEEE overflow of intermediate values (README: Differences)."""
    X, y = digits
    X = X * 1e300
    curves = {}
    for cls in (sk.MLPClassifier, fastbp.MLPClassifier):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = cls(hidden_layer_sizes=(8,), max_iter=4, random_state=0).fit(X, y)
        overflow = [w for w in caught if "overflow" in str(w.message)]
        curves[cls] = (model.loss_curve_, len(overflow) > 0)
    np.testing.assert_allclose(
        curves[fastbp.MLPClassifier][0], curves[sk.MLPClassifier][0], rtol=1e-10
    )
    assert curves[sk.MLPClassifier][1] and not curves[fastbp.MLPClassifier][1]


VERBOSE_CASES = {
    "adaptive": dict(
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.5,
        n_iter_no_change=2,
        tol=0.05,
        max_iter=12,
    ),
    "converged": dict(solver="adam", n_iter_no_change=2, tol=0.05, max_iter=30),
    "early-stopping": dict(
        solver="sgd", early_stopping=True, n_iter_no_change=2, tol=0.05, max_iter=30
    ),
    "invscaling": dict(solver="sgd", learning_rate="invscaling", max_iter=4),
}


@pytest.mark.parametrize("case", sorted(VERBOSE_CASES))
def test_verbose_prints_sklearns_lines_byte_for_byte(case, digits):
    X, y = digits
    outputs = []
    for cls in (sk.MLPClassifier, fastbp.MLPClassifier):
        buffer = io.StringIO()
        with redirect_stdout(buffer), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            cls(
                hidden_layer_sizes=(16,),
                random_state=0,
                verbose=True,
                **VERBOSE_CASES[case],
            ).fit(X, y)
        outputs.append(buffer.getvalue())
    assert outputs[0].count("\n") >= 4
    assert outputs[1] == outputs[0]


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam"),
        dict(solver="sgd", learning_rate="adaptive", n_iter_no_change=3, tol=0.05),
        dict(solver="sgd", learning_rate="invscaling"),
        dict(solver="adam", early_stopping=True),
    ],
    ids=["adam", "adaptive", "invscaling", "early-stopping"],
)
def test_slicing_never_changes_a_result(params, digits, monkeypatch):
    """Slices of ~50 ms and slices of one epoch give the same bits."""
    X, y = digits
    models = []
    for slice_seconds in (_training.SLICE_SECONDS, 0.0):
        monkeypatch.setattr(_training, "SLICE_SECONDS", slice_seconds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models.append(
                fastbp.MLPClassifier(
                    hidden_layer_sizes=(8,), max_iter=40, random_state=0, **params
                ).fit(X, y)
            )
    a, b = models
    assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_
    assert a.loss_curve_ == b.loss_curve_
    assert a.best_loss_ == b.best_loss_ or a.best_loss_ is b.best_loss_ is None
    assert a.validation_scores_ == b.validation_scores_
    for W_a, W_b in zip(
        a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(W_a, W_b)


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import os, signal, threading, time, warnings
    import numpy as np
    import fastbp
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20000, 20)); y = X[:, 0] + np.sin(X[:, 1])
    fastbp.warmup(("float64",), jobs=("stochastic", "forward"))
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastbp.MLPRegressor(hidden_layer_sizes=(64,), max_iter=100000, tol=0.0,
                                    n_iter_no_change=10**9, random_state=0).fit(X, y)
    elapsed = time.perf_counter() - start
    messages = [str(w.message) for w in caught]
    assert "Training interrupted by user." in messages, messages
    assert 0 < model.n_iter_ < 100000 and len(model.loss_curve_) == model.n_iter_
    assert model.t_ == model.n_iter_ * 20000
    assert np.isfinite(model.predict(X[:5])).all()
    print("OK", elapsed)
    """
)


def test_ctrl_c_stops_a_long_compiled_fit():
    """SIGINT from a timer during a long fit (a subprocess, as a user's
    Ctrl-C): scikit-learn's warning, a consistent, usable model, no hang."""
    result = subprocess.run(
        [sys.executable, "-c", CTRL_C_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NUMBA_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    elapsed = float(result.stdout.split()[-1])
    assert elapsed < 30, elapsed  # stopped within a slice, not after 100000 epochs


def test_regressor_early_stopping_matches_sklearn_step_by_step():
    """Weighted R^2 early stopping: the same validation scores, epochs and
    restored best weights as scikit-learn."""
    X, y = make_regression(n_samples=300, n_features=6, noise=5.0, random_state=0)
    y = (y - y.mean()) / y.std()
    w = np.random.RandomState(1).uniform(0.5, 2.0, size=300)
    models = []
    for cls in (sk.MLPRegressor, fastbp.MLPRegressor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            models.append(
                cls(
                    hidden_layer_sizes=(10,),
                    early_stopping=True,
                    n_iter_no_change=3,
                    max_iter=200,
                    random_state=0,
                    learning_rate_init=0.01,
                ).fit(X, y, sample_weight=w)
            )
    ref, ours = models
    assert ours.n_iter_ == ref.n_iter_ < 200
    np.testing.assert_allclose(
        ours.validation_scores_, ref.validation_scores_, rtol=1e-9
    )
    for W_a, W_b in zip(ours.coefs_, ref.coefs_, strict=True):
        np.testing.assert_allclose(W_a, W_b, rtol=1e-9, atol=1e-12)
