"""The venue: Binance-shaped answers built from the replay and the book model.

No HTTP here: :class:`MarketVenue` takes plain arguments and returns the JSON-ready
structures Binance returns, or raises :class:`VenueError` carrying Binance's error code.
The HTTP layer (``server.py``) only parses requests and serialises.  Trading state
(orders, balances, positions, funding) will live beside this class and use its prices.

Markets: ``spot`` (``/api/v3``), ``usdm`` (USDT-M futures, ``/fapi``) and ``coinm``
(``/dapi``, always empty).  A symbol is listed when the bundled Binance exchangeInfo has it
and the datadir has candles for it; a USDT-M perpetual without futures candles replays the
spot candles of the same pair (flagged in the log; good enough for dry runs).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from freqtrade_exec_ext.localex import book as bookmod
from freqtrade_exec_ext.localex import replay, replay_clock
from freqtrade_exec_ext.localex.errors import VenueError, invalid_symbol, missing_param
from freqtrade_exec_ext.localex.intracandle import PathModel, default_model

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
EXCHANGE_INFO_FILES = {"spot": "spot-exchange-info.json", "usdm": "usdm-exchange-info.json"}
KLINE_LIMIT_MAX = {"spot": 1000, "usdm": 1500}
DEPTH_LIMIT_MAX = 5000


@dataclass(frozen=True)
class SymbolRules:
    symbol: str
    base: str
    quote: str
    tick: float
    step: float


def _rules(sym: dict[str, Any]) -> SymbolRules:
    filters = {f["filterType"]: f for f in sym.get("filters", [])}
    return SymbolRules(
        symbol=sym["symbol"],
        base=sym["baseAsset"],
        quote=sym["quoteAsset"],
        tick=float(filters["PRICE_FILTER"]["tickSize"]),
        step=float(filters["LOT_SIZE"]["stepSize"]),
    )


def _fmt(x: float) -> str:
    return f"{x:.8f}"


def _wall_ms() -> int:
    return int(time.time() * 1000)


class MarketVenue:
    """Market data for every listed symbol at the current replay time."""

    def __init__(
        self,
        datadir: Path,
        *,
        speed: float = 1.0,
        start_at: datetime | None = None,
        now_ms: Callable[[], int] = _wall_ms,
        path_model: PathModel | None = None,
    ) -> None:
        self.datadir = Path(datadir)
        #: the price path inside a candle (default: the tape-calibrated bridge)
        self.path_model = path_model if path_model is not None else default_model()
        self._now_ms = now_ms
        self._info: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, SymbolRules]] = {}
        self.series: dict[str, dict[str, replay.CandleSeries]] = {}
        self._filters: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        self.served_rate_limits: dict[str, list[dict[str, Any]]] = {}
        spot_files, fut_files = replay.find_candle_files(self.datadir)
        for market, fname in EXCHANGE_INFO_FILES.items():
            info = json.loads((DATA_DIR / fname).read_text())
            listed, rules, series = [], {}, {}
            for sym in info["symbols"]:
                name = sym["symbol"]
                r = _rules(sym)
                path = (fut_files.get(name) if market == "usdm" else None) or spot_files.get(name)
                if path is None:
                    continue
                derived = market == "usdm" and name not in fut_files
                if derived:
                    logger.info("localex: %s perpetual replays the spot candles %s", name, path)
                listed.append(sym)
                rules[name] = r
                series[name] = replay.load_series(path, name, r.tick, derived, self.path_model)
            info["symbols"] = listed
            self._filters[market] = {
                sym["symbol"]: {f["filterType"]: f for f in sym.get("filters", [])}
                for sym in listed
            }
            self._info[market] = info
            self.rules[market] = rules
            self.series[market] = series
        all_series = [s for m in self.series.values() for s in m.values()]
        if not all_series:
            raise replay_clock.ReplayError(
                f"datadir {self.datadir}: no candle files (<BASE>_<QUOTE>-<tf>.feather) for "
                "any symbol of the bundled Binance exchangeInfo"
            )
        self.clock = replay_clock.make_clock(all_series, now_ms(), speed=speed, start_at=start_at)

    # ------------------------------------------------------------ helpers

    def wall_ms(self) -> int:
        return self._now_ms()

    def server_time(self) -> int:
        return self.clock.served_now(self._now_ms())

    def data_time(self) -> int:
        return self.clock.data_now(self._now_ms())

    def symbols(self, market: str) -> list[str]:
        return sorted(self.series.get(market, {}))

    def _series(self, market: str, symbol: str | None) -> replay.CandleSeries:
        if not symbol:
            raise missing_param("symbol")
        try:
            return self.series[market][symbol]
        except KeyError:
            raise invalid_symbol() from None

    def _select(self, market: str, symbol: str | None, symbols: list[str] | None) -> list[str]:
        if symbol:
            self._series(market, symbol)
            return [symbol]
        if symbols:
            for s in symbols:
                self._series(market, s)
            return list(symbols)
        return self.symbols(market)

    # ------------------------------------------------------------ endpoints

    def exchange_info(self, market: str) -> dict[str, Any]:
        now = self.server_time()
        if market not in self._info:  # coin-M and anything else: Binance with no symbols
            return {
                "timezone": "UTC",
                "serverTime": now,
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": [],
            }
        info = copy.deepcopy(self._info[market])
        info["serverTime"] = now
        if market in self.served_rate_limits:
            info["rateLimits"] = copy.deepcopy(self.served_rate_limits[market])
        return info

    def klines(
        self,
        market: str,
        symbol: str | None,
        interval: str | None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int | None = None,
    ) -> list[list[Any]]:
        series = self._series(market, symbol)
        if not interval:
            raise missing_param("interval")
        lim = min(max(limit or 500, 1), KLINE_LIMIT_MAX.get(market, 1000))
        try:
            rows = replay.klines(
                series, interval, self.clock, self._now_ms(), start_time, end_time, lim
            )
        except replay_clock.ReplayError as exc:
            raise VenueError(-1120, str(exc)) from None
        return [k.binance_row() for k in rows]

    def filters(self, market: str, symbol: str) -> dict[str, dict[str, Any]]:
        """The exchangeInfo filters of a listed symbol, by filterType."""
        return self._filters[market][symbol]

    def book(self, market: str, symbol: str | None, depth: int = 20) -> bookmod.Book:
        return self._book(market, symbol, depth, self._now_ms())

    def book_at(self, market: str, symbol: str, depth: int, served_ms: int) -> bookmod.Book:
        """The book as served at ``served_ms`` (matching uses the book of a fill's time)."""
        c = self.clock
        wall = int(c.start_wall_ms + (served_ms - c.start_wall_ms) / c.speed)
        return self._book(market, symbol, depth, wall)

    def _book(self, market: str, symbol: str | None, depth: int, wall: int) -> bookmod.Book:
        series = self._series(market, symbol)
        rules = self.rules[market][series.symbol]
        params = bookmod.load_params(market)
        second = self.clock.served_now(wall) // 1000
        return bookmod.build_book(
            mid=replay.current_price(series, self.clock.data_now(wall)),
            tick=rules.tick,
            step=rules.step,
            quote_volume_5m=replay.recent_quote_volume_5m(series, self.clock, wall),
            params=params,
            depth=depth,
            seed=bookmod.book_seed(market, series.symbol, second),
        )

    def depth(self, market: str, symbol: str | None, limit: int | None = None) -> dict[str, Any]:
        default = 100 if market == "spot" else 500
        n = min(max(limit or default, 1), DEPTH_LIMIT_MAX)
        b = self.book(market, symbol, n)
        now = self.server_time()
        out: dict[str, Any] = {"lastUpdateId": now}
        if market != "spot":
            out.update({"E": now, "T": now})
        out["bids"] = [[_fmt(p), _fmt(a)] for p, a in b.bids]
        out["asks"] = [[_fmt(p), _fmt(a)] for p, a in b.asks]
        return out

    def ticker_24hr(
        self, market: str, symbol: str | None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        rows = [self._ticker_one(market, s) for s in self._select(market, symbol, symbols)]
        return rows[0] if symbol else rows

    def _ticker_one(self, market: str, symbol: str) -> dict[str, Any]:
        series = self._series(market, symbol)
        st = replay.stats_24h(series, self.clock, self._now_ms())
        change = st.last - st.open
        out: dict[str, Any] = {
            "symbol": symbol,
            "priceChange": _fmt(change),
            "priceChangePercent": f"{(change / st.open * 100 if st.open else 0.0):.3f}",
            "weightedAvgPrice": _fmt(st.quote_volume / st.volume if st.volume else st.last),
        }
        if market == "spot":
            b = self.book(market, symbol, 1)
            out.update(
                {
                    "prevClosePrice": _fmt(st.open),
                    "lastPrice": _fmt(st.last),
                    "lastQty": _fmt(0.0),
                    "bidPrice": _fmt(b.bids[0][0]),
                    "bidQty": _fmt(b.bids[0][1]),
                    "askPrice": _fmt(b.asks[0][0]),
                    "askQty": _fmt(b.asks[0][1]),
                }
            )
        else:
            out.update({"lastPrice": _fmt(st.last), "lastQty": _fmt(0.0)})
        out.update(
            {
                "openPrice": _fmt(st.open),
                "highPrice": _fmt(st.high),
                "lowPrice": _fmt(st.low),
                "volume": _fmt(st.volume),
                "quoteVolume": _fmt(st.quote_volume),
                "openTime": st.open_time,
                "closeTime": st.close_time,
                "firstId": 0,
                "lastId": 0,
                "count": 0,
            }
        )
        return out

    def book_ticker(
        self, market: str, symbol: str | None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        rows = []
        now = self.server_time()
        for s in self._select(market, symbol, symbols):
            b = self.book(market, s, 1)
            row: dict[str, Any] = {
                "symbol": s,
                "bidPrice": _fmt(b.bids[0][0]),
                "bidQty": _fmt(b.bids[0][1]),
                "askPrice": _fmt(b.asks[0][0]),
                "askQty": _fmt(b.asks[0][1]),
            }
            if market != "spot":
                row.update({"time": now, "lastUpdateId": now})
            rows.append(row)
        return rows[0] if symbol else rows

    def price_ticker(
        self, market: str, symbol: str | None, symbols: list[str] | None = None
    ) -> dict[str, Any] | list[dict[str, Any]]:
        rows = []
        wall = self._now_ms()
        for s in self._select(market, symbol, symbols):
            price = replay.current_price(self.series[market][s], self.clock.data_now(wall))
            row: dict[str, Any] = {"symbol": s, "price": _fmt(price)}
            if market != "spot":
                row["time"] = self.clock.served_now(wall)
            rows.append(row)
        return rows[0] if symbol else rows
