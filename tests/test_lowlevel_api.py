"""Contract of the public low-level API: ``fastbp.forward``,
``fastbp.loss_and_gradients`` and ``fastbp.check_gradients``.

Shapes of y, untouched inputs, dtype in = dtype out, and a ValueError with a
message that names the culprit for every kind of bad input.
"""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from reference import forward as reference_forward
from reference import loss_and_gradients as reference_loss_and_gradients
from reference import random_network

import fastbp

SIZES = (4, 6, 3)


@pytest.fixture
def problem(rng):
    """X (9, 4), Y (9, 3), a 4-6-3 network and sample weights, float64."""
    coefs, intercepts = random_network(rng, SIZES)
    X = rng.normal(size=(9, 4))
    Y = rng.normal(size=(9, 3))
    sw = rng.uniform(0.5, 2.0, 9)
    return X, Y, coefs, intercepts, sw


def test_forward_matches_reference_and_defaults_to_relu_identity(problem):
    X, _, coefs, intercepts, _ = problem
    acts = fastbp.forward(X, coefs, intercepts)  # relu hidden, identity output
    _, expected = reference_forward(X, coefs, intercepts, "relu", "identity")
    assert len(acts) == len(expected) == 2
    for got, ref in zip(acts, expected, strict=True):
        assert got.shape == ref.shape
        assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("y_shape", ["1-D", "2-D"])
def test_one_output_accepts_1d_and_2d_y(y_shape, rng):
    coefs, intercepts = random_network(rng, (3, 4, 1))
    X = rng.normal(size=(6, 3))
    y = rng.normal(size=6)
    y_arg = y if y_shape == "1-D" else y.reshape(-1, 1)
    loss, gW, gb = fastbp.loss_and_gradients(
        X, y_arg, coefs, intercepts, activation="tanh", alpha=0.1
    )
    ref_loss, ref_gW, ref_gb = reference_loss_and_gradients(
        X,
        y.reshape(-1, 1),
        coefs,
        intercepts,
        "tanh",
        "identity",
        "squared_error",
        0.1,
    )
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for got, ref in zip(gW + gb, ref_gW + ref_gb, strict=True):
        assert got.shape == ref.shape
        assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_y_of_several_outputs_must_be_2d(problem):
    X, Y, coefs, intercepts, _ = problem
    with pytest.raises(ValueError, match=re.escape("expected (9,) or (9, 3)")):
        fastbp.loss_and_gradients(X, Y[:, 0], coefs, intercepts)


def _snapshot(*arrays):
    return [np.array(a, copy=True) for a in arrays]


@pytest.mark.parametrize("layout", ["C float64", "F float32", "strided int"])
def test_inputs_are_never_modified(layout, problem):
    """Whether or not the API needs to convert them, input arrays are left
    bit-for-bit as they were."""
    X, Y, coefs, intercepts, sw = problem
    if layout == "F float32":
        X, Y = np.asfortranarray(X, np.float32), np.asfortranarray(Y, np.float32)
        coefs = [np.asfortranarray(c, np.float32) for c in coefs]
    elif layout == "strided int":
        X = np.round(np.repeat(X, 2, axis=1) * 3).astype(np.int64)[:, ::2]
        coefs = [np.repeat(coefs[0], 2, axis=0)[::2], coefs[1]]
    before = _snapshot(X, Y, sw, *coefs, *intercepts)
    kwargs = dict(activation="tanh", out_activation="softmax", loss="squared_error")
    fastbp.forward(X, coefs, intercepts, activation="tanh", out_activation="softmax")
    fastbp.loss_and_gradients(
        X, Y, coefs, intercepts, sample_weight=sw, alpha=0.1, **kwargs
    )
    fastbp.check_gradients(X, Y, coefs, intercepts, sample_weight=sw, **kwargs)
    after = [X, Y, sw, *coefs, *intercepts]
    for old, new in zip(before, after, strict=True):
        assert old.dtype == new.dtype
        assert_array_equal(old, new)


def test_float32_in_float32_out(problem):
    X, Y, coefs, intercepts, sw = problem
    X32 = X.astype(np.float32)
    acts = fastbp.forward(X32, coefs, intercepts, activation="logistic")
    assert all(a.dtype == np.float32 for a in acts)
    loss, gW, gb = fastbp.loss_and_gradients(
        X32, Y, coefs, intercepts, activation="logistic", alpha=0.1, sample_weight=sw
    )
    assert isinstance(loss, float)
    assert all(g.dtype == np.float32 for g in gW + gb)
    # ... and agree with float64 to single precision (see test_reference_twin).
    loss64, gW64, gb64 = fastbp.loss_and_gradients(
        X, Y, coefs, intercepts, activation="logistic", alpha=0.1, sample_weight=sw
    )
    assert loss == pytest.approx(loss64, rel=1e-5)
    for g32, g64 in zip(gW + gb, gW64 + gb64, strict=True):
        assert_allclose(g32, g64, rtol=1e-5, atol=1e-5 * np.abs(g64).max())


def test_integer_input_is_computed_in_float64(rng):
    coefs, intercepts = random_network(rng, (3, 2, 1))
    X = rng.integers(-3, 4, size=(5, 3))
    acts = fastbp.forward(X, coefs, intercepts)
    assert acts[-1].dtype == np.float64
    assert_allclose(acts[-1], fastbp.forward(X.astype(float), coefs, intercepts)[-1])


# ----------------------------------------------------------------------------
# Invalid input: ValueError naming the problem
# ----------------------------------------------------------------------------


def _bad_call(problem, **changes):
    """Call loss_and_gradients with one argument replaced."""
    X, Y, coefs, intercepts, sw = problem
    args = dict(X=X, y=Y, coefs=coefs, intercepts=intercepts)
    kwargs = dict(sample_weight=sw)
    for key, value in changes.items():
        (args if key in args else kwargs)[key] = value
    return fastbp.loss_and_gradients(
        args["X"], args["y"], args["coefs"], args["intercepts"], **kwargs
    )


def _with_value(array, index, value):
    array = np.array(array, dtype=float)
    array[index] = value
    return array


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: dict(X=p[0][0]), "X must be 2-D; got shape (4,)"),
        (
            lambda p: dict(X=p[0][:, :3]),
            "coefs[0] has shape (4, 6) but X has 3 columns",
        ),
        (
            lambda p: dict(coefs=[p[2][0], p[2][1][:5]]),
            "coefs[1] has shape (5, 3) but coefs[0] has 6 columns",
        ),
        (
            lambda p: dict(intercepts=[p[3][0][:5], p[3][1]]),
            "intercepts[0] has shape (5,); expected (6,)",
        ),
        (lambda p: dict(coefs=[p[2][0]]), "equal length; got 1 and 2"),
        (lambda p: dict(coefs=[], intercepts=[]), "non-empty"),
        (lambda p: dict(coefs=[p[2][0].ravel(), p[2][1]]), "coefs[0] must be 2-D"),
        (lambda p: dict(y=p[1][:8]), "y has shape (8, 3); expected (9,) or (9, 3)"),
        (lambda p: dict(y=p[1][:, :2]), "y has shape (9, 2)"),
        (lambda p: dict(sample_weight=p[4][:3]), "sample_weight has 3 entries"),
        (lambda p: dict(sample_weight=p[4][:, None]), "sample_weight must be 1-D"),
    ],
    ids=[
        "X-1d",
        "X-columns",
        "coefs-chain",
        "intercept-shape",
        "lengths",
        "empty",
        "coef-1d",
        "y-rows",
        "y-columns",
        "sw-length",
        "sw-2d",
    ],
)
def test_wrong_shapes(change, message, problem):
    with pytest.raises(ValueError, match=re.escape(message)):
        _bad_call(problem, **change(problem))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(activation="swish"), "activation='swish' is not a hidden activation"),
        (dict(activation="softmax"), "activation='softmax' is not a hidden activation"),
        (dict(out_activation="relu"), "out_activation='relu' is not supported"),
        (dict(loss="hinge"), "loss='hinge' is not supported"),
    ],
)
def test_unknown_names(kwargs, message, problem):
    X, Y, coefs, intercepts, _ = problem
    with pytest.raises(ValueError, match=re.escape(message) + ".*choose one of"):
        fastbp.loss_and_gradients(X, Y, coefs, intercepts, **kwargs)
    if "loss" not in kwargs:
        with pytest.raises(ValueError, match=re.escape(message)):
            fastbp.forward(X, coefs, intercepts, **kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "y", "coefs", "intercepts", "sample_weight"])
def test_non_finite_inputs(where, bad, problem):
    _, _, coefs, intercepts, sw = problem
    name = {"coefs": "coefs[1]", "intercepts": "intercepts[0]"}.get(where, where)
    if where == "coefs":
        change = dict(coefs=[coefs[0], _with_value(coefs[1], (2, 1), bad)])
    elif where == "intercepts":
        change = dict(intercepts=[_with_value(intercepts[0], 3, bad), intercepts[1]])
    elif where == "sample_weight":
        change = dict(sample_weight=_with_value(sw, 4, bad))
    else:
        change = {where: _with_value(problem[0 if where == "X" else 1], (2, 2), bad)}
    with pytest.raises(ValueError, match=re.escape(f"{name} contains NaN or infinity")):
        _bad_call(problem, **change)


def test_non_finite_input_to_forward(problem):
    X, _, coefs, intercepts, _ = problem
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        fastbp.forward(_with_value(X, (0, 0), np.nan), coefs, intercepts)


def test_negative_sample_weight(problem):
    sw = _with_value(problem[4], 2, -0.5)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        _bad_call(problem, sample_weight=sw)


def test_all_zero_sample_weight(problem):
    """S = sum of weights = 0 would divide by zero."""
    with pytest.raises(ValueError, match="at least one positive entry"):
        _bad_call(problem, sample_weight=np.zeros(9))


def test_zero_weights_drop_samples(problem):
    """Zero weights are allowed: those rows drop out of the loss and of S."""
    X, Y, coefs, intercepts, sw = problem
    sw = sw.copy()
    sw[:4] = 0.0
    loss, gW, gb = fastbp.loss_and_gradients(
        X, Y, coefs, intercepts, alpha=0.1, sample_weight=sw
    )
    loss_sub, gW_sub, gb_sub = fastbp.loss_and_gradients(
        X[4:], Y[4:], coefs, intercepts, alpha=0.1, sample_weight=sw[4:]
    )
    assert loss == pytest.approx(loss_sub, rel=1e-12)
    for a, b in zip(gW + gb, gW_sub + gb_sub, strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("alpha", [-0.1, np.nan, np.inf])
def test_bad_alpha(alpha, problem):
    X, Y, coefs, intercepts, _ = problem
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        fastbp.loss_and_gradients(X, Y, coefs, intercepts, alpha=alpha)


def test_non_numeric_input(problem):
    X, Y, coefs, intercepts, _ = problem
    with pytest.raises(ValueError, match="X must hold real numbers"):
        fastbp.forward(X.astype(str), coefs, intercepts)
    with pytest.raises(ValueError, match="y must hold real numbers"):
        fastbp.loss_and_gradients(X, Y.astype(complex), coefs, intercepts)


def test_check_gradients_validates_like_loss_and_gradients(problem):
    X, Y, coefs, intercepts, _ = problem
    with pytest.raises(ValueError, match=re.escape("y has shape (9, 2)")):
        fastbp.check_gradients(X, Y[:, :2], coefs, intercepts)
    with pytest.raises(ValueError, match="loss='hinge' is not supported"):
        fastbp.check_gradients(X, Y, coefs, intercepts, loss="hinge")
