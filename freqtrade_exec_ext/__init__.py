"""freqtrade-exec-ext: everything between a Freqtrade signal and the filled order.

The public API is small:

* :class:`ExecutionMixin`: a strategy base class that enforces a strategy's
  ``risk-assessment.yaml`` inside Freqtrade's callbacks and records the execution
  quality of every fill.
* :func:`load_contract` / :class:`RiskContract`: the typed, immutable risk contract.

``ExecutionMixin`` is imported lazily so that the CLI (``freqtrade-exec risk check``)
starts without importing Freqtrade.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from freqtrade_exec_ext.contract import ContractError, RiskContract, load_contract

__version__ = "0.1.0"

__all__ = ["ContractError", "ExecutionMixin", "RiskContract", "__version__", "load_contract"]

if TYPE_CHECKING:
    from freqtrade_exec_ext.strategy.mixin import ExecutionMixin


def __getattr__(name: str) -> Any:
    if name == "ExecutionMixin":
        from freqtrade_exec_ext.strategy.mixin import ExecutionMixin

        return ExecutionMixin
    raise AttributeError(f"module 'freqtrade_exec_ext' has no attribute {name!r}")
