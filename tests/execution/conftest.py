"""Contracts for the pure execution tests, built from the shipped STR-001 contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from freqtrade_exec_ext.contract import RiskContract, load_contract, parse_contract


@pytest.fixture(scope="session")
def str001(str001_contract_path: Path) -> RiskContract:
    return load_contract(str001_contract_path)


@pytest.fixture
def make_contract(str001_contract_path: Path):
    """STR-001's contract with some sections replaced (``{"sizing": {...}}``)."""
    base = yaml.safe_load(str001_contract_path.read_text())

    def make(**sections: dict[str, Any]) -> RiskContract:
        data = {**base}
        for name, values in sections.items():
            data[name] = {**base.get(name, {}), **values}
        return parse_contract(data, str(str001_contract_path))

    return make
