"""Every exception this package raises on purpose has one root, split refused/retryable."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import freqtrade_exec_ext
from freqtrade_exec_ext.errors import ExecExtError, InputRefused, TemporaryFailure

# signals, not errors: a deploy interrupted by SIGTERM unwinds with this; the report's fast
# SQLite reader hands a range to the exact reader with the other (caught, never raised out)
NOT_ERRORS = {
    "freqtrade_exec_ext.deploy.generate.Interrupted",
    "freqtrade_exec_ext.report.readers.sqlite_arrow.Irregular",
}


def _exception_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(freqtrade_exec_ext.__path__, "freqtrade_exec_ext."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == info.name and issubclass(obj, BaseException):
                found.append(obj)
    return found


def test_every_exception_class_has_the_package_root() -> None:
    classes = _exception_classes()
    assert len(classes) > 15
    orphans = [
        f"{c.__module__}.{c.__qualname__}"
        for c in classes
        if not issubclass(c, ExecExtError) and f"{c.__module__}.{c.__qualname__}" not in NOT_ERRORS
    ]
    assert orphans == []
    # each is either refused or retryable, never both
    for c in classes:
        if issubclass(c, ExecExtError) and c not in (ExecExtError, InputRefused, TemporaryFailure):
            assert issubclass(c, InputRefused) != issubclass(c, TemporaryFailure), c
