"""fastbp.hidden_activations: a fitted model's hidden layers as features,
against the NumPy forward pass of its coefs_ / intercepts_ (tests/reference.py)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from reference import forward
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

import fastbp

ACTIVATIONS = ("gelu", "relu", "softplus")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def fitted(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.fixture(scope="module")
def model(digits):
    return fitted(
        fastbp.MLPClassifier(
            hidden_layer_sizes=(20, 10, 7),
            activation=ACTIVATIONS,
            max_iter=5,
            random_state=0,
        ),
        *digits,
    )


@pytest.mark.parametrize("layer", [0, 1, 2, -1, -2, -3])
def test_each_layer_is_the_numpy_forward_pass(model, digits, layer):
    X, _ = digits
    _, expected = forward(X, model.coefs_, model.intercepts_, ACTIVATIONS, "softmax")
    got = fastbp.hidden_activations(model, X, layer=layer)
    assert got.shape == (X.shape[0], model.hidden_layer_sizes[layer])
    assert got.dtype == np.float64
    assert_allclose(got, expected[layer % 3], rtol=1e-12, atol=1e-14)


def test_last_hidden_layer_feeds_the_output(model, digits):
    """The default layer=-1, pushed through the output layer by hand, gives
    predict_proba."""
    X, _ = digits
    H = fastbp.hidden_activations(model, X)
    Z = H @ model.coefs_[-1] + model.intercepts_[-1]
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    assert_allclose(
        E / E.sum(axis=1, keepdims=True), model.predict_proba(X), rtol=1e-12
    )


def test_sparse_and_regressor_and_float32(digits):
    X, y = digits
    reg = fitted(
        fastbp.MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0),
        X.astype(np.float32),
        y.astype(float),
    )
    assert reg.coefs_[0].dtype == np.float32
    dense = fastbp.hidden_activations(reg, X.astype(np.float32))
    assert dense.dtype == np.float32
    assert_array_equal(
        fastbp.hidden_activations(reg, sp.csr_matrix(X, dtype=np.float32)), dense
    )
    _, expected = forward(
        X.astype(np.float64),
        [c.astype(np.float64) for c in reg.coefs_],
        [b.astype(np.float64) for b in reg.intercepts_],
        "relu",
        "identity",
    )
    assert_allclose(dense, expected[0], rtol=1e-5, atol=1e-6)


def test_cv_estimator_uses_its_refitted_model(digits):
    X, y = digits
    search = fitted(
        fastbp.MLPClassifierCV(
            hidden_layer_sizes=(8,),
            max_iter=3,
            learning_rate_init=[1e-3, 1e-2],
            cv=2,
            random_state=0,
        ),
        X,
        y,
    )
    assert_array_equal(
        fastbp.hidden_activations(search, X),
        fastbp.hidden_activations(search.best_estimator_, X),
    )
    no_refit = fitted(clone(search).set_params(refit=False), X, y)
    with pytest.raises(ValueError, match="refit=False"):
        fastbp.hidden_activations(no_refit, X)


def test_bad_calls(model, digits):
    X, y = digits
    for layer in (3, -4):
        with pytest.raises(ValueError, match=r"must be in \[-3, 2\]"):
            fastbp.hidden_activations(model, X, layer=layer)
    for layer in (1.0, True, "0"):
        with pytest.raises(TypeError, match="layer must be an integer"):
            fastbp.hidden_activations(model, X, layer=layer)
    with pytest.raises(NotFittedError):
        fastbp.hidden_activations(fastbp.MLPClassifier(), X)
    with pytest.raises(NotFittedError):
        fastbp.hidden_activations(fastbp.MLPClassifierCV(), X)
    sk = fitted(SklearnMLPClassifier(hidden_layer_sizes=(4,), max_iter=2), X, y)
    with pytest.raises(TypeError, match="fastbp MLPClassifier"):
        fastbp.hidden_activations(sk, X)
    with pytest.raises(ValueError, match="features"):
        fastbp.hidden_activations(model, X[:, :10])
    no_hidden = fitted(
        fastbp.MLPClassifier(hidden_layer_sizes=(), max_iter=2, random_state=0), X, y
    )
    with pytest.raises(ValueError, match="0 hidden layers"):
        fastbp.hidden_activations(no_hidden, X)


def test_input_is_not_modified(model, digits):
    X, _ = digits
    X_copy = X.copy()
    fastbp.hidden_activations(model, X)
    assert_array_equal(X, X_copy)
