"""What the mixin runs only when Freqtrade trades (live, and dry-run where it applies).

* the order guard (live: client order ids, the journal, lookups after ambiguous answers,
  Retry-After, the stray sweep; ``order_guard.py``); if it cannot start, no entry is
  allowed;
* one bot per database (live): the bot claims its database at start and renews the claim
  every loop (``store/bot_identity.py``); a second live bot on the same database places no
  order at all;
* the run session (live and dry-run): the stage gates' evidence (``store/sessions.py``);
* instance-level wrappers of ``custom_exit`` and ``confirm_trade_exit``: they run only in
  live and dry-run (in backtests Freqtrade would deep-copy every open trade on every candle
  for them).
"""

from __future__ import annotations

import logging
import time
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
        self.markouts: Any = None  # MarkoutSampler (live and dry-run)
        self.identities: Any = None  # BotIdentities (live trading)
        self.identity: Any = None  # this process's BotIdentity
        self._refusing: Any = None  # the guard of a refused bot: it refuses every order

    # ---------------------------------------------------------------- the bot's life
    def start(self, now: datetime) -> None:
        """bot_start in live and dry-run: the run session and the markout sampler."""
        self.start_session(now)
        self.start_markouts()

    def loop(self, now: datetime) -> None:
        """bot_loop_start: session heartbeat, journal reconciliation, markouts to the ledger."""
        self.heartbeat(now)
        self.reconcile()
        self.flush_markouts()

    def stop(self, now: datetime) -> None:
        self.stop_session(now)
        if self.markouts is not None:
            self.markouts.stop()
            self.flush_markouts()
            self.markouts = None

    # ---------------------------------------------------------------- markouts
    def start_markouts(self) -> None:
        from freqtrade_exec_ext.strategy.markouts import MarkoutSampler

        s = self._s
        # the reader shares the bot's IP: it keeps the guard's Retry-After windows (live)
        # and counts on the shared request budget (ops)
        gov = self.guard.governor if self.guard is not None else None
        budget = getattr(getattr(s, "exec_ext_ops", None), "client", None)
        try:
            reader = compat.public_mid_reader(
                compat.exchange_of(s.dp),
                may_send=None if gov is None else lambda: gov.wait_s(time.time()) <= 0,
                on_response=None
                if gov is None
                else lambda code, headers: gov.on_response(code, headers, time.time()),
                hook=None if budget is None else budget.add_client,
            )
            sampler = MarkoutSampler(reader, clock=lambda: s.clock().timestamp())
            sampler.start()
            self.markouts = sampler
        except Exception:  # markouts are measurement only: trading goes on without them
            logger.exception("exec_ext: markouts off: no public price reader")

    def on_fill(self, trade: Any, record: Any) -> None:
        if self.markouts is None or not record.filled_time:
            return
        filled = datetime.fromisoformat(record.filled_time).timestamp()
        key = f"{trade.id}|{record.custom_data_key}"
        side = "buy" if record.side == "buy" else "sell"
        self.markouts.add(key, record.pair, side, float(record.fill_price), filled)

    def flush_markouts(self) -> None:
        """Write measured markouts into their fills' ledger records (the bot's thread)."""
        if self.markouts is None:
            return
        for key, horizons in self.markouts.drain().items():
            trade_id, _, data_key = key.partition("|")
            try:
                trade = compat.trade_by_id(int(trade_id))
                stored = trade.get_custom_data(data_key) if trade is not None else None
                if isinstance(stored, dict):
                    merged = {**(stored.get("markouts_bps") or {}), **horizons}
                    trade.set_custom_data(data_key, {**stored, "markouts_bps": merged})
            except Exception:
                logger.exception("exec_ext: could not store markouts of %s", key)

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
            if not self._claim_database():
                return
            done = self.guard.reconcile(startup=True)
            if done:
                logger.warning("exec_ext: order journal at start: %s", done)
            self.guard_error = None
        except Exception as exc:
            self.guard_error = f"{type(exc).__name__}: {exc}"
            logger.exception("exec_ext: order guard could not start; entries are blocked")

    def _claim_database(self) -> bool:
        """One bot per database; False (and no order from this bot) when another has it."""
        from freqtrade_exec_ext.compat.strategy import config_files_sha256
        from freqtrade_exec_ext.store.bot_identity import BotIdentities, BotIdentity

        s = self._s
        now = s.clock()
        if self.identities is None:
            self.identities = BotIdentities(compat.db_engine())
            self.identity = BotIdentity.this_process(
                type(s).__name__, config_files_sha256(s.config), now
            )
        claim = self.identities.claim(self.identity, now)
        if claim.ok:
            if claim.other is not None:
                logger.warning(
                    "exec_ext: this database's previous bot is gone (%s); taken over",
                    claim.other.describe(now),
                )
            return True
        self._refuse(
            "another live bot uses this database ("
            + (claim.other.describe(now) if claim.other else "unknown")
            + "); two bots on one database corrupt both order journals: give each its own "
            "db_url. This bot places no order"
        )
        return False

    def _refuse(self, why: str) -> None:
        self.guard_error = why
        logger.error("exec_ext: REFUSED: %s", why)
        if self.guard is not None:
            self.guard.refuse(f"exec_ext: {why}")
            self._refusing, self.guard = self.guard, None  # entries see no guard: denied

    def reconcile(self) -> None:
        if self.guard is None:
            return
        try:
            done = self.guard.reconcile()
            if done:
                logger.warning("exec_ext: order journal: %s", done)
        except Exception:
            logger.exception("exec_ext: order journal reconciliation failed")
        try:
            swept = self.guard.sweep()
            if swept:
                logger.warning("exec_ext: stray sweep: %s", swept)
        except Exception:
            logger.exception("exec_ext: stray sweep failed")

    def keep_claim(self, now: datetime) -> None:
        """Renew this bot's claim on its database; refuse every order once it is lost."""
        if self.identities is None or self.guard is None:
            return
        try:
            kept = self.identities.heartbeat(self.identity.token, now)
        except Exception:
            logger.exception("exec_ext: bot identity heartbeat failed")
            return
        if not kept:
            self._refuse("another live bot has taken over this database")

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
        self.keep_claim(now)
        if self.session is not None:
            try:
                self.session.heartbeat(now)
            except Exception:
                logger.exception("exec_ext: run session heartbeat failed")

    def stop_session(self, now: datetime) -> None:
        if self.identities is not None and self.guard is not None:
            try:
                self.identities.release(self.identity.token)
            except Exception:
                logger.exception("exec_ext: could not release the bot identity")
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
            allowed = bool(confirm_inner(*args, **kwargs))
            if allowed and trade is not None:  # the decision behind the exit, recorded
                s.exec_ext_recorded.exit_allowed(
                    trade, kwargs.get("exit_reason"), kwargs.get("amount", 0.0), kwargs.get("rate")
                )
            return allowed

        s.custom_exit = custom_exit
        s.confirm_trade_exit = confirm_trade_exit
