"""Any other SQLAlchemy dialect (and PostgreSQL with a broken ledger record): streamed
rows, each ledger JSON parsed in Python (a record that is not valid JSON is skipped)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from freqtrade_exec_ext.report.frame import Problems, check_ledger, finish, numbers
from freqtrade_exec_ext.report.query import LEDGER_FIELDS, ORDER_TEXT, TRADE_TEXT, joined_query

_TEXT = (*ORDER_TEXT, *TRADE_TEXT, "order_id")


def _ledger_value(rec: dict[str, Any], path: str) -> Any:
    node: Any = rec
    for key in path[2:].split("."):
        node = node.get(key.strip('"')) if isinstance(node, dict) else None
    return node


def parse_json_column(df: pd.DataFrame, problems: Problems) -> pd.DataFrame:
    recs: list[dict[str, Any] | None] = []
    bad: list[str] = []
    for k, v in enumerate(df.pop("l_json").tolist()):
        rec = None
        if isinstance(v, str) and v:
            try:
                rec = json.loads(v)
            except ValueError:
                rec = None
            if not isinstance(rec, dict):
                bad.append(
                    f"trade_custom_data exec_ext.fill.{df['order_id'].iloc[k]} "
                    f"(orders.id {int(df['id'].iloc[k])}) is not valid JSON"
                )
                rec = None
        recs.append(rec)
    problems.add("ledger", bad[:3], len(bad))
    df["l_present"] = [1 if r else 0 for r in recs]
    for name, path, kind in LEDGER_FIELDS:
        vals = [_ledger_value(r, path) if r else None for r in recs]
        df[f"l_{name}"] = pd.Series(vals, dtype="category" if kind == "text" else object)
    return df


def chunk_frame(
    rows: Sequence[Any], names: list[str], dialect: str, problems: Problems
) -> pd.DataFrame:
    """Typed, compact frame of one chunk of query rows (strings become categories)."""
    df = pd.DataFrame.from_records(rows, columns=names)
    ids = pd.to_numeric(df["id"], errors="coerce").to_numpy(dtype=float)
    bad = np.zeros(len(df), dtype=bool)
    for col in names:
        if col in _TEXT or col.startswith("l_") or col in ("placed_ts", "filled_ts"):
            continue
        df[col], wrong = numbers(df[col].to_numpy(dtype=object), col, ids, problems)
        bad |= wrong
    if bad.any():
        df = df.loc[~bad].reset_index(drop=True)
    if "l_json" in df.columns:
        df = parse_json_column(df, problems)
        check_ledger(
            df,
            problems,
            lambda rows: [
                f"trade_custom_data exec_ext.fill.{df['order_id'].iloc[k]} (orders.id "
                f"{int(df['id'].iloc[k])})"
                for k in rows
            ],
        )
    for col in _TEXT:
        if col in df.columns and col != "order_id":
            df[col] = df[col].astype("category")
    for col in ("placed_ts", "filled_ts"):  # this query returns the columns as stored
        if col in df.columns and df[col].dtype.kind not in "fiu":
            ts = pd.to_datetime(df[col], utc=True, format="mixed", errors="coerce")
            epoch = pd.Timestamp("1970-01-01", tz="UTC")
            df[col] = ((ts - epoch) / pd.Timedelta(seconds=1)).astype(float)
    return df


def read(
    conn: Any,
    *,
    dialect: str,
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
    from sqlalchemy import text

    problems = Problems()
    sql, params = joined_query("generic", use_ledger, pairs, strategies)
    result = conn.execution_options(stream_results=True).execute(text(sql), params)
    names = list(result.keys())
    frames = []
    done = 0
    while True:
        rows = result.fetchmany(chunk_rows)
        if not rows:
            break
        frames.append(
            finish(chunk_frame(rows, names, dialect, problems), url=url, stage=stage, bot=bot)
        )
        done += len(rows)
        if progress:
            progress(done, total)
    return frames, problems
