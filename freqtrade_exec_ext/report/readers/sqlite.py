"""SQLite: id ranges of ``orders``, each read by the fast path when it can, else exactly.

The fast path (:mod:`.sqlite_arrow`) reads a range as Arrow columns and parses its ledger
records with Arrow's JSON reader; both work off the GIL, so big databases are read by two
threads.  A range the fast path cannot read exactly (a text in a number column, a ledger
record that is not one JSON object of the documented types) is read again here with the
stdlib driver: three queries (the orders with short texts coded, their trades, and their
ledger records, each JSON parsed once by SQLite as a multi-path ``json_extract`` whose
array text pandas' C parser reads), naming every row it skips.  Without the Arrow driver
every range is read this way, by up to two forked worker processes.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.compat import schema
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.report.frame import Problems, check_ledger, finish, numbers
from freqtrade_exec_ext.report.query import (
    LEDGER_FIELDS,
    MAX_VOCAB,
    ORDER_TEXT,
    SQLITE_ORDER_NAMES,
    TRADE_NAMES,
    TRADE_NUM,
    TRADE_TEXT,
    contexts_sql,
    ledger_fields,
    sqlite_has_markouts_sql,
    sqlite_invalid_ledger_sql,
    sqlite_ledger_sql,
    sqlite_orders_sql,
    sqlite_trades_sql,
    sqlite_vocab_sql,
)
from freqtrade_exec_ext.report.readers import sqlite_arrow as fast

MAX_WORKERS = 2
Progress = Callable[[int, int], None] | None


def connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)


def read(
    path: Path,
    *,
    url: str,
    stage: str | None,
    bot: str,
    use_ledger: bool,
    pairs: Sequence[str],
    strategies: Sequence[str],
    progress: Progress,
    chunk_rows: int,
) -> tuple[list[pd.DataFrame], Problems, list[tuple[Any, ...]]]:
    """Finished frames, the rows skipped, and the trades' decision contexts (raw rows)."""
    con = connect(path)
    try:
        lo, hi, total = con.execute("SELECT MIN(id), MAX(id), COUNT(*) FROM orders").fetchone()
    finally:
        con.close()
    problems = Problems()
    contexts: list[tuple[Any, ...]] = []
    if lo is None or hi is None:
        return [], problems, contexts
    job = {
        "path": path,
        "pairs": pairs,
        "strategies": strategies,
        "use_ledger": use_ledger,
        "contexts": _has_contexts(path),
        "url": url,
        "stage": stage,
        "bot": bot,
        "ledger_fields": ledger_fields(_has_markouts(path, use_ledger)),
        "fast": fast.available(),
    }
    ranges = [(s, s + chunk_rows) for s in range(int(lo) - 1, int(hi), chunk_rows)]
    workers = min(len(ranges), os.cpu_count() or 1, MAX_WORKERS) if total > 2 * chunk_rows else 1
    frames: list[pd.DataFrame] = []
    done = 0
    if progress:
        progress(0, total)
    for frame, found, ctx in _run(job, ranges, workers):
        frames.append(frame)
        problems.merge(found)
        contexts += ctx
        done = min(total, done + len(frame))
        if progress:
            progress(done, total)
    return [f for f in frames if len(f)], problems, contexts


def _has_markouts(path: Path, use_ledger: bool) -> bool:
    """Whether the newest ledger records carry markouts (their JSON paths cost time)."""
    if not use_ledger:
        return False
    con = connect(path)
    try:
        return bool(
            con.execute(sqlite_has_markouts_sql(), {"like": LEDGER_KEY_PREFIX + "%"}).fetchone()[0]
        )
    finally:
        con.close()


def _has_contexts(path: Path) -> bool:
    con = connect(path)
    try:
        return bool(
            con.execute(
                "SELECT name FROM sqlite_master WHERE name = ?", (schema.TABLES.custom_data,)
            ).fetchone()
        )
    finally:
        con.close()


def _vocabulary(
    con: sqlite3.Connection, sql: str, names: Sequence[str], args: dict[str, Any]
) -> dict[str, list[str] | None]:
    """The distinct values of short text columns (None: too many to code in SQL)."""
    rows = con.execute(sql, args).fetchall()
    vocab: dict[str, list[str] | None] = {}
    for k, name in enumerate(names):
        values = sorted({str(r[k]) for r in rows if r[k] is not None})
        vocab[name] = values if len(values) <= MAX_VOCAB else None
    return vocab


def _run(job: dict[str, Any], ranges: list[tuple[int, int]], workers: int) -> Any:
    if workers <= 1:
        for r in ranges:
            yield chunk(job, r)
        return
    import concurrent.futures as cf

    if job["fast"]:  # the driver and Arrow's JSON reader work off the GIL: threads
        pool: cf.Executor = cf.ThreadPoolExecutor(max_workers=workers)
    else:
        import multiprocessing as mp

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    with pool:
        yield from (fut.result() for fut in [pool.submit(chunk, job, r) for r in ranges])


def chunk(
    job: dict[str, Any], bounds: tuple[int, int]
) -> tuple[pd.DataFrame, Problems, list[tuple[Any, ...]]]:
    """One id range, finished into order rows, with the decision contexts of its trades:
    the fast path when the range is regular, else the exact one."""
    if job.get("fast"):
        try:
            return _fast_chunk(job, bounds)
        except fast.Irregular:
            pass  # read again, exactly: the exact path names what it skips
    return _exact_chunk(job, bounds)


def _fast_chunk(
    job: dict[str, Any], bounds: tuple[int, int]
) -> tuple[pd.DataFrame, Problems, list[tuple[Any, ...]]]:
    problems = Problems()
    lo, hi = bounds
    con = fast.connect(job["path"])
    try:
        cur = con.cursor()
        raw = fast.orders(cur, job, lo, hi)
        if not len(raw):
            return pd.DataFrame(), problems, []
        args = _trade_bounds(raw, lo, hi)
        _attach_trades(raw, fast.trades(cur, args), problems)
        if job["use_ledger"]:
            lids, led = fast.ledger(cur, lo, hi, job["ledger_fields"])
            raw["l_present"] = np.zeros(len(raw), dtype=np.int8)
            if len(lids):
                keep, pos = _match_ledger(raw, lids)
                _place_ledger(raw, pos, led.loc[keep].reset_index(drop=True))
        cur.close()
    finally:
        con.close()
    with closing(connect(job["path"])) as std:
        ctx = _contexts(std, job, args)
    out = finish(raw, url=job["url"], stage=job["stage"], bot=job["bot"])
    del raw
    fast.release_memory()
    return out, problems, ctx


def _contexts(
    con: sqlite3.Connection, job: dict[str, Any], args: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The decision contexts of the range's trades (``args``: how they are selected)."""
    if not (job["use_ledger"] or job["contexts"]):
        return []
    params = {k: v for k, v in args.items() if k != "dense"}
    return con.execute(contexts_sql(args["dense"]), params).fetchall()


def _exact_chunk(
    job: dict[str, Any], bounds: tuple[int, int]
) -> tuple[pd.DataFrame, Problems, list[tuple[Any, ...]]]:
    problems = Problems()
    lo, hi = bounds
    con = connect(job["path"])
    try:
        vocab = _vocabulary(
            con, sqlite_vocab_sql(by_range=True)[0], ORDER_TEXT, {"lo": lo, "hi": hi}
        )
        sql, params = sqlite_orders_sql(job["pairs"], job["strategies"], vocab)
        rows = con.execute(sql, {**params, "lo": lo, "hi": hi}).fetchall()
        if not rows:
            return pd.DataFrame(), problems, []
        raw = _orders(rows, vocab, problems)
        del rows
        args = _trade_bounds(raw, lo, hi)
        _attach_trades(raw, _trade_rows(con, args, problems), problems)
        if job["use_ledger"] and len(raw):
            _join_ledger(con, job, raw, lo, hi, problems)
        ctx = _contexts(con, job, args)
    finally:
        con.close()
    return finish(raw, url=job["url"], stage=job["stage"], bot=job["bot"]), problems, ctx


def categorical(values: Sequence[Any]) -> pd.Categorical:
    """Text values as a categorical (hash-factorised: no string dtype conversion)."""
    arr = np.array([None if v is None else str(v) for v in values], dtype=object)
    codes_, uniques = pd.factorize(arr, use_na_sentinel=True)
    return pd.Categorical.from_codes(codes_, categories=pd.Index(uniques, dtype=object))


def from_vocab(codes_: np.ndarray, vocab: list[str]) -> pd.Categorical:
    c = np.nan_to_num(codes_, nan=-1).astype(np.int32)
    return pd.Categorical.from_codes(
        np.where((c < 0) | (c >= len(vocab)), -1, c), categories=pd.Index(vocab, dtype=object)
    )


def _matrix(
    rows: list[tuple[Any, ...]],
    names: Sequence[str],
    text: set[str],
    ids_col: int,
    problems: Problems,
    label: str,
) -> tuple[dict[str, Any], np.ndarray]:
    """Query rows as columns: one C conversion when every value is a number; else column
    by column, naming the values that are not numbers."""
    n = len(rows)
    try:
        if text:
            raise ValueError("text columns")
        m = np.array(rows, dtype=float)
        return {name: m[:, k] for k, name in enumerate(names)}, np.zeros(n, dtype=bool)
    except (TypeError, ValueError):
        pass
    cols = list(zip(*rows, strict=True))
    ids = np.asarray(cols[ids_col], dtype=float)
    out: dict[str, Any] = {}
    bad = np.zeros(n, dtype=bool)
    for name, col in zip(names, cols, strict=True):
        if name in text:
            out[name] = categorical(col)
        else:
            out[name], wrong = numbers(col, name, ids, problems, label)
            bad |= wrong
    return out, bad


def _orders(
    rows: list[tuple[Any, ...]], vocab: dict[str, list[str] | None], problems: Problems
) -> pd.DataFrame:
    text = {c for c in ORDER_TEXT if vocab.get(c) is None}
    data, bad = _matrix(rows, SQLITE_ORDER_NAMES, text, 0, problems, "orders.id")
    for c in ORDER_TEXT:
        if c not in text:
            data[c] = from_vocab(data[c], vocab[c] or [])
    raw = pd.DataFrame(data)
    return raw.loc[~bad].reset_index(drop=True) if bad.any() else raw


def _trade_bounds(raw: pd.DataFrame, lo: int, hi: int) -> dict[str, Any]:
    """How the range's trades are selected: their id range when dense (the usual case: a
    range scan of trades), else the trades of the order id range."""
    tids = raw["ft_trade_id"].to_numpy()
    tlo, thi = (float(np.nanmin(tids)), float(np.nanmax(tids))) if len(tids) else (0.0, -1.0)
    return {"tlo": tlo, "thi": thi, "lo": lo, "hi": hi, "dense": thi - tlo < 4 * len(tids)}


def _trade_rows(
    con: sqlite3.Connection, args: dict[str, Any], problems: Problems
) -> dict[str, Any]:
    dense = args["dense"]
    params = {k: v for k, v in args.items() if k != "dense"}
    vocab = _vocabulary(con, sqlite_vocab_sql(by_range=dense)[1], TRADE_TEXT, params)
    rows = con.execute(sqlite_trades_sql(vocab, by_range=dense), params).fetchall()
    text = {c for c in TRADE_TEXT if vocab.get(c) is None}
    if rows:
        data, _ = _matrix(rows, TRADE_NAMES, text, 0, problems, "trades.id")
    else:
        data = {c: np.zeros(0) for c in TRADE_NAMES}
        data.update({c: pd.Categorical([]) for c in text})
    for c in TRADE_TEXT:
        if c not in text:
            data[c] = from_vocab(np.asarray(data[c], dtype=float), vocab[c] or [])
    return data


def _attach_trades(raw: pd.DataFrame, data: dict[str, Any], problems: Problems) -> None:
    """Add the trades' columns (in place); orders of no trade are skipped (named)."""
    t_ids = np.asarray(data["id"], dtype=float)
    tid = raw["ft_trade_id"].to_numpy()
    order = np.argsort(t_ids, kind="stable")
    pos = np.searchsorted(t_ids, tid, sorter=order) if len(t_ids) else np.zeros(len(tid), int)
    ok = pos < len(t_ids)
    ok[ok] = t_ids[order[pos[ok]]] == tid[ok]
    if not ok.all():
        missing = raw["id"].to_numpy()[~ok]
        problems.add(
            "orders",
            [f"orders.id {int(i)} belongs to no trade" for i in missing[:3]],
            int((~ok).sum()),
        )
        raw.drop(index=raw.index[~ok], inplace=True)
        raw.reset_index(drop=True, inplace=True)
        pos = pos[ok]
    take = order[pos] if len(t_ids) else pos
    for name in (*TRADE_TEXT, *TRADE_NUM):
        col = data[name]
        if isinstance(col, pd.Categorical):
            raw[name] = col.take(take) if len(t_ids) else pd.Categorical([None] * len(raw))
        else:
            vals = np.asarray(col, dtype=float)
            raw[name] = vals[take] if len(t_ids) else np.nan


def _ledger_rows(
    con: sqlite3.Connection, lo: int, hi: int, problems: Problems, markouts: bool
) -> list[tuple[Any, ...]]:
    args = {"prefix": LEDGER_KEY_PREFIX, "lo": lo, "hi": hi}
    try:
        return con.execute(sqlite_ledger_sql(markouts=markouts), args).fetchall()
    except sqlite3.OperationalError as exc:
        if "JSON" not in str(exc):
            raise
    bad = con.execute(sqlite_invalid_ledger_sql(), args).fetchall()
    problems.add(
        "ledger",
        [
            f"trade_custom_data id {cid} ({key}, trade {tid}) is not valid JSON"
            for cid, key, tid in bad[:3]
        ],
        len(bad),
    )
    return con.execute(sqlite_ledger_sql(valid_only=True, markouts=markouts), args).fetchall()


def parse_arrays(
    texts: list[str], fields: Sequence[tuple[str, str, str]] = LEDGER_FIELDS
) -> pd.DataFrame:
    """'[1.0,"maker",null,...]' texts (one per record) -> a frame, in one C pass; a text
    the CSV parser cannot split is read with the JSON parser instead."""
    names = [f"l_{n}" for n, _, _ in fields]
    block = "\n".join(t[1:-1] if t and t[0] == "[" else "" for t in texts)
    try:
        led = pd.read_csv(
            io.StringIO(block),
            header=None,
            names=names,
            na_values=["null"],
            keep_default_na=False,
            skip_blank_lines=False,
            dtype={c: "category" for c in names if c in _TEXT},
            true_values=["true"],
            false_values=["false"],
        )
        if len(led) == len(texts):
            return led
    except (ValueError, pd.errors.ParserError):
        pass
    vals = []
    for t in texts:
        try:
            v = json.loads(t)
        except (TypeError, ValueError):
            v = None
        vals.append(v if isinstance(v, list) and len(v) == len(names) else [None] * len(names))
    return pd.DataFrame(vals, columns=names)


_TEXT = {f"l_{n}" for n, _, k in LEDGER_FIELDS if k == "text"}


def _join_ledger(
    con: sqlite3.Connection,
    job: dict[str, Any],
    raw: pd.DataFrame,
    lo: int,
    hi: int,
    problems: Problems,
) -> None:
    raw["l_present"] = np.zeros(len(raw), dtype=np.int8)
    fields = job["ledger_fields"]
    ledger = _ledger_rows(con, lo, hi, problems, len(fields) == len(LEDGER_FIELDS))
    if not ledger:
        return
    lids = np.array([r[0] for r in ledger], dtype=float)
    keep, pos = _match_ledger(raw, lids)
    led = parse_arrays([r[1] for r, k in zip(ledger, keep, strict=True) if k], fields)
    _place_ledger(raw, pos, led)
    ids = raw["id"].to_numpy()

    def label(rows: list[int]) -> list[str]:
        marks = ",".join("?" * len(rows))
        got = dict(
            con.execute(
                f"SELECT id, ? || order_id FROM orders WHERE id IN ({marks})",  # noqa: S608
                [LEDGER_KEY_PREFIX, *(int(ids[k]) for k in rows)],
            ).fetchall()
        )
        return [
            f"trade_custom_data {got.get(int(ids[k]), '?')} (orders.id {int(ids[k])})" for k in rows
        ]

    check_ledger(raw, problems, label)


def _match_ledger(raw: pd.DataFrame, lids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(which records belong to a row of ``raw`` (orders filtered out: not), the row of
    each of those)."""
    ids = raw["id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    found = np.searchsorted(ids, lids, sorter=order)
    keep = found < len(ids)
    keep[keep] = ids[order[found[keep]]] == lids[keep]  # filtered-out orders: skip
    return keep, order[found[keep]]


def _place_ledger(raw: pd.DataFrame, pos: np.ndarray, led: pd.DataFrame) -> None:
    """Set the records' fields (``led``, one row per matched record) and ``l_present`` on
    the rows ``pos`` of ``raw`` (in place)."""
    present = np.zeros(len(raw), dtype=np.int8)
    present[pos] = 1
    raw["l_present"] = present
    for c in led.columns:
        col = led[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            c_codes = np.full(len(raw), -1, dtype=np.int64)
            c_codes[pos] = col.cat.codes.to_numpy()
            raw[c] = pd.Categorical.from_codes(c_codes, categories=col.cat.categories)
        else:
            numeric = col.dtype.kind in "fiub"
            full = np.full(
                len(raw), np.nan if numeric else None, dtype=float if numeric else object
            )
            full[pos] = col.to_numpy(dtype=float if numeric else object)
            raw[c] = full
