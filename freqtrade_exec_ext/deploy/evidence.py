"""What a stage's Freqtrade database proves (read with SQLAlchemy, read-only).

The tables are Freqtrade's own: ``orders``, ``trades``, ``trade_custom_data`` (the
execution ledger, keys ``exec_ext.fill.<order id>``), ``KeyValueStore`` and
``wallet_history``.  Nothing of Freqtrade is imported; the tables are reflected.

**Failed checks** (the one definition; the gates and the checklist use it):

1. an order the exchange rejected (``orders.status = 'rejected'``);
2. a fill whose slippage exceeded the contract's budget (ledger record with
   ``over_budget: true``, see :class:`~freqtrade_exec_ext.execution.ledger.FillRecord`);
3. a ledger record that cannot be read (not JSON, or not a fill record): it cannot be
   checked, so it counts as failed.

**Filled order**: an order row with ``filled > 0`` (entries, exits, stop-losses).
**Closed trade**: a trade row with ``is_open = false`` and a ``close_date`` (its entry and
exit filled).

**Running time** of a stage: from the earliest to the latest time recorded in the
database: the bot's first start (``KeyValueStore.bot_start_time``), order and trade
times, ledger writes and Freqtrade's daily wallet snapshot (``wallet_history``, written
at 00:07 every day while the bot runs).  A bot that stopped stops adding times, so the
span measures how long it really ran, to within a day.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX, FillRecord

FAILED_CHECKS_DOC = (
    "failed checks = orders the exchange rejected + fills over the contract's slippage "
    "budget (ledger over_budget) + unreadable ledger records"
)


_TABLES = ("orders", "trades", "trade_custom_data", "KeyValueStore", "wallet_history")


class EvidenceError(Exception):
    """The database cannot be read (one clear line)."""


@dataclass(frozen=True)
class StageEvidence:
    source: str  # where it was read (no password)
    filled_orders: int
    rejected_orders: int
    ledger_records: int
    over_budget_fills: int
    unreadable_records: int
    trades: int
    closed_trades: int
    first_activity: str | None  # ISO-8601 UTC
    last_activity: str | None

    @property
    def failed_checks(self) -> int:
        return self.rejected_orders + self.over_budget_fills + self.unreadable_records

    @property
    def days(self) -> float:
        if not self.first_activity or not self.last_activity:
            return 0.0
        first = datetime.fromisoformat(self.first_activity)
        last = datetime.fromisoformat(self.last_activity)
        return max(0.0, (last - first).total_seconds() / 86400.0)

    def failed_detail(self) -> str:
        parts = [
            plural(self.rejected_orders, "rejected order"),
            plural(self.over_budget_fills, "fill") + " over the slippage budget",
        ]
        if self.unreadable_records:
            parts.append(plural(self.unreadable_records, "unreadable ledger record"))
        return ", ".join(parts)

    def summary(self) -> str:
        return (
            f"{plural(self.filled_orders, 'filled order')}, "
            f"{plural(self.closed_trades, 'closed trade')}, "
            f"{plural(self.failed_checks, 'failed check')} ({self.failed_detail()})"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["failed_checks"] = self.failed_checks
        out["days"] = round(self.days, 2)
        return out


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlalchemy_url(url: str, root: Path) -> tuple[str, str]:
    """(URL to open, URL to show).  SQLite paths are relative to the project root and are
    opened read-only; other URLs must not carry a password (use PGPASSWORD)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise EvidenceError(f"database URL {url!r}: not a database URL ({exc})") from None
    if parsed.password:
        raise EvidenceError(
            "database URL: contains a password; pass it in the PGPASSWORD environment "
            "variable instead"
        )
    if parsed.get_backend_name() != "sqlite":
        return url, url
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


def read_evidence(url: str, root: Path) -> StageEvidence:
    """Summarise a stage database.  Raises EvidenceError with one clear line."""
    from sqlalchemy import MetaData, create_engine, inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    open_url, shown = sqlalchemy_url(url, root)
    try:
        engine = create_engine(open_url)
    except (ImportError, SQLAlchemyError) as exc:  # e.g. no psycopg for postgres
        raise EvidenceError(f"{shown}: cannot open ({exc.__class__.__name__}: {exc})") from None
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            if not {"orders", "trades"} <= names:
                raise EvidenceError(f"{shown}: not a Freqtrade database (no orders/trades table)")
            meta = MetaData()
            wanted = [n for n in _TABLES if n in names]
            meta.reflect(conn, only=wanted)
            t = meta.tables
            orders = conn.execute(
                select(
                    t["orders"].c.status,
                    t["orders"].c.filled,
                    t["orders"].c.order_date,
                    t["orders"].c.order_update_date,
                    t["orders"].c.order_filled_date,
                )
            ).all()
            trades = conn.execute(
                select(t["trades"].c.is_open, t["trades"].c.open_date, t["trades"].c.close_date)
            ).all()
            ledger: list[tuple[Any, ...]] = []
            if "trade_custom_data" in t:
                cd = t["trade_custom_data"]
                ledger = list(
                    conn.execute(
                        select(cd.c.cd_value, cd.c.created_at, cd.c.updated_at).where(
                            cd.c.cd_key.like(LEDGER_KEY_PREFIX + "%")
                        )
                    ).all()
                )
            times: list[Any] = []
            if "KeyValueStore" in t:
                kv = t["KeyValueStore"]
                times += [
                    r[0]
                    for r in conn.execute(
                        select(kv.c.datetime_value).where(
                            kv.c.key.in_(("bot_start_time", "startup_time"))
                        )
                    )
                ]
            if "wallet_history" in t:
                times += [r[0] for r in conn.execute(select(t["wallet_history"].c.timestamp))]
    except EvidenceError:
        raise
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:160]
        raise EvidenceError(f"{shown}: cannot read ({first})") from None
    finally:
        engine.dispose()

    for row in orders:
        times += [row.order_date, row.order_update_date, row.order_filled_date]
    for row in trades:
        times += [row.open_date, row.close_date]
    over, unreadable = _ledger_counts(value for value, *_ in ledger)
    for _, created, updated in ledger:
        times += [created, updated]
    stamps = sorted(s for s in (_utc(v) for v in times) if s is not None)
    return StageEvidence(
        source=shown,
        filled_orders=sum(1 for r in orders if (r.filled or 0) > 0),
        rejected_orders=sum(1 for r in orders if (r.status or "").lower() == "rejected"),
        ledger_records=len(ledger),
        over_budget_fills=over,
        unreadable_records=unreadable,
        trades=len(trades),
        closed_trades=sum(1 for r in trades if not r.is_open and r.close_date is not None),
        first_activity=stamps[0].isoformat() if stamps else None,
        last_activity=stamps[-1].isoformat() if stamps else None,
    )


def _ledger_counts(values: Iterable[Any]) -> tuple[int, int]:
    over = unreadable = 0
    for value in values:
        try:
            data = json.loads(value) if isinstance(value, str) else value
            if not isinstance(data, dict):
                raise TypeError("not an object")
            record = FillRecord.from_dict(data)
        except (ValueError, TypeError):
            unreadable += 1
            continue
        if record.over_budget is True:
            over += 1
        elif record.over_budget is not False:
            unreadable += 1
    return over, unreadable
