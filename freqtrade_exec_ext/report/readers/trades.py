"""The trades' stop prices for the stop check (``--contract``), from each database.

One query per database on Freqtrade's ``trades`` table (names from
:mod:`freqtrade_exec_ext.compat.schema`), SQLite files read-only with the stdlib driver,
other databases through SQLAlchemy.  A column an old database lacks is read as unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from freqtrade_exec_ext.compat import schema
from freqtrade_exec_ext.report.query import open_engine, sqlite_file
from freqtrade_exec_ext.report.stop_breaches import coerce_trades, empty_trades

# trades column -> trade-frame column (stop_breaches.TRADE_COLUMNS)
STOP_COLUMNS: dict[str, str] = {
    "id": "trade_id",
    "strategy": "strategy",
    "pair": "pair",
    "is_short": "is_short",
    "leverage": "leverage",
    "open_rate": "open_rate",
    "stop_loss": "stop_loss",
    "initial_stop_loss": "initial_stop_loss",
    "exit_reason": "exit_reason",
    "close_rate": "close_rate",
    "price_precision": "price_precision",
    "precision_mode_price": "precision_mode_price",
}
_DECLARED = set(schema.TRADE_COLUMNS)
if not set(STOP_COLUMNS) <= _DECLARED:  # pragma: no cover - a programming error
    raise ImportError(f"undeclared trades columns: {sorted(set(STOP_COLUMNS) - _DECLARED)}")


def stops_sql(
    have: set[str], pairs: Sequence[str], strategies: Sequence[str]
) -> tuple[str, list[str], dict[str, Any]]:
    """SELECT of the stop columns ``have`` holds (named parameters), and their names."""
    cols = [c for c in STOP_COLUMNS if c in have]
    where: list[str] = []
    params: dict[str, Any] = {}
    for col, values, tag in (("pair", pairs, "p"), ("strategy", strategies, "s")):
        if values:
            where.append(f"{col} IN (" + ", ".join(f":{tag}{i}" for i in range(len(values))) + ")")
            params.update({f"{tag}{i}": v for i, v in enumerate(values)})
    sql = f"SELECT {', '.join(cols)} FROM {schema.TABLES.trades}" + (  # noqa: S608 - names only
        " WHERE " + " AND ".join(where) if where else ""
    )
    return sql, cols, params


def _frame(rows: list[Any], cols: list[str], bot: str) -> pd.DataFrame:
    df = pd.DataFrame.from_records([tuple(r) for r in rows], columns=cols)
    df = df.rename(columns=STOP_COLUMNS)
    df["bot"] = bot
    return coerce_trades(df)


def read_one(url: str, bot: str, pairs: Sequence[str], strategies: Sequence[str]) -> pd.DataFrame:
    path = sqlite_file(url)
    if path is not None:
        from freqtrade_exec_ext.report.readers.sqlite import connect

        con = connect(path)
        try:
            have = {
                r[1] for r in con.execute(f"PRAGMA table_info({schema.TABLES.trades})").fetchall()
            }
            sql, cols, params = stops_sql(have, pairs, strategies)
            return _frame(con.execute(sql, params).fetchall(), cols, bot)
        finally:
            con.close()
    from sqlalchemy import inspect, text

    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            have = {c["name"] for c in inspect(conn).get_columns(schema.TABLES.trades)}
            sql, cols, params = stops_sql(have, pairs, strategies)
            return _frame(list(conn.execute(text(sql), params)), cols, bot)
    finally:
        engine.dispose()


def read_trades(
    urls: Sequence[str],
    bots: Sequence[str],
    pairs: Sequence[str] = (),
    strategies: Sequence[str] = (),
) -> pd.DataFrame:
    """Every trade's stop prices, of every database (``bot`` = its label)."""
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from freqtrade_exec_ext.redact import mask_url
    from freqtrade_exec_ext.report.sql_reader import _fail

    frames = []
    for url, bot in zip(urls, bots, strict=True):
        try:
            frames.append(read_one(url, bot, pairs, strategies))
        except (sqlite3.DatabaseError, SQLAlchemyError) as exc:
            raise _fail(mask_url(url), exc) from exc
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else empty_trades()
