"""Hyperparameter checks and the single dtype/contiguity boundary.

Every scikit-learn import that has moved between versions lives here.  The
parameter constraints are scikit-learn's own (read from its MLP classes), so
invalid hyperparameters fail with exactly scikit-learn's error types and
messages.  A few private helpers are imported for the same reason: identical
messages for sample weights and ``partial_fit``'s ``classes``, and
``_fit_context``, which validates hyperparameters once per ``fit`` /
``partial_fit`` and switches validation off in nested calls exactly as
scikit-learn's MLP does.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context  # noqa: F401  (re-exported)
from sklearn.neural_network import MLPClassifier as _SklearnMLPClassifier
from sklearn.neural_network import MLPRegressor as _SklearnMLPRegressor
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

CLASSIFIER_CONSTRAINTS = dict(_SklearnMLPClassifier._parameter_constraints)
REGRESSOR_CONSTRAINTS = dict(_SklearnMLPRegressor._parameter_constraints)

_EMPTY_INT = np.empty(0, dtype=np.int64)


def hidden_layer_list(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a list of positive ints (scikit-learn's check)."""
    sizes = hidden_layer_sizes
    if not hasattr(sizes, "__iter__"):
        sizes = [sizes]
    sizes = list(sizes)
    if np.any(np.array(sizes) <= 0):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(s) for s in sizes]


def as_source(X):
    """The compiled kernels' view of validated X: (dense, data, indices, indptr).

    Dense X becomes C-contiguous (a copy only if it was not); sparse X becomes
    CSR with int64 indices and is never densified as a whole.  X's dtype
    (float32 or float64) is kept.  The caller's data is never written.
    """
    dtype = X.dtype
    if sp.issparse(X):
        X = X.tocsr()
        return (
            np.empty((0, X.shape[1]), dtype=dtype),
            np.ascontiguousarray(X.data, dtype=dtype),
            np.ascontiguousarray(X.indices, dtype=np.int64),
            np.ascontiguousarray(X.indptr, dtype=np.int64),
        )
    return (np.ascontiguousarray(X), np.empty(0, dtype=dtype), _EMPTY_INT, _EMPTY_INT)


def checked_sample_weight(sample_weight, X):
    """scikit-learn's sample-weight validation, plus: no negative weights
    (scikit-learn silently trains on them), cast to X's dtype.
    Returns an empty array when ``sample_weight`` is None."""
    if sample_weight is None:
        return np.empty(0, dtype=X.dtype)
    sample_weight = _check_sample_weight(sample_weight, X)
    if (sample_weight < 0).any():
        raise ValueError(
            "sample_weight has negative values; sample weights must be >= 0."
        )
    return np.ascontiguousarray(sample_weight, dtype=X.dtype)
