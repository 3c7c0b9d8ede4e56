"""fastbp's own hidden activations ("leaky_relu", "elu", "gelu", "silu",
"softplus") and per-layer activation sequences, through the estimators.

Every expected value comes from a second computation: the NumPy forward pass
and losses of tests/reference.py on the fitted weights, weights drawn here
with scikit-learn's initialisation rule, an equivalent fit (fit against
partial_fit, sparse against dense, one thread against two, GridSearchCV
against MLPClassifierCV), or scikit-learn's own estimator checks.
"""

import itertools
import warnings

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from reference import FASTBP_HIDDEN_ACTIVATIONS, forward, l2_penalty, loss_value
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.utils.estimator_checks import (
    check_classifiers_train,
    check_regressors_train,
    parametrize_with_checks,
)
from test_search import _assert_same_results

import fastbp
from fastbp._activations import HIDDEN_ACTIVATIONS
from fastbp._params import build_layout
from fastbp._threads import use_threads

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NEW = FASTBP_HIDDEN_ACTIVATIONS  # ("leaky_relu", "elu", "gelu", "silu", "softplus")
ESTIMATORS = {"classifier": fastbp.MLPClassifier, "regressor": fastbp.MLPRegressor}
# float64 kernels against the NumPy twin: a few roundings per unit (exp, erf
# and log are within 1-2 ulps of NumPy's, sums are taken in another order).
# float32: the kernels compute in float32, the twin in float64.
TOLERANCES = {
    np.float64: dict(rtol=1e-12, atol=1e-14),
    np.float32: dict(rtol=1e-5, atol=1e-6),
}


def _data(rng, n=150, n_features=5, dtype=np.float64):
    """X standardised-ish, three classes and a smooth regression target."""
    X = rng.normal(size=(n, n_features))
    score = X[:, 0] + 0.5 * X[:, 1] ** 2 - X[:, 2]
    labels = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    target = np.sin(X[:, 0]) + 0.3 * X[:, 1] * X[:, 2]
    return X.astype(dtype), labels, target


def _fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def _reference_outputs(model, X, hidden=None):
    """The NumPy forward pass (float64) on the model's fitted weights."""
    hidden = model.activation if hidden is None else hidden
    as64 = [np.asarray(a, np.float64) for a in model.coefs_ + model.intercepts_]
    n = len(model.coefs_)
    _, As = forward(
        np.asarray(X, np.float64), as64[:n], as64[n:], hidden, model.out_activation_
    )
    return As[-1]


def _predicted(model, X):
    """predict_proba for a classifier, predict (2-D) for a regressor."""
    if isinstance(model, fastbp.MLPClassifier):
        return model.predict_proba(X)
    return model.predict(X).reshape(X.shape[0], -1)


def _target(kind, labels, target):
    return labels if kind == "classifier" else target


def _weights(model):
    return model.coefs_ + model.intercepts_


def _same_weights(a, b):
    return all(
        np.array_equal(u, v) for u, v in zip(_weights(a), _weights(b), strict=True)
    )


# ------------------------------------------------- 1. predictions = NumPy twin
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("activation", NEW)
def test_predictions_equal_the_numpy_forward_pass(activation, kind, solver, dtype, rng):
    X, labels, target = _data(rng, dtype=dtype)
    model = _fit(
        ESTIMATORS[kind](
            hidden_layer_sizes=(7, 4),
            activation=activation,
            solver=solver,
            max_iter=4,
            batch_size=40,
            learning_rate_init=0.05,
            random_state=0,
        ),
        X,
        _target(kind, labels, target),
    )
    assert all(c.dtype == dtype for c in _weights(model))
    expected = _reference_outputs(model, X)
    got = _predicted(model, X)
    assert got.dtype == dtype
    assert_allclose(got, expected, **TOLERANCES[dtype])
    if kind == "classifier":
        # Labels: the class of the largest probability, ties aside.
        top2 = np.sort(expected, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 1e-4
        assert clear.mean() > 0.9
        assert_array_equal(
            model.predict(X)[clear], model.classes_[expected.argmax(axis=1)][clear]
        )


@pytest.mark.parametrize("activation", NEW)
def test_binary_classifier_probabilities_equal_the_numpy_forward_pass(activation, rng):
    X, labels, _ = _data(rng)
    y = labels == 2
    model = _fit(
        fastbp.MLPClassifier(
            hidden_layer_sizes=(6,), activation=activation, max_iter=5, random_state=1
        ),
        X,
        y,
    )
    p = _reference_outputs(model, X)[:, 0]
    assert model.out_activation_ == "logistic"
    assert_allclose(model.predict_proba(X), np.column_stack([1 - p, p]), rtol=1e-12)


# ---------------------------------------------------- 2. per-layer sequences
@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("activation", NEW)
def test_a_repeated_name_is_that_name(activation, kind, rng):
    X, labels, target = _data(rng)
    y = _target(kind, labels, target)
    params = dict(hidden_layer_sizes=(6, 5), max_iter=3, random_state=0)
    single = _fit(ESTIMATORS[kind](activation=activation, **params), X, y)
    for sequence in [(activation, activation), [activation, activation]]:
        repeated = _fit(ESTIMATORS[kind](activation=sequence, **params), X, y)
        assert _same_weights(single, repeated)
        assert repeated.loss_curve_ == single.loss_curve_
        assert_array_equal(_predicted(repeated, X), _predicted(single, X))


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize(
    "sequence",
    [("gelu", "relu"), ("relu", "gelu"), ("silu", "softplus"), ("elu", "leaky_relu")],
)
def test_a_mixed_sequence_uses_each_layers_activation(sequence, kind, rng):
    X, labels, target = _data(rng)
    model = _fit(
        ESTIMATORS[kind](
            hidden_layer_sizes=(6, 5), activation=sequence, max_iter=4, random_state=0
        ),
        X,
        _target(kind, labels, target),
    )
    got = _predicted(model, X)
    assert_allclose(got, _reference_outputs(model, X, list(sequence)), rtol=1e-12)
    # The per-layer choice is visible: either single name, on the same weights,
    # predicts something else.
    for name in sequence:
        other = _reference_outputs(model, X, name)
        assert np.abs(other - got).max() > 1e-6


# ------------------------------------------------------ 3. initial weights
def _glorot_draws(random_state, layer_sizes, factors):
    """scikit-learn's initialisation, written out: for each layer in order,
    W ~ U(-r, r) of shape (fan_in, fan_out), then b ~ U(-r, r) of (fan_out,),
    r = sqrt(factor / (fan_in + fan_out)), from one RandomState."""
    rs = np.random.RandomState(random_state)
    coefs, intercepts = [], []
    for (fan_in, fan_out), factor in zip(
        itertools.pairwise(layer_sizes), factors, strict=True
    ):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
        intercepts.append(rs.uniform(-bound, bound, fan_out))
    return coefs, intercepts


# max_iter=1 with a step of 1e-300: every update is far below half an ulp of
# every weight, so the fitted weights are the initial ones to the bit.
_FROZEN = dict(max_iter=1, learning_rate_init=1e-300, shuffle=False, random_state=3)
_SIZES = (6, 4)


def _frozen_fit(cls, activation, X, y, **params):
    return _fit(
        cls(hidden_layer_sizes=_SIZES, activation=activation, **_FROZEN, **params),
        X,
        y,
    )


def _assert_weights_are(model, coefs, intercepts):
    for got, expected in zip(_weights(model), coefs + intercepts, strict=True):
        assert_array_equal(got, expected)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("activation", ["logistic", "relu"])
def test_frozen_fit_premise_with_scikit_learn(activation, solver, rng):
    """The premise of the tests below: scikit-learn's own MLP, fitted so, keeps
    exactly the weights drawn by ``_glorot_draws`` with its factor (2 for
    logistic, 6 otherwise, every layer), and so does fastbp's."""
    X, labels, _ = _data(rng)
    factor = 2.0 if activation == "logistic" else 6.0
    sizes = [X.shape[1], *_SIZES, 3]
    coefs, intercepts = _glorot_draws(_FROZEN["random_state"], sizes, [factor] * 3)
    for cls in (SklearnMLPClassifier, fastbp.MLPClassifier):
        _assert_weights_are(
            _frozen_fit(cls, activation, X, labels, solver=solver), coefs, intercepts
        )


@pytest.mark.parametrize(
    "activation",
    [*NEW, ("logistic", "relu"), ("relu", "logistic"), ("gelu", "logistic")],
    ids=str,
)
@pytest.mark.parametrize("kind", ESTIMATORS)
def test_initial_weights_use_each_layers_factor(activation, kind, rng):
    """Factor 2 for a logistic hidden layer, 6 otherwise; the output layer
    takes the last hidden layer's factor."""
    X, labels, target = _data(rng)
    names = [activation] * 2 if isinstance(activation, str) else list(activation)
    factors = [2.0 if name == "logistic" else 6.0 for name in names]
    factors.append(factors[-1])
    n_out = 3 if kind == "classifier" else 1
    sizes = [X.shape[1], *_SIZES, n_out]
    coefs, intercepts = _glorot_draws(_FROZEN["random_state"], sizes, factors)
    model = _frozen_fit(ESTIMATORS[kind], activation, X, _target(kind, labels, target))
    _assert_weights_are(model, coefs, intercepts)


def test_swapped_logistic_relu_layers_draw_as_predicted(rng):
    """("logistic", "relu") and ("relu", "logistic") draw the same uniforms
    with swapped bounds: layer 0 is sqrt(3) times wider in the second, layers
    1 and 2 sqrt(3) times narrower."""
    X, labels, _ = _data(rng)
    a = _frozen_fit(fastbp.MLPClassifier, ("logistic", "relu"), X, labels)
    b = _frozen_fit(fastbp.MLPClassifier, ("relu", "logistic"), X, labels)
    ratios = [np.sqrt(3.0), 1 / np.sqrt(3.0), 1 / np.sqrt(3.0)]
    for layer, ratio in enumerate(ratios):
        # -r + 2r u is rounded; allow a few ulps of r.
        bound = np.abs(a.coefs_[layer]).max()
        assert_allclose(b.coefs_[layer], ratio * a.coefs_[layer], atol=1e-15 * bound)
        assert_allclose(
            b.intercepts_[layer], ratio * a.intercepts_[layer], atol=1e-15 * bound
        )
        assert not np.array_equal(a.coefs_[layer], b.coefs_[layer])


# ------------------------------------------------------------------ 4. errors
@pytest.mark.parametrize("kind", ESTIMATORS)
def test_unknown_names_list_the_valid_ones(kind, rng):
    X, labels, target = _data(rng, n=30)
    y = _target(kind, labels, target)
    for activation in ["swish", ("gelu", "swish")]:
        model = ESTIMATORS[kind](hidden_layer_sizes=(4, 3), activation=activation)
        with pytest.raises(ValueError) as error:
            model.fit(X, y)
        message = str(error.value)
        assert all(repr(name) in message for name in HIDDEN_ACTIVATIONS), message
        assert "'swish'" in message, message


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("sequence", [("gelu",), ("gelu", "elu", "silu"), ()])
def test_wrong_length_sequence_says_the_lengths(sequence, kind, rng):
    X, labels, target = _data(rng, n=30)
    model = ESTIMATORS[kind](hidden_layer_sizes=(4, 3), activation=sequence)
    with pytest.raises(ValueError, match=f"has {len(sequence)} names") as error:
        model.fit(X, _target(kind, labels, target))
    assert "2 hidden layers" in str(error.value)


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("name", ["softmax", "exp"])
def test_output_only_names_are_not_hidden_activations(name, kind, rng):
    X, labels, target = _data(rng, n=30)
    y = _target(kind, labels, target)
    for activation in [name, (name,), ("relu", name)]:
        sizes = (4,) if len(activation) == 1 or isinstance(activation, str) else (4, 3)
        model = ESTIMATORS[kind](hidden_layer_sizes=sizes, activation=activation)
        with pytest.raises(ValueError, match="activation"):
            model.fit(X, y)


# -------------------------------------------------------------------- 5. paths
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("activation", ["relu", *NEW])
def test_partial_fit_calls_follow_fits_trajectory(activation, kind, solver, rng):
    """As in scikit-learn (relu included as the baseline): one partial_fit is
    one epoch, the optimizer state carries over, so k calls with
    shuffle=False are fit(max_iter=k, shuffle=False), bit for bit."""
    X, labels, target = _data(rng)
    y = _target(kind, labels, target)
    params = dict(
        hidden_layer_sizes=(6, 5),
        activation=activation,
        solver=solver,
        shuffle=False,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    )
    k = 3
    full = _fit(ESTIMATORS[kind](max_iter=k, **params), X, y)
    stepped = ESTIMATORS[kind](**params)
    extra = {"classes": np.unique(labels)} if kind == "classifier" else {}
    for _ in range(k):
        stepped.partial_fit(X, y, **extra)
    assert _same_weights(full, stepped)
    assert stepped.loss_curve_ == full.loss_curve_
    assert stepped.t_ == full.t_ == k * X.shape[0]


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("activation", ["relu", *NEW])
def test_warm_start_continues_from_the_fitted_weights(activation, kind, rng):
    """SGD without momentum at a constant rate keeps no state between epochs
    that a new fit resets, so fit(2 epochs) then warm fit(3) = fit(5)."""
    X, labels, target = _data(rng)
    y = _target(kind, labels, target)
    params = dict(
        hidden_layer_sizes=(6, 5),
        activation=activation,
        solver="sgd",
        momentum=0.0,
        shuffle=False,
        batch_size=32,
        learning_rate_init=0.05,
        random_state=0,
    )
    five = _fit(ESTIMATORS[kind](max_iter=5, **params), X, y)
    warm = _fit(ESTIMATORS[kind](max_iter=2, warm_start=True, **params), X, y)
    two = [w.copy() for w in _weights(warm)]
    warm.set_params(max_iter=3)
    _fit(warm, X, y)
    assert not all(
        np.array_equal(u, v) for u, v in zip(two, _weights(warm), strict=True)
    )
    for got, expected in zip(_weights(warm), _weights(five), strict=True):
        assert_allclose(got, expected, rtol=1e-13, atol=1e-15)
    assert_allclose(warm.loss_curve_, five.loss_curve_, rtol=1e-13)


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("activation", NEW)
def test_sparse_input_gives_the_dense_model(activation, kind, rng):
    X, labels, target = _data(rng)
    X[rng.random(X.shape) < 0.5] = 0.0
    y = _target(kind, labels, target)
    params = dict(
        hidden_layer_sizes=(6,), activation=activation, max_iter=4, random_state=0
    )
    dense = _fit(ESTIMATORS[kind](**params), X, y)
    sparse = _fit(ESTIMATORS[kind](**params), sp.csr_matrix(X), y)
    for got, expected in zip(_weights(sparse), _weights(dense), strict=True):
        assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    assert_allclose(
        _predicted(sparse, sp.csr_matrix(X)), _predicted(dense, X), rtol=1e-12
    )


@pytest.mark.parametrize("activation", NEW)
def test_early_stopping_keeps_the_best_validation_model(activation, rng):
    """The validation split is scikit-learn's (train_test_split with the
    generator after the initial draws), the scores are R^2 on it, and the
    final weights are those of the best score."""
    X, _, y = _data(rng, n=200)
    params = dict(
        hidden_layer_sizes=(6,),
        activation=activation,
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=30,
        learning_rate_init=0.05,
        random_state=4,
    )
    model = _fit(fastbp.MLPRegressor(**params), X, y)
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)
    generator = np.random.RandomState(params["random_state"])
    n_params = sum(w.size for w in _weights(model))
    generator.uniform(size=n_params)  # the initial weights' draws
    _, X_val, _, y_val = train_test_split(
        X, y, random_state=generator, test_size=model.validation_fraction
    )
    assert_allclose(
        r2_score(y_val, model.predict(X_val)), model.best_validation_score_, rtol=1e-12
    )


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("activation", NEW)
def test_lbfgs_loss_is_the_objective_at_the_final_weights(activation, kind, rng):
    X, labels, target = _data(rng, n=80)
    y = _target(kind, labels, target)
    alpha = 0.01
    model = _fit(
        ESTIMATORS[kind](
            hidden_layer_sizes=(5,),
            activation=activation,
            solver="lbfgs",
            alpha=alpha,
            max_iter=15,
            random_state=0,
        ),
        X,
        y,
    )
    if kind == "classifier":
        Y, loss = np.eye(3)[np.searchsorted(model.classes_, y)], "log_loss"
    else:
        Y, loss = y[:, None], "squared_error"
    outputs = _reference_outputs(model, X)
    expected = loss_value(loss, Y, outputs) + alpha / (2 * X.shape[0]) * l2_penalty(
        model.coefs_
    )
    assert_allclose(model.loss_, expected, rtol=1e-10)
    assert model.n_iter_ > 1


# ----------------------------------------------------------------- 6. threads
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
@pytest.mark.parametrize("activation", ["gelu", "silu", ("softplus", "elu")], ids=str)
def test_one_and_two_threads_give_the_same_bits(activation, solver):
    rs = np.random.RandomState(0)
    X = rs.randn(400, 20)
    y = np.tanh(X[:, :3]).sum(axis=1)
    hidden = (32, 16)
    # The premise: with two threads, a 400-row batch runs its row blocks in
    # parallel.
    layout = build_layout([20, *hidden, 1])[0]
    results = []
    previous = numba.get_num_threads()
    try:
        for n_threads in (1, 2):
            numba.set_num_threads(n_threads)
            assert use_threads(400, layout) == (n_threads == 2)
            model = fastbp.MLPRegressor(
                hidden_layer_sizes=hidden,
                activation=activation,
                solver=solver,
                batch_size=400,
                max_iter=3,
                random_state=0,
            )
            results.append(_fit(model, X, y))
    finally:
        numba.set_num_threads(previous)
    one, two = results
    assert _same_weights(one, two)
    # L-BFGS has no loss_curve_, as in scikit-learn.
    assert getattr(one, "loss_curve_", None) == getattr(two, "loss_curve_", None)
    assert one.loss_ == two.loss_


# ---------------------------------------------------------- 7. fused search
@pytest.mark.parametrize(
    "activation",
    ["gelu", ("silu", "leaky_relu")],
    ids=str,
)
def test_classifier_cv_equals_grid_search(activation, rng):
    X, labels, _ = _data(rng, n=120)
    params = dict(
        hidden_layer_sizes=(6, 4), activation=activation, max_iter=8, random_state=0
    )
    grid = {"learning_rate_init": [1e-3, 1e-2, 1e-1]}
    ours = fastbp.MLPClassifierCV(**params, **grid, cv=3).fit(X, labels)
    reference = GridSearchCV(fastbp.MLPClassifier(**params), grid, cv=3).fit(X, labels)
    _assert_same_results(ours, reference)
    assert_array_equal(ours.predict_proba(X), reference.predict_proba(X))


# ---------------------------------------------------- 8. estimator checks
_CHECKED = [
    fastbp.MLPClassifier(
        hidden_layer_sizes=(16,),
        activation="gelu",
        max_iter=50,
        learning_rate_init=0.01,
    ),
    fastbp.MLPRegressor(
        hidden_layer_sizes=(16,),
        activation=("silu",),
        max_iter=50,
        learning_rate_init=0.01,
    ),
]


@pytest.mark.slow
@parametrize_with_checks(_CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize(
    "activation", ["leaky_relu", "elu", "softplus", ("gelu", "silu")], ids=str
)
def test_sklearn_train_checks_for_the_other_activations(activation):
    """scikit-learn's accuracy / R^2 training checks for the remaining
    settings (the full suite above runs for gelu and ("silu",))."""
    n_hidden = 1 if isinstance(activation, str) else len(activation)
    shared = dict(
        hidden_layer_sizes=(16,) * n_hidden,
        activation=activation,
        max_iter=50,
        learning_rate_init=0.01,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_classifiers_train("MLPClassifier", fastbp.MLPClassifier(**shared))
        check_regressors_train("MLPRegressor", fastbp.MLPRegressor(**shared))
