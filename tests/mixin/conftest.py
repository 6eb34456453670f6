"""Fixtures for the mixin tests (helpers live in mixin_helpers.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mixin_helpers import DATADIR, TEST_STRATEGIES


@pytest.fixture(scope="session")
def localex() -> Iterator[Any]:
    from freqtrade_exec_ext.localex.server import LocalExchange

    with LocalExchange(DATADIR) as ex:
        yield ex


@pytest.fixture
def test_strategies(tmp_path: Path) -> Path:
    """A copy of tests/mixin/strategies (Freqtrade loads strategy files by path)."""
    dest = tmp_path / "strategies"
    shutil.copytree(TEST_STRATEGIES, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest
