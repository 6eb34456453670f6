"""Every touch of Freqtrade internals lives in this package.

Importing it changes nothing in Freqtrade (``tests/compat/test_import_side_effects.py``).
What it offers, by module:

* :mod:`~freqtrade_exec_ext.compat.version`: the supported release (the pin in setup.cfg)
  and :func:`check_internals`, which names it when an internal used here is missing;
* :mod:`~freqtrade_exec_ext.compat.registry`: :func:`install` makes our pairlists and
  protections loadable by name (called explicitly by the strategy, the plugins and the
  CLI), the ``exec_ext.pairlists`` config merge, and ``freqtrade.main`` for the CLI;
* :mod:`~freqtrade_exec_ext.compat.exchange`: Freqtrade's exchange and its ccxt clients;
* :mod:`~freqtrade_exec_ext.compat.persistence`: trades, orders and custom data, and the
  adoption of orders Freqtrade never saved (order guard);
* :mod:`~freqtrade_exec_ext.compat.schema`: table and column names for plain-SQL readers;
* :mod:`~freqtrade_exec_ext.compat.data`: run modes, timeranges and candle files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from freqtrade_exec_ext.compat.data import (
    backtest_results_dir,
    is_backtest_like,
    load_candles_before,
    runmode_value,
    timerange_start,
)
from freqtrade_exec_ext.compat.exchange import (
    ccxt_clients,
    exchange_of,
    fetch_order_book,
    is_spot,
    price_tick,
    public_mid_reader,
    trades_for_order,
)
from freqtrade_exec_ext.compat.persistence import (
    adopt_order,
    canceled_exit_orders,
    cancelled_by_user,
    closed_trades_since,
    db_engine,
    entries_stopped,
    open_trades,
    order_is_tracked,
    trade_by_id,
    trade_custom_data,
    trades_since,
)
from freqtrade_exec_ext.compat.registry import (
    CONFIG_KEY,
    PAIRLISTS,
    PROTECTIONS,
    ExecExtConfigError,
    install,
    install_config_hook,
    is_installed,
    log_once,
    merge_exec_ext_pairlists,
    on_strategy_init,
    plugin_bases,
    plugin_class,
    run_freqtrade_main,
    uninstall,
)
from freqtrade_exec_ext.compat.version import (
    DISTRIBUTION,
    REQUIRED_INTERNALS,
    FreqtradeCompatError,
    check_internals,
    installed_freqtrade_version,
    missing_internals,
    operational_exception,
    supported_freqtrade_version,
)

__all__ = [
    "CONFIG_KEY",
    "DISTRIBUTION",
    "PAIRLISTS",
    "PROTECTIONS",
    "REQUIRED_INTERNALS",
    "ExecExtConfigError",
    "FreqtradeCompatError",
    "adopt_order",
    "backtest_results_dir",
    "canceled_exit_orders",
    "cancelled_by_user",
    "ccxt_clients",
    "check_internals",
    "closed_trades_since",
    "db_engine",
    "entries_stopped",
    "exchange_of",
    "fetch_order_book",
    "install",
    "install_config_hook",
    "installed_freqtrade_version",
    "is_backtest_like",
    "is_installed",
    "is_spot",
    "load_candles_before",
    "log_once",
    "merge_exec_ext_pairlists",
    "missing_internals",
    "on_strategy_init",
    "open_trades",
    "operational_exception",
    "order_is_tracked",
    "plugin_bases",
    "plugin_class",
    "price_tick",
    "public_mid_reader",
    "replace_allowed",
    "run_freqtrade_main",
    "runmode_value",
    "supported_freqtrade_version",
    "timerange_start",
    "trade_by_id",
    "trade_custom_data",
    "trades_for_order",
    "trades_since",
    "uninstall",
]


if TYPE_CHECKING:
    from freqtrade_exec_ext.compat.strategy import replace_allowed


def __getattr__(name: str) -> object:
    # compat.strategy subclasses Freqtrade's IStrategy: importing it loads all of Freqtrade
    # (seconds), which plain readers of compat.schema (the report) must not pay
    if name == "replace_allowed":
        from freqtrade_exec_ext.compat.strategy import replace_allowed

        return replace_allowed
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
