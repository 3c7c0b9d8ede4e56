"""``MLPClassifierCV`` and ``MLPRegressorCV``: a grid search over the
optimizer's and the penalty's parameters, every model trained in one fused
pass.

``GridSearchCV(MLPClassifier(**params), param_grid, cv=cv)`` trains each
(candidate, split) model as a separate fit.  Here each model is planned by a
plain fastbp estimator exactly as its own ``fit`` plans it
(``_BaseMLP._begin_fit``), all SGD / Adam models are trained together by
``_fused.fit_many`` (models in parallel, each on one thread), and each is
ended by its estimator (``_end_fit``: its attributes, errors and warnings).
So every model, and hence every split score, mean, rank and
``best_params_``, has the same bits as ``GridSearchCV``'s with the same
splitter.  L-BFGS models are fitted one after another inside ``_begin_fit``.

Searchable parameters change only the optimizer or the penalty
(``SEARCHABLE``); the candidates of one split therefore start from the same
initial weights and see the same batches.  The grid is ``ParameterGrid`` of
the parameters given as lists: keys sorted, the last key fastest.
"""

import copy
import numbers
import time
import traceback
import warnings
from collections import Counter
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, StratifiedKFold, check_cv
from sklearn.utils import _safe_indexing
from sklearn.utils.metaestimators import available_if

from fastbp._callbacks import (
    CallbackSupportMixin,
    SearchTasks,
    callback_management_context,
    has_callbacks,
)
from fastbp._cv_results import search_results
from fastbp._estimators import (
    _NON_FINITE_WEIGHTS,
    _STOCHASTIC_SOLVERS,
)
from fastbp._fused import fit_many, with_private_generator
from fastbp._halving import best_row, halving_schedule, kept_positions
from fastbp._search_memory import check_memory, data_bytes, run_bytes
from fastbp._training import GO_ON, N_ITER, fit_stochastic
from fastbp._validation import (
    check_is_fitted,
    dropout_rates,
    hidden_activation_list,
    hidden_layer_list,
    scorer_accepts_sample_weight,
    validate_data,
)

SEARCHABLE = (
    "alpha",
    "beta_1",
    "beta_2",
    "epsilon",
    "learning_rate_init",
    "momentum",
    "power_t",
)


def _is_sequence(value):
    return isinstance(value, (list, tuple, np.ndarray))


class _Model:
    """One (candidate, split) model of the search: its estimator, its planned
    Run while it trains, its fit error (a traceback text) and the seconds
    spent on it since it was last scored."""

    def __init__(self, candidate, split, estimator):
        self.candidate, self.split, self.estimator = candidate, split, estimator
        self.run, self.error, self.seconds, self.ended = None, None, 0.0, False

    def record(self, action, *args):
        """``action(*args)``; an exception becomes this model's fit error."""
        start = time.perf_counter()
        try:
            return action(*args)
        except Exception:
            self.error = traceback.format_exc()
        finally:
            self.seconds += time.perf_counter() - start
        return None

    def loss_curve(self):
        """The training loss per epoch so far (None for L-BFGS)."""
        if self.run is not None:
            progress = self.run.progress
            return [float(v) for v in progress.loss_curve[: progress.counters[N_ITER]]]
        curve = getattr(self.estimator, "loss_curve_", None)
        return None if curve is None else [float(v) for v in curve]

    def epochs(self):
        if self.run is not None:
            return int(self.run.progress.counters[N_ITER])
        return int(getattr(self.estimator, "n_iter_", 0))

    def scoring_view(self):
        """The model as the separate fit with max_iter = its epochs so far
        would end: itself once ended; for a paused model, a shallow copy with
        its own copy of the weights (early stopping: the best ones)."""
        if self.run is None:
            return self.estimator
        plan, progress = self.run.plan, self.run.progress
        theta = (
            progress.best_theta if self.run.rules.early_stopping else plan.network.theta
        )
        if not np.isfinite(theta).all():
            raise ValueError(_NON_FINITE_WEIGHTS)
        view = copy.copy(self.estimator)
        view._publish(theta.copy(), plan.network.layout)
        return view


# Parameters whose one value may be a sequence, one entry per hidden layer.
_PER_LAYER = {
    "hidden_layer_sizes": numbers.Integral,
    "activation": str,
    "dropout": numbers.Real,
}


class _BaseMLPCV(CallbackSupportMixin, BaseEstimator):
    """The search shared by ``MLPClassifierCV`` and ``MLPRegressorCV``."""

    _model_class = None  # the plain estimator of each candidate

    # ---------------------------------------------------------------- state
    def __getstate__(self):
        # scorer_ follows from scoring unless scoring is a callable: it is
        # left out and rebuilt on load, so a skops file holds no scikit-learn
        # scorer object (skops trusts none; the user would have to).  A copy:
        # pickling must not strip the live model.
        state = dict(super().__getstate__())
        if not callable(self.scoring):
            state.pop("scorer_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "n_splits_" in state and "scorer_" not in state:
            self.scorer_ = check_scoring(self._model_class(), self.scoring)

    # ---------------------------------------------------------------- grid
    def _model_parameter_names(self):
        return self._model_class._get_param_names()

    def _parameter_grid(self):
        """The candidates: ``ParameterGrid`` of the parameters given as lists.

        Raises ValueError for a list of a parameter that cannot be searched
        and for an empty list.
        """
        grid = {}
        for name in self._model_parameter_names():
            value = getattr(self, name)
            if name in _PER_LAYER:
                # One value per hidden layer, not a grid (a sequence of them
                # would be: GridSearchCV's job).
                if _is_sequence(value) and not all(
                    isinstance(v, _PER_LAYER[name]) for v in value
                ):
                    self._raise_not_searchable(name)
                continue
            if not _is_sequence(value):
                continue
            if name not in SEARCHABLE:
                self._raise_not_searchable(name)
            values = list(np.asarray(value, dtype=object).ravel())
            if not values:
                raise ValueError(
                    f"{name}=[] is an empty grid: give at least one value, or a "
                    "single value instead of a list."
                )
            grid[name] = values
        # The per-layer values must fit the network before any fit runs (a
        # failed fit per candidate would bury the message).
        n_hidden = len(hidden_layer_list(self.hidden_layer_sizes))
        hidden_activation_list(self.activation, n_hidden)
        dropout_rates(self.dropout, n_hidden)
        return list(ParameterGrid(grid))

    def _raise_not_searchable(self, name):
        raise ValueError(
            f"{type(self).__name__} cannot search {name!r}: only "
            f"{', '.join(SEARCHABLE)} may be given as lists of values (they "
            "change the optimizer or the penalty, not the network or its "
            "batches). Use GridSearchCV to search other parameters."
        )

    def _candidate_estimators(self, candidates):
        """One unfitted plain estimator per candidate, hyperparameters checked."""
        fixed = {name: getattr(self, name) for name in self._model_parameter_names()}
        estimators = []
        for params in candidates:
            estimator = self._model_class(**{**fixed, **params})
            estimator._validate_params()
            estimators.append(estimator)
        return estimators

    # ----------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None, groups=None):
        """Train every candidate on every split in one fused pass; refit the
        best one on all the data (``refit``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Split with the folds, as ``GridSearchCV`` (without metadata
            routing) passes it: to every fit, and to the scorer when it
            accepts ``sample_weight`` (the default ``score`` does).
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter.

        Returns
        -------
        self : object
        """
        with callback_management_context(self):
            return self._fit(X, y, sample_weight, groups)

    def _fit(self, X, y, sample_weight, groups):
        candidates = self._parameter_grid()
        self._validate_params()
        if self.warm_start:
            raise ValueError(
                f"{type(self).__name__} does not support warm_start=True: every "
                "candidate starts from its own initial weights."
            )
        if self.search == "halving" and self.solver not in _STOCHASTIC_SOLVERS:
            raise ValueError(
                "search='halving' uses epochs as the resource: it needs "
                f"solver='sgd' or 'adam', not {self.solver!r}."
            )
        estimators = self._candidate_estimators(candidates)
        X_all, y_all = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            y_numeric=not is_classifier(self),
        )
        if sp.issparse(X_all):
            X_all = X_all.tocsr()
        if sample_weight is not None:  # indexable, as GridSearchCV makes it
            sample_weight = np.asarray(sample_weight)
        cv = check_cv(self.cv, y_all, classifier=is_classifier(self))
        self._check_class_sizes(cv, y_all)
        splits = list(cv.split(X_all, y_all, groups))
        self.n_splits_ = len(splits)
        self.scorer_ = (
            self.scoring
            if callable(self.scoring)
            else check_scoring(estimators[0], self.scoring)
        )
        tests = _test_splits(X_all, y_all, self._score_weights(sample_weight), splits)
        tasks = None
        if has_callbacks(self):
            n_models = len(estimators) * len(splits)
            tasks = SearchTasks(self, X_all, y, sample_weight, n_models, self.refit)
        try:
            models = self._plan_models(
                estimators, X_all, y_all, sample_weight, splits, tasks
            )
            if self.search == "grid":
                self._train(models, until_epoch=None)
                scores, fit_times, score_times, n_iter, curves = self._evaluate(
                    models, tests
                )
                results = search_results(candidates, scores, fit_times, score_times)
                best = self._best_index(results)
            else:
                results, n_iter, curves = self._successive_halving(
                    candidates, models, tests
                )
                best = best_row(results["iter"], results["mean_test_score"])
            if tasks is not None:
                tasks.end_models()
        finally:
            if tasks is not None:
                tasks.close()
        self._publish_search(results, n_iter, best)
        self.loss_curves_ = curves
        if self.refit:
            self._refit(X, y, sample_weight, tasks)
        if tasks is not None:
            tasks.end()
        return self

    def _check_class_sizes(self, cv, y):
        """Stratified folds need every class in every fold."""
        if not isinstance(cv, StratifiedKFold) or _is_splitter(self.cv):
            return
        if y.shape[0] < cv.n_splits:  # the splitter's own error says so
            return
        labels, counts = np.unique(y, return_counts=True)
        small = counts < cv.n_splits
        if small.any():
            label, count = labels[small][0].tolist(), counts[small][0]
            raise ValueError(
                f"cv={cv.n_splits} stratified folds need at least {cv.n_splits} "
                f"members of every class, but class {label!r} has {count}. Use a "
                "smaller cv or gather more samples of that class."
            )

    def _plan_models(self, estimators, X, y, sample_weight, splits, tasks):
        """One clone per (candidate, split), candidate-major (GridSearchCV's
        order), each planned by its ``_begin_fit`` on the split's training
        rows (an L-BFGS model is fitted whole there), in the callback task
        tree when ``tasks`` (``_callbacks.SearchTasks``).  The memory check
        runs after the first model is planned, before the others are."""
        folds = [
            (
                _safe_indexing(X, train),
                _safe_indexing(y, train),
                None if sample_weight is None else _safe_indexing(sample_weight, train),
            )
            for train, _ in splits
        ]
        fold_bytes = sum(data_bytes(X_train) for X_train, _, _ in folds)
        models = [
            _Model(c, s, clone(estimator))
            for c, estimator in enumerate(estimators)
            for s in range(len(splits))
        ]
        for index, model in enumerate(models):
            if tasks is not None:
                tasks.enter_model(model.estimator)
            model.run = model.record(
                model.estimator._begin_fit, *folds[model.split], False
            )
            if model.run is None:
                model.ended = True  # L-BFGS fitted, or a failed set-up
                continue
            model.run = with_private_generator(model.run)
            if index == 0:
                check_memory(
                    fold_bytes, run_bytes(model.run), len(models), self.memory_limit
                )
        return models

    def _train(self, models, until_epoch):
        """Train the models that are not ended, together, to their end or to
        ``until_epoch`` epochs; end each finished one as its own fit would."""
        live = [m for m in models if not m.ended]
        if not live:
            return
        start = time.perf_counter()
        if self.verbose and until_epoch is None:
            # Each fit's lines in turn, as GridSearchCV(n_jobs=1) prints them.
            codes = [fit_stochastic(m.run, True) for m in live]
        else:
            codes = fit_many([m.run for m in live], until_epoch)
        shared = (time.perf_counter() - start) / len(live)
        for model, code in zip(live, codes, strict=True):
            model.seconds += shared
            if code != GO_ON or until_epoch is None:
                model.ended = True
                model.record(model.estimator._end_fit, model.run, code)
                model.run = None  # free the workspace

    def _score_weights(self, sample_weight):
        """The sample weights GridSearchCV hands its scorer: all of them when
        the scorer accepts them (else it warns), none without."""
        if sample_weight is None:
            return None
        if scorer_accepts_sample_weight(self.scorer_):
            return sample_weight
        warnings.warn(
            f"The scoring {self.scorer_} does not support sample_weight, "
            "which may lead to statistically incorrect results when "
            f"fitting {self} with sample_weight. "
        )
        return None

    def _evaluate(self, models, tests):
        """Score ``models`` (candidate-major, n_splits per candidate) on their
        test splits.  Returns (n_rows, n_splits) arrays: scores (NaN for a
        failed fit), fit times since the last call, score times, epochs; and
        the loss curves (a list of rows of lists).
        Failed fits are reported as GridSearchCV reports them."""
        n_splits = len(tests)
        shape = (len(models) // n_splits, n_splits)
        scores, fit_times = np.full(shape, np.nan), np.zeros(shape)
        score_times, n_iter = np.zeros(shape), np.zeros(shape, dtype=np.int64)
        curves = [[None] * n_splits for _ in range(shape[0])]
        for index, model in enumerate(models):
            row, split = divmod(index, n_splits)
            n_iter[row, split] = model.epochs()
            curves[row][split] = model.loss_curve()
            view = model.record(model.scoring_view) if model.error is None else None
            fit_times[row, split], model.seconds = model.seconds, 0.0
            if view is None:
                continue
            X_test, y_test, kwargs = tests[split]
            start = time.perf_counter()
            try:
                score = self.scorer_(view, X_test, y_test, **kwargs)
            except Exception:
                warnings.warn(
                    "Scoring failed. The score on this train-test partition for "
                    "these parameters will be set to nan. Details: \n"
                    f"{traceback.format_exc()}",
                    UserWarning,
                )
                score = np.nan
            score_times[row, split] = time.perf_counter() - start
            scores[row, split] = score
        _warn_about_failures(models)
        return scores, fit_times, score_times, n_iter, curves

    def _successive_halving(self, candidates, models, tests):
        """Rounds of ``_halving``'s rules: train the remaining candidates'
        models to the round's epochs, score them, keep the best 1/factor.
        Returns (cv_results_ over every round's rows, their epochs, their
        loss curves)."""
        schedule = halving_schedule(
            len(candidates), self.factor, self.min_epochs, self.max_iter
        )
        n_splits = len(tests)
        alive = list(range(len(candidates)))
        rows, parts = [], []
        more = {"iter": [], "n_resources": []}
        self.n_resources_, self.n_candidates_ = [], []
        for itr, epochs in enumerate(schedule["resources"]):
            self.n_resources_.append(epochs)
            self.n_candidates_.append(len(alive))
            round_models = [
                models[c * n_splits + s] for c in alive for s in range(n_splits)
            ]
            self._train(round_models, until_epoch=epochs)
            parts.append(self._evaluate(round_models, tests))
            rows += [{**candidates[c], "max_iter": epochs} for c in alive]
            more["iter"] += [itr] * len(alive)
            more["n_resources"] += [epochs] * len(alive)
            arrays = [np.vstack(a) for a in list(zip(*parts, strict=True))[:4]]
            results = search_results(rows, *arrays[:3], more)
            means = results["mean_test_score"][-len(alive) :]
            alive = [alive[p] for p in kept_positions(means, self.factor)]
        for name, value in schedule.items():
            if name != "resources":
                setattr(self, name, value)
        self.n_remaining_candidates_ = len(alive)
        return results, arrays[3], [row for part in parts for row in part[4]]

    def _best_index(self, results):
        if not callable(self.refit):
            return results["rank_test_score"].argmin()
        best = self.refit(results)
        if not isinstance(best, numbers.Integral):
            raise TypeError("best_index_ returned is not an integer")
        if best < 0 or best >= len(results["params"]):
            raise IndexError("best_index_ index out of range")
        return best

    def _publish_search(self, results, n_iter, best):
        self.best_index_ = int(best)
        if not callable(self.refit):
            self.best_score_ = results["mean_test_score"][self.best_index_]
        self.best_params_ = results["params"][self.best_index_]
        self.cv_results_ = results
        self.n_iter_ = n_iter

    def _refit(self, X, y, sample_weight, tasks):
        fixed = {name: getattr(self, name) for name in self._model_parameter_names()}
        # A clone, as GridSearchCV refits: a RandomState parameter is copied.
        best = clone(self._model_class(**{**fixed, **self.best_params_}))
        start = time.perf_counter()
        with nullcontext() if tasks is None else tasks.refit(best):
            best.fit(X, y, sample_weight=sample_weight)
        self.refit_time_ = time.perf_counter() - start
        self.best_estimator_ = best
        for name, value in vars(best).items():
            if name.endswith("_") and not name.startswith("_") and name != "n_iter_":
                setattr(self, name, value)

    # ---------------------------------------------------------- prediction
    def _refitted(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    @available_if(lambda self: bool(self.refit))
    def predict(self, X):
        """Predict with the refitted best model (``best_estimator_``)."""
        return self._refitted().predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _test_splits(X, y, sample_weight, splits):
    """(X_test, y_test, scorer kwargs) of every split."""
    tests = []
    for _, test in splits:
        kwargs = {}
        if sample_weight is not None:
            kwargs["sample_weight"] = _safe_indexing(sample_weight, test)
        tests.append((_safe_indexing(X, test), _safe_indexing(y, test), kwargs))
    return tests


def _is_splitter(cv):
    return cv is not None and not isinstance(cv, numbers.Integral)


def _warn_about_failures(models):
    """GridSearchCV's handling of failed fits with error_score=nan: a
    FitFailedWarning that counts them, or a ValueError if all failed."""
    errors = [m.error for m in models if m.error is not None]
    if not errors:
        return
    delimiter = "-" * 80 + "\n"
    summary = "\n".join(
        f"{delimiter}{n} fits failed with the following error:\n{error}"
        for error, n in Counter(errors).items()
    )
    if len(errors) == len(models):
        raise ValueError(
            f"\nAll the {len(models)} fits failed.\n"
            "It is very likely that your model is misconfigured.\n"
            f"Below are more details about the failures:\n{summary}"
        )
    warnings.warn(
        f"\n{len(errors)} fits failed out of a total of {len(models)}.\n"
        "The score on these train-test partitions for these parameters will be "
        "set to nan.\n\n"
        f"Below are more details about the failures:\n{summary}",
        FitFailedWarning,
    )
