"""scikit-learn 1.9's callback protocol (``sklearn.callback``) on fastbp's fits.

Callbacks are set with ``set_callbacks(...)`` (``CallbackSupportMixin``), or
propagated by a meta-estimator (``GridSearchCV``'s ``ProgressBar``).  The
tasks of one fit:

* the fit itself, the root task, with ``max_subtasks=max_iter`` (1 for
  ``partial_fit``);
* one subtask per epoch (SGD, Adam: ``"epoch"``) or per L-BFGS iteration
  (``"lbfgs-iter"``), whose ``on_fit_task_end`` receives ``X``, ``y``,
  ``metadata`` (the sample weights) and, when a callback asks for it, a
  ``fitted_estimator``: a copy of the model as if the fit had stopped after
  that epoch (its own weights, optimizer state and curves; with early
  stopping, the best weights so far, as the fit would end).  A hook that
  returns True stops the fit there, as ``max_iter`` would, without a
  ConvergenceWarning.

An epoch's begin and end hooks both run when it has ended (Python is not in
the loop while the compiled epoch runs); an epoch task is a leaf, so its
progress is counted on its end.  Without callbacks, none of this exists: no
context is made and no Python runs per epoch.
"""

import copy
from contextlib import ExitStack, contextmanager

from sklearn.callback import CallbackSupportMixin  # noqa: F401  (re-exported)
from sklearn.callback._callback_support import (
    callback_management_context,
)


def has_callbacks(estimator):
    """Whether ``estimator`` holds callbacks (its own or propagated to it)."""
    return bool(getattr(estimator, "_skl_callbacks", None))


class FitTasks:
    """The callback tasks of one fit: ``begin`` the root task, ``step`` once
    per finished epoch or iteration, ``end`` the root task."""

    def __init__(self, estimator, X, y, sample_weight, max_subtasks):
        self.estimator = estimator
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        self.data = {"X": X, "y": y, "metadata": metadata}
        self.root = estimator._init_callback_context(max_subtasks=max_subtasks)
        self.root.call_on_fit_task_begin(estimator=estimator, **self.data)

    def step(self, task_name, fitted):
        """The begin and end hooks of one finished subtask; ``fitted()``
        returns the attributes of the model as it stands (called only if a
        callback asks for a ``fitted_estimator``).  Returns whether a callback
        asked to stop."""
        context = self.root.subcontext(task_name=task_name)
        context.call_on_fit_task_begin(estimator=self.estimator, **self.data)
        return context.call_on_fit_task_end(
            estimator=self.estimator, reconstruction_attributes=fitted, **self.data
        )

    def end(self):
        self.root.call_on_fit_task_end(
            estimator=self.estimator, reconstruction_attributes={}, **self.data
        )


def snapshot_attributes(estimator, theta, update):
    """The attributes of a copy of ``estimator`` whose weights are a copy of
    ``theta`` (flat, in its layout) and whose other fitted attributes are
    ``update(copy)``'s (curves and counters); lists and the optimizer state
    are copied, so the live fit never changes the snapshot."""
    snapshot = copy.copy(estimator)
    for name, value in vars(estimator).items():
        if isinstance(value, list) and name.endswith("_"):
            setattr(snapshot, name, list(value))
    if hasattr(estimator, "_optimizer"):
        snapshot._optimizer = copy.deepcopy(estimator._optimizer)
    update(snapshot)
    snapshot._publish(theta.copy(), estimator._layout)
    # Not the live fit's task tree (and its training data): scikit-learn
    # builds the fitted_estimator from a copy of the live model.
    return {**vars(snapshot), "_fit_tasks": None}


class SearchTasks:
    """The callback tasks of a fused search (``MLPClassifierCV``,
    ``MLPRegressorCV``), one level more than a fit's, as ``GridSearchCV``
    nests them: the search's root task; one ``"candidate-split-evaluation"``
    subtask per (candidate, split) model, under which that model's own fit
    tasks (its epochs) hang, its auto-propagated callbacks (``ProgressBar``)
    handed down as ``GridSearchCV`` hands them to its clones; then
    ``"refit-with-best-params"``.  ``close()`` always runs (a ``finally``)."""

    def __init__(self, search, X, y, sample_weight, n_models, refit):
        self.fit = FitTasks(search, X, y, sample_weight, n_models + bool(refit))
        self.models = []
        self.stack = ExitStack()

    def enter_model(self, estimator):
        """Before ``estimator._begin_fit``: its evaluation task begins and
        it joins the task tree (until ``end_models``)."""
        context = self.fit.root.subcontext(task_name="candidate-split-evaluation")
        # Propagated first, as GridSearchCV does: the propagated callbacks then
        # get this task's hooks from the estimator's own tree, paired.
        self.stack.enter_context(context.propagate_callback_context(estimator))
        context.call_on_fit_task_begin(estimator=self.fit.estimator, **self.fit.data)
        self.stack.enter_context(callback_management_context(estimator))
        self.models.append((context, estimator))

    def end_models(self):
        """After training: end every model's fit task (also those that a
        halving round left paused) and its evaluation task."""
        for context, estimator in self.models:
            tasks = estimator.__dict__.pop("_fit_tasks", None)
            if tasks is not None:
                tasks.end()
            context.call_on_fit_task_end(estimator=self.fit.estimator, **self.fit.data)
        self.stack.close()

    @contextmanager
    def refit(self, estimator):
        """Around the refit of ``estimator`` on all the data."""
        context = self.fit.root.subcontext(task_name="refit-with-best-params")
        with context.propagate_callback_context(estimator):
            context.call_on_fit_task_begin(
                estimator=self.fit.estimator, **self.fit.data
            )
            yield
            context.call_on_fit_task_end(estimator=self.fit.estimator, **self.fit.data)

    def end(self):
        self.fit.end()

    def close(self):
        self.stack.close()
