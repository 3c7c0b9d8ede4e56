"""Inverted dropout on hidden layers, with masks from a counter-based hash.

During training, unit j of hidden layer l in row r is dropped with
probability p_l: A[r, j] <- A[r, j] * m / (1 - p_l), m in {0, 1}; prediction
uses the plain network (the 1 / (1 - p_l) keeps every unit's expected value).

No random stream is consumed: the mask is a pure function of
(seed, epoch key, layer, row, unit), so it is the same whatever the thread
count, the row blocks or the batch a row falls in, and a pickled model
resumes identically.  The epoch key is the model's ``t_`` when the epoch
starts (the samples seen so far: different for every epoch, kept across
``partial_fit`` calls and pickling); the row is the training row's index.

    k_e = mix(seed + G (epoch_key + 1)),  k_l = mix(k_e + G (l + 1)),
    h_r = mix(k_l + G (r + 1)),           x = mix(h_r + G (j + 1)),
    unit dropped  <=>  (x >> 11) < floor(p_l 2^53),

with G = 0x9E3779B97F4A7C15 and ``mix`` SplitMix64's finaliser (xor-shifts
and multiplications modulo 2^64), so the keep rate is 1 - p_l to within
2^-53.  The backward pass regenerates the same mask for the deltas.
"""

import numpy as np

from fastbp._config import jit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_TWO_53 = 9007199254740992.0

# DropoutKey entries: the seed, then the epoch key (t_ at the epoch's start).
SEED, EPOCH = range(2)


@jit(inline="always")
def mix(z):
    """SplitMix64's finaliser of a uint64 (a bijection of 64-bit words)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


@jit(inline="always")
def _next(key, counter):
    """mix(key + G (counter + 1)), counter >= 0."""
    return mix(key + GOLDEN * (np.uint64(counter) + np.uint64(1)))


@jit(inline="always")
def drop_threshold(rate):
    """floor(rate 2^53): x >> 11 below it drops the unit."""
    return np.uint64(rate * _TWO_53)


@jit
def apply_dropout_inplace(M, row_ids, key, layer, rate):
    """M[i, j] *= m_ij / (1 - rate) for the mask m of hidden layer ``layer``
    and the training rows ``row_ids`` (see the module docstring): the
    activations in the forward pass, their deltas in the backward pass.

    M: (m, n) C-contiguous; row_ids (m,) int64; key (2,) uint64 (SEED,
    EPOCH); 0 < rate < 1.  Dropped entries become 0 (not M * 0).
    Writes: M.
    """
    layer_key = _next(_next(key[SEED], key[EPOCH]), layer)
    threshold = drop_threshold(rate)
    scale = M.dtype.type(1.0 / (1.0 - rate))
    zero = M.dtype.type(0)
    for i in range(M.shape[0]):
        row_key = _next(layer_key, row_ids[i])
        for j in range(M.shape[1]):
            kept = (_next(row_key, j) >> np.uint64(11)) >= threshold
            value = M[i, j] * scale
            M[i, j] = value if kept else zero
