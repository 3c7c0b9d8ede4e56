"""fastbp.compare: the function, the command, the callable module.

Each reported figure is checked against a second, independent computation:
the weight difference and the epochs against two models fitted here with the
same parameters (both libraries are deterministic for a fixed random_state,
so the figures match exactly), the speed-up against the ratio of the
reported medians, the medians against the reported runs.  The command runs
in subprocesses, as a user runs it, on small CSV files written here; bad
input must fail before any fit with an error naming the problem.  Tiny data
and a few epochs keep the file fast.
"""

import importlib
import inspect
import os
import re
import statistics
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn.neural_network as sk
from extras import import_extra
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp import _compare

ROOT = Path(__file__).resolve().parents[1]
PARAMS = dict(hidden_layer_sizes=(8, 4), max_iter=6, learning_rate_init=0.01)
PNG = b"\x89PNG\r\n\x1a\n"


def make_data(task, n=60):
    rng = np.random.RandomState(1)
    X = rng.randn(n, 4)
    if task == "classification":  # three classes, string labels
        return X, np.array(["a", "b", "c"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    return X, X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.randn(n)


def fit_both(task, X, y, params):
    """fastbp's and scikit-learn's models, fitted here, not by compare."""
    classes = {
        "classification": (fastbp.MLPClassifier, sk.MLPClassifier),
        "regression": (fastbp.MLPRegressor, sk.MLPRegressor),
    }[task]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [cls(**params).fit(X, y) for cls in classes]


def weight_difference(a, b):
    worst = 0.0
    for layer in range(len(a.coefs_)):
        worst = max(worst, np.abs(a.coefs_[layer] - b.coefs_[layer]).max())
        worst = max(worst, np.abs(a.intercepts_[layer] - b.intercepts_[layer]).max())
    return worst


@pytest.fixture(scope="module", params=["classification", "regression"])
def case(request):
    task = request.param
    X, y = make_data(task)
    result = fastbp.compare(X, y, repeats=2, progress=False, **PARAMS)
    return task, X, y, result


def test_columns_one_entry_per_library(case):
    task, X, _, result = case
    assert result["library"] == ["fastbp", "scikit-learn"]
    assert all(len(column) == 2 for column in result.values())
    assert result.task == task
    assert result.estimator == {"classification": "MLPClassifier"}.get(
        task, "MLPRegressor"
    )
    assert result.params == {**PARAMS, "random_state": 0}  # the documented default
    assert result.shape == X.shape and result.dtype == "float64"
    assert result["compile_seconds"][0] >= 0 and result["compile_seconds"][1] == 0


def test_speedup_is_the_ratio_of_the_medians(case):
    _, _, _, result = case
    for i, runs in enumerate(result["fit_seconds"]):
        assert len(runs) == 2  # repeats
        assert result["fit_seconds_median"][i] == statistics.median(runs)
        assert result["fit_seconds_min"][i] == min(runs) > 0
        assert result["fit_seconds_max"][i] == max(runs)
    fastbp_median, sklearn_median = result["fit_seconds_median"]
    assert result.speedup == result["speedup"][0] == sklearn_median / fastbp_median
    assert result["speedup"][1] == 1.0


def test_weights_epochs_and_scores_match_an_independent_fit(case):
    task, X, y, result = case
    ours, theirs = fit_both(task, X, y, {**PARAMS, "random_state": 0})
    expected = weight_difference(ours, theirs)
    assert expected < 1e-10  # same seed, same model up to rounding
    assert result.max_weight_diff == result["max_weight_diff"][0] == expected
    assert result["max_weight_diff"][1] == 0.0
    assert result["n_iter"] == [ours.n_iter_, theirs.n_iter_] == [6, 6]
    assert result["train_score"] == [ours.score(X, y), theirs.score(X, y)]
    for library, model in zip(result["library"], (ours, theirs), strict=True):
        np.testing.assert_array_equal(
            result.models[library].loss_curve_, model.loss_curve_
        )


def test_repr_is_an_aligned_table(case):
    _, _, _, result = case
    text = repr(result)
    rows = re.findall(r"^(?:fastbp|scikit-learn) +[0-9].*$", text, re.MULTILINE)
    assert [row.split()[0] for row in rows] == ["fastbp", "scikit-learn"], text
    assert len({len(row) for row in rows}) == 1, text  # right-aligned columns
    assert f"{result.speedup:.2f}x" in rows[0]
    assert f"{result.max_weight_diff:.1e}" in text
    assert "excluded from the fit times" in text and "random_state=0" in text


def test_pandas_reads_the_columns(case):
    pd = import_extra("pandas", "test")
    frame = pd.DataFrame(case[3])
    assert list(frame["library"]) == ["fastbp", "scikit-learn"]


def test_task_auto_reads_the_target():
    _, y = make_data("regression")
    assert _compare.resolve_task("auto", y) == "regression"
    assert _compare.resolve_task("auto", y > 0) == "classification"
    assert _compare.resolve_task("auto", (y > 0).astype(float)) == "classification"
    assert _compare.resolve_task("regression", (y > 0).astype(int)) == "regression"
    with pytest.raises(ValueError, match="task='classification'"):
        _compare.resolve_task("auto", np.array([[1, 2], [3, 4]]))  # multioutput


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"repeats": 0}, ValueError, "repeats must be at least 1"),
        ({"repeats": 2.0}, TypeError, "repeats must be an int"),
        ({"repeats": True}, TypeError, "repeats must be an int"),
        ({"task": "clustering"}, ValueError, "task must be one of"),
        ({"progress": "yes"}, ValueError, "progress must be"),
        ({"dropout": 0.2}, ValueError, "fastbp-only.*scikit-learn's MLPClassifier"),
        ({"class_weight": "balanced"}, ValueError, "scikit-learn.*cannot run"),
        ({"activation": "gelu"}, ValueError, "cannot run.*'activation'"),
        ({"activation": ["relu", "tanh"]}, ValueError, "cannot run.*'activation'"),
        ({"hiden_layer_sizes": (3,)}, TypeError, "not a parameter"),
        ({"random_state": None}, TypeError, "int random_state"),
        ({"max_iter": -1}, ValueError, "cannot run.*max_iter"),
    ],
)
def test_bad_input_fails_before_fitting(kwargs, error, match, monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("compare fitted before checking its input")

    monkeypatch.setattr(_compare, "_fit", no_fit)
    X, y = make_data("classification")
    with pytest.raises(error, match=match):
        fastbp.compare(X, y, **kwargs)


def test_fastbp_only_regression_loss_is_refused():
    X, y = make_data("regression")
    with pytest.raises(ValueError, match=r"cannot run.*'loss'"):
        fastbp.compare(X, y, loss="huber")
    with pytest.raises(ValueError, match="'huber_delta' is a fastbp-only"):
        fastbp.compare(X, y, huber_delta=2.0)


def test_progress_plain_lines_without_rich(monkeypatch, capsys):
    for name in ("rich", "rich.console", "rich.progress"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails: not installed
    X, y = make_data("regression", n=30)
    fastbp.compare(X, y, repeats=2, progress=True, hidden_layer_sizes=(3,), max_iter=2)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2 * 2 + 4, err
    assert lines[0].startswith("fastbp.compare [1/8] compiling or loading"), err
    assert lines[-1] == "fastbp.compare [8/8] training scores", err


def test_progress_false_and_auto_off_a_terminal_are_silent(capfd):
    X, y = make_data("regression", n=30)
    for progress in (False, "auto"):  # pytest's stderr is no terminal
        fastbp.compare(X, y, repeats=1, progress=progress, hidden_layer_sizes=(3,))
    assert capfd.readouterr() == ("", "")


def test_progress_with_rich(monkeypatch, capsys):
    import_extra("rich", "callbacks")
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich draws as on a terminal
    X, y = make_data("regression", n=30)
    result = fastbp.compare(X, y, repeats=1, progress=True, max_iter=2)
    assert result["n_iter"] == [2, 2]
    out, err = capsys.readouterr()
    assert out == ""
    assert "fastbp.compare scikit-learn: timed fit 1/1" in err
    assert "6/6" in err  # rich's MofNCompleteColumn, every step done


@pytest.mark.parametrize(
    "text, value",
    [
        ("64,64", (64, 64)),
        ("(64,)", (64,)),
        ("64,", (64,)),
        ("64", 64),
        ("1e-3", 0.001),
        ("0.5", 0.5),
        ("True", True),
        ("false", False),
        ("None", None),
        ("adam", "adam"),
        ("'None'", "None"),
    ],
)
def test_param_values(text, value):
    parsed = _compare.parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_param_pairs():
    assert _compare.parse_params(["max_iter=5", "solver=sgd"]) == {
        "max_iter": 5,
        "solver": "sgd",
    }
    with pytest.raises(ValueError, match="NAME=VALUE"):
        _compare.parse_params(["max_iter"])
    with pytest.raises(ValueError, match="twice"):
        _compare.parse_params(["max_iter=5", "max_iter=6"])


def write_csv(path, X, y, names=None):
    names = names or [f"x{j}" for j in range(X.shape[1])]
    lines = [",".join([*names, "target"])]
    lines += [
        ",".join([*map(repr, row.tolist()), str(t)])
        for row, t in zip(X, y, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_csv(tmp_path):
    X, y = make_data("classification", n=10)
    got_X, got_y = _compare.read_csv(write_csv(tmp_path / "d.csv", X, y), "target")
    np.testing.assert_array_equal(got_X, X)
    np.testing.assert_array_equal(got_y, y)  # labels stay strings
    X, y = make_data("regression", n=10)
    got_X, got_y = _compare.read_csv(write_csv(tmp_path / "r.csv", X, y), "target")
    np.testing.assert_array_equal(got_y, y)
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfa,target\n1,2\n")  # Excel
    got_X, got_y = _compare.read_csv(tmp_path / "bom.csv", "target")
    assert got_X.tolist() == [[1.0]] and got_y.tolist() == [2.0]


@pytest.mark.parametrize(
    "text, match",
    [
        ("a,color,target\n1,red,0\n2,blue,1\n", r"non-numeric feature column.*'color'"),
        ("a,b,target\n1,,0\n", r"'b' \(line 2: ''\)"),
        ("a,b\n1,2\n", r"'target' not found.*a, b"),
        ("a,b,target\n1,2,3\n4,5\n", r"line 3: 2 fields"),
        ("a,target\n", "no data rows"),
        ("", "empty"),
    ],
)
def test_read_csv_errors(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        _compare.read_csv(path, "target")


@pytest.mark.parametrize(
    "text, extra, match",
    [
        ("a,color,target\n1,red,0\n2,blue,1\n", [], "non-numeric.*'color'"),
        ("a,target\n1,0\n2,1\n", ["--param", "dropout=0.2"], "cannot run it"),
        ("a,target\n1,0\n2,1\n", ["--repeats", "0"], "repeats must be at least"),
        ("a,target\n1,0\n2,1\n", ["--param", "max_iter"], "NAME=VALUE"),
    ],
)
def test_command_errors_exit_2(tmp_path, capsys, monkeypatch, text, extra, match):
    monkeypatch.setattr(_compare, "_fit", None)  # nothing may be fitted
    (tmp_path / "bad.csv").write_text(text)
    command = importlib.import_module("fastbp.compare")
    with pytest.raises(SystemExit) as exit_info:
        command.main([str(tmp_path / "bad.csv"), "--target", "target", *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert re.search("error: .*" + match, err), err


# ------------------------------------------------------------- subprocesses
def run_python(args, cwd):
    """Run ``python args`` with this worktree first on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result


def number_after(label, text):
    match = re.search(re.escape(label) + r"\s*([-+0-9.eE]+)", text)
    assert match, f"{label!r} not found in:\n{text}"
    return float(match.group(1))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_command_on_a_csv_file_with_plot(tmp_path, task):
    import_extra("matplotlib", "plot")
    X, y = make_data(task)
    data = write_csv(tmp_path / "data.csv", X, y)
    result = run_python(
        ["-m", "fastbp.compare", str(data), "--target", "target", "--repeats", "2",
         "--param", "hidden_layer_sizes=8,4", "--param", "max_iter=6",
         "--param", "learning_rate_init=0.01", "--plot", "out.png"],
        cwd=tmp_path,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, f"{out}\n--- stderr\n{result.stderr}"
    assert "Warning" not in result.stderr, result.stderr  # runpy's included
    assert result.stderr == ""  # no progress: stderr is not a terminal
    assert (tmp_path / "out.png").read_bytes()[:8] == PNG
    estimator = "MLPClassifier" if task == "classification" else "MLPRegressor"
    assert f"fastbp.compare: {estimator} on 60 rows x 4 features (float64)" in out
    rows = re.findall(
        r"^(fastbp|scikit-learn)\s+([0-9.]+) (us|ms|s)\b.*", out, re.MULTILINE
    )
    assert [row[0] for row in rows] == ["fastbp", "scikit-learn"], out
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
    medians = [float(value) * unit[u] for _, value, u in rows]
    speedup = number_after("speed-up (scikit-learn median / fastbp median):", out)
    assert speedup == pytest.approx(medians[1] / medians[0], rel=0.1), out
    ours, theirs = fit_both(task, X, y, {**PARAMS, "random_state": 0})
    table = [
        line.split() for line in re.findall(r"^fastbp +[0-9].*$", out, re.MULTILINE)
    ]
    assert int(table[0][-2]) == ours.n_iter_ == theirs.n_iter_, out  # epochs
    expected = weight_difference(ours, theirs)
    assert number_after("largest weight difference:", out) == pytest.approx(
        expected, rel=0.06, abs=1e-300
    ), out  # printed with two significant digits
    assert number_after("fastbp compile/load time:", out) >= 0


SCRIPT_IMPORTS = """
import sys

OPTIONAL = ("matplotlib", "rich", "pandas")
importers = {}


class Watch:
    # Records who imports an optional library; with BLOCK, behaves as if
    # the library were not installed.
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in OPTIONAL:
            frame = sys._getframe(1)
            while frame.f_globals.get("__name__", "").startswith("importlib"):
                frame = frame.f_back
            while "importlib._bootstrap" in frame.f_code.co_filename:
                frame = frame.f_back
            importers.setdefault(top, set()).add(frame.f_globals.get("__name__"))
            if BLOCK:
                raise ImportError(f"no module named {top!r} (blocked)")
        return None


sys.meta_path.insert(0, Watch())
import inspect
import types

import fastbp

assert "fastbp.compare" not in sys.modules  # python -m must find it unimported
assert inspect.isfunction(fastbp.compare)
import fastbp.compare  # the module now: it must still be callable as the function

assert isinstance(fastbp.compare, types.ModuleType) and callable(fastbp.compare)

fastbp_importers = {m for ms in importers.values() for m in ms if m.startswith("fastbp")}
assert not fastbp_importers, importers
"""


def test_import_fastbp_imports_no_optional_library(tmp_path):
    # scikit-learn 1.9 itself imports pandas and rich when installed
    # (sklearn.utils.fixes, sklearn.callback); fastbp's modules import none.
    script = "BLOCK = False\n" + SCRIPT_IMPORTS
    result = run_python(["-c", script], cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_without_optional_libraries(tmp_path):
    script = (
        "BLOCK = True\n"
        + SCRIPT_IMPORTS
        + textwrap.dedent(
            """
        import numpy as np
        X = np.random.RandomState(0).rand(30, 3)
        r = fastbp.compare(X, X.sum(axis=1), repeats=1, progress=True, max_iter=2)
        assert r["n_iter"] == [2, 2], r
        import fastbp.compare as command
        open("d.csv", "w").write("a,b\\n" + "".join(f"{i},{i}\\n" for i in range(9)))
        command.main(["d.csv", "--target", "b", "--plot", "out.png"])
        """
        )
    )
    result = run_python(["-c", script], cwd=tmp_path)
    assert result.returncode == 2, result.stderr  # parser.error
    err = result.stderr
    assert "fastbp.compare [1/6] compiling or loading" in err  # plain lines
    assert "fastbp.compare [6/6] training scores" in err
    assert "--plot needs matplotlib, which is not installed" in err
    assert "Traceback" not in err, err
    assert not (tmp_path / "out.png").exists()


def test_lbfgs_has_no_loss_curve_but_plots(tmp_path):
    import_extra("matplotlib", "plot")
    X, y = make_data("regression", n=30)
    result = fastbp.compare(X, y, repeats=1, progress=False, solver="lbfgs", max_iter=5)
    ours, theirs = fit_both(
        "regression", X, y, {"solver": "lbfgs", "max_iter": 5, "random_state": 0}
    )
    assert result.max_weight_diff == weight_difference(ours, theirs)
    result.plot(tmp_path / "lbfgs.png")
    assert (tmp_path / "lbfgs.png").read_bytes()[:8] == PNG


def test_the_module_is_the_function_too():
    module = importlib.import_module("fastbp.compare")
    assert fastbp.compare is module  # what an explicit import leaves behind
    assert "repeats" in inspect.signature(fastbp.compare).parameters
    X, y = make_data("regression", n=30)
    result = fastbp.compare(X, y, repeats=1, progress=False, max_iter=2)
    assert isinstance(result, module.CompareResult)
    assert module.compare is _compare.compare
