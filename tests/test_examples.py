"""Smoke tests: every script in examples/ runs and does its job.

Each example runs in a fresh subprocess, as a user would run it, with
``--quick --outdir tmp_path`` (every example takes both flags, quickstart.py
and backprop_by_hand.py included, though these two draw no picture), from
inside tmp_path so that nothing lands in the repository.  A test passes when
the script exits with 0, writes its pictures (when matplotlib is importable)
and prints the numbers that show it worked: the tests parse those numbers and
check their values, not only that they are there.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from extras import import_extra

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run_example(name, *args, cwd, env=None):
    """Run examples/<name> with ``args`` in ``cwd``; return its stdout."""
    env = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        check=False,  # the assertion below shows the output on failure
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"{name} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )
    return result.stdout


def number_after(label, text):
    """The number printed right after ``label`` in ``text``."""
    match = re.search(re.escape(label) + r"\s*([-+0-9.eE]+)", text)
    assert match, f"{label!r} not found in the output:\n{text}"
    return float(match.group(1))


def assert_pictures(outdir, *names):
    if HAS_MATPLOTLIB:
        for name in names:
            path = outdir / name
            assert path.is_file(), f"{path} was not written"
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is no PNG"


def test_quickstart(tmp_path):
    out = run_example(
        "quickstart.py", "--quick", "--outdir", str(tmp_path), cwd=tmp_path
    )
    assert "compiling / loading fastbp kernels" in out
    assert number_after("warmup took", out) >= 0
    assert "2 fits per library" in out  # the --quick setting, not the full 5
    rows = re.findall(r"^(scikit-learn|fastbp)\s+(\S+)s\s+(\S+)$", out, re.MULTILINE)
    assert [library for library, _, _ in rows] == ["scikit-learn", "fastbp"], out
    (sk_seconds, sk_accuracy), (fb_seconds, fb_accuracy) = (
        (float(seconds), float(accuracy)) for _, seconds, accuracy in rows
    )
    assert sk_accuracy > 0.9 and fb_accuracy > 0.9, out
    # same random_state, same model up to rounding: the same test predictions
    # (0.01 is 4 of the 450 test digits, room for a rounding-sized tie)
    assert abs(sk_accuracy - fb_accuracy) < 0.01, out
    assert sk_seconds > 0 and fb_seconds > 0, out
    speed_up = number_after("fastbp speed-up:", out)
    assert speed_up > 0, out
    # the printed speed-up is the ratio of the printed medians (up to rounding)
    assert speed_up == pytest.approx(sk_seconds / fb_seconds, rel=0.1), out
    assert "exclude compiling" in out and "include the whole fit call" in out
    assert (
        number_after("largest difference between the two models' weights:", out) < 1e-6
    )


def test_xor_learns(tmp_path):
    out = run_example("xor.py", "--quick", "--outdir", str(tmp_path), cwd=tmp_path)
    assert "learned XOR: yes" in out
    assert number_after("accuracy:", out) == 1.0
    # one more epoch of the estimator == one gradient step taken by hand
    assert number_after("max difference", out) < 1e-12
    assert_pictures(tmp_path, "xor_loss.png")


def test_backprop_by_hand(tmp_path):
    out = run_example(
        "backprop_by_hand.py", "--quick", "--outdir", str(tmp_path), cwd=tmp_path
    )
    rows = re.findall(
        r"^(?:a1|a2|loss|delta\d|dL/dW\d)\S*\s+(\S+)\s+(\S+)\s+(\S+)$",
        out,
        re.MULTILINE,
    )
    assert len(rows) == 13, out  # 2 + 1 + 1 + 1 + 2 + 2 + 4 entries
    for _, numpy_value, diff in rows:
        assert float(diff) <= 1e-12 * max(1.0, abs(float(numpy_value))), out
    loss_before, loss_after = map(
        float, re.search(r"^loss (\S+) -> (\S+)", out, re.MULTILINE).groups()
    )
    assert loss_after < loss_before
    assert number_after("check_gradients: max relative error", out) < 1e-6
    assert "gradients confirmed" in out


@pytest.mark.slow
def test_grid_search_learning_rate(tmp_path):
    out = run_example(
        "grid_search_learning_rate.py",
        "--quick",
        "--outdir",
        str(tmp_path),
        cwd=tmp_path,
    )
    best_params = re.findall(r"best parameters: (\{.*\})$", out, re.MULTILINE)
    assert len(best_params) == 3, out
    # The fused search and GridSearchCV(fastbp) find the same learning rate...
    assert best_params[0] == best_params[1], out
    scores = re.findall(r"best mean CV accuracy: (\S+)$", out, re.MULTILINE)
    best_scores = [float(score) for score in scores]
    # 10 digit classes: chance is 0.1; even the quick grid's best model is far above
    assert all(score > 0.8 for score in best_scores), out
    assert best_scores[0] == best_scores[1], out
    # ...with every mean score equal (3 candidates in the quick grid).
    equal = re.search(r"bit for bit: (\d+) of (\d+)", out).groups()
    assert equal == ("3", "3"), out
    # same random_state, same models: scikit-learn scores alike
    assert (
        number_after("largest difference from scikit-learn's mean CV accuracy:", out)
        < 0.02
    )
    assert_pictures(tmp_path, "grid_search_learning_rate.png")


@pytest.mark.slow
def test_regression_pipeline(tmp_path):
    out = run_example(
        "regression_pipeline.py", "--quick", "--outdir", str(tmp_path), cwd=tmp_path
    )
    r2 = number_after("5-fold cross-validated R^2:", out)
    assert r2 > 0.1  # clearly better than predicting the mean (R^2 = 0)
    match = re.search(
        r"^lowest validation loss (\S+) at epoch (\d+) of (\d+)$", out, re.MULTILINE
    )
    assert match, out
    best_loss, best, n_epochs = float(match[1]), int(match[2]), int(match[3])
    assert best_loss < 3000  # 1/2 var(y) is ~3000
    assert n_epochs == 200, out  # the --quick setting: 2 x 100 epochs
    losses = {
        int(epoch): (float(train), float(val))
        for epoch, train, val in re.findall(
            r"^epoch (\d+): training loss (\S+), validation loss (\S+)$",
            out,
            re.MULTILINE,
        )
    }
    # overtraining: the validation loss bottoms out clearly before the last epoch
    # and the training loss still falls after it
    assert best < 0.9 * n_epochs, out
    assert sorted(losses) == [best, n_epochs], out
    assert losses[best][1] == best_loss, out
    assert losses[n_epochs][0] < losses[best][0], out
    assert losses[n_epochs][1] > best_loss, out
    assert f"overtraining: after epoch {best}" in out
    assert_pictures(tmp_path, "regression_loss_curves.png")


def test_quick_environment_variable(tmp_path):
    out = run_example(
        "xor.py",
        "--outdir",
        str(tmp_path),
        cwd=tmp_path,
        env={"FASTBP_EXAMPLES_QUICK": "1"},
    )
    assert "3000 epochs" in out  # the --quick setting, not the full 5000


def test_runs_without_matplotlib(tmp_path):
    # A package named matplotlib that fails to import hides the real one.
    fake = tmp_path / "no_matplotlib" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('hidden for this test')\n")
    pythonpath = os.pathsep.join(
        filter(None, [str(fake.parent), os.environ.get("PYTHONPATH")])
    )
    out = run_example(
        "xor.py",
        "--quick",
        "--outdir",
        str(tmp_path),
        cwd=tmp_path,
        env={"PYTHONPATH": pythonpath},
    )
    assert "matplotlib is not installed: skipping the picture" in out
    assert "learned XOR: yes" in out
    assert not (tmp_path / "xor_loss.png").exists()


def test_imbalanced_and_dropout(tmp_path):
    out = run_example(
        "imbalanced_and_dropout.py", "--quick", "--outdir", str(tmp_path), cwd=tmp_path
    )
    plain = number_after("class_weight=None        balanced accuracy:", out)
    balanced = number_after("class_weight='balanced'  balanced accuracy:", out)
    # Balanced class weights lift the minority classes' recall on held-out rows.
    assert balanced > plain + 0.05, out
    assert number_after("gained by class_weight='balanced':", out) == pytest.approx(
        balanced - plain, abs=2e-3
    )
    ends = re.findall(
        r"^dropout=(\S+): validation loss lowest (\S+) .*last (\S+);", out, re.MULTILINE
    )
    assert [rate for rate, _, _ in ends] == ["0.0", "0.5"], out
    (_, low_plain, end_plain), (_, _, end_dropout) = (
        (rate, float(low), float(end)) for rate, low, end in ends
    )
    # The plain wide network overfits (its validation loss turns up); dropout's
    # ends lower.
    assert end_plain > low_plain * 1.1, out
    assert end_dropout < end_plain, out
    assert number_after("dropout 0.5 / none:", out) == pytest.approx(
        end_dropout / end_plain, abs=2e-3
    )
    assert_pictures(tmp_path, "dropout_loss_curves.png")


def test_progress_and_monitoring(tmp_path):
    import_extra("rich", "callbacks")  # the example's ProgressBar draws with rich
    out = run_example(
        "progress_and_monitoring.py", "--quick", "--outdir", str(tmp_path), cwd=tmp_path
    )
    logged, n_iter = map(
        int, re.search(r"epochs logged: (\d+) of n_iter_ = (\d+)", out).groups()
    )
    assert logged == n_iter == 15, out
    last = number_after("validation accuracy after the last epoch:", out)
    # The monitor's last entry is the final model's own score on those rows.
    assert last == number_after("model.score on the held-out digits:", out)
    assert last > number_after("validation accuracy after epoch 1:", out) + 0.3, out
    assert "best parameters: {'learning_rate_init'" in out
    assert_pictures(tmp_path, "validation_accuracy.png")
