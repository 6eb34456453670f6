"""A real Freqtrade bot trading the local venue on a virtual clock (the execution benchmarks).

Shared by ``bench_execution_calibrated.py`` and ``bench_execution_ab.py`` (and the slow
calibration test).  Everything between the bot and the venue is real: a LIVE-mode
``FreqtradeBot`` (``dry_run: false``), Freqtrade's Binance class, ccxt signing with
throwaway keys over HTTP on 127.0.0.1, the venue's matching engine and book model.

The clock.  Freqtrade times candles on the wall clock; a replay of a day would take a day.
Here one :class:`VirtualClock` is the only time there is: the venue replays its candles on
it (``LocalExchange(clock=..., request_clock=...)``), and every ``datetime.now`` Freqtrade
and this package read, ccxt's request timestamps and Freqtrade's retry sleeps follow it
(the patches of ``tests/e2e/live_harness.py``).  It never moves by itself: the runner
advances it, 5 s per bot loop while an order is working (Freqtrade's default
``process_throttle_secs``), else straight to the next candle (to the next scheduled
signal when flat).  It starts at the replay start, so the venue's served time *is* the
data's time and a backtest of the same period sees the same candles at the same dates.
ccxt's own request throttle is off (it would sleep on the wall clock).
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import yaml

REPO = Path(__file__).resolve().parent.parent
DATADIR = REPO / "user_data" / "data" / "binance"
CANDLE_S = 300
POLL_S = 5.0
OPEN_OFFSET_S = 2.0  # the bot's first loop of a candle runs this long after it opens


# ---------------------------------------------------------------------------- the clock
class VirtualClock:
    """Milliseconds that move only when :meth:`advance` is called."""

    def __init__(self, start: datetime) -> None:
        self._ms = int(start.timestamp() * 1000)
        self.slept: list[float] = []

    def ms(self) -> int:
        return self._ms

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._ms / 1000, tz=UTC)

    def advance(self, seconds: float) -> None:
        self._ms += max(0, round(seconds * 1000))

    def advance_to(self, when: datetime) -> None:
        self._ms = max(self._ms, int(when.timestamp() * 1000))


@contextmanager
def virtual_time(clock: VirtualClock) -> Iterator[None]:
    """Every clock Freqtrade's bot loop, ccxt and this package read follows ``clock``."""
    import asyncio

    import freqtrade.freqtradebot  # noqa: F401 - load the bot's modules first
    from freqtrade.util.ft_ttlcache import FtTTLCache

    import freqtrade_exec_ext.mixin
    import freqtrade_exec_ext.order_guard  # noqa: F401

    class VMeta(type):
        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, datetime)

    class VDatetime(datetime, metaclass=VMeta):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
            return clock.now().astimezone(tz) if tz else clock.now().replace(tzinfo=None)

    def seconds() -> float:
        return clock.ms() / 1000

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        clock.slept.append(seconds)

    async def async_sleep(seconds: float) -> None:
        sleep(seconds)
        await asyncio.sleep(0)

    with ExitStack() as stack:
        for name, module in list(sys.modules.items()):
            if not name.startswith(("freqtrade.", "freqtrade_exec_ext.")) or module is None:
                continue
            if getattr(module, "datetime", None) is datetime:
                stack.enter_context(mock.patch(f"{name}.datetime", VDatetime))
        stack.enter_context(
            mock.patch("ccxt.base.exchange.Exchange.milliseconds", staticmethod(clock.ms))
        )
        # dt_ts() reads time.time(); Freqtrade's TTL caches (rates, tickers) take their
        # timer as a default argument
        stack.enter_context(mock.patch("freqtrade.util.datetime_helpers.time", seconds))
        stack.enter_context(
            mock.patch.object(FtTTLCache.__init__, "__defaults__", (seconds, None))
        )
        stack.enter_context(
            mock.patch("freqtrade.exchange.common.time", SimpleNamespace(sleep=sleep))
        )
        stack.enter_context(
            mock.patch("freqtrade.exchange.common.asyncio", SimpleNamespace(sleep=async_sleep))
        )
        stack.enter_context(
            mock.patch(
                "freqtrade_exec_ext.order_guard.time",
                SimpleNamespace(sleep=sleep, time=lambda: clock.ms() / 1000),
            )
        )
        stack.enter_context(
            mock.patch(
                "freqtrade_exec_ext.order_guard.asyncio", SimpleNamespace(sleep=async_sleep)
            )
        )
        yield


# ---------------------------------------------------------------------------- strategies
SCHEDULE_STRATEGY = '''
"""Signals on a fixed schedule (benchmark): enter every {period} candles, exit {hold} later."""
from freqtrade.strategy import IStrategy
from pandas import DataFrame
{mixin_import}

PHASE = {phases!r}


class {name}({base}):
    INTERFACE_VERSION = 3
    {strategy_id}
    timeframe = "5m"
    can_short = {can_short}
    startup_candle_count = 0
    process_only_new_candles = True
    use_exit_signal = True
    exit_profit_only = False
    ignore_roi_if_entry_signal = False
    minimal_roi = {{"0": 10.0}}
    stoploss = {stoploss}
    {extra}

    @property
    def protections(self):  # every arm trades the whole schedule
        return []

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def _k(self, dataframe: DataFrame, metadata: dict):
        idx = dataframe["date"].dt.as_unit("s").astype("int64") // {candle_s}
        return (idx + PHASE.get(metadata["pair"], 0)) % {period}, (idx // {period}) % 2

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        k, odd = self._k(dataframe, metadata)
        short = (odd == 1) if self.can_short else (odd < 0)
        dataframe.loc[(k == 0) & ~short, ["enter_long", "enter_tag"]] = (1, "sched")
        dataframe.loc[(k == 0) & short, ["enter_short", "enter_tag"]] = (1, "sched")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        k, _ = self._k(dataframe, metadata)
        dataframe.loc[k == {hold}, ["exit_long", "exit_short", "exit_tag"]] = (1, 1, "sched")
        return dataframe
'''


@dataclass(frozen=True)
class Schedule:
    """Which candles signal: entries every ``period`` candles (phase per pair), exits
    ``hold`` candles later; on a market that can short, every other entry is a short."""

    pairs: tuple[str, ...]
    period: int = 6
    hold: int = 3
    can_short: bool = False

    def phases(self) -> dict[str, int]:
        # every pair on the same candles: the bot has work on 2 candles of each period
        return {p: 0 for p in self.pairs}

    def act_times(self, start: datetime, end: datetime) -> list[datetime]:
        """Opens of the candles the bot acts on (after an entry or exit signal candle)."""
        t0 = int(start.timestamp()) // CANDLE_S
        t1 = int(end.timestamp()) // CANDLE_S
        out = []
        for idx in range(t0, t1):
            k = {(idx + ph) % self.period for ph in self.phases().values()}
            if 0 in k or self.hold in k:
                out.append(datetime.fromtimestamp((idx + 1) * CANDLE_S, tz=UTC))
        return out

    def entry_signals(self, start: datetime, end: datetime) -> list[tuple[str, datetime, str]]:
        """(pair, signal candle open, long|short) for every entry signal in [start, end)."""
        out = []
        phases = self.phases()
        t0 = int(start.timestamp()) // CANDLE_S
        t1 = int(end.timestamp()) // CANDLE_S
        for idx in range(t0, t1):
            for pair in self.pairs:
                if (idx + phases[pair]) % self.period == 0:
                    short = self.can_short and (idx // self.period) % 2 == 1
                    when = datetime.fromtimestamp(idx * CANDLE_S, tz=UTC)
                    out.append((pair, when, "short" if short else "long"))
        return out

    def strategy_source(
        self, name: str, *, mixin: bool, strategy_id: str = "", stoploss: float = -0.10,
        extra: str = "",
    ) -> str:
        return SCHEDULE_STRATEGY.format(
            name=name,
            base="ExecutionMixin" if mixin else "IStrategy",
            mixin_import="from freqtrade_exec_ext import ExecutionMixin" if mixin else "",
            strategy_id=f'strategy_id = "{strategy_id}"' if mixin else "",
            can_short=self.can_short,
            period=self.period,
            hold=self.hold,
            phases=self.phases(),
            candle_s=CANDLE_S,
            stoploss=stoploss,
            extra=extra,
        )


# ---------------------------------------------------------------------------- contracts
def contract_data(strategy_id: str, *, futures: bool, **sections: dict[str, Any]) -> dict:
    """A risk contract for the benchmark strategies (STR-001's orders and budgets)."""
    data: dict[str, Any] = {
        "schema_version": 1,
        "strategy_id": strategy_id,
        "market": {"exchange": "binance", "trading_mode": "futures" if futures else "spot",
                   "stake_currency": "USDT"},
        "capital": {"initial_capital": 1000, "max_open_trades": 4},
        "sizing": {"method": "fixed_stake", "fixed_stake": 200, "min_stake": 10,
                   "max_stake": 300},
        "stop_loss": {"stoploss": -0.10, "trailing": {"enabled": False}, "on_exchange": True,
                      "order_type": "stop_limit", "limit_ratio": 0.99},
        "slippage": {"max_entry_bps": 15, "max_exit_bps": 30, "max_spread_bps": 10,
                     "backtest_bps": 5},
        "orders": {"entry_type": "limit", "exit_type": "limit", "time_in_force": "GTC",
                   "entry_timeout_s": 240, "exit_timeout_s": 300, "max_reprices": 3,
                   "min_fill_ratio": 0.5, "max_retries": 2},
        "leverage": {"max": 1},
        "funding": {"max_rate_bps": 5},
        "limits": {"max_drawdown": 0.5, "daily_loss_limit": 0.5,
                   "max_consecutive_stoplosses": 100},
    }
    if futures:
        data["market"]["margin_mode"] = "isolated"
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return data


def write_contract(root: Path, data: dict[str, Any]) -> Path:
    path = root / ".crypto" / "knowledge" / "strategies" / data["strategy_id"]
    path.mkdir(parents=True, exist_ok=True)
    target = path / "risk-assessment.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


# ---------------------------------------------------------------------------- the run
@dataclass
class VenueRun:
    """One bot run against the venue; what the benchmarks read afterwards."""

    db_url: str
    db_path: Path
    start: datetime
    end: datetime
    loops: int
    process_s: float  # wall seconds inside the bot's loops
    fills: list[Any]  # the venue's own fills (localex.trading.Fill)
    orders: dict[str, Any]  # venue order id -> venue Order
    loop_errors: list[str] = field(default_factory=list)


def bot_config(
    tmp: Path, base_url: str, *, pairs: list[str], strategy: str, strategy_path: Path,
    futures: bool, extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from freqtrade_exec_ext.localex import freqtrade_exchange_config

    exchange = freqtrade_exchange_config(base_url)
    exchange["pair_whitelist"] = list(pairs)
    exchange["ccxt_config"]["enableRateLimit"] = False  # it sleeps on the wall clock
    exchange["ccxt_async_config"] = {"enableRateLimit": False}
    # Freqtrade downloads the last ohlcv_candle_limit candles at every new candle; the
    # schedule strategies need a handful (startup_candle_count 0)
    exchange["_ft_has_params"] = {"ohlcv_candle_limit": 60}
    cfg: dict[str, Any] = {
        "strategy": strategy,
        "strategy_path": str(strategy_path),
        "user_data_dir": str(tmp / "user_data"),
        "stake_currency": "USDT",
        "stake_amount": "unlimited",
        "dry_run": False,
        "timeframe": "5m",
        "exchange": exchange,
        "pairlists": [{"method": "StaticPairList"}],
        "entry_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "exit_pricing": {"price_side": "same", "use_order_book": True, "order_book_top": 1},
        "db_url": f"sqlite:///{tmp / 'tradesv3.sqlite'}",
        "initial_state": "running",
        "internals": {"process_throttle_secs": int(POLL_S)},
        "trading_mode": "futures" if futures else "spot",
        "margin_mode": "isolated" if futures else "",
    }
    if futures:
        # Binance futures tickers carry no price: Freqtrade prices from the book
        cfg["entry_pricing"]["use_order_book"] = True
    cfg.update(extra or {})
    (tmp / "user_data").mkdir(parents=True, exist_ok=True)
    return cfg


def _open_order_dates() -> tuple[int, list[datetime]]:
    """(open trades, placement times of their open entry/exit orders)."""
    from freqtrade.persistence import Trade

    trades = Trade.get_open_trades()
    dates = [o.order_date_utc for t in trades for o in t.open_orders]
    return len(trades), dates


class Waker:
    """When the bot must loop next.

    A live bot loops every ``POLL_S``; most of those loops change nothing.  The clock
    moves on the same ``POLL_S`` grid, but the bot only runs on a grid point where a loop
    could act: a new candle (``OPEN_OFFSET_S`` after its open), a fill or status change on
    the venue (the engine is stepped in-process to see it), or, while an order works, a
    multiple of ``due_step_s`` since its placement (the reprice steps and timeouts).
    While no order works, the clock jumps to the candle ``next_signal`` names (stop-losses
    rest on the venue, which fills them on its own).
    """

    def __init__(
        self, ex: Any, clock: VirtualClock, *, due_step_s: float,
        next_signal: Callable[[datetime], datetime | None] | None,
    ) -> None:
        self.ex, self.clock, self.due_step_s, self.next_signal = ex, clock, due_step_s, next_signal

    def _venue_state(self) -> tuple[int, tuple[tuple[int, str], ...]]:
        eng = self.ex.engine
        with eng.lock:
            eng.step()
            orders = tuple((k, str(o.status)) for k, o in eng.orders.items() if o.is_open)
            return len(eng.fills), orders

    def _candle_after(self, now: datetime) -> datetime:
        t = (int(now.timestamp()) // CANDLE_S + 1) * CANDLE_S
        return datetime.fromtimestamp(t, tz=UTC) + timedelta(seconds=OPEN_OFFSET_S)

    def _due(self, since: datetime, until: datetime, dates: list[datetime]) -> bool:
        step = self.due_step_s
        for d in dates:
            k_then = int((since - d).total_seconds() // step)
            k_now = int((until - d).total_seconds() // step)
            if k_now > k_then:
                return True
        return False

    def wake(self) -> None:
        """Advance the clock to the next loop that matters."""
        now = self.clock.now()
        _open_trades, dates = _open_order_dates()
        candle = self._candle_after(now)
        if not dates:
            if self.next_signal is not None:
                nxt = self.next_signal(now)
                if nxt is not None:
                    candle = max(candle, nxt + timedelta(seconds=OPEN_OFFSET_S))
            self.clock.advance_to(candle)
            return
        before = self._venue_state()
        t = now
        while True:
            t = t + timedelta(seconds=POLL_S)
            self.clock.advance_to(t)
            if t >= candle or self._due(now, t, dates) or self._venue_state() != before:
                return


def run_bot(
    tmp: Path,
    make_config: Callable[[str], dict[str, Any]],
    *,
    start: datetime,
    end: datetime,
    venue_kwargs: dict[str, Any] | None = None,
    next_signal: Callable[[datetime], datetime | None] | None = None,
    datadir: Path = DATADIR,
    debug: Callable[[datetime, Any], None] | None = None,
    due_step_s: float = 60.0,
) -> VenueRun:
    """Trade from ``start`` to ``end`` (data time) and return the run's facts.

    ``make_config(base_url)``: the bot's config for the venue at ``base_url``.

    ``next_signal(now)``: the open of the next candle after ``now`` on which the strategy
    can act (a signal candle's successor); with no order working the clock jumps there.
    """
    from freqtrade.configuration import Configuration
    from freqtrade.constants import RETRY_TIMEOUT
    from freqtrade.enums import RunMode
    from freqtrade.exceptions import TemporaryError
    from freqtrade.freqtradebot import FreqtradeBot
    from freqtrade.persistence.usedb_context import enable_database_use

    from freqtrade_exec_ext.localex.server import LocalExchange

    clock = VirtualClock(start)
    key, secret = secrets.token_hex(32), secrets.token_hex(32)
    kwargs: dict[str, Any] = {"spot_balances": {"USDT": 1000.0}, "futures_balance": 1000.0}
    kwargs.update(venue_kwargs or {})
    errors: list[str] = []
    loops = 0
    busy = 0.0
    with virtual_time(clock), LocalExchange(
        datadir, start_at=start, api_keys={key: secret}, clock=clock.ms,
        request_clock=clock.ms, **kwargs,
    ) as ex:
        cfg = make_config(ex.base_url)
        path = tmp / "config.json"
        path.write_text(json.dumps(cfg, indent=1))
        enable_database_use()
        config = Configuration({"config": [str(path)]}, RunMode.LIVE).get_config()
        config["exchange"]["key"], config["exchange"]["secret"] = key, secret  # memory only
        clock.advance(OPEN_OFFSET_S)
        waker = Waker(ex, clock, due_step_s=due_step_s, next_signal=next_signal)
        bot = FreqtradeBot(config)
        try:
            bot.startup()
            while clock.now() < end:
                t_loop = time.perf_counter()
                try:
                    bot.process()
                except TemporaryError as exc:
                    errors.append(str(exc))
                    clock.advance(RETRY_TIMEOUT)
                loops += 1
                busy += time.perf_counter() - t_loop
                if debug:
                    debug(clock.now(), bot)
                waker.wake()
        finally:
            bot.cleanup()
        fills = list(ex.engine.fills)
        orders = {str(k): v for k, v in ex.engine.orders.items()}
    db_path = tmp / "tradesv3.sqlite"
    return VenueRun(
        db_url=f"sqlite:///{db_path}", db_path=db_path, start=start, end=end, loops=loops,
        process_s=busy, fills=fills, orders=orders, loop_errors=errors,
    )


def quiet_logs() -> None:
    for name in ("freqtrade", "freqtrade_exec_ext", "uvicorn", "ccxt", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)


def next_after(acts: list[datetime]) -> Callable[[datetime], datetime | None]:
    """``next_signal`` for :func:`run_bot`: the next of ``acts`` (candle opens) after now."""
    acts = sorted(acts)

    def nxt(now: datetime) -> datetime | None:
        import bisect

        i = bisect.bisect_right(acts, now)
        return acts[i] if i < len(acts) else None

    return nxt


def scratch_dir() -> str | None:
    """A RAM disk for the bot's SQLite database when there is one (commits are cheap)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() else None
