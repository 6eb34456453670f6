"""The model in a backtest: fills, prices and drops the mixin hands to Freqtrade (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from synthetic import attempt, market

from freqtrade_exec_ext.calibration import apply
from freqtrade_exec_ext.calibration.features import Candle, through_bps
from freqtrade_exec_ext.calibration.fit import FitSettings, fit_cells
from freqtrade_exec_ext.calibration.model import ExecutionModel, Provenance, save

D = 100.0


def _model(atts, **kw) -> ExecutionModel:
    cells, counts = fit_cells(atts, FitSettings(), measured_entries=True)
    return ExecutionModel(
        exchange="binance", trading_mode="spot", timeframe="5m", min_fills=20,
        shrinkage=20, cells=cells, taker_fee_rate=0.001, provenance=Provenance(
            created_at=datetime.now(UTC).isoformat(), package_version="t", databases=["x"],
            strategies=["S"], period_start=None, period_end=None, fills=1, attempts=1,
            candles="none", counts=counts), **kw)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    exits = [attempt("BTC/USDT", intent="exit", side="sell", cost=12.0 + (i % 5), i=i)
             for i in range(60)]
    path = tmp_path / "model.json"
    save(_model(market(600) + exits), path)
    return path


def _costs(path: Path, seed: int = 0, fee: float = 0.001) -> apply.BacktestCosts:
    return apply.load_for_backtest(path, backtest_fee=fee, min_fill_ratio=0.5, seed=seed)


def candle(low: float, high: float, up: bool = True) -> Candle:
    o, c = (low, high) if up else (high, low)
    return Candle(open=o, high=high, low=low, close=c, volume=1e6)


def test_entries_drop_at_the_bins_rate_and_park_where_the_candle_never_traded(model_file):
    costs = _costs(model_file)
    runaway = candle(D * 1.0005, D * 1.004)  # never came below the decision price
    assert through_bps("buy", D, runaway) < 0
    plans = [apply.plan_entry(costs, pair="BTC/USDT", side="buy", order_type="limit",
                              proposed=D, decision_price=D, candle=runaway) for _ in range(200)]
    dropped = [p for p in plans if not p.fills]
    assert 0.5 < len(dropped) / 200 < 0.7  # the synthetic market fills 40 % of these
    for p in dropped:
        assert p.price < runaway.low and apply.cancel_entry(p) and apply.cancel_entry(p.as_ctx())
    for p in plans:
        if p.fills:
            assert runaway.low <= p.price <= runaway.high and not apply.cancel_entry(p)


def test_entries_through_the_price_always_fill_at_the_modelled_cost(model_file):
    costs = _costs(model_file)
    deep = candle(D * 0.997, D * 1.003)
    plans = [apply.plan_entry(costs, pair="BTC/USDT", side="buy", order_type="limit",
                              proposed=D, decision_price=D, candle=deep) for _ in range(400)]
    assert all(p.fills for p in plans)
    # the price moves by the cost less the fee Freqtrade charges anyway
    for p in plans:
        assert (p.price / D - 1) * 1e4 == pytest.approx(p.cost_bps - 10.0)
    assert np.mean([p.cost_bps for p in plans]) == pytest.approx(12.0, abs=0.5)


def test_the_pair_shift_applies(model_file):
    a, b = _costs(model_file), _costs(model_file)
    deep = candle(D * 0.997, D * 1.003)
    btc = [apply.plan_entry(a, pair="BTC/USDT", side="buy", order_type="limit", proposed=D,
                            decision_price=D, candle=deep).cost_bps for _ in range(200)]
    xrp = [apply.plan_entry(b, pair="XRP/USDT", side="buy", order_type="limit", proposed=D,
                            decision_price=D, candle=deep).cost_bps for _ in range(200)]
    assert 2.0 < np.mean(xrp) - np.mean(btc) < 3.5


def test_same_seed_same_backtest_other_seed_other_draws(model_file):
    def run(seed):
        c = _costs(model_file, seed=seed)
        return [apply.plan_entry(c, pair="ETH/USDT", side="buy", order_type="limit",
                                 proposed=D, decision_price=D, candle=candle(D * 0.999, D * 1.001)
                                 ).price for _ in range(20)]
    assert run(3) == run(3)
    assert run(3) != run(4)


def test_exits_always_fill_inside_the_candle_and_the_rest_is_counted(model_file):
    costs = _costs(model_file)
    tight = candle(D * 0.9995, D * 1.0005)  # can hold at most 5 bps below the decision
    plans = [apply.plan_exit(costs, pair="BTC/USDT", side="sell", order_type="limit",
                             proposed=D, decision_price=D, candle=tight) for _ in range(100)]
    assert all(p.fills and tight.low <= p.price <= tight.high for p in plans)
    # costs 12..16 bps minus the 10 bps fee: 2..6 bps below D; the candle holds 5
    rest = apply.beyond_candle_bps(costs, pair="BTC/USDT", intent="exit", side="sell",
                                   decision_price=D, candle=tight)
    assert 0 < rest < 1
    wide = candle(D * 0.99, D * 1.01)
    assert apply.beyond_candle_bps(costs, pair="BTC/USDT", intent="exit", side="sell",
                                   decision_price=D, candle=wide) == 0.0


def test_maker_fees_are_charged_through_the_price(model_file):
    cheap = _costs(model_file, fee=0.0005)  # the backtest charges 5 bps on every fill
    p = apply.plan_entry(cheap, pair="BTC/USDT", side="buy", order_type="limit", proposed=D,
                         decision_price=D, candle=candle(D * 0.997, D * 1.003))
    assert p.charged_bps == pytest.approx(p.cost_bps - 5.0)


def test_no_cell_falls_back_to_the_flat_backtest_bps(model_file):
    costs = _costs(model_file)
    p = apply.plan_entry(costs, pair="BTC/USDT", side="sell", order_type="limit", proposed=D,
                         decision_price=D, candle=None, fallback_bps=5.0)
    assert p.fills and p.cell == "" and p.price == pytest.approx(D * (1 - 5e-4))
    assert "backtest_bps" in p.note


def test_partial_fills_plan_a_smaller_stake_or_none(tmp_path):
    half = [attempt("BTC/USDT", i=i, ratio=0.6) for i in range(40)]
    save(_model(half), tmp_path / "p.json")
    costs = apply.load_for_backtest(tmp_path / "p.json", backtest_fee=0.001, min_fill_ratio=0.5)
    p = apply.plan_entry(costs, pair="BTC/USDT", side="buy", order_type="limit", proposed=D,
                         decision_price=D, candle=candle(D * 0.99, D * 1.01))
    assert p.fills and p.fill_ratio == pytest.approx(0.6)
    strict = apply.load_for_backtest(tmp_path / "p.json", backtest_fee=0.001,
                                     min_fill_ratio=0.8)
    q = apply.plan_entry(strict, pair="BTC/USDT", side="buy", order_type="limit", proposed=D,
                         decision_price=D, candle=candle(D * 0.99, D * 1.01))
    assert not q.fills and "min_fill_ratio" in q.note


def test_startup_lines_say_what_is_modelled_and_from_what(model_file):
    lines = apply.startup_lines(_costs(model_file))
    text = "\n".join(lines)
    assert str(model_file) in lines[0] and "binance spot" in lines[0]
    assert "NOT modelled" in text and "rescore" in text
    assert "entry/buy/limit" in text and "exit/sell/limit" in text


@pytest.mark.parametrize(("runmode", "loaded"), [
    ("backtest", True), ("hyperopt", True), ("webserver", True), ("live", False),
    ("dry_run", False),
])
def test_only_backtests_read_the_model(model_file, str001_contract_path, runmode, loaded):
    from freqtrade_exec_ext.calibration.backtest import BacktestModel
    from freqtrade_exec_ext.contract import load_contract

    c = load_contract(str001_contract_path)
    slippage = c.slippage.model_copy(update={"backtest_model": str(model_file)})
    c = c.model_copy(update={"slippage": slippage})
    got = BacktestModel.for_contract(c, str001_contract_path, {"runmode": runmode})
    assert (got is not None) == loaded
    if got is not None:
        assert got.costs.source == str(model_file) and got.costs.min_fill_ratio == 0.5


def test_a_new_backtest_run_draws_from_the_start(model_file, str001_contract_path):
    """Hyperopt runs many backtests on one strategy: each epoch gets the same draws."""
    from freqtrade_exec_ext.calibration.backtest import BacktestModel
    from freqtrade_exec_ext.contract import load_contract

    c = load_contract(str001_contract_path)
    c = c.model_copy(update={"slippage": c.slippage.model_copy(
        update={"backtest_model": str(model_file)})})
    m = BacktestModel.for_contract(c, str001_contract_path, {"runmode": "hyperopt"})
    fixed = candle(D * 0.999, D * 1.001)
    m._candles = type("Fixed", (), {"after": lambda self, pair, when: fixed})()

    def epoch():
        t0 = datetime(2025, 10, 1, tzinfo=UTC)
        return [m.entry("BTC/USDT", "buy", D, D, t0.replace(minute=5 * i), "5m").price
                for i in range(8)]

    assert epoch() == epoch()
