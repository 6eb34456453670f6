"""A real ``FreqtradeBot`` in LIVE mode (``dry_run: false``) against the local exchange.

Everything between the bot and the venue is real: Freqtrade's Binance exchange class,
ccxt signing every private request with throwaway keys (HMAC-SHA256), HTTP on 127.0.0.1,
the venue's matching engine.  Only time is shared: a :class:`VirtualClock` drives both
the venue's replay and the clocks Freqtrade's bot loop reads, so a test can move the bot
and the market forward together (order timeouts, the next candle) without waiting.
The keys live in memory only (never in a file).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from support import FakeClock

from freqtrade_exec_ext.contract import load_contract
from freqtrade_exec_ext.execution.ledger import LEDGER_KEY_PREFIX, FillRecord
from freqtrade_exec_ext.localex import freqtrade_exchange_config
from freqtrade_exec_ext.localex.intracandle import LINEAR
from freqtrade_exec_ext.localex.server import LocalExchange

REPO = Path(__file__).resolve().parents[2]
DATADIR = REPO / "user_data" / "data" / "binance"
STRATEGY_PATH = REPO / "user_data" / "strategies"
CONTRACT = REPO / ".crypto" / "knowledge" / "strategies" / "STR-001" / "risk-assessment.yaml"
FIVE_MIN_MS = 300_000


# wall clock plus an offset that only moves forward (the suite's one fake clock)
VirtualClock = FakeClock


def _patch_time(mocker: Any, clock: VirtualClock) -> None:
    class VMeta(type):
        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, datetime)  # real datetimes still pass isinstance checks

    class VDatetime(datetime, metaclass=VMeta):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return clock.now().astimezone(tz) if tz else clock.now().replace(tzinfo=None)

    # every loaded Freqtrade module reads "now" from the virtual clock (datetime_helpers'
    # dt_now/dt_ts call datetime.now, so they follow); the mixin's decisions read the clock
    # injected as strategy.clock; the order guard and the adapters the patched datetime
    import freqtrade.freqtradebot  # noqa: F401 - load the bot's modules first

    import freqtrade_exec_ext.order_guard  # noqa: F401

    for name, module in list(sys.modules.items()):
        if not name.startswith(("freqtrade.", "freqtrade_exec_ext.")) or module is None:
            continue
        if getattr(module, "datetime", None) is datetime:
            mocker.patch(f"{name}.datetime", VDatetime)
    # ccxt signs with this clock; Freqtrade's retry back-off sleeps in it
    mocker.patch("ccxt.base.exchange.Exchange.milliseconds", staticmethod(clock.ms))

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        clock.slept.append(seconds)

    async def async_sleep(seconds: float) -> None:
        sleep(seconds)
        await asyncio.sleep(0)

    mocker.patch("freqtrade.exchange.common.time", SimpleNamespace(sleep=sleep))
    mocker.patch("freqtrade.exchange.common.asyncio", SimpleNamespace(sleep=async_sleep))
    # the mixin's order guard: Retry-After holds and lookups wait in the same clock
    mocker.patch(
        "freqtrade_exec_ext.order_guard.time",
        SimpleNamespace(sleep=sleep, time=lambda: clock.ms() / 1000),
    )
    mocker.patch("freqtrade_exec_ext.order_guard.asyncio", SimpleNamespace(sleep=async_sleep))


class LiveBot:
    def __init__(
        self,
        mocker: Any,
        tmp: Path,
        *,
        start_at: datetime,
        seconds_into_candle: float,
        pairs: list[str],
        venue_kwargs: dict[str, Any] | None = None,
        strategy: str = "STR001",
        strategy_path: Path = STRATEGY_PATH,
    ) -> None:
        self.tmp = tmp
        self.pairs = pairs
        self.strategy, self.strategy_path = strategy, strategy_path
        self.clock = VirtualClock()
        self.clock.align(seconds_into_candle)
        _patch_time(mocker, self.clock)
        self.contract = load_contract(CONTRACT)
        self._key, self._secret = secrets.token_hex(32), secrets.token_hex(32)
        kwargs: dict[str, Any] = {
            "spot_balances": {"USDT": float(self.contract.capital.initial_capital)},
            # the scenarios were written on the straight intra-candle path (the venue's
            # default is now the tape-calibrated bridge; venue_kwargs may choose it)
            "path_model": LINEAR,
        }
        kwargs.update(venue_kwargs or {})
        self.ex = LocalExchange(
            DATADIR,
            start_at=start_at,
            api_keys={self._key: self._secret},
            clock=self.clock.ms,
            request_clock=self.clock.ms,
            **kwargs,
        ).start()
        self.db = tmp / "tradesv3.sqlite"
        self.bot: Any = None
        self.loop_errors: list[str] = []

    # ---------------------------------------------------------------- bot
    def config_file(self) -> Path:
        exchange = freqtrade_exchange_config(self.ex.base_url)
        exchange["pair_whitelist"] = self.pairs
        cfg = {
            "strategy": self.strategy,
            "strategy_path": str(self.strategy_path),
            "user_data_dir": str(self.tmp / "user_data"),
            "stake_currency": self.contract.market.stake_currency,
            "stake_amount": "unlimited",
            "dry_run": False,
            "timeframe": "5m",
            "exchange": exchange,
            "pairlists": [{"method": "StaticPairList"}],
            "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
            "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
            "db_url": f"sqlite:///{self.db}",
            "initial_state": "running",
            "internals": {"process_throttle_secs": 1},
            "exec_ext": {"risk_contract": str(CONTRACT)},
        }
        (self.tmp / "user_data").mkdir(exist_ok=True)
        path = self.tmp / "config.json"
        path.write_text(json.dumps(cfg, indent=1))
        return path

    def start_bot(self) -> Any:
        from freqtrade.configuration import Configuration
        from freqtrade.enums import RunMode
        from freqtrade.freqtradebot import FreqtradeBot
        from freqtrade.persistence.usedb_context import enable_database_use

        enable_database_use()
        cfg = Configuration({"config": [str(self.config_file())]}, RunMode.LIVE).get_config()
        cfg["exchange"]["key"] = self._key  # memory only
        cfg["exchange"]["secret"] = self._secret
        self.bot = FreqtradeBot(cfg)
        self.bot.strategy.clock = self.clock.now  # the mixin's decisions read this clock
        self.bot.startup()
        return self.bot

    def step(self, n: int = 1, advance_s: float = 0.0) -> None:
        """``n`` bot loops, like Freqtrade's Worker: a TemporaryError is logged and the
        loop retried after RETRY_TIMEOUT (virtual) seconds."""
        from freqtrade.constants import RETRY_TIMEOUT
        from freqtrade.exceptions import TemporaryError

        for _ in range(n):
            if advance_s:
                self.clock.advance(advance_s)
            try:
                self.bot.process()
            except TemporaryError as exc:
                self.loop_errors.append(str(exc))
                self.clock.advance(RETRY_TIMEOUT)

    def run_until(self, done: Any, *, step_s: float, max_s: float) -> bool:
        """Step every ``step_s`` virtual seconds until ``done()`` (at most ``max_s``)."""
        waited = 0.0
        while not done():
            if waited >= max_s:
                return False
            self.step(advance_s=step_s)
            waited += step_s
        return True

    # ---------------------------------------------------------------- views
    def trades(self) -> list[Any]:
        from freqtrade.persistence import Trade

        return list(Trade.get_trades_proxy())

    def ledger(self) -> list[FillRecord]:
        out = []
        for trade in self.trades():
            for cd in trade.get_all_custom_data():
                if cd.cd_key.startswith(LEDGER_KEY_PREFIX):
                    out.append(FillRecord.from_dict(cd.value))
        return out

    def venue_fills(self) -> dict[str, dict[str, Any]]:
        """The venue's own fills per order: amount, VWAP, fee (in the quote currency, as
        the ledger records it: base-currency commissions at the fill price), maker/taker
        of the larger filled amount."""
        out: dict[str, dict[str, Any]] = {}
        for f in self.ex.engine.fills:
            rules = self.ex.venue.rules[f.market][f.symbol]
            row = out.setdefault(
                str(f.order_id),
                {
                    "qty": 0.0,
                    "quote": 0.0,
                    "fee": 0.0,
                    "fee_asset": rules.quote,
                    "maker_qty": 0.0,
                    "taker_qty": 0.0,
                    "commission_assets": set(),
                },
            )
            row["qty"] += f.qty
            row["quote"] += f.quote_qty
            fee = f.commission * f.price if f.commission_asset == rules.base else f.commission
            row["fee"] += fee
            row["commission_assets"].add(f.commission_asset)
            row["maker_qty" if f.is_maker else "taker_qty"] += f.qty
        for row in out.values():
            row["price"] = row["quote"] / row["qty"]
            row["liquidity"] = "maker" if row["maker_qty"] >= row["taker_qty"] else "taker"
        return out

    def venue_orders(self, symbol: str = "BTCUSDT") -> list[Any]:
        return [o for o in self.ex.engine.orders.values() if o.symbol == symbol]

    def db_order_ids(self) -> set[str]:
        return {o.order_id for t in self.trades() for o in t.orders}

    def journal(self) -> list[Any]:
        """The order journal rows (every placement the guard sent)."""
        return self.bot.strategy.exec_ext_live_services.guard.journal.all()

    def kill(self) -> None:
        """The bot process dies: nothing it held in memory is saved.

        No ``cleanup()`` (which commits); uncommitted database work is rolled back and the
        sessions dropped, as when the process is killed.  The venue keeps running.
        """
        from freqtrade.persistence import Trade
        from freqtrade.persistence.custom_data import _CustomData

        bot, self.bot = self.bot, None
        for session in (Trade.session, _CustomData.session):
            session.rollback()
            session.remove()
        try:
            bot.exchange.close()  # sockets only; no database work
        except Exception:
            logging.getLogger(__name__).exception("closing the killed bot's exchange")

    def stop(self) -> None:
        if self.bot is not None:
            try:
                self.bot.cleanup()
            except Exception:
                logging.getLogger(__name__).exception("bot cleanup")
            self.bot = None
        self.ex.stop()
