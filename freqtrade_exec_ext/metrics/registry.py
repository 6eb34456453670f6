"""The metric definitions and the observer the bot feeds (no I/O, no clocks)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

P = "exec_ext_"
#: slippage buckets (bps, positive = cost): price improvement to a bad miss
SLIPPAGE_BUCKETS_BPS = (
    -50.0,
    -20.0,
    -10.0,
    -5.0,
    -2.0,
    0.0,
    2.0,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    50.0,
    100.0,
    200.0,
)

# name -> (kind, help, labels); the one list of every metric this package exposes
METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    f"{P}bot_info": ("gauge", "Always 1; labels name the bot.", ("strategy_id", "bot")),
    f"{P}fills": ("counter", "Filled orders.", ("pair", "side", "intent", "liquidity")),
    f"{P}fill_notional_quote": (
        "counter",
        "Filled notional (stake currency).",
        ("pair", "side", "liquidity"),
    ),
    f"{P}slippage_bps": (
        "histogram",
        "Fill vs decision price, bps; positive = cost.",
        ("pair", "side"),
    ),
    f"{P}shortfall_quote": (
        "gauge",
        (
            "Implementation shortfall since start: slippage cost plus fees "
            "(stake currency; negative = gain)."
        ),
        ("pair", "side"),
    ),
    f"{P}fills_over_budget": (
        "counter",
        "Fills whose slippage exceeded the contract's budget.",
        ("pair", "intent"),
    ),
    f"{P}maker_share": (
        "gauge",
        "Share of the filled notional made as maker (0..1) since start.",
        (),
    ),
    f"{P}rejections": (
        "counter",
        "Entries refused or orders rejected, by reason code.",
        ("reason",),
    ),
    f"{P}reprices": ("counter", "Orders repriced on the ladder.", ("pair", "intent")),
    f"{P}order_guard_orders": (
        "gauge",
        "Order journal rows by status (live trading).",
        ("status",),
    ),
    f"{P}request_weight": ("counter", "Request weight this bot sent, by API family.", ("family",)),
    f"{P}requests": ("counter", "HTTP answers by status.", ("status",)),
    f"{P}rate_limit_holds": ("counter", "Requests held back by the shared budget.", ()),
    f"{P}rate_limit_hold_seconds": ("counter", "Time requests were held back.", ()),
    f"{P}rate_limit_refused": (
        "counter",
        "Requests not sent: the budget had no room within the hold limit.",
        (),
    ),
    f"{P}rate_limited": ("counter", "429/418 answers from the exchange.", ("status",)),
    f"{P}budget_store_errors": (
        "counter",
        "Shared budget store failures (requests went out unbudgeted).",
        (),
    ),
    f"{P}kill_switch_level": (
        "gauge",
        "Kill switch: 0 NORMAL, 1 REDUCING, 2 FLATTEN, 3 HALTED.",
        (),
    ),
    f"{P}kill_switch_transitions": ("counter", "Kill switch transitions.", ("to", "reason")),
    f"{P}equity_quote": ("gauge", "Capital + realized + unrealised profit (stake currency).", ()),
    f"{P}drawdown_ratio": ("gauge", "Drawdown from peak equity (0..1).", ()),
    f"{P}daily_loss_ratio": ("gauge", "The day's loss as a share of capital.", ()),
    f"{P}open_trades": ("gauge", "Open trades.", ()),
    f"{P}data_age_seconds": ("gauge", "Seconds since the newest candle closed (oldest pair).", ()),
    f"{P}data_age_limit_seconds": (
        "gauge",
        "Data age the kill switch tolerates: timeframe + limits.stale_data_s.",
        (),
    ),
    f"{P}funding_paid_quote": (
        "gauge",
        ("Funding paid by closed and open trades (stake currency; negative = received)."),
        ("pair",),
    ),
    f"{P}last_loop_timestamp_seconds": ("gauge", "Unix time of the last bot loop.", ()),
}
_KIND = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}


def _fee_in_quote(record: Any) -> float:
    """A fill's fee in the stake currency (a base-currency fee at the fill price)."""
    fee = float(record.fee_cost or 0.0)
    base, _, rest = str(record.pair).partition("/")
    quote = rest.split(":")[0]
    ccy = record.fee_currency or quote
    if ccy == quote:
        return fee
    if ccy == base:
        return fee * float(record.fill_price)
    return 0.0  # another asset (e.g. BNB): no price here


class Metrics:
    """One bot's metrics.  ``observe_*`` methods are cheap and never raise on odd input."""

    def __init__(self, strategy_id: str, bot: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.m: dict[str, Any] = {}
        for name, (kind, doc, labels) in METRICS.items():
            extra = {"buckets": SLIPPAGE_BUCKETS_BPS} if kind == "histogram" else {}
            # prometheus_client adds _total to counters itself
            self.m[name] = _KIND[kind](name, doc, labels, registry=self.registry, **extra)
        self.m[f"{P}bot_info"].labels(strategy_id, bot).set(1)
        self._notional = {"maker": 0.0, "all": 0.0}
        self._seen: dict[str, float] = {}  # counters fed from running totals
        self._lock = threading.Lock()

    def _c(self, name: str, *labels: str) -> Any:
        metric = self.m[f"{P}{name}"]
        return metric.labels(*labels) if labels else metric

    # ------------------------------------------------------------------ fills
    def observe_fill(self, record: Any) -> None:
        """One execution-ledger record (``execution.ledger.FillRecord``)."""
        pair, side, intent = record.pair, record.side, record.intent
        liq = record.liquidity or "unknown"
        notional = float(record.notional or 0.0)
        self._c("fills", pair, side, intent, liq).inc()
        self._c("fill_notional_quote", pair, side, liq).inc(notional)
        slip = record.slippage_decision_bps
        cost = _fee_in_quote(record)
        if slip is not None:
            self._c("slippage_bps", pair, side).observe(float(slip))
            cost += float(slip) * notional / 10_000.0
        self._c("shortfall_quote", pair, side).inc(cost)
        if record.over_budget:
            self._c("fills_over_budget", pair, intent).inc()
        if record.reprice_count:
            self._c("reprices", pair, intent).inc(int(record.reprice_count))
        with self._lock:
            self._notional["all"] += notional
            if record.liquidity == "maker":
                self._notional["maker"] += notional
            share = self._notional["maker"] / self._notional["all"] if self._notional["all"] else 0
        self._c("maker_share").set(share)

    def observe_rejection(self, reason: str) -> None:
        self._c("rejections", reason.split(":", 1)[0].strip() or "UNKNOWN").inc()

    def observe_funding(self, pair: str, paid: float) -> None:
        """Funding paid by a pair's trades so far (positive = paid)."""
        self._c("funding_paid_quote", pair).set(paid)

    # ------------------------------------------------------------------ running totals
    def _total(self, key: str, metric: Any, value: float) -> None:
        """Advance a counter to a running total kept elsewhere (the budget hook)."""
        with self._lock:
            delta = value - self._seen.get(key, 0.0)
            self._seen[key] = value
        if delta > 0:
            metric.inc(delta)

    def observe_client(self, counts: Any) -> None:
        """The request budget hook's counts (:class:`compat.ccxt_budget.ClientCounts`)."""
        for family, weight in dict(counts.weight).items():
            self._total(f"w:{family}", self._c("request_weight", family), weight)
        for status, n in dict(counts.statuses).items():
            self._total(f"s:{status}", self._c("requests", str(status)), n)
            if status in (418, 429):
                self._total(f"r:{status}", self._c("rate_limited", str(status)), n)
        self._total("holds", self._c("rate_limit_holds"), counts.holds)
        self._total("hold_s", self._c("rate_limit_hold_seconds"), counts.hold_s)
        self._total("refused", self._c("rate_limit_refused"), counts.refused)
        self._total("store_errors", self._c("budget_store_errors"), counts.store_errors)

    def observe_guard(self, counts: Mapping[str, int]) -> None:
        for status, n in counts.items():
            self._c("order_guard_orders", status).set(n)

    # ------------------------------------------------------------------ kill switch
    def observe_kill_switch(self, level: int, *, transition: Any = None) -> None:
        self._c("kill_switch_level").set(int(level))
        if transition is not None:
            self._c("kill_switch_transitions", transition.new.name, transition.reason).inc()

    def observe_loop(
        self,
        *,
        now_s: float,
        equity: float | None = None,
        drawdown: float | None = None,
        daily_loss: float | None = None,
        open_trades: int | None = None,
        data_age_s: float | None = None,
        data_age_limit_s: float | None = None,
    ) -> None:
        self._c("last_loop_timestamp_seconds").set(now_s)
        for name, value in (
            ("equity_quote", equity),
            ("drawdown_ratio", drawdown),
            ("daily_loss_ratio", daily_loss),
            ("open_trades", open_trades),
            ("data_age_seconds", data_age_s),
            ("data_age_limit_seconds", data_age_limit_s),
        ):
            if value is not None:
                self._c(name).set(value)

    # ------------------------------------------------------------------ exposition
    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type, for ``/metrics``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
