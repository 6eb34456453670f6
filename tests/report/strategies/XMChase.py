"""Test strategy: STR-001's contract, enters on every candle; exits when told to."""

from __future__ import annotations

from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class XMChase(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    startup_candle_count = 0
    process_only_new_candles = False
    use_exit_signal = True
    minimal_roi = {"0": 10.0}  # noqa: RUF012
    exit_now = False  # set on the instance by the test

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0 if self.exit_now else 1
        dataframe["enter_tag"] = "always"
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 1 if self.exit_now else 0
        return dataframe
