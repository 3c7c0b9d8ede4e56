"""Backpropagation by hand: a 2-2-1 sigmoid network on one sample.

With hand-set weights, the chain rule is written out step by step in plain
NumPy and printed beside what fastbp's low-level API computes::

    forward    z1 = x W1 + b1,  a1 = s(z1),  z2 = a1 W2 + b2,  a2 = s(z2)
    loss       L = 1/2 (a2 - y)^2                 (fastbp's squared error)
    output     delta2 = dL/dz2 = (a2 - y) * s'(z2),   s'(z) = a (1 - a)
    hidden     delta1 = dL/dz1 = (delta2 W2^T) * a1 (1 - a1)
    gradients  dL/dW2 = a1^T delta2,  dL/db2 = delta2
               dL/dW1 = x^T delta1,   dL/db1 = delta1

fastbp does not return the deltas, but it does not need to: for one sample,
dL/db = delta, so ``intercept_grads`` *are* the deltas.  Then one step of
gradient descent W <- W - lr dL/dW lowers the loss, and ``check_gradients``
compares the gradients with central finite differences.

Run:  python examples/backprop_by_hand.py
(``--quick`` and ``--outdir`` are accepted like in every example; this one is
instant and draws no picture.)
"""

import argparse

import numpy as np

import fastbp

x = np.array([[0.35, 0.9]])  # one sample, two features
y = np.array([0.5])  # its target
W1 = np.array([[0.1, 0.4], [0.8, 0.6]])  # (fan_in, fan_out), as in scikit-learn
b1 = np.array([0.1, -0.1])
W2 = np.array([[0.3], [0.9]])
b2 = np.array([0.2])
LR = 1.0  # learning rate of the single update
ACT = dict(activation="logistic", out_activation="logistic")
NET = dict(**ACT, loss="squared_error")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def show(name, fastbp_value, numpy_value):
    """One line per entry: fastbp's number, NumPy's number, their difference."""
    numpy_value = np.reshape(numpy_value, np.shape(fastbp_value))
    for index, value in np.ndenumerate(np.asarray(fastbp_value)):
        label = name + (f"[{','.join(map(str, index))}]" if index else "")
        mine = numpy_value[index]
        print(f"{label:<12}{value:>+12.8f}{mine:>+14.8f}{abs(value - mine):>10.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no effect here")
    parser.add_argument("--outdir", default=".", help="no effect here")
    parser.parse_args(argv)

    # Plain NumPy, one chain-rule step per line.
    z1 = x @ W1 + b1
    a1 = sigmoid(z1)
    z2 = a1 @ W2 + b2
    a2 = sigmoid(z2)
    loss = 0.5 * np.sum((a2 - y) ** 2)
    dL_da2 = a2 - y
    delta2 = dL_da2 * a2 * (1 - a2)
    dW2 = a1.T @ delta2  # and dL/db2 = delta2
    dL_da1 = delta2 @ W2.T
    delta1 = dL_da1 * a1 * (1 - a1)
    dW1 = x.T @ delta1  # and dL/db1 = delta1

    # fastbp's low-level API.
    fb_a1, fb_a2 = fastbp.forward(x, [W1, W2], [b1, b2], **ACT)
    fb_loss, fb_dW, fb_db = fastbp.loss_and_gradients(x, y, [W1, W2], [b1, b2], **NET)

    print(f"{'':<12}{'fastbp':>12}{'NumPy':>14}{'|diff|':>10}")
    show("a1", fb_a1, a1)
    show("a2", fb_a2, a2)
    show("loss", fb_loss, loss)
    show("delta2", fb_db[1], delta2)  # fastbp's dL/db2
    show("dL/dW2", fb_dW[1], dW2)
    show("delta1", fb_db[0], delta1)  # fastbp's dL/db1
    show("dL/dW1", fb_dW[0], dW1)

    new_W = [W - LR * g for W, g in zip([W1, W2], fb_dW, strict=True)]
    new_b = [b - LR * g for b, g in zip([b1, b2], fb_db, strict=True)]
    new_loss, _, _ = fastbp.loss_and_gradients(x, y, new_W, new_b, **NET)
    print(f"\none gradient-descent step W <- W - lr dL/dW, lr = {LR}; for example")
    print(f"W2[0,0]: {W2[0, 0]} - {LR} * {fb_dW[1][0, 0]:.8f} = {new_W[1][0, 0]:.8f}")
    for name, value in zip(("W1", "W2", "b1", "b2"), (*new_W, *new_b), strict=True):
        print(f"new {name} = {np.round(value, 6).tolist()}")
    new_a2 = fastbp.forward(x, new_W, new_b, **ACT)[1]
    print(f"output {a2.item():.6f} -> {new_a2.item():.6f}")
    print(f"loss {fb_loss:.6f} -> {new_loss:.6f} (target {y.item()})")

    error = fastbp.check_gradients(x, y, [W1, W2], [b1, b2], **NET)
    print(f"\ncheck_gradients: max relative error {error:.1e} vs finite differences")
    print("gradients confirmed" if error < 1e-6 else "GRADIENTS DISAGREE")


if __name__ == "__main__":
    main()
