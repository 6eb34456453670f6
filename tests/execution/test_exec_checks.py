"""Pre-trade checks: spread, book walk, funding; malformed books deny."""

from __future__ import annotations

from freqtrade_exec_ext.execution import checks
from freqtrade_exec_ext.execution.orderbook import top_of_book

TIGHT = {"bids": [[99.99, 50.0], [99.98, 50.0]], "asks": [[100.01, 50.0], [100.02, 50.0]]}


def test_wide_spread_is_rejected_with_its_numbers():
    book = {"bids": [[99.9, 10.0]], "asks": [[100.1, 10.0]]}  # 20 bps around 100
    v = checks.check_spread(top_of_book(book), 10)
    assert not v.ok and v.code == checks.SPREAD_TOO_WIDE
    assert str(v) == "SPREAD_TOO_WIDE: spread_bps=20.0, max=10"


def test_book_walk_slippage_above_budget_is_rejected():
    # 2 units: 0.5 @100.01, 0.5 @100.10, 1 @100.30 -> avg 100.1775, vs mid 100.0: 17.75 bps
    book = {"bids": [[99.99, 5.0]], "asks": [[100.01, 0.5], [100.10, 0.5], [100.30, 5.0]]}
    v = checks.check_book_walk(book, "buy", 2.0, 15)
    assert not v.ok and v.code == checks.SLIPPAGE_TOO_HIGH
    assert abs(v.numbers["est_slippage_bps"] - 17.75) < 1e-6
    assert checks.check_book_walk(book, "buy", 0.5, 15).ok  # 1 bp: inside the budget


def test_thin_book_is_rejected():
    book = {"bids": [[99.99, 1.0]], "asks": [[100.01, 1.0]]}
    assert checks.check_book_walk(book, "buy", 2.0, 15).code == checks.BOOK_TOO_THIN


def test_funding_cost_depends_on_side():
    assert checks.check_funding(0.0001, False, 5).ok  # a long pays 1 bp
    v = checks.check_funding(0.0008, False, 5)  # a long pays 8 bps
    assert v.code == checks.FUNDING_TOO_COSTLY and v.numbers["funding_cost_bps"] == 8.0
    assert checks.check_funding(0.0008, True, 5).ok  # a short receives it
    assert checks.check_funding(None, False, 5).code == checks.FUNDING_UNKNOWN


def test_all_checks_pass_on_a_tight_deep_book():
    v = checks.pre_trade_checks(TIGHT, "buy", 1.0, max_spread_bps=10, max_entry_bps=15)
    assert v.ok and v.code == checks.OK


def test_malformed_or_missing_book_denies():
    crossed = {"bids": [[100.2, 1.0]], "asks": [[100.0, 1.0]]}
    for book in (None, {"bids": [], "asks": []}, crossed, {"bids": [["x", 1]], "asks": []}):
        v = checks.pre_trade_checks(book, "buy", 1.0, max_spread_bps=10, max_entry_bps=15)
        assert not v.ok, book
        assert v.code in (checks.BOOK_INVALID, checks.CHECK_FAILED)


def test_funding_check_only_when_asked():
    v = checks.pre_trade_checks(
        TIGHT, "buy", 1.0, max_spread_bps=10, max_entry_bps=15,
        funding_rate=0.001, max_funding_bps=5,
    )
    assert v.code == checks.FUNDING_TOO_COSTLY
