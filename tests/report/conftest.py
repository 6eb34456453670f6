"""Fixtures of the report tests: Freqtrade databases built with Freqtrade's own models."""

from __future__ import annotations

import pytest
from report_helpers import sqlite_db


@pytest.fixture(scope="session")
def ledger_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sqlite_db(tmp_path_factory.mktemp("ledgerdb") / "tradesv3.dryrun.sqlite")


@pytest.fixture(scope="session")
def plain_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Written by Freqtrade without the mixin: no ledger records."""
    return sqlite_db(tmp_path_factory.mktemp("plaindb") / "tradesv3.sqlite", ledger=False)
