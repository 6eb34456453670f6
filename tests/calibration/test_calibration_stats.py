"""The statistics the execution model is built from (pure)."""

from __future__ import annotations

import numpy as np
import pytest

from freqtrade_exec_ext.calibration import stats
from freqtrade_exec_ext.calibration.apply import Draws
from freqtrade_exec_ext.calibration.model import SLICES


def test_wilson_interval_contains_the_share_and_narrows_with_n():
    p, lo, hi = stats.wilson(9, 10)
    assert lo < p == 0.9 < hi <= 1.0
    _, lo2, hi2 = stats.wilson(900, 1000)
    assert hi2 - lo2 < (hi - lo) / 5
    assert stats.wilson(0, 0) == (1.0, 0.0, 1.0)  # no attempts: nothing known


def test_median_interval_covers_the_true_median_about_95_percent():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        x = rng.normal(3.0, 2.0, 40)
        _, lo, hi = stats.median_ci(x)
        hits += lo <= 3.0 <= hi
    assert 0.90 <= hits / 400 <= 0.99


def test_slices_keep_the_mean_exactly_and_the_median_within_a_slice():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.exponential(5.0, 997), [80.0, 120.0, 300.0]])  # a heavy tail
    sl = stats.slices(x, SLICES)
    assert len(sl) == SLICES and sl == sorted(sl)
    draws = [stats.slice_at(sl, (i + 0.5) / 4000) for i in range(4000)]
    assert np.mean(draws) == pytest.approx(x.mean(), rel=1e-9)
    lo, hi = np.quantile(x, [0.5 - 1 / SLICES, 0.5 + 1 / SLICES])
    assert lo <= stats.slices_median(sl) <= hi
    assert stats.slices([], SLICES) == []
    assert stats.slices([3.0], 4) == [3.0] * 4  # fewer fills than slices


def test_ols_recovers_a_known_line_with_its_standard_errors():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, 500)
    y = 1.5 + 4.0 * x + rng.normal(0, 0.5, 500)
    a, b, se_a, se_b, n = stats.ols(x, y)
    assert n == 500
    assert abs(a - 1.5) < 3 * se_a and abs(b - 4.0) < 3 * se_b
    with pytest.raises(ValueError):
        stats.ols([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])


def test_shrink_weight():
    assert stats.shrink_weight(20, 20) == 0.5
    assert stats.shrink_weight(0, 20) == 0.0


def test_uniform_is_deterministic_and_spread():
    assert stats.uniform(7, "BTC/USDT", "x") == stats.uniform(7, "BTC/USDT", "x")
    assert stats.uniform(7, "BTC/USDT", "x") != stats.uniform(8, "BTC/USDT", "x")
    u = np.array([stats.uniform(0, i) for i in range(4000)])
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02


def test_draws_follow_a_probability_to_within_one_order():
    """The quasi-random stream: for any share p, the first n draws below p number n*p to
    within a few, where independent draws wander by sqrt(n*p*(1-p))."""
    for p in (0.05, 0.32, 0.68, 0.94):
        d = Draws(seed=11)
        u = [d.next("entry/buy/limit", "bin", "fill") for _ in range(500)]
        for n in (10, 50, 200, 500):
            below = sum(x < p for x in u[:n])
            # independent draws: typically off by sqrt(n p (1-p)), up to 11 at n = 500
            assert abs(below - n * p) <= 3, (p, n, below)


def test_draws_are_deterministic_per_seed_and_stream():
    a, b, c = Draws(1), Draws(1), Draws(2)
    seq_a = [a.next("s") for _ in range(5)]
    assert seq_a == [b.next("s") for _ in range(5)]
    assert seq_a != [c.next("s") for _ in range(5)]
    assert a.next("other") == Draws(1).next("other")  # streams are independent counters
