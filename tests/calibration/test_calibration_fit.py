"""Fitting: cells, candle bins, pooling and shrinkage (synthetic attempts with known
answers; the real-ledger checks are in test_calibration_venue_run.py)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import attempt, market

from freqtrade_exec_ext.calibration import stats
from freqtrade_exec_ext.calibration.fit import FitSettings, fit_cell, fit_cells


def test_bins_cover_every_candle_and_recover_the_fill_dependence():
    atts = market(600)
    cell = fit_cell("entry", "buy", "limit", atts, FitSettings(), measured=True)
    for a in atts:  # every attempt falls in exactly one bin
        assert sum(b.contains(a.through_bps, a.candle_up) for b in cell.bins) == 1
    below = [b for b in cell.bins if b.through_hi_bps is not None and b.through_hi_bps <= 0]
    above = [b for b in cell.bins if b.through_lo_bps is not None and b.through_lo_bps >= 0]
    assert below and above
    for b in below:
        assert b.fill_probability.low <= 0.4 <= b.fill_probability.high
    for b in above:
        assert b.fill_probability.value == 1.0
    assert sum(b.attempts for b in cell.bins) == len(atts)


def test_pair_shift_is_shrunk_toward_the_market_and_costs_keep_their_mean():
    atts = market(600)
    s = FitSettings(min_fills=20, shrinkage=20)
    cell = fit_cell("entry", "buy", "limit", atts, s, measured=True)
    fills = [a for a in atts if a.filled]
    overall = np.mean([a.cost_bps for a in fills])
    xrp = [a.cost_bps for a in fills if a.pair == "XRP/USDT"]
    ps = cell.pairs["XRP/USDT"]
    w = stats.shrink_weight(len(xrp), 20)
    assert ps.shift_bps == pytest.approx(w * (np.mean(xrp) - overall))
    # 3 bps dearer than the other two: 2 bps above the mean of all, times w ~ 0.9
    assert 1.4 < ps.shift_bps < 2.3 and not ps.pooled
    # centred costs plus each pair's shift average back to a pair's own mean (shrunk)
    assert np.mean(cell.cost_slices_bps) == pytest.approx(
        overall - sum(cell.pairs[a.pair].shift_bps for a in fills) / len(fills), abs=1e-9)


def test_a_pair_with_few_fills_is_pooled():
    atts = market(300) + [attempt("DOGE/USDT", cost=50.0, i=900 + k) for k in range(5)]
    cell = fit_cell("entry", "buy", "limit", atts, FitSettings(min_fills=20), measured=True)
    assert cell.pairs["DOGE/USDT"].pooled and cell.pairs["DOGE/USDT"].shift_bps == 0.0
    assert cell.pairs["DOGE/USDT"].fills == 5


def test_a_thin_cell_borrows_the_other_side_and_says_so():
    atts = market(300) + [attempt("BTC/USDT", side="sell", i=990 + k) for k in range(4)]
    cells, counts = fit_cells(atts, FitSettings(min_fills=20), measured_entries=True)
    sell = next(c for c in cells if c.side == "sell")
    assert sell.pooled_from == "entry/*/limit" and sell.fills > 4
    row = next(c for c in counts if c.cell == "entry/sell/limit" and c.pair == "*")
    assert row.pooled and "4 fills < min_fills 20" in row.reason


def test_unmeasured_attempts_never_drop_an_entry():
    atts = [a for a in market(300) if a.filled]  # what a dry-run ledger shows
    cell = fit_cell("entry", "buy", "limit", atts, FitSettings(), measured=False)
    assert cell.fill_probability.value == 1.0
    assert all(b.fill_probability.value == 1.0 for b in cell.bins)


def test_partial_fills_are_counted():
    atts = [attempt("BTC/USDT", i=i, ratio=0.6 if i % 4 == 0 else 1.0) for i in range(100)]
    cell = fit_cell("entry", "buy", "limit", atts, FitSettings(), measured=True)
    assert cell.partial_share.value == pytest.approx(0.25)
    assert cell.partial_ratio.value == pytest.approx(0.6)


def _with(a, part, slip):
    from dataclasses import replace

    return replace(a, participation_pct=part, slippage_bps=slip, cost_bps=slip + 10.0)


def test_impact_is_recovered_within_pairs():
    from freqtrade_exec_ext.calibration.fit import fit_slippage

    rng = np.random.default_rng(5)
    fills = []
    for i in range(300):
        pair = ("BTC/USDT", "XRP/USDT")[i % 2]
        part = float(rng.uniform(0.0, 0.5))  # % of candle volume
        fills.append(_with(attempt(pair, i=i), part, 1.0 + 20.0 * part + rng.normal(0, 1)))
    s = fit_slippage(fills)
    assert s.impact_bps_per_pct.low < 20.0 < s.impact_bps_per_pct.high
    assert s.impact_bps_per_pct.low > 0  # applied in backtests


def test_participation_that_only_names_the_pair_is_not_impact():
    from freqtrade_exec_ext.calibration.fit import fit_slippage

    rng = np.random.default_rng(6)
    fills = []
    for i in range(300):  # XRP: bigger share of its candles and dearer, for other reasons
        xrp = i % 2 == 1
        part = float(rng.uniform(0.05, 0.07) if xrp else rng.uniform(0.001, 0.003))
        fills.append(_with(attempt("XRP/USDT" if xrp else "BTC/USDT", i=i), part,
                           (3.0 if xrp else 0.0) + rng.normal(0, 1)))
    s = fit_slippage(fills)
    imp = s.impact_bps_per_pct
    assert imp.low <= 0 <= imp.high  # an across-pair regression would find ~50 bps per 1 %
