"""Operations inside a running bot: shared request budget, kill switch, metrics.

The strategy mixin holds one :class:`OpsRuntime` in live and dry-run modes and calls it
from a few callbacks::

    bot_start            ops.start(now)          budget hook, stored kill switch state, /metrics
    bot_loop_start       ops.loop(now)           observe, evaluate, persist, alert, metrics
    confirm_trade_entry  ops.entry_refusal()     a reason while the kill switch allows no entry
    check_entry_timeout  ops.cancel_entries()    True: open entry orders are cancelled
    custom_exit          ops.exit_reason()       FLATTEN_REASON while every trade must go
    custom_exit_price    ops.flatten_price(...)  a marketable price for that exit
    order_filled         ops.on_fill(record)     metrics, the over-budget streak

Everything here that touches Freqtrade (trades, rates, pair locks, the REST API's
FastAPI app) is Freqtrade's public strategy surface or listed in this module.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.compat.exchange import exchange_of
from freqtrade_exec_ext.execution import killswitch as ks

logger = logging.getLogger(__name__)

FLATTEN_REASON = "kill_switch_flatten"
LOCK_REASON = "exec_ext kill switch"
STOP_EXITS = frozenset({"stop_loss", "trailing_stop_loss", "stoploss_on_exchange", "liquidation"})
STREAK_LOOKBACK = timedelta(hours=24)
#: a FLATTEN exit is priced this far through the far side of the book: it crosses at once
#: and fills at the book's prices, the limit only caps a book that moved away (Freqtrade
#: itself clamps custom prices to 2% of its rate)
FLATTEN_CROSS_BPS = 100.0
LOCK_YEARS = 10


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def bot_id_of(config: dict[str, Any], strategy_id: str) -> str:
    stage = (config.get("exec_ext") or {}).get("stage") or ""
    return str(config.get("bot_name") or f"{strategy_id}{':' + stage if stage else ''}")


def mount_metrics(metrics: Any) -> bool:
    """Serve ``metrics`` at ``/metrics`` on Freqtrade's REST API (when it runs).

    The route goes first in the app's list: FreqUI's catch-all would answer otherwise.
    Unauthenticated, like Prometheus exporters; the API port is published on loopback.
    """
    try:
        from fastapi.routing import APIRoute
        from freqtrade.rpc.api_server.webserver import ApiServer
        from starlette.responses import Response
    except ImportError:
        return False
    server = getattr(ApiServer, "_ApiServer__instance", None)
    app = getattr(server, "app", None)
    if app is None:
        return False

    def metrics_endpoint() -> Response:
        body, content_type = metrics.exposition()
        return Response(content=body, media_type=content_type)

    routes = app.router.routes
    routes[:] = [r for r in routes if getattr(r, "path", None) != "/metrics"]
    routes.insert(0, APIRoute("/metrics", metrics_endpoint, methods=["GET"]))
    return True


class OpsRuntime:
    """The bot-side adapter of the budget, the kill switch and the metrics."""

    def __init__(self, strategy: Any, contract: Any) -> None:
        self.s = strategy
        self.c = contract
        self.bot = bot_id_of(strategy.config, contract.strategy_id)
        self.ks = ks.KillSwitch(ks.Thresholds.from_limits(contract.limits))
        self.store: Any = None
        self.revision: int | None = None
        self.client: Any = None
        self.metrics: Any = None
        self.over_budget_streak = 0
        self.orders: deque[bool] = deque(maxlen=contract.limits.rejection_window)
        self._orders_seen = 0
        self._exit_settings: tuple[bool, bool] | None = None
        self.failed: str | None = None
        self._said: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ start
    def start(self, now: datetime) -> None:
        from freqtrade_exec_ext.compat.persistence import db_engine
        from freqtrade_exec_ext.metrics import Metrics
        from freqtrade_exec_ext.store.killswitch import KillSwitchStore

        self.metrics = Metrics(self.c.strategy_id, self.bot)
        self._install_budget()
        try:
            self.store = KillSwitchStore(db_engine())
            state, self.revision = self.store.load(self.c.strategy_id)
            self.ks.state = state
        except Exception:  # fail closed: unknown state, no entries
            logger.exception("exec_ext: kill switch state unreadable; entries are blocked")
            self.store = None
        if self.ks.level is not ks.Level.NORMAL:
            logger.warning(
                "exec_ext: kill switch is %s since %s (%s: %s)%s",
                self.ks.level.name,
                self.ks.state.since,
                self.ks.state.reason,
                self.ks.state.detail,
                f"; run `freqtrade-exec resume {self.c.strategy_id}` to trade again"
                if self.ks.level >= ks.Level.FLATTEN
                else "",
            )
            self._apply(self.ks.level)
        self.metrics.observe_kill_switch(self.ks.level)
        if mount_metrics(self.metrics):
            logger.info("exec_ext: Prometheus metrics at /metrics on the REST API port")
        else:
            logger.info("exec_ext: REST API off: no /metrics endpoint (metrics kept in memory)")

    def _install_budget(self) -> None:
        from freqtrade_exec_ext.compat.ccxt_budget import default_config, install_budget

        raw = dict((self.s.config.get("exec_ext") or {}).get("budget") or {})
        exchange = exchange_of(self.s.dp)
        store = None
        try:
            url = str(raw.get("db_url") or "")
            folder = Path(url[len("sqlite:///") :]).parent if url.startswith("sqlite:///") else None
            if folder is not None and not folder.is_dir():
                logger.warning(
                    "exec_ext: shared request budget off: %s does not exist (the shared "
                    "volume of the deployment is not mounted); requests are only counted",
                    folder,
                )
                raw = {}
            if raw.get("db_url"):
                from freqtrade_exec_ext.store.budget import BudgetStore, budget_engine

                api = exchange._api
                cfg = default_config(str(api.id), float(getattr(api, "rateLimit", 50)), raw)
                store = BudgetStore(budget_engine(str(raw["db_url"])), cfg)
            self.client = install_budget(exchange, store, self.bot)
        except Exception:  # the hook only counts, or nothing: never in the way of trading
            logger.exception("exec_ext: shared request budget could not start")

    def stop(self) -> None:
        if self.client is not None:
            self.client.uninstall()

    # ------------------------------------------------------------------ the loop
    def loop(self, now: datetime) -> None:
        """One bot loop; a failure blocks entries until a loop succeeds (fail closed)."""
        if self.store is None:
            return
        try:
            self._loop(now)
            self.failed = None
        except Exception as exc:
            self.failed = f"{type(exc).__name__}: {exc}"
            logger.exception("exec_ext: kill switch evaluation failed; entries are blocked")

    def _loop(self, now: datetime) -> None:
        self._reload(now)
        obs = self._observe(now)
        transition = self.ks.evaluate(obs, now)
        if transition is not None:
            self._announce(transition, actor=f"bot:{self.bot}")
        elif self.revision is not None:
            self.revision = self.store.save(
                self.c.strategy_id, self.ks.state, now, revision=self.revision
            )
        self._feed_metrics(obs, now)

    def _reload(self, now: datetime) -> None:
        """A person may have resumed since the last loop (``freqtrade-exec resume``)."""
        state, rev = self.store.load(self.c.strategy_id)
        if rev == self.revision:
            return
        before = self.ks.level
        self.ks.state, self.revision = state, rev
        if state.level < before:
            logger.warning(
                "exec_ext: kill switch %s -> %s (%s: %s)",
                before.name,
                state.level.name,
                state.reason,
                state.detail,
            )
            self._apply(state.level)
            self._alert(
                f"{self.c.strategy_id} kill switch {before.name} -> "
                f"{state.level.name}: {state.reason}: {state.detail}"
            )

    def _announce(self, t: ks.Transition, actor: str) -> None:
        msg = t.message(self.c.strategy_id)
        logger.warning("exec_ext: %s", msg)
        rev = self.store.save(
            self.c.strategy_id, self.ks.state, t.at, t, actor=actor, revision=self.revision
        )
        if rev is None:  # a person changed it meanwhile: theirs stands, read next loop
            return
        self.revision = rev
        self._apply(t.new)
        self._alert(msg)
        if self.metrics is not None:
            self.metrics.observe_kill_switch(t.new, transition=t)

    def _alert(self, msg: str) -> None:
        try:
            self.s.dp.send_msg(msg, always_send=True)
        except Exception:
            logger.exception("exec_ext: could not queue the kill switch alert")

    def _apply(self, level: ks.Level) -> None:
        """What a level does to Freqtrade: pair locks and exit settings."""
        s = self.s
        if level >= ks.Level.FLATTEN:
            if self._exit_settings is None:
                self._exit_settings = (bool(s.use_exit_signal), bool(s.exit_profit_only))
            # custom_exit is consulted only with use_exit_signal; an exit signal must not
            # wait for profit while everything goes
            s.use_exit_signal, s.exit_profit_only = True, False
            until = datetime.now(UTC) + timedelta(days=365 * LOCK_YEARS)
            s.lock_pair(
                "*",
                until,
                f"{LOCK_REASON} {level.name}: run freqtrade-exec resume {self.c.strategy_id}",
            )
        elif self._exit_settings is not None:  # back from FLATTEN/HALTED (a person resumed)
            s.use_exit_signal, s.exit_profit_only = self._exit_settings
            self._exit_settings = None
            for name in ("FLATTEN", "HALTED"):
                s.unlock_reason(
                    f"{LOCK_REASON} {name}: run freqtrade-exec resume {self.c.strategy_id}"
                )

    # ------------------------------------------------------------------ observations
    def _observe(self, now: datetime) -> ks.Observations:
        from freqtrade.persistence import Trade

        capital = float(self.c.capital.initial_capital)
        realized = float(Trade.get_total_closed_profit())
        open_trades = list(Trade.get_open_trades())
        unrealised = sum(self._unrealised(t) for t in open_trades)
        errors = self.client.take_errors() if self.client is not None else 0
        self._take_orders()
        attempts = len(self.orders)
        return ks.Observations(
            equity=capital + realized + unrealised,
            capital=capital,
            open_trades=len(open_trades),
            consecutive_stoplosses=self._stoploss_streak(now),
            consecutive_over_budget=self.over_budget_streak,
            recent_attempts=attempts,
            recent_rejections=sum(1 for ok in self.orders if not ok),
            data_age_s=self._data_age(now),
            timeframe_s=float(self._timeframe_s()),
            exchange_errors=errors > 0,
        )

    def _unrealised(self, trade: Any) -> float:
        if not trade.amount:
            return 0.0
        try:
            rate = exchange_of(self.s.dp).get_rate(
                trade.pair, side="exit", is_short=trade.is_short, refresh=True
            )
            return float(trade.calc_profit(rate))
        except Exception:  # noqa: BLE001 - no rate: the worst the bot knows is its stop
            logger.warning("exec_ext: no rate for %s; valued at its stop", trade.pair)
            return float(trade.calc_profit(trade.stop_loss or trade.open_rate))

    def _stoploss_streak(self, now: datetime) -> int:
        from freqtrade_exec_ext.compat.persistence import closed_trades_since

        closed = sorted(
            closed_trades_since(now - STREAK_LOOKBACK),
            key=lambda t: _utc(t.close_date) or now,
            reverse=True,
        )
        n = 0
        for t in closed:
            if t.exit_reason not in STOP_EXITS:
                break
            n += 1
        return n

    def _timeframe_s(self) -> int:
        from freqtrade.exchange import timeframe_to_seconds

        return int(timeframe_to_seconds(self.s.timeframe))

    def _data_age(self, now: datetime) -> float | None:
        """Seconds since the newest candle of the stalest whitelisted pair closed."""
        tf = self._timeframe_s()
        worst = None
        for pair in self.s.dp.current_whitelist():
            df = self.s.dp.ohlcv(pair, self.s.timeframe)
            if df is None or len(df) == 0:
                continue
            opened = _utc(df["date"].iat[-1].to_pydatetime())
            if opened is None:
                continue
            age = (now - opened - timedelta(seconds=tf)).total_seconds()
            worst = age if worst is None else max(worst, age)
        return worst

    def _take_orders(self) -> None:
        if self.client is None:
            return
        total = self.client.orders_total
        new = min(total - self._orders_seen, len(self.client.order_results))
        self._orders_seen = total
        if new > 0:
            self.orders.extend(list(self.client.order_results)[-new:])

    def _feed_metrics(self, o: ks.Observations, now: datetime) -> None:
        m = self.metrics
        if m is None:
            return
        st = self.ks.state
        peak = st.peak_equity or o.equity
        m.observe_loop(
            now_s=now.timestamp(),
            equity=o.equity,
            drawdown=(peak - o.equity) / peak if peak > 0 else 0.0,
            daily_loss=((st.day_open_equity or o.equity) - o.equity) / o.capital,
            open_trades=o.open_trades,
            data_age_s=o.data_age_s,
            data_age_limit_s=o.timeframe_s + self.ks.thresholds.stale_data_s,
        )
        m.observe_kill_switch(self.ks.level)
        if self.client is not None:
            m.observe_client(self.client.counts)
        guard = getattr(getattr(self.s, "exec_ext_live_services", None), "guard", None)
        if guard is not None:
            m.observe_guard(guard.journal.counts())
        self._feed_funding()

    def _feed_funding(self) -> None:
        if not self.c.is_futures:
            return
        from freqtrade.persistence import Trade

        paid: dict[str, float] = {}
        for t in Trade.get_trades_proxy():
            paid[t.pair] = paid.get(t.pair, 0.0) - float(t.funding_fees or 0.0)
        for pair, value in paid.items():
            self.metrics.observe_funding(pair, value)

    # ------------------------------------------------------------------ callbacks
    def entry_refusal(self) -> str | None:
        if self.store is None:
            return "KS_STATE_UNKNOWN: the kill switch state could not be read"
        if self.failed:
            return f"KS_CHECK_FAILED: {self.failed}"
        if self.ks.allows_entries():
            return None
        st = self.ks.state
        return f"KS_{st.level.name}: kill switch {st.level.name} ({st.reason}: {st.detail})"

    def cancel_entries(self) -> bool:
        return self.store is None or not self.ks.allows_entries()

    def exit_reason(self) -> str | None:
        return FLATTEN_REASON if self.ks.wants_flat() else None

    def cancel_exits(self) -> bool:
        """FLATTEN: an exit still open after a loop is cancelled and placed again (through
        ``custom_exit``) at the book of the moment."""
        return self.ks.wants_flat()

    def flatten_price(self, pair: str, is_short: bool, proposed: float) -> float:
        """FLATTEN_CROSS_BPS through the far side of a fresh book, else Freqtrade's rate."""
        from freqtrade_exec_ext.compat.exchange import fetch_order_book
        from freqtrade_exec_ext.execution.orderbook import top_of_book

        cross = FLATTEN_CROSS_BPS / 10_000.0
        try:
            q = top_of_book(fetch_order_book(exchange_of(self.s.dp), pair, 5))
            far = float(q.best_ask if is_short else q.best_bid)
        except Exception:  # noqa: BLE001 - an exit is never held back
            logger.warning("exec_ext: no book for the flatten exit of %s", pair)
            far = proposed
        return far * (1 + cross) if is_short else far * (1 - cross)

    def on_fill(self, record: Any) -> None:
        self.over_budget_streak = self.over_budget_streak + 1 if record.over_budget else 0
        if self.metrics is not None:
            self.metrics.observe_fill(record)

    def on_rejection(self, reason: str, pair: str | None = None) -> None:
        """An entry refused (a reason code first); logged once per pair and reason."""
        if pair is not None and (pair, reason) not in self._said:
            self._said.add((pair, reason))
            logger.info("exec_ext: %s entry denied: %s", pair, reason)
        if self.metrics is not None:
            self.metrics.observe_rejection(reason)
