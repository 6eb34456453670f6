"""Build execution rows (see :mod:`.executions`) from decisions and from orders, vectorised.

An execution row carries what the shortfall needs: ``decision_price``, ``arrival_mid``,
``end_mid``, ``target``, ``filled``, ``vwap``, ``fees``, ``funding`` and ``spread_money``
(the half-spreads paid, in money), plus labels for the tables.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report.metrics import BPS, cat_in

KINDS_BY_REASON = {
    "exit_signal": "signal", "stop_loss": "stop", "trailing_stop_loss": "stop",
    "stoploss_on_exchange": "stop", "roi": "roi", "force_exit": "forced",
    "emergency_exit": "emergency", "liquidation": "liquidation", "force_entry": "forced",
}
COLUMNS = ["bot", "strategy", "strategy_bot", "pair", "side", "intent", "kind", "class",
           "reason", "order_types", "stage", "trade_id", "n_orders", "source",
           "decision_source", "status", "decided_ts", "ended_ts", "decision_price",
           "arrival_mid", "vwap", "end_mid", "target", "filled", "filled_notional", "fees",
           "funding", "spread_money"]


def empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in COLUMNS})


def link(orders: pd.DataFrame, links: pd.DataFrame | None) -> np.ndarray:
    """Per order row: the position of its decision in the decisions frame's key order
    (``bot``, ``decision``) as an integer code, or -1 when no decision names it."""
    out = np.full(len(orders), -1, dtype=np.int64)
    if links is None or links.empty or orders.empty:
        return out
    left = pd.DataFrame({"bot": orders["bot"].astype(str).to_numpy(),
                         "row_id": orders["row_id"].to_numpy(np.int64),
                         "_pos": np.arange(len(orders))})
    right = links.assign(bot=links["bot"].astype(str), row_id=links["row_id"].astype(np.int64))
    m = left.merge(right.drop_duplicates(["bot", "row_id"]), on=["bot", "row_id"])
    out[m["_pos"].to_numpy()] = m["decision"].to_numpy(np.int64)
    return out


def _cats(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(labels with '' appended for missing, codes pointing into them) of a text column."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("category")
    labels = np.array([str(c) for c in s.cat.categories] + [""], dtype=object)
    c = s.cat.codes.to_numpy()
    return labels, np.where(c < 0, len(labels) - 1, c)


def _text_of(s: pd.Series, idx: np.ndarray) -> np.ndarray:
    """The text of a (categorical) column at some rows, without converting the column."""
    labels, c = _cats(s)
    return labels[c[idx]] if len(idx) else np.array([], dtype=object)


def _pairs(s: pd.Series, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """'a' where the first and last rows agree, else 'a→b' (one format per distinct pair)."""
    labels, c = _cats(s)
    n = len(labels)
    uniq, inv = np.unique(c[first] * n + c[last], return_inverse=True)
    text = [labels[u // n] if u // n == u % n else f"{labels[u // n]}→{labels[u % n]}"
            for u in uniq]
    return np.array(text, dtype=object)[inv] if len(first) else np.array([], dtype=object)


def _kind(intent: np.ndarray, reason: np.ndarray, adjust: np.ndarray) -> np.ndarray:
    keys = pd.Series(intent, dtype=object) + "|" + pd.Series(reason, dtype=object)
    codes_, uniques = pd.factorize(keys)
    table = np.array([KINDS_BY_REASON.get(u.split("|", 1)[1],
                                          "custom_exit" if u.startswith("exit|") else "signal")
                      for u in uniques], dtype=object)
    kinds = table[codes_] if len(codes_) else np.array([], dtype=object)
    return np.where((intent == "entry") & adjust, "adjust", kinds)


def _class(intent: np.ndarray, kind: np.ndarray, reason: np.ndarray) -> np.ndarray:
    return np.where(kind == "kill", "kill-switch flatten",
                    np.where(intent == "entry", "entry", np.where(reason == "", "exit",
                                                                   reason)))


def _status(target: np.ndarray, filled: np.ndarray, last_open: np.ndarray) -> np.ndarray:
    done = (filled > 0) & (filled >= target * (1 - 1e-9))
    return np.where(done, "complete", np.where(last_open, "working",
                                               np.where(filled > 0, "partial", "cancelled")))


def _spread_money(d: pd.DataFrame, starts: np.ndarray, arrival: np.ndarray,
                  exec_of: np.ndarray) -> np.ndarray:
    """Half-spreads paid in money: A x sum(bps/1e4 x q) over fills; NaN if one is unknown."""
    filled = d["filled"].to_numpy(float)
    sp = d["spread_cost_bps"].to_numpy(float)
    fill = filled > 0
    q_bps = np.add.reduceat(np.where(fill, np.nan_to_num(sp) / BPS * filled, 0.0), starts)
    unknown = np.add.reduceat((fill & ~np.isfinite(sp)).astype(np.int64), starts) > 0
    return np.where(unknown, np.nan, q_bps * arrival)


def _decision_rows(d: pd.DataFrame, starts: np.ndarray, exec_of: np.ndarray) -> np.ndarray:
    """Per execution, the row whose ledger decision price applies (-1: none): the first
    order's, else the first later order with a decision price and the same reason."""
    n = len(d)
    dec = d["decision_price"].to_numpy(float)
    reason = d["reason"].cat.codes.to_numpy() if hasattr(d["reason"], "cat") else \
        pd.factorize(d["reason"])[0]
    same = reason == reason[starts][exec_of]
    cand = np.isfinite(dec) & (dec > 0) & same
    pos = np.where(cand, np.arange(n), n)
    first = np.minimum.reduceat(pos, starts) if n else np.zeros(0, np.int64)
    return np.where(first < n, first, -1)


def derived(orders: pd.DataFrame) -> pd.DataFrame:
    """Executions from Freqtrade's orders alone (no decision names these orders)."""
    if orders.empty:
        return empty()
    protective = orders["is_stop"].to_numpy(bool) & (orders["filled"].to_numpy(float) <= 0)
    d = orders.loc[~protective]
    if d.empty:
        return empty()
    placed = d["placed_ts"].to_numpy(float)
    t = np.where(np.isfinite(placed), placed, d["filled_ts"].to_numpy(float))
    stop_uid = np.where(d["is_stop"].to_numpy(bool), d["row_id"].to_numpy(np.int64), 0)
    bot = d["bot"].cat.codes.to_numpy()
    tid = d["trade_id"].to_numpy(np.int64)
    intent = cat_in(d["intent"], ("exit",)).astype(np.int8)
    order = np.lexsort((d["row_id"].to_numpy(np.int64), np.nan_to_num(t, nan=np.inf),
                        stop_uid, intent, tid, bot))
    d = d.iloc[order].reset_index(drop=True)
    bot, tid, intent, stop_uid = bot[order], tid[order], intent[order], stop_uid[order]
    group_start = np.ones(len(d), dtype=bool)
    group_start[1:] = ((bot[1:] != bot[:-1]) | (tid[1:] != tid[:-1])
                       | (intent[1:] != intent[:-1]) | (stop_uid[1:] != stop_uid[:-1]))
    ends = cat_in(d["status"], ("filled",)) | (stop_uid != 0)
    start = group_start.copy()
    start[1:] |= ends[:-1]
    exec_of = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    lasts = np.append(starts[1:] - 1, len(d) - 1)
    # the index of each execution within its group (entries after the first are DCA)
    group_no = np.cumsum(group_start) - 1
    first_exec_of_group = np.minimum.reduceat(exec_of, np.flatnonzero(group_start))
    nth = exec_of[starts] - first_exec_of_group[group_no[starts]]
    return _derived_frame(d, starts, lasts, exec_of, nth)


def _derived_frame(d: pd.DataFrame, starts: np.ndarray, lasts: np.ndarray,
                   exec_of: np.ndarray, nth: np.ndarray) -> pd.DataFrame:
    filled = np.add.reduceat(d["filled"].to_numpy(float), starts)
    notional = np.add.reduceat(d["notional"].to_numpy(float), starts)
    fill = d["filled"].to_numpy(float) > 0
    fees = np.add.reduceat(np.where(fill, np.nan_to_num(d["fee"].to_numpy(float)), 0.0), starts)
    dec_row = _decision_rows(d, starts, exec_of)
    has_dec = dec_row >= 0
    safe = np.where(has_dec, dec_row, starts)
    requested = d["requested_price"].to_numpy(float)[starts]
    decision = np.where(has_dec, d["decision_price"].to_numpy(float)[safe], requested)
    arrival = np.where(has_dec, d["arrival_mid"].to_numpy(float)[safe], np.nan)
    amount = d["amount"].to_numpy(float)[starts]
    target = np.where(np.isfinite(amount) & (amount > 0), amount, filled)
    intent = _text_of(d["intent"], starts)
    reason_first = _text_of(d["reason"], starts)
    kind = _kind(intent, reason_first, nth > 0)
    placed, filled_ts = d["placed_ts"].to_numpy(float), d["filled_ts"].to_numpy(float)
    return pd.DataFrame({
        "bot": _text_of(d["bot"], starts), "strategy": _text_of(d["strategy"], starts),
        "pair": _text_of(d["pair"], starts), "side": _text_of(d["side"], starts),
        "intent": intent, "kind": kind, "class": _class(intent, kind, reason_first),
        "reason": _pairs(d["reason"], starts, lasts),
        "order_types": _pairs(d["order_type"], starts, lasts),
        "stage": _text_of(d["stage"], starts),
        "trade_id": d["trade_id"].to_numpy(np.int64)[starts],
        "n_orders": lasts - starts + 1, "source": "derived",
        "decision_source": np.where(has_dec, "ledger", "requested price"),
        "status": _status(target, filled, cat_in(d["status"], ("open",))[lasts]),
        "decided_ts": np.where(np.isfinite(placed[starts]), placed[starts],
                               filled_ts[starts]),
        "ended_ts": np.where(np.isfinite(filled_ts[lasts]), filled_ts[lasts], placed[lasts]),
        "decision_price": decision, "arrival_mid": arrival,
        "vwap": np.where(filled > 0, notional / np.where(filled > 0, filled, 1.0), np.nan),
        "end_mid": np.nan, "target": target, "filled": filled, "filled_notional": notional,
        "fees": fees, "funding": np.add.reduceat(d["funding"].to_numpy(float), starts),
        "spread_money": _spread_money(d, starts, arrival, exec_of),
    }).pipe(_finalize)


TEXT = ("bot", "strategy", "pair", "side", "intent", "kind", "class", "reason", "order_types",
        "stage", "source", "decision_source", "status")


def _finalize(f: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categoricals (cheap to group and compare), and strategy @ bot."""
    for c in TEXT:
        f[c] = to_category(f[c])
    strat, bot = _cats(f["strategy"]), _cats(f["bot"])
    n = len(bot[0])
    uniq, inv = np.unique(strat[1] * n + bot[1], return_inverse=True)
    text = [strat[0][u // n] + (f" @ {bot[0][u % n]}" if bot[0][u % n] else "") for u in uniq]
    f["strategy_bot"] = to_category(np.array(text, dtype=object)[inv] if len(f) else [])
    return f


def to_category(values: Any) -> pd.Categorical:
    """Values as a categorical, hash-factorised (no per-value string dtype conversion)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        return values.array
    arr = np.asarray(values, dtype=object)
    c, uniques = pd.factorize(arr, use_na_sentinel=True)
    return pd.Categorical.from_codes(c, categories=pd.Index(uniques, dtype=object))


def _epoch(values: pd.Series) -> np.ndarray:
    ts = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    return ((ts - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(
        dtype=float)


def from_decisions(orders: pd.DataFrame, linked: np.ndarray, decisions: pd.DataFrame
                   ) -> pd.DataFrame:
    """One execution per decision; its fills from the orders it names."""
    dec = decisions.reset_index(drop=True)
    keys = pd.MultiIndex.from_arrays([dec["bot"].astype(str), dec["id"].astype(np.int64)])
    has = linked >= 0
    o = orders.loc[has]
    pos = keys.get_indexer(pd.MultiIndex.from_arrays([o["bot"].astype(str),
                                                       linked[has]]))
    o = o.assign(_d=pos).loc[pos >= 0].sort_values(["_d", "placed_ts", "row_id"],
                                                   kind="stable")
    agg = _child_sums(o, len(dec))
    arrival = pd.to_numeric(dec["arrival_mid"], errors="coerce").to_numpy(float)
    fills = o["filled"].to_numpy(float) > 0
    sp = o["spread_cost_bps"].to_numpy(float)
    q_bps = np.bincount(o["_d"], np.where(fills, np.nan_to_num(sp) / BPS * o["filled"], 0.0),
                        minlength=len(dec))
    sp_unknown = np.bincount(o["_d"], (fills & ~np.isfinite(sp)).astype(float),
                             minlength=len(dec)) > 0
    intent = dec["intent"].astype(str).to_numpy()
    kind = dec["kind"].astype(str).to_numpy()
    reason = dec["reason"].fillna("").astype(str).to_numpy()
    strategy = np.where(agg["strategy"] != "", agg["strategy"], dec["strategy_id"].astype(str))
    out = pd.DataFrame({
        "bot": dec["bot"].astype(str), "strategy": strategy, "pair": dec["pair"].astype(str),
        "side": dec["side"].astype(str), "intent": intent, "kind": kind,
        "class": _class(intent, kind, reason), "reason": reason,
        "order_types": agg["order_types"], "stage": dec["runmode"].astype(str),
        "trade_id": pd.to_numeric(dec["trade_id"], errors="coerce").fillna(0).astype(np.int64),
        "n_orders": agg["n"], "source": "decision", "decision_source": "decisions table",
        "status": dec["status"].astype(str), "decided_ts": _epoch(dec["decided_at"]),
        "ended_ts": _epoch(dec["ended_at"]),
        "decision_price": pd.to_numeric(dec["decision_price"], errors="coerce"),
        "arrival_mid": arrival, "vwap": agg["vwap"],
        "end_mid": pd.to_numeric(dec["end_mid"], errors="coerce"),
        "target": pd.to_numeric(dec["target_amount"], errors="coerce"),
        "filled": np.where(agg["n"] > 0, agg["filled"],
                           pd.to_numeric(dec["filled_amount"], errors="coerce").fillna(0)),
        "filled_notional": agg["notional"], "fees": agg["fees"], "funding": agg["funding"],
        "spread_money": np.where(sp_unknown, np.nan, q_bps * arrival),
    })
    return _finalize(out)


def _child_sums(o: pd.DataFrame, n: int) -> dict[str, Any]:
    d = o["_d"].to_numpy(np.int64)
    filled = o["filled"].to_numpy(float)
    fills = filled > 0

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(d, values, minlength=n)

    count = np.bincount(d, minlength=n)
    f = total(filled)
    notional = total(o["notional"].to_numpy(float))
    first = pd.Series(o["order_type"].astype(str).to_numpy()).groupby(d).first()
    last = pd.Series(o["order_type"].astype(str).to_numpy()).groupby(d).last()
    types = np.full(n, "", dtype=object)
    types[first.index.to_numpy()] = [a if a == b else f"{a}→{b}"
                                     for a, b in zip(first, last, strict=True)]
    strat = np.full(n, "", dtype=object)
    s = pd.Series(o["strategy"].astype(str).to_numpy()).groupby(d).first()
    strat[s.index.to_numpy()] = s.to_numpy()
    return {"n": count, "filled": f, "notional": notional,
            "vwap": np.where(f > 0, notional / np.where(f > 0, f, 1.0), np.nan),
            "fees": total(np.where(fills, np.nan_to_num(o["fee"].to_numpy(float)), 0.0)),
            "funding": total(o["funding"].to_numpy(float)), "order_types": types,
            "strategy": strat}
