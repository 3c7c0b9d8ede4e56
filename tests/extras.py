"""Optional libraries for the integration tests (fastbp's extras).

``import_extra("skl2onnx", "onnx")`` returns the module, or skips the test
with a reason naming the extra to install.  CI installs every extra and sets
``FASTBP_REQUIRE_EXTRAS=1`` (``.ci/run``), which turns that skip into a
failure: there, nothing may be skipped for a missing library.
"""

import importlib
import os

import pytest


def import_extra(module, extra):
    try:
        return importlib.import_module(module)
    except ImportError as error:
        reason = f"{module} is not installed (pip install 'fastbp[{extra}]')"
        if os.environ.get("FASTBP_REQUIRE_EXTRAS") == "1":
            pytest.fail(f"{reason}, but FASTBP_REQUIRE_EXTRAS=1: {error}")
        pytest.skip(reason)
