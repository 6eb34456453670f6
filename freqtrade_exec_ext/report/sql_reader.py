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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.redact import mask_url
from freqtrade_exec_ext.report import readers
from freqtrade_exec_ext.report.errors import ReportInputError
from freqtrade_exec_ext.report.frame import combine, finish, stage_rule
from freqtrade_exec_ext.report.query import CHUNK_ROWS, open_engine
from freqtrade_exec_ext.report.readers import empty_raw


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



def read_db(url: str, *, stage: str | None = None, pairs: Sequence[str] = (),
            strategies: Sequence[str] = (),
            progress: Callable[[int, int], None] | None = None,
            chunk_rows: int = CHUNK_ROWS) -> DbRead:
    """Read every order of a Freqtrade database into an order frame (see metrics)."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    shown = mask_url(url)
    engine = open_engine(url)
    dialect = engine.dialect.name
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            missing = {"orders", "trades"} - tables
            if missing:
                raise ReportInputError(
                    f"--db {shown}: not a Freqtrade database (no table "
                    f"{', '.join(sorted(missing))}; found: {', '.join(sorted(tables)) or 'none'})")
            has_ledger = "trade_custom_data" in tables
            ledger_records = 0
            if has_ledger:
                ledger_records = int(conn.execute(
                    text("SELECT COUNT(*) FROM trade_custom_data WHERE cd_key LIKE :p"),
                    {"p": LEDGER_KEY_PREFIX + "%"}).scalar() or 0)
            lo, hi, total = conn.execute(
                text("SELECT MIN(id), MAX(id), COUNT(*) FROM orders")).one()
            use_ledger = has_ledger and ledger_records > 0
            if progress:
                progress(0, int(total or 0))
            fin = functools.partial(finish, url=url, stage=stage)
            if dialect == "sqlite":
                frames = readers.read_sqlite(conn, use_ledger, pairs, strategies, lo, hi, total,
                                      progress, chunk_rows, fin)
            elif dialect == "postgresql" and conn.connection.dbapi_connection is not None \
                    and hasattr(conn.connection.dbapi_connection.cursor(), "copy"):
                frames = readers.read_copy(conn, use_ledger, pairs, strategies, total, progress,
                                    chunk_rows, fin)
            else:
                frames = readers.read_rows(conn, dialect, use_ledger, pairs, strategies, total,
                                    progress, chunk_rows, fin)
    except ReportInputError:
        raise
    except (DBAPIError, SQLAlchemyError) as exc:
        msg = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise ReportInputError(f"--db {shown}: cannot read the database: {msg}") from exc
    finally:
        engine.dispose()

    orders = combine(frames) if frames else finish(empty_raw(), url=url, stage=stage)
    del frames
    rule = stage_rule(stage)
    matched = int(orders["has_ledger"].sum())
    notes: list[str] = []
    unmatched = max(0, ledger_records - matched) if not (pairs or strategies) else 0
    if unmatched:
        notes.append(f"{unmatched} ledger record(s) name an order that is not in the orders "
                     "table; they are ignored")
    return DbRead(orders=orders, source=shown, dialect=dialect, ledger_table=has_ledger,
                  ledger_records=ledger_records, ledger_unmatched=unmatched, stage_rule=rule,
                  notes=notes)



def lookup_order_ids(url: str, row_ids: Sequence[int]) -> dict[int, str]:
    """orders.order_id for some orders.id values (used for the few rows a report lists)."""
    from sqlalchemy import bindparam, text

    engine = open_engine(url)
    out: dict[int, str] = {}
    try:
        with engine.connect() as conn:
            stmt = text("SELECT id, order_id FROM orders WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True))
            ids = list(row_ids)
            for i in range(0, len(ids), 500):
                for rid, oid in conn.execute(stmt, {"ids": ids[i:i + 500]}):
                    out[int(rid)] = str(oid)
    finally:
        engine.dispose()
    return out
