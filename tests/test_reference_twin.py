"""Every compiled kernel against its plain-NumPy twin in ``tests/reference.py``.

The twin is evaluated in float64 on exactly the values the kernel sees (float32
inputs are converted to float64 first), so it is the "true" result and the
difference is the kernel's own rounding error.

Tolerances:

* float64, ``RTOL[float64] = 1e-12``: the kernels sum in a different order
  than the twin (row blocks folded one after the other, products on views),
  which moves results by a few ulps per operation; 1e-12 leaves room for
  ~10^4 ulps yet catches any wrong term, whose effect is orders of magnitude
  larger.
* float32, ``RTOL[float32] = 1e-5``: single-precision rounding (eps = 1.2e-7)
  accumulated over BLAS sums of up to a row block (128 to 2048 rows).
  Measured over 10 seeds of the propagation tests: at most ~1e-6 relative in
  float32 (a tenth of the bound) and ~3e-15 in float64.
* Entries of an array that come out near zero by cancellation are compared
  with an absolute tolerance ``rtol * max|reference|`` (see ``assert_twin``):
  rounding errors scale with the size of the summed terms, not of the result.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from reference import (
    HIDDEN_ACTIVATIONS,
    activation,
    activation_derivative,
    adam_update,
    forward,
    loss_and_gradients,
    output_delta,
    pack,
    random_network,
    row_losses,
    sgd_update,
    unpack,
)

from fastbp import _activations, _losses, _propagate, _training
from fastbp._activations import ACTIVATION_CODES
from fastbp._config import WAVE_BLOCKS
from fastbp._losses import LOSS_CODES
from fastbp._optimizers import OptimizerState, adam_step, sgd_step
from fastbp._params import build_layout
from fastbp._plan import (
    dense_source,
    forward_workspace,
    make_network,
    make_plan,
    training_workspace,
)
from fastbp._validation import as_source

DTYPES = (np.float64, np.float32)
RTOL = {np.float64: 1e-12, np.float32: 1e-5}

# Networks.  The kernels size row blocks by the work per row (see
# fastbp/_propagate.py): SMALL gets blocks of ~1400 rows, WIDE of ~160 and
# BLOCKY (two hidden layers, ~460 multiply-adds per row) of the minimum, 128.
SMALL = (4, 5, 3)
WIDE = (10, 16, 8, 3)
BLOCKY = (20, 16, 8, 3)


def plan(sizes):
    """(rows per block, rows per wave) that the kernels choose for a network."""
    wave = int(_propagate.wave_rows(build_layout(sizes)[0]))
    return wave // WAVE_BLOCKS, wave


# Row counts relative to a network's block size b and wave size w: one row,
# fewer rows than a block, one full block, one row more (2 blocks), several
# blocks, and more than one wave.
ROW_COUNTS = {
    "1": lambda b, w: 1,
    "7": lambda b, w: 7,
    "block": lambda b, w: b,
    "block+1": lambda b, w: b + 1,
    "3blocks": lambda b, w: 3 * b - 5,
    "2waves": lambda b, w: w + b // 2 + 3,
}


def row_count(label, sizes):
    """The row count called ``label`` for ``sizes``, checked against the
    kernels' own plan (so a changed plan cannot make a case vacuous)."""
    block, wave = plan(sizes)
    n = ROW_COUNTS[label](block, wave)
    n_blocks = _propagate.block_plan(min(n, wave), build_layout(sizes)[0])[0]
    expected_blocks = {"block": 1, "block+1": 2, "3blocks": 3}.get(label)
    assert expected_blocks in (None, n_blocks), (label, n, n_blocks)
    assert (n > wave) == (label == "2waves")
    return n


def assert_twin(got, ref, dtype, what=""):
    """assert_allclose with the dtype's rtol and atol = rtol * max|ref|."""
    ref = np.asarray(ref, dtype=np.float64)
    rtol = RTOL[dtype]
    atol = rtol * max(float(np.max(np.abs(ref), initial=0.0)), 1e-300)
    assert_allclose(
        np.asarray(got, dtype=np.float64), ref, rtol=rtol, atol=atol, err_msg=what
    )


def csr_source(X):
    """The CSR Source of X, as the estimators build it."""
    source = as_source(sp.csr_matrix(X))
    assert source.indptr.shape == (X.shape[0] + 1,)  # really the CSR branch
    assert source.X.shape == (0, X.shape[1])
    assert source.data.dtype == X.dtype and source.indices.dtype == np.int64
    return source


def codes_of(hidden, out, loss):
    """(hidden activation, output activation, loss) codes, as the estimators
    pass them to ``make_network``."""
    if not isinstance(hidden, str):  # one per hidden layer
        return ([ACTIVATION_CODES[h] for h in hidden], *codes_of("relu", out, loss)[1:])
    return (ACTIVATION_CODES[hidden], ACTIVATION_CODES[out], LOSS_CODES[loss])


def sparse_dense_matrix(rng, n, d, dtype, density=0.4):
    """A dense array with ~60 % exact zeros (so its CSR form is really sparse)."""
    X = rng.normal(size=(n, d)) * (rng.random((n, d)) < density)
    return X.astype(dtype)


def targets(rng, loss, n, n_outputs, dtype):
    """Targets in each loss's domain, including boundary values."""
    if loss in ("squared_error", "absolute_error", "huber", "quantile"):
        Y = rng.normal(size=(n, n_outputs))
    elif loss == "poisson":
        Y = rng.poisson(1.5, size=(n, n_outputs)).astype(float)  # many zeros
    elif loss == "log_loss" and n_outputs > 1:
        Y = np.eye(n_outputs)[rng.integers(n_outputs, size=n)]  # one-hot
    else:
        Y = rng.integers(0, 2, size=(n, n_outputs)).astype(float)
    return Y.astype(dtype)


def acts_views(acts, sizes, m):
    """Split a flat activation buffer by its documented layout: layer l is the
    (m, fan_out_l) C-order block at offset m * sum(fan_out_j, j < l)."""
    views, offset = [], 0
    for fan_out in sizes[1:]:
        views.append(acts[offset : offset + m * fan_out].reshape(m, fan_out))
        offset += m * fan_out
    return views


# ----------------------------------------------------------------------------
# Element-wise pieces
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("n_units", [5, 9], ids=["few-units", "many-units"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATION_CODES))
def test_bias_activate_inplace(name, dtype, n_units, rng):
    Z = rng.normal(scale=4.0, size=(6, n_units))
    b = rng.normal(size=n_units)
    Z[0, :5] = [-40.0, -1e-3, 0.0, 1e-3, 40.0] - b[:5]  # saturation and the origin
    if name == "softmax":
        Z[1, :5] = [1000.0, 999.0, -1000.0, 998.0, 0.0]  # overflows unless shifted
        Z[2] = 3.0 - b  # ties: uniform
    Z, b = Z.astype(dtype), b.astype(dtype)
    # The kernel rounds z + b to dtype before f; so does the twin's input.
    expected = activation(name, (Z + b).astype(np.float64))
    got = Z.copy()
    _activations.bias_activate_inplace(got, b, ACTIVATION_CODES[name])
    assert got.dtype == dtype
    assert_twin(got, expected, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [*HIDDEN_ACTIVATIONS, "exp"])
def test_multiply_derivative_inplace(name, dtype, rng):
    Z = rng.normal(scale=2.0, size=(7, 4))
    Z[0] = [-30.0, -1.0, 0.0, 30.0]  # saturation; the left slope at 0
    Z = Z.astype(dtype).astype(np.float64)
    D = rng.normal(size=Z.shape).astype(dtype)
    A = activation(name, Z).astype(dtype)
    # The kernel derives f'(z) from the rounded a = f(z) (or, for GELU and
    # SiLU, from z), the twin from z.
    expected = D.astype(np.float64) * activation_derivative(name, Z)
    got = D.copy()
    _activations.multiply_derivative_inplace(
        got, A, Z.astype(dtype), ACTIVATION_CODES[name]
    )
    assert got.dtype == dtype
    assert_twin(got, expected, dtype, name)


@pytest.mark.parametrize("name", ["gelu", "silu"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_derivative_near_zero_and_among_subnormals(name, dtype):
    """GELU's and SiLU's f' read Phi(z) or sigmoid(z) as a / z off the
    output; near 0, where a rounds among the subnormals, they take 1/2."""
    tiny = np.finfo(dtype).smallest_subnormal
    z = np.array(
        [[tiny, -tiny, 3 * tiny, -5 * tiny], [1e-31, -1e-29, 0.0, -0.0]], dtype=dtype
    )
    A = np.empty_like(z)
    _activations.bias_activate_inplace(
        A := z.copy(), np.zeros(4, dtype=dtype), ACTIVATION_CODES[name]
    )
    got = np.ones_like(z)
    _activations.multiply_derivative_inplace(got, A, z, ACTIVATION_CODES[name])
    expected = activation_derivative(name, z.astype(np.float64))
    assert_twin(got, expected, dtype, name)
    np.testing.assert_array_equal(got, dtype(0.5))


@pytest.mark.parametrize("n_columns", [1, 3, 9])
@pytest.mark.parametrize("n_rows", [0, 1, 5, 8, 203])
@pytest.mark.parametrize("dtype", DTYPES)
def test_column_sums_into(dtype, n_rows, n_columns, rng):
    D = rng.normal(size=(n_rows, n_columns)).astype(dtype)
    out = np.full(n_columns, np.nan, dtype=dtype)
    _propagate.column_sums_into(D, out)
    assert_twin(out, D.astype(np.float64).sum(axis=0), dtype, "column sums")


def loss_inputs(rng, out, loss, n_outputs, dtype, n=9):
    """Pre-activations Z such that a = f(Z) lies in the loss's domain, plus
    targets.  Log-losses on identity outputs also get a = 0 and a = 1 exactly
    (clipped probabilities)."""
    shape = (n, n_outputs)
    needs_probability = loss in ("log_loss", "binary_log_loss")
    if out == "identity":
        if needs_probability:
            Z = rng.uniform(0.05, 0.95, shape)
            Z[0, 0], Z[1, -1] = 0.0, 1.0
        elif loss == "poisson":
            Z = rng.uniform(0.1, 3.0, shape)
        else:
            Z = rng.normal(size=shape)
    elif out == "exp" and needs_probability:
        Z = np.log(rng.uniform(0.05, 0.95, shape))
    else:
        Z = rng.normal(scale=1.5, size=shape)
    Y = targets(rng, loss, n, n_outputs, dtype)
    if (loss == "log_loss" and n_outputs == 1) or loss == "binary_log_loss":
        Y[:3] = np.array([[0.25], [0.5], [0.75]])  # soft labels are allowed
    # The kernels see A = f(Z) rounded to dtype; the twin recomputes from Z64.
    Z = Z.astype(dtype).astype(np.float64)
    if loss in ("absolute_error", "quantile"):
        Y[0, 0] = Z[0, 0]  # a tie: the subgradient 0
    return Z, Y


PAIRS = [
    (out, loss, n_outputs)
    for out in ("identity", "logistic", "softmax", "exp")
    for loss in ("squared_error", "log_loss", "binary_log_loss", "poisson")
    for n_outputs in (1, 3)
    if not (out == "softmax" and n_outputs == 1)
] + [
    ("identity", loss, n_outputs)
    for loss in ("absolute_error", "huber", "quantile")
    for n_outputs in (1, 3)
]
# Huber's delta and the quantile passed to the kernels and the twin (not the
# defaults, so that a kernel ignoring its loss_param fails).
LOSS_PARAMS = {"huber": 0.7, "quantile": 0.3}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("out", "loss", "n_outputs"), PAIRS)
def test_row_loss(out, loss, n_outputs, dtype, rng):
    Z, Y = loss_inputs(rng, out, loss, n_outputs, dtype)
    A = activation(out, Z).astype(dtype)
    eps = np.finfo(dtype).eps
    param = LOSS_PARAMS.get(loss, 0.0)
    expected = row_losses(loss, Y.astype(np.float64), A.astype(np.float64), eps, param)
    got = np.array(
        [_losses.row_loss(Y[i], A[i], LOSS_CODES[loss], param) for i in range(len(A))]
    )
    # Poisson's y log(y/a) - y + a cancels to ~0 when a ~ y: compare against
    # the size of the terms, not of the result.
    scale = RTOL[dtype] * (1.0 + np.abs(Y).sum(axis=1) + np.abs(A).sum(axis=1))
    assert_allclose(got, expected, rtol=RTOL[dtype], atol=scale.max())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("out", "loss", "n_outputs"), PAIRS)
def test_output_delta_row(out, loss, n_outputs, dtype, rng):
    Z, Y = loss_inputs(rng, out, loss, n_outputs, dtype)
    A = activation(out, Z).astype(dtype)
    param = LOSS_PARAMS.get(loss, 0.0)
    expected = output_delta(
        out, loss, Y.astype(np.float64), Z, float(np.finfo(dtype).eps), param
    )
    got = np.full_like(A, np.nan)
    for i in range(A.shape[0]):
        _losses.output_delta_row(
            Y[i], A[i], ACTIVATION_CODES[out], LOSS_CODES[loss], param, got[i]
        )
    # The kernel derives f'(z) from the rounded a = f(z) (e.g. a (1 - a)), the
    # twin from z: for float32 that is one more rounding of a relative to z.
    assert_twin(got, expected, dtype, f"{out} + {loss}, {n_outputs} outputs")


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("out", "loss", "n_outputs"), PAIRS)
def test_weighted_loss_and_delta_into(out, loss, n_outputs, dtype, weighted, rng):
    """A block of rows: sum_i w_i l(y_i, a_i) and D = w_i dl/dz."""
    Z, Y = loss_inputs(rng, out, loss, n_outputs, dtype)
    A = activation(out, Z).astype(dtype)
    sw = rng.uniform(0.0, 2.0, len(A)).astype(dtype) if weighted else None
    w = np.ones(len(A)) if sw is None else sw.astype(np.float64)
    eps = float(np.finfo(dtype).eps)
    Y64, A64 = Y.astype(np.float64), A.astype(np.float64)
    param = LOSS_PARAMS.get(loss, 0.0)
    expected_loss = (w * row_losses(loss, Y64, A64, eps, param)).sum()
    expected_D = w[:, None] * output_delta(out, loss, Y64, Z, eps, param)
    D = np.full_like(A, np.nan)
    got = _losses.weighted_loss_and_delta_into(
        Y,
        A,
        np.empty(0, dtype) if sw is None else sw,
        ACTIVATION_CODES[out],
        LOSS_CODES[loss],
        param,
        D,
    )
    # Tolerance on the loss as in test_row_loss (Poisson cancels).
    scale = RTOL[dtype] * (w * (1.0 + np.abs(Y64).sum(1) + np.abs(A64).sum(1))).sum()
    assert_allclose(got, expected_loss, rtol=RTOL[dtype], atol=scale)
    assert_twin(D, expected_D, dtype, f"{out} + {loss}, {n_outputs} outputs")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("out", "loss", "n_outputs"),
    [("logistic", "log_loss", 1), ("logistic", "binary_log_loss", 3)],
)
def test_hard_binary_labels_take_the_same_bits(out, loss, n_outputs, dtype, rng):
    """Labels all 0/1 take a one-log path for the binary log-loss: each
    element's loss must be the general (xlogy) path's to the bit, so one
    output's total is too (several outputs are added in another order), and
    the twin's."""
    Z = rng.normal(scale=3.0, size=(300, n_outputs))
    Z[0, 0], Z[1, -1] = 60.0, -60.0  # clipped probabilities
    A = activation(out, Z).astype(dtype)
    Y = (rng.uniform(size=A.shape) < 0.5).astype(dtype)
    code = LOSS_CODES[loss]
    D = np.empty_like(A)
    got = _losses.weighted_loss_and_delta_into(
        Y, A, np.empty(0, dtype), ACTIVATION_CODES[out], code, 0.0, D
    )
    general = 0.0
    for i in range(len(A)):
        general += _losses.row_loss(Y[i], A[i], code, 0.0)
    if n_outputs == 1:
        assert got == general
    else:
        assert_allclose(got, general, rtol=1e-14)
    for i, k in [(0, 0), (1, n_outputs - 1), (2, 0), (3, n_outputs - 1)]:
        element = _losses.row_loss(Y[i, k : k + 1], A[i, k : k + 1], code, 0.0)
        assert _losses._hard_binary_log_loss(Y[i, k], A[i, k]) == element
    Y64, A64 = Y.astype(np.float64), A.astype(np.float64)
    expected = row_losses(loss, Y64, A64, float(np.finfo(dtype).eps)).sum()
    assert_allclose(got, expected, rtol=RTOL[dtype])
    # One soft label anywhere switches the whole block to the general path.
    Y[150, 0] = 0.5
    got_soft = _losses.weighted_loss_and_delta_into(
        Y, A, np.empty(0, dtype), ACTIVATION_CODES[out], code, 0.0, D
    )
    expected_soft = row_losses(
        loss, Y.astype(np.float64), A64, float(np.finfo(dtype).eps)
    )
    assert_allclose(got_soft, expected_soft.sum(), rtol=RTOL[dtype])


# ----------------------------------------------------------------------------
# Gathering rows
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_gather_rows_into(kind, dtype, rng):
    X = sparse_dense_matrix(rng, 40, 6, dtype)
    X[7] = 0.0  # an empty CSR row
    rows = np.concatenate([rng.permutation(40)[:25], [7, 7, 0, 39]]).astype(np.int64)
    source = dense_source(X) if kind == "dense" else csr_source(X)
    out = np.full((rows.size, 6), np.nan, dtype=dtype)  # every entry must be set
    _propagate.gather_rows_into(source, rows, out)
    assert_array_equal(out, X[rows])


# ----------------------------------------------------------------------------
# Forward pass
# ----------------------------------------------------------------------------


# Each hidden activation with some output activation, per dtype.  float32
# avoids ReLU: a hidden pre-activation within float32 rounding of 0 may land on
# the other side of the kink than in the float64 twin.
FORWARD_CASES = [
    (np.float64, "relu", "identity"),
    (np.float64, "tanh", "softmax"),
    (np.float64, "logistic", "logistic"),
    (np.float64, "identity", "exp"),
    (np.float32, "tanh", "identity"),
    (np.float32, "logistic", "softmax"),
    (np.float32, "identity", "exp"),
]


@pytest.mark.parametrize("rows", ["1", "7", "block", "block+1", "3blocks"])
@pytest.mark.parametrize("sizes", [SMALL, WIDE], ids=["small", "wide"])
@pytest.mark.parametrize(("dtype", "hidden", "out"), FORWARD_CASES)
def test_for_each_block_forward(dtype, hidden, out, sizes, rows, rng):
    """One wave's forward pass: ``for_each_block`` without the backward pass."""
    n_rows = row_count(rows, sizes)
    coefs, intercepts = random_network(rng, sizes)
    theta = pack(coefs, intercepts).astype(dtype)
    layout, _, _ = build_layout(sizes)
    X = rng.normal(size=(n_rows, sizes[0])).astype(dtype)
    _, expected = forward(
        X.astype(np.float64),
        *unpack(theta.astype(np.float64), sizes),
        hidden,
        out,
    )
    # The loss code is unused by a forward pass.
    network = make_network(theta, layout, codes_of(hidden, out, "squared_error"), 0.0)
    results = []
    for threaded in (False, True):
        work = forward_workspace(n_rows, sizes[0], layout, dtype)
        acts = work.acts
        assert acts.shape == (n_rows * sum(sizes[1:]),)
        acts[:] = np.nan  # every entry must be written
        n_blocks = _propagate.for_each_block(
            X, X, work.sw_buf[:0], network, work, False, threaded
        )
        assert n_blocks == _propagate.block_plan(n_rows, layout)[0]
        for layer, (got, ref) in enumerate(
            zip(acts_views(acts, sizes, n_rows), expected, strict=True)
        ):
            assert_twin(got, ref, dtype, f"layer {layer}, threaded={threaded}")
        results.append(acts)
    # Row blocks are fixed by the row count, so threads cannot change a bit.
    assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("waves", ["part", "one", "2+"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_into(dtype, waves, kind, rng):
    sizes = WIDE
    wave = plan(sizes)[1]
    n_rows = {"part": 5, "one": wave, "2+": 2 * wave + 3}[waves]
    coefs, intercepts = random_network(rng, sizes)
    theta = pack(coefs, intercepts).astype(dtype)
    layout, _, _ = build_layout(sizes)
    X = sparse_dense_matrix(rng, n_rows, sizes[0], dtype)
    source = dense_source(X) if kind == "dense" else csr_source(X)
    network = make_network(theta, layout, codes_of("tanh", "softmax", "log_loss"), 0.0)
    m = min(n_rows, wave)
    _, expected = forward(
        X.astype(np.float64),
        *unpack(theta.astype(np.float64), sizes),
        "tanh",
        "softmax",
    )
    outs = []
    for threaded in (False, True):
        out = np.full((n_rows, sizes[-1]), np.nan, dtype=dtype)
        work = forward_workspace(n_rows, sizes[0], layout, dtype)
        # Buffers of at most one wave: forward_into must loop over waves.
        assert work.X_buf.shape == (m, sizes[0])
        assert work.acts.shape == (m * sum(sizes[1:]),)
        _propagate.forward_into(source, network, work, out, threaded)
        assert_twin(out, expected[-1], dtype, f"threaded={threaded}")
        outs.append(out)
    assert_array_equal(outs[0], outs[1])


# ----------------------------------------------------------------------------
# Loss and gradient
# ----------------------------------------------------------------------------

# (hidden, out, loss, n_outputs): every pair scikit-learn's estimators use,
# plus a non-canonical one (chain rule through the softmax Jacobian).
GRAD_CASES = [
    ("tanh", "identity", "squared_error", 3),
    ("relu", "identity", "squared_error", 1),  # one output unit: W^T is W's memory
    ("relu", "softmax", "log_loss", 3),
    ("logistic", "logistic", "log_loss", 1),
    ("identity", "logistic", "binary_log_loss", 3),
    ("tanh", "exp", "poisson", 2),
    ("logistic", "softmax", "squared_error", 3),
    # fastbp's activations; one per hidden layer; GELU / SiLU keep Z in pre_acts
    ("gelu", "identity", "squared_error", 2),
    ("leaky_relu", "exp", "poisson", 2),
    (("silu", "softplus"), "softmax", "log_loss", 3),
    (("elu", "gelu"), "logistic", "binary_log_loss", 3),
]


def case_id(case):
    hidden = case[0] if isinstance(case[0], str) else "+".join(case[0])
    return "-".join(map(str, (hidden, *case[1:])))


def run_loss_and_grad(X, Y, sw, rows, theta, sizes, case, alpha, threaded, source=None):
    hidden, out, loss, _ = case
    dtype = theta.dtype
    layout, n_params, _ = build_layout(sizes)
    network = make_network(theta, layout, codes_of(hidden, out, loss), alpha)
    source = dense_source(X) if source is None else source
    sw = np.empty(0, dtype) if sw is None else sw
    plan = make_plan(source, Y, sw, network, rows.size, threaded)
    grad = plan.work.grad
    assert grad.shape == (n_params,)
    grad[:] = np.nan  # every entry must be written
    L, S = _propagate.loss_and_grad_into(plan, rows)
    return L, S, grad


def grad_problem(rng, sizes, case, n_rows, weighted, dtype):
    """A data set of n_rows + 11 samples and a row selection of n_rows rows
    (with repeats, in random order) as a minibatch would be."""
    _, _, loss, n_outputs = case
    sizes = (*sizes[:-1], n_outputs)
    n_samples = n_rows + 11
    coefs, intercepts = random_network(rng, sizes)
    theta = pack(coefs, intercepts).astype(dtype)
    X = rng.normal(size=(n_samples, sizes[0])).astype(dtype)
    Y = targets(rng, loss, n_samples, n_outputs, dtype)
    sw = rng.uniform(0.0, 3.0, n_samples).astype(dtype) if weighted else None
    rows = rng.integers(0, n_samples, n_rows).astype(np.int64)
    return sizes, theta, X, Y, sw, rows


def reference_grad(sizes, theta, X, Y, sw, rows, case, alpha, eps):
    hidden, out, loss, _ = case
    coefs, intercepts = unpack(theta.astype(np.float64), sizes)
    L, gW, gb = loss_and_gradients(
        X[rows].astype(np.float64),
        Y[rows].astype(np.float64),
        coefs,
        intercepts,
        hidden,
        out,
        loss,
        alpha,
        None if sw is None else sw[rows].astype(np.float64),
        eps=eps,
    )
    return L, pack(gW, gb)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("rows", list(ROW_COUNTS))
@pytest.mark.parametrize("case", GRAD_CASES, ids=case_id)
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_and_grad_into(dtype, case, rows, weighted, rng):
    if dtype == np.float32 and case[0] in ("relu", "leaky_relu"):
        case = ("tanh", *case[1:])  # see FORWARD_CASES
    n_rows = row_count(rows, (*BLOCKY[:-1], case[3]))
    sizes, theta, X, Y, sw, rows = grad_problem(
        rng, BLOCKY, case, n_rows, weighted, dtype
    )
    alpha = 0.3
    L_ref, g_ref = reference_grad(
        sizes, theta, X, Y, sw, rows, case, alpha, float(np.finfo(dtype).eps)
    )
    L, S, grad = run_loss_and_grad(X, Y, sw, rows, theta, sizes, case, alpha, False)
    S_ref = n_rows if sw is None else sw[rows].astype(np.float64).sum()
    assert_twin(S, S_ref, dtype, "S")
    assert_twin(L, L_ref, dtype, "loss")
    assert grad.dtype == dtype
    assert_twin(grad, g_ref, dtype, "gradient")


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("sizes", "rows"),
    [
        (WIDE, "3blocks"),
        (WIDE, "2waves"),
        # 10,460 parameters x 16 blocks >= 2^16: the block partials are also
        # folded in parallel (for_each_chunk's threaded branch: two chunks).  Layer 1
        # (70 units) back-propagates through W^T as a transposed product,
        # layer 2 (10 units) through its contiguous copy of W^T.
        ((50, 80, 70, 10), "2waves"),
    ],
    ids=["wide-3blocks", "wide-2waves", "large-2waves"],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_and_grad_into_threads_identical(dtype, sizes, rows, weighted, rng):
    n_rows = row_count(rows, sizes)
    case = ("tanh", "softmax", "log_loss", sizes[-1])
    if len(sizes) == 4 and sizes[2] == 70:
        layout = build_layout(sizes)[0]
        assert not _propagate.uses_transposed_copy(layout, 1)
        assert _propagate.uses_transposed_copy(layout, 2)
    sizes, theta, X, Y, sw, rows = grad_problem(
        rng, sizes, case, n_rows, weighted, dtype
    )
    L0, S0, g0 = run_loss_and_grad(X, Y, sw, rows, theta, sizes, case, 1e-2, False)
    L1, S1, g1 = run_loss_and_grad(X, Y, sw, rows, theta, sizes, case, 1e-2, True)
    assert L0 == L1
    assert S0 == S1
    assert_array_equal(g0, g1)
    L_ref, g_ref = reference_grad(
        sizes, theta, X, Y, sw, rows, case, 1e-2, float(np.finfo(dtype).eps)
    )
    assert_twin(L0, L_ref, dtype, "loss")
    assert_twin(g0, g_ref, dtype, "gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_and_grad_into_csr_equals_dense(dtype, rng):
    case = ("tanh", "identity", "squared_error", 3)
    sizes, theta, _, Y, sw, rows = grad_problem(rng, WIDE, case, 300, True, dtype)
    X = sparse_dense_matrix(rng, Y.shape[0], sizes[0], dtype)
    L_d, S_d, g_d = run_loss_and_grad(X, Y, sw, rows, theta, sizes, case, 0.1, True)
    L_s, S_s, g_s = run_loss_and_grad(
        X, Y, sw, rows, theta, sizes, case, 0.1, True, source=csr_source(X)
    )
    # The same gathered dense rows enter the same arithmetic: identical bits.
    assert (L_d, S_d) == (L_s, S_s)
    assert_array_equal(g_d, g_s)
    L_ref, g_ref = reference_grad(
        sizes, theta, X, Y, sw, rows, case, 0.1, float(np.finfo(dtype).eps)
    )
    assert_twin(L_s, L_ref, dtype, "loss")
    assert_twin(g_s, g_ref, dtype, "gradient")


# ----------------------------------------------------------------------------
# Optimizer kernels (bit-level checks live in test_optimizers.py)
# ----------------------------------------------------------------------------


def optimizer_state(rng, n, dtype):
    theta = rng.normal(size=n).astype(dtype)
    grad = rng.normal(size=n).astype(dtype)
    first = rng.normal(scale=0.1, size=n).astype(dtype)
    second = rng.uniform(0.0, 0.5, size=n).astype(dtype)
    return theta, grad, first, second


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_step(dtype, nesterov, rng):
    theta, grad, velocity, _ = optimizer_state(rng, 50, dtype)
    theta_ref, v_ref = sgd_update(theta, grad, velocity, 0.05, 0.9, nesterov)
    sgd_step(theta, grad, 0.05, 0.9, nesterov, velocity)
    assert theta.dtype == velocity.dtype == dtype
    assert_twin(theta, theta_ref, dtype, "theta")
    assert_twin(velocity, v_ref, dtype, "velocity")


@pytest.mark.parametrize("t", [1, 2, 17])
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_step(dtype, t, rng):
    theta, grad, m, s = optimizer_state(rng, 50, dtype)
    ref = adam_update(theta, grad, m, s, t, 1e-3, 0.9, 0.999, 1e-8)
    adam_step(theta, grad, 1e-3, 0.9, 0.999, 1e-8, t, m, s)
    for name, got, expected in zip(
        ("theta", "m", "s"), (theta, m, s), ref, strict=True
    ):
        assert got.dtype == dtype
        assert_twin(got, expected, dtype, name)


def step_all_parameters(network, work, optimizer, grad, threaded=False):
    """One update of every parameter from ``grad``: for_each_chunk's STEP mode,
    which reads the gradient from work.grad (S is unused by STEP)."""
    work.grad[:] = grad
    S = network.theta.dtype.type(1)
    _propagate.for_each_chunk(_propagate.STEP, 0, S, network, work, optimizer, threaded)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_step_dispatch(dtype, solver, rng):
    """Three steps through for_each_chunk(STEP) with the estimator's state
    object."""
    sizes = (4, 4, 2)
    layout, n, _ = build_layout(sizes)
    assert n == 30
    state = OptimizerState.create(solver, 0.01, n, dtype)
    optimizer = state.kernel_form(0.8, True, 0.9, 0.99, 1e-7)
    theta = rng.normal(size=n).astype(dtype)
    network = make_network(
        theta, layout, codes_of("relu", "identity", "squared_error"), 0.0
    )
    work = training_workspace(1, sizes[0], sizes[-1], layout, dtype)
    ref_theta = theta.copy()
    ref_first, ref_second = np.zeros(n, dtype), np.zeros(n, dtype)
    for t in range(1, 4):
        grad = rng.normal(size=n).astype(dtype)
        step_all_parameters(network, work, optimizer, grad)
        if solver == "sgd":
            ref_theta, ref_first = sgd_update(
                ref_theta, grad, ref_first, 0.01, 0.8, True
            )
        else:
            ref_theta, ref_first, ref_second = adam_update(
                ref_theta, grad, ref_first, ref_second, t, 0.01, 0.9, 0.99, 1e-7
            )
    assert state.t == (3 if solver == "adam" else 0)
    assert_twin(theta, ref_theta, dtype, "theta")
    assert_twin(state.first, ref_first, dtype, "first moment / velocity")
    if solver == "adam":
        assert_twin(state.second, ref_second, dtype, "second moment")
    else:
        assert state.second.size == 0


# ----------------------------------------------------------------------------
# One epoch of minibatches
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("solver", ["sgd", "nesterov", "adam"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_run_batches(dtype, solver, weighted, rng):
    """One epoch of minibatches through ``run_batches`` against the twin's
    gradients fed to the twin's optimizer updates."""
    case = ("tanh", "softmax", "log_loss", 3)
    n, batch_size, alpha = 37, 8, 1e-2  # 5 batches, the last one of 5 rows
    sizes, theta, X, Y, sw, _ = grad_problem(rng, SMALL, case, n - 11, weighted, dtype)
    order = rng.permutation(n).astype(np.int64)
    layout, n_params, _ = build_layout(sizes)
    lr = 0.05 if solver != "adam" else 0.01
    state = OptimizerState.create(
        "adam" if solver == "adam" else "sgd", lr, n_params, dtype
    )
    optimizer = state.kernel_form(0.9, solver == "nesterov", 0.9, 0.999, 1e-8)

    # The reference loop runs in theta's dtype for the optimizer (as
    # scikit-learn does) with float64 back-propagation.
    ref_theta = theta.copy()
    first, second = np.zeros(n_params, dtype), np.zeros(n_params, dtype)
    ref_total = 0.0
    for t, start in enumerate(range(0, n, batch_size), start=1):
        rows = order[start : start + batch_size]
        L, g = reference_grad(
            sizes, ref_theta, X, Y, sw, rows, case, alpha, float(np.finfo(dtype).eps)
        )
        ref_total += L * rows.size
        g = g.astype(dtype)
        if solver == "adam":
            ref_theta, first, second = adam_update(
                ref_theta, g, first, second, t, lr, 0.9, 0.999, 1e-8
            )
        else:
            ref_theta, first = sgd_update(
                ref_theta, g, first, lr, 0.9, solver == "nesterov"
            )

    sw_arg = np.empty(0, dtype) if sw is None else sw
    network = make_network(theta, layout, codes_of(*case[:3]), alpha)
    plan = make_plan(dense_source(X), Y, sw_arg, network, batch_size, False, optimizer)
    total, status = _training.run_batches(plan, order, batch_size)
    assert status == _training.GO_ON
    # Five steps each start from the previous, slightly different, theta.
    rtol = {np.float64: 1e-10, np.float32: 1e-5}[dtype]
    assert_allclose(total, ref_total, rtol=rtol)
    assert_allclose(theta, ref_theta, rtol=rtol, atol=rtol * np.abs(ref_theta).max())
    assert_allclose(state.first, first, rtol=rtol, atol=rtol * np.abs(first).max())
    if solver == "adam":
        assert state.t == 5
        assert_allclose(
            state.second, second, rtol=rtol, atol=rtol * np.abs(second).max()
        )


def test_run_batches_reports_non_finite_loss():
    """An overflowing batch loss makes the status DIVERGED (the epoch goes
    on: both batches add their infinite loss)."""
    sizes = (2, 3, 1)
    layout, n_params, _ = build_layout(sizes)
    theta = np.full(n_params, 1e100)  # outputs ~1e201: their square overflows
    X = np.ones((4, 2))
    Y = np.zeros((4, 1))
    network = make_network(
        theta, layout, codes_of("identity", "identity", "squared_error"), 0.0
    )
    state = OptimizerState.create("sgd", 1e-300, n_params, np.float64)
    optimizer = state.kernel_form(0.0, False, 0.9, 0.999, 1e-8)
    plan = make_plan(dense_source(X), Y, np.empty(0), network, 2, False, optimizer)
    with np.errstate(over="ignore", invalid="ignore"):  # NUMBA_DISABLE_JIT=1
        total, status = _training.run_batches(plan, np.arange(4), 2)
    assert status == _training.DIVERGED
    assert np.isinf(total)


# ----------------------------------------------------------------------------
# Parity with scikit-learn's own _backprop
# ----------------------------------------------------------------------------

SKLEARN_CASES = [
    # (estimator, hidden, out_activation_, loss, n_outputs)
    ("regressor", "relu", "identity", "squared_error", 1),
    ("regressor", "tanh", "identity", "squared_error", 3),
    ("regressor", "logistic", "exp", "poisson", 1),
    ("regressor", "identity", "exp", "poisson", 3),
    ("classifier", "tanh", "softmax", "log_loss", 3),
    ("classifier", "relu", "logistic", "log_loss", 1),
    ("classifier", "logistic", "logistic", "log_loss", 3),  # multilabel
]


def sklearn_backprop(kind, X, Y, coefs, intercepts, hidden, out, loss, alpha, sw):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if kind == "regressor":
        est = MLPRegressor(activation=hidden, alpha=alpha, loss=loss)
    else:
        est = MLPClassifier(activation=hidden, alpha=alpha)
    est.coefs_ = [c.copy() for c in coefs]
    est.intercepts_ = [b.copy() for b in intercepts]
    est.n_layers_ = len(coefs) + 1
    est.out_activation_ = out
    n = len(coefs)
    return est._backprop(X, Y, sw, [X] + [None] * n, [None] * n, [None] * n, [None] * n)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(
    ("kind", "hidden", "out", "loss", "n_outputs"),
    SKLEARN_CASES,
    ids=lambda v: str(v),
)
def test_matches_sklearn_backprop(kind, hidden, out, loss, n_outputs, weighted, rng):
    import fastbp

    sizes = (4, 6, 5, n_outputs)
    coefs, intercepts = random_network(rng, sizes)
    n, alpha = 23, 0.2
    X = rng.normal(size=(n, 4))
    Y = targets(
        rng, "log_loss" if kind == "classifier" else loss, n, n_outputs, np.float64
    )
    sw = rng.uniform(0.1, 2.0, n) if weighted else None
    sk_loss, sk_gW, sk_gb = sklearn_backprop(
        kind, X, Y, coefs, intercepts, hidden, out, loss, alpha, sw
    )
    loss_, gW, gb = fastbp.loss_and_gradients(
        X,
        Y,
        coefs,
        intercepts,
        activation=hidden,
        out_activation=out,
        loss=loss,
        alpha=alpha,
        sample_weight=sw,
    )
    S = n if sw is None else sw.sum()
    penalty = 0.5 * alpha * sum((W**2).sum() for W in coefs) / S
    if loss == "squared_error":
        # scikit-learn averages its reported squared error over the outputs;
        # fastbp sums (its gradient sums in both).  Same penalty term.
        sk_loss = n_outputs * (sk_loss - penalty) + penalty
    assert_allclose(loss_, sk_loss, rtol=1e-12)
    for layer in range(len(coefs)):
        assert_twin(gW[layer], sk_gW[layer], np.float64, f"coef grad {layer}")
        assert_twin(gb[layer], sk_gb[layer], np.float64, f"intercept grad {layer}")


def test_run_batches_stops_before_a_zero_weight_batch(rng):
    """A batch whose weights sum to zero has no loss: the epoch stops before
    updating on it, so theta equals an epoch over the earlier batches only."""
    case = ("relu", "identity", "squared_error", 1)
    n, batch_size = 12, 4
    sizes, theta, X, Y, _, _ = grad_problem(rng, SMALL, case, n, False, np.float64)
    sw = np.ones(n)
    sw[4:8] = 0.0  # the second batch
    layout, n_params, _ = build_layout(sizes)
    codes = codes_of("relu", "identity", "squared_error")
    order = np.arange(n, dtype=np.int64)

    def epoch(theta, rows):
        state = OptimizerState.create("sgd", 0.1, n_params, np.float64)
        optimizer = state.kernel_form(0.9, True, 0.9, 0.999, 1e-8)
        network = make_network(theta, layout, codes, 0.0)
        plan = make_plan(dense_source(X), Y, sw, network, batch_size, False, optimizer)
        return _training.run_batches(plan, rows, batch_size)

    expected = theta.copy()
    first_total, first_status = epoch(expected, order[:4])
    total, status = epoch(theta, order)
    assert first_status == _training.GO_ON
    assert status == _training.ZERO_WEIGHT_BATCH
    assert total == first_total
    np.testing.assert_array_equal(theta, expected)
