"""Successive halving with epochs as the resource: scikit-learn's rules.

``MLPClassifierCV(search="halving")`` is ``HalvingGridSearchCV(...,
resource="max_iter", max_resources=max_iter, min_resources=min_epochs,
factor=factor)``, with one difference in cost only: a candidate that goes on
to the next round resumes its paused models instead of refitting them (a
model paused after r epochs is the separate fit with ``max_iter=r``).  The
rules below are scikit-learn 1.9's ``BaseSuccessiveHalving`` written out:

* n_required = 1 + floor(log(n_candidates, factor)) rounds leave fewer than
  ``factor`` candidates;
* ``min_epochs="exhaust"``: start at max(1, max_iter // factor^(n_required -
  1)), so the last required round uses as many epochs as possible;
  ``"smallest"``: 1;
* n_possible = 1 + floor(log(max_iter // min_epochs, factor)); rounds =
  min(n_required, n_possible);
* round i trains every remaining candidate to min(int(factor^i *
  min_epochs), max_iter) epochs, then keeps the ceil(n / factor) best by mean
  test score (NaN scores rank below all others);
* the best candidate is the best of the last round.
"""

from math import ceil, floor, log

import numpy as np


def halving_schedule(n_candidates, factor, min_epochs, max_epochs):
    """The rounds' epoch budgets and HalvingGridSearchCV's bookkeeping:
    dict(min_resources_, max_resources_, n_required_iterations_,
    n_possible_iterations_, n_iterations_, resources)."""
    minimum = 1 if min_epochs in ("smallest", "exhaust") else int(min_epochs)
    if minimum > max_epochs:
        raise ValueError(
            f"min_resources_={minimum} is greater than max_resources_={max_epochs}."
        )
    n_required = 1 + floor(log(n_candidates, factor))
    if min_epochs == "exhaust":
        minimum = max(minimum, max_epochs // factor ** (n_required - 1))
    n_possible = 1 + floor(log(max_epochs // minimum, factor))
    n_iterations = min(n_possible, n_required)
    resources = [
        min(int(factor**itr * minimum), max_epochs) for itr in range(n_iterations)
    ]
    return {
        "min_resources_": minimum,
        "max_resources_": max_epochs,
        "n_required_iterations_": n_required,
        "n_possible_iterations_": n_possible,
        "n_iterations_": n_iterations,
        "resources": resources,
    }


def kept_positions(mean_scores, factor):
    """Positions (into one round's candidates) of the ceil(n / factor) kept,
    in scikit-learn's order: ascending score, NaNs first, best last."""
    scores = np.asarray(mean_scores)
    k = ceil(scores.shape[0] / factor)
    order = np.roll(np.argsort(scores), np.count_nonzero(np.isnan(scores)))
    return [int(p) for p in order[-k:]]


def best_row(iterations, mean_scores):
    """Index of the best cv_results_ row: the best of the last round (the
    first one when all its scores are NaN)."""
    iterations = np.asarray(iterations)
    last = np.flatnonzero(iterations == iterations.max())
    scores = np.asarray(mean_scores)[last]
    if np.isnan(scores).all():
        return int(last[0])
    return int(last[np.nanargmax(scores)])
