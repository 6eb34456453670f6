"""The database reading paths: SQLite (worker processes), PostgreSQL (COPY), others.

Each path turns query rows into raw chunks (one row per order, ledger fields as ``l_*``)
and hands them to :func:`~freqtrade_exec_ext.report.frame.finish`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.report.query import (
    BASE_COLS,
    LEDGER_FIELDS,
    build_query,
    epoch_sql,
    filters,
    sql_str,
)

RAW_TEXT = ("strategy", "ft_pair", "side", "ft_order_side", "order_type", "status", "order_id",
            "stake_currency", "trading_mode")
LEDGER_COLS = [f"l_{n}" for n, _ in LEDGER_FIELDS]
RAW_COLS = [*BASE_COLS, "placed_ts", "filled_ts", "l_present", *LEDGER_COLS]
_CSV_DTYPES: dict[str, Any] = {c: "category" for c in RAW_TEXT if c != "order_id"}
_CSV_DTYPES.update({"order_id": object, "l_fee_currency": "category",
                    "l_liquidity": "category", "l_runmode": "category",
                    "l_intent": "category"})


def empty_raw() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in RAW_TEXT else float)
                         for c in RAW_COLS})


def parse_csv(text_block: str) -> pd.DataFrame:
    import io

    df = pd.read_csv(io.StringIO(text_block), header=None, names=RAW_COLS, dtype=_CSV_DTYPES,
                     na_values=["", "null"], keep_default_na=False,
                     true_values=["true", "t"], false_values=["false", "f"])
    if "l_over_budget" in df.columns:
        ob = df["l_over_budget"]
        df["l_over_budget"] = pd.to_numeric(
            ob.astype(str).str.lower().map({"true": 1.0, "false": 0.0, "1.0": 1.0,
                                            "0.0": 0.0, "1": 1.0, "0": 0.0}),
            errors="coerce")
    return df



def read_sqlite(conn: Any, use_ledger: bool, pairs: Sequence[str], strategies: Sequence[str],
                 lo: int | None, hi: int | None, total: int,
                 progress: Callable[[int, int], None] | None, chunk_rows: int,
                 finish: Callable[[pd.DataFrame], pd.DataFrame]) -> list[pd.DataFrame]:
    """SQLite: numbers only per row; text columns come back as small integer codes.

    Building a Python string per row and column costs more than the query itself, so
    the few distinct values of each text column are read first and the main query maps
    them to codes with CASE; each ledger JSON is parsed once by SQLite (a multi-path
    json_extract) and its array text is read by pandas' C CSV parser.
    """
    from sqlalchemy import text

    vocab: dict[str, list[str]] = {}
    for col, sql in (
        ("strategy", "SELECT DISTINCT strategy FROM trades"),
        ("ft_pair", "SELECT DISTINCT pair FROM trades"),
        ("stake_currency", "SELECT DISTINCT stake_currency FROM trades"),
    ):
        vocab[col] = sorted({str(r[0]) for r in conn.execute(text(sql)) if r[0] is not None})
    rows = conn.execute(text(
        "SELECT DISTINCT side, ft_order_side, order_type, status FROM orders")).all()
    for i, col in enumerate(("side", "ft_order_side", "order_type", "status")):
        vocab[col] = sorted({str(r[i]) for r in rows if r[i] is not None})
    src = {"strategy": "t.strategy", "ft_pair": "t.pair", "stake_currency": "t.stake_currency",
           "side": "o.side", "ft_order_side": "o.ft_order_side", "order_type": "o.order_type",
           "status": "o.status"}
    cols = ["o.id", "o.ft_trade_id"]
    for col, expr in src.items():
        whens = " ".join(f"WHEN {sql_str(v)} THEN {i}" for i, v in enumerate(vocab[col]))
        cols.append(f"CASE {expr} {whens} ELSE -1 END" if whens else "-1")
    cols += ["o.ft_price", "o.price", "o.average", "o.amount", "o.ft_amount", "o.filled",
             "o.funding_fee", epoch_sql("sqlite", "o.order_date"),
             epoch_sql("sqlite", "o.order_filled_date"),
             "(o.order_id LIKE 'dry\\_run\\_%' ESCAPE '\\')", "t.is_short", "t.fee_open",
             "t.fee_close"]
    names = ["id", "ft_trade_id", *src, "ft_price", "price", "average", "amount", "ft_amount",
             "filled", "funding_fee", "placed_ts", "filled_ts", "dry_id", "is_short",
             "fee_open", "fee_close"]
    where, params = filters(pairs, strategies)
    where.append("o.id > :lo AND o.id <= :hi")
    # values are bound parameters; the CASE vocabularies are quoted by sql_str
    sql = text(f"SELECT {', '.join(cols)} FROM orders o "  # noqa: S608
               f"JOIN trades t ON t.id = o.ft_trade_id WHERE {' AND '.join(where)}")
    paths = ", ".join(f"'$.{n}'" for n, _ in LEDGER_FIELDS)
    ledger_sql = (f"SELECT o.id, json_extract(cd.cd_value, {paths}) FROM orders o "  # noqa: S608
                  "JOIN trade_custom_data cd ON cd.ft_trade_id = o.ft_trade_id "
                  "AND cd.cd_key = (? || o.order_id) WHERE o.id > ? AND o.id <= ?"
                  ) if use_ledger else ""
    frames: list[pd.DataFrame] = []
    if lo is None or hi is None:
        return frames
    compiled = sql.compile(dialect=conn.dialect)
    positional = list(compiled.positiontup or ())
    sql_text = str(compiled)
    db_file = conn.engine.url.database
    tasks = []
    start = int(lo) - 1
    while start < int(hi):
        values = {**params, "lo": start, "hi": start + chunk_rows}
        tasks.append(([values[k] for k in positional],
                      [LEDGER_KEY_PREFIX, start, start + chunk_rows]))
        start += chunk_rows
    workers = min(len(tasks), max(1, (os.cpu_count() or 1)), 4) if total > 4 * chunk_rows \
        else 1
    done = 0
    if workers > 1:
        import concurrent.futures as cf
        import multiprocessing as mp

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futs = [pool.submit(_sqlite_chunk, db_file, sql_text, ledger_sql, t, names, vocab,
                                finish) for t in tasks]
            for fut in futs:
                df = fut.result()
                frames.append(df)
                done = min(total, done + len(df))
                if progress:
                    progress(done, total)
    else:
        for t in tasks:
            df = _sqlite_chunk(db_file, sql_text, ledger_sql, t, names, vocab, finish)
            frames.append(df)
            done = min(total, done + len(df))
            if progress:
                progress(done, total)
    return [f for f in frames if len(f)]


def _sqlite_chunk(db_file: str, sql_text: str, ledger_sql: str,
                  params: tuple[list[Any], list[Any]], names: list[str],
                  vocab: dict[str, list[str]],
                  finish: Callable[[pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """One id range: the orders as a float matrix (codes included), the ledger arrays of
    the same range, finished into order rows.  Runs in a worker process for big databases,
    so the per-row work is shared between cores."""
    import sqlite3

    path = db_file[len("file:"):].split("?", 1)[0] if db_file.startswith("file:") else db_file
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute(sql_text, params[0]).fetchall()
        if not rows:
            return pd.DataFrame()
        matrix = np.array(rows, dtype=float)  # None -> NaN, in C
        del rows
        ledger = con.execute(ledger_sql, params[1]).fetchall() if ledger_sql else []
    finally:
        con.close()
    raw = pd.DataFrame(matrix, columns=names, copy=False)
    for col, cats in vocab.items():
        codes = np.nan_to_num(raw[col].to_numpy(), nan=-1).astype(np.int64)
        raw[col] = pd.Categorical.from_codes(np.where(codes < 0, -1, codes), categories=cats)
    raw["l_present"] = np.zeros(len(raw), dtype=np.int8)
    if ledger:
        ids = raw["id"].to_numpy()
        order = np.argsort(ids, kind="stable")
        lids = np.array([r[0] for r in ledger], dtype=float)
        found = np.searchsorted(ids, lids, sorter=order)
        keep = found < len(ids)
        keep[keep] = ids[order[found[keep]]] == lids[keep]  # filtered-out orders: skip
        pos = order[found[keep]]
        led = _parse_arrays([r[1] for r, k in zip(ledger, keep, strict=True) if k])
        present = np.zeros(len(raw), dtype=np.int8)
        present[pos] = 1
        raw["l_present"] = present
        for c in led.columns:
            col = led[c]
            if isinstance(col.dtype, pd.CategoricalDtype):
                codes = np.full(len(raw), -1, dtype=np.int64)
                codes[pos] = col.cat.codes.to_numpy()
                raw[c] = pd.Categorical.from_codes(codes, categories=col.cat.categories)
            else:
                full = np.full(len(raw), np.nan)
                full[pos] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
                raw[c] = full
    return finish(raw)


def _parse_arrays(texts: list[str]) -> pd.DataFrame:
    """Parse '[1.0,"maker",null,...]' texts (one per ledger record) in one C pass."""
    import io

    block = "\n".join(t[1:-1] for t in texts)
    led = pd.read_csv(io.StringIO(block), header=None, names=LEDGER_COLS,
                      na_values=["null"], keep_default_na=False,
                      dtype={"l_fee_currency": "category", "l_liquidity": "category",
                             "l_runmode": "category", "l_intent": "category"},
                      true_values=["true"], false_values=["false"])
    ob = led["l_over_budget"]
    led["l_over_budget"] = pd.to_numeric(ob.map({True: 1.0, False: 0.0}), errors="coerce") \
        if ob.dtype != float else ob
    return led


def read_copy(conn: Any, use_ledger: bool, pairs: Sequence[str], strategies: Sequence[str],
               total: int, progress: Callable[[int, int], None] | None, chunk_rows: int,
               finish: Callable[[pd.DataFrame], pd.DataFrame]) -> list[pd.DataFrame]:
    """PostgreSQL (psycopg 3): ``COPY (query) TO STDOUT (FORMAT csv)``, parsed by pandas."""
    sql, params = build_query("postgresql", use_ledger, pairs, strategies, csv_columns=True)
    dbapi = conn.connection.dbapi_connection
    # psycopg binds client-side here: inline the parameters safely as literals
    with dbapi.cursor() as cur:
        literal = {k: _pg_literal(cur, v) for k, v in params.items()}
        for k in sorted(literal, key=len, reverse=True):
            sql = sql.replace(f":{k}", literal[k])
        frames = []
        buf: list[str] = []
        lines = 0
        done = 0
        with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            pending = ""
            for data in copy:
                chunk = pending + bytes(data).decode("utf-8")
                cut = chunk.rfind("\n")
                if cut < 0:
                    pending = chunk
                    continue
                buf.append(chunk[: cut + 1])
                pending = chunk[cut + 1:]
                lines += chunk.count("\n", 0, cut + 1)
                if lines >= chunk_rows:
                    frames.append(finish(parse_csv("".join(buf))))
                    done += lines
                    buf, lines = [], 0
                    if progress:
                        progress(min(done, total), total)
            if pending:
                buf.append(pending)
        if buf and "".join(buf).strip():
            frames.append(finish(parse_csv("".join(buf))))
        if progress:
            progress(total, total)
    return frames


def _pg_literal(cur: Any, value: Any) -> str:
    from psycopg import sql as pgsql

    return pgsql.Literal(value).as_string(cur)


def read_rows(conn: Any, dialect: str, use_ledger: bool, pairs: Sequence[str],
               strategies: Sequence[str], total: int,
               progress: Callable[[int, int], None] | None, chunk_rows: int,
               finish: Callable[[pd.DataFrame], pd.DataFrame]) -> list[pd.DataFrame]:
    """Any other SQLAlchemy dialect: plain streamed rows, JSON parsed in Python."""
    from sqlalchemy import text

    sql, params = build_query(dialect, use_ledger, pairs, strategies)
    result = conn.execution_options(stream_results=True).execute(text(sql), params)
    names = list(result.keys())
    frames = []
    done = 0
    while True:
        rows = result.fetchmany(chunk_rows)
        if not rows:
            break
        frames.append(finish(_chunk_frame(rows, names, dialect)))
        done += len(rows)
        if progress:
            progress(done, total)
    return frames


def _chunk_frame(rows: Sequence[Any], names: list[str], dialect: str) -> pd.DataFrame:
    """Typed, compact frame of one chunk of query rows (strings become categories)."""
    df = pd.DataFrame.from_records(rows, columns=names)
    if "l_json" in df.columns:
        df = _parse_json_column(df)
    for col in ("strategy", "ft_pair", "side", "ft_order_side", "order_type", "status",
                "stake_currency", "trading_mode", "l_fee_currency", "l_liquidity", "l_runmode",
                "l_intent"):
        if col in df.columns:
            df[col] = df[col].astype("category")
    for col in ("placed_ts", "filled_ts"):
        if col in df.columns and dialect not in ("sqlite", "postgresql"):
            ts = pd.to_datetime(df[col], utc=True, format="mixed")
            epoch = pd.Timestamp("1970-01-01", tz="UTC")
            df[col] = ((ts - epoch) / pd.Timedelta(seconds=1)).astype(float)
    return df


def _parse_json_column(df: pd.DataFrame) -> pd.DataFrame:
    import json

    recs = [json.loads(v) if isinstance(v, str) and v else None for v in df["l_json"]]
    df = df.drop(columns=["l_json"])
    df["l_present"] = [1 if r else 0 for r in recs]
    for name, kind in LEDGER_FIELDS:
        vals = [r.get(name) if r else None for r in recs]
        if kind == "bool":
            vals = [None if v is None else float(bool(v)) for v in vals]
        df[f"l_{name}"] = vals
    return df


