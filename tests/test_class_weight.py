"""``MLPClassifier(class_weight=...)``: LogisticRegression's meaning, applied
as a factor on every row's sample weight.

The reference for each fit is the same fit with the weights written out as
``sample_weight`` (scikit-learn's ``compute_sample_weight`` or a NumPy
mapping of labels to weights), which must give the same bits: the class
weights are nothing but sample weights.
"""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from fastbp import MLPClassifier, MLPClassifierCV

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)


def _imbalanced(n_classes=3, n_samples=240, seed=0):
    weights = [0.75, 0.17, 0.08][:n_classes] if n_classes == 3 else [0.85, 0.15]
    X, y = make_classification(
        n_samples=n_samples,
        n_features=6,
        n_informative=4,
        n_classes=n_classes,
        weights=weights,
        random_state=seed,
    )
    return StandardScaler().fit_transform(X), y


def _mapped(class_weight, y):
    """Each row's weight from a {label: weight} dict, other labels 1."""
    return np.array([class_weight.get(label, 1.0) for label in y], dtype=np.float64)


def _assert_same_model(a, b):
    for got, expected in zip(
        a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    assert a.loss_ == b.loss_
    assert a.n_iter_ == b.n_iter_


SOLVERS = {
    "adam": dict(solver="adam"),
    "sgd": dict(solver="sgd", learning_rate_init=0.05),
    "lbfgs": dict(solver="lbfgs"),
    "adam-early-stopping": dict(solver="adam", early_stopping=True, max_iter=25),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_balanced_is_compute_sample_weight_bit_for_bit(n_classes, solver, dtype):
    X, y = _imbalanced(n_classes)
    X = X.astype(dtype)
    params = {**SMALL, **SOLVERS[solver]}
    ours = MLPClassifier(**params, class_weight="balanced").fit(X, y)
    reference = MLPClassifier(**params).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    _assert_same_model(ours, reference)
    if solver == "adam-early-stopping":
        assert ours.validation_scores_ == reference.validation_scores_
    # The weights change the model (the classes are imbalanced).
    plain = MLPClassifier(**params).fit(X, y)
    assert not np.array_equal(ours.coefs_[0], plain.coefs_[0])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_dict_weights_given_classes_and_one_to_the_rest(n_classes):
    X, y = _imbalanced(n_classes)
    class_weight = {1: 4.0} if n_classes == 2 else {1: 3.0, 2: 0.5}
    ours = MLPClassifier(**SMALL, class_weight=class_weight).fit(X, y)
    reference = MLPClassifier(**SMALL).fit(X, y, sample_weight=_mapped(class_weight, y))
    _assert_same_model(ours, reference)


def test_string_labels_and_sample_weight_multiply():
    X, y = _imbalanced(3)
    labels = np.array(["cat", "dog", "eel"])[y]
    class_weight = {"dog": 2.5, "eel": 4.0}
    sample_weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    ours = MLPClassifier(**SMALL, class_weight=class_weight).fit(
        X, labels, sample_weight=sample_weight
    )
    reference = MLPClassifier(**SMALL).fit(
        X, labels, sample_weight=sample_weight * _mapped(class_weight, labels)
    )
    _assert_same_model(ours, reference)


def test_balanced_weights_are_n_over_classes_times_counts():
    """The 'balanced' factor written out from its definition: a constant
    rescaling of every weight by n / (n_classes * n_c), checked against a
    fit with those weights computed here by bincount."""
    X, y = _imbalanced(3)
    counts = np.bincount(y)
    weights = len(y) / (3 * counts.astype(np.float64))
    ours = MLPClassifier(**SMALL, class_weight="balanced").fit(X, y)
    reference = MLPClassifier(**SMALL).fit(X, y, sample_weight=weights[y])
    _assert_same_model(ours, reference)


def test_partial_fit_takes_dict_weights():
    X, y = _imbalanced(3)
    class_weight = {0: 0.5, 2: 3.0}
    ours = MLPClassifier(
        hidden_layer_sizes=(8,), random_state=0, class_weight=class_weight
    )
    reference = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    for start in (0, 80, 160):
        rows = slice(start, start + 80)
        ours.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        reference.partial_fit(
            X[rows],
            y[rows],
            classes=[0, 1, 2],
            sample_weight=_mapped(class_weight, y[rows]),
        )
    _assert_same_model(ours, reference)


def test_validation_data_are_weighted_by_class():
    """``fit``'s X_val rows get the training class weights: the validation
    loss after the last epoch is the class-weighted log-loss of the final
    model on X_val, recomputed from predict_proba."""
    X, y = _imbalanced(3, n_samples=300)
    X_val, y_val = X[240:], y[240:]
    class_weight = {1: 3.0, 2: 6.0}
    model = MLPClassifier(**SMALL, class_weight=class_weight).fit(
        X[:240], y[:240], X_val=X_val, y_val=y_val
    )
    proba = model.predict_proba(X_val)
    w = _mapped(class_weight, y_val)
    expected = -np.sum(w * np.log(proba[np.arange(len(y_val)), y_val])) / w.sum()
    assert model.validation_loss_curve_[-1] == pytest.approx(expected, rel=1e-12)


def test_balanced_helps_the_minority_classes():
    """The point of the feature: on imbalanced data, balanced accuracy on
    held-out rows rises over the unweighted fit."""
    X, y = _imbalanced(3, n_samples=1200, seed=3)
    params = dict(hidden_layer_sizes=(16,), max_iter=60, random_state=0)
    train, test = slice(0, 900), slice(900, None)
    scores = {
        cw: balanced_accuracy_score(
            y[test],
            MLPClassifier(**params, class_weight=cw)
            .fit(X[train], y[train])
            .predict(X[test]),
        )
        for cw in (None, "balanced")
    }
    assert scores["balanced"] > scores[None] + 0.02


def test_cv_estimator_equals_grid_search():
    X, y = _imbalanced(3)
    cv = StratifiedKFold(3)
    grid = {"learning_rate_init": [1e-3, 1e-2]}
    params = {**SMALL, "class_weight": "balanced"}
    ours = MLPClassifierCV(**params, **grid, cv=cv).fit(X, y)
    reference = GridSearchCV(MLPClassifier(**params), grid, cv=cv).fit(X, y)
    for k in range(3):
        key = f"split{k}_test_score"
        np.testing.assert_array_equal(ours.cv_results_[key], reference.cv_results_[key])
    assert ours.best_params_ == reference.best_params_
    _assert_same_model(ours.best_estimator_, reference.best_estimator_)


def test_unknown_class_is_logistic_regressions_error():
    X, y = _imbalanced(3)
    with pytest.raises(ValueError) as ours:
        MLPClassifier(**SMALL, class_weight={0: 1.0, 7: 2.0}).fit(X, y)
    with pytest.raises(ValueError) as logistic:
        LogisticRegression(class_weight={0: 1.0, 7: 2.0}).fit(X, y)
    assert str(ours.value) == str(logistic.value)


@pytest.mark.parametrize(
    "fit, message",
    [
        (
            lambda X, y: MLPClassifier(class_weight="balanced").partial_fit(
                X, y, classes=[0, 1, 2]
            ),
            "class_weight 'balanced' is not supported for partial_fit",
        ),
        (
            lambda X, y: MLPClassifier(class_weight="balanced", max_iter=2).fit(
                X, np.column_stack([y == 0, y == 1]).astype(int)
            ),
            "class_weight is not supported for multilabel targets",
        ),
        (
            lambda X, y: MLPClassifier(class_weight={1: -1.0}, max_iter=2).fit(X, y),
            "class_weight must give finite, non-negative weights",
        ),
        (
            lambda X, y: MLPClassifier(class_weight="auto", max_iter=2).fit(X, y),
            "The 'class_weight' parameter of MLPClassifier must be",
        ),
    ],
)
def test_bad_class_weights_are_clear_errors(fit, message):
    X, y = _imbalanced(3)
    with pytest.raises(ValueError, match=message):
        fit(X, y)
