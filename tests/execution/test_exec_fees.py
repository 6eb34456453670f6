"""Live fees from the exchange's fills: summed, converted, maker or taker."""

from __future__ import annotations

import pytest

from freqtrade_exec_ext.execution.fees import fees_from_trades


def test_fees_summed_and_base_fees_converted_at_the_fill_price():
    trades = [
        {"amount": 0.6, "price": 100.0, "takerOrMaker": "maker",
         "fee": {"cost": 0.054, "currency": "USDT"}},
        {"amount": 0.4, "price": 100.0, "takerOrMaker": "taker",
         "fee": {"cost": 0.0004, "currency": "BTC"}},  # 0.04 USDT
    ]
    f = fees_from_trades(trades, base="BTC", quote="USDT", notional=100.0)
    assert f.cost == pytest.approx(0.094) and f.currency == "USDT"
    assert f.rate == pytest.approx(0.00094)
    assert f.liquidity == "maker"  # 0.6 of 1.0 filled as maker


def test_fee_in_a_third_currency_has_no_rate():
    trades = [{"amount": 1.0, "price": 100.0, "takerOrMaker": "taker",
               "fee": {"cost": 0.0002, "currency": "BNB"}}]
    f = fees_from_trades(trades, base="BTC", quote="USDT", notional=100.0)
    assert f.currency == "BNB" and f.rate is None and f.liquidity == "taker"


def test_no_trades_no_rate():
    f = fees_from_trades([], base="BTC", quote="USDT", notional=100.0)
    assert f.cost == 0.0 and f.rate is None and f.liquidity is None
