"""Hidden-layer embeddings: a fitted network's hidden activations as features.

A function rather than a method, so that the estimators keep scikit-learn's
exact method set.
"""

import numbers

from fastbp._estimators import _BaseMLP, _check_is_fitted
from fastbp._search import _BaseMLPCV
from fastbp._validation import check_is_fitted


def hidden_activations(model, X, layer=-1):
    """Activations of one hidden layer of a fitted fastbp MLP (fastbp only).

    With A_{-1} = X and A_l = f_l(A_{l-1} W_l + b_l) (W_l = ``coefs_[l]``,
    b_l = ``intercepts_[l]``, f_l the layer's hidden activation), returns
    A_layer, computed as ``predict`` computes the output: in X's and the
    weights' common float dtype, by the same compiled kernels.

    Parameters
    ----------
    model : fitted MLPClassifier, MLPRegressor or their CV estimators
        (whose refitted best model is used).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    layer : int, default=-1
        Index of the hidden layer, 0 <= layer < n_hidden (negative values
        count from the last hidden layer).

    Returns
    -------
    activations : ndarray of shape (n_samples, hidden_layer_sizes[layer])
    """
    if isinstance(model, _BaseMLPCV):
        check_is_fitted(model)
        if not hasattr(model, "best_estimator_"):
            raise ValueError(
                f"This {type(model).__name__} was fitted with refit=False, so it "
                "has no refitted model to take hidden activations from."
            )
        model = model.best_estimator_
    if not isinstance(model, _BaseMLP):
        raise TypeError(
            "hidden_activations takes a fitted fastbp MLPClassifier, MLPRegressor "
            f"or CV estimator; got {type(model).__name__}."
        )
    _check_is_fitted(model)
    n_hidden = model.n_layers_ - 2
    if not isinstance(layer, numbers.Integral) or isinstance(layer, bool):
        raise TypeError(f"layer must be an integer; got {layer!r}.")
    if n_hidden == 0:
        raise ValueError("The model has 0 hidden layers (hidden_layer_sizes=()).")
    if not -n_hidden <= layer < n_hidden:
        raise ValueError(
            f"layer={layer} is out of range: the model has {n_hidden} hidden "
            f"layers, so layer must be in [{-n_hidden}, {n_hidden - 1}]."
        )
    return model._forward_pass_fast(X, n_layers=int(layer) % n_hidden + 1)
