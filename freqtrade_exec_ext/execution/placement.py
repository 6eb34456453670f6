"""Placing an order exactly once: client order ids, ambiguous answers, retries (pure).

An exchange can fail to answer an order request in three ways, and each needs a different
response (Binance's own guidance for ``-1007 "execution status unknown"``):

* **rejected**: the exchange refused the order (insufficient balance, a filter, bad
  parameters).  No order exists; sending it again gives the same answer.  Give up.
* **not processed**: the request was turned away before it reached the matching engine
  (HTTP 429/418 rate limits, a timestamp outside ``recvWindow``).  No order exists; it may
  be sent again after the wait the exchange asks for.
* **unknown**: a timeout, a 5xx, a dropped connection, "execution status unknown".  The
  order *may* exist.  Sending it again could open a second position, so first look it up
  by the client order id it was sent with: found -> that is the order; certainly absent
  -> it may be sent again (same client order id); the lookup itself failing -> the state is
  unknown and **nothing more is sent** for it (:class:`PlacementUnknown`).

Every attempt of one placement carries the same client order id, so the exchange itself
refuses a duplicate of an order still open, and the lookup finds whichever attempt landed.

No I/O here: :func:`place` takes the send, lookup and sleep functions.  The journal that
records each placement before it is sent (so a crash in the middle is recovered on the
next start) is passed in as an object with the :class:`Journal` methods.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import ccxt

from freqtrade_exec_ext.errors import TemporaryFailure

T = TypeVar("T")

CLIENT_ID_PREFIX = "fxe-"
# Binance: ^[\.A-Z\:/a-z0-9_-]{1,36}$
_CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
# Binance codes whose execution status is unknown whatever class ccxt maps them to
_UNKNOWN_MARKERS = ("-1006", "-1007", "status unknown", "execution status")


class Failure(StrEnum):
    REJECTED = "rejected"  # no order; retrying will not help
    NOT_PROCESSED = "not_processed"  # no order; may be retried after a wait
    UNKNOWN = "unknown"  # the order may exist


# ccxt classes that mean the exchange refused the order itself
_REJECTED = (
    ccxt.InsufficientFunds,
    ccxt.InvalidOrder,  # includes OrderImmediatelyFillable (post-only would take)
    ccxt.BadSymbol,
    ccxt.BadRequest,
    ccxt.AuthenticationError,  # includes PermissionDenied, AccountSuspended
    ccxt.NotSupported,
    ccxt.ArgumentsRequired,
)
_NOT_PROCESSED = (ccxt.DDoSProtection, ccxt.RateLimitExceeded, ccxt.InvalidNonce)


def classify(exc: BaseException) -> Failure:
    """What a failed order request says about the order's existence.

    Anything not known to be a refusal counts as unknown: a lookup is cheap, a duplicate
    position is not.
    """
    text = str(exc)
    if any(marker in text for marker in _UNKNOWN_MARKERS):
        return Failure.UNKNOWN
    if isinstance(exc, _NOT_PROCESSED):
        return Failure.NOT_PROCESSED
    if isinstance(exc, _REJECTED):
        return Failure.REJECTED
    return Failure.UNKNOWN


def new_client_order_id() -> str:
    """A fresh client order id (36 characters, Binance's limit)."""
    return CLIENT_ID_PREFIX + uuid.uuid4().hex


def is_valid_client_order_id(cid: str) -> bool:
    return bool(_CLIENT_ID_RE.match(cid))


class PlacementUnknown(ccxt.NetworkError, TemporaryFailure):  # type: ignore[misc]  # untyped base
    """The order may exist on the exchange and could not be looked up.

    Nothing more is sent for it; the journal keeps it as ``unknown`` until a later lookup
    settles it.  A ``ccxt.NetworkError``, so Freqtrade treats it as a temporary error (the
    entry or exit is skipped for this loop, nothing is recorded).
    """


class Journal(Protocol):
    """Where placements are recorded (see ``store/journal.py``)."""

    def sending(self, cid: str) -> None: ...
    def accepted(self, cid: str, order_id: str, *, recovered: bool = False) -> None: ...
    def rejected(self, cid: str, reason: str) -> None: ...
    def unknown(self, cid: str, reason: str) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one placement tries.

    ``max_retries``: further attempts after the first (the contract's
    ``orders.max_retries``).  ``lookup_waits_s``: the waits before each lookup of an
    order whose creation is unknown (Binance may still be processing it).  A wait the
    exchange asks for (``Retry-After``) longer than ``max_wait_s`` is not waited in the
    bot loop: the placement gives up and the next loop decides again.
    """

    max_retries: int = 2
    lookup_waits_s: Sequence[float] = (0.5, 1.0, 2.0)
    backoff_s: Sequence[float] = (1.0, 2.0, 4.0)
    max_wait_s: float = 10.0

    def backoff(self, attempt: int) -> float:
        waits = list(self.backoff_s) or [1.0]
        return waits[min(attempt, len(waits) - 1)]


class _Absent:
    pass


ABSENT = _Absent()  # a lookup that says: no such order


@dataclass
class Outcome:
    """What :func:`place` did, for logs and tests."""

    attempts: int = 0
    failures: list[Failure] | None = None
    recovered: bool = False  # the order was found by lookup after an unknown answer


def resolve(
    lookup: Callable[[], T | _Absent],
    waits: Sequence[float],
    sleep: Callable[[float], None],
) -> T | _Absent | None:
    """Look an order up after an unknown answer.

    ``lookup()`` returns the order, ``ABSENT``, or raises when it cannot tell.  Returns the
    order, ``ABSENT`` when every lookup said absent (the exchange had time to process it),
    or None when no lookup could tell.
    """
    answer: T | _Absent | None = None
    for wait in waits:
        sleep(wait)
        try:
            answer = lookup()
        except Exception:  # noqa: BLE001 - cannot tell this time; try again
            answer = None
            continue
        if not isinstance(answer, _Absent):
            return answer
    return answer


def place(
    send: Callable[[], T],
    lookup: Callable[[], T | _Absent],
    *,
    cid: str,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
    retry_after: Callable[[], float | None] = lambda: None,
    journal: Journal | None = None,
    outcome: Outcome | None = None,
) -> T:
    """Send one order at most once, however the exchange answers.

    ``send()`` sends the order (always with client order id ``cid``); ``lookup()`` fetches
    it by ``cid`` (``ABSENT`` when the exchange says it does not exist).  Returns the
    order; raises the exchange's error when no order exists, or :class:`PlacementUnknown`
    when one may exist but could not be found.
    """
    run = _Run(cid, journal, outcome if outcome is not None else Outcome())
    maybe_sent = False  # some attempt's fate was unknown: it may be the order
    attempt = 0
    while True:
        run.sending()
        try:
            order = send()
        except Exception as exc:
            kind = classify(exc)
            run.failed(kind)
            if kind is Failure.UNKNOWN or (maybe_sent and kind is Failure.REJECTED):
                # unknown, or a refusal after an unknown attempt (e.g. "duplicate order")
                maybe_sent = True
                found = resolve(lookup, policy.lookup_waits_s, sleep)
                if found is None:
                    why = f"the order could not be looked up ({_one_line(exc)})"
                    raise run.unknown(why) from exc
                if not isinstance(found, _Absent):
                    return run.found(found)
                kind = Failure.NOT_PROCESSED  # certainly absent: safe to send again
            if kind is Failure.REJECTED:
                run.rejected(_one_line(exc))
                raise
            wait = retry_after() if kind is Failure.NOT_PROCESSED else None
            wait = policy.backoff(attempt) if wait is None else wait
            if attempt < policy.max_retries and wait <= policy.max_wait_s:
                sleep(wait)
                attempt += 1
                continue
            why = f"gave up after {run.out.attempts} attempts: {_one_line(exc)}"
            if not maybe_sent:
                run.rejected(why)
                raise
            # lookups said absent, but "no order" is only said when no attempt may have
            # landed: one last look, else the order counts as unknown
            found = resolve(lookup, policy.lookup_waits_s[-1:], sleep)
            if found is not None and not isinstance(found, _Absent):
                return run.found(found)
            raise run.unknown(f"{why}; an earlier attempt may still have been placed") from exc
        return run.accepted(order)


class _Run:
    """One placement's bookkeeping (journal and outcome)."""

    def __init__(self, cid: str, journal: Journal | None, out: Outcome) -> None:
        self.cid, self.journal, self.out = cid, journal, out
        self.failures: list[Failure] = []
        out.failures = self.failures

    def failed(self, kind: Failure) -> None:
        self.failures.append(kind)

    def sending(self) -> None:
        self.out.attempts += 1
        if self.journal is not None:
            self.journal.sending(self.cid)

    def accepted(self, order: T) -> T:
        if self.journal is not None:
            self.journal.accepted(self.cid, _order_id(order))
        return order

    def found(self, order: T) -> T:
        self.out.recovered = True
        if self.journal is not None:
            self.journal.accepted(self.cid, _order_id(order), recovered=True)
        return order

    def rejected(self, why: str) -> None:
        if self.journal is not None:
            self.journal.rejected(self.cid, why)

    def unknown(self, why: str) -> PlacementUnknown:
        if self.journal is not None:
            self.journal.unknown(self.cid, why)
        return PlacementUnknown(f"order {self.cid}: {why}; nothing more is sent for it")


def _order_id(order: Any) -> str:
    if isinstance(order, dict):
        return str(order.get("id") or "")
    return str(getattr(order, "id", "") or "")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


def retry_after_s(headers: Any) -> float | None:
    """The ``Retry-After`` of an HTTP answer, in seconds (None when absent or bad)."""
    if not headers:
        return None
    try:
        raw = headers.get("Retry-After") or headers.get("retry-after")
    except AttributeError:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None
