"""The risk contract binds: every setting it owns is in effect, or the command stops.

Freqtrade reads a setting from many places: config files (and their ``add_config_files``),
``FREQTRADE__*`` environment variables, command-line flags, the REST API's backtest
request, strategy class attributes, the hyperopt parameter file beside the strategy, and
hyperopt's search spaces.  This module knows which settings the contract owns
(:data:`OWNED`) and compares what a source would put in effect with the contract's value.
It is pure: the adapter (``strategy/startup.py``) collects the facts (config dict,
environment, argv, files) and turns :class:`Conflict` objects into one message.

Rule, per source (``docs/mixin.md``, "Where settings come from"):

* config files, environment variables, command-line flags, REST API requests, the
  hyperopt parameter file and hyperopt spaces: a value other than the contract's **stops
  the command**, naming the source and the contract value; all conflicts at once;
* strategy class attributes: **the contract's value is in effect** (a warning names the
  attribute it replaced), so that a ported strategy runs without editing its defaults;
* ``lookahead-analysis`` / ``recursive-analysis`` (utility run modes that place no order):
  the values Freqtrade forces for the analysis are in effect, and said so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.strategy import settings as ft_settings


@dataclass(frozen=True)
class Owned:
    """A Freqtrade setting the contract owns."""

    key: str
    field: str  # the contract field(s) it is derived from
    flag: str | None = None  # Freqtrade's command-line flag that sets it, if any


OWNED: tuple[Owned, ...] = (
    Owned("stoploss", "stop_loss.stoploss"),
    Owned("trailing_stop", "stop_loss.trailing.enabled"),
    Owned("trailing_stop_positive", "stop_loss.trailing.positive"),
    Owned("trailing_stop_positive_offset", "stop_loss.trailing.offset"),
    Owned("trailing_only_offset_is_reached", "stop_loss.trailing.only_offset_is_reached"),
    Owned("use_custom_stoploss", "stop_loss (exact per-trade stops)"),
    Owned("max_open_trades", "capital.max_open_trades", "--max-open-trades"),
    Owned("order_types", "orders.entry_type/exit_type, stop_loss.on_exchange/order_type"),
    Owned("order_time_in_force", "orders.time_in_force"),
    Owned("unfilledtimeout", "orders.entry_timeout_s/exit_timeout_s"),
    Owned("stake_amount", "sizing.*: the mixin sizes every trade", "--stake-amount"),
    Owned("dry_run_wallet", "capital.initial_capital", "--dry-run-wallet"),
    Owned("stake_currency", "market.stake_currency"),
    Owned("trading_mode", "market.trading_mode"),
    Owned("margin_mode", "market.margin_mode"),
)
OWNED_BY_KEY: dict[str, Owned] = {o.key: o for o in OWNED}

# Owned settings that live in Freqtrade's config, not on the strategy
CONFIG_ONLY = frozenset(
    {"stake_amount", "dry_run_wallet", "stake_currency", "trading_mode", "margin_mode"}
)
# Values lookahead-analysis forces for its own purpose (it places no order; Freqtrade's
# LookaheadAnalysisSubFunctions.calculate_config_overrides).  Only these exact values pass.
ANALYSIS_FORCED: dict[str, Any] = {
    "max_open_trades": -1,
    "stake_amount": 10_000,
    "dry_run_wallet": 1_000_000_000,
    "order_types": {
        "entry": "market",
        "exit": "market",
        "stoploss": "market",
        "stoploss_on_exchange": False,
    },
}


def analysis_forced(key: str, value: Any) -> bool:
    """Whether ``value`` is what lookahead-analysis forces for ``key``."""
    if key not in ANALYSIS_FORCED:
        return False
    forced = ANALYSIS_FORCED[key]
    if key == "max_open_trades":
        v = _float(value)
        return v is not None and (v < 0 or math.isinf(v))
    if key == "dry_run_wallet":
        v = _float(value)
        return v is not None and v >= forced
    return same(key, value, forced)


# hyperopt spaces that would move contract-owned settings
OWNED_SPACES: dict[str, tuple[str, ...]] = {
    "stoploss": ("stoploss",),
    "trailing": (
        "trailing_stop",
        "trailing_stop_positive",
        "trailing_stop_positive_offset",
        "trailing_only_offset_is_reached",
    ),
    "trades": ("max_open_trades",),
}


@dataclass(frozen=True)
class Conflict:
    """A source that would put a value other than the contract's into effect."""

    key: str
    value: Any
    want: Any
    source: str
    text: str = ""  # a message of its own (hyperopt spaces)

    def line(self) -> str:
        if self.text:
            return self.text
        owned = OWNED_BY_KEY.get(self.key)
        field = owned.field if owned else self.key
        return (
            f"{self.key}={_show(self.value)} from {self.source}: the contract sets "
            f"{_show(self.want)} ({field})"
        )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def expected_settings(contract: RiskContract, *, custom_stoploss: bool) -> dict[str, Any]:
    """Every owned setting's value in Freqtrade's terms, for this contract and strategy.

    ``custom_stoploss``: the strategy overrides ``custom_stoploss`` (the mixin then guards
    it, and Freqtrade must call it).  Futures always need it: the mixin sets each trade's
    stop from that trade's leverage.
    """
    out = {**ft_settings.strategy_settings(contract), **ft_settings.wallet_settings(contract)}
    out["use_custom_stoploss"] = bool(custom_stoploss or contract.is_futures)
    return out


def _float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v


def _timeout_seconds(value: Any) -> dict[str, float] | None:
    if not isinstance(value, Mapping):
        return None
    unit = str(value.get("unit", "minutes"))
    scale = 1.0 if unit == "seconds" else 60.0
    out = {}
    for k in ("entry", "exit"):
        v = _float(value.get(k))
        if v is None:
            return None
        out[k] = v * scale
    out["exit_timeout_count"] = _float(value.get("exit_timeout_count", 0)) or 0.0
    return out


def _same_trades(have: Any, want: Any, simulated: bool) -> bool:
    h, w = _float(have), _float(want)
    return h is not None and w is not None and (h == w or (h < 0 and math.isinf(w)))


def _same_order_types(have: Any, want: Any, simulated: bool) -> bool:
    if not isinstance(have, Mapping):
        return False
    for k, v in want.items():
        if k == "stoploss_on_exchange" and simulated:
            continue  # backtests switch it off in their own copy: a perfect stop is assumed
        if have.get(k) != v:
            return False
    return True


def _same_timeouts(have: Any, want: Any, simulated: bool) -> bool:
    return _timeout_seconds(have) == _timeout_seconds(want)


def _same_stake(have: Any, want: Any, simulated: bool) -> bool:
    if str(have) == str(want):
        return True
    h, w = _float(have), _float(want)
    return h is not None and h == w


_COMPARE = {
    "max_open_trades": _same_trades,
    "order_types": _same_order_types,
    "unfilledtimeout": _same_timeouts,
    "stake_amount": _same_stake,
}


def same(key: str, have: Any, want: Any, *, simulated: bool = False) -> bool:
    """Whether ``have`` puts the contract's ``want`` into effect for setting ``key``.

    ``simulated``: backtests switch ``stoploss_on_exchange`` off in their own copy (a
    perfect stop is assumed there), which is not a contradiction.
    """
    compare = _COMPARE.get(key)
    if compare is not None:
        return compare(have, want, simulated)
    if isinstance(want, bool) or isinstance(have, bool):
        return bool(have) == bool(want) and (have is not None or want is False)
    if isinstance(want, int | float):
        h = _float(have)
        return h is not None and math.isclose(h, float(want), rel_tol=0, abs_tol=1e-12)
    if want is None:
        return have is None
    return bool(have == want)


def conflicts(
    config: Mapping[str, Any],
    want: Mapping[str, Any],
    source_of: Any,
    *,
    simulated: bool,
    analysis: bool,
) -> list[Conflict]:
    """Owned settings the config holds with another value than the contract's.

    ``source_of(key) -> str`` names where the config's value came from.  In analysis
    runs, the values Freqtrade forces (:data:`ANALYSIS_FORCED`) are not conflicts.
    """
    out = []
    for key, value in want.items():
        if key not in config or key == "use_custom_stoploss" and config[key] is True:
            continue
        if analysis and analysis_forced(key, config[key]):
            continue
        if key == "margin_mode" and not config[key] and not value:
            continue
        if not same(key, config[key], value, simulated=simulated):
            out.append(Conflict(key, config[key], value, source_of(key)))
    return out


def param_file_conflicts(
    params: Mapping[str, Any], want: Mapping[str, Any], file: str
) -> list[Conflict]:
    """Contract-owned values in a hyperopt parameter file (``<Strategy>.json``).

    Hyperopt also writes the values of spaces it did not search (the strategy's, hence the
    contract's); those agree and are accepted.
    """
    found: dict[str, Any] = {}
    stop = params.get("stoploss")
    if isinstance(stop, Mapping) and "stoploss" in stop:
        found["stoploss"] = stop["stoploss"]
    trailing = params.get("trailing")
    if isinstance(trailing, Mapping):
        for key in OWNED_SPACES["trailing"]:
            if key in trailing:
                found[key] = trailing[key]
    trades = params.get("max_open_trades")
    if isinstance(trades, Mapping) and "max_open_trades" in trades:
        found["max_open_trades"] = trades["max_open_trades"]
    out = []
    for key, value in found.items():
        if key != "trailing_stop" and key.startswith("trailing_") and not want.get("trailing_stop"):
            continue  # the contract trails not at all: trailing_stop says it all
        if not same(key, value, want.get(key)):
            out.append(Conflict(key, value, want.get(key), f"hyperopt parameter file {file}"))
    return out


def has_space(spaces: list[str], space: str) -> bool:
    """Freqtrade's rule: 'default' is roi, stoploss, buy and sell; 'all' is every space."""
    if space in ("trailing", "protection", "trades"):
        return any(s in spaces for s in (space, "all"))
    return any(s in spaces for s in (space, "all", "default"))


def space_conflicts(spaces: list[str], want: Mapping[str, Any]) -> list[Conflict]:
    """Hyperopt spaces that would move contract-owned settings."""
    out = []
    given = " ".join(spaces)
    for space, keys in OWNED_SPACES.items():
        if not has_space(spaces, space):
            continue
        fields = ", ".join(
            f"{k}={_show(want.get(k))} ({OWNED_BY_KEY[k].field})" for k in keys if k in want
        )
        out.append(
            Conflict(
                keys[0],
                None,
                want.get(keys[0]),
                f"hyperopt --spaces {given}",
                text=(
                    f"hyperopt --spaces {given}: space '{space}' would search settings the "
                    f"contract owns ({fields})"
                ),
            )
        )
    return out


def allowed_spaces(spaces: list[str]) -> list[str]:
    """The spaces the user asked for, without the contract's (for the hint)."""
    expanded: list[str] = []
    for s in spaces:
        if s == "default":
            expanded += ["roi", "buy", "sell"]
        elif s == "all":
            expanded += ["roi", "buy", "sell", "protection"]
        elif s not in OWNED_SPACES:
            expanded.append(s)
    return list(dict.fromkeys(expanded)) or ["roi", "buy", "sell"]
