"""The kernel tests pass with NUMBA_DISABLE_JIT=1, so the kernels' bodies run
as plain Python (visible to coverage and debuggers) and agree with their
twins there too.  Runs them in a subprocess, since the mode is fixed at
Numba's import."""

import os
import subprocess
import sys

import numba
import pytest

KERNEL_TESTS = [
    "tests/test_reference_twin.py",
    "tests/test_gradients.py",
    "tests/test_optimizers.py",
    "tests/test_worked_example.py",
    "tests/test_vector_math.py",
]


@pytest.mark.slow
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="already running without JIT")
def test_kernel_tests_pass_without_jit():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            *KERNEL_TESTS,
        ],
        cwd=root,
        env={**os.environ, "NUMBA_DISABLE_JIT": "1"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert completed.returncode == 0, (
        completed.stdout[-5000:] + completed.stderr[-2000:]
    )
    assert " passed" in completed.stdout
