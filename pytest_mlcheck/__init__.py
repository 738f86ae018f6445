"""pytest-mlcheck: checks that fail, and name the cause, when a model runs but does not learn.

Importing this package imports no ML framework.
"""

from __future__ import annotations

from pytest_mlcheck.causes import CAUSES
from pytest_mlcheck.errors import CheckFailed, CheckIncomplete, DeviceUnavailable, MlcheckUsageError
from pytest_mlcheck.fixture import MLCheck
from pytest_mlcheck.report import CheckResult
from pytest_mlcheck.settings import Settings

__version__ = "0.1.0"
__all__ = ["CAUSES", "CheckFailed", "CheckIncomplete", "DeviceUnavailable", "CheckResult", "MLCheck", "MlcheckUsageError", "Settings", "__version__"]
