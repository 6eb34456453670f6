"""The kill switch's state and its transitions, in the bot's own database (SQLAlchemy Core).

Tables (created on first use beside Freqtrade's):

``exec_ext_kill_switch``: one row per strategy, the current :class:`State`: ``level``
(NORMAL, REDUCING, FLATTEN, HALTED), ``since``, ``reason`` (a ``KS_*`` code),
``detail``, and the baselines (``peak_equity``, ``day``, ``day_open_equity``,
``error_loops``, ``flatten_loops``).  A bot that starts reads it: HALTED stays HALTED.

``exec_ext_kill_switch_events``: every transition, oldest first: ``id``,
``strategy_id``, ``at`` (UTC), ``old_level``, ``new_level``, ``reason``, ``detail``,
``actor`` (``bot:<bot name>`` or ``person:<name>`` for ``freqtrade-exec resume``).
``freqtrade-exec report`` and anyone with SQL read it.

Times are aware UTC datetimes passed by the caller (stored naive UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from freqtrade_exec_ext.execution.killswitch import Level, State, Transition

STATE_TABLE = "exec_ext_kill_switch"
EVENTS_TABLE = "exec_ext_kill_switch_events"

_meta = MetaData()
state_table = Table(
    STATE_TABLE,
    _meta,
    Column("strategy_id", String(64), primary_key=True),
    Column("level", String(16), nullable=False),
    Column("since", DateTime, nullable=True),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("peak_equity", Float, nullable=True),
    Column("day", Date, nullable=True),
    Column("day_open_equity", Float, nullable=True),
    Column("error_loops", Integer, nullable=False),
    Column("flatten_loops", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("revision", Integer, nullable=False),
)
events_table = Table(
    EVENTS_TABLE,
    _meta,
    Column("id", Integer, primary_key=True),
    Column("strategy_id", String(64), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("old_level", String(16), nullable=False),
    Column("new_level", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("actor", String(255), nullable=False),
)


def _naive(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("kill switch times must be aware (UTC) datetimes")
    return when.astimezone(UTC).replace(tzinfo=None)


def _aware(when: datetime | None) -> datetime | None:
    return None if when is None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Event:
    id: int
    strategy_id: str
    at: datetime
    old_level: str
    new_level: str
    reason: str
    detail: str
    actor: str


class KillSwitchStore:
    """One database's kill switch rows (every strategy in it)."""

    def __init__(self, engine: Engine) -> None:
        _meta.create_all(engine, tables=[state_table, events_table])
        self.engine = engine

    def load(self, strategy_id: str) -> tuple[State, int]:
        """The stored state (NORMAL when the strategy has none yet) and its revision
        (0: no row), which :meth:`save` compares before it writes."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(state_table).where(state_table.c.strategy_id == strategy_id)
            ).first()
        if row is None:
            return State(), 0
        r = row._mapping
        day = r["day"]
        state = State(
            level=Level[r["level"]],
            since=_aware(r["since"]),
            reason=r["reason"],
            detail=r["detail"],
            peak_equity=r["peak_equity"],
            day=day if isinstance(day, date) else None,
            day_open_equity=r["day_open_equity"],
            error_loops=int(r["error_loops"]),
            flatten_loops=int(r["flatten_loops"]),
        )
        return state, int(r["revision"])

    def save(
        self,
        strategy_id: str,
        state: State,
        now: datetime,
        transition: Transition | None = None,
        *,
        actor: str = "bot",
        revision: int | None = None,
    ) -> int | None:
        """Write the state (and the transition, in the same transaction).

        ``revision``: the one :meth:`load` returned; when the row changed since (a person
        resumed meanwhile) nothing is written and None is returned.  The new revision
        otherwise."""
        values = {
            "level": state.level.name,
            "since": _naive(state.since) if state.since else None,
            "reason": state.reason,
            "detail": state.detail,
            "peak_equity": state.peak_equity,
            "day": state.day,
            "day_open_equity": state.day_open_equity,
            "error_loops": state.error_loops,
            "flatten_loops": state.flatten_loops,
            "updated_at": _naive(now),
        }
        with self.engine.begin() as conn:
            row = conn.execute(
                select(state_table.c.revision).where(state_table.c.strategy_id == strategy_id)
            ).first()
            current = int(row[0]) if row is not None else 0
            if revision is not None and revision != current:
                return None
            if row is None:
                conn.execute(
                    insert(state_table).values(strategy_id=strategy_id, revision=1, **values)
                )
            else:
                conn.execute(
                    update(state_table)
                    .where(
                        state_table.c.strategy_id == strategy_id, state_table.c.revision == current
                    )
                    .values(revision=current + 1, **values)
                )
            if transition is not None:
                conn.execute(
                    insert(events_table).values(
                        strategy_id=strategy_id,
                        at=_naive(transition.at),
                        old_level=transition.old.name,
                        new_level=transition.new.name,
                        reason=transition.reason,
                        detail=transition.detail,
                        actor=actor,
                    )
                )
        return current + 1


def read_events(conn: Connection, strategy_id: str | None = None) -> list[Event] | None:
    """Every transition, oldest first; None when the table does not exist."""
    if EVENTS_TABLE not in inspect(conn).get_table_names():
        return None
    q = select(events_table).order_by(events_table.c.at, events_table.c.id)
    if strategy_id is not None:
        q = q.where(events_table.c.strategy_id == strategy_id)
    out = []
    for r in conn.execute(q).mappings():
        data = dict(r)
        data["at"] = _aware(data["at"])
        out.append(Event(**data))
    return out
