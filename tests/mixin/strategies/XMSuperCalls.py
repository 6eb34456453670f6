"""Test strategy: a user's callbacks that follow the super() contract."""

from __future__ import annotations

from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class XMSuperCalls(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    minimal_roi = {"0": 0.02}  # noqa: RUF012

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def custom_stake_amount(self, **kwargs) -> float:
        return super().custom_stake_amount(**kwargs) / 2  # half the contract's stake

    def leverage(self, **kwargs) -> float:
        return 10.0  # the contract caps it
