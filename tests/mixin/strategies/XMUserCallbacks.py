"""Test strategy: a user's own callbacks on top of the mixin (no super() calls)."""

from __future__ import annotations

import talib.abstract as ta
from pandas import DataFrame

from freqtrade_exec_ext import ExecutionMixin


class XMUserCallbacks(ExecutionMixin):
    INTERFACE_VERSION = 3
    strategy_id = "STR-001"
    timeframe = "5m"
    startup_candle_count = 30
    minimal_roi = {"0": 0.02}  # noqa: RUF012

    def bot_start(self, **kwargs) -> None:
        self.calls = {"confirm": 0, "stake": 0, "price": 0}

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["rsi"] < 30, "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe.loc[dataframe["rsi"] > 70, "exit_long"] = 1
        return dataframe

    def confirm_trade_entry(self, pair, order_type, amount, rate, time_in_force, current_time,
                            entry_tag, side, **kwargs) -> bool:
        self.calls["confirm"] += 1
        return pair != "XRP/USDT"  # the user's own veto

    def custom_stake_amount(self, pair, current_time, current_rate, proposed_stake, min_stake,
                            max_stake, leverage, entry_tag, side, **kwargs) -> float:
        self.calls["stake"] += 1
        return 10_000.0  # far above the contract: the mixin must cap it

    def custom_entry_price(self, pair, trade, current_time, proposed_rate, entry_tag, side,
                           **kwargs) -> float:
        self.calls["price"] += 1
        return proposed_rate * 1.01  # 100 bps above: the mixin must keep it in budget
