"""Placing an order exactly once, whatever the exchange answers (execution/placement.py)."""

from __future__ import annotations

import random
from typing import Any

import ccxt
import pytest

from freqtrade_exec_ext.execution.placement import (
    ABSENT,
    CLOCK_SKEW_MARGIN_MS,
    Absence,
    ExecutionWindow,
    Failure,
    Outcome,
    PlacementUnknown,
    RetryPolicy,
    absence,
    classify,
    is_valid_client_order_id,
    new_client_order_id,
    place,
    retry_after_s,
)

POLICY = RetryPolicy(max_retries=2, lookup_waits_s=(0.5, 1.0, 2.0), backoff_s=(1.0, 2.0))
#: a window that is over as soon as it is sent: absence by lookup counts as certain (the
#: rule the guard had before it knew of late execution; for the tests of everything else)
TRUST_LOOKUPS = ExecutionWindow(recv_window_ms=0, margin_ms=-1)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (ccxt.InsufficientFunds("binance Account has insufficient balance"), Failure.REJECTED),
        (ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}'),
         Failure.REJECTED),
        (ccxt.OrderImmediatelyFillable("Order would immediately match and take."),
         Failure.REJECTED),
        (ccxt.AuthenticationError("Invalid API-key"), Failure.REJECTED),
        (ccxt.RateLimitExceeded("binance 429 Too Many Requests"), Failure.NOT_PROCESSED),
        (ccxt.DDoSProtection("binance 418 I'm a teapot"), Failure.NOT_PROCESSED),
        (ccxt.InvalidNonce("Timestamp for this request is outside of the recvWindow"),
         Failure.NOT_PROCESSED),
        (ccxt.RequestTimeout("binance POST https://api.binance.com/api/v3/order"),
         Failure.UNKNOWN),
        (ccxt.ExchangeNotAvailable("binance 503 Service Unavailable"), Failure.UNKNOWN),
        (ccxt.NetworkError("Connection reset by peer"), Failure.UNKNOWN),
        # ccxt maps -1007 to ExchangeError on some Binance APIs: the code decides
        (ccxt.ExchangeError(
            'binance {"code":-1007,"msg":"Timeout waiting for response from backend server. '
            'Send status unknown; execution status unknown."}'), Failure.UNKNOWN),
        (ccxt.ExchangeError("binance something new"), Failure.UNKNOWN),
        (ValueError("not even a ccxt error"), Failure.UNKNOWN),
    ],
)
def test_classify_says_whether_the_order_may_exist(exc: Exception, kind: Failure) -> None:
    assert classify(exc) is kind


def test_client_order_ids_are_unique_and_valid_for_binance() -> None:
    ids = {new_client_order_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) <= 36 and is_valid_client_order_id(i) for i in ids)


def test_retry_after_header() -> None:
    assert retry_after_s({"Retry-After": "7"}) == 7.0
    assert retry_after_s({"retry-after": "0.5"}) == 0.5
    assert retry_after_s({"Retry-After": "soon"}) is None
    assert retry_after_s(None) is None


class FakeVenue:
    """One client order id; scripted answers.  ``creates``: whether each send creates the
    order (a lost answer still creates it); ``lookups``: "found"/"absent"/"error"."""

    def __init__(self, sends: list[tuple[bool, Exception | None]], lookups: list[str]):
        self.sends = list(sends)
        self.lookups = list(lookups)
        self.orders: list[dict[str, Any]] = []  # orders that exist on the venue
        self.sent = 0
        self.looked = 0

    def send(self) -> dict[str, Any]:
        self.sent += 1
        creates, exc = self.sends.pop(0) if self.sends else (True, None)
        if creates:
            if self.orders:  # Binance refuses a second open order with the same client id
                raise ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}')
            self.orders.append({"id": str(100 + self.sent)})
        if exc is not None:
            raise exc
        return self.orders[-1]

    def lookup(self) -> Any:
        self.looked += 1
        answer = self.lookups.pop(0) if self.lookups else "found"
        if answer == "error":
            raise ccxt.ExchangeNotAvailable("503")
        if not self.orders or answer == "absent":
            return ABSENT
        return self.orders[-1]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.stamps: list[tuple[int | None, int | None]] = []

    def sending(self, cid: str, *, sent_ms: int | None = None, window_ms: int | None = None):
        self.calls.append(("sending",))
        self.stamps.append((sent_ms, window_ms))

    def accepted(self, cid: str, order_id: str, *, recovered: bool = False) -> None:
        self.calls.append(("accepted", order_id, "recovered" if recovered else ""))

    def rejected(self, cid: str, reason: str) -> None:
        self.calls.append(("rejected",))

    def unknown(self, cid: str, reason: str) -> None:
        self.calls.append(("unknown",))


def run(
    venue: FakeVenue,
    policy: RetryPolicy = POLICY,
    retry_after: float | None = None,
    window: ExecutionWindow | None = TRUST_LOOKUPS,
):
    slept: list[float] = []
    journal = Recorder()
    out = Outcome()
    result: Any
    try:
        result = place(
            venue.send,
            venue.lookup,
            cid="fxe-test",
            policy=policy,
            sleep=slept.append,
            retry_after=lambda: retry_after,
            journal=journal,
            outcome=out,
            stamp=lambda: 0,
            window=window,
            exchange_now=lambda: 0,
        )
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        result = exc
    return result, slept, journal.calls, out


def test_first_answer_is_the_order() -> None:
    venue = FakeVenue([(True, None)], [])
    order, slept, calls, _ = run(venue)
    assert order == {"id": "101"} and venue.sent == 1 and venue.looked == 0 and slept == []
    assert calls == [("sending",), ("accepted", "101", "")]


def test_a_refusal_is_not_retried() -> None:
    venue = FakeVenue([(False, ccxt.InsufficientFunds("insufficient balance"))], [])
    exc, _, calls, _ = run(venue)
    assert isinstance(exc, ccxt.InsufficientFunds)
    assert venue.sent == 1 and venue.looked == 0 and venue.orders == []
    assert calls[-1] == ("rejected",)


def test_rate_limited_requests_are_retried_after_the_wait_asked_for() -> None:
    venue = FakeVenue([(False, ccxt.RateLimitExceeded("429")), (True, None)], [])
    order, slept, _, out = run(venue, retry_after=3.0)
    assert order == {"id": "102"} and venue.sent == 2 and slept == [3.0]
    assert out.failures == [Failure.NOT_PROCESSED]


def test_retries_stop_at_max_retries_and_long_waits_are_not_waited_in_the_loop() -> None:
    limited = [(False, ccxt.RateLimitExceeded("429"))] * 5
    exc, slept, calls, _ = run(FakeVenue(limited, []), retry_after=1.0)
    assert isinstance(exc, ccxt.RateLimitExceeded) and slept == [1.0, 1.0]  # 1 + 2 retries
    assert calls[-1] == ("rejected",)
    venue = FakeVenue(limited, [])
    exc, slept, _, _ = run(venue, retry_after=120.0)
    assert isinstance(exc, ccxt.RateLimitExceeded) and slept == [] and venue.sent == 1


def test_a_lost_answer_is_found_by_client_order_id_and_not_sent_again() -> None:
    venue = FakeVenue([(True, ccxt.RequestTimeout("timeout"))], ["absent", "found"])
    order, slept, calls, out = run(venue)
    assert order == {"id": "101"} and venue.sent == 1 and len(venue.orders) == 1
    assert slept == [0.5, 1.0]  # looked up twice: the exchange was still processing it
    assert out.recovered and calls[-1] == ("accepted", "101", "recovered")


def test_an_order_certainly_absent_is_sent_again_with_the_same_client_id() -> None:
    venue = FakeVenue([(False, ccxt.ExchangeNotAvailable("503")), (True, None)], ["absent"] * 3)
    order, slept, _, _ = run(venue)
    assert order == {"id": "102"} and venue.sent == 2 and venue.looked == 3
    assert slept == [0.5, 1.0, 2.0, 1.0]  # three lookups, then the back-off


def test_an_order_that_cannot_be_looked_up_stops_everything() -> None:
    venue = FakeVenue([(True, ccxt.RequestTimeout("timeout"))], ["error"] * 3)
    exc, _, calls, _ = run(venue)
    assert isinstance(exc, PlacementUnknown) and isinstance(exc, ccxt.NetworkError)
    assert venue.sent == 1 and calls[-1] == ("unknown",)


def test_a_duplicate_refusal_after_a_lost_answer_returns_the_first_order() -> None:
    # the first attempt lands late: the lookup misses it, the retry is refused as duplicate
    venue = FakeVenue(
        [(True, ccxt.RequestTimeout("timeout")), (True, None)],
        ["absent", "absent", "absent", "found"],
    )
    order, _, _, _ = run(venue)
    assert order == {"id": "101"} and len(venue.orders) == 1


def test_whatever_the_exchange_does_there_is_never_a_second_order() -> None:
    """2000 random answer scripts: at most one order exists; a returned order is the one
    on the venue; an error other than PlacementUnknown means no order exists.  (The venue
    may create the order behind any answer it does not give as a refusal: a refusal or a
    429 means it did not.)"""
    rng = random.Random(7)
    errors = [
        ccxt.RequestTimeout("timeout"),
        ccxt.ExchangeNotAvailable("503"),
        ccxt.RateLimitExceeded("429"),
        ccxt.InsufficientFunds("insufficient"),
        ccxt.NetworkError("reset"),
        None,
    ]
    for _ in range(2000):
        sends = []
        for _ in range(4):
            err = rng.choice(errors)
            may_create = err is None or classify(err) is Failure.UNKNOWN
            sends.append((may_create and rng.random() < 0.5, err))
        lookups = [rng.choice(["found", "absent", "error"]) for _ in range(12)]
        venue = FakeVenue(sends, lookups)
        result, _, _, _ = run(venue, retry_after=0.5)
        assert len(venue.orders) <= 1
        if isinstance(result, dict):
            assert venue.orders and result is venue.orders[0]
        elif not isinstance(result, PlacementUnknown):
            assert venue.orders == [], (sends, lookups, result)


# ---------------------------------------------------------------- late execution


@pytest.mark.parametrize(
    ("sent", "now", "verdict", "wait"),
    [
        (10_000, 10_000, Absence.NOT_YET, 6.001),  # 5000 window + 1000 margin to go
        (10_000, 15_999, Absence.NOT_YET, 0.002),
        (10_000, 16_000, Absence.NOT_YET, 0.001),  # the last ms it may still execute
        (10_000, 16_001, Absence.CERTAIN, 0.0),
        (10_000, None, Absence.NOT_YET, 0.0),  # the exchange's clock unreadable
        (None, 99_999, Absence.NEVER, 0.0),  # no timestamp journaled
    ],
)
def test_absence_is_certain_only_after_the_window_and_the_margin(sent, now, verdict, wait):
    window = ExecutionWindow(recv_window_ms=5000)
    assert window.margin_ms == CLOCK_SKEW_MARGIN_MS == 1000
    got, waited = absence(window, sent, now)
    assert got is verdict and waited == pytest.approx(wait)
    assert absence(None, sent, now) == (Absence.NEVER, 0.0)  # no rule at this exchange


class LateVenue:
    """A venue with a clock (ms) whose backend may execute a request late, as Binance's
    may after -1007: each send is ``"ok"`` (created, answered), ``"lost"`` (created, the
    answer lost), ``("late", ms)`` (answered -1007; executed ``ms`` after it arrived unless
    its ``timestamp + recvWindow`` has passed on the engine's clock by then: dropped),
    ``"busy"`` (429, not processed) or ``"refused"``.  Orders fill at once, so Binance's
    refusal of a repeated client id (open orders only) never helps."""

    def __init__(self, sends: list[Any], *, window_ms: int = 5000, engine_skew_ms: int = 0,
                 lookup_errors: float = 0.0, rng: random.Random | None = None) -> None:
        self.t = 1_000_000
        self.sends = list(sends)
        self.window_ms, self.engine_skew_ms = window_ms, engine_skew_ms
        self.lookup_errors, self.rng = lookup_errors, rng or random.Random(0)
        self.held: list[tuple[int, int]] = []  # (due, signed timestamp)
        self.orders: list[dict[str, Any]] = []
        self.ts = 0
        self.sent = 0

    def sleep(self, seconds: float) -> None:
        self.t += round(seconds * 1000)
        self.run_due()

    def run_due(self) -> None:
        for item in sorted(self.held):
            due, ts = item
            if due <= self.t:
                self.held.remove(item)
                if due + self.engine_skew_ms <= ts + self.window_ms:  # the engine's check
                    self.orders.append({"id": f"late-{due}"})

    def stamp(self) -> int:
        self.ts = self.t
        return self.ts

    def send(self) -> dict[str, Any]:
        self.run_due()
        self.sent += 1
        kind = self.sends.pop(0) if self.sends else "ok"
        if kind in ("ok", "lost"):
            self.orders.append({"id": str(100 + self.sent)})
            if kind == "lost":
                raise ccxt.RequestTimeout("binance POST /api/v3/order timed out")
            return self.orders[-1]
        if kind == "busy":
            raise ccxt.RateLimitExceeded("429")
        if kind == "refused":
            raise ccxt.InsufficientFunds("insufficient balance")
        self.held.append((self.t + kind[1], self.ts))
        raise ccxt.RequestTimeout('binance {"code":-1007,"msg":"execution status unknown"}')

    def lookup(self) -> Any:
        self.run_due()
        if self.rng.random() < self.lookup_errors:
            raise ccxt.ExchangeNotAvailable("503")
        return self.orders[0] if self.orders else ABSENT


SHIPPED = ExecutionWindow(5000)


def run_late(venue: LateVenue, window: ExecutionWindow | None = SHIPPED):
    slept: list[float] = []
    journal = Recorder()

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        venue.sleep(seconds)

    result: Any
    try:
        result = place(venue.send, venue.lookup, cid="fxe-late", policy=POLICY, sleep=sleep,
                       journal=journal, stamp=venue.stamp, window=window,
                       exchange_now=lambda: venue.t)  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        result = exc
    venue.sleep(120)  # whatever the backend still held has run (or was dropped) by now
    return result, slept, journal


def test_a_late_order_inside_its_window_is_waited_for_and_found() -> None:
    venue = LateVenue([("late", 4000)])
    order, slept, journal = run_late(venue)
    assert venue.sent == 1 and venue.orders == [order]
    # three lookups (3.5 s) miss it; the guard waits until 5 s + 1 s margin after it was
    # signed, looks again, and finds what the backend executed at 4 s
    assert slept == [0.5, 1.0, 2.0, 2.501]
    assert journal.calls[-1] == ("accepted", order["id"], "recovered")
    assert journal.stamps == [(1_000_000, 5000)]


def test_a_late_order_past_its_window_is_dropped_and_only_then_sent_again() -> None:
    venue = LateVenue([("late", 7000), "ok"])
    order, slept, journal = run_late(venue)
    assert venue.sent == 2 and venue.orders == [order] and order["id"] == "102"
    assert slept == [0.5, 1.0, 2.0, 2.501, 1.0]  # lookups, the window, the back-off
    assert journal.stamps == [(1_000_000, 5000), (1_007_001, 5000)]  # each attempt signed


def test_trusting_lookups_sends_a_duplicate_of_a_late_order() -> None:
    """The issue's failure, in this model: lookups miss the late request, the order is
    sent again and fills, then the backend executes the first one too."""
    venue = LateVenue([("late", 4500), "ok"])
    order, _, _ = run_late(venue, window=TRUST_LOOKUPS)
    assert len(venue.orders) == 2 and order in venue.orders


def test_without_an_execution_window_a_missing_order_is_never_sent_again() -> None:
    venue = LateVenue([("late", 30_000)], window_ms=10**9)  # no engine check either
    exc, slept, journal = run_late(venue, window=None)
    assert isinstance(exc, PlacementUnknown) and "never sent again" in str(exc)
    assert venue.sent == 1 and slept == [0.5, 1.0, 2.0]
    assert journal.calls[-1] == ("unknown",) and journal.stamps == [(1_000_000, None)]
    assert len(venue.orders) == 1  # the backend did execute it, 30 s later: one order


def test_an_unreadable_exchange_clock_proves_nothing() -> None:
    venue = LateVenue([("late", 60_000)])
    journal = Recorder()

    def broken_clock() -> int:
        raise ccxt.ExchangeNotAvailable("503")

    with pytest.raises(PlacementUnknown, match="could not show"):
        place(venue.send, venue.lookup, cid="fxe-c", policy=POLICY, sleep=venue.sleep,
              journal=journal, stamp=venue.stamp, window=ExecutionWindow(5000),
              exchange_now=broken_clock)  # fmt: skip
    assert venue.sent == 1


@pytest.mark.parametrize("engine_skew_ms", [-CLOCK_SKEW_MARGIN_MS, 0, CLOCK_SKEW_MARGIN_MS])
def test_whatever_the_backend_executes_late_there_is_never_a_second_order(engine_skew_ms):
    """3000 random scripts of answers, late executions (inside and past the window, at any
    delay), 429s, refusals and failing lookups, with the matching engine's clock up to the
    margin away from the clock the guard reads: after the backend has run everything it
    held, at most one order exists; a returned order is it; an error other than
    PlacementUnknown means none exists."""
    rng = random.Random(13 + engine_skew_ms)
    for _ in range(3000):
        sends: list[Any] = []
        for _ in range(4):
            roll = rng.random()
            if roll < 0.45:
                sends.append(("late", rng.randrange(0, 9000)))
            else:
                sends.append(rng.choice(["ok", "lost", "busy", "refused"]))
        venue = LateVenue(sends, engine_skew_ms=engine_skew_ms,
                          lookup_errors=rng.choice([0.0, 0.2]), rng=rng)  # fmt: skip
        result, _, _ = run_late(venue)
        assert len(venue.orders) <= 1, (sends, venue.orders)
        if isinstance(result, dict):
            assert venue.orders == [result]
        elif not isinstance(result, PlacementUnknown):
            assert venue.orders == [], (sends, result)
