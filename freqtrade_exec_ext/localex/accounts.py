"""The one account the venue serves: spot balances, the USDT-M wallet and positions (pure).

* **Spot**: free/locked per asset.  Orders lock the quote (buys, ``qty × price``) or the
  base (sells).  Commission is charged in the asset received (base on buys, quote on
  sells), at the maker or taker rate, as on Binance without BNB.
* **USDT-M**: one-way mode, one position per symbol (signed amount, average entry price,
  leverage, cross/isolated).  Opening needs ``notional / leverage`` of available balance
  (else -2019); closing realises PnL into the wallet; commission in USDT.  Funding moves
  ``-position × mark × rate`` into the wallet (longs pay a positive rate).  No liquidations.

Prices come in through ``mark`` (symbol -> current mark price); the orders that reserve
margin are the engine's, which passes their total where it matters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from freqtrade_exec_ext.localex.errors import VenueError, missing_param
from freqtrade_exec_ext.localex.model import (
    DEFAULT_FUTURES_BALANCE,
    DEFAULT_SPOT_BALANCES,
    EPS,
    Income,
    Order,
    Position,
    apply_position_fill,
    q8,
)

INSUFFICIENT = "Account has insufficient balance for requested action."
MARGIN_TYPES = {"ISOLATED": "isolated", "CROSSED": "cross", "CROSS": "cross"}


class Accounts:
    """Balances, positions and the income history of the account."""

    def __init__(
        self,
        mark: Callable[[str], float],
        *,
        spot_balances: dict[str, float] | None = None,
        futures_balance: float = DEFAULT_FUTURES_BALANCE,
        default_leverage: int = 20,
    ) -> None:
        self.mark = mark
        self.default_leverage = default_leverage
        self.spot: dict[str, list[float]] = {
            a: [q8(v), 0.0] for a, v in (spot_balances or DEFAULT_SPOT_BALANCES).items()
        }
        self.wallet = q8(futures_balance)  # USDT-M wallet balance (USDT)
        self.positions: dict[str, Position] = {}
        self.income: list[Income] = []
        self._next_tran = 1

    # ------------------------------------------------------------ records

    def spot_bal(self, asset: str) -> list[float]:
        return self.spot.setdefault(asset, [0.0, 0.0])

    def position(self, symbol: str) -> Position:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = Position(symbol, leverage=self.default_leverage, update_time=0)
            self.positions[symbol] = pos
        return pos

    def record_income(
        self, symbol: str, kind: str, amount: float, t: int, trade_id: int | None = None
    ) -> None:
        self.income.append(Income(self._next_tran, symbol, kind, q8(amount), "USDT", t, trade_id))
        self._next_tran += 1

    # ------------------------------------------------------------ USDT-M figures

    def unrealized(self, pos: Position) -> float:
        if pos.amount == 0:
            return 0.0
        return pos.amount * (self.mark(pos.symbol) - pos.entry_price)

    @staticmethod
    def position_margin(pos: Position) -> float:
        if pos.amount == 0:
            return 0.0
        return abs(pos.amount) * pos.entry_price / pos.leverage

    def available_balance(self, reserved: float) -> float:
        """Wallet + unrealized PnL - position margin - ``reserved`` (open orders)."""
        upnl = sum(self.unrealized(p) for p in self.positions.values())
        used = sum(self.position_margin(p) for p in self.positions.values())
        return max(0.0, self.wallet + upnl - used - reserved)

    # ------------------------------------------------------------ order holds

    def lock_spot(self, o: Order, rules: Any, walk_cost: Callable[[], float]) -> None:
        """Lock what a new spot order may spend (-2010 when the free balance is short).

        Market buys spend as they walk the book: ``walk_cost`` (the walk's cost now) is
        checked, nothing is locked."""
        if o.side == "SELL":
            need, asset = o.orig_qty, rules.base
        elif o.type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
            need = (o.quote_order_qty or walk_cost()) if o.type == "MARKET" else 0.0
            if self.spot_bal(rules.quote)[0] + EPS < need:
                raise VenueError(-2010, INSUFFICIENT)
            return
        else:
            need, asset = q8(o.orig_qty * o.price), rules.quote
        bal = self.spot_bal(asset)
        if bal[0] + EPS < need:
            raise VenueError(-2010, INSUFFICIENT)
        bal[0] = q8(bal[0] - need)
        bal[1] = q8(bal[1] + need)
        o.locked_asset, o.locked_amount = asset, q8(need)

    def reserve_margin(self, o: Order, ref: float, reserved: float) -> None:
        """Reserve the initial margin of what a USDT-M order opens (-2019 when short;
        -2022 for a reduce-only order that would not reduce)."""
        pos = self.position(o.symbol)
        signed = o.orig_qty if o.side == "BUY" else -o.orig_qty
        reduces = pos.amount != 0 and (pos.amount > 0) != (signed > 0)
        if o.reduce_only:
            if not reduces:
                raise VenueError(-2022, "ReduceOnly Order is rejected.")
            return
        opening = o.orig_qty - (abs(pos.amount) if reduces else 0.0)
        if opening <= EPS:
            return
        need = q8(opening * (o.price or ref) / pos.leverage)
        if need > self.available_balance(reserved) + EPS:
            raise VenueError(-2019, "Margin is insufficient.")
        o.margin_reserved = need
        o.margin_per_qty = need / o.orig_qty

    def reduce_allowance(self, o: Order) -> float:
        """How much a reduce-only USDT-M order may still trade (0: it would open or flip)."""
        pos = self.positions.get(o.symbol)
        amount = pos.amount if pos else 0.0
        reducing = amount != 0 and (amount > 0) == (o.side == "SELL")
        return abs(amount) if reducing else 0.0

    def release(self, o: Order) -> None:
        """Give back what an order still locks (spot) or reserves (futures)."""
        if o.market == "spot" and o.locked_asset and o.locked_amount > 0:
            bal = self.spot_bal(o.locked_asset)
            bal[1] = q8(bal[1] - o.locked_amount)
            bal[0] = q8(bal[0] + o.locked_amount)
        o.locked_amount = 0.0
        o.margin_reserved = 0.0

    # ------------------------------------------------------------ settlement

    def settle(
        self, o: Order, rules: Any, price: float, qty: float, rate: float, t: int
    ) -> tuple[float, str, float]:
        """Book one fill of ``o``: ``(commission, commission asset, realized PnL)``."""
        quote = q8(qty * price)
        if o.market != "spot":
            commission = q8(quote * rate)
            pos = self.position(o.symbol)
            signed = qty if o.side == "BUY" else -qty
            pos.amount, pos.entry_price, realized = apply_position_fill(
                pos.amount, pos.entry_price, signed, price
            )
            pos.update_time = t
            realized = q8(realized)
            self.wallet = q8(self.wallet + realized - commission)
            return commission, "USDT", realized
        if o.side == "BUY":
            commission = q8(qty * rate)
            bal = self.spot_bal(rules.quote)
            if o.locked_asset:  # a limit buy locked qty × price
                release = q8(qty * o.price)
                bal[1] = q8(bal[1] - release)
                bal[0] = q8(bal[0] + release - quote)
                o.locked_amount = q8(o.locked_amount - release)
            else:
                bal[0] = q8(bal[0] - quote)
            base = self.spot_bal(rules.base)
            base[0] = q8(base[0] + qty - commission)
            return commission, rules.base, 0.0
        commission = q8(quote * rate)
        base = self.spot_bal(rules.base)
        if o.locked_asset:
            base[1] = q8(base[1] - qty)
            o.locked_amount = q8(o.locked_amount - qty)
        else:
            base[0] = q8(base[0] - qty)
        bal = self.spot_bal(rules.quote)
        bal[0] = q8(bal[0] + quote - commission)
        return commission, rules.quote, 0.0

    def pay_funding(self, symbol: str, mark: float, rate: float, t: int) -> float:
        """One funding payment on ``symbol``'s position (0 when flat): the amount paid in."""
        pos = self.positions.get(symbol)
        if pos is None or pos.amount == 0:
            return 0.0
        pay = q8(-pos.amount * mark * rate)
        self.wallet = q8(self.wallet + pay)
        self.record_income(symbol, "FUNDING_FEE", pay, t)
        return pay

    # ------------------------------------------------------------ settings

    def set_leverage(self, symbol: str, leverage: int | None) -> Position:
        if leverage is None:
            raise missing_param("leverage")
        if not 1 <= leverage <= 125:
            raise VenueError(-4028, f"Leverage {leverage} is not valid")
        pos = self.position(symbol)
        pos.leverage = leverage
        return pos

    def set_margin_type(self, symbol: str, margin_type: str | None, has_orders: bool) -> None:
        if not margin_type:
            raise missing_param("marginType")
        want = MARGIN_TYPES.get(margin_type.upper())
        if want is None:
            raise VenueError(-1116, "Invalid marginType.")
        pos = self.position(symbol)
        if pos.margin_type == want:
            raise VenueError(-4046, "No need to change margin type.")
        if pos.amount != 0 or has_orders:
            raise VenueError(-4048, "Margin type cannot be changed if there exists position.")
        pos.margin_type = want


class FundingSchedule:
    """When funding is paid and at which rate (USDT-M).

    Every ``interval_ms`` of served time (00:00, 08:00, 16:00 UTC for 8 h), at the rate of
    the symbol's history (``rates``: data-time ms and rates, ascending) in force at that
    data time, else ``default_rate``.  ``offset_ms`` maps served time to data time.
    """

    def __init__(
        self,
        interval_ms: int,
        default_rate: float,
        rates: dict[str, tuple[np.ndarray, np.ndarray]],
        offset_ms: Callable[[], int],
        start: int,
    ) -> None:
        self.interval_ms = interval_ms
        self.default_rate = default_rate
        self.rates = rates
        self.offset_ms = offset_ms
        self.done = start // interval_ms * interval_ms  # last funding time accounted for

    def rate(self, symbol: str, served_ms: int) -> float:
        table = self.rates.get(symbol)
        if table is None:
            return self.default_rate
        times, rates = table
        i = int(np.searchsorted(times, served_ms - self.offset_ms(), side="right")) - 1
        return float(rates[max(i, 0)])

    def next_time(self, now: int) -> int:
        return (now // self.interval_ms + 1) * self.interval_ms

    def due(self, now: int) -> Iterator[int]:
        """The funding times up to ``now`` not yet accounted for (each marked done)."""
        t = self.done + self.interval_ms
        while t <= now:
            yield t
            self.done = t
            t += self.interval_ms
