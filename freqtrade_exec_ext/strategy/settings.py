"""The contract's limits expressed as Freqtrade settings (pure; one mapping for all users).

The mixin applies these as strategy attributes, the deployment generator writes them
into config.json, and ``freqtrade-exec validate`` recomputes them to compare.
"""

from __future__ import annotations

from typing import Any

from freqtrade_exec_ext.contract import RiskContract


def order_types(c: RiskContract) -> dict[str, Any]:
    return {
        "entry": c.orders.entry_type,
        "exit": c.orders.exit_type,
        "force_entry": c.orders.entry_type,
        "force_exit": "market",
        "emergency_exit": "market",
        "stoploss": "limit" if c.stop_loss.order_type == "stop_limit" else "market",
        "stoploss_on_exchange": c.stop_loss.on_exchange,
        "stoploss_on_exchange_limit_ratio": c.stop_loss.limit_ratio,
    }


def order_time_in_force(c: RiskContract) -> dict[str, str]:
    return {"entry": c.orders.time_in_force, "exit": c.orders.time_in_force}


# Freqtrade's own timeout is a backstop this long after the contract's: the mixin decides
# at the contract's timeout itself (check_entry_timeout / check_exit_timeout), because
# Freqtrade never calls those callbacks once its own timeout has expired, and the
# partial-fill rule (min_fill_ratio) needs that call.
TIMEOUT_BACKSTOP_S = 60


def unfilledtimeout(c: RiskContract) -> dict[str, Any]:
    # exit_timeout_count max_reprices + 1: in live and dry-run the mixin cancels an exit at
    # each of its max_reprices ladder steps and places it again; the next cancel, at the
    # contract's exit_timeout_s (or this backstop), escalates to an emergency market exit,
    # so that no position is left without an exit.  Freqtrade counts every cancelled exit
    # order of the trade, so an earlier cancelled exit brings the escalation forward.
    return {
        "entry": c.orders.entry_timeout_s + TIMEOUT_BACKSTOP_S,
        "exit": c.orders.exit_timeout_s + TIMEOUT_BACKSTOP_S,
        "exit_timeout_count": c.orders.max_reprices + 1,
        "unit": "seconds",
    }


def stoploss_settings(c: RiskContract) -> dict[str, Any]:
    """Freqtrade's stop settings.

    ``stoploss`` is the contract's price move.  On spot that is also Freqtrade's meaning.
    On futures Freqtrade divides it by the trade's leverage, so this initial stop is
    tighter than the contract's; the mixin's ``custom_stoploss`` moves it to the exact
    price at the first fill (``after_fill``) from the trade's own leverage, and trails in
    price terms itself: Freqtrade's own trailing (margin-relative) stays off on futures.
    """
    trailing = c.stop_loss.trailing
    native_trailing = trailing.enabled and not c.is_futures
    out: dict[str, Any] = {"stoploss": c.stop_loss.stoploss, "trailing_stop": native_trailing}
    if native_trailing:
        out |= {
            "trailing_stop_positive": trailing.positive,
            "trailing_stop_positive_offset": trailing.offset,
            "trailing_only_offset_is_reached": trailing.only_offset_is_reached,
        }
    return out


def strategy_settings(c: RiskContract) -> dict[str, Any]:
    """Strategy-level settings Freqtrade reads from a strategy or its config."""
    return {
        **stoploss_settings(c),
        "max_open_trades": c.capital.max_open_trades,
        "order_types": order_types(c),
        "order_time_in_force": order_time_in_force(c),
        "unfilledtimeout": unfilledtimeout(c),
    }


def wallet_settings(c: RiskContract) -> dict[str, Any]:
    """Config-level money settings: the paper wallet is the contract's capital."""
    return {
        "stake_currency": c.market.stake_currency,
        "stake_amount": "unlimited",  # the mixin sizes every trade (custom_stake_amount)
        "dry_run_wallet": c.capital.initial_capital,
        "trading_mode": c.market.trading_mode,
        "margin_mode": c.market.margin_mode if c.is_futures else "",
    }
