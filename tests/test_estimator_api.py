"""fastbp's estimators behave like scikit-learn's MLPs at the API level.

Every test either runs scikit-learn's MLP on the same input and compares
(parameters, errors, warnings, printed output, fitted models), or checks an
invariant computed a second way (a refit, a copy, a log, a metric).  Behaviour
that deliberately goes beyond scikit-learn is marked "beyond scikit-learn".
"""

import contextlib
import inspect
import io
import pickle
import re
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from extras import import_extra
from sklearn import neural_network as sk
from sklearn.base import clone, is_classifier
from sklearn.datasets import (
    load_diabetes,
    load_iris,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp

KINDS = ("MLPClassifier", "MLPRegressor")
SILENCE_CONVERGENCE = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


def data_for(kind):
    return _iris() if kind == "MLPClassifier" else _diabetes()


def both(kind, **params):
    """(fastbp's, scikit-learn's) estimators of ``kind`` with ``params``."""
    return getattr(fastbp, kind)(**params), getattr(sk, kind)(**params)


def outcome(fn, *args):
    """What calling fn(*args) does: ("ok", result) or (exception type, message)."""
    try:
        return "ok", fn(*args)
    except Exception as exc:
        return type(exc), str(exc)


def assert_same_error(kind, call):
    """``call(Estimator)`` raises in scikit-learn; fastbp raises the same
    exception type with the same message."""
    ref = outcome(call, getattr(sk, kind))
    assert ref[0] != "ok", "scikit-learn accepted this input; the case is wrong"
    assert outcome(call, getattr(fastbp, kind)) == ref


def same_arrays(a, b):
    return len(a) == len(b) and all(
        x.dtype == z.dtype and np.array_equal(x, z) for x, z in zip(a, b, strict=True)
    )


def assert_same_weights(ours, ref, rtol=1e-8):
    for name in ("coefs_", "intercepts_"):
        for a, b in zip(getattr(ours, name), getattr(ref, name), strict=True):
            np.testing.assert_allclose(
                a, b, rtol=rtol, atol=rtol * np.abs(b).max(), err_msg=name
            )


# ------------------------------------------------------------- parameters
# fastbp's opt-in parameters, keyword-only, after all of scikit-learn's.
FASTBP_ONLY_PARAMETERS = {
    "MLPClassifier": [
        ("early_stopping_metric", "score"),
        ("class_weight", None),
        ("dropout", 0.0),
    ],
    "MLPRegressor": [
        ("huber_delta", 1.0),
        ("quantile", 0.5),
        ("early_stopping_metric", "score"),
        ("dropout", 0.0),
    ],
}


@pytest.mark.parametrize("kind", KINDS)
def test_init_signature_equals_sklearn(kind):
    """Names, order, kinds (positional / keyword-only) and defaults, then
    fastbp's own parameters."""
    ours, ref = (inspect.signature(getattr(m, kind).__init__) for m in (fastbp, sk))
    describe = [(p.name, p.kind, p.default) for p in ours.parameters.values()]
    expected = [(p.name, p.kind, p.default) for p in ref.parameters.values()]
    keyword_only = inspect.Parameter.KEYWORD_ONLY
    expected += [
        (name, keyword_only, default) for name, default in FASTBP_ONLY_PARAMETERS[kind]
    ]
    assert describe == expected


@pytest.mark.parametrize("kind", KINDS)
def test_get_params_defaults_equal_sklearn(kind):
    ours, ref = both(kind)
    assert ours.get_params() == {
        **ref.get_params(),
        **dict(FASTBP_ONLY_PARAMETERS[kind]),
    }
    assert repr(ours) == repr(ref) == f"{kind}()"


@pytest.mark.parametrize("kind", KINDS)
def test_set_params_and_clone(kind):
    params = dict(hidden_layer_sizes=(7, 3), alpha=0.5, solver="sgd", momentum=0.3)
    ours, ref = both(kind)
    assert ours.set_params(**params) is ours
    ref.set_params(**params)
    fastbp_only = dict(FASTBP_ONLY_PARAMETERS[kind])
    assert ours.get_params() == {**ref.get_params(), **fastbp_only}
    assert repr(ours) == repr(ref)

    X, y = data_for(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.set_params(max_iter=2).fit(X, y)
    twin = clone(ours)
    assert twin.get_params() == ours.get_params()
    assert not hasattr(twin, "coefs_")  # clone is unfitted
    with pytest.raises(NotFittedError):
        twin.predict(X)


# ------------------------------------------------ invalid hyperparameters
INVALID_PARAMS = [
    ("hidden_layer_sizes", -1),
    ("hidden_layer_sizes", "wide"),
    ("solver", "newton"),
    ("alpha", -1.0),
    ("batch_size", 0),
    ("batch_size", "max"),
    ("learning_rate", "cosine"),
    ("learning_rate_init", 0.0),
    ("power_t", -0.5),
    ("max_iter", 0),
    ("shuffle", "yes"),
    ("random_state", "seed"),
    ("tol", -1e-4),
    ("verbose", "loud"),
    ("warm_start", 2),
    ("momentum", 1.5),
    ("nesterovs_momentum", None),
    ("early_stopping", "no"),
    ("validation_fraction", 1.0),
    ("beta_1", 1.0),
    ("beta_2", -0.1),
    ("epsilon", 0.0),
    ("n_iter_no_change", 0),
    ("max_fun", 0),
    # Checked in fit after the constraints: ValueError, not InvalidParameterError.
    ("hidden_layer_sizes", (3, 0)),
    ("hidden_layer_sizes", [4, -2]),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "name, value", INVALID_PARAMS, ids=[f"{n}={v!r}" for n, v in INVALID_PARAMS]
)
def test_invalid_hyperparameter_same_error(kind, name, value):
    X, y = data_for(kind)
    assert_same_error(kind, lambda M: M(**{name: value}).fit(X, y))


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_activation_lists_fastbp_activations(kind):
    """fastbp accepts more activations than scikit-learn, so its message lists
    them; the exception type is scikit-learn's (InvalidParameterError)."""
    from reference import HIDDEN_ACTIVATIONS

    X, y = data_for(kind)
    ref_type, _ = outcome(lambda: getattr(sk, kind)(activation="softmax").fit(X, y))
    got_type, message = outcome(
        lambda: getattr(fastbp, kind)(activation="softmax").fit(X, y)
    )
    assert got_type is ref_type and issubclass(got_type, ValueError)
    assert message.startswith(f"The 'activation' parameter of {kind} must be")
    assert message.endswith("Got 'softmax' instead.")
    assert all(repr(name) in message for name in HIDDEN_ACTIVATIONS)


def test_invalid_loss_lists_fastbp_losses():
    """As for activation: scikit-learn's exception type, fastbp's losses."""
    from reference import REGRESSION_LOSSES

    X, y = _diabetes()
    ref_type, _ = outcome(lambda: sk.MLPRegressor(loss="hinge").fit(X, y))
    got_type, message = outcome(lambda: fastbp.MLPRegressor(loss="hinge").fit(X, y))
    assert got_type is ref_type and issubclass(got_type, ValueError)
    assert message.startswith("The 'loss' parameter of MLPRegressor must be")
    assert message.endswith("Got 'hinge' instead.")
    names = ("squared_error", "poisson", *REGRESSION_LOSSES)
    assert all(repr(name) in message for name in names)


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_hyperparameter_same_error_in_partial_fit(kind):
    X, y = data_for(kind)
    extra = {"classes": np.unique(y)} if kind == "MLPClassifier" else {}
    assert_same_error(kind, lambda M: M(alpha=-1.0).partial_fit(X, y, **extra))


@pytest.mark.parametrize("kind", KINDS)
def test_zero_validation_fraction_with_early_stopping_same_error(kind):
    # validation_fraction=0.0 passes the constraints, and the split fails.
    # scikit-learn's fit runs under _fit_context(prefer_skip_nested_validation=
    # True), so train_test_split's own parameter validation is skipped and its
    # ValueError text is what the user sees.
    X, y = data_for(kind)
    assert_same_error(
        kind,
        lambda M: M(early_stopping=True, validation_fraction=0.0, max_iter=2).fit(X, y),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_tags_equal_sklearn(kind):
    ours, ref = both(kind)
    assert sklearn.utils.get_tags(ours) == sklearn.utils.get_tags(ref)


# ------------------------------------------------------------ invalid data
def _with_nan(X):
    X = X.copy()
    X[3, 1] = np.nan
    return X


def _with_inf(X):
    X = X.copy()
    X[5, 0] = np.inf
    return X


def _fit(M, X, y, **kw):
    return M(hidden_layer_sizes=(3,), max_iter=2).fit(X, y, **kw)


BAD_DATA_CASES = {
    "nan_X": lambda M, X, y: _fit(M, _with_nan(X), y),
    "inf_X": lambda M, X, y: _fit(M, _with_inf(X), y),
    "empty_X": lambda M, X, y: _fit(M, X[:0], y[:0]),
    "no_features": lambda M, X, y: _fit(M, X[:, :0], y),
    "complex_X": lambda M, X, y: _fit(M, X + 1j, y),
    "string_X": lambda M, X, y: _fit(M, np.full(X.shape, "a"), y),
    "X_y_length_mismatch": lambda M, X, y: _fit(M, X, y[:-1]),
    "nan_y": lambda M, X, y: _fit(M, X, np.where(np.arange(len(y)) == 2, np.nan, y)),
    "all_zero_sample_weight": lambda M, X, y: _fit(
        M, X, y, sample_weight=np.zeros(len(y))
    ),
    "short_sample_weight": lambda M, X, y: _fit(
        M, X, y, sample_weight=np.ones(len(y) - 1)
    ),
    "2d_sample_weight": lambda M, X, y: _fit(
        M, X, y, sample_weight=np.ones((len(y), 2))
    ),
    "column_sample_weight": lambda M, X, y: _fit(
        M, X, y, sample_weight=np.ones((len(y), 1))
    ),
    "predict_wrong_n_features": lambda M, X, y: _fit(M, X, y).predict(X[:, :-1]),
    "predict_nan": lambda M, X, y: _fit(M, X, y).predict(_with_nan(X)),
    "predict_inf": lambda M, X, y: _fit(M, X, y).predict(_with_inf(X)),
    "predict_complex": lambda M, X, y: _fit(M, X, y).predict(X + 1j),
    "predict_empty": lambda M, X, y: _fit(M, X, y).predict(X[:0]),
    "predict_1d": lambda M, X, y: _fit(M, X, y).predict(X[0]),
    "partial_fit_wrong_n_features": lambda M, X, y: _fit(M, X, y).partial_fit(
        X[:, :-1], y
    ),
    "predict_before_fit": lambda M, X, y: M().predict(X),
    "score_before_fit": lambda M, X, y: M().score(X, y),
}


@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", list(BAD_DATA_CASES))
def test_bad_data_same_error(kind, case):
    X, y = data_for(kind)
    assert_same_error(kind, lambda M: BAD_DATA_CASES[case](M, X, y))


@SILENCE_CONVERGENCE
@pytest.mark.parametrize(
    "call",
    [
        lambda M, X, y: _fit(M, X, y + 0.5),  # continuous y: unknown label type
        lambda M, X, y: M().predict_proba(X),
        lambda M, X, y: M().predict_log_proba(X),
        lambda M, X, y: M(max_iter=2).partial_fit(X, y),  # classes missing
        lambda M, X, y: (
            M(max_iter=2, warm_start=True).fit(X, y).fit(X[y > 0], y[y > 0])
        ),
        lambda M, X, y: (
            M(max_iter=2)
            .partial_fit(X[y > 0], y[y > 0], classes=[1, 2])
            .partial_fit(X, y)
        ),
    ],
    ids=[
        "continuous_y",
        "predict_proba_before_fit",
        "predict_log_proba_before_fit",
        "partial_fit_without_classes",
        "warm_start_other_classes",
        "partial_fit_new_class",
    ],
)
def test_classifier_specific_errors(call):
    X, y = _iris()
    assert_same_error("MLPClassifier", lambda M: call(M, X, y))


def test_not_fitted_error_is_raised():
    # The message itself is compared above; here the type, explicitly.
    for kind in KINDS:
        with pytest.raises(NotFittedError):
            getattr(fastbp, kind)().predict(np.zeros((2, 3)))


# ----------------------------------------------------- beyond scikit-learn
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_negative_sample_weight_raises(kind, solver):
    """Beyond scikit-learn, which silently trains on negative weights."""
    X, y = data_for(kind)
    sample_weight = np.ones(len(y))
    sample_weight[7] = -0.5
    ours, ref = both(kind, solver=solver, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y, sample_weight=sample_weight)  # accepted: the difference
    with pytest.raises(ValueError, match="sample_weight has negative values"):
        ours.fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_poisson_with_negative_y_raises(solver):
    """Beyond scikit-learn: the Poisson deviance is undefined for y < 0."""
    X, y = _diabetes()  # standardized: about half of y is negative
    assert (y < 0).any()
    est = fastbp.MLPRegressor(loss="poisson", solver=solver, max_iter=2)
    with pytest.raises(ValueError, match="requires non-negative targets"):
        est.fit(X, y)
    if solver != "lbfgs":
        with pytest.raises(ValueError, match="requires non-negative targets"):
            est.partial_fit(X, y)
    # Non-negative targets are fine, zeros included.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, np.where(y > 0, y, 0.0))
    assert np.isfinite(est.predict(X)).all()


# ------------------------------------------------------ numerical failure
@SILENCE_CONVERGENCE  # scikit-learn warns at max_iter before raising
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scikit-learn's overflow
@pytest.mark.parametrize("nesterovs_momentum", [True, False])
def test_divergence_raises_like_sklearn(nesterovs_momentum):
    # (Adam does not diverge here: its steps are bounded by the learning rate.)
    X, y = load_diabetes(return_X_y=True)  # unscaled on purpose
    params = dict(
        solver="sgd",
        learning_rate_init=1e10,
        nesterovs_momentum=nesterovs_momentum,
        max_iter=5,
        random_state=0,
    )
    assert_same_error("MLPRegressor", lambda M: M(**params).fit(X * 1e3, y * 1e3))
    with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
        fastbp.MLPRegressor(**params).fit(X * 1e3, y * 1e3)


def test_minibatch_with_zero_total_weight_like_sklearn():
    """A minibatch whose sample weights are all zero.

    scikit-learn's loss (np.average with weights summing to zero) raises
    ZeroDivisionError("Weights sum to zero, can't be normalized") in the very
    batch; fastbp must fail the same way, not with a later, misleading
    "non-finite parameter weights" (the 0/0 gradient is NaN).
    """
    X, y = _diabetes()
    sample_weight = np.ones(len(y))
    sample_weight[:4] = 0.0  # shuffle=False: the first batch is rows 0..3
    assert_same_error(
        "MLPRegressor",
        lambda M: M(solver="sgd", batch_size=4, shuffle=False, max_iter=2).fit(
            X, y, sample_weight=sample_weight
        ),
    )


# ---------------------------------------------------------- early stopping
@pytest.mark.parametrize("kind", KINDS)
def test_early_stopping_restores_best_weights(kind):
    # A fixed seed (not the ``seed`` fixture): the run must be one whose best
    # validation score is NOT in its last epoch, so that the weights really are
    # rolled back (asserted below); with other seeds that may not hold.
    X, y = data_for(kind)
    params = dict(
        hidden_layer_sizes=(5,),
        solver="adam",
        learning_rate_init=0.05,
        early_stopping=True,
        n_iter_no_change=3,
        tol=0.02,
        max_iter=60,
        random_state=0,
    )
    est = getattr(fastbp, kind)(**params).fit(X, y)
    scores = np.asarray(est.validation_scores_)
    best_epoch = int(np.argmax(scores)) + 1  # first epoch with the best score
    assert best_epoch < est.n_iter_  # the weights were rolled back
    assert est.best_validation_score_ == scores.max()
    # Second way: the same seed draws the same initial weights, validation
    # split and shuffles, so a fit stopped after best_epoch epochs ends at the
    # weights early stopping restored.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        short = getattr(fastbp, kind)(**{**params, "max_iter": best_epoch}).fit(X, y)
    assert same_arrays(est.coefs_, short.coefs_)
    assert same_arrays(est.intercepts_, short.intercepts_)
    assert est.loss_curve_[:best_epoch] == short.loss_curve_


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scikit-learn's overflow
def test_early_stopping_records_nan_validation_score():
    # Unscaled data and a large step: predictions overflow after a few
    # epochs, the validation score is recorded as nan, and the weights of the
    # best (finite) epoch are restored instead of raising.
    X, y = load_diabetes(return_X_y=True)
    ours, ref = both(
        "MLPRegressor",
        hidden_layer_sizes=(5,),
        solver="sgd",
        learning_rate_init=0.1,
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=6,
        random_state=0,
    )
    for est in (ours, ref):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X * 100, y)
    assert np.isnan(ref.validation_scores_).any()
    np.testing.assert_array_equal(
        np.isnan(ours.validation_scores_), np.isnan(ref.validation_scores_)
    )
    finite = ~np.isnan(ref.validation_scores_)
    np.testing.assert_allclose(
        np.asarray(ours.validation_scores_)[finite],
        np.asarray(ref.validation_scores_)[finite],
        rtol=1e-8,
    )
    assert all(np.isfinite(c).all() for c in ours.coefs_ + ours.intercepts_)
    assert_same_weights(ours, ref)


# ------------------------------------------------- inputs are not modified
@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("layout", ["C64", "F64", "C32", "csr", "csc"], ids=lambda s: s)
def test_inputs_are_not_modified(kind, solver, layout):
    X, y = data_for(kind)
    X = {
        "C64": lambda: np.ascontiguousarray(X),
        "F64": lambda: np.asfortranarray(X),
        "C32": lambda: X.astype(np.float32),
        "csr": lambda: sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X)),
        "csc": lambda: sp.csc_matrix(np.where(np.abs(X) < 0.5, 0.0, X)),
    }[layout]()
    sample_weight = np.linspace(0.5, 2.0, len(y))
    copies = [X.copy(), y.copy(), sample_weight.copy()]

    est = getattr(fastbp, kind)(hidden_layer_sizes=(4,), solver=solver, max_iter=3)
    est.fit(X, y, sample_weight=sample_weight)
    if solver != "lbfgs":
        extra = {"classes": np.unique(y)} if kind == "MLPClassifier" else {}
        est.partial_fit(X, y, sample_weight=sample_weight, **extra)
        getattr(fastbp, kind)(
            hidden_layer_sizes=(4,), solver=solver, early_stopping=True, max_iter=3
        ).fit(X, y, sample_weight=sample_weight)
    est.predict(X)
    est.score(X, y, sample_weight=sample_weight)

    for before, after in zip(copies, [X, y, sample_weight], strict=True):
        if sp.issparse(before):
            assert (before != after).nnz == 0
            before, after = before.toarray(), after.toarray()
        np.testing.assert_array_equal(before, after)


# ------------------------------------------------------------------ warnings
@pytest.mark.parametrize("kind", KINDS)
def test_column_vector_y_warns_like_sklearn(kind):
    X, y = data_for(kind)
    records = []
    for est in both(kind, hidden_layer_sizes=(3,), max_iter=2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(X, y.reshape(-1, 1))
        records.append([(w.category, str(w.message)) for w in caught])
    assert records[0] == records[1]
    assert DataConversionWarning in [category for category, _ in records[0]]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam", max_iter=3),
        dict(solver="sgd", max_iter=3),
        dict(solver="lbfgs", max_iter=3),
        dict(solver="lbfgs", max_fun=4, max_iter=50),  # another status and text
        dict(solver="sgd", batch_size=10_000, max_iter=2),  # clipped batch_size
        dict(solver="adam", tol=0.5, n_iter_no_change=2, max_iter=50),  # no warning
    ],
    ids=["adam", "sgd", "lbfgs", "lbfgs_max_fun", "batch_size_clipped", "converged"],
)
def test_warnings_equal_sklearn(kind, params):
    X, y = data_for(kind)
    records = []
    for est in both(kind, hidden_layer_sizes=(3,), random_state=0, **params):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est.fit(X, y)
        records.append([(w.category, str(w.message)) for w in caught])
    assert records[0] == records[1]
    if params["max_iter"] < 50:
        assert records[0][-1][0] is ConvergenceWarning
    if "max_fun" in params:
        assert "F,G EVALUATIONS" in records[0][0][1]


# ------------------------------------------------------------------ verbose
@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam", max_iter=5),
        dict(solver="sgd", learning_rate="adaptive", tol=1.0, n_iter_no_change=2),
        dict(solver="sgd", learning_rate_init=1e-7, learning_rate="adaptive", tol=1.0),
        dict(solver="adam", early_stopping=True, n_iter_no_change=2, tol=0.5),
        dict(solver="sgd", tol=1.0, n_iter_no_change=2),
        dict(solver="lbfgs", max_iter=5),
    ],
    ids=["adam", "adaptive", "rate_too_small", "early_stopping", "stop", "lbfgs"],
)
def test_verbose_output_equals_sklearn(kind, params, capsys):
    X, y = data_for(kind)
    printed = []
    for est in both(
        kind, hidden_layer_sizes=(4,), random_state=0, verbose=True, **params
    ):
        est.set_params(max_iter=params.get("max_iter", 30))
        est.fit(X, y)
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1]
    if params["solver"] != "lbfgs":
        assert printed[0].startswith("Iteration 1, loss = ")


# -------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("kind", KINDS)
def test_partial_fit_not_available_for_lbfgs(kind):
    est = getattr(fastbp, kind)(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        est.partial_fit  # noqa: B018
    # Availability follows the solver, as in scikit-learn.
    est.set_params(solver="sgd")
    assert hasattr(est, "partial_fit")
    if kind == "MLPClassifier":
        assert not hasattr(sk.MLPClassifier(solver="lbfgs"), "partial_fit")
    # scikit-learn 1.9's MLPRegressor tests ``est._check_solver`` (the bound
    # method, always truthy) instead of calling it, so its partial_fit stays
    # available for lbfgs; fastbp applies the classifier's (intended) rule.


@pytest.mark.parametrize("kind", KINDS)
def test_partial_fit_with_early_stopping_same_error(kind):
    X, y = data_for(kind)
    extra = {"classes": np.unique(y)} if kind == "MLPClassifier" else {}
    assert_same_error(kind, lambda M: M(early_stopping=True).partial_fit(X, y, **extra))


# ------------------------------------------------------------------- sparse
@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd"),
        dict(solver="adam", batch_size=17),
        dict(solver="lbfgs"),
        dict(solver="adam", early_stopping=True),
    ],
    ids=["sgd", "adam", "lbfgs", "early_stopping"],
)
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_matrix, sp.csr_array])
def test_sparse_input_same_model_as_dense(kind, params, container):
    X, y = data_for(kind)
    X = np.where(np.abs(X) < 0.6, 0.0, X)  # about half the entries are zero
    make = getattr(fastbp, kind)
    params = dict(hidden_layer_sizes=(5,), max_iter=6, random_state=0, **params)
    dense = make(**params).fit(X, y)
    sparse = make(**params).fit(container(X), y)
    assert_same_weights(sparse, dense, rtol=1e-12)
    assert sparse.n_iter_ == dense.n_iter_
    out = "predict_proba" if kind == "MLPClassifier" else "predict"
    np.testing.assert_allclose(
        getattr(sparse, out)(container(X)), getattr(dense, out)(X), rtol=1e-12
    )
    if params["solver"] == "sgd":
        dense.partial_fit(X[:40], y[:40])
        sparse.partial_fit(container(X[:40]), y[:40])
        assert_same_weights(sparse, dense, rtol=1e-12)


# --------------------------------------------------------------- persistence
def _roundtrip(est, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(est))
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    return joblib.load(path)


@SILENCE_CONVERGENCE
@pytest.mark.parametrize("how", ["pickle", "joblib"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_persistence_round_trip(kind, solver, how, tmp_path):
    X, y = data_for(kind)
    est = getattr(fastbp, kind)(
        hidden_layer_sizes=(5,), solver=solver, max_iter=4, random_state=0
    ).fit(X, y)
    loaded = _roundtrip(est, how, tmp_path)
    assert type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    assert same_arrays(loaded.coefs_, est.coefs_)
    assert same_arrays(loaded.intercepts_, est.intercepts_)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    if kind == "MLPClassifier":
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert loaded.score(X, y) == est.score(X, y)
    for attr in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_"):
        assert getattr(loaded, attr) == getattr(est, attr)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_after_unpickling_continues_exactly(kind, solver, how, tmp_path):
    """The optimizer state (velocities / moments, step count, learning rate)
    and the random state survive the round trip."""
    X, y = data_for(kind)
    extra = {"classes": np.unique(y)} if kind == "MLPClassifier" else {}
    est = getattr(fastbp, kind)(
        hidden_layer_sizes=(5,), solver=solver, learning_rate_init=0.05, random_state=0
    )
    est.partial_fit(X[::2], y[::2], **extra)
    est.partial_fit(X[1::2], y[1::2])
    loaded = _roundtrip(est, how, tmp_path)
    for model in (est, loaded):
        model.partial_fit(X[::3], y[::3])
        model.partial_fit(X, y)
    assert same_arrays(loaded.coefs_, est.coefs_)
    assert same_arrays(loaded.intercepts_, est.intercepts_)
    assert loaded.t_ == est.t_ == len(y) + len(X[::3]) + len(y)
    assert loaded.loss_curve_ == est.loss_curve_
    # ...and warm-started fit (which reshuffles with the pickled RNG) too.
    for model in (est, loaded):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert same_arrays(loaded.coefs_, est.coefs_)


@SILENCE_CONVERGENCE
def test_pickling_leaves_the_live_model_alone():
    """Pickling once dropped the live model's flat buffer (object.__getstate__
    returns the instance's own dict), so arrays taken from coefs_ before
    pickling were silently detached from the model."""
    X, y = _iris()
    est = fastbp.MLPClassifier(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    est.fit(X, y)
    first_layer = est.coefs_[0]
    pickle.dumps(est)
    first_layer[:] = 0.0  # every hidden unit now sees only its intercept
    expected = np.tile(est.predict_proba(X[:1]), (len(X), 1))
    np.testing.assert_allclose(est.predict_proba(X), expected, rtol=1e-12)
    assert est.coefs_[0] is first_layer


@SILENCE_CONVERGENCE
def test_in_place_edit_of_coefs_is_seen():
    # coefs_ may be edited in place or replaced, as with scikit-learn's lists.
    X, y = _iris()
    ours, ref = both("MLPClassifier", hidden_layer_sizes=(5,), max_iter=3)
    ours.fit(X, y)
    ref.fit(X, y)
    ref.coefs_ = [c.copy() for c in ours.coefs_]
    ref.intercepts_ = [b.copy() for b in ours.intercepts_]
    for est in (ours, ref):
        est.coefs_[0][:, 1] *= -2.0
        est.intercepts_[1][0] += 1.0
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-12)
    for est in (ours, ref):
        est.coefs_[1] = est.coefs_[1] * 0.5
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-12)


# -------------------------------------------------------------------- pandas
@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
def test_dataframe_feature_names_like_sklearn(kind):
    X, y = data_for(kind)
    columns = [f"f{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=columns)
    renamed = df.rename(columns={"f0": "zz"})
    reordered = df[columns[::-1]]
    fitted = [est.fit(df, y) for est in both(kind, hidden_layer_sizes=(3,), max_iter=2)]
    for est in fitted:
        np.testing.assert_array_equal(est.feature_names_in_, np.array(columns))
        assert est.feature_names_in_.dtype == object

    def observe(est, X_pred):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = outcome(est.predict, X_pred)
        return (
            result[0],
            result[1] if result[0] != "ok" else None,
            [(w.category, str(w.message)) for w in caught],
        )

    for X_pred in (df.to_numpy(), renamed, reordered):
        assert observe(fitted[0], X_pred) == observe(fitted[1], X_pred)
    assert observe(fitted[0], df.to_numpy())[2]  # the warning was emitted

    unnamed = [est.fit(X, y) for est in both(kind, hidden_layer_sizes=(3,), max_iter=2)]
    assert not hasattr(unnamed[0], "feature_names_in_")
    assert observe(unnamed[0], df) == observe(unnamed[1], df)
    assert observe(unnamed[0], df)[2]


@SILENCE_CONVERGENCE
def test_dataframe_and_series_give_same_model_as_arrays():
    X, y = _iris()
    df, series = pd.DataFrame(X), pd.Series(y)
    params = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    a = fastbp.MLPClassifier(**params).fit(df, series)
    b = fastbp.MLPClassifier(**params).fit(X, y)
    assert same_arrays(a.coefs_, b.coefs_)


# ---------------------------------------------------------- metadata routing
@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
def test_metadata_routing_cross_validate(kind):
    X, y = data_for(kind)
    sample_weight = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    cv = KFold(3, shuffle=True, random_state=0)
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=15, random_state=0)
    results = []
    with sklearn.config_context(enable_metadata_routing=True):
        for est in both(kind, **params):
            est.set_fit_request(sample_weight=True)
            est.set_score_request(sample_weight=False)
            results.append(
                cross_validate(
                    est,
                    X,
                    y,
                    cv=cv,
                    params={"sample_weight": sample_weight},
                    return_estimator=True,
                    return_indices=True,
                )
            )
    ours, ref = results
    np.testing.assert_allclose(ours["test_score"], ref["test_score"], rtol=1e-6)
    # Second way: each fold's model equals a direct fit on that fold with the
    # fold's weights -- so the weights did reach fit.
    for model, train in zip(ours["estimator"], ours["indices"]["train"], strict=True):
        direct = getattr(fastbp, kind)(**params).fit(
            X[train], y[train], sample_weight=sample_weight[train]
        )
        assert same_arrays(model.coefs_, direct.coefs_)
        unweighted = getattr(fastbp, kind)(**params).fit(X[train], y[train])
        assert not same_arrays(model.coefs_, unweighted.coefs_)


@SILENCE_CONVERGENCE
def test_metadata_routing_pipeline():
    X, y = load_iris(return_X_y=True)
    sample_weight = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    params = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            fastbp.MLPClassifier(**params).set_fit_request(sample_weight=True),
        )
        pipe.fit(X, y, sample_weight=sample_weight)
    direct = fastbp.MLPClassifier(**params).fit(
        StandardScaler().fit_transform(X), y, sample_weight=sample_weight
    )
    assert same_arrays(pipe[-1].coefs_, direct.coefs_)


# ------------------------------------------------------------------- dtypes
@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32_in_float32_out(kind, solver):
    X, y = data_for(kind)
    X32 = X.astype(np.float32)
    est = getattr(fastbp, kind)(hidden_layer_sizes=(4,), solver=solver, max_iter=3)
    est.fit(X32, y)
    assert all(a.dtype == np.float32 for a in est.coefs_ + est.intercepts_)
    if kind == "MLPClassifier":
        assert est.predict_proba(X32).dtype == np.float32
        assert est.predict_log_proba(X32).dtype == np.float32
    else:
        assert est.predict(X32).dtype == np.float32


@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("predict_dtype", [np.float32, np.float64, np.int64])
def test_output_dtypes_equal_sklearn(kind, fit_dtype, predict_dtype):
    # Stochastic solvers: scikit-learn keeps float32 weights for float32 X.
    X, y = data_for(kind)
    X = np.round(X * 3)  # exactly representable as integers
    for_fit, for_predict = X.astype(fit_dtype), X.astype(predict_dtype)
    dtypes = []
    for est in both(kind, hidden_layer_sizes=(4,), max_iter=2, random_state=0):
        est.fit(for_fit, y)
        out = est.predict_proba(for_predict) if is_classifier(est) else None
        if out is None:
            out = est.predict(for_predict)
        dtypes.append((est.coefs_[0].dtype, out.dtype))
    assert dtypes[0] == dtypes[1]


# ------------------------------------------------------ probabilities, score
@SILENCE_CONVERGENCE
@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
def test_predict_log_proba_is_log_of_predict_proba(target):
    X, y = _iris()
    if target == "binary":
        y = (y == 2).astype(int)
    elif target == "multilabel":
        X, y = make_multilabel_classification(
            n_samples=80, n_features=6, n_classes=3, random_state=0
        )
    est = fastbp.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    est.fit(X, y)
    proba = est.predict_proba(X)
    n_columns = 2 if target == "binary" else y.shape[1] if y.ndim == 2 else 3
    assert proba.shape == (X.shape[0], n_columns)
    if target != "multilabel":
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-12)


@SILENCE_CONVERGENCE
@pytest.mark.parametrize("kind", KINDS)
def test_score_is_accuracy_or_r2(kind):
    X, y = data_for(kind)
    sample_weight = np.linspace(0.1, 2.0, len(y))
    est = getattr(fastbp, kind)(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    est.fit(X, y)
    metric = accuracy_score if kind == "MLPClassifier" else r2_score
    assert est.score(X, y) == pytest.approx(metric(y, est.predict(X)), rel=1e-12)
    assert est.score(X, y, sample_weight=sample_weight) == pytest.approx(
        metric(y, est.predict(X), sample_weight=sample_weight), rel=1e-12
    )


@SILENCE_CONVERGENCE
def test_multilabel_predict_matches_sklearn_format():
    X, y = make_multilabel_classification(
        n_samples=80, n_features=6, n_classes=3, random_state=0
    )
    ours, ref = both(
        "MLPClassifier", hidden_layer_sizes=(4,), max_iter=5, random_state=0
    )
    ours.fit(X, y)
    ref.fit(X, y)
    pred_ours, pred_ref = ours.predict(X), ref.predict(X)
    assert pred_ours.shape == pred_ref.shape == y.shape
    assert pred_ours.dtype == pred_ref.dtype
    np.testing.assert_array_equal(ours.classes_, ref.classes_)


def test_stdout_is_silent_by_default():
    X, y = _iris()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fastbp.MLPClassifier(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
    assert buffer.getvalue() == ""


# ------------------------------------------------------ predict-time shortcuts
@SILENCE_CONVERGENCE
@pytest.mark.parametrize(
    "make",
    [
        lambda X: X,
        lambda X: X[:1],
        lambda X: X.astype(np.float32),
        lambda X: np.asfortranarray(X),
        lambda X: X * 1e307,  # finite values whose sum overflows
        lambda X: (X / np.abs(X).max() * 3e38).astype(np.float32),
        lambda X: X.astype(np.float16),
        lambda X: np.round(X * 10).astype(np.int64),
        lambda X: X.tolist(),
        lambda X: X.astype(">f8"),
    ],
    ids=[
        "float64",
        "one-row",
        "float32",
        "fortran",
        "sum-overflows",
        "float32-sum-overflows",
        "float16",
        "int64",
        "list",
        "big-endian",
    ],
)
def test_predict_input_check_returns_what_validate_data_returns(make):
    """The predict-time shortcut accepts only what validate_data returns
    unchanged (the very same array), and defers everything else to it."""
    from sklearn.utils.validation import validate_data

    from fastbp._validation import validate_predict_input

    X, y = data_for("MLPRegressor")
    est = fastbp.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
    X_in = make(X)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        got = validate_predict_input(est, X_in)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        expected = validate_data(est, X_in, accept_sparse=["csr", "csc"], reset=False)
    assert [(w.category, str(w.message)) for w in ours] == [
        (w.category, str(w.message)) for w in theirs
    ]
    assert type(got) is type(expected) and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    if expected is X_in:
        assert got is X_in


TRAINING_X = {
    "float64": lambda X: X,
    "float32": lambda X: X.astype(np.float32),
    "fortran": lambda X: np.asfortranarray(X),
    "sum-overflows": lambda X: X * 1e307,
    "float32-sum-overflows": lambda X: (X / np.abs(X).max() * 3e38).astype(np.float32),
    "nan": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X),
    "one-feature-less": lambda X: X[:, 1:],
    "int64": lambda X: np.round(X * 10).astype(np.int64),
    "list": lambda X: X.tolist(),
}
TRAINING_Y = {
    "same": lambda y: y,
    "int32": lambda y: y.astype(np.int32),
    "float": lambda y: y.astype(np.float64),
    "float-nan": lambda y: np.where(np.arange(y.size) == 3, np.nan, y.astype(float)),
    "column": lambda y: y.reshape(-1, 1),
    "one-short": lambda y: y[:-1],
    "list": lambda y: list(y),
    "bool": lambda y: y > np.median(y),
}


def _call_recording(fn):
    """(outcome(fn), [(warning category, message), ...])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = outcome(fn)
    return result, [(w.category, str(w.message)) for w in caught]


def _estimator_in_state(kind, state):
    """An estimator never fitted, fitted on an ndarray, or fitted on a
    DataFrame (feature names recorded)."""
    X, y = data_for(kind)
    est = getattr(fastbp, kind)(hidden_layer_sizes=(3,), max_iter=2)
    if state == "fitted":
        est.fit(X, y)
    elif state == "fitted-with-names":
        pd = import_extra("pandas", "test")
        est.fit(pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]), y)
    return est


@SILENCE_CONVERGENCE
@pytest.mark.parametrize(
    ("state", "reset"),
    [("fitted", False), ("unfitted", True), ("fitted-with-names", True)],
    ids=["partial_fit", "fit", "refit-without-names"],
)
@pytest.mark.parametrize("y_case", TRAINING_Y)
@pytest.mark.parametrize("x_case", TRAINING_X)
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_training_input_check_returns_what_validate_data_returns(
    kind, x_case, y_case, state, reset
):
    """fit's and partial_fit's input shortcut accepts only what validate_data
    returns unchanged (the very same arrays), and defers everything else to
    it: same results, errors, warnings and recorded n_features_in_ /
    feature_names_in_."""
    from sklearn.utils.validation import validate_data

    from fastbp._validation import validate_training_input

    X, y = data_for(kind)
    est, ref = _estimator_in_state(kind, state), _estimator_in_state(kind, state)
    X_in, y_in = TRAINING_X[x_case](X), TRAINING_Y[y_case](y)
    y_numeric = kind == "MLPRegressor"
    ours, our_warnings = _call_recording(
        lambda: validate_training_input(est, X_in, y_in, y_numeric, reset=reset)
    )
    theirs, their_warnings = _call_recording(
        lambda: validate_data(
            ref,
            X_in,
            y_in,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=y_numeric,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
    )
    assert our_warnings == their_warnings
    assert getattr(est, "n_features_in_", None) == getattr(ref, "n_features_in_", None)
    assert hasattr(est, "feature_names_in_") == hasattr(ref, "feature_names_in_")
    assert ours[0] == theirs[0]
    if theirs[0] != "ok":
        assert ours[1] == theirs[1]
        return
    for got, expected, given in zip(ours[1], theirs[1], (X_in, y_in), strict=True):
        assert type(got) is type(expected) and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
        if expected is given:
            assert got is given


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 1, 2, 1, 3]),
        np.array([3, 1, 2, 1, 3], dtype=np.int32),
        np.array([7, 7, 7], dtype=np.uint8),
        np.array([1, 0]),
        np.array(["b", "a", "b"]),
        np.array([0.0, 1.0, 1.0]),
        np.array([True, False]),
        np.array([[1, 0], [0, 1]]),
        np.array([], dtype=np.int64),
        [2, 1, 2],
    ],
    ids=[
        "int64",
        "int32",
        "uint8-one-class",
        "binary",
        "str",
        "float",
        "bool",
        "multilabel",
        "empty",
        "list",
    ],
)
def test_sorted_labels_and_binarizer_equal_scikit_learns(y):
    """sorted_labels = unique_labels, and fitted_label_binarizer =
    LabelBinarizer().fit: same attributes, same transform, or same error."""
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils.multiclass import unique_labels

    from fastbp._validation import fitted_label_binarizer, sorted_labels

    ours, theirs = outcome(sorted_labels, y), outcome(unique_labels, y)
    assert ours[0] == theirs[0]
    if theirs[0] == "ok":
        assert ours[1].dtype == theirs[1].dtype
        np.testing.assert_array_equal(ours[1], theirs[1])
    else:
        assert ours[1] == theirs[1]
    ours = outcome(fitted_label_binarizer, y)
    theirs = outcome(lambda labels: LabelBinarizer().fit(labels), y)
    assert ours[0] == theirs[0]
    if theirs[0] != "ok":
        assert ours[1] == theirs[1]
        return
    ours, theirs = ours[1], theirs[1]
    assert vars(ours).keys() == vars(theirs).keys()
    assert ours.y_type_ == theirs.y_type_
    assert ours.sparse_input_ == theirs.sparse_input_
    assert ours.classes_.dtype == theirs.classes_.dtype
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_array_equal(ours.transform(y), theirs.transform(y))


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1, 2, 1]),
        np.array(["b", "a", "c", "a"]),
        np.array([3, 7, 3, 7]),
        np.array(["yes", "no", "no", "yes"]),
        np.array([5, 5, 5, 5]),
        np.array([[1, 0, 1], [0, 1, 1], [0, 0, 1], [1, 1, 0]]),
    ],
    ids=[
        "multiclass",
        "multiclass-str",
        "binary",
        "binary-str",
        "one-class",
        "multilabel",
    ],
)
def test_labels_from_outputs_equal_inverse_transform(labels, rng):
    """Labels from network outputs: scikit-learn's LabelBinarizer rules, ties,
    scores of exactly 0.5 and NaN included."""
    from sklearn.preprocessing import LabelBinarizer

    from fastbp._validation import labels_from_outputs

    binarizer = LabelBinarizer().fit(labels)
    n_outputs = binarizer.transform(labels[:1]).shape[1]
    outputs = rng.uniform(size=(50, n_outputs))
    outputs[0] = 0.5
    outputs[1] = np.nan
    outputs[2, -1] = np.nan
    outputs[3] = outputs[3, 0]  # a tie everywhere
    if n_outputs == 1:
        outputs = outputs.ravel()
    for dtype in (np.float64, np.float32):
        scores = outputs.astype(dtype)
        got = labels_from_outputs(binarizer, scores)
        expected = binarizer.inverse_transform(scores)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("fit_labels", "labels"),
    [
        (np.array([0, 1, 2, 1]), np.array([2, 2, 0, 1, 0])),
        (np.array(["b", "a", "c"]), np.array(["c", "a", "a", "b"])),
        (np.array([3, 7]), np.array([7, 3, 3, 7, 7])),
        (np.array(["yes", "no"]), np.array(["no", "no", "yes"])),
        (np.array([0, 1, 2]), np.array([1.0, 2.0, 0.0])),  # float labels, same values
        (np.array([0, 1, 2]), np.array([1, 5, 0])),  # an unseen label
        (np.array([0, 1]), np.array([1, -1, 0])),  # unseen, binary
        (np.array([5, 5]), np.array([5, 5, 5])),  # one class
        (np.array(["a", "b"]), np.array([0, 1], dtype=object)),  # incomparable
        (np.array([[1, 0, 1], [0, 1, 1]]), np.array([[0, 1, 1], [1, 1, 0]])),
    ],
    ids=[
        "multiclass",
        "multiclass-str",
        "binary",
        "binary-str",
        "float-labels",
        "unseen",
        "unseen-binary",
        "one-class",
        "incomparable",
        "multilabel",
    ],
)
def test_binarized_labels_equal_transform(fit_labels, labels):
    """The classifier's one-hot targets: LabelBinarizer.transform's output,
    as booleans, for every kind of labels (fallbacks included)."""
    from sklearn.preprocessing import LabelBinarizer

    from fastbp._validation import binarized_labels

    binarizer = LabelBinarizer().fit(fit_labels)
    try:
        expected = binarizer.transform(labels).astype(bool)
    except ValueError as error:
        with pytest.raises(ValueError, match=re.escape(str(error))):
            binarized_labels(binarizer, labels)
        return
    got = binarized_labels(binarizer, labels)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    "classes",
    [np.array([0, 1]), np.array([3, 5, 9]), np.array(["no", "yes", "maybe"])],
    ids=["binary", "multiclass", "strings"],
)
def test_validation_accuracy_equals_accuracy_score(classes, weighted, rng):
    """The early-stopping score: accuracy_score's value, to the bit."""
    from sklearn.metrics import accuracy_score

    from fastbp._validation import validation_accuracy

    y_true = classes[rng.integers(0, len(classes), 101)]
    y_pred = np.where(rng.uniform(size=101) < 0.7, y_true, classes[0])
    sw = rng.uniform(0, 3, 101) if weighted else None
    got = validation_accuracy(y_true, y_pred, sample_weight=sw)
    assert type(got) is float
    assert got == accuracy_score(y_true, y_pred, sample_weight=sw)
    multilabel = (rng.uniform(size=(101, 3)) < 0.5).astype(int)
    assert validation_accuracy(multilabel, multilabel[::-1], sw) == accuracy_score(
        multilabel, multilabel[::-1], sample_weight=sw
    )


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("true_dtype", "pred_dtype"),
    [(np.float64, np.float64), (np.float32, np.float32), (np.float64, np.float32)],
    ids=["64-64", "32-32", "64-32"],
)
@pytest.mark.parametrize(
    "shapes",
    [((57,), (57,)), ((57, 1), (57,)), ((57, 3), (57, 3))],
    ids=["1d", "column-vs-1d", "3-outputs"],
)
def test_validation_r2_equals_r2_score(shapes, true_dtype, pred_dtype, weighted, rng):
    """The regressor's early-stopping score: r2_score's value, to the bit,
    including constant targets (fitted exactly or not) and integer weights."""
    from sklearn.metrics import r2_score

    from fastbp._validation import validation_r2

    true_shape, pred_shape = shapes
    y_true = rng.normal(size=true_shape).astype(true_dtype)
    y_pred = (
        y_true.reshape(pred_shape) + rng.normal(scale=0.3, size=pred_shape)
    ).astype(pred_dtype)
    sw = rng.uniform(0, 3, true_shape[0]).astype(true_dtype) if weighted else None
    cases = [(y_true, y_pred)]
    if len(true_shape) == 2 and true_shape[1] == 3:
        constant = y_true.copy()
        constant[:, 0] = 2.5  # constant output, imperfectly fitted
        constant[:, 1] = 1.0  # constant output, fitted exactly below
        pred = y_pred.copy()
        pred[:, 1] = true_dtype(1.0)
        cases.append((constant, pred.astype(pred_dtype)))
    for yt, yp in cases:
        got = validation_r2(yt, yp, sample_weight=sw)
        assert type(got) is float
        assert got == r2_score(yt, yp, sample_weight=sw)
    # Inputs outside the shortcut go to r2_score itself.
    ints = np.arange(57) % 5
    assert validation_r2(ints, ints + 1.0) == r2_score(ints, ints + 1.0)


def test_fresh_random_state_equals_a_new_generator_per_call():
    """Every fit / partial_fit draws from check_random_state(random_state), as
    scikit-learn does; for an integer seed fastbp re-seeds the generator it
    made before, which must be indistinguishable from a new one, and a
    generator the user passed is used as is."""
    est = fastbp.MLPClassifier(random_state=7)
    first = est._fresh_random_state()
    first.uniform(size=100)  # consumed by a fit
    second = est._fresh_random_state()
    expected = np.random.RandomState(7).get_state()
    got = second.get_state()
    assert got[0] == expected[0] and got[2:] == expected[2:]
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(
        second.uniform(size=5), np.random.RandomState(7).uniform(size=5)
    )
    users = np.random.RandomState(3)
    est.set_params(random_state=users)
    assert est._fresh_random_state() is users
    est.set_params(random_state=None)
    assert est._fresh_random_state() is np.random.mtrand._rand
