"""scikit-learn's estimator checks on fastbp's estimators, with no expected failure.

scikit-learn's own MLPs pass every check with no expected failure (STYLE.md §6),
so ours must too.  The instances are small (a hidden layer of 16 units or two
of 8 and 4, ``max_iter`` in the tens) so that the whole set runs in seconds, yet
large enough that ``check_classifiers_train`` / ``check_regressors_train`` reach
their accuracy thresholds; scikit-learn's MLPs pass the same checks with the same
instances.

Why these instances pass ``check_sample_weight_equivalence_on_*_data`` honestly
(fitting with integer weights must equal fitting on repeated rows):

* That check fits 15 rows (weighted) against about 30 (repeated).  With
  ``batch_size='auto'`` (``min(200, n_samples)``) every epoch is ONE full batch
  for both fits, and a full-batch step with weights w equals the step on the
  rows repeated w times (same weighted mean gradient, same loss); the initial
  weights are drawn identically because the layer shapes are equal.  So Adam,
  SGD with a constant or 'adaptive' schedule, and L-BFGS (always full-batch)
  are equivalent up to rounding.
* Instances that would fail it for a legitimate reason are left out, and
  scikit-learn's MLPs fail them too: an explicit ``batch_size`` smaller than n
  (different minibatches), ``learning_rate='invscaling'`` (its step depends on
  ``t_``, the number of rows seen, which repetition changes) and
  ``early_stopping=True`` (the validation split differs).
* scikit-learn's own suite runs this one check with ``solver='lbfgs'``
  (classifier) and ``solver='sgd', tol=1e-2, random_state=42`` (regressor),
  see ``PER_ESTIMATOR_CHECK_PARAMS`` in
  ``sklearn/utils/_test_common/instance_generator.py``; the L-BFGS and SGD
  instances below cover both solvers for both estimators.

``class_weight='balanced'`` (fastbp only) runs every check but three kinds
that do not apply to it, as they do not to scikit-learn's own estimators with
that setting: the ``partial_fit`` checks (SGDClassifier's rule: one batch
cannot be balanced, so ``partial_fit`` raises) and the sample-weight
equivalence (balanced weights count rows, not weights, as in
LogisticRegression).  Its multilabel checks are skipped by its tags (class
weights need one class per row).  ``dropout`` runs every check but the
sample-weight equivalence: a row repeated k times draws k independent masks
(each copy is its own training row), a row of weight k one mask.
``early_stopping_metric='loss'`` (fastbp only) is not among the instances:
it needs ``early_stopping=True``, with which scikit-learn's own MLP fails
several checks (``partial_fit`` refuses it; the checks' tiny data sets cannot
be split); ``tests/test_validation_data.py`` tests it.

``loss='poisson'`` is not among the instances: the checks train regressors on
targets with negative values, which fastbp rejects for the Poisson loss on
purpose (scikit-learn silently trains on them).
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastbp import MLPClassifier, MLPClassifierCV, MLPRegressor, MLPRegressorCV

pytestmark = [
    pytest.mark.slow,
    # max_iter in the tens rarely converges; the checks do not test that.
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

_SMALL = dict(hidden_layer_sizes=(16,), max_iter=50)
_TWO_LAYER_SGD = dict(
    hidden_layer_sizes=(8, 4),
    activation="tanh",
    max_iter=40,
    solver="sgd",
    learning_rate="adaptive",
    learning_rate_init=0.05,
    nesterovs_momentum=False,
)

ESTIMATORS = [
    MLPClassifier(**_SMALL, learning_rate_init=0.01),  # Adam, ReLU
    MLPClassifier(**_SMALL, solver="sgd", learning_rate_init=0.05),
    MLPClassifier(**_TWO_LAYER_SGD),
    MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, solver="lbfgs"),
    MLPClassifier(**_SMALL, learning_rate_init=0.01, class_weight="balanced"),
    MLPClassifier(**_SMALL, learning_rate_init=0.01, dropout=0.2),
    MLPRegressor(**_TWO_LAYER_SGD, dropout=(0.1, 0.0)),
    MLPRegressor(**_SMALL, learning_rate_init=0.01),  # Adam, ReLU
    MLPRegressor(**_TWO_LAYER_SGD),
    MLPRegressor(
        hidden_layer_sizes=(10,), max_iter=50, solver="lbfgs", activation="logistic"
    ),
    # The fused searches: two candidates, so that every check trains both and
    # refits the better one.
    MLPClassifierCV(**_SMALL, learning_rate_init=[0.01, 0.001], cv=3),
    MLPRegressorCV(**_SMALL, learning_rate_init=[0.01, 0.001], cv=3),
]


_BALANCED_DOES_NOT_APPLY = {
    "check_fit_score_takes_y": "partial_fit with class_weight='balanced' raises",
    "check_n_features_in_after_fitting": "partial_fit with 'balanced' raises",
    "check_estimators_partial_fit_n_features": "partial_fit with 'balanced' raises",
    "check_sample_weight_equivalence_on_dense_data": "balanced counts rows",
    "check_sample_weight_equivalence_on_sparse_data": "balanced counts rows",
}


_DROPOUT_DOES_NOT_APPLY = {
    "check_sample_weight_equivalence_on_dense_data": "repeats draw own masks",
    "check_sample_weight_equivalence_on_sparse_data": "repeats draw own masks",
}


def _does_not_apply(estimator):
    params = estimator.get_params()
    if params.get("class_weight") == "balanced":
        return _BALANCED_DOES_NOT_APPLY
    if np.any(np.asarray(params.get("dropout", 0.0)) > 0):
        return _DROPOUT_DOES_NOT_APPLY
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_does_not_apply)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
