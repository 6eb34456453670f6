"""Fixtures: a real bot's database from the local venue (tests/calibration/data)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # synthetic.py, make_fixture.py
FIXTURE = HERE / "data" / "venue-run-spot.sqlite"
DATADIR = HERE.parents[1] / "user_data" / "data" / "binance"


@pytest.fixture(scope="session")
def venue_db() -> Path:
    if not FIXTURE.is_file():
        pytest.skip(f"{FIXTURE} missing: python tests/calibration/make_fixture.py")
    return FIXTURE


@pytest.fixture(scope="session")
def venue_url(venue_db: Path) -> str:
    return f"sqlite:///{venue_db}"


@pytest.fixture(scope="session")
def venue_fills(venue_db: Path) -> list[dict]:
    return json.loads(venue_db.with_suffix(".fills.json").read_text())


@pytest.fixture(scope="session")
def datadir() -> Path:
    return DATADIR
