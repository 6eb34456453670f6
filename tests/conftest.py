"""Shared fixtures.  Everything here is offline."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
STR001_CONTRACT = REPO_ROOT / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project; tests that need it skip cleanly without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared market data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def str001_contract_path() -> Path:
    return STR001_CONTRACT


# What makes a test slow: it starts a process, a server, a bot or a backtest.  Such a test
# must carry @pytest.mark.slow (so `pytest -m "not slow"` is the quick loop); a test that
# forgets it fails here, naming what it started.
SLOW_WORK = {
    "a subprocess": (subprocess.Popen, "__init__"),
    "the local exchange": ("freqtrade_exec_ext.localex.server.LocalExchange", "start"),
    "a Freqtrade backtest": ("freqtrade.optimize.backtesting.Backtesting", "__init__"),
    "a Freqtrade bot": ("freqtrade.freqtradebot.FreqtradeBot", "__init__"),
}


@pytest.fixture(autouse=True)
def _slow_work_is_marked_slow(request: pytest.FixtureRequest, monkeypatch: Any) -> None:
    if request.node.get_closest_marker("slow"):
        return
    for what, (owner, name) in SLOW_WORK.items():

        def refuse(*_a: Any, _what: str = what, **_k: Any) -> None:
            raise AssertionError(f"{request.node.nodeid} starts {_what}: mark it slow")

        if isinstance(owner, str):
            monkeypatch.setattr(f"{owner}.{name}", refuse)
        else:
            monkeypatch.setattr(owner, name, refuse)
