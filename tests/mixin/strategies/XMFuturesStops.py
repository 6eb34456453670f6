"""Test strategy: 1h futures, long and short, asks for 5x leverage (the contract caps it).

Enters long when RSI crosses up from below 35, short when it crosses down from above 65,
exits on the opposite cross; the stop-loss comes from the contract.
"""

from __future__ import annotations

import talib.abstract as ta
from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class XMFuturesStops(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "1h"
    can_short = True
    startup_candle_count = 30
    process_only_new_candles = True
    minimal_roi = {"0": 10.0}  # noqa: RUF012

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        rsi = dataframe["rsi"]
        dataframe.loc[(rsi > 35) & (rsi.shift(1) <= 35), "enter_long"] = 1
        dataframe.loc[(rsi < 65) & (rsi.shift(1) >= 65), "enter_short"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        rsi = dataframe["rsi"]
        dataframe.loc[(rsi < 65) & (rsi.shift(1) >= 65), "exit_long"] = 1
        dataframe.loc[(rsi > 35) & (rsi.shift(1) <= 35), "exit_short"] = 1
        return dataframe

    def leverage(self, pair, current_time, current_rate, proposed_leverage, max_leverage,
                 entry_tag, side, **kwargs) -> float:
        return 5.0
