"""Where decisions live: the ``exec_ext_decisions`` table, and a JSON-lines file in backtests.

Writer API (what the strategy adapter calls; every method is one short transaction):

.. code-block:: python

    store = DecisionStore(engine)          # the bot's own SQLAlchemy engine (or a URL)
    did = store.open_decision(decision)    # -> int id; the table is created on first use;
                                           #    opening the same ``key`` again returns its id
    store.attach_order(did, order_id)      # every child order, in placement order
    store.set_trade(did, trade_id)         # the trade, once Freqtrade has made it
    store.close_decision(did, "complete", filled_amount, ended_at, end_mid)

    store.get(did) -> Decision             # readers
    store.read(bot_id=None, trade_id=None) -> list[Decision]

Backtests write the same three calls to ``<results dir>/<Strategy>-exec-decisions.jsonl``
(:class:`DecisionLog`, one event per line: ``open`` with the record, ``order``, ``trade``,
``close``),
read back with :func:`read_decision_log`, which folds the events into records.  Both
implement :class:`DecisionSink`.

Table ``exec_ext_decisions`` (one row per decision; the columns are the fields of
:class:`~freqtrade_exec_ext.execution.decisions.Decision`): ``id`` integer primary key,
``key`` unique, times as naive UTC ``DATETIME`` like Freqtrade's own tables,
``order_ids`` a JSON array of the child orders' exchange ids in placement order.  It is
this package's table: Freqtrade ignores it and never migrates or drops it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from freqtrade_exec_ext.execution.decisions import Decision, DecisionError, Status

DECISIONS_TABLE = "exec_ext_decisions"
DECISIONS_SUFFIX = "-exec-decisions.jsonl"
COLUMNS: tuple[str, ...] = (
    "key",
    "strategy_id",
    "bot_id",
    "trade_id",
    "pair",
    "intent",
    "kind",
    "reason",
    "side",
    "is_short",
    "decided_at",
    "decision_price",
    "arrival_mid",
    "arrival_spread_bps",
    "target_amount",
    "filled_amount",
    "status",
    "ended_at",
    "end_mid",
    "order_ids",
    "runmode",
)


def decision_log_path(results_dir: str | Path, strategy_name: str) -> Path:
    """The backtest decision log beside ``<Strategy>-exec-ledger.jsonl``."""
    return Path(results_dir) / f"{strategy_name}{DECISIONS_SUFFIX}"


class DecisionSink(Protocol):
    def open_decision(self, record: Decision) -> int: ...

    def attach_order(self, decision_id: int, order_id: str) -> None: ...

    def set_trade(self, decision_id: int, trade_id: int | None) -> None: ...

    def close_decision(
        self,
        decision_id: int,
        status: Status,
        filled_amount: float,
        ended_at: datetime,
        end_mid: float | None,
    ) -> None: ...


def _table() -> Any:
    from sqlalchemy import (
        Boolean,
        Column,
        DateTime,
        Float,
        Integer,
        MetaData,
        String,
        Table,
        Text,
    )

    meta = MetaData()
    return Table(
        DECISIONS_TABLE,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("key", String(255), nullable=False, unique=True),
        Column("strategy_id", String(64), nullable=False),
        Column("bot_id", String(128), nullable=False),
        Column("trade_id", Integer, nullable=True, index=True),
        Column("pair", String(64), nullable=False),
        Column("intent", String(8), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("reason", String(255), nullable=True),
        Column("side", String(4), nullable=False),
        Column("is_short", Boolean, nullable=False),
        Column("decided_at", DateTime, nullable=False),
        Column("decision_price", Float, nullable=False),
        Column("arrival_mid", Float, nullable=True),
        Column("arrival_spread_bps", Float, nullable=True),
        Column("target_amount", Float, nullable=False),
        Column("filled_amount", Float, nullable=False),
        Column("status", String(16), nullable=False),
        Column("ended_at", DateTime, nullable=True),
        Column("end_mid", Float, nullable=True),
        Column("order_ids", Text, nullable=False),
        Column("runmode", String(16), nullable=False),
    )


def _naive(dt: datetime | None) -> datetime | None:
    return dt.astimezone(UTC).replace(tzinfo=None) if dt is not None else None


def _aware(dt: Any) -> datetime | None:
    if dt is None:
        return None
    out: datetime = datetime.fromisoformat(dt) if isinstance(dt, str) else dt
    return out.replace(tzinfo=UTC) if out.tzinfo is None else out.astimezone(UTC)


def _row(record: Decision) -> dict[str, Any]:
    d = record.to_dict()
    d["decided_at"] = _naive(record.decided_at)
    d["ended_at"] = _naive(record.ended_at)
    d["order_ids"] = json.dumps(list(record.order_ids))
    return d


def _record(row: Any) -> Decision:
    m = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    m.pop("id", None)
    m["decided_at"] = _aware(m["decided_at"])
    m["ended_at"] = _aware(m.get("ended_at"))
    ids = m.get("order_ids") or "[]"
    m["order_ids"] = tuple(json.loads(ids) if isinstance(ids, str) else ids)
    m["is_short"] = bool(m["is_short"])
    return Decision.from_dict(m)


class DecisionStore:
    """``exec_ext_decisions`` in a SQLAlchemy database (the bot's own, in trade/dry-run)."""

    def __init__(self, bind: Any) -> None:
        if isinstance(bind, str):
            from sqlalchemy import create_engine

            bind = create_engine(bind, future=True)
        self.engine = bind
        self.table = _table()
        self._ready = False
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                self.table.metadata.create_all(self.engine, tables=[self.table], checkfirst=True)
                self._ready = True

    def open_decision(self, record: Decision) -> int:
        from sqlalchemy import select
        from sqlalchemy.exc import IntegrityError

        self._ensure()
        t = self.table
        try:
            with self.engine.begin() as conn:
                return int(conn.execute(t.insert().values(**_row(record))).inserted_primary_key[0])
        except IntegrityError:  # the same key again (a restart): its existing id
            with self.engine.connect() as conn:
                found = conn.execute(select(t.c.id).where(t.c.key == record.key)).scalar()
            if found is None:
                raise
            return int(found)

    def attach_order(self, decision_id: int, order_id: str) -> None:
        from sqlalchemy import select

        self._ensure()
        t = self.table
        with self.engine.begin() as conn:
            raw = conn.execute(
                select(t.c.order_ids).where(t.c.id == decision_id).with_for_update()
            ).scalar()
            if raw is None:
                raise DecisionError(f"decision {decision_id}: no such decision")
            ids = json.loads(raw)
            if str(order_id) not in ids:
                ids.append(str(order_id))
                conn.execute(
                    t.update().where(t.c.id == decision_id).values(order_ids=json.dumps(ids))
                )

    def set_trade(self, decision_id: int, trade_id: int | None) -> None:
        self._ensure()
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == decision_id).values(trade_id=trade_id))

    def close_decision(
        self,
        decision_id: int,
        status: Status,
        filled_amount: float,
        ended_at: datetime,
        end_mid: float | None,
    ) -> None:
        current = self.get(decision_id)
        closed = current.closed(status, filled_amount, ended_at, end_mid)  # validates
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.id == decision_id)
                .values(
                    status=closed.status,
                    filled_amount=closed.filled_amount,
                    ended_at=_naive(closed.ended_at),
                    end_mid=closed.end_mid,
                )
            )

    def get(self, decision_id: int) -> Decision:
        from sqlalchemy import select

        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(select(self.table).where(self.table.c.id == decision_id)).first()
        if row is None:
            raise DecisionError(f"decision {decision_id}: no such decision")
        return _record(row)

    def read(self, *, bot_id: str | None = None, trade_id: int | None = None) -> list[Decision]:
        from sqlalchemy import select

        self._ensure()
        t = self.table
        q = select(t).order_by(t.c.id)
        if bot_id is not None:
            q = q.where(t.c.bot_id == bot_id)
        if trade_id is not None:
            q = q.where(t.c.trade_id == trade_id)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(q)]


def read_rows(conn: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every row of ``exec_ext_decisions`` as (column names, tuples) through an open
    SQLAlchemy connection, for bulk readers (the report); ids included."""
    from sqlalchemy import select

    t = _table()
    result = conn.execute(select(t).order_by(t.c.id))
    return list(result.keys()), [tuple(r) for r in result]


class DecisionLog:
    """The backtest form: events appended to a JSON-lines file (truncated when opened)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fh: IO[str] = self.path.open("w", encoding="utf-8")
        self._next = 0
        self._open: dict[int, Decision] = {}

    def _write(self, event: dict[str, Any]) -> None:
        self._fh.write(json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n")
        self._fh.flush()

    def open_decision(self, record: Decision) -> int:
        self._next += 1
        self._open[self._next] = record
        self._write({"op": "open", "id": self._next, "record": record.to_dict()})
        return self._next

    def attach_order(self, decision_id: int, order_id: str) -> None:
        if decision_id not in self._open:
            raise DecisionError(f"decision {decision_id}: no such open decision")
        self._write({"op": "order", "id": decision_id, "order_id": str(order_id)})

    def set_trade(self, decision_id: int, trade_id: int | None) -> None:
        if decision_id not in self._open:
            raise DecisionError(f"decision {decision_id}: no such open decision")
        self._open[decision_id] = replace(self._open[decision_id], trade_id=trade_id)
        self._write({"op": "trade", "id": decision_id, "trade_id": trade_id})

    def close_decision(
        self,
        decision_id: int,
        status: Status,
        filled_amount: float,
        ended_at: datetime,
        end_mid: float | None,
    ) -> None:
        record = self._open.pop(decision_id, None)
        if record is None:
            raise DecisionError(f"decision {decision_id}: no such open decision")
        record.closed(status, filled_amount, ended_at, end_mid)  # validates
        self._write(
            {
                "op": "close",
                "id": decision_id,
                "status": status,
                "filled_amount": filled_amount,
                "ended_at": ended_at.isoformat(),
                "end_mid": end_mid,
            }
        )

    def close(self) -> None:
        self._fh.close()


def read_decision_log(path: str | Path) -> tuple[list[Decision], list[str]]:
    """Fold a decision log into records.  Returns (records, problems): a line that is not
    a valid event is skipped and named in ``problems`` (``<file> line N: why``)."""
    records: dict[int, Decision] = {}
    problems: list[str] = []
    for n, event in _events(Path(path), problems):
        try:
            _apply(records, event)
        except (DecisionError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"{Path(path).name} line {n}: {exc}")
    return [records[k] for k in sorted(records)], problems


def _events(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                problems.append(f"{path.name} line {n}: not valid JSON")
                continue
            if not isinstance(event, dict):
                problems.append(f"{path.name} line {n}: not a JSON object")
                continue
            yield n, event


def _apply(records: dict[int, Decision], event: dict[str, Any]) -> None:
    op, did = event.get("op"), int(event["id"])
    if op == "open":
        records[did] = Decision.from_dict(event["record"])
    elif op == "order":
        records[did] = records[did].with_order(str(event["order_id"]))
    elif op == "trade":
        tid = event["trade_id"]
        records[did] = replace(records[did], trade_id=None if tid is None else int(tid))
    elif op == "close":
        ended = _aware(event["ended_at"])
        if ended is None:
            raise DecisionError("ended_at: required to close a decision")
        records[did] = records[did].closed(
            event["status"], float(event["filled_amount"]), ended, event.get("end_mid")
        )
    else:
        raise DecisionError(f"op: must be open, order, trade or close, got {op!r}")
