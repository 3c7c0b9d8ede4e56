"""Finite-difference checks of fastbp's gradients, in float64.

The loss being differentiated is fastbp's own (``fastbp/_losses.py``):

    L = (sum_i w_i l(y_i, a_i) + alpha/2 sum_l ||W_l||^2) / S

with squared error SUMMED over outputs, so that L and its gradient agree (for
several outputs scikit-learn reports the loss averaged over outputs while its
gradient sums them, scikit-learn issue #8349).

Central differences (L(theta + h e_j) - L(theta - h e_j)) / 2h have truncation
error h^2 |L'''| / 6 and round-off error ~ eps |L| / h.  With h = 1e-6 both are
~1e-10 |L| (measured over 40 seeds x every case below: at most 6e-10 |L| for
one parameter, 1.5e-10 |L| on average), while any wrong term in a gradient
shows up at 1e-3 or more.  Errors are therefore measured relative to
max(1, |L|) (losses of exp outputs reach ~50) and bounded between the two.
"""

import itertools

import numpy as np
import pytest
from numpy.testing import assert_allclose
from reference import (
    HIDDEN_ACTIVATIONS,
    loss_and_gradients,
    pack,
    random_network,
    unpack,
)

import fastbp
from fastbp import _activations, _losses
from fastbp._activations import ACTIVATION_CODES
from fastbp._losses import LOSS_CODES

H = 1e-6
# Bounds on |numeric - analytic| / max(1, |L|): see the module docstring.
MAX_ERROR = 1e-8
MEAN_ERROR = 2e-9

ACTIVATIONS = HIDDEN_ACTIVATIONS  # scikit-learn's four and fastbp's five
LOSS_CASES = [
    # (out_activation, loss, n_outputs): the pairs scikit-learn's estimators use
    ("identity", "squared_error", 1),
    ("identity", "squared_error", 3),
    ("softmax", "log_loss", 3),
    ("logistic", "log_loss", 1),
    ("logistic", "binary_log_loss", 1),
    ("logistic", "binary_log_loss", 3),
    ("exp", "poisson", 1),
    ("exp", "poisson", 3),
    # ... and non-canonical ones, where the chain rule replaces a - y
    ("logistic", "squared_error", 1),
    ("logistic", "squared_error", 3),
    ("softmax", "squared_error", 3),
    ("exp", "squared_error", 1),
    ("exp", "squared_error", 3),
    # fastbp's regression losses (Huber's delta and the quantile: LOSS_PARAMS)
    ("identity", "absolute_error", 1),
    ("identity", "huber", 3),
    ("identity", "quantile", 2),
]
LOSS_PARAMS = {"huber": 0.6, "quantile": 0.3}
SIZES = (4, 5, 3)  # a 4-5-3 network; the output width follows n_outputs
N_SAMPLES = 7
RELU_MARGIN = 0.1  # min |hidden pre-activation|, far beyond h * |x| ~ 1e-6
# One activation per hidden layer, on a 4-5-4-n_outputs network.
LAYER_MIXES = [
    ("gelu", "silu"),
    ("silu", "relu"),
    ("softplus", "gelu"),
    ("elu", "leaky_relu"),
    ("tanh", "softplus"),
]


def make_targets(rng, loss, n, n_outputs):
    if loss in ("squared_error", "absolute_error", "huber", "quantile"):
        return rng.normal(size=(n, n_outputs))
    if loss == "poisson":
        return rng.poisson(1.0, size=(n, n_outputs)).astype(float)
    if n_outputs > 1 and loss == "log_loss":
        return np.eye(n_outputs)[rng.integers(n_outputs, size=n)]
    return rng.integers(0, 2, size=(n, n_outputs)).astype(float)


def tiny_problem(rng, act, loss, n_outputs, weighted, hidden=SIZES[1:-1]):
    """Data, targets, weights and a 4-<hidden>-n_outputs network whose hidden
    pre-activations all stay RELU_MARGIN away from the kinks at 0."""
    sizes = (SIZES[0], *hidden, n_outputs)
    X = rng.normal(size=(N_SAMPLES, sizes[0]))
    coefs, intercepts = random_network(rng, sizes, scale=0.8)
    A = X
    for layer in range(len(hidden)):
        Z = A @ coefs[layer]
        for j in range(sizes[layer + 1]):  # move each unit's intercept off 0
            for _ in range(1000):
                if np.abs(Z[:, j] + intercepts[layer][j]).min() > RELU_MARGIN:
                    break
                intercepts[layer][j] = rng.normal(0.0, 0.5)
            else:
                raise AssertionError("could not keep pre-activations off 0")
        A = np.tanh(Z + intercepts[layer])  # any activation: kinks are at z = 0
    Y = make_targets(rng, loss, N_SAMPLES, n_outputs)
    if n_outputs == 1:
        Y = Y.ravel()  # the public API accepts 1-D y for one output
    sw = rng.uniform(0.2, 2.0, N_SAMPLES) if weighted else None
    return sizes, X, Y, coefs, intercepts, sw


def loss_params(loss):
    """The low-level API's keyword for the loss's parameter, if it has one."""
    return {
        "huber": {"huber_delta": LOSS_PARAMS["huber"]},
        "quantile": {"quantile": LOSS_PARAMS["quantile"]},
    }.get(loss, {})


def objective(sizes, X, Y, act, out, loss, alpha, sw):
    """theta -> (L, flat gradient) through fastbp.loss_and_gradients."""

    def f(theta):
        coefs, intercepts = unpack(theta, sizes)
        L, gW, gb = fastbp.loss_and_gradients(
            X,
            Y,
            coefs,
            intercepts,
            activation=act,
            out_activation=out,
            loss=loss,
            alpha=alpha,
            sample_weight=sw,
            **loss_params(loss),
        )
        return L, pack(gW, gb)

    return f


def central_differences(f, theta, h=H):
    numeric = np.empty_like(theta)
    for j in range(theta.size):
        step = np.zeros_like(theta)
        step[j] = h
        numeric[j] = (f(theta + step)[0] - f(theta - step)[0]) / (2 * h)
    return numeric


def parameter_name(j, sizes):
    """'coefs[l][r, c]' or 'intercepts[l][c]' for flat index j."""
    offset = 0
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if j < offset + fan_in * fan_out:
            r, c = divmod(j - offset, fan_out)
            return f"coefs[{layer}][{r}, {c}]"
        offset += fan_in * fan_out
    for layer, fan_out in enumerate(sizes[1:]):
        if j < offset + fan_out:
            return f"intercepts[{layer}][{j - offset}]"
        offset += fan_out
    raise IndexError(j)


def describe_worst(err, grad, numeric, sizes):
    j = int(np.argmax(err))
    return (
        f"worst parameter {parameter_name(j, sizes)}: analytic {grad[j]!r}, "
        f"central difference {numeric[j]!r}; |difference| / max(1, |L|) "
        f"{err[j]:.3g}"
        f" (mean {err.mean():.3g})"
    )


def assert_matches_central_differences(
    act, out, loss, n_outputs, weighted, rng, hidden
):
    sizes, X, Y, coefs, intercepts, sw = tiny_problem(
        rng, act, loss, n_outputs, weighted, hidden
    )
    f = objective(sizes, X, Y, act, out, loss, 0.3, sw)
    theta = pack(coefs, intercepts)
    L, grad = f(theta)
    numeric = central_differences(f, theta)
    # A gradient that is identically zero would pass trivially.
    assert np.abs(grad).max() > 1e-3
    err = np.abs(numeric - grad) / max(1.0, abs(L))
    assert err.max() < MAX_ERROR, describe_worst(err, grad, numeric, sizes)
    assert err.mean() < MEAN_ERROR, describe_worst(err, grad, numeric, sizes)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize(("out", "loss", "n_outputs"), LOSS_CASES)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_grad_matches_central_differences(act, out, loss, n_outputs, weighted, rng):
    assert_matches_central_differences(
        act, out, loss, n_outputs, weighted, rng, SIZES[1:-1]
    )


@pytest.mark.parametrize(("out", "loss", "n_outputs"), LOSS_CASES)
@pytest.mark.parametrize("mix", LAYER_MIXES, ids="+".join)
def test_grad_with_one_activation_per_layer(mix, out, loss, n_outputs, rng):
    assert_matches_central_differences(mix, out, loss, n_outputs, True, rng, (5, 4))


@pytest.mark.parametrize(("out", "loss", "n_outputs"), LOSS_CASES)
@pytest.mark.parametrize("act", [*ACTIVATIONS, ("gelu", "softplus")], ids=str)
def test_float32_gradient_is_the_float64_gradient_rounded(
    act, out, loss, n_outputs, rng
):
    """In float32 the loss and gradient are the float64 ones (checked by
    central differences above) to float32 precision: the same kernels, with
    every operation rounded to float32."""
    hidden = (5,) if isinstance(act, str) else (5, 4)
    _, X, Y, coefs, intercepts, sw = tiny_problem(
        rng, act, loss, n_outputs, True, hidden
    )
    args = dict(activation=act, out_activation=out, loss=loss, alpha=0.3)
    L64, gW64, gb64 = fastbp.loss_and_gradients(
        X, Y, coefs, intercepts, sample_weight=sw, **args
    )
    f32 = [np.float32(a) for a in (X, *coefs, *intercepts)]
    X32, coefs32, intercepts32 = f32[0], f32[1 : len(coefs) + 1], f32[len(coefs) + 1 :]
    L32, gW32, gb32 = fastbp.loss_and_gradients(
        X32, Y, coefs32, intercepts32, sample_weight=sw, **args
    )
    assert np.asarray(pack(gW32, gb32)).dtype == np.float32
    # The inputs themselves were rounded to float32: compare with a tolerance
    # of a few hundred float32 ulps of the scale.
    scale = max(1.0, abs(L64))
    assert abs(L32 - L64) < 1e-4 * scale
    g64, g32 = pack(gW64, gb64), pack(gW32, gb32).astype(np.float64)
    assert np.abs(g32 - g64).max() < 1e-4 * max(scale, np.abs(g64).max())


# ----------------------------------------------------------------------------
# The output delta of every (out_activation, loss) pair is dl/dz of row_loss
# ----------------------------------------------------------------------------

OUTPUT_PAIRS = [
    (out, loss, n_outputs)
    for out in ("identity", "logistic", "softmax", "exp")
    for loss in ("squared_error", "log_loss", "binary_log_loss", "poisson")
    for n_outputs in (1, 3)
    if not (out == "softmax" and n_outputs == 1)
] + [
    (out, loss, n_outputs)
    for out in ("identity", "exp")
    for loss in ("absolute_error", "huber", "quantile")
    for n_outputs in (1, 3)
]


def activate(z, out):
    """f(z) of one row through the kernel (with a zero intercept)."""
    a = z.reshape(1, -1).copy()
    _activations.bias_activate_inplace(a, np.zeros_like(z), ACTIVATION_CODES[out])
    return a[0]


def row_loss_of_z(z, y, out, loss):
    return _losses.row_loss(
        y, activate(z, out), LOSS_CODES[loss], LOSS_PARAMS.get(loss, 0.0)
    )


@pytest.mark.parametrize(("out", "loss", "n_outputs"), OUTPUT_PAIRS)
def test_output_delta_is_derivative_of_row_loss(out, loss, n_outputs, rng):
    """Kernel against kernel: output_delta_row must be the derivative of
    row_loss(y, f(z)) with respect to z, for every pair the kernels accept."""
    probability = loss in ("log_loss", "binary_log_loss")
    if out == "identity" and probability:
        z = rng.uniform(0.1, 0.9, n_outputs)
    elif out == "identity" and loss == "poisson":
        z = rng.uniform(0.5, 2.0, n_outputs)
    elif out == "exp" and probability:
        z = np.log(rng.uniform(0.1, 0.9, n_outputs))
    else:
        z = rng.normal(size=n_outputs)
    y = make_targets(rng, loss, 1, n_outputs)[0]
    if out == "softmax" and loss == "log_loss":
        assert y.sum() == 1.0  # a - y is dl/dz only for targets summing to 1
    numeric = np.empty(n_outputs)
    for k in range(n_outputs):
        e = np.zeros(n_outputs)
        e[k] = H
        numeric[k] = (
            row_loss_of_z(z + e, y, out, loss) - row_loss_of_z(z - e, y, out, loss)
        ) / (2 * H)
    a = activate(z, out)
    delta = np.empty(n_outputs)
    _losses.output_delta_row(
        y, a, ACTIVATION_CODES[out], LOSS_CODES[loss], LOSS_PARAMS.get(loss, 0.0), delta
    )
    scale = max(1.0, abs(row_loss_of_z(z, y, out, loss)))
    assert_allclose(
        delta,
        numeric,
        rtol=0,
        atol=MAX_ERROR * scale,
        err_msg=f"dl/dz of {loss} through {out}, {n_outputs} outputs, y={y}",
    )


# ----------------------------------------------------------------------------
# fastbp.check_gradients
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("act", "out", "loss", "n_outputs"),
    [
        ("tanh", "identity", "squared_error", 3),
        ("relu", "softmax", "log_loss", 3),
        ("logistic", "logistic", "log_loss", 1),
        ("identity", "exp", "poisson", 2),
    ],
)
def test_check_gradients_small_on_correct_gradients(act, out, loss, n_outputs, rng):
    _, X, Y, coefs, intercepts, sw = tiny_problem(rng, act, loss, n_outputs, True)
    error = fastbp.check_gradients(
        X,
        Y,
        coefs,
        intercepts,
        activation=act,
        out_activation=out,
        loss=loss,
        alpha=0.1,
        sample_weight=sw,
    )
    # check_gradients divides the ~1e-10 round-off of central differences by
    # max(|g|, |n|, 1e-6): up to ~1e-4 for the smallest gradients (measured:
    # 5e-5 at most over 100 seeds, median 6e-8).  A wrong gradient gives ~1.
    assert 0.0 <= error < 1e-3


def test_check_gradients_catches_relu_kink():
    """At ReLU's kink the analytic gradient uses f'(0) = 0 (as scikit-learn),
    while central differences average the two one-sided slopes, 0 and 1.

    One sample, hidden unit 0 has pre-activation exactly 0:
        z_0 = 1.0 * 0.5 + 2.0 * (-0.25) + 0.0 = 0.
    Its intercept b_0 has analytic gradient 0 and numeric gradient
        (L(a_0 = h) - L(a_0 = 0)) / 2h = 1/2 dL/da_0 = 1/2 (o - y) V_00
    so check_gradients must report the relative error |0 - n| / |n| = 1.
    """
    X = np.array([[1.0, 2.0]])
    y = np.array([3.0])
    W0 = np.array([[0.5, 1.0], [-0.25, 0.5]])  # unit 1: z_1 = 2.0 > 0
    b0 = np.array([0.0, 0.0])
    V = np.array([[1.5], [-0.5]])
    c = np.array([0.25])
    args = dict(activation="relu", out_activation="identity", loss="squared_error")

    # The numeric derivative is what this docstring says:
    o = 0.0 * 1.5 + 2.0 * (-0.5) + 0.25  # = -0.75 (unit 0 inactive at z = 0)
    dL_da0 = (o - 3.0) * 1.5  # = -5.625
    h = 1e-6
    up = fastbp.loss_and_gradients(X, y, [W0, V], [b0 + np.array([h, 0.0]), c], **args)[
        0
    ]
    down = fastbp.loss_and_gradients(
        X, y, [W0, V], [b0 - np.array([h, 0.0]), c], **args
    )[0]
    assert_allclose((up - down) / (2 * h), 0.5 * dL_da0, rtol=1e-6)
    _, _, gb = fastbp.loss_and_gradients(X, y, [W0, V], [b0, c], **args)
    assert gb[0][0] == 0.0

    error = fastbp.check_gradients(X, y, [W0, V], [b0, c], **args)
    assert error == pytest.approx(1.0, abs=1e-12)


def test_check_gradients_equals_independent_computation(rng):
    """With a large step (eps = 0.05) the truncation error of central
    differences is measurable (~1e-3 relative); recompute check_gradients'
    documented quantity with the NumPy reference and compare."""
    act, out, loss, n_outputs = "tanh", "logistic", "squared_error", 3
    sizes, X, Y, coefs, intercepts, sw = tiny_problem(rng, act, loss, n_outputs, True)
    eps, alpha = 0.05, 0.1
    theta = pack(coefs, intercepts)

    def ref(theta):
        L, gW, gb = loss_and_gradients(
            X, Y, *unpack(theta, sizes), act, out, loss, alpha, sw
        )
        return L, pack(gW, gb)

    _, grad = ref(theta)
    numeric = central_differences(ref, theta, h=eps)
    scale = np.maximum(np.maximum(np.abs(grad), np.abs(numeric)), 1e-6)
    expected = np.max(np.abs(grad - numeric) / scale)
    assert expected > 1e-5  # the truncation error really is visible

    error = fastbp.check_gradients(
        X,
        Y,
        coefs,
        intercepts,
        activation=act,
        out_activation=out,
        loss=loss,
        alpha=alpha,
        sample_weight=sw,
        eps=eps,
    )
    # Both differences of losses carry ~1e-16 relative round-off, divided by
    # 2 eps = 0.1: ~1e-15 absolute, far below 1e-6 of the expected value.
    assert error == pytest.approx(expected, rel=1e-6)


def test_check_gradients_works_in_float64_for_float32_input(rng):
    _, X, Y, coefs, intercepts, _ = tiny_problem(rng, "tanh", "squared_error", 3, False)
    X32 = X.astype(np.float32)
    kwargs = dict(activation="tanh", out_activation="identity", alpha=0.1)
    got = fastbp.check_gradients(X32, Y, coefs, intercepts, **kwargs)
    expected = fastbp.check_gradients(
        X32.astype(np.float64), Y, coefs, intercepts, **kwargs
    )
    assert got == expected
    # In float32 central differences would carry ~1e-7 / 1e-6 = 10 % errors.
    assert got < 1e-4
