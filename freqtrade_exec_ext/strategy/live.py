"""What the mixin runs only when Freqtrade trades (live, and dry-run where it applies).

* the order guard (live: client order ids, the journal, lookups after ambiguous answers,
  Retry-After; ``order_guard.py``); if it cannot start, no entry is allowed;
* the run session (live and dry-run): the stage gates' evidence (``store/sessions.py``);
* instance-level wrappers of ``custom_exit`` and ``confirm_trade_exit``: they run only in
  live and dry-run (in backtests Freqtrade would deep-copy every open trade on every candle
  for them).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from freqtrade_exec_ext import compat

logger = logging.getLogger(__name__)


class LiveServices:
    def __init__(self, strategy: Any) -> None:
        self._s = strategy
        self.guard: Any = None  # OrderGuard (live trading)
        self.guard_error: str | None = None
        self.session: Any = None  # SessionRecorder

    # ---------------------------------------------------------------- order guard
    def start_guard(self) -> None:
        """If the guard cannot be set up, ``guard_error`` says why and entries are denied:
        Freqtrade swallows exceptions raised in bot_start, so failing would not stop it."""
        from freqtrade_exec_ext.execution.placement import RetryPolicy
        from freqtrade_exec_ext.order_guard import OrderGuard
        from freqtrade_exec_ext.store.journal import OrderJournal

        s = self._s
        c = s.risk_contract
        try:
            if self.guard is None:
                journal = OrderJournal(compat.db_engine(), c.strategy_id)
                policy = RetryPolicy(max_retries=c.orders.max_retries)
                guard = OrderGuard(
                    compat.exchange_of(s.dp),
                    journal,
                    policy,
                    strategy=s,
                    exit_reason_of=s.exec_ext_exit_reason,
                )
                guard.install()
                self.guard = guard
            done = self.guard.reconcile(startup=True)
            if done:
                logger.warning("exec_ext: order journal at start: %s", done)
            self.guard_error = None
        except Exception as exc:
            self.guard_error = f"{type(exc).__name__}: {exc}"
            logger.exception("exec_ext: order guard could not start; entries are blocked")

    def reconcile(self) -> None:
        if self.guard is None:
            return
        try:
            done = self.guard.reconcile()
            if done:
                logger.warning("exec_ext: order journal: %s", done)
        except Exception:
            logger.exception("exec_ext: order journal reconciliation failed")

    # ---------------------------------------------------------------- run sessions
    def start_session(self, now: datetime) -> None:
        from freqtrade_exec_ext.compat.strategy import config_files_sha256
        from freqtrade_exec_ext.store.sessions import SessionInfo, SessionRecorder, endpoint_of

        s = self._s
        c = s.risk_contract
        try:
            exchange = compat.exchange_of(s.dp)
            hosts, simulated = endpoint_of(compat.ccxt_clients(exchange)[0])
            recorder = SessionRecorder(compat.db_engine())
            recorder.start(
                SessionInfo(
                    strategy_id=c.strategy_id,
                    stage=str((s.config.get("exec_ext") or {}).get("stage") or ""),
                    exchange=str(getattr(exchange, "id", "") or c.market.exchange),
                    api_host=hosts,
                    simulated=simulated,
                    dry_run=bool(s.config.get("dry_run")),
                    contract_sha256=c.fingerprint(),
                    config_sha256=config_files_sha256(s.config),
                    bot_name=str(s.config.get("bot_name") or ""),
                    strategy=type(s).__name__,
                ),
                now,
            )
            self.session = recorder
        except Exception:  # evidence missing only means the stage gates refuse it later
            logger.exception("exec_ext: could not record the run session")

    def heartbeat(self, now: datetime) -> None:
        if self.session is not None:
            try:
                self.session.heartbeat(now)
            except Exception:
                logger.exception("exec_ext: run session heartbeat failed")

    def stop_session(self, now: datetime) -> None:
        if self.session is not None:
            try:
                self.session.stop(now)
            except Exception:
                logger.exception("exec_ext: could not close the run session")

    # ---------------------------------------------------------------- exit hooks
    def install_hooks(self) -> None:
        s = self._s
        exit_inner = s.custom_exit
        confirm_inner = s.confirm_trade_exit

        def custom_exit(*args: Any, **kwargs: Any) -> str | bool | None:
            trade = kwargs.get("trade", args[1] if len(args) > 1 else None)
            reason = s.exec_ext_forced_exit(trade) if trade is not None else None
            return reason or exit_inner(*args, **kwargs)  # type: ignore[no-any-return]

        def confirm_trade_exit(*args: Any, **kwargs: Any) -> bool:
            trade = kwargs.get("trade")
            if trade is not None:
                s.exec_ext_exit_decided(trade, kwargs.get("exit_reason"), kwargs.get("rate", 0.0))
            return bool(confirm_inner(*args, **kwargs))

        s.custom_exit = custom_exit
        s.confirm_trade_exit = confirm_trade_exit
