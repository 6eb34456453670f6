"""SQL for the report's database readers: URLs, engines, the order, trade and ledger queries.

Freqtrade's table and column names come only from :mod:`freqtrade_exec_ext.compat.schema`
(a name it does not declare raises at import); this package's decisions table from
:mod:`freqtrade_exec_ext.store.decisions`.  Every value is a bound parameter; the only
text built into SQL is those names and fixed expressions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_args, get_type_hints

from freqtrade_exec_ext.compat import schema
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX, FillRecord
from freqtrade_exec_ext.redact import mask_url, mask_urls_in
from freqtrade_exec_ext.report.errors import ReportInputError
from freqtrade_exec_ext.store.decisions import DECISIONS_TABLE

CHUNK_ROWS = 100_000
# the strategy adapter's decision context per trade (strategy.context CTX_ENTRY_KEY / _EXIT_KEY;
# tests/report/test_contexts.py ties them): the decision of a trade's working execution
CTX_KEYS = {"exec_ext.ctx.entry": "entry", "exec_ext.ctx.exit": "exit"}
STAGES = ("dry_run", "live", "backtest")
MARKOUT_HORIZONS = ("1s", "10s", "60s", "300s")  # the ledger's markouts_bps keys

T = schema.TABLES


def _names(alias: str, declared: Sequence[str]) -> dict[str, str]:
    return {c: f"{alias}.{c}" for c in declared}


OC = _names("o", schema.ORDER_COLUMNS)
TC = _names("t", schema.TRADE_COLUMNS)
CC = _names("cd", schema.CUSTOM_DATA_COLUMNS)

# the FillRecord fields the report reads, under their own names (raw frame: ``l_<name>``)
LEDGER_READ = (
    "decision_price",
    "arrival_mid",
    "spread_cost_bps",
    "fee_cost",
    "fee_currency",
    "liquidity",
    "slippage_budget_bps",
    "runmode",
)
# the one field read under other names: a mapping, one ``mk_<horizon>`` number per horizon
MARKOUTS_FIELD = "markouts_bps"


def _ledger_fields() -> tuple[tuple[str, str, str], ...]:
    """(name in the raw frame, JSON path, kind) of every ledger value the report reads,
    derived from :class:`FillRecord` (a float field is ``num``, any other ``text``)."""
    hints = get_type_hints(FillRecord)
    missing = [n for n in (*LEDGER_READ, MARKOUTS_FIELD) if n not in hints]
    if missing:  # pragma: no cover - a programming error, caught by the tests at import
        raise ImportError(f"not FillRecord fields: {', '.join(missing)}")

    def kind(name: str) -> str:
        return "num" if float in get_args(hints[name]) or hints[name] is float else "text"

    return (
        *((n, f"$.{n}", kind(n)) for n in LEDGER_READ),
        *((f"mk_{h}", f'$.{MARKOUTS_FIELD}."{h}"', "num") for h in MARKOUT_HORIZONS),
    )


LEDGER_FIELDS: tuple[tuple[str, str, str], ...] = _ledger_fields()
LEDGER_COLS = [f"l_{n}" for n, _, _ in LEDGER_FIELDS]
LEDGER_NUM = [f"l_{n}" for n, _, k in LEDGER_FIELDS if k == "num"]
LEDGER_TEXT = [f"l_{n}" for n, _, k in LEDGER_FIELDS if k == "text"]

ORDER_NUM = (
    "id",
    "ft_trade_id",
    "ft_price",
    "average",
    "amount",
    "ft_amount",
    "filled",
    "funding_fee",
)
ORDER_TEXT = ("side", "ft_order_side", "status", "order_type", "ft_order_tag")
TRADE_TEXT = ("strategy", "pair", "stake_currency")
TRADE_NUM = ("is_short", "fee_open", "fee_close")
TIMES = (("placed_ts", "order_date"), ("filled_ts", "order_filled_date"))


def epoch_sql(dialect: str, col: str) -> str:
    if dialect == "sqlite":
        return f"((julianday({col}) - 2440587.5) * 86400.0)"
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM {col})"
    return col


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL (None for other databases); bad ones raise."""
    if not url.startswith("sqlite"):
        return None
    m = re.match(r"sqlite(?:\+\w+)?:///(.+)$", url)
    if not m or m.group(1).startswith(":memory:"):
        raise ReportInputError(f"--db {mask_url(url)}: need a database file (sqlite:///PATH)")
    path = Path(m.group(1).split("?", 1)[0])
    if not path.is_file():
        raise ReportInputError(f"--db {mask_url(url)}: file not found: {path}")
    return path


def open_engine(url: str) -> Any:
    """A SQLAlchemy engine (SQLite files read-only: never created or modified)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = mask_url(url)
    path = sqlite_file(url)
    if path is not None:
        url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
    try:
        return create_engine(url, future=True)
    except NoSuchModuleError as exc:
        raise ReportInputError(
            f"--db {shown}: unsupported database URL ({mask_urls_in(str(exc))})"
        ) from exc
    except ArgumentError as exc:
        raise ReportInputError(
            f"--db {shown}: not a database URL ({mask_urls_in(str(exc))})"
        ) from exc
    except ModuleNotFoundError as exc:
        hint = " (pip install 'psycopg[binary]')" if "psycopg" in str(exc) else ""
        raise ReportInputError(f"--db {shown}: database driver missing: {exc.name}{hint}") from exc


def filters(pairs: Sequence[str], strategies: Sequence[str]) -> tuple[list[str], dict[str, Any]]:
    """WHERE terms (on orders ``o``) and their bound parameters."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if pairs:
        where.append(f"{OC['ft_pair']} IN (" + ", ".join(f":p{i}" for i in range(len(pairs))) + ")")
        params.update({f"p{i}": p for i, p in enumerate(pairs)})
    if strategies:
        names = ", ".join(f":s{i}" for i in range(len(strategies)))
        where.append(
            f"{OC['ft_trade_id']} IN (SELECT {T.trades}.id "  # noqa: S608
            f"FROM {T.trades} WHERE {T.trades}.strategy IN ({names}))"
        )
        params.update({f"s{i}": s for i, s in enumerate(strategies)})
    return where, params


def ledger_join(src: str) -> str:
    return (
        f"{src} cd ON {CC['ft_trade_id']} = {OC['ft_trade_id']} "
        f"AND {CC['cd_key']} = (:prefix || {OC['order_id']})"
    )


# ------------------------------------------------------------------ SQLite (per chunk)


MAX_VOCAB = 200  # distinct values coded in SQL; a column with more travels as text


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def coded(expr: str, vocab: Sequence[str] | None) -> str:
    """``expr`` as the index of its value in ``vocab`` (-1 for NULL or other values); the
    plain expression when there is no vocabulary (too many distinct values)."""
    if vocab is None:
        return expr
    whens = " ".join(f"WHEN {sql_str(v)} THEN {i}" for i, v in enumerate(vocab))
    return f"(CASE {expr} {whens} ELSE -1 END)" if whens else "-1"


def sqlite_vocab_sql(*, by_range: bool) -> tuple[str, str]:
    """The distinct short texts of one id range of orders and of their trades (read per
    chunk, then coded per row in SQL)."""
    order = (
        f"SELECT DISTINCT {', '.join(ORDER_TEXT)} FROM {T.orders} "  # noqa: S608
        "WHERE id > :lo AND id <= :hi"
    )
    trade = f"SELECT DISTINCT {', '.join(TRADE_TEXT)} FROM {T.trades} t WHERE "  # noqa: S608
    if by_range:
        return order, trade + "t.id >= :tlo AND t.id <= :thi"
    return order, trade + (
        f"t.id IN (SELECT DISTINCT {OC['ft_trade_id']} "  # noqa: S608
        f"FROM {T.orders} o WHERE {OC['id']} > :lo AND {OC['id']} <= :hi)"
    )


def sqlite_orders_sql(
    pairs: Sequence[str], strategies: Sequence[str], vocab: dict[str, list[str] | None]
) -> tuple[str, dict[str, Any]]:
    """One id range of orders: numbers only (short texts as vocabulary codes), times as
    epoch seconds."""
    cols = [OC[c] for c in ORDER_NUM] + [coded(OC[c], vocab.get(c)) for c in ORDER_TEXT]
    cols += [epoch_sql("sqlite", OC[c]) for _, c in TIMES]
    cols.append(f"({OC['order_id']} LIKE 'dry\\_run\\_%' ESCAPE '\\')")
    where, params = filters(pairs, strategies)
    where.append(f"{OC['id']} > :lo AND {OC['id']} <= :hi")
    sql = (
        f"SELECT {', '.join(cols)} FROM {T.orders} o "  # noqa: S608 - names only
        f"WHERE {' AND '.join(where)}"
    )
    return sql, params


SQLITE_ORDER_NAMES = [*ORDER_NUM, *ORDER_TEXT, *(n for n, _ in TIMES), "dry_id"]
TRADE_NAMES = ["id", *TRADE_TEXT, *TRADE_NUM]  # the columns of sqlite_trades_sql


def sqlite_trades_sql(vocab: dict[str, list[str] | None], *, by_range: bool = False) -> str:
    """The trades of one id range of orders (short texts as vocabulary codes): the trade id
    range ``:tlo``..``:thi`` when the orders' trades are dense in it, else those trades."""
    cols = ["t.id", *(coded(TC[c], vocab.get(c)) for c in TRADE_TEXT), *(TC[c] for c in TRADE_NUM)]
    head = f"SELECT {', '.join(cols)} FROM {T.trades} t WHERE "  # noqa: S608
    if by_range:
        return head + f"{TC['id']} >= :tlo AND {TC['id']} <= :thi"
    return head + "t.id IN " + _trades_of_range()


def _trades_of_range() -> str:
    """``(...)``: the trade ids of the orders ``:lo``..``:hi``."""
    t, oid = OC["ft_trade_id"], OC["id"]
    return f"(SELECT DISTINCT {t} FROM {T.orders} o WHERE {oid} > :lo AND {oid} <= :hi)"  # noqa: S608


def sqlite_has_markouts_sql() -> str:
    """Whether the newest ledger records carry markouts (their paths cost a JSON walk each)."""
    value = CC["cd_value"]
    return (
        f"SELECT COUNT(*) FROM (SELECT {value} AS v FROM {T.custom_data} cd "  # noqa: S608
        f"WHERE {CC['cd_key']} LIKE :like ORDER BY {CC['id']} DESC LIMIT 1000) "
        """WHERE instr(v, '"markouts_bps"') > 0"""
    )


def ledger_fields(markouts: bool) -> tuple[tuple[str, str, str], ...]:
    return tuple(f for f in LEDGER_FIELDS if markouts or not f[0].startswith("mk_"))


def sqlite_ledger_sql(valid_only: bool = False, markouts: bool = True) -> str:
    """The ledger arrays of one id range of orders (one JSON parse per record)."""
    paths = ", ".join(f"'{p}'" for _, p, _ in ledger_fields(markouts))
    guard = f" AND json_valid({CC['cd_value']})" if valid_only else ""
    return (
        f"SELECT {OC['id']}, json_extract({CC['cd_value']}, {paths}) "  # noqa: S608
        f"FROM {T.orders} o JOIN {ledger_join(T.custom_data)} "
        f"WHERE {OC['id']} > :lo AND {OC['id']} <= :hi{guard}"
    )


def sqlite_invalid_ledger_sql() -> str:
    return (
        f"SELECT {CC['id']}, {CC['cd_key']}, {CC['ft_trade_id']} "  # noqa: S608
        f"FROM {T.orders} o JOIN {ledger_join(T.custom_data)} "
        f"WHERE {OC['id']} > :lo AND {OC['id']} <= :hi AND NOT json_valid({CC['cd_value']})"
    )


# ------------------------------------------------------- PostgreSQL and other dialects


def _ledger_expr(dialect: str, path: str, kind: str) -> str:
    if dialect == "sqlite":
        return f"json_extract({CC['cd_value']}, '{path}')"
    keys = [k.strip('"') for k in path[2:].split(".")]
    text = "(cd.j #>> '{" + ",".join(keys) + "}')"
    return f"CAST({text} AS DOUBLE PRECISION)" if kind == "num" else text


def joined_query(
    dialect: str,
    has_ledger: bool,
    pairs: Sequence[str],
    strategies: Sequence[str],
    *,
    null_ledger: bool = False,
) -> tuple[str, dict[str, Any]]:
    """Orders joined to their trade and ledger record, one row per order (PostgreSQL's COPY
    and other dialects).  Columns: the raw-frame names of :mod:`.frame`."""
    cols = [f"{OC[c]} AS {c}" for c in ORDER_NUM] + [f"{OC[c]} AS {c}" for c in ORDER_TEXT]
    cols += [f"{epoch_sql(dialect, OC[c])} AS {n}" for n, c in TIMES]
    cols.append(f"{OC['order_id']} AS order_id")
    cols += [f"{TC[c]} AS {c}" for c in (*TRADE_TEXT, *TRADE_NUM)]
    params: dict[str, Any] = {"prefix": LEDGER_KEY_PREFIX}
    join = ""
    if has_ledger and dialect == "postgresql":
        cols.append("CASE WHEN cd.ft_trade_id IS NULL THEN 0 ELSE 1 END AS l_present")
        cols += [f"{_ledger_expr(dialect, p, k)} AS l_{n}" for n, p, k in LEDGER_FIELDS]
        src = (
            f"(SELECT ft_trade_id, cd_key, cd_value::jsonb AS j "  # noqa: S608
            f"FROM {T.custom_data} WHERE cd_key LIKE :prefix_like)"
        )
        params["prefix_like"] = LEDGER_KEY_PREFIX.replace("_", r"\_") + "%"
        join = f" LEFT JOIN {ledger_join(src)}"
    elif has_ledger:
        cols.append(f"{CC['cd_value']} AS l_json")
        join = f" LEFT JOIN {ledger_join(T.custom_data)}"
    elif null_ledger:
        cols.append("0 AS l_present")
        cols += [f"NULL AS l_{n}" for n, _, _ in LEDGER_FIELDS]
    where, fparams = filters(pairs, strategies)
    params.update(fparams)
    sql = (
        f"SELECT {', '.join(cols)} FROM {T.orders} o JOIN {T.trades} t "  # noqa: S608
        f"ON {TC['id']} = {OC['ft_trade_id']}{join}"
        + (" WHERE " + " AND ".join(where) if where else "")
    )
    return sql, params


JOINED_NAMES = [
    *ORDER_NUM,
    *ORDER_TEXT,
    *(n for n, _ in TIMES),
    "order_id",
    *TRADE_TEXT,
    *TRADE_NUM,
]


def decision_links_sql(dialect: str) -> str | None:
    """(orders.id, decision id, position) of every child order a decision names."""
    d = DECISIONS_TABLE
    if dialect == "sqlite":
        return (
            f"SELECT {OC['id']}, d.id, je.key "  # noqa: S608
            f"FROM {d} d, json_each(d.order_ids) je "
            f"JOIN {T.orders} o ON {OC['order_id']} = je.value AND "
            f"(d.trade_id IS NULL OR {OC['ft_trade_id']} = d.trade_id)"
        )
    if dialect == "postgresql":
        return (
            f"SELECT {OC['id']}, d.id, je.n - 1 "  # noqa: S608
            f"FROM {d} d CROSS JOIN LATERAL "
            "jsonb_array_elements_text(d.order_ids::jsonb) WITH ORDINALITY AS je(v, n) "
            f"JOIN {T.orders} o ON {OC['order_id']} = je.v AND "
            f"(d.trade_id IS NULL OR {OC['ft_trade_id']} = d.trade_id)"
        )
    return None


def contexts_sql(by_range: bool | None = None) -> str:
    """Each trade's recorded decision context (decision price and arrival mid): of every
    trade, or (SQLite chunks) of the trade id range ``:tlo``..``:thi`` / of the trades of
    the order id range ``:lo``..``:hi``."""
    keys = ", ".join(sql_str(k) for k in CTX_KEYS)
    sql = (
        f"SELECT {CC['ft_trade_id']}, {CC['cd_key']}, {CC['cd_value']} "  # noqa: S608
        f"FROM {T.custom_data} cd WHERE {CC['cd_key']} IN ({keys})"
    )
    if by_range is True:
        return sql + f" AND {CC['ft_trade_id']} >= :tlo AND {CC['ft_trade_id']} <= :thi"
    if by_range is False:
        return sql + f" AND {CC['ft_trade_id']} IN " + _trades_of_range()
    return sql
