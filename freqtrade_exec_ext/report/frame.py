"""Raw query chunks -> canonical order rows (:data:`metrics.ORDER_COLUMNS`), vectorised.

Every reader produces *raw* chunks with the column names of :mod:`.query` (orders'
numbers and short texts, the trade's columns, ``l_*`` ledger fields, ``l_present``).
:func:`finish` turns one chunk into order rows; text columns are handled as integer
codes (one decision per distinct value), so this stays fast at millions of orders.

Bad rows never stop the report: a value that is not a number where a number belongs
skips the order row, a ledger record that is not valid JSON or carries a field of the
wrong type is ignored (the order stays, without ledger values); :class:`Problems` counts
both, with the first few examples, for "Could not compute".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report.metrics import ORDER_COLUMNS, coerce_orders
from freqtrade_exec_ext.report.query import LEDGER_COLS, LEDGER_NUM, STAGES

EXAMPLES = 3


@dataclass
class Problems:
    """Skipped rows by kind: count and the first examples (picklable, mergeable)."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, examples: Sequence[str], count: int | None = None) -> None:
        n = len(examples) if count is None else count
        if n <= 0:
            return
        self.counts[kind] = self.counts.get(kind, 0) + n
        have = self.examples.setdefault(kind, [])
        have.extend(list(examples)[: max(0, EXAMPLES - len(have))])

    def merge(self, other: Problems) -> None:
        for kind, n in other.counts.items():
            self.add(kind, other.examples.get(kind, []), n)

    def lines(self) -> list[str]:
        what = {"orders": "order row(s) skipped", "ledger": "ledger record(s) skipped"}
        out = []
        for kind, n in self.counts.items():
            ex = "; ".join(self.examples.get(kind, []))
            more = f" (first {EXAMPLES})" if n > EXAMPLES else ""
            out.append(f"{n} {what.get(kind, kind)}{more}: {ex}")
        return out


def numbers(
    values: Any, name: str, ids: np.ndarray, problems: Problems, label: str = "orders.id"
) -> tuple[np.ndarray, np.ndarray]:
    """A column as float64 and the mask of rows whose value is not a number."""
    try:
        return np.asarray(values, dtype=float), np.zeros(len(ids), dtype=bool)
    except (TypeError, ValueError):
        pass
    raw = pd.Series(values, dtype=object)
    out = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = raw.notna().to_numpy() & ~np.isfinite(out)
    bad &= ~raw.map(lambda v: isinstance(v, float)).to_numpy()  # NaN/inf stay numbers
    problems.add(
        "orders",
        [
            f"{label} {int(i)} has a non-numeric {name} ({raw.iloc[k]!r})"
            for k, i in zip(np.flatnonzero(bad)[:EXAMPLES], ids[bad][:EXAMPLES], strict=True)
        ],
        int(bad.sum()),
    )
    return out, bad


def check_ledger(
    raw: pd.DataFrame, problems: Problems, label: Callable[[list[int]], list[str]]
) -> None:
    """Ignore (in place) ledger records whose numeric fields are not numbers; ``label``
    names the records at some row positions (for the examples)."""
    if "l_present" not in raw.columns:
        return
    present = raw["l_present"].to_numpy() == 1
    bad = np.zeros(len(raw), dtype=bool)
    why: dict[int, str] = {}
    for col in LEDGER_NUM:
        if col not in raw.columns or raw[col].dtype.kind == "f":
            continue
        vals = pd.to_numeric(raw[col], errors="coerce")
        wrong = present & raw[col].notna().to_numpy() & vals.isna().to_numpy()
        for k in np.flatnonzero(wrong & ~bad):
            if len(why) < EXAMPLES:
                why[int(k)] = f"{col[2:]} is {raw[col].iloc[k]!r}, not a number"
        bad |= wrong
        raw[col] = vals.to_numpy(dtype=float)
    if not bad.any():
        return
    rows = sorted(why)
    problems.add(
        "ledger",
        [f"{lab}: {why[k]}" for lab, k in zip(label(rows), rows, strict=True)],
        int(bad.sum()),
    )
    raw.loc[bad, "l_present"] = 0
    for col in LEDGER_COLS:
        if col in raw.columns and col in LEDGER_NUM:
            raw.loc[bad, col] = np.nan


def _cat(raw: pd.DataFrame, col: str) -> pd.Series:
    """A text column as a categorical (missing column -> all '')."""
    if col not in raw.columns:
        return pd.Series(pd.Categorical([""] * len(raw)), index=raw.index)
    s = raw[col]
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("category")
    return s


SIDES = ["buy", "sell"]
INTENTS = ["entry", "exit"]
STATUSES = ["filled", "partial", "cancelled", "open"]
LIQUIDITY = ["", "maker", "taker"]


def codes(raw: pd.DataFrame, col: str, fn: Callable[[str], int], default: int = -1) -> np.ndarray:
    """Integer code per row: ``fn`` applied once per distinct value of a text column."""
    n = len(raw)
    if col not in raw.columns:
        return np.full(n, default, dtype=np.int16)
    s = _cat(raw, col)
    cats = list(s.cat.categories)
    table = np.array([fn(str(c)) for c in cats] + [default], dtype=np.int16)
    c = s.cat.codes.to_numpy()
    return table[np.where(c < 0, len(cats), c)]


def from_codes(c: np.ndarray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(c.astype(np.int16), categories=categories)


def text(raw: pd.DataFrame, col: str) -> pd.Categorical:
    """A text column as a categorical with '' for missing values (and 'None'/'nan')."""

    def clean(v: str) -> str:
        return "" if v in ("None", "nan", "<NA>") else v

    cats = _cat(raw, col).cat.categories if col in raw.columns else []
    names = sorted({clean(str(c)) for c in cats} | {""})
    ix = {v: i for i, v in enumerate(names)}
    return from_codes(codes(raw, col, lambda v: ix[clean(v)], ix[""]), names)


def stage_rule(stage: str | None) -> str:
    if stage:
        return f"--stage {stage}"
    return (
        "the ledger's runmode; else dry_run for Freqtrade's dry-run order ids "
        "(dry_run_*) or a database name containing 'dryrun'; else live"
    )


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate finished chunks (categories unified)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return coerce_orders(pd.DataFrame())
    if len(frames) == 1:
        return frames[0]
    cats = {
        c: sorted(set().union(*(f[c].cat.categories for f in frames)))
        for c, (dtype, _) in ORDER_COLUMNS.items()
        if dtype == "category"
    }
    for f in frames:
        for c, allc in cats.items():
            f[c] = f[c].cat.set_categories(allc)
    out = pd.concat(frames, ignore_index=True, copy=False)
    frames.clear()
    return out


def _sides(raw: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(exchange side code, intent code, is_short, is stop-loss order)."""
    side = codes(raw, "side", lambda v: {"buy": 0, "sell": 1}.get(v.lower(), -1))
    ft_side = codes(
        raw, "ft_order_side", lambda v: {"buy": 0, "sell": 1, "stoploss": 2}.get(v.lower(), -1)
    )
    short_raw = raw["is_short"] if "is_short" in raw.columns else pd.Series(0, index=raw.index)
    if short_raw.dtype.kind not in "fiub":
        short_raw = short_raw.astype(str).str.lower().isin(["1", "true", "t", "1.0"])
    is_short = pd.to_numeric(short_raw, errors="coerce").fillna(0).to_numpy() != 0
    entry_side = np.where(is_short, 1, 0)
    # the exchange side; else Freqtrade's buy/sell; else (a stop-loss) the exit side
    side = np.where(
        side >= 0, side, np.where((ft_side == 0) | (ft_side == 1), ft_side, 1 - entry_side)
    )
    intent = np.where((ft_side != 2) & (side == entry_side), 0, 1)
    return side, intent, is_short, ft_side == 2


def _status(raw: pd.DataFrame, amount: np.ndarray, filled: np.ndarray) -> np.ndarray:
    status_raw = codes(
        raw,
        "status",
        lambda v: {"open": 3, "canceled": 2, "cancelled": 2, "expired": 2, "rejected": 2}.get(
            v.lower(), 0
        ),
    )
    remaining = np.nan_to_num(amount) - np.nan_to_num(filled)
    has_fill = filled > 0
    return np.where(
        status_raw == 3,
        3,
        np.where(
            status_raw == 2,
            np.where(has_fill, 1, 2),
            np.where(has_fill, np.where(remaining > 1e-9 * np.maximum(amount, 1e-12), 1, 0), 2),
        ),
    )


def _fees(
    raw: pd.DataFrame,
    num: Callable[[str], np.ndarray],
    present: np.ndarray,
    intent: np.ndarray,
    fill_price: np.ndarray,
    notional: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The ledger's absolute fee (stake currency, or base currency converted at the fill
    price); otherwise the trade's fee rate times the filled notional (estimated)."""
    pair, fee_ccy, stake = (
        _cat(raw, "pair"),
        _cat(raw, "l_fee_currency"),
        _cat(raw, "stake_currency"),
    )
    ccys = sorted(
        {str(c) for c in fee_ccy.cat.categories}
        | {str(c) for c in stake.cat.categories}
        | {str(c).split("/", 1)[0] for c in pair.cat.categories}
    )
    cix = {c: i for i, c in enumerate(ccys)}
    fee_c = codes(raw, "l_fee_currency", lambda v: cix.get(v, -1), -2)
    stake_c = codes(raw, "stake_currency", lambda v: cix.get(v, -1), -3)
    base_c = codes(raw, "pair", lambda v: cix.get(v.split("/", 1)[0], -1), -4)
    l_fee = num("l_fee_cost")
    has_fee = present & np.isfinite(l_fee)
    fee_ledger = np.where(
        has_fee & (fee_c == stake_c),
        l_fee,
        np.where(has_fee & (fee_c == base_c), l_fee * fill_price, np.nan),
    )
    rate = np.where(intent == 0, num("fee_open"), num("fee_close"))
    fee_est = np.where(notional > 0, rate * notional, np.nan)
    fee = np.where(np.isfinite(fee_ledger), fee_ledger, fee_est)
    return fee, ~np.isfinite(fee_ledger) & np.isfinite(fee_est)


def _stage(raw: pd.DataFrame, url: str, stage: str | None) -> np.ndarray:
    """--stage; else the ledger's runmode; else Freqtrade's dry-run order ids
    ("dry_run_<side>_<pair>_<uuid>"); else the database name (tradesv3.dryrun.sqlite)."""
    stages = list(STAGES)
    n = len(raw)
    if stage:
        return np.full(n, stages.index(stage), dtype=np.int16)
    dry_name = "dryrun" in url.lower() or "dry_run" in url.lower()
    if "dry_id" in raw.columns:
        dry_id = pd.to_numeric(raw["dry_id"], errors="coerce").fillna(0).to_numpy() == 1
    elif "order_id" in raw.columns:
        dry_id = raw["order_id"].astype(str).str.startswith("dry_run_").to_numpy(dtype=bool)
    else:
        dry_id = np.zeros(n, dtype=bool)
    runmode = codes(raw, "l_runmode", lambda v: stages.index(v) if v in stages else -1)
    return np.where(
        runmode >= 0,
        runmode,
        np.where(dry_id | dry_name, stages.index("dry_run"), stages.index("live")),
    )


def finish(raw: pd.DataFrame, *, url: str, stage: str | None, bot: str = "") -> pd.DataFrame:
    """Turn one raw chunk into canonical order rows (metrics.ORDER_COLUMNS)."""
    n = len(raw)
    present = (
        (pd.to_numeric(raw["l_present"], errors="coerce").fillna(0).to_numpy() == 1)
        if "l_present" in raw.columns
        else np.zeros(n, dtype=bool)
    )

    def num(col: str) -> np.ndarray:
        if col not in raw.columns:
            return np.full(n, np.nan)
        out: np.ndarray = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float)
        return out

    side, intent, is_short, is_stop = _sides(raw)
    filled = np.nan_to_num(num("filled"))
    amount = num("amount")
    amount = np.where(np.isfinite(amount), amount, num("ft_amount"))
    average = num("average")
    fill_price = np.where(
        np.isfinite(average) & (average > 0), average, np.where(filled > 0, num("ft_price"), np.nan)
    )
    notional = np.where((filled > 0) & np.isfinite(fill_price), filled * fill_price, 0.0)
    fee, fee_estimated = _fees(raw, num, present, intent, fill_price, notional)
    liquidity = codes(raw, "l_liquidity", lambda v: {"maker": 1, "taker": 2}.get(v, 0), 0)
    frame = pd.DataFrame(
        {
            "bot": pd.Categorical([bot] * n) if n else pd.Categorical([]),
            "strategy": text(raw, "strategy"),
            "pair": text(raw, "pair"),
            "side": from_codes(side, SIDES),
            "intent": from_codes(intent, INTENTS),
            "order_type": text(raw, "order_type"),
            "stage": from_codes(_stage(raw, url, stage), list(STAGES)),
            "reason": text(raw, "ft_order_tag"),
            "trade_id": pd.to_numeric(raw["ft_trade_id"], errors="coerce"),
            "row_id": pd.to_numeric(raw["id"], errors="coerce"),
            "order_id": raw["order_id"] if "order_id" in raw.columns else "",
            "status": from_codes(_status(raw, amount, filled), STATUSES),
            "is_stop": is_stop,
            "is_short": is_short,
            "amount": amount,
            "filled": filled,
            "requested_price": num("ft_price"),
            "fill_price": fill_price,
            "decision_price": np.where(present, num("l_decision_price"), np.nan),
            "arrival_mid": np.where(present, num("l_arrival_mid"), np.nan),
            "spread_cost_bps": np.where(present, num("l_spread_cost_bps"), np.nan),
            "fee": fee,
            "fee_estimated": fee_estimated,
            "liquidity": from_codes(liquidity, LIQUIDITY),
            "funding": np.nan_to_num(num("funding_fee")),
            "budget_bps": np.where(present, num("l_slippage_budget_bps"), np.nan),
            # SQLite's julianday() carries ~10 us of float noise: keep milliseconds
            "placed_ts": np.round(num("placed_ts"), 3),
            "filled_ts": np.round(num("filled_ts"), 3),
            "has_ledger": present,
        },
        index=raw.index,
    )
    for col in raw.columns:
        if col.startswith("l_mk_"):
            frame[col[2:]] = np.where(present, num(col), np.nan)
    return coerce_orders(frame)
