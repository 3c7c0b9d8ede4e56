"""The regularised loss of a fixed network and data, as a function of theta.

One class serves L-BFGS (SciPy calls it with float64 vectors) and the
low-level API (``loss_and_gradients``, ``check_gradients``).  It holds one
full-batch plan (``_plan.make_plan`` over every row) and evaluates

    L(theta) = (sum_i w_i l(y_i, a_i) + alpha/2 sum_l ||W_l||^2) / S

with its gradient in one compiled call (``_propagate.loss_and_grad_into``).
"""

import numpy as np

from fastbp._plan import make_plan
from fastbp._propagate import loss_and_grad_into
from fastbp._threads import compute_threads, use_threads


class Objective:
    """``objective(x) -> (loss, grad)``, evaluated at theta = x.

    x is copied into network.theta (in theta's dtype) before each evaluation:
    L-BFGS passes the model's own buffer, the low-level API a packed copy of
    the caller's arrays, which are never written.  ``grad`` is a new array in
    ``grad_dtype`` (float64 for SciPy; default theta's dtype).  Calls run
    inside ``with objective.threads():``, entered once around many calls.
    """

    def __init__(self, source, Y, sw, network, grad_dtype=None):
        n_rows = Y.shape[0]
        threaded = use_threads(n_rows, network.layout)
        self.plan = make_plan(source, Y, sw, network, n_rows, threaded)
        self.rows = np.arange(n_rows)
        self.grad_dtype = grad_dtype or network.theta.dtype

    @property
    def theta(self):
        return self.plan.network.theta

    def threads(self, single_threaded_blas=None):
        """The thread context of this objective's calls (``compute_threads``)."""
        return compute_threads(self.plan.threaded, single_threaded_blas)

    def __call__(self, x):
        self.theta[:] = x
        loss, _ = loss_and_grad_into(self.plan, self.rows)
        return np.float64(loss), self.plan.work.grad.astype(self.grad_dtype)
