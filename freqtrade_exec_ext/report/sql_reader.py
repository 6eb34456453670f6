"""Read orders, trades and execution-ledger records from a Freqtrade database.

One set-based query joins ``orders`` to ``trades`` and (when it exists) to the ledger
rows of ``trade_custom_data`` (``cd_key = 'exec_ext.fill.' || order_id``).  SQLite and
PostgreSQL extract the ledger fields and the epoch times inside the database (JSON
functions), so only a narrow row per order travels to Python; other dialects get the
JSON text and parse it here.  Rows are fetched in chunks and turned into a typed frame
chunk by chunk, so memory stays proportional to the number of orders, not to the JSON.

The database is opened read-only where the driver allows it (SQLite) and is never
written.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.report.errors import ReportInputError
from freqtrade_exec_ext.report.metrics import ORDER_COLUMNS, coerce_orders

CHUNK_ROWS = 100_000
STAGES = ("dry_run", "live", "backtest")

# ledger fields pulled out of the JSON value: (name, kind)
LEDGER_FIELDS: tuple[tuple[str, str], ...] = (
    ("decision_price", "num"),
    ("arrival_mid", "num"),
    ("spread_cost_bps", "num"),
    ("fee_cost", "num"),
    ("fee_currency", "text"),
    ("liquidity", "text"),
    ("slippage_budget_bps", "num"),
    ("over_budget", "bool"),
    ("runmode", "text"),
    ("intent", "text"),
    ("fill_price", "num"),
    ("filled_amount", "num"),
)

ORDER_FIELDS = (
    "o.id",
    "o.ft_trade_id",
    "t.strategy",
    "o.ft_pair",
    "o.side",
    "o.ft_order_side",
    "o.order_type",
    "o.status",
    "o.ft_price",
    "o.price",
    "o.average",
    "o.amount",
    "o.ft_amount",
    "o.filled",
    "o.funding_fee",
    "o.ft_fee_base",
    "o.order_id",
    "t.is_short",
    "t.fee_open",
    "t.fee_close",
    "t.stake_currency",
    "t.trading_mode",
)
BASE_COLS = [f.split(".", 1)[1] for f in ORDER_FIELDS]
BASE_COLS[2] = "strategy"


@dataclass
class DbRead:
    orders: pd.DataFrame
    source: str
    dialect: str
    ledger_table: bool
    ledger_records: int
    ledger_unmatched: int
    stage_rule: str
    notes: list[str] = field(default_factory=list)


def redact_url(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = redact_url(url)
    if url.startswith("sqlite"):
        m = re.match(r"sqlite(?:\+\w+)?:///(.+)$", url)
        if not m or m.group(1).startswith(":memory:"):
            raise ReportInputError(f"--db {shown}: need a database file (sqlite:///PATH)")
        path = Path(m.group(1).split("?", 1)[0])
        if not path.is_file():
            raise ReportInputError(f"--db {shown}: file not found: {path}")
        # read-only: never create or modify the user's database
        url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    try:
        return create_engine(url, future=True)
    except NoSuchModuleError as exc:
        raise ReportInputError(f"--db {shown}: unsupported database URL ({exc})") from exc
    except ArgumentError as exc:
        raise ReportInputError(f"--db {shown}: not a database URL ({exc})") from exc
    except ModuleNotFoundError as exc:
        hint = " (pip install 'psycopg[binary]')" if "psycopg" in str(exc) else ""
        raise ReportInputError(f"--db {shown}: database driver missing: {exc.name}{hint}") from exc


def _epoch(dialect: str, col: str) -> str:
    if dialect == "sqlite":
        return f"((julianday({col}) - 2440587.5) * 86400.0)"
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM {col})"
    return col


def _ledger_expr(dialect: str, name: str, kind: str) -> str:
    if dialect == "sqlite":
        return f"json_extract(cd.cd_value, '$.{name}')"
    # postgresql: cd.j is the value parsed once as jsonb
    text = f"(cd.j ->> '{name}')"
    if kind == "num":
        return f"CAST({text} AS DOUBLE PRECISION)"
    if kind == "bool":
        return f"CASE {text} WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END"
    return text


def build_query(
    dialect: str,
    has_ledger: bool,
    pairs: Sequence[str],
    strategies: Sequence[str],
    *,
    csv_columns: bool = False,
) -> tuple[str, dict[str, Any]]:
    cols = list(ORDER_FIELDS)
    cols.append(_epoch(dialect, "o.order_date") + " AS placed_ts")
    cols.append(_epoch(dialect, "o.order_filled_date") + " AS filled_ts")
    join = ""
    params: dict[str, Any] = {"prefix": LEDGER_KEY_PREFIX}
    if has_ledger:
        if dialect in ("sqlite", "postgresql"):
            cols.append("CASE WHEN cd.ft_trade_id IS NULL THEN 0 ELSE 1 END AS l_present")
            cols += [f"{_ledger_expr(dialect, n, k)} AS l_{n}" for n, k in LEDGER_FIELDS]
        else:
            cols.append("cd.cd_value AS l_json")
        if dialect == "postgresql":
            src = (
                "(SELECT ft_trade_id, cd_key, cd_value::jsonb AS j FROM trade_custom_data "
                "WHERE cd_key LIKE :prefix_like)"
            )
            params["prefix_like"] = LEDGER_KEY_PREFIX.replace("_", r"\_") + "%"
        else:
            src = "trade_custom_data"
        join = (
            f" LEFT JOIN {src} cd ON cd.ft_trade_id = o.ft_trade_id "
            "AND cd.cd_key = (:prefix || o.order_id)"
        )
    elif csv_columns:
        cols.append("0 AS l_present")
        cols += [f"NULL AS l_{n}" for n, _ in LEDGER_FIELDS]
    where, fparams = _filters(pairs, strategies)
    params.update(fparams)
    # identifiers and fixed SQL only: every value is a bound parameter
    sql = (
        f"SELECT {', '.join(cols)} FROM orders o JOIN trades t "  # noqa: S608
        f"ON t.id = o.ft_trade_id{join}" + (" WHERE " + " AND ".join(where) if where else "")
    )
    return sql, params


def read_db(
    url: str,
    *,
    stage: str | None = None,
    pairs: Sequence[str] = (),
    strategies: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> DbRead:
    """Read every order of a Freqtrade database into an order frame (see metrics)."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    shown = redact_url(url)
    engine = _engine(url)
    dialect = engine.dialect.name
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            missing = {"orders", "trades"} - tables
            if missing:
                raise ReportInputError(
                    f"--db {shown}: not a Freqtrade database (no table "
                    f"{', '.join(sorted(missing))}; found: {', '.join(sorted(tables)) or 'none'})"
                )
            has_ledger = "trade_custom_data" in tables
            ledger_records = 0
            if has_ledger:
                ledger_records = int(
                    conn.execute(
                        text("SELECT COUNT(*) FROM trade_custom_data WHERE cd_key LIKE :p"),
                        {"p": LEDGER_KEY_PREFIX + "%"},
                    ).scalar()
                    or 0
                )
            lo, hi, total = conn.execute(
                text("SELECT MIN(id), MAX(id), COUNT(*) FROM orders")
            ).one()
            use_ledger = has_ledger and ledger_records > 0
            if progress:
                progress(0, int(total or 0))
            finish = functools.partial(_finish, url=url, stage=stage)
            if dialect == "sqlite":
                frames = _read_sqlite(
                    conn, use_ledger, pairs, strategies, lo, hi, total, progress, chunk_rows, finish
                )
            elif (
                dialect == "postgresql"
                and conn.connection.dbapi_connection is not None
                and hasattr(conn.connection.dbapi_connection.cursor(), "copy")
            ):
                frames = _read_copy(
                    conn, use_ledger, pairs, strategies, total, progress, chunk_rows, finish
                )
            else:
                frames = _read_rows(
                    conn,
                    dialect,
                    use_ledger,
                    pairs,
                    strategies,
                    total,
                    progress,
                    chunk_rows,
                    finish,
                )
    except ReportInputError:
        raise
    except (DBAPIError, SQLAlchemyError) as exc:
        msg = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise ReportInputError(f"--db {shown}: cannot read the database: {msg}") from exc
    finally:
        engine.dispose()

    orders = _combine(frames) if frames else _finish(_empty_raw(), url=url, stage=stage)
    del frames
    rule = stage_rule(stage)
    matched = int(orders["has_ledger"].sum())
    notes: list[str] = []
    unmatched = max(0, ledger_records - matched) if not (pairs or strategies) else 0
    if unmatched:
        notes.append(
            f"{unmatched} ledger record(s) name an order that is not in the orders "
            "table; they are ignored"
        )
    return DbRead(
        orders=orders,
        source=shown,
        dialect=dialect,
        ledger_table=has_ledger,
        ledger_records=ledger_records,
        ledger_unmatched=unmatched,
        stage_rule=rule,
        notes=notes,
    )


RAW_TEXT = (
    "strategy",
    "ft_pair",
    "side",
    "ft_order_side",
    "order_type",
    "status",
    "order_id",
    "stake_currency",
    "trading_mode",
)
LEDGER_COLS = [f"l_{n}" for n, _ in LEDGER_FIELDS]
RAW_COLS = [*BASE_COLS, "placed_ts", "filled_ts", "l_present", *LEDGER_COLS]
_CSV_DTYPES: dict[str, Any] = {c: "category" for c in RAW_TEXT if c != "order_id"}
_CSV_DTYPES.update(
    {
        "order_id": object,
        "l_fee_currency": "category",
        "l_liquidity": "category",
        "l_runmode": "category",
        "l_intent": "category",
    }
)


def _empty_raw() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in RAW_TEXT else float) for c in RAW_COLS})


def _parse_csv(text_block: str) -> pd.DataFrame:
    import io

    df = pd.read_csv(
        io.StringIO(text_block),
        header=None,
        names=RAW_COLS,
        dtype=_CSV_DTYPES,
        na_values=["", "null"],
        keep_default_na=False,
        true_values=["true", "t"],
        false_values=["false", "f"],
    )
    if "l_over_budget" in df.columns:
        ob = df["l_over_budget"]
        df["l_over_budget"] = pd.to_numeric(
            ob.astype(str)
            .str.lower()
            .map({"true": 1.0, "false": 0.0, "1.0": 1.0, "0.0": 0.0, "1": 1.0, "0": 0.0}),
            errors="coerce",
        )
    return df


def _filters(pairs: Sequence[str], strategies: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if pairs:
        where.append("o.ft_pair IN (" + ", ".join(f":p{i}" for i in range(len(pairs))) + ")")
        params.update({f"p{i}": p for i, p in enumerate(pairs)})
    if strategies:
        where.append("t.strategy IN (" + ", ".join(f":s{i}" for i in range(len(strategies))) + ")")
        params.update({f"s{i}": s for i, s in enumerate(strategies)})
    return where, params


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_sqlite(
    conn: Any,
    use_ledger: bool,
    pairs: Sequence[str],
    strategies: Sequence[str],
    lo: int | None,
    hi: int | None,
    total: int,
    progress: Callable[[int, int], None] | None,
    chunk_rows: int,
    finish: Callable[[pd.DataFrame], pd.DataFrame],
) -> list[pd.DataFrame]:
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
    rows = conn.execute(
        text("SELECT DISTINCT side, ft_order_side, order_type, status FROM orders")
    ).all()
    for i, col in enumerate(("side", "ft_order_side", "order_type", "status")):
        vocab[col] = sorted({str(r[i]) for r in rows if r[i] is not None})
    src = {
        "strategy": "t.strategy",
        "ft_pair": "t.pair",
        "stake_currency": "t.stake_currency",
        "side": "o.side",
        "ft_order_side": "o.ft_order_side",
        "order_type": "o.order_type",
        "status": "o.status",
    }
    cols = ["o.id", "o.ft_trade_id"]
    for col, expr in src.items():
        whens = " ".join(f"WHEN {_sql_str(v)} THEN {i}" for i, v in enumerate(vocab[col]))
        cols.append(f"CASE {expr} {whens} ELSE -1 END" if whens else "-1")
    cols += [
        "o.ft_price",
        "o.price",
        "o.average",
        "o.amount",
        "o.ft_amount",
        "o.filled",
        "o.funding_fee",
        _epoch("sqlite", "o.order_date"),
        _epoch("sqlite", "o.order_filled_date"),
        "(o.order_id LIKE 'dry\\_run\\_%' ESCAPE '\\')",
        "t.is_short",
        "t.fee_open",
        "t.fee_close",
    ]
    names = [
        "id",
        "ft_trade_id",
        *src,
        "ft_price",
        "price",
        "average",
        "amount",
        "ft_amount",
        "filled",
        "funding_fee",
        "placed_ts",
        "filled_ts",
        "dry_id",
        "is_short",
        "fee_open",
        "fee_close",
    ]
    where, params = _filters(pairs, strategies)
    where.append("o.id > :lo AND o.id <= :hi")
    # values are bound parameters; the CASE vocabularies are quoted by _sql_str
    sql = text(
        f"SELECT {', '.join(cols)} FROM orders o "  # noqa: S608
        f"JOIN trades t ON t.id = o.ft_trade_id WHERE {' AND '.join(where)}"
    )
    paths = ", ".join(f"'$.{n}'" for n, _ in LEDGER_FIELDS)
    ledger_sql = (
        (
            f"SELECT o.id, json_extract(cd.cd_value, {paths}) FROM orders o "  # noqa: S608
            "JOIN trade_custom_data cd ON cd.ft_trade_id = o.ft_trade_id "
            "AND cd.cd_key = (? || o.order_id) WHERE o.id > ? AND o.id <= ?"
        )
        if use_ledger
        else ""
    )
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
        tasks.append(
            ([values[k] for k in positional], [LEDGER_KEY_PREFIX, start, start + chunk_rows])
        )
        start += chunk_rows
    workers = min(len(tasks), max(1, (os.cpu_count() or 1)), 4) if total > 4 * chunk_rows else 1
    done = 0
    if workers > 1:
        import concurrent.futures as cf
        import multiprocessing as mp

        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futs = [
                pool.submit(_sqlite_chunk, db_file, sql_text, ledger_sql, t, names, vocab, finish)
                for t in tasks
            ]
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


def _sqlite_chunk(
    db_file: str,
    sql_text: str,
    ledger_sql: str,
    params: tuple[list[Any], list[Any]],
    names: list[str],
    vocab: dict[str, list[str]],
    finish: Callable[[pd.DataFrame], pd.DataFrame],
) -> pd.DataFrame:
    """One id range: the orders as a float matrix (codes included), the ledger arrays of
    the same range, finished into order rows.  Runs in a worker process for big databases,
    so the per-row work is shared between cores."""
    import sqlite3

    path = db_file[len("file:") :].split("?", 1)[0] if db_file.startswith("file:") else db_file
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
    led = pd.read_csv(
        io.StringIO(block),
        header=None,
        names=LEDGER_COLS,
        na_values=["null"],
        keep_default_na=False,
        dtype={
            "l_fee_currency": "category",
            "l_liquidity": "category",
            "l_runmode": "category",
            "l_intent": "category",
        },
        true_values=["true"],
        false_values=["false"],
    )
    ob = led["l_over_budget"]
    led["l_over_budget"] = (
        pd.to_numeric(ob.map({True: 1.0, False: 0.0}), errors="coerce") if ob.dtype != float else ob
    )
    return led


def _read_copy(
    conn: Any,
    use_ledger: bool,
    pairs: Sequence[str],
    strategies: Sequence[str],
    total: int,
    progress: Callable[[int, int], None] | None,
    chunk_rows: int,
    finish: Callable[[pd.DataFrame], pd.DataFrame],
) -> list[pd.DataFrame]:
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
                pending = chunk[cut + 1 :]
                lines += chunk.count("\n", 0, cut + 1)
                if lines >= chunk_rows:
                    frames.append(finish(_parse_csv("".join(buf))))
                    done += lines
                    buf, lines = [], 0
                    if progress:
                        progress(min(done, total), total)
            if pending:
                buf.append(pending)
        if buf and "".join(buf).strip():
            frames.append(finish(_parse_csv("".join(buf))))
        if progress:
            progress(total, total)
    return frames


def _pg_literal(cur: Any, value: Any) -> str:
    from psycopg import sql as pgsql

    return pgsql.Literal(value).as_string(cur)


def _read_rows(
    conn: Any,
    dialect: str,
    use_ledger: bool,
    pairs: Sequence[str],
    strategies: Sequence[str],
    total: int,
    progress: Callable[[int, int], None] | None,
    chunk_rows: int,
    finish: Callable[[pd.DataFrame], pd.DataFrame],
) -> list[pd.DataFrame]:
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
    for col in (
        "strategy",
        "ft_pair",
        "side",
        "ft_order_side",
        "order_type",
        "status",
        "stake_currency",
        "trading_mode",
        "l_fee_currency",
        "l_liquidity",
        "l_runmode",
        "l_intent",
    ):
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


def _codes(raw: pd.DataFrame, col: str, fn: Callable[[str], int], default: int = -1) -> np.ndarray:
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
    return (
        "the ledger's runmode; else dry_run for Freqtrade's dry-run order ids "
        "(dry_run_*) or a database name containing 'dryrun'; else live"
    )


def _combine(frames: list[pd.DataFrame]) -> pd.DataFrame:
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


def _finish(raw: pd.DataFrame, *, url: str, stage: str | None) -> pd.DataFrame:
    """Turn joined rows into canonical order rows (metrics.ORDER_COLUMNS).

    Text columns are handled as integer codes (one decision per distinct value), so this
    stays fast at millions of orders.  ``later_price`` is filled in by :func:`_combine`.
    """
    n = len(raw)
    present = (
        (pd.to_numeric(raw["l_present"], errors="coerce").fillna(0).to_numpy() == 1)
        if "l_present" in raw.columns
        else np.zeros(n, dtype=bool)
    )

    def num(col: str) -> np.ndarray:
        if col not in raw.columns:
            return np.full(n, np.nan)
        return pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype=float)

    side_ix = {"buy": 0, "sell": 1}
    side = _codes(raw, "side", lambda v: side_ix.get(v.lower(), -1))
    ft_side = _codes(
        raw, "ft_order_side", lambda v: {"buy": 0, "sell": 1, "stoploss": 2}.get(v.lower(), -1)
    )
    short_raw = raw["is_short"]
    if short_raw.dtype == object or isinstance(short_raw.dtype, pd.CategoricalDtype):
        short_raw = short_raw.astype(str).str.lower().isin(["1", "true", "t", "1.0"])
    is_short = pd.to_numeric(short_raw, errors="coerce").fillna(0).to_numpy() != 0
    entry_side = np.where(is_short, 1, 0)
    # the exchange side; else Freqtrade's buy/sell; else (a stop-loss) the exit side
    side = np.where(
        side >= 0, side, np.where((ft_side == 0) | (ft_side == 1), ft_side, 1 - entry_side)
    )
    l_intent = _codes(raw, "l_intent", lambda v: {"entry": 0, "exit": 1}.get(v, -1))
    intent = np.where(
        l_intent >= 0, l_intent, np.where((ft_side != 2) & (side == entry_side), 0, 1)
    )

    filled = num("filled")
    amount = num("amount")
    amount = np.where(np.isfinite(amount), amount, num("ft_amount"))
    filled = np.where(
        np.isfinite(filled), filled, np.where(present, np.nan_to_num(num("l_filled_amount")), 0.0)
    )
    average = num("average")
    l_fill = num("l_fill_price")
    price = num("price")
    fill_price = np.where(
        np.isfinite(average) & (average > 0),
        average,
        np.where(present & np.isfinite(l_fill), l_fill, np.where(filled > 0, price, np.nan)),
    )

    status_raw = _codes(
        raw,
        "status",
        lambda v: {"open": 3, "canceled": 2, "cancelled": 2, "expired": 2, "rejected": 2}.get(
            v.lower(), 0
        ),
    )
    remaining = np.nan_to_num(amount) - np.nan_to_num(filled)
    has_fill = filled > 0
    status = np.where(
        status_raw == 3,
        3,
        np.where(
            status_raw == 2,
            np.where(has_fill, 1, 2),
            np.where(has_fill, np.where(remaining > 1e-9 * np.maximum(amount, 1e-12), 1, 0), 2),
        ),
    )

    # fees: the ledger's absolute fee (stake currency, or base currency converted at the
    # fill price); otherwise the trade's fee rate times the filled notional (estimated)
    notional = np.where(has_fill & np.isfinite(fill_price), filled * fill_price, 0.0)
    pair = _cat(raw, "ft_pair")
    l_fee = num("l_fee_cost")
    fee_ccy = _cat(raw, "l_fee_currency")
    stake = _cat(raw, "stake_currency")
    ccys = sorted(
        {str(c) for c in fee_ccy.cat.categories}
        | {str(c) for c in stake.cat.categories}
        | {str(c).split("/", 1)[0] for c in pair.cat.categories}
    )
    cix = {c: i for i, c in enumerate(ccys)}
    fee_c = _codes(raw, "l_fee_currency", lambda v: cix.get(v, -1), -2)
    stake_c = _codes(raw, "stake_currency", lambda v: cix.get(v, -1), -3)
    base_c = _codes(raw, "ft_pair", lambda v: cix.get(v.split("/", 1)[0], -1), -4)
    has_fee = present & np.isfinite(l_fee)
    fee_ledger = np.where(
        has_fee & (fee_c == stake_c),
        l_fee,
        np.where(has_fee & (fee_c == base_c), l_fee * fill_price, np.nan),
    )
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
            dry_id = raw["order_id"].astype(str).str.startswith("dry_run_").to_numpy(dtype=bool)
        runmode = _codes(raw, "l_runmode", lambda v: stages.index(v) if v in stages else -1)
        stage_c = np.where(
            runmode >= 0,
            runmode,
            np.where(dry_id | dry_name, stages.index("dry_run"), stages.index("live")),
        )
    liquidity = _codes(raw, "l_liquidity", lambda v: {"maker": 1, "taker": 2}.get(v, 0), 0)
    frame = pd.DataFrame(
        {
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
        },
        index=raw.index,
    )
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
    filled_rows = df.loc[
        (df["filled"] > 0) & df["fill_price"].notna(),
        ["trade_id", "side", "placed_ts", "filled_ts", "fill_price", "decision_price"],
    ]
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
    right = right.sort_values("t", kind="stable")[
        ["trade_id", "side", "t", "fill_price", "decision_price"]
    ]
    merged = pd.merge_asof(
        left, right, on="t", by=["trade_id", "side"], direction="forward", allow_exact_matches=False
    )
    rows = merged["_row"].to_numpy()
    out[rows] = merged["fill_price"].to_numpy(dtype=float)
    covered[rows] = merged["decision_price"].notna().to_numpy()
    return out, covered


def lookup_order_ids(url: str, row_ids: Sequence[int]) -> dict[int, str]:
    """orders.order_id for some orders.id values (used for the few rows a report lists)."""
    from sqlalchemy import bindparam, text

    engine = _engine(url)
    out: dict[int, str] = {}
    try:
        with engine.connect() as conn:
            stmt = text("SELECT id, order_id FROM orders WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            )
            ids = list(row_ids)
            for i in range(0, len(ids), 500):
                for rid, oid in conn.execute(stmt, {"ids": ids[i : i + 500]}):
                    out[int(rid)] = str(oid)
    finally:
        engine.dispose()
    return out
