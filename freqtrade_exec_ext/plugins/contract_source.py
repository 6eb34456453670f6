"""How a plugin finds its strategy's risk contract (the same way the mixin does).

Strategy id, first found wins:

1. the plugin's own ``strategy_id`` parameter;
2. ``config["exec_ext"]["strategy_id"]``;
3. the strategy class name from ``config["strategy"]``: ``STR001`` -> ``STR-001``.

The contract file: :func:`freqtrade_exec_ext.compat.contract.contract_for`, the lookup the
mixin uses too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from freqtrade_exec_ext.contract import ContractError, RiskContract

_CLASS_ID = re.compile(r"^STR_?-?(\d{3,})")


def strategy_id_from_class(name: str | None) -> str | None:
    """``STR001`` (or ``STR_001``, ``STR001Hyperopt``) -> ``STR-001``; else None."""
    if not name:
        return None
    match = _CLASS_ID.match(name)
    return f"STR-{match.group(1)}" if match else None


def load_plugin_contract(
    config: dict[str, Any], plugin_config: dict[str, Any], plugin: str
) -> RiskContract:
    """The contract for this plugin; raises ValueError with one clear line otherwise."""
    section = config.get("exec_ext") or {}
    sid = (
        plugin_config.get("strategy_id")
        or (section.get("strategy_id") if isinstance(section, dict) else None)
        or strategy_id_from_class(config.get("strategy"))
    )
    if not sid:
        raise ValueError(
            f"{plugin}: no strategy id: set the plugin parameter 'strategy_id' or "
            "'exec_ext.strategy_id' in the config (e.g. \"STR-001\"), or run a strategy "
            "named like STR001"
        )
    from freqtrade_exec_ext.compat.contract import contract_for

    try:
        return contract_for(config, str(sid))[0]
    except ContractError as exc:
        detail = "; ".join(str(p) for p in exc.problems)
        raise ValueError(f"{plugin}: risk contract for {sid}: {detail}") from None


def announce_lock(plugin: Any, log: logging.Logger, key: tuple[Any, ...], message: str) -> None:
    """Log a protection's lock once per ``key`` (Freqtrade's own ``log_once`` is muted in
    backtests); silent in hyperopt, where every epoch would repeat it."""
    runmode = plugin._config.get("runmode")
    if str(getattr(runmode, "value", runmode)) == "hyperopt":
        return
    seen: set[tuple[Any, ...]] = plugin.__dict__.setdefault("_exec_ext_announced", set())
    if key not in seen:
        seen.add(key)
        log.info(message)
