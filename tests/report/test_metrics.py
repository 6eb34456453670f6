"""The pure metrics, against numbers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from freqtrade_exec_ext.report import metrics as M


def orders(rows: list[dict]) -> pd.DataFrame:
    base = {"strategy": "S", "pair": "BTC/USDT", "side": "buy", "intent": "entry",
            "order_type": "limit", "stage": "dry_run", "trade_id": 1, "status": "filled",
            "funding": 0.0, "fee": 0.0}
    return M.coerce_orders(pd.DataFrame([{**base, **r} for r in rows]))


def test_percentile_interpolates_linearly():
    assert M.percentile([1, 2, 3, 10], 50) == pytest.approx(2.5)
    # rank 0.9 * 3 = 2.7 -> 3 + 0.7 * (10 - 3)
    assert M.percentile([10, 1, 3, 2], 90) == pytest.approx(7.9)
    assert M.percentile([], 50) is None
    assert M.percentile([float("nan"), 4.0], 50) == 4.0


def test_weighted_mean_ignores_unknown_and_zero_weights():
    assert M.weighted_mean([10.0, 20.0, 99.0], [1.0, 3.0, 0.0]) == pytest.approx(17.5)
    assert M.weighted_mean([float("nan"), 5.0], [100.0, 1.0]) == 5.0
    assert M.weighted_mean([1.0], [0.0]) is None


def test_slippage_sign_positive_is_cost_for_buys_and_sells():
    df = M.add_costs(orders([
        {"side": "buy", "amount": 1, "filled": 1, "fill_price": 101.0, "decision_price": 100.0},
        {"side": "sell", "intent": "exit", "amount": 1, "filled": 1, "fill_price": 99.0,
         "decision_price": 100.0},
        {"side": "sell", "intent": "exit", "amount": 1, "filled": 1, "fill_price": 101.0,
         "decision_price": 100.0},
    ]))
    assert df["slip_decision_bps"].tolist() == pytest.approx([100.0, 100.0, -100.0])


def execs(rows: list[dict]) -> pd.DataFrame:
    from freqtrade_exec_ext.report import executions as X

    base = {"placed_ts": 0.0, "row_id": 0}
    df = orders([{**base, **r, "row_id": k + 1,
                  "placed_ts": r.get("placed_ts", float(k))} for k, r in enumerate(rows)])
    return X.build(M.add_costs(df))


def test_one_execution_covers_the_cancelled_orders_and_the_fill():
    # buy 2 decided at 100.0 (ledger of the fill), arrival 100.1, half-spread 2 bps:
    # a limit at 100.0 cancelled, then 2 filled at 100.3 with fee 0.2 and funding paid 0.05
    ex = execs([
        {"status": "cancelled", "amount": 2, "filled": 0, "requested_price": 100.0},
        {"amount": 2, "filled": 2, "fill_price": 100.3, "decision_price": 100.0,
         "arrival_mid": 100.1, "spread_cost_bps": 2.0, "fee": 0.2, "funding": -0.05,
         "requested_price": 100.3, "has_ledger": True},
    ])
    (r,) = ex.to_dict("records")
    assert (r["n_orders"], r["status"], r["decision_source"]) == (2, "complete", "ledger")
    assert r["delay"] == pytest.approx(0.2)  # (100.1 - 100.0) * 2
    assert r["spread"] == pytest.approx(2e-4 * 100.1 * 2)
    assert r["impact"] == pytest.approx(0.4 - 2e-4 * 100.1 * 2)  # (100.3 - 100.1) * 2 - spread
    assert r["funding"] == pytest.approx(0.05)  # paid funding is a cost
    assert r["total"] == pytest.approx(0.2 + 0.4 + 0.2 + 0.05)
    assert r["total_bps"] == pytest.approx(r["total"] / 200.0 * 1e4)


def test_without_a_decision_record_the_first_requested_price_is_the_decision():
    # the chase of the issue: a sell decided at limit 114196.67, repriced to 114183.27,
    # cancelled, then sold at market 114152.78
    ex = execs([
        {"side": "sell", "intent": "exit", "status": "cancelled", "amount": 0.002,
         "filled": 0, "requested_price": 114196.67, "reason": "exit_signal"},
        {"side": "sell", "intent": "exit", "status": "cancelled", "amount": 0.002,
         "filled": 0, "requested_price": 114183.27, "reason": "exit_signal"},
        {"side": "sell", "intent": "exit", "order_type": "market", "amount": 0.002,
         "filled": 0.002, "fill_price": 114152.78, "requested_price": 114152.78,
         "decision_price": 114152.8, "has_ledger": True, "reason": "force_exit"},
    ])
    (r,) = ex.to_dict("records")
    assert r["decision_price"] == 114196.67 and r["decision_source"] == "requested price"
    assert r["order_types"] == "limit→market" and r["reason"] == "exit_signal→force_exit"
    assert r["impact_bps"] == pytest.approx((114196.67 - 114152.78) / 114196.67 * 1e4)
    assert math.isnan(r["delay"])


def test_an_abandoned_remainder_has_unknown_opportunity_and_a_later_fill_splits():
    ex = execs([
        {"status": "partial", "amount": 2.0, "filled": 1.0, "fill_price": 50.0,
         "requested_price": 50.0},
        {"trade_id": 2, "amount": 1.0, "filled": 1.0, "fill_price": 10.0,
         "requested_price": 10.0},
        {"trade_id": 2, "amount": 1.0, "filled": 1.0, "fill_price": 11.0,
         "requested_price": 11.0, "placed_ts": 50.0},  # a DCA entry after the first one
    ]).sort_values(["trade_id", "decided_ts"])
    first, second, third = ex.to_dict("records")
    assert first["status"] == "partial" and math.isnan(first["opportunity"])
    assert first["unfilled"] == 1.0
    assert (second["kind"], third["kind"]) == ("signal", "adjust")


def test_summarize_statistics_per_group():
    fills = [(1.0, 100.0), (2.0, 100.0), (3.0, 300.0), (10.0, 500.0)]  # (bps, notional)
    rows = []
    for bps, notional in fills:
        rows.append({"amount": notional / 100.0, "filled": notional / 100.0,
                     "decision_price": 100.0, "fill_price": 100.0 * (1 + bps / 1e4),
                     "liquidity": "maker" if bps < 3 else "taker"})
    rows.append({"pair": "ETH/USDT", "amount": 1, "filled": 1, "fill_price": 10.0,
                 "requested_price": 10.0})
    out = M.summarize(M.add_costs(orders(rows)))
    btc = next(r for r in out if r["pair"] == "BTC/USDT")
    s = btc["slip_decision"]
    assert s["n"] == 4
    assert s["mean"] == pytest.approx(4.0)
    assert s["median"] == pytest.approx(2.5)
    assert s["p90"] == pytest.approx(7.9)
    assert s["worst"] == pytest.approx(10.0)
    # notional-weighted with the filled notional (fill price, not decision price)
    w = np.array([100 * 1.0001, 100 * 1.0002, 300 * 1.0003, 500 * 1.001])
    assert s["weighted"] == pytest.approx(float((np.array([1, 2, 3, 10]) * w).sum() / w.sum()))
    assert btc["maker_share"] == pytest.approx(w[:2].sum() / w.sum())
    eth = next(r for r in out if r["pair"] == "ETH/USDT")
    assert eth["slip_decision"] is None and eth["maker_share"] is None
    assert eth["slip_requested"]["mean"] == 0.0


def test_breaches_and_contract_recheck():
    df = M.add_costs(orders([
        {"amount": 1, "filled": 1, "fill_price": 100.2, "decision_price": 100.0,
         "budget_bps": 15.0, "over_budget": 1.0},
        {"side": "sell", "intent": "exit", "amount": 1, "filled": 1, "fill_price": 99.8,
         "decision_price": 100.0, "budget_bps": 30.0, "over_budget": 0.0},
    ]))
    b = M.breaches(df)
    assert len(b) == 1 and b["excess_bps"].iloc[0] == pytest.approx(5.0)
    # without a recorded verdict, over budget = decision slippage above the budget
    ob = M.add_costs(orders([{"amount": 1, "filled": 1, "fill_price": 100.2,
                              "decision_price": 100.0, "budget_bps": 15.0}]))
    assert ob["over_budget"].tolist() == [1.0]
    re = M.recheck_budget(df, entry_bps=25.0, exit_bps=10.0)
    assert re["over_budget"].tolist() == [0.0, 1.0]
    assert M.breaches(re)["intent"].astype(str).tolist() == ["exit"]


def test_funding_paid_and_received_are_separate():
    out = M.summarize(M.add_costs(orders([
        {"amount": 1, "filled": 1, "fill_price": 10.0, "funding": -0.3},
        {"amount": 1, "filled": 1, "fill_price": 10.0, "funding": 0.1},
    ])), [])
    assert out[0]["funding_paid"] == pytest.approx(0.3)
    assert out[0]["funding_received"] == pytest.approx(0.1)
