"""scikit-learn 1.9's callbacks (``sklearn.callback``) on fastbp's estimators.

Each epoch's ``fitted_estimator`` is checked against an independent fit that
stops there (``max_iter=k``: the same trajectory), a callback's stop against
the same, and the task tree against ``n_iter_``; callbacks that do not stop
must leave every result bit-identical.
"""

import warnings

import numpy as np
import pytest
from extras import import_extra
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.callback._callback_context import get_context_path
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier, MLPClassifierCV, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(8,), random_state=0, learning_rate_init=0.01)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class Recorder:
    """Records every hook call: (hook, task path, fitted model or None); asks
    to stop at the end of subtask ``stop_after`` (0-based) of ``stop_task``."""

    def __init__(self, stop_task=None, stop_after=None, want_model=True):
        self.calls, self.models = [], []
        self.stop_task, self.stop_after = stop_task, stop_after
        self.setups = self.teardowns = 0
        if not want_model:  # a hook without fitted_estimator: nothing is copied
            self.on_fit_task_end = self._end_without_model

    def setup(self, estimator, context):
        self.setups += 1

    def teardown(self, estimator, context):
        self.teardowns += 1

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None):
        self.calls.append(("begin", _path(context), context.max_subtasks))

    def on_fit_task_end(
        self,
        estimator,
        context,
        *,
        X=None,
        y=None,
        metadata=None,
        fitted_estimator=None,
    ):
        self.calls.append(("end", _path(context), context.max_subtasks))
        self.models.append((context.task_name, fitted_estimator))
        return self._stop(context)

    def _end_without_model(self, estimator, context, *, X=None, y=None, metadata=None):
        self.calls.append(("end", _path(context), context.max_subtasks))
        return self._stop(context)

    def _stop(self, context):
        return (
            context.task_name == self.stop_task and context.task_id == self.stop_after
        )

    def subtasks(self, name):
        return [c for c in self.calls if c[0] == "end" and c[1][-1][1] == name]


class Propagated(Recorder):
    """An auto-propagated recorder (as ProgressBar is), for meta-estimators."""

    max_propagation_depth = None


def _path(context):
    return tuple(
        (c.estimator_name, c.task_name, c.task_id) for c in get_context_path(context)
    )


def _same_model(a, b):
    return all(
        np.array_equal(p, q)
        for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    )


SOLVERS = {
    "adam": dict(solver="adam"),
    "sgd": dict(solver="sgd", momentum=0.5),
    "adam-early-stopping": dict(
        solver="adam", early_stopping=True, n_iter_no_change=50
    ),
}


@pytest.mark.parametrize("solver", SOLVERS)
def test_each_epochs_model_is_the_fit_stopped_there(solver):
    X, y = _iris()
    params = {**SMALL, **SOLVERS[solver], "max_iter": 6}
    recorder = Recorder()
    model = MLPClassifier(**params).set_callbacks(recorder).fit(X, y)
    epochs = [m for name, m in recorder.models if name == "epoch"]
    assert len(epochs) == model.n_iter_ == 6
    for k, snapshot in enumerate(epochs, start=1):
        stopped = MLPClassifier(**{**params, "max_iter": k}).fit(X, y)
        assert _same_model(snapshot, stopped)
        assert snapshot.n_iter_ == k and snapshot.loss_curve_ == stopped.loss_curve_
        if model.early_stopping:
            assert snapshot.validation_scores_ == stopped.validation_scores_
        np.testing.assert_array_equal(
            snapshot.predict_proba(X), stopped.predict_proba(X)
        )
    # The snapshots are copies: the fit went on without changing them.
    assert not _same_model(epochs[0], model)


def test_lbfgs_iterations_are_subtasks():
    X, y = _iris()
    params = {**SMALL, "solver": "lbfgs", "max_iter": 5}
    recorder = Recorder()
    model = MLPClassifier(**params).set_callbacks(recorder).fit(X, y)
    iterations = [m for name, m in recorder.models if name == "lbfgs-iter"]
    assert len(iterations) == model.n_iter_ == 5
    for k in (1, 3, 5):
        stopped = MLPClassifier(**{**params, "max_iter": k}).fit(X, y)
        assert _same_model(iterations[k - 1], stopped)
        assert iterations[k - 1].n_iter_ == k
        assert iterations[k - 1].loss_ == pytest.approx(stopped.loss_, rel=1e-12)


def test_task_tree_of_fit_and_partial_fit():
    X, y = _iris()
    recorder = Recorder(want_model=False)
    model = MLPClassifier(**SMALL, max_iter=4).set_callbacks(recorder)
    model.fit(X, y)
    begin, *_, end = recorder.calls
    assert begin == ("begin", (("MLPClassifier", "fit", 0),), 4)
    assert end == ("end", (("MLPClassifier", "fit", 0),), 4)
    epochs = recorder.subtasks("epoch")
    assert [c[1][-1][2] for c in epochs] == [0, 1, 2, 3]
    assert recorder.setups == recorder.teardowns == 1
    recorder.calls.clear()
    model.partial_fit(X, y)
    assert recorder.calls[0] == ("begin", (("MLPClassifier", "fit", 0),), 1)
    assert len(recorder.subtasks("epoch")) == 1
    # Nothing of the callback machinery is left on the model.
    assert not hasattr(model, "_fit_tasks") and not hasattr(model, "_callback_fit_ctx")


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_a_callback_stops_the_fit_with_a_consistent_model(solver):
    X, y = _iris()
    params = {**SMALL, "solver": solver, "max_iter": 8}
    task = "lbfgs-iter" if solver == "lbfgs" else "epoch"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a stop is not one
        model = (
            MLPClassifier(**params)
            .set_callbacks(Recorder(stop_task=task, stop_after=2, want_model=False))
            .fit(X, y)
        )
    assert model.n_iter_ == 3
    stopped = MLPClassifier(**{**params, "max_iter": 3}).fit(X, y)
    assert _same_model(model, stopped)
    if solver != "lbfgs":
        assert model.loss_curve_ == stopped.loss_curve_ and len(model.loss_curve_) == 3
        assert model.t_ == stopped.t_


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="adam"),
        dict(solver="sgd", learning_rate="adaptive", tol=1e-2, n_iter_no_change=2),
        dict(solver="lbfgs"),
        dict(solver="adam", early_stopping=True),
        dict(solver="adam", dropout=0.2),
    ],
    ids=["adam", "sgd-adaptive", "lbfgs", "early-stopping", "dropout"],
)
def test_callbacks_that_do_not_stop_change_nothing(params):
    X, y = _iris()
    params = {**SMALL, **params, "max_iter": 12}
    plain = MLPClassifier(**params).fit(X, y)
    watched = MLPClassifier(**params).set_callbacks(Recorder()).fit(X, y)
    assert _same_model(plain, watched)
    for name in ("n_iter_", "loss_", "loss_curve_", "validation_scores_", "t_"):
        assert getattr(plain, name, None) == getattr(watched, name, None), name


def test_validation_data_and_regressor():
    X, _ = _iris()
    target = X[:, 0] * 0.5 + X[:, 1]
    params = {**SMALL, "max_iter": 5}
    recorder = Recorder()
    model = MLPRegressor(**params).set_callbacks(recorder)
    model.fit(X[:100], target[:100], X_val=X[100:], y_val=target[100:])
    plain = MLPRegressor(**params).fit(
        X[:100], target[:100], X_val=X[100:], y_val=target[100:]
    )
    assert _same_model(model, plain)
    snapshots = [m for name, m in recorder.models if name == "epoch"]
    assert [len(m.validation_loss_curve_) for m in snapshots] == [1, 2, 3, 4, 5]
    assert snapshots[-1].validation_loss_curve_ == plain.validation_loss_curve_


def test_scoring_monitor_logs_each_epochs_score():
    X, y = _iris()
    params = {**SMALL, "max_iter": 4}
    monitor = ScoringMonitor(scoring="accuracy")
    MLPClassifier(**params).set_callbacks(monitor).fit(X, y)
    log = monitor.get_logs()
    rows = [row for row in log.data if row["task_name"] == "epoch"]
    assert len(rows) == 4
    for k, row in enumerate(rows, start=1):
        expected = accuracy_score(
            y, MLPClassifier(**{**params, "max_iter": k}).fit(X, y).predict(X)
        )
        assert row["accuracy"] == expected


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_propagates_to_every_fit(n_jobs):
    X, y = _iris()
    grid = {"learning_rate_init": [1e-3, 1e-2]}
    model = MLPClassifier(**{**SMALL, "max_iter": 3})
    if n_jobs == 1:
        recorder = Propagated(want_model=False)
        search = GridSearchCV(model, grid, cv=2).set_callbacks(recorder).fit(X, y)
        epochs = recorder.subtasks("epoch")
        # 4 fits and the refit, 3 epochs each, each under its evaluation task.
        assert len(epochs) == 5 * 3
        assert all(path[0] == ("GridSearchCV", "fit", 0) for _, path, _ in epochs)
        assert all(path[-2][0] == "MLPClassifier" for _, path, _ in epochs)
    else:  # worker processes: ProgressBar's own transport, as for LogisticRegression
        import_extra("rich", "callbacks")  # ProgressBar draws with rich
        search = (
            GridSearchCV(model, grid, cv=2, n_jobs=2)
            .set_callbacks(ProgressBar())
            .fit(X, y)
        )
    reference = GridSearchCV(model, grid, cv=2).fit(X, y)
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"]
    )


@pytest.mark.parametrize("search", ["grid", "halving"])
def test_cv_estimator_has_candidate_split_tasks(search):
    X, y = _iris()
    params = {**SMALL, "max_iter": 9, "learning_rate_init": [1e-3, 1e-2, 3e-2], "cv": 2}
    recorder = Propagated(want_model=False)
    ours = MLPClassifierCV(**params, search=search).set_callbacks(recorder).fit(X, y)
    plain = MLPClassifierCV(**params, search=search).fit(X, y)
    for key in ("mean_test_score", "rank_test_score"):
        np.testing.assert_array_equal(ours.cv_results_[key], plain.cv_results_[key])
    assert _same_model(ours.best_estimator_, plain.best_estimator_)
    root = recorder.calls[0]
    assert root == ("begin", (("MLPClassifierCV", "fit", 0),), 3 * 2 + 1)
    fits = [c for c in recorder.calls if c[0] == "end" and c[1][-1][1] == "fit"]
    assert len(fits) == 3 * 2 + 1 + 1  # the models, the refit, the search itself
    epochs = recorder.subtasks("epoch")
    n_model_epochs = int(np.sum(ours.n_iter_)) if search == "grid" else None
    if n_model_epochs is not None:
        assert len(epochs) == n_model_epochs + ours.best_estimator_.n_iter_


def test_ill_formed_callbacks_and_failed_fits():
    X, y = _iris()
    with pytest.raises(TypeError, match="FitCallback protocol"):
        MLPClassifier().set_callbacks(object())
    recorder = Recorder()
    model = MLPClassifier(**SMALL).set_callbacks(recorder)
    with pytest.raises(ValueError):
        model.fit(X, np.r_[y[:-1], 7.5])  # a continuous target
    assert recorder.teardowns == recorder.setups
    assert not hasattr(model, "_fit_tasks") and not hasattr(model, "_callback_fit_ctx")


class Raising(Recorder):
    def on_fit_task_end(self, estimator, context, **kwargs):
        if context.task_name == "epoch" and context.task_id == 2:
            raise RuntimeError("a callback failed")


def test_a_raising_callback_leaves_a_consistent_model_and_no_task_tree():
    X, y = _iris()
    params = {**SMALL, "max_iter": 10}
    model = MLPClassifier(**params).set_callbacks(Raising())
    with pytest.raises(RuntimeError, match="a callback failed"):
        model.fit(X, y)
    assert not hasattr(model, "_fit_tasks") and not hasattr(model, "_callback_fit_ctx")
    # Three epochs ran: the counters say so, and the weights are those.
    stopped = MLPClassifier(**{**params, "max_iter": 3}).fit(X, y)
    assert model.n_iter_ == 3 and model.loss_curve_ == stopped.loss_curve_
    assert _same_model(model, stopped)
    # Without callbacks, the next fit is a plain fit.
    model.set_callbacks().fit(X, y)
    assert _same_model(model, MLPClassifier(**params).fit(X, y))


def test_snapshots_are_plain_models_that_train_on():
    """A fitted_estimator holds no task tree (nor the training data), and
    continues as the fit stopped there would (invscaling: its learning rate
    too)."""
    import pickle

    X, y = _iris()
    params = {**SMALL, "solver": "sgd", "learning_rate": "invscaling", "max_iter": 5}
    recorder = Recorder()
    model = MLPClassifier(**params).set_callbacks(recorder).fit(X, y)
    snapshot = [m for name, m in recorder.models if name == "epoch"][2]
    assert getattr(snapshot, "_fit_tasks", None) is None
    stopped = MLPClassifier(**{**params, "max_iter": 3}).fit(X, y)
    assert snapshot._optimizer.learning_rate == stopped._optimizer.learning_rate
    assert len(pickle.dumps(snapshot.set_callbacks())) < 2 * len(pickle.dumps(stopped))
    for continued in (snapshot, stopped):
        continued.partial_fit(X, y)
    assert _same_model(snapshot, stopped)
    assert not _same_model(snapshot, model)


def test_cv_estimator_pairs_every_begin_with_an_end():
    X, y = _iris()
    recorder = Propagated(want_model=False)
    MLPClassifierCV(
        **{**SMALL, "max_iter": 3, "learning_rate_init": [1e-3, 1e-2]}, cv=2
    ).set_callbacks(recorder).fit(X, y)
    begins = sorted(path for hook, path, _ in recorder.calls if hook == "begin")
    ends = sorted(path for hook, path, _ in recorder.calls if hook == "end")
    assert begins == ends
