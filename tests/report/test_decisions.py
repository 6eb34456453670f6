"""The decision record and the shortfall decomposition (pure), by hand and by property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from freqtrade_exec_ext.execution.decisions import (
    Decision,
    DecisionError,
    Fill,
    shortfall,
    shortfall_arrays,
    status_of,
)

T0 = datetime(2025, 10, 1, 18, 5, tzinfo=UTC)


def decision(**kw) -> Decision:
    base = {"key": "bot:1:exit:0", "strategy_id": "STR-001", "bot_id": "bot", "trade_id": 1,
                "pair": "BTC/USDT", "intent": "exit", "kind": "signal", "reason": "exit_signal",
                "side": "sell", "is_short": False, "decided_at": T0, "decision_price": 114196.67,
                "target_amount": 0.002}
    base.update(kw)
    return Decision(**base)


def test_the_chase_costs_what_the_market_exit_got_below_the_first_decision():
    # the finding: decided at 114196.67, repriced, cancelled, then sold at market 114152.78
    sf = shortfall("sell", 114196.67, 0.002, [Fill(0.002, 114152.78, fee=0.2283)],
                   arrival_mid=114196.66, end_mid=114152.80)
    chase_bps = (114196.67 - 114152.78) / 114196.67 * 1e4
    assert chase_bps == pytest.approx(3.843, abs=1e-3)
    assert sf.bps("impact") + sf.bps("delay") == pytest.approx(chase_bps)
    assert sf.opportunity == 0.0 and sf.complete
    assert sf.total == pytest.approx((114196.67 - 114152.78) * 0.002 + 0.2283)


def test_parts_by_hand_with_an_unfilled_remainder():
    # buy 2 decided at 100; arrival 100.1; 1.5 filled: 1 @ 100.3 (taker, 2 bps half-spread)
    # and 0.5 @ 100.2 (maker); fees 0.3; funding received 0.05; ended at mid 101
    sf = shortfall("buy", 100.0, 2.0, [Fill(1.0, 100.3, 0.2, 2.0), Fill(0.5, 100.2, 0.1, 0.0)],
                   arrival_mid=100.1, end_mid=101.0, funding=0.05)
    vwap = (100.3 + 0.5 * 100.2) / 1.5
    assert sf.vwap == pytest.approx(vwap)
    assert sf.delay == pytest.approx(0.1 * 1.5)
    assert sf.spread == pytest.approx(2e-4 * 100.1 * 1.0)
    assert sf.impact == pytest.approx((vwap - 100.1) * 1.5 - 2e-4 * 100.1)
    assert sf.fees == pytest.approx(0.3) and sf.funding == pytest.approx(-0.05)
    assert sf.opportunity == pytest.approx(1.0 * 0.5)  # the 0.5 never bought, 1.0 dearer
    assert sf.total == pytest.approx((vwap - 100) * 1.5 + 0.3 - 0.05 + 0.5)
    assert sf.bps("total") == pytest.approx(sf.total / 200.0 * 1e4)


def test_unknown_parts_are_none_not_zero():
    sf = shortfall("buy", 100.0, 1.0, [Fill(0.4, 100.5)])
    assert sf.delay is None and sf.spread is None and sf.opportunity is None
    assert not sf.complete and sf.impact == pytest.approx(0.2)
    assert sf.total == pytest.approx(0.2)  # the known parts


def _random_cases(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.01, 1e5, n)
    frac = rng.choice([0, 0.3, 1.0], n)
    return {
        "sign": rng.choice([-1.0, 1.0], n), "decision": d,
        "target": rng.uniform(1e-4, 10, n), "filled_frac": frac,
        "vwap": d * (1 + rng.normal(0, 1e-3, n)), "arrival": np.where(
            rng.random(n) < 0.7, d * (1 + rng.normal(0, 1e-3, n)), np.nan),
        "end": np.where(rng.random(n) < 0.8, d * (1 + rng.normal(0, 2e-3, n)), np.nan),
        "spread_bps": np.where(rng.random(n) < 0.8, rng.uniform(0, 5, n), np.nan),
        "fees": np.where(frac > 0, rng.uniform(0, 1, n), 0.0), "funding": rng.normal(0, 0.1, n),
    }


def _arrays(c: dict[str, np.ndarray], sign: np.ndarray, vwap: np.ndarray, arrival: np.ndarray,
            end: np.ndarray) -> dict[str, np.ndarray]:
    filled = c["target"] * c["filled_frac"]
    return shortfall_arrays(sign, c["decision"], c["target"], filled, vwap,
                            c["spread_bps"] / 1e4 * arrival * filled, c["fees"], c["funding"],
                            arrival, end)


PARTS = ("delay", "spread", "impact", "fees", "funding", "opportunity")


def test_property_parts_sum_to_the_total_and_to_the_closed_form():
    c = _random_cases(20_000, 1)
    out = _arrays(c, c["sign"], c["vwap"], c["arrival"], c["end"])
    parts = sum(np.nan_to_num(out[p]) for p in PARTS)
    np.testing.assert_allclose(parts, out["total"], rtol=1e-9, atol=1e-9)
    filled = c["target"] * c["filled_frac"]
    closed = (c["sign"] * (c["vwap"] - c["decision"]) * filled + c["fees"] - c["funding"]
              + np.nan_to_num(c["sign"] * (c["end"] - c["decision"]) * out["unfilled"]))
    np.testing.assert_allclose(out["total"], closed, rtol=1e-9, atol=1e-6)


def test_property_buy_and_sell_are_antisymmetric():
    """Mirror every price around the decision price and flip the side: each price part
    (delay, spread + impact, opportunity) keeps its value; fees and funding do not move."""
    c = _random_cases(20_000, 2)
    d = c["decision"]
    buy = _arrays(c, np.ones_like(d), c["vwap"], c["arrival"], c["end"])
    sell = _arrays(c, -np.ones_like(d), 2 * d - c["vwap"], 2 * d - c["arrival"],
                   2 * d - c["end"])
    same_side_sell = _arrays(c, -np.ones_like(d), c["vwap"], c["arrival"], c["end"])
    for part in ("delay", "opportunity"):
        np.testing.assert_allclose(buy[part], sell[part], rtol=1e-7, atol=1e-7, equal_nan=True)
        np.testing.assert_allclose(buy[part], -same_side_sell[part], rtol=1e-9, atol=1e-9,
                                   equal_nan=True)
    exec_buy = buy["impact"] + np.nan_to_num(buy["spread"])
    exec_sell = same_side_sell["impact"] + np.nan_to_num(same_side_sell["spread"])
    np.testing.assert_allclose(exec_buy, -exec_sell, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(buy["fees"], sell["fees"])
    np.testing.assert_allclose(buy["funding"], sell["funding"])


def test_property_the_scalar_and_array_forms_agree():
    c = _random_cases(300, 3)
    out = _arrays(c, c["sign"], c["vwap"], c["arrival"], c["end"])
    for i in range(300):
        filled = c["target"][i] * c["filled_frac"][i]
        arr = None if np.isnan(c["arrival"][i]) else float(c["arrival"][i])
        fills = [Fill(filled, float(c["vwap"][i]), float(c["fees"][i]),
                      None if np.isnan(c["spread_bps"][i]) else float(c["spread_bps"][i]))
                 ] if filled > 0 else []
        sf = shortfall("buy" if c["sign"][i] > 0 else "sell", float(c["decision"][i]),
                       float(c["target"][i]), fills, arrival_mid=arr,
                       end_mid=None if np.isnan(c["end"][i]) else float(c["end"][i]),
                       funding=float(c["funding"][i]))
        assert sf.total == pytest.approx(out["total"][i], rel=1e-9, abs=1e-9)
        for part in PARTS:
            v = getattr(sf, part)
            if filled == 0 and part == "spread":
                continue  # no fill: the scalar form has no spread to know
            assert (v is None) == bool(np.isnan(out[part][i])), part
            if v is not None:
                assert v == pytest.approx(out[part][i], rel=1e-9, abs=1e-9), part


def test_record_validation_and_round_trip():
    d = decision(order_ids=["a"]).with_order("b").with_order("a")
    assert d.order_ids == ("a", "b")
    closed = d.closed("complete", 0.002, T0 + timedelta(seconds=30), 114152.8)
    again = Decision.from_dict(closed.to_dict())
    assert again == closed and again.ended_at.tzinfo is not None
    for bad, match in [({"side": "long"}, "side: must be one of buy, sell"),
                       ({"kind": "panic"}, "kind: must be one of signal"),
                       ({"decided_at": datetime(2025, 1, 1)},  # naive on purpose
                        "decided_at: must be a timezone-aware"),
                       ({"decision_price": 0}, "decision_price: must be a finite number > 0"),
                       ({"target_amount": float("nan")}, "target_amount"),
                       ({"status": "complete"}, "ended_at: required"),
                       ({"trade_id": "7"}, "trade_id: must be an integer")]:
        with pytest.raises(DecisionError, match=match):
            decision(**bad)
    with pytest.raises(DecisionError, match="unknown field"):
        Decision.from_dict({**decision().to_dict(), "colour": "red"})


def test_status_of():
    assert status_of(1.0, 1.0, ended=False) == "complete"
    assert status_of(1.0, 0.4, ended=False) == "working"
    assert status_of(1.0, 0.4, ended=True) == "partial"
    assert status_of(1.0, 0.0, ended=True) == "cancelled"
