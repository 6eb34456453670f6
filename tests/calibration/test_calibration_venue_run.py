"""Calibration on a real run: a LIVE bot with the ExecutionMixin traded the local venue
(tests/calibration/make_fixture.py: 4 spot pairs, an entry signal per pair every 30 min,
6 hours from 2025-10-16 00:00 UTC, stop-loss -1 % on the exchange)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from freqtrade_exec_ext.calibration import apply
from freqtrade_exec_ext.calibration.attempts import entry_attempts, exit_attempts
from freqtrade_exec_ext.calibration.build import CalibrationInput, calibrate
from freqtrade_exec_ext.calibration.features import with_candles
from freqtrade_exec_ext.calibration.sources import load_candles, read_database

START = datetime(2025, 10, 16, tzinfo=UTC)
SIGNALS = 4 * 12  # 4 pairs, every 30 min, 6 hours


@pytest.fixture(scope="module")
def db(venue_url):
    return read_database(venue_url)


def test_the_ledger_is_what_the_venue_filled(db, venue_fills):
    by_order = defaultdict(lambda: [0.0, 0.0])
    for f in venue_fills:
        by_order[f["order_id"]][0] += f["qty"]
        by_order[f["order_id"]][1] += f["qty"] * f["price"]
    assert len(db.records) >= 80
    for r in db.records:
        qty, quote = by_order[r.order_id]
        assert r.filled_amount == pytest.approx(qty, rel=1e-9)
        assert r.fill_price == pytest.approx(quote / qty, rel=1e-9)
    assert db.markets == {("binance", "spot")} and db.timeframes == {"5m"}
    assert db.has_journal


def test_every_signal_is_one_entry_decision(db):
    attempts, measured = entry_attempts(db.records, db.journal, 240)
    assert measured
    assert len(attempts) == SIGNALS
    filled = [a for a in attempts if a.filled]
    assert len(filled) == sum(r.intent == "entry" for r in db.records)
    # a decision's first order goes out when the candle after its signal opens
    for a in attempts:
        assert a.placed_at.second == 2 and a.placed_at.minute % 30 == 5
    unfilled = [a for a in attempts if not a.filled]
    placements = len([p for p in db.journal if p.intent == "entry"])
    assert placements > len(attempts)  # reprices: several orders per decision
    assert all(a.fill_price is None and a.cost_bps is None for a in unfilled)


def test_stop_loss_fills_are_measured_from_their_stop_price(db):
    exits = exit_attempts(db.records, db.stop_orders)
    stops = [a for a in exits if a.stop]
    assert stops, "the -1 % stop fired in these 6 hours"
    for a in stops:
        assert a.decision_price in db.stop_orders.values()
        assert abs(a.slippage_bps) < 5.0  # the venue fills a stop limit near its stop


def test_calibrated_model_matches_the_run(venue_url, datadir):
    m = calibrate(CalibrationInput(urls=[venue_url], datadir=datadir))
    entry = m.cell("entry", "buy", "limit")
    exit_ = m.cell("exit", "sell", "limit")
    assert entry is not None and exit_ is not None
    assert entry.attempts == SIGNALS and entry.attempts_measured
    assert entry.fill_probability.value == pytest.approx(entry.fills / SIGNALS)
    assert sum(b.attempts for b in entry.bins) == SIGNALS
    assert m.provenance.databases == [venue_url]
    assert m.provenance.period_start.startswith("2025-10-16T00:05:02")
    # 6 hours: about 11 fills per pair, below min_fills 20: every pair pooled
    assert all(p.pooled and p.shift_bps == 0 for p in entry.pairs.values())
    assert {c.pair for c in m.provenance.counts if c.pooled} >= set(entry.pairs)
    assert entry.maker_share.value > 0.9  # maker-first entries
    assert 9.0 < entry.fee_rate.value * 1e4 < 11.0  # the venue's 0.1 % spot fee
    assert m.stops and m.stops[0].gap_bps.n > 0


def test_a_backtest_draws_from_the_bin_its_candle_belongs_to(venue_url, datadir, db, tmp_path):
    from freqtrade_exec_ext.calibration.model import save

    m = calibrate(CalibrationInput(urls=[venue_url], datadir=datadir))
    save(m, tmp_path / "m.json")
    costs = apply.load_for_backtest(tmp_path / "m.json", backtest_fee=0.001)
    attempts, _ = entry_attempts(db.records, db.journal, 240)
    series, _ = load_candles(datadir, {a.pair for a in attempts}, "5m",
                             START - timedelta(hours=1), START + timedelta(hours=7),
                             futures=False)
    featured, missing = with_candles(attempts, series)
    assert missing == 0
    cell = m.cell("entry", "buy", "limit")
    for a in featured:
        s = series[a.pair]
        c = s.candle(s.index_at(a.placed_at))
        plan = apply.plan_entry(costs, pair=a.pair, side="buy", order_type="limit",
                                proposed=c.open, decision_price=a.decision_price, candle=c)
        fit_bin = next(b for b in cell.bins if b.contains(a.through_bps, a.candle_up))
        assert plan.bin == apply._bin_name(fit_bin)
