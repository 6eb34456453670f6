"""Finding strays: orders of ours on the exchange that nothing accounts for (pure).

The order journal and Freqtrade's orders table account for every order the guard sent,
except one kind: a second order under a client order id that already has one.  Binance
refuses a repeated client order id only while the first order is *open*, so when its
backend executes a lost request late, after the same client id was sent again and filled,
both fill and only one is in Freqtrade's database.  The sweep lists the account's recent
orders and picks out those:

* whose client order id has our prefix **and** is in this strategy's journal (an order
  another bot of this package sent carries the prefix too, but not our journal's ids);
* whose exchange order id neither Freqtrade tracks nor a journal row accounts for
  (``cancelled``/``adopted``/stray rows, the guard's own sell-backs);
* that are open, or have fills (a cancelled or expired order with nothing filled is
  harmless);
* that are not a placement still being settled (a pending journal row whose order is this
  one, or not known yet, is the reconciliation's: Freqtrade may be saving it right now).

What to do with one is :func:`undo_amount`: an open stray is cancelled; whatever it filled
is traded back, so the account holds what the open trades hold.  No I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

#: journal statuses of a row whose order Freqtrade (or the guard) is settling right now
SETTLING = ("sending", "accepted", "unknown")
#: journal statuses whose ``order_id`` the journal itself accounts for
ACCOUNTED = (
    "cancelled",
    "adopted",
    "guard_order",
    "stray_cancelled",
    "stray_sold_back",
    "stray_balanced",
    "stray_unresolved",
)
OPEN_STATUSES = ("open", "new", "partially_filled")


class Row(Protocol):
    """A journal row, as far as the sweep reads it."""

    @property
    def client_order_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def order_id(self) -> str | None: ...
    @property
    def intent(self) -> str: ...


@dataclass(frozen=True)
class Seen:
    """One order as the exchange lists it (ccxt's unified fields)."""

    order_id: str
    client_order_id: str
    symbol: str
    side: str
    status: str
    amount: float
    filled: float
    price: float = 0.0  # average fill price, else the limit price

    @property
    def is_open(self) -> bool:
        return self.status.lower() in OPEN_STATUSES

    @classmethod
    def of(cls, order: Mapping[str, Any]) -> Seen:
        info = order.get("info") or {}
        cid = order.get("clientOrderId") or info.get("clientOrderId") or ""
        return cls(
            order_id=str(order.get("id") or ""),
            client_order_id=str(cid),
            symbol=str(order.get("symbol") or ""),
            side=str(order.get("side") or ""),
            status=str(order.get("status") or ""),
            amount=float(order.get("amount") or 0.0),
            filled=float(order.get("filled") or 0.0),
            price=float(order.get("average") or order.get("price") or 0.0),
        )


@dataclass(frozen=True)
class Stray:
    order: Seen
    parent: str  # the client order id (journal row) it was sent under


def find_strays(
    orders: Iterable[Seen],
    rows: Mapping[str, Row],
    tracked: Callable[[str, str], bool],
    *,
    prefix: str,
) -> list[Stray]:
    """The orders nothing accounts for (see the module docstring).

    ``rows``: this strategy's journal rows by client order id; ``tracked(order_id,
    symbol)``: whether Freqtrade's database holds that order.
    """
    accounted = {r.order_id for r in rows.values() if r.status in ACCOUNTED and r.order_id}
    out: list[Stray] = []
    for o in orders:
        if not o.client_order_id.startswith(prefix) or not o.order_id:
            continue
        row = rows.get(o.client_order_id)
        if row is None or o.order_id in accounted:
            continue
        if not o.is_open and o.filled <= 0:
            continue
        if row.status in SETTLING and row.order_id in (None, "", o.order_id):
            continue  # the reconciliation settles it (Freqtrade may be saving it now)
        if tracked(o.order_id, o.symbol):
            continue
        out.append(Stray(o, row.client_order_id))
    return out


def undo_amount(filled: float, off_by: float | None, step: float | None) -> float:
    """How much of a stray's fill to trade back: at most what it filled, and at most how
    far the account is off what the open trades hold in its direction (``off_by``: the
    excess after a stray buy, the shortfall after a stray sell; None when not known, e.g.
    futures), rounded down to the market's amount ``step``.  Trading back the excess
    rather than the stray's net fill also takes the sub-step dust of earlier fills, so the
    account ends within one step of the trades.  0 when nothing can be traded back."""
    amount = max(0.0, filled)
    if off_by is not None:
        amount = min(amount, max(0.0, off_by))
    if step and step > 0:
        amount = math.floor(amount / step + 1e-9) * step
    return max(0.0, amount)
