"""The shared request budget: the arithmetic, the store under concurrent writers (SQLite
WAL and PostgreSQL), and the hook on real ccxt clients against the local exchange."""

from __future__ import annotations

import threading
import time

import ccxt
import pytest

from freqtrade_exec_ext.compat.ccxt_budget import default_config, install_budget
from freqtrade_exec_ext.execution.budget import (
    BudgetConfig,
    Counts,
    FamilyLimit,
    decide,
    family_of,
    retry_after_s,
    used_weight,
)
from freqtrade_exec_ext.store.budget import BudgetStore, budget_engine

CFG = BudgetConfig(limits={"spot": FamilyLimit(100, 1000)}, headroom=0.1)


def test_usable_and_quota():
    assert CFG.usable("spot") == 90
    assert CFG.quota("spot", 3) == 30
    assert BudgetConfig(limits=CFG.limits, share=0.5).quota("spot", 6) == 45


@pytest.mark.parametrize(
    ("counts", "weight", "wait", "reason"),
    [
        (Counts(0, 0, 0, 0, 1), 20, 0.0, ""),
        (Counts(0, 80, 0, 0, 1), 10, 0.0, ""),  # exactly the usable 90
        (Counts(0, 85, 0, 0, 1), 10, 0.6, "window"),  # next window starts at 1000 ms
        (Counts(0, 40, 30, 0, 3), 1, 0.6, "quota"),  # 30 is this bot's third
        (Counts(0, 40, 0, 0, 3), 50, 0.0, ""),  # a bot's first request passes its quota
        (Counts(0, 0, 0, 2400, 1), 1, 2.0, "retry_after"),
    ],
)
def test_decide(counts, weight, wait, reason):
    g = decide(CFG, "spot", weight, counts, 400)
    assert (round(g.wait_s, 3), g.reason) == (wait, reason)


def test_requests_map_to_binance_families():
    assert family_of("http://h:1/api/v3/depth?symbol=BTCUSDT&limit=100") == (
        "spot", "depth", {"symbol": "BTCUSDT", "limit": "100"})
    assert family_of("https://fapi.binance.com/fapi/v1/klines?limit=499")[:2] == ("usdm", "klines")
    assert family_of("https://api.binance.com/sapi/v1/asset/tradeFee")[:2] == (
        "sapi", "asset/tradeFee")
    assert family_of("https://api.kraken.com/0/public/Ticker")[0] is None


def test_answers_the_budget_learns_from():
    assert retry_after_s(429, {"Retry-After": "7"}) == 7.0
    assert retry_after_s(418, {}) == 60.0
    assert retry_after_s(200, {"Retry-After": "7"}) is None
    assert used_weight({"X-MBX-USED-WEIGHT-1M": "123", "x-mbx-used-weight": "9"}, 60_000) == 123
    assert used_weight({"Content-Type": "json"}, 60_000) is None


def _hammer(url: str, bots: int, per_bot: int, weight: int, t0_ms: int) -> list[list[int]]:
    """Each bot (its own engine, as its own process would have) reserves as fast as it
    can; returns, per window, the weight sent in it (by the time the grant came back, as
    the exchange would count it; the headroom covers grants at a window's very end)."""
    cfg = BudgetConfig(limits={"spot": FamilyLimit(50, 400)}, headroom=0.2)
    granted: dict[int, int] = {}
    lock = threading.Lock()

    def bot(i: int) -> None:
        store = BudgetStore(budget_engine(url), cfg)
        sent = 0
        while sent < per_bot:
            now = int(time.time() * 1000)
            g = store.reserve("binance", "spot", f"bot{i}", weight, now)
            if g.ok:
                sent_at = int(time.time() * 1000) // 400
                with lock:
                    granted[sent_at] = granted.get(sent_at, 0) + weight
                sent += 1
            else:
                time.sleep(g.wait_s)
        store.engine.dispose()

    threads = [threading.Thread(target=bot, args=(i,)) for i in range(bots)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return [[w] for _, w in sorted(granted.items())]


def test_sqlite_wal_store_never_grants_past_the_limit(tmp_path):
    url = f"sqlite:///{tmp_path / 'budget.sqlite'}"
    windows = _hammer(url, bots=4, per_bot=30, weight=2, t0_ms=0)
    assert sum(w for (w,) in windows) == 4 * 30 * 2
    assert max(w for (w,) in windows) <= 50
    with budget_engine(url).connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@pytest.mark.postgres
def test_postgres_store_never_grants_past_the_limit(pg_url):
    windows = _hammer(pg_url, bots=4, per_bot=30, weight=2, t0_ms=0)
    assert sum(w for (w,) in windows) == 240
    assert max(w for (w,) in windows) <= 50


def test_retry_after_seen_by_one_bot_holds_every_bot(tmp_path):
    store = BudgetStore(budget_engine(f"sqlite:///{tmp_path / 'b.sqlite'}"), CFG)
    assert store.reserve("binance", "spot", "a", 1, 10_000).ok
    store.observe("binance", "spot", "a", 10_050, retry_after_s=3)
    g = store.reserve("binance", "spot", "b", 1, 10_100)
    assert (g.reason, g.wait_s) == ("retry_after", 2.95)
    assert store.reserve("binance", "spot", "b", 1, 13_100).ok
    store.observe("binance", "spot", "b", 13_200, reported_used=95)  # other traffic
    assert store.reserve("binance", "spot", "a", 1, 13_300).reason == "window"
    stats = {s.bot_id: s for s in store.bot_stats()}
    assert stats["a"].throttled == 1 and stats["b"].requests == 1


class _Ex:
    """Freqtrade's Exchange as the hook sees it: the two ccxt clients."""

    def __init__(self, api, aapi=None):
        self._api, self._api_async = api, aapi


@pytest.mark.slow
def test_hook_keeps_three_clients_under_the_venue_limit(tmp_path, repo_root):
    from freqtrade_exec_ext.localex import ccxt_urls
    from freqtrade_exec_ext.localex.ratelimit import RateLimitConfig
    from freqtrade_exec_ext.localex.server import LocalExchange

    datadir = repo_root / "user_data" / "data" / "binance"
    limits = RateLimitConfig(scale=20.0, weight_limit=60)  # 60 weight per 3 s window
    with LocalExchange(datadir, rate_limits=limits) as ex:
        def client():
            return ccxt.binance({**ccxt_urls(ex.base_url), "enableRateLimit": False})

        def run(shared: bool) -> tuple[int, list]:
            ex.limiter.reset()
            url = f"sqlite:///{tmp_path / ('on' if shared else 'off')}.sqlite"
            raw = {"limits": {"spot": {"limit": 60, "window_s": 3}}, "headroom": 0.15}
            hooks, errors = [], []

            def bot(i: int) -> None:
                api = client()
                store = BudgetStore(budget_engine(url), default_config("binance", 50, raw))
                hooks.append(install_budget(_Ex(api), store if shared else None, f"b{i}"))
                for n in range(13):  # exchangeInfo (weight 20), then depth limit=100 (5)
                    try:
                        if n == 0:
                            api.load_markets()
                        else:
                            api.fetch_order_book("BTC/USDT", 100)
                    except ccxt.BaseError as exc:
                        errors.append(type(exc).__name__)

            threads = [threading.Thread(target=bot, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=240)
            return ex.limiter.status_counts().get(429, 0), errors

        throttled_plain, _ = run(False)
        throttled_shared, errors = run(True)
    assert throttled_plain > 0  # 3 x 12 x 5 = 180 weight in well under 9 s: over the limit
    assert (throttled_shared, errors) == (0, [])
