"""scikit-learn's epoch shuffle, drawn in compiled code.

scikit-learn shuffles the sample indices once per epoch with
``sklearn.utils.shuffle``, i.e. ``RandomState.shuffle`` of ``arange(n)``.  That
call costs ~10 ns per row (a Python-level bit-generator call per draw), which
is a sixth of a tiny network's whole epoch in fastbp.  Here the same draws are
made in compiled code directly on the RandomState's Mersenne Twister state,
which they advance in place, so the permutation and every later draw are
exactly NumPy's.

NumPy's legacy shuffle is Fisher-Yates from the end: for i = n-1 .. 1, swap
x[i] with x[j], j uniform on [0, i] drawn by masked rejection: take 32-bit
outputs of MT19937, AND them with the smallest all-ones mask >= i, and retry
while the value exceeds i.  (From i >= 2^32 on NumPy draws 64-bit values;
such arrays are left to NumPy.)
"""

import ctypes
from contextlib import nullcontext

import numpy as np

from fastbp._config import jit

_N, _M = 624, 397
_MATRIX_A = np.uint64(0x9908B0DF)
_UPPER_MASK = np.uint64(0x80000000)
_LOWER_MASK = np.uint64(0x7FFFFFFF)
_WORD = np.uint64(0xFFFFFFFF)


@jit(inline="always")
def _mix(words, i, i_next, i_far):
    """One word of the MT19937 twist: words[i] from words[i], [i_next], [i_far]."""
    one = np.uint64(1)
    y = (np.uint64(words[i]) & _UPPER_MASK) | (np.uint64(words[i_next]) & _LOWER_MASK)
    mixed = np.uint64(words[i_far]) ^ (y >> one)
    if y & one:
        mixed ^= _MATRIX_A
    words[i] = np.uint32(mixed)


@jit
def _twist(words):
    """Regenerate the 624-word MT19937 block words[:624] (three loops, so no
    index needs a modulo)."""
    for i in range(_N - _M):
        _mix(words, i, i + 1, i + _M)
    for i in range(_N - _M, _N - 1):
        _mix(words, i, i + 1, i + _M - _N)
    _mix(words, _N - 1, 0, _M - 1)


@jit(inline="always")
def _temper(word):
    """MT19937's output transform of one state word (as uint64)."""
    y = np.uint64(word)
    y ^= y >> np.uint64(11)
    y ^= (y << np.uint64(7)) & np.uint64(0x9D2C5680)
    y ^= (y << np.uint64(15)) & np.uint64(0xEFC60000)
    y ^= y >> np.uint64(18)
    return y & _WORD


@jit(inline="always")
def _smallest_mask(high):
    """The smallest 2^k - 1 >= high (uint64)."""
    mask = high | (high >> np.uint64(1))
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    return mask | (mask >> np.uint64(32))


@jit
def shuffle_in_place(values, words):
    """NumPy ``RandomState.shuffle`` of the 1-D array ``values`` (at most 2^32
    entries: every draw is one 32-bit output), drawing from the MT19937 state
    words (625,) uint32: the key, then the position in it (624 = block used
    up).

    One loop iteration per draw, without a branch on the draw: a rejected
    draw swaps x[i] with itself and leaves i where it is.  The mask is halved
    when i falls below a power of two instead of being recomputed from i: that
    chain of six shifts sat between consecutive draws (64 -> 31 us per 10,000
    rows).  Writes: values, words.
    """
    position = np.int64(words[_N])
    i = values.shape[0] - 1
    mask = _smallest_mask(np.uint64(max(i, 0)))
    while i > 0:
        if position >= _N:
            _twist(words)
            position = 0
        high = np.uint64(i)
        if high <= mask >> np.uint64(1):  # i fell below a power of two
            mask >>= np.uint64(1)
        value = _temper(words[position]) & mask
        position += 1
        accepted = value <= high
        j = np.int64(value) if accepted else i
        values[i], values[j] = values[j], values[i]
        i -= np.int64(accepted)
    words[_N] = position


# None until checked: whether NumPy's MT19937 state struct is (uint32 key[624],
# int pos), the layout the compiled shuffle reads and writes in place.
_STATE_LAYOUT_OK = None


def _state_words(bit_generator):
    """A (625,) uint32 array over the bit generator's state struct, or None
    when its layout is not the expected one (checked once per process against
    the public ``state`` property)."""
    global _STATE_LAYOUT_OK
    address = bit_generator.ctypes.state_address
    words = np.ctypeslib.as_array((ctypes.c_uint32 * (_N + 1)).from_address(address))
    if _STATE_LAYOUT_OK is None:
        state = bit_generator.state["state"]
        _STATE_LAYOUT_OK = bool(
            np.array_equal(words[:_N], state["key"]) and words[_N] == state["pos"]
        )
    return words if _STATE_LAYOUT_OK else None


def mt19937_words(random_state, n_values):
    """(words, lock) for shuffling ``n_values`` values with ``random_state`` in
    compiled code: the (625,) uint32 view of its MT19937 state (see
    ``_state_words``) and its bit generator's lock, to hold around every
    compiled call that draws.  (None, a null context) for any other
    generator, or beyond 2^32 values (``shuffle_in_place`` draws 32 bits);
    the caller then shuffles with ``random_state.shuffle``."""
    bit_generator = getattr(random_state, "_bit_generator", None)
    if isinstance(bit_generator, np.random.MT19937) and n_values <= 2**32:
        with bit_generator.lock:
            words = _state_words(bit_generator)
        if words is not None:
            return words, bit_generator.lock
    return None, nullcontext()


def shuffled(sample_idx, random_state):
    """``sklearn.utils.shuffle(sample_idx, random_state=random_state)``: the same
    permutation, and ``random_state`` left in the same state.

    Fisher-Yates moves positions whatever the values are, so shuffling a copy
    of sample_idx in place gives sample_idx[p] with p the shuffle of arange(n),
    which is what scikit-learn computes.  The draws advance the RandomState's
    own MT19937 state in place, under the bit generator's lock
    (``mt19937_words``, as the compiled fit does; copying the state out and
    back through ``get_state`` / ``set_state`` costs ~60 us, more than NumPy's
    whole shuffle of 10,000 rows).  Any other RandomState (or more than 2^32
    rows) falls back to ``random_state.shuffle``.
    """
    result = np.array(sample_idx, copy=True)
    words, lock = mt19937_words(random_state, result.size)
    if words is None:
        random_state.shuffle(result)
    else:
        with lock:
            shuffle_in_place(result, words)
    return result
