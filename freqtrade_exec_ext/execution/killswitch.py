"""The graded kill switch (pure: no I/O, no clocks; ``now`` is passed in).

Levels, each stricter than the one before::

    NORMAL    trading as usual
    REDUCING  no new entries; exits, stop-losses and ROI keep working
    FLATTEN   every open trade is exited (and open entry orders cancelled)
    HALTED    flat (or FLATTEN ran out of loops): no trading until a person runs
              ``freqtrade-exec resume STR-NNN``; survives restarts

Triggers (thresholds from the contract's ``limits``, see :class:`Thresholds`):

=========================  ===============================================  =========
code                       condition                                        level
=========================  ===============================================  =========
``KS_DRAWDOWN``            (peak - equity) / peak >= max_drawdown           REDUCING
                           ... >= max_drawdown x flatten_ratio              FLATTEN
``KS_DAILY_LOSS``          (day's opening equity - equity) / capital
                           >= daily_loss_limit (x flatten_ratio: FLATTEN)   REDUCING
``KS_STOPLOSS_STREAK``     stop-losses in a row >= max_consecutive_...      REDUCING
``KS_FILLS_OVER_BUDGET``   fills in a row over the slippage budget          REDUCING
``KS_REJECTION_RATE``      rejected / attempts over the last window         REDUCING
``KS_STALE_DATA``          newest candle closed > timeframe + stale_data_s  REDUCING
``KS_EXCHANGE_ERRORS``     bot loops in a row with exchange errors          REDUCING
=========================  ===============================================  =========

*Equity* is the contract's capital plus realized profit plus the open trades' unrealised
profit (stake currency), so a drawdown in open trades counts before any trade closes.
The peak and the day's opening equity are part of :class:`State` (persisted by the
caller); a resume starts both afresh, so the loss a person accepted does not trip the
switch again at once.

REDUCING lifts by itself when no REDUCING trigger holds any more; FLATTEN and HALTED
latch: only :meth:`KillSwitch.resume` (a person) ends them.  FLATTEN becomes HALTED when
no trade is open, or after ``flatten_max_loops`` evaluations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import IntEnum
from typing import Any


class Level(IntEnum):
    NORMAL = 0
    REDUCING = 1
    FLATTEN = 2
    HALTED = 3


DRAWDOWN = "KS_DRAWDOWN"
DAILY_LOSS = "KS_DAILY_LOSS"
STOPLOSS_STREAK = "KS_STOPLOSS_STREAK"
FILLS_OVER_BUDGET = "KS_FILLS_OVER_BUDGET"
REJECTION_RATE = "KS_REJECTION_RATE"
STALE_DATA = "KS_STALE_DATA"
EXCHANGE_ERRORS = "KS_EXCHANGE_ERRORS"
FLATTENED = "KS_FLATTENED"
FLATTEN_INCOMPLETE = "KS_FLATTEN_INCOMPLETE"
CLEARED = "KS_CLEARED"
RESUMED = "KS_RESUMED"


@dataclass(frozen=True)
class Thresholds:
    """The contract's ``limits`` as the kill switch reads them."""

    max_drawdown: float
    daily_loss_limit: float
    max_consecutive_stoplosses: int
    flatten_ratio: float
    max_fills_over_budget: int
    max_rejection_rate: float
    rejection_window: int
    stale_data_s: float
    max_exchange_error_loops: int
    flatten_max_loops: int

    @classmethod
    def from_limits(cls, limits: Any) -> Thresholds:
        """From a contract's ``limits`` section (any object with these attributes)."""
        return cls(**{f: getattr(limits, f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Observations:
    """What the bot sees at one evaluation (stake currency, seconds)."""

    equity: float  # capital + realized + unrealised profit
    capital: float  # the contract's initial capital (daily loss is a share of it)
    open_trades: int
    consecutive_stoplosses: int = 0
    consecutive_over_budget: int = 0
    recent_attempts: int = 0  # order attempts in the rejection window (at most its size)
    recent_rejections: int = 0
    data_age_s: float | None = None  # since the newest candle closed; None: unknown
    timeframe_s: float = 300.0
    exchange_errors: bool = False  # this bot loop saw exchange errors


@dataclass(frozen=True)
class State:
    """What the kill switch remembers (persisted by the caller)."""

    level: Level = Level.NORMAL
    since: datetime | None = None
    reason: str = ""
    detail: str = ""
    peak_equity: float | None = None
    day: date | None = None
    day_open_equity: float | None = None
    error_loops: int = 0
    flatten_loops: int = 0


@dataclass(frozen=True)
class Transition:
    old: Level
    new: Level
    reason: str  # a KS_* code
    detail: str  # numbers, for people
    at: datetime

    def message(self, strategy_id: str) -> str:
        return (
            f"{strategy_id} kill switch {self.old.name} -> {self.new.name}: "
            f"{self.reason}: {self.detail}"
        )


@dataclass(frozen=True)
class Trip:
    level: Level
    reason: str
    detail: str


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


def _loss_trip(code: str, what: str, value: float, limit: float, flatten: float) -> Trip | None:
    if value >= limit * flatten:
        level = Level.FLATTEN
    elif value >= limit:
        level = Level.REDUCING
    else:
        return None
    bound = limit * flatten if level is Level.FLATTEN else limit
    return Trip(level, code, f"{what} {value:.2%} >= {bound:.2%}")


def trips(t: Thresholds, s: State, o: Observations) -> list[Trip]:
    """Every trigger that holds now, strictest first (``s`` carries the baselines)."""
    out: list[Trip] = []
    peak = s.peak_equity if s.peak_equity is not None else o.equity
    dd = _loss_trip(
        DRAWDOWN, "drawdown", _ratio(peak - o.equity, peak), t.max_drawdown, t.flatten_ratio
    )
    day_open = s.day_open_equity if s.day_open_equity is not None else o.equity
    dl = _loss_trip(
        DAILY_LOSS,
        "day's loss",
        _ratio(day_open - o.equity, o.capital),
        t.daily_loss_limit,
        t.flatten_ratio,
    )
    out += [x for x in (dd, dl) if x is not None]
    if o.consecutive_stoplosses >= t.max_consecutive_stoplosses:
        out.append(
            Trip(
                Level.REDUCING,
                STOPLOSS_STREAK,
                (
                    f"{o.consecutive_stoplosses} stop-losses in a row >= "
                    f"{t.max_consecutive_stoplosses}"
                ),
            )
        )
    if o.consecutive_over_budget >= t.max_fills_over_budget:
        out.append(
            Trip(
                Level.REDUCING,
                FILLS_OVER_BUDGET,
                (
                    f"{o.consecutive_over_budget} fills in a row over the slippage budget >= "
                    f"{t.max_fills_over_budget}"
                ),
            )
        )
    rate = _ratio(o.recent_rejections, o.recent_attempts)
    if o.recent_attempts >= t.rejection_window and rate >= t.max_rejection_rate:
        out.append(
            Trip(
                Level.REDUCING,
                REJECTION_RATE,
                (
                    f"{o.recent_rejections} of the last {o.recent_attempts} orders rejected "
                    f"({rate:.0%} >= {t.max_rejection_rate:.0%})"
                ),
            )
        )
    if o.data_age_s is not None and o.data_age_s > o.timeframe_s + t.stale_data_s:
        out.append(
            Trip(
                Level.REDUCING,
                STALE_DATA,
                (
                    f"newest candle closed {o.data_age_s:.0f} s ago > {o.timeframe_s:.0f} + "
                    f"{t.stale_data_s:.0f} s"
                ),
            )
        )
    if s.error_loops >= t.max_exchange_error_loops:
        out.append(
            Trip(
                Level.REDUCING,
                EXCHANGE_ERRORS,
                (
                    f"{s.error_loops} bot loops in a row with exchange errors >= "
                    f"{t.max_exchange_error_loops}"
                ),
            )
        )
    out.sort(key=lambda x: -x.level)
    return out


class KillSwitch:
    """One strategy's kill switch.  Not thread-safe (the bot loop is one thread)."""

    def __init__(self, thresholds: Thresholds, state: State | None = None) -> None:
        self.thresholds = thresholds
        self.state = state or State()

    # ------------------------------------------------------------------ queries
    @property
    def level(self) -> Level:
        return self.state.level

    def allows_entries(self) -> bool:
        return self.state.level is Level.NORMAL

    def wants_flat(self) -> bool:
        """Every open trade is to be exited (FLATTEN, and HALTED with trades left)."""
        return self.state.level >= Level.FLATTEN

    # ------------------------------------------------------------------ updates
    def _baselines(self, o: Observations, now: datetime) -> State:
        s = self.state
        if not math.isfinite(o.equity):
            return s
        peak = o.equity if s.peak_equity is None else max(s.peak_equity, o.equity)
        today = now.date()
        day_open = s.day_open_equity
        if s.day != today or day_open is None:
            day_open = o.equity
        errors = s.error_loops + 1 if o.exchange_errors else 0
        return replace(s, peak_equity=peak, day=today, day_open_equity=day_open, error_loops=errors)

    def evaluate(self, o: Observations, now: datetime) -> Transition | None:
        """Update the state from one bot loop's observations; the transition, if any."""
        self.state = self._baselines(o, now)
        held = trips(self.thresholds, self.state, o)
        level = self.state.level
        if level is Level.HALTED:
            return None
        if level is Level.FLATTEN:
            return self._flattening(o, now)
        worst = held[0] if held else None
        if worst is not None and worst.level > level:
            return self._move(worst.level, worst.reason, worst.detail, now)
        if level is Level.REDUCING and worst is None:
            return self._move(Level.NORMAL, CLEARED, "no trigger holds any more", now)
        return None

    def _flattening(self, o: Observations, now: datetime) -> Transition | None:
        loops = self.state.flatten_loops + 1
        self.state = replace(self.state, flatten_loops=loops)
        if o.open_trades == 0:
            return self._move(Level.HALTED, FLATTENED, f"flat after {loops} bot loop(s)", now)
        if loops >= self.thresholds.flatten_max_loops:
            return self._move(
                Level.HALTED,
                FLATTEN_INCOMPLETE,
                f"{o.open_trades} trade(s) still open after {loops} bot loops; exits go on",
                now,
            )
        return None

    def _move(self, new: Level, reason: str, detail: str, now: datetime) -> Transition:
        old = self.state.level
        loops = 0 if new is Level.FLATTEN else self.state.flatten_loops
        self.state = replace(
            self.state,
            level=new,
            since=now,
            reason=reason,
            detail=detail,
            flatten_loops=loops,
        )
        return Transition(old, new, reason, detail, now)

    def resume(self, now: datetime, by: str) -> Transition | None:
        """A person ends FLATTEN/HALTED (or REDUCING): NORMAL, baselines start afresh."""
        old = self.state.level
        if old is Level.NORMAL:
            return None
        self.state = State(level=Level.NORMAL, since=now, reason=RESUMED, detail=f"by {by}")
        return Transition(old, Level.NORMAL, RESUMED, f"by {by}", now)
