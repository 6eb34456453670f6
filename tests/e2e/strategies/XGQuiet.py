"""Test strategy: STR-001's contract and the execution mixin, no signal of its own.

The crash and bot-identity e2e tests drive its trades through Freqtrade's REST API
(forceenter / forceexit), so that only the steps under test place orders.
"""

from __future__ import annotations

from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class XGQuiet(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    startup_candle_count = 0
    process_only_new_candles = True
    use_exit_signal = True
    minimal_roi = {"0": 10.0}  # noqa: RUF012

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
