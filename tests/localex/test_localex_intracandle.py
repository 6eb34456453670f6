"""The price path inside a candle: the tape-calibrated bridge (default) and the straight path,
and the tape replay that measures them against real maker fills."""

from __future__ import annotations

import json

import numpy as np
import pytest

from freqtrade_exec_ext.localex import intracandle as ic
from freqtrade_exec_ext.localex import replay, tape

OHLC = (109800.10, 111427.48, 109635.15, 111230.00)  # the rising 09:40 candle of the tests
FIVE_MIN = 300_000
BRIDGE = ic.default_model()


def _path(model: ic.PathModel = BRIDGE, key: str = "BTCUSDT", open_ms: int = 1_760_600_400_000):
    return ic.candle_path(model, key, open_ms, FIVE_MIN, OHLC, tick=0.01)


def test_the_shipped_model_is_the_calibrated_bridge() -> None:
    assert BRIDGE.kind == "bridge" and 0.3 < BRIDGE.k < 1.5 and BRIDGE.step_ms == 1000


def test_bridge_goes_through_open_high_low_close_on_the_tick_grid() -> None:
    fracs, prices = _path()
    o, h, low, c = OHLC
    assert (prices[0], prices[-1]) == (o, c)
    assert prices.max() == h and prices.min() == low  # touches both, never beyond
    assert np.all(np.diff(fracs) > 0) and fracs[0] == 0 and fracs[-1] == 1
    assert len(prices) == 301  # one point a second on a 5m candle
    on_grid = np.abs(prices / 0.01 - np.round(prices / 0.01))
    assert on_grid.max() < 1e-6
    # a rising candle visits its low before its high
    assert int(np.argmin(prices)) < int(np.argmax(prices))


def test_bridge_is_deterministic_and_differs_between_candles() -> None:
    a, b = _path()[1], _path()[1]
    assert np.array_equal(a, b)
    other_time = _path(open_ms=1_760_600_700_000)[1]
    other_symbol = _path(key="ETHUSDT")[1]
    assert not np.array_equal(a, other_time) and not np.array_equal(a, other_symbol)


def test_bridge_wiggles_about_as_much_as_calibrated() -> None:
    """Realised variance / range^2 over many candles is about k^2 (the calibration target)."""
    ratios = []
    for i in range(200):
        _, p = ic.candle_path(BRIDGE, "BTCUSDT", i * 60_000, 60_000, OHLC, tick=0.01)
        ratios.append(np.sqrt(np.sum(np.diff(p) ** 2)) / (OHLC[1] - OHLC[2]))
    assert np.median(ratios) == pytest.approx(BRIDGE.k, rel=0.35)


def test_linear_model_is_the_straight_path_over_thirds() -> None:
    fracs, prices = _path(ic.LINEAR)
    assert fracs.tolist() == [0, 1 / 3, 2 / 3, 1]
    assert prices.tolist() == [OHLC[0], OHLC[2], OHLC[1], OHLC[3]]
    flat = ic.candle_path(BRIDGE, "X", 0, FIVE_MIN, (5.0, 5.0, 5.0, 5.0))[1]
    assert flat.tolist() == [5.0] * 4  # nothing to wiggle in


def test_replay_serves_the_path_it_matches_on() -> None:
    """The ticker price, the partial candle and path_points agree with the bridge."""
    t = np.array([0, FIVE_MIN], dtype=np.int64)
    s = replay.CandleSeries(
        "BTCUSDT", FIVE_MIN, t, np.array([OHLC[0]] * 2), np.array([OHLC[1]] * 2),
        np.array([OHLC[2]] * 2), np.array([OHLC[3]] * 2), np.array([100.0] * 2), tick=0.01,
        path_model=BRIDGE,
    )  # fmt: skip
    _, prices = replay.candle_path(s, 0)
    pts = replay.path_points(s, 0, FIVE_MIN)
    assert len(pts) == 301
    assert [p for _, p in pts[:-1]] == prices[:-1].tolist()
    assert replay.current_price(s, 150_000) == prices[150]
    seen = replay._partial(s, 0, 0.5)
    assert seen[1] == prices[:151].max() and seen[2] == prices[:151].min()
    assert seen[3] == prices[150]


# ---------------------------------------------------------------- the tape replay


def _data(trades: list[tuple[int, bool, float, float]], books: list[tuple[int, float, float]]):
    """A synthetic capture: trades (ms, taker buys?, price, qty); books (ms, bid size at
    100.0, ask size at 100.1)."""
    cap = tape.CAPTURES[0]
    return tape.Data(
        cap,
        np.array([b[0] for b in books], dtype=np.int64),
        [[[100.0, b[1]], [99.9, 5.0]] for b in books],
        [[[100.1, b[2]], [100.2, 5.0]] for b in books],
        np.array([t[0] for t in trades], dtype=np.int64),
        np.array([t[1] for t in trades]),
        np.array([t[2] for t in trades]),
        np.array([t[3] for t in trades]),
    )


def test_tape_order_waits_for_the_queue_ahead_then_fills() -> None:
    # a $50 bid at 100.0 (0.5 units) behind 2.0 displayed
    d = _data([(1_500, False, 100.0, 1.5), (3_000, False, 100.0, 0.8), (4_000, False, 100.0, 0.3)],
              [(1_000, 2.0, 1.0)])  # fmt: skip
    o = tape.tape_fill(d, 1_000, "BUY", 50.0, 120, "none")
    # 1.5, then 0.5 of the 0.8 clear the queue ahead; 0.3 + 0.2 fill our 0.5, at 4 s
    assert o.fill_s == 3.0


def test_tape_trade_through_fills_and_same_side_trades_do_not() -> None:
    d = _data([(2_000, True, 100.1, 9.0), (5_000, False, 99.9, 0.01)], [(1_000, 3.0, 1.0)])
    o = tape.tape_fill(d, 1_000, "BUY", 1_000.0, 120, "none")
    assert o.fill_s == 4.0  # the taker buy at the ask is not ours; the sell through us is
    late = tape.tape_fill(d, 1_000, "BUY", 1_000.0, 3, "none")
    assert late.fill_s is None  # not within the horizon


def test_tape_cancellations_ahead_move_the_order_up_the_queue() -> None:
    # the bid shrinks from 2.0 to 0.4 with no trade: 1.6 cancelled, all of it ahead of us
    books = [(1_000, 2.0, 1.0), (2_000, 0.4, 1.0)]
    d = _data([(3_000, False, 100.0, 0.6)], books)
    assert tape.tape_fill(d, 1_000, "BUY", 10.0, 120, "none").fill_s is None
    assert tape.tape_fill(d, 1_000, "BUY", 10.0, 120, "all").fill_s == 2.0
    assert tape.tape_fill(d, 1_000, "BUY", 10.0, 120, "prorata").fill_s == 2.0


@pytest.mark.slow
def test_the_bridge_removes_the_bias_the_straight_path_had(shared_data) -> None:
    """On the real captures: the straight path was pessimistic beyond its noise at 10 s;
    the calibrated bridge is within its noise at every horizon."""
    import importlib

    root = tape.capture_root(shared_data)
    if not tape.available(root):
        pytest.skip(f"{root}: captures missing")
    bench = importlib.import_module("benchmarks.bench_execution_tape")
    c = bench.compare(root, resamples=300)
    assert 10 in c.before.beyond_noise() and c.before.points[10] < -10
    assert c.after.beyond_noise() == []
    assert abs(c.after.points[10]) < 8


def test_shipped_path_calibration_is_what_calibrate_derives(shared_data) -> None:
    from freqtrade_exec_ext.localex import calibrate

    root = tape.capture_root(shared_data)
    if not tape.available(root):
        pytest.skip(f"{root}: captures missing")
    shipped = json.loads(ic.CALIBRATION_FILE.read_text())
    fresh = calibrate.path_calibration(root)
    assert fresh["k"] == shipped["k"] and fresh["candles"] == shipped["candles"] >= 15
