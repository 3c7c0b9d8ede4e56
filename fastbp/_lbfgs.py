"""L-BFGS: SciPy's L-BFGS-B driving the compiled full-batch objective.

scikit-learn 1.9's ``_fit_lbfgs``: the same SciPy call and options, the same
ConvergenceWarning text.  SciPy runs the iterations; each evaluation is one
compiled call (``_objective.Objective``), and theta is the model's own flat
buffer, so no packing copies are made.  With callbacks (``_callbacks``),
SciPy's per-iteration callback reports each iteration; a callback asking to
stop ends the minimisation there (StopIteration), without a warning.
"""

import warnings

import numpy as np
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from fastbp._objective import Objective


def fit_lbfgs(source, Y, sw, network, max_iter, max_fun, tol, on_iteration=None):
    """Minimise the objective from network.theta; leave the result in theta.

    ``on_iteration(x, loss, k)``, if given, runs after iteration k (1, 2, ...)
    at the iterate x (float64); True stops there.
    Returns (n_iter, final loss as np.float64).  Emits scikit-learn's
    ConvergenceWarning when SciPy reports a status other than 0 (unless
    ``on_iteration`` stopped it).
    """
    objective = Objective(source, Y, sw, network, grad_dtype=np.float64)
    stopped = []

    def callback(intermediate_result):
        stopped.append(False)
        if on_iteration(intermediate_result.x, intermediate_result.fun, len(stopped)):
            stopped[-1] = True
            raise StopIteration

    with objective.threads(single_threaded_blas=True):
        result = scipy.optimize.minimize(
            objective,
            network.theta.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
            callback=None if on_iteration is None else callback,
        )
    n_iter = min(result.nit, max_iter)
    if result.status != 0 and not (stopped and stopped[-1]):
        message = (
            f"lbfgs failed to converge after {n_iter} iteration(s) "
            f"(status={result.status}):\n{result.message}\n"
        )
        if n_iter == max_iter:
            message += (
                "\nIncrease the number of iterations to improve the "
                f"convergence (max_iter={max_iter})."
            )
        message += (
            "\nYou might also want to scale the data as shown in:\n"
            "    https://scikit-learn.org/stable/modules/preprocessing.html"
        )
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    network.theta[:] = result.x
    return n_iter, np.float64(result.fun)
