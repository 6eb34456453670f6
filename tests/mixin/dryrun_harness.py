"""A real ``FreqtradeBot`` in dry-run with a scripted market at the network edge.

Markets come from the local exchange; candles, the L2 book and the ticker are scripted by
patching only ``Exchange.refresh_latest_ohlcv``, ``fetch_l2_order_book`` and
``fetch_ticker`` (and ``cancel_order`` keeps partial fills, as real exchanges do; the
dry-run simulator would zero them).  Time moves with :meth:`Harness.advance`, which shifts
the clock Freqtrade's bot loop hands to the strategy callbacks.
"""

from __future__ import annotations

import json
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from support import FakeClock

PAIR = "BTC/USDT"


def book(bid: float, ask: float, size: float = 50.0, levels: int = 10, tick: float = 0.01) -> dict:
    return {
        "bids": [[round(bid - i * tick, 2), size] for i in range(levels)],
        "asks": [[round(ask + i * tick, 2), size] for i in range(levels)],
    }


# the wall clock plus an offset (the suite's one fake clock)
CLOCK = FakeClock()


class FakeDatetime(datetime):
    """``datetime`` whose ``now()`` runs ``CLOCK``'s offset ahead of the wall clock."""

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return datetime.now(tz) + timedelta(milliseconds=CLOCK.offset_ms)


class Harness:
    def __init__(
        self,
        mocker: Any,
        tmp: Path,
        config: dict[str, Any],
        strategy_path: Path,
        strategy: str = "XMAlwaysEnter",
    ) -> None:
        self.strategy = strategy
        self.funding_rate = 0.0001
        self.tmp = tmp
        self.config = config
        self.strategy_path = strategy_path
        self.book = book(99.99, 100.01)
        self.close = 100.0
        CLOCK.offset_ms = 0
        self.sent: list[str] = []
        exms = "freqtrade.exchange.exchange.Exchange"
        harness = self

        def l2(ex: Any, pair: str, limit: int = 100) -> dict:
            out = deepcopy(harness.book)
            out.update({"symbol": pair, "timestamp": None, "datetime": None, "nonce": None})
            return out

        def ticker(ex: Any, pair: str) -> dict:
            bid, ask = harness.book["bids"][0][0], harness.book["asks"][0][0]
            return {"symbol": pair, "bid": bid, "ask": ask, "last": (bid + ask) / 2}

        def refresh(ex: Any, pair_list: Any, **kwargs: Any) -> dict:
            out = {}
            for key in pair_list:
                df = harness.candles()
                ex._klines[tuple(key)] = df
                out[tuple(key)] = df
            return out

        def cancel(ex: Any, order_id: str, pair: str, params: Any = None) -> dict:
            order = ex.fetch_dry_run_order(order_id)
            filled = order.get("filled") or 0.0
            if order["status"] == "open":
                order.update({"status": "canceled", "remaining": order["amount"] - filled})
            return order

        mocker.patch(f"{exms}.fetch_l2_order_book", l2)
        mocker.patch(f"{exms}.fetch_ticker", ticker)
        mocker.patch(f"{exms}.refresh_latest_ohlcv", refresh)
        mocker.patch(f"{exms}.cancel_order", cancel)
        mocker.patch(
            f"{exms}.fetch_funding_rate",
            lambda ex, pair: {"symbol": pair, "fundingRate": harness.funding_rate},
        )
        mocker.patch("freqtrade.freqtradebot.datetime", FakeDatetime)
        # dry-run orders are stamped with the same (shifted) clock
        mocker.patch("freqtrade.exchange.exchange.dt_now", lambda: FakeDatetime.now(UTC))
        self.bot = self.make_bot()

    def candles(self, n: int = 60) -> pd.DataFrame:
        now = CLOCK.now()
        last = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 5)
        dates = pd.date_range(end=last, periods=n, freq="5min", tz="UTC")
        c = self.close
        return pd.DataFrame(
            {"date": dates, "open": c, "high": c * 1.0005, "low": c * 0.9995, "close": c,
             "volume": 10.0}
        )

    def make_bot(self) -> Any:
        from freqtrade.configuration import Configuration
        from freqtrade.enums import RunMode
        from freqtrade.freqtradebot import FreqtradeBot
        from freqtrade.persistence.usedb_context import enable_database_use

        enable_database_use()

        path = self.tmp / "config.json"
        path.write_text(json.dumps(self.config))
        args = {
            "config": [str(path)],
            "strategy": self.strategy,
            "strategy_path": str(self.strategy_path),
            "db_url": f"sqlite:///{self.tmp / 'trades.dryrun.sqlite'}",
        }
        cfg = Configuration(args, RunMode.DRY_RUN).get_config()
        bot = FreqtradeBot(cfg)
        real_process = bot.rpc.process_msg_queue

        def process_msg_queue(queue: Any) -> None:
            # what Freqtrade hands to webhook/Telegram/Discord (when those are enabled)
            self.sent.extend(str(m) for m in queue)
            real_process(queue)

        bot.rpc.process_msg_queue = process_msg_queue  # type: ignore[method-assign]
        return bot

    def restart(self) -> Any:
        self.bot.cleanup()
        self.bot = self.make_bot()
        return self.bot

    def advance(self, seconds: float) -> None:
        CLOCK.offset_ms = int(seconds * 1000)

    def align(self, seconds_into_candle: float, candle_s: int = 300) -> float:
        """Move the clock to ``seconds_into_candle`` after the next candle start; return the
        offset to add to later ``advance`` calls."""
        now = datetime.now(UTC).timestamp()
        base = (candle_s - now % candle_s) + seconds_into_candle
        CLOCK.offset_ms = int(base * 1000)
        return base

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.bot.process()

    def strategy_messages(self) -> list[str]:
        return list(self.sent)

    def dry_orders(self) -> dict[str, dict]:
        return self.bot.exchange._dry_run_open_orders

    def close_bot(self) -> None:
        self.bot.cleanup()
        CLOCK.offset_ms = 0
