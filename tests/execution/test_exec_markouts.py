"""Markouts: the sign convention and the sampler's schedule (one read per pair and horizon)."""

from __future__ import annotations

import pytest

from freqtrade_exec_ext.execution.markouts import HORIZON_KEYS, markout_bps, schedule
from freqtrade_exec_ext.strategy.markouts import MarkoutSampler


def test_positive_is_adverse_for_both_sides() -> None:
    assert markout_bps("buy", 100.0, 99.0) == pytest.approx(100.0)  # bought, mid fell
    assert markout_bps("buy", 100.0, 101.0) == pytest.approx(-100.0)
    assert markout_bps("sell", 100.0, 101.0) == pytest.approx(100.0)  # sold, mid rose
    assert markout_bps("sell", 100.0, 100.0) == 0
    assert markout_bps("buy", 100.0, float("nan")) is None
    with pytest.raises(ValueError, match="side"):
        markout_bps("long", 100.0, 99.0)


def test_a_fill_needs_one_read_per_horizon() -> None:
    due = schedule("k", "BTC/USDT", "buy", 100.0, 1_000.0)
    assert [d.at for d in due] == [1_001.0, 1_010.0, 1_060.0, 1_300.0]
    assert HORIZON_KEYS == ("1s", "10s", "60s", "300s")


class _Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


def test_sampler_reads_each_horizon_once_and_shares_reads_between_fills() -> None:
    clock = _Clock()
    mids = {"BTC/USDT": 99.0, "ETH/USDT": 10.0}
    reads: list[tuple[float, str]] = []

    def read(pair: str) -> float:
        reads.append((clock.t, pair))
        return mids[pair]

    s = MarkoutSampler(read, clock=clock)
    s.add("btc-1", "BTC/USDT", "buy", 100.0, 1_000.0)
    s.add("btc-2", "BTC/USDT", "sell", 98.0, 1_000.2)  # due within 0.5 s: one read
    s.add("eth-1", "ETH/USDT", "buy", 10.0, 1_000.0)
    assert s.step() == pytest.approx(1.0)  # nothing due yet
    for t in (1_001.0, 1_010.0, 1_060.0, 1_300.0):
        clock.t = t + 0.3
        while s.step() == 0.0:
            pass
    assert s.pending() == 0
    # 4 horizons x 2 pairs, the two BTC fills read together
    assert len(reads) == 8
    done = s.drain()
    assert done["btc-1"] == {k: pytest.approx(100.0) for k in HORIZON_KEYS}
    assert done["btc-2"] == {k: pytest.approx(102.0408, abs=1e-3) for k in HORIZON_KEYS}
    assert done["eth-1"] == {k: 0.0 for k in HORIZON_KEYS}
    assert s.drain() == {}


def test_a_failed_read_leaves_that_horizon_out() -> None:
    clock = _Clock()

    def read(pair: str) -> float:
        if clock.t < 1_005:
            raise ConnectionError("venue away")
        return 101.0

    s = MarkoutSampler(read, clock=clock)
    s.add("k", "BTC/USDT", "buy", 100.0, 1_000.0)
    clock.t = 1_001.0
    s.step()
    clock.t = 1_010.0
    s.step()
    assert s.drain() == {"k": {"10s": pytest.approx(-100.0)}}


def test_a_read_too_late_for_its_horizon_is_left_out() -> None:
    clock = _Clock()
    s = MarkoutSampler(lambda pair: 99.0, clock=clock)
    s.add("k", "BTC/USDT", "buy", 100.0, 1_000.0)
    clock.t = 1_010.0  # the 1 s read comes 9 s late; the 10 s read is on time
    while s.step() == 0.0:
        pass
    assert s.drain() == {"k": {"10s": pytest.approx(100.0)}}
    assert s.missed == 1
