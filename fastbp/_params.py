"""The flat parameter buffer: layout, initialisation and per-layer views.

All weights and intercepts live in ONE contiguous vector ``theta`` in
scikit-learn's packing order (``_pack``): every layer's weight matrix
(fan_in, fan_out), row-major, then every layer's intercept vector::

    theta = [W_0.ravel(), W_1.ravel(), ..., b_0, b_1, ...]

``layout`` is an int64 array of shape (n_layers - 1, 4) whose row l holds
``(fan_in, fan_out, w_offset, b_offset)`` of layer l.  ``coefs_[l]`` and
``intercepts_[l]`` are views into theta, so one optimizer pass updates every
parameter and L-BFGS reads and writes theta without packing copies.
Element-wise passes over theta run in chunks of PARAM_CHUNK parameters
(``param_chunks``, ``chunk_range``).
"""

import numpy as np

from fastbp._config import PARAM_CHUNK, jit

FAN_IN, FAN_OUT, W_OFFSET, B_OFFSET = range(4)


@jit
def param_chunks(n_params):
    """Number of PARAM_CHUNK-sized chunks covering n_params parameters."""
    return max(1, (n_params + PARAM_CHUNK - 1) // PARAM_CHUNK)


@jit
def chunk_range(chunk, n_params):
    """(start, stop) of parameter chunk ``chunk``."""
    start = np.int64(chunk) * PARAM_CHUNK
    return start, min(start + PARAM_CHUNK, n_params)


def build_layout(layer_sizes):
    """Return (layout, n_params, n_weights) for ``layer_sizes`` = [n_in, ..., n_out]."""
    sizes = [int(s) for s in layer_sizes]
    n_layers = len(sizes) - 1
    layout = np.empty((n_layers, 4), dtype=np.int64)
    offset = 0
    for layer in range(n_layers):
        layout[layer, FAN_IN] = sizes[layer]
        layout[layer, FAN_OUT] = sizes[layer + 1]
        layout[layer, W_OFFSET] = offset
        offset += sizes[layer] * sizes[layer + 1]
    n_weights = offset
    for layer in range(n_layers):
        layout[layer, B_OFFSET] = offset
        offset += sizes[layer + 1]
    return layout, offset, n_weights


def coef_views(theta, layout):
    """Lists of (fan_in, fan_out) weight views and (fan_out,) intercept views."""
    coefs, intercepts = [], []
    for fan_in, fan_out, w_off, b_off in layout:
        coefs.append(theta[w_off : w_off + fan_in * fan_out].reshape(fan_in, fan_out))
        intercepts.append(theta[b_off : b_off + fan_out])
    return coefs, intercepts


def pack(coefs, intercepts, dtype):
    """Copy lists of weights and intercepts into a new flat theta of ``dtype``."""
    layout, n_params, _ = build_layout(
        [coefs[0].shape[0], *(c.shape[1] for c in coefs)]
    )
    theta = np.empty(n_params, dtype=dtype)
    views_w, views_b = coef_views(theta, layout)
    for view, value in zip(
        views_w + views_b, list(coefs) + list(intercepts), strict=True
    ):
        view[...] = value
    return theta, layout


def init_theta(layout, n_params, factors, random_state, dtype):
    """Glorot-uniform initialisation drawn exactly as scikit-learn 1.9 draws it.

    For each layer l in order: W ~ U(-r, r) of shape (fan_in, fan_out), then
    b ~ U(-r, r) of shape (fan_out,), with r = sqrt(factors[l] / (fan_in +
    fan_out)) (``_activations.init_factor``: 2 for logistic, 6 otherwise);
    drawn in float64, then cast.
    """
    theta = np.empty(n_params, dtype=dtype)
    coefs, intercepts = coef_views(theta, layout)
    for W, b, factor in zip(coefs, intercepts, factors, strict=True):
        fan_in, fan_out = W.shape
        bound = np.sqrt(factor / (fan_in + fan_out))
        W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
        b[...] = random_state.uniform(-bound, bound, fan_out)
    return theta
