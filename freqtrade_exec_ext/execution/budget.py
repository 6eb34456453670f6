"""A request budget shared by every bot on one IP (pure: no I/O, no clocks).

Binance counts request *weight* per IP and API family (``/api`` spot, ``/sapi``,
``/fapi`` USDT-M, ``/dapi`` COIN-M) in windows aligned on the clock; over the limit it
answers 429 with a ``Retry-After``, and an IP that keeps sending gets banned (418).
Freqtrade gives every bot its own ccxt limiter, each assuming it owns the whole limit, so
4-6 bots on one IP overrun it together.

Here every bot draws on one budget per ``(exchange, family)``:

* a request is sent only when the window has room for its weight within the *usable*
  part of the limit (``limit x (1 - headroom)``) **and** within the bot's *quota*: its
  share of the usable weight (equal shares among the bots seen in the last
  ``active_s``, unless a fixed share is configured).  A bot's first request of a window
  is always let through the quota (a weight larger than a share would otherwise never
  go out), never through the usable limit;
* otherwise it waits for the next window (:attr:`Grant.wait_s`);
* a 429/418 seen by any bot closes the family for every bot until its ``Retry-After``;
* the ``X-MBX-USED-WEIGHT-*`` the exchange reports raises the shared count when other
  traffic on the IP used more than the budget knows of.

:func:`decide` is the arithmetic for one request; the store
(:mod:`freqtrade_exec_ext.store.budget`) runs it inside one database transaction, so all
processes see one count.  Times are milliseconds on the caller's clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Binance's published REQUEST_WEIGHT limits per IP (exchangeInfo ``rateLimits``)
BINANCE_LIMITS = {"spot": 6000, "sapi": 12_000, "usdm": 2400, "coinm": 2400}
WINDOW_MS = 60_000
#: waits a 429/418 without a Retry-After imposes
DEFAULT_RETRY_AFTER_S = {429: 1.0, 418: 60.0}
_FAMILY_PREFIX = (
    ("/sapi/", "sapi"),
    ("/fapi/", "usdm"),
    ("/dapi/", "coinm"),
    ("/api/", "spot"),
)
_VERSION = re.compile(r"^v\d+/")
_USED_WEIGHT = re.compile(r"^x-(?:mbx|sapi)-used-(?:ip-)?weight-(\d+)([smhd])$", re.IGNORECASE)
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True)
class FamilyLimit:
    """One family's weight limit per window."""

    limit: int
    window_ms: int = WINDOW_MS


@dataclass(frozen=True)
class BudgetConfig:
    """How the shared budget is divided (from config ``exec_ext.budget``)."""

    limits: Mapping[str, FamilyLimit]
    headroom: float = 0.1  # share of the limit never used (clock skew, other traffic)
    share: float | None = None  # fixed share of the usable weight per bot; None: equal
    active_s: float = 120.0  # a bot counts toward the equal shares this long after a request
    default_weight: int = 1

    def usable(self, family: str) -> int:
        return max(1, math.floor(self.limits[family].limit * (1.0 - self.headroom)))

    def quota(self, family: str, active_bots: int) -> int:
        usable = self.usable(family)
        share = self.share if self.share is not None else 1.0 / max(1, active_bots)
        return max(1, math.floor(usable * share))


@dataclass(frozen=True)
class Counts:
    """The shared and the bot's own count in the current window (read in one transaction)."""

    window_start_ms: int
    used: int  # every bot's weight in this window
    bot_used: int  # this bot's weight in this window
    blocked_until_ms: int  # a Retry-After in force for the family
    active_bots: int  # bots that sent within active_s, this one included


@dataclass(frozen=True)
class Grant:
    """The answer for one request: send now (``wait_s == 0``) or wait."""

    wait_s: float
    reason: str = ""  # "" | "retry_after" | "window" | "quota"

    @property
    def ok(self) -> bool:
        return self.wait_s <= 0


def window_start(now_ms: int, window_ms: int) -> int:
    return now_ms // window_ms * window_ms


def decide(cfg: BudgetConfig, family: str, weight: int, c: Counts, now_ms: int) -> Grant:
    """Whether a request of ``weight`` may go out now, and if not how long to wait."""
    if c.blocked_until_ms > now_ms:
        return Grant((c.blocked_until_ms - now_ms) / 1000.0, "retry_after")
    window = cfg.limits[family].window_ms
    next_window_s = (c.window_start_ms + window - now_ms) / 1000.0
    if c.used + weight > cfg.usable(family) and c.used > 0:
        return Grant(max(next_window_s, 0.001), "window")
    quota = cfg.quota(family, c.active_bots)
    if c.bot_used > 0 and c.bot_used + weight > quota:
        return Grant(max(next_window_s, 0.001), "quota")
    return Grant(0.0)


# ---------------------------------------------------------------------- requests
def family_of(url: str) -> tuple[str | None, str, dict[str, str]]:
    """(Binance API family, path without its ``/api/v3/``-like prefix, query) of a URL;
    family None for a URL outside the four families."""
    parts = urlsplit(url)
    path = parts.path
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    for prefix, family in _FAMILY_PREFIX:
        at = path.find(prefix)
        if at >= 0:
            rest = _VERSION.sub("", path[at + len(prefix) :], count=1)
            return family, rest, params
    return None, path.lstrip("/"), params


def used_weight(headers: Mapping[str, Any] | None, window_ms: int) -> int | None:
    """The IP's used weight in a window of ``window_ms`` as the exchange reports it
    (``X-MBX-USED-WEIGHT-1M``); None when the answer carries no such header."""
    if not headers:
        return None
    best = None
    for name, value in headers.items():
        m = _USED_WEIGHT.match(str(name))
        if not m or int(m.group(1)) * _UNIT_MS[m.group(2).lower()] != WINDOW_MS:
            continue
        try:
            best = int(str(value).strip())
        except ValueError:
            continue
    if best is None or window_ms != WINDOW_MS and not _scaled(window_ms):
        return None
    return best


def _scaled(window_ms: int) -> bool:
    """A window shorter than a minute (a test venue's scaled minute) reports as 1M."""
    return 0 < window_ms < WINDOW_MS


def retry_after_s(status: int | None, headers: Mapping[str, Any] | None) -> float | None:
    """The wait a 429/418 asks of every client on the IP; None for other answers."""
    if status not in DEFAULT_RETRY_AFTER_S:
        return None
    for name, value in (headers or {}).items():
        if str(name).lower() == "retry-after":
            try:
                wait = float(str(value).strip())
            except ValueError:
                break
            if math.isfinite(wait) and wait >= 0:
                return wait
            break
    return DEFAULT_RETRY_AFTER_S[status]
