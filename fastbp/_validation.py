"""Hyperparameter checks and the single dtype/contiguity boundary.

Every scikit-learn import that has moved between versions lives here.  The
parameter constraints are scikit-learn's own (read from its MLP classes), so
invalid hyperparameters fail with exactly scikit-learn's error types and
messages.  A few private helpers are imported for the same reason: identical
messages for sample weights and ``partial_fit``'s ``classes``, and
``_fit_context``, which validates hyperparameters once per ``fit`` /
``partial_fit`` and switches validation off in nested calls exactly as
scikit-learn's MLP does, and ``validate_parameter_constraints``, with which
``fastbp.compare`` asks scikit-learn's MLPs whether they can run a setting.  The CV estimators' own constraints use the same
``Interval`` / ``StrOptions`` types, and ``scorer_accepts_sample_weight`` reads
a scorer's private ``_accept_sample_weight`` as ``GridSearchCV`` does.

Eight shortcuts replace scikit-learn calls whose checks cost more than a small
network's work (``validate_predict_input``, ``validate_training_input``,
``sorted_labels``, ``fitted_label_binarizer``, ``labels_from_outputs``,
``binarized_labels``, ``validation_accuracy``, ``validation_r2``).  Each
writes out scikit-learn 1.9's rule for the common, already-valid input,
verifies that it has one, and hands anything else to the scikit-learn
function itself; tests compare each with that function, errors and warnings
included.
"""

import inspect
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context  # noqa: F401  (re-exported)
from sklearn.metrics import accuracy_score, r2_score
from sklearn.neural_network import MLPClassifier as _SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as _SklearnMLPRegressor
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import (  # noqa: F401  (re-exported)
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import (  # noqa: F401  (re-exported)
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import (  # noqa: F401  (re-exported)
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from fastbp._activations import HIDDEN_ACTIVATIONS, init_factor
from fastbp._losses import REGRESSION_LOSSES
from fastbp._plan import Source, dense_source

# scikit-learn's constraints; ``activation`` also takes fastbp's activations
# and one name per hidden layer (checked by ``hidden_activation_list``).
_ACTIVATION_CONSTRAINT = [StrOptions(set(HIDDEN_ACTIVATIONS)), list, tuple]
_METRIC_CONSTRAINT = [StrOptions({"score", "loss"})]
_DROPOUT_CONSTRAINT = [Interval(numbers.Real, 0, 1, closed="left"), list, tuple]
CLASSIFIER_CONSTRAINTS = {
    **_SklearnMLPClassifier._parameter_constraints,
    "activation": _ACTIVATION_CONSTRAINT,
    "early_stopping_metric": _METRIC_CONSTRAINT,
    "class_weight": [dict, StrOptions({"balanced"}), None],
    "dropout": _DROPOUT_CONSTRAINT,
}
REGRESSOR_CONSTRAINTS = {
    **_SklearnMLPRegressor._parameter_constraints,
    "activation": _ACTIVATION_CONSTRAINT,
    "loss": [StrOptions(set(REGRESSION_LOSSES))],
    "huber_delta": [Interval(numbers.Real, 0, None, closed="neither")],
    "quantile": [Interval(numbers.Real, 0, 1, closed="neither")],
    "early_stopping_metric": _METRIC_CONSTRAINT,
    "dropout": _DROPOUT_CONSTRAINT,
}

_FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def validate_predict_input(estimator, X):
    """``validate_data(estimator, X, accept_sparse=["csr", "csc"], reset=False)``,
    the check of every predict-time input, with a shortcut for the inputs it
    returns unchanged and silently: a 2-D float64/float32 ndarray (not a
    subclass) with at least one row, the fitted number of features, a finite
    sum (``_finite_sum``), and an estimator fitted without feature names.
    Every other input goes through ``validate_data``, so errors and warnings
    are scikit-learn's.

    validate_data costs ~65 us per call, more than a one-row forward pass of
    most networks; the shortcut costs ~2 us.
    """
    if _fits_the_fitted_features(estimator, X) and _finite_sum(X):
        return X
    return validate_data(estimator, X, accept_sparse=["csr", "csc"], reset=False)


def _is_float_matrix(X):
    """Whether X is a 2-D float64/float32 ndarray (not a subclass) with at
    least one row: validate_data(estimator, X, reset=True) returns such an X
    itself if it has a column and finite values."""
    return (
        type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype in _FLOAT_DTYPES
        and X.shape[0] > 0
    )


def _fits_the_fitted_features(estimator, X):
    """Whether X is a float matrix (``_is_float_matrix``) with the fitted
    number of features, for an estimator fitted without feature names:
    validate_data(estimator, X, reset=False) then returns X itself if its
    values are finite."""
    return (
        _is_float_matrix(X)
        and X.shape[1] == getattr(estimator, "n_features_in_", None)
        and not hasattr(estimator, "feature_names_in_")
    )


def _finite_sum(values):
    """Whether scikit-learn's finiteness test passes on its first step: the
    sum, taken in the values' own dtype as scikit-learn 1.9 takes it, is
    finite.  Then every value is finite and that test warned about nothing;
    a sum that overflows leaves the input to validate_data, which settles it
    value by value with its own warnings (none are raised here)."""
    with np.errstate(all="ignore"):
        return bool(np.isfinite(np.sum(values)))


def validate_training_input(estimator, X, y, y_numeric, reset):
    """``validate_data(estimator, X, y, accept_sparse=["csr", "csc"],
    multi_output=True, y_numeric=y_numeric, dtype=(np.float64, np.float32),
    reset=reset)``, the check of fit's and partial_fit's inputs, with a
    shortcut for the inputs it returns unchanged and silently: X a 2-D
    float64/float32 ndarray (not a subclass) with rows and columns (for a
    fitted estimator, ``reset`` False: its number of features, and no fitted
    feature names), y a 1-D ndarray (not a subclass) of X's length holding
    integers or floats, and finite sums (so no check warned).  With ``reset``
    it records n_features_in_ and drops feature_names_in_, as validate_data
    does for such an X.  Everything else goes through ``validate_data``.
    Saves ~100-150 us per fit or partial_fit call.
    """
    if (
        (
            _fits_the_fitted_features(estimator, X)
            or (reset and _is_float_matrix(X) and X.shape[1] > 0)
        )
        and type(y) is np.ndarray
        and y.ndim == 1
        and y.shape[0] == X.shape[0]
        and (y.dtype.kind in "iu" or y.dtype in _FLOAT_DTYPES)
        and _finite_sum(X)
        and (y.dtype.kind in "iu" or _finite_sum(y))
    ):
        if reset:  # what validate_data records for an X without feature names
            if hasattr(estimator, "feature_names_in_"):
                delattr(estimator, "feature_names_in_")
            estimator.n_features_in_ = X.shape[1]
        return X, y
    return validate_data(
        estimator,
        X,
        y,
        accept_sparse=["csr", "csc"],
        multi_output=True,
        y_numeric=y_numeric,
        dtype=(np.float64, np.float32),
        reset=reset,
    )


def _is_integer_labels(y):
    """Whether y is a non-empty 1-D integer ndarray (not a subclass): a
    "binary" or "multiclass" target for scikit-learn, whose labels are its
    sorted distinct values in y's dtype (``np.unique``)."""
    return type(y) is np.ndarray and y.ndim == 1 and y.dtype.kind in "iu" and y.size


def sorted_labels(y):
    """``unique_labels(y)``, as ``np.unique`` for integer labels (see
    ``_is_integer_labels``); anything else goes to ``unique_labels``.
    Saves ~250 us per partial_fit call."""
    if _is_integer_labels(y):
        return np.unique(y)
    return unique_labels(y)


def fitted_label_binarizer(y):
    """``LabelBinarizer().fit(y)``: for integer labels (``_is_integer_labels``)
    its attributes written out, as scikit-learn's rules set them for such
    targets: classes_ the sorted labels, y_type_ "binary" for at most two of
    them, else "multiclass", sparse_input_ False.  Anything else goes to
    ``LabelBinarizer.fit``.  Saves ~250 us per fit."""
    binarizer = LabelBinarizer()
    if not _is_integer_labels(y):
        return binarizer.fit(y)
    binarizer.classes_ = np.unique(y)
    binarizer.y_type_ = "multiclass" if binarizer.classes_.size > 2 else "binary"
    binarizer.sparse_input_ = False
    return binarizer


def _default_dense_binarizer(binarizer):
    """Whether a LabelBinarizer was fitted on dense targets with the default
    labels (neg_label 0, pos_label 1): the case the shortcuts below write out."""
    return (
        not binarizer.sparse_input_
        and binarizer.neg_label == 0
        and binarizer.pos_label == 1
    )


def labels_from_outputs(binarizer, outputs):
    """``binarizer.inverse_transform(outputs)`` for the classifier's network
    outputs: (n,) for one output unit, (n, n_classes) otherwise.

    scikit-learn 1.9's rules, written out for dense NumPy outputs of a
    binarizer with the default labels (0 / 1) fitted on dense targets:
    multiclass takes classes_[argmax] (first maximum), binary thresholds at
    (0 + 1) / 2, i.e. classes_[outputs > 0.5] (one class: that class
    everywhere).  Anything else (multilabel targets, sparse fits, other
    arrays) goes to ``inverse_transform`` itself.  Its array-API dispatch costs
    ~25 us per call, more than a one-row forward pass.
    """
    if type(outputs) is np.ndarray and _default_dense_binarizer(binarizer):
        classes = binarizer.classes_
        if binarizer.y_type_ == "multiclass" and outputs.ndim == 2:
            return classes[np.argmax(outputs, axis=1)]
        if binarizer.y_type_ == "binary" and outputs.ndim == 1:
            if classes.shape[0] == 1:
                return np.repeat(classes[0], len(outputs))
            return classes[(outputs > 0.5).astype(np.intp)]
    return binarizer.inverse_transform(outputs)


def binarized_labels(binarizer, y):
    """``binarizer.transform(y).astype(bool)``: the classifier's targets.

    scikit-learn 1.9's rules, written out for a dense 1-D y whose labels are
    all among the classes of a binarizer with the default labels (0 / 1)
    fitted on dense binary or multiclass targets: one column y == classes_[1]
    for two classes, else one column per class.  Anything else (multilabel,
    one class, sparse fits, unseen or incomparable labels) goes to
    ``transform`` itself, which costs ~0.5 ms per call in type checks: more
    than a whole partial_fit step on a small batch.
    """
    classes = binarizer.classes_
    if (
        type(y) is np.ndarray
        and y.ndim == 1
        and binarizer.y_type_ in ("binary", "multiclass")
        and len(classes) >= 2
        and _default_dense_binarizer(binarizer)
        and not binarizer.sparse_output
    ):
        try:
            positions = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
            known = bool(np.all(classes[positions] == y))
        except TypeError:  # labels that do not compare with the classes
            known = False
        if known:
            if binarizer.y_type_ == "binary":
                return (positions == 1).reshape(-1, 1)
            Y = np.zeros((len(y), len(classes)), dtype=bool)
            Y[np.arange(len(y)), positions] = True
            return Y
    return binarizer.transform(y).astype(bool)


def validation_accuracy(y_true, y_pred, sample_weight=None):
    """``accuracy_score(y_true, y_pred, sample_weight=sample_weight)`` for the
    classifier's early-stopping score, whose labels both come from the fitted
    ``classes_``.  For 1-D labels that is scikit-learn 1.9's own arithmetic,
    np.average(y_true == y_pred, weights=sample_weight) as a float, without
    its target-type checks (~0.5 ms per epoch, more than a small network's
    whole epoch); multilabel indicators go to accuracy_score itself.
    """
    if y_true.ndim == 1 and y_pred.ndim == 1:
        return float(np.average(y_true == y_pred, weights=sample_weight))
    return accuracy_score(y_true, y_pred, sample_weight=sample_weight)


def validation_r2(y_true, y_pred, sample_weight=None):
    """``r2_score(y_true, y_pred, sample_weight=sample_weight)`` for the
    regressor's early-stopping score: the validation targets (float, finite,
    at least two rows) against the network's finite outputs.

    scikit-learn 1.9's arithmetic, written out: both in their common float
    dtype, per output 1 - sum w (y - p)^2 / sum w (y - mean_w y)^2 (1 for a
    perfect fit, 0 for a constant y fitted imperfectly), averaged over the
    outputs; without its input checks (~0.2 ms per epoch).  Anything else goes
    to r2_score itself.
    """
    arrays = (
        (y_true, y_pred) if sample_weight is None else (y_true, y_pred, sample_weight)
    )
    if not (
        all(type(a) is np.ndarray and a.dtype.kind == "f" for a in arrays)
        and y_true.shape[0] == y_pred.shape[0] >= 2
        and y_true.ndim <= 2
        and y_pred.ndim <= 2
    ):
        return r2_score(y_true, y_pred, sample_weight=sample_weight)
    dtype = np.result_type(*(a.dtype for a in arrays))
    y_true = y_true.astype(dtype, copy=False).reshape(y_true.shape[0], -1)
    y_pred = y_pred.astype(dtype, copy=False).reshape(y_pred.shape[0], -1)
    if y_true.shape[1] != y_pred.shape[1]:
        return r2_score(y_true, y_pred, sample_weight=sample_weight)
    if sample_weight is None:
        weight = 1.0
    else:
        sample_weight = sample_weight.astype(dtype, copy=False)
        weight = sample_weight[:, None]
    numerator = np.sum(weight * (y_true - y_pred) ** 2, axis=0)
    mean = np.average(y_true, axis=0, weights=sample_weight)
    denominator = np.sum(weight * (y_true - mean) ** 2, axis=0)
    scores = np.ones(y_true.shape[1], dtype=numerator.dtype)
    valid = (denominator != 0) & (numerator != 0)
    scores[valid] = 1 - (numerator[valid] / denominator[valid])
    scores[(numerator != 0) & (denominator == 0)] = 0.0
    return float(np.average(scores))


def hidden_layer_list(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a list of positive ints (scikit-learn's check)."""
    sizes = hidden_layer_sizes
    if not hasattr(sizes, "__iter__"):
        sizes = [sizes]
    sizes = list(sizes)
    if np.any(np.array(sizes) <= 0):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def hidden_activation_list(activation, n_hidden):
    """One activation name per hidden layer: ``activation`` repeated, or the
    sequence itself, once its length and names are checked."""
    if isinstance(activation, str):
        names, given = [activation] * n_hidden, [activation]
    else:
        names = given = list(activation)
        if len(names) != n_hidden:
            raise ValueError(
                f"activation has {len(names)} names but the network has "
                f"{n_hidden} hidden layers (hidden_layer_sizes); give one name "
                f"per hidden layer or a single name."
            )
    unknown = [name for name in given if name not in HIDDEN_ACTIVATIONS]
    if unknown:
        raise ValueError(
            f"activation={unknown[0]!r} is not a hidden activation; choose one of "
            f"{list(HIDDEN_ACTIVATIONS)}."
        )
    return names


def dropout_rates(dropout, n_hidden):
    """One drop rate per hidden layer, as a float64 array: ``dropout``
    repeated, or the sequence itself, once its length and values (each in
    [0, 1)) are checked."""
    if isinstance(dropout, numbers.Real):
        given = [dropout] * n_hidden
    else:
        given = list(dropout)
        if len(given) != n_hidden:
            raise ValueError(
                f"dropout has {len(given)} rates but the network has {n_hidden} "
                f"hidden layers (hidden_layer_sizes); give one rate per hidden "
                f"layer or a single rate."
            )
    for rate in given:
        if not (isinstance(rate, numbers.Real) and 0 <= rate < 1):
            raise ValueError(
                f"dropout rates must be real numbers in [0, 1); got {rate!r}."
            )
    return np.array(given, dtype=np.float64)


def layer_init_factors(activation, n_hidden):
    """The Glorot factor of each layer's weights (``init_factor``).

    A single name: scikit-learn's rule, that name's factor for every layer,
    the output layer included.  One name per hidden layer: each hidden layer
    uses its own activation's factor, the output layer the last hidden
    layer's (so a sequence of one repeated name equals that name).
    """
    if isinstance(activation, str):
        return [init_factor(activation)] * (n_hidden + 1)
    factors = [
        init_factor(name) for name in hidden_activation_list(activation, n_hidden)
    ]
    return [*factors, factors[-1] if factors else init_factor("relu")]


def as_source(X):
    """The compiled kernels' view of validated X: a ``_plan.Source``.

    Dense X becomes C-contiguous (a copy only if it was not); sparse X becomes
    CSR with int64 indices and is never densified as a whole.  X's dtype
    (float32 or float64) is kept.  The caller's data is never written.
    """
    dtype = X.dtype
    if sp.issparse(X):
        X = X.tocsr()
        return Source(
            np.empty((0, X.shape[1]), dtype=dtype),
            np.ascontiguousarray(X.data, dtype=dtype),
            np.ascontiguousarray(X.indices, dtype=np.int64),
            np.ascontiguousarray(X.indptr, dtype=np.int64),
        )
    return dense_source(np.ascontiguousarray(X))


def checked_sample_weight(sample_weight, X, row_weights=None):
    """scikit-learn's sample-weight validation, plus: no negative weights
    (scikit-learn silently trains on them), cast to X's dtype.

    ``row_weights``: None, or (n,) float64 factors (the rows' class weights)
    that multiply the sample weights, in float64 before the cast.
    Returns an empty array when both are None."""
    if sample_weight is None and row_weights is None:
        return np.empty(0, dtype=X.dtype)
    if row_weights is None:
        sample_weight = _check_sample_weight(sample_weight, X)
    elif sample_weight is None:
        sample_weight = row_weights
    else:
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        sample_weight = sample_weight * row_weights
    if (sample_weight < 0).any():
        raise ValueError(
            "sample_weight has negative values; sample weights must be >= 0."
        )
    return np.ascontiguousarray(sample_weight, dtype=X.dtype)


def scorer_accepts_sample_weight(scorer):
    """Whether ``GridSearchCV`` (without metadata routing) would pass
    ``sample_weight`` to this scorer: scikit-learn 1.9 asks its scorers'
    private ``_accept_sample_weight``, or reads a plain callable's signature."""
    if hasattr(scorer, "_accept_sample_weight"):
        return bool(scorer._accept_sample_weight())
    return "sample_weight" in inspect.signature(scorer).parameters
