"""The numbers of a stage's evidence, and what every stage's rules compute (pure).

Coverage of heartbeats (:func:`coverage`), realised drawdown (:func:`drawdown`), the facts
of the qualifying sessions (:func:`count_sessions`) and the :class:`StageEvidence` built from
them, with its digest: sha256 over facts that do not change once written (session ids and
starts, filled order ids and fill times, rejected orders, ledger breaches, closed trades
and their profit), so that the same database read *as of* a time gives the same digest
while the bot keeps running.  The rules themselves: :mod:`.evidence_rules`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from freqtrade_exec_ext.deploy.evidence import OrderFact, StageDb, ledger_value
from freqtrade_exec_ext.store.sessions import GAP_BREAK, TABLE, RunSession

FAILED_CHECKS_DOC = (
    "failed checks = orders the exchange rejected + fills over the contract's slippage "
    "budget (ledger over_budget) + unreadable ledger records"
)
#: paper: a longer silence between heartbeats breaks the covered stretch
MAX_GAP = timedelta(hours=1)
#: an order counts for a session placed up to this long around its heartbeats
ORDER_SLACK = GAP_BREAK
LOOPBACK = ("127.0.0.1", "localhost", "::1")
NO_SESSIONS = (
    f"no run sessions recorded (table {TABLE} missing): a bot of this package records them "
    "itself while it runs the generated config; a database made any other way is not evidence"
)


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat().replace("+00:00", "Z")


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def span(delta: timedelta) -> str:
    """``3.0 days``, ``26.5 h``: hours under two days."""
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h"


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime

    def describe(self) -> str:
        return f"{iso(self.start)} to {iso(self.end)} ({span(self.end - self.start)})"


@dataclass(frozen=True)
class Stretch:
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400.0


def coverage(
    intervals: Iterable[tuple[datetime, datetime]], max_gap: timedelta = MAX_GAP
) -> tuple[Stretch | None, list[Gap]]:
    """The longest stretch covered with no silence over ``max_gap``, and every such gap."""
    spans = sorted(intervals)
    if not spans:
        return None, []
    gaps: list[Gap] = []
    best: Stretch | None = None
    start, end = spans[0]
    for nxt_start, nxt_end in spans[1:]:
        if nxt_start - end > max_gap:
            gaps.append(Gap(end, nxt_start))
            best = _longer(best, Stretch(start, end))
            start = nxt_start
        end = max(end, nxt_end)
    return _longer(best, Stretch(start, end)), gaps


def _longer(a: Stretch | None, b: Stretch) -> Stretch:
    return b if a is None or b.days > a.days else a


def drawdown(trades: Iterable[tuple[datetime, float]], capital: float) -> float:
    """Largest fall of realised equity from its peak, as a fraction of the peak."""
    equity = peak = capital
    worst = 0.0
    for _, profit in sorted(trades):
        equity += profit
        peak = max(peak, equity)
        if peak > 0:
            worst = max(worst, (peak - equity) / peak)
    return worst


@dataclass(frozen=True)
class StageEvidence:
    """The numbers a stage's evidence stands on (shown, and kept in manifest.json)."""

    source: str
    sessions: int
    filled_orders: int
    rejected_orders: int
    over_budget_fills: int
    unreadable_records: int
    ledger_records: int
    trades: int
    closed_trades: int
    stoploss_orders: int
    journal_matched: int
    stretch_start: str | None
    stretch_end: str | None
    gaps: tuple[str, ...]
    drawdown: float | None
    digest: str
    as_of: str | None = None

    @property
    def failed_checks(self) -> int:
        return self.rejected_orders + self.over_budget_fills + self.unreadable_records

    @property
    def days(self) -> float:
        if not self.stretch_start or not self.stretch_end:
            return 0.0
        first = datetime.fromisoformat(self.stretch_start)
        last = datetime.fromisoformat(self.stretch_end)
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
            f"{plural(self.sessions, 'session')}, {plural(self.filled_orders, 'filled order')}, "
            f"{plural(self.closed_trades, 'closed trade')}, "
            f"{plural(self.failed_checks, 'failed check')} ({self.failed_detail()})"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["gaps"] = list(self.gaps)
        out["failed_checks"] = self.failed_checks
        out["days"] = round(self.days, 2)
        return out


@dataclass
class Verdict:
    evidence: StageEvidence | None = None
    problems: list[str] = field(default_factory=list)  # the stage is refused
    breaches: list[str] = field(default_factory=list)  # paper: need a human's acceptance


@dataclass(frozen=True)
class SandboxHosts:
    """Where testnet sessions may have traded (from deploy.testnets; loopback always)."""

    name: str
    hosts: frozenset[str]
    needs_simulated: bool  # the host is production's too: the demo header must be on


def _hostname(host: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> the host name."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def on_test_environment(s: RunSession, env: SandboxHosts) -> bool:
    names = {_hostname(h) for h in s.hosts}
    if not names:
        return False
    remote = names - set(LOOPBACK)
    if not remote:
        return True  # the project's local exchange
    return remote <= env.hosts and (s.simulated or not env.needs_simulated)


def ledger_counts(db: StageDb) -> tuple[list[str], int]:
    """(ledger keys over budget, unreadable records)."""
    from freqtrade_exec_ext.execution.ledger import FillRecord

    over: list[str] = []
    unreadable = 0
    for rec in db.ledger:
        data = ledger_value(rec.value)
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            record = FillRecord.from_dict(data)
        except (ValueError, TypeError):
            unreadable += 1
            continue
        if record.over_budget is True:
            over.append(rec.key)
        elif record.over_budget is not False:
            unreadable += 1
    return over, unreadable


def within(order: OrderFact, sessions: Sequence[RunSession]) -> bool:
    when = order.placed_at
    return when is not None and any(
        s.started_at - ORDER_SLACK <= when <= s.last_heartbeat_at + ORDER_SLACK for s in sessions
    )


def _digest(payload: dict[str, Any]) -> str:
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Counted:
    """The facts of the qualifying sessions."""

    sessions: tuple[RunSession, ...]
    orders: tuple[OrderFact, ...]
    closed: tuple[tuple[int, datetime, float], ...]  # trade id, close date, profit


def count_sessions(db: StageDb, sessions: Sequence[RunSession]) -> Counted:
    orders = tuple(o for o in db.orders if within(o, sessions))
    trade_ids = {o.trade_id for o in orders}
    closed = tuple(
        (t.id, t.close_date, t.profit_abs or 0.0)
        for t in db.trades
        if t.id in trade_ids and not t.is_open and t.close_date is not None
    )
    return Counted(tuple(sessions), orders, closed)


def build_evidence(db: StageDb, c: Counted, *, contract: str, dd: float | None,
              as_of: datetime | None) -> StageEvidence:  # fmt: skip
    over, unreadable = ledger_counts(db)
    rejected = sorted(o.order_id for o in db.orders if o.status == "rejected")
    filled = [o for o in c.orders if o.filled > 0]
    stretch, gaps = coverage((s.started_at, s.last_heartbeat_at) for s in c.sessions)
    stops = [o for o in c.orders if o.ft_side == "stoploss" and not o.simulated]
    journal_ids = {j.order_id for j in db.journal or () if j.order_id}
    payload = {
        "contract_sha256": contract,
        "sessions": sorted((s.id, iso(s.started_at)) for s in c.sessions),
        "filled": sorted((o.order_id, iso(o.filled_at)) for o in filled),
        "rejected": rejected,
        "over_budget": sorted(over),
        "unreadable": unreadable,
        "closed": sorted((tid, iso(when), round(p, 8)) for tid, when, p in c.closed),
    }
    return StageEvidence(
        source=db.source,
        sessions=len(c.sessions),
        filled_orders=len(filled),
        rejected_orders=len(rejected),
        over_budget_fills=len(over),
        unreadable_records=unreadable,
        ledger_records=len(db.ledger),
        trades=len({o.trade_id for o in c.orders}),
        closed_trades=len(c.closed),
        stoploss_orders=len(stops),
        journal_matched=sum(1 for o in c.orders if o.order_id in journal_ids),
        stretch_start=iso(stretch.start) if stretch else None,
        stretch_end=iso(stretch.end) if stretch else None,
        gaps=tuple(g.describe() for g in gaps if g.end - g.start > MAX_GAP),
        drawdown=dd,
        digest=_digest(payload),
        as_of=iso(as_of),
    )


def disagreements(db: StageDb, stage: str) -> list[str]:
    sessions = db.sessions or ()
    outside = [o for o in db.orders if not within(o, sessions)]
    if not outside:
        return []
    first = min((o.placed_at for o in outside if o.placed_at), default=None)
    when = f" (first at {iso(first)})" if first else ""
    line = (
        f"{stage} evidence: {db.source}: {plural(len(outside), 'order')} placed outside every "
        f"recorded run session{when}: the orders do not match the sessions"
    )
    return [line]
