"""Forward pass, backward deltas and gradient accumulation over row blocks.

This is the only module with parallel loops over rows.  A set of rows (a
minibatch, or all rows for a full-batch pass) is processed in *waves* of at
most ``wave_rows(layout)`` rows; a wave is cut into equal row blocks
(``block_plan``) that run in parallel, each writing its own partial loss and
gradient; the partials are then added in block order.  Block boundaries depend
only on the number of rows, so every sum is bit-identical with 1 or N threads.

Shapes and buffers (m = rows in the wave, sizes = [n_features, *fan_outs]):

* ``source = (X, data, indices, indptr)``: dense X (n_samples, n_features) when
  ``indptr`` is empty, else a CSR matrix (X is then an empty placeholder).
* ``acts`` / ``deltas``: flat buffers; layer l's (m, fan_out_l) activation and
  dL/dz are C-contiguous views at offset m * sum(fan_out_j, j < l).
* ``block_grads`` (WAVE_BLOCKS, n_params) and ``block_loss`` (WAVE_BLOCKS,):
  per-block partial sums of  A_prev^T delta / column sums of delta  and of
  w_i l(y_i, a_i).
* ``weights_t`` (n_weights,): for the layers chosen by ``uses_transposed_copy``,
  W_l^T as a C-contiguous (fan_out, fan_in) matrix at W_l's offset.

With Z_l = A_{l-1} W_l + b_l and A_l = f_l(Z_l) (A_{-1} = X), back-propagation
is  delta_L = w_i dl/dz_L  and  delta_{l-1} = (delta_l W_l^T) * f'(A_{l-1});
then dL/dW_l = (A_{l-1}^T delta_l + alpha W_l) / S and dL/db_l = sum_i delta_l / S.
"""

import numpy as np
from numba import prange

from fastbp._activations import bias_activate_inplace, multiply_derivative_inplace
from fastbp._config import (
    FEW_COLUMNS,
    MAX_BLOCK_ROWS,
    MIN_BLOCK_ROWS,
    MIN_BLOCK_WORK,
    TRANSPOSED_COPY_MAX_FAN_OUT,
    WAVE_BLOCKS,
    jit,
)
from fastbp._losses import weighted_loss_and_delta_into
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
def forward_rows(X_rows, theta, layout, act_code, out_code, acts, n_rows, r0):
    """Forward pass for the rows r0 : r0 + len(X_rows) of a wave of n_rows.

    A_l = f_l(A_{l-1} W_l + b_l), with f = act_code for hidden layers and
    out_code for the last one.  Writes: rows r0.. of every layer view of acts.
    """
    r1 = r0 + X_rows.shape[0]
    n_layers = layout.shape[0]
    A_prev = X_rows
    for layer in range(n_layers):
        A = layer_view(acts, layout, layer, n_rows)[r0:r1]
        np.dot(A_prev, weight_view(theta, layout, layer), A)
        code = out_code if layer == n_layers - 1 else act_code
        bias_activate_inplace(A, bias_view(theta, layout, layer), code)
        A_prev = A


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
def backward_rows(X_rows, Y_rows, sw_rows, theta, layout, codes, work, r0, grad_out):
    """Loss, deltas and gradient partial sums for rows r0 : r0 + len(X_rows).

    Assumes ``forward_rows`` filled the same rows of ``acts`` and
    ``transpose_weights_into`` refreshed weights_t.  delta_L row i is
    w_i * dl/dz_L (w_i = 1 without weights); then delta_{l-1} = (delta_l W_l^T)
    * f'(A_{l-1}).  grad_out receives A_{l-1}^T delta_l at each W_l offset and
    sum_i delta_l at each b_l offset (no alpha term, no 1/S).
    work = (acts, deltas, weights_t, n_rows of the wave).
    Writes: rows r0.. of deltas' layer views, grad_out (n_params,).
    Returns sum_i w_i l(y_i, a_i) over these rows, in float64.
    """
    act_code, out_code, loss_code = codes
    acts, deltas, weights_t, n_rows = work
    r1 = r0 + X_rows.shape[0]
    last = layout.shape[0] - 1
    A_out = layer_view(acts, layout, last, n_rows)[r0:r1]
    D = layer_view(deltas, layout, last, n_rows)[r0:r1]
    loss = weighted_loss_and_delta_into(Y_rows, A_out, sw_rows, out_code, loss_code, D)
    for layer in range(last, -1, -1):
        A_prev = (
            X_rows if layer == 0 else layer_view(acts, layout, layer - 1, n_rows)[r0:r1]
        )
        np.dot(A_prev.T, D, weight_view(grad_out, layout, layer))
        column_sums_into(D, bias_view(grad_out, layout, layer))
        if layer > 0:
            D_prev = layer_view(deltas, layout, layer - 1, n_rows)[r0:r1]
            if uses_transposed_copy(layout, layer):
                np.dot(D, transposed_weight_view(weights_t, layout, layer), D_prev)
            elif layout[layer, FAN_OUT] == 1:  # W^T is W's memory, reshaped
                W_t = weight_view(theta, layout, layer).reshape((1, D_prev.shape[1]))
                np.dot(D, W_t, D_prev)
            else:
                np.dot(D, weight_view(theta, layout, layer).T, D_prev)
            multiply_derivative_inplace(D_prev, A_prev, act_code)
            D = D_prev
    return loss


@jit
def _block_loss_and_grad(
    blk, rows_per_block, X, Y, sw, theta, layout, codes, work, block_grads, block_loss
):
    acts, _, _, n_rows = work
    r0 = blk * rows_per_block
    r1 = min(r0 + rows_per_block, n_rows)
    sw_rows = sw[r0:r1] if sw.shape[0] > 0 else sw
    forward_rows(X[r0:r1], theta, layout, codes[0], codes[1], acts, n_rows, r0)
    block_loss[blk] = backward_rows(
        X[r0:r1], Y[r0:r1], sw_rows, theta, layout, codes, work, r0, block_grads[blk]
    )


@jit(parallel=True)
def wave_loss_and_grad_into(
    X, Y, sw, theta, layout, codes, work, block_grads, block_loss, threaded
):
    """Forward + backward for one wave of rows, one row block per task.

    X (m, n_features), Y (m, n_outputs), sw (m,) or empty.  Blocks write
    disjoint rows of acts/deltas and their own row of block_grads, hence
    race-free.  ``threaded`` False runs the same blocks in order on this thread.
    Writes: acts, deltas, block_grads[:n_blocks], block_loss[:n_blocks].
    Returns n_blocks.
    """
    n_blocks, rows_per_block = block_plan(X.shape[0], layout)
    if threaded and n_blocks > 1:
        for b in prange(n_blocks):
            _block_loss_and_grad(
                np.int64(b),  # prange counts in uint64; keep one signature
                rows_per_block,
                X,
                Y,
                sw,
                theta,
                layout,
                codes,
                work,
                block_grads,
                block_loss,
            )
    else:
        for blk in range(n_blocks):
            _block_loss_and_grad(
                blk,
                rows_per_block,
                X,
                Y,
                sw,
                theta,
                layout,
                codes,
                work,
                block_grads,
                block_loss,
            )
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


@jit(inline="always")
def add_blocks_range(block_grads, n_blocks, out, overwrite, start, stop):
    """out[p - start] = (0 if overwrite else out[p - start]) + sum_blk
    block_grads[blk, p], in block order, for start <= p < stop.  Loops run
    block by block over contiguous parameters, so they vectorise.
    Writes: out (stop - start,)."""
    first = 0
    if overwrite:
        out[:] = block_grads[0, start:stop]
        first = 1
    for blk in range(first, n_blocks):
        # Loops over views from 0: an index Numba cannot prove non-negative
        # gets a wrap-around test per element, which blocks vectorisation
        # (a runtime ``start`` made this pass 5x slower).
        partial = block_grads[blk, start:stop]
        for q in range(out.shape[0]):
            out[q] += partial[q]


@jit(inline="always")
def finish_gradient_range(
    block_grads, n_blocks, theta, out, accumulate, n_weights, alpha, S, start, stop
):
    """Complete the gradient on parameters start <= p < stop, into out (the
    range's gradient: grad[start:stop], or a scratch of that length).

    g = (out if accumulate else 0) + sum_blk block_grads[blk]; then
    out = (g + alpha W) / S on weights (p < n_weights), g / S on intercepts
    (as multiplications by 1 / S).
    Writes: out (stop - start,).  Returns sum(W^2) over the range as a float64.
    """
    # One division, then multiplications: a division per parameter was the
    # costliest part of the pass (differs from g / S by at most one ulp).
    inv_S = theta.dtype.type(1) / S
    a = theta.dtype.type(alpha)
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


@jit(parallel=True)
def add_blocks_into(block_grads, n_blocks, acc, overwrite, threaded):
    """acc = (0 if overwrite else acc) + block_grads[0] + ... + block_grads[n-1].

    Each parameter's sum is taken in block order, independently of the others,
    so parameter chunks may run in parallel (race-free, same bits).
    Writes: acc (n_params,).
    """
    n_params = acc.shape[0]
    n_chunks = param_chunks(n_params)
    if threaded and n_chunks > 1:
        for c in prange(n_chunks):
            start, stop = chunk_range(c, n_params)
            out = acc[start:stop]
            add_blocks_range(block_grads, n_blocks, out, overwrite, start, stop)
    else:
        for c in range(n_chunks):
            start, stop = chunk_range(c, n_params)
            out = acc[start:stop]
            add_blocks_range(block_grads, n_blocks, out, overwrite, start, stop)


@jit(parallel=True)
def finish_gradient(
    block_grads,
    n_blocks,
    theta,
    grad,
    accumulate,
    n_weights,
    alpha,
    S,
    chunk_sums,
    threaded,
):
    """``finish_gradient_range`` over all parameters, chunks in parallel.

    Returns sum(W^2): summed per chunk in float64, then in chunk order, so the
    same bits for any thread count.  Writes: grad, chunk_sums (n_chunks,).
    """
    n_params = grad.shape[0]
    n_chunks = param_chunks(n_params)
    if threaded and n_chunks > 1:
        for c in prange(n_chunks):
            start, stop = chunk_range(c, n_params)
            chunk_sums[c] = finish_gradient_range(
                block_grads,
                n_blocks,
                theta,
                grad[start:stop],
                accumulate,
                n_weights,
                alpha,
                S,
                start,
                stop,
            )
    else:
        for c in range(n_chunks):
            start, stop = chunk_range(c, n_params)
            chunk_sums[c] = finish_gradient_range(
                block_grads,
                n_blocks,
                theta,
                grad[start:stop],
                accumulate,
                n_weights,
                alpha,
                S,
                start,
                stop,
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
    X, data, indices, indptr = source
    if indptr.shape[0] == 0:
        gather_dense_rows_into(X, rows, X_out)
    else:
        X_out[:] = 0
        for i in range(rows.shape[0]):
            r = rows[i]
            for k in range(indptr[r], indptr[r + 1]):
                X_out[i, indices[k]] = data[k]


@jit
def wave_partials(source, Y, sw, wave_idx, theta, layout, codes, buffers, threaded):
    """Gather the rows ``wave_idx`` (at most one wave) and compute every row
    block's partial loss and gradient.

    Writes: the buffers (X_buf, Y_buf, sw_buf, acts, deltas, block_grads,
    block_loss, weights_t).  Returns (sum_i w_i l_i in float64, sum_i w_i, n_blocks); the
    weight sum is 0 without sample weights.
    """
    X_buf, Y_buf, sw_buf, acts, deltas, block_grads, block_loss, _, weights_t = buffers
    weighted = sw.shape[0] > 0
    m = wave_idx.shape[0]
    X_w = X_buf[:m]
    gather_rows_into(source, wave_idx, X_w)
    Y_w = Y_buf[:m]
    gather_dense_rows_into(Y, wave_idx, Y_w)
    sw_w = sw_buf[:m] if weighted else sw_buf[:0]
    weight_sum = theta.dtype.type(0)
    if weighted:
        for i in range(m):
            sw_w[i] = sw[wave_idx[i]]
            weight_sum += sw_w[i]
    transpose_weights_into(theta, layout, weights_t)
    n_blocks = wave_loss_and_grad_into(
        X_w,
        Y_w,
        sw_w,
        theta,
        layout,
        codes,
        (acts, deltas, weights_t, m),
        block_grads,
        block_loss,
        threaded,
    )
    loss_sum = 0.0
    for blk in range(n_blocks):
        loss_sum += block_loss[blk]
    return loss_sum, weight_sum, n_blocks


@jit
def loss_and_grad_into(
    source, Y, sw, rows, theta, layout, codes, alpha, buffers, grad, threaded
):
    """Regularised loss over the rows ``rows`` of the data, and its gradient.

    L = (sum_i w_i l(y_i, a_i) + alpha/2 sum ||W||^2) / S, with S = sum_i w_i
    (or the number of rows without weights); grad = dL/dtheta in theta's layout.
    buffers = (X_buf, Y_buf, sw_buf, acts, deltas, block_grads, block_loss,
    chunk_sums, weights_t), sized for min(len(rows), wave_rows(layout)) rows; ``threaded``
    allows parallel blocks and parameter chunks.
    Writes: buffers, grad (n_params,).  Returns (L as float64, S).
    """
    block_grads, chunk_sums = buffers[5], buffers[7]
    n = rows.shape[0]
    loss_sum = 0.0
    S = theta.dtype.type(0)
    step = wave_rows(layout)
    n_waves = max(1, (n + step - 1) // step)
    for wave in range(n_waves):
        wave_idx = rows[wave * step : min((wave + 1) * step, n)]
        wave_loss, wave_weight, n_blocks = wave_partials(
            source, Y, sw, wave_idx, theta, layout, codes, buffers, threaded
        )
        loss_sum += wave_loss
        S += wave_weight
        if wave < n_waves - 1:
            add_blocks_into(block_grads, n_blocks, grad, wave == 0, threaded)
    if sw.shape[0] == 0:
        S = theta.dtype.type(n)
    penalty = finish_gradient(
        block_grads,
        n_blocks,
        theta,
        grad,
        n_waves > 1,
        layout[0, B_OFFSET],
        alpha,
        S,
        chunk_sums,
        threaded,
    )
    return (loss_sum + 0.5 * alpha * penalty) / S, S


@jit
def forward_into(source, theta, layout, codes, X_buf, acts, out, threaded):
    """Network output for every row of the data, computed wave by wave.

    Writes: X_buf, acts (scratch), out (n_samples, n_outputs).
    """
    X, _, _, indptr = source
    n = X.shape[0] if indptr.shape[0] == 0 else indptr.shape[0] - 1
    last = layout.shape[0] - 1
    rows = np.arange(n)
    step = wave_rows(layout)
    for start in range(0, n, step):
        stop = min(start + step, n)
        m = stop - start
        X_w = X_buf[:m]
        gather_rows_into(source, rows[start:stop], X_w)
        forward_wave(X_w, theta, layout, codes[0], codes[1], acts, threaded)
        out[start:stop] = layer_view(acts, layout, last, m)


@jit(parallel=True)
def forward_wave(X, theta, layout, act_code, out_code, acts, threaded):
    """Forward pass of one wave X (m, n_features), row blocks in parallel.

    Writes: every layer view of acts for m rows.
    """
    m = X.shape[0]
    n_blocks, rows_per_block = block_plan(m, layout)
    if threaded and n_blocks > 1:
        for b in prange(n_blocks):
            r0 = np.int64(b) * rows_per_block
            r1 = min(r0 + rows_per_block, m)
            forward_rows(X[r0:r1], theta, layout, act_code, out_code, acts, m, r0)
    else:
        for blk in range(n_blocks):
            r0 = blk * rows_per_block
            r1 = min(r0 + rows_per_block, m)
            forward_rows(X[r0:r1], theta, layout, act_code, out_code, acts, m, r0)


def make_forward_buffers(n_rows, n_features, layout, dtype):
    """(X_buf, acts): the workspace of ``forward_into`` for up to ``n_rows``
    rows per wave."""
    m = max(1, int(n_rows))
    if m > MIN_BLOCK_ROWS * WAVE_BLOCKS:  # below: within any wave (cheap test first)
        m = min(m, wave_rows(layout))
    # The intercepts, one per unit, end theta: a count without a reduction.
    last = layout.shape[0] - 1
    n_units = int(layout[last, B_OFFSET] + layout[last, FAN_OUT] - layout[0, B_OFFSET])
    return np.empty((m, n_features), dtype=dtype), np.empty(m * n_units, dtype=dtype)


def make_buffers(n_rows, n_features, n_outputs, layout, n_params, dtype):
    """Allocate the workspace tuple of ``loss_and_grad_into`` for up to
    ``n_rows`` rows per call (capped at one wave)."""
    X_buf, acts = make_forward_buffers(n_rows, n_features, layout, dtype)
    m = X_buf.shape[0]
    n_blocks = block_plan(m, layout)[0]
    return (
        X_buf,
        np.empty((m, n_outputs), dtype=dtype),
        np.empty(m, dtype=dtype),
        acts,
        np.empty_like(acts),
        np.empty((n_blocks, n_params), dtype=dtype),
        np.empty(n_blocks, dtype=np.float64),
        np.empty(param_chunks(n_params), dtype=np.float64),
        np.zeros(int(layout[0, B_OFFSET]), dtype=dtype),
    )
