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

from fastbp._config import FEW_COLUMNS, jit
from fastbp._vector_math import simd_exp, simd_tanh

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


@jit(inline="always")
def activate(z, code):
    """Return f(z) for an element-wise code (not SOFTMAX), in z's dtype."""
    one = type(z)(1)
    if code == LOGISTIC:
        return one / (one + simd_exp(-z))
    if code == TANH:
        return simd_tanh(z)
    if code == RELU:
        return z if z > 0 else type(z)(0)
    if code == EXP:
        return simd_exp(z)
    return z


@jit(inline="always")
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


@jit
def bias_activate_inplace(Z, b, code):
    """A = f(Z + b) in place, for a C-contiguous block of pre-activations
    Z (m, n) and b (n,).

    SOFTMAX is row-wise and stable: exp(z - max z) / sum(exp(z - max z)).  The
    code is tested once, outside the loops, so each loop vectorises.
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
    elif n < FEW_COLUMNS:
        # Column by column, so that the inner loop runs over the rows.
        for j in range(n):
            bj = b[j]
            for i in range(m):
                Z[i, j] = activate(Z[i, j] + bj, code)
    elif code == RELU:
        zero = Z.dtype.type(0)
        for i in range(m):
            for j in range(n):
                z = Z[i, j] + b[j]
                Z[i, j] = z if z > zero else zero
    elif code == IDENTITY:
        for i in range(m):
            for j in range(n):
                Z[i, j] += b[j]
    else:
        for i in range(m):
            for j in range(n):
                Z[i, j] = activate(Z[i, j] + b[j], code)


@jit
def multiply_derivative_inplace(D, A, code):
    """D *= f'(Z), with f'(Z) taken from the activations A = f(Z).

    D, A: (m, n) C-contiguous, element-wise codes only.  Writes: D.
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
    elif code != IDENTITY:
        for q in range(d_flat.shape[0]):
            d_flat[q] *= derivative_from_output(a_flat[q], code)
