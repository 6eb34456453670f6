"""A strategy's own callbacks, combined with the mixin's so the contract holds around them.

``ExecutionMixin.__init_subclass__`` calls :func:`guard_class`: every override of a
callback in :data:`GUARDED_CALLBACKS` is wrapped when the class is created.  Calling
``super()`` inside the override is allowed and harmless (limits applied twice change
nothing).  See docs/mixin.md, "Your own callbacks".
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from freqtrade_exec_ext.execution import stops
from freqtrade_exec_ext.execution.numbers import finite
from freqtrade_exec_ext.strategy.legs import Leg
from freqtrade_exec_ext.strategy.market import BoundUnknown

logger = logging.getLogger(__name__)

GUARDED_CALLBACKS = (
    "bot_start",
    "bot_loop_start",
    "custom_stake_amount",
    "leverage",
    "custom_entry_price",
    "custom_exit_price",
    "confirm_trade_entry",
    "adjust_entry_price",
    "adjust_exit_price",
    "check_entry_timeout",
    "check_exit_timeout",
    "order_filled",
    "adjust_trade_position",
)
Combiner = Callable[[Any, Callable[..., Any], Callable[..., Any], dict[str, Any]], Any]


def guard_class(cls: type, base: type) -> None:
    """Wrap the overrides ``cls`` defines itself (``base``: the mixin)."""
    for name in GUARDED_CALLBACKS:
        fn = cls.__dict__.get(name)
        if fn is None or getattr(fn, "_xm_guarded", False) or not callable(fn):
            continue
        setattr(cls, name, _guard(name, fn, base))
    fn = cls.__dict__.get("custom_stoploss")
    if callable(fn) and not getattr(fn, "_xm_guarded", False):
        cls.custom_stoploss = guard_stoploss(fn)  # type: ignore[attr-defined]


def _guard(name: str, user_fn: Callable[..., Any], base: type) -> Callable[..., Any]:
    mixin_fn = getattr(base, name)
    combine = COMBINERS[name]
    sig = inspect.signature(mixin_fn)

    @functools.wraps(user_fn)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        kw = kwargs
        if args:
            bound = sig.bind_partial(None, *args, **kwargs)
            kw = dict(bound.arguments)
            kw.pop("self", None)
            kw.update(kw.pop("kwargs", {}) or {})
        return combine(self, mixin_fn, user_fn, kw)

    guarded._xm_guarded = True  # type: ignore[attr-defined]
    return guarded


def _c_stake(
    self: Any, mixin_fn: Callable[..., Any], user_fn: Callable[..., Any], kw: dict[str, Any]
) -> float:
    ours = mixin_fn(self, **kw)
    if ours <= 0:
        return 0.0
    try:
        theirs = finite(user_fn(self, **{**kw, "proposed_stake": ours}))
    except Exception:  # fail closed
        logger.exception("exec_ext: the strategy's custom_stake_amount failed; skipping entry")
        return 0.0
    if theirs is None or theirs <= 0:
        return 0.0
    low = max(self.risk_contract.sizing.min_stake, finite(kw.get("min_stake")) or 0.0)
    return max(min(theirs, ours), low) if ours >= low else 0.0


def _c_leverage(
    self: Any, mixin_fn: Callable[..., Any], user_fn: Callable[..., Any], kw: dict[str, Any]
) -> float:
    try:
        theirs = finite(user_fn(self, **kw)) or 1.0
    except Exception:  # fail closed: no leverage
        logger.exception("exec_ext: the strategy's leverage failed; using 1")
        theirs = 1.0
    return float(mixin_fn(self, **{**kw, "proposed_leverage": theirs}))


def _price(
    self: Any,
    user_fn: Callable[..., Any],
    kw: dict[str, Any],
    ours: float,
    leg: Leg,
    decision: float | None,
    pair: str,
) -> float:
    """The strategy's price inside the leg's bound, on the tick grid; the mixin's own price
    when the strategy's callback fails."""
    try:
        theirs = finite(user_fn(self, **{**kw, "proposed_rate": ours})) or ours
    except Exception:
        logger.exception("exec_ext: the strategy's %s price failed", leg.intent)
        return ours
    try:
        tick = self.exec_ext_market.tick_for(pair, entry=leg.entry)
    except BoundUnknown:
        return ours
    return leg.clamp(theirs, decision, tick)


def _c_entry_price(
    self: Any, mixin_fn: Callable[..., Any], user_fn: Callable[..., Any], kw: dict[str, Any]
) -> float:
    ours = mixin_fn(self, **kw)
    pair, trade = kw["pair"], kw.get("trade")
    book = self.exec_ext_decisions
    d = book.pending.get(pair) if trade is None else book.entry(trade)
    if d is None or d.refused or not d.decision_price:
        return float(ours)  # the mixin's own price; an entry it could not bound is denied
    leg = Leg.of(self.risk_contract, entry=True, is_short=kw.get("side") == "short")
    price = _price(self, user_fn, kw, ours, leg, d.decision_price, pair)
    d = d.with_(price=price, last_order_price=price)
    if trade is None:
        book.pending[pair] = d
    else:
        book.save(trade, "entry", d)
    return price


def _c_exit_price(
    self: Any, mixin_fn: Callable[..., Any], user_fn: Callable[..., Any], kw: dict[str, Any]
) -> float:
    ours = mixin_fn(self, **kw)
    trade = kw["trade"]
    d = self.exec_ext_decisions.get(trade, "exit")
    leg = Leg.of(
        self.risk_contract, entry=False, is_short=bool(trade.is_short), reason=kw.get("exit_tag")
    )
    return _price(self, user_fn, kw, ours, leg, d.decision_price if d else None, kw["pair"])


def _c_all_true(
    self: Any, mixin_fn: Callable[..., Any], user_fn: Callable[..., Any], kw: dict[str, Any]
) -> bool:
    if not mixin_fn(self, **kw):
        return False
    try:
        return bool(user_fn(self, **kw))
    except Exception:  # fail closed
        logger.exception("exec_ext: the strategy's confirm callback failed; denying")
        return False


def _c_adjust(
    self: Any,
    mixin_fn: Callable[..., Any],
    user_fn: Callable[..., Any],
    kw: dict[str, Any],
    entry: bool,
) -> float | None:
    ours = mixin_fn(self, **kw)
    theirs = user_fn(self, **{**kw, "proposed_rate": ours})
    if theirs is None:
        return None  # the strategy cancels the order
    price = finite(theirs)
    if price is None:
        return finite(kw["current_order_rate"])
    trade = kw["trade"]
    book = self.exec_ext_decisions
    d = book.entry(trade) if entry else book.get(trade, "exit")
    leg = Leg.of(
        self.risk_contract,
        entry=entry,
        is_short=bool(trade.is_short),
        reason=d.reason if d else None,
    )
    try:
        tick = self.exec_ext_market.tick_for(trade.pair, entry=entry)
    except BoundUnknown:  # the order stays as it is
        return finite(kw["current_order_rate"])
    return leg.clamp(price, d.decision_price if d else None, tick)


def _c_adjust_entry(
    self: Any, m: Callable[..., Any], u: Callable[..., Any], kw: dict[str, Any]
) -> float | None:
    return _c_adjust(self, m, u, kw, True)


def _c_adjust_exit(
    self: Any, m: Callable[..., Any], u: Callable[..., Any], kw: dict[str, Any]
) -> float | None:
    return _c_adjust(self, m, u, kw, False)


def _c_any_true(
    self: Any, mixin_fn: Callable[..., Any], user_fn: Callable[..., Any], kw: dict[str, Any]
) -> bool:
    if mixin_fn(self, **kw):
        return True
    return bool(user_fn(self, **kw))


def _c_both(
    self: Any, mixin_fn: Callable[..., Any], user_fn: Callable[..., Any], kw: dict[str, Any]
) -> Any:
    mixin_fn(self, **kw)
    return user_fn(self, **kw)


def _c_position(
    self: Any, mixin_fn: Callable[..., Any], user_fn: Callable[..., Any], kw: dict[str, Any]
) -> Any:
    """Partial exits (negative amounts) stay the strategy's; an extra entry is clamped to
    the contract's sizing for one trade, or skipped with a reason code."""
    try:
        result = user_fn(self, **kw)
    except Exception:  # fail closed: no adjustment
        logger.exception("exec_ext: the strategy's adjust_trade_position failed")
        return None
    amount, tag = result if isinstance(result, tuple) else (result, None)
    add = finite(amount)
    if add is None or add <= 0:
        return result
    trade = kw["trade"]
    try:
        return self.exec_ext_position_add(trade, add, tag, kw.get("min_stake"), kw["current_time"])
    except Exception:  # fail closed: no add
        logger.exception("exec_ext: could not check a position add for %s", trade.pair)
        return None


COMBINERS: dict[str, Combiner] = {
    "bot_start": _c_both,
    "bot_loop_start": _c_both,
    "custom_stake_amount": _c_stake,
    "leverage": _c_leverage,
    "custom_entry_price": _c_entry_price,
    "custom_exit_price": _c_exit_price,
    "confirm_trade_entry": _c_all_true,
    "adjust_entry_price": _c_adjust_entry,
    "adjust_exit_price": _c_adjust_exit,
    "check_entry_timeout": _c_any_true,
    "check_exit_timeout": _c_any_true,
    "order_filled": _c_both,
    "adjust_trade_position": _c_position,
}


def guard_stoploss(user_fn: Callable[..., Any]) -> Callable[..., Any]:
    """A strategy's ``custom_stoploss`` may tighten the contract's stop, never loosen it
    (``after_fill`` included, where Freqtrade lets a stop move down).

    The wrapper has explicit parameters, ``after_fill`` among them: Freqtrade decides from
    the signature whether to call it right after fills, which futures need.  A strategy
    whose own function lacks ``after_fill`` is not asked then (as Freqtrade would not)."""
    takes_after_fill = "after_fill" in inspect.signature(user_fn).parameters

    def custom_stoploss(
        self: Any,
        pair: str,
        trade: Any,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        after_fill: bool = False,
        **kwargs: Any,
    ) -> float | None:
        is_short, lev = bool(trade.is_short), float(trade.leverage or 1.0)
        try:
            ours = self.exec_ext_contract_stop(trade, current_rate)
        except Exception:  # no contract stop computable: keep Freqtrade's (never loosens)
            logger.exception("exec_ext: contract stop unknown for %s; stop unchanged", pair)
            return None
        theirs = None
        if takes_after_fill or not after_fill:
            extra = {"after_fill": after_fill} if takes_after_fill else {}
            try:
                ratio = finite(
                    user_fn(
                        self,
                        pair=pair,
                        trade=trade,
                        current_time=current_time,
                        current_rate=current_rate,
                        current_profit=current_profit,
                        **extra,
                        **kwargs,
                    )
                )
            except Exception:
                logger.exception("exec_ext: the strategy's custom_stoploss failed for %s", pair)
                ratio = None
            if ratio:
                theirs = stops.price_of_ft_ratio(ratio, current_rate, is_short, lev)
                if stops.is_looser(theirs, ours, is_short):
                    self.exec_ext_note_stop_clamp(pair, ratio, theirs, ours)
        price = stops.tighter(ours, theirs, is_short) or ours
        return stops.ft_stop_ratio(price, current_rate, is_short, lev)

    custom_stoploss.__doc__ = user_fn.__doc__
    custom_stoploss._xm_guarded = True  # type: ignore[attr-defined]
    return custom_stoploss
