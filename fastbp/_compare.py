"""fastbp against scikit-learn on the user's own data: ``fastbp.compare``.

``compare(X, y, **mlp_params)`` fits fastbp's MLP and scikit-learn's with the
same parameters and the same seed, as ``examples/quickstart.py`` and
``bench/_whole_fit.py`` do:

1. Check everything before any fit: ``task``, ``repeats``, ``progress``, and
   that scikit-learn's MLP accepts every parameter, by name (its
   ``get_params``) and by value (its own ``_parameter_constraints``, read
   through ``_validation``).  fastbp-only parameters (``dropout``,
   ``class_weight``, ``early_stopping_metric``, ``huber_delta``, ...) and
   values (``activation="gelu"``, ``loss="huber"``, one activation per layer)
   raise ``ValueError``: scikit-learn cannot run them, so there is nothing to
   compare with.  A name neither library knows raises ``TypeError``.
2. Compile or load fastbp's kernels for X's dtype (``fastbp.warmup``): that
   wall time is ``compile_seconds``, reported apart.  Then one untimed
   one-epoch fit per library on the same data pays the remaining first-call
   costs (a sparse X's kernels, imports, caches).
3. ``repeats`` timed fits per library of the whole ``fit`` call (validation,
   initialisation and every epoch), alternating the order (fastbp then
   scikit-learn, then scikit-learn then fastbp, ...) so that neither always
   runs on a warmer or busier machine.  Medians are reported; the speed-up is
   scikit-learn's median over fastbp's.  ConvergenceWarning is silenced (both
   libraries would raise it alike).  Each library uses its default threads.
4. The last model of each library gives the training score (``score(X, y)``:
   accuracy or R²), ``n_iter_``, and the largest absolute difference between
   the two models' weights, over every layer's ``coefs_`` and
   ``intercepts_``.

Decisions:

* ``random_state`` defaults to 0, not to scikit-learn's None: the weight
  difference only measures rounding when both libraries start from the same
  weights and draw the same batches.  It must be an int; None or a
  RandomState would give every fit its own initial weights.
* ``progress="auto"`` (the default) shows progress on stderr only when
  stderr is a terminal: a rich progress bar when rich is installed, plain
  lines otherwise.  ``True`` shows it anywhere, ``False`` never.
* The result is a ``CompareResult``: a dict of columns, one entry per
  library (fastbp first), so ``pandas.DataFrame(result)`` is a table; its
  ``repr`` is an aligned text table.  Pair quantities hold fastbp's value in
  the fastbp row and scikit-learn's against itself in the other (speed-up
  1.0, weight difference 0.0, compile time 0.0).

matplotlib (``CompareResult.plot``) and rich are imported only when used.
"""

import csv
import numbers
import statistics
import sys
import time
import warnings

import numpy as np
import sklearn.neural_network as sklearn_mlp
from sklearn.exceptions import ConvergenceWarning

from fastbp._estimators import MLPClassifier, MLPRegressor
from fastbp._validation import type_of_target, validate_parameter_constraints
from fastbp._warmup import warmup

TASKS = ("auto", "classification", "regression")
LIBRARIES = ("fastbp", "scikit-learn")
DEFAULT_RANDOM_STATE = 0
_ESTIMATORS = {
    "classification": (MLPClassifier, sklearn_mlp.MLPClassifier),
    "regression": (MLPRegressor, sklearn_mlp.MLPRegressor),
}
_REGRESSION_TARGETS = ("continuous", "continuous-multioutput")
_CLASSIFICATION_TARGETS = ("binary", "multiclass", "multilabel-indicator")


# ------------------------------------------------------------------- checks
def resolve_task(task, y):
    """'classification' or 'regression'; 'auto' reads y's type_of_target."""
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}.")
    if task != "auto":
        return task
    kind = type_of_target(y)
    if kind in _REGRESSION_TARGETS:
        return "regression"
    if kind in _CLASSIFICATION_TARGETS:
        return "classification"
    raise ValueError(
        f"task='auto' cannot choose a model for a target of type {kind!r} "
        "(scikit-learn's type_of_target); pass task='classification' or "
        "task='regression'."
    )


def _check_repeats(repeats):
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral):
        raise TypeError(f"repeats must be an int; got {repeats!r}.")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1; got {repeats}.")
    return int(repeats)


def _check_progress(progress):
    if isinstance(progress, str) and progress == "auto":
        stream = sys.stderr
        return stream is not None and stream.isatty()
    if isinstance(progress, bool):
        return progress
    raise ValueError(f"progress must be 'auto', True or False; got {progress!r}.")


def checked_params(task, mlp_params):
    """The parameters both libraries get, random_state defaulted to 0.

    Raises TypeError for a name neither MLP takes or a random_state that is
    not an int, ValueError for a name or value only fastbp accepts
    (scikit-learn cannot run it) or one neither accepts.
    """
    fastbp_class, sklearn_class = _ESTIMATORS[task]
    fastbp_names = fastbp_class().get_params()
    sklearn_names = sklearn_class().get_params()
    for name in mlp_params:
        if name not in fastbp_names:
            raise TypeError(
                f"{name!r} is not a parameter of {fastbp_class.__name__} (nor of "
                f"scikit-learn's); the parameters both take: {', '.join(sklearn_names)}."
            )
        if name not in sklearn_names:
            raise ValueError(
                f"{name!r} is a fastbp-only parameter: scikit-learn's "
                f"{sklearn_class.__name__} cannot run it, so there is nothing to "
                "compare against. Leave it out to compare the two libraries."
            )
    params = {"random_state": DEFAULT_RANDOM_STATE, **mlp_params}
    seed = params["random_state"]
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            "compare needs an int random_state (default 0): with "
            f"random_state={seed!r} every fit would start from its own weights, "
            "and the weight difference would not measure rounding."
        )
    try:
        validate_parameter_constraints(
            sklearn_class._parameter_constraints, params, sklearn_class.__name__
        )
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"scikit-learn's {sklearn_class.__name__} cannot run these "
            f"parameters, so there is nothing to compare against: {error}"
        ) from error
    return params


# ----------------------------------------------------------------- progress
class _Silent:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def step(self, description):
        pass


class _Lines(_Silent):
    """One plain line on stderr per step (rich is not installed)."""

    def __init__(self, total):
        self.total, self.done = total, 0

    def step(self, description):
        self.done += 1
        print(
            f"fastbp.compare [{self.done}/{self.total}] {description}",
            file=sys.stderr,
            flush=True,
        )


class _RichBar(_Silent):
    """A rich Progress on stderr, removed when compare returns.

    Redrawn at each step only (``auto_refresh=False``): rich's refresh thread
    would take the GIL during the timed fits, which slows scikit-learn's
    Python loop more than fastbp's compiled one.
    """

    def __init__(self, total, rich_progress, rich_console):
        self.total = total
        self.bar = rich_progress.Progress(
            rich_progress.TextColumn("fastbp.compare {task.description}"),
            rich_progress.BarColumn(),
            rich_progress.MofNCompleteColumn(),
            rich_progress.TimeElapsedColumn(),
            console=rich_console.Console(stderr=True),
            transient=True,
            auto_refresh=False,
        )
        self.task = None

    def __enter__(self):
        self.bar.__enter__()
        self.task = self.bar.add_task("", total=self.total)
        return self

    def __exit__(self, *exc):
        self.bar.advance(self.task)
        self.bar.refresh()
        return self.bar.__exit__(*exc)

    def step(self, description):
        if self.bar.tasks[0].description:  # the previous step is finished
            self.bar.advance(self.task)
        self.bar.update(self.task, description=description, refresh=True)


def _progress(show, total):
    if not show:
        return _Silent()
    try:
        import rich.console
        import rich.progress
    except ImportError:
        return _Lines(total)
    return _RichBar(total, rich.progress, rich.console)


# ------------------------------------------------------------------ fitting
def _fit(estimator_class, params, X, y):
    """(seconds, fitted model) of the whole fit call."""
    model = estimator_class(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        return time.perf_counter() - start, model


def max_weight_difference(model_a, model_b):
    """max over layers of |W_a - W_b| and |b_a - b_b| (float64)."""
    arrays_a = [*model_a.coefs_, *model_a.intercepts_]
    arrays_b = [*model_b.coefs_, *model_b.intercepts_]
    return max(
        float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
        for a, b in zip(arrays_a, arrays_b, strict=True)
    )


def _kernel_dtype(X):
    return "float32" if getattr(X, "dtype", None) == np.float32 else "float64"


def compare(X, y, *, task="auto", repeats=3, progress="auto", **mlp_params):
    """Fit fastbp and scikit-learn with the same parameters; time both.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    task : {'auto', 'classification', 'regression'}, default='auto'
        'auto' fits MLPRegressor when scikit-learn's ``type_of_target(y)`` is
        continuous, MLPClassifier for binary, multiclass or multilabel y.
    repeats : int, default=3
        Timed fits per library, alternating the order.
    progress : {'auto', True, False}, default='auto'
        Progress on stderr (rich when installed, plain lines otherwise);
        'auto' only when stderr is a terminal.
    **mlp_params
        Parameters of both MLPs (scikit-learn's names and values only).
        ``random_state`` defaults to 0 and must be an int.

    Returns
    -------
    result : CompareResult
        A dict of columns, one entry per library (fastbp, scikit-learn):
        ``library``, ``fit_seconds`` (every timed run), ``fit_seconds_median``,
        ``fit_seconds_min``, ``fit_seconds_max``, ``speedup`` (scikit-learn's
        median / this library's), ``train_score``, ``n_iter``,
        ``max_weight_diff`` (against scikit-learn's weights) and
        ``compile_seconds`` (excluded from the fit times).

    Examples
    --------
    >>> import numpy as np, fastbp
    >>> X = np.random.RandomState(0).rand(60, 3)
    >>> result = fastbp.compare(X, X.sum(axis=1), hidden_layer_sizes=(8,),
    ...                         max_iter=5, repeats=1, progress=False)
    >>> result["library"]
    ['fastbp', 'scikit-learn']
    >>> result["n_iter"]
    [5, 5]
    """
    task = resolve_task(task, y)
    repeats = _check_repeats(repeats)
    show = _check_progress(progress)
    params = checked_params(task, mlp_params)
    classes = dict(zip(LIBRARIES, _ESTIMATORS[task], strict=True))
    jobs = ("objective" if params.get("solver") == "lbfgs" else "stochastic", "forward")
    seconds = {library: [] for library in LIBRARIES}
    models = {}
    with _progress(show, 2 * repeats + 4) as report:
        dtype = _kernel_dtype(X)
        report.step(f"compiling or loading fastbp's {dtype} kernels")
        compile_seconds = warmup((dtype,), jobs=jobs)
        for library in LIBRARIES:
            report.step(f"{library}: untimed one-epoch warm-up fit")
            _fit(classes[library], {**params, "max_iter": 1}, X, y)
        for run in range(repeats):
            for library in LIBRARIES if run % 2 == 0 else LIBRARIES[::-1]:
                report.step(f"{library}: timed fit {run + 1}/{repeats}")
                t, models[library] = _fit(classes[library], params, X, y)
                seconds[library].append(t)
        report.step("training scores")
        scores = [models[library].score(X, y) for library in LIBRARIES]
    medians = [statistics.median(seconds[library]) for library in LIBRARIES]
    columns = {
        "library": list(LIBRARIES),
        "fit_seconds": [tuple(seconds[library]) for library in LIBRARIES],
        "fit_seconds_median": medians,
        "fit_seconds_min": [min(seconds[library]) for library in LIBRARIES],
        "fit_seconds_max": [max(seconds[library]) for library in LIBRARIES],
        "speedup": [medians[1] / medians[0], 1.0],
        "train_score": [float(score) for score in scores],
        "n_iter": [int(models[library].n_iter_) for library in LIBRARIES],
        "max_weight_diff": [
            max_weight_difference(models["fastbp"], models["scikit-learn"]),
            0.0,
        ],
        "compile_seconds": [compile_seconds, 0.0],
    }
    return CompareResult(
        columns,
        task=task,
        estimator=classes["fastbp"].__name__,
        params=params,
        shape=np.shape(X),  # lists and DataFrames too
        dtype=str(models["fastbp"].coefs_[0].dtype),
        models=models,
    )


# ------------------------------------------------------------------- result
def _duration(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


class CompareResult(dict):
    """``fastbp.compare``'s table: a dict of columns, one entry per library.

    Besides the columns: ``task``, ``estimator`` (the class name),
    ``params`` (what both libraries got), ``shape`` and ``dtype`` of the
    data, ``models`` ({library: its last fitted model}) and the pair's
    figures ``speedup``, ``max_weight_diff`` and ``compile_seconds``.
    ``plot(path)`` draws the loss curves and fit times into a PNG.
    """

    def __init__(self, columns, *, task, estimator, params, shape, dtype, models):
        super().__init__(columns)
        self.task, self.estimator, self.params = task, estimator, params
        self.shape, self.dtype, self.models = shape, dtype, models

    @property
    def speedup(self):
        """scikit-learn's median fit time over fastbp's."""
        return self["speedup"][0]

    @property
    def max_weight_diff(self):
        """Largest |fastbp - scikit-learn| over every coefs_ and intercepts_."""
        return self["max_weight_diff"][0]

    @property
    def compile_seconds(self):
        """fastbp's kernel compile / load time, excluded from the fit times."""
        return self["compile_seconds"][0]

    def __repr__(self):
        repeats = len(self["fit_seconds"][0])
        n_samples, n_features = (*self.shape, 1)[:2]
        settings = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        header = (
            "library",
            "fit median",
            "fit min-max",
            "speed-up",
            "train score",
            "epochs",
            "max |weight diff|",
        )
        rows = [header]
        for i, library in enumerate(self["library"]):
            low, high = self["fit_seconds_min"][i], self["fit_seconds_max"][i]
            rows.append(
                (
                    library,
                    _duration(self["fit_seconds_median"][i]),
                    f"{_duration(low)} - {_duration(high)}",
                    f"{self['speedup'][i]:.2f}x",
                    f"{self['train_score'][i]:.4f}",
                    str(self["n_iter"][i]),
                    f"{self['max_weight_diff'][i]:.1e}" if i == 0 else "(reference)",
                )
            )
        widths = [max(len(row[j]) for row in rows) for j in range(len(header))]
        already = (
            "; done earlier in this process" if self.compile_seconds < 0.01 else ""
        )
        lines = [
            (
                f"fastbp.compare: {self.estimator} on {n_samples} rows x "
                f"{n_features} features ({self.dtype}), {repeats} timed "
                f"fit{'s' if repeats > 1 else ''} per library, alternating"
            ),
            f"parameters (both libraries): {settings}",
        ]
        for row in rows:
            cells = [row[0].ljust(widths[0])]
            cells += [
                cell.rjust(width)
                for cell, width in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join(cells))
        lines += [
            f"speed-up (scikit-learn median / fastbp median): {self.speedup:.2f}x",
            (
                f"largest weight difference: {self.max_weight_diff:.1e} "
                "(max over layers of |coefs_| and |intercepts_| differences)"
            ),
            (
                f"fastbp compile/load time: {self.compile_seconds:.2f} s "
                "(before timing; excluded from the fit times"
                f"{already})"
            ),
        ]
        return "\n".join(lines)

    def plot(self, path):
        """Write both loss curves and the fit times to ``path`` (a PNG).

        Uses matplotlib's Agg canvas directly: no pyplot, no global backend.
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError as error:
            raise ImportError(
                "plotting needs matplotlib, which is not installed: "
                "pip install 'fastbp[plot]'"
            ) from error
        figure = Figure(figsize=(10, 4), layout="constrained")
        FigureCanvasAgg(figure)
        curves, times = figure.subplots(1, 2)
        for library, style in zip(LIBRARIES, ("-", "--"), strict=True):
            curve = getattr(self.models[library], "loss_curve_", None)
            if curve:
                epochs = np.arange(1, len(curve) + 1)
                curves.plot(epochs, curve, style, label=library)
        if curves.lines:
            curves.legend()
        else:  # L-BFGS keeps no loss curve
            curves.text(
                0.5, 0.5, "no loss curve (lbfgs)", ha="center",
                transform=curves.transAxes,
            )  # fmt: skip
        curves.set(xlabel="epoch", ylabel="training loss (loss_curve_)")
        curves.set_title(f"{self.estimator}: loss per epoch")
        positions = np.arange(len(LIBRARIES))
        medians = np.array(self["fit_seconds_median"])
        spread = np.array(
            [medians - self["fit_seconds_min"], self["fit_seconds_max"] - medians]
        )
        times.bar(positions, medians, yerr=spread, capsize=6, color=["C0", "C1"])
        for x, runs in zip(positions, self["fit_seconds"], strict=True):
            times.plot([x] * len(runs), runs, "k.", alpha=0.6)
        for x, median in zip(positions, medians, strict=True):
            times.annotate(
                _duration(median), (x, median), ha="left", va="bottom",
                xytext=(10, 2), textcoords="offset points",
            )  # fmt: skip
        times.set_xticks(positions, LIBRARIES)
        times.set_ylabel("fit time, seconds (median, min-max, runs)")
        times.set_title(f"fit time: fastbp {self.speedup:.2f}x faster")
        figure.savefig(path, format="png")


# ---------------------------------------------------------------- the CSV
def parse_value(text):
    """A --param value: int, float, True/False/None, a tuple ("64,64",
    "(64,)") or else the string itself (quotes force a string)."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
        if not text:
            return ()
        if "," not in text:
            text += ","
    if "," in text:
        parts = text.split(",")
        if parts[-1].strip() == "":
            parts.pop()
        return tuple(parse_value(part) for part in parts)
    constants = {"true": True, "false": False, "none": None}
    if text.lower() in constants:
        return constants[text.lower()]
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def parse_params(pairs):
    """{name: value} from ["name=value", ...]; a repeated name is an error."""
    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--param takes NAME=VALUE; got {pair!r}.")
        if name in params:
            raise ValueError(f"--param {name} is given twice.")
        params[name] = parse_value(value)
    return params


def read_csv(path, target):
    """(X float64, y) from a CSV file with a header row.

    Every column but ``target`` is a feature and must be numeric.  The target
    is float64 when every value is a number, else the strings (class labels).
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:  # Excel's BOM
        reader = csv.reader(handle)
        header = [name.strip() for name in next(reader, [])]
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    if not header:
        raise ValueError(f"{path} is empty: compare needs a header row.")
    if header.count(target) != 1:
        found = "twice" if target in header else "not found"
        raise ValueError(
            f"target column {target!r} {found} in {path}; its columns: "
            f"{', '.join(header)}."
        )
    if not rows:
        raise ValueError(f"{path} has a header but no data rows.")
    for line, row in rows:
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: {len(row)} fields, the header has {len(header)}."
            )
    j_target = header.index(target)
    features = [j for j in range(len(header)) if j != j_target]
    if not features:
        raise ValueError(f"{path} has no feature column besides {target!r}.")
    X = np.empty((len(rows), len(features)))
    bad = []
    for k, j in enumerate(features):
        for i, (line, row) in enumerate(rows):
            try:
                X[i, k] = float(row[j])
            except ValueError:
                bad.append(f"{header[j]!r} (line {line}: {row[j]!r})")
                break
    if bad:
        raise ValueError(
            f"non-numeric feature column{'s' if len(bad) > 1 else ''} in {path}: "
            f"{', '.join(bad)}. compare needs numeric features: encode them "
            "(e.g. one-hot) or drop them first."
        )
    labels = [row[j_target].strip() for _, row in rows]
    try:
        y = np.array([float(label) for label in labels])
    except ValueError:
        y = np.array(labels)
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        bad_line = rows[int(np.flatnonzero(~np.isfinite(y))[0])][0]
        raise ValueError(f"{path}, line {bad_line}: the target is not finite.")
    return X, y


def main_result(path, target, *, task, repeats, params, plot, progress):
    """What ``python -m fastbp.compare`` runs: the result, plot written."""
    if plot is not None:
        try:  # fail before the long run, not after it
            import matplotlib  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "--plot needs matplotlib, which is not installed: "
                "pip install 'fastbp[plot]'"
            ) from error
    X, y = read_csv(path, target)
    result = compare(X, y, task=task, repeats=repeats, progress=progress, **params)
    if plot is not None:
        result.plot(plot)
    return result
