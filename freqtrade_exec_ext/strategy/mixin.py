"""``ExecutionMixin``: a strategy's risk contract enforced inside Freqtrade's callbacks.

Use::

    from freqtrade_exec_ext import ExecutionMixin

    class STR001(ExecutionMixin):
        strategy_id = "STR-001"
        ...

The contract (``.crypto/knowledge/strategies/<strategy_id>/risk-assessment.yaml``) is
loaded in ``__init__``; a missing or invalid file, or a setting from any source that
contradicts it, stops Freqtrade with one line per problem (``strategy/startup.py``).

This class is the thin adapter: each callback hands over to one component, and the
arithmetic is pure (``execution/``):

* ``strategy/decide.py``: entry and exit prices, the decisions behind them, pre-trade checks;
* ``strategy/repricing.py``: the reprice ladder and the contract's timeouts;
* ``strategy/risk.py``: stake, leverage, the stop-loss, position adds;
* ``strategy/recording.py``: the execution ledger; ``strategy/decisions.py``: decisions;
* ``strategy/live.py``: the order guard, run sessions, live-only exit hooks;
* ``strategy/overrides.py``: a strategy's own callbacks, combined with these.

Hyperopt pickles this module by value into its workers: keep no state in module globals.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.calibration import backtest as calib  # [calib] the execution model
from freqtrade_exec_ext.compat import strategy as fts
from freqtrade_exec_ext.compat.ops import FLATTEN_REASON, OpsRuntime
from freqtrade_exec_ext.contract import RiskContract
from freqtrade_exec_ext.strategy import binding, overrides, startup
from freqtrade_exec_ext.strategy.context import DecisionBook
from freqtrade_exec_ext.strategy.decide import Decider
from freqtrade_exec_ext.strategy.decisions import DecisionRecorder
from freqtrade_exec_ext.strategy.live import LiveServices
from freqtrade_exec_ext.strategy.market import MarketReads
from freqtrade_exec_ext.strategy.recording import FillRecorder, attempt_for, utc
from freqtrade_exec_ext.strategy.repricing import (
    DISCARD_KEY,
    EXIT_PARTIAL_BELOW_MIN,
    Repricer,
    Timeouts,
)
from freqtrade_exec_ext.strategy.risk import RiskAdapter

logger = logging.getLogger(__name__)

__all__ = ["DISCARD_KEY", "EXIT_PARTIAL_BELOW_MIN", "ExecutionMixin"]

LIVE_MODES = (fts.RunMode.LIVE, fts.RunMode.DRY_RUN)
# Backtests: the CLI, hyperopt, and backtests started from the web UI (webserver mode)
SIM_MODES = (fts.RunMode.BACKTEST, fts.RunMode.HYPEROPT, fts.RunMode.WEBSERVER)
LEDGER_FILE_MODES = (fts.RunMode.BACKTEST, fts.RunMode.WEBSERVER)


def utc_now() -> datetime:
    return datetime.now(UTC)


class ExecutionMixin(fts.SettingsHook):
    """Base class enforcing the strategy's risk contract and recording every fill."""

    strategy_id: str = ""

    # ------------------------------------------------------------------ setup
    def __init__(self, config: dict[str, Any]) -> None:
        compat.on_strategy_init(config)
        try:
            contract, path = startup.load_strategy_contract(config, type(self).strategy_id)
        except startup.StartupError as exc:
            raise fts.OperationalException(str(exc)) from None
        custom_stop = startup.declared_below(
            type(self), "custom_stoploss", stop_at=ExecutionMixin
        ) and bool(getattr(type(self), "use_custom_stoploss", False))
        want = binding.expected_settings(contract, custom_stoploss=custom_stop)
        problems = startup.config_conflicts(
            config, want, env=os.environ, argv=sys.argv, read_file=fts.read_config_file
        )
        super().__init__(config)
        file, params = fts.param_file(self)
        problems += binding.param_file_conflicts(params, want, file)
        if problems:
            raise fts.OperationalException(startup.refusal(contract, path, problems, config))
        self._xc = contract
        self._xm_want = want
        self._xm_mode = config.get("runmode")
        #: the clock decision code reads (tests inject a virtual one)
        self.clock: Callable[[], datetime] = utc_now
        self.exec_ext_decisions = DecisionBook(self.exec_ext_live)
        self.exec_ext_market = MarketReads(self)
        self.exec_ext_repricer = Repricer(self)
        self.exec_ext_timeouts = Timeouts(self, self.exec_ext_repricer)
        self.exec_ext_risk = RiskAdapter(self)
        self.exec_ext_decider = Decider(self)
        self.exec_ext_recorder = FillRecorder(self)
        self.exec_ext_recorded = DecisionRecorder(self)  # the decisions table / log
        self.exec_ext_live_services = LiveServices(self)
        self.exec_ext_ops: Any = None  # compat.ops.OpsRuntime: budget, kill switch, metrics
        self.exec_ext_model = calib.BacktestModel.for_contract(  # [calib] None: backtest_bps
            contract, path, config, fts.OperationalException
        )
        startup.apply_contract_settings(self, config, want, env=os.environ, argv=sys.argv)
        if self._xm_mode in LIVE_MODES:
            self.exec_ext_live_services.install_hooks()

    exec_ext_base: type | None = None  # set below: the mixin itself (declared_below's stop)

    @property
    def protections(self) -> list[dict[str, Any]]:
        from freqtrade_exec_ext.plugins.protection_config import build_protections

        return build_protections(self._xc)

    @property
    def risk_contract(self) -> RiskContract:
        return self._xc

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        overrides.guard_class(cls, ExecutionMixin)

    def exec_ext_settings_applied(self) -> None:
        """Freqtrade applied every settings source (``ft_bot_start``): stop on anything
        that is not the contract's, a stale deployment stamp, or an impossible ladder."""
        problem = startup.settings_in_effect_problem(self, self._xm_want)
        if problem:
            raise fts.OperationalException(problem)
        live = startup.runmode_of(self.config) in startup.LIVE_MODES
        if live:
            from freqtrade_exec_ext.deploy.stamp import stamp_problem

            stale = stamp_problem(self.config, self._xc)
            if stale:
                raise fts.OperationalException(f"ExecutionMixin: {stale}")
        ladder = startup.ladder_problem(
            self._xc, fts.timeframe_to_seconds(self.timeframe), bool(self.use_exit_signal),
            str(self.timeframe)
        )  # fmt: skip
        if ladder and live:
            raise fts.OperationalException(
                f"ExecutionMixin: the reprice ladder of the risk contract of "
                f"{self._xc.strategy_id} cannot be kept by {type(self).__name__}: {ladder}"
            )
        if ladder:
            logger.warning("exec_ext: in live trading this would stop the bot: %s", ladder)

    # ------------------------------------------------------------------ run mode
    def exec_ext_runmode(self) -> Any:
        dp = getattr(self, "dp", None)
        return dp.runmode if dp is not None else self._xm_mode

    def exec_ext_live(self) -> bool:
        return self.exec_ext_runmode() in LIVE_MODES

    def exec_ext_real_orders(self) -> bool:
        return bool(self.exec_ext_runmode() == fts.RunMode.LIVE)

    def exec_ext_backtest_bps(self) -> float:
        if self.exec_ext_runmode() in SIM_MODES:
            return float(self._xc.slippage.backtest_bps)
        return 0.0

    def exec_ext_notify(self, msg: str) -> None:
        logger.warning(msg)
        if self.exec_ext_live():
            try:
                self.dp.send_msg(msg)
            except Exception:
                logger.exception("exec_ext: could not queue a strategy message")

    # ------------------------------------------------------------------ lifecycle
    def bot_start(self, **kwargs: Any) -> None:
        mode = self.exec_ext_runmode()
        self._xm_mode = mode
        c = self._xc
        logger.info(
            "exec_ext: %s enforces %s (contract %s...): stoploss %s, sizing %s, stake [%s, %s]",
            type(self).__name__, c.strategy_id, c.fingerprint()[:12], c.stop_loss.stoploss,
            c.sizing.method, c.sizing.min_stake, c.sizing.max_stake,
        )  # fmt: skip
        if mode in SIM_MODES:  # [calib] what the backtest models, and from what
            for line in calib.startup_lines(self.exec_ext_model, c.slippage.backtest_bps):
                logger.info(line)  # [calib]
        if mode in LEDGER_FILE_MODES:
            results = compat.backtest_results_dir(self.config)
            path = self.exec_ext_recorder.open_file(results, type(self).__name__)
            logger.info("exec_ext: execution ledger -> %s", path)
        self.exec_ext_decisions.clear()
        self.exec_ext_recorder.reset()
        self.exec_ext_recorded.start(mode, mode in LEDGER_FILE_MODES, mode in LIVE_MODES)
        if mode == fts.RunMode.LIVE:
            self.exec_ext_live_services.start_guard()
        if mode in LIVE_MODES:  # ops first: the markout reader joins its request budget
            self.exec_ext_ops = OpsRuntime(self, self._xc)
            self.exec_ext_ops.start(self.clock())
            self.exec_ext_live_services.start(self.clock())

    def bot_loop_start(self, current_time: datetime, **kwargs: Any) -> None:
        if self.exec_ext_ops is not None:
            self.exec_ext_ops.loop(utc(current_time) or self.clock())
        self.exec_ext_live_services.loop(utc(current_time) or self.clock())
        self.exec_ext_recorded.loop(utc(current_time) or self.clock())

    def exec_ext_bot_stopping(self) -> None:
        if self.exec_ext_ops is not None:
            self.exec_ext_ops.stop()
        self.exec_ext_live_services.stop(self.clock())
        self.exec_ext_recorder.close()
        self.exec_ext_recorded.close()

    # ------------------------------------------------------------------ stop-loss
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
        """The contract's stop in Freqtrade's margin-relative terms for this trade: always
        on futures (each trade's stop from its own leverage; at the first fill,
        ``after_fill``, the initial stop moves to the exact price), and on spot when the
        strategy has its own ``custom_stoploss`` (combined: the tighter wins)."""
        try:
            return self.exec_ext_risk.stop_ratio(trade, current_rate)
        except Exception:  # Freqtrade keeps the stop it has: it never loosens on its own
            logger.exception("exec_ext: custom_stoploss failed for %s", pair)
            return None

    def exec_ext_contract_stop(self, trade: Any, current_rate: float) -> float:
        return self.exec_ext_risk.contract_stop(trade, current_rate)

    def exec_ext_note_stop_clamp(self, pair: str, ratio: float, theirs: float, ours: float) -> None:
        self.exec_ext_risk.note_stop_clamp(pair, ratio, theirs, ours)

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
            d = self.exec_ext_decisions.pending.get(pair)  # [calib] a modelled partial fill
            ratio = calib.stake_ratio(self.exec_ext_model, d)  # [calib]
            return self.exec_ext_risk.stake(pair, min_stake, max_stake, leverage) * ratio  # [calib]
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
        return self.exec_ext_risk.leverage(pair, proposed_leverage, max_leverage)

    def exec_ext_position_add(
        self, trade: Any, add: float, tag: Any, min_stake: Any, now: datetime
    ) -> Any:
        return self.exec_ext_risk.position_add(trade, add, tag, min_stake, now)

    def exec_ext_take_add(self, trade: Any) -> bool:
        return self.exec_ext_risk.take_add(trade)

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
        now = utc(current_time) or self.clock()
        return self.exec_ext_decider.entry_price(
            pair, trade, proposed_rate, entry_tag, side == "short", now
        )

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
        if self.exec_ext_ops is not None and exit_tag == FLATTEN_REASON:
            return float(self.exec_ext_ops.flatten_price(pair, bool(trade.is_short), proposed_rate))
        return self.exec_ext_decider.exit_price(pair, trade, proposed_rate, exit_tag)

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
        if self.exec_ext_decider.refused(pair, side, amount, rate):
            return False
        halt = self.exec_ext_ops.entry_refusal() if self.exec_ext_ops is not None else None
        if halt:  # the kill switch allows no entry
            self.exec_ext_decisions.pending.pop(pair, None)
            self.exec_ext_ops.on_rejection(halt, pair)
            return False
        rec = self.exec_ext_recorded  # allowed: the decision is recorded (returns True)
        if not self.exec_ext_live():  # no historical order book: book checks are live only
            return rec.entry_allowed(pair, side, amount, rate, entry_tag, current_time)
        verdict = self.exec_ext_decider.checks(pair, side, amount)
        if verdict.ok:
            guard = self.exec_ext_live_services.guard
            if guard is not None:
                guard.annotate_entry(
                    pair,
                    enter_tag=entry_tag,
                    leverage=self.exec_ext_risk.leverage_of.get(pair, 1.0),
                )
            return rec.entry_allowed(pair, side, amount, rate, entry_tag, current_time)
        self.exec_ext_decisions.pending.pop(pair, None)
        if self.exec_ext_ops is not None:
            self.exec_ext_ops.on_rejection(verdict.code)
        self.exec_ext_notify(
            f"{self._xc.strategy_id} entry rejected {pair} {side} amount={amount:g} "
            f"rate={rate:g}: {verdict}"
        )
        return False

    # ------------------------------------------------------------------ exits (live hooks)
    def exec_ext_exit_decided(self, trade: Any, exit_reason: str | None, rate: float) -> None:
        self.exec_ext_decider.exit_decided(trade, exit_reason, rate)

    def exec_ext_exit_reason(self, trade: Any) -> str | None:
        """The reason recorded for the trade's pending exit (order guard adoption)."""
        d = self.exec_ext_decisions.get(trade, "exit")
        return str(d.reason) if d and d.reason else None

    def exec_ext_forced_exit(self, trade: Any) -> str | None:
        """An exit the mixin asks Freqtrade for (through ``custom_exit``): a partial entry
        below min_fill_ratio, an exit cancelled at a ladder step, the kill switch's FLATTEN."""
        if self.exec_ext_ops is not None and self.exec_ext_ops.exit_reason():
            return str(self.exec_ext_ops.exit_reason())
        discard = self.exec_ext_timeouts.discard_reason(trade)
        return discard or self.exec_ext_repricer.pending_exit(trade)

    # ------------------------------------------------------------------ open orders
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
        return self._xm_reprice(trade, order, proposed_rate, current_order_rate, True, current_time)

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
        return self._xm_reprice(
            trade, order, proposed_rate, current_order_rate, False, current_time
        )

    def _xm_reprice(
        self,
        trade: Any,
        order: Any,
        proposed: float,
        current: float,
        entry: bool,
        current_time: datetime,
    ) -> float | None:
        try:
            attempt = attempt_for(trade, entry, upto=order) if order is not None else None
            return (
                self.exec_ext_repricer.reprice(
                    trade, order, attempt, proposed, current, entry, utc(current_time)
                )
                if attempt is not None
                else current
            )
        except Exception:  # keep the order as it is
            logger.exception("exec_ext: repricing failed for %s", trade.pair)
            return current

    def check_entry_timeout(
        self, pair: str, trade: Any, order: Any, current_time: datetime, **kwargs: Any
    ) -> bool:
        if self.exec_ext_ops is not None and self.exec_ext_ops.cancel_entries():
            return True  # the kill switch allows no entry: open entry orders go
        if calib.cancels(self.exec_ext_model, self.exec_ext_decisions.entry(trade)):  # [calib]
            return True  # [calib] the model says this entry would not have filled
        try:
            return self.exec_ext_timeouts.entry(
                pair, trade, order, utc(current_time) or self.clock()
            )
        except Exception:  # Freqtrade's own (backstop) timeout still applies
            logger.exception("exec_ext: check_entry_timeout failed for %s", pair)
            return False

    def check_exit_timeout(
        self, pair: str, trade: Any, order: Any, current_time: datetime, **kwargs: Any
    ) -> bool:
        if self.exec_ext_ops is not None and self.exec_ext_ops.cancel_exits():
            return True  # kill switch FLATTEN: placed again at the book of the moment
        try:
            return self.exec_ext_timeouts.exit(
                pair, trade, order, utc(current_time) or self.clock()
            )
        except Exception:
            logger.exception("exec_ext: check_exit_timeout failed for %s", pair)
            return False

    # ------------------------------------------------------------------ the ledger
    def order_filled(
        self, pair: str, trade: Any, order: Any, current_time: datetime, **kwargs: Any
    ) -> None:
        mode = self.exec_ext_runmode()
        live = mode in LIVE_MODES
        try:
            if mode != fts.RunMode.HYPEROPT:
                record = self.exec_ext_recorder.on_fill(trade, order, current_time, live)
                self.exec_ext_recorded.on_fill(trade, order, record, current_time)
                if record is not None and live:
                    self.exec_ext_live_services.on_fill(trade, record)
                    if self.exec_ext_ops is not None:
                        self.exec_ext_ops.on_fill(record)
                if record is not None and live and record.intent == "exit" and not trade.is_open:
                    self.exec_ext_decisions.save(trade, "exit", None)
                if record is not None and record.over_budget:
                    self.exec_ext_notify(
                        f"{record.strategy_id} {record.intent} fill {pair} slippage "
                        f"{record.slippage_decision_bps:.1f} bps over budget "
                        f"{record.slippage_budget_bps:g} bps (decision {record.decision_price:g}, "
                        f"fill {record.fill_price:g})"
                    )
            if not live and order.ft_order_side != trade.entry_side:
                done = abs((order.filled or 0.0) - (trade.amount or 0.0)) <= 1e-12
                self.exec_ext_decisions.forget(trade, done or not trade.is_open)
        except Exception:  # the ledger never breaks trading
            logger.exception("exec_ext: could not record the fill of %s on %s", order, pair)


ExecutionMixin.exec_ext_base = ExecutionMixin
