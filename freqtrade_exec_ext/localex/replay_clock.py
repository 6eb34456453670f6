"""The replay's clock: which data time the venue serves at a given wall-clock time.

Served candles open on whole multiples of every timeframe (Freqtrade checks them against its
own clock), so the offset between wall and data time is a whole number of the largest
timeframe; :func:`make_clock` picks it so an asked ``--start-at`` is replayed, never
skipped, and :func:`start_note` says where the replay really starts and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from freqtrade_exec_ext.errors import InputRefused

DAY_MS = 86_400_000
DEFAULT_WARMUP_MS = 30 * DAY_MS


class ReplayError(InputRefused, ValueError):
    """Bad request against the replay (unknown interval, no data)."""


class _Span(Protocol):
    """What the clock needs of a candle series."""

    @property
    def base_ms(self) -> int: ...
    @property
    def first_ms(self) -> int: ...
    @property
    def last_ms(self) -> int: ...


@dataclass(frozen=True)
class ReplayClock:
    start_wall_ms: int
    offset_ms: int
    speed: float = 1.0
    #: the largest timeframe served: the offset is a whole number of these
    align_ms: int = 60_000
    #: the data time asked for (``--start-at``), when one was
    asked_ms: int | None = None

    def served_now(self, wall_ms: int) -> int:
        return int(self.start_wall_ms + (wall_ms - self.start_wall_ms) * self.speed)

    def data_now(self, wall_ms: int) -> int:
        return self.served_now(wall_ms) - self.offset_ms


def make_clock(
    series: Sequence[_Span],
    start_wall_ms: int,
    speed: float = 1.0,
    start_at: datetime | None = None,
) -> ReplayClock:
    if not series:
        raise ReplayError("no candle data to replay")
    if not (math.isfinite(speed) and speed > 0):
        raise ReplayError(f"speed must be a positive number, got {speed!r}")
    align = max(s.base_ms for s in series)
    first = max(s.first_ms for s in series)
    last = min(s.last_ms for s in series)
    if start_at is not None:
        anchor = int(start_at.timestamp() * 1000)
        lo, hi = min(s.first_ms for s in series), max(s.last_ms for s in series)
        if not lo <= anchor <= hi:
            raise ReplayError(
                f"start_at {start_at.isoformat()} is outside the data ({_iso(lo)} .. {_iso(hi)})"
            )
    else:
        anchor = first + min(DEFAULT_WARMUP_MS, max(last - first, 0) // 2)
    # The served candles must open on whole multiples of every timeframe (Freqtrade checks
    # them against its own clock), so the offset between wall and data time is a whole
    # number of ``align``: the data time at start has the wall clock's position inside
    # ``align``.  Take the latest such time at or before the asked one, so the asked moment
    # is replayed rather than skipped (start_note says so).
    offset = (start_wall_ms // align) * align - (anchor // align) * align
    base = min(s.base_ms for s in series)
    past = start_at is not None and start_wall_ms - offset > anchor
    # past the asked time: kept only inside the asked time's own (smallest) candle
    if past and (start_wall_ms - offset) // base != anchor // base:
        offset += align
    return ReplayClock(
        start_wall_ms=start_wall_ms,
        offset_ms=offset,
        speed=speed,
        align_ms=align,
        asked_ms=anchor if start_at is not None else None,
    )


def start_note(clock: ReplayClock) -> str | None:
    """Why the replay does not start exactly at ``--start-at`` (None when it does)."""
    if clock.asked_ms is None:
        return None
    start = clock.data_now(clock.start_wall_ms)
    lag_s = (clock.asked_ms - start) / 1000
    if abs(lag_s) < 1:
        return None
    why = (
        f"served candles must open on whole {_duration(clock.align_ms / 1000)} boundaries "
        "(the largest timeframe in the datadir), so the data time keeps the wall clock's "
        "position inside one"
    )
    asked = f"--start-at {_iso(clock.asked_ms)}: replay starts at {_iso(start)}"
    if lag_s < 0:
        return f"{asked}, {_duration(-lag_s)} later, inside the same candle: {why}"
    return (
        f"{asked} and reaches it in {_duration(lag_s / clock.speed)} (speed {clock.speed:g}): "
        f"{why}; use --speed to get there sooner, or keep only smaller timeframes in the "
        "datadir"
    )


def _duration(seconds: float) -> str:
    h, rest = divmod(round(seconds), 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s or not (h or m) else ""]
    return "".join(parts)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")
