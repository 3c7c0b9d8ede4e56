"""Activation codes and their scalar forward / derivative helpers.

Kernels choose an activation by integer code (one compiled kernel per dtype,
whatever the activation).  Most derivatives are written in terms of the
activation's OUTPUT ``a = f(z)``; GELU and SiLU are not monotonic, so theirs
take the pre-activation z, which training keeps for the layers that use them
(``needs_pre_activation``):

==========  ===============================  ==================================
code        f(z)                             f'(z)
==========  ===============================  ==================================
IDENTITY    z                                1
LOGISTIC    1 / (1 + exp(-z))                a (1 - a)
TANH        tanh(z)                          1 - a^2
RELU        max(z, 0)                        1 if a > 0 else 0
EXP         exp(z)                           a
SOFTMAX     exp(z_k) / sum exp(z)            a_k (delta_kj - a_j)  (row-wise, see
                                             ``_losses.output_delta_row``)
LEAKY_RELU  z if z > 0 else 0.01 z           1 if a > 0 else 0.01
ELU         z if z > 0 else exp(z) - 1       1 if a > 0 else a + 1
GELU        z Phi(z) = z (1 + erf(z/√2)) / 2  Phi(z) + z exp(-z^2/2) / sqrt(2 pi)
SILU        z / (1 + exp(-z))                s (1 + z (1 - s)),  s = 1/(1+exp(-z))
SOFTPLUS    max(z, 0) + log1p(exp(-|z|))     1 - exp(-a)  (= 1 / (1 + exp(-z)))
==========  ===============================  ==================================

At z = 0 the kinked activations take the left slope (ReLU 0, as scikit-learn;
leaky ReLU 0.01; ELU 1).
"""

import math

import numpy as np

from fastbp._config import FEW_COLUMNS, jit
from fastbp._vector_math import (
    simd_erf,
    simd_exp,
    simd_expm1_nonpositive,
    simd_log1p,
    simd_tanh,
)

(
    IDENTITY,
    LOGISTIC,
    TANH,
    RELU,
    EXP,
    SOFTMAX,
    LEAKY_RELU,
    ELU,
    GELU,
    SILU,
    SOFTPLUS,
) = range(11)

ACTIVATION_CODES = {
    "identity": IDENTITY,
    "logistic": LOGISTIC,
    "tanh": TANH,
    "relu": RELU,
    "exp": EXP,
    "softmax": SOFTMAX,
    "leaky_relu": LEAKY_RELU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SILU,
    "softplus": SOFTPLUS,
}
# scikit-learn's hidden activations, then fastbp's (opt-in).
SKLEARN_HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
HIDDEN_ACTIVATIONS = (
    *SKLEARN_HIDDEN_ACTIVATIONS,
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "softplus",
)
OUTPUT_ACTIVATIONS = ("identity", "logistic", "softmax", "exp")
LEAKY_SLOPE = 0.01
INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def init_factor(activation):
    """scikit-learn's Glorot factor: weights ~ U(-r, r), r = sqrt(factor /
    (fan_in + fan_out)), factor 2 for logistic and 6 otherwise."""
    return 2.0 if activation == "logistic" else 6.0


PRE_ACTIVATION_CODES = (GELU, SILU)


@jit(inline="always")
def needs_pre_activation(code):
    """Whether f'(z) needs z itself (not only a = f(z)): PRE_ACTIVATION_CODES."""
    return code == GELU or code == SILU


@jit(inline="always")
def activate(z, code):
    """Return f(z) for an element-wise code (not SOFTMAX), in z's dtype."""
    one, zero = type(z)(1), type(z)(0)
    if code == RELU:
        return z if z > zero else zero
    if code == LOGISTIC:
        return one / (one + simd_exp(-z))
    if code == TANH:
        return simd_tanh(z)
    if code == EXP:
        return simd_exp(z)
    if code == LEAKY_RELU:
        return z if z > zero else type(z)(LEAKY_SLOPE) * z
    if code == ELU:
        e = simd_expm1_nonpositive(z if z < zero else zero)
        return z if z > zero else e
    if code == GELU:
        return type(z)(0.5) * z * (one + simd_erf(z * type(z)(INV_SQRT_2)))
    if code == SILU:
        return z / (one + simd_exp(-z))
    if code == SOFTPLUS:
        return (z if z > zero else zero) + simd_log1p(simd_exp(-np.abs(z)))
    return z


@jit(inline="always")
def derivative_from_output(a, code):
    """Return f'(z) computed from a = f(z), for an element-wise code that does
    not need z (``needs_pre_activation``)."""
    one, zero = type(a)(1), type(a)(0)
    if code == RELU:
        return one if a > zero else zero
    if code == LOGISTIC:
        return a * (one - a)
    if code == TANH:
        return one - a * a
    if code == EXP:
        return a
    if code == LEAKY_RELU:
        return one if a > zero else type(a)(LEAKY_SLOPE)
    if code == ELU:
        return one if a > zero else a + one
    if code == SOFTPLUS:
        return -simd_expm1_nonpositive(-a)
    return one


@jit(inline="always")
def derivative_from_pre_activation(z, code):
    """Return f'(z) for GELU or SiLU (the codes ``needs_pre_activation``)."""
    one, half = type(z)(1), type(z)(0.5)
    if code == GELU:
        cdf = half * (one + simd_erf(z * type(z)(INV_SQRT_2)))
        return cdf + z * simd_exp(-half * z * z) * type(z)(INV_SQRT_2PI)
    s = one / (one + simd_exp(-z))
    return s * (one + z * (one - s))


@jit
def bias_activate_inplace(Z, b, code):
    """A = f(Z + b) in place, for a C-contiguous block of pre-activations
    Z (m, n) and b (n,).

    SOFTMAX is row-wise and stable: exp(z - max z) / sum(exp(z - max z)).
    Element-wise codes: the bias is added, then f runs in one flat pass over
    the block (ReLU over many columns: one fused pass); the code is tested
    outside the loops, so each loop vectorises.
    Writes: Z.
    """
    m, n = Z.shape
    if code == SOFTMAX:
        for i in range(m):
            top = Z[i, 0] + b[0]
            for j in range(n):
                Z[i, j] += b[j]
                if Z[i, j] > top:
                    top = Z[i, j]
            for j in range(n):
                Z[i, j] -= top
        # The exponentials in one flat pass over the block (SIMD; a row's few
        # units are too short a loop), then each row's sum and division.
        z_flat = Z.reshape(Z.size)
        for q in range(z_flat.shape[0]):
            z_flat[q] = simd_exp(z_flat[q])
        for i in range(m):
            total = Z.dtype.type(0)
            for j in range(n):
                total += Z[i, j]
            for j in range(n):
                Z[i, j] /= total
        return
    if n < FEW_COLUMNS:
        # Column by column, so that the inner loop runs over the rows.
        for j in range(n):
            bj = b[j]
            for i in range(m):
                Z[i, j] += bj
    elif code == RELU:  # the default: bias and f in one pass
        zero = Z.dtype.type(0)
        for i in range(m):
            for j in range(n):
                z = Z[i, j] + b[j]
                Z[i, j] = z if z > zero else zero
        return
    else:
        for i in range(m):
            for j in range(n):
                Z[i, j] += b[j]
    z_flat = Z.reshape(Z.size)
    # One loop per code, each with its code as a constant, so that each
    # vectorises (one loop testing the code per element would not).
    if code == RELU:
        _activate_flat(z_flat, RELU)
    elif code == LOGISTIC:
        _activate_flat(z_flat, LOGISTIC)
    elif code == TANH:
        _activate_flat(z_flat, TANH)
    elif code == EXP:
        _activate_flat(z_flat, EXP)
    elif code == LEAKY_RELU:
        _activate_flat(z_flat, LEAKY_RELU)
    elif code == ELU:
        _activate_flat(z_flat, ELU)
    elif code == GELU:
        _activate_flat(z_flat, GELU)
    elif code == SILU:
        _activate_flat(z_flat, SILU)
    elif code == SOFTPLUS:
        _activate_flat(z_flat, SOFTPLUS)


@jit(inline="always")
def _activate_flat(z, code):
    """z[q] = f(z[q]) for a flat array z; ``code`` is a constant at each call
    site of ``bias_activate_inplace``.  Writes: z."""
    for q in range(z.shape[0]):
        z[q] = activate(z[q], code)


@jit
def add_bias_into(Z, b, out):
    """out = Z + b, for C-contiguous Z, out (m, n) and b (n,): the
    pre-activations a layer with ``needs_pre_activation`` keeps for training
    (the same sums ``bias_activate_inplace`` then forms).  Writes: out."""
    m, n = Z.shape
    for i in range(m):
        for j in range(n):
            out[i, j] = Z[i, j] + b[j]


@jit
def multiply_derivative_inplace(D, A, Z, code):
    """D *= f'(Z) for the pre-activations Z and activations A = f(Z).

    D, A, Z: (m, n) C-contiguous, element-wise codes only; Z is read only for
    the codes that ``needs_pre_activation`` (any (m, n) array otherwise, e.g.
    A).  Writes: D.
    """
    # One flat loop over the contiguous elements: for narrow layers a loop
    # over a row's few units costs more than its work.
    d_flat, a_flat = D.reshape(D.size), A.reshape(A.size)
    if code == RELU:
        zero = D.dtype.type(0)
        for q in range(d_flat.shape[0]):
            # Load before choosing, so the choice compiles to a select:
            # a branch on the sign of each unit is mispredicted often.
            d = d_flat[q]
            d_flat[q] = d if a_flat[q] > zero else zero
    elif needs_pre_activation(code):
        z_flat = Z.reshape(Z.size)
        for q in range(d_flat.shape[0]):
            d_flat[q] *= derivative_from_pre_activation(z_flat[q], code)
    elif code != IDENTITY:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= derivative_from_output(a_flat[q], code)
