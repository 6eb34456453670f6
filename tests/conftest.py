"""Shared fixtures.  Everything here is offline."""

from __future__ import annotations

from pathlib import Path

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
