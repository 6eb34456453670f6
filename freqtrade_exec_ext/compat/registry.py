"""Make this package's pairlists and protections loadable by name in stock Freqtrade.

Freqtrade's resolvers only search their own package for pairlists and protections, and
its config schema only accepts built-in pairlist names.  :func:`install` wraps
``PairListResolver.load_object`` / ``ProtectionResolver.load_object`` (and their
``search_all_objects``) with a small registry of our plugin classes, and appends our
pairlist names to ``freqtrade.constants.AVAILABLE_PAIRLISTS`` (the schema's enum).

Nothing happens on import: the strategy (``ExecutionMixin.__init__`` and the
``protections`` it builds, also inside hyperopt's worker processes), the plugins and the
CLI call :func:`install` explicitly.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.compat.version import check_internals, operational_exception
from freqtrade_exec_ext.errors import InputRefused

logger = logging.getLogger(__name__)

CONFIG_KEY = "exec_ext"

# Our plugins: class name -> module (one plugin per module).
PAIRLISTS: dict[str, str] = {
    "ExecutionCostFilter": "freqtrade_exec_ext.plugins.execution_cost_filter",
}
PROTECTIONS: dict[str, str] = {
    "SlippageGuard": "freqtrade_exec_ext.plugins.slippage_guard",
    "DailyLossGuard": "freqtrade_exec_ext.plugins.daily_loss_guard",
}


class ExecExtConfigError(InputRefused, ValueError):
    """Bad ``exec_ext`` section in the Freqtrade config (one clear line)."""


_state: dict[str, Any] = {"installed": False, "config_hook": False}


def plugin_class(name: str) -> type | None:
    """Our plugin class called ``name``, or None when it is not one of ours."""
    module = PAIRLISTS.get(name) or PROTECTIONS.get(name)
    if module is None:
        return None
    klass: type = getattr(importlib.import_module(module), name)
    return klass


def _wrap_resolver(resolver: Any, names: dict[str, str], kind: str) -> None:
    original_load = resolver.__dict__.get("load_object")
    original_search = resolver.__dict__.get("search_all_objects")
    base_load = resolver.load_object.__func__
    base_search = resolver.search_all_objects.__func__

    def load_object(
        cls: type,
        object_name: str,
        config: dict[str, Any],
        *,
        kwargs: dict[str, Any],
        extra_dir: str | None = None,
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
        cls: type, config: dict[str, Any], enum_failed: bool, recursive: bool = False
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = base_search(cls, config, enum_failed, recursive)
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
    resolver.load_object = classmethod(load_object)
    resolver.search_all_objects = classmethod(search_all_objects)
    resolver._exec_ext_originals = (original_load, original_search)


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
        config: dict[str, Any] = original(self)
        try:
            merge_exec_ext_pairlists(config)
        except ExecExtConfigError as exc:
            raise OperationalException(str(exc)) from None
        runmode = getattr(getattr(self, "runmode", None), "value", None)
        if runmode in ("live", "dry_run", "backtest", "hyperopt", "util_exchange"):
            _refuse_unreachable_local_exchange(config)
        return config

    Configuration.load_config = load_config
    _state["config_hook"] = True


def _refuse_unreachable_local_exchange(config: dict[str, Any]) -> None:
    """Before Freqtrade builds its exchange (which only says "Could not load markets"):
    a config pointing at a local exchange that does not answer gets the first-run hint."""
    from freqtrade.exceptions import OperationalException

    from freqtrade_exec_ext.localex import daemon
    from freqtrade_exec_ext.localex.urls import local_base_url, not_running_hint

    exchange = config.get("exchange")
    base = local_base_url(exchange) if isinstance(exchange, dict) else None
    if base is not None and not daemon.ping(base, timeout=5.0):
        raise OperationalException(not_running_hint(base))


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


def plugin_bases() -> tuple[type, Any, type, type]:
    """``(IPairList, SupportsBacktesting, IProtection, ProtectionReturn)``."""
    install()
    from freqtrade.plugins.pairlist.IPairList import IPairList, SupportsBacktesting
    from freqtrade.plugins.protections.iprotection import IProtection, ProtectionReturn

    return IPairList, SupportsBacktesting, IProtection, ProtectionReturn


def log_once(plugin: Any, message: str, method: Callable[[str], None]) -> None:
    """LoggingMixin.log_once when available (Freqtrade plugins), else plain logging."""
    log = getattr(plugin, "log_once", None)
    if log is not None:
        log(message, method, True)  # force_show: Freqtrade mutes log_once in backtests
    else:
        method(message)
