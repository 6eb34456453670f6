"""Read orders, trades, execution-ledger records and decisions from Freqtrade databases.

Each database (one per bot) is read by the fastest path its dialect allows (see
:mod:`.readers`) into an order frame; several databases are read concurrently and
concatenated with a ``bot`` column.  SQLite files are opened read-only and never written.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from freqtrade_exec_ext.compat import schema
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
from freqtrade_exec_ext.redact import mask_url, mask_urls_in
from freqtrade_exec_ext.report.errors import ReportInputError
from freqtrade_exec_ext.report.frame import Problems, combine, stage_rule
from freqtrade_exec_ext.report.metrics import empty_orders
from freqtrade_exec_ext.report.query import (
    CHUNK_ROWS,
    CTX_KEYS,
    contexts_sql,
    decision_links_sql,
    open_engine,
    sqlite_file,
)
from freqtrade_exec_ext.store.decisions import DECISIONS_TABLE

Progress = Callable[[int, int], None] | None


@dataclass
class DbRead:
    orders: pd.DataFrame
    source: str
    dialect: str
    ledger_table: bool
    ledger_records: int
    stage_rule: str
    bots: list[str] = field(default_factory=list)
    decisions: pd.DataFrame | None = None  # exec_ext_decisions rows (+ "bot")
    contexts: pd.DataFrame | None = None  # (bot, trade_id, intent, decision_price, arrival_mid)
    links: pd.DataFrame | None = None  # (bot, row_id, decision id, position)
    problems: Problems = field(default_factory=Problems)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Meta:
    tables: set[str]
    ledger_records: int
    total: int


def bot_labels(urls: Sequence[str]) -> list[str]:
    """A short name per database: the file (SQLite) or database name, made unique."""
    names = []
    for url in urls:
        path = sqlite_file(url) if url.startswith("sqlite") else None
        names.append(path.name if path else (url.rsplit("/", 1)[-1].split("?", 1)[0] or url))
    out = []
    for i, (url, name) in enumerate(zip(urls, names, strict=True)):
        if names.count(name) > 1:
            path = sqlite_file(url) if url.startswith("sqlite") else None
            name = f"{path.parent.name}/{name}" if path else f"{name}#{i + 1}"
        out.append(name)
    return [mask_url(n) for n in out]


def _fail(shown: str, exc: BaseException) -> ReportInputError:
    msg = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    return ReportInputError(
        f"--db {shown}: cannot read the database: "
        f"{mask_urls_in(msg[0]) if msg else type(exc).__name__}"
    )


def _meta_sqlite(path: Path, shown: str) -> _Meta:
    import sqlite3

    from freqtrade_exec_ext.report.readers.sqlite import connect

    try:
        con = connect(path)
        try:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            return _counts(lambda sql, p=(): con.execute(sql, p).fetchone(), tables, shown)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise _fail(shown, exc) from exc


def _counts(one: Callable[..., Any], tables: set[str], shown: str) -> _Meta:
    t = schema.TABLES
    missing = {t.orders, t.trades} - tables
    if missing:
        raise ReportInputError(
            f"--db {shown}: not a Freqtrade database (no table {', '.join(sorted(missing))}; "
            f"found: {', '.join(sorted(tables)) or 'none'})"
        )
    ledger = 0
    if t.custom_data in tables:  # any ledger record at all (the count comes from the read)
        ledger = int(
            one(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {t.custom_data} "  # noqa: S608
                "WHERE cd_key LIKE ? LIMIT 1) AS x",
                (LEDGER_KEY_PREFIX + "%",),
            )[0]
            or 0
        )
    total = int(one(f"SELECT COUNT(*) FROM {t.orders}")[0] or 0)  # noqa: S608
    return _Meta(tables, ledger, total)


def read_db(
    url: str,
    *,
    stage: str | None = None,
    pairs: Sequence[str] = (),
    strategies: Sequence[str] = (),
    progress: Progress = None,
    chunk_rows: int = CHUNK_ROWS,
    bot: str = "",
) -> DbRead:
    """Every order of one Freqtrade database as an order frame (see metrics)."""
    shown = mask_url(url)
    path = sqlite_file(url)
    if path is not None:
        from freqtrade_exec_ext.report.readers import sqlite as reader

        meta = _meta_sqlite(path, shown)
        use_ledger = meta.ledger_records > 0
        try:
            frames, problems, ctx_rows = reader.read(
                path,
                url=url,
                stage=stage,
                bot=bot,
                use_ledger=use_ledger,
                pairs=pairs,
                strategies=strategies,
                progress=progress,
                chunk_rows=chunk_rows,
            )
            decisions, links = _decisions_sqlite(path, meta.tables, bot)
            contexts = _contexts(list(dict.fromkeys(ctx_rows)), bot)
        except Exception as exc:
            if type(exc).__module__ == "sqlite3":
                raise _fail(shown, exc) from exc
            raise
        dialect = "sqlite"
    else:
        frames, problems, meta, dialect, decisions, links = _read_engine(
            url,
            shown,
            stage=stage,
            bot=bot,
            pairs=pairs,
            strategies=strategies,
            progress=progress,
            chunk_rows=chunk_rows,
        )
        contexts = (
            _contexts(_query(url, None, contexts_sql()), bot)
            if schema.TABLES.custom_data in meta.tables
            else None
        )
    orders = combine(frames) if frames else empty_orders()
    return DbRead(
        orders=orders,
        source=shown,
        dialect=dialect,
        ledger_table=schema.TABLES.custom_data in meta.tables,
        ledger_records=int(orders["has_ledger"].sum()),
        stage_rule=stage_rule(stage),
        bots=[bot],
        decisions=decisions,
        links=links,
        contexts=contexts,
        problems=problems,
    )


def _read_engine(
    url: str,
    shown: str,
    *,
    stage: str | None,
    bot: str,
    pairs: Sequence[str],
    strategies: Sequence[str],
    progress: Progress,
    chunk_rows: int,
) -> Any:
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from freqtrade_exec_ext.report.readers import generic, postgres

    engine = open_engine(url)
    dialect = engine.dialect.name
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            meta = _counts(
                lambda sql, p=(): conn.execute(
                    text(sql.replace("?", ":p0")), {"p0": p[0]} if p else {}
                ).one(),
                tables,
                shown,
            )
            kw: dict[str, Any] = {
                "url": url,
                "stage": stage,
                "bot": bot,
                "use_ledger": meta.ledger_records > 0,
                "pairs": pairs,
                "strategies": strategies,
                "progress": progress,
                "total": meta.total,
                "chunk_rows": chunk_rows,
            }
            try:
                if dialect == "postgresql" and postgres.usable(conn):
                    frames, problems = postgres.read(conn, **kw)
                else:
                    frames, problems = generic.read(conn, dialect=dialect, **kw)
            except postgres.LedgerJsonError:
                frames, problems = generic.read(conn, dialect=dialect, **kw)
            decisions, links = _decisions_engine(conn, dialect, tables, bot)
    except ReportInputError:
        raise
    except (DBAPIError, SQLAlchemyError) as exc:
        raise _fail(shown, exc) from exc
    finally:
        engine.dispose()
    return frames, problems, meta, dialect, decisions, links


LINK_COLUMNS = ["row_id", "decision", "position"]


def _contexts(rows: list[tuple[Any, ...]], bot: str) -> pd.DataFrame | None:
    """The decision contexts the mixin keeps per trade (a value that is not a JSON object
    with a positive decision price is ignored)."""
    import json

    out = []
    for tid, key, value in rows:
        try:
            ctx = json.loads(value) if isinstance(value, str) else value
            price = float(ctx["decision_price"])
            arrival = ctx.get("arrival_mid")
            arrival = float(arrival) if arrival is not None else float("nan")
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
        if price > 0:
            out.append((bot, int(tid), CTX_KEYS[key], price, arrival))
    return (
        pd.DataFrame(out, columns=["bot", "trade_id", "intent", "decision_price", "arrival_mid"])
        if out
        else None
    )


def _decisions_sqlite(path: Path, tables: set[str], bot: str) -> tuple[Any, Any]:
    if DECISIONS_TABLE not in tables:
        return None, None
    from freqtrade_exec_ext.report.readers.sqlite import connect

    con = connect(path)
    try:
        cur = con.execute(f"SELECT * FROM {DECISIONS_TABLE}")  # noqa: S608
        names = [d[0] for d in cur.description]
        decisions = pd.DataFrame.from_records(cur.fetchall(), columns=names)
        links = pd.DataFrame.from_records(
            con.execute(decision_links_sql("sqlite") or "").fetchall(), columns=LINK_COLUMNS
        )
    finally:
        con.close()
    return decisions.assign(bot=bot), links.assign(bot=bot)


def _decisions_engine(conn: Any, dialect: str, tables: set[str], bot: str) -> tuple[Any, Any]:
    if DECISIONS_TABLE not in tables:
        return None, None
    import json

    from sqlalchemy import text

    from freqtrade_exec_ext.store.decisions import read_rows

    names, rows = read_rows(conn)
    decisions = pd.DataFrame.from_records(rows, columns=names)
    sql = decision_links_sql(dialect)
    if sql is not None:
        links = pd.DataFrame.from_records(list(conn.execute(text(sql))), columns=LINK_COLUMNS)
    else:  # other dialects: explode in Python and match exchange order ids
        ids = pd.DataFrame.from_records(
            list(conn.execute(text("SELECT id, order_id, ft_trade_id FROM orders"))),
            columns=["row_id", "oid", "tid"],
        )
        exploded = [
            (d, k, str(o), t)
            for d, raw, t in zip(
                decisions["id"], decisions["order_ids"], decisions["trade_id"], strict=True
            )
            for k, o in enumerate(json.loads(raw or "[]"))
        ]
        ex = pd.DataFrame(exploded, columns=["decision", "position", "oid", "tid_d"])
        links = ex.merge(ids, on="oid")
        links = links.loc[links["tid_d"].isna() | (links["tid_d"] == links["tid"]), LINK_COLUMNS]
    return decisions.assign(bot=bot), links.assign(bot=bot)


def read_dbs(
    urls: Sequence[str],
    *,
    stage: str | None = None,
    pairs: Sequence[str] = (),
    strategies: Sequence[str] = (),
    progress: Progress = None,
    chunk_rows: int = CHUNK_ROWS,
) -> DbRead:
    """Several databases (one per bot) read concurrently, concatenated with a bot column."""
    if len(urls) == 1:
        return read_db(
            urls[0],
            stage=stage,
            pairs=pairs,
            strategies=strategies,
            progress=progress,
            chunk_rows=chunk_rows,
            bot=bot_labels(urls)[0],
        )
    bots = bot_labels(urls)
    with cf.ThreadPoolExecutor(max_workers=len(urls)) as pool:
        futs = [
            pool.submit(
                read_db,
                u,
                stage=stage,
                pairs=pairs,
                strategies=strategies,
                chunk_rows=chunk_rows,
                bot=b,
            )
            for u, b in zip(urls, bots, strict=True)
        ]
        reads = [f.result() for f in futs]
    problems = Problems()
    for r in reads:
        problems.merge(r.problems)
    decisions = [r.decisions for r in reads if r.decisions is not None]
    contexts = [r.contexts for r in reads if r.contexts is not None]
    links = [r.links for r in reads if r.links is not None]
    return DbRead(
        orders=combine([r.orders for r in reads]),
        source=", ".join(r.source for r in reads),
        dialect=", ".join(sorted({r.dialect for r in reads})),
        ledger_table=any(r.ledger_table for r in reads),
        ledger_records=sum(r.ledger_records for r in reads),
        stage_rule=stage_rule(stage),
        bots=bots,
        decisions=pd.concat(decisions, ignore_index=True) if decisions else None,
        links=pd.concat(links, ignore_index=True) if links else None,
        contexts=pd.concat(contexts, ignore_index=True) if contexts else None,
        problems=problems,
    )


def lookup_order_ids(
    urls: Sequence[str], bots: Sequence[str], wanted: pd.DataFrame
) -> dict[tuple[str, int], str]:
    """orders.order_id for (bot, orders.id) pairs (the few rows a report lists)."""
    out: dict[tuple[str, int], str] = {}
    for url, bot in zip(urls, bots, strict=True):
        ids = [int(i) for i in wanted.loc[wanted["bot"].astype(str) == bot, "row_id"]]
        if not ids:
            continue
        path = sqlite_file(url)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            sql = (
                f"SELECT id, order_id FROM {schema.TABLES.orders} "  # noqa: S608
                f"WHERE id IN ({','.join(str(x) for x in part)})"
            )
            out.update({(bot, int(r)): str(o) for r, o in _query(url, path, sql)})
    return out


def _query(url: str, path: Path | None, sql: str) -> list[tuple[Any, ...]]:
    if path is not None:
        from freqtrade_exec_ext.report.readers.sqlite import connect

        con = connect(path)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    from sqlalchemy import text

    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()
