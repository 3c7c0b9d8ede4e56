"""Benchmark cases: network shapes, batch sizes, synthetic data, flop counts.

Every case is a fixed network (``layers`` = [n_features, *hidden, n_outputs])
trained on synthetic data of that shape.  The data are made once per case and
dtype, with a fixed seed, and shared by every library.
"""

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    layers: tuple  # (n_features, *hidden, n_outputs)
    batch_size: int
    task: str  # "binary", "multiclass" or "regression"
    goal: float  # fastbp / scikit-learn throughput goal (the team's target)
    # Training rows.  Throughput is measured over full epochs, so this only
    # sets how often the per-epoch work (shuffle, bookkeeping) runs; the large
    # networks get fewer rows so that one scikit-learn epoch stays well under
    # the target time of one timed fit.
    n_samples: int = 10_000
    data: str = "gaussian"  # or "mnist" (sparse-ish non-negative pixels)

    @property
    def hidden(self):
        return self.layers[1:-1]

    @property
    def shape_text(self):
        return "-".join(str(n) for n in self.layers)

    @property
    def multiply_adds_per_sample(self):
        """sum(fan_in * fan_out): one forward pass, per sample."""
        return sum(a * b for a, b in itertools.pairwise(self.layers))

    @property
    def flops_per_sample(self):
        """Forward + backward (+ weight gradient) flops per training sample.

        Each layer costs one product forward, one for the weight gradient and
        one for the back-propagated delta (the first layer's is not needed,
        but it is counted, as is the convention): 3 products of
        2 * fan_in * fan_out flops each.
        """
        return 6 * self.multiply_adds_per_sample


CASES = (
    Case("tiny", (2, 3, 1), 200, "binary", goal=20.0),
    Case("small", (64, 100, 10), 200, "multiclass", goal=3.0),
    Case("regression", (20, 64, 64, 1), 200, "regression", goal=4.0),
    Case(
        "medium-b200", (100, 256, 256, 10), 200, "multiclass", goal=1.6, n_samples=4_000
    ),
    Case(
        "medium-b32", (100, 256, 256, 10), 32, "multiclass", goal=2.5, n_samples=4_000
    ),
    Case(
        "wide",
        (784, 512, 10),
        200,
        "multiclass",
        goal=1.4,
        n_samples=4_000,
        data="mnist",
    ),
)

# Extra goals that are not a per-case throughput ratio over scikit-learn.
WIDE_PEAK_GOAL = 0.70  # fastbp on "wide": fraction of the measured GEMM peak
ADAM_VS_SGD_GOAL = 0.90  # fastbp adam throughput / fastbp sgd throughput
THREADS_NOT_SLOWER_GOAL = 1.0  # fastbp 2-thread / 1-thread, every case
THREADS_SCALING_GOAL = 1.5  # fastbp 2-thread / 1-thread on medium and wide
THREADS_SCALING_CASES = ("medium-b200", "medium-b32", "wide")

# Whole fit calls (set-up included), 1 thread, float64: epochs per fit, rows
# (the case's n_samples where not listed) and the goals for 3-epoch fits.
WHOLE_FIT_EPOCHS = (1, 3, 30)
WHOLE_FIT_ROWS = {"tiny": 20_000, "small": 20_000, "regression": 20_000}
WHOLE_FIT_GOALS = {"tiny": 30.0, "small": 3.5, "regression": 4.5, "medium-b200": 1.6}
XOR_GOAL = 200.0  # whole 2500-epoch XOR fits, scikit-learn s / fastbp s

# Single calls, scikit-learn s / fastbp s: partial_fit on PARTIAL_FIT_ROWS rows
# and predict on one row, on LATENCY_GOAL_CASES; the one-row predict must also
# beat PyTorch's forward pass on every case.
PARTIAL_FIT_ROWS = 32
PARTIAL_FIT_GOAL = 20.0
PREDICT_ONE_ROW_GOAL = 8.0
LATENCY_GOAL_CASES = ("tiny", "small")

GRID_GOAL = 2.5  # GridSearchCV(n_jobs=2), first call in a fresh process

# The fused CV search (bench/_search.py), per search case: MLPClassifierCV's
# GFLOP/s as a fraction of the float64 GEMM peak at its thread count; paired
# speed-ups over GridSearchCV at its faster n_jobs (1 or 2, warm workers) of
# fastbp's and of scikit-learn's MLPClassifier; on digits over scikit-learn's
# first GridSearchCV(n_jobs=2) call of a fresh process; and peak memory,
# MLPClassifierCV / GridSearchCV(n_jobs=2), strictly below 1.
SEARCH_PEAK_GOAL = 0.75
SEARCH_VS_FASTBP_GOALS = {"digits": 1.7, "tabular-b200": 1.3, "tabular-b32": 1.3}
SEARCH_VS_SKLEARN_GOAL = 4.0
SEARCH_FRESH_GOAL = 8.0
SEARCH_MEMORY_GOAL = 1.0

# Fresh processes (seconds): first fit with an empty kernel cache, first fit
# with a filled one, and import fastbp minus import sklearn.neural_network.
COLD_FIRST_FIT_GOAL = 10.0
WARM_FIRST_FIT_GOAL = 0.3
IMPORT_OVERHEAD_GOAL = 0.2


def make_data(case, dtype, n_samples=None, seed=0):
    """(X, y) for ``case`` in ``dtype``: X C-contiguous, y int labels or floats.

    Labels come from a random two-layer teacher so that classes are balanced
    and learnable; regression targets are standardised so that no solver
    diverges at the default learning rates.
    """
    if n_samples is None:
        n_samples = case.n_samples
    rng = np.random.RandomState(seed)
    n_features, n_outputs = case.layers[0], case.layers[-1]
    if case.data == "mnist":
        # MNIST-shaped: 784 pixels in [0, 1], about 80 % of them exactly 0.
        X = rng.rand(n_samples, n_features)
        X[X < 0.8] = 0.0
        X = (X - 0.8) / 0.2
    else:
        X = rng.standard_normal((n_samples, n_features))
    teacher_in = rng.standard_normal((n_features, 16)) / np.sqrt(n_features)
    H = np.tanh((X - X.mean(axis=0)) @ teacher_in * 3.0)
    if case.task == "regression":
        y = H @ rng.standard_normal(16) + 0.1 * rng.standard_normal(n_samples)
        y = ((y - y.mean()) / y.std()).astype(dtype)
    else:
        n_classes = 2 if case.task == "binary" else n_outputs
        scores = H @ rng.standard_normal((16, n_classes))
        scores += 0.3 * rng.standard_normal(scores.shape)
        y = np.argmax(scores, axis=1).astype(np.int64)
    return np.ascontiguousarray(X, dtype=dtype), y
