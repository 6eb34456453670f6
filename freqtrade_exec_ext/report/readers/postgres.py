"""PostgreSQL (psycopg 3): ``COPY (query) TO STDOUT (FORMAT csv)``, parsed by pandas.

The ledger JSON is parsed once per record by PostgreSQL (``cd_value::jsonb``).  A record
that is not valid JSON fails that cast for the whole query: the database is then read
again through :mod:`.generic`, which skips and counts such records one by one.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.errors import InputRefused
from freqtrade_exec_ext.report.frame import Problems, check_ledger, finish, numbers
from freqtrade_exec_ext.report.query import (
    JOINED_NAMES,
    LEDGER_COLS,
    LEDGER_TEXT,
    ORDER_TEXT,
    TRADE_TEXT,
    joined_query,
)

COLUMNS = [*JOINED_NAMES, "l_present", *LEDGER_COLS]
_TEXT = {*ORDER_TEXT, *TRADE_TEXT, *LEDGER_TEXT}


class LedgerJsonError(InputRefused):
    """A ledger record is not valid JSON: read this database with the generic reader."""


def usable(conn: Any) -> bool:
    dbapi = conn.connection.dbapi_connection
    return dbapi is not None and hasattr(dbapi.cursor(), "copy")


def _literal(cur: Any, value: Any) -> str:
    from psycopg import sql as pgsql

    return str(pgsql.Literal(value).as_string(cur))


def parse_csv(block: str, problems: Problems) -> pd.DataFrame:
    df = pd.read_csv(
        io.StringIO(block),
        header=None,
        names=COLUMNS,
        na_values=[""],
        keep_default_na=False,
        dtype={c: "category" for c in _TEXT},
        true_values=["true", "t"],
        false_values=["false", "f"],
    )
    ids = pd.to_numeric(df["id"], errors="coerce").to_numpy(dtype=float)
    bad = np.zeros(len(df), dtype=bool)
    for col in df.columns:
        if col in _TEXT or col == "order_id" or col.startswith("l_") or df[col].dtype.kind in "fi":
            continue
        df[col], wrong = numbers(df[col].to_numpy(dtype=object), col, ids, problems)
        bad |= wrong
    if bad.any():
        df = df.loc[~bad].reset_index(drop=True)
    check_ledger(
        df,
        problems,
        lambda rows: [
            f"trade_custom_data exec_ext.fill.{df['order_id'].iloc[k]} (orders.id "
            f"{int(df['id'].iloc[k])})"
            for k in rows
        ],
    )
    return df


def read(
    conn: Any,
    *,
    url: str,
    stage: str | None,
    bot: str,
    use_ledger: bool,
    pairs: Sequence[str],
    strategies: Sequence[str],
    progress: Callable[[int, int], None] | None,
    total: int,
    chunk_rows: int,
) -> tuple[list[pd.DataFrame], Problems]:
    from psycopg import errors as pgerrors

    problems = Problems()
    sql, params = joined_query("postgresql", use_ledger, pairs, strategies, null_ledger=True)
    frames: list[pd.DataFrame] = []

    def flush(buf: list[str]) -> None:
        text = "".join(buf)
        if text.strip():
            frames.append(finish(parse_csv(text, problems), url=url, stage=stage, bot=bot))

    dbapi = conn.connection.dbapi_connection
    with dbapi.cursor() as cur:
        # psycopg binds client-side here: inline the parameters safely as literals
        literal = {k: _literal(cur, v) for k, v in params.items()}
        for k in sorted(literal, key=len, reverse=True):
            sql = sql.replace(f":{k}", literal[k])
        buf: list[str] = []
        lines = done = 0
        pending = ""
        try:
            with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                for data in copy:
                    block = pending + bytes(data).decode("utf-8")
                    cut = block.rfind("\n")
                    if cut < 0:
                        pending = block
                        continue
                    buf.append(block[: cut + 1])
                    pending = block[cut + 1 :]
                    lines += block.count("\n", 0, cut + 1)
                    if lines >= chunk_rows:
                        flush(buf)
                        done += lines
                        buf, lines = [], 0
                        if progress:
                            progress(min(done, total), total)
        except pgerrors.InvalidTextRepresentation as exc:
            dbapi.rollback()
            raise LedgerJsonError(str(exc)) from exc
        buf.append(pending)
        flush(buf)
    if progress:
        progress(total, total)
    return frames, problems
