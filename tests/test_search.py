"""MLPClassifierCV / MLPRegressorCV against GridSearchCV(fastbp.MLP...).

The promise is exactness, so the second computation is GridSearchCV itself,
run with the same estimator class, grid and splitter, and compared bit for
bit (``assert_array_equal``, NaNs equal): every split score, mean, std, rank,
``best_params_``, and the refitted model's weights.  Per-model weights are
compared with separate fits through the fused engine directly
(``_fused.fit_many``).
"""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes, load_iris, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV, KFold
from sklearn.preprocessing import StandardScaler

import fastbp
from fastbp._fused import fit_many, with_private_generator
from fastbp._halving import halving_schedule
from fastbp._search import SEARCHABLE

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(8,), max_iter=12, random_state=0)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _binary():
    X, y = _iris()
    return X[:100], y[:100]


def _multilabel():
    X, Y = make_multilabel_classification(n_samples=120, n_features=6, random_state=0)
    return StandardScaler().fit_transform(X), Y


def _regression(n_outputs=1):
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:200]
    y = (y - y.mean()) / y.std()
    y = y[:200]
    if n_outputs == 2:
        y = np.column_stack([y, y**2])
    return X, y


def _assert_same_results(ours, reference):
    """Every cv_results_ entry but the times, with the same keys in order."""
    assert list(ours.cv_results_) == list(reference.cv_results_)
    for key, expected in reference.cv_results_.items():
        if "time" in key:
            continue
        if key == "params":
            assert ours.cv_results_[key] == expected
            continue
        got = ours.cv_results_[key]
        assert type(got) is type(expected), key
        assert got.dtype == expected.dtype, key
        np.testing.assert_array_equal(got, expected, err_msg=key)
    assert ours.best_params_ == reference.best_params_
    assert ours.best_index_ == reference.best_index_
    np.testing.assert_array_equal(ours.best_score_, reference.best_score_)
    assert ours.n_splits_ == reference.n_splits_


def _grid_search(model, grid, X, y, cv, **fit_params):
    return GridSearchCV(model, grid, cv=cv).fit(X, y, **fit_params)


def _both(cv_class, model_class, params, grid, X, y, cv=3, **fit_params):
    ours = cv_class(**params, **grid, cv=cv).fit(X, y, **fit_params)
    reference = _grid_search(model_class(**params), grid, X, y, cv, **fit_params)
    return ours, reference


CLASSIFICATION = {
    "binary": _binary,
    "multiclass": _iris,
    "multilabel": _multilabel,
}

SOLVERS = {
    "adam": dict(solver="adam"),
    "sgd": dict(solver="sgd", momentum=0.5),
    "adam-early-stopping": dict(solver="adam", early_stopping=True, max_iter=30),
    "sgd-adaptive-tol": dict(
        solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=2
    ),
}


@pytest.mark.parametrize("data", CLASSIFICATION)
@pytest.mark.parametrize("solver", SOLVERS)
def test_classifier_equals_grid_search(data, solver):
    X, y = CLASSIFICATION[data]()
    params = {**SMALL, **SOLVERS[solver]}
    if data == "multilabel":  # KFold: stratification needs one label per row
        cv = KFold(3)
    else:
        cv = 3
    grid = {"learning_rate_init": [1e-3, 1e-2, 1e-1]}
    ours, reference = _both(
        fastbp.MLPClassifierCV, fastbp.MLPClassifier, params, grid, X, y, cv
    )
    _assert_same_results(ours, reference)
    np.testing.assert_array_equal(ours.predict_proba(X), reference.predict_proba(X))
    np.testing.assert_array_equal(ours.classes_, reference.best_estimator_.classes_)


@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("solver", SOLVERS)
def test_regressor_equals_grid_search(n_outputs, solver):
    X, y = _regression(n_outputs)
    params = {**SMALL, **SOLVERS[solver]}
    grid = {"learning_rate_init": [1e-3, 1e-2, 1e-1]}
    ours, reference = _both(
        fastbp.MLPRegressorCV, fastbp.MLPRegressor, params, grid, X, y
    )
    _assert_same_results(ours, reference)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))


def test_two_parameter_grid_with_sample_weight_and_scoring():
    X, y = _iris()
    sw = np.random.RandomState(1).uniform(0.2, 2.0, size=y.shape[0])
    grid = {"learning_rate_init": [1e-2, 1e-1], "alpha": [1e-4, 1.0]}
    params = {**SMALL, "solver": "sgd"}
    ours = fastbp.MLPClassifierCV(**params, **grid, cv=4, scoring="neg_log_loss")
    ours.fit(X, y, sample_weight=sw)
    reference = GridSearchCV(
        fastbp.MLPClassifier(**params), grid, cv=4, scoring="neg_log_loss"
    ).fit(X, y, sample_weight=sw)
    _assert_same_results(ours, reference)
    assert [p for p in ours.cv_results_["params"]] == [
        {"alpha": a, "learning_rate_init": lr}
        for a in grid["alpha"]
        for lr in grid["learning_rate_init"]
    ]
    # The weights matter: without them the search trains other models.
    unweighted = fastbp.MLPClassifierCV(
        **params, **grid, cv=4, scoring="neg_log_loss"
    ).fit(X, y)
    assert not np.array_equal(
        unweighted.cv_results_["mean_test_score"], ours.cv_results_["mean_test_score"]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_float32_and_sparse_equal_grid_search(dtype, sparse):
    X, y = _iris()
    X = X.astype(dtype)
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0, X))
    grid = {"learning_rate_init": [1e-2, 1e-1]}
    ours, reference = _both(
        fastbp.MLPClassifierCV, fastbp.MLPClassifier, SMALL, grid, X, y
    )
    _assert_same_results(ours, reference)
    assert ours.coefs_[0].dtype == dtype


def test_lbfgs_and_random_state_instance_equal_grid_search():
    X, y = _regression()
    grid = {"alpha": [1e-4, 1e-1, 10.0]}
    params = dict(SMALL, solver="lbfgs", max_iter=20)
    ours, reference = _both(
        fastbp.MLPRegressorCV, fastbp.MLPRegressor, params, grid, X, y
    )
    _assert_same_results(ours, reference)
    np.testing.assert_array_equal(ours.n_iter_[:, 0] > 0, True)
    # A RandomState instance: GridSearchCV clones (copies) it for every fit,
    # and so does the search; the user's generator is not advanced.
    rng = np.random.RandomState(5)
    before = rng.get_state()[1].copy()
    params = dict(SMALL, random_state=rng)
    grid = {"learning_rate_init": [1e-2, 1e-1]}
    ours, reference = _both(
        fastbp.MLPRegressorCV, fastbp.MLPRegressor, params, grid, X, y
    )
    _assert_same_results(ours, reference)
    np.testing.assert_array_equal(rng.get_state()[1], before)


def test_each_model_equals_its_separate_fit():
    """The fused engine directly: models that stop at different epochs, with
    invscaling / adaptive schedules, early stopping, sample weights and a
    sparse X, each equal to its own fit bit for bit."""
    X, y = _iris()
    sw = np.random.RandomState(2).uniform(0.5, 1.5, size=y.shape[0])
    settings = [
        dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5),
        dict(solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=1),
        dict(solver="adam", tol=1e-1, n_iter_no_change=2),
        dict(solver="adam", early_stopping=True, max_iter=25),
        dict(solver="sgd", batch_size=7, nesterovs_momentum=False),
        dict(solver="adam", shuffle=False),
    ]
    inputs = [(X, None), (sp.csr_matrix(X), sw)]
    estimators, runs = [], []
    for kwargs in settings:
        for X_in, w in inputs:
            est = fastbp.MLPClassifier(**{**SMALL, "max_iter": 15, **kwargs})
            run = with_private_generator(est._begin_fit(X_in, y, w, False))
            estimators.append((est, kwargs, X_in, w))
            runs.append(run)
    codes = fit_many(runs)
    n_iters = set()
    for (est, kwargs, X_in, w), run, code in zip(estimators, runs, codes, strict=True):
        est._end_fit(run, code)
        separate = fastbp.MLPClassifier(**{**SMALL, "max_iter": 15, **kwargs})
        separate.fit(X_in, y, sample_weight=w)
        for got, expected in zip(est.coefs_, separate.coefs_, strict=True):
            np.testing.assert_array_equal(got, expected)
        assert est.loss_curve_ == separate.loss_curve_
        assert est.n_iter_ == separate.n_iter_
        assert est.t_ == separate.t_
        n_iters.add(est.n_iter_)
    assert len(n_iters) >= 3  # the models did leave the pass at different epochs


_THREADS_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    from sklearn.datasets import load_digits
    import fastbp
    warnings.simplefilter("ignore")
    X, y = load_digits(return_X_y=True)
    search = fastbp.MLPClassifierCV(
        hidden_layer_sizes=(32,), max_iter=8, random_state=0, batch_size=64,
        learning_rate_init=[1e-3, 1e-2, 1e-1], cv=3,
    ).fit(X / 16, y)
    json.dump({
        "scores": search.cv_results_["mean_test_score"].tolist(),
        "splits": [search.cv_results_["split%d_test_score" % k].tolist()
                   for k in range(3)],
        "coefs": [c.ravel().tolist() for c in search.coefs_],
    }, sys.stdout)
    """
)


def test_one_and_two_threads_give_the_same_bits():
    outputs = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        done = subprocess.run(
            [sys.executable, "-c", _THREADS_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]


def test_a_diverging_candidate_is_a_failed_fit():
    """As GridSearchCV(error_score=nan): NaN scores for that candidate, a
    FitFailedWarning, the other candidates ranked as usual."""
    X, y = _regression()
    grid = {"learning_rate_init": [1e-3, 1e-2, 10.0]}  # 10: SGD overflows
    params = dict(SMALL, solver="sgd")
    with (
        pytest.warns(FitFailedWarning, match="3 fits failed out of a total of 9"),
        pytest.warns(UserWarning, match="test scores are non-finite"),
    ):
        ours = fastbp.MLPRegressorCV(**params, **grid, cv=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = _grid_search(fastbp.MLPRegressor(**params), grid, X, y, 3)
    _assert_same_results(ours, reference)
    assert np.isnan(ours.cv_results_["split0_test_score"][2])
    assert ours.cv_results_["rank_test_score"][2] == 3


def test_all_fits_failing_is_an_error():
    X, y = _regression()
    params = dict(SMALL, solver="sgd")
    with pytest.raises(ValueError, match="All the 3 fits failed"):
        fastbp.MLPRegressorCV(**params, learning_rate_init=[10.0], cv=3).fit(X, y)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(batch_size=[10, 20]), "cannot search 'batch_size'"),
        (dict(hidden_layer_sizes=[(5,), (10,)]), "cannot search 'hidden_layer_sizes'"),
        (dict(activation=[("relu",), ("tanh",)]), "only alpha, beta_1"),
        # One name per hidden layer is a value, checked against the network.
        (dict(activation=["relu", "tanh"]), "activation has 2 names but the network"),
        (dict(dropout=[0.1, 0.2]), "dropout has 2 rates but the network has 1"),
        (dict(dropout=[(0.1,), (0.2,)]), "cannot search 'dropout'"),
        (dict(learning_rate_init=[]), r"learning_rate_init=\[\] is an empty grid"),
        (dict(warm_start=True), "does not support warm_start"),
        (dict(cv=4), "class 1 has 3"),
        (dict(memory_limit=1000), "more than memory_limit=1000 bytes"),
    ],
)
def test_bad_searches_are_clear_errors(kwargs, message):
    X, y = _iris()
    X, y = X[:53], y[:53]  # class 1 has 3 members
    search = fastbp.MLPClassifierCV(**{**SMALL, "cv": 3, **kwargs})
    with pytest.raises(ValueError, match=message):
        search.fit(X, y)


def test_invalid_candidate_values_raise_scikit_learns_error():
    X, y = _iris()
    with pytest.raises(ValueError, match="'learning_rate_init' parameter of"):
        fastbp.MLPClassifierCV(**SMALL, learning_rate_init=[0.1, -1.0]).fit(X, y)


def test_searchable_parameters_are_exactly_the_optimizers_and_penalty():
    assert set(SEARCHABLE) == {
        "learning_rate_init",
        "alpha",
        "momentum",
        "beta_1",
        "beta_2",
        "epsilon",
        "power_t",
    }
    # Every model parameter, with the same default, plus the search's own.
    for cv_class, model_class in (
        (fastbp.MLPClassifierCV, fastbp.MLPClassifier),
        (fastbp.MLPRegressorCV, fastbp.MLPRegressor),
    ):
        cv_params = cv_class().get_params()
        for name, value in model_class().get_params().items():
            assert cv_params[name] == value, name
        assert set(cv_params) - set(model_class().get_params()) == {
            "cv",
            "scoring",
            "refit",
            "memory_limit",
            "search",
            "factor",
            "min_epochs",
        }


def test_refit_false_and_callable_refit():
    X, y = _iris()
    grid = {"learning_rate_init": [1e-3, 1e-1]}
    search = fastbp.MLPClassifierCV(**SMALL, **grid, cv=3, refit=False).fit(X, y)
    assert not hasattr(search, "predict")
    assert not hasattr(search, "best_estimator_")
    assert search.best_params_ == search.cv_results_["params"][search.best_index_]

    def pick_last(results):
        return len(results["params"]) - 1

    search = fastbp.MLPClassifierCV(**SMALL, **grid, cv=3, refit=pick_last).fit(X, y)
    assert search.best_index_ == 1
    assert not hasattr(search, "best_score_")  # as GridSearchCV with a callable
    separate = fastbp.MLPClassifier(**SMALL, learning_rate_init=1e-1).fit(X, y)
    np.testing.assert_array_equal(search.coefs_[0], separate.coefs_[0])
    assert search.n_iter_.shape == (2, 3)
    assert search.best_estimator_.n_iter_ == separate.n_iter_


def test_cv_results_make_a_data_frame():
    pd = pytest.importorskip("pandas")
    X, y = _iris()
    search = fastbp.MLPClassifierCV(
        **SMALL, learning_rate_init=[1e-3, 1e-1], alpha=[1e-4, 1e-2], cv=3
    ).fit(X, y)
    frame = pd.DataFrame(search.cv_results_)
    assert frame.shape[0] == 4
    assert frame["param_alpha"].tolist() == [1e-4, 1e-4, 1e-2, 1e-2]
    assert (frame["mean_fit_time"] > 0).all()


def test_verbose_prints_each_fit_as_grid_search_does(capsys):
    X, y = _binary()
    params = dict(SMALL, verbose=True, max_iter=3)
    grid = {"learning_rate_init": [1e-3, 1e-1]}
    fastbp.MLPClassifierCV(**params, **grid, cv=2).fit(X, y)
    ours = capsys.readouterr().out
    GridSearchCV(fastbp.MLPClassifier(**params), grid, cv=2).fit(X, y)
    reference = capsys.readouterr().out
    assert ours == reference
    assert ours.count("Iteration 1, loss") == 5  # 2 x 2 models, then the refit


def test_convergence_warnings_are_each_fits():
    X, y = _binary()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fastbp.MLPClassifierCV(**SMALL, learning_rate_init=[1e-3, 1e-2], cv=2).fit(X, y)
    convergence = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(convergence) == 5  # 4 models at max_iter, then the refit


# ------------------------------------------------------------ successive halving
def _halving_reference(model, grid, X, y, cv, factor, min_epochs, **fit_params):
    """HalvingGridSearchCV with epochs as the resource: every round refits its
    candidates from scratch with max_iter = the round's epochs."""
    search = HalvingGridSearchCV(
        model,
        grid,
        cv=cv,
        factor=factor,
        resource="max_iter",
        max_resources=model.max_iter,
        min_resources=min_epochs,
        return_train_score=False,
    )
    return search.fit(X, y, **fit_params)


HALVING_ATTRIBUTES = (
    "n_resources_",
    "n_candidates_",
    "n_iterations_",
    "n_remaining_candidates_",
    "min_resources_",
    "max_resources_",
    "n_required_iterations_",
    "n_possible_iterations_",
)


@pytest.mark.parametrize(
    "solver, min_epochs, factor",
    [("adam", "exhaust", 3), ("sgd", 2, 2), ("adam-early-stopping", "exhaust", 3)],
)
def test_halving_equals_halving_grid_search(solver, min_epochs, factor):
    X, y = _iris()
    params = {**SMALL, **SOLVERS[solver], "max_iter": 18}
    grid = {"learning_rate_init": [1e-4, 1e-3, 1e-2, 1e-1, 0.3], "alpha": [1e-4, 1.0]}
    ours = fastbp.MLPClassifierCV(
        **params,
        **grid,
        cv=3,
        search="halving",
        factor=factor,
        min_epochs=min_epochs,
    ).fit(X, y)
    reference = _halving_reference(
        fastbp.MLPClassifier(**params), grid, X, y, 3, factor, min_epochs
    )
    _assert_same_results(ours, reference)
    for name in HALVING_ATTRIBUTES:
        assert getattr(ours, name) == getattr(reference, name), name
    assert ours.n_iterations_ >= 2
    # The refit is the separate fit with the best row's max_iter.
    assert ours.best_params_["max_iter"] == ours.n_resources_[-1]
    np.testing.assert_array_equal(ours.coefs_[0], reference.best_estimator_.coefs_[0])
    # iter / n_resources / n_iter_ agree with each other.
    iters, resources = ours.cv_results_["iter"], ours.cv_results_["n_resources"]
    np.testing.assert_array_equal(resources, np.take(ours.n_resources_, iters))
    assert [np.sum(iters == i) for i in range(ours.n_iterations_)] == ours.n_candidates_
    assert (ours.n_iter_ <= resources[:, None]).all()
    if solver == "adam":  # nothing stops early: every model ran its budget
        np.testing.assert_array_equal(ours.n_iter_, np.repeat(resources[:, None], 3, 1))


def test_halving_survivors_follow_the_stated_rule():
    """A plain-Python replay of the rule on the reported scores: each round
    keeps the ceil(n / factor) best mean scores of that round."""
    X, y = _regression()
    grid = {"learning_rate_init": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]}
    search = fastbp.MLPRegressorCV(
        **{**SMALL, "max_iter": 27}, **grid, cv=3, search="halving", factor=3
    ).fit(X, y)
    results = search.cv_results_
    rates = [p["learning_rate_init"] for p in results["params"]]
    for itr in range(search.n_iterations_ - 1):
        rows = np.flatnonzero(results["iter"] == itr)
        means = results["mean_test_score"][rows]
        k = -(-len(rows) // 3)
        best = sorted(zip(means, [rates[r] for r in rows], strict=True))[-k:]
        survivors = {rates[r] for r in np.flatnonzero(results["iter"] == itr + 1)}
        assert survivors == {rate for _, rate in best}
    last = np.flatnonzero(results["iter"] == search.n_iterations_ - 1)
    assert search.best_index_ == last[np.argmax(results["mean_test_score"][last])]


def test_halving_schedule_is_scikit_learns():
    assert halving_schedule(9, 3, "exhaust", 200)["resources"] == [22, 66, 198]
    assert halving_schedule(10, 3, "exhaust", 200)["resources"] == [22, 66, 198]
    assert halving_schedule(9, 3, 10, 50)["resources"] == [10, 30]  # max_iter binds
    assert halving_schedule(2, 3, "exhaust", 50)["resources"] == [50]
    with pytest.raises(ValueError, match="min_resources_=60 is greater"):
        halving_schedule(9, 3, 60, 50)


def test_halving_needs_a_stochastic_solver():
    X, y = _iris()
    search = fastbp.MLPClassifierCV(
        **SMALL, solver="lbfgs", alpha=[1e-4, 1.0], search="halving"
    )
    with pytest.raises(ValueError, match="search='halving' uses epochs"):
        search.fit(X, y)


@pytest.mark.parametrize("search", ["grid", "halving"])
def test_loss_curves_are_the_separate_fits(search):
    X, y = _iris()
    params = {**SMALL, "max_iter": 9}
    grid = {"learning_rate_init": [1e-3, 1e-2, 1e-1]}
    cv = KFold(3, shuffle=True, random_state=0)
    found = fastbp.MLPClassifierCV(**params, **grid, cv=cv, search=search).fit(X, y)
    splits = list(cv.split(X, y))
    for row, row_params in enumerate(found.cv_results_["params"]):
        for split, (train, _) in enumerate(splits):
            separate = fastbp.MLPClassifier(**{**params, **row_params})
            separate.fit(X[train], y[train])
            assert found.loss_curves_[row][split] == separate.loss_curve_
            assert found.n_iter_[row, split] == separate.n_iter_
