"""ONNX export of fitted fastbp models, through skl2onnx (the ``onnx`` extra).

Importing this module registers ``MLPClassifier``, ``MLPRegressor``,
``MLPClassifierCV`` and ``MLPRegressorCV`` with skl2onnx, so that
``skl2onnx.to_onnx(model, X)`` converts them (inside pipelines too); a CV
estimator exports its refitted ``best_estimator_``.  ``to_onnx`` is the short
way: plain tensor outputs, no ZipMap.

What is exported
----------------
The prediction graph: input ``X`` (float32 or float64, as the sample given),
one ``MatMul`` + ``Add`` per layer, each hidden layer's activation, then the
output activation.  A regressor returns ``variable`` (n_samples, n_outputs); a
classifier returns ``label`` (``predict``: int64 for numeric or boolean
classes, strings otherwise; (n_samples, n_classes) of 0/1 for multilabel
targets) and ``probabilities`` (``predict_proba``), as skl2onnx's
classifiers do.  Dropout only acts in training, so it is not in the graph.

A model that scikit-learn's MLP could be (one activation of identity,
logistic, tanh or relu; identity, logistic or softmax output; one regression
output) goes through skl2onnx's own MLP converters.  Every other model
(fastbp's activations, one activation per hidden layer, loss='poisson''s
``exp`` output, several regression outputs, which skl2onnx's regressor
converter flattens, and multilabel targets in double, whose ``Binarizer``
onnxruntime runs in float only) is written here, with these ops:

==========  =====================================  ============================
activation  float graph                            double graph
==========  =====================================  ============================
identity    (none)                                 (none)
logistic    Sigmoid                                Sigmoid
tanh        Tanh                                   Tanh
relu        Relu                                   Relu
leaky_relu  LeakyRelu(alpha=0.01)                  Max(z, 0.01 z)
elu         Elu(alpha=1)                           Relu(z) + Exp(Min(z, 0)) - 1
gelu        Gelu (opset >= 20), else               z/2 (1 + erf(z/sqrt 2)),
            z/2 (1 + Erf(z/sqrt 2))                erf as fastbp's table
silu        z Sigmoid(z)                           z Sigmoid(z)
softplus    Softplus                               Relu(z) + Log(1 + Exp(-|z|))
softmax     Softmax(axis=1) (output only)          the same
exp         Exp (output only)                      the same
==========  =====================================  ============================

The double graph avoids LeakyRelu (ONNX's float attribute cannot hold 0.01
exactly) and Elu, Softplus, Erf and Gelu (onnxruntime's CPU kernels are
float-only); its erf is fastbp's own piecewise Taylor polynomial
(``fastbp._vector_math``: Floor, Gather and Horner's rule), so double
predictions match fastbp's to ~1e-15.

Opsets: skl2onnx's default (``target_opset=None``: its latest tested opset) or
any opset >= 13; GELU uses ``Gelu`` from opset 20 and ``Erf`` below.
"""

import numpy as np
import scipy.sparse as sp
import skl2onnx
from onnx import TensorProto
from skl2onnx import update_registered_converter
from skl2onnx._parse import _parse_sklearn_classifier, _parse_sklearn_simple_model
from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType
from skl2onnx.common.shape_calculator import (
    calculate_linear_classifier_output_shapes,
    calculate_linear_regressor_output_shapes,
)
from skl2onnx.operator_converters.multilayer_perceptron import (
    convert_sklearn_mlp_classifier,
    convert_sklearn_mlp_regressor,
)
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from fastbp._activations import (
    INV_SQRT_2,
    LEAKY_SLOPE,
    OUTPUT_ACTIVATIONS,
    SKLEARN_HIDDEN_ACTIVATIONS,
)
from fastbp._cv_estimators import MLPClassifierCV, MLPRegressorCV
from fastbp._estimators import MLPClassifier, MLPRegressor
from fastbp._validation import hidden_activation_list
from fastbp._vector_math import (
    ERF_CENTRES,
    ERF_COEFFICIENTS,
    ERF_SATURATION,
    ERF_STEP,
)

_ESTIMATORS = (MLPClassifier, MLPRegressor, MLPClassifierCV, MLPRegressorCV)
MIN_OPSET = 13
GELU_OPSET = 20
_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "output_class_labels": [False, True],
    "nocl": [True, False],
}


def to_onnx(model, X_sample, target_opset=None):
    """The ONNX graph of a fitted fastbp model's predictions.

    Parameters
    ----------
    model : fitted MLPClassifier, MLPRegressor, MLPClassifierCV or MLPRegressorCV
        A CV estimator exports its ``best_estimator_``.
    X_sample : ndarray of shape (n_samples, n_features), float32 or float64
        Fixes the graph's input type: float32 (``FloatTensorType``) or float64
        (``DoubleTensorType``, the whole graph in double).
    target_opset : int, dict or None, default=None
        skl2onnx's ``target_opset`` (None: its latest tested opset; >= 13).

    Returns
    -------
    onnx.ModelProto
        Input ``X``; outputs ``label`` and ``probabilities`` (classifiers,
        plain tensors, no ZipMap) or ``variable`` (regressors).
    """
    if not isinstance(model, _ESTIMATORS):
        raise TypeError(
            f"fastbp.to_onnx exports fastbp's estimators; got {type(model).__name__}"
            " (use skl2onnx.to_onnx)."
        )
    fitted = _exportable(model)
    if sp.issparse(X_sample):
        raise TypeError("X_sample must be a dense array; the ONNX input is dense.")
    X = np.asarray(X_sample)
    if X.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"X_sample must be float32 or float64 (the graph's input type); got "
            f"{X.dtype}."
        )
    if X.ndim != 2 or X.shape[1] != fitted.n_features_in_ or X.shape[0] == 0:
        raise ValueError(
            f"X_sample must have shape (n_samples, {fitted.n_features_in_}); got "
            f"{X.shape}."
        )
    options = {id(model): {"zipmap": False}} if is_classifier(model) else None
    return skl2onnx.to_onnx(model, X[:1], target_opset=target_opset, options=options)


# ------------------------------------------------------------------ checks
def _exportable(model):
    """The plain fitted model to export (a CV's ``best_estimator_``), checked.

    Raises NotFittedError for an unfitted model and ValueError for what the
    graph cannot express.
    """
    check_is_fitted(model)
    if isinstance(model, (MLPClassifierCV, MLPRegressorCV)):
        if not hasattr(model, "best_estimator_"):
            raise ValueError(
                f"{type(model).__name__} was fitted with refit={model.refit!r}: "
                "there is no best_estimator_ to export."
            )
        model = model.best_estimator_
        check_is_fitted(model)
    hidden_activation_list(model.activation, model.n_layers_ - 2)
    if model.out_activation_ not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"cannot export out_activation_={model.out_activation_!r}.")
    if is_classifier(model) and len(model.classes_) < 2:
        raise ValueError("cannot export a classifier fitted on one class.")
    return model


def _is_sklearn_mlp(operator):
    """Whether skl2onnx's MLP converters write this operator's model so that
    onnxruntime runs it: not for several regression outputs (flattened to one
    column) nor for multilabel targets in double (Binarizer is float-only)."""
    model = operator.raw_operator
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    if is_classifier(model):
        multilabel = model._label_binarizer.y_type_ == "multilabel-indicator"
        supported = not (multilabel and double)
    else:
        supported = model.n_outputs_ == 1
    return (
        supported
        and isinstance(model.activation, str)
        and model.activation in SKLEARN_HIDDEN_ACTIVATIONS
        and model.out_activation_ in ("identity", "logistic", "softmax")
    )


# ---------------------------------------------------- parsers, shape calculators
def _parse_classifier(scope, model, inputs, custom_parsers=None):
    model = _forwarded(scope, model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers)


def _parse_regressor(scope, model, inputs, custom_parsers=None):
    model = _forwarded(scope, model)
    return _parse_sklearn_simple_model(scope, model, inputs, custom_parsers)


def _forwarded(scope, model):
    """The model that the graph's operator converts: a CV's best_estimator_,
    which also receives the CV's options (zipmap, ...)."""
    fitted = _exportable(model)
    if fitted is not model:
        options = scope.get_options(model, fail=False)
        if options:
            scope.add_options(id(fitted), options)
    return fitted


def _classifier_shapes(operator):
    calculate_linear_classifier_output_shapes(operator)
    model = operator.raw_operator
    if model._label_binarizer.y_type_ == "multilabel-indicator":
        n_rows = operator.inputs[0].get_first_dimension()
        operator.outputs[0].type = Int64TensorType([n_rows, model.n_outputs_])


def _regressor_shapes(operator):
    calculate_linear_regressor_output_shapes(operator)
    n_rows = operator.inputs[0].get_first_dimension()
    model = operator.raw_operator
    operator.outputs[0].type = type(operator.outputs[0].type)(
        [n_rows, model.n_outputs_]
    )


# ------------------------------------------------------------- converters
def _check_opset(container):
    opset = container.target_opset
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(
            f"fastbp's ONNX export needs target_opset >= {MIN_OPSET}; got {opset}."
        )


def _convert_classifier(scope, operator, container):
    _check_opset(container)
    model = operator.raw_operator
    if _is_sklearn_mlp(operator):
        convert_sklearn_mlp_classifier(scope, operator, container)
        return
    graph = _Graph(scope, operator, container)
    p = graph.network(model)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    if model._label_binarizer.y_type_ == "multilabel-indicator":
        graph.node("Identity", [p], proba)
        above = graph.node("Greater", [p, graph.constant("half", 0.5)])
        graph.node("Cast", [above], label, to=TensorProto.INT64)
        return
    if model.n_outputs_ == 1:  # binary: P(classes_[1]) only
        negative = graph.node("Sub", [graph.constant("one", 1.0), p])
        graph.node("Concat", [negative, p], proba, axis=1)
    else:
        graph.node("Identity", [p], proba)
    best = graph.node("ArgMax", [proba], axis=1, keepdims=0)
    classes = np.asarray(model.classes_)
    # Float labels hold integers (type_of_target calls others continuous).
    if classes.dtype.kind in "biuf":
        table, onnx_type = classes.astype(np.int64), TensorProto.INT64
    else:
        table = np.array([str(c).encode("utf-8") for c in classes])
        onnx_type = TensorProto.STRING
    classes_name = scope.get_unique_variable_name("classes")
    container.add_initializer(classes_name, onnx_type, table.shape, table)
    graph.node("Gather", [classes_name, best], label, axis=0)


def _convert_regressor(scope, operator, container):
    _check_opset(container)
    model = operator.raw_operator
    if _is_sklearn_mlp(operator):
        convert_sklearn_mlp_regressor(scope, operator, container)
        return
    graph = _Graph(scope, operator, container)
    graph.node("Identity", [graph.network(model)], operator.outputs[0].full_name)


class _Graph:
    """Nodes and initializers in one dtype: double for a double input, float
    otherwise (skl2onnx's MLP converters' rule)."""

    def __init__(self, scope, operator, container):
        self.scope, self.container = scope, container
        self.input = operator.inputs[0].full_name
        self.double = isinstance(operator.inputs[0].type, DoubleTensorType)
        self.proto = TensorProto.DOUBLE if self.double else TensorProto.FLOAT
        self.dtype = np.float64 if self.double else np.float32
        self.opset = container.target_opset

    def node(self, op_type, inputs, output=None, **attributes):
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        name = self.scope.get_unique_operator_name(op_type)
        self.container.add_node(op_type, inputs, output, name=name, **attributes)
        return output

    def constant(self, name, value):
        value = np.asarray(value, dtype=self.dtype)
        unique = self.scope.get_unique_variable_name(name)
        self.container.add_initializer(unique, self.proto, value.shape, value.ravel())
        return unique

    def network(self, model):
        """The output layer's activations (n_samples, n_outputs)."""
        A = self.node("Cast", [self.input], to=self.proto)
        names = hidden_activation_list(model.activation, model.n_layers_ - 2)
        for W, b, name in zip(
            model.coefs_,
            model.intercepts_,
            [*names, model.out_activation_],
            strict=True,
        ):
            product = self.node("MatMul", [A, self.constant("coefficient", W)])
            z = self.node("Add", [product, self.constant("intercepts", b[None, :])])
            A = self.activation(name, z)
        return A

    def activation(self, name, z):
        if name == "identity":
            return z
        native = {
            "logistic": "Sigmoid",
            "tanh": "Tanh",
            "relu": "Relu",
            "exp": "Exp",
        }
        if name in native:
            return self.node(native[name], [z])
        if name == "softmax":
            return self.node("Softmax", [z], axis=1)
        if name == "silu":
            return self.node("Mul", [z, self.node("Sigmoid", [z])])
        if name == "gelu":
            return self.gelu(z)
        if not self.double:
            if name == "leaky_relu":
                return self.node("LeakyRelu", [z], alpha=LEAKY_SLOPE)
            if name == "elu":
                return self.node("Elu", [z], alpha=1.0)
            if name == "softplus":
                return self.node("Softplus", [z])
        if name == "leaky_relu":
            slope = self.constant("slope", LEAKY_SLOPE)
            return self.node("Max", [z, self.node("Mul", [z, slope])])
        one = self.constant("one", 1.0)
        if name == "elu":
            negative = self.node("Min", [z, self.constant("zero", 0.0)])
            expm1 = self.node("Sub", [self.node("Exp", [negative]), one])
            return self.node("Add", [self.node("Relu", [z]), expm1])
        if name == "softplus":
            tail = self.node("Exp", [self.node("Neg", [self.node("Abs", [z])])])
            log1p = self.node("Log", [self.node("Add", [one, tail])])
            return self.node("Add", [self.node("Relu", [z]), log1p])
        raise ValueError(f"cannot export activation {name!r}.")

    def gelu(self, z):
        """0.5 z (1 + erf(z / sqrt 2)), in fastbp's order of operations."""
        if not self.double and (self.opset is None or self.opset >= GELU_OPSET):
            return self.node("Gelu", [z])
        scaled = self.node("Mul", [z, self.constant("inv_sqrt2", INV_SQRT_2)])
        erf = self.erf(scaled) if self.double else self.node("Erf", [scaled])
        half_z = self.node("Mul", [self.constant("half", 0.5), z])
        one_plus = self.node("Add", [self.constant("one", 1.0), erf])
        return self.node("Mul", [half_z, one_plus])

    def erf(self, x):
        """fastbp's erf (``_vector_math.branch_free_erf``): sign(x) P_k(|x| -
        c_k), with |x| clamped at 6, k = min(floor(8 |x|), last) and P_k a
        degree-13 polynomial (coefficients gathered by k, Horner's rule)."""
        node, constant = self.node, self.constant
        a = node("Min", [node("Abs", [x]), constant("saturation", ERF_SATURATION)])
        k = node("Floor", [node("Mul", [a, constant("inv_step", 1 / ERF_STEP)])])
        k = node("Min", [k, constant("last", len(ERF_CENTRES) - 1)])
        k = node("Cast", [k], to=TensorProto.INT64)
        t = node("Sub", [a, node("Gather", [constant("centres", ERF_CENTRES), k])])
        p = None
        for column in ERF_COEFFICIENTS.T:  # highest degree first
            c = node("Gather", [constant("erf_coefficients", column), k])
            p = c if p is None else node("Add", [node("Mul", [p, t]), c])
        return node("Mul", [node("Sign", [x]), p])


# ----------------------------------------------------------- registration
_REGISTRATIONS = (
    (MLPClassifier, "FastbpMLPClassifier"),
    (MLPClassifierCV, "FastbpMLPClassifier"),
    (MLPRegressor, "FastbpMLPRegressor"),
    (MLPRegressorCV, "FastbpMLPRegressor"),
)

for _model, _alias in _REGISTRATIONS:
    if _alias == "FastbpMLPClassifier":
        update_registered_converter(
            _model,
            _alias,
            _classifier_shapes,
            _convert_classifier,
            parser=_parse_classifier,
            options=_CLASSIFIER_OPTIONS,
        )
    else:
        update_registered_converter(
            _model,
            _alias,
            _regressor_shapes,
            _convert_regressor,
            parser=_parse_regressor,
        )
