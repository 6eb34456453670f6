"""STR-001: trend pullback on 5m candles, long-only spot.

Enters when the trend is up (EMA 50 above EMA 200, ADX confirms a trend) and RSI turns
back up from oversold-ish levels near the lower Bollinger band; exits when RSI is
overbought or the trend breaks.  Every risk limit (stop-loss, sizing, order types,
timeouts, slippage budgets) comes from
``.crypto/knowledge/strategies/STR-001/risk-assessment.yaml`` through the execution mixin.
"""

from __future__ import annotations

import talib.abstract as ta
from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class STR001(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"

    timeframe = "5m"
    can_short = False
    startup_candle_count = 200
    process_only_new_candles = True
    use_exit_signal = True
    exit_profit_only = False

    minimal_roi = {"0": 0.04, "120": 0.025, "360": 0.012}  # noqa: RUF012

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["ema_fast"] = ta.EMA(dataframe, timeperiod=50)
        dataframe["ema_slow"] = ta.EMA(dataframe, timeperiod=200)
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        dataframe["adx"] = ta.ADX(dataframe, timeperiod=14)
        bands = ta.BBANDS(dataframe, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
        dataframe["bb_lower"] = bands["lowerband"]
        dataframe["bb_middle"] = bands["middleband"]
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        rsi_turns_up = (dataframe["rsi"] > 35) & (dataframe["rsi"].shift(1) <= 35)
        dataframe.loc[
            (dataframe["ema_fast"] > dataframe["ema_slow"])
            & (dataframe["adx"] > 20)
            & rsi_turns_up
            & (dataframe["close"] < dataframe["bb_middle"])
            & (dataframe["volume"] > 0),
            ["enter_long", "enter_tag"],
        ] = (1, "trend_pullback")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[
            ((dataframe["rsi"] > 75) | (dataframe["close"] < dataframe["ema_slow"]))
            & (dataframe["volume"] > 0),
            ["exit_long", "exit_tag"],
        ] = (1, "rsi_overbought_or_trend_break")
        return dataframe
