"""Markout sampling in live and dry-run: the mid 1 s, 10 s, 60 s and 5 min after each fill.

Freqtrade's bot loop runs every few seconds, too coarse for the 1 s and 10 s horizons, so a
daemon thread waits for each due time and reads the pair's ticker through ``read_mid``:
one read per horizon and pair (fills of a pair due within ``COALESCE_S`` share it), at
least ``MIN_GAP_S`` apart.  The reader must not share Freqtrade's exchange object (it is
not thread-safe): the live adapter builds its own public ccxt client
(:func:`freqtrade_exec_ext.compat.public_mid_reader`).  The thread only reads prices;
:meth:`MarkoutSampler.drain` hands the results to the bot loop, which writes them into the
fills' ledger records (the database is only touched from Freqtrade's thread).

A read that fails leaves that horizon out of the record (the report counts it as missing).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable

from freqtrade_exec_ext.execution.markouts import (
    Due,
    horizon_key,
    markout_bps,
    read_in_time,
    schedule,
)

logger = logging.getLogger(__name__)

COALESCE_S = 0.5
MIN_GAP_S = 0.2
MAX_PENDING = 10_000  # fills waiting for markouts; beyond it the oldest are dropped


class MarkoutSampler:
    def __init__(
        self,
        read_mid: Callable[[str], float | None],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._read_mid = read_mid
        self._clock = clock
        self._sleep = sleep
        self._due: list[Due] = []
        self._done: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reads = 0
        self.missed = 0  # horizons left out: the read failed or came too late

    # ---------------------------------------------------------------- bot thread
    def add(self, fill_key: str, pair: str, side: str, price: float, filled_at: float) -> None:
        with self._lock:
            for due in schedule(fill_key, pair, side, price, filled_at):
                heapq.heappush(self._due, due)
            while len(self._due) > MAX_PENDING * 4:
                self._due.remove(min(self._due))
                heapq.heapify(self._due)
        self._wake.set()

    def drain(self) -> dict[str, dict[str, float]]:
        """Markouts measured since the last call, per fill key (horizon -> bps).  Also wakes
        the sampler, so an injected clock that jumps ahead (tests) is seen at once."""
        with self._lock:
            done, self._done = self._done, {}
        self._wake.set()
        return done

    def pending(self, until: float | None = None) -> int:
        """Reads still to do (due at or before ``until``, when given)."""
        with self._lock:
            return sum(1 for d in self._due if until is None or d.at <= until)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="exec_ext-markouts", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # ---------------------------------------------------------------- sampler thread
    def step(self) -> float | None:
        """Read everything due now; the seconds until the next due time (None: nothing)."""
        now = self._clock()
        with self._lock:
            if not self._due:
                return None
            if self._due[0].at > now:
                return self._due[0].at - now
            first = heapq.heappop(self._due)
            batch = [first] + [
                d for d in self._due if d.pair == first.pair and d.at <= first.at + COALESCE_S
            ]
            if len(batch) > 1:
                self._due = [d for d in self._due if d not in batch[1:]]
                heapq.heapify(self._due)
        try:
            mid = self._read_mid(first.pair)
        except Exception as exc:  # noqa: BLE001  (a missed read is a missing markout)
            logger.info("exec_ext: markout read for %s failed: %s", first.pair, exc)
            mid = None
        self.reads += 1
        read_at = self._clock()
        results = []
        for due in batch:
            if mid is None or not read_in_time(due.at, due.horizon_s, read_at):
                self.missed += 1
                continue
            value = markout_bps(due.side, due.price, mid)
            if value is not None:
                results.append((due.fill_key, horizon_key(due.horizon_s), value))
        with self._lock:
            for key, horizon, value in results:
                self._done.setdefault(key, {})[horizon] = round(value, 4)
        return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.step()
            if wait is None:
                self._wake.wait(timeout=60)
                self._wake.clear()
                continue
            gap = max(wait, MIN_GAP_S if wait == 0.0 else 0.0)
            if self._sleep is not None:
                self._sleep(gap)
            else:
                self._wake.wait(timeout=gap)
                self._wake.clear()
