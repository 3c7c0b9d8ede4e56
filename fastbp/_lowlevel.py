"""Public low-level API: forward pass, loss and gradients, gradient check.

For learning, gradient checking and custom training loops.  Weights follow
scikit-learn's convention: ``coefs[l]`` has shape (fan_in, fan_out) and
``intercepts[l]`` shape (fan_out,).  Inputs are never modified; everything is
computed in X's dtype (float32 or float64; other dtypes become float64).
"""

import numpy as np

from fastbp._activations import ACTIVATION_CODES, OUTPUT_ACTIVATIONS
from fastbp._losses import LOSS_CODES, loss_for_output
from fastbp._objective import Objective
from fastbp._params import FAN_OUT, coef_views, pack
from fastbp._plan import dense_source, forward_workspace, make_network
from fastbp._propagate import for_each_block
from fastbp._threads import compute_threads, use_threads
from fastbp._validation import hidden_activation_list
from fastbp._warmup import ensure_compiled


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(
            f"{name}={value!r} is not supported; choose one of {sorted(allowed)}."
        )
    return ACTIVATION_CODES.get(value, LOSS_CODES.get(value))


def _finite_float_array(name, value, dtype=None, ndim=None):
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold real numbers; got an array of dtype {array.dtype}."
        )
    if dtype is None:
        dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.float64
    array = np.ascontiguousarray(array, dtype=dtype)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D; got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return array


def _network(X, coefs, intercepts, activation, out_activation):
    """Validate the network's arrays; return (X, theta, layout, act, out)."""
    X = _finite_float_array("X", X, ndim=2)
    if len(coefs) == 0 or len(coefs) != len(intercepts):
        raise ValueError(
            "coefs and intercepts must be non-empty lists of equal length; got "
            f"{len(coefs)} and {len(intercepts)}."
        )
    coefs = [
        _finite_float_array(f"coefs[{i}]", c, X.dtype, ndim=2)
        for i, c in enumerate(coefs)
    ]
    intercepts = [
        _finite_float_array(f"intercepts[{i}]", b, X.dtype, ndim=1)
        for i, b in enumerate(intercepts)
    ]
    fan_in = X.shape[1]
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        if W.shape[0] != fan_in:
            source = "X has" if i == 0 else f"coefs[{i - 1}] has"
            raise ValueError(
                f"coefs[{i}] has shape {W.shape} but {source} {fan_in} columns; "
                f"expected ({fan_in}, fan_out)."
            )
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"intercepts[{i}] has shape {b.shape}; expected ({W.shape[1]},) to "
                f"match coefs[{i}] of shape {W.shape}."
            )
        fan_in = W.shape[1]
    act = [
        ACTIVATION_CODES[name]
        for name in hidden_activation_list(activation, len(coefs) - 1)
    ]
    out = _choice("out_activation", out_activation, OUTPUT_ACTIVATIONS)
    theta, layout = pack(coefs, intercepts, X.dtype)
    return X, theta, layout, act, out


def forward(X, coefs, intercepts, *, activation="relu", out_activation="identity"):
    """Forward pass of an MLP.

    Computes A_0 = f(X W_0 + b_0), ..., A_L = g(A_{L-1} W_L + b_L) with the
    hidden activation f and the output activation g.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    coefs : list of arrays of shape (fan_in, fan_out)
    intercepts : list of arrays of shape (fan_out,)
    activation : str or sequence of str, default='relu'
        A hidden activation (``fastbp._activations.HIDDEN_ACTIVATIONS``) for
        every hidden layer, or one per hidden layer.
    out_activation : {'identity', 'logistic', 'softmax', 'exp'}, default='identity'

    Returns
    -------
    activations : list of ndarray
        Each layer's activations (n_samples, fan_out) after the input, in X's
        dtype; the last one is the network's output.
    """
    X, theta, layout, act, out = _network(
        X, coefs, intercepts, activation, out_activation
    )
    ensure_compiled(X.dtype, "forward")
    network = make_network(theta, layout, (act, out, 0), 0.0)
    n = X.shape[0]
    # Every row in one call (block_plan over all of them): a workspace whose
    # acts hold every layer of every row.
    work = forward_workspace(1, X.shape[1], layout, X.dtype)
    work = work._replace(acts=np.empty(n * int(layout[:, FAN_OUT].sum()), X.dtype))
    threaded = use_threads(n, layout)
    with compute_threads(threaded):
        for_each_block(X, X, work.sw_buf[:0], network, work, False, threaded)
    # Each layer's (n, fan_out) block of acts, sliced here (a compiled
    # layer_view called from Python would be one more kernel to compile).
    activations, offset = [], 0
    for fan_out in layout[:, FAN_OUT]:
        block = work.acts[n * offset : n * (offset + fan_out)]
        activations.append(block.reshape(n, fan_out).copy())
        offset += fan_out
    return activations


def _targets(y, n_samples, n_outputs, dtype):
    Y = _finite_float_array("y", y, dtype)
    if Y.ndim == 1:
        Y = Y.reshape(-1, 1)
    if Y.ndim != 2 or Y.shape != (n_samples, n_outputs):
        raise ValueError(
            f"y has shape {np.shape(y)}; expected ({n_samples},) or "
            f"({n_samples}, {n_outputs}) to match X and the last layer."
        )
    return Y


def _weights(sample_weight, n_samples, dtype):
    if sample_weight is None:
        return np.empty(0, dtype=dtype)
    sw = _finite_float_array("sample_weight", sample_weight, dtype, ndim=1)
    if sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {sw.shape[0]} entries; expected {n_samples}."
        )
    if (sw < 0).any():
        raise ValueError("sample_weight must be non-negative.")
    if not (sw > 0).any():
        raise ValueError("sample_weight must have at least one positive entry.")
    return sw


def _loss_param(loss, huber_delta, quantile):
    """The Network's loss_param: Huber's delta, the quantile, else 0."""
    if loss == "huber":
        if not (np.isfinite(huber_delta) and huber_delta > 0):
            raise ValueError(
                f"huber_delta must be a finite number > 0; got {huber_delta!r}."
            )
        return float(huber_delta)
    if loss == "quantile":
        if not 0 < quantile < 1:
            raise ValueError(f"quantile must be in (0, 1); got {quantile!r}.")
        return float(quantile)
    return 0.0


def _objective(
    X,
    y,
    coefs,
    intercepts,
    activation,
    out_activation,
    loss,
    alpha,
    sample_weight,
    huber_delta,
    quantile,
):
    """The validated network and data as an ``Objective`` (theta is a packed
    copy of coefs and intercepts)."""
    X, theta, layout, act, out = _network(
        X, coefs, intercepts, activation, out_activation
    )
    loss_code = _choice("loss", loss_for_output(loss, out_activation), LOSS_CODES)
    if float(alpha) < 0 or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number >= 0; got {alpha!r}.")
    Y = _targets(y, X.shape[0], int(layout[-1, FAN_OUT]), X.dtype)
    sw = _weights(sample_weight, X.shape[0], X.dtype)
    ensure_compiled(X.dtype, "objective")
    loss_param = _loss_param(loss, huber_delta, quantile)
    network = make_network(theta, layout, (act, out, loss_code), alpha, loss_param)
    return Objective(dense_source(X), Y, sw, network)


def loss_and_gradients(
    X,
    y,
    coefs,
    intercepts,
    *,
    activation="relu",
    out_activation="identity",
    loss="squared_error",
    alpha=0.0,
    sample_weight=None,
    huber_delta=1.0,
    quantile=0.5,
):
    """Regularised loss of an MLP and its exact gradient.

    L = (sum_i w_i l(y_i, a_i) + alpha/2 sum_l ||W_l||^2) / S, with the per-row
    losses of scikit-learn 1.9 (see ``fastbp._losses``; squared error sums over
    outputs), w_i = 1 and S = n_samples without sample weights, else
    S = sum_i w_i.  ``loss='log_loss'`` with a logistic output uses the binary
    log-loss, as scikit-learn does.  fastbp's regression losses
    'absolute_error', 'huber' (``huber_delta``) and 'quantile' (``quantile``)
    are accepted too.

    Returns
    -------
    loss : float
    coef_grads : list of ndarray, shaped like ``coefs``
    intercept_grads : list of ndarray, shaped like ``intercepts``
    """
    objective = _objective(
        X,
        y,
        coefs,
        intercepts,
        activation,
        out_activation,
        loss,
        alpha,
        sample_weight,
        huber_delta,
        quantile,
    )
    with objective.threads():
        value, grad = objective(objective.theta.copy())
    coef_grads, intercept_grads = coef_views(grad, objective.plan.network.layout)
    return float(value), coef_grads, intercept_grads


def check_gradients(
    X,
    y,
    coefs,
    intercepts,
    *,
    activation="relu",
    out_activation="identity",
    loss="squared_error",
    alpha=0.0,
    sample_weight=None,
    huber_delta=1.0,
    quantile=0.5,
    eps=1e-6,
):
    """Largest relative error between ``loss_and_gradients`` and central
    finite differences (L(theta + eps e_j) - L(theta - eps e_j)) / (2 eps).

    Computed in float64 whatever X's dtype.  The error of parameter j is
    |g_j - n_j| / max(|g_j|, |n_j|, 1e-6): relative for gradients of normal
    size, absolute (scaled by 1e-6) for near-zero ones where finite
    differences only carry round-off.
    """
    as64 = [np.asarray(a, dtype=np.float64) for a in (*coefs, *intercepts)]
    n_layers = len(coefs)
    objective = _objective(
        np.asarray(X, dtype=np.float64),
        y,
        as64[:n_layers],
        as64[n_layers:],
        activation,
        out_activation,
        loss,
        alpha,
        sample_weight,
        huber_delta,
        quantile,
    )
    theta = objective.theta.copy()
    numeric = np.empty_like(theta)
    probe = theta.copy()
    with objective.threads():
        _, grad = objective(theta)
        for j in range(theta.size):
            probe[j] = theta[j] + eps
            up, _ = objective(probe)
            probe[j] = theta[j] - eps
            down, _ = objective(probe)
            probe[j] = theta[j]
            numeric[j] = (up - down) / (2 * eps)
    scale = np.maximum(np.maximum(np.abs(grad), np.abs(numeric)), 1e-6)
    return float(np.max(np.abs(grad - numeric) / scale))
