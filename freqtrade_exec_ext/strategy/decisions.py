"""The decisions the strategy adapter records (issue 15): one per entry or exit it allows.

A decision opens when the mixin lets an order go out for a position change:

* an entry at ``confirm_trade_entry`` (kind ``signal``; ``forced`` for Freqtrade's
  ``force_entry``), a position add at its first fill (kind ``adjust``);
* an exit at ``confirm_trade_exit`` in live and dry-run (kind from the exit reason:
  stop-loss -> ``stop``, ``force_exit`` -> ``forced``, the kill switch -> ``kill``, ...),
  and at its first fill where Freqtrade asks no confirmation (backtests, a stop-loss on
  the exchange, a liquidation).

Its record (:class:`~freqtrade_exec_ext.execution.decisions.Decision`) takes the decision
price, arrival mid and spread the mixin already holds for the order (its decision context,
or the ledger record of the fill), the target amount Freqtrade confirmed and the time of the
strategy's clock.  Every child order of the trade's side placed after it joins it (repriced,
cancelled, an emergency market exit); it closes when the position change is complete, or
when it is cancelled, times out or is superseded (a kill-switch flatten interrupts an exit:
that exit ends ``cancelled`` at the mid of that moment and the flatten is a decision of its
own).  An entry whose trade Freqtrade deleted closes ``cancelled`` with nothing filled.

The kill switch is recognised by the exit reason of the bot's own kill switch
(``kill_switch_flatten``) and, for ``freqtrade-exec kill --flatten`` (Freqtrade's REST API),
by a ``force_exit`` while entries are stopped (``/stopentry``) or an exit that follows an
exit order cancelled by the user (``DELETE /trades/<id>/open-order``).

Live and dry-run write ``exec_ext_decisions`` in Freqtrade's database, from the bot loop
(``bot_loop_start`` and the bot's stop), never inside Freqtrade's own transactions;
backtests write ``<Strategy>-exec-decisions.jsonl`` beside the ledger; hyperopt nothing.
Recording is measurement: an error is logged once and never changes what the mixin allows.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.compat.ops import FLATTEN_REASON, bot_id_of
from freqtrade_exec_ext.execution.decisions import Decision, Kind, status_of
from freqtrade_exec_ext.execution.numbers import finite as num
from freqtrade_exec_ext.store.decisions import DecisionLog, DecisionSink, DecisionStore
from freqtrade_exec_ext.store.decisions import decision_log_path as _log_path
from freqtrade_exec_ext.timeutil import as_utc as utc

logger = logging.getLogger(__name__)

STOP_KINDS = frozenset({"stop_loss", "trailing_stop_loss", "stoploss_on_exchange"})
SAME_EXECUTION = frozenset({"emergency_exit"})  # Freqtrade's escalation of an open exit
#: kinds that end the exit being worked and open their own decision
SUPERSEDING = frozenset({"stop", "forced", "kill", "liquidation"})
EPS = 1e-9


def exit_kind(reason: str | None, *, kill: bool = False) -> Kind:
    """The kind of an exit decision from Freqtrade's exit reason."""
    if kill or reason == FLATTEN_REASON:
        return "kill"
    if reason in STOP_KINDS:
        return "stop"
    simple: dict[str | None, Kind] = {
        "liquidation": "liquidation",
        "roi": "roi",
        "force_exit": "forced",
        "emergency_exit": "emergency",
    }
    return simple.get(reason, "signal")


@dataclass
class Working:
    """A decision being executed: its record (order ids kept current) and what it owns."""

    handle: int
    record: Decision
    exclude: frozenset[str] = frozenset()  # orders of the trade placed before it
    unseen: int = 0  # bot loops that found no trade for it yet


@dataclass
class Writer:
    """Decision writes in order, run when ``flush`` is called (a failing write is logged
    once and dropped; later writes go on)."""

    sink: DecisionSink
    ops: list[Callable[[], None]] = field(default_factory=list)
    ids: dict[int, int] = field(default_factory=dict)  # handle -> the sink's id
    said: bool = False

    def open(self, handle: int, get: Callable[[], Decision]) -> None:
        self.ops.append(lambda: self.ids.__setitem__(handle, self.sink.open_decision(get())))

    def attach(self, handle: int, order_id: str) -> None:
        self.ops.append(lambda: self.sink.attach_order(self.ids[handle], order_id))

    def set_trade(self, handle: int, trade_id: int | None) -> None:
        if handle not in self.ids:
            return  # not written yet: the record is written with it
        self.ops.append(lambda: self.sink.set_trade(self.ids[handle], trade_id))

    def close(self, handle: int, record: Decision) -> None:
        assert record.ended_at is not None
        self.ops.append(
            lambda: self.sink.close_decision(
                self.ids.pop(handle),
                record.status,
                record.filled_amount,
                record.ended_at,  # type: ignore[arg-type]
                record.end_mid,
            )
        )

    def flush(self) -> None:
        ops, self.ops = self.ops, []
        for op in ops:
            try:
                op()
            except Exception:
                if not self.said:
                    self.said = True
                    logger.exception("exec_ext: could not record a decision (said once)")


class DecisionRecorder:
    """Opens, follows and closes the mixin's decisions (see the module docstring)."""

    def __init__(self, strategy: Any) -> None:
        self._s = strategy
        self.writer: Writer | None = None
        self.working: dict[tuple[str, str], Working] = {}  # (pair, intent) -> decision
        self.claimed: set[str] = set()  # order ids owned by a decision
        self._next = 0
        self._backtest = False
        self._bot = ""
        self._mode = ""
        # live/dry-run: the bot loop and the REST API's thread (hyperopt pickles the
        # strategy: no lock before start)
        self._lock: Any = contextlib.nullcontext()

    # ---------------------------------------------------------------- the bot's life
    def start(self, mode: Any, file_mode: bool, live: bool) -> Path | None:
        """bot_start: the decision log (backtests) or the bot's database (live/dry-run)."""
        self.working.clear()
        self.claimed.clear()
        self.close()
        s = self._s
        self._bot = bot_id_of(s.config, s.risk_contract.strategy_id)
        self._mode = str(getattr(mode, "value", mode))
        self._backtest = file_mode
        try:
            if file_mode:
                path = _log_path(compat.backtest_results_dir(s.config), type(s).__name__)
                path.parent.mkdir(parents=True, exist_ok=True)
                self.writer = Writer(DecisionLog(path))
                return path
            if live:
                self._lock = threading.RLock()
                self.writer = Writer(DecisionStore(compat.db_engine()))
        except Exception:
            logger.exception("exec_ext: decisions are not recorded")
        return None

    def close(self) -> None:
        if self.writer is None:
            return
        with self._lock:
            self.writer.flush()
        if isinstance(self.writer.sink, DecisionLog):
            self.writer.sink.close()
        self.writer = None

    def loop(self, now: datetime) -> None:
        """bot_loop_start: follow every working decision on Freqtrade's trades, write."""
        if self.writer is None:
            return
        with self._lock:
            self._safe(self._sync_all, self._time(now))
            self.writer.flush()

    # ---------------------------------------------------------------- opening
    def entry_allowed(
        self, pair: str, side: str, amount: float, rate: float, tag: str | None, now: datetime
    ) -> bool:
        """confirm_trade_entry allowed this entry; always True (recording never refuses)."""
        with self._lock:
            self._safe(self._entry, pair, side, amount, rate, tag, self._time(now))
        return True

    def exit_allowed(self, trade: Any, reason: str | None, amount: float, rate: float) -> None:
        """confirm_trade_exit allowed this exit (live and dry-run; also from the REST API's
        thread: ``/forceexit``)."""
        with self._lock:
            self._safe(self._exit, trade, reason, amount, rate)

    def _entry(
        self, pair: str, side: str, amount: float, rate: float, tag: str | None, now: datetime
    ) -> None:
        s = self._s
        ctx = s.exec_ext_decisions.pending.get(pair)
        if self.writer is None or ctx is None:  # no decision: a backtest replacement
            return
        decided = utc(datetime.fromisoformat(ctx.decision_time)) if ctx.decision_time else now
        decided = decided or now
        w = self.working.get((pair, "entry"))
        if w is not None and w.record.decided_at == decided:
            return  # a ladder step placed again: the same decision
        if w is not None:
            self._end(w, None, now)
        short = side == "short"
        self._open(
            trade_id=None,
            pair=pair,
            intent="entry",
            kind="forced" if tag == "force_entry" else "signal",
            reason=tag,
            side="sell" if short else "buy",
            is_short=short,
            decided_at=decided,
            decision_price=ctx.decision_price or rate,
            arrival_mid=ctx.arrival_mid,
            arrival_spread_bps=ctx.arrival_spread_bps,
            target_amount=amount,
        )

    def _exit(self, trade: Any, reason: str | None, amount: float, rate: float) -> None:
        s = self._s
        if self.writer is None:
            return
        kind = exit_kind(reason, kill=self._kill_flatten(trade, reason))
        w = self.working.get((trade.pair, "exit"))
        same_trade = w is not None and w.record.trade_id == trade.id
        if w is not None and same_trade and not self._supersedes(w, kind, reason):
            return  # placed again (ladder step, escalation): the same decision
        now = s.clock()
        ctx = s.exec_ext_decisions.get(trade, "exit")  # the mixin's decision for this exit
        if w is not None or kind == "kill" or ctx is None or ctx.reason != reason:
            # decided now (it may interrupt another): the market of this moment, read only
            # then (no extra request for the exits the mixin priced)
            q = s.exec_ext_market.quote(s.exec_ext_market.book(trade.pair))
            mid = q.mid if q is not None else None
            if w is not None:
                self._end(w, trade if same_trade else None, now, mid)
            price, arrival, spread = mid or rate, mid, q.spread_bps if q is not None else None
        else:
            price = ctx.decision_price or rate
            arrival, spread = ctx.arrival_mid, ctx.arrival_spread_bps
        self._open(
            trade_id=trade.id,
            pair=trade.pair,
            intent="exit",
            kind=kind,
            reason=reason,
            side="buy" if trade.is_short else "sell",
            is_short=bool(trade.is_short),
            decided_at=now,
            decision_price=price,
            arrival_mid=arrival,
            arrival_spread_bps=spread,
            target_amount=amount,
            exclude=_order_ids(trade),
        )

    @staticmethod
    def _supersedes(w: Working, kind: str, reason: str | None) -> bool:
        if kind == "kill":  # the flatten ends whatever exit was being worked
            return w.record.kind != "kill"
        if reason in SAME_EXECUTION or reason == w.record.reason:
            return False
        return kind in SUPERSEDING or w.record.kind != kind

    @staticmethod
    def _kill_flatten(trade: Any, reason: str | None) -> bool:
        if reason == "force_exit" and compat.entries_stopped():
            return True
        if reason not in ("force_exit", "emergency_exit"):
            return False
        cancelled = [
            o for o in trade.orders if o.ft_order_side == trade.exit_side and o.status != "open"
        ]
        return bool(cancelled) and compat.cancelled_by_user(cancelled[-1])

    def _open(self, *, exclude: frozenset[str] = frozenset(), **fields_: Any) -> Working:
        assert self.writer is not None
        self._next += 1
        key_id = fields_["trade_id"] if fields_["intent"] == "exit" else fields_["pair"]
        record = Decision(
            key=f"{self._bot}:{key_id}:{fields_['intent']}:{fields_['decided_at'].isoformat()}",
            strategy_id=self._s.risk_contract.strategy_id,
            bot_id=self._bot,
            runmode=self._mode,
            **fields_,
        )
        w = Working(self._next, record, exclude)
        self.working[(record.pair, record.intent)] = w
        self.writer.open(w.handle, lambda: _as_opened(w.record))
        return w

    # ---------------------------------------------------------------- orders and fills
    def on_fill(self, trade: Any, order: Any, record: Any, now: datetime) -> None:
        """order_filled: attach the order to its decision (opened now for an exit nothing
        confirmed, or a position add), close the decision when its change is complete."""
        with self._lock:
            self._safe(self._fill, trade, order, record, self._time(now))
            if self._backtest and self.writer is not None:
                self.writer.flush()

    def _fill(self, trade: Any, order: Any, record: Any, now: datetime) -> None:
        if self.writer is None:
            return
        entry = order.ft_order_side == trade.entry_side
        w = self._find(trade, entry)
        if w is None and str(order.order_id) not in self.claimed:
            w = self._lazy(trade, order, entry, record)
        if w is None:
            return
        self._follow(w, trade)
        self._attach(w, trade, str(order.order_id))
        filled = self._filled(w, trade, order)
        if status_of(w.record.target_amount, filled, False) == "complete":
            self._finish(w, "complete", filled, now, None)

    def _lazy(self, trade: Any, order: Any, entry: bool, record: Any) -> Working | None:
        """A decision first seen by its order: an exit Freqtrade asked no confirmation for,
        a position add (Freqtrade's ``adjust_trade_position``)."""
        s = self._s
        earlier = [o for o in trade.orders if o.ft_order_side == trade.entry_side and o.filled]
        if entry and not any(str(o.order_id) != str(order.order_id) for o in earlier):
            return None  # a new trade's entry is decided at confirm_trade_entry
        ctx = None if entry else s.exec_ext_decisions.get(trade, "exit")
        reason = None if entry else (order.ft_order_tag or trade.exit_reason)
        price = (record.decision_price if record is not None else None) or (
            ctx.decision_price if ctx is not None else None
        )
        decided = utc(order.order_date) or s.clock()
        return self._open(
            trade_id=trade.id,
            pair=trade.pair,
            intent="entry" if entry else "exit",
            kind="adjust" if entry else exit_kind(reason),
            reason=reason,
            side=str(order.side),
            is_short=bool(trade.is_short),
            decided_at=decided,
            decision_price=price or num(order.ft_price) or num(order.safe_price),
            arrival_mid=record.arrival_mid if record is not None else None,
            arrival_spread_bps=record.arrival_spread_bps if record is not None else None,
            target_amount=num(order.ft_amount) or num(order.amount),
            exclude=_order_ids(trade) - {str(order.order_id)},
        )

    def _find(self, trade: Any, entry: bool) -> Working | None:
        """The working decision of this trade's side.  An entry's is the pair's: a ladder
        step may place it again in a new trade when Freqtrade deleted the first."""
        w = self.working.get((trade.pair, "entry" if entry else "exit"))
        if w is None or (not entry and w.record.trade_id != trade.id):
            return None
        return w

    def _follow(self, w: Working, trade: Any) -> None:
        """The decision's trade (an entry's is made after it; a ladder step may make a new
        one when Freqtrade deleted the first) and every order of its side since it."""
        if w.record.trade_id != trade.id:
            w.record = replace(w.record, trade_id=trade.id)
            assert self.writer is not None
            self.writer.set_trade(w.handle, trade.id)
        entry = w.record.intent == "entry"
        for o in trade.orders:
            if _side_of(trade, o) == entry and (o.ft_order_side != "stoploss" or o.filled):
                self._attach(w, trade, str(o.order_id))

    def _attach(self, w: Working, trade: Any, order_id: str) -> None:
        if order_id in w.record.order_ids or order_id in w.exclude or order_id in self.claimed:
            return
        assert self.writer is not None
        if not w.record.order_ids and w.handle not in self.writer.ids:
            w.record = self._sized(w.record, trade, order_id)
        self.claimed.add(order_id)
        w.record = w.record.with_order(order_id)
        self.writer.attach(w.handle, order_id)

    @staticmethod
    def _sized(record: Decision, trade: Any, order_id: str) -> Decision:
        """The target as Freqtrade ordered it: the amount confirmed, on the exchange's
        amount precision (its first order; only before the record is written)."""
        first = next((o for o in trade.orders if str(o.order_id) == order_id), None)
        amount = num(first.amount) if first is not None else None
        if amount and amount <= record.target_amount:
            return replace(record, target_amount=amount)
        return record

    @staticmethod
    def _filled(w: Working, trade: Any, latest: Any = None) -> float:
        ids = set(w.record.order_ids)
        seen = {str(latest.order_id): num(latest.filled) or 0.0} if latest is not None else {}
        for o in trade.orders:
            if str(o.order_id) in ids and str(o.order_id) not in seen:
                seen[str(o.order_id)] = num(o.filled) or 0.0
        return sum(v for k, v in seen.items() if k in ids)

    # ---------------------------------------------------------------- closing
    def _sync_all(self, now: datetime) -> None:
        if self._backtest and not self.working:
            return
        trades = compat.open_trades()
        by_pair = {t.pair: t for t in trades}
        for w in list(self.working.values()):
            self._safe(self._sync, w, by_pair.get(w.record.pair), now)

    def _sync(self, w: Working, trade: Any, now: datetime) -> None:
        if trade is not None and self._find(trade, w.record.intent == "entry") is not w:
            trade = None
        if trade is None and w.record.trade_id is not None and not self._backtest:
            trade = compat.trade_by_id(w.record.trade_id)  # closed since
        if trade is None:
            w.unseen += 1  # a REST forceenter's trade is made outside the bot loop
            if w.record.order_ids or w.unseen > 1:
                self._end(w, None, now)  # deleted by Freqtrade (or never made): no fill
            return
        self._follow(w, trade)
        entry = w.record.intent == "entry"
        if trade.is_open and any(_side_of(trade, o) == entry for o in trade.open_orders):
            return  # still working
        ctx = None if entry or not trade.is_open else self._s.exec_ext_decisions.get(trade, "exit")
        if ctx is not None and ctx.pending_step:
            return  # an exit cancelled at a ladder step, placed again in this loop
        self._end(w, trade, now)

    def _end(self, w: Working, trade: Any, now: datetime, mid: float | None = None) -> None:
        """End a decision that stopped before completing (or completed unseen)."""
        if trade is not None:
            self._follow(w, trade)
        filled = self._filled(w, trade) if trade is not None else w.record.filled_amount
        status = status_of(w.record.target_amount, filled, True)
        if trade is None and filled <= 0 and w.record.intent == "entry" and w.record.trade_id:
            w.record = replace(w.record, trade_id=None)  # Freqtrade deleted the trade
            assert self.writer is not None
            self.writer.set_trade(w.handle, None)
        if mid is None and status != "complete":
            mid = self._mid(w.record.pair)
        self._finish(w, status, filled, now, mid)

    def _finish(
        self, w: Working, status: Any, filled: float, now: datetime, mid: float | None
    ) -> None:
        assert self.writer is not None
        w.record = w.record.closed(status, filled, max(now, w.record.decided_at), mid)
        self.working.pop((w.record.pair, w.record.intent), None)
        self.writer.close(w.handle, w.record)

    def _mid(self, pair: str) -> float | None:
        """The market mid now: the book (live, dry-run), else the last candle's close."""
        s = self._s
        try:
            q = s.exec_ext_market.quote(s.exec_ext_market.book(pair))
            if q is not None:
                return float(q.mid)
            last = s.exec_ext_market.exit_decision_price(pair)
            return float(last) if last and math.isfinite(last) and last > 0 else None
        except Exception:  # noqa: BLE001 - unknown: the opportunity cost is unknown
            return None

    def _time(self, current_time: datetime | None) -> datetime:
        """Backtests: the candle's time; live and dry-run: the strategy's clock."""
        found = utc(current_time) if self._backtest else None
        clock: Callable[[], datetime] = self._s.clock
        return found if isinstance(found, datetime) else clock()

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            if self.writer is not None and not self.writer.said:
                self.writer.said = True
                logger.exception("exec_ext: could not record a decision (said once)")


def _side_of(trade: Any, order: Any) -> bool | None:
    """True: an entry order of the trade, False: an exit (stop-loss orders included)."""
    if order.ft_order_side == trade.entry_side:
        return True
    return False if order.ft_order_side in (trade.exit_side, "stoploss") else None


def _order_ids(trade: Any) -> frozenset[str]:
    return frozenset(str(o.order_id) for o in trade.orders)


def _as_opened(record: Decision) -> Decision:
    """The record as decided (its trade as known when written): orders and the end follow
    as their own writes."""
    return replace(
        record, order_ids=(), filled_amount=0.0, status="working", ended_at=None, end_mid=None
    )
