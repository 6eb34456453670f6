"""One bot per database: the live bot's identity, claimed at start, kept by heartbeats.

Two bots pointed at one database URL both read and write the same trades and the same
order journal: each settles (cancels, adopts) the other's orders as untracked, and both
manage the same positions.  So a live bot claims the database at start (table
``exec_ext_bot_identity``, one row): host, process id, start time, the sha256 of its
config file(s), and a heartbeat it renews every bot loop.

* No identity, or our own: claimed.
* Another bot's, with a heartbeat younger than :data:`STALE_AFTER`: **refused**; the
  caller logs one line and places no order.
* Another bot's that is stale (heartbeat older than :data:`STALE_AFTER`), or that was a
  process on this host that no longer runs (a ``kill -9``'d bot being restarted), or this
  very process id on this host (a container restarted with the same pid): **taken over**,
  and the caller warns.  The dead bot, should it wake up, finds its heartbeat refused
  (:meth:`BotIdentities.heartbeat` returns False) and stops placing orders.

The claim is a compare-and-swap on the row (``UPDATE ... WHERE token = <the one read>``),
so two bots starting at once cannot both win.  SQLAlchemy only; the caller passes every
time (this module reads no clock).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Integer, String, delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

TABLE = "exec_ext_bot_identity"
#: a heartbeat older than this is a bot that is gone (a live bot renews it every loop)
STALE_AFTER = timedelta(seconds=120)
_ROW = 1  # one identity per database


class _Base(DeclarativeBase):
    pass


class _IdentityRow(_Base):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(255))
    config_sha256: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class BotIdentity:
    token: str
    host: str
    pid: int
    strategy: str
    config_sha256: str
    started_at: datetime
    heartbeat_at: datetime

    @classmethod
    def this_process(cls, strategy: str, config_sha256: str, now: datetime) -> BotIdentity:
        return cls(
            token=secrets.token_hex(16),
            host=socket.gethostname(),
            pid=os.getpid(),
            strategy=strategy,
            config_sha256=config_sha256,
            started_at=now,
            heartbeat_at=now,
        )

    def describe(self, now: datetime) -> str:
        age = (now - self.heartbeat_at).total_seconds()
        return (
            f"{self.strategy} on {self.host} pid {self.pid}, started "
            f"{self.started_at:%Y-%m-%d %H:%M:%S} UTC, config sha256 {self.config_sha256[:12]}, "
            f"last heartbeat {age:.0f} s ago"
        )


@dataclass(frozen=True)
class Claim:
    ok: bool
    other: BotIdentity | None = None  # the identity found (refused by, or taken over from)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def is_gone(
    other: BotIdentity,
    now: datetime,
    me: BotIdentity,
    alive: Callable[[int], bool] = pid_alive,
) -> bool:
    """Whether ``other`` is a bot that no longer runs (pure but for ``alive``)."""
    if now - other.heartbeat_at > STALE_AFTER:
        return True
    if other.host != me.host:
        return False  # only its heartbeat can tell
    return other.pid == me.pid or not alive(other.pid)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


class BotIdentities:
    """The identity row of one database."""

    def __init__(self, engine: Engine, alive: Callable[[int], bool] = pid_alive) -> None:
        _Base.metadata.create_all(engine, tables=[_IdentityRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._alive = alive

    def current(self) -> BotIdentity | None:
        with self._sessions() as s:
            row = s.get(_IdentityRow, _ROW)
            return None if row is None else _identity(row)

    def claim(self, me: BotIdentity, now: datetime) -> Claim:
        """Claim the database for ``me`` (see the module docstring)."""
        me = replace(me, heartbeat_at=now)
        for _ in range(5):  # lost a race: read again
            found = self.current()
            if found is None:
                try:
                    with self._sessions.begin() as s:
                        s.add(_row(me))
                    return Claim(True)
                except IntegrityError:
                    continue
            if found.token != me.token and not is_gone(found, now, me, self._alive):
                return Claim(False, found)
            if self._swap(found.token, me):
                return Claim(True, None if found.token == me.token else found)
        return Claim(False, self.current())

    def heartbeat(self, token: str, now: datetime) -> bool:
        """Renew our heartbeat; False when the row is no longer ours (taken over)."""
        with self._sessions.begin() as s:
            res = s.execute(
                update(_IdentityRow)
                .where(_IdentityRow.id == _ROW, _IdentityRow.token == token)
                .values(heartbeat_at=_naive(now))
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    def release(self, token: str) -> None:
        """At a clean stop: the next bot need not wait for the heartbeat to go stale."""
        with self._sessions.begin() as s:
            s.execute(
                delete(_IdentityRow).where(_IdentityRow.id == _ROW, _IdentityRow.token == token)
            )

    def _swap(self, old_token: str, me: BotIdentity) -> bool:
        with self._sessions.begin() as s:
            res = s.execute(
                update(_IdentityRow)
                .where(_IdentityRow.id == _ROW, _IdentityRow.token == old_token)
                .values(
                    token=me.token,
                    host=me.host,
                    pid=me.pid,
                    strategy=me.strategy,
                    config_sha256=me.config_sha256,
                    started_at=_naive(me.started_at),
                    heartbeat_at=_naive(me.heartbeat_at),
                )
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]


def _row(me: BotIdentity) -> _IdentityRow:
    return _IdentityRow(
        id=_ROW,
        token=me.token,
        host=me.host[:255],
        pid=me.pid,
        strategy=me.strategy[:255],
        config_sha256=me.config_sha256[:64],
        started_at=_naive(me.started_at),
        heartbeat_at=_naive(me.heartbeat_at),
    )


def _identity(row: _IdentityRow) -> BotIdentity:
    return BotIdentity(
        token=row.token,
        host=row.host,
        pid=row.pid,
        strategy=row.strategy,
        config_sha256=row.config_sha256,
        started_at=_aware(row.started_at),
        heartbeat_at=_aware(row.heartbeat_at),
    )
