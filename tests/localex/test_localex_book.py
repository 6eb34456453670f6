"""The calibrated book model: shape, determinism, and depth/spread against the real books."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from freqtrade_exec_ext.localex import book as bm

SPOT = bm.load_params("spot")
CAL = json.loads(bm.CALIBRATION_FILE.read_text())


def _btc(seed: int, qv: float = SPOT.ref_quote_volume_5m, depth: int = 20) -> bm.Book:
    return bm.build_book(
        mid=61687.715,
        tick=0.01,
        step=1e-5,
        quote_volume_5m=qv,
        params=SPOT,
        depth=depth,
        seed=seed,
    )


def _notional(levels: list[list[float]]) -> float:
    return sum(p * a for p, a in levels)


def test_book_is_sorted_on_the_tick_grid_around_the_mid() -> None:
    b = bm.build_book(
        mid=1.84237, tick=0.0001, step=0.1, quote_volume_5m=7e5, params=SPOT, depth=50, seed=3
    )
    assert len(b.bids) == len(b.asks) == 50
    bids = [p for p, _ in b.bids]
    asks = [p for p, _ in b.asks]
    assert bids == sorted(bids, reverse=True) and len(set(bids)) == 50
    assert asks == sorted(asks) and len(set(asks)) == 50
    assert bids[0] <= 1.84237 < asks[0]
    for p, a in b.bids + b.asks:
        assert abs(p / 0.0001 - round(p / 0.0001)) < 1e-6
        assert a >= 0.1 and abs(a / 0.1 - round(a / 0.1)) < 1e-6


def test_same_seed_same_book_and_deeper_books_extend_shallower_ones() -> None:
    assert _btc(7) == _btc(7)
    assert _btc(7) != _btc(8)
    top = _btc(7, depth=1)
    assert top.bids[0] == _btc(7).bids[0] and top.asks[0] == _btc(7).asks[0]


def test_btc_book_matches_the_real_spread_and_depth() -> None:
    real = CAL["markets"]["spot"]["top20_notional"]
    depths = [_notional(_btc(s).bids) for s in range(200)]
    spreads = {round(_btc(s).asks[0][0] - _btc(s).bids[0][0], 2) for s in range(20)}
    assert spreads == {0.01}  # one tick, as BTC/USDT on Binance
    assert real["p05"] <= float(np.median(depths)) <= real["p95"]
    assert real["p05"] / 3 <= np.quantile(depths, 0.05)
    assert np.quantile(depths, 0.95) <= real["p95"] * 3
    # the top 20 levels span a few bps, like the real book
    b = _btc(1)
    span_bps = (b.asks[-1][0] - b.bids[-1][0]) / 61687.7 * 1e4
    assert CAL["markets"]["spot"]["offset_bps"][-1] <= span_bps <= 20


def test_depth_grows_with_volume_but_less_than_proportionally() -> None:
    small = np.median([_notional(_btc(s, qv=1e6).asks) for s in range(100)])
    big = np.median([_notional(_btc(s, qv=1e7).asks) for s in range(100)])
    ratio = big / small
    assert 1.5 < ratio < 10
    assert ratio == pytest.approx(10**SPOT.volume_exponent, rel=0.35)


def test_bad_mid_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot build a book"):
        bm.build_book(mid=math.nan, tick=0.01, step=1, quote_volume_5m=1, params=SPOT)


def test_shipped_calibration_is_what_calibrate_derives(shared_data) -> None:
    from freqtrade_exec_ext.localex import calibrate

    root = shared_data / "binance-l2-trades-2024-08-08"
    fresh = calibrate.calibrate(root)
    assert fresh["volume_exponent"] == CAL["volume_exponent"]
    for market in ("spot", "usdm"):
        assert fresh["markets"][market]["spread_bps"] == pytest.approx(
            CAL["markets"][market]["spread_bps"]
        )
        assert fresh["markets"][market]["notional_share"] == pytest.approx(
            CAL["markets"][market]["notional_share"]
        )
