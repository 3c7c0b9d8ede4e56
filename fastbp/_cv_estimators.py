"""The public fused searches: ``MLPClassifierCV`` and ``MLPRegressorCV``.

Their parameters are the plain estimators' (the same names and defaults)
plus the search's own; ``fastbp._search`` does the work.
"""

import numbers

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer_names
from sklearn.utils.metaestimators import available_if

from fastbp._estimators import (
    _CLASS_WEIGHT_DOC,
    _COMMON_PARAMETERS_DOC,
    MLPClassifier,
    MLPRegressor,
    _store_arguments,
)
from fastbp._search import SEARCHABLE, _BaseMLPCV
from fastbp._validation import Interval, StrOptions

_SEARCH_CONSTRAINTS = {
    "cv": ["cv_object"],
    "scoring": [StrOptions(set(get_scorer_names())), callable, None],
    "refit": ["boolean", callable],
    "memory_limit": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "search": [StrOptions({"grid", "halving"})],
    "factor": [Interval(numbers.Real, 1, None, closed="neither")],
    "min_epochs": [
        Interval(numbers.Integral, 1, None, closed="left"),
        StrOptions({"exhaust", "smallest"}),
    ],
}

_SEARCH_PARAMETERS_DOC = """
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV``: None is 5-fold; an int is ``StratifiedKFold``
        for binary or multiclass targets (``KFold`` otherwise).  A class with
        fewer members than the number of stratified folds is an error.
    scoring : str, callable or None, default=None
        One scorer, as in ``GridSearchCV``; None is the estimator's ``score``.
    refit : bool or callable, default=True
        Refit the best candidate on all the data (``best_estimator_``); a
        callable picks the best index from ``cv_results_``, as in
        ``GridSearchCV``.
    memory_limit : int or None, default=None
        Most bytes the fused pass may hold, checked before its models are
        allocated: (split copies of X) + n_models * (one model's weights,
        optimizer state, workspace and progress).  None: half the machine's
        available memory."""

_SEARCH_ATTRIBUTES_DOC = """
    cv_results_ : dict of ndarray
        ``GridSearchCV``'s keys and formats (``pd.DataFrame(cv_results_)``
        works).  ``mean_fit_time`` shares the fused pass's time equally among
        its models.
    best_params_, best_score_, best_index_ : dict, float, int
        The best candidate (``rank_test_score`` 1, the first among ties).
    best_estimator_ : MLPClassifier or MLPRegressor
        The best candidate refitted on all the data (``refit=True``).  Its
        fitted attributes (``coefs_``, ``loss_curve_``, ...) are also this
        estimator's, except ``n_iter_``.
    n_iter_ : ndarray of shape (n_candidates, n_splits)
        Epochs (L-BFGS: iterations) of every candidate on every split.
    loss_curves_ : list of n_candidates lists of n_splits lists
        fastbp only: every model's training loss per epoch (None for
        L-BFGS), the rows in ``cv_results_``'s order.
    n_splits_ : int
    refit_time_ : float
        Seconds spent refitting the best model.
    scorer_ : callable
    n_resources_, n_candidates_, n_iterations_, n_remaining_candidates_, \
min_resources_, max_resources_, n_required_iterations_, n_possible_iterations_
        ``search='halving'`` only: as in ``HalvingGridSearchCV`` (resources
        are epochs); cv_results_ then has one row per (candidate, round),
        with ``iter`` and ``n_resources`` columns and ``max_iter`` in
        ``params``."""


def _cv_constraints(model_constraints):
    constraints = dict(model_constraints)
    for name in SEARCHABLE:
        constraints[name] = [*constraints[name], list, tuple, np.ndarray]
    return {**constraints, **_SEARCH_CONSTRAINTS}


_CV_DOC = """{what}, every candidate trained in one fused pass.

    Every parameter of ``{model}``, with the same defaults; ``{searchable}``
    may also be lists of values, and the grid is their product in
    ``ParameterGrid`` order.  Every (candidate, split) model is bit-identical
    to ``{model}(**params).fit(X[train], y[train])``, so ``cv_results_``'s
    split scores, ranks and ``best_params_`` equal ``GridSearchCV``'s with the
    same splitter exactly.  SGD and Adam models train together, in parallel
    over the models; L-BFGS models one after another.  Threads follow
    fastbp's rules (no ``n_jobs``).

    Parameters
    ----------{params}{search_params}

    Attributes
    ----------{attributes}
    """


def _cv_doc(what, model, model_params=""):
    return _CV_DOC.format(
        what=what,
        model=model,
        searchable=", ".join(SEARCHABLE),
        params=_COMMON_PARAMETERS_DOC + model_params,
        search_params=_SEARCH_PARAMETERS_DOC,
        attributes=_SEARCH_ATTRIBUTES_DOC,
    )


class MLPClassifierCV(ClassifierMixin, _BaseMLPCV):
    __doc__ = (
        _cv_doc(
            "Multi-layer Perceptron classifier with a cross-validated grid search",
            "MLPClassifier",
            _CLASS_WEIGHT_DOC,
        )
        + """
    Examples
    --------
    >>> from fastbp import MLPClassifierCV
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> search = MLPClassifierCV(hidden_layer_sizes=(8,), max_iter=50,
    ...                          learning_rate_init=[1e-3, 1e-2], cv=3,
    ...                          random_state=0).fit(X, y)
    >>> sorted(search.best_params_)
    ['learning_rate_init']
    """
    )

    _model_class = MLPClassifier
    _parameter_constraints = _cv_constraints(MLPClassifier._parameter_constraints)

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        early_stopping_metric="score",
        class_weight=None,
        dropout=0.0,
        cv=None,
        scoring=None,
        refit=True,
        memory_limit=None,
        search="grid",
        factor=3,
        min_epochs="exhaust",
    ):
        _store_arguments(self, locals())

    @available_if(lambda self: bool(self.refit))
    def predict_proba(self, X):
        """Class probabilities of the refitted best model."""
        return self._refitted().predict_proba(X)

    @available_if(lambda self: bool(self.refit))
    def predict_log_proba(self, X):
        """Log class probabilities of the refitted best model."""
        return self._refitted().predict_log_proba(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = self.class_weight is None
        return tags


class MLPRegressorCV(RegressorMixin, _BaseMLPCV):
    __doc__ = (
        _cv_doc(
            "Multi-layer Perceptron regressor with a cross-validated grid search",
            "MLPRegressor",
        )
        + """
    Examples
    --------
    >>> from fastbp import MLPRegressorCV
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    >>> search = MLPRegressorCV(max_iter=50, alpha=[1e-4, 1e-1], cv=3,
    ...                         random_state=0).fit(X, y)
    >>> search.cv_results_["mean_test_score"].shape
    (2,)
    """
    )

    _model_class = MLPRegressor
    _parameter_constraints = _cv_constraints(MLPRegressor._parameter_constraints)

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        huber_delta=1.0,
        quantile=0.5,
        early_stopping_metric="score",
        dropout=0.0,
        cv=None,
        scoring=None,
        refit=True,
        memory_limit=None,
        search="grid",
        factor=3,
        min_epochs="exhaust",
    ):
        _store_arguments(self, locals())
