"""Raw query chunks -> canonical order rows (metrics.ORDER_COLUMNS), vectorised."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report.metrics import ORDER_COLUMNS, coerce_orders
from freqtrade_exec_ext.report.query import STAGES


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


def _codes(raw: pd.DataFrame, col: str, fn: Callable[[str], int], default: int = -1
           ) -> np.ndarray:
    """Integer code per row: ``fn`` applied once per distinct value of a text column."""
    n = len(raw)
    if col not in raw.columns:
        return np.full(n, default, dtype=np.int16)
    s = _cat(raw, col)
    cats = list(s.cat.categories)
    table = np.array([fn(str(c)) for c in cats] + [default], dtype=np.int16)
    codes = s.cat.codes.to_numpy()
    return table[np.where(codes < 0, len(cats), codes)]


def _from_codes(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int16), categories=categories)


def _text(raw: pd.DataFrame, col: str) -> pd.Categorical:
    """A text column as a categorical with '' for missing values (and 'None'/'nan')."""
    def clean(v: str) -> str:
        return "" if v in ("None", "nan", "<NA>") else v

    cats = _cat(raw, col).cat.categories if col in raw.columns else []
    names = sorted({clean(str(c)) for c in cats} | {""})
    ix = {v: i for i, v in enumerate(names)}
    return _from_codes(_codes(raw, col, lambda v: ix[clean(v)], ix[""]), names)


def stage_rule(stage: str | None) -> str:
    if stage:
        return f"--stage {stage}"
    return ("the ledger's runmode; else dry_run for Freqtrade's dry-run order ids "
            "(dry_run_*) or a database name containing 'dryrun'; else live")


def combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate finished chunks; then price cancelled orders (needs every row)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return coerce_orders(pd.DataFrame())
    orders = pd.concat(frames, ignore_index=True, copy=False) if len(frames) > 1 else frames[0]
    frames.clear()
    for col, (dtype, _) in ORDER_COLUMNS.items():
        if dtype == "category" and not isinstance(orders[col].dtype, pd.CategoricalDtype):
            orders[col] = orders[col].astype("category")  # chunks had other categories
    later, covered = later_fill_price(orders)
    orders["later_price"] = later
    orders["opp_covered"] = orders["opp_covered"].to_numpy() | covered
    return orders


def finish(raw: pd.DataFrame, *, url: str, stage: str | None) -> pd.DataFrame:
    """Turn joined rows into canonical order rows (metrics.ORDER_COLUMNS).

    Text columns are handled as integer codes (one decision per distinct value), so this
    stays fast at millions of orders.  ``later_price`` is filled in by :func:`combine`.
    """
    n = len(raw)
    present = (pd.to_numeric(raw["l_present"], errors="coerce").fillna(0).to_numpy() == 1) \
        if "l_present" in raw.columns else np.zeros(n, dtype=bool)

    def num(col: str) -> np.ndarray:
        if col not in raw.columns:
            return np.full(n, np.nan)
        return pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float)

    side_ix = {"buy": 0, "sell": 1}
    side = _codes(raw, "side", lambda v: side_ix.get(v.lower(), -1))
    ft_side = _codes(raw, "ft_order_side",
                     lambda v: {"buy": 0, "sell": 1, "stoploss": 2}.get(v.lower(), -1))
    short_raw = raw["is_short"]
    if short_raw.dtype == object or isinstance(short_raw.dtype, pd.CategoricalDtype):
        short_raw = short_raw.astype(str).str.lower().isin(["1", "true", "t", "1.0"])
    is_short = pd.to_numeric(short_raw, errors="coerce").fillna(0).to_numpy() != 0
    entry_side = np.where(is_short, 1, 0)
    # the exchange side; else Freqtrade's buy/sell; else (a stop-loss) the exit side
    side = np.where(side >= 0, side,
                    np.where((ft_side == 0) | (ft_side == 1), ft_side, 1 - entry_side))
    l_intent = _codes(raw, "l_intent", lambda v: {"entry": 0, "exit": 1}.get(v, -1))
    intent = np.where(l_intent >= 0, l_intent,
                      np.where((ft_side != 2) & (side == entry_side), 0, 1))

    filled = num("filled")
    amount = num("amount")
    amount = np.where(np.isfinite(amount), amount, num("ft_amount"))
    filled = np.where(np.isfinite(filled), filled,
                      np.where(present, np.nan_to_num(num("l_filled_amount")), 0.0))
    average = num("average")
    l_fill = num("l_fill_price")
    price = num("price")
    fill_price = np.where(np.isfinite(average) & (average > 0), average,
                          np.where(present & np.isfinite(l_fill), l_fill,
                                   np.where(filled > 0, price, np.nan)))

    status_raw = _codes(raw, "status", lambda v: {
        "open": 3, "canceled": 2, "cancelled": 2, "expired": 2, "rejected": 2}.get(
            v.lower(), 0))
    remaining = np.nan_to_num(amount) - np.nan_to_num(filled)
    has_fill = filled > 0
    status = np.where(
        status_raw == 3, 3,
        np.where(status_raw == 2, np.where(has_fill, 1, 2),
                 np.where(has_fill, np.where(remaining > 1e-9 * np.maximum(amount, 1e-12),
                                             1, 0), 2)))

    # fees: the ledger's absolute fee (stake currency, or base currency converted at the
    # fill price); otherwise the trade's fee rate times the filled notional (estimated)
    notional = np.where(has_fill & np.isfinite(fill_price), filled * fill_price, 0.0)
    pair = _cat(raw, "ft_pair")
    l_fee = num("l_fee_cost")
    fee_ccy = _cat(raw, "l_fee_currency")
    stake = _cat(raw, "stake_currency")
    ccys = sorted({str(c) for c in fee_ccy.cat.categories} | {str(c) for c in
                                                                stake.cat.categories}
                  | {str(c).split("/", 1)[0] for c in pair.cat.categories})
    cix = {c: i for i, c in enumerate(ccys)}
    fee_c = _codes(raw, "l_fee_currency", lambda v: cix.get(v, -1), -2)
    stake_c = _codes(raw, "stake_currency", lambda v: cix.get(v, -1), -3)
    base_c = _codes(raw, "ft_pair", lambda v: cix.get(v.split("/", 1)[0], -1), -4)
    has_fee = present & np.isfinite(l_fee)
    fee_ledger = np.where(has_fee & (fee_c == stake_c), l_fee,
                          np.where(has_fee & (fee_c == base_c), l_fee * fill_price, np.nan))
    rate = np.where(intent == 0, num("fee_open"), num("fee_close"))
    fee_est = np.where(has_fill, rate * notional, np.nan)
    fee = np.where(np.isfinite(fee_ledger), fee_ledger, fee_est)
    fee_estimated = ~np.isfinite(fee_ledger) & np.isfinite(fee_est)

    # stage: --stage, else the ledger's runmode, else Freqtrade's dry-run order ids
    # ("dry_run_<side>_<pair>_<uuid>"), else the database name (tradesv3.dryrun.sqlite)
    stages = list(STAGES)
    if stage:
        stage_c = np.full(n, stages.index(stage), dtype=np.int16)
    else:
        dry_name = "dryrun" in url.lower() or "dry_run" in url.lower()
        if "dry_id" in raw.columns:
            dry_id = pd.to_numeric(raw["dry_id"], errors="coerce").fillna(0).to_numpy() == 1
        else:
            dry_id = raw["order_id"].astype(str).str.startswith("dry_run_").to_numpy(
                dtype=bool)
        runmode = _codes(raw, "l_runmode", lambda v: stages.index(v) if v in stages else -1)
        stage_c = np.where(runmode >= 0, runmode,
                           np.where(dry_id | dry_name, stages.index("dry_run"),
                                    stages.index("live")))
    liquidity = _codes(raw, "l_liquidity", lambda v: {"maker": 1, "taker": 2}.get(v, 0), 0)
    frame = pd.DataFrame({
        "strategy": _text(raw, "strategy"),
        "pair": _text(raw, "ft_pair"),
        "side": _from_codes(side, SIDES),
        "intent": _from_codes(intent, INTENTS),
        "order_type": _text(raw, "order_type"),
        "stage": _from_codes(stage_c, stages),
        "trade_id": pd.to_numeric(raw["ft_trade_id"], errors="coerce"),
        "row_id": pd.to_numeric(raw["id"], errors="coerce"),
        "order_id": raw["order_id"] if "order_id" in raw.columns else "",
        "status": _from_codes(status, STATUSES),
        "amount": amount,
        "filled": filled,
        "requested_price": num("ft_price"),
        "fill_price": fill_price,
        "decision_price": np.where(present, num("l_decision_price"), np.nan),
        "arrival_mid": np.where(present, num("l_arrival_mid"), np.nan),
        "spread_cost_bps": np.where(present, num("l_spread_cost_bps"), np.nan),
        "fee": fee,
        "fee_estimated": fee_estimated,
        "liquidity": _from_codes(liquidity, LIQUIDITY),
        "funding": np.nan_to_num(num("funding_fee")),
        "budget_bps": np.where(present, num("l_slippage_budget_bps"), np.nan),
        "over_budget": np.where(present, num("l_over_budget"), np.nan),
        # SQLite's julianday() carries ~10 us of float noise: keep milliseconds
        "placed_ts": np.round(num("placed_ts"), 3),
        "filled_ts": np.round(num("filled_ts"), 3),
        "has_ledger": present,
    }, index=raw.index)
    # a cancelled protective stop-loss is not an unfilled intent: no opportunity cost
    frame["later_price"] = np.nan
    frame["opp_covered"] = ft_side == 2
    return coerce_orders(frame)


def later_fill_price(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each cancelled order: the fill price of the next fill on its trade and side.

    Returns (price, covered): price is NaN when no order of the same trade and side was
    placed after it and filled; covered is True when that later fill has a decision price
    (ledger), whose slippage against the decision price already counts the chase.
    """
    n = len(df)
    out = np.full(n, np.nan)
    covered = np.zeros(n, dtype=bool)
    if n == 0:
        return out, covered
    status = df["status"].astype(str).to_numpy()
    cancelled = np.isin(status, ["cancelled", "partial"])
    if not cancelled.any():
        return out, covered
    filled_rows = df.loc[(df["filled"] > 0) & df["fill_price"].notna(),
                         ["trade_id", "side", "placed_ts", "filled_ts", "fill_price",
                          "decision_price"]]
    left = df.loc[cancelled, ["trade_id", "side", "placed_ts"]].copy()
    left["_row"] = np.flatnonzero(cancelled)
    right = filled_rows.copy()
    # a fill counts as "later" when its order was placed after the cancelled one
    right["t"] = right["placed_ts"].fillna(right["filled_ts"])
    left["t"] = left["placed_ts"]
    left = left.dropna(subset=["t"])
    right = right.dropna(subset=["t"])
    if left.empty or right.empty:
        return out, covered
    left["side"] = left["side"].astype(str)
    right["side"] = right["side"].astype(str)
    left = left.sort_values("t", kind="stable")
    right = right.sort_values("t", kind="stable")[["trade_id", "side", "t", "fill_price",
                                                   "decision_price"]]
    merged = pd.merge_asof(left, right, on="t", by=["trade_id", "side"], direction="forward",
                           allow_exact_matches=False)
    rows = merged["_row"].to_numpy()
    out[rows] = merged["fill_price"].to_numpy(dtype=float)
    covered[rows] = merged["decision_price"].notna().to_numpy()
    return out, covered


