"""What ``calibrate`` prints: the model in words and numbers (pure)."""

from __future__ import annotations

from freqtrade_exec_ext.calibration import stats
from freqtrade_exec_ext.calibration.apply import _bin_name
from freqtrade_exec_ext.calibration.model import Cell, Estimate, ExecutionModel


def _pct(e: Estimate | None) -> str:
    if e is None:
        return "n/a"
    if e.low is None or e.high is None:
        return f"{e.value:.1%} (n={e.n})"
    return f"{e.value:.1%} [{e.low:.1%}, {e.high:.1%}] (n={e.n})"


def _bps(e: Estimate | None) -> str:
    return "n/a" if e is None else e.text(".2f") + " bps"


def _median(qs: list[float]) -> str:
    return f"{stats.slices_median(qs):.2f}" if qs else "n/a"


def cell_lines(c: Cell) -> list[str]:
    pooled = f" (pooled with {c.pooled_from}: too few fills of its own)" if c.pooled_from else ""
    prob = _pct(c.fill_probability) if c.attempts_measured else "not measured (no journal)"
    ttf = c.time_to_fill_s.text(".0f") + " s" if c.time_to_fill_s else "n/a"
    imp = c.slippage.impact_bps_per_pct
    if imp is None:
        impact = "impact: " + (c.slippage.note or "not fitted")
    else:
        shown = imp.low is not None and imp.low > 0
        impact = (
            f"impact {imp.text('.2f')} bps per 1% of candle volume ("
            + ("applied" if shown else "not distinguishable from 0: not applied")
            + ")"
        )
    lines = [
        f"cell {c.key}: {c.attempts} attempts, {c.fills} fills{pooled}",
        f"  fill probability within the timeout {prob}; median time to fill {ttf}; "
        f"partial fills {_pct(c.partial_share)}"
        + (f", mean filled ratio {c.partial_ratio.value:.0%}" if c.partial_ratio else ""),
        (
            f"  cost (slippage + fee) median {_median(c.cost_slices_bps)} bps; "
            f"slippage delay {_bps(c.slippage.delay_bps)}; {impact}"
        ),
        (
            f"  arrival half-spread {_bps(c.half_spread_bps)}; fee rate "
            f"{c.fee_rate.value:.4%}; maker share {_pct(c.maker_share)}"
        ),
    ]
    for b in c.bins:
        lines.append(
            f"  bin {_bin_name(b) or 'all'}: {b.attempts} attempts, {b.fills} fills, fill "
            f"probability {b.fill_probability.value:.2f}, median cost "
            f"{_median(b.cost_slices_bps)} bps"
            + (f", median time to fill {b.time_to_fill_s.value:.0f} s" if b.time_to_fill_s else "")
        )
    for pair, p in sorted(c.pairs.items()):
        state = "pooled (fewer than min_fills)" if p.pooled else f"shift {p.shift_bps:+.2f} bps"
        lines.append(
            f"  pair {pair}: {p.fills} fills, mean cost {p.mean_cost_bps:.2f} bps, "
            f"{state}; fill probability {_pct(p.fill_probability)}"
        )
    return lines


def model_lines(m: ExecutionModel) -> list[str]:
    p = m.provenance
    lines = [
        (
            f"execution model: {m.market}, {m.timeframe or '?'} candles, {p.fills} fills of "
            f"{p.attempts} attempts by {', '.join(p.strategies) or '?'}, "
            f"{p.period_start} .. {p.period_end}"
        ),
        f"databases: {', '.join(p.databases)}",
        f"candles: {p.candles}",
        f"pooling: min_fills {m.min_fills}, shrinkage {m.shrinkage:g}; seed {m.seed}; "
        f"backtest fee default (highest realised rate) "
        + (f"{m.taker_fee_rate:.4%}" if m.taker_fee_rate is not None else "n/a"),
    ]
    for c in m.cells:
        lines += cell_lines(c)
    for s in m.stops:
        lines.append(
            f"stop-loss ({s.side}) trigger-to-fill gap {_bps(s.gap_bps)}; fee "
            + (f"{s.fee_rate.value:.4%}" if s.fee_rate else "n/a")
        )
    if not m.stops:
        lines.append("stop-loss trigger-to-fill gap: no stop-loss fills in the data")
    pooled = [c for c in p.counts if c.pooled]
    for row in pooled:
        where = row.cell if row.pair == "*" else f"{row.cell} {row.pair}"
        lines.append(f"pooled: {where}: {row.reason}")
    lines += [f"note: {n}" for n in p.notes]
    return lines
