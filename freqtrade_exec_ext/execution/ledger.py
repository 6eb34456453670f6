"""The execution ledger: one record per filled order.

A record is plain data (no Freqtrade objects) so that the mixin writes it, the
protections and the report read it, and tests build it directly.

Where records live:

* ``freqtrade trade`` (live and dry-run): Freqtrade's own database, table
  ``trade_custom_data``, one row per order under the key ``LEDGER_KEY_PREFIX + order_id``
  (value: the record as JSON).  It survives restarts with the trade.
* ``freqtrade backtesting``: a JSON-lines file beside the backtest result
  (``backtest_results/<strategy>-exec-ledger.jsonl``, one record per line;
  :mod:`freqtrade_exec_ext.store.ledger_files` reads and names it).
* ``freqtrade hyperopt``: nowhere.

Sign convention: slippage and costs in bps are **positive when they cost money**
(a buy filled above its reference, a sell filled below it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import Any, Literal

LEDGER_KEY_PREFIX = "exec_ext.fill."
LEDGER_SCHEMA_VERSION = 1
BACKTEST_LEDGER_SUFFIX = "-exec-ledger.jsonl"

Side = Literal["buy", "sell"]
Intent = Literal["entry", "exit"]
Liquidity = Literal["maker", "taker"]


def signed_bps(side: str, reference: float | None, price: float | None) -> float | None:
    """Slippage of ``price`` against ``reference`` in bps; positive = cost.

    A buy above the reference costs, a sell below it costs.
    """
    if reference is None or price is None or reference <= 0 or not math.isfinite(price):
        return None
    raw = (price - reference) / reference * 10_000.0
    return raw if side == "buy" else -raw


@dataclass(frozen=True)
class FillRecord:
    """Execution quality of one filled order (entries, exits, stop-losses, DCA)."""

    strategy_id: str
    pair: str
    side: Side  # order side on the exchange
    intent: Intent  # entry or exit of the trade
    is_short: bool
    order_type: str  # limit | market | stop_loss_limit | ...
    order_id: str
    trade_id: int | None
    runmode: str  # live | dry_run | backtest
    decision_price: float | None  # close of the signal candle; manual orders: mid at request
    decision_time: str | None  # ISO-8601 UTC
    arrival_mid: float | None  # order-book mid at decision time (live/dry-run)
    arrival_spread_bps: float | None  # quoted spread at decision time, bps of mid
    requested_price: float | None
    fill_price: float  # average fill price
    filled_amount: float
    ordered_amount: float
    notional: float  # filled_amount * fill_price (stake currency)
    slippage_decision_bps: float | None  # signed, positive = cost
    slippage_arrival_bps: float | None  # signed, positive = cost
    spread_cost_bps: float | None  # half the quoted spread paid when crossing
    fee_cost: float | None  # absolute, in fee_currency
    fee_currency: str | None
    fee_rate: float | None
    liquidity: Liquidity | None  # maker | taker | None when unknown
    fee_inferred: bool  # True when fee/liquidity were inferred, not read from fills
    funding_fees: float  # to date; positive = received, negative = paid (Freqtrade's sign)
    reprice_count: int
    placed_time: str | None  # ISO-8601 UTC, first order of this intent placed
    filled_time: str | None  # ISO-8601 UTC
    time_to_fill_s: float | None
    slippage_budget_bps: float  # max_entry_bps or max_exit_bps of the contract
    over_budget: bool  # slippage_decision_bps > slippage_budget_bps
    exit_reason: str | None = None
    backtest_slippage_bps: float = 0.0  # adverse slippage the mixin charged (backtests)
    schema_version: int = LEDGER_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        # every field is a plain value: a shallow copy (asdict deep-copies, and this runs
        # once per fill on the backtest hot path)
        return dict(self.__dict__)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FillRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def custom_data_key(self) -> str:
        return LEDGER_KEY_PREFIX + self.order_id
