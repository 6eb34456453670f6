"""Enters every pair on every candle, never exits by signal, and has
``use_exit_signal = False``: only the kill switch (or a stop) can take it out."""

from __future__ import annotations

from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class OpsAlwaysIn(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    can_short = False
    startup_candle_count = 20
    process_only_new_candles = True
    use_exit_signal = False
    exit_profit_only = False
    minimal_roi = {"0": 0.5}  # noqa: RUF012

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["volume"] > 0, ["enter_long", "enter_tag"]] = (1, "always_in")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
