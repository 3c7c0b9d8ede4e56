"""A worked example of back-propagation, checked number by number.

Network 2-2-1: logistic hidden units, a logistic output, squared error, ONE
sample, no regularisation (then alpha = 0.1 in a second test):

    x = (1.0, 2.0),  y = 1.0

    W0 = [[ 0.1, -0.2],     b0 = [0.05, -0.1]     (W0[i, j]: input i -> hidden j)
          [ 0.3,  0.4]]
    W1 = [[ 0.6],           b1 = [0.2]
          [-0.4]]

Logistic output with squared error is NOT a canonical pair, so the output
delta is the full chain rule  delta_o = (o - y) * o (1 - o),  not o - y.

Every expected value below is computed from the arithmetic in the comments
with ``math`` only.  fastbp evaluates the same formulas in a different order
(hand-written loops, derivative from the activation), so values agree to a few
ulps: rel=1e-12.
"""

import math

import numpy as np
import pytest

import fastbp
from fastbp._optimizers import sgd_step

REL = 1e-12


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


X = np.array([[1.0, 2.0]])
Y = np.array([1.0])
W0 = np.array([[0.1, -0.2], [0.3, 0.4]])
B0 = np.array([0.05, -0.1])
W1 = np.array([[0.6], [-0.4]])
B1 = np.array([0.2])
NET = dict(activation="logistic", out_activation="logistic")

# Forward pass.
Z_H0 = 1.0 * 0.1 + 2.0 * 0.3 + 0.05  # = 0.75
Z_H1 = 1.0 * -0.2 + 2.0 * 0.4 - 0.1  # = 0.5
H0 = sigmoid(Z_H0)  # = 0.679178699175393
H1 = sigmoid(Z_H1)  # = 0.622459331201855
Z_O = H0 * 0.6 + H1 * -0.4 + 0.2  # = 0.358523487024494
O = sigmoid(Z_O)  # = 0.588682964972045
LOSS = 0.5 * (O - 1.0) ** 2  # = 0.5 * (-0.411317035027955)^2 = 0.084590851652094

# Backward pass.
DELTA_O = (O - 1.0) * O * (1.0 - O)  # = -0.411317 * 0.242135 = -0.099594386720130
G_W1 = (H0 * DELTA_O, H1 * DELTA_O)  # = (-0.067642386017749, -0.061993455349271)
G_B1 = DELTA_O  # = -0.099594386720130
# delta_h_j = delta_o * W1[j] * h_j (1 - h_j)
DELTA_H0 = DELTA_O * 0.6 * H0 * (1.0 - H0)  # = -0.0995944 * 0.6 * 0.217895
#                                             = -0.013020670963857
DELTA_H1 = DELTA_O * -0.4 * H1 * (1.0 - H1)  # = -0.0995944 * -0.4 * 0.235004
#                                             = 0.009362020237469
# dL/dW0[i, j] = x_i * delta_h_j
G_W0 = (
    (1.0 * DELTA_H0, 1.0 * DELTA_H1),  # = (-0.013020670963857, 0.009362020237469)
    (2.0 * DELTA_H0, 2.0 * DELTA_H1),  # = (-0.026041341927713, 0.018724040474937)
)
G_B0 = (DELTA_H0, DELTA_H1)


def test_forward_values():
    hidden, output = fastbp.forward(X, [W0, W1], [B0, B1], **NET)
    assert hidden.shape == (1, 2)
    assert output.shape == (1, 1)
    assert hidden[0, 0] == pytest.approx(H0, rel=REL)
    assert hidden[0, 1] == pytest.approx(H1, rel=REL)
    assert output[0, 0] == pytest.approx(O, rel=REL)
    # Two significant digits, written out, guard the arithmetic itself.
    assert (round(H0, 2), round(H1, 2), round(O, 2)) == (0.68, 0.62, 0.59)


def test_loss_and_every_gradient():
    loss, (g_w0, g_w1), (g_b0, g_b1) = fastbp.loss_and_gradients(
        X, Y, [W0, W1], [B0, B1], loss="squared_error", **NET
    )
    assert loss == pytest.approx(LOSS, rel=REL)
    assert g_w1[:, 0] == pytest.approx(G_W1, rel=REL)
    assert g_b1[0] == pytest.approx(G_B1, rel=REL)
    assert g_w0[0] == pytest.approx(G_W0[0], rel=REL)
    assert g_w0[1] == pytest.approx(G_W0[1], rel=REL)
    assert g_b0 == pytest.approx(G_B0, rel=REL)
    # The canonical shortcut o - y would be 1 / (o (1 - o)) ~ 4.1 times larger:
    # the chain rule really is used for this pair.
    assert g_b1[0] != pytest.approx(O - 1.0, rel=0.5)


def test_l2_term_of_the_example():
    """alpha = 0.1, S = 1 sample:
    L += 0.1 / 2 * (0.1^2 + 0.2^2 + 0.3^2 + 0.4^2 + 0.6^2 + 0.4^2) = 0.05 * 0.82
    and every weight gradient gains alpha * W (intercepts do not)."""
    loss, (g_w0, g_w1), (g_b0, g_b1) = fastbp.loss_and_gradients(
        X, Y, [W0, W1], [B0, B1], loss="squared_error", alpha=0.1, **NET
    )
    assert loss == pytest.approx(LOSS + 0.05 * 0.82, rel=REL)
    assert g_w0[0] == pytest.approx([G_W0[0][0] + 0.01, G_W0[0][1] - 0.02], rel=REL)
    assert g_w0[1] == pytest.approx([G_W0[1][0] + 0.03, G_W0[1][1] + 0.04], rel=REL)
    assert g_w1[:, 0] == pytest.approx([G_W1[0] + 0.06, G_W1[1] - 0.04], rel=REL)
    assert g_b0 == pytest.approx(G_B0, rel=REL)
    assert g_b1[0] == pytest.approx(G_B1, rel=REL)


def test_one_gradient_descent_step():
    """theta <- theta - 0.5 * grad, by hand and with fastbp's SGD kernel
    (momentum 0: v = 0 * 0 - lr g, theta + v, the same single rounding)."""
    lr = 0.5
    new_w0 = np.array(
        [
            [0.1 - lr * G_W0[0][0], -0.2 - lr * G_W0[0][1]],  # = [0.10651, -0.20468]
            [0.3 - lr * G_W0[1][0], 0.4 - lr * G_W0[1][1]],  # = [0.31302, 0.39064]
        ]
    )
    new_b0 = np.array([0.05 - lr * G_B0[0], -0.1 - lr * G_B0[1]])  # [0.05651, -0.10468]
    new_w1 = np.array(
        [[0.6 - lr * G_W1[0]], [-0.4 - lr * G_W1[1]]]
    )  # [.63382, -.36900]
    new_b1 = np.array([0.2 - lr * G_B1])  # = [0.249797]

    # fastbp's SGD kernel on the flat parameter vector [W0, W1, b0, b1].
    theta = np.concatenate([W0.ravel(), W1.ravel(), B0, B1])
    grad = np.concatenate([np.ravel(G_W0), G_W1, G_B0, [G_B1]])
    velocity = np.zeros_like(theta)
    sgd_step(theta, grad, lr, 0.0, False, velocity)
    expected = np.concatenate([new_w0.ravel(), new_w1.ravel(), new_b0, new_b1])
    np.testing.assert_array_equal(theta, expected)  # a - b == a + (-b): exact

    # The step lowers the loss: forward pass with the new weights, by hand.
    h0 = sigmoid(1.0 * new_w0[0, 0] + 2.0 * new_w0[1, 0] + new_b0[0])  # = 0.68763
    h1 = sigmoid(1.0 * new_w0[0, 1] + 2.0 * new_w0[1, 1] + new_b0[1])  # = 0.61584
    o = sigmoid(h0 * new_w1[0, 0] + h1 * new_w1[1, 0] + new_b1[0])  # = 0.61263
    new_loss = 0.5 * (o - 1.0) ** 2  # = 0.075027 < 0.084591
    loss, _, _ = fastbp.loss_and_gradients(
        X, Y, [new_w0, new_w1], [new_b0, new_b1], loss="squared_error", **NET
    )
    assert loss == pytest.approx(new_loss, rel=REL)
    assert loss < LOSS
