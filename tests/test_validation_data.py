"""fastbp's validation data: ``fit(..., X_val=, y_val=, sample_weight_val=)``,
``validation_loss_curve_`` and ``early_stopping_metric='loss'``.

Expected values come from elsewhere: the validation loss from the NumPy
forward pass and losses of tests/reference.py, the stopping rule from a
plain-Python replay of scikit-learn's rule on the recorded curves, and the
default behaviour from scikit-learn itself."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from reference import forward, row_losses
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

import fastbp


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return X[:600], y[:600], X[600:900], y[600:900]


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=400, n_features=6, noise=5.0, random_state=0)
    y = y / y.std()
    return X[:300], y[:300], X[300:], y[300:]


def fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


def same_weights(a, b):
    return all(
        np.array_equal(u, v)
        for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    )


def numpy_validation_loss(model, X_val, Y_val, loss, sw=None, hidden="relu"):
    """The documented validation loss: sum_i w_i l(y_i, a_i) / sum_i w_i for
    the model's current weights, without the L2 penalty."""
    _, As = forward(
        X_val, model.coefs_, model.intercepts_, hidden, model.out_activation_
    )
    values = row_losses(loss, Y_val, As[-1])
    return np.average(values, weights=sw)


# --------------------------------------------------------- X_val recording
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_x_val_only_records_and_changes_nothing(digits, solver):
    """Without early stopping, X_val only adds validation_loss_curve_: the
    weights and loss curve are the plain fit's, bit for bit, and the last
    entry is the final model's validation loss."""
    X, y, X_val, y_val = digits
    params = dict(hidden_layer_sizes=(16,), max_iter=8, random_state=0, solver=solver)
    plain = fit(fastbp.MLPClassifier(**params), X, y)
    model = fit(fastbp.MLPClassifier(**params), X, y, X_val=X_val, y_val=y_val)
    assert same_weights(plain, model) and plain.loss_curve_ == model.loss_curve_
    assert not hasattr(plain, "validation_loss_curve_")
    assert model.validation_scores_ is None  # scikit-learn's: no early stopping
    assert len(model.validation_loss_curve_) == model.n_iter_ == 8
    assert all(type(v) is np.float64 for v in model.validation_loss_curve_)
    expected = numpy_validation_loss(model, X_val, np.eye(10)[y_val], "log_loss")
    assert_allclose(model.validation_loss_curve_[-1], expected, rtol=1e-12)


def test_each_epoch_of_the_curve(digits):
    """Entry k is the validation loss after epoch k + 1: the final model of a
    fit with max_iter = k + 1 (same seed, same batches)."""
    X, y, X_val, y_val = digits
    params = dict(hidden_layer_sizes=(8,), random_state=1)
    full = fit(
        fastbp.MLPClassifier(max_iter=5, **params), X, y, X_val=X_val, y_val=y_val
    )
    for k in (0, 2):
        short = fit(fastbp.MLPClassifier(max_iter=k + 1, **params), X, y)
        expected = numpy_validation_loss(short, X_val, np.eye(10)[y_val], "log_loss")
        assert_allclose(full.validation_loss_curve_[k], expected, rtol=1e-12)


def test_weighted_regression_and_sparse_and_float32(regression):
    X, y, X_val, y_val = regression
    sw_val = np.random.default_rng(0).uniform(0.1, 2.0, len(y_val))
    params = dict(hidden_layer_sizes=(10,), max_iter=6, random_state=0)
    model = fit(
        fastbp.MLPRegressor(**params),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
        sample_weight_val=sw_val,
    )
    expected = numpy_validation_loss(
        model, X_val, y_val[:, None], "squared_error", sw_val
    )
    assert_allclose(model.validation_loss_curve_[-1], expected, rtol=1e-12)
    sparse = fit(
        fastbp.MLPRegressor(**params),
        sp.csr_matrix(X),
        y,
        X_val=sp.csr_matrix(X_val),
        y_val=y_val,
        sample_weight_val=sw_val,
    )
    assert sparse.validation_loss_curve_ == model.validation_loss_curve_
    single = fit(
        fastbp.MLPRegressor(**params),
        X.astype(np.float32),
        y,
        X_val=X_val.astype(np.float32),
        y_val=y_val,
    )
    assert single.coefs_[0].dtype == np.float32
    plain = numpy_validation_loss(
        single, X_val, y_val[:, None], "squared_error", hidden="relu"
    )
    assert_allclose(single.validation_loss_curve_[-1], plain, rtol=1e-4)


# ------------------------------------------------- X_val with early stopping
def test_x_val_replaces_the_internal_split(digits):
    """With early stopping, X_val is the validation set and all of X trains:
    validation_scores_[k] is the accuracy on X_val of a plain fit of k + 1
    epochs on all of X."""
    X, y, X_val, y_val = digits
    params = dict(hidden_layer_sizes=(8,), random_state=0, n_iter_no_change=2)
    model = fit(
        fastbp.MLPClassifier(early_stopping=True, max_iter=30, **params),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
    )
    for k in (0, 1):
        short = fit(fastbp.MLPClassifier(max_iter=k + 1, **params), X, y)
        assert model.validation_scores_[k] == short.score(X_val, y_val)
    assert len(model.validation_scores_) == len(model.validation_loss_curve_)
    assert model.n_iter_ == len(model.validation_scores_)


def test_default_early_stopping_is_still_sklearns(digits):
    """The internal split, the scores and the weights stay scikit-learn's;
    validation_loss_curve_ is added, computed on the held-out 10%."""
    X, y, _, _ = digits
    params = dict(hidden_layer_sizes=(12,), random_state=0, early_stopping=True)
    ours = fit(fastbp.MLPClassifier(**params), X, y)
    ref = fit(SklearnMLPClassifier(**params), X, y)
    assert ours.validation_scores_ == ref.validation_scores_
    assert ours.best_validation_score_ == ref.best_validation_score_
    assert ours.n_iter_ == ref.n_iter_
    assert len(ours.validation_loss_curve_) == ours.n_iter_
    assert not hasattr(ours, "best_validation_loss_")


def replay_loss_rule(losses, tol, n_iter_no_change):
    """scikit-learn's no-improvement rule applied to minus the validation loss:
    the epoch (1-based) at which early stopping ends the fit, and the best
    epoch (first minimum)."""
    best, count = np.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        count = count + 1 if -loss < -best + tol else 0
        best = min(best, loss)
        if count > n_iter_no_change:
            return epoch, int(np.argmin(losses[:epoch])) + 1
    return len(losses), int(np.argmin(losses)) + 1


@pytest.mark.parametrize("with_x_val", [False, True], ids=["split", "X_val"])
def test_stopping_on_the_validation_loss(digits, with_x_val):
    X, y, X_val, y_val = digits
    params = dict(
        hidden_layer_sizes=(24,),
        random_state=0,
        early_stopping=True,
        early_stopping_metric="loss",
        n_iter_no_change=3,
        tol=1e-3,
        max_iter=300,
        learning_rate_init=0.01,
    )
    kwargs = dict(X_val=X_val, y_val=y_val) if with_x_val else {}
    model = fit(fastbp.MLPClassifier(**params), X, y, **kwargs)
    losses = model.validation_loss_curve_
    stop, best = replay_loss_rule(losses, 1e-3, 3)
    assert model.n_iter_ == stop < 300  # it did stop early
    assert model.best_validation_loss_ == min(losses) == losses[best - 1]
    assert model.best_validation_score_ == model.validation_scores_[best - 1]
    # The best weights are restored: their validation loss is the minimum.
    if with_x_val:
        restored = numpy_validation_loss(model, X_val, np.eye(10)[y_val], "log_loss")
        assert_allclose(restored, model.best_validation_loss_, rtol=1e-12)
    # The score metric on the same fit stops elsewhere (not a no-op switch).
    by_score = fit(
        fastbp.MLPClassifier(**{**params, "early_stopping_metric": "score"}),
        X,
        y,
        **kwargs,
    )
    assert (
        by_score.validation_loss_curve_[: model.n_iter_] == losses[: by_score.n_iter_]
    )
    assert by_score.n_iter_ != model.n_iter_


def test_warm_start_continues_the_curves(digits):
    X, y, X_val, y_val = digits
    params = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=3, warm_start=True)
    model = fit(fastbp.MLPClassifier(**params), X, y, X_val=X_val, y_val=y_val)
    first = list(model.validation_loss_curve_)
    fit(model, X, y, X_val=X_val, y_val=y_val)
    assert model.validation_loss_curve_[:3] == first
    assert len(model.validation_loss_curve_) == 6
    expected = numpy_validation_loss(model, X_val, np.eye(10)[y_val], "log_loss")
    assert_allclose(model.validation_loss_curve_[-1], expected, rtol=1e-12)


# -------------------------------------------------------------------- errors
def test_bad_validation_data(digits, regression):
    X, y, X_val, y_val = digits
    model = fastbp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2)
    for kwargs, message in [
        (dict(X_val=X_val), "X_val is provided, but y_val was not provided."),
        (dict(y_val=y_val), "y_val is provided, but X_val was not provided."),
        (dict(X_val=X_val[:, :5], y_val=y_val), "features"),
        (dict(X_val=X_val, y_val=y_val[:10]), "X_val has 300 rows but y_val has 10"),
        (dict(X_val=X_val, y_val=y_val + 20), "y_val has classes not in"),
        (
            dict(X_val=X_val, y_val=y_val, sample_weight_val=np.ones(3)),
            "sample_weight",
        ),
    ]:
        with pytest.raises(ValueError, match=message):
            fit(model, X, y, **kwargs)
    with pytest.raises(ValueError, match="solver='sgd' or 'adam'"):
        fit(fastbp.MLPClassifier(solver="lbfgs"), X, y, X_val=X_val, y_val=y_val)
    Xr, yr, Xr_val, yr_val = regression
    with pytest.raises(ValueError, match="y_val has shape"):
        fit(
            fastbp.MLPRegressor(max_iter=2),
            Xr,
            yr,
            X_val=Xr_val,
            y_val=yr_val[:, None].repeat(2, 1),
        )
    with pytest.raises(ValueError, match="NaN or infinity"):
        fit(
            fastbp.MLPRegressor(max_iter=2),
            Xr,
            yr,
            X_val=Xr_val,
            y_val=np.full(len(yr_val), np.nan),
        )
    with pytest.raises(ValueError, match="early_stopping_metric"):
        fit(fastbp.MLPClassifier(early_stopping_metric="accuracy"), X, y)


def test_inputs_are_not_modified(digits):
    X, y, X_val, y_val = digits
    copies = [a.copy() for a in (X, y, X_val, y_val)]
    sw_val = np.ones(len(y_val))
    fit(
        fastbp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, early_stopping=True),
        X,
        y,
        X_val=X_val,
        y_val=y_val,
        sample_weight_val=sw_val,
    )
    for a, b in zip((X, y, X_val, y_val), copies, strict=True):
        assert_array_equal(a, b)
    assert_array_equal(sw_val, 1.0)


def test_routed_through_a_pipeline(digits):
    """As for HistGradientBoosting: with metadata routing, a Pipeline passes
    X_val (transformed like X with transform_input) and y_val to fit."""
    from sklearn import config_context
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, X_val, y_val = digits
    params = dict(hidden_layer_sizes=(8,), max_iter=4, random_state=0)
    with config_context(enable_metadata_routing=True):
        mlp = fastbp.MLPClassifier(**params).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline(
            [("scale", StandardScaler()), ("mlp", mlp)], transform_input=["X_val"]
        )
        fit(pipe, X, y, X_val=X_val, y_val=y_val)
    scaler = StandardScaler().fit(X)
    alone = fit(
        fastbp.MLPClassifier(**params),
        scaler.transform(X),
        y,
        X_val=scaler.transform(X_val),
        y_val=y_val,
    )
    assert pipe[-1].validation_loss_curve_ == alone.validation_loss_curve_
    assert same_weights(pipe[-1], alone)


@pytest.mark.parametrize(
    "check",
    [
        "check_classifiers_train",
        "check_estimators_dtypes",
        "check_fit_idempotent",
        "check_estimators_pickle",
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
    ],
)
def test_stopping_on_the_loss_passes_scikit_learns_checks(check):
    """The estimator checks that apply to early stopping (scikit-learn's own
    MLP fails the others with it: partial_fit refuses it, tiny data sets
    cannot be split), with the fastbp-only early_stopping_metric='loss'."""
    from sklearn.utils import estimator_checks

    model = fastbp.MLPClassifier(
        hidden_layer_sizes=(16,),
        max_iter=50,
        learning_rate_init=0.01,
        early_stopping=True,
        early_stopping_metric="loss",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(estimator_checks, check)(type(model).__name__, model)
