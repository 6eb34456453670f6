"""Stops looser than the contract's, and stop-outs beyond it (pure: numpy/pandas).

The contract's ``stop_loss.stoploss`` is a **price move from the entry** at any leverage
(``execution.stops``).  Freqtrade stores absolute stop prices per trade (``stop_loss``,
``initial_stop_loss``; ``stop_loss_abs``/``initial_stop_loss_abs`` in backtest results), so
the check compares prices, never Freqtrade's margin-relative ratios.  With ``--contract``:

* **stop looser than contract**: the trade's stop price (current or final, against the
  average entry ``open_rate``) or its initial stop (against its first entry order: the
  requested or the fill price, whichever allows more, as Freqtrade sets the initial stop
  before the fill) lies farther from the entry than the contract's stop, beyond a
  tolerance of one part in 10^6 of the contract's stop price plus one price tick when the
  trade records its precision.  Freqtrade rounds a stop towards the price (up for a long,
  down for a short), so its own rounding never loosens a stop.
* **stop-out beyond contract**: the trade exited by a stop-type reason
  (:data:`STOP_EXITS`) at a price beyond the contract's stop moved by the contract's exit
  slippage budget (``slippage.max_exit_bps``), with the same tolerance.

Trade frames have the columns of :data:`TRADE_COLUMNS`; unknown numbers are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.compat.ops import STOP_EXITS
from freqtrade_exec_ext.execution.stops import stop_price

REL_TOL = 1e-6
LOOSER = "stop looser than contract"
STOP_OUT = "stop-out beyond contract"
KINDS = (LOOSER, STOP_OUT)

# ccxt's precision modes (``ccxt.base.decimal_to_precision``; tests tie them)
DECIMAL_PLACES, SIGNIFICANT_DIGITS, TICK_SIZE = 2, 3, 4

# name -> meaning; readers fill every column (unknown numbers NaN, unknown text '')
TRADE_COLUMNS: dict[str, str] = {
    "bot": "the database (bot) the trade comes from; '' for one source",
    "strategy": "Freqtrade strategy class name",
    "pair": "pair, e.g. BTC/USDT",
    "trade_id": "Freqtrade trade id (the position in a backtest result)",
    "is_short": "the trade is a short",
    "leverage": "the trade's leverage (1 on spot)",
    "open_rate": "average entry price",
    "first_requested": "price requested by the trade's first entry order",
    "first_fill": "fill price of the trade's first entry order",
    "stop_loss": "current (open trade) or final stop price",
    "initial_stop_loss": "the stop price set when the trade was opened",
    "exit_reason": "Freqtrade's exit reason ('' while open)",
    "close_rate": "exit price (NaN while open)",
    "price_precision": "Freqtrade's price precision of the pair (NaN if unknown)",
    "precision_mode_price": "ccxt precision mode of that precision (NaN if unknown)",
}
_TEXT = ("bot", "strategy", "pair", "exit_reason")

BREACH_FIELDS = (
    "bot",
    "strategy",
    "pair",
    "trade_id",
    "side",
    "leverage",
    "kind",
    "which",
    "entry",
    "price",
    "move_pct",
    "contract_pct",
    "exit_reason",
)


@dataclass(frozen=True)
class StopLimits:
    """The contract's stop (a negative price move) and its exit slippage budget (bps)."""

    stoploss: float
    exit_bps: float


def empty_trades() -> pd.DataFrame:
    return coerce_trades(pd.DataFrame({c: [] for c in TRADE_COLUMNS}))


def coerce_trades(df: pd.DataFrame) -> pd.DataFrame:
    out: dict[str, Any] = {}
    n = len(df)
    for col in TRADE_COLUMNS:
        s = df[col] if col in df.columns else pd.Series([None] * n, index=df.index, dtype=object)
        if col in _TEXT:
            out[col] = s.fillna("").astype(str)
        elif col == "is_short":
            out[col] = s.fillna(False).astype(bool)
        elif col == "trade_id":
            out[col] = pd.to_numeric(s, errors="coerce").fillna(0).astype(np.int64)
        else:
            out[col] = pd.to_numeric(s, errors="coerce").astype(np.float64)
    return pd.DataFrame(out, index=df.index)


# ------------------------------------------------------------------------ the rule


def tick(price: float, precision: float, mode: float) -> float:
    """One price step of Freqtrade's ``price_precision`` at ``price`` (0.0 if unknown)."""
    if not (math.isfinite(precision) and math.isfinite(mode) and math.isfinite(price)):
        return 0.0
    if mode == TICK_SIZE:
        return max(precision, 0.0)
    if mode == DECIMAL_PLACES:
        return float(10.0**-precision)
    if mode == SIGNIFICANT_DIGITS and price > 0:
        return float(10.0 ** (math.floor(math.log10(price)) - precision + 1))
    return 0.0


def price_move(price: float, entry: float, is_short: bool) -> float:
    """The move from ``entry`` to ``price`` in the trade's favour (negative = a loss)."""
    return (1.0 - price / entry) if is_short else (price / entry - 1.0)


def stop_limit(entry: float, stoploss: float, is_short: bool, exit_bps: float = 0.0) -> float:
    """The contract's stop price for ``entry``, moved by ``exit_bps`` on the losing side."""
    p = stop_price(entry, stoploss, is_short)
    b = exit_bps / 10_000.0
    return p * (1.0 + b) if is_short else p * (1.0 - b)


def beyond(price: float, limit: float, is_short: bool, step: float = 0.0) -> bool:
    """Whether ``price`` lies farther on the losing side than ``limit`` (beyond one part in
    10^6 of ``limit`` plus ``step``)."""
    tol = REL_TOL * abs(limit) + step
    return price > limit + tol if is_short else price < limit - tol


# ------------------------------------------------------------------------ the frame


def _initial_entry(t: dict[str, Any]) -> float:
    """The entry the initial stop was set from, the one allowing more: the first entry
    order's requested or fill price (else the average entry)."""
    first = (float(t["first_requested"]), float(t["first_fill"]))
    cands = [v for v in first if math.isfinite(v) and v > 0] or [float(t["open_rate"])]
    return max(cands) if t["is_short"] else min(cands)


def _row(
    t: dict[str, Any], kind: str, which: str, entry: float, price: float, contract: float
) -> dict[str, Any]:
    return {
        "bot": t["bot"],
        "strategy": t["strategy"],
        "pair": t["pair"],
        "trade_id": int(t["trade_id"]),
        "side": "short" if t["is_short"] else "long",
        "leverage": t["leverage"] if math.isfinite(t["leverage"]) else 1.0,
        "kind": kind,
        "which": which,
        "entry": entry,
        "price": price,
        "move_pct": 100.0 * price_move(price, entry, t["is_short"]),
        "contract_pct": 100.0 * contract,
        "exit_reason": t["exit_reason"],
    }


def _looser(t: dict[str, Any], limits: StopLimits) -> dict[str, Any] | None:
    """The loosest of the trade's stops that breaches the contract's, as a row."""
    short = bool(t["is_short"])
    worst = None
    for which, col, entry in (
        ("stop", "stop_loss", t["open_rate"]),
        ("initial stop", "initial_stop_loss", _initial_entry(t)),
    ):
        price = t[col]
        if not (math.isfinite(price) and math.isfinite(entry) and entry > 0):
            continue
        limit = stop_limit(entry, limits.stoploss, short)
        step = tick(limit, t["price_precision"], t["precision_mode_price"])
        if not beyond(price, limit, short, step):
            continue
        row = _row(t, LOOSER, which, entry, price, -abs(limits.stoploss))
        if worst is None or row["move_pct"] < worst["move_pct"]:
            worst = row
    return worst


def _stop_out(t: dict[str, Any], limits: StopLimits) -> dict[str, Any] | None:
    entry, close = t["open_rate"], t["close_rate"]
    if t["exit_reason"] not in STOP_EXITS or not (
        math.isfinite(close) and math.isfinite(entry) and entry > 0
    ):
        return None
    short = bool(t["is_short"])
    limit = stop_limit(entry, limits.stoploss, short, limits.exit_bps)
    step = tick(limit, t["price_precision"], t["precision_mode_price"])
    if not beyond(close, limit, short, step):
        return None
    return _row(t, STOP_OUT, "exit", entry, close, price_move(limit, entry, short))


def _maybe(t: pd.DataFrame, limits: StopLimits) -> np.ndarray:
    """Trades that may breach (vectorised, no tolerance: a superset of the breaches), so
    that the exact rule runs row by row on few trades only."""
    short = t["is_short"].to_numpy(dtype=bool)
    sign = np.where(short, 1.0, -1.0)
    d, b = abs(limits.stoploss), limits.exit_bps / 10_000.0

    def past(price: str, entry: str, extra: float = 0.0) -> np.ndarray:
        p, e = t[price].to_numpy(dtype=float), t[entry].to_numpy(dtype=float)
        limit = e * (1.0 + sign * d) * (1.0 + sign * extra)
        with np.errstate(invalid="ignore"):
            out: np.ndarray = np.where(short, p > limit, p < limit)
        return out

    stop_out = t["exit_reason"].isin(list(STOP_EXITS)).to_numpy()
    out: np.ndarray = (
        past("stop_loss", "open_rate")
        | past("initial_stop_loss", "open_rate")
        | past("initial_stop_loss", "first_requested")
        | past("initial_stop_loss", "first_fill")
        | (stop_out & past("close_rate", "open_rate", b))
    )
    return out


def find(trades: pd.DataFrame, limits: StopLimits) -> pd.DataFrame:
    """One row per breach (a trade can have one of each kind), worst move first."""
    rows: list[dict[str, Any]] = []
    frame = coerce_trades(trades)
    for t in frame.loc[_maybe(frame, limits)].to_dict("records"):
        for check in (_looser, _stop_out):
            row = check(t, limits)
            if row is not None:
                rows.append(row)
    out = pd.DataFrame(rows, columns=list(BREACH_FIELDS))
    return out.sort_values("move_pct", kind="stable").reset_index(drop=True)


def unjudged(trades: pd.DataFrame) -> int:
    """Trades without a stop price or entry (nothing to check)."""
    t = coerce_trades(trades)
    return int((~np.isfinite(t["stop_loss"]) | ~(t["open_rate"] > 0)).sum())


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for r in df.to_dict("records"):
        rec = {}
        for k in BREACH_FIELDS:
            v = r[k]
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            rec[k] = v
        out.append(rec)
    return out


def _first_entry_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """The first entry order of each (bot, trade_id): lowest orders.id (database) or
    earliest placement (backtest rows, whose row ids follow the ledger)."""
    e = orders.loc[orders["intent"].astype(str) == "entry"]
    e = e.assign(bot=e["bot"].astype(str), _t=e["placed_ts"].fillna(np.inf))
    return e.sort_values(["row_id", "_t"], kind="stable").drop_duplicates(["bot", "trade_id"])


def first_entries(orders: pd.DataFrame) -> pd.DataFrame:
    """Per (bot, trade_id): the requested and fill price of the first entry order (lowest
    orders.id; placement time for backtests)."""
    e = _first_entry_orders(orders)
    return pd.DataFrame(
        {
            "bot": e["bot"].to_numpy(),
            "trade_id": e["trade_id"].to_numpy(),
            "first_requested": e["requested_price"].to_numpy(dtype=float),
            "first_fill": np.where(
                e["filled"].to_numpy(dtype=float) > 0, e["fill_price"].to_numpy(dtype=float), np.nan
            ),
        }
    )


def from_backtest(strategy: str, trades: list[dict[str, Any]]) -> pd.DataFrame:
    """The trade frame of one strategy's exported backtest trades (Freqtrade's
    ``stop_loss_abs``/``initial_stop_loss_abs``; the export has no trade id: the position,
    1-based, as for the report's order rows)."""
    rows = []
    for n, t in enumerate(trades, 1):
        entries = [o for o in t.get("orders") or [] if o.get("ft_is_entry")]
        first = entries[0] if entries else {}
        rows.append(
            {
                "bot": "",
                "strategy": strategy,
                "pair": t.get("pair", ""),
                "trade_id": t.get("trade_id") or n,
                "is_short": bool(t.get("is_short")),
                "leverage": t.get("leverage"),
                "open_rate": t.get("open_rate"),
                # no entry order exported: the average entry (never NaN for backtests)
                "first_requested": first.get("price", first.get("safe_price"))
                or t.get("open_rate"),
                "first_fill": first.get("safe_price") if (first.get("amount") or 0) > 0 else None,
                "stop_loss": t.get("stop_loss_abs"),
                "initial_stop_loss": t.get("initial_stop_loss_abs"),
                "exit_reason": "" if t.get("is_open") else (t.get("exit_reason") or ""),
                "close_rate": None if t.get("is_open") else t.get("close_rate"),
                "price_precision": t.get("price_precision"),
                "precision_mode_price": t.get("precision_mode_price"),
            }
        )
    return coerce_trades(pd.DataFrame(rows)) if rows else empty_trades()


def group_counts(
    breaches: pd.DataFrame, orders: pd.DataFrame, keys: tuple[str, ...]
) -> dict[tuple[str, ...], int]:
    """Breaches per group of the fill tables: each in the group of its trade's first entry
    order (trades without one in the frame count in the TOTAL only)."""
    if breaches.empty or orders.empty:
        return {}
    e = _first_entry_orders(orders)
    where = {
        (str(b), int(t)): tuple(str(r[k]) for k in keys)
        for b, t, r in zip(e["bot"], e["trade_id"], e[list(keys)].to_dict("records"), strict=True)
    }
    out: dict[tuple[str, ...], int] = {}
    for b, s, t in zip(breaches["bot"], breaches["strategy"], breaches["trade_id"], strict=True):
        key = where.get((str(b), int(t)))
        if key is not None and key[keys.index("strategy")] == str(s):
            out[key] = out.get(key, 0) + 1
    return out
