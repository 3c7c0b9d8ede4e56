"""fastbp's MLPs inside scikit-learn's model-selection tools.

Expected values come from scikit-learn itself: the same search run with
scikit-learn's MLP, and the same search run with ``n_jobs=1`` (parallel workers
receive pickled clones, so they must train exactly like the parent process).
Scores use log-loss / R^2 rather than accuracy, so that a tiny difference in
the weights would show.  Scores agree to ~1e-15 in float64 (only summation
order differs); 1e-8 leaves room for BLAS differences across machines.
"""

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SCORE_RTOL = 1e-8

GRID = {"learning_rate_init": [1e-3, 1e-2, 1e-1], "alpha": [1e-4, 1e-1]}


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


def _search(estimator, X, y, cv, scoring, n_jobs):
    return GridSearchCV(estimator, GRID, cv=cv, scoring=scoring, n_jobs=n_jobs).fit(
        X, y
    )


def _assert_same_search(ours, ref):
    assert ours.best_params_ == ref.best_params_
    assert list(ours.cv_results_["params"]) == list(ref.cv_results_["params"])
    for key in ("mean_test_score", "std_test_score", "split0_test_score"):
        np.testing.assert_allclose(
            ours.cv_results_[key], ref.cv_results_[key], rtol=SCORE_RTOL, err_msg=key
        )
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], ref.cv_results_["rank_test_score"]
    )


@pytest.mark.slow  # two worker processes start and load the kernels
@pytest.mark.parametrize(
    "kind, data, scoring",
    [("MLPClassifier", "iris", "neg_log_loss"), ("MLPRegressor", "diabetes", "r2")],
)
def test_grid_search_parallel_equals_serial_and_sklearn(kind, data, scoring):
    X, y = {"iris": _iris, "diabetes": _diabetes}[data]()
    cv = (StratifiedKFold if kind == "MLPClassifier" else KFold)(
        3, shuffle=True, random_state=0
    )
    params = dict(hidden_layer_sizes=(6,), batch_size=32, max_iter=15, random_state=0)
    serial = _search(getattr(fastbp, kind)(**params), X, y, cv, scoring, n_jobs=1)
    parallel = _search(getattr(fastbp, kind)(**params), X, y, cv, scoring, n_jobs=2)
    reference = _search(getattr(sk, kind)(**params), X, y, cv, scoring, n_jobs=1)
    # The grid must discriminate, or equal best_params_ would prove nothing.
    assert np.ptp(reference.cv_results_["mean_test_score"]) > 0.05
    _assert_same_search(parallel, serial)
    _assert_same_search(serial, reference)
    # The refitted best model is sklearn's refitted best model.
    for a, b in zip(
        serial.best_estimator_.coefs_, reference.best_estimator_.coefs_, strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=SCORE_RTOL, atol=SCORE_RTOL)


def test_pipeline_cross_val_score_equals_sklearn():
    X, y = load_iris(return_X_y=True)  # unscaled: the pipeline scales
    cv = StratifiedKFold(5, shuffle=True, random_state=1)
    scores = []
    for module in (fastbp, sk):
        pipe = make_pipeline(
            StandardScaler(),
            module.MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0),
        )
        scores.append(cross_val_score(pipe, X, y, cv=cv, scoring="neg_log_loss"))
    np.testing.assert_allclose(scores[0], scores[1], rtol=SCORE_RTOL)


def test_pipeline_regressor_lbfgs_equals_sklearn():
    X, y = load_diabetes(return_X_y=True)
    cv = KFold(4, shuffle=True, random_state=2)
    scores = []
    for module in (fastbp, sk):
        pipe = Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "mlp",
                    module.MLPRegressor(
                        hidden_layer_sizes=(5,),
                        solver="lbfgs",
                        max_iter=30,
                        random_state=0,
                    ),
                ),
            ]
        )
        scores.append(cross_val_score(pipe, X, (y - y.mean()) / y.std(), cv=cv))
    # L-BFGS: see test_parity.py for why 1e-6.
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-6)


def test_clone_of_fitted_pipeline_refits_identically():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(),
        fastbp.MLPClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=3),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X, y)
        twin = clone(pipe)
        assert not hasattr(twin[-1], "coefs_")
        assert twin.get_params()["mlpclassifier__random_state"] == 3
        twin.fit(X, y)
    for a, b in zip(twin[-1].coefs_, pipe[-1].coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(twin.predict_proba(X), pipe.predict_proba(X))


def test_grid_search_through_pipeline_params():
    X, y = load_iris(return_X_y=True)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    searches = []
    for module in (fastbp, sk):
        pipe = make_pipeline(
            StandardScaler(),
            module.MLPClassifier(hidden_layer_sizes=(4,), max_iter=10, random_state=0),
        )
        grid = {
            "mlpclassifier__activation": ["tanh", "relu"],
            "mlpclassifier__learning_rate_init": [1e-3, 5e-2],
        }
        searches.append(
            GridSearchCV(pipe, grid, cv=cv, scoring="neg_log_loss").fit(X, y)
        )
    _assert_same_search(*searches)
