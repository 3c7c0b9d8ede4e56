"""In-place update rules on the flat parameter vector, and their state.

Formulas are scikit-learn 1.9's (``_stochastic_optimizers.py``), including the
order and precision of its arithmetic, so trajectories match step for step.

SGD with momentum mu and learning rate eta (velocity v, gradient g)::

    v <- mu v - eta g
    theta <- theta + v                      (classical)
    theta <- theta + (mu v - eta g)         (Nesterov: momentum re-applied)

Adam, step t (1-based), with bias correction folded into the step size::

    m <- beta1 m + (1 - beta1) g
    s <- beta2 s + (1 - beta2) g^2
    eta_t = eta sqrt(1 - beta2^t) / (1 - beta1^t)
    theta <- theta - eta_t m / (sqrt(s) + eps)

This equals textbook Adam with eps replaced by eps / sqrt(1 - beta2^t).  As in
scikit-learn, the final Adam update is evaluated in float64 and rounded once
into theta's dtype (NumPy promotes float32 arrays by the float64 step size).

Adam stores subnormal results (0 < |x| < the dtype's smallest normal number
``tiny``) of m and s as zero, as hardware flush-to-zero mode would, and weights
below sqrt(tiny).  Without that, the weights of a dead unit decay
geometrically (the update is eta_t m / eps once sqrt(s) << eps) towards zero;
below sqrt(tiny) their products (alpha W / S, W^2, deltas times W) are
subnormal, and every subnormal operation runs in slow microcode: a 2-3-1
network's epochs became 3x slower once weights were subnormal, 12% slower
while they passed through [tiny, sqrt(tiny)].  A weight below sqrt(tiny)
changes no output (1 + sqrt(tiny) == 1), so the difference from scikit-learn
is below 1.5e-154 (float64) / 1.1e-19 (float32) per weight.
"""

from dataclasses import dataclass, field

import numpy as np
from numba import prange

from fastbp._config import jit
from fastbp._params import chunk_range, param_chunks

SGD, ADAM = 0, 1
SOLVER_CODES = {"sgd": SGD, "adam": ADAM}


@jit
def sgd_step(theta, grad, learning_rate, momentum, nesterov, velocity):
    """One SGD (+momentum / Nesterov) step.  Writes: theta, velocity (n_params,)."""
    dtype = theta.dtype.type
    mu, eta = dtype(momentum), dtype(learning_rate)
    for p in range(theta.shape[0]):
        v = mu * velocity[p] - eta * grad[p]
        velocity[p] = v
        if nesterov:
            v = mu * v - eta * grad[p]
        theta[p] += v


@jit(inline="always")
def flush_below(x, floor):
    """x, or zero when |x| < floor."""
    return x if abs(x) >= floor else type(x)(0)


@jit
def adam_step(theta, grad, learning_rate_init, beta_1, beta_2, epsilon, t, m, s):
    """One Adam step at 1-based step ``t``: subnormal m, s and weights below
    sqrt(tiny) stored as zero (see the module docstring).

    Writes: theta, m, s (n_params,).
    """
    dtype = theta.dtype.type
    smallest_normal = dtype(np.finfo(theta.dtype).tiny)
    weight_floor = dtype(np.sqrt(np.finfo(theta.dtype).tiny))
    b1, b2 = dtype(beta_1), dtype(beta_2)
    c1, c2 = dtype(1.0 - beta_1), dtype(1.0 - beta_2)
    eps = dtype(epsilon)
    # A float exponent: Numba evaluates float ** int by repeated multiplication,
    # which differs from Python's (and scikit-learn's) pow() in the last bit.
    exponent = np.float64(t)
    step = (
        learning_rate_init * np.sqrt(1.0 - beta_2**exponent) / (1.0 - beta_1**exponent)
    )
    for p in range(theta.shape[0]):
        g = grad[p]
        m_p = flush_below(b1 * m[p] + c1 * g, smallest_normal)
        s_p = flush_below(b2 * s[p] + c2 * (g * g), smallest_normal)
        m[p], s[p] = m_p, s_p
        update = -step * np.float64(m_p) / np.float64(np.sqrt(s_p) + eps)
        theta[p] = flush_below(dtype(np.float64(theta[p]) + update), weight_floor)


@jit
def step_range(theta, grad_range, solver_code, hyper, first, second, t, start, stop):
    """One update of parameters start <= p < stop (Adam at step t), whose
    gradient is grad_range (stop - start,); first and second are the state
    arrays (see ``optimizer_step``).

    Writes: theta[start:stop] and the state arrays on that range.
    """
    if solver_code == SGD:
        sgd_step(
            theta[start:stop],
            grad_range,
            hyper[0],
            hyper[1],
            hyper[2] != 0.0,
            first[start:stop],
        )
    else:
        adam_step(
            theta[start:stop],
            grad_range,
            hyper[0],
            hyper[3],
            hyper[4],
            hyper[5],
            t,
            first[start:stop],
            second[start:stop],
        )


@jit
def next_step(solver_code, state):
    """Advance Adam's step counter (state[2]); return the step number t."""
    step_counter = state[2]
    if solver_code != SGD:
        step_counter[0] += 1
    return step_counter[0]


@jit
def _step_chunk(chunk, theta, grad, solver_code, hyper, state, t):
    """``step_range`` on parameter chunk ``chunk`` (PARAM_CHUNK parameters)."""
    first, second, _ = state
    start, stop = chunk_range(chunk, theta.shape[0])
    step_range(
        theta, grad[start:stop], solver_code, hyper, first, second, t, start, stop
    )


@jit(parallel=True)
def optimizer_step(theta, grad, solver_code, hyper, state, threaded):
    """Dispatch one update.  hyper = (learning_rate, momentum, nesterov, beta_1,
    beta_2, epsilon) as float64; state = (first, second, step_counter) where
    first is the velocity or Adam's m, second Adam's s, and step_counter a
    length-1 int64 array (Adam's t, incremented here).  The update is
    element-wise, so parameter chunks run in parallel when ``threaded``.
    Writes: theta and the state arrays.
    """
    t = next_step(solver_code, state)
    n_chunks = param_chunks(theta.shape[0])
    if threaded and n_chunks > 1:
        for c in prange(n_chunks):
            _step_chunk(np.int64(c), theta, grad, solver_code, hyper, state, t)
    else:
        for c in range(n_chunks):
            _step_chunk(c, theta, grad, solver_code, hyper, state, t)


@dataclass
class OptimizerState:
    """Everything a stochastic solver carries between steps and fits.

    Plain NumPy arrays and numbers, so a fitted estimator pickles and resumes
    training exactly.  ``learning_rate`` is SGD's current rate (changed by the
    schedules once per epoch); for Adam it stays ``learning_rate_init``.
    """

    solver: str
    learning_rate_init: float
    learning_rate: float
    first: np.ndarray
    second: np.ndarray
    step_counter: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    @classmethod
    def create(cls, solver, learning_rate_init, n_params, dtype):
        second_size = n_params if solver == "adam" else 0
        return cls(
            solver=solver,
            learning_rate_init=float(learning_rate_init),
            learning_rate=float(learning_rate_init),
            first=np.zeros(n_params, dtype=dtype),
            second=np.zeros(second_size, dtype=dtype),
        )

    @property
    def t(self):
        """Adam's step count (number of updates applied)."""
        return int(self.step_counter[0])

    def kernel_args(self, momentum, nesterov, beta_1, beta_2, epsilon):
        """(solver_code, hyper, state) for ``optimizer_step``."""
        hyper = np.array(
            [self.learning_rate, momentum, float(nesterov), beta_1, beta_2, epsilon],
            dtype=np.float64,
        )
        return (
            SOLVER_CODES[self.solver],
            hyper,
            (self.first, self.second, self.step_counter),
        )
