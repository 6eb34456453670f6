"""The execution model in a backtest: pure functions the strategy mixin calls.

Freqtrade fills a backtest limit order exactly at its price when the candle's range
contains it, at one fee rate, always in full.  The mixin reaches three points where the
model can act, and calls one function at each:

* the price of a new limit entry (``custom_entry_price``) and of a signal exit
  (``custom_exit_price``): :func:`plan_entry` / :func:`plan_exit` return the price that
  makes Freqtrade charge the modelled cost of that fill: a cost drawn from the model's
  distribution for the order's cell, its pair and what the candle it is placed in did
  (its low/high/open/close, which Freqtrade's own fill check uses too), minus the fee the
  backtest charges anyway (so maker/taker fees are modelled through the price);
* the entry timeout (``check_entry_timeout``): :func:`cancel_entry` is True for an entry
  the model says would not have filled.  :func:`plan_entry` placed that order where the
  candle never traded, so it is still open and this cancels it at the first check: a
  path Freqtrade supports (the trade is removed, as a timed-out entry is);
* the start of the backtest (``bot_start``): :func:`startup_lines` say what is modelled
  and from which file, fills and period.

A partial fill at the timeout (the model's partial-fill share and ratio) is planned as
``fill_ratio`` < 1: the mixin's stake callback may scale the stake by it; a ratio below
the contract's ``min_fill_ratio`` is no fill (the mixin would exit such a fill at once).

Every draw is deterministic (see :class:`Draws`): the same seed and the same backtest
give the same fills and prices.  Nothing here knows Freqtrade.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from freqtrade_exec_ext.calibration import stats
from freqtrade_exec_ext.calibration.features import Candle, participation_pct, through_bps
from freqtrade_exec_ext.calibration.model import Bin, Cell, ExecutionModel, load

PARK_BPS = 10.0  # a "no fill" entry rests this far beyond the candle's range
PARK_FAR = 0.5  # without a candle: half (or 1.5x) the price


GOLDEN = (5**0.5 - 1) / 2


class Draws:
    """The uniforms a backtest draws from: per stream (cell, candle bin, purpose) the
    quasi-random sequence ``frac(phase + k x 0.618...)``, its phase from the seed.

    Over the ``n`` orders of a stream the share of fills and the costs follow the model's
    distributions to within about one order (independent draws would be off by ~sqrt(n)),
    so the backtest's result reflects the model, not the luck of its draws.  Deterministic:
    the same seed and the same backtest give the same draws.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._k: dict[tuple[str, ...], int] = {}

    def reset(self) -> None:
        self._k.clear()

    def next(self, *stream: str) -> float:
        k = self._k.get(stream, 0)
        self._k[stream] = k + 1
        return (stats.uniform(self.seed, *stream) + k * GOLDEN) % 1.0


@dataclass(frozen=True)
class BacktestCosts:
    """A model ready for one backtest (``draws`` keeps the draw counters)."""

    model: ExecutionModel
    source: str
    backtest_fee: float  # the rate Freqtrade's backtest charges on every fill
    seed: int
    min_fill_ratio: float = 0.0
    draws: Draws = field(default_factory=lambda: Draws(0))


def model_path(contract_file: str | Path, value: str) -> Path:
    """The contract's ``slippage.backtest_model``: relative to the contract's folder."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else Path(contract_file).parent / p


def load_for_backtest(
    path: str | Path,
    *,
    backtest_fee: float | None,
    min_fill_ratio: float = 0.0,
    seed: int | None = None,
) -> BacktestCosts:
    """Read the model (ModelError, one line, when it cannot be used).

    ``backtest_fee``: the config's ``fee``; None when the config has none, and then
    Freqtrade charges the market's worst fee, taken here as the model's highest realised
    (taker) rate.
    """
    model = load(path)
    fee = backtest_fee if backtest_fee is not None else (model.taker_fee_rate or 0.0)
    used = model.seed if seed is None else seed
    return BacktestCosts(
        model=model,
        source=str(path),
        backtest_fee=float(fee),
        seed=used,
        min_fill_ratio=min_fill_ratio,
        draws=Draws(used),
    )


@dataclass(frozen=True)
class Plan:
    price: float  # the order price to hand to Freqtrade
    fills: bool  # the model says this order fills (exits always do)
    fill_ratio: float  # share of the amount that fills
    cost_bps: float  # modelled slippage + fee vs the decision price, bps (positive = cost)
    charged_bps: float  # the price's move vs the decision price (cost - backtest fee)
    cell: str  # the model cell used, "" when none: the fallback was charged
    bin: str  # which part of the cell (candle through the price), "" when unconditioned
    note: str = ""

    def as_ctx(self) -> dict[str, Any]:
        return asdict(self)


def cancel_entry(plan: Any) -> bool:
    """``check_entry_timeout``: True for an entry the model said would not fill."""
    if isinstance(plan, Plan):
        return not plan.fills
    return isinstance(plan, dict) and plan.get("fills") is False


def _bin_for(cell: Cell, through: float | None, up: bool | None) -> Bin | None:
    if through is None or up is None:
        return None
    return next((b for b in cell.bins if b.contains(through, up)), None)


def _bin_name(b: Bin | None) -> str:
    if b is None:
        return ""
    lo = "-inf" if b.through_lo_bps is None else f"{b.through_lo_bps:g}"
    hi = "+inf" if b.through_hi_bps is None else f"{b.through_hi_bps:g}"
    return f"{b.candle} candle, through [{lo}, {hi}) bps"


def _adverse(side: str, ref: float, bps: float) -> float:
    f = bps / 10_000.0
    return ref * (1.0 + f) if side == "buy" else ref * (1.0 - f)


def _inside(side: str, price: float, candle: Candle | None) -> float:
    """A fill price Freqtrade's candle check accepts, moved toward the cost side."""
    if candle is None:
        return price
    if side == "buy":
        return min(max(price, candle.low), candle.high)
    return max(min(price, candle.high), candle.low)


def _park(side: str, ref: float, candle: Candle | None) -> float:
    f = PARK_BPS / 10_000.0
    if candle is None:
        return ref * PARK_FAR if side == "buy" else ref * (2.0 - PARK_FAR)
    return min(ref, candle.low) * (1.0 - f) if side == "buy" else max(ref, candle.high) * (1.0 + f)


def _impact(cell: Cell, candle: Candle | None, notional: float | None) -> float:
    imp = cell.slippage.impact_bps_per_pct
    mean = cell.slippage.mean_participation_pct
    if imp is None or mean is None or imp.low is None or imp.low <= 0 or candle is None:
        return 0.0  # only an impact the fills showed beyond doubt
    part = participation_pct(notional, candle)
    return 0.0 if part is None else imp.value * (part - mean)


def _slices(cell: Cell, b: Bin | None) -> list[float]:
    return b.cost_slices_bps if b is not None and b.cost_slices_bps else cell.cost_slices_bps


def _cost(
    costs: BacktestCosts,
    cell: Cell,
    b: Bin | None,
    pair: str,
    candle: Candle | None,
    notional: float | None,
) -> float:
    qs = _slices(cell, b)
    u = costs.draws.next(cell.key, _bin_name(b), "cost")
    drawn = stats.slice_at(qs, u) if qs else 0.0
    shift = cell.pairs[pair].shift_bps if pair in cell.pairs else 0.0
    return drawn + shift + _impact(cell, candle, notional)


def _fallback(side: str, ref: float, bps: float, why: str) -> Plan:
    return Plan(
        price=_adverse(side, ref, bps),
        fills=True,
        fill_ratio=1.0,
        cost_bps=bps,
        charged_bps=bps,
        cell="",
        bin="",
        note=why,
    )


def _features(side: str, ref: float, candle: Candle | None) -> tuple[float | None, bool | None]:
    if candle is None:
        return None, None
    return through_bps(side, ref, candle), candle.close >= candle.open


def plan_entry(
    costs: BacktestCosts,
    *,
    pair: str,
    side: str,
    order_type: str,
    proposed: float,
    decision_price: float | None,
    candle: Candle | None = None,
    notional: float | None = None,
    fallback_bps: float = 0.0,
) -> Plan:
    """A new entry: does it fill, how much, and at which price."""
    ref = decision_price or proposed
    cell = costs.model.cell("entry", side, order_type)
    if cell is None:
        return _fallback(
            side, proposed, fallback_bps, f"no entry/{side} cell in the model: backtest_bps charged"
        )
    through, up = _features(side, ref, candle)
    b = _bin_for(cell, through, up)
    prob = (b.fill_probability if b is not None else cell.fill_probability).value
    u_fill = costs.draws.next(cell.key, _bin_name(b), "fill")
    if u_fill >= prob:
        return Plan(
            price=_park(side, ref, candle),
            fills=False,
            fill_ratio=0.0,
            cost_bps=0.0,
            charged_bps=0.0,
            cell=cell.key,
            bin=_bin_name(b),
            note=f"no fill (p={prob:.2f})",
        )
    ratio = 1.0
    share, partial = (
        (b.partial_share, b.partial_ratio)
        if b is not None
        else (cell.partial_share.value, cell.partial_ratio.value if cell.partial_ratio else 1.0)
    )
    if costs.draws.next(cell.key, _bin_name(b), "partial") < share:
        ratio = partial
        if ratio < costs.min_fill_ratio:
            return Plan(
                price=_park(side, ref, candle),
                fills=False,
                fill_ratio=0.0,
                cost_bps=0.0,
                charged_bps=0.0,
                cell=cell.key,
                bin=_bin_name(b),
                note=f"partial fill {ratio:.0%} below min_fill_ratio",
            )
    cost = _cost(costs, cell, b, pair, candle, notional)
    charged = cost - costs.backtest_fee * 10_000.0
    price = _inside(side, _adverse(side, ref, charged), candle)
    return Plan(
        price=price,
        fills=True,
        fill_ratio=ratio,
        cost_bps=cost,
        charged_bps=charged,
        cell=cell.key,
        bin=_bin_name(b),
    )


def plan_exit(
    costs: BacktestCosts,
    *,
    pair: str,
    side: str,
    order_type: str,
    proposed: float,
    decision_price: float | None,
    candle: Candle | None = None,
    notional: float | None = None,
    fallback_bps: float = 0.0,
) -> Plan:
    """A signal exit's price (exits always fill: the contract escalates a timed-out exit
    to a market order, and the measured exit costs include those)."""
    ref = decision_price or proposed
    cell = costs.model.cell("exit", side, order_type)
    if cell is None:
        return _fallback(
            side, proposed, fallback_bps, f"no exit/{side} cell in the model: backtest_bps charged"
        )
    through, up = _features(side, ref, candle)
    b = _bin_for(cell, through, up)
    cost = _cost(costs, cell, b, pair, candle, notional)
    charged = cost - costs.backtest_fee * 10_000.0
    price = _inside(side, _adverse(side, ref, charged), candle)
    return Plan(
        price=price,
        fills=True,
        fill_ratio=1.0,
        cost_bps=cost,
        charged_bps=charged,
        cell=cell.key,
        bin=_bin_name(b),
    )


def beyond_candle_bps(
    costs: BacktestCosts,
    *,
    pair: str,
    intent: str,
    side: str,
    decision_price: float,
    candle: Candle,
    order_type: str = "limit",
) -> float:
    """The part of a modelled fill Freqtrade could not charge, in expectation (bps).

    Freqtrade fills a backtest order only inside its candle's range, so :func:`plan_entry`
    and :func:`plan_exit` clamp the modelled price there; a real exit that escalated to a
    market order later, for one, cost more than the candle allows.  This is the model's
    expected cost minus the expected clamped cost for that candle (``rescore`` adds it).
    """
    cell = costs.model.cell(intent, side, order_type)
    if cell is None or decision_price <= 0:
        return 0.0
    through, up = _features(side, decision_price, candle)
    b = _bin_for(cell, through, up)
    qs = _slices(cell, b)
    if not qs:
        return 0.0
    shift = cell.pairs[pair].shift_bps if pair in cell.pairs else 0.0
    charged = np.asarray(qs) + shift - costs.backtest_fee * 10_000.0
    d = decision_price
    if side == "buy":
        lo, hi = (candle.low - d) / d * 1e4, (candle.high - d) / d * 1e4
    else:
        lo, hi = (d - candle.high) / d * 1e4, (d - candle.low) / d * 1e4
    return float(np.mean(charged - np.clip(charged, lo, hi)))


def startup_lines(costs: BacktestCosts) -> list[str]:
    """What the backtest models and from what (the mixin logs these at bot_start)."""
    m = costs.model
    p = m.provenance
    lines = [
        (
            f"exec_ext backtest model: {costs.source} ({m.market}, {m.timeframe or '?'} candles; "
            f"calibrated {p.created_at} from {p.fills} fills / {p.attempts} attempts of "
            f"{', '.join(p.strategies) or '?'}, {p.period_start} .. {p.period_end}; databases: "
            f"{', '.join(p.databases)}; seed {costs.seed})"
        ),
        (
            f"exec_ext backtest model: charged per fill = a cost drawn from the model (slippage "
            f"vs the decision price + fee, conditioned on the order's candle) minus the "
            f"backtest fee {costs.backtest_fee:.4%}, on limit entries (custom_entry_price) and "
            f"signal/custom exits (custom_exit_price); entries the model says would not fill are "
            f"cancelled at the first entry-timeout check; partial fills as smaller stakes "
            f"(below min_fill_ratio {costs.min_fill_ratio:g}: no fill)"
        ),
        (
            "exec_ext backtest model: NOT modelled here: stop-loss, ROI, liquidation, forced and "
            "market-order fills (Freqtrade fills them without a callback: correct them with "
            "freqtrade-exec rescore BACKTEST --model FILE), queue position, funding beyond "
            "Freqtrade's own"
        ),
    ]
    for c in m.cells:
        pooled = f", pooled with {c.pooled_from}" if c.pooled_from else ""
        prob = c.fill_probability.text() if c.attempts_measured else "not measured (1.00)"
        med = stats.slices_median(c.cost_slices_bps) if c.cost_slices_bps else 0.0
        lines.append(
            f"exec_ext backtest model: {c.key}: {c.fills} fills{pooled}; fill probability "
            f"{prob}; median cost {med:.2f} bps; fee {c.fee_rate.value:.4%}, maker share "
            f"{c.maker_share.value:.0%}; {len(c.bins)} candle bins"
        )
    return lines
