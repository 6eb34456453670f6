"""Small Freqtrade databases written with Freqtrade's own models (init_db, Trade, Order,
set_custom_data), with numbers chosen so that every metric can be checked by hand.

Trade 1  BTC/USDT  ledger: cancelled buy @100.0, filled buy @100.2 (decision 100.0, arrival
         100.1, spread 1 bps, maker, fee 0.1002 USDT, budget 15 -> 20 bps over budget),
         filled sell @100.95 (requested 101.0, decision 101.0, arrival 101.05, spread
         2 bps, taker, fee 0.10095, budget 30).
Trade 2  ETH/USDT  no ledger: market buy requested 2000 filled 2001 (0.5), cancelled sell
         @2010, then sell filled @2005 (0.5).
Trade 3  SOL/USDT  no ledger: buy limit @50 for 2, 1 filled, then cancelled (open trade).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from freqtrade_exec_ext.cli.main import main

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).replace(tzinfo=None)


def _ledger(order_id: str, trade_id: int, **kw: Any) -> dict[str, Any]:
    base = {
        "strategy_id": "STR-001", "pair": "BTC/USDT", "is_short": False,
        "order_type": "limit", "order_id": order_id, "trade_id": trade_id,
        "runmode": "dry_run", "decision_time": None, "arrival_spread_bps": None,
        "fee_currency": "USDT", "fee_inferred": False, "funding_fees": 0.0,
        "reprice_count": 0, "placed_time": None, "filled_time": None, "time_to_fill_s": None,
        "exit_reason": None, "backtest_slippage_bps": 0.0, "schema_version": 1,
    }
    base.update(kw)
    return base


def build(url: str, *, ledger: bool = True, only_fallback: bool = False) -> None:
    """Write the three trades above into ``url`` (a fresh database)."""
    from freqtrade.enums import TradingMode
    from freqtrade.persistence import Order, Trade, init_db

    init_db(url)

    def trade(pair: str, amount: float, rate: float, is_open: bool) -> Trade:
        return Trade(
            pair=pair, exchange="binance", base_currency=pair.split("/")[0],
            stake_currency="USDT", is_open=is_open, fee_open=0.001, fee_close=0.001,
            open_rate=rate, open_rate_requested=rate, stake_amount=amount * rate,
            amount=amount, open_date=T0, strategy="STR001", timeframe=5,
            trading_mode=TradingMode.SPOT, leverage=1.0, is_short=False,
        )

    def order(side: str, pair: str, otype: str, status: str, ft_price: float, amount: float,
              filled: float, average: float | None, placed: datetime, oid: str,
              filled_at: datetime | None = None) -> Order:
        return Order(
            ft_order_side=side, ft_pair=pair, ft_is_open=False, ft_amount=amount,
            ft_price=ft_price, order_id=oid, status=status, symbol=pair, order_type=otype,
            side=side, price=ft_price, average=average, amount=amount, filled=filled,
            remaining=amount - filled, cost=filled * (average or 0.0), order_date=placed,
            order_filled_date=filled_at, funding_fee=0.0,
        )

    trades = []
    if not only_fallback:
        t1 = trade("BTC/USDT", 1.0, 100.2, False)
        t1.orders = [
            order("buy", "BTC/USDT", "limit", "canceled", 100.0, 1.0, 0.0, None, T0,
                  "dry_run_buy_BTC/USDT_1"),
            order("buy", "BTC/USDT", "limit", "closed", 100.2, 1.0, 1.0, 100.2,
                  T0 + timedelta(seconds=60), "dry_run_buy_BTC/USDT_2",
                  T0 + timedelta(seconds=80)),
            order("sell", "BTC/USDT", "limit", "closed", 101.0, 1.0, 1.0, 100.95,
                  T0 + timedelta(hours=2), "dry_run_sell_BTC/USDT_3",
                  T0 + timedelta(hours=2, seconds=5)),
        ]
        trades.append(t1)
    t2 = trade("ETH/USDT", 0.5, 2001.0, False)
    t2.orders = [
        order("buy", "ETH/USDT", "market", "closed", 2000.0, 0.5, 0.5, 2001.0,
              T0 + timedelta(minutes=5), "dry_run_buy_ETH/USDT_4",
              T0 + timedelta(minutes=5, seconds=1)),
        order("sell", "ETH/USDT", "limit", "canceled", 2010.0, 0.5, 0.0, None,
              T0 + timedelta(hours=1), "dry_run_sell_ETH/USDT_5"),
        order("sell", "ETH/USDT", "limit", "closed", 2005.0, 0.5, 0.5, 2005.0,
              T0 + timedelta(hours=1, minutes=10), "dry_run_sell_ETH/USDT_6",
              T0 + timedelta(hours=1, minutes=11)),
    ]
    t3 = trade("SOL/USDT", 1.0, 50.0, True)
    t3.orders = [
        order("buy", "SOL/USDT", "limit", "canceled", 50.0, 2.0, 1.0, 50.0,
              T0 + timedelta(hours=3), "dry_run_buy_SOL/USDT_7",
              T0 + timedelta(hours=3, minutes=2)),
    ]
    trades += [t2, t3]
    for t in trades:
        Trade.session.add(t)
    Trade.session.commit()
    if ledger and not only_fallback:
        t1 = trades[0]
        t1.set_custom_data("exec_ext.fill.dry_run_buy_BTC/USDT_2", _ledger(
            "dry_run_buy_BTC/USDT_2", t1.id, side="buy", intent="entry",
            decision_price=100.0, arrival_mid=100.1, requested_price=100.2, fill_price=100.2,
            filled_amount=1.0, ordered_amount=1.0, notional=100.2,
            slippage_decision_bps=20.0, slippage_arrival_bps=9.99, spread_cost_bps=1.0,
            fee_cost=0.1002, fee_rate=0.001, liquidity="maker", slippage_budget_bps=15.0,
            over_budget=True))
        t1.set_custom_data("exec_ext.fill.dry_run_sell_BTC/USDT_3", _ledger(
            "dry_run_sell_BTC/USDT_3", t1.id, side="sell", intent="exit",
            decision_price=101.0, arrival_mid=101.05, requested_price=101.0,
            fill_price=100.95, filled_amount=1.0, ordered_amount=1.0, notional=100.95,
            slippage_decision_bps=4.95, slippage_arrival_bps=9.9, spread_cost_bps=2.0,
            fee_cost=0.10095, fee_rate=0.001, liquidity="taker", slippage_budget_bps=30.0,
            over_budget=False))
    Trade.session.remove()
    Trade.session.get_bind().dispose()


def sqlite_db(path: Path, **kw: Any) -> str:
    url = f"sqlite:///{path}"
    build(url, **kw)
    return url


def run_report(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
               ) -> tuple[int, dict[str, Any] | None, str, str]:
    out = tmp_path / "report.json"
    rc = main(["report", *args, "--json", str(out)])
    cap = capsys.readouterr()
    data = json.loads(out.read_text()) if rc == 0 else None
    return rc, data, cap.out, cap.err


def group(data: dict[str, Any], pair: str, side: str) -> dict[str, Any]:
    return next(g for g in data["groups"] if g["pair"] == pair and g["side"] == side)


def execution(data: dict[str, Any], trade_id: int, side: str) -> dict[str, Any]:
    return next(e for e in data["executions"]["worst"]
                if e["trade_id"] == trade_id and e["side"] == side)
