"""``cv_results_`` in ``GridSearchCV``'s keys, order and formats.

scikit-learn 1.9's rules, written out (its helpers are private):

* ``mean_fit_time``, ``std_fit_time``, ``mean_score_time``,
  ``std_score_time``: per candidate, over the splits;
* ``param_<name>``: a MaskedArray over the candidates, of the values' NumPy
  dtype (object for strings and sequences);
* ``params``: the candidates' dicts;
* ``split<k>_test_score``, ``mean_test_score``, ``std_test_score`` (the
  population standard deviation, ``np.average`` of squared deviations) and
  ``rank_test_score`` (int32, ``rankdata(-mean, "min")``; non-finite means
  rank with the worst).

Arrays are (n_candidates, n_splits), candidates in grid order.
"""

import warnings

import numpy as np
from numpy.ma import MaskedArray
from scipy.stats import rankdata


def _mean_and_std(array):
    means = np.average(array, axis=1)
    stds = np.sqrt(np.average((array - means[:, np.newaxis]) ** 2, axis=1))
    return means, stds


def _ranks(means):
    """GridSearchCV's ranks: 1 is best; NaN means tie with the worst."""
    if np.isnan(means).all():
        return np.ones_like(means, dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    return rankdata(-filled, method="min").astype(np.int32, copy=False)


def _param_column(values):
    """One ``param_<name>`` MaskedArray (every candidate has every name)."""
    try:
        array = np.array(values)
    except ValueError:  # sequences of different lengths
        dtype = np.dtype(object)
    else:
        dtype = array.dtype if array.dtype.kind != "U" and array.ndim == 1 else object
    column = MaskedArray(np.empty(len(values), dtype=dtype), mask=True)
    for index, value in enumerate(values):
        column[index] = value
    return column


def search_results(candidates, test_scores, fit_times, score_times, more=None):
    """The ``cv_results_`` dict of a search over ``candidates`` (a list of
    param dicts) given (n_candidates, n_splits) arrays of scores and times;
    ``more``'s lists (successive halving's ``iter``, ``n_resources``) come
    first.  Warns, as GridSearchCV does, when a mean test score is not
    finite."""
    test_scores = np.asarray(test_scores, dtype=np.float64)
    results = {name: np.asarray(values) for name, values in (more or {}).items()}
    for name, times in (("fit_time", fit_times), ("score_time", score_times)):
        means, stds = _mean_and_std(np.asarray(times, dtype=np.float64))
        results["mean_" + name], results["std_" + name] = means, stds
    names = sorted({name for params in candidates for name in params})
    for name in names:
        results["param_" + name] = _param_column([p[name] for p in candidates])
    results["params"] = candidates
    for split in range(test_scores.shape[1]):
        results["split%d_test_score" % split] = test_scores[:, split]
    means, stds = _mean_and_std(test_scores)
    results["mean_test_score"] = means
    if not np.isfinite(means).all():
        warnings.warn(
            f"One or more of the test scores are non-finite: {means}",
            category=UserWarning,
        )
    results["std_test_score"] = stds
    results["rank_test_score"] = _ranks(means)
    return results
