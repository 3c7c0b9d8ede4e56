"""Forward pass, backward deltas and gradient accumulation over row blocks.

This is the only module with parallel loops (``for_each_block`` over a wave's
row blocks, ``for_each_chunk`` over parameter chunks); each runs one
per-index helper (``block_task``, ``chunk_task``) in parallel or in order.  A
set of rows (a minibatch, or all rows for a full-batch pass) is processed in
*waves* of at most ``wave_rows(layout)`` rows; a wave is cut into equal row
blocks (``block_plan``), each writing its own partial loss and gradient; the
partials are then added in block order.  Block boundaries depend only on the
number of rows, so every sum is bit-identical with 1 or N threads.

Kernels take the plan's named parts (``_plan``): ``source``, ``network``,
``work`` (the Workspace), ``optimizer``.  Buffers, for m rows in the wave and
sizes = [n_features, *fan_outs]:

* ``work.acts`` / ``work.deltas``: flat; layer l's (m, fan_out_l) activation
  and dL/dz are C-contiguous views at offset m * sum(fan_out_j, j < l).
  ``work.pre_acts``, laid out the same way, keeps Z_l for the hidden layers
  whose activation ``needs_pre_activation`` (GELU, SiLU) when training, and
  for the other hidden layers with dropout their activations before it (for
  f'); it is empty otherwise.
* ``work.drop_rates``, ``drop_key``, ``row_ids`` (``_dropout``): with dropout, a hidden layer's
  activations are masked and scaled after f, A_l = f_l(Z_l) * m_l / (1 - p_l),
  and its deltas get the same factor: delta_l = (delta_{l+1} W^T) *
  f'(Z_l) * m_l / (1 - p_l).
* ``work.block_grads`` (n_blocks, n_params) and ``work.block_loss``
  (n_blocks,): per-block partial sums of A_prev^T delta / column sums of
  delta, and of w_i l(y_i, a_i).
* ``work.weights_t`` (n_weights,): for the layers chosen by
  ``uses_transposed_copy``, W_l^T as a C-contiguous (fan_out, fan_in) matrix
  at W_l's offset.

With Z_l = A_{l-1} W_l + b_l and A_l = f_l(Z_l) (A_{-1} = X), back-propagation
is  delta_L = w_i dl/dz_L  and  delta_{l-1} = (delta_l W_l^T) * f'(Z_{l-1});
then dL/dW_l = (A_{l-1}^T delta_l + alpha W_l) / S and dL/db_l = sum_i delta_l / S.

Compile time: a kernel that calls another links a copy of the callee's
machine code, so thin layers between the entry points and the leaves are
``inline="always"`` (``wave_partials``, ``batch_step``,
``loss_and_grad_into``); constants passed to kernels are typed np.int64 /
np.bool_, since a literal argument compiles a separate specialisation.
"""

import numpy as np
from numba import prange

from fastbp._activations import (
    add_bias_into,
    bias_activate_inplace,
    multiply_derivative_inplace,
    needs_pre_activation,
)
from fastbp._config import (
    FEW_COLUMNS,
    MAX_BLOCK_ROWS,
    MIN_BLOCK_ROWS,
    MIN_BLOCK_WORK,
    TRANSPOSED_COPY_MAX_FAN_OUT,
    WAVE_BLOCKS,
    jit,
)
from fastbp._dropout import apply_dropout_inplace
from fastbp._losses import weighted_loss_and_delta_into
from fastbp._optimizers import next_step, step_range
from fastbp._params import (
    B_OFFSET,
    FAN_IN,
    FAN_OUT,
    W_OFFSET,
    chunk_range,
    param_chunks,
)


@jit
def multiply_adds_per_row(layout):
    """sum_l fan_in_l * fan_out_l: one row's multiply-adds in a forward pass."""
    total = 0
    for layer in range(layout.shape[0]):
        total += layout[layer, FAN_IN] * layout[layer, FAN_OUT]
    return total


@jit
def target_block_rows(layout):
    """Rows per block: enough work per block to pay for its fixed costs."""
    rows = max(MIN_BLOCK_ROWS, MIN_BLOCK_WORK // max(1, multiply_adds_per_row(layout)))
    return min(rows, MAX_BLOCK_ROWS)


@jit
def wave_rows(layout):
    """Most rows per wave: WAVE_BLOCKS blocks of the target size."""
    return WAVE_BLOCKS * target_block_rows(layout)


@jit
def block_plan(n_rows, layout):
    """(n_blocks, rows_per_block): ceil(n / target) blocks of equal size."""
    target = target_block_rows(layout)
    n_blocks = max(1, (n_rows + target - 1) // target)
    return n_blocks, (n_rows + n_blocks - 1) // n_blocks


@jit
def layer_view(buffer, layout, layer, n_rows):
    """The (n_rows, fan_out) C-contiguous view of ``layer`` inside a flat buffer."""
    offset = 0
    for j in range(layer):
        offset += layout[j, FAN_OUT]
    fan_out = layout[layer, FAN_OUT]
    start = n_rows * offset
    return buffer[start : start + n_rows * fan_out].reshape((n_rows, fan_out))


@jit
def weight_view(theta, layout, layer):
    """Layer ``layer``'s (fan_in, fan_out) weight matrix as a view of theta."""
    fan_in, fan_out = layout[layer, FAN_IN], layout[layer, FAN_OUT]
    start = layout[layer, W_OFFSET]
    return theta[start : start + fan_in * fan_out].reshape((fan_in, fan_out))


@jit
def bias_view(theta, layout, layer):
    start = layout[layer, B_OFFSET]
    return theta[start : start + layout[layer, FAN_OUT]]


@jit
def uses_transposed_copy(layout, layer):
    """Whether back-propagation through ``layer`` reads a copy of W^T (a
    narrow layer above the first one; see TRANSPOSED_COPY_MAX_FAN_OUT).  With
    one unit, W (fan_in, 1) already has W^T's memory layout: no copy."""
    return layer > 0 and 1 < layout[layer, FAN_OUT] <= TRANSPOSED_COPY_MAX_FAN_OUT


@jit
def transposed_weight_view(weights_t, layout, layer):
    """Layer ``layer``'s (fan_out, fan_in) W^T, stored at W's offset in
    ``weights_t``."""
    shape = (layout[layer, FAN_OUT], layout[layer, FAN_IN])
    return weight_view(weights_t, layout, layer).reshape(shape)


@jit
def transpose_weights_into(theta, layout, weights_t):
    """Refresh W^T for every layer that ``uses_transposed_copy``.

    Writes: those layers' views of weights_t.
    """
    for layer in range(layout.shape[0]):
        if uses_transposed_copy(layout, layer):
            W = weight_view(theta, layout, layer)
            WT = transposed_weight_view(weights_t, layout, layer)
            for k in range(W.shape[0]):
                for j in range(W.shape[1]):
                    WT[j, k] = W[k, j]


@jit
def forward_rows(X_rows, network, work, n_rows, r0):
    """Forward pass for the rows r0 : r0 + len(X_rows) of a wave of n_rows.

    A_l = f_l(Z_l), Z_l = A_{l-1} W_l + b_l, with f_l = network.act_codes[l]
    for hidden layers and network.out_code for the last one.  When
    work.pre_acts is not empty, Z_l is kept there for the layers whose f_l
    ``needs_pre_activation``.  With dropout on hidden layer l, A_l is then
    masked and scaled (``apply_dropout_inplace``), its unmasked values kept
    in pre_acts unless Z_l is.
    Writes: rows r0.. of every layer view of work.acts (and work.pre_acts).
    """
    theta, layout = network.theta, network.layout
    r1 = r0 + X_rows.shape[0]
    last = layout.shape[0] - 1
    A_prev = X_rows
    for layer in range(last + 1):
        A = layer_view(work.acts, layout, layer, n_rows)[r0:r1]
        np.dot(A_prev, weight_view(theta, layout, layer), A)
        code = network.out_code if layer == last else network.act_codes[layer]
        b = bias_view(theta, layout, layer)
        keeps_z = work.pre_acts.shape[0] > 0 and needs_pre_activation(code)
        if keeps_z:
            add_bias_into(A, b, layer_view(work.pre_acts, layout, layer, n_rows)[r0:r1])
        bias_activate_inplace(A, b, code)
        if layer < last and drops(work, layer):
            if not keeps_z:
                copy_into(A, layer_view(work.pre_acts, layout, layer, n_rows)[r0:r1])
            apply_dropout_inplace(
                A, work.row_ids[r0:r1], work.drop_key, layer, work.drop_rates[layer]
            )
        A_prev = A


@jit(inline="always")
def drops(work, layer):
    """Whether hidden layer ``layer`` has dropout in this workspace."""
    return work.drop_rates.shape[0] > 0 and work.drop_rates[layer] > 0


@jit
def copy_into(A, out):
    """out = A for (m, n) C-contiguous arrays (an element loop: a slice
    assignment would compile Numba's shape-mismatch message).  Writes: out."""
    a_flat, out_flat = A.reshape(A.size), out.reshape(out.size)
    for q in range(a_flat.shape[0]):
        out_flat[q] = a_flat[q]


@jit
def column_sums_into(D, out):
    """out[j] = sum_i D[i, j].  Writes: out (n,).

    Fewer than FEW_COLUMNS columns: four running sums per column (rows
    i = 0, 1, 2, 3 mod 4, combined as (s0 + s1) + (s2 + s3)), kept in
    registers: one chain of dependent additions would wait on the adder's
    latency at every row.  Many columns: rows are added to out in turn, a
    vectorised loop over columns.
    """
    m, n = D.shape
    if n < FEW_COLUMNS:
        zero = D.dtype.type(0)
        m4 = m - m % 4
        for j in range(n):
            s0 = s1 = s2 = s3 = zero
            for i in range(0, m4, 4):
                s0 += D[i, j]
                s1 += D[i + 1, j]
                s2 += D[i + 2, j]
                s3 += D[i + 3, j]
            for i in range(m4, m):
                s0 += D[i, j]
            out[j] = (s0 + s1) + (s2 + s3)
    else:
        out[:] = 0
        for i in range(m):
            for j in range(n):
                out[j] += D[i, j]


@jit
def backward_rows(X_rows, Y_rows, sw_rows, network, work, n_rows, r0, grad_out):
    """Loss, deltas and gradient partial sums for rows r0 : r0 + len(X_rows)
    of a wave of n_rows.

    Assumes ``forward_rows`` filled the same rows of work.acts (and
    work.pre_acts) and ``transpose_weights_into`` refreshed work.weights_t.
    delta_L row i is w_i * dl/dz_L (w_i = 1 without weights); then
    delta_{l-1} = (delta_l W_l^T) * f'(Z_{l-1}) (from A_{l-1}, or from what
    work.pre_acts keeps: Z_{l-1} for the activations that need it, A_{l-1}
    before dropout), times the dropout factor m / (1 - p) of layer l-1 if any.
    grad_out receives A_{l-1}^T delta_l at each W_l offset (A_{l-1} after
    dropout) and sum_i delta_l at each b_l offset (no alpha term, no 1/S).
    Writes: rows r0.. of work.deltas' layer views, grad_out (n_params,).
    Returns sum_i w_i l(y_i, a_i) over these rows, in float64.
    """
    theta, layout = network.theta, network.layout
    acts, deltas = work.acts, work.deltas
    r1 = r0 + X_rows.shape[0]
    last = layout.shape[0] - 1
    A_out = layer_view(acts, layout, last, n_rows)[r0:r1]
    D = layer_view(deltas, layout, last, n_rows)[r0:r1]
    loss = weighted_loss_and_delta_into(
        Y_rows,
        A_out,
        sw_rows,
        network.out_code,
        network.loss_code,
        network.loss_param,
        D,
    )
    for layer in range(last, -1, -1):
        A_prev = (
            X_rows if layer == 0 else layer_view(acts, layout, layer - 1, n_rows)[r0:r1]
        )
        np.dot(A_prev.T, D, weight_view(grad_out, layout, layer))
        column_sums_into(D, bias_view(grad_out, layout, layer))
        if layer > 0:
            D_prev = layer_view(deltas, layout, layer - 1, n_rows)[r0:r1]
            if uses_transposed_copy(layout, layer):
                np.dot(D, transposed_weight_view(work.weights_t, layout, layer), D_prev)
            elif layout[layer, FAN_OUT] == 1:  # W^T is W's memory, reshaped
                W_t = weight_view(theta, layout, layer).reshape((1, D_prev.shape[1]))
                np.dot(D, W_t, D_prev)
            else:
                np.dot(D, weight_view(theta, layout, layer).T, D_prev)
            code = network.act_codes[layer - 1]
            # f' reads the activations before dropout (A_prev itself, or
            # pre_acts for a layer with dropout) and, for GELU / SiLU, Z (kept
            # in pre_acts; with dropout their unmasked activations are not
            # kept, and f' comes from Z alone).
            dropped = drops(work, layer - 1)
            A_f = Z_prev = A_prev
            if needs_pre_activation(code):
                Z_prev = layer_view(work.pre_acts, layout, layer - 1, n_rows)[r0:r1]
                if dropped:
                    A_f = A_prev[:0]
            elif dropped:
                A_f = layer_view(work.pre_acts, layout, layer - 1, n_rows)[r0:r1]
            multiply_derivative_inplace(D_prev, A_f, Z_prev, code)
            if dropped:
                apply_dropout_inplace(
                    D_prev,
                    work.row_ids[r0:r1],
                    work.drop_key,
                    layer - 1,
                    work.drop_rates[layer - 1],
                )
            D = D_prev
    return loss


@jit
def block_task(blk, rows_per_block, X, Y, sw, network, work, backward):
    """Row block ``blk`` of a wave X (m, n_features): the forward pass of its
    rows and, when ``backward``, their loss and gradient partial sums.

    Writes: the block's rows of work.acts (and work.deltas), and when
    ``backward`` work.block_grads[blk], work.block_loss[blk].
    """
    n_rows = X.shape[0]
    r0 = blk * rows_per_block
    r1 = min(r0 + rows_per_block, n_rows)
    forward_rows(X[r0:r1], network, work, n_rows, r0)
    if backward:
        sw_rows = sw[r0:r1] if sw.shape[0] > 0 else sw
        work.block_loss[blk] = backward_rows(
            X[r0:r1],
            Y[r0:r1],
            sw_rows,
            network,
            work,
            n_rows,
            r0,
            work.block_grads[blk],
        )


@jit(parallel=True)
def for_each_block(X, Y, sw, network, work, backward, threaded):
    """``block_task`` for every row block of the wave X (``block_plan``), in
    parallel when ``threaded``.  Blocks write disjoint rows of acts/deltas and
    their own row of block_grads, hence race-free.  Returns n_blocks.
    """
    n_blocks, rows_per_block = block_plan(X.shape[0], network.layout)
    if threaded and n_blocks > 1:
        for b in prange(n_blocks):
            # prange counts in uint64; keep one signature of block_task.
            block_task(np.int64(b), rows_per_block, X, Y, sw, network, work, backward)
    else:
        for blk in range(n_blocks):
            block_task(blk, rows_per_block, X, Y, sw, network, work, backward)
    return n_blocks


@jit(fastmath={"reassoc"})
def sum_of_squares(values):
    """sum_i values[i]^2, accumulated in float64.

    Reassociation lets the compiler keep several vector partial sums (4x
    faster than one chain of dependent additions; BLAS's dot costs more on
    tiny layers).  The order depends only on len(values) and the machine's
    vector width, never on the thread count.
    """
    total = 0.0
    for q in range(values.shape[0]):
        x = np.float64(values[q])
        total += x * x
    return total


@jit
def add_blocks_range(block_grads, n_blocks, out, overwrite, start, stop):
    """out[p - start] = (0 if overwrite else out[p - start]) + sum_blk
    block_grads[blk, p], in block order, for start <= p < stop.  Loops run
    block by block over contiguous parameters, so they vectorise.
    Writes: out (stop - start,)."""
    first = 0
    if overwrite:
        # Element loops, not ``out[:] = ...``: an array-to-slice assignment
        # compiles Numba's shape-mismatch message formatting into every
        # kernel that links this one (~0.3 MB of LLVM IR each).
        partial = block_grads[0, start:stop]
        for q in range(out.shape[0]):
            out[q] = partial[q]
        first = 1
    for blk in range(first, n_blocks):
        # Loops over views from 0: an index Numba cannot prove non-negative
        # gets a wrap-around test per element, which blocks vectorisation
        # (a runtime ``start`` made this pass 5x slower).
        partial = block_grads[blk, start:stop]
        for q in range(out.shape[0]):
            out[q] += partial[q]


@jit
def finish_gradient_range(block_grads, n_blocks, network, out, accumulate, S, start):
    """Complete the gradient on parameters start <= p < start + len(out), into
    out (the range's gradient: grad[start:stop], or a scratch of that length).

    g = (out if accumulate else 0) + sum_blk block_grads[blk]; then
    out = (g + alpha W) / S on weights (p < n_weights), g / S on intercepts
    (as multiplications by 1 / S).
    Writes: out.  Returns sum(W^2) over the range as a float64.
    """
    theta = network.theta
    stop = start + out.shape[0]
    # One division, then multiplications: a division per parameter was the
    # costliest part of the pass (differs from g / S by at most one ulp).
    inv_S = theta.dtype.type(1) / S
    a = theta.dtype.type(network.alpha)
    n_weights = network.layout[0, B_OFFSET]
    n_w = max(0, min(stop, n_weights) - start)  # weights among the range
    w = theta[start:stop]
    if n_blocks == 1 and not accumulate:
        # One row block (every batch of up to MIN_BLOCK_ROWS rows): read the
        # block's sums directly instead of copying them first (same bits).
        g = block_grads[0, start:stop]
        for q in range(n_w):
            out[q] = (g[q] + a * w[q]) * inv_S
        for q in range(n_w, out.shape[0]):
            out[q] = g[q] * inv_S
    else:
        add_blocks_range(block_grads, n_blocks, out, not accumulate, start, stop)
        for q in range(n_w):
            out[q] = (out[q] + a * w[q]) * inv_S
        for q in range(n_w, out.shape[0]):
            out[q] *= inv_S
    return sum_of_squares(w[:n_w])


# What ``chunk_task`` does with one parameter chunk (see its docstring).
COPY_BLOCKS, ADD_BLOCKS, FINISH, FINISH_ACCUMULATED, FINISH_AND_STEP, STEP = range(6)


@jit
def chunk_task(chunk, mode, n_blocks, S, network, work, optimizer, t):
    """One PARAM_CHUNK-sized chunk of the parameters, by ``mode``:

    * COPY_BLOCKS / ADD_BLOCKS: grad = / += the wave's block sums (the first
      and the later waves of a multi-wave pass);
    * FINISH / FINISH_ACCUMULATED: grad = ((grad +) blocks + alpha W) / S
      (``finish_gradient_range``);
    * FINISH_AND_STEP: FINISH into a chunk-sized scratch that stays in cache,
      then one optimizer update of the chunk (Adam at step t);
    * STEP: one optimizer update from grad.

    Writes: grad's chunk (COPY/ADD/FINISH modes), theta's chunk and the
    optimizer state's (FINISH_AND_STEP, STEP).  Returns the chunk's sum(W^2)
    before any update (FINISH modes), else 0.
    """
    theta, block_grads = network.theta, work.block_grads
    start, stop = chunk_range(chunk, theta.shape[0])
    if mode == COPY_BLOCKS or mode == ADD_BLOCKS:
        grad = work.grad[start:stop]
        add_blocks_range(
            block_grads, n_blocks, grad, np.bool_(mode == COPY_BLOCKS), start, stop
        )
        return 0.0
    if mode == STEP:
        step_range(optimizer, theta, work.grad[start:stop], t, start)
        return 0.0
    if mode == FINISH_AND_STEP:
        # The allocator hands the same block back chunk after chunk, so the
        # update needs no full-size gradient written back to memory.
        chunk_grad = np.empty(stop - start, dtype=theta.dtype)
        penalty = finish_gradient_range(
            block_grads, n_blocks, network, chunk_grad, np.bool_(False), S, start
        )
        step_range(optimizer, theta, chunk_grad, t, start)
        return penalty
    return finish_gradient_range(
        block_grads,
        n_blocks,
        network,
        work.grad[start:stop],
        mode == FINISH_ACCUMULATED,
        S,
        start,
    )


@jit(parallel=True)
def for_each_chunk(mode, n_blocks, S, network, work, optimizer, threaded):
    """``chunk_task`` on every parameter chunk, in parallel when ``threaded``
    (each chunk is independent: race-free, same bits).  The stepping modes
    first advance Adam's step counter.

    Returns sum(W^2) for the FINISH modes: chunk sums in float64, added in
    chunk order, so the same bits for any thread count.
    Writes: see ``chunk_task``, and work.chunk_sums.
    """
    t = 0
    if mode == FINISH_AND_STEP or mode == STEP:
        t = next_step(optimizer)
    n_chunks = param_chunks(network.theta.shape[0])
    chunk_sums = work.chunk_sums
    if threaded and n_chunks > 1:
        for c in prange(n_chunks):
            chunk_sums[c] = chunk_task(
                np.int64(c), mode, n_blocks, S, network, work, optimizer, t
            )
    else:
        for c in range(n_chunks):
            chunk_sums[c] = chunk_task(
                c, mode, n_blocks, S, network, work, optimizer, t
            )
    penalty = 0.0
    for c in range(n_chunks):
        penalty += chunk_sums[c]
    return penalty


@jit
def gather_dense_rows_into(X, rows, X_out):
    """X_out[i, :] = X[rows[i], :].  Writes: X_out (len(rows), X.shape[1]).

    Fewer than FEW_COLUMNS columns are copied column by column.
    """
    n = X.shape[1]
    if n < FEW_COLUMNS:
        for j in range(n):
            for i in range(rows.shape[0]):
                X_out[i, j] = X[rows[i], j]
    else:
        for i in range(rows.shape[0]):
            r = rows[i]
            for j in range(n):
                X_out[i, j] = X[r, j]


@jit
def gather_rows_into(source, rows, X_out):
    """X_out[i] = source row rows[i] (dense copy, or CSR scatter into zeros).

    Writes: X_out (len(rows), n_features).
    """
    if source.indptr.shape[0] == 0:
        gather_dense_rows_into(source.X, rows, X_out)
    else:
        data, indices, indptr = source.data, source.indices, source.indptr
        X_out[:] = 0
        for i in range(rows.shape[0]):
            r = rows[i]
            for k in range(indptr[r], indptr[r + 1]):
                X_out[i, indices[k]] = data[k]


@jit(inline="always")
def wave_partials(plan, wave_idx):
    """Gather the rows ``wave_idx`` (at most one wave) and compute every row
    block's partial loss and gradient.

    Writes: plan.work (X_buf, Y_buf, sw_buf, acts, pre_acts, deltas,
    weights_t, block_grads, block_loss, row_ids).  Returns (sum_i w_i l_i in float64, sum_i w_i,
    n_blocks); the weight sum is 0 without sample weights.
    """
    work, network, sw = plan.work, plan.network, plan.sw
    weighted = sw.shape[0] > 0
    m = wave_idx.shape[0]
    X_w = work.X_buf[:m]
    gather_rows_into(plan.source, wave_idx, X_w)
    Y_w = work.Y_buf[:m]
    gather_dense_rows_into(plan.Y, wave_idx, Y_w)
    sw_w = work.sw_buf[:m] if weighted else work.sw_buf[:0]
    if work.drop_rates.shape[0] > 0:
        row_ids = work.row_ids
        for i in range(m):
            row_ids[i] = wave_idx[i]
    weight_sum = network.theta.dtype.type(0)
    if weighted:
        for i in range(m):
            sw_w[i] = sw[wave_idx[i]]
            weight_sum += sw_w[i]
    transpose_weights_into(network.theta, network.layout, work.weights_t)
    n_blocks = for_each_block(
        X_w, Y_w, sw_w, network, work, np.bool_(True), plan.threaded
    )
    loss_sum = 0.0
    for blk in range(n_blocks):
        loss_sum += work.block_loss[blk]
    return loss_sum, weight_sum, n_blocks


@jit(inline="always")
def loss_and_grad_into(plan, rows):
    """Regularised loss over the rows ``rows`` of the data, and its gradient.

    L = (sum_i w_i l(y_i, a_i) + alpha/2 sum ||W||^2) / S, with S = sum_i w_i
    (or the number of rows without weights); grad = dL/dtheta in theta's
    layout.  Rows are processed in waves of ``wave_rows`` rows; the block sums
    of every wave but the last are added into grad, the last one's while the
    gradient is finished.
    Writes: plan.work (grad included).  Returns (L as float64, S).
    """
    network, work = plan.network, plan.work
    n = rows.shape[0]
    loss_sum = 0.0
    S = network.theta.dtype.type(0)
    step = wave_rows(network.layout)
    n_waves = max(1, (n + step - 1) // step)
    n_blocks = np.int64(0)
    for wave in range(n_waves):
        wave_idx = rows[wave * step : min((wave + 1) * step, n)]
        wave_loss, wave_weight, n_blocks = wave_partials(plan, wave_idx)
        loss_sum += wave_loss
        S += wave_weight
        if wave < n_waves - 1:
            mode = np.int64(COPY_BLOCKS if wave == 0 else ADD_BLOCKS)
            for_each_chunk(
                mode, n_blocks, S, network, work, plan.optimizer, plan.threaded
            )
    if plan.sw.shape[0] == 0:
        S = network.theta.dtype.type(n)
    mode = np.int64(FINISH_ACCUMULATED if n_waves > 1 else FINISH)
    penalty = for_each_chunk(
        mode, n_blocks, S, network, work, plan.optimizer, plan.threaded
    )
    return (loss_sum + 0.5 * network.alpha * penalty) / S, S


@jit(inline="always")
def batch_step(plan, rows):
    """One minibatch: loss and gradient at the current theta over ``rows``,
    then one optimizer update of theta in place (fused with the gradient's
    last pass when the batch fits in one wave).

    Writes: theta, the optimizer state, plan.work.  Returns (L, S); S == 0
    (all sample weights zero) means no update was made.
    """
    network = plan.network
    n = rows.shape[0]
    if n > wave_rows(network.layout):
        loss, S = loss_and_grad_into(plan, rows)
        if S != 0:
            for_each_chunk(
                np.int64(STEP),
                np.int64(0),
                S,
                network,
                plan.work,
                plan.optimizer,
                plan.threaded,
            )
        return loss, S
    loss_sum, S, n_blocks = wave_partials(plan, rows)
    if plan.sw.shape[0] == 0:
        S = network.theta.dtype.type(n)
    if S == 0:
        return np.nan, S
    penalty = for_each_chunk(
        np.int64(FINISH_AND_STEP),
        n_blocks,
        S,
        network,
        plan.work,
        plan.optimizer,
        plan.threaded,
    )
    return (loss_sum + 0.5 * network.alpha * penalty) / S, S


@jit
def forward_into(source, network, work, out, threaded):
    """Network output for every row of the data, computed wave by wave.

    work is a Workspace whose X_buf and acts hold at least one wave (the
    other buffers may be empty: only the forward pass runs).
    Writes: work.X_buf, work.acts (scratch), out (n_samples, n_outputs).
    """
    indptr = source.indptr
    n = source.X.shape[0] if indptr.shape[0] == 0 else indptr.shape[0] - 1
    layout = network.layout
    last = layout.shape[0] - 1
    step = wave_rows(layout)
    for start in range(0, n, step):
        stop = min(start + step, n)
        m = stop - start
        X_w = work.X_buf[:m]
        gather_rows_into(source, np.arange(start, stop), X_w)
        for_each_block(
            X_w, X_w, work.sw_buf[:0], network, work, np.bool_(False), threaded
        )
        A_out = layer_view(work.acts, layout, last, m)
        for i in range(m):
            for k in range(A_out.shape[1]):
                out[start + i, k] = A_out[i, k]
