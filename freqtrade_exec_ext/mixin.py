"""``ExecutionMixin``: a strategy's risk contract enforced inside Freqtrade's callbacks.

Use::

    from freqtrade_exec_ext import ExecutionMixin

    class STR001(ExecutionMixin):
        strategy_id = "STR-001"
        ...

The contract (``.crypto/knowledge/strategies/<strategy_id>/risk-assessment.yaml``) is
loaded in ``__init__``; a missing or invalid file stops Freqtrade with the contract's
one-line error.  The arithmetic lives in :mod:`freqtrade_exec_ext.execution` (pure,
tested without Freqtrade); this module only adapts it to Freqtrade's callbacks.

User callbacks: a strategy may override any callback listed in ``GUARDED_CALLBACKS``.
The override is wrapped when the class is created (``__init_subclass__``) so that the
contract's limits hold whatever the override returns; calling ``super()`` inside the
override is allowed and harmless.  See docs/mixin.md for what each callback enforces.

Hyperopt pickles this module by value into its workers: keep no state in module globals.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from freqtrade.enums import RunMode
from freqtrade.exceptions import OperationalException

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.compat import exchange_of
from freqtrade_exec_ext.compat.strategy import SettingsHook, param_file, read_config_file
from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.execution import checks, ladder, pricing, sizing, stops, timeouts
from freqtrade_exec_ext.execution.fees import fees_from_trades
from freqtrade_exec_ext.execution.ledger import (
    LEDGER_KEY_PREFIX,
    FillRecord,
    backtest_ledger_path,
    signed_bps,
)
from freqtrade_exec_ext.execution.orderbook import BookError, top_of_book
from freqtrade_exec_ext.strategy import binding, startup

logger = logging.getLogger(__name__)

CTX_ENTRY_KEY = "exec_ext.ctx.entry"
CTX_EXIT_KEY = "exec_ext.ctx.exit"
DISCARD_KEY = "exec_ext.discard_partial"
EXIT_PARTIAL_BELOW_MIN = "exec_partial_fill_below_min"
BOOK_DEPTH = 20
BOOK_MAX_AGE_S = 2.0
STOP_REASONS = frozenset({"stop_loss", "trailing_stop_loss", "stoploss_on_exchange", "liquidation"})
# Orders a person asked for (Freqtrade's forceenter / forceexit, the kill switch): decided
# at the request, so their decision price is the market then, not the signal candle's close
MANUAL_ENTRY_TAGS = frozenset({"force_entry"})
MANUAL_EXIT_REASONS = frozenset({"force_exit"})
LIVE_MODES = (RunMode.LIVE, RunMode.DRY_RUN)
# Backtests: the CLI, hyperopt, and backtests started from the web UI (webserver mode)
SIM_MODES = (RunMode.BACKTEST, RunMode.HYPEROPT, RunMode.WEBSERVER)
LEDGER_FILE_MODES = (RunMode.BACKTEST, RunMode.WEBSERVER)

# Callbacks a strategy may override; the mixin's limits are applied around the override.
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


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _iso(dt: datetime | None) -> str | None:
    dt = _utc(dt)
    return dt.isoformat() if dt else None


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class BoundUnknown(Exception):
    """An order's budget bound cannot be computed; ``str()`` is ``CODE: detail``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


def load_strategy_contract(config: dict[str, Any], strategy_id: str) -> RiskContract:
    """Find and load the strategy's contract, or raise OperationalException (one line)."""
    try:
        return startup.load_strategy_contract(config, strategy_id)[0]
    except startup.StartupError as exc:
        raise OperationalException(str(exc)) from None


def _overrides(cls: type, name: str) -> bool:
    """Whether a class below the mixin defines ``name`` itself."""
    for klass in cls.__mro__:
        if klass is ExecutionMixin:
            return False
        if name in klass.__dict__:
            return True
    return False


class _Attempt:
    """The orders of one entry (or exit) attempt: after the last filled order of that side."""

    __slots__ = ("first_date", "first_price", "reprices")

    def __init__(self, trade: Any, is_entry: bool, upto: Any = None) -> None:
        side = trade.entry_side if is_entry else trade.exit_side
        attempt: list[Any] = []
        for o in trade.orders:
            if o.ft_order_side != side:
                continue
            if upto is not None and o.order_id == upto.order_id:
                attempt.append(o)
                break
            if (o.filled or 0) > 0 and o.status != "open":
                attempt = []  # a filled order closes the previous attempt
                continue
            attempt.append(o)
        first = attempt[0] if attempt else upto
        self.first_date = _utc(first.order_date) if first is not None else None
        self.first_price = _num(first.ft_price) if first is not None else None
        self.reprices = sum(
            1
            for o in attempt
            if (upto is None or o.order_id != upto.order_id)
            and o.status in ("canceled", "cancelled")
        )


class ExecutionMixin(SettingsHook):
    """Base class enforcing the strategy's risk contract and recording every fill."""

    strategy_id: str = ""

    # ------------------------------------------------------------------ setup
    def __init__(self, config: dict[str, Any]) -> None:
        compat.on_strategy_init(config)
        try:
            contract, path = startup.load_strategy_contract(config, type(self).strategy_id)
        except startup.StartupError as exc:
            raise OperationalException(str(exc)) from None
        want = binding.expected_settings(
            contract, custom_stoploss=_overrides(type(self), "custom_stoploss")
        )
        problems = startup.config_conflicts(
            config, want, env=os.environ, argv=sys.argv, read_file=read_config_file
        )
        super().__init__(config)
        file, params = param_file(self)
        problems += binding.param_file_conflicts(params, want, file)
        if problems:
            raise OperationalException(startup.refusal(contract, path, problems, config))
        self._xc = contract
        self._xm_want = want
        self._xm_mode = config.get("runmode")
        self._xm_ctx: dict[str, dict[str, Any]] = {}  # pair -> entry decision context
        self._xm_bt_ctx: dict[tuple, dict[str, Any]] = {}  # backtests: trade -> context
        self._xm_books: dict[str, tuple[float, dict]] = {}
        self._xm_ticks: dict[str, float | None] = {}
        self._xm_discard: set[int] = set()
        self._xm_seen: set[str] = set()
        self._xm_ledger_file: Path | None = None
        self._xm_ledger_fh: Any = None
        self._xm_guard: Any = None  # OrderGuard, live trading only
        self._xm_leverage: dict[str, float] = {}
        self._xm_adds: dict[Any, datetime] = {}  # trade id -> time of an accepted add
        self._xm_said: set[str] = set()
        self._xm_last_decision: dict[str, float] = {}
        self._xm_ladders: dict[str, ladder.EntryLadder] = {}  # live: pair -> entry ladder
        self._xm_guard_error: str | None = None
        self._xm_session: Any = None  # SessionRecorder, live and dry-run
        self._apply_contract_settings(config)
        if self._xm_mode in LIVE_MODES:
            self._xm_install_live_hooks()

    def _apply_contract_settings(self, config: dict[str, Any]) -> None:
        """The contract's values become the strategy's (class attributes are replaced, with
        a warning naming them); config keys were checked in ``__init__``."""
        for key, value in self._xm_want.items():
            if key in binding.CONFIG_ONLY:
                continue
            declared = getattr(type(self), key, None)
            if _overrides(type(self), key) and not binding.same(key, declared, value):
                logger.warning(
                    "%s: %s=%r in the strategy class is replaced by the risk contract (%r)",
                    type(self).__name__, key, declared, value,
                )
            setattr(self, key, dict(value) if isinstance(value, dict) else value)
        if not self._xc.stop_loss.trailing.enabled or self._xc.is_futures:
            self.trailing_stop_positive = None
            self.trailing_stop_positive_offset = 0.0
            self.trailing_only_offset_is_reached = False
        mode = startup.runmode_of(config)
        if mode in startup.ANALYSIS_MODES:
            return  # lookahead/recursive analysis set their own wallet; no order goes out
        if mode in ("backtest", "hyperopt") and not config.get("enable_protections"):
            # the contract's limits (drawdown, daily loss, stop-loss streak, slippage) act in
            # every backtest, as they do live; Freqtrade applies protections only with this
            config["enable_protections"] = True
            logger.info(
                "exec_ext: the risk contract's limits act in this %s as protections "
                "(--enable-protections implied)", mode,
            )
        for key in startup.freqtrade_defaults(config, env=os.environ, argv=sys.argv):
            config[key] = self._xm_want[key]  # Freqtrade's default, nobody's setting
        config.setdefault("dry_run_wallet", self._xm_want["dry_run_wallet"])
        config.setdefault("stake_currency", self._xm_want["stake_currency"])

    def exec_ext_settings_applied(self) -> None:
        """After Freqtrade applied every settings source: what is in effect must be the
        contract's, else stop (a source ``__init__`` could not see)."""
        have = {k: getattr(self, k, None) for k in self._xm_want if k not in binding.CONFIG_ONLY}
        have |= {k: self.config[k] for k in binding.CONFIG_ONLY if k in self.config}
        problems = startup.in_effect_problems(
            have, self._xm_want, startup.runmode_of(self.config)
        )
        if problems:
            raise OperationalException(
                f"ExecutionMixin: the settings in effect contradict the risk contract of "
                f"{self._xc.strategy_id}: " + "; ".join(problems)
            )
        if startup.runmode_of(self.config) in startup.LIVE_MODES:
            from freqtrade_exec_ext.deploy.stamp import stamp_problem

            stale = stamp_problem(self.config, self._xc)
            if stale:
                raise OperationalException(f"ExecutionMixin: {stale}")
        problem = self._xm_ladder_problem()
        if problem and startup.runmode_of(self.config) in startup.LIVE_MODES:
            raise OperationalException(
                f"ExecutionMixin: the reprice ladder of the risk contract of "
                f"{self._xc.strategy_id} cannot be kept by {type(self).__name__}: {problem}"
            )
        if problem:
            logger.warning("exec_ext: in live trading this would stop the bot: %s", problem)

    def _xm_ladder_problem(self) -> str | None:
        """Why the contract's reprice ladder cannot happen on schedule in live trading."""
        from freqtrade.exchange import timeframe_to_seconds

        o = self._xc.orders
        if o.max_reprices <= 0:
            return None
        problem = ladder.entry_schedule_problem(
            o.entry_timeout_s, o.max_reprices, timeframe_to_seconds(self.timeframe)
        )
        if problem:
            return (
                f"orders.entry_timeout_s {o.entry_timeout_s} with max_reprices "
                f"{o.max_reprices} on {self.timeframe} candles: {problem}"
            )
        if not self.use_exit_signal:
            return (
                f"orders.max_reprices {o.max_reprices}: a repriced exit is placed again "
                "through custom_exit, which Freqtrade consults only with use_exit_signal = "
                "True; set it in the strategy, or max_reprices: 0"
            )
        return None

    @property
    def protections(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from freqtrade_exec_ext.plugins.protection_config import build_protections

        return build_protections(self._xc)

    @property
    def risk_contract(self) -> RiskContract:
        return self._xc

    # ------------------------------------------------------------------ user overrides
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in GUARDED_CALLBACKS:
            fn = cls.__dict__.get(name)
            if fn is None or getattr(fn, "_xm_guarded", False) or not callable(fn):
                continue
            setattr(cls, name, _guard(name, fn))
        fn = cls.__dict__.get("custom_stoploss")
        if callable(fn) and not getattr(fn, "_xm_guarded", False):
            cls.custom_stoploss = _guard_stoploss(fn)  # type: ignore[method-assign]

    # ------------------------------------------------------------------ runmode helpers
    @property
    def _xm_runmode(self) -> Any:
        dp = getattr(self, "dp", None)
        return dp.runmode if dp is not None else self._xm_mode

    def _xm_live(self) -> bool:
        return self._xm_runmode in LIVE_MODES

    def _xm_backtest_slippage(self) -> float:
        if self._xm_runmode in SIM_MODES:
            return float(self._xc.slippage.backtest_bps)
        return 0.0

    def _xm_decision_price(self, pair: str) -> float:
        """The signal candle's close, the price every decision is measured against.

        Raises :class:`BoundUnknown` when it cannot be read: no order may go out without
        its budget bound (an entry is then skipped; an exit keeps the last known bound).
        """
        try:
            df, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
            price = _num(df["close"].iat[-1]) if df is not None and len(df) else None
        except Exception as exc:  # noqa: BLE001 - reported as a reason code, never swallowed
            raise BoundUnknown(
                checks.DECISION_PRICE_UNKNOWN, f"{type(exc).__name__}: {exc}"
            ) from None
        if price is None or price <= 0:
            raise BoundUnknown(checks.DECISION_PRICE_UNKNOWN, "no analyzed candle")
        self._xm_last_decision[pair] = price
        return price

    def _xm_exit_decision_price(self, pair: str) -> float | None:
        """An exit's decision price, or the last one known for the pair (an exit is never
        held back for want of a bound); None only when none was ever known."""
        try:
            return self._xm_decision_price(pair)
        except BoundUnknown as exc:
            last = self._xm_last_decision.get(pair)
            logger.warning(
                "exec_ext: %s exit: %s; using the last known decision price %s",
                pair, exc, last,
            )
            return last

    def _xm_book(self, pair: str, *, reuse: bool = False) -> dict | None:
        """A fresh L2 book (live/dry-run only).

        ``reuse``: take (once) the book custom_entry_price read for this entry moments ago
        (younger than BOOK_MAX_AGE_S), so that one entry costs one book request.
        """
        if not self._xm_live():
            return None
        now = time.monotonic()
        cached = self._xm_books.pop(pair, None)
        if reuse and cached is not None and now - cached[0] < BOOK_MAX_AGE_S:
            return cached[1]
        try:
            book = self.dp.orderbook(pair, BOOK_DEPTH)
        except Exception as exc:  # noqa: BLE001 - network/exchange errors: no book
            logger.warning("exec_ext: order book for %s unavailable: %s", pair, exc)
            return None
        self._xm_books[pair] = (now, book)
        return book

    def _xm_tick(self, pair: str) -> float:
        """The market's price tick (cached per pair); raises BoundUnknown when unknown
        (a price off the tick grid could be rounded past its budget bound)."""
        tick = self._xm_ticks.get(pair)
        if tick:
            return tick
        try:
            tick = compat.price_tick(self.dp, pair)
        except Exception as exc:  # noqa: BLE001 - reported as a reason code
            raise BoundUnknown(checks.TICK_SIZE_UNKNOWN, f"{type(exc).__name__}: {exc}") from None
        if not tick:
            raise BoundUnknown(checks.TICK_SIZE_UNKNOWN, "the market states no price precision")
        self._xm_ticks[pair] = tick
        return tick

    def _xm_round(self, side: pricing.Side, price: float, pair: str, *, entry: bool) -> float:
        """``price`` on the tick grid, toward the safe side.  Unknown tick: an entry fails
        (BoundUnknown); an exit goes out unrounded (Freqtrade rounds it to nearest)."""
        try:
            return pricing.round_inside(side, price, self._xm_tick(pair))
        except BoundUnknown as exc:
            if entry:
                raise
            logger.warning("exec_ext: %s exit price not rounded: %s", pair, exc)
            return price

    def _xm_notify(self, msg: str) -> None:
        logger.warning(msg)
        if self._xm_live():
            try:
                self.dp.send_msg(msg)
            except Exception:
                logger.exception("exec_ext: could not queue a strategy message")

    def _xm_funding_rate(self, pair: str) -> float | None:
        ex = exchange_of(self.dp)
        try:
            info = ex.fetch_funding_rate(pair)
            return _num(info.get("fundingRate"))
        except Exception as exc:  # noqa: BLE001
            logger.warning("exec_ext: funding rate for %s unavailable: %s", pair, exc)
            return None

    # ------------------------------------------------------------------ decision context
    def _xm_set_trade_ctx(self, trade: Any, key: str, ctx: dict[str, Any]) -> None:
        if self._xm_live():
            trade.set_custom_data(key, ctx)
        else:  # backtests: Freqtrade hands callbacks a deep copy of the trade; key by identity
            self._xm_bt_ctx[_trade_key(trade, key)] = ctx

    def _xm_get_trade_ctx(self, trade: Any, key: str) -> dict[str, Any] | None:
        if self._xm_live():
            value = trade.get_custom_data(key)
            return value if isinstance(value, dict) and value else None
        return self._xm_bt_ctx.get(_trade_key(trade, key))

    def _xm_entry_ctx(self, trade: Any) -> dict[str, Any]:
        """The entry's decision context, moved from memory to the trade on first sight."""
        ctx = self._xm_get_trade_ctx(trade, CTX_ENTRY_KEY)
        if ctx is None:
            ctx = self._xm_ctx.pop(trade.pair, None) or {}
            if ctx:
                self._xm_set_trade_ctx(trade, CTX_ENTRY_KEY, ctx)
        return ctx

    def _xm_capture(
        self, pair: str, proposed: float, price: float, side: str, decision: float | None
    ) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "decision_price": decision,
            "decision_time": _iso(datetime.now(UTC)) if self._xm_live() else None,
            "proposed": proposed,
            "price": price,
            "side": side,
            "arrival_mid": None,
            "arrival_spread_bps": None,
        }
        return ctx

    @staticmethod
    def _xm_add_arrival(ctx: dict[str, Any], book: dict | None) -> None:
        if not book:
            return
        try:
            q = top_of_book(book)
        except BookError:
            return
        ctx["arrival_mid"] = q.mid
        ctx["arrival_spread_bps"] = q.spread_bps
        ctx["best_bid"] = q.best_bid
        ctx["best_ask"] = q.best_ask

    # ------------------------------------------------------------------ lifecycle
    def bot_start(self, **kwargs: Any) -> None:
        mode = self._xm_runmode
        self._xm_mode = mode
        c = self._xc
        logger.info(
            "exec_ext: %s enforces %s (contract %s...): stoploss %s, sizing %s, stake [%s, %s]",
            type(self).__name__, c.strategy_id, c.fingerprint()[:12], c.stop_loss.stoploss,
            c.sizing.method, c.sizing.min_stake, c.sizing.max_stake,
        )
        if mode in SIM_MODES:
            logger.info(
                "exec_ext backtest model: %s bps adverse slippage charged on limit entries and "
                "on limit exits by signal/custom exit (custom_entry_price/custom_exit_price); "
                "NOT modelled: stop-loss, ROI, market and forced fills (callbacks cannot move "
                "them), partial fills, queue position, maker/taker fees (one fee rate), "
                "spread/book-walk/funding pre-trade checks (no historical order book)",
                c.slippage.backtest_bps,
            )
        if mode in LEDGER_FILE_MODES:
            results_dir = Path(
                self.config.get("exportdirectory")
                or Path(self.config.get("user_data_dir", "user_data")) / "backtest_results"
            )
            results_dir.mkdir(parents=True, exist_ok=True)
            self._xm_ledger_file = backtest_ledger_path(results_dir, type(self).__name__)
            if self._xm_ledger_fh is not None:
                self._xm_ledger_fh.close()
            # truncated at the start of every backtest run, appended as fills happen
            self._xm_ledger_fh = self._xm_ledger_file.open("w", encoding="utf-8")
            logger.info("exec_ext: execution ledger -> %s", self._xm_ledger_file)
        self._xm_ctx.clear()
        self._xm_bt_ctx.clear()
        self._xm_seen.clear()
        if mode == RunMode.LIVE:
            self._xm_start_guard()
        if mode in LIVE_MODES:
            self._xm_start_session()

    def _xm_start_session(self) -> None:
        """Record this run in the bot's own database (the stage gates' evidence)."""
        from freqtrade_exec_ext.compat.strategy import config_files_sha256
        from freqtrade_exec_ext.store.sessions import SessionInfo, SessionRecorder, endpoint_of

        try:
            exchange = exchange_of(self.dp)
            hosts, simulated = endpoint_of(compat.ccxt_clients(exchange)[0])
            recorder = SessionRecorder(compat.db_engine())
            recorder.start(
                SessionInfo(
                    strategy_id=self._xc.strategy_id,
                    stage=str((self.config.get("exec_ext") or {}).get("stage") or ""),
                    exchange=str(getattr(exchange, "id", "") or self._xc.market.exchange),
                    api_host=hosts,
                    simulated=simulated,
                    dry_run=bool(self.config.get("dry_run")),
                    contract_sha256=self._xc.fingerprint(),
                    config_sha256=config_files_sha256(self.config),
                    bot_name=str(self.config.get("bot_name") or ""),
                    strategy=type(self).__name__,
                ),
                datetime.now(UTC),
            )
            self._xm_session = recorder
        except Exception:  # evidence missing only means the stage gates refuse it later
            logger.exception("exec_ext: could not record the run session")

    def exec_ext_bot_stopping(self) -> None:
        if self._xm_session is not None:
            try:
                self._xm_session.stop(datetime.now(UTC))
            except Exception:
                logger.exception("exec_ext: could not close the run session")

    def _xm_start_guard(self) -> None:
        """Live trading: client order ids, the order journal, Retry-After (order_guard.py).

        If it cannot be set up, no entry is allowed (confirm_trade_entry denies): Freqtrade
        swallows exceptions raised in bot_start, so failing here would not stop the bot.
        """
        from freqtrade_exec_ext.execution.journal import OrderJournal
        from freqtrade_exec_ext.execution.placement import RetryPolicy
        from freqtrade_exec_ext.order_guard import OrderGuard

        try:
            if self._xm_guard is None:
                journal = OrderJournal(compat.db_engine(), self._xc.strategy_id)
                policy = RetryPolicy(max_retries=self._xc.orders.max_retries)
                guard = OrderGuard(exchange_of(self.dp), journal, policy, strategy=self)
                guard.install()
                self._xm_guard = guard
            done = self._xm_guard.reconcile(startup=True)
            if done:
                logger.warning("exec_ext: order journal at start: %s", done)
            self._xm_guard_error = None
        except Exception as exc:
            self._xm_guard_error = f"{type(exc).__name__}: {exc}"
            logger.exception("exec_ext: order guard could not start; entries are blocked")

    def bot_loop_start(self, current_time: datetime, **kwargs: Any) -> None:
        if self._xm_session is not None:
            try:
                self._xm_session.heartbeat(_utc(current_time) or datetime.now(UTC))
            except Exception:
                logger.exception("exec_ext: run session heartbeat failed")
        guard = self._xm_guard
        if guard is None:
            return
        try:
            done = guard.reconcile()
            if done:
                logger.warning("exec_ext: order journal: %s", done)
        except Exception:
            logger.exception("exec_ext: order journal reconciliation failed")

    # ------------------------------------------------------------------ stop-loss
    def _xm_contract_stop(self, trade: Any, current_rate: float) -> float:
        """The contract's stop price for ``trade``: a price move of ``stoploss`` from its
        (average) entry, tightened by the contract's trailing stop on futures (spot trails
        with Freqtrade's own trailing stop, which means the same there)."""
        c = self._xc
        is_short = bool(trade.is_short)
        entry = float(trade.open_rate)
        price = stops.stop_price(entry, c.stop_loss.stoploss, is_short)
        t = c.stop_loss.trailing
        if t.enabled and c.is_futures:
            seen = _num(trade.min_rate if is_short else trade.max_rate) or entry
            best = min(seen, current_rate) if is_short else max(seen, current_rate)
            trail = stops.trailing_stop_price(
                entry=entry, best=best, stoploss=c.stop_loss.stoploss, positive=t.positive,
                offset=t.offset, only_offset_is_reached=t.only_offset_is_reached,
                is_short=is_short,
            )
            price = stops.tighter(price, trail, is_short) or price
        return price

    def custom_stoploss(
        self,
        pair: str,
        trade: Any,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        after_fill: bool,
        **kwargs: Any,
    ) -> float | None:
        """The contract's stop in Freqtrade's margin-relative terms for this trade.

        Freqtrade calls it when ``use_custom_stoploss`` is on: always on futures (each
        trade's stop from its own leverage; at the first fill, ``after_fill``, it moves the
        initial stop to the exact price), and on spot when the strategy has its own
        ``custom_stoploss``, which is then combined with this one (the tighter wins).
        """
        try:
            price = self._xm_contract_stop(trade, current_rate)
            return stops.ft_stop_ratio(
                price, current_rate, bool(trade.is_short), float(trade.leverage or 1.0)
            )
        except Exception:  # Freqtrade keeps the stop it has: it never loosens on its own
            logger.exception("exec_ext: custom_stoploss failed for %s", pair)
            return None

    def _xm_note_stop_clamp(self, pair: str, ratio: float, theirs: float, ours: float) -> None:
        key = f"stop:{pair}"
        if key not in self._xm_said:
            self._xm_said.add(key)
            logger.warning(
                "exec_ext: %s: the strategy's custom_stoploss %.4g (stop %.8g) is looser than "
                "the contract's stop %.8g (stop_loss.stoploss %s); the contract's applies",
                pair, ratio, theirs, ours, self._xc.stop_loss.stoploss,
            )

    def _xm_position_add(
        self, trade: Any, add: float, tag: Any, min_stake: Any, current_time: datetime
    ) -> Any:
        equity = float(self.wallets.get_total_stake_amount()) if self.wallets else 0.0
        room, why = sizing.add_room(
            self._xc, equity=equity, current_stake=float(trade.stake_amount or 0.0),
            leverage=float(trade.leverage or 1.0),
        )
        low = max(_num(min_stake) or 0.0, 0.0)
        if room <= 0 or room < low:
            logger.info(
                "exec_ext: %s position add of %.2f skipped: %s: %s", trade.pair, add,
                checks.POSITION_ADD_OVER_SIZING, why,
            )
            return None
        if add > room:
            logger.info(
                "exec_ext: %s position add cut from %.2f to %.2f: %s", trade.pair, add, room, why
            )
            add = room
        try:  # no order without its bound
            self._xm_decision_price(trade.pair)
            self._xm_tick(trade.pair)
        except BoundUnknown as exc:
            logger.info("exec_ext: %s position add skipped: %s", trade.pair, exc)
            return None
        self._xm_adds[trade.id] = current_time
        return (add, tag) if tag is not None else add

    # ------------------------------------------------------------------ sizing
    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float:
        try:
            equity = float(self.wallets.get_total_stake_amount()) if self.wallets else 0.0
            available = (
                float(self.wallets.get_available_stake_amount()) if self.wallets else None
            )
            d = sizing.compute_stake(
                self._xc,
                equity=equity,
                available=available,
                ft_min_stake=min_stake,
                ft_max_stake=max_stake,
                leverage=_num(leverage) or 1.0,
            )
            if d.skip:
                logger.info("exec_ext: %s entry skipped: %s", pair, d.reason)
            return d.stake
        except Exception:  # fail closed: no stake, no trade
            logger.exception("exec_ext: custom_stake_amount failed for %s; skipping entry", pair)
            return 0.0

    def leverage(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_leverage: float,
        max_leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float:
        try:
            lev = sizing.cap_leverage(self._xc, proposed_leverage, max_leverage)
        except Exception:  # noqa: BLE001
            lev = 1.0
        self._xm_leverage[pair] = lev
        return lev

    # ------------------------------------------------------------------ prices
    def custom_entry_price(
        self,
        pair: str,
        trade: Any,
        current_time: datetime,
        proposed_rate: float,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float:
        oside = pricing.entry_side(side == "short")
        try:
            if trade is not None and self._xm_adds.pop(trade.id, None) is None:
                return self._xm_replacement_price(trade, oside, proposed_rate)
            if trade is None and self._xm_live():
                placed = self._xm_ladder_entry(pair, entry_tag, side == "short", current_time)
                if placed is not None:
                    return placed or proposed_rate  # 0: refused, denied in confirm
            ctx = self._xm_price_entry(pair, proposed_rate, entry_tag, oside)
            if trade is None:
                self._xm_ctx[pair] = ctx
                if self._xm_live():
                    self._xm_ladders[pair] = ladder.EntryLadder(
                        start=_utc(current_time) or datetime.now(UTC),
                        signal_candle=self._xm_signal_candle(pair), ctx=dict(ctx),
                    )
            else:  # a position add: its own decision (the candle that triggered it)
                self._xm_set_trade_ctx(trade, CTX_ENTRY_KEY, ctx)
            return float(ctx["price"])
        except BoundUnknown as exc:
            self._xm_ctx[pair] = {"refused": str(exc)}
        except Exception as exc:  # fail closed: confirm_trade_entry denies this entry
            logger.exception("exec_ext: custom_entry_price failed for %s", pair)
            self._xm_ctx[pair] = {"refused": f"{checks.CHECK_FAILED}: {type(exc).__name__}"}
        return proposed_rate

    def _xm_signal_candle(self, pair: str) -> datetime | None:
        try:
            df, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
            return _utc(df["date"].iat[-1].to_pydatetime()) if len(df) else None
        except Exception:  # noqa: BLE001 - unknown: the ladder just does not carry over
            return None

    def _xm_ladder_entry(
        self, pair: str, entry_tag: str | None, is_short: bool, now: datetime
    ) -> float | None:
        """Live: the entry of a ladder step (its order was cancelled at the step) at the
        step's price, or None for a new decision.  A decision that timed out does not
        enter again on its own signal candle."""
        lad = self._xm_ladders.get(pair)
        if lad is None or lad.signal_candle != self._xm_signal_candle(pair):
            self._xm_ladders.pop(pair, None)
            return None
        if lad.pending is None:
            if lad.expired:
                self._xm_ctx[pair] = {
                    "refused": f"{checks.ENTRY_DECISION_EXPIRED}: the entry timed out on "
                    "this signal candle"
                }
                return 0.0
            return None
        step, lad.pending = lad.pending, None
        ctx = dict(lad.ctx)
        price = self._xm_step_price(pair, ctx, is_short, True, step, fallback=None, first=None)
        if price is None:
            return None
        lad.steps = step
        ctx["order_price"] = price
        self._xm_ctx[pair] = ctx
        logger.info("exec_ext: %s entry step %d placed again at %s", pair, step, price)
        return price

    def _xm_replacement_price(self, trade: Any, oside: pricing.Side, proposed: float) -> float:
        """Backtests re-price a replaced entry order through custom_entry_price (and then
        discard the result): the order keeps its original decision and bound."""
        decision = _num(self._xm_entry_ctx(trade).get("decision_price"))
        if decision:
            bound = pricing.budget_bound(oside, decision, self._xc.slippage.max_entry_bps)
            return pricing.within_bound(oside, proposed, bound)
        return proposed

    def _xm_price_entry(
        self, pair: str, proposed: float, entry_tag: str | None, oside: pricing.Side
    ) -> dict[str, Any]:
        """A new entry decision: maker-first (or backtest-slipped) price inside the budget,
        on the tick grid.  Raises BoundUnknown when the bound cannot be computed."""
        c = self._xc
        bt_bps = self._xm_backtest_slippage()
        book = self._xm_book(pair)
        manual = entry_tag in MANUAL_ENTRY_TAGS  # decided by a person now, not by a candle
        decision = None if manual else self._xm_decision_price(pair)
        ctx = self._xm_capture(pair, proposed, proposed, oside, decision)
        self._xm_add_arrival(ctx, book)
        if manual:
            _decided_now(ctx, proposed)
        price = pricing.limit_price(
            oside,
            proposed,
            decision_price=ctx["decision_price"],
            budget_bps=c.slippage.max_entry_bps,
            best_bid=ctx.get("best_bid"),
            best_ask=ctx.get("best_ask"),
            backtest_bps=bt_bps,
        )
        ctx["price"] = self._xm_round(oside, price, pair, entry=True)
        ctx["bt_bps"] = bt_bps
        return ctx

    def custom_exit_price(
        self,
        pair: str,
        trade: Any,
        current_time: datetime,
        proposed_rate: float,
        current_profit: float,
        exit_tag: str | None,
        **kwargs: Any,
    ) -> float:
        c = self._xc
        oside = pricing.exit_side(bool(trade.is_short))
        try:
            pending = self._xm_get_trade_ctx(trade, CTX_EXIT_KEY) if self._xm_live() else None
            if pending and pending.get("pending_step"):
                return self._xm_exit_step(trade, pending, proposed_rate)
            bt_bps = self._xm_backtest_slippage()
            decision = self._xm_exit_decision_price(pair)
            ctx = self._xm_capture(pair, proposed_rate, proposed_rate, oside, decision)
            self._xm_add_arrival(ctx, self._xm_book(pair))
            if exit_tag in MANUAL_EXIT_REASONS:
                _decided_now(ctx, proposed_rate)
            if exit_tag in STOP_REASONS:  # never hold a stop back for the budget
                price = pricing.apply_slippage(oside, proposed_rate, bt_bps)
            else:
                price = pricing.limit_price(
                    oside,
                    proposed_rate,
                    decision_price=ctx["decision_price"],
                    budget_bps=c.slippage.max_exit_bps,
                    backtest_bps=bt_bps,
                )
                price = self._xm_round(oside, price, pair, entry=False)
            ctx["price"] = price
            ctx["bt_bps"] = bt_bps
            self._xm_set_trade_ctx(trade, CTX_EXIT_KEY, ctx)
            return price
        except Exception:  # an exit is never held back: Freqtrade's price, the last bound
            logger.exception("exec_ext: custom_exit_price failed for %s", pair)
            last = self._xm_last_decision.get(pair)
            if last and exit_tag not in STOP_REASONS:
                bound = pricing.budget_bound(oside, last, c.slippage.max_exit_bps)
                return pricing.within_bound(oside, proposed_rate, bound)
            return proposed_rate

    def _xm_exit_step(self, trade: Any, ctx: dict[str, Any], proposed: float) -> float:
        """An exit placed again at a ladder step: the same decision, the step's price."""
        step = int(ctx.pop("pending_step"))
        price = self._xm_step_price(
            trade.pair, ctx, bool(trade.is_short), False, step, fallback=proposed, first=proposed
        )
        self._xm_set_trade_ctx(trade, CTX_EXIT_KEY, ctx)
        logger.info("exec_ext: %s exit step %d placed again at %s", trade.pair, step, price)
        return price if price is not None else proposed

    # ------------------------------------------------------------------ pre-trade checks
    def confirm_trade_entry(
        self,
        pair: str,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        current_time: datetime,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> bool:
        c = self._xm_refused_entry(pair, side, amount, rate)
        if c is None:
            return False
        if not self._xm_live():
            return True  # no historical order book: the book checks are live/dry-run only
        try:
            if self._xm_runmode == RunMode.LIVE and self._xm_guard is None:
                raise RuntimeError(
                    f"order guard not running ({self._xm_guard_error or 'bot_start not run'})"
                )
            oside = pricing.entry_side(side == "short")
            book = self._xm_book(pair, reuse=True)
            funding = self._xm_funding_rate(pair) if c.is_futures else None
            verdict = checks.pre_trade_checks(
                book,
                oside,
                amount,
                max_spread_bps=c.slippage.max_spread_bps,
                max_entry_bps=c.slippage.max_entry_bps,
                funding_rate=funding,
                is_short=side == "short",
                max_funding_bps=c.funding.max_rate_bps if c.is_futures else None,
            )
            ctx = self._xm_ctx.get(pair)
            if ctx is not None:
                self._xm_add_arrival(ctx, book)
        except Exception as exc:  # noqa: BLE001 - fail closed
            verdict = checks.Verdict(False, checks.CHECK_FAILED, {"reason": repr(exc)})
        if verdict.ok:
            if self._xm_guard is not None:
                self._xm_guard.annotate_entry(
                    pair, enter_tag=entry_tag, leverage=self._xm_leverage.get(pair, 1.0)
                )
            return True
        self._xm_ctx.pop(pair, None)
        self._xm_notify(
            f"{c.strategy_id} entry rejected {pair} {side} amount={amount:g} rate={rate:g}: "
            f"{verdict}"
        )
        return False

    def _xm_refused_entry(
        self, pair: str, side: str, amount: float, rate: float
    ) -> RiskContract | None:
        """None when custom_entry_price could not bound this entry (the reason is logged and
        sent as a strategy message); else the contract."""
        ctx = self._xm_ctx.get(pair) or {}
        reason = ctx.get("refused")
        if not reason:
            return self._xc
        self._xm_ctx.pop(pair, None)
        self._xm_notify(
            f"{self._xc.strategy_id} entry skipped {pair} {side} amount={amount:g} "
            f"rate={rate:g}: {reason}"
        )
        return None

    def _xm_exit_decision(self, trade: Any, exit_reason: str | None, rate: float) -> None:
        """Record the decision behind an exit (live/dry-run: every exit but liquidations)."""
        try:
            ctx = self._xm_get_trade_ctx(trade, CTX_EXIT_KEY)
            if ctx is None or ctx.get("reason") is None:
                oside = pricing.exit_side(bool(trade.is_short))
                ctx = ctx or self._xm_capture(
                    trade.pair, rate, rate, oside, self._xm_exit_decision_price(trade.pair)
                )
                if exit_reason in STOP_REASONS and trade.stop_loss:
                    ctx["decision_price"] = float(trade.stop_loss)
                elif exit_reason in MANUAL_EXIT_REASONS and not ctx.get("manual"):
                    _decided_now(ctx, rate)
                ctx["reason"] = exit_reason
                self._xm_set_trade_ctx(trade, CTX_EXIT_KEY, ctx)
        except Exception:
            logger.exception("exec_ext: could not record the exit decision for %s", trade.pair)

    def _xm_exit_reason(self, trade: Any) -> str | None:
        """The reason recorded for the trade's pending exit (order guard adoption)."""
        ctx = self._xm_get_trade_ctx(trade, CTX_EXIT_KEY) or {}
        reason = ctx.get("reason")
        return str(reason) if reason else None

    def _xm_install_live_hooks(self) -> None:
        """Live/dry-run only hooks, installed on the instance rather than the class.

        Freqtrade deep-copies the trade for every callback a strategy overrides; in
        backtests these would run for every open trade on every candle (custom_exit) or
        for every exit (confirm_trade_exit) for data a backtest does not need: partial
        fills do not exist there, and exit decisions are derived when the exit fills.
        """
        exit_inner = self.custom_exit
        confirm_inner = self.confirm_trade_exit

        def custom_exit(*args: Any, **kwargs: Any) -> str | bool | None:
            trade = kwargs.get("trade", args[1] if len(args) > 1 else None)
            reason = None
            if trade is not None:
                reason = self._xm_discard_exit(trade) or self._xm_pending_exit(trade)
            return reason or exit_inner(*args, **kwargs)

        def confirm_trade_exit(*args: Any, **kwargs: Any) -> bool:
            trade = kwargs.get("trade")
            if trade is not None:
                self._xm_exit_decision(trade, kwargs.get("exit_reason"), kwargs.get("rate", 0.0))
            return confirm_inner(*args, **kwargs)

        self.custom_exit = custom_exit  # type: ignore[method-assign]
        self.confirm_trade_exit = confirm_trade_exit  # type: ignore[method-assign]

    # ------------------------------------------------------------------ open orders
    def _xm_reprice(
        self,
        trade: Any,
        order: Any,
        proposed_rate: float,
        current_order_rate: float,
        entry: bool,
        current_time: datetime,
    ) -> float | None:
        """Freqtrade's replacement path (``adjust_*_price``).  Backtests: one step per
        candle.  Live/dry-run: entries only (exits are placed again by the mixin, see
        ``check_exit_timeout``), counting steps across the decision's placements."""
        c = self._xc
        if order is None:
            return current_order_rate
        if not entry and self._xm_live():
            return current_order_rate
        attempt = _Attempt(trade, entry, upto=order)
        lad = self._xm_ladders.get(trade.pair) if entry and self._xm_live() else None
        start_at = lad.start if lad is not None else attempt.first_date
        done = lad.steps if lad is not None else attempt.reprices
        current_time = _utc(current_time)
        if start_at is None or current_time is None:
            return current_order_rate
        timeout = c.orders.entry_timeout_s if entry else c.orders.exit_timeout_s
        elapsed = (current_time - start_at).total_seconds()
        due = ladder.steps_due(elapsed, timeout, c.orders.max_reprices)
        if due <= done:
            return current_order_rate
        ctx = (
            self._xm_entry_ctx(trade) if entry else self._xm_get_trade_ctx(trade, CTX_EXIT_KEY)
        ) or {}
        new = self._xm_step_price(
            trade.pair, ctx, bool(trade.is_short), entry, done + 1,
            fallback=proposed_rate, first=attempt.first_price or current_order_rate,
        )
        if lad is not None:
            lad.steps = done + 1
        if new is None or math.isclose(new, current_order_rate, rel_tol=1e-9) or not (
            pricing.is_worse(pricing.entry_side(bool(trade.is_short)) if entry
                             else pricing.exit_side(bool(trade.is_short)), new,
                             current_order_rate)
        ):
            return current_order_rate
        logger.info(
            "exec_ext: reprice %s %s %s -> %s (step %d/%d, replace)",
            trade.pair, "entry" if entry else "exit", current_order_rate, new,
            done + 1, c.orders.max_reprices,
        )
        return new

    def _xm_step_price(
        self,
        pair: str,
        ctx: dict[str, Any],
        is_short: bool,
        entry: bool,
        step: int,
        *,
        fallback: float | None,
        first: float | None,
    ) -> float | None:
        """The price of ladder step ``step``: from the decision's first price toward the
        far side of a fresh book (else ``fallback``), never past the budget bound (a stop
        is never held back), on the tick grid."""
        c = self._xc
        oside = pricing.entry_side(is_short) if entry else pricing.exit_side(is_short)
        start = _num(ctx.get("price")) or first
        decision = _num(ctx.get("decision_price")) or start
        if start is None or decision is None:
            return None
        budget = c.slippage.max_entry_bps if entry else c.slippage.max_exit_bps
        if not entry and ctx.get("reason") in STOP_REASONS:
            budget = 10_000.0
        bound = pricing.budget_bound(oside, decision, budget)
        target = fallback
        book = self._xm_book(pair)
        if book:
            try:
                q = top_of_book(book)
                target = q.best_ask if oside == "buy" else q.best_bid
            except BookError:
                pass
        if target is None:
            return None
        target = pricing.apply_slippage(oside, target, self._xm_backtest_slippage())
        new = pricing.ladder_price(oside, start, target, bound, step, c.orders.max_reprices)
        last = _num(ctx.get("last_order_price"))
        if last is not None and pricing.is_worse(oside, last, new):
            new = last  # a ladder never steps back from the market
        return self._xm_round(oside, new, pair, entry=entry)

    def adjust_entry_price(
        self,
        trade: Any,
        order: Any,
        pair: str,
        current_time: datetime,
        proposed_rate: float,
        current_order_rate: float,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float | None:
        try:
            return self._xm_reprice(
                trade, order, proposed_rate, current_order_rate, True, current_time
            )
        except Exception:  # keep the order as it is
            logger.exception("exec_ext: adjust_entry_price failed for %s", pair)
            return current_order_rate

    def adjust_exit_price(
        self,
        trade: Any,
        order: Any,
        pair: str,
        current_time: datetime,
        proposed_rate: float,
        current_order_rate: float,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float | None:
        try:
            return self._xm_reprice(
                trade, order, proposed_rate, current_order_rate, False, current_time
            )
        except Exception:
            logger.exception("exec_ext: adjust_exit_price failed for %s", pair)
            return current_order_rate

    def check_entry_timeout(
        self, pair: str, trade: Any, order: Any, current_time: datetime, **kwargs: Any
    ) -> bool:
        c = self._xc
        try:
            self._xm_entry_ctx(trade)  # persist the decision context while the order works
            attempt = _Attempt(trade, True, upto=order)
            lad = self._xm_ladders.get(pair) if self._xm_live() else None
            first = (lad.start if lad else None) or attempt.first_date or _utc(order.order_date)
            elapsed = (_utc(current_time) - first).total_seconds()
            if lad is not None and self._xm_entry_step_cancel(pair, trade, order, lad, elapsed):
                return True
            action, ratio = timeouts.entry_timeout_action(
                filled=float(order.filled or 0.0),
                amount=float(order.amount or 0.0),
                elapsed_s=elapsed,
                timeout_s=c.orders.entry_timeout_s,
                min_fill_ratio=c.orders.min_fill_ratio,
            )
            if action is timeouts.TimeoutAction.WAIT:
                return False
            if lad is not None:
                lad.expired = True  # no new entry on the same signal candle
            if action is timeouts.TimeoutAction.CANCEL and (order.filled or 0) > 0:
                self._xm_discard.add(trade.id)
                if self._xm_live():
                    trade.set_custom_data(DISCARD_KEY, True)
            logger.info(
                "exec_ext: entry timeout %s after %.0fs, filled %.1f%% (min %.1f%%): %s",
                pair, elapsed, ratio * 100, c.orders.min_fill_ratio * 100, action.value,
            )
            return True
        except Exception:  # Freqtrade's own (backstop) timeout still applies
            logger.exception("exec_ext: check_entry_timeout failed for %s", pair)
            return False

    def check_exit_timeout(
        self, pair: str, trade: Any, order: Any, current_time: datetime, **kwargs: Any
    ) -> bool:
        try:
            attempt = _Attempt(trade, False, upto=order)
            first = attempt.first_date or _utc(order.order_date)
            elapsed = (_utc(current_time) - first).total_seconds()
            if self._xm_live() and self._xm_exit_step_cancel(
                pair, trade, attempt, elapsed, _num(order.safe_placement_price)
            ):
                return True
            if timeouts.exit_timed_out(elapsed_s=elapsed, timeout_s=self._xc.orders.exit_timeout_s):
                logger.warning(
                    "exec_ext: exit order for %s unfilled after %.0fs: cancelling; Freqtrade "
                    "escalates to a market exit (exit_timeout_count)", pair, elapsed,
                )
                return True
            return False
        except Exception:
            logger.exception("exec_ext: check_exit_timeout failed for %s", pair)
            return False

    def _xm_entry_step_cancel(
        self, pair: str, trade: Any, order: Any, lad: ladder.EntryLadder, elapsed: float
    ) -> bool:
        """Live: cancel an unfilled entry at a due ladder step when Freqtrade will not replace
        it now (it replaces only orders older than the last closed candle); Freqtrade enters
        again in the same bot loop, at the step's price (``custom_entry_price``)."""
        o = self._xc.orders
        due = ladder.steps_due(elapsed, o.entry_timeout_s, o.max_reprices)
        if due <= lad.steps or (order.filled or 0) > 0 or elapsed >= o.entry_timeout_s:
            return False
        if compat.replace_allowed(self.dp, self.timeframe, pair, order.order_date_utc):
            return False  # Freqtrade's replacement does this step (adjust_entry_price)
        ctx = {**lad.ctx, "last_order_price": _num(order.safe_placement_price)}
        price = self._xm_step_price(
            pair, ctx, bool(trade.is_short), True, due, fallback=None, first=None
        )
        if price is None or math.isclose(price, float(order.safe_placement_price), rel_tol=1e-12):
            lad.steps = due  # the market came to us: nothing to gain by moving
            return False
        lad.pending = due
        lad.ctx = {
            **(self._xm_entry_ctx(trade) or lad.ctx),
            "last_order_price": _num(order.safe_placement_price),
        }
        logger.info(
            "exec_ext: reprice %s entry: step %d/%d at %.0fs, cancel and place again",
            pair, due, o.max_reprices, elapsed,
        )
        return True

    def _xm_exit_step_cancel(
        self, pair: str, trade: Any, attempt: _Attempt, elapsed: float, price: float | None
    ) -> bool:
        """Live: cancel an exit at a due ladder step; the mixin's ``custom_exit`` asks
        Freqtrade for the exit again in the same bot loop, priced at the step.

        At the timeout Freqtrade escalates to a market exit on the cancel that reaches
        ``exit_timeout_count`` (max_reprices + 1); steps the bot loop missed (a restart, a
        slow loop) are caught up first, one per loop, so the escalation still comes."""
        o = self._xc.orders
        due = ladder.steps_due(elapsed, o.exit_timeout_s, o.max_reprices)
        if elapsed >= o.exit_timeout_s:
            escalates = compat.canceled_exit_orders(trade) + 1 >= o.max_reprices + 1
            if escalates or attempt.reprices >= o.max_reprices:
                return False  # the timeout itself: Freqtrade's emergency exit follows
            due = attempt.reprices + 1
        if due <= attempt.reprices:
            return False
        ctx = self._xm_get_trade_ctx(trade, CTX_EXIT_KEY) or {}
        ctx["pending_step"] = attempt.reprices + 1
        ctx["last_order_price"] = price
        self._xm_set_trade_ctx(trade, CTX_EXIT_KEY, ctx)
        logger.info(
            "exec_ext: reprice %s exit: step %d/%d at %.0fs, cancel and place again",
            pair, attempt.reprices + 1, o.max_reprices, elapsed,
        )
        return True

    def _xm_pending_exit(self, trade: Any) -> str | None:
        """The reason of an exit cancelled at a ladder step and not yet placed again."""
        if any(o.ft_order_side == trade.exit_side for o in trade.open_orders):
            return None
        ctx = self._xm_get_trade_ctx(trade, CTX_EXIT_KEY) or {}
        if not ctx.get("pending_step"):
            return None
        return str(ctx.get("reason") or "exit_reprice")[:60]

    def _xm_discard_exit(self, trade: Any) -> str | None:
        """Exit reason for a partial entry fill below min_fill_ratio (live/dry-run)."""
        if trade.id in self._xm_discard:
            return EXIT_PARTIAL_BELOW_MIN
        if trade.get_custom_data(DISCARD_KEY):
            self._xm_discard.add(trade.id)
            return EXIT_PARTIAL_BELOW_MIN
        return None

    # ------------------------------------------------------------------ the ledger
    def order_filled(
        self, pair: str, trade: Any, order: Any, current_time: datetime, **kwargs: Any
    ) -> None:
        mode = self._xm_runmode
        if mode == RunMode.HYPEROPT:
            self._xm_forget(trade, order)
            return
        try:
            live = mode in LIVE_MODES
            key = LEDGER_KEY_PREFIX + str(order.order_id)
            if live:
                if trade.get_custom_data(key) is not None:
                    return  # recovery paths fire order_filled again
            elif key in self._xm_seen:
                return
            record = self._xm_record(trade, order, current_time, mode)
            if record is None:
                return
            if live:
                trade.set_custom_data(key, record.to_dict())
                if record.intent == "exit" and not trade.is_open:
                    trade.set_custom_data(CTX_EXIT_KEY, {})
            else:
                self._xm_seen.add(key)
                if self._xm_ledger_fh is not None:
                    self._xm_ledger_fh.write(record.to_json() + "\n")
                    self._xm_ledger_fh.flush()
            if not live:
                self._xm_forget(trade, order)
            if record.over_budget:
                self._xm_notify(
                    f"{record.strategy_id} {record.intent} fill {pair} slippage "
                    f"{record.slippage_decision_bps:.1f} bps over budget "
                    f"{record.slippage_budget_bps:g} bps (decision {record.decision_price:g}, "
                    f"fill {record.fill_price:g})"
                )
        except Exception:  # the ledger never breaks trading
            logger.exception("exec_ext: could not record the fill of %s on %s", order, pair)

    def _xm_forget(self, trade: Any, order: Any) -> None:
        """Backtests: drop a trade's contexts once its exit has filled."""
        if order.ft_order_side == trade.entry_side:
            return
        self._xm_bt_ctx.pop(_trade_key(trade, CTX_EXIT_KEY), None)
        if abs((order.filled or 0.0) - (trade.amount or 0.0)) <= 1e-12 or not trade.is_open:
            self._xm_bt_ctx.pop(_trade_key(trade, CTX_ENTRY_KEY), None)

    def _xm_record(
        self, trade: Any, order: Any, current_time: datetime, mode: Any
    ) -> FillRecord | None:
        c = self._xc
        filled = _num(order.filled) or 0.0
        fill_price = _num(order.safe_price)
        if filled <= 0 or not fill_price:
            return None
        is_entry = order.ft_order_side == trade.entry_side
        side = str(order.side)
        ctx = (
            self._xm_entry_ctx(trade) if is_entry else self._xm_get_trade_ctx(trade, CTX_EXIT_KEY)
        ) or {}
        attempt = _Attempt(trade, is_entry, upto=order)
        requested = _num(order.ft_price)
        decision = _num(ctx.get("decision_price"))
        reason = None if is_entry else (order.ft_order_tag or ctx.get("reason"))
        if decision is None and not is_entry:
            # exits no callback priced (stop-loss, ROI, market): the stop price for stops,
            # else the signal candle's close
            if reason in STOP_REASONS:
                decision = _num(order.stop_price) or _num(trade.stop_loss) or requested
            else:
                decision = self._xm_exit_decision_price(trade.pair) or requested
        arrival = _num(ctx.get("arrival_mid"))
        spread = _num(ctx.get("arrival_spread_bps"))
        notional = filled * fill_price
        fee_cost, fee_ccy, fee_rate, liquidity, inferred = self._xm_fees(
            trade, order, is_entry, notional, ctx
        )
        spread_cost = None
        if spread is not None and liquidity is not None:
            spread_cost = spread / 2.0 if liquidity == "taker" else 0.0
        slip_decision = signed_bps(side, decision, fill_price)
        budget = c.slippage.max_entry_bps if is_entry else c.slippage.max_exit_bps
        placed = attempt.first_date or _utc(order.order_date)
        filled_at = _utc(order.order_filled_date) if live_mode(mode) else _utc(current_time)
        filled_at = filled_at or _utc(current_time)
        bt_charged = 0.0
        if not live_mode(mode) and ctx.get("bt_bps") and ctx.get("proposed"):
            bt_charged = signed_bps(side, _num(ctx["proposed"]), requested) or 0.0
        return FillRecord(
            strategy_id=c.strategy_id,
            pair=trade.pair,
            side="buy" if side == "buy" else "sell",
            intent="entry" if is_entry else "exit",
            is_short=bool(trade.is_short),
            order_type=str(order.order_type),
            order_id=str(order.order_id),
            trade_id=trade.id,
            runmode=str(getattr(mode, "value", mode)),
            decision_price=decision,
            decision_time=ctx.get("decision_time"),
            arrival_mid=arrival,
            arrival_spread_bps=spread,
            requested_price=requested,
            fill_price=fill_price,
            filled_amount=filled,
            ordered_amount=_num(order.amount) or filled,
            notional=notional,
            slippage_decision_bps=slip_decision,
            slippage_arrival_bps=signed_bps(side, arrival, fill_price),
            spread_cost_bps=spread_cost,
            fee_cost=fee_cost,
            fee_currency=fee_ccy,
            fee_rate=fee_rate,
            liquidity=liquidity,
            fee_inferred=inferred,
            funding_fees=float(trade.funding_fees or 0.0),
            reprice_count=attempt.reprices,
            placed_time=_iso(placed),
            filled_time=_iso(filled_at),
            time_to_fill_s=(filled_at - placed).total_seconds() if placed and filled_at else None,
            slippage_budget_bps=float(budget),
            over_budget=slip_decision is not None and slip_decision > budget + 1e-9,
            exit_reason=reason,
            backtest_slippage_bps=bt_charged,
        )

    def _xm_fees(
        self, trade: Any, order: Any, is_entry: bool, notional: float, ctx: dict[str, Any]
    ) -> tuple[float | None, str | None, float | None, str | None, bool]:
        """(fee cost, currency, rate, maker|taker, inferred)."""
        quote = self.config.get("stake_currency")
        if self._xm_runmode == RunMode.LIVE:
            try:
                trades = exchange_of(self.dp).get_trades_for_order(
                    order.order_id, trade.pair, _utc(order.order_date)
                )
            except Exception:  # noqa: BLE001
                trades = []
            if trades:
                base, _, rest = trade.pair.partition("/")
                f = fees_from_trades(
                    trades, base=base, quote=quote or rest.split(":")[0], notional=notional
                )
                return f.cost, f.currency, f.rate, f.liquidity, False
        rate = _num(trade.fee_open if is_entry else trade.fee_close)
        liquidity: str | None = None
        if live_mode(self._xm_runmode):
            liquidity = _infer_liquidity(order, ctx)
        cost = notional * rate if rate is not None else None
        return cost, quote, rate, liquidity, True


def _decided_now(ctx: dict[str, Any], rate: float | None) -> None:
    """A manual order's decision price: the book mid at the request, else Freqtrade's rate."""
    ref = _num(ctx.get("arrival_mid")) or _num(rate)
    if ref:
        ctx["decision_price"] = ref
        ctx["manual"] = True


def _infer_liquidity(order: Any, ctx: dict[str, Any]) -> str | None:
    """Maker or taker without the exchange's fills: market orders take; a limit fill at or
    through the far side of the book seen at decision time took; one resting on our own
    side (or inside the spread) made.  Without a book: filled within a second = taker."""
    if str(order.order_type) != "limit":
        return "taker"
    fill = _num(order.safe_price)
    bid, ask = _num(ctx.get("best_bid")), _num(ctx.get("best_ask"))
    if fill is not None and bid is not None and ask is not None:
        crossing = fill >= ask if order.side == "buy" else fill <= bid
        return "taker" if crossing else "maker"
    placed, filled_at = _utc(order.order_date), _utc(order.order_filled_date)
    if placed is None or filled_at is None:
        return None
    return "maker" if (filled_at - placed).total_seconds() >= 1.0 else "taker"


def _trade_key(trade: Any, key: str) -> tuple:
    return (trade.id, trade.pair, trade.open_date, key)


def live_mode(mode: Any) -> bool:
    return mode in LIVE_MODES


# ---------------------------------------------------------------------- user-override guards
def _bind(name: str, args: tuple, kwargs: dict) -> dict[str, Any]:
    if not args:
        return kwargs
    sig = inspect.signature(getattr(ExecutionMixin, name))
    bound = sig.bind_partial(None, *args, **kwargs)
    out = dict(bound.arguments)
    out.pop("self", None)
    out.update(out.pop("kwargs", {}) or {})
    return out


def _guard(name: str, user_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a user's override of ``name`` so the contract's limits hold around it."""
    mixin_fn = getattr(ExecutionMixin, name)
    combine = _COMBINERS[name]

    @functools.wraps(user_fn)
    def guarded(self: ExecutionMixin, *args: Any, **kwargs: Any) -> Any:
        kw = _bind(name, args, kwargs)
        return combine(self, mixin_fn, user_fn, kw)

    guarded._xm_guarded = True  # type: ignore[attr-defined]
    return guarded


def _c_stake(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> float:
    ours = mixin_fn(self, **kw)
    if ours <= 0:
        return 0.0
    try:
        theirs = _num(user_fn(self, **{**kw, "proposed_stake": ours}))
    except Exception:  # fail closed
        logger.exception("exec_ext: the strategy's custom_stake_amount failed; skipping entry")
        return 0.0
    if theirs is None or theirs <= 0:
        return 0.0
    low = max(self._xc.sizing.min_stake, _num(kw.get("min_stake")) or 0.0)
    return max(min(theirs, ours), low) if ours >= low else 0.0


def _c_leverage(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> float:
    theirs = _num(user_fn(self, **kw)) or 1.0
    return mixin_fn(self, **{**kw, "proposed_leverage": theirs})


def _c_entry_price(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> float:
    ours = mixin_fn(self, **kw)
    pair, trade = kw["pair"], kw.get("trade")
    ctx = self._xm_ctx.get(pair) if trade is None else self._xm_entry_ctx(trade)
    decision = _num((ctx or {}).get("decision_price"))
    if not ctx or ctx.get("refused") or not decision:
        return ours  # the mixin's own price; an entry it could not bound is denied
    try:
        theirs = _num(user_fn(self, **{**kw, "proposed_rate": ours})) or ours
    except Exception:
        logger.exception("exec_ext: the strategy's custom_entry_price failed")
        return ours
    oside = pricing.entry_side(kw.get("side") == "short")
    bound = pricing.budget_bound(oside, decision, self._xc.slippage.max_entry_bps)
    theirs = self._xm_round(oside, pricing.within_bound(oside, theirs, bound), pair, entry=True)
    ctx["price"] = theirs
    if trade is not None:
        self._xm_set_trade_ctx(trade, CTX_ENTRY_KEY, ctx)
    return theirs


def _c_exit_price(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> float:
    ours = mixin_fn(self, **kw)
    try:
        theirs = _num(user_fn(self, **{**kw, "proposed_rate": ours})) or ours
    except Exception:
        logger.exception("exec_ext: the strategy's custom_exit_price failed")
        return ours
    trade = kw["trade"]
    if kw.get("exit_tag") in STOP_REASONS:
        return theirs
    oside = pricing.exit_side(bool(trade.is_short))
    ctx = self._xm_get_trade_ctx(trade, CTX_EXIT_KEY) or {}
    decision = ctx.get("decision_price")
    if decision:
        theirs = pricing.within_bound(
            oside, theirs, pricing.budget_bound(oside, decision, self._xc.slippage.max_exit_bps)
        )
        theirs = self._xm_round(oside, theirs, kw["pair"], entry=False)
    return theirs


def _c_all_true(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> bool:
    if not mixin_fn(self, **kw):
        return False
    try:
        return bool(user_fn(self, **kw))
    except Exception:  # fail closed
        logger.exception("exec_ext: the strategy's confirm callback failed; denying")
        return False


def _c_adjust(
    self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict, entry: bool
) -> float | None:
    ours = mixin_fn(self, **kw)
    theirs = user_fn(self, **{**kw, "proposed_rate": ours})
    if theirs is None:
        return None  # the strategy cancels the order
    price = _num(theirs)
    if price is None:
        return kw["current_order_rate"]
    trade = kw["trade"]
    oside = (
        pricing.entry_side(bool(trade.is_short))
        if entry
        else pricing.exit_side(bool(trade.is_short))
    )
    ctx = (
        self._xm_entry_ctx(trade) if entry else self._xm_get_trade_ctx(trade, CTX_EXIT_KEY)
    ) or {}
    decision = ctx.get("decision_price")
    if decision and not (not entry and ctx.get("reason") in STOP_REASONS):
        budget = self._xc.slippage.max_entry_bps if entry else self._xc.slippage.max_exit_bps
        price = pricing.within_bound(oside, price, pricing.budget_bound(oside, decision, budget))
        try:
            price = self._xm_round(oside, price, trade.pair, entry=entry)
        except BoundUnknown:  # the order stays as it is
            return kw["current_order_rate"]
    return price


def _c_adjust_entry(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> float | None:
    return _c_adjust(self, mixin_fn, user_fn, kw, True)


def _c_adjust_exit(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> float | None:
    return _c_adjust(self, mixin_fn, user_fn, kw, False)


def _c_any_true(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> bool:
    if mixin_fn(self, **kw):
        return True
    return bool(user_fn(self, **kw))


def _c_both(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> Any:
    mixin_fn(self, **kw)
    return user_fn(self, **kw)


def _c_position(self: Any, mixin_fn: Callable, user_fn: Callable, kw: dict) -> Any:
    """A strategy's position adjustment: partial exits (negative amounts) stay its own; an
    extra entry is clamped so that the trade's total stake stays within the contract's
    sizing for one trade (risk per trade, ``max_stake``), or skipped with a reason code."""
    try:
        result = user_fn(self, **kw)
    except Exception:  # fail closed: no adjustment
        logger.exception("exec_ext: the strategy's adjust_trade_position failed")
        return None
    amount, tag = result if isinstance(result, tuple) else (result, None)
    add = _num(amount)
    if add is None or add <= 0:
        return result
    trade = kw["trade"]
    try:
        return self._xm_position_add(trade, add, tag, kw.get("min_stake"), kw["current_time"])
    except Exception:  # fail closed: no add
        logger.exception("exec_ext: could not check a position add for %s", trade.pair)
        return None


def _guard_stoploss(user_fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a strategy's ``custom_stoploss``: its stop may tighten the contract's, never
    loosen it (``after_fill`` included, where Freqtrade lets a stop move down).

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
            ours = self._xm_contract_stop(trade, current_rate)
        except Exception:  # no contract stop computable: keep Freqtrade's (never loosens)
            logger.exception("exec_ext: contract stop unknown for %s; stop unchanged", pair)
            return None
        theirs = None
        if takes_after_fill or not after_fill:
            extra = {"after_fill": after_fill} if takes_after_fill else {}
            try:
                ratio = _num(user_fn(
                    self, pair=pair, trade=trade, current_time=current_time,
                    current_rate=current_rate, current_profit=current_profit, **extra, **kwargs,
                ))
            except Exception:
                logger.exception("exec_ext: the strategy's custom_stoploss failed for %s", pair)
                ratio = None
            if ratio:
                theirs = stops.price_of_ft_ratio(ratio, current_rate, is_short, lev)
                if stops.is_looser(theirs, ours, is_short):
                    self._xm_note_stop_clamp(pair, ratio, theirs, ours)
        price = stops.tighter(ours, theirs, is_short) or ours
        return stops.ft_stop_ratio(price, current_rate, is_short, lev)

    custom_stoploss.__doc__ = user_fn.__doc__
    custom_stoploss._xm_guarded = True  # type: ignore[attr-defined]
    return custom_stoploss


_COMBINERS: dict[str, Callable[..., Any]] = {
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
