"""Activation codes and their scalar forward / derivative helpers.

Kernels choose an activation by integer code (one compiled kernel per dtype,
whatever the activation).  Derivatives are written in terms of the activation's
OUTPUT ``a = f(z)``, so pre-activations never need to be stored:

=========  ======================  =====================
code       f(z)                    f'(z) from a
=========  ======================  =====================
IDENTITY   z                       1
LOGISTIC   1 / (1 + exp(-z))       a (1 - a)
TANH       tanh(z)                 1 - a^2
RELU       max(z, 0)               1 if a > 0 else 0
EXP        exp(z)                  a
SOFTMAX    exp(z_k) / sum exp(z)   a_k (delta_kj - a_j)  (row-wise, see
                                   ``_losses.output_delta_row``)
=========  ======================  =====================
"""

import numpy as np
from numba import njit

from fastbp._config import JIT_OPTIONS

IDENTITY, LOGISTIC, TANH, RELU, EXP, SOFTMAX = range(6)

ACTIVATION_CODES = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "exp": EXP,
    "softmax": SOFTMAX,
}
HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
OUTPUT_ACTIVATIONS = ("identity", "logistic", "softmax", "exp")


@njit(inline="always", **JIT_OPTIONS)
def activate(z, code):
    """Return f(z) for an element-wise code (not SOFTMAX), in z's dtype."""
    one = type(z)(1)
    if code == LOGISTIC:
        return one / (one + np.exp(-z))
    if code == TANH:
        return np.tanh(z)
    if code == RELU:
        return z if z > 0 else type(z)(0)
    if code == EXP:
        return np.exp(z)
    return z


@njit(inline="always", **JIT_OPTIONS)
def derivative_from_output(a, code):
    """Return f'(z) computed from a = f(z), for an element-wise code."""
    one = type(a)(1)
    if code == LOGISTIC:
        return a * (one - a)
    if code == TANH:
        return one - a * a
    if code == RELU:
        return one if a > 0 else type(a)(0)
    if code == EXP:
        return a
    return one


@njit(**JIT_OPTIONS)
def activate_row_inplace(z_row, code):
    """Apply activation ``code`` to one row of pre-activations, in place.

    SOFTMAX is computed stably: exp(z - max z) / sum(exp(z - max z)).
    Writes: z_row (n_units,).
    """
    if code == SOFTMAX:
        top = z_row[0]
        for j in range(1, z_row.shape[0]):
            if z_row[j] > top:
                top = z_row[j]
        total = type(top)(0)
        for j in range(z_row.shape[0]):
            z_row[j] = np.exp(z_row[j] - top)
            total += z_row[j]
        for j in range(z_row.shape[0]):
            z_row[j] /= total
    elif code != IDENTITY:
        for j in range(z_row.shape[0]):
            z_row[j] = activate(z_row[j], code)
