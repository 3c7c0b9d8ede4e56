"""Loss codes, per-row loss values and output deltas.

Conventions (scikit-learn 1.9's definitions, ``sklearn/neural_network/_base.py``).
For a batch with sample weights w_i (all 1 when none are given) and
S = sum_i w_i, the data term of every loss is::

    L = (1 / S) * sum_i w_i * l(y_i, a_i)

with the per-row loss ``l`` summed over the outputs k:

=================  =========================================================
SQUARED_ERROR      1/2 sum_k (y_k - a_k)^2
LOG_LOSS           -sum_k y_k log(clip(a_k)); with ONE output column it is
                   the binary loss below (scikit-learn appends 1 - a, 1 - y)
BINARY_LOG_LOSS    -sum_k [y_k log(clip(a_k)) + (1 - y_k) log(1 - clip(a_k))]
POISSON            sum_k [y_k log(y_k / a_k) - y_k + a_k]   (half deviance)
ABSOLUTE_ERROR     sum_k |y_k - a_k|                         (fastbp only)
HUBER              sum_k h(a_k - y_k), h(r) = r^2 / 2 for |r| <= delta,
                   delta (|r| - delta / 2) beyond            (fastbp only)
QUANTILE           sum_k rho(y_k - a_k), rho(r) = q r for r >= 0,
                   (q - 1) r below  (pinball loss)           (fastbp only)
=================  =========================================================

``loss_param`` carries HUBER's delta and QUANTILE's q (unused otherwise).  At
the kinks the derivative is the subgradient 0 (|r| at r = 0, pinball at
r = 0); Huber's is continuous.

``clip`` limits probabilities to [eps, 1 - eps] with eps the dtype's machine
epsilon, and ``0 log(.) = 0``.  One deliberate difference from scikit-learn: for
several outputs SQUARED_ERROR sums over outputs (scikit-learn averages its
reported loss over outputs while its gradient sums them, issue #8349), so the
loss and its gradient agree.  For one output both are identical.

The output delta is dL/dz for the pre-activation z of the output layer, per
row and before the weight w_i and the 1/S factor.  Canonical pairs use the
fused form ``a - y`` (as scikit-learn does); any other pair uses the chain rule
dl/dz = f'(z) * dl/da, with the softmax Jacobian applied row-wise.
"""

import numpy as np

from fastbp._activations import (
    EXP,
    IDENTITY,
    LOGISTIC,
    SOFTMAX,
    derivative_from_output,
)
from fastbp._config import jit
from fastbp._vector_math import simd_log

SQUARED_ERROR, LOG_LOSS, BINARY_LOG_LOSS, POISSON, ABSOLUTE_ERROR, HUBER, QUANTILE = (
    range(7)
)

LOSS_CODES = {
    "squared_error": SQUARED_ERROR,
    "log_loss": LOG_LOSS,
    "binary_log_loss": BINARY_LOG_LOSS,
    "poisson": POISSON,
    "absolute_error": ABSOLUTE_ERROR,
    "huber": HUBER,
    "quantile": QUANTILE,
}
# MLPRegressor's losses: scikit-learn's two, then fastbp's (opt-in).
SKLEARN_REGRESSION_LOSSES = ("squared_error", "poisson")
REGRESSION_LOSSES = (*SKLEARN_REGRESSION_LOSSES, "absolute_error", "huber", "quantile")


def loss_for_output(loss, out_activation):
    """scikit-learn's rule: 'log_loss' with a logistic output is the binary
    log-loss (one column per label)."""
    if loss == "log_loss" and out_activation == "logistic":
        return "binary_log_loss"
    return loss


@jit(inline="always")
def _xlogy(x, y):
    """x * log(y), defined as 0 when x == 0 (scipy.special.xlogy)."""
    if x == 0:
        return type(x)(0)
    return x * simd_log(y)


@jit(inline="always")
def _clip_probability(a):
    eps = type(a)(np.finfo(type(a)).eps)
    one = type(a)(1)
    if a < eps:
        return eps
    if a > one - eps:
        return one - eps
    return a


@jit(inline="always")
def _binary_log_loss(y, a):
    p = _clip_probability(a)
    one = type(a)(1)
    return -(_xlogy(y, p) + _xlogy(one - y, one - p))


@jit(inline="always")
def _hard_binary_log_loss(y, a):
    """``_binary_log_loss`` for a label y that is exactly 0 or 1, in float64.

    Then one xlogy term is exactly 0 and the other is log(p) or log(1 - p):
    the same bits from one log and a select, without the two branches on y
    that labels in random order made the CPU mispredict on every other row.
    """
    p = _clip_probability(a)
    one = type(p)(1)
    return -np.float64(simd_log(p if y == one else one - p))


@jit(inline="always")
def _all_hard_labels(y_flat):
    """Whether every entry of y_flat is exactly 0 or 1 (one pass, no early exit)."""
    hard = True
    for q in range(y_flat.shape[0]):
        hard &= (y_flat[q] == 0) | (y_flat[q] == 1)
    return hard


@jit
def row_loss(y_row, a_row, loss_code, loss_param):
    """Return l(y_i, a_i) for one row (see the module table), in float64.

    Accumulating in float64 keeps float32 batches accurate; the value is only
    reported, never fed back into float32 arithmetic.  (A NumPy float64
    start, so that it stays float64 without the JIT too.)
    """
    total = np.float64(0.0)
    n_outputs = a_row.shape[0]
    for k in range(n_outputs):
        y = y_row[k]
        a = a_row[k]
        if loss_code == SQUARED_ERROR:
            d = y - a
            total += 0.5 * d * d
        elif loss_code == POISSON:
            total += _xlogy(y, y / a) - y + a
        elif loss_code == ABSOLUTE_ERROR:
            total += np.abs(np.float64(y) - np.float64(a))
        elif loss_code == HUBER:
            r = np.abs(np.float64(a) - np.float64(y))
            total += (
                0.5 * r * r if r <= loss_param else loss_param * (r - 0.5 * loss_param)
            )
        elif loss_code == QUANTILE:
            r = np.float64(y) - np.float64(a)
            total += loss_param * r if r >= 0 else (loss_param - 1.0) * r
        elif loss_code == BINARY_LOG_LOSS or (loss_code == LOG_LOSS and n_outputs == 1):
            total += _binary_log_loss(y, a)
        else:  # LOG_LOSS, several columns
            total -= _xlogy(y, _clip_probability(a))
    return total


@jit(inline="always")
def _loss_derivative(y, a, loss_code, n_outputs, loss_param):
    """dl/da for one output element of the loss ``loss_code``."""
    one, zero = type(a)(1), type(a)(0)
    if loss_code == SQUARED_ERROR:
        return a - y
    if loss_code == POISSON:
        return one - y / a
    if loss_code == ABSOLUTE_ERROR:
        return one if a > y else (-one if a < y else zero)
    if loss_code == HUBER:
        r, delta = a - y, type(a)(loss_param)
        return r if np.abs(r) <= delta else (delta if r > zero else -delta)
    if loss_code == QUANTILE:
        q = type(a)(loss_param)
        return -q if y > a else (one - q if y < a else zero)
    p = _clip_probability(a)
    if p != a:  # the clipped region is flat
        return type(a)(0)
    if loss_code == BINARY_LOG_LOSS or n_outputs == 1:
        return (one - y) / (one - a) - y / a
    return -y / a


@jit(inline="always")
def is_canonical(out_code, loss_code, n_outputs):
    """True for the output/loss pairs whose output delta is exactly a - y.

    LOGISTIC with LOG_LOSS is canonical only for one output column (the binary
    loss); with several columns LOG_LOSS is the categorical loss, whose delta
    through a logistic output is -y (1 - a).
    """
    return (
        (out_code == IDENTITY and loss_code == SQUARED_ERROR)
        or (out_code == SOFTMAX and loss_code == LOG_LOSS)
        or (out_code == LOGISTIC and loss_code == BINARY_LOG_LOSS)
        or (out_code == LOGISTIC and loss_code == LOG_LOSS and n_outputs == 1)
        or (out_code == EXP and loss_code == POISSON)
    )


@jit
def output_delta_row(y_row, a_row, out_code, loss_code, loss_param, delta_row):
    """dl/dz for one row of output activations a = f(z).

    Canonical pairs: delta = a - y.  Otherwise g = dl/da element-wise and
    delta = f'(z) * g, or for SOFTMAX delta_k = a_k (g_k - sum_j a_j g_j).
    Writes: delta_row (n_outputs,).
    """
    n_outputs = a_row.shape[0]
    if is_canonical(out_code, loss_code, n_outputs):
        for k in range(n_outputs):
            delta_row[k] = a_row[k] - y_row[k]
        return
    for k in range(n_outputs):
        delta_row[k] = _loss_derivative(
            y_row[k], a_row[k], loss_code, n_outputs, loss_param
        )
    if out_code == SOFTMAX:
        dot = type(a_row[0])(0)
        for k in range(n_outputs):
            dot += a_row[k] * delta_row[k]
        for k in range(n_outputs):
            delta_row[k] = a_row[k] * (delta_row[k] - dot)
    else:
        for k in range(n_outputs):
            delta_row[k] *= derivative_from_output(a_row[k], out_code)


@jit
def weighted_loss_and_delta_into(Y, A, sw, out_code, loss_code, loss_param, D):
    """Sum of w_i l(y_i, a_i) over a block of rows, and D = w_i dl/dz.

    Y, A, D: (m, n_outputs) C-contiguous; sw: (m,) or empty for unit weights.
    The canonical and hard-label tests are hoisted out of the loops.
    Writes: D.  Returns the weighted loss sum in float64.
    """
    weighted = sw.shape[0] > 0
    # Element-wise passes run over the flat (contiguous) blocks: with few
    # outputs a loop over a row's units costs more than its work.
    y_flat, a_flat, d_flat = Y.reshape(Y.size), A.reshape(A.size), D.reshape(D.size)
    if is_canonical(out_code, loss_code, A.shape[1]):
        for q in range(a_flat.shape[0]):
            d_flat[q] = a_flat[q] - y_flat[q]
    else:
        for i in range(A.shape[0]):
            output_delta_row(Y[i], A[i], out_code, loss_code, loss_param, D[i])
    binary = loss_code == BINARY_LOG_LOSS or (loss_code == LOG_LOSS and A.shape[1] == 1)
    loss = 0.0
    if binary and (A.shape[1] == 1 or not weighted) and _all_hard_labels(y_flat):
        # The elements' losses in one pass (SIMD: no sum in it), then summed
        # element by element: for one output, the row-by-row order.
        losses = np.empty(a_flat.shape[0])
        for q in range(a_flat.shape[0]):
            losses[q] = _hard_binary_log_loss(y_flat[q], a_flat[q])
        for q in range(a_flat.shape[0]):
            loss += sw[q] * losses[q] if weighted else losses[q]
    else:
        for i in range(A.shape[0]):
            li = row_loss(Y[i], A[i], loss_code, loss_param)
            loss += sw[i] * li if weighted else li
    if weighted:
        for i in range(A.shape[0]):
            for k in range(D.shape[1]):
                D[i, k] *= sw[i]
    return loss
