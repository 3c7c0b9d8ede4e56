"""Import-time decisions: the kernel cache location and its fallback."""

import os
import shutil
import subprocess
import sys
import textwrap

import numba
import pytest

from fastbp import _config


def test_cache_directory_is_named_after_the_kernel_sources(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    path = _config._kernel_cache_dir()
    assert path == os.path.join(
        str(tmp_path), "fastbp-" + _config._kernel_sources_fingerprint()
    )
    assert os.path.isdir(path)


def test_no_writable_location_means_no_cache_and_one_warning(monkeypatch):
    monkeypatch.setattr(_config, "_writable_dir", lambda path: False)
    monkeypatch.delenv("FASTBP_DISABLE_CACHE", raising=False)
    if numba.config.DISABLE_JIT:
        pytest.skip("no cache without JIT")
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR") as record:
        assert _config._kernel_cache_dir() is None
    assert len(record) == 1


@pytest.mark.slow
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="no cache without JIT")
def test_import_and_fit_work_when_nothing_is_writable(tmp_path):
    """A fresh process for which no cache location can be created still imports
    fastbp (with one warning) and fits a model, compiling in memory.

    Each candidate is blocked by a regular FILE where a directory would be
    needed, which fails even for root: the package is copied to a folder whose
    ``__pycache__`` is a file, and XDG_CACHE_HOME points below a file.
    """
    package = os.path.dirname(_config.__file__)
    site = tmp_path / "site"
    shutil.copytree(
        package, site / "fastbp", ignore=shutil.ignore_patterns("__pycache__")
    )
    (site / "fastbp" / "__pycache__").write_text("not a directory")
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    script = textwrap.dedent(
        """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import fastbp
        messages = [str(w.message) for w in caught if "NUMBA_CACHE_DIR" in str(w.message)]
        assert len(messages) == 1, messages
        assert not fastbp._config.JIT_OPTIONS["cache"]
        import numpy as np
        X = np.random.RandomState(0).rand(20, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fastbp.MLPRegressor(hidden_layer_sizes=(4,), max_iter=2)
            model.fit(X, X.sum(axis=1))
        print("fitted", model.n_iter_)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(
        PYTHONPATH=str(site),
        PYTHONDONTWRITEBYTECODE="1",
        XDG_CACHE_HOME=str(blocker / "cache"),
        HOME=str(blocker),
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split() == ["fitted", "2"]


@pytest.mark.slow
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="no cache without JIT")
def test_processes_sharing_a_cold_cache_compile_one_at_a_time(tmp_path):
    """Two processes start together on an empty cache (as GridSearchCV's
    workers do); a third then loads what they cached.  Concurrent Numba
    compilations into one cache produced crashing cache files (Numba issue
    #10128); fastbp compiles under a file lock, so all three must succeed and
    agree."""
    script = textwrap.dedent(
        """
        import warnings, numpy as np
        from fastbp import MLPClassifier
        warnings.simplefilter("ignore")
        rng = np.random.RandomState(0)
        X = rng.randn(300, 20); y = (X[:, 0] > 0).astype(int)
        clf = MLPClassifier((64,), max_iter=3, random_state=0).fit(X, y)
        print(repr(float(clf.coefs_[0].sum())))
        """
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def start():
        return subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first, second = start(), start()
    outputs = [p.communicate(timeout=900) for p in (first, second)]
    third = start()
    outputs.append(third.communicate(timeout=900))
    codes = [first.returncode, second.returncode, third.returncode]
    assert codes == [0, 0, 0], [err[-2000:] for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1
    assert list(tmp_path.rglob("*.nbi"))  # the cache was really used
