"""SQL for the report's database readers: engines, the order/ledger query, filters.

Table and column names are Freqtrade's, declared in :mod:`freqtrade_exec_ext.compat.schema`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.redact import mask_url
from freqtrade_exec_ext.report.errors import ReportInputError

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
    "o.id", "o.ft_trade_id", "t.strategy", "o.ft_pair", "o.side", "o.ft_order_side",
    "o.order_type", "o.status", "o.ft_price", "o.price", "o.average", "o.amount",
    "o.ft_amount", "o.filled", "o.funding_fee", "o.ft_fee_base", "o.order_id", "t.is_short",
    "t.fee_open", "t.fee_close", "t.stake_currency", "t.trading_mode",
)
BASE_COLS = [f.split(".", 1)[1] for f in ORDER_FIELDS]
BASE_COLS[2] = "strategy"


def open_engine(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = mask_url(url)
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
        raise ReportInputError(f"--db {shown}: database driver missing: {exc.name}{hint}") \
            from exc


def epoch_sql(dialect: str, col: str) -> str:
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


def build_query(dialect: str, has_ledger: bool, pairs: Sequence[str],
                strategies: Sequence[str], *, csv_columns: bool = False
                ) -> tuple[str, dict[str, Any]]:
    cols = list(ORDER_FIELDS)
    cols.append(epoch_sql(dialect, "o.order_date") + " AS placed_ts")
    cols.append(epoch_sql(dialect, "o.order_filled_date") + " AS filled_ts")
    join = ""
    params: dict[str, Any] = {"prefix": LEDGER_KEY_PREFIX}
    if has_ledger:
        if dialect in ("sqlite", "postgresql"):
            cols.append("CASE WHEN cd.ft_trade_id IS NULL THEN 0 ELSE 1 END AS l_present")
            cols += [f"{_ledger_expr(dialect, n, k)} AS l_{n}" for n, k in LEDGER_FIELDS]
        else:
            cols.append("cd.cd_value AS l_json")
        if dialect == "postgresql":
            src = ("(SELECT ft_trade_id, cd_key, cd_value::jsonb AS j FROM trade_custom_data "
                   "WHERE cd_key LIKE :prefix_like)")
            params["prefix_like"] = LEDGER_KEY_PREFIX.replace("_", r"\_") + "%"
        else:
            src = "trade_custom_data"
        join = (f" LEFT JOIN {src} cd ON cd.ft_trade_id = o.ft_trade_id "
                "AND cd.cd_key = (:prefix || o.order_id)")
    elif csv_columns:
        cols.append("0 AS l_present")
        cols += [f"NULL AS l_{n}" for n, _ in LEDGER_FIELDS]
    where, fparams = filters(pairs, strategies)
    params.update(fparams)
    # identifiers and fixed SQL only: every value is a bound parameter
    sql = (f"SELECT {', '.join(cols)} FROM orders o JOIN trades t "  # noqa: S608
           f"ON t.id = o.ft_trade_id{join}" + (" WHERE " + " AND ".join(where) if where else ""))
    return sql, params



def filters(pairs: Sequence[str], strategies: Sequence[str]) -> tuple[list[str],
                                                                       dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if pairs:
        where.append("o.ft_pair IN (" + ", ".join(f":p{i}" for i in range(len(pairs))) + ")")
        params.update({f"p{i}": p for i, p in enumerate(pairs)})
    if strategies:
        where.append("t.strategy IN (" + ", ".join(f":s{i}" for i in range(len(strategies)))
                     + ")")
        params.update({f"s{i}": s for i, s in enumerate(strategies)})
    return where, params


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


