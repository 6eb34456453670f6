"""Staying clear of rate-limit bans (pure).

Binance answers HTTP 429 with a ``Retry-After`` when an IP has used its request weight
(or order count) for the window, and bans an IP that keeps sending before that time with
HTTP 418, for minutes first and up to days.  ccxt spaces requests out but does not read
``Retry-After``; Freqtrade retries with its own back-off (1, 2, 5, 10 ... s), which can
send while the window is still closed.

:class:`RateGovernor` holds every request of one exchange client until the time the
exchange asked for has passed, so a client that received a 429 never sends into a closed
window.  (Staying under the limit in the first place is ccxt's job: Freqtrade runs it
with ``enableRateLimit``.)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from freqtrade_exec_ext.execution.placement import retry_after_s

DEFAULT_RETRY_AFTER_S = {429: 1.0, 418: 60.0}


@dataclass
class GovernorStats:
    throttled: int = 0  # 429/418 answers seen
    held: int = 0  # requests held back
    held_s: float = 0.0  # time spent holding
    refused: int = 0  # requests refused locally (the wait was too long to hold)
    statuses: dict[int, int] = field(default_factory=dict)


class RateGovernor:
    """When the next request of a client may go out.

    Times are seconds on the caller's clock (the one its ``sleep`` advances).
    """

    def __init__(self) -> None:
        self.blocked_until = 0.0
        self.stats = GovernorStats()
        self._lock = threading.Lock()

    def wait_s(self, now: float) -> float:
        """Seconds to hold the next request (0: send now)."""
        with self._lock:
            return max(0.0, self.blocked_until - now)

    def held(self, seconds: float) -> None:
        with self._lock:
            self.stats.held += 1
            self.stats.held_s += seconds

    def refused(self) -> None:
        with self._lock:
            self.stats.refused += 1

    def on_response(
        self, status: int | None, headers: Mapping[str, Any] | None, now: float
    ) -> None:
        """Learn from an answer: a 429/418 closes the client until its ``Retry-After``."""
        with self._lock:
            if status is not None:
                self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
            if status in DEFAULT_RETRY_AFTER_S:
                self.stats.throttled += 1
                wait = retry_after_s(headers)
                if wait is None:
                    wait = DEFAULT_RETRY_AFTER_S[status]
                self.blocked_until = max(self.blocked_until, now + wait)
