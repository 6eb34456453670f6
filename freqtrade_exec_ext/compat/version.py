"""The Freqtrade release this package supports, and a check that its internals are there."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import re
from typing import Any

from freqtrade_exec_ext.errors import InputRefused

logger = logging.getLogger(__name__)

DISTRIBUTION = "freqtrade-exec-ext"

# Attributes of Freqtrade this package relies on (every one is used through compat/).
REQUIRED_INTERNALS: tuple[tuple[str, str], ...] = (
    ("freqtrade.constants", "AVAILABLE_PAIRLISTS"),
    ("freqtrade.resolvers.pairlist_resolver", "PairListResolver.load_object"),
    ("freqtrade.resolvers.pairlist_resolver", "PairListResolver.search_all_objects"),
    ("freqtrade.resolvers.pairlist_resolver", "PairListResolver.load_pairlist"),
    ("freqtrade.resolvers.protection_resolver", "ProtectionResolver.load_object"),
    ("freqtrade.resolvers.protection_resolver", "ProtectionResolver.search_all_objects"),
    ("freqtrade.resolvers.protection_resolver", "ProtectionResolver.load_protection"),
    ("freqtrade.plugins.pairlist.IPairList", "IPairList.available_parameters"),
    ("freqtrade.plugins.pairlist.IPairList", "IPairList.filter_pairlist"),
    ("freqtrade.plugins.pairlist.IPairList", "SupportsBacktesting.NO_ACTION"),
    ("freqtrade.plugins.protections.iprotection", "IProtection.stop_per_pair"),
    ("freqtrade.plugins.protections.iprotection", "ProtectionReturn"),
    ("freqtrade.configuration.configuration", "Configuration.load_config"),
    ("freqtrade.persistence.trade_model", "Trade.get_trades_proxy"),
    ("freqtrade.persistence.trade_model", "LocalTrade.get_all_custom_data"),
    ("freqtrade.data.history", "load_pair_history"),
    ("freqtrade.configuration.timerange", "TimeRange.parse_timerange"),
    ("freqtrade.exchange.exchange", "Exchange.fetch_l2_order_book"),
    ("freqtrade.exceptions", "OperationalException"),
    ("freqtrade.main", "main"),
    # the order guard (order_guard.py): orders Freqtrade may not know
    ("freqtrade.persistence.trade_model", "Order.order_by_id"),
    ("freqtrade.persistence.trade_model", "Order.parse_from_ccxt_object"),
    ("freqtrade.persistence.trade_model", "Trade.commit"),
    ("freqtrade.persistence.trade_model", "LocalTrade.adjust_stop_loss"),
    ("freqtrade.persistence.trade_model", "LocalTrade.recalc_trade_from_orders"),
    ("freqtrade.exchange.exchange", "Exchange.get_fee"),
    ("freqtrade.exchange.exchange", "Exchange.get_precision_amount"),
    ("freqtrade.exchange.exchange", "Exchange.get_contract_size"),
    ("freqtrade.exchange.exchange", "Exchange.get_trades_for_order"),
    ("freqtrade.exchange.exchange", "Exchange.fetch_funding_rate"),
    ("freqtrade.exchange.common", "BAD_EXCHANGES"),
)


try:  # Freqtrade reports an OperationalException as one line (exit 2), not a traceback
    from freqtrade.exceptions import OperationalException as _CompatBase
except ImportError:  # pragma: no cover - Freqtrade missing or broken altogether
    _CompatBase = RuntimeError


class FreqtradeCompatError(_CompatBase, InputRefused):  # type: ignore[misc]  # untyped base
    """The installed Freqtrade lacks internals this package relies on."""


def supported_freqtrade_version() -> str:
    """The Freqtrade release pinned in setup.cfg, read from the installed metadata."""
    try:
        requires = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return "unknown (freqtrade-exec-ext is not installed)"
    for req in requires:
        match = re.match(r"^freqtrade(\[[^\]]*\])?\s*==\s*([^;\s]+)", req)
        if match:
            return match.group(2)
    return "unknown (no freqtrade==X pin in freqtrade-exec-ext's requirements)"


def installed_freqtrade_version() -> str:
    try:
        return importlib.metadata.version("freqtrade")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _resolve(module: str, dotted: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def missing_internals(
    required: tuple[tuple[str, str], ...] = REQUIRED_INTERNALS,
) -> list[str]:
    """Names of required Freqtrade internals that cannot be found."""
    missing = []
    for module, dotted in required:
        try:
            _resolve(module, dotted)
        except (ImportError, AttributeError):
            missing.append(f"{module}.{dotted}")
    return missing


def check_internals(required: tuple[tuple[str, str], ...] = REQUIRED_INTERNALS) -> None:
    """Raise FreqtradeCompatError naming the supported release if internals changed."""
    missing = missing_internals(required)
    if missing:
        raise FreqtradeCompatError(
            f"freqtrade-exec-ext supports Freqtrade {supported_freqtrade_version()} only "
            f"(installed: {installed_freqtrade_version()}); these Freqtrade internals are "
            f"missing or changed: {', '.join(missing)}. Install "
            f"freqtrade=={supported_freqtrade_version()}."
        )
    if installed_freqtrade_version() != supported_freqtrade_version():
        logger.warning(
            "freqtrade-exec-ext is tested with Freqtrade %s, installed is %s",
            supported_freqtrade_version(),
            installed_freqtrade_version(),
        )


def operational_exception() -> type[Exception]:
    """Freqtrade's OperationalException: reported in one line, exit code 2."""
    from freqtrade.exceptions import OperationalException

    error: type[Exception] = OperationalException
    return error
