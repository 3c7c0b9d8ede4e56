"""Compilation options, the threading layer, row blocking and numeric guards.

Everything here is decided once, at import, before any kernel is compiled.

* ``jit``: ``numba.njit`` with fastbp's options.  ``fastmath`` stays off (it
  removed an ``isfinite`` test in measurements); the on-disk cache lives in a
  directory keyed by the sources' fingerprint, when one is writable.
* The threading layer is chosen for safety: TBB (thread- and fork-safe), then
  workqueue (fork-safe; calls are serialised by ``KERNEL_LOCK`` because it is not
  thread-safe), then OpenMP.  A user's ``NUMBA_THREADING_LAYER`` always wins.
* ``MIN_BLOCK_ROWS`` / ``MIN_BLOCK_WORK`` / ``WAVE_BLOCKS``: rows are processed in
  blocks whose boundaries depend only on the number of rows and the layer sizes,
  never on the thread count, so sums over rows are bit-identical with 1 or N
  threads.
"""

import glob
import hashlib
import os
import shutil
import sys
import threading
import warnings

import numba

# Row blocks.  A block holds at least MIN_BLOCK_ROWS rows and at least
# MIN_BLOCK_WORK multiply-adds (capped at MAX_BLOCK_ROWS rows), so tiny networks
# are not split into blocks whose fixed costs exceed their arithmetic; a batch
# of m rows is cut into ceil(m / target) blocks of equal size (64-100-10 with
# batch 200 -> 2 blocks of 100; 2-3-1 with batch 200 -> 1 block).
MIN_BLOCK_ROWS = 128
MAX_BLOCK_ROWS = 2048
MIN_BLOCK_WORK = 50_000
# Blocks processed per parallel launch; sums are folded in block order after
# each launch, so memory stays bounded for full-batch (L-BFGS) passes.
WAVE_BLOCKS = 16
# Loops over an (m, n) block with fewer than this many columns run column by
# column (bias + activation, column sums, row gathers): a loop over a row's
# few units costs more than its work.
FEW_COLUMNS = 8
# Element-wise passes over the parameters (block sums, the regularised
# gradient, optimizer steps) run in chunks of this many parameters, in parallel
# when the call is threaded; sums across chunks are added in chunk order.
PARAM_CHUNK = 8192
# Back-propagating through a layer with at most this many units uses a
# contiguous copy of W^T (refreshed once per batch): BLAS runs D @ W^T with a
# short inner dimension 1.5-2x slower as a transposed product than as a plain
# one (e.g. 100x64 @ 64x64: 13.1 us vs 8.5 us; 200x10 @ 10x256: 23.6 vs 15.6).
TRANSPOSED_COPY_MAX_FAN_OUT = 64
# Parallel work below this many multiply-adds per call runs on one thread.
# A TBB or OpenMP launch costs ~1-2 us, a workqueue launch ~100 us (measured
# with bench/bench_launch.py), hence the two thresholds.
MIN_PARALLEL_WORK = 200_000
WORKQUEUE_MIN_PARALLEL_WORK = 20_000_000
# An Adam update (a square root and a float64 division per parameter) over at
# least this many parameters runs its chunks in parallel even when the batch
# is a single row block: at 94k parameters it takes 70-200 us, and two threads
# save more than the worker's wake-up and the cache transfers cost (measured
# on 100-256-256-10, batch 32: 553 -> 428 us per float64 batch).  SGD's pass
# is 3-5x cheaper and measured slower in parallel there, so it stays serial.
MIN_PARALLEL_ADAM_PARAMS = 4 * PARAM_CHUNK


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
    """Hash of this module and every module that defines kernels (``@jit``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(here, "*.py"))):
        with open(path, "rb") as fh:
            source = fh.read()
        if b"\n@jit" in source or path == os.path.abspath(__file__):
            digest.update(source)
    return digest.hexdigest()[:16]


def _writable_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".probe-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
        return True
    except OSError:
        return False


def _purge_other_fingerprints(base, keep):
    for stale in glob.glob(os.path.join(base, "fastbp-*")):
        if os.path.basename(stale) != keep:
            shutil.rmtree(stale, ignore_errors=True)


def _kernel_cache_dir():
    """Where compiled kernels are cached, or None when nowhere is writable.

    The directory is named after a fingerprint of the package's sources.  Numba
    only checks the timestamp of the file a cached function lives in, so a
    caller cached before a helper in another module changed would otherwise be
    loaded stale (measured: it crashed).  A fingerprinted directory makes every
    source change start a fresh cache, even with several processes running.
    Base: ``NUMBA_CACHE_DIR`` when set, else the package's ``__pycache__``,
    else the user's cache directory.
    """
    if os.environ.get("FASTBP_DISABLE_CACHE") or numba.config.DISABLE_JIT:
        return None
    name = "fastbp-" + _kernel_sources_fingerprint()
    here = os.path.dirname(os.path.abspath(__file__))
    user_cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    candidates = [
        (numba.config.CACHE_DIR, False),
        (os.path.join(here, "__pycache__"), True),
        (os.path.join(user_cache, "fastbp"), True),
    ]
    for base, owned in candidates:
        if base and _writable_dir(os.path.join(base, name)):
            if owned:
                _purge_other_fingerprints(base, name)
            return os.path.join(base, name)
    warnings.warn(
        "fastbp: no writable directory for Numba's on-disk cache; kernels will "
        "be compiled in every new process. Set NUMBA_CACHE_DIR to a writable "
        "directory to enable it.",
        RuntimeWarning,
        stacklevel=2,
    )
    return None


CACHE_DIR = _kernel_cache_dir()

JIT_OPTIONS = {"cache": CACHE_DIR is not None, "nogil": True, "error_model": "numpy"}


def jit(function=None, **options):
    """``numba.njit`` with fastbp's options and its fingerprinted cache.

    Use as ``@jit`` or ``@jit(parallel=True)``.  Numba reads its cache location
    when a function is decorated, so ``numba.config.CACHE_DIR`` is pointed at
    fastbp's directory for that moment only: the user's own Numba code keeps
    its cache settings.
    """

    def decorate(py_function):
        merged = {**JIT_OPTIONS, **options}
        if CACHE_DIR is None:
            return numba.njit(**merged)(py_function)
        previous = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = CACHE_DIR
        try:
            return numba.njit(**merged)(py_function)
        finally:
            numba.config.CACHE_DIR = previous

    return decorate(function) if function is not None else decorate
