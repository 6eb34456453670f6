"""The replay: clock mapping, partial candles, aggregation, Binance's kline selection rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from freqtrade_exec_ext.localex import replay, replay_clock

M5 = 300_000
T0 = int(datetime(2025, 9, 1, tzinfo=UTC).timestamp() * 1000)
N = 2 * 288  # two days of 5m candles


def make_series(n: int = N) -> replay.CandleSeries:
    rng = np.random.default_rng(1)
    close = 100 + np.cumsum(rng.normal(0, 0.3, n)).round(2)
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) + 0.5
    low = np.minimum(open_, close) - 0.5
    return replay.CandleSeries(
        symbol="TESTUSDT",
        base_ms=M5,
        open_time=T0 + np.arange(n, dtype=np.int64) * M5,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=np.full(n, 10.0),
        tick=0.01,
    )


WALL = int(datetime(2026, 3, 2, 12, 7, 30, tzinfo=UTC).timestamp() * 1000)  # 2.5 min into a 5m


def clock_at(start_at: datetime, speed: float = 1.0) -> replay_clock.ReplayClock:
    return replay_clock.make_clock([make_series()], WALL, speed=speed, start_at=start_at)


def test_clock_maps_start_at_to_now_and_runs_at_speed() -> None:
    start = datetime(2025, 9, 2, 0, 0, tzinfo=UTC)
    clock = clock_at(start)
    assert clock.offset_ms % M5 == 0
    assert clock.served_now(WALL) == WALL
    # same phase inside the 5m candle as the wall clock: inside the asked time's candle
    assert clock.data_now(WALL) == int(start.timestamp() * 1000) + 150_000
    assert replay_clock.start_note(clock) == (
        "--start-at 2025-09-02T00:00:00+00:00: replay starts at 2025-09-02T00:02:30+00:00, "
        "2m30s later, inside the same candle: served candles must open on whole 5m "
        "boundaries (the largest timeframe in the datadir), so the data time keeps the wall "
        "clock's position inside one"
    )
    fast = clock_at(start, speed=60)
    assert fast.data_now(WALL + 10_000) - fast.data_now(WALL) == 600_000


def test_start_at_is_never_skipped_and_the_rounding_is_explained() -> None:
    """As in the issue: 1h files in the folder, the wall clock 7m30s into its hour, asked
    for 21:00:00.  The replay used to start at 21:07:30, a candle after the asked moment (a
    missed signal); now it starts an hour earlier and says when it gets there."""
    hourly = replace(make_series(), base_ms=3_600_000)
    asked = datetime(2025, 9, 1, 21, 0, tzinfo=UTC)
    clock = replay_clock.make_clock([make_series(), hourly], WALL, start_at=asked)
    start = clock.data_now(WALL)
    assert clock.offset_ms % 3_600_000 == 0
    assert start == int(datetime(2025, 9, 1, 20, 7, 30, tzinfo=UTC).timestamp() * 1000)
    assert replay_clock.start_note(clock) == (
        "--start-at 2025-09-01T21:00:00+00:00: replay starts at 2025-09-01T20:07:30+00:00 and "
        "reaches it in 52m30s (speed 1): served candles must open on whole 1h boundaries (the "
        "largest timeframe in the datadir), so the data time keeps the wall clock's position "
        "inside one; use --speed to get there sooner, or keep only smaller timeframes in the "
        "datadir"
    )
    # asked exactly where the wall clock's phase lands: no note
    on_phase = replay_clock.make_clock(
        [make_series()], WALL, start_at=datetime(2025, 9, 1, 21, 7, 30, tzinfo=UTC)
    )
    assert replay_clock.start_note(on_phase) is None
    assert replay_clock.start_note(replay_clock.make_clock([make_series()], WALL)) is None


def test_default_start_leaves_history_behind_now() -> None:
    s = make_series()
    clock = replay_clock.make_clock([s], WALL)
    # half the data span (shorter than the 30-day warm-up) is history
    assert clock.data_now(WALL) - s.first_ms >= (s.last_ms - s.first_ms) // 2 - M5


def test_start_at_outside_data_is_refused() -> None:
    with pytest.raises(replay_clock.ReplayError, match="outside the data"):
        clock_at(datetime(2024, 1, 1, tzinfo=UTC))


def test_closed_5m_candles_equal_the_data_and_the_last_one_is_partial() -> None:
    s = make_series()
    clock = clock_at(datetime(2025, 9, 2, tzinfo=UTC))
    rows = replay.klines(s, "5m", clock, WALL, limit=10)
    assert len(rows) == 10
    last = rows[-1]
    assert last.open_time <= WALL < last.open_time + M5  # fresh: ends now
    for k in rows[:-1]:
        i = int((k.open_time - clock.offset_ms - T0) // M5)
        assert (k.open, k.high, k.low, k.close) == (s.open[i], s.high[i], s.low[i], s.close[i])
    i = int((last.open_time - clock.offset_ms - T0) // M5)
    assert last.open == s.open[i]
    assert s.low[i] <= last.low <= last.close <= last.high <= s.high[i]
    assert last.volume == pytest.approx(s.volume[i] * 0.5)


def test_partial_candle_walks_open_low_high_close_for_a_rising_candle() -> None:
    o, h, low, c = 100.0, 104.0, 98.0, 103.0
    assert replay.partial_candle(o, h, low, c, 9.0, 0.0)[3] == o
    assert replay.partial_candle(o, h, low, c, 9.0, 1 / 3)[3] == low
    assert replay.partial_candle(o, h, low, c, 9.0, 2 / 3)[3] == h
    assert replay.partial_candle(o, h, low, c, 9.0, 1.0) == (o, h, low, c, 9.0)
    # a falling candle goes to the high first
    assert replay.partial_candle(o, h, low, 99.0, 9.0, 1 / 3)[3] == h
    mid = replay.partial_candle(o, h, low, c, 9.0, 0.5, tick=0.01)
    assert mid[2] == low and low < mid[3] < h  # low already seen, high not yet


def test_1h_candles_aggregate_the_5m_data() -> None:
    s = make_series()
    clock = clock_at(datetime(2025, 9, 2, 6, tzinfo=UTC))
    rows = replay.klines(s, "1h", clock, WALL, limit=5)
    assert all(k.open_time % 3_600_000 == 0 for k in rows)
    k = rows[-2]  # a closed hour
    i0 = int((k.open_time - clock.offset_ms - T0) // M5)
    sl = slice(i0, i0 + 12)
    assert k.open == s.open[i0] and k.close == s.close[i0 + 11]
    assert k.high == s.high[sl].max() and k.low == s.low[sl].min()
    assert k.volume == pytest.approx(s.volume[sl].sum())


def test_start_end_limit_select_like_binance() -> None:
    s = make_series()
    clock = clock_at(datetime(2025, 9, 2, 6, tzinfo=UTC))
    newest = replay.klines(s, "5m", clock, WALL, limit=1)[0].open_time
    since = newest - 20 * M5 + 1  # not on a boundary: first candle opens after it
    rows = replay.klines(s, "5m", clock, WALL, start_time=since, limit=5)
    assert [k.open_time for k in rows] == [newest - 19 * M5 + j * M5 for j in range(5)]
    rows = replay.klines(s, "5m", clock, WALL, end_time=newest - 10 * M5, limit=3)
    assert [k.open_time for k in rows] == [newest - 12 * M5, newest - 11 * M5, newest - 10 * M5]
    assert replay.klines(s, "5m", clock, WALL, start_time=newest + M5) == []
    # nothing before the first data candle
    rows = replay.klines(s, "5m", clock, WALL, start_time=0, limit=3)
    assert rows[0].open_time == T0 + clock.offset_ms


def test_intervals_below_the_data_timeframe_are_refused() -> None:
    s = make_series()
    clock = clock_at(datetime(2025, 9, 2, tzinfo=UTC))
    with pytest.raises(replay_clock.ReplayError, match="5m candles"):
        replay.klines(s, "1m", clock, WALL)
    with pytest.raises(replay_clock.ReplayError, match="Invalid interval"):
        replay.klines(s, "1M", clock, WALL)


def test_replay_stays_on_the_last_candle_when_data_runs_out() -> None:
    s = make_series()
    clock = clock_at(datetime(2025, 9, 2, 23, 50, tzinfo=UTC))
    later = WALL + 3_600_000
    rows = replay.klines(s, "5m", clock, later, limit=2)
    assert rows[-1].open_time == s.last_ms + clock.offset_ms
    assert rows[-1].close == s.close[-1]
    assert replay.current_price(s, clock.data_now(later)) == s.close[-1]


def test_stats_24h_cover_a_day_ending_at_the_replayed_price() -> None:
    s = make_series()
    clock = clock_at(datetime(2025, 9, 2, 12, tzinfo=UTC))
    st = replay.stats_24h(s, clock, WALL)
    assert st.close_time - st.open_time == 86_400_000
    assert st.last == replay.current_price(s, clock.data_now(WALL))
    assert st.low <= st.last <= st.high
    assert st.volume == pytest.approx(10.0 * 287.5)
