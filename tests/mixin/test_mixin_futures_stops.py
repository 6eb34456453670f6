"""Futures: the contract's stop-loss is a price move from the entry, at any leverage.

Freqtrade's own stop ratio is relative to the margin (at 3x, its -0.03 is a 1 % price
move).  A real futures backtest on the shipped Binance USDT-M candles: every trade's stop
lies exactly the contract's fraction of its entry price away, and risk-per-trade sizing
divides by the leverage.
"""

from __future__ import annotations

import pytest
from mixin_helpers import REPO, base_config, run_backtest, write_contract

pytestmark = pytest.mark.slow

FUT_PAIRS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]


FUT_DATADIR = REPO / "user_data" / "data" / "binance-futures"


@pytest.fixture(scope="module")
def futures_venue():
    from freqtrade_exec_ext.localex.server import LocalExchange

    with LocalExchange(FUT_DATADIR) as ex:
        yield ex


@pytest.fixture(scope="module")
def futures_run(futures_venue, tmp_path_factory, str001_contract_path):
    localex = futures_venue
    root = tmp_path_factory.mktemp("fut")
    contract = write_contract(
        root, str001_contract_path,
        market={"trading_mode": "futures", "margin_mode": "isolated"},
        leverage={"max": 3}, stop_loss={"stoploss": -0.03, "on_exchange": False},
        sizing={"method": "risk_per_trade", "risk_per_trade": 0.01, "max_stake": 300},
    )
    import shutil
    from pathlib import Path

    strategies = root / "strategies"
    shutil.copytree(Path(__file__).parent / "strategies", strategies)
    cfg = base_config(
        localex.base_url, root / "user_data", pairs=FUT_PAIRS, timeframe="1h",
        trading_mode="futures", margin_mode="isolated", strategy_path=str(strategies),
        exec_ext={"risk_contract": str(contract)},
        # Binance futures tickers carry no price: Freqtrade prices from the book
        entry_pricing={"price_side": "same", "use_order_book": True, "order_book_top": 1},
        exit_pricing={"price_side": "same", "use_order_book": True, "order_book_top": 1},
    )
    results, bt = run_backtest(cfg, root, strategy="XMFuturesStops",
                               timerange="20251001-20251201", datadir=FUT_DATADIR)
    return results, bt


def test_every_futures_stop_is_the_contracts_price_move(futures_run):
    results, _ = futures_run
    trades = results["trades"]
    assert len(trades) >= 20
    assert {t["leverage"] for t in trades} == {3.0}
    assert any(t["is_short"] for t in trades) and any(not t["is_short"] for t in trades)
    for t in trades:
        entry = t["open_rate"]
        want = entry * (1.03 if t["is_short"] else 0.97)
        # exact up to Freqtrade's rounding of the stop onto the price tick
        assert t["stop_loss_abs"] == pytest.approx(want, rel=2e-4), t
        # Freqtrade's first stop (its ratio divided by the leverage) was tighter: moved out
        # to the contract's price at the fill, never looser than it
        initial = t["initial_stop_loss_abs"]
        assert (initial <= want * (1 + 2e-4)) if t["is_short"] else (initial >= want * (1 - 2e-4))
    stopped = [t for t in trades if t["exit_reason"] in ("stop_loss", "trailing_stop_loss")]
    assert stopped, "the period should stop out some trades"
    for t in stopped:
        # a long stopped out loses about 3 % of the price, 9 % of its margin (plus fees)
        assert -0.12 < t["profit_ratio"] < -0.085, t


def test_risk_per_trade_stake_accounts_for_leverage(futures_run):
    results, _ = futures_run
    # stake (margin) = equity x 1 % / (3 % x 3): about 1000 x 0.01 / 0.09 = 111
    stakes = [t["stake_amount"] for t in results["trades"]]
    assert 80 < sum(stakes) / len(stakes) < 135, stakes
    assert max(stakes) <= 300
