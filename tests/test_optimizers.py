"""The update kernels: one step in closed form, step-by-step parity with
scikit-learn's optimizers, and convergence on two classic test functions.

``fastbp/_optimizers.py`` promises scikit-learn 1.9's formulas *including the
order and precision of its arithmetic*, so one step is compared bit for bit:

* float64: every operation is one IEEE rounding in the same order as the
  closed form written below, hence identical results.
* float32: scikit-learn keeps velocities and moments in float32, but its Adam
  step size is a float64 NumPy scalar, so the update is computed in float64 and
  rounded once into float32 parameters.  fastbp reproduces that exactly.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer

from fastbp._optimizers import OptimizerState, adam_step, sgd_step
from fastbp._params import build_layout
from fastbp._plan import make_network, training_workspace
from fastbp._propagate import STEP, for_each_chunk

N = 64


def known_state(rng, dtype):
    """Non-zero parameters, gradient, first and second moments."""
    theta = rng.normal(size=N).astype(dtype)
    grad = rng.normal(scale=0.3, size=N).astype(dtype)
    first = rng.normal(scale=0.05, size=N).astype(dtype)
    second = rng.uniform(1e-4, 0.1, size=N).astype(dtype)
    return theta, grad, first, second


# ----------------------------------------------------------------------------
# One step, closed form
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("nesterov", [False, True], ids=["momentum", "nesterov"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sgd_one_step_closed_form(dtype, nesterov, rng):
    theta, grad, velocity, _ = known_state(rng, dtype)
    lr, mu = 0.05, 0.9
    # Closed form, element by element in theta's dtype:
    #   v' = mu v - lr g;  theta' = theta + v'  or  theta + (mu v' - lr g)
    lr_, mu_ = dtype(lr), dtype(mu)
    v_new = mu_ * velocity - lr_ * grad
    update = mu_ * v_new - lr_ * grad if nesterov else v_new
    theta_new = theta + update

    sgd_step(theta, grad, lr, mu, nesterov, velocity)
    assert_array_equal(velocity, v_new)
    assert_array_equal(theta, theta_new)


def test_adam_one_step_closed_form_float64(rng):
    """One step from the same known state at every step count t = 1..100."""
    state = known_state(rng, np.float64)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    differs = []
    for t in range(1, 101):
        theta, grad, m, s = (a.copy() for a in state)
        m_new = b1 * m + (1.0 - b1) * grad
        s_new = b2 * s + (1.0 - b2) * (grad * grad)
        # Bias correction folded into the step size, as scikit-learn does;
        # beta**t is Python's (and NumPy's) pow().
        step = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        theta_new = theta + -step * m_new / (np.sqrt(s_new) + eps)

        adam_step(theta, grad, lr, b1, b2, eps, t, m, s)
        assert_array_equal(m, m_new)
        assert_array_equal(s, s_new)
        if not np.array_equal(theta, theta_new):
            differs.append(t)
    assert not differs, (
        f"theta differs from the closed form at {len(differs)} of 100 step "
        f"counts, first t = {differs[:5]}"
    )


def test_adam_one_step_float32_mixed_precision(rng):
    """float32 moments, float64 update, one rounding into float32 theta."""
    theta, grad, m, s = known_state(rng, np.float32)
    theta[:32] = 0.0  # there theta' is the rounded update itself (see below)
    theta_old = theta.copy()
    t, lr, b1, b2, eps = 3, 1e-2, 0.9, 0.999, 1e-8
    f32 = np.float32
    m_new = f32(b1) * m + f32(1.0 - b1) * grad
    s_new = f32(b2) * s + f32(1.0 - b2) * (grad * grad)
    step = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    denominator = (np.sqrt(s_new) + f32(eps)).astype(np.float64)  # float32 sum
    update = -step * m_new.astype(np.float64) / denominator
    theta_new = (theta.astype(np.float64) + update).astype(np.float32)

    adam_step(theta, grad, lr, b1, b2, eps, t, m, s)
    assert m.dtype == s.dtype == theta.dtype == np.float32
    assert_array_equal(m, m_new)
    assert_array_equal(s, s_new)
    assert_array_equal(theta, theta_new)
    # An all-float32 update rounds after each operation: for theta = 0 it
    # differs from the once-rounded float64 update in many of 32 entries, so
    # the comparison above can tell the two precisions apart.
    update32 = f32(-step) * m_new / (np.sqrt(s_new) + f32(eps))
    assert not np.array_equal((theta_old + update32)[:32], theta_new[:32])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_stores_subnormal_results_as_zero(dtype, rng):
    """State and weights near the smallest normal number: the closed form's
    subnormal moments and its weights below sqrt(tiny) become 0, every other
    value is the closed form's."""
    tiny = np.finfo(dtype).tiny
    weight_floor = np.sqrt(tiny)
    lr, b1, b2, eps, t = 1e-3, 0.9, 0.999, 1e-8, 5
    theta = (tiny * rng.uniform(-3, 3, N)).astype(dtype)
    grad = np.zeros(N, dtype)
    grad[: N // 4] = rng.normal(size=N // 4)  # some normal values stay as they are
    m = (tiny * rng.uniform(-3, 3, N)).astype(dtype)
    m[N // 2 :] = 0  # no update there: theta' = theta, some of it subnormal
    s = (tiny * rng.uniform(0, 3, N)).astype(dtype)
    theta_old, grad_old = theta.copy(), grad.copy()

    d = dtype
    m_new = d(b1) * m + d(1.0 - b1) * grad
    s_new = d(b2) * s + d(1.0 - b2) * (grad * grad)
    step = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
    update = -step * m_new.astype(np.float64) / (np.sqrt(s_new) + d(eps))
    theta_new = (theta.astype(np.float64) + update).astype(dtype)

    def flushed(x, floor=tiny):
        return np.where(np.abs(x) < floor, d(0), x)

    for closed_form in (m_new, s_new, theta_new):
        assert ((closed_form != 0) & (np.abs(closed_form) < tiny)).sum() >= 2
    adam_step(theta, grad, lr, b1, b2, eps, t, m, s)
    assert_array_equal(m, flushed(m_new))
    assert_array_equal(s, flushed(s_new))
    # theta's update uses the flushed moments.
    update = -step * m.astype(np.float64) / (np.sqrt(s) + d(eps))
    expected = (theta_old.astype(np.float64) + update).astype(d)
    assert (expected[: N // 4] != 0).all()  # updated by normal gradients: kept
    assert ((np.abs(expected) >= tiny) & (np.abs(expected) < weight_floor)).any()
    assert_array_equal(theta, flushed(expected, weight_floor))
    assert_array_equal(grad, grad_old)


@pytest.mark.slow
def test_adam_dead_unit_weights_never_become_subnormal():
    """A ReLU unit made dead for every row: Adam decays its incoming weights
    geometrically.  scikit-learn's float32 weights end subnormal (slow
    arithmetic from then on); fastbp's end zero or above sqrt(tiny) (so their
    products stay normal too), and the rest of the model is scikit-learn's."""
    import warnings

    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from fastbp import MLPClassifier

    rng = np.random.RandomState(0)
    X = rng.standard_normal((400, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    tiny = np.finfo(np.float32).tiny

    def fit(cls):
        model = cls(
            hidden_layer_sizes=(3,),
            solver="adam",
            max_iter=1,
            batch_size=20,
            random_state=0,
            warm_start=True,
            tol=0.0,
            n_iter_no_change=10**6,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
            model.intercepts_[0][0] = -1e3  # hidden unit 0 is dead for every row
            model.max_iter = 400  # 8000 steps
            model.fit(X, y)
        return model

    def subnormal(values):
        return int(((values != 0) & (np.abs(values) < tiny)).sum())

    ours, theirs = fit(MLPClassifier), fit(SklearnMLP)
    assert subnormal(theirs.coefs_[0][:, 0]) > 0
    weight_floor = np.sqrt(tiny)
    for values in (*ours.coefs_, *ours.intercepts_):
        assert not ((values != 0) & (np.abs(values) < weight_floor)).any()
    assert subnormal(ours._optimizer.first) == subnormal(ours._optimizer.second) == 0
    # Equal up to float32 rounding; the dead unit's weights differ by
    # < sqrt(tiny) = 1.1e-19.
    ours_params = ours.coefs_ + ours.intercepts_
    for a, b in zip(ours_params, theirs.coefs_ + theirs.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=weight_floor)


# ----------------------------------------------------------------------------
# Step by step against scikit-learn's optimizer objects
# ----------------------------------------------------------------------------


def sklearn_optimizer(solver, params, lr):
    if solver == "adam":
        return AdamOptimizer(params, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    return SGDOptimizer(params, lr, momentum=0.9, nesterov=solver == "nesterov")


@pytest.mark.parametrize("solver", ["sgd", "nesterov", "adam"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_sklearn_optimizer_step_by_step(dtype, solver, rng):
    """20 steps with fresh gradients through the engine's update of all
    parameters (``for_each_chunk`` in STEP mode, the gradient in work.grad)
    and the state object the estimators use; scikit-learn updates a list of
    two arrays."""
    lr = 1e-2
    sizes = (7, 8)  # one layer of N parameters: 56 weights, 8 intercepts
    layout, n_params, _ = build_layout(sizes)
    assert n_params == N
    theta = rng.normal(size=N).astype(dtype)
    sk_params = [theta[:40].copy(), theta[40:].copy()]
    sk = sklearn_optimizer(solver, sk_params, lr)
    state = OptimizerState.create("adam" if solver == "adam" else "sgd", lr, N, dtype)
    optimizer = state.kernel_form(0.9, solver == "nesterov", 0.9, 0.999, 1e-8)
    network = make_network(theta, layout, (0, 0, 0), 0.0)
    work = training_workspace(1, sizes[0], sizes[-1], layout, dtype)
    S = dtype(1)  # unused by STEP
    for step in range(1, 21):
        grad = rng.normal(scale=0.5, size=N).astype(dtype)
        sk.update_params(sk_params, [grad[:40], grad[40:]])
        work.grad[:] = grad
        for_each_chunk(STEP, 0, S, network, work, optimizer, False)
        assert_array_equal(
            theta, np.concatenate(sk_params), err_msg=f"after step {step}"
        )
    if solver == "adam":
        assert state.t == sk.t == 20


# ----------------------------------------------------------------------------
# Convergence
# ----------------------------------------------------------------------------

BOWL_A = np.array([[3.0, 1.0], [1.0, 2.0]])  # SPD, eigenvalues 1.38 and 3.62
BOWL_MIN = np.array([1.0, -2.0])


def bowl(x):
    """f(x) = 1/2 (x - c)^T A (x - c): minimum 0 at c."""
    d = x - BOWL_MIN
    return 0.5 * d @ BOWL_A @ d, BOWL_A @ d


def rosenbrock(x):
    """f(a, b) = (1 - a)^2 + 100 (b - a^2)^2: minimum 0 at (1, 1)."""
    a, b = x
    gradient = np.array(
        [-2.0 * (1.0 - a) - 400.0 * a * (b - a * a), 200.0 * (b - a * a)]
    )
    return (1.0 - a) ** 2 + 100.0 * (b - a * a) ** 2, gradient


def minimise(f, x0, solver, lr, n_steps):
    x = np.array(x0, dtype=np.float64)
    first, second = np.zeros(2), np.zeros(2)
    for t in range(1, n_steps + 1):
        _, g = f(x)
        if solver == "adam":
            adam_step(x, g, lr, 0.9, 0.999, 1e-8, t, first, second)
        else:
            momentum = 0.0 if solver == "sgd" else 0.9
            sgd_step(x, g, lr, momentum, solver == "nesterov", first)
    return x


# (solver, learning rate, steps, tolerance on max |x - x*|).  Budgets are ~2x
# to 5x what each solver needs from this start (measured); plain SGD is left
# out of Rosenbrock, where it needs > 20000 steps in the curved valley.
BOWL_RUNS = [
    ("sgd", 0.1, 500, 1e-10),
    ("momentum", 0.1, 1000, 1e-10),
    ("nesterov", 0.1, 1000, 1e-10),
    ("adam", 0.1, 2000, 1e-10),
]
ROSENBROCK_RUNS = [
    ("momentum", 1e-3, 5000, 1e-6),
    ("nesterov", 1e-3, 5000, 1e-6),
    ("adam", 1e-2, 10000, 1e-5),
]


@pytest.mark.parametrize(("solver", "lr", "n_steps", "tol"), BOWL_RUNS)
def test_converges_on_quadratic_bowl(solver, lr, n_steps, tol):
    x0 = [4.0, 3.0]
    assert bowl(np.array(x0))[0] > 10.0
    x = minimise(bowl, x0, solver, lr, n_steps)
    assert np.abs(x - BOWL_MIN).max() < tol


@pytest.mark.parametrize(("solver", "lr", "n_steps", "tol"), ROSENBROCK_RUNS)
def test_converges_on_rosenbrock(solver, lr, n_steps, tol):
    x0 = [-1.2, 1.0]  # the classic start, on the far side of the valley
    x = minimise(rosenbrock, x0, solver, lr, n_steps)
    assert np.abs(x - 1.0).max() < tol, f"ended at {x}"
    assert rosenbrock(x)[0] < tol**2
