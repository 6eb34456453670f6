"""Fixtures for the deployment generator: a throw-away project root."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deploytools import REPO


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root with the repo's STR-001 contract and strategy (nothing else)."""
    root = tmp_path / "project"
    sdir = root / ".crypto/knowledge/strategies/STR-001"
    sdir.mkdir(parents=True)
    shutil.copy(REPO / ".crypto/knowledge/strategies/STR-001/risk-assessment.yaml", sdir)
    (root / "user_data/strategies").mkdir(parents=True)
    shutil.copy(REPO / "user_data/strategies/STR001.py", root / "user_data/strategies")
    return root
