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
    "exit_signal": "signal",
    "stop_loss": "stop",
    "trailing_stop_loss": "stop",
    "stoploss_on_exchange": "stop",
    "roi": "roi",
    "force_exit": "forced",
    "emergency_exit": "emergency",
    "liquidation": "liquidation",
    "force_entry": "forced",
}
COLUMNS = [
    "bot",
    "strategy",
    "strategy_bot",
    "pair",
    "side",
    "intent",
    "kind",
    "class",
    "reason",
    "order_types",
    "stage",
    "trade_id",
    "n_orders",
    "source",
    "decision_source",
    "status",
    "decided_ts",
    "ended_ts",
    "decision_price",
    "arrival_mid",
    "vwap",
    "end_mid",
    "target",
    "filled",
    "filled_notional",
    "fees",
    "funding",
    "spread_money",
]


def empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in COLUMNS})


def link(orders: pd.DataFrame, links: pd.DataFrame | None) -> np.ndarray:
    """Per order row: the position of its decision in the decisions frame's key order
    (``bot``, ``decision``) as an integer code, or -1 when no decision names it."""
    out = np.full(len(orders), -1, dtype=np.int64)
    if links is None or links.empty or orders.empty:
        return out
    left = pd.DataFrame(
        {
            "bot": orders["bot"].astype(str).to_numpy(),
            "row_id": orders["row_id"].to_numpy(np.int64),
            "_pos": np.arange(len(orders)),
        }
    )
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


def _kind_of(intent: str, reason: str, adjust: bool) -> str:
    if intent == "entry" and adjust:
        return "adjust"
    return KINDS_BY_REASON.get(reason, "custom_exit" if intent == "exit" else "signal")


def _class_of(intent: str, kind: str, reason: str) -> str:
    if kind == "kill":
        return "kill-switch flatten"
    return "entry" if intent == "entry" else (reason or "exit")


def _labelled(
    intent: Any, reason: Any, adjust: np.ndarray, kind: Any = None
) -> tuple[pd.Categorical, pd.Categorical]:
    """(kind, class) per execution, decided once per distinct (intent, reason, adjust)."""
    i = pd.Categorical(intent)
    r = pd.Categorical(reason)
    k = pd.Categorical(kind) if kind is not None else None
    nk = len(k.categories) + 1 if k is not None else 1
    key = (
        (np.asarray(i.codes, np.int64) * (len(r.categories) + 1) + np.asarray(r.codes)) * 2
        + adjust.astype(np.int64)
    ) * nk + (np.asarray(k.codes) + 1 if k is not None else 0)
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    kinds, classes = [], []
    for pos in first:
        it, rs = str(i[pos]) if i.codes[pos] >= 0 else "", str(r[pos]) if r.codes[pos] >= 0 else ""
        kd = (
            str(k[pos])
            if k is not None and k.codes[pos] >= 0
            else _kind_of(it, rs, bool(adjust[pos]))
        )
        kinds.append(kd)
        classes.append(_class_of(it, kd, rs))
    inv = inv.reshape(-1)
    return (
        _from_labels(inv, np.array(kinds, dtype=object)),
        _from_labels(inv, np.array(classes, dtype=object)),
    )


STATUS = np.array(["complete", "working", "partial", "cancelled"], dtype=object)


def _status(target: np.ndarray, filled: np.ndarray, last_open: np.ndarray) -> pd.Categorical:
    done = (filled > 0) & (filled >= target * (1 - 1e-9))
    c = np.where(done, 0, np.where(last_open, 1, np.where(filled > 0, 2, 3)))
    return pd.Categorical.from_codes(c, categories=pd.Index(STATUS, dtype=object))


def _from_labels(codes_: np.ndarray, labels: np.ndarray) -> pd.Categorical:
    """Codes into possibly repeated labels -> a categorical with unique categories."""
    uniq, remap = np.unique(labels.astype(str), return_inverse=True)
    return pd.Categorical.from_codes(
        remap[codes_] if len(codes_) else codes_.astype(int),
        categories=pd.Index(uniq, dtype=object),
    )


class _View:
    """Columns of the order frame in execution order (gathered lazily as numpy arrays:
    the frame itself is never copied)."""

    def __init__(self, orders: pd.DataFrame, perm: np.ndarray) -> None:
        self.o, self.perm = orders, perm

    def __len__(self) -> int:
        return len(self.perm)

    def num(self, col: str) -> np.ndarray:
        out: np.ndarray = self.o[col].to_numpy()[self.perm]
        return out

    def cat(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        labels, c = _cats(self.o[col])
        return labels, c[self.perm]

    def text(self, col: str, idx: np.ndarray) -> pd.Categorical:
        """The column at some rows as a categorical ('' for missing), from codes."""
        labels, c = self.cat(col)
        return _from_labels(c[idx], labels)

    def pairs(self, col: str, first: np.ndarray, last: np.ndarray) -> Any:
        """'a' where the first and last rows agree, else 'a→b' (formatted once per pair)."""
        labels, c = self.cat(col)
        n = len(labels)
        if not len(first):
            return np.array([], dtype=object)
        uniq, inv = np.unique(c[first] * n + c[last], return_inverse=True)
        text = [
            labels[u // n] if u // n == u % n else f"{labels[u // n]}→{labels[u % n]}" for u in uniq
        ]
        return _from_labels(inv.reshape(-1), np.array(text, dtype=object))

    def isin(self, col: str, values: tuple[str, ...]) -> np.ndarray:
        out: np.ndarray = cat_in(self.o[col], values)[self.perm]
        return out


def _spread_money(v: _View, starts: np.ndarray, arrival: np.ndarray) -> np.ndarray:
    """Half-spreads paid in money: A x sum(bps/1e4 x q) over fills; NaN if one is unknown."""
    filled = v.num("filled")
    sp = v.num("spread_cost_bps")
    fill = filled > 0
    q_bps = np.add.reduceat(np.where(fill, np.nan_to_num(sp) / BPS * filled, 0.0), starts)
    unknown = np.add.reduceat((fill & ~np.isfinite(sp)).astype(np.int64), starts) > 0
    return np.where(unknown, np.nan, q_bps * arrival)


def _decision_rows(v: _View, starts: np.ndarray, exec_of: np.ndarray) -> np.ndarray:
    """Per execution, the row whose ledger decision price applies (-1: none): the first
    order's, else the first later order with a decision price and the same reason."""
    n = len(v)
    dec = v.num("decision_price")
    _, reason = v.cat("reason")
    same = reason == reason[starts][exec_of]
    cand = np.isfinite(dec) & (dec > 0) & same
    pos = np.where(cand, np.arange(n), n)
    first = np.minimum.reduceat(pos, starts) if n else np.zeros(0, np.int64)
    return np.where(first < n, first, -1)


def derived(orders: pd.DataFrame, contexts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Executions from Freqtrade's orders alone (no decision names these orders)."""
    if orders.empty:
        return empty()
    is_stop = orders["is_stop"].to_numpy(bool)
    keep = np.flatnonzero(~(is_stop & (orders["filled"].to_numpy(float) <= 0)))
    if not len(keep):
        return empty()
    placed = orders["placed_ts"].to_numpy(float)[keep]
    t = np.where(np.isfinite(placed), placed, orders["filled_ts"].to_numpy(float)[keep])
    row_id = orders["row_id"].to_numpy(np.int64)[keep]
    stop_uid = np.where(is_stop[keep], row_id, 0)
    bot = orders["bot"].cat.codes.to_numpy()[keep]
    tid = orders["trade_id"].to_numpy(np.int64)[keep]
    intent = cat_in(orders["intent"], ("exit",))[keep].astype(np.int8)
    order = np.lexsort((row_id, np.nan_to_num(t, nan=np.inf), stop_uid, intent, tid, bot))
    v = _View(orders, keep[order])
    bot, tid, intent, stop_uid = bot[order], tid[order], intent[order], stop_uid[order]
    group_start = np.ones(len(v), dtype=bool)
    group_start[1:] = (
        (bot[1:] != bot[:-1])
        | (tid[1:] != tid[:-1])
        | (intent[1:] != intent[:-1])
        | (stop_uid[1:] != stop_uid[:-1])
    )
    ends = v.isin("status", ("filled",)) | (stop_uid != 0)
    start = group_start.copy()
    start[1:] |= ends[:-1]
    exec_of = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    lasts = np.append(starts[1:] - 1, len(v) - 1)
    # the index of each execution within its group (entries after the first are DCA)
    group_no = np.cumsum(group_start) - 1
    first_exec_of_group = np.minimum.reduceat(exec_of, np.flatnonzero(group_start))
    nth = exec_of[starts] - first_exec_of_group[group_no[starts]]
    last_in_group = np.append(group_start[starts[1:]], True)
    return _derived_frame(v, starts, lasts, exec_of, nth, (contexts, last_in_group))


def _context_prices(
    v: _View, starts: np.ndarray, nth: np.ndarray, ctx: tuple[Any, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(decision price, arrival mid) from the trade's decision context where it belongs to
    the execution: the trade's first entry, or the exit still being worked; else NaN."""
    contexts, last_in_group = ctx
    n = len(starts)
    if contexts is None or contexts.empty or not n:
        return np.full(n, np.nan), np.full(n, np.nan)
    intent = np.asarray(v.text("intent", starts), dtype=object)
    left = pd.DataFrame(
        {
            "bot": np.asarray(v.text("bot", starts), dtype=object),
            "trade_id": v.num("trade_id")[starts].astype(np.int64),
            "intent": intent,
            "_pos": np.arange(n),
        }
    )
    ok = ((intent == "entry") & (nth == 0)) | ((intent == "exit") & last_in_group)
    right = contexts.assign(
        bot=contexts["bot"].astype(object), intent=contexts["intent"].astype(object)
    )
    m = left.loc[ok].merge(
        right.drop_duplicates(["bot", "trade_id", "intent"]), on=["bot", "trade_id", "intent"]
    )
    price, arrival = np.full(n, np.nan), np.full(n, np.nan)
    price[m["_pos"].to_numpy()] = m["decision_price"].to_numpy(float)
    arrival[m["_pos"].to_numpy()] = m["arrival_mid"].to_numpy(float)
    return price, arrival


def _derived_frame(
    v: _View,
    starts: np.ndarray,
    lasts: np.ndarray,
    exec_of: np.ndarray,
    nth: np.ndarray,
    ctx: tuple[Any, Any],
) -> pd.DataFrame:
    filled_all = v.num("filled").astype(float)
    filled = np.add.reduceat(filled_all, starts)
    notional = np.add.reduceat(v.num("notional").astype(float), starts)
    fees = np.add.reduceat(
        np.where(filled_all > 0, np.nan_to_num(v.num("fee").astype(float)), 0.0), starts
    )
    dec_row = _decision_rows(v, starts, exec_of)
    has_dec = dec_row >= 0
    safe = np.where(has_dec, dec_row, starts)
    requested = v.num("requested_price")[starts]
    ctx_price, ctx_arrival = _context_prices(v, starts, nth, ctx)
    from_ctx = ~has_dec & np.isfinite(ctx_price)
    decision = np.where(
        has_dec, v.num("decision_price")[safe], np.where(from_ctx, ctx_price, requested)
    )
    arrival = np.where(has_dec, v.num("arrival_mid")[safe], np.where(from_ctx, ctx_arrival, np.nan))
    amount = v.num("amount")[starts]
    target = np.where(np.isfinite(amount) & (amount > 0), amount, filled)
    intent = v.text("intent", starts)
    kind, klass = _labelled(intent, v.text("reason", starts), nth > 0)
    placed, filled_ts = v.num("placed_ts"), v.num("filled_ts")
    return _frame(
        {
            "bot": v.text("bot", starts),
            "strategy": v.text("strategy", starts),
            "pair": v.text("pair", starts),
            "side": v.text("side", starts),
            "intent": intent,
            "kind": kind,
            "class": klass,
            "reason": v.pairs("reason", starts, lasts),
            "order_types": v.pairs("order_type", starts, lasts),
            "stage": v.text("stage", starts),
            "trade_id": v.num("trade_id")[starts].astype(np.int64),
            "n_orders": lasts - starts + 1,
            "source": "derived",
            "decision_source": _from_labels(
                np.where(has_dec, 0, np.where(from_ctx, 1, 2)),
                np.array(["ledger", "trade context", "requested price"], dtype=object),
            ),
            "status": _status(target, filled, v.isin("status", ("open",))[lasts]),
            "decided_ts": np.where(np.isfinite(placed[starts]), placed[starts], filled_ts[starts]),
            "ended_ts": np.where(np.isfinite(filled_ts[lasts]), filled_ts[lasts], placed[lasts]),
            "decision_price": decision,
            "arrival_mid": arrival,
            "vwap": np.where(filled > 0, notional / np.where(filled > 0, filled, 1.0), np.nan),
            "end_mid": np.nan,
            "target": target,
            "filled": filled,
            "filled_notional": notional,
            "fees": fees,
            "funding": np.add.reduceat(v.num("funding").astype(float), starts),
            "spread_money": _spread_money(v, starts, arrival),
        }
    )


TEXT = (
    "bot",
    "strategy",
    "pair",
    "side",
    "intent",
    "kind",
    "class",
    "reason",
    "order_types",
    "stage",
    "source",
    "decision_source",
    "status",
)


def _frame(cols: dict[str, Any]) -> pd.DataFrame:
    """The execution frame: text columns as categoricals (cheap to group and compare; never
    pandas' string dtype), plus strategy @ bot."""
    n = max((len(v) for v in cols.values() if not np.isscalar(v)), default=0)
    for c in TEXT:
        v = cols[c]
        if not isinstance(v, pd.Categorical):
            cols[c] = to_category(np.full(n, v, dtype=object) if np.isscalar(v) else v)
    f = pd.DataFrame(cols)
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
    secs = (ts - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(seconds=1)
    return np.asarray(secs.to_numpy(dtype=float), dtype=float)


def from_decisions(
    orders: pd.DataFrame, linked: np.ndarray, decisions: pd.DataFrame
) -> pd.DataFrame:
    """One execution per decision; its fills from the orders it names."""
    dec = decisions.reset_index(drop=True)
    keys = pd.MultiIndex.from_arrays([dec["bot"].astype(str), dec["id"].astype(np.int64)])
    has = linked >= 0
    o = orders.loc[has]
    pos = keys.get_indexer(pd.MultiIndex.from_arrays([o["bot"].astype(str), linked[has]]))
    o = o.assign(_d=pos).loc[pos >= 0].sort_values(["_d", "placed_ts", "row_id"], kind="stable")
    agg = _child_sums(o, len(dec))
    arrival = pd.to_numeric(dec["arrival_mid"], errors="coerce").to_numpy(float)
    fills = o["filled"].to_numpy(float) > 0
    sp = o["spread_cost_bps"].to_numpy(float)
    q_bps = np.bincount(
        o["_d"], np.where(fills, np.nan_to_num(sp) / BPS * o["filled"], 0.0), minlength=len(dec)
    )
    sp_unknown = (
        np.bincount(o["_d"], (fills & ~np.isfinite(sp)).astype(float), minlength=len(dec)) > 0
    )
    intent = np.asarray(dec["intent"], dtype=object)
    reason = np.asarray(dec["reason"].fillna(""), dtype=object)
    kind, klass = _labelled(
        intent, reason, np.zeros(len(dec), bool), np.asarray(dec["kind"], dtype=object)
    )
    strategy = np.where(agg["strategy"] != "", agg["strategy"], dec["strategy_id"].astype(str))
    return _frame(
        {
            "bot": dec["bot"].astype(str),
            "strategy": strategy,
            "pair": dec["pair"].astype(str),
            "side": dec["side"].astype(str),
            "intent": intent,
            "kind": kind,
            "class": klass,
            "reason": reason,
            "order_types": agg["order_types"],
            "stage": dec["runmode"].astype(str),
            "trade_id": pd.to_numeric(dec["trade_id"], errors="coerce").fillna(0).astype(np.int64),
            "n_orders": agg["n"],
            "source": "decision",
            "decision_source": "decisions table",
            "status": dec["status"].astype(str),
            "decided_ts": _epoch(dec["decided_at"]),
            "ended_ts": _epoch(dec["ended_at"]),
            "decision_price": pd.to_numeric(dec["decision_price"], errors="coerce"),
            "arrival_mid": arrival,
            "vwap": agg["vwap"],
            "end_mid": pd.to_numeric(dec["end_mid"], errors="coerce"),
            "target": pd.to_numeric(dec["target_amount"], errors="coerce"),
            "filled": np.where(
                agg["n"] > 0,
                agg["filled"],
                pd.to_numeric(dec["filled_amount"], errors="coerce").fillna(0),
            ),
            "filled_notional": agg["notional"],
            "fees": agg["fees"],
            "funding": agg["funding"],
            "spread_money": np.where(sp_unknown, np.nan, q_bps * arrival),
        }
    )


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
    types[first.index.to_numpy()] = [
        a if a == b else f"{a}→{b}" for a, b in zip(first, last, strict=True)
    ]
    strat = np.full(n, "", dtype=object)
    s = pd.Series(o["strategy"].astype(str).to_numpy()).groupby(d).first()
    strat[s.index.to_numpy()] = s.to_numpy()
    return {
        "n": count,
        "filled": f,
        "notional": notional,
        "vwap": np.where(f > 0, notional / np.where(f > 0, f, 1.0), np.nan),
        "fees": total(np.where(fills, np.nan_to_num(o["fee"].to_numpy(float)), 0.0)),
        "funding": total(o["funding"].to_numpy(float)),
        "order_types": types,
        "strategy": strat,
    }
