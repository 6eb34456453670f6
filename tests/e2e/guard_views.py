"""What the order-guard e2e tests check and print: the venue's own order list, and what
the account holds against what Freqtrade's open trades hold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

LOT_STEP = 1e-5  # BTCUSDT's amount step: the dust a sell rounded to it leaves behind


def order_lines(orders: Iterable[Any], tracked: set[str], journal: Iterable[Any]) -> list[str]:
    """One line per venue order (``localex`` Order objects or ``/_admin/state`` dicts):
    who accounts for it (Freqtrade's database, else the order journal's status)."""
    statuses = {j.order_id: f"{j.intent}:{j.status}" for j in journal if j.order_id}
    lines = []
    for o in orders:
        get = o.get if isinstance(o, dict) else lambda k, o=o: getattr(o, k)
        oid = str(get("order_id"))
        who = "in Freqtrade" if oid in tracked else f"journal {statuses.get(oid, 'UNKNOWN')}"
        lines.append(
            f"  {oid:>10} {get('side'):<4} {get('type'):<15} {get('status'):<9} "
            f"{float(get('executed_qty')):.5f}/{float(get('orig_qty')):.5f} "
            f"{get('client_order_id')} {who}"
        )
    return lines


def holdings_line(account_btc: float, trades_btc: float) -> str:
    return (
        f"  account holds {account_btc:.8f} BTC; open trades hold {trades_btc:.8f} BTC; "
        f"difference {account_btc - trades_btc:+.8f}"
    )


def open_trades_btc(trades: Iterable[Any]) -> float:
    return float(sum(t.amount for t in trades if t.is_open and t.pair.startswith("BTC/")))


def venue_btc(engine: Any) -> float:
    free, locked = engine.spot_balances().get("BTC", (0.0, 0.0))
    return float(free + locked)


def print_report(title: str, orders: list[str], holdings: str, journal: Iterable[Any]) -> None:
    print(f"\n{title}\nvenue orders (BTCUSDT):")
    print("\n".join(orders))
    print(holdings)
    print("journal: " + ", ".join(f"{j.intent}:{j.status}" for j in journal))
