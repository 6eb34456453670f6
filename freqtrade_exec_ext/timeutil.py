"""UTC as Freqtrade keeps it: one place that normalises datetimes (pure).

Freqtrade stores naive datetimes meaning UTC in its database and hands callbacks aware
UTC ones; these helpers make either form comparable.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def as_utc(when: datetime) -> datetime: ...
@overload
def as_utc(when: None) -> None: ...
def as_utc(when: datetime | None) -> datetime | None:
    """Aware UTC: a naive datetime is read as UTC (Freqtrade's database convention)."""
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def naive_utc(when: datetime) -> datetime:
    """Naive UTC, for Freqtrade-style database columns; refuses a naive input (ambiguous)."""
    if when.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return when.astimezone(UTC).replace(tzinfo=None)


def parse_utc(value: object) -> datetime | None:
    """A datetime or ISO-8601 text as aware UTC; None for anything else."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return as_utc(value) if isinstance(value, datetime) else None
