"""End-to-end: STR001 in Freqtrade's LIVE mode against the local exchange."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .live_harness import DATADIR, LiveBot

# STR001 signals on the BTC/USDT 5m candle of 2025-10-16 09:35 (RSI turns up from 25
# below the lower band); the 09:40 candle dips first (the maker bid fills) and closes
# above the middle band with RSI 58: the exit signal.  The replay starts 3 s into 09:40.
SIGNAL_NEXT_CANDLE = datetime(2025, 10, 16, 9, 40, tzinfo=UTC)


@pytest.fixture
def live(mocker: Any, tmp_path: Path) -> Iterator[Any]:
    if not (DATADIR / "BTC_USDT-5m.feather").is_file():
        pytest.skip(f"shipped candles missing in {DATADIR}")
    made: list[LiveBot] = []

    def make(**kwargs: Any) -> LiveBot:
        lb = LiveBot(
            mocker,
            tmp_path,
            **{
                "start_at": SIGNAL_NEXT_CANDLE,
                "seconds_into_candle": 3,
                "pairs": ["BTC/USDT"],
                **kwargs,
            },
        )
        made.append(lb)
        return lb

    yield make
    for lb in made:
        lb.stop()
