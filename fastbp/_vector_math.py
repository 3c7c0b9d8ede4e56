"""exp, log, tanh, expm1, log1p and erf written without branches, so that loops
calling them vectorise.

Numba compiles ``np.exp`` / ``np.log`` / ``np.tanh`` to scalar calls into the
C math library: a loop over a batch's activations or log-losses then runs one
element at a time (without Intel's SVML, which would be another dependency).
``branch_free_exp``, ``branch_free_log`` and ``branch_free_tanh`` are plain
arithmetic, bit operations and selects, which LLVM turns into SIMD code
inside such loops.

The ``branch_free_*`` functions take and return float64.  exp and log stay
within one ulp of NumPy's over their whole domain, tanh within three (2.3 ulps
of the exact value at most; NumPy's own: 1.2); special values match exactly
(tests/test_vector_math.py).  Callers use ``simd_exp``, ``simd_tanh``, ...:
the kernel of the argument's dtype (float32 ones below), result in that dtype
(``simd_log``: the float64 kernel for both).

* exp(x) = 2^k exp(r), with k = round(x / ln 2) and r = x - k ln 2 (|r| <= ln(2)/2,
  ln 2 split in a high part with 32 zero trailing bits, so that k ln2_hi is
  exact); exp(r) = 1 + r + r^2 (1/2! + r/3! + ... + r^11/13!) (Taylor; the
  next term is below 2^-57); 2^k applied as two exact powers of two, so that
  k may reach -1075 (subnormal results) or 1024 (overflow to inf).
* log(x) = e ln 2 + log(m), x = 2^e m with m in [sqrt(2)/2, sqrt(2)); with
  f = m - 1 (exact), s = f / (2 + f) and z = s^2:
  log(m) = 2 atanh(s) = f - f^2/2 + s (f^2/2 + R(z)),
  R(z) = sum_{j=1..11} 2 z^j / (2j + 1)  (|s| <= 0.172: the next term is below 2^-60).
  Subnormal x is scaled by 2^54 first.
* tanh(x) = sign(x) e / (e + 2) with e = expm1(2|x|) = (2^k - 1) + 2^k t
  (k, t from exp's reduction of 2|x|; no cancellation near 0, where k = 0 and
  e = t); |x| is clamped at 20, beyond which tanh rounds to 1.
* expm1(x) for x <= 0: the same (2^k - 1) + 2^k t, x clamped at -60 (below,
  expm1 rounds to -1).
* log1p(u) = log(w) u / (w - 1) with w = 1 + u rounded, and u itself when
  w == 1 (Goldberg's correction: the rounding of w cancels in the ratio).
* erf(x) = sign(x) P_k(|x| - c_k): |x| (clamped at 6, beyond which erf rounds
  to 1) falls in interval k of width 1/8, and P_k is erf's Taylor polynomial of
  degree 13 about its centre c_k (c_0 = 0, else the interval's midpoint):
  erf^(n)(c) = 2/sqrt(pi) (-1)^(n-1) H_{n-1}(c) exp(-c^2) for n >= 1, with the
  Hermite polynomials H_0 = 1, H_1 = 2c, H_{n+1} = 2c H_n - 2n H_{n-1}.  The
  remainder is below 1e-18 on every interval (|t| <= 1/16, or |x| <= 1/8
  about 0, where the series is odd, so tiny x keep their relative accuracy);
  the coefficient table is built at import from ``math.erf(c_k)`` and the
  recurrence.

float32 arguments get float32 kernels of the same form (``float32_exp`` ...):
twice the SIMD lanes and shorter polynomials, each result within two float32
ulps of the float64 function's, rounded (tests/test_vector_math.py).

* exp: the same reduction with ln 2 split at 12 bits and exp(r) - 1 by Taylor
  to r^7/7! (the next term is below 2^-27 for |r| <= ln(2)/2); x clamped to
  [-104, 89], beyond which exp rounds to 0 or overflows.
* expm1 (x <= 0) and tanh as in float64, clamped at -20 and |x| = 10, where
  they round to -1 and +-1.
* log (for log1p): the same reduction, R(z) to z^4 (the next term is below
  2^-27); log1p with Goldberg's correction.
* erf: |x| < 3/4 as |x| + |x| r(x^2) (r a degree-5 polynomial, the last
  operation in float64, so that tiny arguments keep their relative accuracy);
  beyond, one of three degree-9 polynomials in |x| - c_k on [3/4, 7/4),
  [7/4, 11/4) and [11/4, 4], chosen by selects (no table lookups); |x| clamped
  at 4, where erf rounds to 1.  The coefficients are Chebyshev interpolants of
  ``math.erf``, computed at import.
"""

import decimal
import itertools
import math
import struct

import numpy as np
from numba import types
from numba.core import errors
from numba.extending import intrinsic, overload

from fastbp._config import jit


def _float_with_bits(bits):
    return struct.unpack("<d", struct.pack("<q", bits))[0]


def _bits_of(value):
    return struct.unpack("<q", struct.pack("<d", value))[0]


def _ln2_split():
    """(hi, lo): hi = ln 2 with its 32 lowest significand bits cleared, lo =
    ln 2 - hi rounded (from 40 exact digits of ln 2)."""
    with decimal.localcontext() as context:
        context.prec = 40
        ln2 = decimal.Decimal(2).ln()
        hi = _float_with_bits(_bits_of(float(ln2)) & ~0xFFFF_FFFF)
        return hi, float(ln2 - decimal.Decimal(hi))


LN2_HI, LN2_LO = _ln2_split()
LOG2_E = 1.0 / math.log(2.0)
SQRT_2 = math.sqrt(2.0)
# exp(x) is 0 below EXP_LOW (exp(-746) < half the smallest subnormal) and
# inf above EXP_HIGH; clamping keeps k within [-1076, 1024].
EXP_LOW, EXP_HIGH = -746.0, 710.0
# Polynomial coefficients, highest degree first (Horner's order).
EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(13, 1, -1))  # 1/13! .. 1/2!
LOG_SERIES = tuple(2.0 / (2 * j + 1) for j in range(11, 0, -1))  # 2/23 .. 2/3
# tanh(x) rounds to +-1 for |x| > 19.1: clamping there keeps exp(2|x|) finite.
TANH_SATURATION = 20.0
EXPM1_LOW = -60.0
ERF_STEP = 0.125
ERF_SATURATION = 6.0
ERF_DEGREE = 13
SMALLEST_NORMAL = float(np.finfo(np.float64).tiny)
SUBNORMAL_SCALE = 54  # x * 2^54 is normal for every subnormal x
SUBNORMAL_FACTOR = 2.0**SUBNORMAL_SCALE
SIGNIFICAND_MASK = (1 << 52) - 1
ONE_BITS = _bits_of(1.0)
EXPONENT_BIAS = 1023


def _erf_taylor_table():
    """(centres (n,), coefficients (n, ERF_DEGREE + 1), highest degree first):
    erf's Taylor polynomial about each interval's centre (module docstring)."""
    n_intervals = int(ERF_SATURATION / ERF_STEP)
    centres = np.array([0.0] + [(k + 0.5) * ERF_STEP for k in range(1, n_intervals)])
    coefficients = np.empty((n_intervals, ERF_DEGREE + 1))
    for k, c in enumerate(centres):
        hermite = [1.0, 2.0 * c]
        for n in range(1, ERF_DEGREE):
            hermite.append(2.0 * c * hermite[n] - 2.0 * n * hermite[n - 1])
        scale = 2.0 / math.sqrt(math.pi) * math.exp(-c * c)
        taylor = [math.erf(c)] + [
            scale * (-1) ** (n - 1) * hermite[n - 1] / math.factorial(n)
            for n in range(1, ERF_DEGREE + 1)
        ]
        coefficients[k] = taylor[::-1]
    return centres, coefficients


ERF_CENTRES, ERF_COEFFICIENTS = _erf_taylor_table()
ERF_TABLE = np.ascontiguousarray(ERF_COEFFICIENTS.ravel())  # row k: interval k


# float32 kernels' constants (module docstring), as Python floats: each use
# rounds them to float32.
def _float32_ln2_split():
    """(hi, lo): ln 2 in float32 with its 12 lowest significand bits cleared
    (k hi is exact for |k| < 2^12), lo = ln 2 - hi rounded to float32."""
    with decimal.localcontext() as context:
        context.prec = 40
        ln2 = decimal.Decimal(2).ln()
        bits = np.array([float(ln2)], np.float32).view(np.uint32)[0]
        hi = float(np.array([bits & 0xFFFFF000], np.uint32).view(np.float32)[0])
        return hi, float(np.float32(ln2 - decimal.Decimal(hi)))


LN2_HI_F32, LN2_LO_F32 = _float32_ln2_split()
EXP_TAYLOR_F32 = tuple(1.0 / math.factorial(n) for n in range(7, 1, -1))
LOG_SERIES_F32 = tuple(2.0 / (2 * j + 1) for j in range(4, 0, -1))  # 2/9 .. 2/3
EXP_LOW_F32, EXP_HIGH_F32 = -104.0, 89.0
TANH_SATURATION_F32 = 10.0
EXPM1_LOW_F32 = -20.0
SMALLEST_NORMAL_F32 = float(np.finfo(np.float32).tiny)
SUBNORMAL_SCALE_F32 = 24  # x * 2^24 is normal for every float32 subnormal x
EXPONENT_BIAS_F32 = 127
SIGNIFICAND_MASK_F32 = (1 << 23) - 1
ONE_BITS_F32 = 0x3F800000
# The three polynomials' intervals: below the first edge erf(x) = x + x
# r(x^2); from the last one on, erf rounds to 1 in float32.
ERF_EDGES_F32 = (0.75, 1.75, 2.75, 4.0)
ERF_SMALL_F32, ERF_SATURATION_F32 = ERF_EDGES_F32[0], ERF_EDGES_F32[-1]
ERF_SMALL_DEGREE_F32, ERF_DEGREE_F32 = 5, 9


def _chebyshev_monomials(function, low, high, degree, centre):
    """Coefficients (lowest degree first) in t = x - centre of the degree
    ``degree`` Chebyshev interpolant of ``function`` on [low, high]."""
    from numpy.polynomial import Polynomial, chebyshev

    half, middle = 0.5 * (high - low), 0.5 * (high + low)
    series = chebyshev.chebinterpolate(lambda v: function(middle + half * v), degree)
    in_v = Polynomial(chebyshev.cheb2poly(series))  # v = (x - middle) / half
    return in_v(Polynomial([(centre - middle) / half, 1.0 / half])).coef


def _erf_float32_polynomials():
    """(r's coefficients, centres (3,), coefficients (3, ERF_DEGREE_F32 + 1)),
    highest degree first: r(u) = erf(sqrt u) / sqrt u - 1 on
    [0, ERF_SMALL_F32^2], and erf in x - c_k on each of ERF_EDGES_F32's
    intervals, c_k its midpoint."""
    erf = np.vectorize(math.erf, otypes=[np.float64])

    def r(u):
        root = np.sqrt(np.maximum(u, 1e-300))
        return np.where(u > 1e-300, erf(root) / root, 2.0 / math.sqrt(math.pi)) - 1.0

    small = _chebyshev_monomials(r, 0.0, ERF_SMALL_F32**2, ERF_SMALL_DEGREE_F32, 0.0)
    edges = ERF_EDGES_F32
    centres = tuple(0.5 * (a + b) for a, b in itertools.pairwise(edges))
    pieces = [
        _chebyshev_monomials(erf, a, b, ERF_DEGREE_F32, c)[::-1]
        for (a, b), c in zip(itertools.pairwise(edges), centres, strict=True)
    ]
    return tuple(small[::-1]), centres, np.array(pieces)


ERF_SMALL_F32_SERIES, ERF_CENTRES_F32, ERF_COEFFICIENTS_F32 = _erf_float32_polynomials()


@intrinsic
def _reinterpret(typingctx, value, target):
    """``value``'s bits as the scalar type ``target`` (a bitcast: no code)."""
    to_type = target.instance_type

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(to_type))

    return to_type(value, target), codegen


def _bit_view(source, target, takes, name, doc):
    """The function ``name``: its argument as the scalar type ``source``, whose
    bits are read as the scalar type ``target`` (NumPy's ``view`` in Python, a
    bitcast in compiled code).  ``takes``: (the Numba type class the argument
    must be, its name for the error)."""
    kind, what = takes

    def bit_view(x):
        return source(x).view(target)

    @overload(bit_view, inline="always")
    def _compiled(x):
        if not isinstance(x, kind):
            raise errors.TypingError(f"{name} takes {what}")
        return lambda x: _reinterpret(source(x), target)

    bit_view.__name__ = bit_view.__qualname__ = name
    bit_view.__doc__ = doc
    return bit_view


_INTEGER, _FLOAT = (types.Integer, "an integer"), (types.Float, "a float")
float64_from_bits = _bit_view(
    np.int64,
    np.float64,
    _INTEGER,
    "float64_from_bits",
    "The float64 whose IEEE-754 bit pattern is the int64 ``bits``.",
)
bits_of_float64 = _bit_view(
    np.float64,
    np.int64,
    _FLOAT,
    "bits_of_float64",
    "The IEEE-754 bit pattern of the float64 ``x``, as an int64.",
)
float32_from_bits = _bit_view(
    np.int32,
    np.float32,
    _INTEGER,
    "float32_from_bits",
    "The float32 whose IEEE-754 bit pattern is the int32 ``bits``.",
)
bits_of_float32 = _bit_view(
    np.float32,
    np.int32,
    _FLOAT,
    "bits_of_float32",
    "The IEEE-754 bit pattern of the float32 ``x``, as an int32.",
)


@jit(inline="always")
def power_of_two(k):
    """2.0**k for an integer -1022 <= k <= 1023, from its bits."""
    return float64_from_bits((np.int64(k) + EXPONENT_BIAS) << 52)


@jit(inline="always")
def _reduce_exp(x):
    """(k, t) with x = k ln 2 + r, k = round(x / ln 2) (as a float) and
    t = exp(r) - 1 (Taylor, see the module docstring), for a finite x."""
    k = np.floor(x * LOG2_E + 0.5)
    r = (x - k * LN2_HI) - k * LN2_LO
    taylor = 0.0
    for c in EXP_TAYLOR:
        taylor = taylor * r + c
    return k, r + r * r * taylor


@jit
def branch_free_exp(x):
    """exp(x) for a float64 x, within one ulp (see the module docstring)."""
    xc = x if x < EXP_HIGH else EXP_HIGH
    xc = xc if xc > EXP_LOW else EXP_LOW
    k, t = _reduce_exp(xc)
    p = 1.0 + t
    k_int = np.int64(k)
    k_half = k_int >> 1  # floor(k / 2): both halves within the normal range
    y = p * power_of_two(k_half) * power_of_two(k_int - k_half)
    return x if np.isnan(x) else y  # NaN stays NaN


@jit
def branch_free_tanh(x):
    """tanh(x) for a float64 x (see the module docstring); tanh(-0) = -0."""
    a = np.abs(x)
    y = 2.0 * (a if a < TANH_SATURATION else TANH_SATURATION)
    k, t = _reduce_exp(y)
    scale = power_of_two(np.int64(k))  # k <= 58
    e = (scale - 1.0) + scale * t  # expm1(2|x|); scale - 1 is exact
    result = np.copysign(e / (e + 2.0), x)
    return x if np.isnan(x) else result


@jit
def branch_free_expm1_nonpositive(x):
    """exp(x) - 1 for a float64 x <= 0 (NaN stays NaN)."""
    xc = x if x > EXPM1_LOW else EXPM1_LOW
    k, t = _reduce_exp(xc)
    scale = power_of_two(np.int64(k))  # -87 <= k <= 0
    result = (scale - 1.0) + scale * t
    return x if np.isnan(x) else result


@jit(inline="always")
def branch_free_log1p(u):
    """log(1 + u) for a finite float64 u > -1 (module docstring)."""
    w = 1.0 + u
    return u if w == 1.0 else branch_free_log(w) * (u / (w - 1.0))


@jit
def branch_free_erf(x):
    """erf(x) for a float64 x (module docstring); erf(-0) = -0."""
    a = np.abs(x)
    a = a if a < ERF_SATURATION else ERF_SATURATION  # NaN -> ERF_SATURATION
    # Unsigned indices into one flat table: no negative-index fix-up, and
    # measured 1.5x faster than a signed 2-D lookup.
    last = np.uint64(ERF_CENTRES.shape[0] - 1)
    k = np.uint64(a * (1.0 / ERF_STEP))
    k = k if k < last else last
    t = a - ERF_CENTRES[k]
    row = k * np.uint64(ERF_DEGREE + 1)
    p = 0.0
    for j in range(ERF_DEGREE + 1):
        p = p * t + ERF_TABLE[row + np.uint64(j)]
    result = np.copysign(p, x)
    return x if np.isnan(x) else result


@jit(inline="always")
def branch_free_log(x):
    """log(x) for a float64 x, within one ulp (see the module docstring);
    log(0) = -inf, log(inf) = inf, NaN for x < 0 or NaN."""
    subnormal = x < SMALLEST_NORMAL
    bits = bits_of_float64(x * SUBNORMAL_FACTOR if subnormal else x)
    e = (bits >> 52) - EXPONENT_BIAS
    m = float64_from_bits((bits & SIGNIFICAND_MASK) | ONE_BITS)  # in [1, 2)
    large = m > SQRT_2
    m = 0.5 * m if large else m
    e = e + 1 if large else e
    e = e - SUBNORMAL_SCALE if subnormal else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    R = 0.0
    for c in LOG_SERIES:
        R = R * z + c
    R = R * z
    half_f2 = 0.5 * f * f
    dk = np.float64(e)
    result = dk * LN2_HI - ((half_f2 - (s * (half_f2 + R) + dk * LN2_LO)) - f)
    result = result if x > 0.0 else np.nan  # x < 0 or NaN
    result = -np.inf if x == 0.0 else result
    return x if x == np.inf else result


# ------------------------------------------------------------ float32 kernels
# float32 in, float32 arithmetic, float32 out (module docstring).  Constants
# are rounded to float32 where they are used: a float64 constant would turn
# the arithmetic into float64.


@jit(inline="always")
def float32_power_of_two(k):
    """2.0**k in float32 for an integer -126 <= k <= 127, from its bits."""
    return float32_from_bits(np.int32((np.int64(k) + EXPONENT_BIAS_F32) << 23))


@jit(inline="always")
def _reduce_exp_float32(x):
    """(k, t) in float32 with x = k ln 2 + r, k = round(x / ln 2) and
    t = exp(r) - 1, for a finite float32 x."""
    k = np.floor(x * np.float32(LOG2_E) + np.float32(0.5))
    r = (x - k * np.float32(LN2_HI_F32)) - k * np.float32(LN2_LO_F32)
    taylor = np.float32(0.0)
    for c in EXP_TAYLOR_F32:
        taylor = taylor * r + np.float32(c)
    return k, r + r * r * taylor


@jit
def float32_exp(x):
    """exp(x) for a float32 x, in float32."""
    xc = x if x < np.float32(EXP_HIGH_F32) else np.float32(EXP_HIGH_F32)
    xc = xc if xc > np.float32(EXP_LOW_F32) else np.float32(EXP_LOW_F32)
    k, t = _reduce_exp_float32(xc)
    k_int = np.int64(k)
    k_half = k_int >> 1  # both halves within the normal range
    y = (np.float32(1.0) + t) * float32_power_of_two(k_half)
    y = y * float32_power_of_two(k_int - k_half)
    return x if np.isnan(x) else y


@jit
def float32_expm1_nonpositive(x):
    """exp(x) - 1 for a float32 x <= 0, in float32 (NaN stays NaN)."""
    xc = x if x > np.float32(EXPM1_LOW_F32) else np.float32(EXPM1_LOW_F32)
    k, t = _reduce_exp_float32(xc)
    scale = float32_power_of_two(np.int64(k))  # -29 <= k <= 0
    result = (scale - np.float32(1.0)) + scale * t
    return x if np.isnan(x) else result


@jit
def float32_tanh(x):
    """tanh(x) for a float32 x, in float32; tanh(-0) = -0."""
    a = np.abs(x)
    saturation = np.float32(TANH_SATURATION_F32)
    k, t = _reduce_exp_float32(np.float32(2.0) * (a if a < saturation else saturation))
    scale = float32_power_of_two(np.int64(k))  # k <= 29
    e = (scale - np.float32(1.0)) + scale * t  # expm1(2|x|)
    result = np.copysign(e / (e + np.float32(2.0)), x)
    return x if np.isnan(x) else result


@jit(inline="always")
def float32_log(x):
    """log(x) for a float32 x, in float32; log(0) = -inf, log(inf) = inf,
    NaN for x < 0 or NaN."""
    subnormal = x < np.float32(SMALLEST_NORMAL_F32)
    scaled = x * np.float32(2.0**SUBNORMAL_SCALE_F32) if subnormal else x
    bits = np.int64(bits_of_float32(scaled))
    e = (bits >> 23) - EXPONENT_BIAS_F32
    m = float32_from_bits((bits & SIGNIFICAND_MASK_F32) | ONE_BITS_F32)  # [1, 2)
    large = m > np.float32(SQRT_2)
    m = np.float32(0.5) * m if large else m
    e = e + 1 if large else e
    e = e - SUBNORMAL_SCALE_F32 if subnormal else e
    f = m - np.float32(1.0)
    s = f / (np.float32(2.0) + f)
    z = s * s
    R = np.float32(0.0)
    for c in LOG_SERIES_F32:
        R = R * z + np.float32(c)
    R = R * z
    half_f2 = np.float32(0.5) * f * f
    dk = np.float32(e)
    result = dk * np.float32(LN2_HI_F32) - (
        (half_f2 - (s * (half_f2 + R) + dk * np.float32(LN2_LO_F32))) - f
    )
    result = result if x > np.float32(0.0) else np.float32(np.nan)
    result = np.float32(-np.inf) if x == np.float32(0.0) else result
    return x if x == np.float32(np.inf) else result


@jit
def float32_log1p(u):
    """log(1 + u) for a finite float32 u > -1, in float32 (Goldberg's
    correction, as ``branch_free_log1p``)."""
    w = np.float32(1.0) + u
    return u if w == np.float32(1.0) else float32_log(w) * (u / (w - np.float32(1.0)))


@jit(inline="always")
def float32_erf(x):
    """erf(x) for a float32 x, in float32 (module docstring); erf(-0) = -0."""
    a = np.abs(x)
    saturation = np.float32(ERF_SATURATION_F32)
    a = a if a < saturation else saturation  # NaN -> saturation
    u = a * a
    r = np.float32(0.0)
    for c in ERF_SMALL_F32_SERIES:
        r = r * u + np.float32(c)
    a64 = np.float64(a)
    small = np.float32(a64 + a64 * np.float64(r))
    # Which of the three polynomials: selects, so that the loop vectorises.
    second = a >= np.float32(ERF_EDGES_F32[1])
    third = a >= np.float32(ERF_EDGES_F32[2])
    c0, c1, c2 = ERF_CENTRES_F32
    centre = np.float32(c2) if third else (np.float32(c1) if second else np.float32(c0))
    t = a - centre
    p = np.float32(0.0)
    for j in range(ERF_DEGREE_F32 + 1):
        c = ERF_COEFFICIENTS_F32[2, j] if third else ERF_COEFFICIENTS_F32[1, j]
        c = c if second else ERF_COEFFICIENTS_F32[0, j]
        p = p * t + np.float32(c)
    result = np.copysign(small if a < np.float32(ERF_SMALL_F32) else p, x)
    return x if np.isnan(x) else result


# ------------------------------------------------------------ both dtypes
@jit(inline="always")
def simd_log(x):
    """log(x) in x's dtype: ``branch_free_log`` rounded to that dtype, for
    float32 too (the losses' logs, which they add in float64)."""
    return type(x)(branch_free_log(np.float64(x)))


def _in_argument_dtype(float64_kernel, float32_kernel, name, doc):
    """The function ``name`` of one float, in that float's dtype:
    ``float32_kernel`` for a float32 argument, ``float64_kernel`` (computed in
    float64, rounded to the argument's dtype) otherwise.

    An overload: the kernel is chosen when a caller is typed, and only its
    call is copied into the caller (an ``isinstance`` branch would copy both
    kernels' code into every caller first: 2.5x the compile time).  The
    kernels are compiled functions of their own, which LLVM inlines into the
    caller's loop, except the two it measured too large to (erf in float32,
    log1p in float64: scalar calls, 10x slower), which are inlined by Numba
    (``inline="always"``).  A function that inlines the same one of those
    twice trips Numba's SSA reconstruction (NumbaIRAssumptionWarning; each
    is called once per function, which tests/test_compile_budget.py checks).
    """

    def function(x):
        if isinstance(x, np.float32):
            return float32_kernel(x)
        return type(x)(float64_kernel(np.float64(x)))

    @overload(function, inline="always")
    def _compiled(x):
        if x == types.float32:
            return lambda x: float32_kernel(x)
        return lambda x: type(x)(float64_kernel(np.float64(x)))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


simd_exp = _in_argument_dtype(
    branch_free_exp, float32_exp, "simd_exp", "exp(x) in x's dtype."
)
simd_tanh = _in_argument_dtype(
    branch_free_tanh, float32_tanh, "simd_tanh", "tanh(x) in x's dtype."
)
simd_expm1_nonpositive = _in_argument_dtype(
    branch_free_expm1_nonpositive,
    float32_expm1_nonpositive,
    "simd_expm1_nonpositive",
    "exp(x) - 1 for x <= 0, in x's dtype.",
)
simd_log1p = _in_argument_dtype(
    branch_free_log1p, float32_log1p, "simd_log1p", "log(1 + x) in x's dtype."
)
simd_erf = _in_argument_dtype(
    branch_free_erf, float32_erf, "simd_erf", "erf(x) in x's dtype."
)
