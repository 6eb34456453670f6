"""The order-book-walk cost estimate against real Binance top-20 books (2024-08-08)."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from freqtrade_exec_ext.execution.cost_model import (
    CostLimits,
    candle_proxy,
    estimate_entry_cost,
    filter_stake,
    judge,
    proxy_cost,
    tighten,
)

SIZES = [1_000, 5_000, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000]
BOOK_FILES = ["spot_BTC_USDT", "usdm_BTC_USDT_USDT", "usdm_ETH_USDT_USDT"]


def _books(shared_data: Path, name: str) -> list[dict]:
    path = shared_data / "binance-l2-trades-2024-08-08/derived/l2" / f"{name}-l2top20-1s.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def spot_books(shared_data: Path) -> list[dict]:
    return _books(shared_data, "spot_BTC_USDT")


def _hand_walk(levels: list[list[float]], quote: float) -> tuple[float, float]:
    """Average price and filled quote of a buy of ``quote`` USDT, level by level."""
    base = spent = 0.0
    for price, amount in levels:
        take = min(price * amount, quote - spent)
        base += take / price
        spent += take
        if spent >= quote:
            break
    return spent / base, spent


@pytest.mark.parametrize("name", BOOK_FILES)
def test_slippage_is_monotone_in_size_on_every_book(shared_data: Path, name: str) -> None:
    books = _books(shared_data, name)
    assert len(books) > 300
    for book in books:
        previous = -math.inf
        thin = False
        for size in SIZES:
            for side in ("buy", "sell"):
                est = estimate_entry_cost(book, size, budget_bps=15, side=side)
                assert est.slippage_bps is None or est.slippage_bps >= 0
            est = estimate_entry_cost(book, size, budget_bps=15)
            if thin:  # once the book is too thin, every larger size is too
                assert not est.complete and est.slippage_bps is None
                continue
            if not est.complete:
                thin = True
                continue
            assert est.slippage_bps >= previous - 1e-9
            previous = est.slippage_bps


def test_one_level_fill_costs_half_the_spread(spot_books: list[dict]) -> None:
    book = spot_books[0]
    (bid, _), (ask, ask_amount) = book["bids"][0], book["asks"][0]
    mid = (bid + ask) / 2
    size = 1_000.0
    assert size < ask * ask_amount  # fits in the best level
    est = estimate_entry_cost(book, size, budget_bps=15)
    assert est.levels_used == 1
    assert est.slippage_bps == pytest.approx((ask - mid) / mid * 1e4, rel=1e-9)
    assert est.spread_bps == pytest.approx((ask - bid) / mid * 1e4, rel=1e-9)


@pytest.mark.parametrize("size", [200_000.0, 250_000.0, 300_000.0])
def test_multi_level_walk_equals_hand_computation(spot_books: list[dict], size: float) -> None:
    book = spot_books[0]
    mid = (book["bids"][0][0] + book["asks"][0][0]) / 2
    avg, spent = _hand_walk(book["asks"], size)
    assert spent == pytest.approx(size)
    est = estimate_entry_cost(book, size, budget_bps=15)
    assert est.levels_used > 1
    assert est.slippage_bps == pytest.approx((avg - mid) / mid * 1e4, rel=1e-9)


def test_hand_computed_two_levels_explicitly(spot_books: list[dict]) -> None:
    book = spot_books[0]
    (p1, a1), (p2, a2) = book["asks"][0], book["asks"][1]
    size = p1 * a1 + 0.5 * p2 * a2  # all of level 1, half of level 2
    base = a1 + 0.5 * a2
    mid = (book["bids"][0][0] + p1) / 2
    expected = (size / base - mid) / mid * 1e4
    est = estimate_entry_cost(book, size, budget_bps=15)
    assert est.levels_used == 2
    assert est.slippage_bps == pytest.approx(expected, rel=1e-9)


def test_book_too_thin_gives_a_clear_answer(spot_books: list[dict]) -> None:
    book = spot_books[0]
    visible = sum(p * a for p, a in book["asks"])
    est = estimate_entry_cost(book, 5_000_000, budget_bps=15)
    assert not est.complete
    assert est.slippage_bps is None
    assert est.filled_quote == pytest.approx(visible)
    assert est.shortfall_quote == pytest.approx(5_000_000 - visible)
    failed = judge(est, CostLimits(max_spread_bps=10, max_entry_bps=15))
    thin = next(v for v in failed if v.code == "BOOK_TOO_THIN")
    assert thin.numbers["stake"] == 5_000_000 and thin.numbers["visible"] == pytest.approx(visible)


def test_sell_side_walks_the_bids(spot_books: list[dict]) -> None:
    book = spot_books[0]
    bid = book["bids"][0][0]
    mid = (bid + book["asks"][0][0]) / 2
    est = estimate_entry_cost(book, 100.0, budget_bps=15, side="sell")
    assert est.slippage_bps == pytest.approx((mid - bid) / mid * 1e4, rel=1e-9)


def test_judge_names_each_broken_limit() -> None:
    book = {"bids": [[99.0, 10.0]], "asks": [[101.0, 1.0], [103.0, 100.0]]}
    est = estimate_entry_cost(book, 500.0, budget_bps=50)
    failed = judge(est, CostLimits(max_spread_bps=100, max_entry_bps=50))
    assert [v.code for v in failed] == ["SPREAD_TOO_WIDE", "SLIPPAGE_TOO_HIGH", "DEPTH_TOO_LOW"]
    assert str(failed[0]) == "SPREAD_TOO_WIDE: spread_bps=200, max=100"
    assert failed[1].numbers["est_slippage_bps"] > 50 and failed[1].numbers["max"] == 50
    assert failed[2].numbers["depth"] == 0 and failed[2].numbers["need"] == 500
    ok = judge(estimate_entry_cost(book, 50.0, budget_bps=150), CostLimits(300, 150))
    assert ok == []


def test_tighten_only_accepts_stricter_values() -> None:
    assert tighten("max_entry_bps", 15, None) == 15
    assert tighten("max_entry_bps", 15, 10) == 10
    with pytest.raises(ValueError, match="would loosen the risk contract"):
        tighten("max_entry_bps", 15, 20)
    assert tighten("stake_amount", 300, 1000, higher_is_tighter=True) == 1000
    with pytest.raises(ValueError, match="use at least 300"):
        tighten("stake_amount", 300, 100, higher_is_tighter=True)
    with pytest.raises(ValueError, match="must be a number > 0"):
        tighten("max_entry_bps", 15, "5")  # type: ignore[arg-type]


def test_filter_stake_is_the_worst_case_of_the_sizing(str001_contract_path: Path) -> None:
    from freqtrade_exec_ext.contract import load_contract

    contract = load_contract(str001_contract_path)
    assert contract.sizing.method != "fixed_stake"
    assert filter_stake(contract) == contract.sizing.max_stake
    fixed = contract.model_copy(
        update={"sizing": contract.sizing.model_copy(update={"method": "fixed_stake"})}
    )
    expected = min(max(fixed.sizing.fixed_stake, fixed.sizing.min_stake), fixed.sizing.max_stake)
    assert filter_stake(fixed) == expected


def test_candle_proxy_on_repo_candles(repo_root: Path) -> None:
    import pandas as pd

    df = pd.read_feather(repo_root / "user_data/data/binance/BTC_USDT-5m.feather").head(288)
    proxy = candle_proxy(df["high"], df["low"], df["close"], df["volume"])
    assert proxy.candles == 288
    assert proxy.volatility_bps > 0 and proxy.median_quote_volume > 0
    small = proxy_cost(proxy, 1_000, budget_bps=15)
    big = proxy_cost(proxy, 5_000_000, budget_bps=15)
    assert small.source == "candle_proxy"
    assert big.slippage_bps > small.slippage_bps >= proxy.spread_bps / 2
    # the depth within the budget is exactly the stake whose proxy slippage is the budget
    at_depth = proxy_cost(proxy, small.depth_within_budget, budget_bps=15)
    assert at_depth.slippage_bps == pytest.approx(15, rel=1e-9)


def test_candle_proxy_rejects_too_few_candles() -> None:
    with pytest.raises(ValueError, match="at least 3 valid candles"):
        candle_proxy([1.0], [1.0], [1.0], [1.0])
