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
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccxt import TICK_SIZE
from freqtrade.enums import RunMode
from freqtrade.exceptions import OperationalException
from freqtrade.strategy import IStrategy

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.compat import exchange_of
from freqtrade_exec_ext.contract import ContractError, RiskContract, find_contract, load_contract
from freqtrade_exec_ext.execution import checks, pricing, sizing, timeouts
from freqtrade_exec_ext.execution.fees import fees_from_trades
from freqtrade_exec_ext.execution.ft_settings import strategy_settings, wallet_settings
from freqtrade_exec_ext.execution.ledger import (
    LEDGER_KEY_PREFIX,
    FillRecord,
    backtest_ledger_path,
    signed_bps,
)
from freqtrade_exec_ext.execution.orderbook import BookError, top_of_book

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


def load_strategy_contract(config: dict[str, Any], strategy_id: str) -> RiskContract:
    """Find and load the strategy's contract, or raise OperationalException (one line)."""
    if not strategy_id:
        raise OperationalException(
            "ExecutionMixin: the strategy must set strategy_id (e.g. strategy_id = \"STR-001\")"
        )
    override = (config.get("exec_ext") or {}).get("risk_contract")
    try:
        path = find_contract(
            strategy_id,
            user_data_dir=config.get("user_data_dir"),
            cwd=Path.cwd(),
            override=override,
        )
        return load_contract(path)
    except ContractError as exc:
        raise OperationalException(exc.one_line()) from None


def check_config_against_contract(config: dict[str, Any], contract: RiskContract) -> list[str]:
    """Config values that contradict the contract, one line each (empty: consistent)."""
    problems = []
    settings = strategy_settings(contract)
    live = config.get("runmode") in LIVE_MODES
    for key, want in settings.items():
        if key not in config:
            continue
        have = config[key]
        if key == "order_types" and isinstance(have, dict) and not live:
            # Backtesting switches stoploss_on_exchange off in the shared dict.
            have = {**have, "stoploss_on_exchange": want["stoploss_on_exchange"]}
        if key == "max_open_trades" and _num(have) == _num(want):
            continue
        if have != want:
            problems.append(
                f"config {key}={have!r} contradicts the risk contract of {contract.strategy_id} "
                f"({want!r}); remove {key} from the config"
            )
    wallet = wallet_settings(contract)
    for key in ("stake_currency", "trading_mode"):
        have = config.get(key)
        if have is not None and str(have) != str(wallet[key]):
            problems.append(
                f"config {key}={have!r} contradicts the risk contract of {contract.strategy_id} "
                f"({wallet[key]!r})"
            )
    return problems


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


class ExecutionMixin(IStrategy):
    """Base class enforcing the strategy's risk contract and recording every fill."""

    strategy_id: str = ""

    # ------------------------------------------------------------------ setup
    def __init__(self, config: dict[str, Any]) -> None:
        compat.on_strategy_init(config)
        contract = load_strategy_contract(config, type(self).strategy_id)
        problems = check_config_against_contract(config, contract)
        if problems:
            raise OperationalException(problems[0])
        super().__init__(config)
        self._xc = contract
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
        self._xm_guard_error: str | None = None
        self._apply_contract_settings(config)
        if self._xm_mode in LIVE_MODES:
            self._xm_install_live_hooks()

    def _apply_contract_settings(self, config: dict[str, Any]) -> None:
        c = self._xc
        for key, value in strategy_settings(c).items():
            declared = getattr(type(self), key, None)
            if key in type(self).__dict__ and declared != value:
                logger.warning(
                    "%s: %s=%r in the strategy class is replaced by the risk contract (%r)",
                    type(self).__name__, key, declared, value,
                )
            setattr(self, key, dict(value) if isinstance(value, dict) else value)
        if not c.stop_loss.trailing.enabled:
            self.trailing_stop_positive = None
            self.trailing_stop_positive_offset = 0.0
            self.trailing_only_offset_is_reached = False
        wallet = wallet_settings(c)
        have = config.get("dry_run_wallet")
        if have is not None and _num(have) != float(wallet["dry_run_wallet"]):
            logger.warning(
                "dry_run_wallet %s replaced by the risk contract's initial_capital %s",
                have, wallet["dry_run_wallet"],
            )
        config["dry_run_wallet"] = wallet["dry_run_wallet"]
        config.setdefault("stake_currency", wallet["stake_currency"])

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

    def _xm_decision_price(self, pair: str) -> float | None:
        try:
            df, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
            if df is None or len(df) == 0:
                return None
            return _num(df["close"].iat[-1])
        except Exception:  # noqa: BLE001 - a missing frame is "unknown", never fatal
            return None

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

    def _xm_tick(self, pair: str) -> float | None:
        """The market's price tick (cached per pair); None when unknown."""
        if pair in self._xm_ticks:
            return self._xm_ticks[pair]
        tick = None
        try:
            market = self.dp.market(pair) or {}
            prec = _num((market.get("precision") or {}).get("price"))
            ex = exchange_of(self.dp)
            if prec is not None:
                tick = prec if getattr(ex, "precisionMode", TICK_SIZE) == TICK_SIZE else 10**-prec
        except Exception:  # noqa: BLE001 - unknown tick: prices stay unrounded
            tick = None
        self._xm_ticks[pair] = tick
        return tick

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

    def _xm_capture(self, pair: str, proposed: float, price: float, side: str) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "decision_price": self._xm_decision_price(pair),
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
        guard = self._xm_guard
        if guard is None:
            return
        try:
            done = guard.reconcile()
            if done:
                logger.warning("exec_ext: order journal: %s", done)
        except Exception:
            logger.exception("exec_ext: order journal reconciliation failed")

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
        c = self._xc
        oside = pricing.entry_side(side == "short")
        try:
            if trade is not None:  # replacement (backtests) or DCA: keep the first decision
                ctx = self._xm_entry_ctx(trade)
                decision = ctx.get("decision_price")
                if decision:
                    bound = pricing.budget_bound(oside, decision, c.slippage.max_entry_bps)
                    return pricing.within_bound(oside, proposed_rate, bound)
                return proposed_rate
            bt_bps = self._xm_backtest_slippage()
            book = self._xm_book(pair)
            ctx = self._xm_capture(pair, proposed_rate, proposed_rate, oside)
            self._xm_add_arrival(ctx, book)
            if entry_tag in MANUAL_ENTRY_TAGS:
                _decided_now(ctx, proposed_rate)
            price = pricing.limit_price(
                oside,
                proposed_rate,
                decision_price=ctx["decision_price"],
                budget_bps=c.slippage.max_entry_bps,
                best_bid=ctx.get("best_bid"),
                best_ask=ctx.get("best_ask"),
                backtest_bps=bt_bps,
            )
            price = pricing.round_inside(oside, price, self._xm_tick(pair))
            ctx["price"] = price
            ctx["bt_bps"] = bt_bps
            self._xm_ctx[pair] = ctx
            return price
        except Exception:  # fail closed: a price inside the budget
            logger.exception("exec_ext: custom_entry_price failed for %s", pair)
            decision = self._xm_decision_price(pair)
            if decision:
                bound = pricing.budget_bound(oside, decision, c.slippage.max_entry_bps)
                return pricing.within_bound(oside, proposed_rate, bound)
            return proposed_rate

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
            bt_bps = self._xm_backtest_slippage()
            ctx = self._xm_capture(pair, proposed_rate, proposed_rate, oside)
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
                price = pricing.round_inside(oside, price, self._xm_tick(pair))
            ctx["price"] = price
            ctx["bt_bps"] = bt_bps
            self._xm_set_trade_ctx(trade, CTX_EXIT_KEY, ctx)
            return price
        except Exception:
            logger.exception("exec_ext: custom_exit_price failed for %s", pair)
            return proposed_rate

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
        if not self._xm_live():
            return True  # no historical order book: checks are live/dry-run only
        c = self._xc
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

    def _xm_exit_decision(self, trade: Any, exit_reason: str | None, rate: float) -> None:
        """Record the decision behind an exit (live/dry-run: every exit but liquidations)."""
        try:
            ctx = self._xm_get_trade_ctx(trade, CTX_EXIT_KEY)
            if ctx is None or ctx.get("reason") is None:
                oside = pricing.exit_side(bool(trade.is_short))
                ctx = ctx or self._xm_capture(trade.pair, rate, rate, oside)
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
            reason = self._xm_discard_exit(trade) if trade is not None else None
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
        c = self._xc
        if order is None:
            return current_order_rate
        attempt = _Attempt(trade, entry, upto=order)
        current_time = _utc(current_time)
        if attempt.first_date is None or current_time is None:
            return current_order_rate
        timeout = c.orders.entry_timeout_s if entry else c.orders.exit_timeout_s
        elapsed = (current_time - attempt.first_date).total_seconds()
        due = pricing.reprice_step_due(elapsed, timeout, c.orders.max_reprices)
        if due <= attempt.reprices:
            return current_order_rate
        oside = (
            pricing.entry_side(bool(trade.is_short))
            if entry
            else pricing.exit_side(bool(trade.is_short))
        )
        ctx = (
            self._xm_entry_ctx(trade) if entry else self._xm_get_trade_ctx(trade, CTX_EXIT_KEY)
        ) or {}
        decision = ctx.get("decision_price") or attempt.first_price or current_order_rate
        budget = c.slippage.max_entry_bps if entry else c.slippage.max_exit_bps
        if not entry and ctx.get("reason") in STOP_REASONS:
            budget = 10_000.0  # a stop is never held back by the budget
        bound = pricing.budget_bound(oside, decision, budget)
        target = proposed_rate
        book = self._xm_book(trade.pair)
        if book:
            try:
                q = top_of_book(book)
                target = q.best_ask if oside == "buy" else q.best_bid
            except BookError:
                pass
        target = pricing.apply_slippage(oside, target, self._xm_backtest_slippage())
        start = ctx.get("price") or attempt.first_price or current_order_rate
        new = pricing.ladder_price(
            oside, start, target, bound, attempt.reprices + 1, c.orders.max_reprices
        )
        new = pricing.round_inside(oside, new, self._xm_tick(trade.pair))
        if math.isclose(new, current_order_rate, rel_tol=1e-9) or not pricing.is_worse(
            oside, new, current_order_rate
        ):
            return current_order_rate
        logger.info(
            "exec_ext: reprice %s %s %s -> %s (step %d/%d, bound %s)",
            trade.pair, "entry" if entry else "exit", current_order_rate, new,
            attempt.reprices + 1, c.orders.max_reprices, bound,
        )
        return new

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
            first = attempt.first_date or _utc(order.order_date)
            elapsed = (_utc(current_time) - first).total_seconds()
            action, ratio = timeouts.entry_timeout_action(
                filled=float(order.filled or 0.0),
                amount=float(order.amount or 0.0),
                elapsed_s=elapsed,
                timeout_s=c.orders.entry_timeout_s,
                min_fill_ratio=c.orders.min_fill_ratio,
            )
            if action is timeouts.TimeoutAction.WAIT:
                return False
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
                decision = self._xm_decision_price(trade.pair) or requested
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
    try:
        theirs = _num(user_fn(self, **{**kw, "proposed_rate": ours})) or ours
    except Exception:
        logger.exception("exec_ext: the strategy's custom_entry_price failed")
        return ours
    oside = pricing.entry_side(kw.get("side") == "short")
    ctx = self._xm_ctx.get(kw["pair"]) if kw.get("trade") is None else None
    decision = (ctx or {}).get("decision_price") or self._xm_decision_price(kw["pair"])
    if decision:
        theirs = pricing.within_bound(
            oside, theirs, pricing.budget_bound(oside, decision, self._xc.slippage.max_entry_bps)
        )
        theirs = pricing.round_inside(oside, theirs, self._xm_tick(kw["pair"]))
    if ctx is not None:
        ctx["price"] = theirs
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
        theirs = pricing.round_inside(oside, theirs, self._xm_tick(kw["pair"]))
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
        price = pricing.round_inside(oside, price, self._xm_tick(trade.pair))
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
}
