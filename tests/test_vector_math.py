"""fastbp's branch-free exp and log against NumPy's, in units in the last place.

Both must stay within one ulp of NumPy's float64 exp and log (themselves within
one ulp of the exact value; in float32, of those rounded to float32, since
NumPy's float32 SIMD exp is off by up to two ulps) over the whole domain:
normal and subnormal results and arguments, the overflow and underflow
thresholds, the reduction boundaries (ln(2)/2 for exp, sqrt(2) for log) and the
special values, which must match exactly.
"""

import math

import numba
import numpy as np
import pytest

from fastbp import _vector_math
from fastbp._config import jit

# Without the JIT every element runs as Python: fewer random samples then.
N_RANDOM = 2_000 if numba.config.DISABLE_JIT else 400_000


def _each(function):
    """A compiled loop out[i] = function(x[i]) over 1-D arrays."""

    @jit
    def each(x, out):
        for i in range(x.shape[0]):
            out[i] = function(x[i])

    return each


_exp_each = _each(_vector_math.simd_exp)


_log_each = _each(_vector_math.simd_log)


_tanh_each = _each(_vector_math.simd_tanh)


@jit
def _bits_round_trip(x, bits, back):
    for i in range(x.shape[0]):
        bits[i] = _vector_math.bits_of_float64(x[i])
        back[i] = _vector_math.float64_from_bits(bits[i])


def _reference(function, x):
    """NumPy's float64 function of x, rounded to x's dtype."""
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        return function(x.astype(np.float64)).astype(x.dtype)


def _apply(kernel, x):
    out = np.empty_like(x)
    kernel(x, out)
    return out


def ulp_distance(got, expected):
    """|got - expected| in ulps of their dtype (0 for equal values and for two
    NaNs; the IEEE bit patterns of same-signed floats are ordered like them)."""
    assert got.dtype == expected.dtype
    int_type = np.int64 if got.dtype == np.float64 else np.int32
    same = (got == expected) | (np.isnan(got) & np.isnan(expected))
    assert np.all(same | (np.signbit(got) == np.signbit(expected)))
    gap = np.abs(got.view(int_type).astype(np.int64) - expected.view(int_type))
    return np.where(same, 0, gap)


def _exp_arguments(rng, dtype):
    info = np.finfo(dtype)
    low, high = np.log(info.smallest_subnormal) - 1, np.log(info.max) + 1
    ln2 = np.log(2.0)
    edges = [
        0.0,
        -0.0,
        1e-300,
        -1e-300,
        0.5 * ln2,  # where k = round(x / ln 2) changes
        -0.5 * ln2,
        np.nextafter(0.5 * ln2, 1.0),
        np.log(info.max),  # the largest finite result
        np.nextafter(np.log(info.max), np.inf),
        np.log(info.tiny),  # the smallest normal result
        np.log(info.smallest_subnormal),
        low,
        high,
        -1e6,
        1e6,
    ]
    return np.concatenate(
        [
            rng.uniform(low, high, N_RANDOM),
            rng.uniform(-1.0, 1.0, N_RANDOM // 4),
            rng.uniform(np.log(info.tiny) - 40, np.log(info.tiny), N_RANDOM // 8),
            np.array(edges),
        ]
    ).astype(dtype)


def _log_arguments(rng, dtype):
    info = np.finfo(dtype)
    sqrt2 = np.sqrt(dtype(2))
    tiny_exponent = np.log2(float(info.smallest_subnormal))
    edges = [
        1.0,
        2.0,
        0.5,
        sqrt2,
        np.nextafter(sqrt2, dtype(2)),
        np.nextafter(sqrt2, dtype(0)),
        info.eps,
        1 - info.eps,
        np.nextafter(dtype(1), dtype(0)),
        np.nextafter(dtype(1), dtype(2)),
        info.tiny,
        np.nextafter(info.tiny, dtype(0)),  # the largest subnormal
        info.smallest_subnormal,
        info.max,
    ]
    return np.concatenate(
        [
            2.0 ** rng.uniform(tiny_exponent, np.log2(float(info.max)), N_RANDOM),
            rng.uniform(0.0, 2.0, N_RANDOM // 4),
            1.0 + rng.uniform(-1e-6, 1e-6, N_RANDOM // 8),
            np.array(edges, dtype=np.float64),
        ]
    ).astype(dtype)


def _tanh_arguments(rng, dtype):
    tiny = np.finfo(dtype).tiny
    edges = [0.0, -0.0, tiny, -tiny, 1e-300, 0.5 * np.log(2.0), 0.55, 19.0, 19.1, 20.0]
    return np.concatenate(
        [
            rng.uniform(-25.0, 25.0, N_RANDOM),
            rng.uniform(-1.0, 1.0, N_RANDOM // 4),
            rng.standard_normal(N_RANDOM // 8) * 1e-4,
            np.array(edges),
        ]
    ).astype(dtype)


# (kernel, NumPy function, arguments, float64 ulp bound).  float32 arguments
# get float32 kernels (log: the float64 one), within FLOAT32_ULPS of NumPy's
# float64 result rounded.
FLOAT32_ULPS = 2
FUNCTIONS = {
    "exp": (_exp_each, np.exp, _exp_arguments, 1),
    "log": (_log_each, np.log, _log_arguments, 1),
    # tanh: see test_tanh_against_exact_values for the error itself.
    "tanh": (_tanh_each, np.tanh, _tanh_arguments, 3),
}


def test_tanh_against_exact_values(rng):
    """float64 tanh within 2.5 ulps of tanh computed with 40 exact digits:
    near 0 (e = expm1(2|x|) then e / (e + 2): three roundings) and beyond."""
    import decimal

    n = 300 if numba.config.DISABLE_JIT else 3000
    x = np.concatenate(
        [rng.uniform(0.0, 0.4, n), rng.uniform(0.4, 20.0, n), rng.uniform(0, 1e-4, n)]
    )
    got = _apply(_tanh_each, x)
    with decimal.localcontext() as context:
        context.prec = 40
        for value, result in zip(x, got, strict=True):
            e2 = (2 * decimal.Decimal(float(value))).exp()
            exact = (e2 - 1) / (e2 + 1)
            error = (decimal.Decimal(float(result)) - exact) / decimal.Decimal(
                float(np.spacing(result))
            )
            assert abs(error) <= 2.5, value


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values_match_numpy_exactly(dtype):
    special = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, -1.0, -np.nan], dtype)
    saturated = np.array([30.0, -30.0, 1e30, -1e30, np.inf, -np.inf], dtype)
    for values, function, kernel in [
        (special, np.exp, _exp_each),
        (special, np.log, _log_each),
        (special, np.tanh, _tanh_each),
        (saturated, np.tanh, _tanh_each),
    ]:
        got, expected = _apply(kernel, values), _reference(function, values)
        np.testing.assert_array_equal(got, expected)
        numbers = ~np.isnan(expected)  # zeros keep their sign: tanh(-0) = -0
        assert np.all(np.signbit(got[numbers]) == np.signbit(expected[numbers]))
    # exp's results at its range ends: exactly inf, 0 and the smallest subnormal.
    info = np.finfo(dtype)
    ends = np.array([800.0, -800.0, np.log(float(info.smallest_subnormal))], dtype)
    np.testing.assert_array_equal(_apply(_exp_each, ends), _reference(np.exp, ends))


def test_bit_helpers_round_trip(rng):
    x = np.concatenate([rng.standard_normal(100), [0.0, -0.0, np.inf, 5e-324]])
    bits, back = np.empty(x.size, np.int64), np.empty_like(x)
    _bits_round_trip(x, bits, back)
    np.testing.assert_array_equal(bits, x.view(np.int64))
    np.testing.assert_array_equal(back.view(np.int64), x.view(np.int64))


def test_ln2_split_is_exact_enough():
    """k ln2_hi is exact for every k the reduction meets (|k| <= 1076 < 2^11,
    hi has 21 significant bits), and lo is the rest of ln 2 (checked against
    40 exact digits)."""
    import decimal

    hi, lo = _vector_math.LN2_HI, _vector_math.LN2_LO
    assert hi.hex().endswith("00000000p-1")  # 32 trailing zero bits
    assert abs(lo) < 2.0**-20 * hi  # hi holds 21 significant bits
    with decimal.localcontext() as context:
        context.prec = 40
        error = decimal.Decimal(hi) + decimal.Decimal(lo) - decimal.Decimal(2).ln()
        # lo is ln 2 - hi correctly rounded: within half an ulp of lo, so
        # k (hi + lo) is off k ln 2 by < 1076 * 2^-74, far below an ulp of r.
        assert abs(error) <= decimal.Decimal(float(np.spacing(lo))) / 2


# ------------------------------------------- erf, expm1 (x <= 0) and log1p
# Their reference is Python's math module (the C library's erf, expm1 and
# log1p, each within one ulp of the exact value), element by element.


_erf_each = _each(_vector_math.simd_erf)


_expm1_nonpositive_each = _each(_vector_math.simd_expm1_nonpositive)


_log1p_each = _each(_vector_math.simd_log1p)


def _elementwise(function):
    """math's scalar ``function`` over a float64 array."""
    return np.vectorize(function, otypes=[np.float64])


def _math_reference(function, x):
    """math's float64 function of each element of x, rounded to x's dtype."""
    return _reference(_elementwise(function), x)


# Fewer random samples than for exp / log: the reference is a Python loop.
N_MATH = N_RANDOM // 4


def _tiny_values():
    """Tiny magnitudes of both signs: 1e-300, subnormals, the smallest normal."""
    info = np.finfo(np.float64)
    tiny = np.array([1e-300, 1e-310, info.smallest_subnormal, info.tiny, 1e-20])
    return np.concatenate([tiny, -tiny, [0.0, -0.0]])


def _erf_arguments(rng, dtype):
    # erf's intervals have width 1/8: their edges and the floats next to them.
    edges = np.arange(-56, 57) / 8.0
    return np.concatenate(
        [
            rng.uniform(-7.0, 7.0, N_MATH),
            rng.uniform(-0.125, 0.125, N_MATH // 4),  # the odd series about 0
            edges,
            np.nextafter(edges, np.inf),
            np.nextafter(edges, -np.inf),
            _tiny_values(),
        ]
    ).astype(dtype)


def _expm1_arguments(rng, dtype):
    low = _vector_math.EXPM1_LOW
    return np.concatenate(
        [
            rng.uniform(-80.0, 0.0, N_MATH),
            rng.uniform(-1.0, 0.0, N_MATH // 4),  # where cancellation would hurt
            -(10.0 ** rng.uniform(-320.0, -1.0, N_MATH // 8)),  # tiny to small
            rng.uniform(-40.0, -30.0, N_MATH // 8),  # where expm1 reaches -1
            [low, np.nextafter(low, 0.0), np.nextafter(low, -np.inf), -1e30],
            [-0.5 * np.log(2.0), -1.5 * np.log(2.0)],  # where k changes
            _tiny_values()[5:],  # the negative ones and -0.0, 0.0
        ]
    ).astype(dtype)


def _log1p_arguments(rng, dtype):
    info = np.finfo(dtype)
    u = np.concatenate(
        [
            rng.uniform(-1.0, 1.0, N_MATH),
            2.0 ** rng.uniform(-1074.0, np.log2(float(info.max)), N_MATH // 4),
            -(2.0 ** rng.uniform(-1074.0, -1e-9, N_MATH // 4)),  # in (-1, 0)
            -1.0 + 2.0 ** rng.uniform(-53.0, -1.0, N_MATH // 8),  # near -1
            1e-10 * rng.standard_normal(N_MATH // 8),
            [np.nextafter(-1.0, 0.0), float(info.max), 1.0, 2.0, 1e30],
            _tiny_values(),
        ]
    )
    with np.errstate(over="ignore"):  # to float32: huge values become inf
        u = u.astype(dtype)
    # log1p's domain, (-1, inf): the float32 casts may reach -1 or inf.
    return u[(u > -1) & np.isfinite(u)]


# The same for math's functions (NumPy has no erf; math's expm1 and log1p
# are the references of the C library), float32 results within FLOAT32_ULPS
# of math's, rounded.
MATH_FUNCTIONS = {
    "erf": (_erf_each, _elementwise(math.erf), _erf_arguments, 2),
    "expm1_nonpositive": (
        _expm1_nonpositive_each,
        _elementwise(math.expm1),
        _expm1_arguments,
        1,
    ),
    "log1p": (_log1p_each, _elementwise(math.log1p), _log1p_arguments, 2),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", [*FUNCTIONS, *MATH_FUNCTIONS])
def test_within_ulps_of_the_reference(name, dtype, rng):
    kernel, function, arguments, float64_ulps = {**FUNCTIONS, **MATH_FUNCTIONS}[name]
    x = arguments(rng, dtype)
    got = _apply(kernel, x)
    assert got.dtype == dtype
    distance = ulp_distance(got, _reference(function, x))
    bound = float64_ulps if dtype == np.float64 else FLOAT32_ULPS
    assert distance.max() <= bound, (x[distance.argmax()], distance.max())
    # Most results are the reference's to the bit, not merely close.
    assert np.mean(distance == 0) > 0.6


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erf_special_and_tiny_values(dtype):
    special = np.array([np.inf, -np.inf, np.nan, 6.0, -6.0, 30.0, -1e30], dtype)
    got = _apply(_erf_each, special)
    expected = np.array([1.0, -1.0, np.nan, 1.0, -1.0, 1.0, -1.0], dtype)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got[:2], _math_reference(math.erf, special[:2]))
    # Tiny arguments keep their relative accuracy (erf(x) = 2x / sqrt(pi) to
    # the last bit) and zeros their sign, as math.erf's.
    tiny = _tiny_values().astype(dtype)
    got = _apply(_erf_each, tiny)
    expected = _math_reference(math.erf, tiny)
    np.testing.assert_array_equal(got, expected)
    assert np.all(np.signbit(got) == np.signbit(tiny))
    # Odd: erf(-x) = -erf(x), bit for bit.
    x = np.random.default_rng(0).uniform(0.0, 7.0, 1000).astype(dtype)
    np.testing.assert_array_equal(_apply(_erf_each, -x), -_apply(_erf_each, x))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_expm1_nonpositive_special_values(dtype):
    values = np.array([-np.inf, -1e30, -60.0, -61.0, -745.0, 0.0, -0.0], dtype)
    got = _apply(_expm1_nonpositive_each, values)
    np.testing.assert_array_equal(got, _math_reference(math.expm1, values))
    assert np.isnan(_apply(_expm1_nonpositive_each, np.array([np.nan], dtype))[0])
    # Below EXPM1_LOW (the clamp) math's expm1 itself is exactly -1.
    assert math.expm1(_vector_math.EXPM1_LOW) == -1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_special_values(dtype):
    info = np.finfo(dtype)
    values = np.array(
        [0.0, -0.0, 1e-300, -1e-300, info.smallest_subnormal, info.max, 1.0], dtype
    )
    values = np.concatenate([values, [np.nextafter(dtype(-1), dtype(0))]])
    got = _apply(_log1p_each, values)
    expected = _math_reference(math.log1p, values)
    np.testing.assert_array_equal(got, expected)
    assert np.all(np.signbit(got) == np.signbit(expected))  # log1p(-0) = -0
    assert np.isnan(_apply(_log1p_each, np.array([np.nan], dtype))[0])
