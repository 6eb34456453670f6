"""Placing an order exactly once, whatever the exchange answers (execution/placement.py)."""

from __future__ import annotations

import random
from typing import Any

import ccxt
import pytest

from freqtrade_exec_ext.execution.placement import (
    ABSENT,
    Failure,
    Outcome,
    PlacementUnknown,
    RetryPolicy,
    classify,
    is_valid_client_order_id,
    new_client_order_id,
    place,
    retry_after_s,
)

POLICY = RetryPolicy(max_retries=2, lookup_waits_s=(0.5, 1.0, 2.0), backoff_s=(1.0, 2.0))


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

    def sending(self, cid: str) -> None:
        self.calls.append(("sending",))

    def accepted(self, cid: str, order_id: str, *, recovered: bool = False) -> None:
        self.calls.append(("accepted", order_id, "recovered" if recovered else ""))

    def rejected(self, cid: str, reason: str) -> None:
        self.calls.append(("rejected",))

    def unknown(self, cid: str, reason: str) -> None:
        self.calls.append(("unknown",))


def run(venue: FakeVenue, policy: RetryPolicy = POLICY, retry_after: float | None = None):
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
