"""Run sessions: what a bot records about its own runs, in its own database.

The stage gates (``freqtrade-exec deploy``) read them as the evidence that a stage really
ran: on which exchange host, in dry-run or not, under which contract, and for how long.

Table ``exec_ext_run_sessions`` (SQLAlchemy Core), created on first use in the bot's
database beside Freqtrade's tables.  A **session** is one stretch of continuous heartbeats
of one bot process.  When a heartbeat comes more than :data:`GAP_BREAK` after the one
before (the process was frozen, the machine slept), the session ends at its last heartbeat
(``ended = 'gap'``) and a new session with the same identity begins (``previous_id``
points back), so every gap longer than :data:`GAP_BREAK` is visible in the table.

API (the strategy mixin calls it from ``bot_start`` / ``bot_loop_start``; every time is
an aware UTC ``datetime`` passed by the caller, this module never reads a clock)::

    from freqtrade_exec_ext.store.sessions import SessionInfo, SessionRecorder, endpoint_of

    recorder = SessionRecorder(engine)          # Freqtrade's engine; creates the table
    hosts, simulated = endpoint_of(ccxt_client)  # the REST hosts the bot trades with
    session_id = recorder.start(
        SessionInfo(
            strategy_id="STR-001", stage="testnet",      # config exec_ext.stage ("" if none)
            exchange="binance", api_host=hosts, simulated=simulated,
            dry_run=False,
            contract_sha256=contract.fingerprint(),       # RiskContract.fingerprint()
            config_sha256=sha256_of_config_file_bytes,    # the file, not the merged config
            bot_name=config["bot_name"], strategy="STR001",
        ),
        now,
    )
    recorder.heartbeat(now)   # every bot loop: writes at most once a minute; -> bool written
    recorder.stop(now)        # at shutdown (a crash leaves stopped_at empty: that is fine)

    read_sessions(connection) -> list[RunSession] | None   # None: no table (never recorded)

``config_sha256`` is the sha256 of the config file(s) as written on disk, never of the
merged configuration (which holds secrets from the environment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Column,
    DateTime,
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

from freqtrade_exec_ext.timeutil import as_utc, naive_utc

TABLE = "exec_ext_run_sessions"
#: a heartbeat is written at most this often
HEARTBEAT_EVERY = timedelta(seconds=60)
#: a longer silence between two heartbeats ends the session at its last heartbeat
GAP_BREAK = timedelta(minutes=5)
STAGES = ("testnet", "paper", "live", "")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

_meta = MetaData()
sessions_table = Table(
    TABLE,
    _meta,
    Column("id", Integer, primary_key=True),
    Column("previous_id", Integer, nullable=True),
    Column("strategy_id", String(64), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("exchange", String(64), nullable=False),
    Column("api_host", Text, nullable=False),
    Column("simulated", Integer, nullable=False),
    Column("dry_run", Integer, nullable=False),
    Column("contract_sha256", String(64), nullable=False),
    Column("config_sha256", String(64), nullable=False),
    Column("bot_name", String(255), nullable=False),
    Column("strategy", String(255), nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("last_heartbeat_at", DateTime, nullable=False),
    Column("stopped_at", DateTime, nullable=True),
    Column("heartbeats", Integer, nullable=False),
    Column("ended", String(8), nullable=True),  # 'stop' | 'gap' | NULL (running or crashed)
)


@dataclass(frozen=True)
class SessionInfo:
    """Who runs, where and under which contract (fixed for the life of a process)."""

    strategy_id: str
    stage: str  # testnet | paper | live | "" (a config without exec_ext.stage)
    exchange: str  # ccxt exchange id
    api_host: str  # REST hosts of the client, comma-separated (see endpoint_of)
    simulated: bool  # the exchange's demo mode is on (e.g. OKX x-simulated-trading: 1)
    dry_run: bool
    contract_sha256: str
    config_sha256: str
    bot_name: str
    strategy: str  # the strategy class

    def check(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"session stage {self.stage!r}: allowed {STAGES}")
        for name in ("contract_sha256", "config_sha256"):
            if not _SHA256.match(getattr(self, name)):
                raise ValueError(f"session {name}: 64 lower-case hex digits expected")
        if not self.strategy_id or not self.exchange or not self.strategy:
            raise ValueError("session: strategy_id, exchange and strategy are required")


@dataclass(frozen=True)
class RunSession(SessionInfo):
    """A recorded session (times aware UTC)."""

    id: int
    previous_id: int | None
    started_at: datetime
    last_heartbeat_at: datetime
    stopped_at: datetime | None
    heartbeats: int
    ended: str | None

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(h for h in self.api_host.split(",") if h)


_naive = naive_utc
_aware = as_utc


class SessionRecorder:
    """Records one bot process's sessions (call from one thread)."""

    def __init__(self, engine: Engine) -> None:
        _meta.create_all(engine, tables=[sessions_table])
        self._engine = engine
        self._info: SessionInfo | None = None
        self._id: int | None = None
        self._last_beat: datetime | None = None  # naive UTC, as stored
        self._stopped = False

    @property
    def session_id(self) -> int | None:
        """The current session (a heartbeat gap starts a new one)."""
        return self._id

    def start(self, info: SessionInfo, now: datetime) -> int:
        info.check()
        self._info, self._stopped = info, False
        self._id = self._insert(_naive(now), previous=None)
        return self._id

    def _insert(self, at: datetime, previous: int | None) -> int:
        assert self._info is not None
        values: dict[str, Any] = {f.name: getattr(self._info, f.name) for f in fields(SessionInfo)}
        values.update(simulated=int(self._info.simulated), dry_run=int(self._info.dry_run))
        with self._engine.begin() as conn:
            result = conn.execute(
                insert(sessions_table).values(
                    **values,
                    previous_id=previous,
                    started_at=at,
                    last_heartbeat_at=at,
                    heartbeats=1,
                )
            )
            key = result.inserted_primary_key
            assert key is not None  # an INSERT into a table with a primary key
            new_id = int(key[0])
        self._last_beat = at
        return new_id

    def heartbeat(self, now: datetime) -> bool:
        """Record that the bot is alive; True when a row was written (at most once a minute)."""
        if self._id is None or self._stopped or self._last_beat is None:
            return False
        at = _naive(now)
        since = at - self._last_beat
        if since < HEARTBEAT_EVERY:  # also a clock that stepped back
            return False
        if since > GAP_BREAK:
            self._end(ended="gap", stopped=None)
            self._id = self._insert(at, previous=self._id)
            return True
        with self._engine.begin() as conn:
            conn.execute(
                update(sessions_table)
                .where(sessions_table.c.id == self._id)
                .values(last_heartbeat_at=at, heartbeats=sessions_table.c.heartbeats + 1)
            )
        self._last_beat = at
        return True

    def stop(self, now: datetime) -> None:
        """The bot stops: the session ends now (or at its last heartbeat after a gap)."""
        if self._id is None or self._stopped or self._last_beat is None:
            return
        at = _naive(now)
        at = max(at, self._last_beat)
        if at - self._last_beat <= GAP_BREAK:
            with self._engine.begin() as conn:
                conn.execute(
                    update(sessions_table)
                    .where(sessions_table.c.id == self._id)
                    .values(last_heartbeat_at=at)
                )
            self._last_beat = at
        self._end(ended="stop", stopped=at)
        self._stopped = True

    def _end(self, *, ended: str, stopped: datetime | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(sessions_table)
                .where(sessions_table.c.id == self._id)
                .values(ended=ended, stopped_at=stopped)
            )


def read_sessions(conn: Connection) -> list[RunSession] | None:
    """Every recorded session, oldest first; None when the table does not exist."""
    if TABLE not in inspect(conn).get_table_names():
        return None
    rows = conn.execute(select(sessions_table).order_by(sessions_table.c.started_at)).mappings()
    out = []
    for r in rows:
        data = dict(r)
        data["simulated"] = bool(data["simulated"])
        data["dry_run"] = bool(data["dry_run"])
        for key in ("started_at", "last_heartbeat_at", "stopped_at"):
            data[key] = _aware(data[key])
        out.append(RunSession(**data))
    return out


def _host(url: str, hostname: str) -> str | None:
    if "://" not in url:
        return None
    parts = urlsplit(url.replace("{hostname}", hostname))
    if not parts.hostname:
        return None
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{name}:{parts.port}" if parts.port else name


def endpoint_of(client: Any) -> tuple[str, bool]:
    """(REST hosts of a ccxt client, comma-separated and sorted; demo mode on).

    Reads ``client.urls['api']`` (expanding ``{hostname}``), ``client.headers``,
    ``client.options`` and ``client.isSandboxModeEnabled``; no request is made.
    """
    hostname = str(getattr(client, "hostname", "") or "")
    hosts: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, str):
            host = _host(node, hostname)
            if host:
                hosts.add(host)

    walk((getattr(client, "urls", None) or {}).get("api", {}))
    headers = {str(k).lower(): str(v) for k, v in (getattr(client, "headers", None) or {}).items()}
    options = getattr(client, "options", None) or {}
    simulated = (
        headers.get("x-simulated-trading") == "1"
        or bool(options.get("enableDemoTrading"))
        or bool(getattr(client, "isSandboxModeEnabled", False))
    )
    return ",".join(sorted(hosts)), simulated
