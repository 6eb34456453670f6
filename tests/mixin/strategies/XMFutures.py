"""Test strategy: always enters long on futures; asks for 10x leverage (the contract caps it)."""

from __future__ import annotations

from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class XMFutures(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    startup_candle_count = 0
    process_only_new_candles = False
    minimal_roi = {"0": 10.0}  # noqa: RUF012

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def leverage(self, pair, current_time, current_rate, proposed_leverage, max_leverage,
                 entry_tag, side, **kwargs) -> float:
        return 10.0
