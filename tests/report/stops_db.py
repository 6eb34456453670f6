"""Freqtrade databases whose trades carry stops set by Freqtrade's own ``adjust_stop_loss``
(issue 18): a ported strategy's -0.30 stop under a contract of -0.10, and compliant ones.

Trades (contract: stoploss -0.10, max_exit_bps 30):

1  BTC/USDT  spot long, Freqtrade stop -0.30 at 100 -> 70; exited trailing_stop_loss at
             70.4 (-29.6 %): a stop looser than the contract AND a stop-out beyond it.
   (only with ``loose=True``)
2  ETH/USDT  spot long, stop -0.10 at 2000 -> 1800; exited stop_loss at 1796 (-10.2 %,
             within the 30 bps exit budget below 1800: 1794.6).
3  SOL/USDT  futures short 3x, Freqtrade stop -0.30 (of margin) at 50 -> 55 (+10 %): open.
4  XRP/USDT  futures short 3x, Freqtrade stop -0.90 (of margin) at 2.0 -> 2.6 (+30 %):
   open, a stop looser than the contract (only with ``loose=True``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).replace(tzinfo=None)
CONTRACT_STOP = -0.10


def contract(tmp: Path, source: Path, stoploss: float = CONTRACT_STOP) -> Path:
    """STR-001's contract with another ``stop_loss.stoploss``."""
    text = source.read_text(encoding="utf-8")
    assert "  stoploss: -0.05\n" in text
    out = tmp / "risk-assessment.yaml"
    out.write_text(text.replace("  stoploss: -0.05\n", f"  stoploss: {stoploss}\n"), "utf-8")
    return out


def build(url: str, *, loose: bool, only: tuple[int, ...] = (1, 2, 3, 4)) -> None:
    from freqtrade.enums import TradingMode
    from freqtrade.persistence import Order, Trade, init_db

    init_db(url)

    def order(side: str, pair: str, price: float, amount: float, oid: str, at: datetime,
              entry_side: str) -> Order:
        return Order(
            ft_order_side=side, ft_pair=pair, ft_is_open=False, ft_amount=amount,
            ft_price=price, order_id=oid, status="closed", symbol=pair, order_type="limit",
            side=side if side != "stoploss" else ("buy" if entry_side == "sell" else "sell"),
            price=price, average=price, amount=amount, filled=amount, remaining=0.0,
            cost=price * amount, order_date=at, order_filled_date=at, funding_fee=0.0,
        )

    def trade(n: int, pair: str, rate: float, ft_stop: float, *, short: bool = False,
              lev: float = 1.0, close: float | None = None, reason: str | None = None) -> Trade:
        futures = lev > 1 or short
        t = Trade(
            pair=pair, exchange="binance", base_currency=pair.split("/")[0],
            stake_currency="USDT", is_open=close is None, fee_open=0.001, fee_close=0.001,
            open_rate=rate, open_rate_requested=rate, stake_amount=rate / lev, amount=1.0,
            open_date=T0, strategy="STR001", timeframe=5, leverage=lev, is_short=short,
            trading_mode=TradingMode.FUTURES if futures else TradingMode.SPOT,
        )
        t.adjust_stop_loss(rate, ft_stop, initial=True)  # Freqtrade's own stop price
        entry, exit_ = ("sell", "buy") if short else ("buy", "sell")
        at = T0 + timedelta(minutes=n)
        t.orders = [order(entry, pair, rate, 1.0, f"e{n}", at, entry)]
        if close is not None:
            t.orders.append(order(exit_, pair, close, 1.0, f"x{n}", at + timedelta(hours=1),
                                  entry))
            t.close_rate, t.exit_reason = close, reason
            t.close_date = at + timedelta(hours=1)
        return t

    wanted = [n for n in only if loose or n in (2, 3)]
    made = {
        1: lambda: trade(1, "BTC/USDT", 100.0, -0.30, close=70.4, reason="trailing_stop_loss"),
        2: lambda: trade(2, "ETH/USDT", 2000.0, -0.10, close=1796.0, reason="stop_loss"),
        3: lambda: trade(3, "SOL/USDT", 50.0, -0.30, short=True, lev=3.0),
        4: lambda: trade(4, "XRP/USDT", 2.0, -0.90, short=True, lev=3.0),
    }
    for n in wanted:
        Trade.session.add(made[n]())
    Trade.session.commit()
    Trade.session.remove()
    Trade.session.get_bind().dispose()
