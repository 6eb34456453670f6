"""STR-001: mean reversion on 5m candles, long-only spot.

Enters when price has stretched below the lower Bollinger band and RSI turns back up
from oversold (below ``buy_rsi``, 25), unless price is more than 3% under its EMA 200 (a falling
knife); exits when price is back above the middle band with RSI above 55, or by ROI.

Every risk limit (stop-loss, sizing, order types, timeouts, slippage budgets) comes from
``.crypto/knowledge/strategies/STR-001/risk-assessment.yaml`` through the execution mixin.
"""

from __future__ import annotations

import talib.abstract as ta
from freqtrade.strategy import IntParameter
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

    minimal_roi = {"0": 0.06, "240": 0.03, "720": 0.015}  # noqa: RUF012

    # hyperoptable (freqtrade hyperopt --spaces roi buy): the oversold RSI level
    buy_rsi = IntParameter(20, 30, default=25, space="buy", optimize=True)

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["ema_slow"] = ta.EMA(dataframe, timeperiod=200)
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        bands = ta.BBANDS(dataframe, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
        dataframe["bb_lower"] = bands["lowerband"]
        dataframe["bb_middle"] = bands["middleband"]
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        level = self.buy_rsi.value
        rsi_turns_up = (dataframe["rsi"] > level) & (dataframe["rsi"].shift(1) <= level)
        dataframe.loc[
            (dataframe["close"] > dataframe["ema_slow"] * 0.97)
            & rsi_turns_up
            & (dataframe["close"] < dataframe["bb_lower"])
            & (dataframe["volume"] > 0),
            ["enter_long", "enter_tag"],
        ] = (1, "oversold_reversal")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[
            (dataframe["close"] > dataframe["bb_middle"])
            & (dataframe["rsi"] > 55)
            & (dataframe["volume"] > 0),
            ["exit_long", "exit_tag"],
        ] = (1, "back_to_middle_band")
        return dataframe
