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
