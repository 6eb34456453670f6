"""Test strategy: position adjustment as ported strategies do it.

The first entry stakes half of what the contract proposes; when a trade is down 3 % it
adds twice its current stake, up to two more times.  Without the mixin's guard, the adds
take a trade far above the contract's ``max_stake`` (Freqtrade does not call
``custom_stake_amount`` for them), and each add is priced from the first entry's decision
so that in a falling market it rarely fills.
"""

from __future__ import annotations

import talib.abstract as ta
from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class XMScaleIn(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    startup_candle_count = 30
    process_only_new_candles = True
    position_adjustment_enable = True
    max_entry_position_adjustment = 2
    minimal_roi = {"0": 0.02}  # noqa: RUF012

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

    def custom_stake_amount(self, pair, current_time, current_rate, proposed_stake, min_stake,
                            max_stake, leverage, entry_tag, side, **kwargs) -> float:
        return proposed_stake / 2

    def adjust_trade_position(self, trade, current_time, current_rate, current_profit,
                              min_stake, max_stake, current_entry_rate, current_exit_rate,
                              current_entry_profit, current_exit_profit, **kwargs):
        if current_profit < -0.03 and trade.nr_of_successful_entries <= 2:
            return 2 * trade.stake_amount
        return None
