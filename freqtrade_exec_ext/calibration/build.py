"""``calibrate``: databases (and candles) in, an :class:`ExecutionModel` out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from freqtrade_exec_ext.calibration import attempts as att
from freqtrade_exec_ext.calibration.features import with_candles
from freqtrade_exec_ext.calibration.fit import FitSettings, fit_cells, fit_stops
from freqtrade_exec_ext.calibration.model import ExecutionModel, Provenance
from freqtrade_exec_ext.calibration.sources import (
    CalibrationInputError,
    DbData,
    load_candles,
    read_database,
    timeframe_seconds,
)

DEFAULT_ENTRY_TIMEOUT_S = 240.0


@dataclass
class CalibrationInput:
    urls: Sequence[str]
    datadir: Path | None = None
    timeframe: str | None = None
    entry_timeout_s: float = DEFAULT_ENTRY_TIMEOUT_S
    settings: FitSettings = field(default_factory=FitSettings)
    seed: int = 0


def _one_market(dbs: Sequence[DbData]) -> tuple[str, str]:
    markets = set().union(*(d.markets for d in dbs))
    if not markets:
        raise CalibrationInputError(f"--db {dbs[0].shown}: no trades: nothing to calibrate from")
    if len(markets) > 1:
        listed = ", ".join(sorted(f"{e} {m}" for e, m in markets))
        raise CalibrationInputError(
            f"--db: the databases trade more than one market ({listed}); a model describes "
            "one market: calibrate each separately"
        )
    return next(iter(markets))


def _timeframe(dbs: Sequence[DbData], given: str | None) -> str | None:
    if given:
        timeframe_seconds(given)
        return given
    tfs = set().union(*(d.timeframes for d in dbs))
    if len(tfs) > 1:
        raise CalibrationInputError(
            f"--db: trades on several timeframes ({', '.join(sorted(tfs))}); pass --timeframe"
        )
    return next(iter(tfs), None)


def _attempts(dbs: Sequence[DbData], timeout_s: float) -> tuple[list[att.Attempt], bool, list[str]]:
    out: list[att.Attempt] = []
    notes: list[str] = []
    measured_all = True
    for d in dbs:
        entries, measured = att.entry_attempts(d.records, d.journal, timeout_s)
        if not measured and any(r.intent == "entry" for r in d.records):
            measured_all = False
            notes.append(
                f"{d.shown}: no order journal (not a live run with the order guard): "
                "unfilled entries are not recorded, so maker fill probability is not "
                "measured and backtests drop no entry"
            )
        out += entries + att.exit_attempts(d.records, d.stop_orders)
    return out, measured_all, notes


def calibrate(inp: CalibrationInput, *, now: datetime | None = None) -> ExecutionModel:
    """Read, fit and describe; CalibrationInputError (one line) on bad input."""
    from freqtrade_exec_ext import __version__

    if not inp.urls:
        raise CalibrationInputError("--db: give at least one database")
    dbs = [read_database(u) for u in inp.urls]
    empty = [d.shown for d in dbs if not d.records]
    if len(empty) == len(dbs):
        raise CalibrationInputError(
            f"--db {empty[0]}: no execution ledger records (exec_ext.fill.*): was the bot "
            "run with ExecutionMixin?"
        )
    exchange, mode = _one_market(dbs)
    timeframe = _timeframe(dbs, inp.timeframe)
    attempts, measured, notes = _attempts(dbs, inp.entry_timeout_s)
    notes.extend(f"{s}: no execution ledger records (skipped)" for s in empty)
    times = [a.placed_at for a in attempts if a.placed_at is not None]
    candles_text = "none (no --datadir): fills not conditioned on their candle"
    if inp.datadir is not None:
        if timeframe is None:
            raise CalibrationInputError(
                "--datadir: the databases name no timeframe; pass --timeframe"
            )
        if not Path(inp.datadir).is_dir():
            raise CalibrationInputError(f"--datadir {inp.datadir}: not a directory")
        if times:
            span = timedelta(seconds=timeframe_seconds(timeframe))
            series, cnotes = load_candles(
                Path(inp.datadir),
                {a.pair for a in attempts},
                timeframe,
                min(times) - 2 * span,
                max(times),
                futures=mode == "futures",
            )
            attempts, missing = with_candles(attempts, series)
            notes.extend(cnotes)
            candles_text = f"{inp.datadir} ({timeframe})"
            if missing:
                notes.append(f"{missing} attempts found no candle and are not conditioned")
    cells, counts = fit_cells(attempts, inp.settings, measured_entries=measured)
    stops = fit_stops(attempts, inp.settings)
    taker = [a.fee_rate for a in attempts if a.liquidity == "taker" and a.fee_rate]
    rates = [a.fee_rate for a in attempts if a.fee_rate]
    return ExecutionModel(
        exchange=exchange,
        trading_mode="futures" if mode == "futures" else "spot",
        timeframe=timeframe,
        min_fills=inp.settings.min_fills,
        shrinkage=inp.settings.shrinkage,
        seed=inp.seed,
        slices=inp.settings.slices,
        taker_fee_rate=max(taker or rates) if (taker or rates) else None,
        cells=cells,
        stops=stops,
        provenance=Provenance(
            created_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
            package_version=__version__,
            databases=[d.shown for d in dbs],
            strategies=sorted(set().union(*(d.strategies for d in dbs))),
            period_start=min(times).isoformat() if times else None,
            period_end=max(times).isoformat() if times else None,
            fills=sum(1 for a in attempts if a.filled),
            attempts=len(attempts),
            candles=candles_text,
            counts=counts,
            notes=notes,
        ),
    )
