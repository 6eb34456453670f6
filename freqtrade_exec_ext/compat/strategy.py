"""Freqtrade's strategy internals the mixin relies on.

* :class:`SettingsHook`: Freqtrade calls ``ft_bot_start`` (not wrapped in its
  exception-swallowing ``strategy_safe_wrapper``) once every setting source has been
  applied: config files, environment, command line, the hyperopt parameter file and the
  strategy's attributes.  The hook runs :meth:`SettingsHook.exec_ext_settings_applied`
  first, so the mixin can verify what is really in effect and stop the command.
* :func:`param_file`: the hyperopt parameter file Freqtrade loaded for a strategy.
* :func:`read_config_file`: one config file, parsed as Freqtrade parses it.

This module is pickled by value into hyperopt's worker processes (it is a base of the
user's strategy): it keeps no state.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from freqtrade.enums import RunMode
from freqtrade.exceptions import OperationalException
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.strategy import IStrategy

__all__ = [
    "OperationalException",
    "RunMode",
    "SettingsHook",
    "param_file",
    "read_config_file",
    "replace_allowed",
    "timeframe_to_seconds",
]


class SettingsHook(IStrategy):  # type: ignore[misc]
    """Base of ``ExecutionMixin``: a hook after Freqtrade applied every setting."""

    def exec_ext_settings_applied(self) -> None:
        """Override: raise to stop the command."""

    def exec_ext_bot_stopping(self) -> None:
        """Override: the bot shuts down (``FreqtradeBot.cleanup``)."""

    def ft_bot_start(self, **kwargs: Any) -> None:
        self.exec_ext_settings_applied()
        super().ft_bot_start(**kwargs)

    def ft_bot_cleanup(self) -> None:
        try:
            self.exec_ext_bot_stopping()
        finally:
            super().ft_bot_cleanup()


def param_file(strategy: Any) -> tuple[str, dict[str, Any]]:
    """``(path, params)`` of the hyperopt parameter file Freqtrade loaded (``params`` is
    empty when there is none)."""
    filename = getattr(strategy, "__file__", "") or ""
    path = str(Path(filename).with_suffix(".json")) if filename else "<none>"
    params = getattr(strategy, "_ft_params_from_file", None) or {}
    return path, dict(params)


def read_config_file(path: str) -> dict[str, Any]:
    from freqtrade.configuration.load_config import load_config_file

    return dict(load_config_file(path))


def replace_allowed(dp: Any, timeframe: str, pair: str, order_date: datetime) -> bool:
    """Whether Freqtrade's bot loop offers an open order for replacement now
    (``FreqtradeBot.replace_order``): only when the latest analyzed candle closed after the
    order was placed."""
    from freqtrade.exchange import timeframe_to_next_date

    df, _ = dp.get_analyzed_dataframe(pair, timeframe)
    if df is None or not len(df):
        return False
    close = timeframe_to_next_date(timeframe, df.iloc[-1]["date"])
    return bool(close > order_date)


def config_files_sha256(config: dict[str, Any]) -> str:
    """sha256 of the config file(s) Freqtrade read, as written on disk (never the merged
    configuration, which holds secrets from the environment)."""
    import hashlib

    digest = hashlib.sha256()
    for name in config.get("config_files") or []:
        try:
            digest.update(Path(name).read_bytes())
        except OSError:
            digest.update(f"<unreadable {name}>".encode())
    return digest.hexdigest()
