"""Saving fitted models: skops (safe loading), pickle and joblib.

A saved model is the same model: every persisted attribute comes back with
the same type and the same bits, predictions are bit-identical, and a model
saved mid-training continues ``partial_fit`` exactly as the never-saved one
(the optimizer's moments and step count, the random state and dropout's seed
travel with it).

What a file asks its loader to trust is part of the API: skops'
``get_untrusted_types`` must name fastbp's own classes only (never Numba's, never
a scikit-learn scorer), and the exact lists below are asserted, so that a
change is noticed (the README documents them for users to review).  A pickle
must reference no Numba object: compiled kernels are never state, a loaded
model compiles (or loads from its own cache) what it needs.  Two
subprocesses check this as a user meets it: a fresh process with an empty
``NUMBA_CACHE_DIR`` predicts identically, and a fresh process continues
``partial_fit`` identically.
"""

import functools
import io
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import NamedTuple

import joblib
import numpy as np
import pytest
from extras import import_extra
from sklearn.base import BaseEstimator
from sklearn.datasets import (
    make_classification,
    make_multilabel_classification,
    make_regression,
)

import fastbp

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ("adam", "sgd", "lbfgs")
CLASSIFIER = "fastbp._estimators.MLPClassifier"
REGRESSOR = "fastbp._estimators.MLPRegressor"
CLASSIFIER_CV = "fastbp._cv_estimators.MLPClassifierCV"
REGRESSOR_CV = "fastbp._cv_estimators.MLPRegressorCV"
OPTIMIZER_STATE = "fastbp._optimizers.OptimizerState"
STOCHASTIC_CLASSIFIER = [CLASSIFIER, OPTIMIZER_STATE]
STOCHASTIC_REGRESSOR = [REGRESSOR, OPTIMIZER_STATE]


@pytest.fixture(scope="module")
def skops_io():
    return import_extra("skops.io", "skops")


# ------------------------------------------------------------------ data
@functools.cache
def _data(target):
    """Tiny standardised data sets (60 rows, 4 features)."""
    if target == "multilabel":
        X, y = make_multilabel_classification(
            n_samples=60, n_features=4, n_classes=3, random_state=0
        )
    elif target in ("binary", "multiclass"):
        X, y = make_classification(
            n_samples=60,
            n_features=4,
            n_informative=3,
            n_redundant=0,
            n_classes=2 if target == "binary" else 3,
            random_state=0,
        )
    else:
        X, y = make_regression(
            n_samples=60,
            n_features=4,
            n_targets=2 if target == "multioutput" else 1,
            noise=0.1,
            random_state=0,
        )
        y = (y - y.mean(axis=0)) / y.std(axis=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, y


# ------------------------------------------------------------ the models
SMALL = dict(hidden_layer_sizes=(4,), max_iter=3, random_state=0)


class Case(NamedTuple):
    """A fitted model to save: its data set, its dtype, how to make it, and
    the exact list ``get_untrusted_types`` gives for it."""

    target: str
    dtype: type
    make: Callable[[], BaseEstimator]
    untrusted: list

    def data(self):
        X, y = _data(self.target)
        return X.astype(self.dtype), y


def _case(cls, target, untrusted, dtype=np.float64, **params):
    def make():
        X, y = _data(target)
        return cls(**{**SMALL, **params}).fit(X.astype(dtype), y)

    return Case(target, dtype, make, untrusted)


def _classifier(target, untrusted=None, dtype=np.float64, **params):
    if untrusted is None:
        lbfgs = params.get("solver") == "lbfgs"
        untrusted = [CLASSIFIER] if lbfgs else STOCHASTIC_CLASSIFIER
    return _case(fastbp.MLPClassifier, target, untrusted, dtype, **params)


def _regressor(target="regression", untrusted=None, dtype=np.float64, **params):
    if untrusted is None:
        lbfgs = params.get("solver") == "lbfgs"
        untrusted = [REGRESSOR] if lbfgs else STOCHASTIC_REGRESSOR
    return _case(fastbp.MLPRegressor, target, untrusted, dtype, **params)


def _search(cls, target, untrusted, **params):
    return _case(cls, target, untrusted, cv=2, **params)


# id: Case.  Every estimator kind, solver, target type, dtype and fastbp
# option; the searches with their default scoring and a named one.
CASES = {
    **{
        f"classifier-{target}-{solver}": _classifier(target, solver=solver)
        for target in ("binary", "multiclass", "multilabel")
        for solver in SOLVERS
    },
    **{f"regressor-{solver}": _regressor(solver=solver) for solver in SOLVERS},
    "regressor-multioutput": _regressor("multioutput"),
    "classifier-float32-adam": _classifier("multiclass", dtype=np.float32),
    "regressor-float32-lbfgs": _regressor(dtype=np.float32, solver="lbfgs"),
    "classifier-options": _classifier(
        "multiclass",
        hidden_layer_sizes=(4, 3),
        activation=["tanh", "gelu"],
        class_weight="balanced",
        dropout=(0.2, 0.1),
    ),
    "classifier-class-weight-dict": _classifier(
        "binary", solver="sgd", class_weight={0: 2.0, 1: 0.5}
    ),
    "classifier-early-stopping-loss": _classifier(
        "multiclass", early_stopping=True, early_stopping_metric="loss"
    ),
    "regressor-huber-dropout": _regressor(
        loss="huber", huber_delta=0.5, dropout=0.2, activation="silu"
    ),
    "classifier-cv": _search(
        fastbp.MLPClassifierCV,
        "multiclass",
        [CLASSIFIER_CV, *STOCHASTIC_CLASSIFIER],
        alpha=[1e-4, 1e-2],
    ),
    "classifier-cv-lbfgs-accuracy": _search(
        fastbp.MLPClassifierCV,
        "binary",
        [CLASSIFIER_CV, CLASSIFIER],
        solver="lbfgs",
        alpha=[1e-4, 1e-2],
        scoring="accuracy",
    ),
    "regressor-cv": _search(
        fastbp.MLPRegressorCV,
        "regression",
        [REGRESSOR_CV, *STOCHASTIC_REGRESSOR],
        solver="sgd",
        learning_rate_init=[1e-3, 1e-2],
    ),
    "regressor-cv-halving-r2": _search(
        fastbp.MLPRegressorCV,
        "regression",
        [REGRESSOR_CV, *STOCHASTIC_REGRESSOR],
        alpha=[1e-4, 1e-3, 1e-2],
        max_iter=6,
        search="halving",
        scoring="r2",
    ),
}


@functools.cache
def _fitted(case):
    """The fitted model of ``case`` (shared: tests must not change it)."""
    return CASES[case].make()


# -------------------------------------------------------- same state, bits
def assert_same(a, b, where="model"):
    """a and b are the same value: same types all the way down and the same
    bits in every array and float (NaN and -0.0 included)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, np.ma.MaskedArray):
        assert_same(np.ma.getmaskarray(a), np.ma.getmaskarray(b), f"{where}.mask")
        assert_same(a.data, b.data, f"{where}.data")
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        if a.dtype == object:
            for i, (x, z) in enumerate(zip(a.ravel(), b.ravel(), strict=True)):
                assert_same(x, z, f"{where}[{i}]")
        else:
            assert a.tobytes() == b.tobytes(), f"{where}: different bits"
    elif isinstance(a, (float, np.generic)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{where}: {a} {b}"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, z) in enumerate(zip(a, b, strict=True)):
            assert_same(x, z, f"{where}[{i}]")
    elif isinstance(a, np.random.RandomState):
        assert_same(a.get_state(legacy=False), b.get_state(legacy=False), where)
    elif isinstance(a, BaseEstimator):
        # What is persisted (``__getstate__``: without the flat buffer, which
        # is rebuilt from coefs_ / intercepts_ on first use).
        assert_same(a.__getstate__(), b.__getstate__(), where)
    elif hasattr(a, "__dict__") and not callable(a):  # OptimizerState
        assert_same(vars(a), vars(b), where)
    elif callable(a):  # a scorer rebuilt on load: the same scorer
        assert repr(a) == repr(b), f"{where}: {a!r} != {b!r}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _predictions(model, X):
    """Every prediction method's output for X."""
    methods = ["predict"]
    if hasattr(model, "predict_proba"):
        methods.append("predict_proba")
    return {name: getattr(model, name)(X) for name in methods}


def _skops_round_trip(skops_io, model, path):
    skops_io.dump(model, path)
    untrusted = skops_io.get_untrusted_types(file=path)
    return skops_io.load(path, trusted=untrusted), untrusted


# ------------------------------------------------------------------ skops
@pytest.mark.parametrize("case", list(CASES))
def test_skops_round_trip_is_bit_identical(case, skops_io, tmp_path):
    model = _fitted(case)
    loaded, untrusted = _skops_round_trip(skops_io, model, tmp_path / "m.skops")
    assert untrusted == CASES[case].untrusted
    assert type(loaded) is type(model)
    assert_same(loaded, model)
    if hasattr(model, "best_estimator_"):
        assert type(loaded.scorer_) is type(model.scorer_)
        assert repr(loaded.scorer_) == repr(model.scorer_)
    X, y = CASES[case].data()
    assert_same(_predictions(loaded, X), _predictions(model, X))
    assert_same(loaded.score(X, y), model.score(X, y))


def test_skops_refuses_fastbp_types_until_trusted(skops_io, tmp_path):
    """Nothing of fastbp is trusted by default: the user reviews the list."""
    path = tmp_path / "m.skops"
    skops_io.dump(_fitted("classifier-multiclass-adam"), path)
    with pytest.raises(skops_io.exceptions.UntrustedTypesFoundException):
        skops_io.load(path)
    skops_io.load(path, trusted=STOCHASTIC_CLASSIFIER)


# One partial_fit per solver flavour: Adam (float64 and float32), SGD with
# Nesterov's and classical momentum (with a schedule), and dropout, whose
# masks hash (_dropout_seed, t_).
CONTINUED = {
    "adam": (fastbp.MLPClassifier, "multiclass", dict(solver="adam")),
    "adam-float32": (
        fastbp.MLPRegressor,
        "regression",
        dict(solver="adam", dtype=np.float32),
    ),
    "sgd-nesterov": (
        fastbp.MLPClassifier,
        "binary",
        dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    ),
    "sgd-momentum-invscaling": (
        fastbp.MLPRegressor,
        "regression",
        dict(
            solver="sgd",
            momentum=0.8,
            nesterovs_momentum=False,
            learning_rate="invscaling",
        ),
    ),
    "adam-dropout": (
        fastbp.MLPClassifier,
        "multiclass",
        dict(solver="adam", hidden_layer_sizes=(6, 4), dropout=(0.3, 0.2)),
    ),
    "sgd-dropout-huber": (
        fastbp.MLPRegressor,
        "regression",
        dict(solver="sgd", dropout=0.25, loss="huber"),
    ),
}


def _partial_fits(model, X, y, calls, classes=None):
    """``calls`` partial_fit calls on halves of the data, alternating
    (classes given to the very first call only)."""
    for call in calls:
        rows = slice(call % 2, None, 2)
        extra = {"classes": classes} if call == 0 and classes is not None else {}
        model.partial_fit(X[rows], y[rows], **extra)
    return model


def _continued_setup(name):
    """(a fresh model, X, y, classes) of CONTINUED[name]."""
    cls, target, params = CONTINUED[name]
    params = dict(params)
    dtype = params.pop("dtype", np.float64)
    X, y = _data(target)
    model = cls(
        hidden_layer_sizes=params.pop("hidden_layer_sizes", (5,)),
        learning_rate_init=0.05,
        batch_size=16,
        random_state=0,
        **params,
    )
    classes = np.unique(y) if cls is fastbp.MLPClassifier else None
    return model, X.astype(dtype), y, classes


@pytest.mark.parametrize("name", list(CONTINUED))
def test_skops_model_continues_partial_fit_identically(name, skops_io, tmp_path):
    never_saved, X, y, classes = _continued_setup(name)
    _partial_fits(never_saved, X, y, range(4), classes)
    saved, *_ = _continued_setup(name)
    _partial_fits(saved, X, y, range(2), classes)
    loaded, _ = _skops_round_trip(skops_io, saved, tmp_path / "m.skops")
    _partial_fits(loaded, X, y, range(2, 4))
    assert_same(loaded.coefs_, never_saved.coefs_, "coefs_")
    assert_same(loaded.intercepts_, never_saved.intercepts_, "intercepts_")
    assert_same(loaded, never_saved)  # t_, loss_curve_, moments, RNG, seed
    assert loaded.t_ == never_saved.t_ == 2 * len(y)


# ----------------------------------------------------- pickle: no numba
class _RecordingUnpickler(pickle.Unpickler):
    """An unpickler that notes every global (class, function) the pickle
    makes it import: all a pickle can run on load."""

    def __init__(self, file):
        super().__init__(file)
        self.globals = set()

    def find_class(self, module, name):
        self.globals.add(f"{module}.{name}")
        return super().find_class(module, name)


def _pickled_globals(model):
    unpickler = _RecordingUnpickler(io.BytesIO(pickle.dumps(model)))
    return unpickler.load(), unpickler.globals


@pytest.mark.parametrize("case", list(CASES))
def test_pickle_references_fastbp_classes_and_no_numba(case):
    """A pickle names no Numba object (no dispatcher, no typed container):
    compiled code never travels with a model.  Its fastbp globals are
    exactly skops' list; the rest are NumPy's and scikit-learn's own."""
    model = _fitted(case)
    loaded, names = _pickled_globals(model)
    assert not [n for n in names if n.split(".")[0] in ("numba", "llvmlite")]
    assert sorted(n for n in names if n.startswith("fastbp.")) == CASES[case].untrusted
    assert not [
        n for n in names if n.split(".")[0] not in ("fastbp", "numpy", "sklearn")
    ], names
    assert_same(loaded, model)


def test_pickling_leaves_the_live_search_alone():
    """The search's __getstate__ drops scorer_ from a copy of its state."""
    model = _fitted("classifier-cv")
    scorer = model.scorer_
    pickle.dumps(model)
    assert model.scorer_ is scorer


def test_callable_scoring_is_kept(tmp_path):
    """A callable scorer is the user's: pickled as it is (not rebuilt)."""
    X, y = _data("binary")
    model = fastbp.MLPClassifierCV(**SMALL, cv=2, scoring=_user_scorer).fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.scorer_ is _user_scorer


def _user_scorer(estimator, X, y):
    return float(np.mean(estimator.predict(X) == y))


# ------------------------------------------------------- fresh processes
_CHILD = """
import glob, json, os, pickle, sys

import joblib
import numpy as np
import skops.io as skops_io

import fastbp
from fastbp import _config



def cache_index_files():
    return glob.glob(os.path.join(_config.CACHE_DIR, "**", "*.nbi"), recursive=True)


spec = json.load(open(sys.argv[1]))
assert os.path.dirname(fastbp.__file__) == spec["package"], fastbp.__file__
if spec["empty_cache"]:
    # fastbp's cache under the given, empty NUMBA_CACHE_DIR: whatever runs
    # below is compiled here, from nothing the saved files held.
    assert _config.CACHE_DIR.startswith(os.environ["NUMBA_CACHE_DIR"])
    assert not cache_index_files()


class NoNumba(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] in ("numba", "llvmlite"):
            raise pickle.UnpicklingError(f"{module}.{name}")
        return super().find_class(module, name)


def load(how, path, trusted):
    if how == "pickle":
        with open(path, "rb") as handle:
            return NoNumba(handle).load()
    if how == "joblib":
        return joblib.load(path)
    return skops_io.load(path, trusted=trusted)


data = np.load(spec["data"])
out = {}
for name, model_spec in spec["models"].items():
    X = data[name + "/X"]
    for how, path in model_spec["files"].items():
        model = load(how, path, model_spec["trusted"])
        key = f"{name}/{how}/"
        out[key + "predict"] = model.predict(X)
        if hasattr(model, "predict_proba"):
            out[key + "predict_proba"] = model.predict_proba(X)
        if model_spec["continue"]:
            y = data[name + "/y"]
            for call in (2, 3):
                rows = slice(call % 2, None, 2)
                model.partial_fit(X[rows], y[rows])
            for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
                out[key + f"W{i}"], out[key + f"b{i}"] = W, b
            out[key + "t_"] = np.array(model.t_)
if spec["empty_cache"]:
    assert cache_index_files()
np.savez(spec["out"], **out)
"""


def _run_fresh_process(tmp_path, models, env_extra):
    """Save ``models`` {name: (model, X, y or None, trusted)} with pickle,
    joblib and skops, load each in a fresh Python process (fastbp from this
    checkout), which predicts and, given y, continues with two partial_fit
    calls; returns its arrays."""
    skops_io = import_extra("skops.io", "skops")
    spec = {"models": {}, "data": str(tmp_path / "data.npz")}
    arrays = {}
    for name, (model, X, y, trusted) in models.items():
        files = {}
        for how in ("pickle", "joblib", "skops"):
            path = str(tmp_path / f"{name}.{how}")
            if how == "pickle":
                with open(path, "wb") as handle:
                    pickle.dump(model, handle)
            elif how == "joblib":
                joblib.dump(model, path)
            else:
                skops_io.dump(model, path)
            files[how] = path
        arrays[name + "/X"] = X
        if y is not None:
            arrays[name + "/y"] = y
        spec["models"][name] = {
            "files": files,
            "trusted": trusted,
            "continue": y is not None,
        }
    np.savez(spec["data"], **arrays)
    package = os.path.dirname(fastbp.__file__)
    spec.update(
        out=str(tmp_path / "out.npz"),
        package=package,
        empty_cache="NUMBA_CACHE_DIR" in env_extra,
    )
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "child.py").write_text(_CHILD)
    # The same fastbp as this process, first on the path.
    pythonpath = os.pathsep.join(
        p for p in (os.path.dirname(package), os.environ.get("PYTHONPATH")) if p
    )
    env = {**os.environ, "PYTHONPATH": pythonpath, **env_extra}
    if spec["empty_cache"]:
        env.pop("FASTBP_DISABLE_CACHE", None)  # the point is the cache's content
    done = subprocess.run(
        [sys.executable, str(tmp_path / "child.py"), str(tmp_path / "spec.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with np.load(spec["out"]) as out:
        return {key: out[key] for key in out.files}


def test_fresh_process_with_empty_numba_cache_predicts_identically(tmp_path):
    """Load in a new process whose NUMBA_CACHE_DIR is empty: the kernels are
    compiled there (the files hold none), the predictions have the same bits.
    One dtype: this process compiles the prediction kernels (~20 s)."""
    cache = tmp_path / "numba_cache"
    cache.mkdir()
    models = {}
    for case in (
        "classifier-options",
        "regressor-huber-dropout",
        "classifier-cv",
        "classifier-multilabel-lbfgs",
    ):
        X, _ = CASES[case].data()
        models[case] = (_fitted(case), X, None, CASES[case].untrusted)
    out = _run_fresh_process(tmp_path, models, {"NUMBA_CACHE_DIR": str(cache)})
    for case, (model, X, _, _) in models.items():
        for how in ("pickle", "joblib", "skops"):
            for method, expected in _predictions(model, X).items():
                assert_same(out[f"{case}/{how}/{method}"], expected, f"{case} {how}")


def test_fresh_process_continues_partial_fit_identically(tmp_path):
    """Saved mid-training (after two partial_fit calls), loaded in a new
    process, two more calls: the weights of the never-saved model's four."""
    models, references, expected = {}, {}, {}
    for name in ("adam", "sgd-dropout-huber", "adam-dropout"):
        reference, X, y, classes = _continued_setup(name)
        references[name] = _partial_fits(reference, X, y, range(4), classes)
        saved, *_ = _continued_setup(name)
        _partial_fits(saved, X, y, range(2), classes)
        trusted = [CLASSIFIER if classes is not None else REGRESSOR, OPTIMIZER_STATE]
        models[name] = (saved, X, y, trusted)
        expected[name] = _predictions(saved, X)
    out = _run_fresh_process(tmp_path, models, {})
    for name, reference in references.items():
        for how in ("pickle", "joblib", "skops"):
            key = f"{name}/{how}/"
            for method, predicted in expected[name].items():
                assert_same(out[key + method], predicted, key + method)
            for i, (W, b) in enumerate(
                zip(reference.coefs_, reference.intercepts_, strict=True)
            ):
                assert_same(out[key + f"W{i}"], W, key + f"W{i}")
                assert_same(out[key + f"b{i}"], b, key + f"b{i}")
            assert int(out[key + "t_"]) == reference.t_
