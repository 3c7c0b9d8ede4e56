"""ONNX export (``fastbp.onnx``): onnxruntime's predictions against the model's.

Every case fits a tiny network, exports it and runs the graph in onnxruntime;
the expected values are the fitted model's own ``predict`` / ``predict_proba``
(fastbp's compiled kernels, no ONNX involved).  Labels must be equal;
probabilities and regression outputs within 1e-5 relative in float32 (a few
ulps of float32 through a handful of layers, with different exp / erf
implementations and summation orders) and 1e-12 in float64 (the double graph
computes in double, with fastbp's own erf).  "Relative" is to each output
column's largest magnitude (``assert_close``): an output near 0 is a sum of
O(1) terms that cancel, and its error is an ulp of those terms, not of itself.
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from extras import import_extra
from numpy.testing import assert_allclose, assert_array_equal
from reference import forward
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp import MLPClassifier, MLPClassifierCV, MLPRegressor, MLPRegressorCV
from fastbp._activations import HIDDEN_ACTIVATIONS

ACTIVATIONS = (*HIDDEN_ACTIVATIONS, ("gelu", "relu"), ("tanh", "silu"))
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
N_SAMPLES, N_FEATURES = 40, 4


@pytest.fixture(scope="module")
def ort():
    import_extra("skl2onnx", "onnx")
    import_extra("fastbp.onnx", "onnx")
    return import_extra("onnxruntime", "onnx")


def run(ort, onnx_model, X):
    """Every output of the graph for X (its input is named 'X')."""
    session = ort.InferenceSession(
        onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {"X": X})


def fitted(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def hidden_sizes(activation):
    return (5,) if isinstance(activation, str) else (5, 3)


def data(seed, dtype):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(dtype)
    return rng, X


# Targets per task: string labels (binary), integer labels (multiclass), a
# 0/1 indicator matrix (multilabel), one or two real outputs, counts.
def targets(task, rng, X):
    signal = X @ rng.normal(size=(N_FEATURES, 3))
    if task == "binary":
        return np.array(["no", "yes"])[(signal[:, 0] > 0).astype(int)]
    if task == "multiclass":
        return np.array([3, 5, 7])[np.argmax(signal, axis=1)]
    if task == "multilabel":
        return (signal > 0).astype(int)
    if task == "regression":
        return signal[:, 0]
    if task == "multi-output":
        return signal[:, :2]
    return rng.poisson(np.exp(0.5 * signal[:, 0]))  # counts


TASKS = ("binary", "multiclass", "multilabel", "regression", "multi-output")


def model_for(task, **params):
    params = {"max_iter": 20, "random_state": 0, **params}
    if task in ("binary", "multiclass", "multilabel"):
        return MLPClassifier(**params)
    return MLPRegressor(**params)


def assert_close(actual, expected, rtol):
    """|actual - expected| <= rtol * (the largest |expected| of its column)."""
    assert actual.shape == expected.shape
    scale = np.abs(expected).max(axis=0)
    error = np.abs(actual - expected).max(axis=0)
    assert (error <= rtol * scale).all(), (error / scale, rtol)


def assert_same_predictions(ort, model, X, onnx_model):
    """The graph's outputs against the model's predict / predict_proba."""
    outputs = run(ort, onnx_model, X)
    rtol = RTOL[X.dtype.type]
    if hasattr(model, "predict_proba"):
        label, proba = outputs
        assert_array_equal(label, model.predict(X))
        assert proba.dtype == X.dtype
        assert_close(proba, model.predict_proba(X), rtol)
    else:
        (variable,) = outputs
        assert variable.dtype == X.dtype
        expected = model.predict(X).reshape(len(X), -1)
        assert_close(variable, expected, rtol)


def test_import_fastbp_leaves_onnx_libraries_unloaded():
    """``fastbp.to_onnx`` is lazy: ``import fastbp`` loads no ONNX library."""
    root = Path(fastbp.__file__).resolve().parent.parent
    script = (
        "import sys, fastbp; "
        "print(sorted({'skl2onnx', 'onnx', 'onnxruntime'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["[]"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    "activation", ACTIVATIONS, ids=lambda a: a if isinstance(a, str) else "-".join(a)
)
@pytest.mark.parametrize("task", TASKS)
def test_onnxruntime_predicts_as_the_model(ort, task, activation, dtype, seed):
    rng, X = data(seed, dtype)
    model = model_for(task, hidden_layer_sizes=hidden_sizes(activation))
    model.set_params(activation=activation)
    fitted(model, X, targets(task, rng, X))
    assert_same_predictions(ort, model, X, fastbp.to_onnx(model, X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("loss", ["poisson", "absolute_error", "huber", "quantile"])
def test_regression_losses(ort, loss, dtype, seed):
    """poisson's exp output; the others' identity output."""
    rng, X = data(seed, dtype)
    task = "counts" if loss == "poisson" else "regression"
    model = fitted(
        MLPRegressor(loss=loss, hidden_layer_sizes=(5,), max_iter=20, random_state=0),
        X,
        targets(task, rng, X),
    )
    assert_same_predictions(ort, model, X, fastbp.to_onnx(model, X))


def test_double_graph_matches_the_numpy_twin(ort, seed):
    """Independently of fastbp's kernels: the float64 graph of a GELU / ELU /
    softplus / leaky-ReLU network against ``tests/reference.forward``
    (math.erf, np.expm1, np.log1p)."""
    rng, X = data(seed, np.float64)
    activation = ("gelu", "elu", "softplus", "leaky_relu")
    model = fitted(
        MLPRegressor(hidden_layer_sizes=(6, 5, 4, 3), activation=activation),
        X,
        targets("multi-output", rng, X),
    )
    _, As = forward(X, model.coefs_, model.intercepts_, activation, "identity")
    (variable,) = run(ort, fastbp.to_onnx(model, X), X)
    assert_close(variable, As[-1], 1e-12)


def test_float32_model_in_a_double_graph(ort, seed):
    """float32 weights, float64 input: fastbp predicts in float64, and so does
    the double graph (the weights widened exactly)."""
    rng, X32 = data(seed, np.float32)
    model = fitted(
        MLPClassifier(hidden_layer_sizes=(5,), activation="gelu", max_iter=20),
        X32,
        targets("multiclass", rng, X32),
    )
    X = X32.astype(np.float64)
    assert_same_predictions(ort, model, X, fastbp.to_onnx(model, X))


@pytest.mark.parametrize(
    "dtype,target_opset,present,absent",
    [
        (np.float32, None, {"Gelu"}, {"Erf"}),
        (np.float32, 17, {"Erf"}, {"Gelu"}),
        (np.float64, None, {"Floor", "Gather"}, {"Gelu", "Erf"}),
    ],
)
def test_gelu_ops_follow_dtype_and_opset(ort, dtype, target_opset, present, absent):
    """Gelu from opset 20, Erf below; the double graph uses neither
    (onnxruntime's CPU kernels are float-only), nor Elu, Softplus, LeakyRelu."""
    rng, X = data(0, dtype)
    activation = ("gelu", "elu", "softplus", "leaky_relu")
    model = fitted(
        MLPClassifier(hidden_layer_sizes=(3, 3, 3, 3), activation=activation),
        X,
        targets("multiclass", rng, X),
    )
    onnx_model = fastbp.to_onnx(model, X, target_opset=target_opset)
    ops = {node.op_type for node in onnx_model.graph.node}
    assert present <= ops
    assert not absent & ops
    if dtype == np.float64:
        assert not {"Elu", "Softplus", "LeakyRelu"} & ops
    assert_same_predictions(ort, model, X, onnx_model)


@pytest.mark.parametrize(
    "activation,writer",
    [("relu", "skl2onnx"), ("tanh", "skl2onnx"), ("silu", "fastbp")],
)
def test_default_activations_use_skl2onnx_converter(ort, activation, writer):
    """scikit-learn's activations go through skl2onnx's MLP converter (its
    labels come from ArrayFeatureExtractor), fastbp's through fastbp's (Gather)."""
    rng, X = data(0, np.float32)
    model = fitted(
        MLPClassifier(hidden_layer_sizes=(3,), activation=activation),
        X,
        targets("multiclass", rng, X),
    )
    ops = {node.op_type for node in fastbp.to_onnx(model, X).graph.node}
    assert ("ArrayFeatureExtractor" in ops) == (writer == "skl2onnx")


def test_dropout_is_not_exported(ort, seed):
    rng, X = data(seed, np.float32)
    model = fitted(
        MLPClassifier(hidden_layer_sizes=(6, 4), dropout=(0.3, 0.1), max_iter=20),
        X,
        targets("multiclass", rng, X),
    )
    onnx_model = fastbp.to_onnx(model, X)
    assert "Dropout" not in {node.op_type for node in onnx_model.graph.node}
    assert_same_predictions(ort, model, X, onnx_model)


@pytest.mark.parametrize("task", ["multiclass", "multi-output"])
def test_cv_estimators_export_their_best_estimator(ort, task, seed):
    rng, X = data(seed, np.float64)
    params = {"hidden_layer_sizes": (4,), "alpha": [1e-4, 1e-1], "cv": 2}
    params.update(activation="silu", max_iter=10, random_state=0)
    cv = MLPClassifierCV(**params) if task == "multiclass" else MLPRegressorCV(**params)
    fitted(cv, X, targets(task, rng, X))
    assert_same_predictions(ort, cv, X, fastbp.to_onnx(cv, X))
    skl2onnx = import_extra("skl2onnx", "onnx")
    options = {id(cv): {"zipmap": False}} if task == "multiclass" else None
    assert_same_predictions(ort, cv, X, skl2onnx.to_onnx(cv, X, options=options))


def test_plain_skl2onnx_in_a_pipeline_with_zipmap(ort, seed):
    """Registration: ``skl2onnx.to_onnx`` converts a pipeline ending in a
    fastbp classifier, with skl2onnx's default ZipMap output."""
    skl2onnx = import_extra("skl2onnx", "onnx")
    rng, X = data(seed, np.float32)
    pipe = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(5,), activation="elu")
    )
    fitted(pipe, X, targets("multiclass", rng, X))
    label, zipped = run(ort, skl2onnx.to_onnx(pipe, X), X)
    assert_array_equal(label, pipe.predict(X))
    classes = pipe[-1].classes_
    proba = np.array([[row[c] for c in classes] for row in zipped])
    # StandardScaler runs in float32 in the graph, in float64 in scikit-learn.
    assert_allclose(proba, pipe.predict_proba(X), rtol=1e-4)


@pytest.mark.parametrize(
    "model",
    [
        MLPClassifier(),
        MLPRegressor(),
        MLPClassifierCV(alpha=[1e-4, 1e-3]),
        MLPRegressorCV(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_unfitted_model_raises_not_fitted(ort, model):
    skl2onnx = import_extra("skl2onnx", "onnx")
    X = np.zeros((2, N_FEATURES), dtype=np.float32)
    with pytest.raises(NotFittedError):
        fastbp.to_onnx(model, X)
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(model, X)


@pytest.fixture
def classifier():
    rng, X = data(0, np.float32)
    return fitted(MLPClassifier(hidden_layer_sizes=(3,)), X, targets("binary", rng, X))


@pytest.mark.parametrize(
    "X_sample,error,match",
    [
        (np.zeros((2, N_FEATURES), dtype=np.int64), TypeError, "float32 or float64"),
        (sp.csr_matrix(np.ones((2, N_FEATURES))), TypeError, "dense"),
        (np.zeros((2, N_FEATURES + 1)), ValueError, r"shape \(n_samples, 4\)"),
        (np.zeros(N_FEATURES), ValueError, r"shape \(n_samples, 4\)"),
    ],
    ids=["int", "sparse", "columns", "1-D"],
)
def test_unsupported_samples_are_clear_errors(ort, classifier, X_sample, error, match):
    with pytest.raises(error, match=match):
        fastbp.to_onnx(classifier, X_sample)


def test_unsupported_models_are_clear_errors(ort, classifier):
    X = np.zeros((2, N_FEATURES), dtype=np.float32)
    with pytest.raises(TypeError, match="fastbp's estimators"):
        fastbp.to_onnx(StandardScaler().fit(X), X)
    with pytest.raises(ValueError, match="target_opset >= 13"):
        fastbp.to_onnx(classifier, X, target_opset=12)
    y = np.zeros(N_SAMPLES)
    one_class = fitted(MLPClassifier(hidden_layer_sizes=(3,)), data(0, "f4")[1], y)
    with pytest.raises(ValueError, match="one class"):
        fastbp.to_onnx(one_class, X)
    rng, X = data(0, np.float64)
    cv = fitted(
        MLPRegressorCV(hidden_layer_sizes=(3,), alpha=[1e-4, 1e-3], cv=2, refit=False),
        X,
        targets("regression", rng, X),
    )
    with pytest.raises(ValueError, match="refit=False"):
        fastbp.to_onnx(cv, X)
