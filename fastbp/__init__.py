"""fastbp: fast, scikit-learn compatible multi-layer perceptrons.

Backpropagation runs in Numba-compiled kernels on one flat parameter buffer;
whole training epochs run in compiled code.  ``MLPClassifier`` and
``MLPRegressor`` are drop-in replacements for scikit-learn's; ``compare``
times them against scikit-learn's on your data (also ``python -m
fastbp.compare data.csv --target y``).
"""

from fastbp._compare import compare
from fastbp._cv_estimators import MLPClassifierCV, MLPRegressorCV
from fastbp._embeddings import hidden_activations
from fastbp._estimators import MLPClassifier, MLPRegressor
from fastbp._lowlevel import check_gradients, forward, loss_and_gradients
from fastbp._warmup import warmup

__version__ = "0.1.0"

__all__ = [
    "MLPClassifier",
    "MLPClassifierCV",
    "MLPRegressor",
    "MLPRegressorCV",
    "__version__",
    "check_gradients",
    "compare",
    "forward",
    "hidden_activations",
    "loss_and_gradients",
    "to_onnx",
    "warmup",
]


def to_onnx(model, X_sample, target_opset=None):
    """The ONNX graph of a fitted model's predictions (``fastbp.onnx.to_onnx``;
    needs the ``onnx`` extra: skl2onnx, onnx, onnxruntime)."""
    from fastbp.onnx import to_onnx

    return to_onnx(model, X_sample, target_opset=target_opset)
