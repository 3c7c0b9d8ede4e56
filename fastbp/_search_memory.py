"""The memory a fused search needs, and the limit it must stay under.

A search holds every model at once: K x (weights + optimizer state +
workspace + progress), plus the splits' copies of X.  It states that before
allocating the models (one planned model is measured, array by array) and
refuses to go above ``memory_limit`` (default: half the available memory).
"""

import os

import numpy as np
import scipy.sparse as sp


def available_memory():
    """Bytes of memory available now (Linux: MemAvailable), else physical
    memory, else None (no limit can be derived)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def data_bytes(X):
    """Bytes of X's arrays (dense, or CSR data + indices + indptr)."""
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def run_bytes(run):
    """Bytes one planned model owns: every array of its plan and progress
    except the split's data, which its split's models share."""
    plan, progress = run.plan, run.progress
    arrays = [
        plan.Y,
        plan.sw,
        plan.network.theta,
        *plan.work,
        *plan.optimizer[1:],
        *progress,
    ]
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def check_memory(fold_bytes, model_bytes, n_models, limit):
    """Raise ValueError when fold_bytes + n_models * model_bytes exceeds
    ``limit`` bytes (None: half of ``available_memory()``)."""
    needed = fold_bytes + n_models * model_bytes
    if limit is None:
        available = available_memory()
        limit = None if available is None else available // 2
    if limit is not None and needed > limit:
        raise ValueError(
            f"This search needs about {needed / 2**20:.1f} MiB "
            f"({fold_bytes / 2**20:.1f} MiB of split data + {n_models} models "
            f"x {model_bytes / 2**20:.2f} MiB), more than memory_limit="
            f"{limit} bytes ({limit / 2**20:.1f} MiB). Search fewer candidates "
            "or folds at once, or raise memory_limit."
        )
