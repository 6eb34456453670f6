"""The execution model file: versioned JSON, written by ``calibrate``, read by backtests.

One file describes one market (an exchange and a trading mode, e.g. ``binance spot``) as the
strategy's own fills saw it.  It holds, per **cell** (intent entry/exit, order side,
order type; pooled over the market's pairs):

* ``bins``: the cell's attempts split by what the candle the order worked in did (how far
  it traded through the decision price, in bps, and whether it closed up or down).  Per
  bin: the fill probability within the entry timeout, the time to fill, the partial-fill
  ratio, and the distribution of the **cost** of a fill (decision-to-fill slippage plus
  the fee, bps of notional, positive = cost) as ``slices`` equal-probability slices, each
  the mean of its fills.  A backtest draws from them.
* summaries with intervals: arrival half-spread, decision-to-fill slippage as ``delay +
  impact x participation`` (participation = order notional / the candle's quote volume),
  fee rate, maker share, fill probability, time to fill, partial fills.
* ``pairs``: per pair, the fill count and a shift of the mean cost toward the pair's own
  (shrunk toward the market's average by ``n / (n + shrinkage)``; a pair with fewer than
  ``min_fills`` fills is pooled: shift 0).

and the stop-loss trigger-to-fill gap.  ``provenance`` says which databases, which
period, how many fills per cell, and which cells were pooled.

Sign convention (as the ledger's): bps are **positive when they cost money**.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from freqtrade_exec_ext.errors import InputRefused

MODEL_SCHEMA_VERSION: Literal[1] = 1
MODEL_KIND: Literal["freqtrade-exec-ext execution model"] = "freqtrade-exec-ext execution model"
# equal-probability slices stored for every cost distribution
SLICES = 40
# "how far the candle traded through the decision price" bins, bps (upper edges)
THROUGH_EDGES_BPS: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0, 20.0)

Intent = Literal["entry", "exit"]
Side = Literal["buy", "sell"]


class ModelError(InputRefused, ValueError):
    """A model file that cannot be used; ``str()`` is one line naming the file."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Estimate(_Frozen):
    """A number with its 95 % interval and the sample it comes from."""

    value: float
    low: float | None = None
    high: float | None = None
    n: int = Field(ge=0)

    def text(self, fmt: str = ".2f") -> str:
        if self.low is None or self.high is None:
            return f"{self.value:{fmt}} (n={self.n})"
        return f"{self.value:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}] (n={self.n})"


class Slippage(_Frozen):
    """Decision-to-fill slippage (bps, positive = cost) = delay + impact x participation %."""

    delay_bps: Estimate
    impact_bps_per_pct: Estimate | None = None  # None: not identifiable from these fills
    mean_participation_pct: float | None = None  # of the fills the costs were measured on
    note: str = ""


class Bin(_Frozen):
    """Attempts whose candle traded ``through`` the decision price in [lo, hi) bps."""

    through_lo_bps: float | None  # None: -infinity
    through_hi_bps: float | None  # None: +infinity
    candle: Literal["up", "down", "any"]
    attempts: int = Field(ge=0)
    fills: int = Field(ge=0)
    fill_probability: Estimate
    cost_slices_bps: list[float]  # SLICES slice means, ascending; empty when no fill
    partial_share: float = Field(ge=0, le=1)  # share of fills that were partial
    partial_ratio: float = Field(ge=0, le=1)  # mean filled ratio of the partial ones
    time_to_fill_s: Estimate | None = None  # median

    def contains(self, through_bps: float, up: bool) -> bool:
        lo = -float("inf") if self.through_lo_bps is None else self.through_lo_bps
        hi = float("inf") if self.through_hi_bps is None else self.through_hi_bps
        side_ok = self.candle == "any" or (self.candle == "up") == up
        return side_ok and lo <= through_bps < hi


class PairShift(_Frozen):
    fills: int = Field(ge=0)
    mean_cost_bps: float
    shift_bps: float  # added to every cost drawn for this pair
    pooled: bool  # fewer than min_fills fills: the market's numbers only
    half_spread_bps: Estimate | None = None
    fee_rate: Estimate | None = None
    fill_probability: Estimate | None = None


class Cell(_Frozen):
    intent: Intent
    side: Side
    order_type: str
    attempts: int = Field(ge=0)
    fills: int = Field(ge=0)
    attempts_measured: bool  # False: unfilled attempts are not in the data (fill prob. 1)
    pooled_from: str = ""  # non-empty: this cell had too few fills and borrows from it
    bins: list[Bin]
    cost_slices_bps: list[float]  # all fills of the cell (centred on their pair's shift)
    half_spread_bps: Estimate | None = None
    slippage: Slippage
    fee_rate: Estimate
    maker_share: Estimate
    fill_probability: Estimate
    time_to_fill_s: Estimate | None = None
    partial_share: Estimate
    partial_ratio: Estimate | None = None
    pairs: dict[str, PairShift] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return cell_key(self.intent, self.side, self.order_type)


class StopGap(_Frozen):
    """Stop-loss trigger-to-fill gap (bps beyond the stop price, positive = cost), fees
    not included."""

    side: Side
    gap_bps: Estimate
    gap_slices_bps: list[float]
    fee_rate: Estimate | None = None
    pairs: dict[str, PairShift] = Field(default_factory=dict)


class CellCount(_Frozen):
    cell: str
    pair: str  # "*" for the market's pooled numbers
    fills: int
    attempts: int
    pooled: bool
    reason: str = ""


class Provenance(_Frozen):
    created_at: str  # ISO-8601 UTC
    package_version: str
    databases: list[str]  # URLs, credentials masked
    strategies: list[str]
    period_start: str | None
    period_end: str | None
    fills: int
    attempts: int
    candles: str  # where the candles came from, or why there were none
    counts: list[CellCount]
    notes: list[str] = Field(default_factory=list)


class ExecutionModel(_Frozen):
    """Version 1 of the execution model file."""

    kind: Literal["freqtrade-exec-ext execution model"] = MODEL_KIND
    schema_version: Literal[1] = MODEL_SCHEMA_VERSION
    exchange: str
    trading_mode: Literal["spot", "futures"]
    timeframe: str | None
    min_fills: int = Field(ge=1)
    shrinkage: float = Field(ge=0)
    seed: int = 0
    slices: int = Field(default=SLICES, ge=2, le=1000)
    taker_fee_rate: float | None = None  # highest realised rate (Freqtrade's backtest fee)
    cells: list[Cell]
    stops: list[StopGap] = Field(default_factory=list)
    provenance: Provenance

    @property
    def market(self) -> str:
        return f"{self.exchange} {self.trading_mode}"

    def cell(self, intent: str, side: str, order_type: str) -> Cell | None:
        """The cell for an order, falling back to any order type of the same intent and
        side (a market exit modelled by the limit exits' cell is said in the log)."""
        exact = None
        fallback = None
        for c in self.cells:
            if c.intent == intent and c.side == side:
                if c.order_type == order_type:
                    exact = c
                elif fallback is None:
                    fallback = c
        return exact or fallback

    def stop(self, side: str) -> StopGap | None:
        return next((s for s in self.stops if s.side == side), None)


def cell_key(intent: str, side: str, order_type: str) -> str:
    return f"{intent}/{side}/{order_type}"


def dump(model: ExecutionModel) -> str:
    return json.dumps(model.model_dump(mode="json"), indent=1, allow_nan=False) + "\n"


def save(model: ExecutionModel, path: str | Path) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it)."""
    import os
    import tempfile

    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dump(model))
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: str | Path) -> ExecutionModel:
    """Read and validate a model file; ModelError (one line) when it cannot be used."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"{p}: execution model file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{p}: cannot read the execution model ({exc})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{p}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return parse(data, str(p))


def parse(data: Any, source: str) -> ExecutionModel:
    if not isinstance(data, dict) or data.get("kind") != MODEL_KIND:
        raise ModelError(
            f"{source}: not an execution model (kind must be '{MODEL_KIND}'; "
            "write one with freqtrade-exec calibrate)"
        )
    version = data.get("schema_version")
    if version != MODEL_SCHEMA_VERSION:
        raise ModelError(
            f"{source}: schema_version {version!r} is not supported (this package reads "
            f"version {MODEL_SCHEMA_VERSION}; calibrate again)"
        )
    try:
        model = ExecutionModel.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise ModelError(f"{source}: {where}: {err['msg']}") from None
    for c in model.cells:
        for i, b in enumerate(c.bins):
            _check_slices(
                source, f"cells[{c.key}].bins[{i}].cost_slices_bps", b.cost_slices_bps, model
            )
        _check_slices(source, f"cells[{c.key}].cost_slices_bps", c.cost_slices_bps, model)
    for s in model.stops:
        _check_slices(source, f"stops[{s.side}].gap_slices_bps", s.gap_slices_bps, model)
    return model


def _check_slices(source: str, where: str, q: list[float], model: ExecutionModel) -> None:
    if q and len(q) != model.slices:
        raise ModelError(
            f"{source}: {where}: {len(q)} values, expected {model.slices} (one per slice)"
        )
    if any(b < a - 1e-9 for a, b in itertools.pairwise(q)):
        raise ModelError(f"{source}: {where}: must not decrease")
