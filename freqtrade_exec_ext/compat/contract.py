"""Where a strategy's risk contract is, read from Freqtrade's configuration.

One lookup for the mixin and the plugins: ``exec_ext.risk_contract`` (an explicit path,
relative to the directory above ``user_data/`` or the working directory) when set, else
``<directory above user_data>/.crypto/knowledge/strategies/<id>/risk-assessment.yaml``,
else the same under the working directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.contract import RiskContract, find_contract, load_contract


def contract_for(config: Mapping[str, Any], strategy_id: str) -> tuple[RiskContract, Path]:
    """The contract of ``strategy_id`` for this Freqtrade config; raises ContractError."""
    section = config.get("exec_ext") or {}
    override = section.get("risk_contract") if isinstance(section, Mapping) else None
    path = find_contract(
        strategy_id, user_data_dir=config.get("user_data_dir"), cwd=Path.cwd(), override=override
    )
    return load_contract(path), path
