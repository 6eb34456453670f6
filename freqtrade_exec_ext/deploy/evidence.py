"""Read a stage's Freqtrade database as plain facts (SQLAlchemy Core, read-only).

What is read, and from where:

* Freqtrade's ``orders``, ``trades`` and ``trade_custom_data`` (the execution ledger,
  keys ``exec_ext.fill.<order id>``): names only from
  :mod:`freqtrade_exec_ext.compat.schema`;
* this package's run sessions (:mod:`freqtrade_exec_ext.store.sessions`), written by the
  bot itself: stage, exchange host, dry-run, contract sha256, heartbeats;
* the order guard's journal (table ``exec_ext_order_intents``, see
  :mod:`freqtrade_exec_ext.store.journal`): every order a live bot sent.

What the facts prove is decided by :mod:`freqtrade_exec_ext.deploy.evidence_rules` (pure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.errors import InputRefused
from freqtrade_exec_ext.store.sessions import RunSession
from freqtrade_exec_ext.timeutil import parse_utc


class EvidenceError(InputRefused):
    """The database cannot be read (one clear line)."""


@dataclass(frozen=True)
class OrderFact:
    order_id: str
    trade_id: int
    pair: str
    ft_side: str  # buy | sell | stoploss (Freqtrade's ft_order_side)
    status: str
    filled: float
    placed_at: datetime | None
    filled_at: datetime | None

    @property
    def simulated(self) -> bool:
        """Freqtrade's dry-run orders carry ids it makes up (``dry_run_<side>_...``)."""
        return self.order_id.startswith("dry_run_")


@dataclass(frozen=True)
class TradeFact:
    id: int
    pair: str
    exchange: str
    is_open: bool
    open_date: datetime | None
    close_date: datetime | None
    profit_abs: float | None


@dataclass(frozen=True)
class JournalFact:
    order_id: str | None
    pair: str
    intent: str  # entry | exit | stoploss
    status: str


@dataclass(frozen=True)
class LedgerFact:
    key: str
    value: Any
    created_at: datetime | None


@dataclass(frozen=True)
class StageDb:
    """Everything the gates read from one database."""

    source: str  # how the database is named in messages (never a password)
    sessions: tuple[RunSession, ...] | None  # None: no sessions table
    orders: tuple[OrderFact, ...]
    trades: tuple[TradeFact, ...]
    journal: tuple[JournalFact, ...] | None  # None: no journal table
    ledger: tuple[LedgerFact, ...]

    def as_of(self, cutoff: datetime) -> StageDb:
        """The database as it was at ``cutoff``, as far as its time stamps tell."""

        def before(when: datetime | None) -> bool:
            return when is not None and when <= cutoff

        sessions = None
        if self.sessions is not None:
            sessions = tuple(
                replace(s, last_heartbeat_at=min(s.last_heartbeat_at, cutoff))
                for s in self.sessions
                if s.started_at <= cutoff
            )
        orders = tuple(
            replace(o, filled_at=o.filled_at if before(o.filled_at) else None,
                    filled=o.filled if before(o.filled_at) else 0.0)
            for o in self.orders
            if before(o.placed_at)
        )  # fmt: skip
        trades = tuple(
            replace(t, is_open=not before(t.close_date),
                    close_date=t.close_date if before(t.close_date) else None)
            for t in self.trades
            if before(t.open_date)
        )  # fmt: skip
        ledger = tuple(r for r in self.ledger if before(r.created_at))
        return replace(self, sessions=sessions, orders=orders, trades=trades, ledger=ledger)


def utc(value: Any) -> datetime | None:
    return parse_utc(value)


def sqlalchemy_url(url: str, root: Path) -> tuple[str, str]:
    """(URL to open, URL to show).  SQLite paths are relative to the project root and are
    opened read-only; other URLs must not carry a password (use PGPASSWORD)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from freqtrade_exec_ext.redact import mask_url

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise EvidenceError(f"database URL {mask_url(url)!r}: not a database URL") from None
    if parsed.password:
        raise EvidenceError(
            "database URL: contains a password; pass it in the PGPASSWORD environment "
            "variable instead"
        )
    if parsed.get_backend_name() != "sqlite":
        return url, mask_url(url)
    db = parsed.database or ""
    if not db or db == ":memory:":
        raise EvidenceError(f"database URL {url!r}: needs a file")
    path = Path(db)
    if not path.is_absolute():
        path = root / path
    if not path.is_file():
        raise EvidenceError(f"{db}: does not exist")
    # shown as given (relative to the project root), so that generated files do not depend
    # on where the project lives
    return f"sqlite:///file:{path.as_posix()}?mode=ro&uri=true", db


def _schema() -> tuple[Any, Any, Any, Any]:
    """Core tables naming only the columns read (names from compat.schema)."""
    from sqlalchemy import column, table

    from freqtrade_exec_ext.compat import schema
    from freqtrade_exec_ext.store.journal import TABLE as JOURNAL_TABLE

    t = schema.tables()

    def cols(names: tuple[str, ...], known: tuple[str, ...]) -> list[Any]:
        missing = [n for n in names if n not in known]
        if missing:  # a programming error: compat.schema must list every column read
            raise AssertionError(f"columns not in compat.schema: {missing}")
        return [column(n) for n in names]

    orders = table(t.orders, *cols(
        ("order_id", "ft_trade_id", "ft_pair", "ft_order_side", "status", "filled",
         "order_date", "order_filled_date"), schema.ORDER_COLUMNS))  # fmt: skip
    trades = table(t.trades, *cols(
        ("id", "pair", "exchange", "is_open", "open_date", "close_date", "close_profit_abs"),
        schema.TRADE_COLUMNS))  # fmt: skip
    custom = table(t.custom_data, *cols(
        ("cd_key", "cd_value", "created_at"), schema.CUSTOM_DATA_COLUMNS))  # fmt: skip
    journal = table(JOURNAL_TABLE, column("order_id"), column("pair"), column("intent"),
                    column("status"))  # fmt: skip
    return orders, trades, custom, journal


def read_stage_db(url: str, root: Path) -> StageDb:
    """Read a stage database.  Raises EvidenceError with one clear line."""
    from sqlalchemy import create_engine, inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    from freqtrade_exec_ext.compat import schema
    from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX
    from freqtrade_exec_ext.store.journal import TABLE as JOURNAL_TABLE
    from freqtrade_exec_ext.store.sessions import read_sessions

    open_url, shown = sqlalchemy_url(url, root)
    try:
        engine = create_engine(open_url)
    except (ImportError, SQLAlchemyError) as exc:  # e.g. no psycopg for postgres
        raise EvidenceError(f"{shown}: cannot open ({exc.__class__.__name__})") from None
    orders_t, trades_t, custom_t, journal_t = _schema()
    names = schema.tables()
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            if not {names.orders, names.trades} <= present:
                raise EvidenceError(
                    f"{shown}: not a Freqtrade database (no {names.orders}/{names.trades} table)"
                )
            sessions = read_sessions(conn)
            if sessions is None:  # nothing here can count: do not read what may not exist
                return StageDb(shown, None, (), (), None, ())
            orders = conn.execute(select(orders_t)).mappings().all()
            trades = conn.execute(select(trades_t)).mappings().all()
            ledger: list[Any] = []
            if names.custom_data in present:
                ledger = list(
                    conn.execute(
                        select(custom_t).where(custom_t.c.cd_key.like(LEDGER_KEY_PREFIX + "%"))
                    ).mappings()
                )
            journal = None
            if JOURNAL_TABLE in present:
                journal = conn.execute(select(journal_t)).mappings().all()
    except EvidenceError:
        raise
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:160]
        raise EvidenceError(f"{shown}: cannot read ({first})") from None
    finally:
        engine.dispose()
    return StageDb(
        source=shown,
        sessions=None if sessions is None else tuple(sessions),
        orders=tuple(_order(r) for r in orders),
        trades=tuple(_trade(r) for r in trades),
        journal=None if journal is None else tuple(_journal(r) for r in journal),
        ledger=tuple(
            LedgerFact(str(r["cd_key"]), r["cd_value"], utc(r["created_at"])) for r in ledger
        ),
    )


def _float(value: Any) -> float:
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _order(r: Any) -> OrderFact:
    return OrderFact(
        order_id=str(r["order_id"] or ""),
        trade_id=int(r["ft_trade_id"] or 0),
        pair=str(r["ft_pair"] or ""),
        ft_side=str(r["ft_order_side"] or ""),
        status=str(r["status"] or "").lower(),
        filled=_float(r["filled"]),
        placed_at=utc(r["order_date"]),
        filled_at=utc(r["order_filled_date"]),
    )


def _trade(r: Any) -> TradeFact:
    profit = r["close_profit_abs"]
    return TradeFact(
        id=int(r["id"]),
        pair=str(r["pair"] or ""),
        exchange=str(r["exchange"] or ""),
        is_open=bool(r["is_open"]),
        open_date=utc(r["open_date"]),
        close_date=utc(r["close_date"]),
        profit_abs=None if profit is None else _float(profit),
    )


def _journal(r: Any) -> JournalFact:
    oid = r["order_id"]
    return JournalFact(
        order_id=None if oid is None else str(oid),
        pair=str(r["pair"] or ""),
        intent=str(r["intent"] or ""),
        status=str(r["status"] or ""),
    )


def ledger_value(value: Any) -> Any:
    """A ledger cell as stored (JSON text) -> Python data; unparsable -> the raw value."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
