"""Threads: bit-identical results for any thread count, restored settings,
concurrent fits from two Python threads, and fork safety."""

import os
import subprocess
import sys
import textwrap
import threading

import numba
import numpy as np
import pytest

from fastbp import MLPClassifier, MLPRegressor
from fastbp._config import MIN_BLOCK_ROWS
from fastbp._params import build_layout
from fastbp._propagate import block_plan
from fastbp._threads import thread_budget, update_is_costly, use_threads

# A fit that is large enough to run row blocks in parallel (batch 400 -> 4
# blocks, well above the work threshold) yet takes well under a second.
FIT_SCRIPT = textwrap.dedent(
    """
    import hashlib, sys, warnings
    import numpy as np
    import numba
    from fastbp import MLPRegressor
    warnings.simplefilter("ignore")
    rng = np.random.RandomState(0)
    X = rng.randn(1200, 40)
    y = np.tanh(X[:, :3]).sum(axis=1)
    hidden = tuple(int(h) for h in sys.argv[2].split(","))
    model = MLPRegressor(hidden_layer_sizes=hidden, solver=sys.argv[1],
                         batch_size=int(sys.argv[3]), max_iter=3, random_state=0,
                         dropout=float(sys.argv[4])).fit(X, y)
    digest = hashlib.sha256()
    for a in model.coefs_ + model.intercepts_:
        digest.update(np.ascontiguousarray(a).tobytes())
    # threading_layer() raises unless a parallel region really ran.
    print(numba.get_num_threads(), numba.threading_layer(), digest.hexdigest())
    """
)


def _run_fit(solver, hidden, batch_size, dropout, **env):
    completed = subprocess.run(
        [sys.executable, "-c", FIT_SCRIPT, solver, hidden, str(batch_size), dropout],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    n_threads, _layer, digest = completed.stdout.split()
    return int(n_threads), digest


@pytest.mark.slow
@pytest.mark.parametrize(
    ("solver", "hidden", "batch_size", "dropout"),
    [
        ("sgd", "96,64", 400, "0"),
        ("adam", "96,64", 400, "0"),
        ("lbfgs", "96,64", 400, "0"),
        # One row block per batch, but Adam's update over 43k parameters runs
        # its chunks in parallel (update_is_costly).
        ("adam", "256,128", 32, "0"),
        # Dropout's masks hash the row's index, not its block's.
        ("adam", "96,64", 400, "0.3"),
    ],
    ids=["sgd", "adam", "lbfgs", "adam-parallel-update", "adam-dropout"],
)
def test_bit_identical_weights_with_one_and_two_threads(
    solver, hidden, batch_size, dropout
):
    if batch_size == 32:
        sizes = [40, *map(int, hidden.split(",")), 1]
        layout, n_params, _ = build_layout(sizes)
        assert block_plan(batch_size, layout)[0] == 1
        assert update_is_costly(solver, n_params)
        assert not use_threads(batch_size, layout)
    one = _run_fit(solver, hidden, batch_size, dropout, NUMBA_NUM_THREADS="1")
    two = _run_fit(solver, hidden, batch_size, dropout, NUMBA_NUM_THREADS="2")
    assert one[0] == 1 and two[0] == 2  # the settings really differed
    assert one[1] == two[1]


def _regression_data():
    rng = np.random.RandomState(1)
    X = rng.randn(600, 30)
    return X, X[:, 0] - 2 * X[:, 1] ** 2


def test_thread_count_is_restored_after_fit_and_predict():
    X, y = _regression_data()
    before = numba.get_num_threads()
    model = MLPRegressor(
        hidden_layer_sizes=(64,), batch_size=300, max_iter=2, random_state=0
    )
    with pytest.warns(Warning):
        model.fit(X, y)
    model.predict(X)
    assert numba.get_num_threads() == before


def test_omp_num_threads_caps_the_budget(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert thread_budget() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "64")
    assert thread_budget() == numba.get_num_threads()


def test_when_calls_go_parallel(monkeypatch):
    """Row blocks need >= 2 blocks and enough work; a costly update (Adam over
    many parameters) goes parallel on its own; one thread never does."""
    import fastbp._threads as threads

    monkeypatch.setattr(threads, "_threading_layer_is_workqueue", lambda: False)
    medium, _, n_medium = build_layout([100, 256, 256, 10])
    tiny, _, n_tiny = build_layout([2, 3, 1])
    monkeypatch.setattr(threads, "thread_budget", lambda: 2)
    assert use_threads(200, medium)  # 2 blocks of 100 rows, 18.7M multiply-adds
    assert not use_threads(32, medium)  # one block
    assert use_threads(MIN_BLOCK_ROWS + 1, medium)  # the fewest rows for 2 blocks
    assert not use_threads(MIN_BLOCK_ROWS, medium)
    assert use_threads(32, medium, update_is_costly("adam", n_medium))
    assert not use_threads(32, medium, update_is_costly("sgd", n_medium))
    assert not use_threads(5000, tiny)  # 3 blocks, but only 45k multiply-adds
    assert not update_is_costly("adam", n_tiny)
    monkeypatch.setattr(threads, "thread_budget", lambda: 1)
    assert not use_threads(200, medium, True)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_two_python_threads_fitting_at_once_match_sequential_fits():
    X, y = _regression_data()
    params = [dict(solver="adam", random_state=s) for s in (0, 1)]

    def fit(kwargs):
        return MLPRegressor(
            hidden_layer_sizes=(64,), batch_size=300, max_iter=5, **kwargs
        ).fit(X, y)

    expected = [fit(p) for p in params]
    results = [None, None]

    def worker(i):
        results[i] = fit(params[i])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for got, want in zip(results, expected, strict=True):
        for a, b in zip(got.coefs_, want.coefs_, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_after_a_parallel_fit_does_not_hang():
    script = textwrap.dedent(
        """
        import os, warnings
        import numpy as np
        from fastbp import MLPClassifier
        warnings.simplefilter("ignore")
        rng = np.random.RandomState(0)
        X = rng.randn(600, 30); y = (X[:, 0] > 0).astype(int)
        fit = lambda: MLPClassifier((64,), batch_size=300, max_iter=2,
                                    random_state=0).fit(X, y)
        parent = fit().coefs_[0]
        pid = os.fork()
        if pid == 0:
            child = fit().coefs_[0]
            os._exit(0 if np.array_equal(child, parent) else 3)
        _, status = os.waitpid(pid, 0)
        print("child exit", os.waitstatus_to_exitcode(status))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "child exit 0" in completed.stdout


def test_classifier_predictions_identical_threaded_and_serial():
    """predict on many rows runs row blocks in parallel; the serial path must
    give the same bits (row blocks never share a sum)."""
    X, y = _regression_data()
    labels = (y > np.median(y)).astype(int)
    with pytest.warns(Warning):
        clf = MLPClassifier((64,), max_iter=3, random_state=0).fit(X, labels)
    big = np.repeat(X, 10, axis=0)
    threaded = clf.predict_proba(big)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        serial = clf.predict_proba(big)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(threaded, serial)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_parameter_passes_identical_threaded_and_serial(solver):
    """Optimizer steps and the finished gradient run over parameter chunks
    in parallel; they must give the same bits as one serial pass (and the
    chunked penalty sum must not depend on the thread count)."""
    from fastbp._config import PARAM_CHUNK
    from fastbp._optimizers import OptimizerState
    from fastbp._params import param_chunks
    from fastbp._plan import make_network, training_workspace
    from fastbp._propagate import FINISH, STEP, for_each_chunk

    rng = np.random.RandomState(0)
    n_params, n_weights = 3 * PARAM_CHUNK + 17, 2 * PARAM_CHUNK + 5
    # A network of exactly that many parameters and weights (8186 inputs, one
    # hidden unit, 8203 outputs): 4 chunks, the last weights inside chunk 2.
    layout, n, n_w = build_layout([8186, 1, 8203])
    assert (n, n_w) == (n_params, n_weights) and param_chunks(n_params) == 4
    theta0, grad0 = rng.randn(n_params), rng.randn(n_params)
    results = []
    for threaded in (False, True):
        theta = theta0.copy()
        network = make_network(theta, layout, (0, 0, 0), 0.3)
        # Two "row blocks" whose sum is grad0.
        blocks = np.stack([grad0 - 1.0, np.ones(n_params)])
        work = training_workspace(1, 8186, 8203, layout, np.float64)
        work = work._replace(block_grads=blocks)
        grad = work.grad
        grad[:] = np.nan  # FINISH must write every entry
        state = OptimizerState.create(solver, 0.01, n_params, np.float64)
        optimizer = state.kernel_form(0.9, True, 0.9, 0.999, 1e-8)
        penalty = for_each_chunk(FINISH, 2, 7.0, network, work, optimizer, threaded)
        grad_finished = grad.copy()
        for _ in range(3):  # STEP: one update of theta from work.grad
            for_each_chunk(STEP, 0, 7.0, network, work, optimizer, threaded)
        assert state.t == (3 if solver == "adam" else 0)
        # The steps read the gradient, never write it.
        np.testing.assert_array_equal(grad, grad_finished)
        results.append((penalty, grad, theta, state.first))
    (p0, g0, t0, f0), (p1, g1, t1, f1) = results
    assert p0 == p1
    np.testing.assert_allclose(p0, (theta0[:n_weights] ** 2).sum(), rtol=1e-12)
    summed = (grad0 - 1.0) + 1.0  # the two blocks, added in block order
    expected_grad = summed / 7.0
    expected_grad[:n_weights] = (summed[:n_weights] + 0.3 * theta0[:n_weights]) / 7.0
    np.testing.assert_allclose(g0, expected_grad, rtol=1e-15)
    for a, b in ((g0, g1), (t0, t1), (f0, f1)):
        np.testing.assert_array_equal(a, b)
