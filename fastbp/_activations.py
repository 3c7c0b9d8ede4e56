"""Activation codes and their scalar forward / derivative helpers.

Kernels choose an activation by integer code (one compiled kernel per dtype,
whatever the activation).  Most derivatives are written in terms of the
activation's OUTPUT ``a = f(z)``; GELU and SiLU are not monotonic, so theirs
also take the pre-activation z, which training keeps for the layers that use
them (``needs_pre_activation``; from z alone under dropout, which masks a):

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
GELU        z Phi(z) = z (1 + erf(z/√2)) / 2  Phi(z) + z exp(-z^2/2) / sqrt(2 pi),
                                             Phi(z) = a / z (1/2 near z = 0)
SILU        z / (1 + exp(-z))                s (1 + z (1 - s)),  s = a / z (1/2 near 0)
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


# One scalar function per element-wise activation: f(z) in z's dtype.  Each
# loop of ``bias_activate_inplace`` calls one of them directly, so that each
# compiles (and vectorises) with no other activation's code in it.


@jit(inline="always")
def relu(z):
    zero = type(z)(0)
    return z if z > zero else zero


@jit(inline="always")
def logistic(z):
    one = type(z)(1)
    return one / (one + simd_exp(-z))


@jit(inline="always")
def leaky_relu(z):
    return z if z > type(z)(0) else type(z)(LEAKY_SLOPE) * z


@jit(inline="always")
def elu(z):
    zero = type(z)(0)
    e = simd_expm1_nonpositive(z if z < zero else zero)
    return z if z > zero else e


@jit(inline="always")
def gelu(z):
    return type(z)(0.5) * z * (type(z)(1) + simd_erf(z * type(z)(INV_SQRT_2)))


@jit(inline="always")
def silu(z):
    return z / (type(z)(1) + simd_exp(-z))


@jit(inline="always")
def softplus(z):
    zero = type(z)(0)
    return (z if z > zero else zero) + simd_log1p(simd_exp(-np.abs(z)))


# Their derivatives, from the output a = f(z) (or from z itself for GELU and
# SiLU), one function each for the same reason.


@jit(inline="always")
def logistic_derivative(a):
    return a * (type(a)(1) - a)


@jit(inline="always")
def tanh_derivative(a):
    return type(a)(1) - a * a


@jit(inline="always")
def leaky_relu_derivative(a):
    return type(a)(1) if a > type(a)(0) else type(a)(LEAKY_SLOPE)


@jit(inline="always")
def elu_derivative(a):
    return type(a)(1) if a > type(a)(0) else a + type(a)(1)


@jit(inline="always")
def softplus_derivative(a):
    return -simd_expm1_nonpositive(-a)


@jit(inline="always")
def gelu_derivative(z):
    half = type(z)(0.5)
    cdf = half * (type(z)(1) + simd_erf(z * type(z)(INV_SQRT_2)))
    return cdf + z * simd_exp(-half * z * z) * type(z)(INV_SQRT_2PI)


@jit(inline="always")
def silu_derivative(z):
    one = type(z)(1)
    s = one / (one + simd_exp(-z))
    return s * (one + z * (one - s))


# GELU and SiLU are z times a function of z (Phi(z), sigmoid(z)), which the
# output a gives back as a / z (1/2 at z = 0): the derivative then needs no
# erf (GELU) and no exp and division for the sigmoid (SiLU).  For a layer whose
# activations were masked by dropout, the functions of z alone serve.


@jit(inline="always")
def _factor_of_z(a, z):
    """a / z for a = z g(z) (GELU's Phi, SiLU's sigmoid), and g = 1/2 for
    |z| < 1e-30: there g(z) rounds to 1/2 in either dtype, while a, rounded
    among the subnormals, would no longer give it back.  The division runs
    in every lane, so the loop vectorises."""
    ratio = a / z
    return ratio if np.abs(z) >= type(z)(1e-30) else type(z)(0.5)


@jit(inline="always")
def gelu_derivative_from_output(a, z):
    half = type(z)(0.5)
    cdf = _factor_of_z(a, z)
    return cdf + z * simd_exp(-half * z * z) * type(z)(INV_SQRT_2PI)


@jit(inline="always")
def silu_derivative_from_output(a, z):
    one = type(z)(1)
    s = _factor_of_z(a, z)
    return s * (one + z * (one - s))


@jit(inline="always")
def derivative_from_output(a, code):
    """Return f'(z) computed from a = f(z), for an output code other than
    SOFTMAX (IDENTITY, LOGISTIC, EXP; one output unit at a time)."""
    if code == LOGISTIC:
        return logistic_derivative(a)
    if code == EXP:
        return a
    return type(a)(1)


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
        for i in range(m):
            for j in range(n):
                Z[i, j] = relu(Z[i, j] + b[j])
        return
    else:
        for i in range(m):
            for j in range(n):
                Z[i, j] += b[j]
    z_flat = Z.reshape(Z.size)
    # One loop per code, each calling its own function: a loop testing the
    # code per element would not vectorise, and one generic function inlined
    # in every loop would compile every activation into each (30 s).
    if code == RELU:
        for q in range(z_flat.shape[0]):
            z_flat[q] = relu(z_flat[q])
    elif code == LOGISTIC:
        for q in range(z_flat.shape[0]):
            z_flat[q] = logistic(z_flat[q])
    elif code == TANH:
        for q in range(z_flat.shape[0]):
            z_flat[q] = simd_tanh(z_flat[q])
    elif code == EXP:
        for q in range(z_flat.shape[0]):
            z_flat[q] = simd_exp(z_flat[q])
    elif code == LEAKY_RELU:
        for q in range(z_flat.shape[0]):
            z_flat[q] = leaky_relu(z_flat[q])
    elif code == ELU:
        for q in range(z_flat.shape[0]):
            z_flat[q] = elu(z_flat[q])
    elif code == GELU:
        gelu_inplace(z_flat)
    elif code == SILU:
        for q in range(z_flat.shape[0]):
            z_flat[q] = silu(z_flat[q])
    elif code == SOFTPLUS:
        for q in range(z_flat.shape[0]):
            z_flat[q] = softplus(z_flat[q])


@jit
def gelu_inplace(z):
    """z[q] = gelu(z[q]) for a flat array z.  Writes: z.

    A function of its own, not a loop inside ``bias_activate_inplace``: there,
    over the reshaped block, the erf's table lookups ran at half the speed
    (8 against 4 ns per element, measured)."""
    for q in range(z.shape[0]):
        z[q] = gelu(z[q])


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
    A), and for those A may be empty (activations masked by dropout): f'
    then comes from Z alone.  Writes: D.
    """
    # One flat loop over the contiguous elements (for narrow layers a loop
    # over a row's few units costs more than its work), one loop per code, as
    # in ``bias_activate_inplace``.
    d_flat, a_flat, z_flat = D.reshape(D.size), A.reshape(A.size), Z.reshape(Z.size)
    if code == RELU:
        zero = D.dtype.type(0)
        for q in range(d_flat.shape[0]):
            # Load before choosing, so the choice compiles to a select:
            # a branch on the sign of each unit is mispredicted often.
            d = d_flat[q]
            d_flat[q] = d if a_flat[q] > zero else zero
    elif code == LOGISTIC:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= logistic_derivative(a_flat[q])
    elif code == TANH:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= tanh_derivative(a_flat[q])
    elif code == EXP:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= a_flat[q]
    elif code == LEAKY_RELU:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= leaky_relu_derivative(a_flat[q])
    elif code == ELU:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= elu_derivative(a_flat[q])
    elif code == SOFTPLUS:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= softplus_derivative(a_flat[q])
    elif code == GELU and a_flat.shape[0] == 0:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= gelu_derivative(z_flat[q])
    elif code == GELU:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= gelu_derivative_from_output(a_flat[q], z_flat[q])
    elif code == SILU and a_flat.shape[0] == 0:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= silu_derivative(z_flat[q])
    elif code == SILU:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= silu_derivative_from_output(a_flat[q], z_flat[q])
