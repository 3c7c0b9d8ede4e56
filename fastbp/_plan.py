"""The plan: everything a compiled kernel needs, in named parts, built once.

One Python planner (``make_plan``) serves the estimators, the low-level API,
the tests and the benchmarks.  A plan is a tree of named tuples (Numba types
them as structs, so a kernel reads ``plan.network.theta``, never ``args[5]``):

* ``Source(X, data, indices, indptr)``: the input rows.  Dense X
  (n_samples, n_features) when ``indptr`` is empty; else CSR arrays (int64
  indices) and X an empty (0, n_features) placeholder.
* ``Network(theta, layout, act_codes, out_code, loss_code, loss_param,
  alpha)``: the flat parameters (``_params``), the activation code of each
  hidden layer (int64 array), the output activation and loss codes, the
  loss's parameter (``_losses``: Huber's delta, the quantile) and the L2
  strength.
* ``Workspace(X_buf, Y_buf, sw_buf, acts, pre_acts, deltas, weights_t,
  block_grads, block_loss, chunk_sums, grad, drop_rates, drop_key,
  row_ids)``: every buffer of one wave of m rows (see ``_propagate``); a
  forward-only workspace leaves the backward ones (and pre_acts) empty.  The
  last three are dropout's (``_dropout``): the drop rate of each hidden
  layer (float64; empty: no dropout, always so for forward-only
  workspaces), the (seed, epoch key) uint64 pair and the wave's
  training-row indices (m,) int64.  (Flat fields: Numba's parallel loops
  cannot take a named tuple of arrays nested in another.)
* ``Optimizer`` (``_optimizers``): the solver code, hyperparameters and state.
* ``Plan(source, Y, sw, network, work, optimizer, threaded)``: Y (n_samples,
  n_outputs) targets in theta's dtype, sw (n_samples,) weights or empty, and
  whether the row blocks and parameter chunks may run in parallel (decided
  once per fit by ``_threads.use_threads``).

Every array is C-contiguous in theta's dtype (indices int64), so each kernel
compiles once per dtype whatever the caller.
"""

from collections import namedtuple

import numpy as np

from fastbp._activations import PRE_ACTIVATION_CODES
from fastbp._config import MIN_BLOCK_ROWS, WAVE_BLOCKS
from fastbp._optimizers import SGD, Optimizer
from fastbp._params import B_OFFSET, FAN_OUT, param_chunks
from fastbp._propagate import block_plan, wave_rows

Source = namedtuple("Source", ["X", "data", "indices", "indptr"])
Network = namedtuple(
    "Network",
    ["theta", "layout", "act_codes", "out_code", "loss_code", "loss_param", "alpha"],
)
Workspace = namedtuple(
    "Workspace",
    [
        "X_buf",
        "Y_buf",
        "sw_buf",
        "acts",
        "pre_acts",
        "deltas",
        "weights_t",
        "block_grads",
        "block_loss",
        "chunk_sums",
        "grad",
        "drop_rates",
        "drop_key",
        "row_ids",
    ],
)
Plan = namedtuple(
    "Plan", ["source", "Y", "sw", "network", "work", "optimizer", "threaded"]
)

_EMPTY_INT = np.empty(0, dtype=np.int64)
# Never written: the key is only set when the rates are not empty.
_NO_DROPOUT = (np.empty(0), np.zeros(2, dtype=np.uint64), _EMPTY_INT)


def dense_source(X):
    """The Source of a C-contiguous float matrix X."""
    return Source(X, np.empty(0, dtype=X.dtype), _EMPTY_INT, _EMPTY_INT)


def make_network(theta, layout, codes, alpha, loss_param=0.0):
    """Network over theta (not copied); codes = (act, out, loss), act one
    hidden activation code for every hidden layer or a sequence of one per
    hidden layer."""
    act, out_code, loss_code = codes
    act_codes = np.empty(layout.shape[0] - 1, dtype=np.int64)
    act_codes[:] = act
    return Network(
        theta,
        layout,
        act_codes,
        int(out_code),
        int(loss_code),
        float(loss_param),
        float(alpha),
    )


def _keeps_pre_activations(network, dropping):
    """Whether training keeps a copy per hidden layer in pre_acts: Z for
    the codes that need it, the activations before dropout (``dropping``)
    otherwise."""
    return dropping or any(
        code in PRE_ACTIVATION_CODES for code in network.act_codes.tolist()
    )


def wave_capacity(n_rows, layout):
    """Rows a workspace must hold for calls over up to ``n_rows`` rows: one
    wave at most."""
    m = max(1, int(n_rows))
    if m > MIN_BLOCK_ROWS * WAVE_BLOCKS:  # below: within any wave (cheap test first)
        m = min(m, int(wave_rows(layout)))
    return m


def _n_units(layout):
    """Units of all layers: the intercepts, one per unit, end theta."""
    last = layout.shape[0] - 1
    return int(layout[last, B_OFFSET] + layout[last, FAN_OUT] - layout[0, B_OFFSET])


def forward_workspace(n_rows, n_features, layout, dtype):
    """A Workspace for ``forward_into`` over up to ``n_rows`` rows per call:
    X_buf and acts for one wave; the backward buffers are shared empty arrays
    (a one-row predict must not pay for eight allocations)."""
    m = wave_capacity(n_rows, layout)
    return _EMPTY_WORKSPACES[np.dtype(dtype)]._replace(
        X_buf=np.empty((m, n_features), dtype=dtype),
        acts=np.empty(m * _n_units(layout), dtype=dtype),
    )


def _empty_workspace(dtype):
    empty, empty_2d = np.empty(0, dtype=dtype), np.empty((0, 1), dtype=dtype)
    no_sums = np.empty(0, dtype=np.float64)
    return Workspace(
        empty_2d,
        empty_2d,
        empty,
        empty,
        empty,
        empty,
        empty,
        empty_2d,
        no_sums,
        no_sums,
        empty,
        *_NO_DROPOUT,
    )


# Never written: every kernel reads a buffer's length before using it.
_EMPTY_WORKSPACES = {np.dtype(d): _empty_workspace(d) for d in (np.float32, np.float64)}


def training_workspace(
    n_rows, n_features, n_outputs, layout, dtype, keep_pre=False, dropout=None
):
    """A Workspace for loss and gradient calls over up to ``n_rows`` rows;
    pre_acts is allocated when ``keep_pre`` (``_keeps_pre_activations``).
    ``dropout``: None, or (rates, seed): one drop rate per hidden layer and
    the model's dropout seed (an int in [0, 2^64))."""
    m = wave_capacity(n_rows, layout)
    n_params = int(layout[-1, B_OFFSET] + layout[-1, FAN_OUT])
    n_blocks = int(block_plan(m, layout)[0])
    acts = np.empty(m * _n_units(layout), dtype=dtype)
    return Workspace(
        np.empty((m, n_features), dtype=dtype),
        np.empty((m, n_outputs), dtype=dtype),
        np.empty(m, dtype=dtype),
        acts,
        np.empty_like(acts) if keep_pre else acts[:0],
        np.empty_like(acts),
        np.zeros(int(layout[0, B_OFFSET]), dtype=dtype),
        np.empty((n_blocks, n_params), dtype=dtype),
        np.empty(n_blocks, dtype=np.float64),
        np.empty(param_chunks(n_params), dtype=np.float64),
        np.empty(n_params, dtype=dtype),
        *_dropout_buffers(dropout, m),
    )


def _dropout_buffers(dropout, m):
    """(drop_rates, drop_key, row_ids) of a training workspace."""
    if dropout is None:
        return _NO_DROPOUT
    rates, seed = dropout
    return (
        np.ascontiguousarray(rates, dtype=np.float64),
        np.array([seed, 0], dtype=np.uint64),
        np.empty(m, dtype=np.int64),
    )


def no_optimizer(dtype):
    """The Optimizer of a plan that never steps (L-BFGS, the low-level API)."""
    empty = np.empty(0, dtype=dtype)
    return Optimizer(SGD, np.zeros(6), empty, empty, np.zeros(1, dtype=np.int64))


def make_plan(source, Y, sw, network, n_rows, threaded, optimizer=None, dropout=None):
    """The Plan of loss / gradient / training calls over up to ``n_rows``
    rows per call (a batch, or every row for a full-batch objective);
    ``dropout`` as ``training_workspace`` takes it."""
    dtype = network.theta.dtype
    if dropout is not None and not np.any(np.asarray(dropout[0]) > 0):
        dropout = None  # every rate 0: no dropout buffers, no masks
    work = training_workspace(
        n_rows,
        source.X.shape[1],
        Y.shape[1],
        network.layout,
        dtype,
        _keeps_pre_activations(network, dropout is not None),
        dropout,
    )
    if optimizer is None:
        optimizer = no_optimizer(dtype)
    return Plan(source, Y, sw, network, work, optimizer, bool(threaded))
