"""Plain-NumPy reference twin of fastbp's kernels.

Everything here is written in the most obvious way: whole-array NumPy, explicit
formulas, no blocking, no in-place tricks and no fastbp imports.  Tests compare
each compiled kernel with its twin.  Call these functions with float64 arrays
to get the "true" value; pass ``eps`` explicitly to reproduce the probability
clipping of a float32 computation.

Conventions (scikit-learn 1.9, ``sklearn/neural_network/_base.py`` and
``_multilayer_perceptron.py``), with one deliberate difference that fastbp
documents in ``fastbp/_losses.py``: for several outputs, squared error SUMS over
outputs (scikit-learn's reported loss averages over them while its gradient
sums, scikit-learn issue #8349).

* Weights ``coefs[l]`` have shape (fan_in, fan_out), ``intercepts[l]`` (fan_out,).
* Flat parameter vector = [W_0.ravel(), W_1.ravel(), ..., b_0, b_1, ...].
* Loss  L = (sum_i w_i l(y_i, a_i) + alpha / 2 * sum_l ||W_l||^2) / S,  with
  w_i = 1 and S = n without sample weights, else S = sum_i w_i.
"""

import itertools

import numpy as np
from scipy.special import erf, expit, xlogy

SKLEARN_HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
FASTBP_HIDDEN_ACTIVATIONS = ("leaky_relu", "elu", "gelu", "silu", "softplus")
HIDDEN_ACTIVATIONS = SKLEARN_HIDDEN_ACTIVATIONS + FASTBP_HIDDEN_ACTIVATIONS
OUTPUT_ACTIVATIONS = ("identity", "logistic", "softmax", "exp")
LOSSES = ("squared_error", "log_loss", "binary_log_loss", "poisson")
REGRESSION_LOSSES = ("absolute_error", "huber", "quantile")  # fastbp only
# The parameter each of those takes when none is given: Huber's delta, the quantile.
DEFAULT_LOSS_PARAMS = {"huber": 1.0, "quantile": 0.5}


# ----------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------


def softmax(Z):
    """Row-wise softmax, shifted by the row maximum for stability."""
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def activation(name, Z):
    """f(Z) for a 2-D array of pre-activations (a new array)."""
    Z = np.asarray(Z)
    if name == "identity":
        return Z.copy()
    if name == "logistic":
        return 1.0 / (1.0 + np.exp(-Z))
    if name == "tanh":
        return np.tanh(Z)
    if name == "relu":
        return np.maximum(Z, 0.0)
    if name == "exp":
        return np.exp(Z)
    if name == "softmax":
        return softmax(np.atleast_2d(Z)).reshape(Z.shape)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, 0.01 * Z)
    if name == "elu":
        return np.where(Z > 0, Z, np.expm1(np.minimum(Z, 0.0)))
    if name == "gelu":
        return 0.5 * Z * (1.0 + erf(Z / np.sqrt(2.0)))
    if name == "silu":
        return Z * expit(Z)
    if name == "softplus":
        return np.logaddexp(0.0, Z)
    raise ValueError(name)


def activation_derivative(name, Z):
    """f'(Z) element-wise, computed from the PRE-activation Z.

    (fastbp computes it from the output a = f(z); using z here makes the twin
    an independent computation.)  ReLU's derivative at 0 is 0, as in
    scikit-learn.  Softmax is not element-wise: see ``softmax_jacobian``.
    """
    if name == "identity":
        return np.ones_like(Z)
    if name == "logistic":
        s = 1.0 / (1.0 + np.exp(-Z))
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(Z) ** 2
    if name == "relu":
        return (Z > 0).astype(Z.dtype)
    if name == "exp":
        return np.exp(Z)
    if name == "leaky_relu":  # left slope at 0, as ReLU
        return np.where(Z > 0, 1.0, 0.01).astype(Z.dtype)
    if name == "elu":
        return np.where(Z > 0, 1.0, np.exp(np.minimum(Z, 0.0)))
    if name == "gelu":  # Phi(z) + z phi(z)
        return 0.5 * (1.0 + erf(Z / np.sqrt(2.0))) + Z * np.exp(-0.5 * Z**2) / np.sqrt(
            2.0 * np.pi
        )
    if name == "silu":
        s = expit(Z)
        return s * (1.0 + Z * (1.0 - s))
    if name == "softplus":
        return expit(Z)
    raise ValueError(name)


def softmax_jacobian(a_row):
    """d softmax(z)_k / d z_j = a_k (delta_kj - a_j), as a (K, K) matrix."""
    return np.diag(a_row) - np.outer(a_row, a_row)


# ----------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------


def _eps(A, eps):
    return np.finfo(A.dtype).eps if eps is None else eps


def row_losses(loss, Y, A, eps=None, param=None):
    """Per-row loss l(y_i, a_i), summed over outputs; shape (n_samples,).

    Probabilities are clipped to [eps, 1 - eps] with eps the machine epsilon
    of A's dtype (or the ``eps`` given).  ``log_loss`` with ONE column is the
    binary log-loss (scikit-learn appends the columns 1 - a and 1 - y).
    ``param`` is Huber's delta or the quantile (DEFAULT_LOSS_PARAMS if None).
    """
    Y, A = np.atleast_2d(Y), np.atleast_2d(A)
    param = DEFAULT_LOSS_PARAMS.get(loss) if param is None else param
    if loss == "squared_error":
        return 0.5 * ((Y - A) ** 2).sum(axis=1)
    if loss == "poisson":
        return (xlogy(Y, Y / A) - Y + A).sum(axis=1)
    if loss == "absolute_error":
        return np.abs(Y - A).sum(axis=1)
    if loss == "huber":
        r = np.abs(A - Y)
        return np.where(r <= param, 0.5 * r**2, param * (r - 0.5 * param)).sum(axis=1)
    if loss == "quantile":
        r = Y - A
        return np.maximum(param * r, (param - 1.0) * r).sum(axis=1)
    eps = _eps(A, eps)
    P = np.clip(A, eps, 1.0 - eps)
    if loss == "binary_log_loss" or (loss == "log_loss" and A.shape[1] == 1):
        return -(xlogy(Y, P) + xlogy(1.0 - Y, 1.0 - P)).sum(axis=1)
    if loss == "log_loss":
        return -xlogy(Y, P).sum(axis=1)
    raise ValueError(loss)


def loss_value(loss, Y, A, sample_weight=None, eps=None, param=None):
    """Data term (1 / S) sum_i w_i l(y_i, a_i)."""
    values = row_losses(loss, Y, A, eps, param)
    if sample_weight is None:
        return values.mean()
    return (sample_weight * values).sum() / sample_weight.sum()


def loss_derivative(loss, Y, A, eps=None, param=None):
    """dl/dA element-wise.  Zero where a log-loss clips the probability (the
    clipped loss is flat there), and the subgradient 0 at the kinks of the
    absolute and pinball losses."""
    param = DEFAULT_LOSS_PARAMS.get(loss) if param is None else param
    if loss == "squared_error":
        return A - Y
    if loss == "poisson":
        return 1.0 - Y / A
    if loss == "absolute_error":
        return np.sign(A - Y)
    if loss == "huber":
        return np.clip(A - Y, -param, param)
    if loss == "quantile":
        return np.where(Y > A, -param, np.where(Y < A, 1.0 - param, 0.0))
    eps = _eps(A, eps)
    clipped = (A < eps) | (A > 1.0 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):  # a = 0 or 1: clipped
        if loss == "binary_log_loss" or (loss == "log_loss" and A.shape[1] == 1):
            g = (1.0 - Y) / (1.0 - A) - Y / A
        elif loss == "log_loss":
            g = -Y / A
        else:
            raise ValueError(loss)
    return np.where(clipped, 0.0, g)


def is_canonical(out_activation, loss, n_outputs):
    """Pairs for which dl/dz is exactly a - y (the loss is the negative
    log-likelihood of the output's exponential-family link).

    log_loss with a logistic output is the binary log-loss only for ONE
    output column; with several columns ``row_losses`` makes it categorical,
    and a - y is then not its derivative.
    """
    return (
        (out_activation == "identity" and loss == "squared_error")
        or (out_activation == "softmax" and loss == "log_loss")
        or (out_activation == "logistic" and loss == "binary_log_loss")
        or (out_activation == "logistic" and loss == "log_loss" and n_outputs == 1)
        or (out_activation == "exp" and loss == "poisson")
    )


def output_delta(out_activation, loss, Y, Z, eps=None, param=None):
    """dl/dz for the output layer's pre-activations Z, per row (no weights).

    Canonical pairs: a - y.  Otherwise the chain rule: f'(z) * dl/da, with
    the full softmax Jacobian for softmax outputs.
    """
    A = activation(out_activation, Z)
    if is_canonical(out_activation, loss, A.shape[1]):
        return A - Y
    G = loss_derivative(loss, Y, A, eps, param)
    if out_activation == "softmax":
        return np.array([softmax_jacobian(a) @ g for a, g in zip(A, G, strict=True)])
    return activation_derivative(out_activation, Z) * G


# ----------------------------------------------------------------------------
# Flat parameter vector
# ----------------------------------------------------------------------------


def pack(coefs, intercepts):
    """[W_0.ravel(), ..., b_0, ...] as one float64 vector."""
    return np.concatenate([np.ravel(c) for c in coefs] + list(intercepts))


def unpack(theta, layer_sizes):
    """Inverse of ``pack`` for layer_sizes = [n_in, hidden..., n_out]."""
    coefs, intercepts, offset = [], [], 0
    for fan_in, fan_out in itertools.pairwise(layer_sizes):
        coefs.append(theta[offset : offset + fan_in * fan_out].reshape(fan_in, fan_out))
        offset += fan_in * fan_out
    for fan_out in layer_sizes[1:]:
        intercepts.append(theta[offset : offset + fan_out])
        offset += fan_out
    assert offset == theta.size
    return coefs, intercepts


def random_network(rng, layer_sizes, scale=1.0):
    """Weights and intercepts drawn from N(0, scale^2 / fan_in), float64."""
    coefs = [
        rng.normal(0.0, scale / np.sqrt(fan_in), (fan_in, fan_out))
        for fan_in, fan_out in itertools.pairwise(layer_sizes)
    ]
    intercepts = [rng.normal(0.0, 0.5 * scale, fan_out) for fan_out in layer_sizes[1:]]
    return coefs, intercepts


# ----------------------------------------------------------------------------
# Forward and backward passes
# ----------------------------------------------------------------------------


def hidden_name(hidden, layer):
    """Hidden layer ``layer``'s activation: ``hidden`` itself, or its
    ``layer``-th entry when one name per hidden layer is given."""
    return hidden if isinstance(hidden, str) else hidden[layer]


def forward(X, coefs, intercepts, hidden, out, dropout=None):
    """Return (Zs, As): pre-activations and activations of every layer;
    ``hidden`` is one name or one per hidden layer.  ``dropout``: None, or
    one factor matrix (n, fan_out) per hidden layer (``dropout_factors``, or
    None for a layer without dropout) that multiplies its activations."""
    Zs, As = [], []
    A = X
    for layer, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        Z = A @ W + b
        last = layer == len(coefs) - 1
        A = activation(out if last else hidden_name(hidden, layer), Z)
        if not last and dropout is not None and dropout[layer] is not None:
            A = A * dropout[layer]
        Zs.append(Z)
        As.append(A)
    return Zs, As


def l2_penalty(coefs):
    return sum((W**2).sum() for W in coefs)


def loss_and_gradients(
    X,
    Y,
    coefs,
    intercepts,
    hidden,
    out,
    loss,
    alpha=0.0,
    sample_weight=None,
    eps=None,
    param=None,
    dropout=None,
):
    """Regularised loss and its gradient by textbook back-propagation;
    ``dropout`` as ``forward`` takes it (its factors also multiply the
    hidden layer's deltas).

    Returns (L, coef_grads, intercept_grads).
    """
    Y = np.asarray(Y).reshape(X.shape[0], -1)
    n = X.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    S = n if sample_weight is None else w.sum()
    Zs, As = forward(X, coefs, intercepts, hidden, out, dropout)
    data_term = (w * row_losses(loss, Y, As[-1], eps, param)).sum()
    L = (data_term + 0.5 * alpha * l2_penalty(coefs)) / S

    delta = output_delta(out, loss, Y, Zs[-1], eps, param) * w[:, None]
    coef_grads = [None] * len(coefs)
    intercept_grads = [None] * len(coefs)
    for layer in range(len(coefs) - 1, -1, -1):
        A_prev = X if layer == 0 else As[layer - 1]
        coef_grads[layer] = (A_prev.T @ delta + alpha * coefs[layer]) / S
        intercept_grads[layer] = delta.sum(axis=0) / S
        if layer > 0:
            delta = (delta @ coefs[layer].T) * activation_derivative(
                hidden_name(hidden, layer - 1), Zs[layer - 1]
            )
            if dropout is not None and dropout[layer - 1] is not None:
                delta = delta * dropout[layer - 1]
    return L, coef_grads, intercept_grads


# ----------------------------------------------------------------------------
# Dropout masks: the counter-based hash, in Python integers
# ----------------------------------------------------------------------------

_WORD = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix_finaliser(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _WORD
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _WORD
    return z ^ (z >> 31)


def _hash_step(key, counter):
    return _splitmix_finaliser((key + _GOLDEN * (counter + 1)) & _WORD)


def dropout_keep(seed, epoch_key, layer, rows, n_units, rate):
    """(len(rows), n_units) bool: which units of hidden layer ``layer`` are
    kept for the training rows ``rows`` (fastbp._dropout's definition, in
    Python integers: a unit is dropped when the top 53 bits of its hash are
    below floor(rate 2^53))."""
    layer_key = _hash_step(_hash_step(seed, epoch_key), layer)
    threshold = int(rate * 2.0**53)
    keep = np.empty((len(rows), n_units), dtype=bool)
    for i, row in enumerate(rows):
        row_key = _hash_step(layer_key, int(row))
        for j in range(n_units):
            keep[i, j] = (_hash_step(row_key, j) >> 11) >= threshold
    return keep


def dropout_factors(seed, epoch_key, layer, rows, n_units, rate, dtype=np.float64):
    """The factors m / (1 - rate) (0 or 1 / (1 - rate), in ``dtype``) that
    inverted dropout multiplies the activations and deltas by."""
    scale = dtype(1.0 / (1.0 - rate))
    keep = dropout_keep(seed, epoch_key, layer, rows, n_units, rate)
    return np.where(keep, scale, dtype(0))


# ----------------------------------------------------------------------------
# Optimizers: scikit-learn 1.9's formulation (_stochastic_optimizers.py)
# ----------------------------------------------------------------------------


def sgd_update(theta, grad, velocity, learning_rate, momentum, nesterov):
    """One SGD step.  Returns (new theta, new velocity); inputs untouched.

    Written exactly like scikit-learn's SGDOptimizer (Python-float
    hyper-parameters, arrays keep their dtype):
        v = momentum * v - lr * g;  update = v, or momentum * v - lr * g
    """
    velocity = momentum * velocity - learning_rate * grad
    update = velocity
    if nesterov:
        update = momentum * velocity - learning_rate * grad
    new_theta = theta.copy()
    new_theta += update
    return new_theta, velocity


def adam_update(theta, grad, m, v, t, learning_rate_init, beta_1, beta_2, epsilon):
    """One Adam step at 1-based step t.  Returns (theta, m, v); inputs untouched.

    Written exactly like scikit-learn's AdamOptimizer.  For float32 arrays this
    reproduces its mixed precision: m and v stay float32, the step size is a
    float64 NumPy scalar, so the update is float64 and ``param += update``
    rounds once into float32.
    """
    m = beta_1 * m + (1 - beta_1) * grad
    v = beta_2 * v + (1 - beta_2) * (grad**2)
    learning_rate = learning_rate_init * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    update = -learning_rate * m / (np.sqrt(v) + epsilon)
    new_theta = theta.copy()
    new_theta += update
    return new_theta, m, v
