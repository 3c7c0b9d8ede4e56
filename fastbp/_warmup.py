"""``warmup``: compile (or load from the on-disk cache) every kernel up front."""

import time
import warnings

import numpy as np


def warmup(dtypes=("float64", "float32")):
    """Compile or load every fastbp kernel for the given dtypes.

    Runs tiny fits (sgd, adam, lbfgs, dense and sparse input) and predictions so
    that the first real fit pays no compilation.  With a warm cache this costs
    about a second; without one, compiling takes tens of seconds per dtype.

    Parameters
    ----------
    dtypes : iterable of {'float64', 'float32'}, default=('float64', 'float32')

    Returns
    -------
    seconds : float
        Wall time spent.
    """
    import scipy.sparse as sp

    from fastbp._estimators import MLPClassifier

    start = time.perf_counter()
    rng = np.random.RandomState(0)
    for dtype in dtypes:
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtypes must be float32 or float64; got {dtype}.")
        X = rng.rand(8, 3).astype(dtype)
        y = np.arange(8) % 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for solver in ("sgd", "adam", "lbfgs"):
                for data in (X, sp.csr_matrix(X)):
                    clf = MLPClassifier((2,), solver=solver, max_iter=1, batch_size=4)
                    clf.fit(data, y).predict_proba(data)
    return time.perf_counter() - start
