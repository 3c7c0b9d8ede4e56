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

from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np

from fastbp._config import jit

# What a kernel needs of a stochastic solver: solver_code (SGD / ADAM);
# hyper (6,) float64 = (learning_rate, momentum, nesterov, beta_1, beta_2,
# epsilon); first (n_params,) = velocity or Adam's m; second (n_params,) or
# empty = Adam's s; step_counter (1,) int64 = Adam's t.
Optimizer = namedtuple(
    "Optimizer", ["solver_code", "hyper", "first", "second", "step_counter"]
)

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
    """x, or zero when |x| < floor.  NaN stays NaN (a NaN fails every
    comparison), so a diverged fit shows in its weights."""
    return type(x)(0) if abs(x) < floor else x


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
def step_range(optimizer, theta, grad_range, t, start):
    """One update of parameters start <= p < start + len(grad_range) (Adam
    at step t), whose gradient is grad_range.  optimizer = (solver_code,
    hyper, first, second, step_counter) with hyper = (learning_rate, momentum,
    nesterov, beta_1, beta_2, epsilon) as float64; first is the velocity or
    Adam's m, second Adam's s (see ``OptimizerState``).

    Writes: theta[start:stop] and the state arrays on that range.
    """
    stop = start + grad_range.shape[0]
    hyper = optimizer.hyper
    if optimizer.solver_code == SGD:
        sgd_step(
            theta[start:stop],
            grad_range,
            hyper[0],
            hyper[1],
            hyper[2] != 0.0,
            optimizer.first[start:stop],
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
            optimizer.first[start:stop],
            optimizer.second[start:stop],
        )


@jit
def next_step(optimizer):
    """Advance Adam's step counter; return the step number t (SGD: 0)."""
    step_counter = optimizer.step_counter
    if optimizer.solver_code != SGD:
        step_counter[0] += 1
    return step_counter[0]


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

    def kernel_form(self, momentum, nesterov, beta_1, beta_2, epsilon):
        """The plan's ``Optimizer`` over this state's arrays (shared, not
        copied); the learning rate travels in hyper[0], which the compiled
        schedules change (``sync_learning_rate`` copies it back)."""
        hyper = np.array(
            [self.learning_rate, momentum, float(nesterov), beta_1, beta_2, epsilon],
            dtype=np.float64,
        )
        return Optimizer(
            SOLVER_CODES[self.solver], hyper, self.first, self.second, self.step_counter
        )

    def sync_learning_rate(self, optimizer):
        """Take the learning rate back from a plan's ``Optimizer``."""
        self.learning_rate = float(optimizer.hyper[0])
