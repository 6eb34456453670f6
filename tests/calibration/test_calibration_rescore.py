"""rescore's profit arithmetic against Freqtrade's own trade model."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from synthetic import attempt, market
from test_calibration_apply import _model

from freqtrade_exec_ext.calibration import apply
from freqtrade_exec_ext.calibration.fit import FitSettings, fit_stops
from freqtrade_exec_ext.calibration.model import save
from freqtrade_exec_ext.calibration.rescore import rescore, summary_lines

GAP = 7.0  # every stop in the data filled 7 bps beyond its stop
FEE = 0.0005


@pytest.fixture
def costs(tmp_path):
    stops = [replace(attempt("BTC/USDT", intent="exit", side=side, i=i, fee=FEE),
                     stop=True, slippage_bps=GAP)
             for i in range(30) for side in ("sell", "buy")]
    model = _model(market(200))
    model = model.model_copy(update={"stops": fit_stops(stops, FitSettings())})
    save(model, tmp_path / "m.json")
    return apply.load_for_backtest(tmp_path / "m.json", backtest_fee=0.001)


@pytest.mark.parametrize("short", [False, True])
def test_a_stop_exit_is_moved_and_its_profit_is_freqtrades(costs, short):
    from freqtrade.enums import TradingMode
    from freqtrade.persistence import LocalTrade

    kw = {"pair": "BTC/USDT", "amount": 0.002, "open_rate": 100_000.0, "fee_open": 0.001,
              "fee_close": 0.001, "is_short": short, "leverage": 2.0 if short else 1.0,
              "exchange": "binance", "stake_amount": 100.0,
              "open_date": datetime(2025, 1, 1, tzinfo=UTC),
              "trading_mode": TradingMode.FUTURES if short else TradingMode.SPOT}
    close = 101_000.0 if short else 99_000.0  # the stop price
    before = LocalTrade(**kw).calc_profit(close)
    trade = {**kw, "open_date": "2025-01-01 00:00:00+00:00", "close_rate": close,
             "profit_abs": before, "profit_ratio": 0.0, "exit_reason": "stop_loss",
             "close_date": "2025-01-01 01:00:00+00:00"}
    trade.pop("exchange"), trade.pop("trading_mode")
    r = rescore(costs, [trade])
    moved = close * (1 + GAP / 1e4) if short else close * (1 - GAP / 1e4)
    expected = LocalTrade(**{**kw, "fee_close": FEE}).calc_profit(moved)
    assert r.trades[0]["close_rate"] == pytest.approx(moved)
    assert r.trades[0]["profit_abs"] == pytest.approx(expected, rel=1e-9)
    assert r.profit_after == pytest.approx(expected)
    assert any("stop-loss exit" in line for line in summary_lines(r, 1))


def test_signal_exits_are_left_to_the_mixin(costs):
    trade = {"pair": "BTC/USDT", "amount": 1.0, "open_rate": 100.0, "close_rate": 101.0,
             "fee_open": 0.001, "fee_close": 0.001, "is_short": False, "profit_abs": 0.8,
             "exit_reason": "exit_signal", "open_date": "2025-01-01 00:00:00+00:00",
             "close_date": "2025-01-01 01:00:00+00:00"}
    r = rescore(costs, [trade])
    assert r.trades[0] == trade and not r.changes
    assert any("no stop-loss, ROI" in line for line in summary_lines(r, 1))
    everything = rescore(costs, [trade], all_fills=True)
    assert everything.profit_after < trade["profit_abs"]  # entry and exit now cost
