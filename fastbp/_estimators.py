"""Drop-in ``MLPClassifier`` and ``MLPRegressor`` on fastbp's training engine.

Behaviour follows scikit-learn 1.9's ``sklearn/neural_network/_multilayer_perceptron.py``
step by step: the same parameters and defaults, random draws (weights, shuffles,
validation split), stopping rules, attributes, warnings and errors.  Only the
computation moves into compiled kernels.  Deliberate differences are listed
in the README ("Differences from scikit-learn").
"""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if

from fastbp._activations import ACTIVATION_CODES
from fastbp._callbacks import (
    CallbackSupportMixin,
    FitTasks,
    has_callbacks,
    snapshot_attributes,
)
from fastbp._class_weight import row_classes, weights_per_class
from fastbp._lbfgs import fit_lbfgs
from fastbp._losses import LOSS_CODES, loss_for_output, weighted_loss_and_delta_into
from fastbp._optimizers import OptimizerState
from fastbp._params import FAN_OUT, build_layout, coef_views, init_theta, pack
from fastbp._plan import forward_workspace, make_network, make_plan
from fastbp._propagate import forward_into
from fastbp._threads import compute_threads, update_is_costly, use_threads
from fastbp._training import (
    BEST_LOSS,
    BEST_SCORE,
    DIVERGED,
    GO_ON,
    LOSS,
    MAX_ITER,
    N_ITER,
    NO_IMPROVEMENT_COUNT,
    ZERO_WEIGHT_BATCH,
    Run,
    T,
    fit_stochastic,
    make_progress,
    make_rules,
    warn_max_iter,
)
from fastbp._validation import (
    CLASSIFIER_CONSTRAINTS,
    REGRESSOR_CONSTRAINTS,
    _check_partial_fit_first_call,
    _fit_context,
    as_source,
    binarized_labels,
    check_is_fitted,
    checked_sample_weight,
    column_or_1d,
    dropout_rates,
    fitted_label_binarizer,
    hidden_activation_list,
    hidden_layer_list,
    labels_from_outputs,
    layer_init_factors,
    sorted_labels,
    type_of_target,
    validate_predict_input,
    validate_training_input,
    validation_accuracy,
    validation_r2,
)
from fastbp._warmup import ensure_compiled

_STOCHASTIC_SOLVERS = ("sgd", "adam")
_NON_FINITE_WEIGHTS = (
    "Solver produced non-finite parameter weights. The input data may"
    " contain large values and need to be preprocessed."
)


def _check_is_fitted(estimator):
    """scikit-learn's ``check_is_fitted``, with a shortcut for a model that has
    weights (~9 us per call, a fifth of a one-row predict)."""
    if "coefs_" not in vars(estimator):
        check_is_fitted(estimator)


def _rows_of(class_weights, Y):
    """Each row's class weight (n,) for binarized targets Y, or None."""
    return None if class_weights is None else class_weights[row_classes(Y)]


def _store_arguments(estimator, arguments):
    """``__init__``'s only job: store every constructor argument unchanged."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class _BaseMLP(CallbackSupportMixin, BaseEstimator):
    """Shared fitting and prediction logic; use the subclasses."""

    # ------------------------------------------------------------------ state
    def __getstate__(self):
        # coefs_/intercepts_ are views of _theta; pickle them as plain arrays
        # and rebuild the shared buffer on first use after unpickling.
        # A copy: object.__getstate__ returns the instance's own __dict__, and
        # pickling must not strip the live model of its buffer.
        state = dict(super().__getstate__())
        state.pop("_theta", None)
        state.pop("_published", None)
        # A running fit's callback state (a fitted_estimator is a copy of the
        # live model): never part of a saved model.
        for transient in (
            "_fit_tasks",
            "_callback_fit_ctx",
            "_skl_callbacks_to_teardown",
        ):
            state.pop(transient, None)
        return state

    def _publish(self, theta, layout):
        """Make coefs_ / intercepts_ views of the flat buffer ``theta``."""
        self._theta, self._layout = theta, layout
        self.coefs_, self.intercepts_ = coef_views(theta, layout)
        self._published = (tuple(self.coefs_), tuple(self.intercepts_))

    def _parameters(self):
        """(theta, layout) of the current coefs_ / intercepts_.

        Repacks when the user (or unpickling) replaced the published arrays;
        in-place edits of coefs_ are seen directly since they are views.
        """
        published = getattr(self, "_published", None)
        if (
            published is None
            or len(published[0]) != len(self.coefs_)
            or any(a is not b for a, b in zip(published[0], self.coefs_, strict=False))
            or any(
                a is not b for a, b in zip(published[1], self.intercepts_, strict=False)
            )
        ):
            dtype = np.asarray(self.coefs_[0]).dtype
            self._publish(*pack(self.coefs_, self.intercepts_, dtype))
        return self._theta, self._layout

    def _loss_param(self):
        """The Network's loss_param (``_losses``): none for scikit-learn's losses."""
        return 0.0

    def _codes(self):
        loss = loss_for_output(self.loss, self.out_activation_)
        names = hidden_activation_list(self.activation, self.n_layers_ - 2)
        return (
            [ACTIVATION_CODES[name] for name in names],
            ACTIVATION_CODES[self.out_activation_],
            LOSS_CODES[loss],
        )

    # -------------------------------------------------------------- fitting
    def _fresh_random_state(self):
        """check_random_state(self.random_state), as scikit-learn draws it at
        every fit / partial_fit call.  For an integer seed, the generator made
        for an earlier call is re-seeded instead: the same state as a new
        RandomState(seed), whose constructor first seeds itself from the
        operating system (~70 us, a third of a small partial_fit).  Only a
        generator fastbp made is re-seeded, never one the user passed."""
        seed = self.random_state
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
            own = getattr(self, "_seeded_random_state", None)
            if own is None:
                own = self._seeded_random_state = np.random.RandomState(seed)
            else:
                own.seed(seed)
            return own
        return check_random_state(seed)

    def _fit(self, X, y, sample_weight=None, incremental=False, validation=None):
        try:
            run = self._begin_fit(X, y, sample_weight, incremental, validation)
        except BaseException:
            self.__dict__.pop("_fit_tasks", None)
            raise
        code = GO_ON
        if run is not None:
            try:
                code = fit_stochastic(run, self.verbose)
            except KeyboardInterrupt:
                warnings.warn("Training interrupted by user.")
            except BaseException:
                # A callback raised: no task tree is left on the model, and
                # its counters and curves match the weights it trained.
                self.__dict__.pop("_fit_tasks", None)
                self._publish_run(run)
                raise
        self._end_fit(run, code)
        return self

    def _begin_fit(self, X, y, sample_weight, incremental, validation=None):
        """A fit up to its epochs: input checks, initial weights, the plan.

        ``validation``: fastbp's (X_val, y_val, sample_weight_val), or None.

        Returns the stochastic fit's ``_training.Run``, for
        ``_training.fit_stochastic`` (or for ``_fused.fit_many`` to run with
        other models) and then ``_end_fit``; an L-BFGS fit runs here whole
        and returns None.
        """
        hidden_layer_sizes = hidden_layer_list(self.hidden_layer_sizes)
        hidden_activation_list(self.activation, len(hidden_layer_sizes))
        rates = dropout_rates(self.dropout, len(hidden_layer_sizes))
        if self.solver not in _STOCHASTIC_SOLVERS and rates.any():
            raise ValueError(
                "dropout needs solver='sgd' or 'adam': L-BFGS minimises one "
                f"fixed objective; got solver={self.solver!r}, dropout="
                f"{self.dropout!r}."
            )
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        y_given = y
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if has_callbacks(self):
            self._fit_tasks = FitTasks(
                self, X, y_given, sample_weight, 1 if incremental else self.max_iter
            )
        n_features = X.shape[1]
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        class_weights = self._weights_per_class(y, incremental)
        sw = checked_sample_weight(sample_weight, X, _rows_of(class_weights, y))
        self.n_outputs_ = y.shape[1]
        if validation is not None:
            validation = self._checked_validation_data(*validation, class_weights)
        layer_units = [n_features, *hidden_layer_sizes, self.n_outputs_]
        self._random_state = self._fresh_random_state()
        if first_pass:
            self._initialize(y, layer_units, X.dtype)
        theta, layout = self._parameters()
        Y = np.ascontiguousarray(y, dtype=theta.dtype)
        source = as_source(X.astype(theta.dtype, copy=False))
        network = make_network(
            theta, layout, self._codes(), self.alpha, self._loss_param()
        )
        if self.solver in _STOCHASTIC_SOLVERS:
            ensure_compiled(theta.dtype, "stochastic")
            return self._plan_stochastic(
                source, Y, y, sw, network, incremental, validation, rates
            )
        ensure_compiled(theta.dtype, "objective")
        self.n_iter_, self.loss_ = fit_lbfgs(
            source,
            Y,
            sw,
            network,
            self.max_iter,
            self.max_fun,
            self.tol,
            self._iteration_hook(),
        )
        return None

    def _iteration_hook(self):
        """``on_iteration(x, loss, k)`` for ``fit_lbfgs`` when callbacks are
        set (``_callbacks``): iteration k's task, with a model of weights x."""
        tasks = getattr(self, "_fit_tasks", None)
        if tasks is None:
            return None

        def on_iteration(x, loss, k):
            def update(snapshot):
                snapshot.n_iter_, snapshot.loss_ = k, np.float64(loss)

            theta = x.astype(self._theta.dtype)
            return tasks.step(
                "lbfgs-iter", lambda: snapshot_attributes(self, theta, update)
            )

        return on_iteration

    def _epoch_hook(self):
        """``Run.on_epoch`` when callbacks are set (``_callbacks``): the
        epoch's task, with a model as if the fit had stopped there."""
        tasks = getattr(self, "_fit_tasks", None)
        if tasks is None:
            return None

        def on_epoch(run):
            def update(snapshot):
                snapshot._publish_run(run)

            theta = run.plan.network.theta
            if self.early_stopping:
                theta = run.progress.best_theta
            return tasks.step("epoch", lambda: snapshot_attributes(self, theta, update))

        return on_epoch

    def _weights_per_class(self, Y, incremental):
        """(n_classes,) class weights for the binarized targets Y, or None
        (regressors; ``MLPClassifier`` overrides this for ``class_weight``)."""
        return

    def _end_fit(self, run, code):
        """After the epochs of ``run`` (None for L-BFGS) ended with ``code``:
        the fitted attributes, then scikit-learn's errors and warnings."""
        tasks = self.__dict__.pop("_fit_tasks", None)
        if run is not None:
            self._end_stochastic(run, code)
        if not np.isfinite(self._theta).all():
            raise ValueError(_NON_FINITE_WEIGHTS)
        if tasks is not None:
            tasks.end()

    def _initialize(self, y, layer_units, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "exp" if self.loss == "poisson" else "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        layout, n_params, _ = build_layout(layer_units)
        factors = layer_init_factors(self.activation, len(layer_units) - 2)
        theta = init_theta(layout, n_params, factors, self._random_state, dtype)
        self._publish(theta, layout)
        for fastbp_only in (
            "validation_loss_curve_",
            "best_validation_loss_",
            "_dropout_seed",
        ):
            self.__dict__.pop(fastbp_only, None)
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
                if self.early_stopping_metric == "loss":
                    self.best_validation_loss_ = np.inf
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _validation_split(self, y):
        """Row indices (train, validation) drawn exactly as train_test_split
        draws them in scikit-learn's MLP (stratified for single-output
        classification)."""
        n_samples = y.shape[0]
        stratify = None
        if is_classifier(self) and self.n_outputs_ == 1:
            stratify = y
        train_idx, val_idx = train_test_split(
            np.arange(n_samples),
            random_state=self._random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if val_idx.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        return train_idx, val_idx

    def _batch_size(self, n_samples):
        """scikit-learn's batch size: 'auto' = min(200, n), else clipped."""
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _plan_stochastic(
        self, source, Y, y, sw, network, incremental, validation, rates
    ):
        """scikit-learn's ``_fit_stochastic`` up to its epochs: the optimizer,
        the validation split (or fastbp's ``validation`` data, which replace
        it), the Plan (with the hidden layers' dropout ``rates``), Rules and
        Progress of the fit."""
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = OptimizerState.create(
                self.solver,
                self.learning_rate_init,
                network.theta.size,
                network.theta.dtype,
            )
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        train_idx, validate = np.empty(0, dtype=np.int64), None
        if validation is not None:
            validate = self._validator(*validation)
        elif self.early_stopping:
            train_idx, val_idx = self._validation_split(y)
            validate = self._validator(*self._split_off(source, y, Y, sw, val_idx))
        if (
            validate is not None
            and getattr(self, "validation_loss_curve_", None) is None
        ):
            self.validation_loss_curve_ = []
        n_samples = train_idx.shape[0] or Y.shape[0]
        batch_size = self._batch_size(n_samples)
        optimizer = self._optimizer.kernel_form(
            self.momentum,
            self.nesterovs_momentum,
            self.beta_1,
            self.beta_2,
            self.epsilon,
        )
        threaded = use_threads(
            batch_size,
            network.layout,
            update_is_costly(self.solver, network.theta.size),
        )
        if rates.any() and not hasattr(self, "_dropout_seed"):
            # Drawn once per model (after its initial weights), kept across
            # warm starts, partial_fit calls and pickling.
            self._dropout_seed = int(
                self._random_state.randint(0, 2**63 - 1, dtype=np.int64)
            )
        dropout = (rates, self._dropout_seed) if rates.any() else None
        plan = make_plan(
            source, Y, sw, network, batch_size, threaded, optimizer, dropout
        )
        rules = make_rules(
            self, batch_size, optimizer.solver_code, incremental, validate is not None
        )
        best_theta = network.theta.copy() if self.early_stopping else network.theta[:0]
        progress = make_progress(
            n_samples,
            train_idx,
            self.max_iter,
            best_theta,
            (
                self.t_,
                self._no_improvement_count,
                np.inf if self.best_loss_ is None else self.best_loss_,
                self._best_watched_value(),
            ),
        )
        return Run(
            plan, rules, progress, self._random_state, validate, self._epoch_hook()
        )

    def _best_watched_value(self):
        """The best value early stopping has watched so far: the validation
        score, or minus the validation loss (``early_stopping_metric``)."""
        if self.early_stopping and self.early_stopping_metric == "loss":
            return -getattr(self, "best_validation_loss_", np.inf)
        if self.best_validation_score_ is None:
            return -np.inf
        return self.best_validation_score_

    def _end_stochastic(self, run, code):
        """scikit-learn's ``_fit_stochastic`` after its epochs: publish the
        progress, raise or warn as it does, restore the best weights."""
        self._publish_run(run)
        if code == ZERO_WEIGHT_BATCH:
            # scikit-learn's np.average raises this in that batch.
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        if code == DIVERGED:
            raise ValueError(_NON_FINITE_WEIGHTS)
        if code == MAX_ITER:
            warn_max_iter(self.max_iter)
        if self.early_stopping:
            run.plan.network.theta[:] = run.progress.best_theta

    def _publish_run(self, run):
        """The fitted attributes from a run's Progress (scikit-learn's types:
        np.float64 losses, float scores, int counters), and the optimizer's
        current learning rate from its plan."""
        self._optimizer.sync_learning_rate(run.plan.optimizer)
        progress, validated = run.progress, run.rules.validates
        counters, scalars = progress.counters, progress.scalars
        n_iter = int(counters[N_ITER])
        self.n_iter_ = n_iter
        self.t_ = int(counters[T])
        self._no_improvement_count = int(counters[NO_IMPROVEMENT_COUNT])
        if n_iter:
            self.loss_ = np.float64(scalars[LOSS])
        self.loss_curve_.extend(np.float64(v) for v in progress.loss_curve[:n_iter])
        if validated:
            self.validation_loss_curve_.extend(
                np.float64(v) for v in progress.validation_losses[:n_iter]
            )
        if self.early_stopping and self.early_stopping_metric == "loss":
            self.validation_scores_.extend(
                float(v) for v in progress.validation_scores[:n_iter]
            )
            self.best_validation_loss_ = np.float64(-scalars[BEST_SCORE])
            if self.validation_scores_:  # the score of the best-loss epoch
                best = int(np.argmin(self.validation_loss_curve_))
                self.best_validation_score_ = self.validation_scores_[best]
        elif self.early_stopping:
            self.validation_scores_.extend(
                float(v) for v in progress.validation_scores[:n_iter]
            )
            if scalars[BEST_SCORE] != self.best_validation_score_:
                self.best_validation_score_ = float(scalars[BEST_SCORE])
        elif scalars[BEST_LOSS] != self.best_loss_:
            self.best_loss_ = np.float64(scalars[BEST_LOSS])

    def _split_off(self, source, y, Y, sw, val_idx):
        """The internal validation split's (X_val, y_val, Y_val, sw_val):
        rows val_idx of the training data (y_val in labels, Y_val the float
        targets the loss takes; sw_val None without weights)."""
        if source.indptr.shape[0] == 0:
            X_val = source.X[val_idx]
        else:
            X_val = sp.csr_matrix(
                (source.data, source.indices, source.indptr),
                shape=(source.indptr.shape[0] - 1, source.X.shape[1]),
            )[val_idx]
        y_val = y[val_idx]
        if is_classifier(self):
            y_val = self._label_binarizer.inverse_transform(y_val)
        sw_val = sw[val_idx] if sw.shape[0] else None
        return X_val, y_val, np.ascontiguousarray(Y[val_idx]), sw_val

    def _checked_validation_data(
        self, X_val, y_val, sample_weight_val, class_weights=None
    ):
        """fastbp's X_val, y_val, sample_weight_val checked as the training
        data are (after them: the features and classes are known), with the
        training data's ``class_weights`` (or None) applied to sw_val; returns
        (X_val, y_val, Y_val, sw_val) as ``_split_off`` does."""
        if X_val is None or y_val is None:
            given, missing = ("X_val", "y_val") if y_val is None else ("y_val", "X_val")
            raise ValueError(f"{given} is provided, but {missing} was not provided.")
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise ValueError(
                "X_val and y_val need solver='sgd' or 'adam' (they are scored "
                f"after every epoch); got solver={self.solver!r}."
            )
        X_val = validate_predict_input(self, X_val)
        y_val, Y_val = self._validation_targets(y_val, X_val.shape[0])
        sw_val = checked_sample_weight(
            sample_weight_val, X_val, _rows_of(class_weights, Y_val)
        )
        return X_val, y_val, Y_val, sw_val if sw_val.shape[0] else None

    def _validator(self, X_val, y_val, Y_val, sw_val):
        """``validate()`` of a Run: the (score, loss) of the current weights
        on the validation data.  score is ``score()``'s (accuracy or R^2,
        weighted; NaN for non-finite outputs), loss the data term
        sum_i w_i l(y_i, a_i) / sum_i w_i of the training loss, without the
        L2 penalty; both from one forward pass."""
        weights = np.empty(0) if sw_val is None else sw_val

        def validate():
            out = self._forward_pass_fast(X_val, check_input=False)
            score = self._score_of_output(out, y_val, sw_val)
            dtype = out.dtype
            Y = Y_val.astype(dtype, copy=False)
            sw = weights.astype(dtype, copy=False)
            total = weighted_loss_and_delta_into(
                Y, out, sw, *self._codes()[1:], self._loss_param(), np.empty_like(out)
            )
            return score, total / (sw.sum(dtype=np.float64) if sw.shape[0] else len(Y))

        return validate

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in
            regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights (non-negative).
        X_val : {ndarray, sparse matrix} of shape (n_val, n_features), default=None
            fastbp only: validation data (with ``y_val``), as
            ``HistGradientBoostingClassifier.fit`` takes them; in a Pipeline,
            ``Pipeline(..., transform_input=["X_val"])`` transforms them as X.
            With ``early_stopping=True`` they replace the internal split (all
            of X trains).  Whenever validation data exist (these, or the
            internal split) the validation loss after each epoch is recorded
            in ``validation_loss_curve_``.  SGD and Adam only.
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Targets of X_val (fastbp only).
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation rows (fastbp only).

        Returns
        -------
        self : object
            Returns a trained MLP model.
        """
        validation = None
        if not (X_val is None and y_val is None and sample_weight_val is None):
            validation = (X_val, y_val, sample_weight_val)
        return self._fit(X, y, sample_weight, incremental=False, validation=validation)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    # ------------------------------------------------------------ prediction
    def _forward_pass_fast(self, X, check_input=True, n_layers=None):
        """Network output for X, computed in X's and the weights' common
        float dtype (float32 only when both are float32); with ``n_layers``,
        the activations of layer n_layers - 1 instead (a hidden layer)."""
        if check_input:
            X = validate_predict_input(self, X)
        theta, layout = self._parameters()
        act_codes, out_code, loss_code = self._codes()
        if n_layers is not None:
            # The weights' offsets in layout index the whole theta, so the
            # first rows of layout are the truncated network's layout.
            layout = layout[:n_layers]
            act_codes, out_code = act_codes[: n_layers - 1], act_codes[n_layers - 1]
        dtype = np.result_type(theta.dtype, X.dtype, np.float32)
        if dtype != np.float32:
            dtype = np.dtype(np.float64)
        ensure_compiled(dtype, "forward")
        network = make_network(
            theta.astype(dtype, copy=False),
            layout,
            (act_codes, out_code, loss_code),
            0.0,
        )
        source = as_source(X.astype(dtype, copy=False))
        n_samples = X.shape[0]
        out = np.empty((n_samples, int(layout[-1, FAN_OUT])), dtype=dtype)
        work = forward_workspace(n_samples, X.shape[1], layout, dtype)
        threaded = use_threads(n_samples, layout)
        with compute_threads(threaded):
            forward_into(source, network, work, out, threaded)
        return out

    def _predict(self, X, check_input=True):
        return self._prediction(self._forward_pass_fast(X, check_input=check_input))

    def _score(self, X, y, sample_weight=None):
        return self._score_of_output(
            self._forward_pass_fast(X, check_input=False), y, sample_weight
        )

    def _score_of_output(self, out, y, sample_weight):
        """``score()`` from the network's output for X (scikit-learn's
        ``_score``: accuracy or R^2; NaN when the predictions are not finite)."""
        y_pred = self._prediction(out)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return self._score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_COMMON_PARAMETERS_DOC = """
    hidden_layer_sizes : array-like of shape(n_layers - 2,), default=(100,)
        The ith element represents the number of neurons in the ith hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu', 'leaky_relu', 'elu', \
'gelu', 'silu', 'softplus'} or sequence of them, default='relu'
        Activation function for the hidden layers: one name for all of them,
        or one name per hidden layer (fastbp only).  'leaky_relu' (slope
        0.01), 'elu' (alpha 1), 'gelu' (exact erf form), 'silu' and
        'softplus' are fastbp only; a model using them is not reproducible
        with scikit-learn's class.  Initial weights follow scikit-learn's
        rule (factor 2 for 'logistic', 6 otherwise); with one name per layer,
        each hidden layer uses its own activation's factor and the output
        layer the last hidden layer's.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        The solver for weight optimization.
    alpha : float, default=0.0001
        Strength of the L2 regularization term, divided by the sample size (or
        the sum of sample weights) when added to the loss.
    batch_size : int, default='auto'
        Size of minibatches for stochastic optimizers; 'auto' is
        ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        Learning rate schedule for weight updates (``solver='sgd'`` only).
    learning_rate_init : float, default=0.001
        The initial learning rate (``solver='sgd'`` or ``'adam'``).
    power_t : float, default=0.5
        Exponent of the 'invscaling' schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs).
    shuffle : bool, default=True
        Whether to shuffle samples in each epoch.
    random_state : int, RandomState instance, default=None
        Seeds weight initialisation, the validation split and the shuffles,
        drawn exactly as scikit-learn draws them.
    tol : float, default=1e-4
        Tolerance for the optimization.
    verbose : bool, default=False
        Whether to print progress messages to stdout.
    warm_start : bool, default=False
        Reuse the solution of the previous call to fit as initialization.
    momentum : float, default=0.9
        Momentum for SGD.
    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum (SGD with momentum > 0).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the
        validation score stops improving.
    validation_fraction : float, default=0.1
        Proportion of training data set aside for early stopping.
    beta_1 : float, default=0.9
        Adam's first-moment decay rate.
    beta_2 : float, default=0.999
        Adam's second-moment decay rate.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int, default=10
        Maximum number of epochs without ``tol`` improvement.
    max_fun : int, default=15000
        Maximum number of loss evaluations (lbfgs only).
    early_stopping_metric : {'score', 'loss'}, default='score'
        What early stopping watches on the validation data: ``score()``
        (scikit-learn's behaviour) or, fastbp only, the validation loss (the
        data term of the training loss, without the L2 penalty), which must
        fall by more than ``tol`` within ``n_iter_no_change`` epochs; the best
        weights are then those of the lowest validation loss
        (``best_validation_loss_``), and ``best_validation_score_`` is that
        epoch's score.
    dropout : float or sequence of floats in [0, 1), default=0.0
        fastbp only: the probability of dropping each hidden unit during
        training (inverted dropout: kept units are scaled by 1 / (1 - p)),
        one rate for every hidden layer or one per hidden layer; prediction
        uses every unit.  The masks are a hash of (a seed drawn from
        ``random_state``, the epoch, the training row, the unit), so results
        do not depend on the thread count and a pickled model resumes
        identically.  SGD and Adam only (a ValueError with 'lbfgs')."""

_CLASS_WEIGHT_DOC = """
    class_weight : dict, 'balanced' or None, default=None
        fastbp only, as ``LogisticRegression`` takes it: weights
        ``{class_label: weight}`` (classes not given weigh 1), or 'balanced'
        for n_samples / (n_classes * np.bincount(y)).  Each row's class weight
        multiplies its sample weight, so it acts wherever sample weights do
        (loss, gradients, early stopping's validation score and loss).
        'balanced' is computed on ``fit``'s targets and is not supported by
        ``partial_fit``; multilabel targets are not supported."""

_COMMON_ATTRIBUTES_DOC = """
    loss_ : float
        The current loss computed with the loss function.
    best_loss_ : float or None
        The minimum loss reached (None with early stopping).
    validation_loss_curve_ : list of shape (n_iter_,)
        fastbp only, present when validation data exist (``early_stopping``'s
        split or ``fit``'s ``X_val``): the validation loss after each epoch,
        without the L2 penalty.
    best_validation_loss_ : float
        fastbp only, with ``early_stopping_metric='loss'``: the lowest
        validation loss.
    loss_curve_ : list of shape (n_iter_,)
        Loss at each epoch (stochastic solvers).
    validation_scores_ : list of shape (n_iter_,) or None
        Validation score at each epoch when ``early_stopping=True``.
    best_validation_score_ : float or None
        Best validation score when ``early_stopping=True``.
    t_ : int
        Number of training samples seen by the solver.
    coefs_ : list of shape (n_layers - 1,)
        Weight matrices, (fan_in, fan_out) each.
    intercepts_ : list of shape (n_layers - 1,)
        Bias vectors, (fan_out,) each.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (string column names only).
    n_iter_ : int
        The number of iterations the solver has run.
    n_layers_ : int
        Number of layers.
    n_outputs_ : int
        Number of outputs.
    out_activation_ : str
        Name of the output activation function."""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = f"""Multi-layer Perceptron classifier (drop-in for scikit-learn's).

    Optimizes the log-loss with LBFGS, SGD or Adam; backpropagation and whole
    training epochs run in compiled Numba kernels.

    Parameters
    ----------{_COMMON_PARAMETERS_DOC}{_CLASS_WEIGHT_DOC}

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels for each output.{_COMMON_ATTRIBUTES_DOC}

    Examples
    --------
    >>> from fastbp import MLPClassifier
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=100, random_state=1)
    >>> clf = MLPClassifier(random_state=1, max_iter=300).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = CLASSIFIER_CONSTRAINTS

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        early_stopping_metric="score",
        class_weight=None,
        dropout=0.0,
    ):
        _store_arguments(self, locals())

    # scikit-learn's MLPClassifier stores loss="log_loss" without exposing it
    # as a constructor parameter.
    loss = "log_loss"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_training_input(self, X, y, y_numeric=False, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = fitted_label_binarizer(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = sorted_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        y = binarized_labels(self._label_binarizer, y)
        return X, y

    def _weights_per_class(self, Y, incremental):
        return weights_per_class(
            self.class_weight,
            self.classes_,
            Y,
            self._label_binarizer.y_type_,
            incremental,
        )

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray, shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        _check_is_fitted(self)
        return self._predict(X)

    _score_function = staticmethod(validation_accuracy)

    def _prediction(self, out):
        """Labels from the network's output (n_samples, n_outputs)."""
        if self.n_outputs_ == 1:
            out = out.ravel()
        return labels_from_outputs(self._label_binarizer, out)

    def _validation_targets(self, y_val, n_val):
        """(labels, float targets) of fastbp's y_val, checked against classes_."""
        y_val = column_or_1d(y_val) if np.ndim(y_val) == 1 else np.asarray(y_val)
        if y_val.shape[0] != n_val:
            raise ValueError(f"X_val has {n_val} rows but y_val has {y_val.shape[0]}.")
        unseen = np.setdiff1d(sorted_labels(y_val), self.classes_)
        if y_val.ndim == 1 and unseen.size:
            raise ValueError(
                f"y_val has classes not in the training data's classes_ "
                f"{self.classes_}: {unseen}."
            )
        Y_val = binarized_labels(self._label_binarizer, y_val)
        if Y_val.ndim == 1:
            Y_val = Y_val.reshape((-1, 1))
        if Y_val.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y_val has {Y_val.shape[1]} outputs; the training targets have "
                f"{self.n_outputs_}."
            )
        return y_val, np.ascontiguousarray(Y_val, dtype=np.float64)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first call.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_log_proba(self, X):
        """Return the log of probability estimates, ``log(predict_proba(X))``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probabilities of each class, ordered as in ``classes_``.
        """
        _check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # class_weight has no meaning for multilabel targets (one class per
        # row); without it, multilabel targets are supported.
        tags.classifier_tags.multi_label = self.class_weight is None
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = f"""Multi-layer Perceptron regressor (drop-in for scikit-learn's).

    Optimizes the squared error (or half Poisson deviance) with LBFGS, SGD or
    Adam; backpropagation and whole training epochs run in compiled kernels.

    Parameters
    ----------
    loss : {{'squared_error', 'poisson', 'absolute_error', 'huber', \
'quantile'}}, default='squared_error'
        Half squared error, or half Poisson deviance with an exponential output
        (requires y >= 0; fastbp raises a ValueError for negative y).  fastbp
        only (a model using them is not reproducible with scikit-learn's
        class): 'absolute_error' |y - a|, 'huber' (0.5 r^2 for |r| <=
        huber_delta, huber_delta (|r| - huber_delta / 2) beyond) and
        'quantile' (the pinball loss of level ``quantile``), all with an
        identity output; summed over outputs.{_COMMON_PARAMETERS_DOC}
    huber_delta : float > 0, default=1.0
        Where the Huber loss turns from quadratic to linear (fastbp only).
    quantile : float in (0, 1), default=0.5
        The quantile that loss='quantile' estimates (fastbp only).

    Attributes
    ----------{_COMMON_ATTRIBUTES_DOC}

    Examples
    --------
    >>> from fastbp import MLPRegressor
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=200, n_features=20, random_state=1)
    >>> regr = MLPRegressor(random_state=1, max_iter=2000, tol=0.1).fit(X, y)
    >>> regr.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints = REGRESSOR_CONSTRAINTS

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        huber_delta=1.0,
        quantile=0.5,
        early_stopping_metric="score",
        dropout=0.0,
    ):
        _store_arguments(self, locals())

    def _loss_param(self):
        return {"huber": self.huber_delta, "quantile": self.quantile}.get(
            self.loss, 0.0
        )

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        _check_is_fitted(self)
        return self._predict(X)

    _score_function = staticmethod(validation_r2)

    def _prediction(self, out):
        return out.ravel() if out.shape[1] == 1 else out

    def _validation_targets(self, y_val, n_val):
        """(y_val, float targets) of fastbp's y_val, checked as y is."""
        y_val = np.asarray(y_val)
        if y_val.dtype.kind not in "biuf":
            raise ValueError(f"y_val must hold numbers; got dtype {y_val.dtype}.")
        Y_val = y_val.reshape((-1, 1)) if y_val.ndim == 1 else y_val
        if Y_val.ndim != 2 or Y_val.shape != (n_val, self.n_outputs_):
            raise ValueError(
                f"y_val has shape {y_val.shape}; expected ({n_val},) or "
                f"({n_val}, {self.n_outputs_}) for X_val's rows and y's outputs."
            )
        if not np.isfinite(Y_val).all():
            raise ValueError("y_val contains NaN or infinity.")
        if self.loss == "poisson" and (Y_val < 0).any():
            raise ValueError("loss='poisson' requires non-negative y_val.")
        return y_val, np.ascontiguousarray(Y_val, dtype=np.float64)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_training_input(self, X, y, y_numeric=True, reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError(
                "loss='poisson' requires non-negative targets, but y has negative "
                "values. Use loss='squared_error' or transform y."
            )
        return X, y

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single iteration over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            Trained MLP model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
