"""Freqtrade's run modes, configuration and candle files, as this package needs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.errors import InputRefused


def runmode_value(config: dict[str, Any]) -> str:
    """Freqtrade's runmode as a plain string ("backtest", "hyperopt", "dry_run", ...)."""
    runmode = config.get("runmode")
    return str(getattr(runmode, "value", runmode or ""))


def is_backtest_like(config: dict[str, Any]) -> bool:
    return runmode_value(config) in ("backtest", "hyperopt")


def backtest_results_dir(config: dict[str, Any]) -> Path:
    """Where Freqtrade writes backtest results: ``exportdirectory``, which Freqtrade's
    configuration fills with ``<user_data_dir>/backtest_results`` when it is not given
    (``freqtrade/configuration/configuration.py``); the same fallback for bare configs."""
    exported = config.get("exportdirectory")
    if exported:
        return Path(exported)
    return Path(config.get("user_data_dir") or "user_data") / "backtest_results"


class BacktestUnreadable(InputRefused):
    """A file that is not a readable Freqtrade backtest result."""


def load_backtest_stats(path: Path) -> dict[str, Any]:
    """A backtest result (zip, json or ``.last_result.json``'s target) as Freqtrade loads it.

    Raises :class:`BacktestUnreadable` with one line (Freqtrade's own first line) when it is not a
    readable result or has no ``strategy`` section; Freqtrade's log stays quiet."""
    import logging

    from freqtrade.data.btanalysis import load_backtest_stats as ft_load

    logging.getLogger("freqtrade").setLevel(logging.CRITICAL)
    try:
        data = ft_load(path)
    except Exception as exc:  # noqa: BLE001 - Freqtrade raises ValueError, OperationalException, JSON errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BacktestUnreadable(f"not a readable Freqtrade backtest result ({first})") from None
    if not isinstance(data, dict) or not isinstance(data.get("strategy"), dict):
        raise BacktestUnreadable("not a Freqtrade backtest result (no 'strategy' section)")
    return data


def timerange_start(config: dict[str, Any]) -> datetime | None:
    """Start of the configured ``timerange`` (UTC) or None when open-ended."""
    from freqtrade.configuration.timerange import TimeRange

    raw = config.get("timerange")
    if not raw:
        return None
    tr = TimeRange.parse_timerange(str(raw))
    if not tr.startts:
        return None
    return datetime.fromtimestamp(tr.startts, tz=UTC)


def load_candles_before(
    config: dict[str, Any], pair: str, timeframe: str, end: datetime, count: int
) -> Any:
    """The last ``count`` candles strictly before ``end`` from the datadir (a DataFrame)."""
    from freqtrade.configuration.timerange import TimeRange
    from freqtrade.data.history import load_pair_history
    from freqtrade.exchange import timeframe_to_seconds

    start = end - timedelta(seconds=timeframe_to_seconds(timeframe) * count)
    timerange = TimeRange("date", "date", int(start.timestamp()), int(end.timestamp()))
    df = load_pair_history(
        pair=pair,
        timeframe=timeframe,
        datadir=Path(config["datadir"]),
        timerange=timerange,
        fill_up_missing=False,
        data_format=config.get("dataformat_ohlcv", "feather"),
        candle_type=config.get("candle_type_def", ""),
    )
    if len(df):
        df = df[df["date"] < end]
    return df


def config_consistency_problem(config: dict[str, Any], runmode: str) -> str | None:
    """Freqtrade's ``validate_config_consistency`` of ``config`` in run mode ``runmode``
    (``"dry_run"``, ``"live"`` or ``"other"``): its complaint, or None.  ``config`` is
    changed (Freqtrade fills defaults in): pass a copy."""
    import logging

    from freqtrade.configuration.config_validation import validate_config_consistency
    from freqtrade.enums import RunMode
    from freqtrade.exceptions import ConfigurationError, OperationalException

    config["runmode"] = RunMode(runmode)
    quiet = logging.getLogger("freqtrade.configuration.config_validation")
    level, quiet.level = quiet.level, logging.CRITICAL + 1
    try:
        validate_config_consistency(config)
    except (ConfigurationError, OperationalException) as exc:
        return str(exc)
    finally:
        quiet.setLevel(level)
    return None
