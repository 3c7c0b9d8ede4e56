"""Compilation options, the threading layer, row blocking and numeric guards.

Everything here is decided once, at import, before any kernel is compiled.

* ``JIT_OPTIONS`` / ``PARALLEL_JIT_OPTIONS``: keyword arguments for ``numba.njit``.
  ``fastmath`` stays off (it removed an ``isfinite`` test in measurements), and
  the on-disk cache is used only when Numba can find a writable place for it.
* The threading layer is chosen for safety: TBB (thread- and fork-safe), then
  workqueue (fork-safe; calls are serialised by ``KERNEL_LOCK`` because it is not
  thread-safe), then OpenMP.  A user's ``NUMBA_THREADING_LAYER`` always wins.
* ``BLOCK_ROWS`` / ``WAVE_BLOCKS``: rows are processed in fixed blocks whose
  boundaries depend only on the number of rows, never on the thread count, so
  sums over rows are bit-identical with 1 or N threads.
"""

import glob
import hashlib
import os
import sys
import threading
import warnings

import numba

# Largest row block.  A batch of m rows is cut into ceil(m / BLOCK_ROWS) blocks
# of equal size (the last may be shorter): batch 200 -> 2 blocks of 100.
BLOCK_ROWS = 128
# Blocks processed per parallel launch; sums are folded in block order after
# each launch, so memory stays bounded for full-batch (L-BFGS) passes.
WAVE_BLOCKS = 16
WAVE_ROWS = BLOCK_ROWS * WAVE_BLOCKS
# Hand-written loops instead of BLAS when a product's inner x outer size is
# at most this many multiply-adds per row (BLAS call overhead dominates).
SMALL_PRODUCT = 64
# Parallel work below this many multiply-adds per call runs on one thread.
# A TBB or OpenMP launch costs ~1-2 us, a workqueue launch ~100 us (measured
# with bench/bench_launch.py), hence the two thresholds.
MIN_PARALLEL_WORK = 200_000
WORKQUEUE_MIN_PARALLEL_WORK = 20_000_000


def _load_pip_tbb():
    """Make a pip-installed TBB visible to Numba's tbb layer.

    The ``tbb`` wheel puts ``libtbb.so.12`` in ``<prefix>/lib``, which is not on
    the loader path of a virtual environment; loading it globally first lets
    Numba's ``tbbpool`` extension resolve it.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        for path in sorted(glob.glob(os.path.join(prefix, "lib", "libtbb.so.12*"))):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                return
            except OSError:
                continue


def _choose_threading_layer():
    if "NUMBA_THREADING_LAYER" in os.environ:
        return
    _load_pip_tbb()
    numba.config.THREADING_LAYER_PRIORITY = ["tbb", "workqueue", "omp"]


_choose_threading_layer()

# Serialises compiled calls when the workqueue layer is active (it aborts on
# concurrent launches from two Python threads).  Uncontended cost: ~0.1 us.
KERNEL_LOCK = threading.RLock()


def _kernel_sources_fingerprint():
    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(here, "_*.py"))):
        with open(path, "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()


def _probe():
    """A trivial module-level function used to test whether caching works."""
    return 0


def _cache_is_usable():
    """True when Numba can cache kernels of this package on disk.

    Numba caches next to the sources, else in ``NUMBA_CACHE_DIR`` or a user-wide
    directory.  When none is writable, ``njit(cache=True)`` raises at decoration
    time, which must never break ``import fastbp``: fall back with one warning.
    Stale entries are purged when any fastbp module changed (Numba only tracks
    the caller's own file, not helpers imported from other modules).
    """
    if os.environ.get("FASTBP_DISABLE_CACHE") or numba.config.DISABLE_JIT:
        return False
    try:
        dispatcher = numba.njit(cache=True)(_probe)
        cache_dir = dispatcher._cache._cache_path
        os.makedirs(cache_dir, exist_ok=True)
        stamp_path = os.path.join(cache_dir, "fastbp-sources.sha256")
        fingerprint = _kernel_sources_fingerprint()
        try:
            with open(stamp_path) as fh:
                current = fh.read().strip() == fingerprint
        except OSError:
            current = False
        if not current:
            for stale in glob.glob(os.path.join(cache_dir, "_*.nb[ic]")):
                os.remove(stale)
            with open(stamp_path, "w") as fh:
                fh.write(fingerprint)
        return True
    except Exception as exc:  # no writable cache location, or Numba internals moved
        warnings.warn(
            f"fastbp: Numba's on-disk cache is unavailable ({exc}); kernels will be "
            "compiled in every new process. Set NUMBA_CACHE_DIR to a writable "
            "directory to enable it.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False


CACHE = _cache_is_usable()

JIT_OPTIONS = {"cache": CACHE, "nogil": True, "error_model": "numpy"}
PARALLEL_JIT_OPTIONS = {**JIT_OPTIONS, "parallel": True}
