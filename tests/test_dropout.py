"""Dropout (``dropout=p`` or one rate per hidden layer): inverted dropout on
the hidden layers during SGD / Adam training, masks from a counter-based hash.

Every kernel result is checked against the NumPy twin in ``reference.py``,
whose masks are computed with Python integers (not the kernels' uint64
arithmetic); the gradient under a fixed mask against central differences;
the estimator's first steps against the twin's SGD step.
"""

import pickle
import warnings

import numpy as np
import pytest
from reference import (
    dropout_factors,
    dropout_keep,
    forward,
    loss_and_gradients,
    pack,
    random_network,
    unpack,
)
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier, MLPClassifierCV, MLPRegressor
from fastbp._activations import ACTIVATION_CODES
from fastbp._dropout import EPOCH, apply_dropout_inplace
from fastbp._losses import LOSS_CODES
from fastbp._params import build_layout
from fastbp._plan import dense_source, make_network, make_plan
from fastbp._propagate import loss_and_grad_into

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=120, seed=0):
    X, y = make_classification(
        n_samples=n, n_features=6, n_informative=4, n_classes=3, random_state=seed
    )
    return StandardScaler().fit_transform(X), y


def _same_model(a, b):
    return all(
        np.array_equal(p, q)
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    )


# ------------------------------------------------------------------ masks
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5, 0.9])
def test_mask_and_scale_equal_the_twin(rate, dtype, rng):
    seed = int(rng.integers(0, 2**63))
    epoch, layer = int(rng.integers(0, 10**6)), int(rng.integers(0, 4))
    rows = rng.integers(0, 5000, 40).astype(np.int64)
    M = rng.normal(size=(40, 13)).astype(dtype)
    got = M.copy()
    key = np.array([seed, epoch], dtype=np.uint64)
    apply_dropout_inplace(got, rows, key, layer, rate)
    factors = dropout_factors(seed, epoch, layer, rows, 13, rate, dtype)
    np.testing.assert_array_equal(got, np.where(factors > 0, M * factors, 0))


def test_keep_rate_and_independence():
    """Over 400 000 units the keep rate is 1 - p within 5 standard
    deviations, per layer and per column; masks of other layers, epochs and
    rows are different draws (their agreement is that of independent ones)."""
    rate, n_rows, n_units = 0.3, 8000, 50
    rows = np.arange(n_rows, dtype=np.int64)
    masks = {}
    for layer, epoch in ((0, 0), (1, 0), (0, 1)):
        ones = np.ones((n_rows, n_units))
        apply_dropout_inplace(
            ones, rows, np.array([12345, epoch], dtype=np.uint64), layer, rate
        )
        kept = ones != 0
        sigma = np.sqrt(rate * (1 - rate) / kept.size)
        assert abs(kept.mean() - (1 - rate)) < 5 * sigma
        per_column = kept.mean(axis=0)
        assert np.all(
            np.abs(per_column - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / n_rows)
        )
        np.testing.assert_array_equal(ones[kept], 1 / (1 - rate))
        masks[layer, epoch] = kept
    both_kept = (1 - rate) ** 2 + rate**2  # agreement of independent masks
    for a, b in (((0, 0), (1, 0)), ((0, 0), (0, 1))):
        agreement = np.mean(masks[a] == masks[b])
        assert abs(agreement - both_kept) < 5 * np.sqrt(
            both_kept * (1 - both_kept) / masks[a].size
        )
    # Neighbouring rows and units are not correlated.
    m = masks[0, 0].astype(float)
    for shifted in (
        np.corrcoef(m[1:].ravel(), m[:-1].ravel())[0, 1],
        np.corrcoef(m[:, 1:].ravel(), m[:, :-1].ravel())[0, 1],
    ):
        assert abs(shifted) < 5 / np.sqrt(m.size)


def test_python_integer_twin_is_the_definition():
    """The twin's hash, spelled out once more by hand for one unit."""
    mask = (1 << 64) - 1

    def fin(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    def step(key, counter):
        return fin((key + 0x9E3779B97F4A7C15 * (counter + 1)) & mask)

    seed, epoch, layer, row, unit, rate = 987654321, 42, 1, 17, 5, 0.5
    x = step(step(step(step(seed, epoch), layer), row), unit)
    expected = (x >> 11) >= int(rate * 2**53)
    assert dropout_keep(seed, epoch, layer, [row], unit + 1, rate)[0, unit] == expected


# ------------------------------------------------------ loss and gradient
CASES = [
    (("relu", "relu"), (0.3, 0.5)),
    (("tanh", "logistic"), (0.0, 0.4)),
    (("gelu", "relu"), (0.25, 0.0)),  # GELU keeps Z; relu above it keeps A
    (("silu", "softplus"), (0.2, 0.6)),
]


def _plan_with_dropout(rng, hidden, rates, dtype, seed, epoch, n_rows=37):
    sizes = (5, 9, 7, 3)
    coefs, intercepts = random_network(rng, sizes)
    theta = pack(coefs, intercepts).astype(dtype)
    X = rng.normal(size=(n_rows + 5, 5)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n_rows + 5)]
    layout, _, _ = build_layout(sizes)
    codes = (
        [ACTIVATION_CODES[name] for name in hidden],
        ACTIVATION_CODES["softmax"],
        LOSS_CODES["log_loss"],
    )
    network = make_network(theta, layout, codes, 0.1)
    rows = rng.integers(0, n_rows + 5, n_rows).astype(np.int64)
    plan = make_plan(
        dense_source(X),
        Y,
        np.empty(0, dtype),
        network,
        n_rows,
        False,
        dropout=(np.array(rates), seed),
    )
    plan.work.drop_key[EPOCH] = epoch
    return plan, sizes, X, Y, rows


def _twin_factors(seed, epoch, rows, sizes, rates):
    return [
        dropout_factors(seed, epoch, layer, rows, sizes[layer + 1], rate)
        if rate > 0
        else None
        for layer, rate in enumerate(rates)
    ]


@pytest.mark.parametrize(("hidden", "rates"), CASES, ids=str)
def test_loss_and_gradient_equal_the_twin(hidden, rates, rng):
    seed, epoch = 2024, 7
    plan, sizes, X, Y, rows = _plan_with_dropout(
        rng, hidden, rates, np.float64, seed, epoch
    )
    L, _ = loss_and_grad_into(plan, rows)
    coefs, intercepts = unpack(plan.network.theta.copy(), sizes)
    L_ref, gW, gb = loss_and_gradients(
        X[rows],
        Y[rows],
        coefs,
        intercepts,
        list(hidden),
        "softmax",
        "log_loss",
        alpha=0.1,
        dropout=_twin_factors(seed, epoch, rows, sizes, rates),
    )
    assert L == pytest.approx(L_ref, rel=1e-12)
    np.testing.assert_allclose(plan.work.grad, pack(gW, gb), rtol=1e-10, atol=1e-14)
    # The factors changed the loss (the test could fail).
    L_plain, _, _ = loss_and_gradients(
        X[rows], Y[rows], coefs, intercepts, list(hidden), "softmax", "log_loss", 0.1
    )
    assert L != pytest.approx(L_plain, rel=1e-6)


@pytest.mark.parametrize(("hidden", "rates"), CASES, ids=str)
def test_gradient_under_a_fixed_mask_is_the_derivative(hidden, rates, rng):
    """Central differences of the loss (the mask depends on no weight)."""
    plan, *_, rows = _plan_with_dropout(rng, hidden, rates, np.float64, 99, 3)
    theta = plan.network.theta
    loss_and_grad_into(plan, rows)
    grad = plan.work.grad.copy()
    h = 1e-6
    for p in rng.choice(theta.size, 25, replace=False):
        saved = theta[p]
        theta[p] = saved + h
        up, _ = loss_and_grad_into(plan, rows)
        theta[p] = saved - h
        down, _ = loss_and_grad_into(plan, rows)
        theta[p] = saved
        assert (up - down) / (2 * h) == pytest.approx(grad[p], rel=1e-5, abs=1e-8)


# ------------------------------------------------------------- estimators
def test_zero_dropout_is_no_dropout_bit_for_bit():
    X, y = _data()
    params = dict(hidden_layer_sizes=(8, 6), max_iter=8, random_state=0)
    plain = MLPClassifier(**params).fit(X, y)
    for zero in (0.0, (0.0, 0.0), [0, 0]):
        model = MLPClassifier(**params, dropout=zero).fit(X, y)
        assert _same_model(model, plain)
        assert model.loss_curve_ == plain.loss_curve_


def test_first_epochs_are_the_twins_sgd_steps():
    """Full-batch SGD without momentum or shuffling: each epoch is theta <-
    theta - lr grad, with the twin's gradient under the masks of (the
    model's seed, t_ at the epoch's start, row i) for rows 0..n-1."""
    X, y = _data(60)
    Y = np.eye(3)[y]
    rates = (0.3, 0.5)
    params = dict(
        hidden_layer_sizes=(8, 6),
        solver="sgd",
        momentum=0.0,
        learning_rate_init=0.1,
        batch_size=60,
        shuffle=False,
        max_iter=1,
        random_state=0,
        dropout=rates,
    )
    model = MLPClassifier(**params).fit(X, y)
    sizes = (6, 8, 6, 3)
    rows = np.arange(60)
    for _ in range(2):
        theta = pack(model.coefs_, model.intercepts_)
        t = model.t_
        L, gW, gb = loss_and_gradients(
            X,
            Y,
            *unpack(theta, sizes),
            "relu",
            "softmax",
            "log_loss",
            alpha=model.alpha,
            dropout=_twin_factors(model._dropout_seed, t, rows, sizes, rates),
        )
        model.set_params(warm_start=True).fit(X, y)
        assert model.t_ == t + 60
        np.testing.assert_allclose(
            pack(model.coefs_, model.intercepts_),
            theta - 0.1 * pack(gW, gb),
            rtol=1e-12,
            atol=1e-15,
        )
        assert model.loss_curve_[-1] == pytest.approx(L, rel=1e-12)


def test_same_seed_same_model_other_seed_other_model():
    X, y = _data()
    params = dict(hidden_layer_sizes=(16,), max_iter=5, dropout=0.3)
    a = MLPClassifier(**params, random_state=3).fit(X, y)
    b = MLPClassifier(**params, random_state=3).fit(X, y)
    c = MLPClassifier(**params, random_state=4).fit(X, y)
    assert _same_model(a, b) and a.loss_curve_ == b.loss_curve_
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    # Dropout changed the training (against the same random_state without it).
    plain = MLPClassifier(**{**params, "dropout": 0.0}, random_state=3).fit(X, y)
    assert a.loss_curve_ != plain.loss_curve_


def test_predict_uses_every_unit():
    X, y = _data()
    model = MLPClassifier(
        hidden_layer_sizes=(16, 8), max_iter=5, dropout=0.5, random_state=0
    ).fit(X, y)
    _, As = forward(X, model.coefs_, model.intercepts_, "relu", "softmax")
    np.testing.assert_allclose(model.predict_proba(X), As[-1], rtol=1e-12)
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(X))


def test_pickled_model_resumes_identically():
    X, y = _data(200)
    params = dict(hidden_layer_sizes=(16,), dropout=0.25, random_state=0, batch_size=50)
    straight = MLPClassifier(**params)
    resumed = MLPClassifier(**params)
    for call in range(4):
        straight.partial_fit(X, y, classes=[0, 1, 2])
        if call < 2:
            resumed.partial_fit(X, y, classes=[0, 1, 2])
        elif call == 2:
            resumed = pickle.loads(pickle.dumps(resumed))
            resumed.partial_fit(X, y)
        else:
            resumed.partial_fit(X, y)
    assert _same_model(straight, resumed)


def test_per_layer_rates_and_regressor():
    X, _ = _data()
    target = X[:, 0] - X[:, 1] ** 2
    model = MLPRegressor(
        hidden_layer_sizes=(12, 6), dropout=(0.0, 0.4), max_iter=5, random_state=0
    )
    model.fit(X, target)
    other = MLPRegressor(
        hidden_layer_sizes=(12, 6), dropout=(0.4, 0.0), max_iter=5, random_state=0
    )
    other.fit(X, target)
    assert not np.array_equal(model.coefs_[0], other.coefs_[0])
    assert np.isfinite(model.loss_curve_).all()


def test_cv_estimator_equals_grid_search():
    X, y = _data()
    params = dict(
        hidden_layer_sizes=(8, 4), max_iter=6, random_state=0, dropout=(0.2, 0.1)
    )
    grid = {"learning_rate_init": [1e-3, 1e-2]}
    ours = MLPClassifierCV(**params, **grid, cv=3).fit(X, y)
    reference = GridSearchCV(MLPClassifier(**params), grid, cv=3).fit(X, y)
    for k in range(3):
        key = f"split{k}_test_score"
        np.testing.assert_array_equal(ours.cv_results_[key], reference.cv_results_[key])
    assert ours.best_params_ == reference.best_params_
    assert _same_model(ours.best_estimator_, reference.best_estimator_)


def test_early_stopping_and_validation_loss_with_dropout():
    """The validation loss is the plain network's (no masks) after each epoch."""
    X, y = _data(200)
    model = MLPClassifier(
        hidden_layer_sizes=(16,), dropout=0.3, max_iter=4, tol=0, random_state=0
    ).fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    proba = model.predict_proba(X[150:])
    expected = -np.mean(np.log(proba[np.arange(50), y[150:]]))
    assert model.validation_loss_curve_[-1] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(solver="lbfgs", dropout=0.2), "dropout needs solver='sgd' or 'adam'"),
        (dict(dropout=1.0), "The 'dropout' parameter of MLPClassifier must be"),
        (dict(dropout=-0.1), "The 'dropout' parameter of MLPClassifier must be"),
        (dict(dropout=(0.1, 0.2, 0.3)), "dropout has 3 rates but the network has 2"),
        (dict(dropout=(0.1, 1.5)), r"dropout rates must be real numbers in \[0, 1\)"),
        (dict(dropout=(0.1, "a")), r"dropout rates must be real numbers in \[0, 1\)"),
    ],
)
def test_bad_dropout_is_a_clear_error(params, message):
    X, y = _data()
    with pytest.raises(ValueError, match=message):
        MLPClassifier(hidden_layer_sizes=(4, 3), max_iter=2, **params).fit(X, y)


def test_user_arrays_are_not_modified():
    X, y = _data()
    rates = [0.2, 0.3]
    X_copy, rates_copy = X.copy(), list(rates)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden_layer_sizes=(4, 3), max_iter=2, dropout=rates).fit(X, y)
    np.testing.assert_array_equal(X, X_copy)
    assert rates == rates_copy
