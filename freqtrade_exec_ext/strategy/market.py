"""What the strategy reads of the market at decision time, failing closed.

Decision price (the signal candle's close), the L2 book (live and dry-run only: in
backtests ``dp.orderbook`` would reach the network and return today's book), the price
tick and the funding rate.  A read that cannot be made for an entry raises
:class:`BoundUnknown` with a reason code: no order goes out without its bound.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from freqtrade_exec_ext import compat
from freqtrade_exec_ext.errors import TemporaryFailure
from freqtrade_exec_ext.execution import checks, pricing
from freqtrade_exec_ext.execution.numbers import finite
from freqtrade_exec_ext.execution.orderbook import BookError, Quote, top_of_book

logger = logging.getLogger(__name__)

BOOK_DEPTH = 20
BOOK_MAX_AGE_S = 2.0


class BoundUnknown(TemporaryFailure):
    """An order's budget bound cannot be computed; ``str()`` is ``CODE: detail``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


class MarketReads:
    def __init__(self, strategy: Any) -> None:
        self._s = strategy
        self._books: dict[str, tuple[float, dict[str, Any]]] = {}
        self._ticks: dict[str, float] = {}
        self.last_decision: dict[str, float] = {}

    def clear(self) -> None:
        self._books.clear()

    # ---------------------------------------------------------------- decision price
    def decision_price(self, pair: str) -> float:
        """The signal candle's close; raises BoundUnknown when it cannot be read."""
        s = self._s
        try:
            df, _ = s.dp.get_analyzed_dataframe(pair, s.timeframe)
            price = finite(df["close"].iat[-1]) if df is not None and len(df) else None
        except Exception as exc:  # noqa: BLE001 - reported as a reason code, never swallowed
            raise BoundUnknown(
                checks.DECISION_PRICE_UNKNOWN, f"{type(exc).__name__}: {exc}"
            ) from None
        if price is None or price <= 0:
            raise BoundUnknown(checks.DECISION_PRICE_UNKNOWN, "no analyzed candle")
        self.last_decision[pair] = price
        return price

    def exit_decision_price(self, pair: str) -> float | None:
        """An exit's decision price, or the last one known for the pair (an exit is never
        held back for want of a bound); None only when none was ever known."""
        try:
            return self.decision_price(pair)
        except BoundUnknown as exc:
            last = self.last_decision.get(pair)
            logger.warning(
                "exec_ext: %s exit: %s; using the last known decision price %s", pair, exc, last
            )
            return last

    def signal_candle(self, pair: str) -> datetime | None:
        s = self._s
        try:
            df, _ = s.dp.get_analyzed_dataframe(pair, s.timeframe)
            if not len(df):
                return None
            when: datetime = df["date"].iat[-1].to_pydatetime()
            return when
        except Exception:  # noqa: BLE001 - unknown: the ladder just does not carry over
            return None

    # ---------------------------------------------------------------- book
    def book(self, pair: str, *, reuse: bool = False) -> dict[str, Any] | None:
        """A fresh L2 book (live/dry-run only; None when it cannot be read: the pre-trade
        checks then deny the entry).  ``reuse``: take (once) the book read for this entry
        moments ago (younger than BOOK_MAX_AGE_S), so one entry costs one request."""
        if not self._s.exec_ext_live():
            return None
        now = time.monotonic()
        cached = self._books.pop(pair, None)
        if reuse and cached is not None and now - cached[0] < BOOK_MAX_AGE_S:
            return cached[1]
        try:
            book = self._s.dp.orderbook(pair, BOOK_DEPTH)
        except Exception as exc:  # noqa: BLE001 - network/exchange errors: no book
            logger.warning("exec_ext: order book for %s unavailable: %s", pair, exc)
            return None
        self._books[pair] = (now, book)
        return dict(book)

    @staticmethod
    def quote(book: dict[str, Any] | None) -> Quote | None:
        if not book:
            return None
        try:
            return top_of_book(book)
        except BookError:
            return None

    # ---------------------------------------------------------------- tick
    def tick(self, pair: str) -> float:
        """The market's price tick (cached); raises BoundUnknown when unknown (a price off
        the tick grid could be rounded past its budget bound)."""
        tick = self._ticks.get(pair)
        if tick:
            return tick
        try:
            tick = compat.price_tick(self._s.dp, pair)
        except Exception as exc:  # noqa: BLE001 - reported as a reason code
            raise BoundUnknown(checks.TICK_SIZE_UNKNOWN, f"{type(exc).__name__}: {exc}") from None
        if not tick:
            raise BoundUnknown(checks.TICK_SIZE_UNKNOWN, "the market states no price precision")
        self._ticks[pair] = tick
        return tick

    def tick_for(self, pair: str, *, entry: bool) -> float | None:
        """The tick; unknown: an entry fails (BoundUnknown), an exit goes out unrounded
        (Freqtrade rounds it to nearest)."""
        try:
            return self.tick(pair)
        except BoundUnknown as exc:
            if entry:
                raise
            logger.warning("exec_ext: %s exit price not rounded: %s", pair, exc)
            return None

    def round(self, side: pricing.Side, price: float, pair: str, *, entry: bool) -> float:
        return pricing.round_inside(side, price, self.tick_for(pair, entry=entry))

    # ---------------------------------------------------------------- funding
    def funding_rate(self, pair: str) -> float | None:
        try:
            info = compat.exchange_of(self._s.dp).fetch_funding_rate(pair)
            return finite(info.get("fundingRate"))
        except Exception as exc:  # noqa: BLE001 - None: the funding check denies the entry
            logger.warning("exec_ext: funding rate for %s unavailable: %s", pair, exc)
            return None
