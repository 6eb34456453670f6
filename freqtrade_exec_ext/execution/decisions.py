"""Trading decisions and the implementation shortfall of their executions (pure).

A **decision** is the moment the strategy (or an operator, or the kill switch) decides to
change a position: an entry signal, an exit signal, a stop, ROI, a custom exit, a forced
exit, a kill-switch flatten, an emergency exit, a position adjustment, a liquidation.  It
opens an **execution** that owns every child order placed for it (placed, repriced,
cancelled, replaced by an emergency market order) until the position change is complete
or abandoned.  :class:`Decision` is that record; it is written by the strategy adapter
through :mod:`freqtrade_exec_ext.store.decisions` and read by the report.

Implementation shortfall (Perold) of one execution, for a decision to trade ``Q`` at the
decision price ``D`` (sign ``s`` = +1 buy, -1 sell), fills of ``q_i`` at ``p_i`` (total
``f = sum q_i`` at the average ``P``), the market mid ``A`` when the first order could go
out (arrival) and ``E`` when the execution ended, unfilled ``U = max(Q - f, 0)``::

    delay       = s * (A - D) * f          the market moved before the order could go out
    spread      = sum(spread_i * A * q_i)  half-spread paid by crossing fills (bps_i / 1e4)
    impact      = s * (P - A) * f - spread walking the book, adverse moves while resting,
                                           the chase of repriced/escalated child orders
    fees        = sum(fee_i)               stake currency
    funding     = -funding                 funding received is a gain (Freqtrade's sign)
    opportunity = s * (E - D) * U          what the unfilled part would have cost or saved
    total       = the sum of the parts = s * (P - D) * f + fees - funding + s * (E - D) * U

Without ``A`` the delay and spread are unknown and ``impact`` is the whole
``s * (P - D) * f``; without ``E`` the opportunity of an unfilled remainder is unknown
(``None``) and ``total`` is the sum of the known parts with ``complete = False``.  Costs
are positive when they lose money; bps are of the decision notional ``D * Q``.

Nothing here knows Freqtrade, a database, files or a clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import numpy as np

from freqtrade_exec_ext.errors import InputRefused

Intent = Literal["entry", "exit"]
Kind = Literal[
    "signal", "stop", "roi", "custom_exit", "forced", "kill", "emergency", "adjust", "liquidation"
]
Side = Literal["buy", "sell"]
Status = Literal["working", "complete", "partial", "cancelled"]

INTENTS: tuple[str, ...] = get_args(Intent)
KINDS: tuple[str, ...] = get_args(Kind)
SIDES: tuple[str, ...] = get_args(Side)
STATUSES: tuple[str, ...] = get_args(Status)
ENDED: frozenset[str] = frozenset({"complete", "partial", "cancelled"})
BPS = 10_000.0


class DecisionError(InputRefused, ValueError):
    """A decision record with a field outside what is allowed (the message names it)."""


def _aware(value: datetime | str | None, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise DecisionError(f"{name}: not an ISO-8601 time: {value!r}") from exc
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise DecisionError(f"{name}: must be a timezone-aware UTC datetime, got {value!r}")
    return value.astimezone(UTC)


def _positive(
    value: Any, name: str, *, allow_none: bool = False, allow_zero: bool = False
) -> float | None:
    if value is None and allow_none:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise DecisionError(f"{name}: must be a number, got {value!r}") from exc
    if not math.isfinite(out) or out < 0 or (out == 0 and not allow_zero):
        raise DecisionError(f"{name}: must be a finite number > 0, got {value!r}")
    return out


def _choice(value: Any, name: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise DecisionError(f"{name}: must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


@dataclass(frozen=True)
class Decision:
    """One decision and the state of its execution.

    ``key`` is the caller's unique id of the decision (stable across restarts, e.g.
    ``"<bot_id>:<trade_id>:exit:<decided_at>"``); stores add their own integer id.
    ``trade_id`` is None for an entry whose trade Freqtrade deleted (nothing filled).
    ``target_amount`` is the position change decided (base currency);
    ``filled_amount`` what has filled so far.  ``end_mid`` is the market mid when the
    execution ended (prices the unfilled remainder).  Times are aware UTC.
    """

    key: str
    strategy_id: str
    bot_id: str
    trade_id: int | None
    pair: str
    intent: Intent
    kind: Kind
    reason: str | None
    side: Side
    is_short: bool
    decided_at: datetime
    decision_price: float
    target_amount: float
    arrival_mid: float | None = None
    arrival_spread_bps: float | None = None
    filled_amount: float = 0.0
    status: Status = "working"
    ended_at: datetime | None = None
    end_mid: float | None = None
    order_ids: tuple[str, ...] = ()
    runmode: str = "dry_run"

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise DecisionError(f"key: must be a non-empty string, got {self.key!r}")
        _choice(self.intent, "intent", INTENTS)
        _choice(self.kind, "kind", KINDS)
        _choice(self.side, "side", SIDES)
        _choice(self.status, "status", STATUSES)
        object.__setattr__(self, "decided_at", _aware(self.decided_at, "decided_at"))
        object.__setattr__(self, "ended_at", _aware(self.ended_at, "ended_at"))
        object.__setattr__(self, "decision_price", _positive(self.decision_price, "decision_price"))
        object.__setattr__(self, "target_amount", _positive(self.target_amount, "target_amount"))
        object.__setattr__(
            self, "filled_amount", _positive(self.filled_amount, "filled_amount", allow_zero=True)
        )
        for name in ("arrival_mid", "end_mid"):
            object.__setattr__(self, name, _positive(getattr(self, name), name, allow_none=True))
        if self.arrival_spread_bps is not None:
            object.__setattr__(
                self,
                "arrival_spread_bps",
                _positive(self.arrival_spread_bps, "arrival_spread_bps", allow_zero=True),
            )
        if self.trade_id is not None and not isinstance(self.trade_id, int):
            raise DecisionError(f"trade_id: must be an integer or null, got {self.trade_id!r}")
        object.__setattr__(self, "order_ids", tuple(str(o) for o in self.order_ids))
        object.__setattr__(self, "is_short", bool(self.is_short))
        if self.status in ENDED and self.ended_at is None:
            raise DecisionError(f"ended_at: required when status is {self.status!r}")

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    def with_order(self, order_id: str) -> Decision:
        """This decision with one more child order (idempotent)."""
        if order_id in self.order_ids:
            return self
        return replace(self, order_ids=(*self.order_ids, str(order_id)))

    def closed(
        self, status: Status, filled_amount: float, ended_at: datetime, end_mid: float | None
    ) -> Decision:
        if status not in ENDED:
            raise DecisionError(
                f"status: a closed decision is complete, partial or cancelled, got {status!r}"
            )
        return replace(
            self, status=status, filled_amount=filled_amount, ended_at=ended_at, end_mid=end_mid
        )

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["decided_at"] = self.decided_at.isoformat()
        out["ended_at"] = self.ended_at.isoformat() if self.ended_at else None
        out["order_ids"] = list(self.order_ids)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DecisionError(f"unknown field(s): {', '.join(unknown)}")
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:  # a required field is missing
            raise DecisionError(str(exc)) from exc


# ------------------------------------------------------------------------ shortfall


@dataclass(frozen=True)
class Fill:
    """One fill of a child order: quantity (base), price, fee (stake currency) and the
    half-spread paid in bps (0 for a resting maker fill, None when unknown)."""

    amount: float
    price: float
    fee: float = 0.0
    spread_cost_bps: float | None = None


@dataclass(frozen=True)
class Shortfall:
    """Implementation shortfall of one execution, in stake currency (positive = cost)."""

    delay: float | None
    spread: float | None
    impact: float
    fees: float
    funding: float
    opportunity: float | None
    total: float
    filled: float
    unfilled: float
    vwap: float | None
    decision_notional: float
    complete: bool = field(default=True)

    def bps(self, part: str) -> float | None:
        value = getattr(self, part)
        if value is None or self.decision_notional <= 0:
            return None
        return float(value) / self.decision_notional * BPS


def shortfall(
    side: str,
    decision_price: float,
    target_amount: float,
    fills: Iterable[Fill],
    *,
    arrival_mid: float | None = None,
    end_mid: float | None = None,
    funding: float = 0.0,
) -> Shortfall:
    """The decomposition of the module docstring for one execution (scalar form)."""
    s = 1.0 if side == "buy" else -1.0
    fl = list(fills)
    filled = sum(f.amount for f in fl)
    vwap = sum(f.amount * f.price for f in fl) / filled if filled > 0 else None
    unfilled = max(target_amount - filled, 0.0)
    fees = sum(f.fee for f in fl)
    moved = s * ((vwap or decision_price) - decision_price) * filled
    delay = spread = None
    impact = moved
    if arrival_mid is not None and arrival_mid > 0:
        delay = s * (arrival_mid - decision_price) * filled
        if fl and all(f.spread_cost_bps is not None for f in fl):
            spread = sum((f.spread_cost_bps or 0.0) / BPS * arrival_mid * f.amount for f in fl)
        impact = moved - delay - (spread or 0.0)
    opportunity: float | None = 0.0
    if unfilled > 0:
        opportunity = (
            s * (end_mid - decision_price) * unfilled
            if end_mid is not None and end_mid > 0
            else None
        )
    total = moved + fees - funding + (opportunity or 0.0)
    return Shortfall(
        delay=delay,
        spread=spread,
        impact=impact,
        fees=fees,
        funding=-funding,
        opportunity=opportunity,
        total=total,
        filled=filled,
        unfilled=unfilled,
        vwap=vwap,
        decision_notional=decision_price * target_amount,
        complete=opportunity is not None,
    )


def shortfall_arrays(
    sign: np.ndarray,
    decision: np.ndarray,
    target: np.ndarray,
    filled: np.ndarray,
    vwap: np.ndarray,
    spread_cost: np.ndarray,
    fees: np.ndarray,
    funding: np.ndarray,
    arrival: np.ndarray,
    end_mid: np.ndarray,
) -> dict[str, np.ndarray]:
    """:func:`shortfall` over arrays of executions (NaN where a part is unknown).

    ``spread_cost`` is the money paid in half-spreads already summed per execution (NaN
    when unknown for any fill); ``vwap`` is NaN without fills.  Returns the parts, the
    total, ``unfilled`` and ``decision_notional``.
    """
    unfilled = np.clip(target - filled, 0.0, None)
    has_fill = filled > 0
    moved = np.where(has_fill, sign * (np.where(has_fill, vwap, decision) - decision) * filled, 0.0)
    has_arr = np.isfinite(arrival) & (arrival > 0)
    delay = np.where(has_arr, sign * (arrival - decision) * filled, np.nan)
    spread = np.where(has_arr, spread_cost, np.nan)
    impact = moved - np.nan_to_num(delay) - np.nan_to_num(spread)
    has_end = np.isfinite(end_mid) & (end_mid > 0)
    opportunity = np.where(
        unfilled > 0, np.where(has_end, sign * (end_mid - decision) * unfilled, np.nan), 0.0
    )
    fees = np.nan_to_num(fees)
    funding_cost = -np.nan_to_num(funding)
    total = moved + fees + funding_cost + np.nan_to_num(opportunity)
    return {
        "delay": delay,
        "spread": spread,
        "impact": impact,
        "fees": fees,
        "funding": funding_cost,
        "opportunity": opportunity,
        "total": total,
        "unfilled": unfilled,
        "decision_notional": decision * target,
    }


def status_of(target: float, filled: float, ended: bool) -> Status:
    """working | complete | partial | cancelled, from quantities (1e-9 relative slack)."""
    if filled >= target * (1 - 1e-9) and filled > 0:
        return "complete"
    if not ended:
        return "working"
    return "partial" if filled > 0 else "cancelled"
