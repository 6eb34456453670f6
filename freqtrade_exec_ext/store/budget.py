"""The shared request budget in a database every bot on the IP reaches (SQLAlchemy Core).

Where it lives: the PostgreSQL server the bots share (``freqtrade-exec deploy --db
postgres``), else a SQLite file in WAL mode on a volume every bot mounts.  No server of
our own: the database serialises the bots' reservations (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``SELECT ... FOR UPDATE``), one short transaction per request.

Tables (created on first use):

``exec_ext_rate_budget``: one row per ``(exchange, family)``: ``window_start_ms``,
``used`` (weight of every bot in that window), ``blocked_until_ms`` (a Retry-After in
force for every bot).

``exec_ext_rate_budget_bots``: one row per ``(exchange, family, bot_id)``: the bot's
weight in the window (``used``), ``last_seen_ms``, and running totals (``requests``,
``weight_total``, ``holds``, ``hold_ms``, ``refused``, ``throttled``: 429/418 answers).

The arithmetic is :func:`freqtrade_exec_ext.execution.budget.decide`; the caller passes
every time (ms) in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    create_engine,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from freqtrade_exec_ext.execution.budget import (
    BudgetConfig,
    Counts,
    Grant,
    decide,
    window_start,
)

FAMILIES_TABLE = "exec_ext_rate_budget"
BOTS_TABLE = "exec_ext_rate_budget_bots"

_meta = MetaData()
families = Table(
    FAMILIES_TABLE,
    _meta,
    Column("exchange", String(64), primary_key=True),
    Column("family", String(16), primary_key=True),
    Column("window_start_ms", BigInteger, nullable=False),
    Column("used", Integer, nullable=False),
    Column("blocked_until_ms", BigInteger, nullable=False),
)
bots = Table(
    BOTS_TABLE,
    _meta,
    Column("exchange", String(64), primary_key=True),
    Column("family", String(16), primary_key=True),
    Column("bot_id", String(128), primary_key=True),
    Column("window_start_ms", BigInteger, nullable=False),
    Column("used", Integer, nullable=False),
    Column("last_seen_ms", BigInteger, nullable=False),
    Column("requests", BigInteger, nullable=False, default=0),
    Column("weight_total", BigInteger, nullable=False, default=0),
    Column("holds", BigInteger, nullable=False, default=0),
    Column("hold_ms", BigInteger, nullable=False, default=0),
    Column("refused", BigInteger, nullable=False, default=0),
    Column("throttled", BigInteger, nullable=False, default=0),
)


def budget_engine(url: str) -> Engine:
    """An engine for the budget database: SQLite in WAL mode with writers serialised by
    ``BEGIN IMMEDIATE`` (waiting up to 30 s for the lock), or PostgreSQL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # the driver leaves BEGIN to us
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


@dataclass(frozen=True)
class BotStats:
    exchange: str
    family: str
    bot_id: str
    used: int
    window_start_ms: int
    requests: int
    weight_total: int
    holds: int
    hold_ms: int
    refused: int
    throttled: int


class BudgetStore:
    """The shared budget of one database (thread-safe through the engine's pool)."""

    def __init__(self, engine: Engine, config: BudgetConfig) -> None:
        try:
            _meta.create_all(engine, tables=[families, bots])
        except DBAPIError:  # another bot created them at the same moment
            if not {FAMILIES_TABLE, BOTS_TABLE} <= set(inspect(engine).get_table_names()):
                raise
        self.engine = engine
        self.config = config
        self._locking = engine.dialect.name != "sqlite"  # SQLite: BEGIN IMMEDIATE

    def _insert_missing(self, conn: Connection, table: Table, values: dict[str, Any]) -> None:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            conn.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            conn.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())

    def _family_row(
        self, conn: Connection, exchange: str, family: str, start: int
    ) -> tuple[int, int, int]:
        self._insert_missing(
            conn,
            families,
            {
                "exchange": exchange,
                "family": family,
                "window_start_ms": start,
                "used": 0,
                "blocked_until_ms": 0,
            },
        )
        q = select(families.c.window_start_ms, families.c.used, families.c.blocked_until_ms)
        q = q.where(families.c.exchange == exchange, families.c.family == family)
        if self._locking:
            q = q.with_for_update()
        row = conn.execute(q).one()
        ws, used, blocked = int(row[0]), int(row[1]), int(row[2])
        if start > ws:  # a new window; a late caller (start < ws) counts in the current one
            ws, used = start, 0
        return ws, used, blocked

    def _bot_row(
        self, conn: Connection, exchange: str, family: str, bot_id: str, start: int, now_ms: int
    ) -> int:
        self._insert_missing(
            conn,
            bots,
            {
                "exchange": exchange,
                "family": family,
                "bot_id": bot_id,
                "window_start_ms": start,
                "used": 0,
                "last_seen_ms": now_ms,
                "requests": 0,
                "weight_total": 0,
                "holds": 0,
                "hold_ms": 0,
                "refused": 0,
                "throttled": 0,
            },
        )
        row = conn.execute(
            select(bots.c.window_start_ms, bots.c.used).where(
                bots.c.exchange == exchange, bots.c.family == family, bots.c.bot_id == bot_id
            )
        ).one()
        return int(row[1]) if int(row[0]) >= start else 0

    def _active(self, conn: Connection, exchange: str, family: str, since_ms: int) -> int:
        n = conn.execute(
            select(func.count())
            .select_from(bots)
            .where(
                bots.c.exchange == exchange,
                bots.c.family == family,
                bots.c.last_seen_ms >= since_ms,
            )
        ).scalar_one()
        return int(n)

    def reserve(self, exchange: str, family: str, bot_id: str, weight: int, now_ms: int) -> Grant:
        """Take ``weight`` from the budget now, or say how long to wait (nothing taken)."""
        cfg = self.config
        start = window_start(now_ms, cfg.limits[family].window_ms)
        key = and_(bots.c.exchange == exchange, bots.c.family == family, bots.c.bot_id == bot_id)
        with self.engine.begin() as conn:
            ws, used, blocked = self._family_row(conn, exchange, family, start)
            bot_used = self._bot_row(conn, exchange, family, bot_id, max(ws, start), now_ms)
            active = self._active(conn, exchange, family, now_ms - int(cfg.active_s * 1000))
            grant = decide(
                cfg,
                family,
                weight,
                Counts(ws, used, bot_used, blocked, max(1, active)),
                now_ms,
            )
            if not grant.ok:
                conn.execute(update(bots).where(key).values(last_seen_ms=now_ms))
                return grant
            conn.execute(
                update(families)
                .where(families.c.exchange == exchange, families.c.family == family)
                .values(window_start_ms=ws, used=used + weight)
            )
            conn.execute(
                update(bots)
                .where(key)
                .values(
                    window_start_ms=ws,
                    used=bot_used + weight,
                    last_seen_ms=now_ms,
                    requests=bots.c.requests + 1,
                    weight_total=bots.c.weight_total + weight,
                )
            )
        return grant

    def observe(
        self,
        exchange: str,
        family: str,
        bot_id: str,
        now_ms: int,
        *,
        retry_after_s: float | None = None,
        reported_used: int | None = None,
    ) -> None:
        """Learn from an answer: a Retry-After closes the family for every bot; a used
        weight the exchange reports above the shared count raises it."""
        if retry_after_s is None and reported_used is None:
            return
        start = window_start(now_ms, self.config.limits[family].window_ms)
        with self.engine.begin() as conn:
            ws, used, blocked = self._family_row(conn, exchange, family, start)
            values: dict[str, Any] = {}
            if retry_after_s is not None:
                values["blocked_until_ms"] = max(blocked, now_ms + int(retry_after_s * 1000))
                conn.execute(
                    update(bots)
                    .where(
                        bots.c.exchange == exchange,
                        bots.c.family == family,
                        bots.c.bot_id == bot_id,
                    )
                    .values(throttled=bots.c.throttled + 1)
                )
            if reported_used is not None and reported_used > used:
                values.update(window_start_ms=ws, used=reported_used)
            if values:
                conn.execute(
                    update(families)
                    .where(families.c.exchange == exchange, families.c.family == family)
                    .values(**values)
                )

    def note_hold(
        self, exchange: str, family: str, bot_id: str, seconds: float, *, refused: bool
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(bots)
                .where(
                    bots.c.exchange == exchange, bots.c.family == family, bots.c.bot_id == bot_id
                )
                .values(
                    holds=bots.c.holds + (0 if refused else 1),
                    hold_ms=bots.c.hold_ms + (0 if refused else int(seconds * 1000)),
                    refused=bots.c.refused + (1 if refused else 0),
                )
            )

    # ------------------------------------------------------------------ reading
    def bot_stats(self, bot_id: str | None = None) -> list[BotStats]:
        q = select(bots)
        if bot_id is not None:
            q = q.where(bots.c.bot_id == bot_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(bots.c.exchange, bots.c.family, bots.c.bot_id))
            return [
                BotStats(**{k: r._mapping[k] for k in BotStats.__dataclass_fields__}) for r in rows
            ]

    def family_used(self, exchange: str, family: str, now_ms: int) -> int:
        start = window_start(now_ms, self.config.limits[family].window_ms)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(families.c.window_start_ms, families.c.used).where(
                    families.c.exchange == exchange, families.c.family == family
                )
            ).first()
        return int(row[1]) if row is not None and int(row[0]) == start else 0
