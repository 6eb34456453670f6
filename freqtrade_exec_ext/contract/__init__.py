"""The risk contract: ``risk-assessment.yaml`` parsed once into a typed, immutable model."""

from freqtrade_exec_ext.contract.loader import (
    CONTRACT_FILENAME,
    ContractError,
    Problem,
    load_contract,
    parse_contract,
    parse_yaml_text,
)
from freqtrade_exec_ext.contract.locate import find_contract, strategy_dir
from freqtrade_exec_ext.contract.model import RiskContract, field_docs

__all__ = [
    "CONTRACT_FILENAME",
    "ContractError",
    "Problem",
    "RiskContract",
    "field_docs",
    "find_contract",
    "load_contract",
    "parse_contract",
    "parse_yaml_text",
    "strategy_dir",
]
