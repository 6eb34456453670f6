"""The client-side rate-limit governor (execution/throttle.py)."""

from __future__ import annotations

from freqtrade_exec_ext.execution.throttle import RateGovernor


def test_a_429_closes_the_client_until_retry_after() -> None:
    g = RateGovernor()
    assert g.wait_s(1000.0) == 0.0
    g.on_response(429, {"Retry-After": "12"}, now=1000.0)
    assert g.wait_s(1000.0) == 12.0
    assert g.wait_s(1011.5) == 0.5
    assert g.wait_s(1012.0) == 0.0
    assert g.stats.throttled == 1 and g.stats.statuses == {429: 1}


def test_a_418_without_retry_after_waits_a_minute_and_later_answers_never_shorten() -> None:
    g = RateGovernor()
    g.on_response(418, {}, now=0.0)
    g.on_response(429, {"Retry-After": "1"}, now=1.0)
    assert g.wait_s(2.0) == 58.0
    g.on_response(200, {"X-MBX-USED-WEIGHT-1M": "10"}, now=3.0)
    assert g.wait_s(3.0) == 57.0

