"""fastbp's robust regression losses at the estimator level.

``MLPRegressor(loss=...)`` with 'absolute_error', 'huber' and 'quantile'
(fastbp only; ``fastbp/_losses.py``).  The objective, as the package documents
it, for sample weights w_i (all 1 without them) and S = sum_i w_i, is

    L = (sum_i w_i l(y_i, a_i) + alpha / 2 * sum_l ||W_l||^2) / S

with l summed over the outputs: absolute error |r|, Huber r^2 / 2 for
|r| <= delta else delta (|r| - delta / 2), pinball q r for r = y - a >= 0 and
(q - 1) r below; squared error is halved, r^2 / 2, as in scikit-learn.

Every fitted value is recomputed a second way: the objective in plain NumPy
from the published ``coefs_`` / ``intercepts_`` (``_objective`` below; the
forward pass is ``reference.forward``), an equivalent fit, or
scikit-learn's ``GridSearchCV`` / ``r2_score``.  Tolerances: 1e-10 relative
where only the summation order differs (float64 sums of <= 200 terms of
size ~1 agree to ~1e-14), bit equality where the same operations run.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from reference import forward, l2_penalty
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastbp

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ROBUST_LOSSES = ("absolute_error", "huber", "quantile")
# Huber's delta and the quantile used throughout: a delta below the typical
# residual, so that both of Huber's regimes occur, and an asymmetric quantile.
LOSS_PARAMS = {"huber": 0.5, "quantile": 0.3}
RTOL = 1e-10  # only the summation order differs (see the module docstring)
SMALL = dict(hidden_layer_sizes=(5,), activation="tanh", random_state=0)


def _params(loss):
    """MLPRegressor keywords for ``loss`` and its parameter."""
    extra = {}
    if loss == "huber":
        extra["huber_delta"] = LOSS_PARAMS["huber"]
    elif loss == "quantile":
        extra["quantile"] = LOSS_PARAMS["quantile"]
    return dict(loss=loss, **extra)


def _row_losses(loss, Y, A, huber_delta=1.0, quantile=0.5):
    """l(y_i, a_i) summed over outputs, written from the docstring's table."""
    R = Y - A
    if loss == "squared_error":
        values = 0.5 * R**2
    elif loss == "absolute_error":
        values = np.abs(R)
    elif loss == "huber":
        size = np.abs(R)
        values = np.where(
            size <= huber_delta,
            0.5 * size**2,
            huber_delta * (size - 0.5 * huber_delta),
        )
    elif loss == "quantile":
        values = np.where(R >= 0, quantile * R, (quantile - 1.0) * R)
    else:
        raise ValueError(loss)
    return values.sum(axis=1)


def _outputs(model, X):
    """The network's output for X by the NumPy forward pass, float64."""
    coefs = [np.asarray(W, dtype=np.float64) for W in model.coefs_]
    intercepts = [np.asarray(b, dtype=np.float64) for b in model.intercepts_]
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    return forward(X, coefs, intercepts, model.activation, "identity")[1][-1]


def _objective(model, X, y, sample_weight=None, penalty=True):
    """The model's objective at its published weights, in NumPy.

    ``penalty=False``: the data term only (what validation losses report).
    """
    Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
    A = _outputs(model, X)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    S = w.sum()
    values = _row_losses(model.loss, Y, A, model.huber_delta, model.quantile)
    data_term = (w * values).sum() / S
    if not penalty:
        return data_term
    coefs = [np.asarray(W, dtype=np.float64) for W in model.coefs_]
    return data_term + 0.5 * model.alpha * l2_penalty(coefs) / S


def _data(rng, n=60, n_features=3, n_outputs=1, noise=0.5):
    """Standard-normal X, a smooth signal plus Gaussian noise."""
    X = rng.normal(size=(n, n_features))
    w = rng.normal(size=(n_features, n_outputs))
    Y = np.tanh(X @ w) + X[:, :1] * 0.5 + noise * rng.normal(size=(n, n_outputs))
    return X, (Y.ravel() if n_outputs == 1 else Y)


def _one_batch(**params):
    """A stochastic model whose epoch is ONE full batch, in row order, that
    never stops early: epoch k starts from the weights of a fit with
    ``max_iter=k``."""
    return dict(
        batch_size=10_000,  # clipped to n_samples (with a warning: filtered)
        shuffle=False,
        tol=0.0,
        n_iter_no_change=10_000,
        **params,
    )


def _ignore_expected_warnings():
    """Inside catch_warnings: max_iter in the units rarely converges, and
    ``_one_batch``'s batch size is clipped to n_samples on purpose."""
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.filterwarnings("ignore", message="Got `batch_size`")


def _fit(X, y, sample_weight=None, **params):
    with warnings.catch_warnings():
        _ignore_expected_warnings()
        return fastbp.MLPRegressor(**params).fit(X, y, sample_weight=sample_weight)


# ----------------------------------------------------------------------------
# 1. L-BFGS: loss_ is the objective at the fitted weights
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss", ("squared_error", *ROBUST_LOSSES))
def test_lbfgs_loss_is_the_numpy_objective(loss, weighted, rng):
    X, y = _data(rng)
    sw = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    model = _fit(X, y, sw, **SMALL, **_params(loss), solver="lbfgs", alpha=0.3)
    assert model.n_iter_ > 1
    assert_allclose(model.loss_, _objective(model, X, y, sw), rtol=RTOL)
    if loss == "huber":  # both regimes of the loss are exercised
        size = np.abs(y - _outputs(model, X).ravel())
        assert (size <= LOSS_PARAMS["huber"]).any()
        assert (size > LOSS_PARAMS["huber"]).any()


# ----------------------------------------------------------------------------
# 2. SGD / Adam: loss_curve_[k] is the objective before update k + 1
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("loss", ("squared_error", *ROBUST_LOSSES))
def test_one_batch_loss_curve_is_the_objective_of_earlier_weights(
    loss, solver, weighted, rng
):
    # loss_curve_[k] averages the batch losses of epoch k + 1, each taken at
    # the weights BEFORE that batch's update.  With one full batch per epoch
    # it is the whole objective at the weights after k epochs, which a fit
    # with max_iter=k publishes (k >= 1; the initial weights are not
    # published).  squared_error checks the premise itself.
    X, y = _data(rng, n=40)
    sw = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    params = _one_batch(
        **SMALL, **_params(loss), solver=solver, alpha=0.2, learning_rate_init=0.05
    )
    n_epochs = 5
    full = _fit(X, y, sw, **params, max_iter=n_epochs)
    assert full.n_iter_ == n_epochs
    for k in range(1, n_epochs):
        earlier = _fit(X, y, sw, **params, max_iter=k)
        assert_allclose(
            full.loss_curve_[k],
            _objective(earlier, X, y, sw),
            rtol=RTOL,
            err_msg=str(k),
        )
    # The curve moved: a check of a constant curve would prove nothing.
    assert len(set(full.loss_curve_)) == n_epochs


# ----------------------------------------------------------------------------
# 3. Robustness to outliers
# ----------------------------------------------------------------------------


def test_robust_losses_ignore_outliers(rng):
    n = 200
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    clean = 2.0 * X[:, 0] - X[:, 1]
    y = clean + 0.05 * rng.normal(size=n)
    outliers = rng.choice(n, size=10, replace=False)  # 5 % of the rows
    y[outliers] += 50.0
    errors = {}
    for loss in ("squared_error", "absolute_error", "huber"):
        model = _fit(
            X,
            y,
            loss=loss,
            hidden_layer_sizes=(8,),
            activation="tanh",
            solver="lbfgs",
            max_iter=300,
            random_state=0,
        )
        errors[loss] = np.median(np.abs(model.predict(X) - clean))
    # Squared error shifts its fit towards the outliers (the mean of y moves
    # by 0.05 * 50 = 2.5, and the net bends towards them); the robust losses stay near the clean signal.
    assert errors["squared_error"] > 0.3, errors
    assert errors["absolute_error"] < 0.25 * errors["squared_error"], errors
    assert errors["huber"] < 0.25 * errors["squared_error"], errors


# ----------------------------------------------------------------------------
# 4. Quantiles
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.1, 0.9])
def test_quantile_fraction_below_predictions(q, rng):
    # At a minimum of the pinball loss the derivative in the output intercept
    # (never penalised by alpha) vanishes: (1 - q) n_below - q n_above = 0 up
    # to the rows fitted exactly (ties, at most ~the number of parameters,
    # 26 here, out of 400).  So the fraction of targets below the prediction is
    # q up to the ties and the optimizer's inexactness: 0.04 allows both, and
    # is ~2.7 binomial standard deviations sqrt(q (1 - q) / n) = 0.015 of a
    # *true* conditional quantile, so a model that missed the level would fail.
    n = 400
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = X[:, 0] + (0.5 + 0.5 * (X[:, 1] > 0)) * rng.normal(size=n)
    model = _fit(
        X,
        y,
        loss="quantile",
        quantile=q,
        hidden_layer_sizes=(5,),
        activation="tanh",
        solver="lbfgs",
        max_iter=500,
        random_state=0,
    )
    below = np.mean(y < model.predict(X))
    assert abs(below - q) < 0.04, below


def test_median_quantile_is_half_the_absolute_error(rng):
    # pinball_0.5(r) = |r| / 2 exactly, so quantile(0.5) with alpha has half
    # the objective, hence half the gradient, of absolute_error with 2 alpha;
    # SGD with learning rate lr then takes exactly the steps of
    # absolute_error with lr / 2.  Scaling by a power of two is exact in
    # binary floating point, so the two fits agree bit for bit.
    X, y = _data(rng)
    common = _one_batch(**SMALL, solver="sgd", max_iter=8, momentum=0.5)
    quantile = _fit(
        X, y, **common, loss="quantile", quantile=0.5, alpha=0.1, learning_rate_init=0.1
    )
    absolute = _fit(
        X, y, **common, loss="absolute_error", alpha=0.2, learning_rate_init=0.05
    )
    for got, expected in zip(
        quantile.coefs_ + quantile.intercepts_,
        absolute.coefs_ + absolute.intercepts_,
        strict=True,
    ):
        assert_array_equal(got, expected)
    assert_array_equal(quantile.loss_curve_, 0.5 * np.asarray(absolute.loss_curve_))


# ----------------------------------------------------------------------------
# 5. Huber's limits
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_huge_huber_delta_is_squared_error(solver, rng):
    # With delta beyond every residual, Huber's loss is r^2 / 2 and its
    # derivative a - y, the same float64 operations as squared error's (the
    # chain rule multiplies by the identity's derivative, exactly 1): the
    # fits are bit-identical.
    X, y = _data(rng)
    params = dict(**SMALL, solver=solver, max_iter=30, alpha=0.01)
    huber = _fit(X, y, **params, loss="huber", huber_delta=1e6)
    squared = _fit(X, y, **params, loss="squared_error")
    for got, expected in zip(
        huber.coefs_ + huber.intercepts_,
        squared.coefs_ + squared.intercepts_,
        strict=True,
    ):
        assert_array_equal(got, expected)
    assert huber.loss_ == squared.loss_
    assert huber.n_iter_ == squared.n_iter_


def test_tiny_huber_delta_is_scaled_absolute_error(rng):
    # Beyond delta, Huber's derivative is delta * sign(a - y): while every
    # residual exceeds delta, SGD on Huber with learning rate lr (alpha 0)
    # takes exactly absolute_error's steps with lr * delta.  delta = 2^-6:
    # an exact power-of-two scaling, so the fits agree bit for bit, and the
    # losses are delta * |r| - delta^2 / 2 per row.  Targets of either sign
    # beyond 4 in size keep every residual of the small net's outputs (~1)
    # far beyond delta at every step.
    X, _ = _data(rng)
    y = rng.choice([-1.0, 1.0], X.shape[0]) * (
        4.0 + np.abs(rng.normal(size=X.shape[0]))
    )
    delta = 2.0**-6
    common = _one_batch(**SMALL, solver="sgd", max_iter=6, momentum=0.0, alpha=0.0)
    huber = _fit(
        X, y, **common, loss="huber", huber_delta=delta, learning_rate_init=0.05 / delta
    )
    absolute = _fit(X, y, **common, loss="absolute_error", learning_rate_init=0.05)
    assert np.abs(y - _outputs(huber, X).ravel()).min() > delta
    for got, expected in zip(
        huber.coefs_ + huber.intercepts_,
        absolute.coefs_ + absolute.intercepts_,
        strict=True,
    ):
        assert_array_equal(got, expected)
    assert_allclose(
        huber.loss_curve_,
        delta * np.asarray(absolute.loss_curve_) - 0.5 * delta**2,
        rtol=RTOL,
    )


# ----------------------------------------------------------------------------
# 6. Parameter validation
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(loss="huber", huber_delta=0.0), "huber_delta"),
        (dict(loss="huber", huber_delta=-1.0), "huber_delta"),
        (dict(loss="quantile", quantile=0.0), "quantile"),
        (dict(loss="quantile", quantile=1.0), "quantile"),
        (dict(loss="quantile", quantile=1.5), "quantile"),
        (dict(loss="hinge"), "loss"),
        # Checked whatever the loss, as scikit-learn checks every parameter.
        (dict(loss="squared_error", huber_delta=-1.0), "huber_delta"),
        (dict(loss="absolute_error", quantile=2.0), "quantile"),
    ],
)
def test_invalid_loss_parameters_raise(params, name, rng):
    X, y = _data(rng, n=10)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        fastbp.MLPRegressor(**params, max_iter=1).fit(X, y)
    assert issubclass(InvalidParameterError, ValueError)


@pytest.mark.parametrize(
    "loss, unused",
    [
        ("squared_error", dict(huber_delta=0.3, quantile=0.2)),
        ("absolute_error", dict(huber_delta=0.3, quantile=0.2)),
        ("huber", dict(quantile=0.2)),
        ("quantile", dict(huber_delta=0.3)),
    ],
)
def test_other_losses_ignore_huber_delta_and_quantile(loss, unused, rng):
    X, y = _data(rng)
    params = dict(**SMALL, solver="adam", max_iter=5, learning_rate_init=0.05)
    default = _fit(X, y, **params, loss=loss)
    other = _fit(X, y, **params, loss=loss, **unused)
    for got, expected in zip(other.coefs_, default.coefs_, strict=True):
        assert_array_equal(got, expected)
    assert_array_equal(other.loss_curve_, default.loss_curve_)


def test_the_loss_parameter_matters(rng):
    # ... while for their own loss they change the model (so the test above
    # compares fits that could differ).
    X, y = _data(rng)
    params = dict(**SMALL, solver="adam", max_iter=5, learning_rate_init=0.05)
    for loss, name, value in (
        ("huber", "huber_delta", 0.3),
        ("quantile", "quantile", 0.2),
    ):
        default = _fit(X, y, **params, loss=loss)
        other = _fit(X, y, **params, loss=loss, **{name: value})
        assert not np.array_equal(other.coefs_[0], default.coefs_[0]), loss


# ----------------------------------------------------------------------------
# 7. Paths: float32, sparse, partial_fit, several outputs, validation data
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ROBUST_LOSSES)
def test_float32_fit_follows_float64(loss, rng):
    # quantile 0.25, not 0.3: with q and 1 - q exact binary fractions, a
    # gradient that is exactly 0 in exact arithmetic (as many rows above as
    # q / (1 - q) balances) is exactly 0 in both dtypes.  With q = 0.3 it is
    # a rounding residue, ~1e-17 in float64 but ~1e-8 in float32, which Adam's
    # m / (sqrt(v) + 1e-8) turns into a step of ~lr / 2: the float32 fit then
    # legitimately moves ~1e-3 away (measured on 3 of 30 seeds).
    X, y = _data(rng)
    params = dict(**SMALL, **_params(loss), solver="adam", max_iter=10)
    if loss == "quantile":
        params["quantile"] = 0.25
    params["learning_rate_init"] = 0.01
    single = _fit(X.astype(np.float32), y.astype(np.float32), **params)
    double = _fit(X, y, **params)
    assert all(W.dtype == np.float32 for W in single.coefs_ + single.intercepts_)
    pred = single.predict(X.astype(np.float32))
    assert pred.dtype == np.float32
    # float32 rounding (~1e-7 relative) over 10 Adam steps of size 0.01:
    # measured at most 6e-7 over 30 seeds, while the steps themselves move the
    # predictions by more than 0.5.
    moved = np.abs(
        double.predict(X) - _fit(X, y, **{**params, "max_iter": 1}).predict(X)
    )
    assert moved.max() > 0.1
    assert_allclose(pred, double.predict(X), atol=2e-5)


@pytest.mark.parametrize("loss", ROBUST_LOSSES)
def test_sparse_csr_equals_dense(loss, rng):
    X, y = _data(rng)
    X[np.abs(X) < 0.7] = 0.0  # about half the entries
    params = dict(**SMALL, **_params(loss), solver="adam", max_iter=10)
    dense = _fit(X, y, **params, learning_rate_init=0.01)
    sparse = _fit(sp.csr_matrix(X), y, **params, learning_rate_init=0.01)
    for got, expected in zip(sparse.coefs_, dense.coefs_, strict=True):
        assert_allclose(got, expected, rtol=1e-10, atol=1e-13)
    assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), rtol=1e-10)
    assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("loss", ROBUST_LOSSES)
def test_partial_fit_steps_like_fit(loss, rng):
    # Each partial_fit is one epoch (here one full batch): two calls equal a
    # fit with max_iter=2, and the second call's loss_ is the objective at
    # the weights left by the first.
    X, y = _data(rng)
    params = _one_batch(**SMALL, **_params(loss), solver="sgd", alpha=0.1)
    params["learning_rate_init"] = 0.05
    model = fastbp.MLPRegressor(**params)
    with warnings.catch_warnings():
        _ignore_expected_warnings()
        model.partial_fit(X, y)
        first = _objective(model, X, y)
        model.partial_fit(X, y)
    assert_allclose(model.loss_, first, rtol=RTOL)
    reference = _fit(X, y, **params, max_iter=2)
    for got, expected in zip(
        model.coefs_ + model.intercepts_,
        reference.coefs_ + reference.intercepts_,
        strict=True,
    ):
        assert_array_equal(got, expected)


@pytest.mark.parametrize("loss", ROBUST_LOSSES)
def test_two_outputs_sum_the_losses(loss, rng):
    X, Y = _data(rng, n_outputs=2)
    sw = rng.uniform(0.2, 3.0, X.shape[0])
    params = dict(**SMALL, **_params(loss), solver="lbfgs", max_iter=50, alpha=0.1)
    model = _fit(X, Y, **params)
    assert model.n_outputs_ == 2
    assert model.predict(X).shape == Y.shape
    assert_allclose(model.loss_, _objective(model, X, Y), rtol=RTOL)
    weighted = _fit(X, Y, sw, **params)
    assert_allclose(weighted.loss_, _objective(weighted, X, Y, sw), rtol=RTOL)
    assert_allclose(model.predict(X), _outputs(model, X), rtol=1e-12, atol=1e-12)


def test_validation_curves_are_recomputed_from_each_epoch(rng):
    # early_stopping with X_val / y_val trains on all of X; with one full
    # batch per epoch, epoch k's weights are those of a fit with max_iter=k
    # (without early stopping, which would restore the best weights).
    # validation_scores_[k - 1] is then R^2 (score()) of those weights on
    # X_val, and validation_loss_curve_[k - 1] their data term on X_val.
    X, y = _data(rng, n=60)
    X_val, y_val = _data(rng, n=30)
    n_epochs = 6
    params = _one_batch(
        **SMALL, **_params("huber"), solver="adam", alpha=0.1, learning_rate_init=0.05
    )
    with warnings.catch_warnings():
        _ignore_expected_warnings()
        stopped = fastbp.MLPRegressor(
            **params, max_iter=n_epochs, early_stopping=True
        ).fit(X, y, X_val=X_val, y_val=y_val)
    assert stopped.n_iter_ == n_epochs
    assert len(stopped.validation_scores_) == n_epochs
    assert len(stopped.validation_loss_curve_) == n_epochs
    scores, losses = [], []
    for k in range(1, n_epochs + 1):
        epoch = _fit(X, y, **params, max_iter=k)
        scores.append(r2_score(y_val, _outputs(epoch, X_val).ravel()))
        losses.append(_objective(epoch, X_val, y_val, penalty=False))
    assert_allclose(stopped.validation_scores_, scores, rtol=RTOL)
    assert_allclose(stopped.validation_loss_curve_, losses, rtol=RTOL)
    # The kept weights are those of the best-scoring epoch.
    best = int(np.argmax(scores)) + 1
    kept = _fit(X, y, **params, max_iter=best)
    for got, expected in zip(stopped.coefs_, kept.coefs_, strict=True):
        assert_array_equal(got, expected)


def test_internal_validation_split_curves(rng):
    # Without X_val, early stopping holds out the rows that scikit-learn's
    # MLP holds out: train_test_split(arange(n), test_size=0.1) with the
    # estimator's RandomState(random_state) after the initial weights drew
    # from it (one uniform array per W, then per b, layer by layer).  A fit
    # on the remaining rows (same layer shapes: the same initial weights)
    # with max_iter=k then has epoch k's weights.
    X, y = _data(rng, n=80)
    n_epochs = 4
    params = _one_batch(
        **SMALL, **_params("quantile"), solver="adam", learning_rate_init=0.05
    )
    with warnings.catch_warnings():
        _ignore_expected_warnings()
        stopped = fastbp.MLPRegressor(
            **params, max_iter=n_epochs, early_stopping=True
        ).fit(X, y)
    random_state = np.random.RandomState(SMALL["random_state"])
    for W in stopped.coefs_:
        random_state.uniform(size=W.shape)
        random_state.uniform(size=W.shape[1])
    train, val = train_test_split(
        np.arange(X.shape[0]), random_state=random_state, test_size=0.1
    )
    scores, losses = [], []
    for k in range(1, n_epochs + 1):
        epoch = _fit(X[train], y[train], **params, max_iter=k)
        scores.append(r2_score(y[val], _outputs(epoch, X[val]).ravel()))
        losses.append(_objective(epoch, X[val], y[val], penalty=False))
    assert_allclose(stopped.validation_scores_, scores, rtol=RTOL)
    assert_allclose(stopped.validation_loss_curve_, losses, rtol=RTOL)


# ----------------------------------------------------------------------------
# 8. MLPRegressorCV equals GridSearchCV
# ----------------------------------------------------------------------------


def _assert_same_search(ours, reference, n_splits):
    for k in range(n_splits):
        key = f"split{k}_test_score"
        assert_array_equal(ours.cv_results_[key], reference.cv_results_[key], key)
    assert_array_equal(
        ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"]
    )
    assert ours.best_params_ == reference.best_params_


@pytest.mark.parametrize(
    "fixed, grid, loss_param",
    [
        (dict(loss="huber"), {"learning_rate_init": [1e-3, 1e-2, 1e-1]}, None),
        (
            dict(loss="huber", huber_delta=0.3),
            {"learning_rate_init": [1e-2, 1e-1]},
            "huber_delta",
        ),
        (dict(loss="quantile", quantile=0.2), {"alpha": [1e-4, 1.0]}, "quantile"),
    ],
    ids=["huber", "huber-delta", "quantile"],
)
def test_cv_equals_grid_search(fixed, grid, loss_param, rng):
    X, y = _data(rng, n=90)
    params = dict(**SMALL, **fixed, max_iter=8)
    cv = KFold(3)
    ours = fastbp.MLPRegressorCV(**params, **grid, cv=cv).fit(X, y)
    reference = GridSearchCV(fastbp.MLPRegressor(**params), grid, cv=cv).fit(X, y)
    _assert_same_search(ours, reference, 3)
    assert_array_equal(ours.predict(X), reference.predict(X))
    if loss_param is not None:
        # The fixed parameter reaches the models: its default scores otherwise.
        default = {k: v for k, v in params.items() if k != loss_param}
        other = fastbp.MLPRegressorCV(**default, **grid, cv=cv).fit(X, y)
        assert not np.array_equal(
            other.cv_results_["split0_test_score"],
            ours.cv_results_["split0_test_score"],
        )


@pytest.mark.parametrize(
    "name, values", [("huber_delta", [0.5, 1.0]), ("quantile", [0.2, 0.8])]
)
def test_cv_does_not_search_loss_parameters(name, values, rng):
    # They change the loss, not only the optimizer or the penalty, so the
    # fused search refuses lists of them (GridSearchCV searches them).
    X, y = _data(rng, n=30)
    loss = "huber" if name == "huber_delta" else "quantile"
    search = fastbp.MLPRegressorCV(loss=loss, **{name: values}, max_iter=2, cv=3)
    with pytest.raises(ValueError, match=f"cannot search '{name}'"):
        search.fit(X, y)


# ----------------------------------------------------------------------------
# 9. scikit-learn's estimator checks
# ----------------------------------------------------------------------------


@pytest.mark.slow
@parametrize_with_checks(
    [
        fastbp.MLPRegressor(
            loss="huber", hidden_layer_sizes=(16,), max_iter=50, learning_rate_init=0.01
        ),
        fastbp.MLPRegressor(
            loss="quantile",
            hidden_layer_sizes=(16,),
            max_iter=50,
            learning_rate_init=0.01,
        ),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        _ignore_expected_warnings()
        check(estimator)
