"""``class_weight`` for ``MLPClassifier``: LogisticRegression's meaning, as
weights per class that multiply each row's sample weight.

* ``None``: every class weighs 1 (nothing changes).
* ``"balanced"``: w_c = n_samples / (n_classes * n_c), n_c the rows of class
  c in the training targets (``compute_class_weight``).
* a dict ``{label: weight}``: the given classes get their weight, the others 1;
  a label that is not a class is an error.

Row i's weight is then sample_weight_i * w_{class of i}, so class weights
affect everything sample weights affect: the loss, the gradient, the
validation score and loss of early stopping.
"""

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

_PARTIAL_FIT_BALANCED = (
    "class_weight 'balanced' is not supported for partial_fit: one batch's "
    "class frequencies are not the data's. Compute the weights once with "
    "sklearn.utils.class_weight.compute_class_weight('balanced', classes=classes, "
    "y=y) on the full training targets (or a large sample of them) and pass "
    "them as a dict: class_weight=dict(zip(classes, weights))."
)


def row_classes(Y):
    """Each row's class index in ``classes_`` from the binarized targets
    Y (n, n_outputs): the one-hot column for multiclass, the 0/1 column of a
    binary problem.  Returns an (n,) intp array."""
    if Y.shape[1] > 1:
        return np.argmax(Y, axis=1)
    return Y[:, 0].astype(np.intp)


def weights_per_class(class_weight, classes, Y, y_type, incremental):
    """(n_classes,) float64 weights of ``classes`` for the binarized training
    targets Y (n, n_outputs), or None when ``class_weight`` is None.

    ``y_type``: the targets' ``type_of_target`` (multilabel targets are
    rejected); ``incremental``: a ``partial_fit`` call, which cannot balance
    one batch (as ``SGDClassifier.partial_fit``).
    """
    if class_weight is None:
        return None
    if y_type.startswith("multilabel"):
        raise ValueError(
            "class_weight is not supported for multilabel targets (each label "
            "is its own binary problem, with no single class per row); pass "
            "sample_weight instead."
        )
    if incremental and isinstance(class_weight, str):
        raise ValueError(_PARTIAL_FIT_BALANCED)
    weights = compute_class_weight(
        class_weight, classes=classes, y=classes[row_classes(Y)]
    )
    if not np.all(np.isfinite(weights) & (weights >= 0)):
        raise ValueError(
            f"class_weight must give finite, non-negative weights; got {class_weight!r}."
        )
    return weights
