"""Same random_state => same model as scikit-learn.

fastbp draws its initial weights, epoch shuffles and validation split from
``random_state`` exactly as scikit-learn 1.9 does, and uses scikit-learn's
update rules, schedules and stopping rules.  So every test here fits
scikit-learn's MLP and fastbp's with the same parameters and data, and the
expected values are simply scikit-learn's.

Tolerances (float64), relative to the largest entry of each array:

* ``STOCHASTIC_RTOL = 1e-8`` for SGD / Adam.  The only difference is the
  summation order inside matrix products (row blocks vs. BLAS), ~1e-16 per
  operation, which a few epochs amplify to ~1e-14; 1e-8 leaves wide room while
  any real difference (a missed momentum term, a different shuffle, an
  off-by-one in a schedule) shows up at 1e-3 or more.
* ``LBFGS_RTOL = 1e-6``.  L-BFGS amplifies rounding more (curvature pairs,
  line search); observed ~1e-13 after 30 iterations.

float32 fits compare with ``FLOAT32_RTOL = 1e-4``: float32 rounding (~6e-8)
accumulated over the epochs, and scikit-learn computes part of its Adam step in
float64.
"""

import functools
import itertools

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.base import is_classifier
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_linnerud,
    make_multilabel_classification,
)
from sklearn.preprocessing import StandardScaler

import fastbp

pytestmark = [
    pytest.mark.parity,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

STOCHASTIC_RTOL = 1e-8
LBFGS_RTOL = 1e-6
FLOAT32_RTOL = 1e-4
ACTIVATIONS = ("identity", "logistic", "tanh", "relu")


# ---------------------------------------------------------------- datasets
def _standardize(X):
    return StandardScaler().fit_transform(X)


@functools.cache
def _dataset(name):
    """(X, y), X standardized; y standardized for squared-error regression."""
    if name == "iris":
        X, y = load_iris(return_X_y=True)
    elif name == "iris_strings":
        data = load_iris()
        X, y = data.data, data.target_names[data.target]
    elif name == "digits":
        X, y = load_digits(return_X_y=True)
    elif name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    elif name == "multilabel":
        X, y = make_multilabel_classification(
            n_samples=120, n_features=8, n_classes=4, random_state=0
        )
    elif name == "diabetes":
        X, y = load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()
    elif name == "diabetes_counts":
        # Poisson loss: non-negative targets with mean 1.
        X, y = load_diabetes(return_X_y=True)
        y = y / y.mean()
    elif name == "linnerud":
        X, y = load_linnerud(return_X_y=True)
        y = _standardize(y)
    else:
        raise KeyError(name)
    return _standardize(X), y


def dataset(name):
    X, y = _dataset(name)
    return X.copy(), y.copy()


def estimators(kind, **params):
    """(fastbp's, scikit-learn's) unfitted estimators with the same params."""
    return getattr(fastbp, kind)(**params), getattr(sk, kind)(**params)


# -------------------------------------------------------------- assertions
def assert_arrays_close(ours, ref, rtol, what):
    assert len(ours) == len(ref), what
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert a.shape == b.shape, f"{what}[{i}]: {a.shape} != {b.shape}"
        scale = float(np.max(np.abs(b))) if b.size else 0.0
        np.testing.assert_allclose(
            a, b, rtol=rtol, atol=rtol * scale, err_msg=f"{what}[{i}]"
        )


def _close_or_none(ours, ref, rtol, what):
    if ref is None:
        assert ours is None, what
    else:
        np.testing.assert_allclose(ours, ref, rtol=rtol, err_msg=what)


def assert_same_model(ours, ref, rtol, compare_loss=True):
    """Weights, counters and curves of two fitted MLPs agree."""
    assert_arrays_close(ours.coefs_, ref.coefs_, rtol, "coefs_")
    assert_arrays_close(ours.intercepts_, ref.intercepts_, rtol, "intercepts_")
    for attr in (
        "n_iter_",
        "t_",
        "n_layers_",
        "n_outputs_",
        "out_activation_",
        "n_features_in_",
    ):
        assert getattr(ours, attr) == getattr(ref, attr), attr
    if is_classifier(ref):
        np.testing.assert_array_equal(ours.classes_, ref.classes_)
    if compare_loss:
        np.testing.assert_allclose(ours.loss_, ref.loss_, rtol=rtol, err_msg="loss_")
    if ref.solver in ("sgd", "adam"):
        if compare_loss:
            np.testing.assert_allclose(
                ours.loss_curve_, ref.loss_curve_, rtol=rtol, err_msg="loss_curve_"
            )
            _close_or_none(ours.best_loss_, ref.best_loss_, rtol, "best_loss_")
        _close_or_none(
            ours.validation_scores_, ref.validation_scores_, rtol, "validation_scores_"
        )
        _close_or_none(
            ours.best_validation_score_,
            ref.best_validation_score_,
            rtol,
            "best_validation_score_",
        )


def assert_same_predictions(ours, ref, X, rtol):
    if is_classifier(ref):
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
        proba = ref.predict_proba(X)
        np.testing.assert_allclose(
            ours.predict_proba(X), proba, rtol=rtol, atol=rtol * np.abs(proba).max()
        )
    else:
        pred = ref.predict(X)
        np.testing.assert_allclose(
            ours.predict(X), pred, rtol=rtol, atol=rtol * np.abs(pred).max()
        )


def fit_both(kind, X, y, fit_params=None, **params):
    ours, ref = estimators(kind, **params)
    fit_params = fit_params or {}
    ours.fit(X, y, **fit_params)
    ref.fit(X, y, **fit_params)
    return ours, ref


# ------------------------------------------------- same seed, same model
# batch_size=32 does not divide iris' 150 rows (last batch: 22 rows); the
# digits case uses batch_size='auto' = 200, which does not divide 1797 either.
STOCHASTIC_CASES = [
    *[
        ("MLPClassifier", "iris", dict(solver=s, activation=a, batch_size=32))
        for s in ("sgd", "adam")
        for a in ACTIVATIONS
    ],
    ("MLPClassifier", "iris", dict(hidden_layer_sizes=(6, 4), activation="tanh")),
    ("MLPClassifier", "iris", dict(hidden_layer_sizes=())),  # no hidden layer
    ("MLPClassifier", "iris", dict(hidden_layer_sizes=7, n_iter_no_change=np.inf)),
    ("MLPClassifier", "iris_strings", dict(solver="sgd", batch_size=20)),
    # digits: big enough batches (200 x 2368 multiply-adds) for parallel row
    # blocks, when Numba has more than one thread.
    ("MLPClassifier", "digits", dict(hidden_layer_sizes=(32,), max_iter=3)),
    ("MLPClassifier", "breast_cancer", dict(solver="sgd", activation="logistic")),
    ("MLPClassifier", "multilabel", dict(solver="adam", batch_size=50)),
    ("MLPClassifier", "multilabel", dict(solver="sgd", activation="tanh")),
    ("MLPRegressor", "diabetes", dict(solver="adam", activation="relu")),
    ("MLPRegressor", "diabetes", dict(solver="sgd", activation="tanh", batch_size=64)),
    ("MLPRegressor", "diabetes", dict(solver="sgd", activation="identity")),
    (
        "MLPRegressor",
        "diabetes_counts",
        dict(loss="poisson", solver="sgd", activation="logistic", batch_size=50),
    ),
    ("MLPRegressor", "diabetes_counts", dict(loss="poisson", solver="adam")),
]


def _case_id(case):
    kind, data, params = case
    return "-".join([kind[3:], data, *(f"{k}={v}" for k, v in params.items())])


@pytest.mark.parametrize(
    "kind, data, params", STOCHASTIC_CASES, ids=[_case_id(c) for c in STOCHASTIC_CASES]
)
def test_same_seed_same_model_stochastic(kind, data, params, seed):
    X, y = dataset(data)
    params = dict(
        dict(hidden_layer_sizes=(5,), learning_rate_init=0.01, max_iter=8), **params
    )
    ours, ref = fit_both(kind, X, y, random_state=seed, **params)
    assert ref.n_iter_ == params["max_iter"]  # all epochs ran: nothing stopped early
    assert_same_model(ours, ref, STOCHASTIC_RTOL)
    assert_same_predictions(ours, ref, X, STOCHASTIC_RTOL)


LBFGS_CASES = [
    *[("MLPClassifier", "iris", dict(activation=a)) for a in ACTIVATIONS],
    ("MLPClassifier", "iris_strings", dict(hidden_layer_sizes=(4, 3))),
    ("MLPClassifier", "iris", dict(hidden_layer_sizes=[])),
    ("MLPClassifier", "digits", dict(hidden_layer_sizes=(16,), max_iter=10)),
    ("MLPClassifier", "breast_cancer", dict(activation="tanh")),
    ("MLPClassifier", "multilabel", dict(activation="logistic")),
    ("MLPRegressor", "diabetes", dict(activation="tanh")),
    ("MLPRegressor", "diabetes", dict(activation="relu", alpha=1.0)),
    ("MLPRegressor", "diabetes_counts", dict(loss="poisson")),
]


@pytest.mark.parametrize(
    "kind, data, params", LBFGS_CASES, ids=[_case_id(c) for c in LBFGS_CASES]
)
def test_same_seed_same_model_lbfgs(kind, data, params, seed):
    X, y = dataset(data)
    params = dict(dict(hidden_layer_sizes=(6,), max_iter=25), **params)
    ours, ref = fit_both(kind, X, y, solver="lbfgs", random_state=seed, **params)
    assert_same_model(ours, ref, LBFGS_RTOL)
    assert_same_predictions(ours, ref, X, LBFGS_RTOL)


# ------------------------------------------------------------ SGD variants
@pytest.mark.parametrize(
    "params",
    [
        dict(nesterovs_momentum=True),
        dict(nesterovs_momentum=False),
        dict(momentum=0.0),
        dict(momentum=0.5, nesterovs_momentum=False),
        dict(learning_rate="invscaling", learning_rate_init=0.5, power_t=0.25),
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()),
)
def test_sgd_momentum_and_schedules(params, seed):
    X, y = dataset("iris")
    ours, ref = fit_both(
        "MLPClassifier",
        X,
        y,
        **dict(
            dict(
                hidden_layer_sizes=(5,),
                solver="sgd",
                learning_rate_init=0.05,
                batch_size=32,
                max_iter=8,
                random_state=seed,
            ),
            **params,
        ),
    )
    assert_same_model(ours, ref, STOCHASTIC_RTOL)
    assert_same_predictions(ours, ref, X, STOCHASTIC_RTOL)


@pytest.mark.parametrize(
    "kind, data", [("MLPClassifier", "iris"), ("MLPRegressor", "diabetes")]
)
def test_sgd_adaptive_learning_rate(kind, data, seed):
    # tol=1.0: no epoch ever improves the loss by 1, so every
    # n_iter_no_change + 1 = 3 epochs the rate is divided by 5.
    X, y = dataset(data)
    ours, ref = fit_both(
        kind,
        X,
        y,
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate="adaptive",
        learning_rate_init=0.05,
        tol=1.0,
        n_iter_no_change=2,
        batch_size=40,
        max_iter=10,
        random_state=seed,
    )
    # The schedule was exercised: scikit-learn's rate was divided three times.
    assert ref._optimizer.learning_rate == pytest.approx(0.05 / 5**3)
    assert_same_model(ours, ref, STOCHASTIC_RTOL)
    assert_same_predictions(ours, ref, X, STOCHASTIC_RTOL)


def test_stopping_on_training_loss(seed):
    # Large tol: training stops after n_iter_no_change + 1 epochs without a
    # tol improvement, well before max_iter.
    X, y = dataset("iris")
    ours, ref = fit_both(
        "MLPClassifier",
        X,
        y,
        hidden_layer_sizes=(5,),
        tol=0.5,
        n_iter_no_change=2,
        max_iter=50,
        random_state=seed,
    )
    assert ref.n_iter_ < 50
    assert_same_model(ours, ref, STOCHASTIC_RTOL)


# --------------------------------------------------------- early stopping
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize(
    "kind, data",
    [
        ("MLPClassifier", "iris"),
        ("MLPClassifier", "multilabel"),
        ("MLPRegressor", "diabetes"),
    ],
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_early_stopping(kind, data, solver, weighted, seed):
    X, y = dataset(data)
    fit_params = {}
    if weighted:
        fit_params["sample_weight"] = np.random.default_rng(seed).uniform(
            0.2, 3.0, X.shape[0]
        )
    ours, ref = fit_both(
        kind,
        X,
        y,
        fit_params,
        hidden_layer_sizes=(5,),
        solver=solver,
        learning_rate_init=0.05,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=2,
        tol=0.05,
        max_iter=40,
        random_state=seed,
    )
    assert ref.n_iter_ < 40  # early stopping did stop the fit
    assert len(ref.validation_scores_) == ref.n_iter_
    assert_same_model(ours, ref, STOCHASTIC_RTOL)
    assert_same_predictions(ours, ref, X, STOCHASTIC_RTOL)


# ---------------------------------------------------------- sample weights
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize(
    "kind, data", [("MLPClassifier", "iris"), ("MLPRegressor", "diabetes")]
)
def test_sample_weight(kind, data, solver, seed):
    X, y = dataset(data)
    rng = np.random.default_rng(seed)
    sample_weight = rng.uniform(0.0, 3.0, X.shape[0])
    sample_weight[rng.choice(X.shape[0], 10, replace=False)] = 0.0
    ours, ref = fit_both(
        kind,
        X,
        y,
        {"sample_weight": sample_weight},
        hidden_layer_sizes=(5,),
        solver=solver,
        learning_rate_init=0.02,
        batch_size=32,
        max_iter=8,
        random_state=seed,
    )
    rtol = LBFGS_RTOL if solver == "lbfgs" else STOCHASTIC_RTOL
    assert_same_model(ours, ref, rtol)
    assert_same_predictions(ours, ref, X, rtol)


# -------------------------------------------- warm start and partial_fit
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize(
    "kind, data", [("MLPClassifier", "iris"), ("MLPRegressor", "diabetes")]
)
def test_warm_start(kind, data, solver, seed):
    X, y = dataset(data)
    ours, ref = estimators(
        kind,
        hidden_layer_sizes=(5,),
        solver=solver,
        learning_rate_init=0.02,
        batch_size=32,
        max_iter=4,
        random_state=seed,
    )
    for est in (ours, ref):
        est.fit(X[::2], y[::2])
        est.set_params(warm_start=True, max_iter=3)
        est.fit(X, y)
        est.fit(X[1::2], y[1::2])
    rtol = LBFGS_RTOL if solver == "lbfgs" else STOCHASTIC_RTOL
    assert_same_model(ours, ref, rtol)
    if solver != "lbfgs":
        assert len(ref.loss_curve_) == 4 + 3 + 3  # the curve was continued
    assert_same_predictions(ours, ref, X, rtol)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_sequence_classifier(solver, seed):
    X, y = dataset("iris_strings")
    classes = np.unique(y)
    ours, ref = estimators(
        "MLPClassifier",
        hidden_layer_sizes=(5,),
        solver=solver,
        learning_rate_init=0.02,
        batch_size=16,
        random_state=seed,
    )
    sample_weight = np.random.default_rng(seed).uniform(0.5, 2.0, X.shape[0])
    # First chunk: only two of the three classes (iris is sorted by class).
    chunks = [slice(0, 70), slice(70, 150), slice(0, 150, 3), slice(1, 150, 2)]
    for i, rows in enumerate(chunks):
        fit_params = {"classes": classes} if i == 0 else {}
        if i == 2:
            fit_params["sample_weight"] = sample_weight[rows]
        for est in (ours, ref):
            est.partial_fit(X[rows], y[rows], **fit_params)
        assert_same_model(ours, ref, STOCHASTIC_RTOL)
    assert ref.t_ == 70 + 80 + 50 + 75
    assert_same_predictions(ours, ref, X, STOCHASTIC_RTOL)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_sequence_regressor(solver, seed):
    X, y = dataset("diabetes")
    ours, ref = estimators(
        "MLPRegressor",
        hidden_layer_sizes=(5,),
        solver=solver,
        learning_rate_init=0.02,
        batch_size=50,
        random_state=seed,
    )
    for rows in (slice(0, 200), slice(200, None), slice(0, None, 2)):
        for est in (ours, ref):
            est.partial_fit(X[rows], y[rows])
        assert_same_model(ours, ref, STOCHASTIC_RTOL)
    # fit after partial_fit starts over (warm_start=False), as in scikit-learn.
    for est in (ours, ref):
        est.set_params(max_iter=3).fit(X, y)
    assert_same_model(ours, ref, STOCHASTIC_RTOL)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.05),
        dict(solver="sgd", learning_rate="adaptive", tol=1.0, n_iter_no_change=2),
        dict(solver="adam", tol=1.0, n_iter_no_change=2),
    ],
    ids=["invscaling", "adaptive", "adam_tol"],
)
def test_partial_fit_schedules_and_stopping_rules(params, seed, capsys):
    """Schedules and the no-improvement counter carry over between calls.

    With tol=1.0 no call after the first improves on the best loss by tol, so
    the counter passes n_iter_no_change=2 at the fourth call.  SGD 'adaptive'
    then divides its rate by 5 and resets the counter (again at the seventh
    call); any other solver prints "Stopping." and keeps the counter, so
    calls 4 to 7 all print it.
    """
    X, y = dataset("diabetes")
    ours, ref = estimators(
        "MLPRegressor",
        hidden_layer_sizes=(5,),
        batch_size=64,
        random_state=seed,
        verbose=True,
        **params,
    )
    log = ""
    for _ in range(7):
        printed = []
        for est in (ours, ref):
            est.partial_fit(X, y)
            printed.append(capsys.readouterr().out)
        assert printed[0] == printed[1]
        assert_same_model(ours, ref, STOCHASTIC_RTOL)
        log += printed[1]
    if params["solver"] == "adam":
        assert log.count("consecutive epochs. Stopping.") == 4
    elif params["learning_rate"] == "adaptive":
        assert log.count("Setting learning rate to") == 2
    else:  # invscaling: lr_init / (t_ + 1) ** 0.5, t_ = 7 * 442
        assert ref._optimizer.learning_rate < 0.05 / 50


@pytest.mark.parametrize(
    "target, classes",
    [
        ("multilabel", None),
        ("binary_strings", ["no", "yes"]),
        ("binary_strings", ["maybe", "no", "yes"]),  # a class never seen in y
    ],
    ids=["multilabel", "binary", "unseen_class"],
)
def test_partial_fit_label_types(target, classes, seed):
    if target == "multilabel":
        X, y = dataset("multilabel")
        classes = np.arange(y.shape[1])
    else:
        X, y = dataset("iris")
        y = np.where(y > 0, "yes", "no")
    ours, ref = estimators(
        "MLPClassifier", hidden_layer_sizes=(5,), batch_size=32, random_state=seed
    )
    for est in (ours, ref):
        est.partial_fit(X[::2], y[::2], classes=classes)
        est.partial_fit(X[1::2], y[1::2])
    assert_same_model(ours, ref, STOCHASTIC_RTOL)
    assert_same_predictions(ours, ref, X, STOCHASTIC_RTOL)


@pytest.mark.parametrize(
    "solver, early_stopping", [("adam", False), ("adam", True), ("lbfgs", False)]
)
def test_random_state_instance_is_consumed_like_sklearn(solver, early_stopping, seed):
    """A RandomState instance is shared state: each fit continues its stream.
    Two fits in a row must agree with scikit-learn's two fits, and leave the
    instance at the same point of its stream."""
    X, y = dataset("iris")
    rngs = np.random.RandomState(seed), np.random.RandomState(seed)
    ours, ref = (
        M(
            hidden_layer_sizes=(5,),
            solver=solver,
            early_stopping=early_stopping,
            max_iter=4,
            random_state=rng,
        )
        for M, rng in zip((fastbp.MLPClassifier, sk.MLPClassifier), rngs, strict=True)
    )
    for est in (ours, ref):
        est.fit(X, y)
        est.fit(X, y)
    rtol = LBFGS_RTOL if solver == "lbfgs" else STOCHASTIC_RTOL
    assert_same_model(ours, ref, rtol)
    assert rngs[0].randint(2**31) == rngs[1].randint(2**31)


# ------------------------------------------ multi-output regression
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("alpha", [0.0, 1e-2])
def test_multioutput_regression_linnerud(solver, alpha, seed):
    """Weights match; the reported loss differs by design.

    For several outputs fastbp's squared error SUMS over outputs, scikit-learn's
    reported loss AVERAGES over them while its gradient sums (its issue #8349),
    so the gradients and hence the weights agree and, with alpha=0, fastbp's
    loss is exactly n_outputs times scikit-learn's at every epoch.
    """
    X, y = dataset("linnerud")
    ours, ref = fit_both(
        "MLPRegressor",
        X,
        y,
        hidden_layer_sizes=(5,),
        solver=solver,
        alpha=alpha,
        learning_rate_init=0.01,
        batch_size=6,
        max_iter=8,
        random_state=seed,
    )
    assert ref.n_outputs_ == 3
    assert_same_model(ours, ref, STOCHASTIC_RTOL, compare_loss=False)
    assert_same_predictions(ours, ref, X, STOCHASTIC_RTOL)
    if alpha == 0.0:
        np.testing.assert_allclose(
            ours.loss_curve_, 3 * np.asarray(ref.loss_curve_), rtol=1e-12
        )
    else:
        # The L2 term is not averaged by scikit-learn, so only bounds hold.
        assert ours.loss_curve_[0] > ref.loss_curve_[0]
        assert ours.loss_curve_[0] < 3 * ref.loss_curve_[0]


# ------------------------------------------------- step-by-step trajectory
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize(
    "dtype, rtol", [(np.float64, 1e-9), (np.float32, FLOAT32_RTOL)], ids=["f64", "f32"]
)
def test_step_by_step_trajectory(solver, dtype, rtol, seed):
    """STYLE.md §6: a deterministic reference trajectory.

    Both estimators get the same initial weights (drawn here, independent of
    either library's initialisation), then run k epochs with shuffle=False:
    nothing random remains, so weights, loss curve and counters must agree.
    """
    X, y = dataset("iris")
    X = X.astype(dtype)
    rng = np.random.default_rng(seed)
    units = [X.shape[1], 6, 4, 3]
    coefs = [
        rng.uniform(-0.7, 0.7, (a, b)).astype(dtype)
        for a, b in itertools.pairwise(units)
    ]
    intercepts = [rng.uniform(-0.3, 0.3, b).astype(dtype) for b in units[1:]]
    ours, ref = estimators(
        "MLPClassifier",
        hidden_layer_sizes=(6, 4),
        activation="tanh",
        solver=solver,
        learning_rate_init=0.05,
        batch_size=25,
        max_iter=1,
        random_state=0,
    )
    for est in (ours, ref):
        est.fit(X, y)
        est.coefs_ = [c.copy() for c in coefs]
        est.intercepts_ = [b.copy() for b in intercepts]
        est.set_params(warm_start=True, shuffle=False, max_iter=6)
        est.fit(X, y)
    assert ours.coefs_[0].dtype == dtype
    assert_same_model(ours, ref, rtol)
    assert len(ref.loss_curve_) == 1 + 6
    assert_same_predictions(ours, ref, X, rtol)


# ---------------------------------------------------------------- float32
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize(
    "kind, data", [("MLPClassifier", "iris"), ("MLPRegressor", "diabetes")]
)
def test_float32_stochastic(kind, data, solver, seed):
    X, y = dataset(data)
    X = X.astype(np.float32)
    ours, ref = fit_both(
        kind,
        X,
        y,
        hidden_layer_sizes=(5,),
        solver=solver,
        learning_rate_init=0.01,
        batch_size=32,
        max_iter=6,
        random_state=seed,
    )
    for arrays in (ours.coefs_, ours.intercepts_, ref.coefs_):
        assert all(a.dtype == np.float32 for a in arrays)
    out = ours.predict_proba(X) if kind == "MLPClassifier" else ours.predict(X)
    assert out.dtype == np.float32
    assert_same_model(ours, ref, FLOAT32_RTOL)
    assert_same_predictions(ours, ref, X, FLOAT32_RTOL)


@pytest.mark.parametrize(
    "kind, data", [("MLPClassifier", "iris"), ("MLPRegressor", "diabetes")]
)
def test_float32_lbfgs_keeps_float32(kind, data, seed):
    """Documented difference: scikit-learn's L-BFGS returns float64 weights for
    float32 X (SciPy works in float64 and scikit-learn keeps its result);
    fastbp keeps float32.  The two stay close: scikit-learn computes in float64,
    fastbp in float32, and L-BFGS amplifies float32 rounding (~6e-8) over its
    iterations, hence 1e-3 after 10 iterations."""
    X, y = dataset(data)
    X = X.astype(np.float32)
    ours, ref = fit_both(
        kind,
        X,
        y,
        hidden_layer_sizes=(5,),
        solver="lbfgs",
        max_iter=10,
        random_state=seed,
    )
    assert all(a.dtype == np.float32 for a in ours.coefs_ + ours.intercepts_)
    assert ref.coefs_[0].dtype == np.float64  # the documented difference
    assert_same_model(ours, ref, 1e-3)
    assert_same_predictions(ours, ref, X, 1e-3)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_minibatch_larger_than_one_wave(solver):
    """A minibatch larger than one wave of row blocks takes the unfused path
    (gradient accumulated over waves, then a separate optimizer step)."""
    from fastbp._params import build_layout
    from fastbp._propagate import wave_rows

    X, y = _dataset("digits")
    sizes = [X.shape[1], 96, 10]
    batch = int(wave_rows(build_layout(sizes)[0])) + 100
    X = np.tile(X, (2, 1))[: batch + 300]
    y = np.tile(y, 2)[: batch + 300]
    ours, ref = fit_both(
        "MLPClassifier",
        X,
        y,
        solver=solver,
        hidden_layer_sizes=(96,),
        batch_size=batch,
        max_iter=3,
        random_state=0,
    )
    assert_same_model(ours, ref, rtol=1e-8)
