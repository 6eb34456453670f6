"""The order journal: every order placement, written before it is sent.

One row per placement in Freqtrade's own database (table ``exec_ext_order_intents``, created
beside Freqtrade's tables), keyed by the client order id the order is sent with.  It is what
makes a crash or an unanswered request recoverable: an order the exchange may hold but
Freqtrade never recorded is found by its client order id, and then cancelled or handed to
Freqtrade (see ``order_guard.py``).

Statuses::

    sending   -> written, the request is on its way (left behind only by a crash)
    accepted  -> the exchange answered with an order id (``recovered``: found by lookup)
    tracked   -> that order id is in Freqtrade's orders table: nothing more to do
    unknown   -> the answer was ambiguous and no lookup could settle it yet
    rejected  -> no order exists (refused, or given up before one was created)
    absent    -> a later lookup showed the order never existed
    cancelled -> an order Freqtrade did not know, cancelled before anything filled
    adopted   -> an order Freqtrade did not know, with fills, handed to Freqtrade

SQLAlchemy only (no Freqtrade objects): the journal runs on any engine, the tests use an
in-memory SQLite database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Float, Integer, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

TABLE = "exec_ext_order_intents"
PENDING = ("sending", "accepted", "unknown")
UNSETTLED = ("sending", "unknown")  # the order may exist and its id is not known
STATUSES = (
    "sending",
    "accepted",
    "tracked",
    "unknown",
    "rejected",
    "absent",
    "cancelled",
    "adopted",
)


class _Base(DeclarativeBase):
    pass


class OrderIntent(_Base):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    strategy_id: Mapped[str] = mapped_column(String(64))
    pair: Mapped[str] = mapped_column(String(64), index=True)
    side: Mapped[str] = mapped_column(String(8))  # buy | sell
    intent: Mapped[str] = mapped_column(String(16))  # entry | exit | stoploss
    order_type: Mapped[str] = mapped_column(String(32))
    amount: Mapped[float] = mapped_column(Float)
    price: Mapped[float | None] = mapped_column(Float, nullable=True)
    conditional: Mapped[int] = mapped_column(Integer, default=0)  # a trigger (algo) order
    enter_tag: Mapped[str | None] = mapped_column(String(255), nullable=True)
    leverage: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(String(16), index=True)
    order_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class Intent:
    """A journal row as plain data."""

    client_order_id: str
    strategy_id: str
    pair: str
    side: str
    intent: str
    order_type: str
    amount: float
    price: float | None
    conditional: bool
    enter_tag: str | None
    leverage: float
    status: str
    order_id: str | None
    detail: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: OrderIntent) -> Intent:
        return cls(
            client_order_id=row.client_order_id,
            strategy_id=row.strategy_id,
            pair=row.pair,
            side=row.side,
            intent=row.intent,
            order_type=row.order_type,
            amount=row.amount,
            price=row.price,
            conditional=bool(row.conditional),
            enter_tag=row.enter_tag,
            leverage=row.leverage,
            status=row.status,
            order_id=row.order_id,
            detail=row.detail,
            created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
        )


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


class OrderJournal:
    """Placements of one strategy in one database (thread-safe: a session per call)."""

    def __init__(
        self,
        engine: Engine,
        strategy_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        _Base.metadata.create_all(engine, tables=[OrderIntent.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.strategy_id = strategy_id
        self._clock = clock

    def _now(self) -> datetime:
        return _naive(self._clock())

    # ------------------------------------------------------------ writing
    def record(
        self,
        cid: str,
        *,
        pair: str,
        side: str,
        intent: str,
        order_type: str,
        amount: float,
        price: float | None,
        conditional: bool = False,
        enter_tag: str | None = None,
        leverage: float = 1.0,
    ) -> None:
        """Write a placement before its first request (status ``sending``)."""
        now = self._now()
        with self._sessions.begin() as s:
            row = s.scalars(select(OrderIntent).filter_by(client_order_id=cid)).first()
            if row is None:
                s.add(
                    OrderIntent(
                        client_order_id=cid,
                        strategy_id=self.strategy_id,
                        pair=pair,
                        side=side,
                        intent=intent,
                        order_type=order_type,
                        amount=float(amount),
                        price=None if price is None else float(price),
                        conditional=int(conditional),
                        enter_tag=enter_tag,
                        leverage=float(leverage),
                        status="sending",
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                )

    def mark(
        self,
        cid: str,
        status: str,
        *,
        order_id: str | None = None,
        detail: str | None = None,
        attempt: bool = False,
    ) -> None:
        if status not in STATUSES:
            raise ValueError(f"journal status {status!r}: allowed {', '.join(STATUSES)}")
        with self._sessions.begin() as s:
            row = s.scalars(select(OrderIntent).filter_by(client_order_id=cid)).first()
            if row is None:
                raise KeyError(f"journal: no placement with client order id {cid}")
            row.status = status
            if order_id:
                row.order_id = order_id
            if detail is not None:
                row.detail = detail[:2000]
            if attempt:
                row.attempts += 1
            row.updated_at = self._now()

    # the placement.Journal protocol
    def sending(self, cid: str) -> None:
        self.mark(cid, "sending", attempt=True)

    def accepted(self, cid: str, order_id: str, *, recovered: bool = False) -> None:
        detail = "found by client order id after an unknown answer" if recovered else None
        self.mark(cid, "accepted", order_id=order_id, detail=detail)

    def rejected(self, cid: str, reason: str) -> None:
        self.mark(cid, "rejected", detail=reason)

    def unknown(self, cid: str, reason: str) -> None:
        self.mark(cid, "unknown", detail=reason)

    # ------------------------------------------------------------ reading
    def get(self, cid: str) -> Intent | None:
        with self._sessions() as s:
            row = s.scalars(select(OrderIntent).filter_by(client_order_id=cid)).first()
            return Intent.of(row) if row is not None else None

    def pending(self, pair: str | None = None, statuses: Iterable[str] = PENDING) -> list[Intent]:
        """This strategy's placements that may still hold an order Freqtrade does not know."""
        with self._sessions() as s:
            q = select(OrderIntent).filter(
                OrderIntent.strategy_id == self.strategy_id,
                OrderIntent.status.in_(list(statuses)),
            )
            if pair is not None:
                q = q.filter(OrderIntent.pair == pair)
            return [Intent.of(r) for r in s.scalars(q.order_by(OrderIntent.id))]

    def all(self) -> list[Intent]:
        with self._sessions() as s:
            q = select(OrderIntent).filter(OrderIntent.strategy_id == self.strategy_id)
            return [Intent.of(r) for r in s.scalars(q.order_by(OrderIntent.id))]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for it in self.all():
            out[it.status] = out.get(it.status, 0) + 1
        return out


def intent_of(side: str, params: dict[str, Any], *, spot: bool) -> str:
    """Entry, exit or stop-loss, from what an order request carries.

    Freqtrade sends stop-losses with a trigger price, futures exits as reduce-only, and
    spot is long-only (a sell closes).
    """
    if any(params.get(k) for k in ("stopPrice", "triggerPrice", "stopLossPrice")):
        return "stoploss"
    if params.get("reduceOnly") or (spot and side == "sell"):
        return "exit"
    return "entry"
