"""Fit an :class:`~freqtrade_exec_ext.calibration.model.ExecutionModel` from attempts (pure).

Cells are (intent, side, order type), pooled over the market's pairs.  A pair's own level
enters as a shift of the mean cost, shrunk toward the cell's by ``n / (n + shrinkage)``;
costs are centred on their pair's shift before the cell's distributions are taken, so the
bins describe the path and the pairs their level.  A cell with fewer than ``min_fills``
fills borrows the attempts of both sides of its intent and order type.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from freqtrade_exec_ext.calibration import stats
from freqtrade_exec_ext.calibration.attempts import Attempt
from freqtrade_exec_ext.calibration.model import (
    SLICES,
    THROUGH_EDGES_BPS,
    Bin,
    Cell,
    CellCount,
    Estimate,
    PairShift,
    Slippage,
    StopGap,
    cell_key,
)

MIN_IMPACT_PCT = 0.05  # largest participation (% of candle volume) that lets impact show


@dataclass(frozen=True)
class FitSettings:
    min_fills: int = 20
    shrinkage: float = 20.0
    min_bin: int = 15
    slices: int = SLICES


def estimate(value: float, low: float | None, high: float | None, n: int) -> Estimate:
    def clean(x: float | None) -> float | None:
        return None if x is None or not math.isfinite(x) else float(x)

    return Estimate(value=float(value), low=clean(low), high=clean(high), n=int(n))


def _mean_est(values: Sequence[float]) -> Estimate | None:
    if not values:
        return None
    m, lo, hi = stats.mean_ci(values)
    return estimate(m, lo, hi, len(values))


def _median_est(values: Sequence[float]) -> Estimate | None:
    if not values:
        return None
    m, lo, hi = stats.median_ci(values)
    return estimate(m, lo, hi, len(values))


def _share(k: int, n: int) -> Estimate:
    p, lo, hi = stats.wilson(k, n)
    return estimate(p, lo, hi, n)


# ---------------------------------------------------------------------------- pairs
def pair_shifts(
    fills: Sequence[Attempt], s: FitSettings, *, measured: bool, attempts: Sequence[Attempt] = ()
) -> dict[str, PairShift]:
    """Per pair: its mean cost and the shrunk shift from the cell's mean."""
    costs = [a.cost_bps for a in fills if a.cost_bps is not None]
    overall = float(np.mean(costs)) if costs else 0.0
    by_pair: dict[str, list[Attempt]] = defaultdict(list)
    for a in fills:
        by_pair[a.pair].append(a)
    tried: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        tried[a.pair].append(a)
    out: dict[str, PairShift] = {}
    for pair in sorted(set(by_pair) | set(tried)):
        own = [a.cost_bps for a in by_pair[pair] if a.cost_bps is not None]
        mean = float(np.mean(own)) if own else overall
        pooled = len(own) < s.min_fills
        shift = 0.0 if pooled else stats.shrink_weight(len(own), s.shrinkage) * (mean - overall)
        halves = [a.half_spread_bps for a in by_pair[pair] if a.half_spread_bps is not None]
        fees = [a.fee_rate for a in by_pair[pair] if a.fee_rate is not None]
        n_try = len(tried[pair])
        out[pair] = PairShift(
            fills=len(by_pair[pair]),
            mean_cost_bps=mean,
            shift_bps=shift,
            pooled=pooled,
            half_spread_bps=_mean_est(halves),
            fee_rate=_mean_est(fees),
            fill_probability=_share(sum(a.filled for a in tried[pair]), n_try)
            if measured and n_try
            else None,
        )
    return out


# ---------------------------------------------------------------------------- bins
def _ranges() -> list[tuple[float | None, float | None]]:
    edges: list[float | None] = [None, *THROUGH_EDGES_BPS, None]
    return list(itertools.pairwise(edges))


def _in(a: Attempt, lo: float | None, hi: float | None) -> bool:
    t = a.through_bps
    return t is not None and (lo is None or t >= lo) and (hi is None or t < hi)


def _merged_ranges(
    group: Sequence[Attempt], min_bin: int
) -> list[tuple[float | None, float | None]]:
    """The fixed ranges, neighbours merged until each holds ``min_bin`` attempts."""
    merged: list[tuple[float | None, float | None]] = []
    count = 0
    start: float | None = None  # the bins cover -inf..+inf without a gap
    ranges = _ranges()
    for i, (lo, hi) in enumerate(ranges):
        count += sum(1 for a in group if _in(a, lo, hi))
        if count >= min_bin or i == len(ranges) - 1:
            merged.append((start, hi))
            start, count = hi, 0
    if len(merged) > 1:  # a thin last range joins the one before it
        last_lo, last_hi = merged[-1]
        if sum(1 for a in group if _in(a, last_lo, last_hi)) < min_bin:
            merged[-2:] = [(merged[-2][0], last_hi)]
    return merged


def build_bins(
    attempts: Sequence[Attempt], centred: dict[int, float], s: FitSettings, *, measured: bool
) -> list[Bin]:
    """Bins over how far the order's candle traded through the decision price (and its
    direction when both directions have enough attempts)."""
    known = [a for a in attempts if a.through_bps is not None and a.candle_up is not None]
    if len(known) < s.min_bin:
        return [_bin(list(attempts), None, None, "any", centred, s, measured=measured)]
    ups = [a for a in known if a.candle_up]
    downs = [a for a in known if not a.candle_up]
    if min(len(ups), len(downs)) >= 2 * s.min_bin:
        groups = [("up", ups), ("down", downs)]
    else:
        groups = [("any", known)]
    out = []
    for direction, group in groups:
        for lo, hi in _merged_ranges(group, s.min_bin):
            members = [a for a in group if _in(a, lo, hi)]
            out.append(_bin(members, lo, hi, direction, centred, s, measured=measured))
    return out


def _bin(
    members: list[Attempt],
    lo: float | None,
    hi: float | None,
    direction: str,
    centred: dict[int, float],
    s: FitSettings,
    *,
    measured: bool,
) -> Bin:
    fills = [a for a in members if a.filled]
    costs = [centred[id(a)] for a in fills if id(a) in centred]
    partial = [a.filled_ratio for a in fills if a.filled_ratio < 1.0 - 1e-9]
    ttf = [a.time_to_fill_s for a in fills if a.time_to_fill_s is not None]
    prob = _share(len(fills), len(members)) if measured else estimate(1.0, None, None, len(fills))
    return Bin(
        through_lo_bps=lo,
        through_hi_bps=hi,
        candle=direction,  # type: ignore[arg-type]
        attempts=len(members),
        fills=len(fills),
        fill_probability=prob,
        cost_slices_bps=stats.slices(costs, s.slices),
        partial_share=len(partial) / len(fills) if fills else 0.0,
        partial_ratio=float(np.mean(partial)) if partial else 1.0,
        time_to_fill_s=_median_est(ttf),
    )


# ---------------------------------------------------------------------------- slippage
def fit_slippage(fills: Sequence[Attempt]) -> Slippage:
    """Decision-to-fill slippage as delay + impact x participation (% of candle volume).

    Impact is estimated within pairs (participation and slippage centred on each pair's
    means): across pairs, participation mostly says which pair it is (smaller pairs have
    smaller candles and wider ticks), which the pair shift already carries.
    """
    pts = [
        (a.pair, a.participation_pct, a.slippage_bps)
        for a in fills
        if a.slippage_bps is not None and a.participation_pct is not None
    ]
    slips = [a.slippage_bps for a in fills if a.slippage_bps is not None]
    delay = _mean_est(slips) or estimate(0.0, None, None, 0)
    if not pts:
        return Slippage(delay_bps=delay, note="no candle volumes: impact not fitted")
    largest = max(x for _, x, _ in pts)
    mean_part = float(np.mean([x for _, x, _ in pts]))
    if len(pts) < 10 or largest < MIN_IMPACT_PCT:
        return Slippage(
            delay_bps=delay,
            mean_participation_pct=mean_part,
            note=f"largest order was {largest:.4f}% of its candle's volume: impact not "
            "identifiable (charged through the measured costs only)",
        )
    by_pair: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for pair, x, y in pts:
        by_pair[pair].append((x, y))
    xs, ys = [], []
    for group in by_pair.values():
        mx, my = np.mean([x for x, _ in group]), np.mean([y for _, y in group])
        xs += [float(x - mx) for x, _ in group]
        ys += [float(y - my) for _, y in group]
    try:
        _, b, _, se_b, n = stats.ols(xs, ys)
    except ValueError as exc:
        return Slippage(
            delay_bps=delay, mean_participation_pct=mean_part, note=f"impact not fitted: {exc}"
        )
    z = stats.Z95
    return Slippage(
        delay_bps=delay,
        impact_bps_per_pct=estimate(b, b - z * se_b, b + z * se_b, n),
        mean_participation_pct=mean_part,
        note=f"within pairs; participation up to {largest:.3f}% of candle volume",
    )


# ---------------------------------------------------------------------------- cells
def fit_cell(
    intent: str,
    side: str,
    order_type: str,
    attempts: Sequence[Attempt],
    s: FitSettings,
    *,
    measured: bool,
    pooled_from: str = "",
) -> Cell:
    fills = [a for a in attempts if a.filled]
    pairs = pair_shifts(fills, s, measured=measured, attempts=attempts)
    centred = {id(a): a.cost_bps - pairs[a.pair].shift_bps for a in fills if a.cost_bps is not None}
    partial = [a.filled_ratio for a in fills if a.filled_ratio < 1.0 - 1e-9]
    liq = [a.liquidity for a in fills if a.liquidity in ("maker", "taker")]
    fees = [a.fee_rate for a in fills if a.fee_rate is not None]
    halves = [a.half_spread_bps for a in fills if a.half_spread_bps is not None]
    ttf = [a.time_to_fill_s for a in fills if a.time_to_fill_s is not None]
    prob = _share(len(fills), len(attempts)) if measured else estimate(1.0, None, None, len(fills))
    return Cell(
        intent=intent,  # type: ignore[arg-type]
        side=side,  # type: ignore[arg-type]
        order_type=order_type,
        attempts=len(attempts),
        fills=len(fills),
        attempts_measured=measured,
        pooled_from=pooled_from,
        bins=build_bins(attempts, centred, s, measured=measured),
        cost_slices_bps=stats.slices(list(centred.values()), s.slices),
        half_spread_bps=_mean_est(halves),
        slippage=fit_slippage(fills),
        fee_rate=_mean_est(fees) or estimate(0.0, None, None, 0),
        maker_share=_share(sum(1 for x in liq if x == "maker"), len(liq)),
        fill_probability=prob,
        time_to_fill_s=_median_est(ttf),
        partial_share=_share(len(partial), len(fills)),
        partial_ratio=_mean_est(partial),
        pairs=pairs,
    )


def fit_cells(
    attempts: Sequence[Attempt], s: FitSettings, *, measured_entries: bool
) -> tuple[list[Cell], list[CellCount]]:
    """One cell per (intent, side, order type) seen; thin cells pooled over both sides."""
    groups: dict[tuple[str, str, str], list[Attempt]] = defaultdict(list)
    for a in attempts:
        if not a.stop:
            groups[(a.intent, a.side, a.order_type)].append(a)
    cells: list[Cell] = []
    counts: list[CellCount] = []
    for (intent, side, otype), members in sorted(groups.items()):
        measured = measured_entries if intent == "entry" else True
        n_fills = sum(a.filled for a in members)
        source, pooled_from = members, ""
        if n_fills < s.min_fills:
            both = [a for (i, _, t), g in groups.items() if i == intent and t == otype for a in g]
            if len(both) > len(members):
                source, pooled_from = both, cell_key(intent, "*", otype)
        cell = fit_cell(intent, side, otype, source, s, measured=measured, pooled_from=pooled_from)
        cells.append(cell)
        reason = (
            f"{n_fills} fills < min_fills {s.min_fills}: pooled with {pooled_from}"
            if pooled_from
            else ""
        )
        counts.append(
            CellCount(
                cell=cell.key,
                pair="*",
                fills=n_fills,
                attempts=len(members),
                pooled=bool(pooled_from),
                reason=reason,
            )
        )
        for pair, ps in cell.pairs.items():
            own = [a for a in members if a.pair == pair]
            counts.append(
                CellCount(
                    cell=cell.key,
                    pair=pair,
                    fills=sum(a.filled for a in own),
                    attempts=len(own),
                    pooled=ps.pooled,
                    reason=f"{ps.fills} fills < min_fills {s.min_fills}: the market's numbers"
                    if ps.pooled
                    else "",
                )
            )
    return cells, counts


def fit_stops(attempts: Sequence[Attempt], s: FitSettings) -> list[StopGap]:
    out = []
    by_side: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        if a.stop and a.slippage_bps is not None:
            by_side[a.side].append(a)
    for side, group in sorted(by_side.items()):
        gaps = [a.slippage_bps for a in group if a.slippage_bps is not None]
        fees = [a.fee_rate for a in group if a.fee_rate is not None]
        pairs = pair_shifts([_as_gap(a) for a in group], s, measured=True)
        out.append(
            StopGap(
                side=side,  # type: ignore[arg-type]
                gap_bps=_mean_est(gaps) or estimate(0.0, None, None, 0),
                gap_slices_bps=stats.slices(gaps, s.slices),
                fee_rate=_mean_est(fees),
                pairs=pairs,
            )
        )
    return out


def _as_gap(a: Attempt) -> Attempt:
    from dataclasses import replace

    return replace(a, cost_bps=a.slippage_bps)
