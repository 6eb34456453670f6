"""The kill switch's rules (pure) and its store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine

from freqtrade_exec_ext.contract import load_contract
from freqtrade_exec_ext.execution import killswitch as ks
from freqtrade_exec_ext.execution.killswitch import KillSwitch, Level, Observations, Thresholds
from freqtrade_exec_ext.store.killswitch import KillSwitchStore, read_events

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


@pytest.fixture
def thresholds(str001_contract_path) -> Thresholds:
    return Thresholds.from_limits(load_contract(str001_contract_path).limits)


def obs(equity: float, **kw) -> Observations:
    return Observations(equity=equity, capital=1000.0, open_trades=kw.pop("open_trades", 1), **kw)


def test_thresholds_come_from_the_contract(thresholds):
    assert thresholds.max_drawdown == 0.15 and thresholds.daily_loss_limit == 0.05
    assert thresholds.flatten_ratio == 1.5 and thresholds.flatten_max_loops == 30


def test_unrealised_loss_reduces_then_flattens_then_halts_when_flat(thresholds):
    k = KillSwitch(thresholds)
    assert k.evaluate(obs(1000.0), T0) is None  # day opens at 1000, peak 1000
    t = k.evaluate(obs(940.0), T0 + timedelta(minutes=5))  # day's loss 6% >= 5%
    assert (t.old, t.new, t.reason) == (Level.NORMAL, Level.REDUCING, ks.DAILY_LOSS)
    assert "6.00% >= 5.00%" in t.detail
    assert not k.allows_entries() and not k.wants_flat()
    t = k.evaluate(obs(920.0), T0 + timedelta(minutes=10))  # 8% >= 7.5%
    assert (t.new, t.reason) == (Level.FLATTEN, ks.DAILY_LOSS)
    assert k.wants_flat()
    assert k.evaluate(obs(925.0, open_trades=1), T0 + timedelta(minutes=11)) is None
    t = k.evaluate(obs(925.0, open_trades=0), T0 + timedelta(minutes=12))
    assert (t.old, t.new, t.reason) == (Level.FLATTEN, Level.HALTED, ks.FLATTENED)
    assert t.detail == "flat after 2 bot loop(s)"
    # latched: nothing lifts HALTED but a person, whatever equity does
    assert k.evaluate(obs(2000.0, open_trades=0), T0 + timedelta(days=3)) is None
    assert k.level is Level.HALTED and k.wants_flat()


def test_drawdown_is_measured_from_the_peak(thresholds):
    k = KillSwitch(replace(thresholds, daily_loss_limit=0.9))
    k.evaluate(obs(1000.0), T0)
    k.evaluate(obs(1200.0), T0 + timedelta(hours=1))
    assert k.evaluate(obs(1030.0), T0 + timedelta(hours=2)) is None  # 14.2% < 15%
    t = k.evaluate(obs(1019.0), T0 + timedelta(hours=3))
    assert (t.new, t.reason) == (Level.REDUCING, ks.DRAWDOWN)
    # recovery lifts REDUCING by itself
    t = k.evaluate(obs(1100.0), T0 + timedelta(hours=4))
    assert (t.old, t.new, t.reason) == (Level.REDUCING, Level.NORMAL, ks.CLEARED)


def test_a_gap_straight_to_flatten_and_incomplete_flatten_halts(thresholds):
    k = KillSwitch(replace(thresholds, flatten_max_loops=3))
    k.evaluate(obs(1000.0), T0)
    t = k.evaluate(obs(700.0, open_trades=2), T0 + timedelta(minutes=1))
    assert (t.old, t.new) == (Level.NORMAL, Level.FLATTEN)
    assert k.evaluate(obs(700.0, open_trades=2), T0 + timedelta(minutes=2)) is None
    assert k.evaluate(obs(700.0, open_trades=2), T0 + timedelta(minutes=3)) is None
    t = k.evaluate(obs(700.0, open_trades=2), T0 + timedelta(minutes=4))
    assert (t.new, t.reason) == (Level.HALTED, ks.FLATTEN_INCOMPLETE)
    assert "2 trade(s) still open after 3 bot loops" in t.detail
    assert k.wants_flat()  # exits go on


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"consecutive_stoplosses": 3}, ks.STOPLOSS_STREAK),
        ({"consecutive_over_budget": 5}, ks.FILLS_OVER_BUDGET),
        ({"recent_attempts": 20, "recent_rejections": 10}, ks.REJECTION_RATE),
        ({"data_age_s": 300 + 601, "timeframe_s": 300}, ks.STALE_DATA),
    ],
)
def test_each_breakdown_trigger_reduces(thresholds, kw, code):
    k = KillSwitch(thresholds)
    k.evaluate(obs(1000.0), T0)
    t = k.evaluate(obs(1000.0, **kw), T0 + timedelta(minutes=1))
    assert (t.new, t.reason) == (Level.REDUCING, code)


@pytest.mark.parametrize(
    "kw",
    [
        {"consecutive_stoplosses": 2},
        {"consecutive_over_budget": 4},
        {"recent_attempts": 19, "recent_rejections": 19},  # too few attempts to judge
        {"recent_attempts": 20, "recent_rejections": 9},
        {"data_age_s": 300 + 600, "timeframe_s": 300},
        {"data_age_s": None},
    ],
)
def test_below_every_threshold_nothing_happens(thresholds, kw):
    k = KillSwitch(thresholds)
    k.evaluate(obs(1000.0), T0)
    assert k.evaluate(obs(1000.0, **kw), T0 + timedelta(minutes=1)) is None


def test_exchange_errors_count_consecutive_loops(thresholds):
    k = KillSwitch(replace(thresholds, max_exchange_error_loops=3))
    k.evaluate(obs(1000.0), T0)
    for i in range(2):
        assert k.evaluate(obs(1000.0, exchange_errors=True), T0 + timedelta(seconds=i)) is None
    assert k.evaluate(obs(1000.0), T0 + timedelta(seconds=5)) is None  # a clean loop resets
    for i in range(2):
        assert k.evaluate(obs(1000.0, exchange_errors=True), T0 + timedelta(seconds=10 + i)) is None
    t = k.evaluate(obs(1000.0, exchange_errors=True), T0 + timedelta(seconds=20))
    assert (t.new, t.reason) == (Level.REDUCING, ks.EXCHANGE_ERRORS)


def test_a_new_day_opens_at_the_current_equity(thresholds):
    k = KillSwitch(replace(thresholds, max_drawdown=0.9))
    k.evaluate(obs(1000.0), T0)
    k.evaluate(obs(960.0), T0 + timedelta(hours=15))  # next UTC day: opens at 960
    assert k.state.day_open_equity == 960.0
    assert k.evaluate(obs(915.0), T0 + timedelta(hours=16)) is None  # 4.5% of capital
    t = k.evaluate(obs(909.0), T0 + timedelta(hours=17))
    assert t.reason == ks.DAILY_LOSS


def test_resume_starts_baselines_afresh(thresholds):
    k = KillSwitch(thresholds)
    k.evaluate(obs(1000.0), T0)
    k.evaluate(obs(700.0, open_trades=0), T0 + timedelta(minutes=1))
    k.evaluate(obs(700.0, open_trades=0), T0 + timedelta(minutes=2))
    assert k.level is Level.HALTED
    t = k.resume(T0 + timedelta(hours=1), "alice")
    assert (t.old, t.new, t.reason, t.detail) == (
        Level.HALTED, Level.NORMAL, ks.RESUMED, "by alice")
    assert k.evaluate(obs(700.0), T0 + timedelta(hours=1, minutes=1)) is None
    assert k.allows_entries()
    assert KillSwitch(thresholds).resume(T0, "bob") is None  # nothing to resume


def test_store_round_trip_events_and_revision(tmp_path, thresholds):
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.sqlite'}")
    store = KillSwitchStore(engine)
    state, rev = store.load("STR-001")
    assert (state.level, rev) == (Level.NORMAL, 0)
    k = KillSwitch(thresholds, state)
    k.evaluate(obs(1000.0), T0)
    t = k.evaluate(obs(700.0, open_trades=1), T0 + timedelta(minutes=1))
    rev = store.save("STR-001", k.state, T0, t, actor="bot:b1", revision=rev)
    assert rev == 1
    loaded, rev2 = store.load("STR-001")
    assert loaded == k.state and rev2 == 1
    # a person resumed in between: the bot's stale write is refused
    assert store.save("STR-001", loaded, T0, revision=0) is None
    with engine.connect() as conn:
        events = read_events(conn, "STR-001")
    assert [(e.old_level, e.new_level, e.reason, e.actor) for e in events] == [
        ("NORMAL", "FLATTEN", ks.DRAWDOWN, "bot:b1")
    ]
    assert events[0].at == T0 + timedelta(minutes=1)
