"""Every touch of Freqtrade internals lives here.

Freqtrade's resolvers only search their own package for pairlists and protections, and
its config schema only accepts built-in pairlist names.  This module makes our plugins
loadable by name with the stock ``freqtrade`` command:

* :func:`install` (run on import of this module) wraps ``PairListResolver.load_object`` /
  ``ProtectionResolver.load_object`` (and their ``search_all_objects``) with a small
  registry of our plugin classes, and appends our pairlist names to
  ``freqtrade.constants.AVAILABLE_PAIRLISTS`` (the schema's enum).
* :func:`on_strategy_init` (called from the mixin's ``__init__``) installs the registry
  and appends ``config["exec_ext"]["pairlists"]`` to ``config["pairlists"]``: config.json
  keeps only built-in pairlists under ``pairlists`` so that Freqtrade's preliminary
  validation passes before the strategy is loaded.
* :func:`install_config_hook` (used by ``freqtrade-exec ft``) does the same merge right
  after Freqtrade loads its configuration, for commands that load no strategy
  (``test-pairlist``, ``webserver``).

Before touching anything, :func:`check_internals` verifies that every attribute used
here exists, and fails with :class:`FreqtradeCompatError` naming the supported Freqtrade
release (the pin in setup.cfg, read from this package's installed metadata).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DISTRIBUTION = "freqtrade-exec-ext"
CONFIG_KEY = "exec_ext"

# Our plugins: class name -> module (one plugin per module).
PAIRLISTS: dict[str, str] = {
    "ExecutionCostFilter": "freqtrade_exec_ext.plugins.execution_cost_filter",
}
PROTECTIONS: dict[str, str] = {
    "SlippageGuard": "freqtrade_exec_ext.plugins.slippage_guard",
    "DailyLossGuard": "freqtrade_exec_ext.plugins.daily_loss_guard",
}

# Attributes of Freqtrade this module (and the plugins through it) rely on.
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
)


try:  # Freqtrade reports an OperationalException as one line (exit 2), not a traceback
    from freqtrade.exceptions import OperationalException as _CompatBase
except ImportError:  # pragma: no cover - Freqtrade missing or broken altogether
    _CompatBase = RuntimeError  # type: ignore[assignment, misc]


class FreqtradeCompatError(_CompatBase):  # type: ignore[valid-type, misc]
    """The installed Freqtrade lacks internals this package relies on."""


class ExecExtConfigError(ValueError):
    """Bad ``exec_ext`` section in the Freqtrade config (one clear line)."""


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


# --------------------------------------------------------------------------- registry
_state: dict[str, Any] = {"installed": False, "config_hook": False}


def plugin_class(name: str) -> type | None:
    """Our plugin class called ``name``, or None when it is not one of ours."""
    module = PAIRLISTS.get(name) or PROTECTIONS.get(name)
    if module is None:
        return None
    return getattr(importlib.import_module(module), name)


def _wrap_resolver(resolver: type, names: dict[str, str], kind: str) -> None:
    original_load = resolver.__dict__.get("load_object")
    original_search = resolver.__dict__.get("search_all_objects")
    base_load = resolver.load_object.__func__  # type: ignore[attr-defined]
    base_search = resolver.search_all_objects.__func__  # type: ignore[attr-defined]

    def load_object(
        cls: type, object_name: str, config: dict, *, kwargs: dict, extra_dir: str | None = None
    ) -> Any:
        if object_name in names:
            klass = plugin_class(object_name)
            logger.info(
                "Using resolved %s %s from package module '%s' (pid %d)",
                kind,
                object_name,
                names[object_name],
                os.getpid(),
            )
            return klass(**kwargs)  # type: ignore[misc]
        return base_load(cls, object_name, config, kwargs=kwargs, extra_dir=extra_dir)

    def search_all_objects(
        cls: type, config: dict, enum_failed: bool, recursive: bool = False
    ) -> list[dict[str, Any]]:
        result = base_search(cls, config, enum_failed, recursive)
        for name, module in names.items():
            klass = plugin_class(name)
            location = Path(importlib.import_module(module).__file__ or module)
            result.append(
                {
                    "name": name,
                    "class": klass,
                    "location": location,
                    "location_rel": f"<freqtrade_exec_ext>/{location.name}",
                }
            )
        return result

    load_object.__exec_ext__ = True  # type: ignore[attr-defined]
    resolver.load_object = classmethod(load_object)  # type: ignore[assignment]
    resolver.search_all_objects = classmethod(search_all_objects)  # type: ignore[assignment]
    resolver._exec_ext_originals = (original_load, original_search)  # type: ignore[attr-defined]


def install() -> None:
    """Install the registry (idempotent)."""
    if _state["installed"]:
        return
    check_internals()
    from freqtrade import constants
    from freqtrade.resolvers.pairlist_resolver import PairListResolver
    from freqtrade.resolvers.protection_resolver import ProtectionResolver

    for name in PAIRLISTS:
        if name not in constants.AVAILABLE_PAIRLISTS:
            constants.AVAILABLE_PAIRLISTS.append(name)
    if not getattr(PairListResolver.load_object, "__exec_ext__", False):
        _wrap_resolver(PairListResolver, PAIRLISTS, "pairlist")
    if not getattr(ProtectionResolver.load_object, "__exec_ext__", False):
        _wrap_resolver(ProtectionResolver, PROTECTIONS, "protection")
    _state["installed"] = True


def uninstall() -> None:
    """Undo :func:`install` (tests)."""
    from freqtrade import constants
    from freqtrade.resolvers.pairlist_resolver import PairListResolver
    from freqtrade.resolvers.protection_resolver import ProtectionResolver

    for resolver in (PairListResolver, ProtectionResolver):
        originals = resolver.__dict__.get("_exec_ext_originals")
        if originals is None:
            continue
        for attr, original in zip(("load_object", "search_all_objects"), originals, strict=True):
            if original is None:
                delattr(resolver, attr)
            else:
                setattr(resolver, attr, original)
        delattr(resolver, "_exec_ext_originals")
    for name in PAIRLISTS:
        while name in constants.AVAILABLE_PAIRLISTS:
            constants.AVAILABLE_PAIRLISTS.remove(name)
    _state["installed"] = False


def is_installed() -> bool:
    return bool(_state["installed"])


# --------------------------------------------------------------------------- config merge
def merge_exec_ext_pairlists(config: dict[str, Any]) -> list[str]:
    """Append ``config["exec_ext"]["pairlists"]`` to ``config["pairlists"]`` (idempotent).

    Returns the names appended by this call.  Raises ExecExtConfigError on bad entries.
    """
    section = config.get(CONFIG_KEY) or {}
    if not isinstance(section, dict):
        raise ExecExtConfigError(f"config '{CONFIG_KEY}': must be an object, was {section!r}")
    entries = section.get("pairlists") or []
    if not isinstance(entries, list):
        raise ExecExtConfigError(
            f"config '{CONFIG_KEY}.pairlists': must be a list of pairlist objects, was {entries!r}"
        )
    pairlists = config.setdefault("pairlists", [])
    if not pairlists:
        raise ExecExtConfigError(
            f"config 'pairlists': needs a generator (e.g. StaticPairList) before the "
            f"'{CONFIG_KEY}.pairlists' filters can be appended"
        )
    added = []
    for idx, entry in enumerate(entries):
        method = entry.get("method") if isinstance(entry, dict) else None
        if method not in PAIRLISTS:
            raise ExecExtConfigError(
                f"config '{CONFIG_KEY}.pairlists[{idx}].method': must be one of "
                f"{', '.join(PAIRLISTS)}, was {method!r} (built-in pairlists go under 'pairlists')"
            )
        # one instance per method: Freqtrade may add defaults to the copy it already holds
        if any(isinstance(p, dict) and p.get("method") == method for p in pairlists):
            continue
        pairlists.append(dict(entry))
        added.append(method)
    return added


def on_strategy_init(config: dict[str, Any]) -> None:
    """Called once from the mixin's ``__init__``: registry + pairlist injection.

    A bad ``exec_ext`` section raises Freqtrade's OperationalException (one line, exit 2).
    """
    install()
    try:
        added = merge_exec_ext_pairlists(config)
    except ExecExtConfigError as exc:
        raise operational_exception()(str(exc)) from None
    if added:
        logger.info("Appended %s from '%s.pairlists' to pairlists", ", ".join(added), CONFIG_KEY)


def install_config_hook() -> None:
    """Merge ``exec_ext.pairlists`` right after Freqtrade loads a config (idempotent)."""
    install()
    if _state["config_hook"]:
        return
    from freqtrade.configuration.configuration import Configuration
    from freqtrade.exceptions import OperationalException

    original = Configuration.load_config

    def load_config(self: Any) -> dict[str, Any]:
        config = original(self)
        try:
            merge_exec_ext_pairlists(config)
        except ExecExtConfigError as exc:
            raise OperationalException(str(exc)) from None
        return config

    Configuration.load_config = load_config  # type: ignore[method-assign]
    _state["config_hook"] = True


def run_freqtrade_main(argv: list[str]) -> int:
    """Run ``freqtrade.main.main(argv)`` and return its exit code."""
    from freqtrade.main import main

    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code)
        return 1
    return 0


# --------------------------------------------------------------------------- plugin helpers
def plugin_bases() -> tuple[type, Any, type, type]:
    """``(IPairList, SupportsBacktesting, IProtection, ProtectionReturn)``."""
    install()
    from freqtrade.plugins.pairlist.IPairList import IPairList, SupportsBacktesting
    from freqtrade.plugins.protections.iprotection import IProtection, ProtectionReturn

    return IPairList, SupportsBacktesting, IProtection, ProtectionReturn


def operational_exception() -> type[Exception]:
    """Freqtrade's OperationalException: reported in one line, exit code 2."""
    from freqtrade.exceptions import OperationalException

    return OperationalException


def fetch_order_book(exchange: Any, pair: str, limit: int) -> dict[str, Any]:
    """The L2 book of ``pair`` through Freqtrade's exchange (ccxt shape)."""
    return dict(exchange.fetch_l2_order_book(pair, limit))


def runmode_value(config: dict[str, Any]) -> str:
    """Freqtrade's runmode as a plain string ("backtest", "hyperopt", "dry_run", ...)."""
    runmode = config.get("runmode")
    return str(getattr(runmode, "value", runmode or ""))


def is_backtest_like(config: dict[str, Any]) -> bool:
    return runmode_value(config) in ("backtest", "hyperopt")


def timerange_start(config: dict[str, Any]) -> datetime | None:
    """Start of the configured ``timerange`` (UTC) or None when open-ended."""
    from datetime import UTC

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
    from datetime import timedelta

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


def trades_since(pair: str | None, since: datetime) -> list[Any]:
    """Open trades and trades closed after ``since`` (live DB or backtest memory)."""
    from freqtrade.persistence.trade_model import Trade

    closed = Trade.get_trades_proxy(pair=pair, is_open=False, close_date=since)
    still_open = Trade.get_trades_proxy(pair=pair, is_open=True)
    return list(closed) + list(still_open)


def closed_trades_since(since: datetime) -> list[Any]:
    from freqtrade.persistence.trade_model import Trade

    return list(Trade.get_trades_proxy(is_open=False, close_date=since))


def trade_custom_data(trade: Any, prefix: str) -> list[tuple[str, Any]]:
    """``(key, value)`` of a trade's custom data whose key starts with ``prefix``."""
    out = []
    for entry in trade.get_all_custom_data():
        key = getattr(entry, "cd_key", "")
        if key.startswith(prefix):
            out.append((key, entry.value))
    return out


def log_once(plugin: Any, message: str, method: Callable[[str], None]) -> None:
    """LoggingMixin.log_once when available (Freqtrade plugins), else plain logging."""
    log = getattr(plugin, "log_once", None)
    if log is not None:
        log(message, method, True)  # force_show: Freqtrade mutes log_once in backtests
    else:
        method(message)


# Installed on import: the mixin imports this module, and hyperopt's worker processes
# import it again when they unpickle the strategy, so the registry is there too.
install()


def exchange_of(dp: Any) -> Any:
    """Freqtrade's Exchange behind a strategy's DataProvider (private ``dp._exchange``).

    The mixin reads tick sizes, funding rates and the exchange's own fills through it.
    """
    return getattr(dp, "_exchange", None)


# --------------------------------------------------------------------------- order guard
def ccxt_clients(exchange: Any) -> tuple[Any, Any]:
    """Freqtrade's sync and async ccxt clients (private ``_api`` / ``_api_async``)."""
    api = getattr(exchange, "_api", None)
    if api is None:
        raise FreqtradeCompatError(
            f"freqtrade-exec-ext supports Freqtrade {supported_freqtrade_version()}: its "
            "Exchange has no ccxt client '_api'"
        )
    return api, getattr(exchange, "_api_async", None)


def is_spot(exchange: Any) -> bool:
    mode = getattr(exchange, "trading_mode", "spot")
    return str(getattr(mode, "value", mode)) == "spot"


def db_engine() -> Any:
    """The SQLAlchemy engine of Freqtrade's database (after ``init_db``)."""
    from freqtrade.persistence.trade_model import Trade

    session = getattr(Trade, "session", None)
    if session is None:
        raise RuntimeError("Freqtrade's database is not initialised")
    return session.get_bind()


def order_is_tracked(order_id: str, pair: str) -> bool:
    """Whether Freqtrade's orders table holds this exchange order."""
    from freqtrade.persistence.trade_model import Order

    return Order.order_by_id(str(order_id), pair) is not None


def _as_open_order(order: dict[str, Any]) -> dict[str, Any]:
    """A copy of a ccxt order that Freqtrade will take as open and unfilled, so that its
    next loop fetches the order and accounts for the fills itself (fees, trade amounts,
    ``order_filled``) exactly as for an order it placed."""
    out = dict(order)
    out.update(
        {"status": "open", "filled": 0.0, "remaining": order.get("amount"), "cost": 0.0,
         "average": None, "trades": [], "fee": None}
    )
    return out


def adopt_order(
    exchange: Any,
    strategy: Any,
    intent: Any,
    order: dict[str, Any],
    exit_reason_of: Callable[[Any], str | None] = lambda trade: None,
) -> str:
    """Hand Freqtrade an order it placed but never saved (see order_guard.py).

    An entry becomes a new trade, as ``FreqtradeBot.execute_entry`` builds one; an exit or
    stop-loss joins the pair's open trade, with the exit reason the strategy recorded when
    it decided the exit (``exit_reason_of(trade)``), else Freqtrade's "sold_on_exchange".
    Returns where it went, for the journal.
    """
    from datetime import UTC

    from freqtrade.exchange import timeframe_to_minutes
    from freqtrade.persistence.trade_model import Order, Trade

    pair = intent.pair
    amount = float(order.get("amount") or intent.amount)
    price = float(order.get("price") or order.get("average") or intent.price or 0.0)
    if intent.intent == "entry":
        fee = exchange.get_fee(symbol=pair, taker_or_maker="maker")
        config = strategy.config
        leverage = float(intent.leverage or 1.0)
        is_short = intent.side == "sell"
        ts = order.get("timestamp")
        opened = datetime.fromtimestamp(ts / 1000, tz=UTC) if ts else datetime.now(UTC)
        trade = Trade(
            pair=pair,
            base_currency=exchange.get_pair_base_currency(pair),
            stake_currency=config["stake_currency"],
            stake_amount=amount * price / leverage,
            amount=0,
            is_open=True,
            amount_requested=amount,
            fee_open=fee,
            fee_close=fee,
            open_rate=price,
            open_rate_requested=price,
            open_date=opened,
            exchange=exchange.id,
            strategy=strategy.get_strategy_name(),
            enter_tag=intent.enter_tag,
            timeframe=timeframe_to_minutes(config["timeframe"]),
            leverage=leverage,
            is_short=is_short,
            trading_mode=exchange.trading_mode,
            funding_fees=0.0,
            amount_precision=exchange.get_precision_amount(pair),
            price_precision=exchange.get_precision_price(pair),
            precision_mode=exchange.precisionMode,
            precision_mode_price=exchange.precision_mode_price,
            contract_size=exchange.get_contract_size(pair),
        )
        trade.adjust_stop_loss(trade.open_rate, strategy.stoploss, initial=True)
        side = intent.side
        where = "a new trade"
    else:
        open_trades = Trade.get_trades_proxy(pair=pair, is_open=True)
        if not open_trades:
            return (
                f"NOT ADOPTED: no open trade for {pair} to attach this {intent.intent} to; "
                "check the account on the exchange"
            )
        trade = open_trades[0]
        side = "stoploss" if intent.intent == "stoploss" else trade.exit_side
        where = f"trade {trade.id}"
        reason = "stoploss_on_exchange" if intent.intent == "stoploss" else None
        trade.exit_reason = reason or exit_reason_of(trade) or "sold_on_exchange"
    order_obj = Order.parse_from_ccxt_object(_as_open_order(order), pair, side, amount, price)
    order_obj.ft_order_tag = intent.enter_tag if intent.intent == "entry" else trade.exit_reason
    trade.orders.append(order_obj)
    Trade.session.add(trade)
    Trade.commit()
    if intent.intent == "entry":
        where = f"new trade {trade.id}"
    return f"{where}; Freqtrade accounts for its fills on its next loop"
