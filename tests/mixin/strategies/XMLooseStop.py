"""Test strategy: a ported strategy's own custom_stoploss that is looser than the contract.

It returns -0.30 on every call, ``after_fill`` included, where Freqtrade lets a stop move
down: without the mixin's guard the stop ends 30 % below the price.  Entries on an RSI
turn up; no exit signal, ROI far away, so trades end at their stop (or the backtest end).
"""

from __future__ import annotations

import talib.abstract as ta
from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class XMLooseStop(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    startup_candle_count = 30
    process_only_new_candles = True
    use_custom_stoploss = True
    stoploss = -0.30  # the ported strategy's own value: the contract's replaces it
    minimal_roi = {"0": 10.0}  # noqa: RUF012

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        rsi = dataframe["rsi"]
        dataframe.loc[(rsi > 30) & (rsi.shift(1) <= 30), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def custom_stoploss(self, pair, trade, current_time, current_rate, current_profit,
                        after_fill, **kwargs) -> float | None:
        return -0.30
