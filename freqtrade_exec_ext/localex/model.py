"""The venue's records: orders, algo orders, fills, positions, income, fee rates (pure).

Plain data and the arithmetic that belongs to it (Binance's 8-decimal amounts, lot steps,
one-way position netting).  The engine (``trading.py``) and its parts (``matching.py``,
``accounts.py``, ``algo.py``) share these types.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

HOUR_MS = 3_600_000
TAKE_DEPTH = 500
FIRST_ORDER_ID = 4_000_000_001
FIRST_TRADE_ID = 900_000_001
FIRST_ALGO_ID = 1_000_001
EPS = 1e-12
#: the account a venue starts with, and the share of the replayed volume resting orders take
DEFAULT_SPOT_BALANCES: dict[str, float] = {"USDT": 10_000.0}
DEFAULT_FUTURES_BALANCE = 10_000.0
DEFAULT_PARTICIPATION = 0.2

SPOT_TYPES = (
    "LIMIT",
    "MARKET",
    "LIMIT_MAKER",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
)
USDM_TYPES = ("LIMIT", "MARKET")
USDM_ALGO_TYPES = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET")
STOP_TYPES = {
    # type -> (triggers when a SELL's price falls to the stop?, becomes limit?)
    "STOP_LOSS": (True, False),
    "STOP_LOSS_LIMIT": (True, True),
    "TAKE_PROFIT": (False, False),
    "TAKE_PROFIT_LIMIT": (False, True),
    "STOP": (True, True),
    "STOP_MARKET": (True, False),
    "TAKE_PROFIT_MARKET": (False, False),
}
OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX")


def q8(x: float) -> float:
    """Round an amount to Binance's 8 decimals (kills float dust)."""
    return round(x + 0.0, 8)


def steps(x: float, step: float) -> float:
    """``x`` rounded down to a multiple of ``step``."""
    if step <= 0:
        return x
    n = math.floor(x / step + 1e-9)
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    return round(n * step, decimals)


def is_multiple(x: float, step: float) -> bool:
    if step <= 0:
        return True
    n = x / step
    return abs(n - round(n)) < 1e-6


@dataclass(frozen=True)
class Fees:
    """Commission rates (Binance VIP 0, no BNB discount, by default)."""

    spot_maker: float = 0.001
    spot_taker: float = 0.001
    usdm_maker: float = 0.0002
    usdm_taker: float = 0.0005

    def rate(self, market: str, maker: bool) -> float:
        if market == "spot":
            return self.spot_maker if maker else self.spot_taker
        return self.usdm_maker if maker else self.usdm_taker


@dataclass
class Order:
    order_id: int
    market: str  # spot | usdm
    symbol: str
    client_order_id: str
    side: str  # BUY | SELL
    type: str
    time_in_force: str
    orig_qty: float
    price: float
    time: int
    stop_price: float = 0.0
    quote_order_qty: float = 0.0
    executed_qty: float = 0.0
    cum_quote: float = 0.0
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    triggered: bool = True
    reduce_only: bool = False
    close_position: bool = False
    locked_asset: str | None = None
    locked_amount: float = 0.0
    margin_reserved: float = 0.0
    margin_per_qty: float = 0.0
    fill_cap: float | None = None
    cancel_at: int | None = None
    cancel_status: str = "CANCELED"
    last_eval: int = 0  # served ms the path was matched up to
    algo_id: int | None = None  # futures: the algo (conditional) order this came from
    trade_ids: list[int] = field(default_factory=list)

    @property
    def remaining(self) -> float:
        return q8(self.orig_qty - self.executed_qty)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> float:
        return self.cum_quote / self.executed_qty if self.executed_qty > 0 else 0.0

    @property
    def fillable(self) -> float:
        rem = self.remaining
        if self.fill_cap is not None:
            rem = min(rem, q8(self.fill_cap - self.executed_qty))
        return max(rem, 0.0)


@dataclass
class AlgoOrder:
    """A USDT-M conditional order (``/fapi/v1/algoOrder``)."""

    algo_id: int
    symbol: str
    client_algo_id: str
    side: str
    order_type: str  # STOP | STOP_MARKET | TAKE_PROFIT | TAKE_PROFIT_MARKET
    quantity: float
    trigger_price: float
    price: float
    time_in_force: str
    reduce_only: bool
    close_position: bool
    working_type: str
    create_time: int
    update_time: int
    status: str = "NEW"  # NEW | FINISHED | CANCELED | EXPIRED
    trigger_time: int = 0
    actual_order_id: int | None = None
    last_eval: int = 0

    @property
    def is_open(self) -> bool:
        return self.status == "NEW"


@dataclass(frozen=True)
class Fill:
    trade_id: int
    order_id: int
    market: str
    symbol: str
    side: str
    price: float
    qty: float
    quote_qty: float
    commission: float
    commission_asset: str
    time: int
    is_maker: bool
    realized_pnl: float = 0.0


@dataclass
class Position:
    symbol: str
    amount: float = 0.0  # signed: > 0 long, < 0 short
    entry_price: float = 0.0
    leverage: int = 20
    margin_type: str = "cross"  # cross | isolated
    update_time: int = 0


@dataclass(frozen=True)
class Income:
    tran_id: int
    symbol: str
    income_type: str  # REALIZED_PNL | COMMISSION | FUNDING_FEE | TRANSFER
    income: float
    asset: str
    time: int
    trade_id: int | None = None


def apply_position_fill(
    amount: float, entry: float, qty_signed: float, price: float
) -> tuple[float, float, float]:
    """One-way position after a fill: ``(new amount, new entry price, realized PnL)``."""
    new_amount = q8(amount + qty_signed)
    if amount == 0 or (amount > 0) == (qty_signed > 0):
        total = abs(amount) + abs(qty_signed)
        new_entry = (abs(amount) * entry + abs(qty_signed) * price) / total if total else 0.0
        return new_amount, new_entry, 0.0
    closing = min(abs(qty_signed), abs(amount))
    realized = closing * (price - entry) * (1 if amount > 0 else -1)
    if abs(new_amount) < EPS:
        return 0.0, 0.0, realized
    if (new_amount > 0) == (amount > 0):
        return new_amount, entry, realized
    return new_amount, price, realized  # flipped: the excess opens at the fill price
