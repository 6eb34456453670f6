"""The kill switch end to end: a real LIVE-mode bot (real ccxt over HTTP) on the local
exchange, venue and bot on one virtual clock, through a scripted crash.

The strategy enters every pair and never exits by signal (``use_exit_signal = False``);
its contract is STR-001's with a wide stop (20%) and a fixed stake of 300 USDT, so three
trades hold 900 USDT of the 1000 USDT capital.  The crash: every price falls 8% into
10:10 and 4.3% more into 10:15 (12% in all), far above the stops: Freqtrade's own
protections see nothing (no trade closed), the loss is all unrealised.

Stated bounds: REDUCING within 2 bot loops (15 s each) of the first fall (day's loss
about 5.7% >= limits.daily_loss_limit 5%), FLATTEN within 2 loops of the second (about
9.4% >= 7.5% = flatten_ratio 1.5 x 5%), flat and HALTED within 6 loops after FLATTEN;
HALTED again after a restart, with no new entry although the strategy signals on every
candle, until ``freqtrade-exec resume STR-001``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from freqtrade_exec_ext.cli.main import main as cli
from freqtrade_exec_ext.execution.killswitch import Level

from .opsbots import contract_with, copy_strategy, crash_datadir, use

pytestmark = pytest.mark.slow

START = datetime(2025, 10, 16, 9, 40, tzinfo=UTC)
GAP1 = datetime(2025, 10, 16, 10, 10, tzinfo=UTC)
GAP2 = datetime(2025, 10, 16, 10, 15, tzinfo=UTC)
PAIRS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
STEP_S = 15
DEBUG = False


def level(lb: Any) -> Level:
    return lb.bot.strategy.exec_ext_ops.ks.level


def data_time(lb: Any) -> datetime:
    """The replayed market time the venue serves now."""
    return datetime.fromtimestamp(lb.ex.venue.data_time() / 1000, tz=UTC)


@pytest.fixture
def crash_bot(mocker, tmp_path):
    from e2e.live_harness import LiveBot

    datadir = crash_datadir(tmp_path / "data" / "binance", [(GAP1, 0.92), (GAP2, 0.957)])
    contract = contract_with(
        tmp_path / "contracts", orders={"max_reprices": 0}, stop_loss={"stoploss": -0.2},
        sizing={"method": "fixed_stake", "fixed_stake": 300, "min_stake": 10,
                "max_stake": 300},
    )
    use(mocker, datadir=datadir, contract=contract)
    made: list[Any] = []

    def make() -> Any:
        lb = LiveBot(mocker, tmp_path, start_at=START, seconds_into_candle=3, pairs=PAIRS,
                     strategy="OpsAlwaysIn",
                     strategy_path=copy_strategy("OpsAlwaysIn", tmp_path / "strategies"))
        made.append(lb)
        return lb

    yield make
    for lb in made:
        lb.stop()


def test_crash_reduces_then_flattens_and_stays_halted_across_a_restart(crash_bot, capsys):
    lb = crash_bot()
    lb.start_bot()
    log: list[str] = []
    loops = 0
    seen: dict[Level, int] = {}

    def loop() -> None:
        nonlocal loops
        before = level(lb)
        lb.step(advance_s=STEP_S)
        loops += 1
        after = level(lb)
        if DEBUG:
            eq = lb.bot.strategy.exec_ext_ops.metrics._c("equity_quote")._value.get()
            print(f"DBG loop {loops} {data_time(lb):%H:%M:%S} equity {eq:.2f} "
                  f"price {lb.ex.venue.book('spot', 'BTCUSDT').bids[0]}")
        if after is not before:
            seen[after] = loops
            st = lb.bot.strategy.exec_ext_ops.ks.state
            log.append(f"loop {loops:3d} market {data_time(lb):%H:%M:%S} {before.name} -> "
                       f"{after.name}: {st.reason}: {st.detail}")

    # the strategy's three entries fill before the crash
    while len([t for t in lb.trades() if t.is_open and t.amount]) < 3:
        assert data_time(lb) < GAP1 - timedelta(minutes=5), "entries did not fill in time"
        loop()
    log.append(f"loop {loops:3d} market {data_time(lb):%H:%M:%S} 3 trades open: " + ", ".join(
        f"{t.pair} {t.stake_amount:.0f} USDT at {t.open_rate:g}" for t in lb.trades()))
    while data_time(lb) + timedelta(seconds=STEP_S) < GAP1:
        loop()
        assert level(lb) is Level.NORMAL
    gap1_loop = loops  # the next loop is the first one past the fall
    while data_time(lb) < GAP2:
        loop()
    assert Level.REDUCING in seen and seen[Level.REDUCING] - gap1_loop <= 2
    assert Level.FLATTEN not in seen or seen[Level.FLATTEN] == loops
    gap2_loop = loops - 1  # the loop that crossed GAP2 counts as the first
    while Level.HALTED not in seen:
        loop()
        assert loops - gap2_loop <= 2 + 6, "not flat and HALTED within the stated loops"
    assert seen[Level.FLATTEN] - gap2_loop <= 2
    assert seen[Level.HALTED] - seen[Level.FLATTEN] <= 6

    trades = lb.trades()
    assert len(trades) == 3 and not any(t.is_open for t in trades)
    text = lb.bot.strategy.exec_ext_ops.metrics.exposition()[0].decode()
    assert "exec_ext_kill_switch_level 3.0" in text
    assert 'exec_ext_kill_switch_transitions_total{reason="KS_FLATTENED",to="HALTED"} 1.0' in text
    assert {t.exit_reason for t in trades} == {"kill_switch_flatten"}
    # the stop-limits were cancelled by Freqtrade before the exits, none filled
    stops = [o for p in ("BTCUSDT", "ETHUSDT", "SOLUSDT") for o in lb.venue_orders(p)
             if o.type == "STOP_LOSS_LIMIT"]
    assert stops and all(o.status == "CANCELED" for o in stops)
    loss = sum(t.close_profit_abs for t in trades)
    log.append(f"flat: realized {loss:.2f} USDT ({loss / 10:.2f}% of capital); exits "
               + ", ".join(f"{t.pair} at {t.close_rate:g}" for t in trades))
    events = lb.bot.strategy.exec_ext_ops.store
    from freqtrade_exec_ext.store.killswitch import read_events

    with events.engine.connect() as conn:
        rows = read_events(conn, "STR-001")
    assert [(e.old_level, e.new_level) for e in rows] == [
        ("NORMAL", "REDUCING"), ("REDUCING", "FLATTEN"), ("FLATTEN", "HALTED")]

    # the process dies and comes back: still HALTED, no entry despite signals every candle
    lb.kill()
    lb.start_bot()
    assert level(lb) is Level.HALTED
    for _ in range(8):
        loop()
    assert len(lb.trades()) == 3
    assert level(lb) is Level.HALTED
    log.append(f"restart: HALTED, {8} loops, no new trade (signals on every candle)")

    # a person resumes; the bot trades again
    capsys.readouterr()
    assert cli(["resume", "STR-001", "--db", f"sqlite:///{lb.db}", "--by", "ops-test"]) == 0
    out = capsys.readouterr().out
    log.append(f"resume: {out.strip()}")
    loop()
    assert level(lb) is Level.NORMAL
    while len(lb.trades()) <= 3:
        assert loops < 400, "no entry after resume"
        loop()
    log.append(f"loop {loops:3d} market {data_time(lb):%H:%M:%S}: entries again after "
               f"resume ({len(lb.trades())} trades)")
    with events.engine.connect() as conn:
        rows = read_events(conn, "STR-001")
    assert (rows[-1].new_level, rows[-1].actor) == ("NORMAL", "person:ops-test")
    print("\nkill switch e2e transcript:\n  " + "\n  ".join(log))
    print("  events table (bot clock):\n    " + "\n    ".join(
        f"{e.at:%H:%M:%S} {e.old_level} -> {e.new_level} {e.reason} ({e.actor}): {e.detail}"
        for e in rows))
